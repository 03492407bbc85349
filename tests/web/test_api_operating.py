"""Sending events, kill requests and bulk operations over HTTP, and the app served open or mounted."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from jobtrail.config import Settings
from jobtrail.web import asgi_app

from .conftest import Serve

Send = Callable[..., dict[str, Any]]


def test_a_batch_with_one_invalid_event_stores_the_others_and_names_its_index(
    admin: httpx.Client, ingester: httpx.Client
) -> None:
    now = time.time()
    response = ingester.post("/api/v1/events", json={"events": [
        {"job_id": "ok1", "type": "queued", "at": now, "name": "n"},
        {"job_id": "bad", "type": "exploded", "at": now},
        {"job_id": "ok2", "type": "queued", "at": now, "name": "n"},
        "not an event",
    ]})

    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2
    assert [r["index"] for r in body["rejected"]] == [1, 3]
    assert "type" in body["rejected"][0]["error"]
    assert admin.get("/api/v1/jobs/ok1").status_code == 200
    assert admin.get("/api/v1/jobs/ok2").status_code == 200
    assert admin.get("/api/v1/jobs/bad").status_code == 404


def test_resending_the_same_events_changes_nothing(admin: httpx.Client, ingester: httpx.Client,
                                                   send: Send) -> None:
    now = time.time()
    events = [{"event_id": "e1", "job_id": "r", "type": "queued", "at": now - 20, "name": "n"},
              {"event_id": "e2", "job_id": "r", "type": "started", "at": now - 10}]
    send(ingester, *events)
    first = admin.get("/api/v1/jobs/r").json()

    send(ingester, *reversed(events))

    assert admin.get("/api/v1/jobs/r").json() == first
    assert admin.get("/api/v1/stats").json()["count"] == 1


def test_the_control_map_tells_a_running_job_it_was_asked_to_stop(
    admin: httpx.Client, ingester: httpx.Client, send: Send
) -> None:
    now = time.time()
    send(ingester, {"job_id": "long", "type": "started", "at": now - 60, "name": "n"},
         {"job_id": "calm", "type": "started", "at": now - 60, "name": "n"})

    kill = admin.post("/api/v1/jobs/long/kill")
    beat = send(ingester, {"job_id": "long", "type": "heartbeat", "at": time.time()},
                {"job_id": "calm", "type": "heartbeat", "at": time.time()})

    assert kill.status_code == 200
    assert kill.json()["job"]["state"] == "kill_requested"
    assert kill.json()["job"]["kill_requested_at"] is not None
    assert beat["control"] == {"long": {"kill_requested": True}}


def test_a_job_that_ends_after_a_kill_request_leaves_the_control_map(
    admin: httpx.Client, ingester: httpx.Client, send: Send
) -> None:
    send(ingester, {"job_id": "long", "type": "started", "at": time.time() - 60})
    admin.post("/api/v1/jobs/long/kill")

    ended = send(ingester, {"job_id": "long", "type": "killed", "at": time.time()})

    assert ended["control"] == {}
    job = admin.get("/api/v1/jobs/long").json()
    assert job["state"] == "killed"
    assert job["kill_requested_at"] is not None


def test_asking_twice_to_kill_a_job_keeps_the_first_request(admin: httpx.Client, ingester: httpx.Client,
                                                            send: Send) -> None:
    send(ingester, {"job_id": "j", "type": "queued", "at": time.time() - 5})

    first = admin.post("/api/v1/jobs/j/kill").json()["job"]["kill_requested_at"]
    second = admin.post("/api/v1/jobs/j/kill")

    assert second.status_code == 200
    assert second.json()["job"]["kill_requested_at"] == first


@pytest.fixture
def mixed(ingester: httpx.Client, send: Send) -> None:
    """Three unfinished `sync` jobs (queued, started, retrying), one finished `sync`, one `other`."""
    now = time.time()
    send(ingester,
         {"job_id": "s1", "type": "queued", "at": now - 50, "name": "sync"},
         {"job_id": "s2", "type": "started", "at": now - 40, "name": "sync"},
         {"job_id": "s3", "type": "retrying", "at": now - 30, "name": "sync"},
         {"job_id": "s4", "type": "started", "at": now - 30, "name": "sync"},
         {"job_id": "s4", "type": "succeeded", "at": now - 20},
         {"job_id": "o1", "type": "started", "at": now - 10, "name": "other"})


def _kill_requested(admin: httpx.Client) -> set[str]:
    jobs = admin.get("/api/v1/jobs", params={"limit": 1000}).json()["jobs"]
    return {job["id"] for job in jobs if job["kill_requested_at"] is not None}


def test_bulk_kill_counts_on_a_dry_run_then_flags_only_unfinished_matches(admin: httpx.Client,
                                                                          mixed: None) -> None:
    request = {"filter": {"name": "sync"}}

    dry = admin.post("/api/v1/jobs/kill", json=request)
    flagged_after_dry_run = _kill_requested(admin)
    done = admin.post("/api/v1/jobs/kill", json=request | {"dry_run": False})

    assert dry.json() == {"matched": 3, "dry_run": True}
    assert flagged_after_dry_run == set()
    assert done.json() == {"matched": 3, "dry_run": False}
    assert _kill_requested(admin) == {"s1", "s2", "s3"}
    assert admin.post("/api/v1/jobs/kill", json=request).json()["matched"] == 0


def test_bulk_delete_counts_on_a_dry_run_then_deletes_but_statistics_remain(
    admin: httpx.Client, mixed: None
) -> None:
    request = {"filter": {"name": ["sync"], "state": "succeeded,queued"}}
    runs_before = admin.get("/api/v1/stats", params={"name": "sync"}).json()["run"]["count"]

    dry = admin.post("/api/v1/jobs/delete", json=request)
    still_there = admin.get("/api/v1/jobs/s4").status_code
    done = admin.post("/api/v1/jobs/delete", json=request | {"dry_run": False})

    assert dry.json() == {"matched": 2, "dry_run": True}
    assert still_there == 200
    assert done.json() == {"matched": 2, "dry_run": False}
    assert admin.get("/api/v1/jobs/s4").status_code == 404
    assert admin.get("/api/v1/jobs/s1").status_code == 404
    listed = [job["id"] for job in admin.get("/api/v1/jobs").json()["jobs"]]
    assert listed == ["o1", "s3", "s2"]
    assert runs_before == 1
    assert admin.get("/api/v1/stats", params={"name": "sync"}).json()["run"]["count"] == runs_before


def test_bulk_operations_on_every_job_need_all_true(admin: httpx.Client, mixed: None) -> None:
    dry = admin.post("/api/v1/jobs/delete", json={"filter": {}, "all": True})
    done = admin.post("/api/v1/jobs/delete", json={"all": True, "dry_run": False})

    assert dry.json() == {"matched": 5, "dry_run": True}
    assert done.json() == {"matched": 5, "dry_run": False}
    assert admin.get("/api/v1/jobs").json()["jobs"] == []


def test_bulk_filters_take_labels_resources_batches_and_times(admin: httpx.Client, ingester: httpx.Client,
                                                              send: Send) -> None:
    now = time.time()
    send(ingester,
         {"job_id": "x1", "type": "queued", "at": now - 100, "batch": "b", "resources": ["Book:1"],
          "labels": {"tenant": "acme"}},
         {"job_id": "x2", "type": "queued", "at": now - 100, "batch": "b", "resources": ["Book:2"],
          "labels": {"tenant": "acme"}},
         {"job_id": "x3", "type": "queued", "at": now - 5000, "batch": "b", "resources": ["Book:1"],
          "labels": {"tenant": "acme"}})

    def matched(flt: dict[str, Any]) -> int:
        n: int = admin.post("/api/v1/jobs/kill", json={"filter": flt}).json()["matched"]
        return n

    assert matched({"batch": "b"}) == 3
    assert matched({"resource": "Book:1"}) == 2
    assert matched({"labels": {"tenant": "acme"}, "since": "1h"}) == 2
    assert matched({"batch": "b", "until": now - 1000}) == 1
    assert matched({"labels": {"tenant": "globex"}}) == 0


# ---- served open, and mounted inside another app ------------------------------------------------


def test_with_no_tokens_configured_every_request_is_admitted(serve: Serve, store_url: str,
                                                             send: Send) -> None:
    live = serve(store_url, Settings(tokens=()))
    anonymous = live.client(token=None)

    send(anonymous, {"job_id": "j", "type": "queued", "at": time.time()})

    assert anonymous.get("/api/v1/jobs/j").status_code == 200
    assert anonymous.get("/api/v1/stats").json()["count"] == 1
    assert anonymous.post("/api/v1/jobs/j/kill").status_code == 200
    assert anonymous.post("/api/v1/jobs/delete", json={"all": True, "dry_run": False}).json()[
        "matched"] == 1
    assert live.client(token="anything").get("/api/v1/jobs").status_code == 200


@pytest.fixture
def mounted(serve: Serve, store_url: str) -> Iterator[Any]:
    """`Starlette(routes=[Mount("/jobs", app=asgi_app(url))])`, served, with no tokens."""
    inner = asgi_app(store_url, Settings(tokens=()))
    outer = Starlette(routes=[Mount("/jobs", app=inner)])
    yield serve(outer)
    inner.state.store.close()  # a mounted app's lifespan is its host's business: close it here


def test_a_mounted_app_answers_under_its_prefix(mounted: Any, send: Send) -> None:
    client = mounted.client(token=None, prefix="/jobs")

    send(client, {"job_id": "m/1", "type": "queued", "at": time.time(), "batch": "req"})

    assert [job["id"] for job in client.get("/api/v1/jobs").json()["jobs"]] == ["m/1"]
    assert client.get("/api/v1/jobs/m%2F1").json()["batch"] == "req"
    assert client.get("/api/v1/batches/req").json()["total"] == 1
    assert client.get("/api/v1/stats").json()["count"] == 1
    assert client.get("/openapi.json").status_code == 200


def test_a_mounted_app_answers_errors_in_json_and_leaves_other_paths_alone(mounted: Any) -> None:
    inside = mounted.client(token=None, prefix="/jobs")
    outside = httpx.Client(base_url=mounted.url)

    missing = inside.get("/api/v1/jobs/nope")
    bad = inside.get("/api/v1/jobs", params={"state": "bogus"})
    elsewhere = outside.get("/api/v1/jobs")
    outside.close()

    assert (missing.status_code, missing.json()["error"]) == (404, "no job 'nope'")
    assert bad.status_code == 422
    assert elsewhere.status_code == 404
