"""Celery with jobtrail, end to end: a real broker (Redis; RabbitMQ in one test), a real
`celery worker` subprocess (prefork and solo pools), a real jobtrail server over HTTP.

The test process publishes (so `queued` comes from the publisher, as in production), the worker
runs the tasks, and both report to the server. Every task returns the times it saw itself start and
end, and jobtrail's record of it must agree with them.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from celery import chain, group

from jobtrail import Job, Settings, Trail

from . import celery_tasks
from .conftest import PYTHON, JobtrailServer, Proc, Spawn, wait_for

HERE = Path(__file__).parent
RESULT_TIMEOUT = 30.0  # seconds for a task's result
COUNTDOWN = 2.0  # seconds a scheduled task waits before it is due
CLOCK_SLACK = 2.0  # seconds between a hook and the task's own clock reading, on a busy machine


@dataclass
class Rig:
    """A worker and a publishing app wired to one jobtrail server."""

    app: Any
    trail: Trail
    server: JobtrailServer
    worker: Proc
    queue: str
    integration: Any

    def job(self, task_id: str) -> Job:
        return self.trail.get(task_id)

    def settled(self, ids: list[str]) -> dict[str, Job]:
        """Wait until every job is recorded in a final state; all of the queue's jobs by id."""
        wanted = {"succeeded", "failed", "killed", "cancelled"}

        def check() -> dict[str, Job] | None:
            self.trail.flush(5)
            jobs = {j.id: j for j in self.trail.jobs(queue=self.queue)}
            if all(i in jobs and jobs[i].state in wanted for i in ids):
                return jobs
            return None

        found: dict[str, Job] = wait_for(check, timeout=RESULT_TIMEOUT, interval=0.2,
                                         what=f"{len(ids)} jobs to settle")
        return found


