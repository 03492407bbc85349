"""`Trail("http://...")`: tracking lands in the server's database, and every read and operation
answers exactly what a Trail on that database answers. A real uvicorn server on a SQLite file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import jobtrail
from jobtrail import ConfigError, InvalidInput, Job, NotFound, Settings, StoreError, Trail
from jobtrail.client.remote import chunks

Server = Any  # tests/client/conftest.py's Server

NOW = time.time()


def history(now: float) -> list[dict[str, Any]]:
    """Three names, two batches, a failure, a running and a queued job, labels and resources."""
    events: list[dict[str, Any]] = []
    for i in range(30):
        name = ("reports.send", "ImportBook", "cleanup")[i % 3]
        job = f"h{i:02d}"
        queued = now - 3000 + i * 60
        events.append({"job_id": job, "type": "queued", "at": queued, "name": name,
                       "queue": "mail" if i % 2 else "default", "batch": f"req-{i % 2}",
                       "resources": [f"Book:{i % 4}"], "labels": {"tenant": ("acme", "globex")[i % 2]}})
        if i < 28:
            events.append({"job_id": job, "type": "started", "at": queued + 1 + i % 5, "worker": "w1"})
        if i < 25:
            kind = "failed" if i % 7 == 3 else "succeeded"
            extra = {"error": {"type": "ValueError", "message": "bad"}} if kind == "failed" else {}
            events.append({"job_id": job, "type": kind, "at": queued + 10 + i, **extra})
    return events


@pytest.fixture
def loaded(server: Server) -> Server:
    with server.local() as trail:
        assert not trail.ingest(history(NOW)).rejected
    return server


def test_tracked_jobs_land_in_the_servers_database(server: Server, remote: Any) -> None:
    # Given a Trail on the server with an ingest-only token
    trail = remote("tok-i")
    # When jobs are tracked, enqueued, and one fails
    job_id = trail.enqueued("reports.send", batch="req-9", resources=["User:42"], labels={"t": "a"})
    with trail.track("reports.send", job_id=job_id, worker="w7") as job:
        job.progress(done=3, total=4)
    with pytest.raises(ValueError), trail.track("reports.send", job_id="boom"):
        raise ValueError("no")
    # Then everything is in the server's database once flushed
    assert trail.flush(10)
    with server.local() as local:
        done = local.get(job_id)
        assert (done.state, done.batch, done.resources, done.worker) == ("succeeded", "req-9",
                                                                        ("User:42",), "w7")
        assert done.progress == {"done": 3, "total": 4}
        assert set(done.timestamps) == {"queued", "started", "succeeded"}
        assert local.get("boom").state == "failed"
        assert local.get("boom").error["message"] == "no"  # type: ignore[index]
    assert trail.stats.sent == 6 and trail.stats.dropped == trail.stats.rejected == 0


def test_reads_over_http_equal_reads_on_the_database(loaded: Server, remote: Any) -> None:
    trail = remote("tok-r")
    with loaded.local() as local:
        for flt in ({}, {"state": "failed"}, {"name": ["ImportBook", "cleanup"]}, {"queue": "mail"},
                    {"batch": "req-1"}, {"resource": "Book:2"}, {"labels": {"tenant": "acme"}},
                    {"since": NOW - 2000, "until": NOW - 1000}, {"state": "started,queued"}):
            here, there = local.jobs(**flt), trail.jobs(**flt)
            assert there.count() == here.count(), flt
            for by in ("state", "name", "queue"):
                assert there.counts(by) == here.counts(by), (flt, by)
            assert there.stats() == here.stats(), flt
            assert there.stats(exact=True) == here.stats(exact=True), flt
            assert list(there) == list(here), flt
        first, here_first = trail.jobs().page(limit=7), local.jobs().page(limit=7)
        assert first == here_first
        assert trail.jobs().page(limit=7, cursor=first.next_cursor) == local.jobs().page(
            limit=7, cursor=first.next_cursor)
        assert trail.get("h03") == local.get("h03")
        assert trail.batch("req-0") == local.batch("req-0")


def test_a_job_survives_the_round_trip_through_its_json_form(loaded: Server) -> None:
    with loaded.local() as local:
        for job in local.jobs():
            assert Job.from_dict(job.as_dict()) == job
            assert jobtrail.BatchSummary.from_dict(local.batch("req-1").as_dict()) == local.batch("req-1")


def test_ingest_over_http_returns_rejections_by_index_and_kill_control(server: Server, remote: Any) -> None:
    # An ingest token reports jobs but may not ask for a kill: that event is rejected by index
    at = time.time()
    result = remote("tok-i").ingest([
        {"job_id": "i1", "type": "queued", "at": at, "name": "x"},
        {"job_id": "i2", "type": "nonsense", "at": at},
        {"job_id": "i3", "type": "started", "at": at, "name": "y"},
        {"job_id": "i3", "type": "kill_requested", "at": at},
    ])
    assert result.accepted == 2
    assert [r.index for r in result.rejected] == [1, 3]
    assert "type" in result.rejected[0].error
    assert "admin scope" in result.rejected[1].error
    assert result.control == {}
    # Once an admin asks for the kill, the sender's next report on the job carries it as control
    assert remote("tok-a").jobs(name="y").request_kill(dry_run=False) == 1
    beat = remote("tok-i").ingest([{"job_id": "i3", "type": "heartbeat", "at": time.time()}])
    assert (beat.accepted, beat.rejected) == (1, [])
    assert beat.control == {"i3": {"kill_requested": True}}


def test_ingest_splits_what_exceeds_one_request(server: Server, remote: Any) -> None:
    # Given more events than one request may carry (the limit is 5,000 per POST)
    trail = remote("tok-i")
    at = time.time()
    events: list[Any] = [{"job_id": f"many{i}", "type": "queued", "at": at, "name": "many"}
                         for i in range(12_000)]
    events[7_777] = {"job_id": "bad", "type": "queued"}  # no "at"
    # Then all arrive and the one rejection keeps its index in the whole list
    result = trail.ingest(events)
    assert result.accepted == 11_999
    assert [r.index for r in result.rejected] == [7_777]
    assert remote("tok-r").jobs(name="many").count() == 11_999


def test_chunks_respect_both_limits() -> None:
    lines = [b"x" * 10] * 25
    assert [(o, len(c)) for o, c in chunks(lines, max_events=10, max_bytes=10_000)] == [
        (0, 10), (10, 10), (20, 5)]
    assert [(o, len(c)) for o, c in chunks(lines, max_events=100, max_bytes=55)] == [
        (0, 5), (5, 5), (10, 5), (15, 5), (20, 5)]
    assert list(chunks([b"y" * 100], max_events=10, max_bytes=50)) == [(0, [b"y" * 100])]


def test_kill_and_delete_over_http_match_the_local_counts(loaded: Server, remote: Any) -> None:
    admin = remote("tok-a")
    assert admin.jobs(name="ImportBook").request_kill() == 2  # dry run: h25 queued... see history
    assert admin.jobs(name="ImportBook").request_kill(dry_run=False) == 2
    with loaded.local() as local:
        assert local.jobs(state="kill_requested").count() == 2
    done: list[int] = []
    assert admin.jobs(state="failed").delete(dry_run=False, progress=done.append) == 4
    assert done == [4]
    with loaded.local() as local:
        assert local.jobs(state="failed").count() == 0
    # An empty filter means every job, as it does locally (the server wants "all": true for that)
    assert admin.jobs().delete() == 26


def test_errors_map_onto_jobtrails_error_tree(loaded: Server, remote: Any) -> None:
    reader = remote("tok-r")
    with pytest.raises(NotFound, match="nope"):
        reader.get("nope")
    with pytest.raises(NotFound):
        reader.batch("no-such-batch")
    with pytest.raises(InvalidInput):
        reader.jobs().page(limit=0)
    with pytest.raises(InvalidInput):
        reader.jobs().page(cursor="%%%")
    with pytest.raises(InvalidInput):
        reader.jobs(state="bogus")
    with pytest.raises(ConfigError, match="database is reachable only through the server"):
        reader.store.count  # noqa: B018
    with pytest.raises(ConfigError, match="sweep"):
        reader.sweep()


def test_tokens_are_sent_and_missing_scopes_are_named(loaded: Server, remote: Any) -> None:
    with pytest.raises(ConfigError, match="did not accept the token"):
        remote(None).jobs().count()
    with pytest.raises(ConfigError, match="did not accept the token"):
        remote("wrong").get("h01")
    with pytest.raises(ConfigError, match="lacks the 'read' scope"):
        remote("tok-i").jobs().count()
    with pytest.raises(ConfigError, match="lacks the 'admin' scope"):
        remote("tok-r").jobs(name="cleanup").delete()
    with pytest.raises(ConfigError, match="lacks the 'ingest' scope"):
        remote("tok-r").ingest([{"job_id": "z", "type": "queued", "at": time.time()}])
    assert remote("tok-a").jobs().count() == 30  # admin implies read


def test_the_token_defaults_to_the_settings_token(loaded: Server, remote_settings: Any) -> None:
    settings = remote_settings(token="tok-r")
    with Trail(loaded.url, settings=settings) as trail:
        assert trail.jobs().count() == 30


def test_tracking_with_a_token_that_cannot_ingest_counts_rejections_and_never_raises(
        server: Server, remote: Any) -> None:
    trail = remote("tok-r")
    for _ in range(3):
        with trail.track("refused"):
            pass
    assert trail.flush(10)
    assert trail.stats.rejected == 6 and trail.stats.sent == 0
    assert trail.stats.send_errors == 0  # a 403 is not retried
    assert remote("tok-r").jobs(name="refused").count() == 0


def test_an_unreachable_server_is_a_store_error_for_reads_and_never_an_error_for_jobs(
        dead_url: str, remote_settings: Any) -> None:
    url = dead_url
    with Trail(url, token="t", settings=remote_settings()) as trail:
        with pytest.raises(StoreError, match=f"server unreachable at {url}"):
            trail.jobs().count()
        with trail.track("nobody.listens") as job:
            job.progress(done=1)
        assert not trail.flush(0.5)
        assert trail.stats.send_errors >= 1
        assert trail.stats.spilled == 3 and trail.stats.dropped == 0


def test_a_bad_server_url_is_a_config_error(remote_settings: Any) -> None:
    with pytest.raises(ConfigError):
        Trail("http://host:notaport", settings=remote_settings())
    with pytest.raises(ConfigError, match="names no host"):
        Trail("http://", settings=remote_settings())
    with pytest.raises(ConfigError, match="not both"):
        Trail("http://127.0.0.1:1", store=object(), settings=remote_settings())  # type: ignore[arg-type]


def test_a_kill_request_reaches_the_running_job_within_a_heartbeat(server: Server, remote: Any) -> None:
    interval = 0.2
    worker = remote("tok-i", heartbeat_interval=interval)
    admin = remote("tok-a")
    with worker.track("kill.me") as job:
        # Given the server knows the job is running
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if admin.get(job.id).state == "started":
                    break
            except NotFound:
                pass
            time.sleep(0.02)
        assert not job.kill_requested
        # When someone else asks to kill it
        assert admin.jobs(name="kill.me").request_kill(dry_run=False) == 1
        asked = time.monotonic()
        # Then the job sees it within about one heartbeat interval (deadline: two)
        while not job.kill_requested and time.monotonic() - asked < 2 * interval:
            time.sleep(0.005)
        took = time.monotonic() - asked
        assert job.kill_requested, f"not seen after {took:.2f}s"
    assert worker.flush(10)
    assert admin.get(job.id).state == "succeeded"
    assert admin.get(job.id).kill_requested_at is not None  # finished despite the kill


def test_the_single_job_kill_endpoint_is_reachable_with_the_clients_token(loaded: Server) -> None:
    # (no Trail method; this pins the contract the CLI's `jobtrail kill ID` relies on remotely)
    answer = httpx.post(f"{loaded.url}/api/v1/jobs/h27/kill", headers={"Authorization": "Bearer tok-a"})
    assert answer.status_code == 200 and answer.json()["job"]["state"] == "kill_requested"


def test_settings_for_the_spill_are_read_from_extra(tmp_path: Path) -> None:
    settings = Settings(extra={"spill_dir": str(tmp_path / "s"), "spill_max_bytes": "1000",
                               "retry_max_seconds": "2"})
    with Trail("http://127.0.0.1:1", settings=settings) as trail:
        sink = trail._sink
        assert sink is not None
        assert (sink.spill.folder, sink.spill.max_bytes, sink.backoff_max) == (tmp_path / "s", 1000, 2.0)
