"""The helpers every integration shares: resources, args, labels, errors, kill polling."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from typing import Any

import pytest

from jobtrail import Job, Settings, Trail
from jobtrail.integrations.common import (
    KillPoller,
    MissingExtra,
    args_snapshot,
    clean_labels,
    default_resources,
    emit,
    error_info,
    never_raise,
    require,
    resources_for,
    result_snapshot,
    worker_identity,
)

from .conftest import wait_for


def publish(book_id: int, chapter_ids: list[int], user_id: str = "u-1", id: int = 0,
            **extra: Any) -> None:
    """A task-like function whose parameters the default resource rule reads."""


def test_default_resources_name_models_from_id_parameters_positional_or_keyword() -> None:
    # Given a call with positional *_id, keyword *_ids, a bare id and a **kwargs task_plan_id
    found = default_resources(publish, (42, [1, 2]), {"id": 9, "task_plan_id": 7, "flag_id": True})
    # Expect one resource per model id, in CamelCase; bare id, a boolean and an unpassed default
    # (user_id) are not resources of this call
    assert sorted(found) == ["Book:42", "Chapter:1", "Chapter:2", "TaskPlan:7"]


def test_default_resources_without_a_signature_read_keywords_only() -> None:
    assert default_resources(None, (42,), {"book_id": 42, "note": "x"}) == ["Book:42"]


def test_declared_resources_win_and_invalid_entries_are_dropped() -> None:
    declared = lambda book_id, **_: [f"Book:{book_id}", "not a resource", 12, "Book:" + "x" * 300]  # noqa: E731
    assert resources_for(declared, publish, (5, []), {}) == ["Book:5"]
    assert resources_for(["Shelf:1", "Shelf:1"], publish, (), {}) == ["Shelf:1"]
    assert resources_for("Shelf:2", None, (), {}) == ["Shelf:2"]


def test_a_declaration_that_raises_gives_no_resources_instead_of_raising() -> None:
    def broken(**_: Any) -> list[str]:
        raise RuntimeError("boom")

    assert resources_for(broken, None, (), {"book_id": 1}) == []


def test_args_snapshot_redacts_secrets_and_caps_size() -> None:
    snap = args_snapshot((1, "x"), {"password": "hunter2", "nested": {"api_key": "k", "ok": 1}})
    assert snap == {"args": [1, "x"], "kwargs": {"password": "[redacted]",
                                                 "nested": {"api_key": "[redacted]", "ok": 1}}}
    big = args_snapshot(("y" * 100_000,), {})
    assert "_truncated" in big and len(big["preview"]) <= 1024
    assert args_snapshot((), {}) is None


def test_result_snapshot_keeps_scalars_and_redacts_and_caps_the_rest() -> None:
    from jobtrail.events import MAX_RESULT_BYTES, REDACTED

    for value in (None, 7, 2.5, True, "done", "x" * 300):
        assert result_snapshot(value) == value
    nested = {"rows": 3, "api_key": "k-123", "pages": [{"password": "p"}]}
    assert result_snapshot(nested) == {"rows": 3, "api_key": REDACTED,
                                       "pages": [{"password": REDACTED}]}
    assert nested["api_key"] == "k-123"  # the task's own value is left alone
    huge = result_snapshot({"blob": "y" * MAX_RESULT_BYTES})
    assert set(huge) == {"_truncated", "preview"}

    class Unprintable:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    assert result_snapshot(Unprintable()) == {"_unrepresentable": "Unprintable"}


def test_clean_labels_keep_what_the_store_accepts() -> None:
    labels = clean_labels({"team": "books", "n": 3, "bad key": "x", "flag": True, "long": "z" * 201,
                           "obj": {"a": 1}})
    assert labels == {"team": "books", "n": "3"}


def test_error_info_formats_type_message_and_traceback() -> None:
    try:
        raise ValueError("bad <input>")
    except ValueError as exc:
        info = error_info(exc)
    assert info["type"] == "ValueError" and info["message"] == "bad <input>"
    assert "Traceback" in info["traceback"] and "bad <input>" in info["traceback"]
    assert error_info(KeyError("k"), "remote traceback text")["traceback"] == "remote traceback text"


def test_error_info_survives_an_exception_whose_str_raises() -> None:
    class Nasty(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    info = error_info(Nasty())
    assert info["type"].endswith("Nasty") and "unprintable" in info["message"]


def test_never_raise_swallows_and_returns_none() -> None:
    @never_raise("test hook")
    def hook(x: int) -> int:
        if x:
            raise RuntimeError("x")
        return 5

    assert hook(0) == 5
    assert hook(1) is None


def test_require_names_the_extra_to_install() -> None:
    with pytest.raises(MissingExtra, match=r"pip install 'jobtrail\[nosuch\]'"):
        require("jobtrail_no_such_module", "nosuch")
    assert require("json", "json").__name__ == "json"


def test_worker_identity_is_this_host_and_process() -> None:
    me = worker_identity()
    assert (me.host, me.pid) == (socket.gethostname(), os.getpid())
    assert me.name == f"{me.host}:{me.pid}"


def test_emit_records_an_event_through_the_writer(sqlite_url: str) -> None:
    with Trail(sqlite_url, settings=Settings(flush_interval=0.05)) as trail:
        trail.enqueued("t", "j1", queue="q")
        emit(trail, "cancelled", "j1", attempt=1, worker=None)
        assert trail.flush(5)
        assert trail.get("j1").state == "cancelled"


def test_kill_poller_calls_back_once_per_requested_job_in_its_queues(sqlite_url: str) -> None:
    # Given a queued job and a running job in queue "q", and a running one in another queue
    with Trail(sqlite_url, settings=Settings(flush_interval=0.05)) as trail:
        trail.enqueued("t", "queued-1", queue="q")
        trail.enqueued("t", "running-1", queue="q")
        trail.enqueued("t", "elsewhere", queue="other")
        trail.track("t", "running-1", queue="q").start()
        assert trail.flush(5)
        for job_id in ("queued-1", "running-1", "elsewhere"):
            trail.kill(job_id)
        seen: list[Job] = []
        poller = KillPoller(trail, seen.append, queues=["q"], interval=0.05)
        # When it polls twice
        first = poller.poll()
        second = poller.poll()
        # Expect each job of its queue handed over once, with whether it had started
        assert sorted(j.id for j in first) == ["queued-1", "running-1"] and second == []
        started = {j.id: j.started_at is not None for j in seen}
        assert started == {"queued-1": False, "running-1": True}


def test_kill_poller_reaches_every_requested_job_beyond_one_page(sqlite_url: str) -> None:
    # Given more kill requests than one read returns, for queued jobs that stay queued after
    # the framework was told (a Celery revoke takes effect only when a worker receives the task)
    with Trail(sqlite_url, settings=Settings(flush_interval=0.05)) as trail:
        ids = [f"queued-{i:02d}" for i in range(12)]
        for job_id in ids:
            trail.enqueued("t", job_id, queue="q")
        assert trail.flush(5)
        for job_id in ids:
            trail.kill(job_id)
        seen: list[str] = []
        poller = KillPoller(trail, lambda job: seen.append(job.id), queues=["q"], limit=5)
        # When it polls a few times
        for _ in range(3):
            poller.poll()
        # Expect every one handed over once, not only the newest page again and again
        assert sorted(seen) == ids


def test_kill_poller_thread_keeps_going_after_a_failing_callback(sqlite_url: str) -> None:
    with Trail(sqlite_url, settings=Settings(flush_interval=0.05)) as trail:
        for job_id in ("a", "b"):
            trail.enqueued("t", job_id)
        assert trail.flush(5)
        calls: list[str] = []

        def on_kill(job: Job) -> None:
            calls.append(job.id)
            raise RuntimeError("framework refused")

        poller = KillPoller(trail, on_kill, interval=0.05).start()
        try:
            trail.kill("a")
            trail.kill("b")
            wait_for(lambda: len(calls) >= 2, timeout=10, what="both callbacks")
        finally:
            poller.stop()
        assert sorted(calls) == ["a", "b"]


def test_the_shared_helpers_import_no_framework() -> None:
    code = ("import sys, jobtrail.integrations.common; "
            "print(sorted({'celery', 'rq', 'dramatiq', 'kombu'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_worker_identity_in_a_forked_child_names_the_child() -> None:
    parent = worker_identity()  # cached in the parent before the fork
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it sees, leave without running pytest's teardown
        os.write(write, worker_identity().name.encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    seen = os.read(read, 1000).decode()
    os.close(read)
    assert seen == f"{parent.host}:{pid}" and parent.pid == os.getpid()


def test_a_url_password_in_a_short_positional_argument_or_result_is_redacted() -> None:
    # Given a task called with a few short scalars (the fast path), one a URL with a password
    url = "postgresql://bob:s3cret@db/books"
    # When its args and its result are snapshotted
    snap = args_snapshot((url, 1), {"dsn": url})
    result = result_snapshot(url)
    # Expect the password gone from every place, as it is from a call with larger arguments
    assert snap == {"args": ["postgresql://bob:[redacted]@db/books", 1],
                    "kwargs": {"dsn": "postgresql://bob:[redacted]@db/books"}}
    assert result == "postgresql://bob:[redacted]@db/books"
    assert args_snapshot((url, [1]), {})["args"][0] == "postgresql://bob:[redacted]@db/books"