@pytest.fixture
def rig(make_jobtrail_server: Callable[[str], JobtrailServer], sqlite_url: str, redis_url: str,
        spawn: Spawn, tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    """`rig(pool, broker=redis, concurrency=2, store_url=SQLite)`: a jobtrail server over the store,
    a worker subprocess, and the test's own publishing app."""
    made: list[Any] = []
    closing: list[Trail] = []

    def make(pool: str = "prefork", broker: str | None = None, concurrency: int = 2,
             store_url: str | None = None, direct: bool = False,
             routing_key: str | None = None) -> Rig:
        jobtrail_server = make_jobtrail_server(store_url or sqlite_url)
        queue = f"jt-{uuid.uuid4().hex[:10]}"
        broker = broker or redis_url
        # direct: worker and publisher write to the server's database themselves, no HTTP
        extra = {"JOBTRAIL_URL": jobtrail_server.store_url} if direct else {}
        env = jobtrail_server.worker_env(**extra,
            JT_BROKER=broker, JT_BACKEND=redis_url, JT_QUEUE=queue, JT_ROUTING_KEY=routing_key or "",
            JOBTRAIL_FLUSH_INTERVAL="0.1", JOBTRAIL_HEARTBEAT_INTERVAL="0.5",
            XDG_CACHE_HOME=str(tmp_path / "worker-cache"),  # its spill folder
            PYTHONPATH=str(HERE),
        )
        worker = spawn(
            [PYTHON, "-m", "celery", "-A", "celery_tasks", "worker", "--pool", pool,
             "--concurrency", str(concurrency), "-Q", queue, "-n", f"{queue}@%h",
             "--loglevel", "INFO", "--without-gossip", "--without-mingle"],
            ready=r"@\S+ ready\.", env=env, cwd=HERE,
        )
        trail = Trail(jobtrail_server.store_url, settings=Settings(flush_interval=0.1)) if direct \
            else jobtrail_server.trail(flush_interval=0.1,
                                       extra={"spill_dir": str(tmp_path / "publisher-spill")})
        if direct:
            closing.append(trail)
        app, integration = celery_tasks.create(broker, redis_url, queue, trail,
                                               routing_key=routing_key)
        made.append((app, integration))
        return Rig(app, trail, jobtrail_server, worker, queue, integration)

    yield make
    for app, integration in made:
        if integration is not None:
            integration.disconnect()
        app.close()
    for trail in closing:
        trail.close()


def _result(app: Any, task_id: str) -> Any:
    return app.AsyncResult(task_id).get(timeout=RESULT_TIMEOUT, propagate=False)


def _publish_mix(app: Any) -> dict[str, Any]:
    tasks = app.tasks
    return {
        "ok": tasks["jt.ok"].delay(42, pause=0.2),
        "boom": tasks["jt.boom"].delay(book_id=7),
        "flaky": tasks["jt.flaky"].delay(chapter_id=3),
        "group": group(tasks["jt.ok"].s(i) for i in (1, 2, 3)).apply_async(),
        "later": tasks["jt.ok"].apply_async((9,), countdown=COUNTDOWN),
        "replaced": tasks["jt.replaced"].delay(11),
        "ignored": tasks["jt.ignored"].delay(),
        "unlucky": tasks["jt.unlucky"].delay(book_id=1),
    }


def _check_mix(rig: Rig, sent: dict[str, Any]) -> None:
    ids = [sent[k].id for k in ("ok", "boom", "flaky", "later", "replaced", "ignored", "unlucky")]
    ids += [r.id for r in sent["group"].results]
    jobs = rig.settled(ids)

    ok = jobs[sent["ok"].id]
    own = _result(rig.app, ok.id)
    assert (ok.state, ok.name, ok.queue, ok.attempt) == ("succeeded", "jt.ok", rig.queue, 1)
    assert ok.resources == ("Book:42",) and ok.labels == {"team": "books"}
    assert ok.args == {"args": [42], "kwargs": {"pause": 0.2}}
    assert ok.worker is not None and ok.worker.endswith(f":{own['pid']}")
    # jobtrail's start and end bracket the task's own clock readings, within the hooks' slack
    assert ok.queued_at is not None and ok.started_at is not None and ok.finished_at is not None
    assert ok.queued_at <= ok.started_at <= own["started"] <= ok.started_at + CLOCK_SLACK
    assert own["ended"] <= ok.finished_at <= own["ended"] + CLOCK_SLACK
    assert ok.run is not None and ok.run >= own["ended"] - own["started"] >= 0.2
    assert ok.wait == pytest.approx(ok.started_at - ok.queued_at)

    boom = jobs[sent["boom"].id]
    assert (boom.state, boom.name, boom.resources) == ("failed", "jt.boom", ("Book:7",))
    assert boom.error is not None and boom.error["type"] == "ValueError"
    assert boom.error["message"] == "book 7 is <missing>"
    assert "raise ValueError" in boom.error["traceback"]
    assert isinstance(_result(rig.app, boom.id), ValueError)

    flaky = jobs[sent["flaky"].id]
    own = _result(rig.app, flaky.id)
    assert own["retries"] == 1
    assert (flaky.state, flaky.attempt) == ("succeeded", 2)
    assert [a.end for a in flaky.attempts] == ["retrying", "succeeded"]
    assert flaky.attempts[0].error is not None
    assert flaky.attempts[0].error["message"] == "first attempt fails"
    assert flaky.resources == ("Chapter:3",)

    batch = sent["group"].id
    members = [jobs[r.id] for r in sent["group"].results]
    assert {(j.state, j.batch) for j in members} == {("succeeded", batch)}
    summary = rig.trail.batch(batch)
    assert summary.total == 3 and summary.counts.get("succeeded") == 3
    assert ok.batch is None and boom.batch is None

    # A task that replaced itself ends with its replacement; one that raised Ignore just ends
    replaced = jobs[sent["replaced"].id]
    own = _result(rig.app, replaced.id)
    assert replaced.state == "succeeded" and replaced.attempt == 1
    assert replaced.finished_at is not None and replaced.finished_at >= own["ended"]
    assert jobs[sent["ignored"].id].state == "succeeded"

    # A resources declaration that raises costs the job its resources, never its run
    unlucky = jobs[sent["unlucky"].id]
    assert _result(rig.app, unlucky.id) == 1
    assert (unlucky.state, unlucky.resources) == ("succeeded", ())

    # A countdown: scheduled when published, queued when due, so its wait excludes the countdown
    later = jobs[sent["later"].id]
    own = _result(rig.app, later.id)
    assert later.state == "succeeded" and later.scheduled_at is not None
    assert later.queued_at is not None
    assert later.queued_at - later.scheduled_at == pytest.approx(COUNTDOWN, abs=0.2)
    assert later.started_at is not None and later.started_at <= own["started"]
    assert later.wait is not None and later.wait < COUNTDOWN


@pytest.mark.parametrize("pool", ["prefork", "solo"])
def test_every_task_of_a_mix_is_recorded_with_celerys_own_timings(
        rig: Callable[..., Rig], pool: str) -> None:
    # Given a worker with the integration, and a publisher with it
    r = rig(pool)
    # When a success, a failure, a retry-then-success and a group of three run
    sent = _publish_mix(r.app)
    # Expect each one recorded with its state, name, batch, attempts, error and true timings
    _check_mix(r, sent)
    # And the worker reported itself, with its queue, and as stopped once it shut down
    worker = wait_for(lambda: [w for w in r.trail.workers() if r.queue in w["queues"]], timeout=10,
                      what="the worker's heartbeat")[0]
    assert worker["pid"] == r.worker.pid and worker["state"] in ("idle", "busy")
    r.worker.stop()
    wait_for(lambda: [w for w in r.trail.workers()
                      if w["id"] == worker["id"] and w["state"] == "stopped"],
             timeout=10, what="the stopped heartbeat")


def test_every_task_of_a_chain_its_first_included_is_in_the_chains_batch(
        rig: Callable[..., Rig]) -> None:
    # Given a worker with the integration
    r = rig("prefork")
    ok = r.app.tasks["jt.ok"]
    # When a chain of three runs, and a task with a callback
    last = chain(ok.si(1), ok.si(2), ok.si(3)).apply_async()
    linked = ok.apply_async((4,), link=ok.si(5))
    # Expect the three in one batch, named by the chain's root (its first task), with all three
    first = last.parent.parent
    ids = [first.id, last.parent.id, last.id]
    jobs = r.settled(ids)
    assert {jobs[i].batch for i in ids} == {first.id}
    summary = r.trail.batch(first.id)
    assert summary.total == 3 and summary.counts.get("succeeded") == 3
    # And a task sharing the batch with the callback it leads
    callback = wait_for(lambda: r.trail.flush(5) and [j for j in r.trail.jobs(queue=r.queue)
                                                      if j.batch == linked.id and j.id != linked.id],
                        timeout=20, what="the callback")[0]
    assert r.settled([linked.id, callback.id])[linked.id].batch == linked.id
    # (a task alone has no batch)
    alone = ok.delay(6)
    assert r.settled([alone.id])[alone.id].batch is None


def test_a_kill_in_jobtrail_terminates_a_running_task_and_cancels_a_queued_one(
        rig: Callable[..., Rig]) -> None:
    # Given a one-process prefork worker busy with a long task, and another long task queued
    r = rig("prefork", concurrency=1)
    running = r.app.tasks["jt.long"].delay(cooperative=False)  # only a terminate stops it
    wait_for(lambda: r.trail.flush(5) and r.job(running.id).state == "started", timeout=20,
             what="the long task to start")
    queued = r.app.tasks["jt.long"].delay()
    wait_for(lambda: r.trail.flush(5) and r.job(queued.id).state == "queued", timeout=10)
    # When both are killed from jobtrail
    r.trail.kill(queued.id)
    # (the queued one's revoke must reach the worker before the running one stops and frees it)
    wait_for(lambda: f"revoked: {queued.id}" in r.worker.output(), timeout=10,
             what="the worker to flag the queued task revoked")
    r.trail.kill(running.id)
    # Expect the running one terminated and recorded killed, the queued one never run: cancelled
    jobs = r.settled([running.id, queued.id])
    assert jobs[running.id].state == "killed", jobs[running.id]
    assert jobs[running.id].error is not None and jobs[running.id].error["type"] == "Terminated"
    # (it heartbeat while it ran)
    assert jobs[running.id].heartbeat_at is not None
    assert jobs[running.id].heartbeat_at > (jobs[running.id].started_at or 0)
    assert jobs[queued.id].state == "cancelled", jobs[queued.id]
    assert jobs[queued.id].started_at is None
    assert r.app.AsyncResult(running.id).state == "REVOKED"
    assert r.app.AsyncResult(queued.id).state == "REVOKED"
    # And the worker goes on with new work
    after = r.app.tasks["jt.ok"].delay(1)
    assert r.settled([after.id])[after.id].state == "succeeded"


def test_a_solo_worker_stops_a_killed_task_that_checks_kill_requested(
        rig: Callable[..., Rig]) -> None:
    # Given a solo worker (it cannot terminate a task from outside) running a long task
    r = rig("solo")
    running = r.app.tasks["jt.long"].delay()
    wait_for(lambda: r.trail.flush(5) and r.job(running.id).state == "started", timeout=20)
    # When it is killed from jobtrail
    r.trail.kill(running.id)
    # Expect the task to see the request, stop, and be recorded killed
    job = r.settled([running.id])[running.id]
    assert job.state == "killed" and job.error is not None and job.error["type"] == "Killed"
    assert job.run is not None and job.run < celery_tasks.LONG_TASK_SECONDS / 2


@pytest.mark.parametrize("pool", ["prefork", "solo"])
def test_a_task_that_rejects_its_message_ends_with_its_rerun_when_requeued_else_failed(
        rig: Callable[..., Rig], tmp_path: Path, pool: str) -> None:
    # Given a worker, and two acks_late tasks that reject their message the first time they run
    r = rig(pool)
    task = r.app.tasks["jt.rejecting"]
    requeued = task.delay(str(tmp_path / "requeued"), requeue=True)
    dropped = task.delay(str(tmp_path / "dropped"), requeue=False)
    # When one asks for its message back (it runs again and succeeds), the other drops it
    own = _result(r.app, requeued.id)
    assert isinstance(own, dict), own
    # Expect the requeued one recorded as its rerun ended: succeeded, not failed
    jobs = r.settled([requeued.id, dropped.id])
    job = jobs[requeued.id]
    assert job.state == "succeeded", job
    assert job.finished_at is not None and job.finished_at >= own["ended"]
    # And the dropped one failed, with an error that says it was rejected
    job = jobs[dropped.id]
    assert job.state == "failed" and job.error is not None, job
    assert job.error["type"] == "Rejected" and "Reject" in job.error["message"], job.error
    assert job.error["message"].endswith(": not now"), job.error


def test_a_task_sent_by_routing_key_on_rabbitmq_is_recorded_in_its_queue_and_killable(
        rig: Callable[..., Rig], rabbitmq_url: str) -> None:
    # Given a RabbitMQ worker consuming a queue bound with a routing key that is not its name
    r = rig("prefork", broker=rabbitmq_url, concurrency=1, routing_key="books.key")
    # When tasks are sent by the default route and by exchange and routing key
    by_route = r.app.tasks["jt.ok"].delay(1)
    long = r.app.tasks["jt.long"].apply_async(kwargs={"cooperative": False}, exchange=r.queue,
                                              routing_key="books.key")
    # Expect both recorded in the queue (not the key), so a kill in jobtrail reaches the running one
    wait_for(lambda: r.trail.flush(5) and r.job(long.id).state == "started", timeout=20,
             what="the long task to start")
    assert r.job(long.id).queue == r.queue
    r.trail.kill(long.id)
    jobs = r.settled([by_route.id, long.id])
    assert jobs[by_route.id].queue == r.queue and jobs[long.id].queue == r.queue
    assert jobs[long.id].state == "killed", jobs[long.id]


def test_an_applications_own_exception_named_reject_is_recorded_as_a_failure(
        rig: Callable[..., Rig]) -> None:
    # Given a task raising an exception class of its own that is also called Reject
    r = rig("prefork")
    result = r.app.tasks["jt.moderated"].delay()
    # When it fails
    with pytest.raises(Exception, match="comment refused"):
        result.get(timeout=30)
    # Expect an ordinary failure with that error, not celery's Reject handling
    job = r.settled([result.id])[result.id]
    assert job.state == "failed" and job.error is not None, job
    assert job.error["message"] == "comment refused", job.error


def test_no_task_fails_and_no_event_is_lost_while_the_jobtrail_server_is_down(
        rig: Callable[..., Rig]) -> None:
    # Given a worker reporting to a jobtrail server, and some tasks already done
    r = rig("prefork")
    before = [r.app.tasks["jt.ok"].delay(i).id for i in range(5)]
    r.settled(before)
    # When the server goes away while tasks are published and run, then comes back
    r.server.stop()
    during = [r.app.tasks["jt.ok"].delay(i, pause=0.05).id for i in range(20)]
    results = [_result(r.app, i) for i in during]
    r.server.start()
    # Expect no task failed, and every job complete in jobtrail once the clients replayed
    assert all(isinstance(res, dict) and "started" in res for res in results), results
    jobs = r.settled(before + during)
    for task_id, own in zip(during, results, strict=True):
        job = jobs[task_id]
        assert job.state == "succeeded"
        assert job.queued_at is not None and job.worker is not None
        assert job.started_at is not None and job.started_at <= own["started"]
    # (the publisher really was cut off: its queued events went through the spill file)
    assert r.trail.stats.spilled > 0 and r.trail.stats.dropped == 0


def test_a_task_sent_by_an_app_without_jobtrail_is_recorded_by_the_worker(
        rig: Callable[..., Rig], redis_url: str) -> None:
    # Given a tracked worker, and a publisher whose app has no jobtrail integration
    r = rig("prefork")
    r.integration.disconnect()  # (publish hooks are per process: the test's own must go)
    plain, none = celery_tasks.create(redis_url, redis_url, r.queue, None)
    assert none is None
    try:
        # When it sends a task
        sent = plain.tasks["jt.ok"].delay(book_id=5)
        own = _result(plain, sent.id)
    finally:
        plain.close()
    # Expect the worker's record alone: no queued time, but args, resources and labels
    job = r.settled([sent.id])[sent.id]
    assert (job.state, job.name, job.queue) == ("succeeded", "jt.ok", r.queue)
    assert job.queued_at is None and job.started_at is not None
    assert job.started_at <= own["started"]
    assert job.args == {"args": [], "kwargs": {"book_id": 5}}
    assert job.resources == ("Book:5",) and job.labels == {"team": "books"}


def test_the_publisher_records_a_call_as_sent_though_the_caller_changes_its_args_after(
        make_jobtrail_server: Callable[[str], JobtrailServer], sqlite_url: str, redis_url: str,
        tmp_path: Path) -> None:
    # Given a publisher with the integration (its events are built on its writer thread)
    server = make_jobtrail_server(sqlite_url)
    trail = server.trail(flush_interval=0.1, extra={"spill_dir": str(tmp_path / "spill")})
    app, integration = celery_tasks.create(redis_url, redis_url, f"jt-{uuid.uuid4().hex[:10]}", trail)
    try:
        # When the caller changes the list and the dict it sent as soon as the send returns
        args: list[Any] = [7]
        kwargs: dict[str, Any] = {"book_id": 8}
        by_list = app.tasks["jt.boom"].apply_async(args)
        by_dict = app.tasks["jt.boom"].apply_async(kwargs=kwargs)
        args[0], kwargs["book_id"], kwargs["password"] = 70, 80, "hunter2"
        assert trail.flush(10)
    finally:
        integration.disconnect()
        app.close()
    # Expect each queued with the args and the resources it was sent with
    first, second = trail.get(by_list.id), trail.get(by_dict.id)
    assert (first.state, first.args, first.resources) == (
        "queued", {"args": [7], "kwargs": {}}, ("Book:7",))
    assert (second.state, second.args, second.resources) == (
        "queued", {"args": [], "kwargs": {"book_id": 8}}, ("Book:8",))


def test_prefork_children_write_to_a_database_url_directly(rig: Callable[..., Rig]) -> None:
    # Given a prefork worker whose Trail is a SQLite URL (each pool process opens its own
    # connection after the fork), and a publisher on the same file
    r = rig("prefork", direct=True)
    # When tasks succeed and fail in both pool processes
    ok = [r.app.tasks["jt.ok"].delay(i, pause=0.1) for i in range(6)]
    boom = r.app.tasks["jt.boom"].delay(book_id=3)
    # Expect every one recorded, from more than one pool process
    jobs = r.settled([t.id for t in [*ok, boom]])
    assert {jobs[t.id].state for t in ok} == {"succeeded"} and jobs[boom.id].state == "failed"
    assert all(jobs[t.id].queued_at is not None for t in ok)
    assert len({jobs[t.id].worker for t in ok}) == 2


@pytest.mark.postgres
def test_celery_on_rabbitmq_into_postgresql_records_the_mix(
        rig: Callable[..., Rig], rabbitmq_url: str, pg_url: str) -> None:
    # Given a prefork worker whose broker is RabbitMQ, reporting to a server on PostgreSQL
    r = rig("prefork", broker=rabbitmq_url, store_url=pg_url)
    # When the same mix runs
    sent = _publish_mix(r.app)
    # Expect the same records
    _check_mix(r, sent)


def test_the_integration_imports_celery_lazily() -> None:
    import subprocess

    code = "import sys, jobtrail.integrations.celery; print('celery' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
