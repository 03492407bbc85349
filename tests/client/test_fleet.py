"""Worker heartbeats and periodic declarations reach the database from a Trail on a database and
from a Trail on a server, in the background; the API refuses bad items by index and keeps the rest."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

import httpx

from jobtrail import Trail

Server = Any


def _check_fleet(trail: Trail, reader: Trail | None = None) -> None:
    trail.worker_heartbeat(queues=["mail", "default"], running=1)
    trail.worker_heartbeat("w-idle", host="box2", pid=7, queues=["default"])
    trail.declare_periodic("nightly", cron="0 3 * * *", grace="1h")
    trail.declare_periodic("etl", every="6h")
    assert trail.flush(10)
    trail = reader or trail
    me, idle = sorted(trail.workers(), key=lambda w: w["id"] != f"{socket.gethostname()}:{os.getpid()}")
    assert (me["host"], me["pid"], me["queues"], me["state"], me["running"]) == (
        socket.gethostname(), os.getpid(), ["default", "mail"], "busy", 1)
    assert (idle["id"], idle["state"], idle["queues"]) == ("w-idle", "idle", ["default"])
    etl, nightly = sorted(trail.periodics(), key=lambda p: p.name)
    assert (etl.every, etl.grace, etl.state) == (21600.0, 2160.0, "never")
    assert (nightly.cron, nightly.grace, nightly.every) == ("0 3 * * *", 3600.0, None)


def test_a_trail_on_a_database_records_workers_and_periodic_jobs(make_trail: Any,
                                                                  store_url: str) -> None:
    _check_fleet(make_trail(store_url))


def test_a_trail_on_a_server_records_workers_and_periodic_jobs(
    remote: Callable[..., Trail], server: Server
) -> None:
    _check_fleet(remote("tok-i"), remote("tok-r"))


def test_a_bad_worker_heartbeat_never_raises_into_the_caller(make_trail: Any, sqlite_url: str) -> None:
    trail = make_trail(sqlite_url)
    trail.worker_heartbeat(state="asleep")
    assert trail.stats.record_errors == 1
    assert trail.flush(5) and trail.workers() == []


def test_the_api_rejects_bad_items_by_index_and_stores_the_rest(server: Server) -> None:
    with (httpx.Client(base_url=server.url, headers={"Authorization": "Bearer tok-i"}) as c,
          httpx.Client(base_url=server.url, headers={"Authorization": "Bearer tok-r"}) as read):
        r = c.post("/api/v1/workers", json={"workers": [
            {"id": "w1", "host": "h", "queues": ["q"], "running": 2},
            {"host": "h", "state": "asleep"},
            {"id": "w3", "host": "h", "colour": "red"},
        ]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["accepted"] == 1
        assert [(x["index"], "state" in x["error"]) for x in body["rejected"]] == [(1, True), (2, False)]
        assert "colour" in body["rejected"][1]["error"]
        r = c.post("/api/v1/periodic", json={"periodic": [
            {"name": "a", "every": "1h"}, {"name": "b", "cron": "nonsense"}, {"name": "c"}]})
        assert [x["index"] for x in r.json()["rejected"]] == [1, 2]
        workers = read.get("/api/v1/workers").json()["workers"]
        assert [(w["id"], w["state"], w["running"]) for w in workers] == [("w1", "busy", 2)]
        [a] = read.get("/api/v1/periodic").json()["periodic"]
        assert (a["name"], a["every"], a["state"], a["level"]) == ("a", 3600.0, "never", "healthy")


def test_a_heartbeat_is_sent_in_the_background_without_any_job_or_flush(
    make_trail: Any, sqlite_url: str
) -> None:
    import time

    trail = make_trail(sqlite_url)
    trail.worker_heartbeat("lonely", host="h", queues=["q"])
    deadline = time.monotonic() + 10
    while not trail.store.workers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [w["id"] for w in trail.store.workers()] == ["lonely"]


def test_a_delivery_in_progress_does_not_count_as_delivered() -> None:
    """`Trail.flush` relies on this: the writer thread may have taken the pending heartbeats and
    still be posting them; a flush that returned True then would let a read miss them (as CI saw)."""
    import threading

    from jobtrail.client.outbox import Outbox

    delivered: list[tuple[str, list[dict[str, Any]]]] = []
    release = threading.Event()

    def deliver(kind: str, items: list[dict[str, Any]]) -> None:
        release.wait(10)  # a slow server
        delivered.append((kind, items))

    box = Outbox(deliver, lambda kind, exc: None)
    box.put("workers", "w1", {"id": "w1"})
    mark = box.mark()
    writer = threading.Thread(target=box.send)
    writer.start()
    while len(box):  # until the "writer" has taken the batch
        pass
    assert not box.delivered(mark) and delivered == []  # still in flight: not done
    release.set()
    writer.join(5)
    assert box.delivered(mark)
    assert delivered == [("workers", [{"id": "w1"}])]
