"""Events in, then jobs, batches and statistics out, over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

DAY = 86400.0
NEWEST_FIRST = ["c1", "b2", "a2", "a1", "b1"]


def history(now: float) -> list[dict[str, Any]]:
    """Five jobs: in batch req-1 a success (run 100 s, wait 10 s) and a failure (run 50 s, wait
    20 s); an import that succeeded three days ago; an import running now; a cleanup waiting."""
    return [
        {"job_id": "a1", "type": "queued", "at": now - 3600, "name": "reports.send", "queue": "mail",
         "batch": "req-1", "resources": ["User:1"], "labels": {"tenant": "acme"}},
        {"job_id": "a1", "type": "started", "at": now - 3590, "worker": "w1"},
        {"job_id": "a1", "type": "succeeded", "at": now - 3490, "result": {"sent": 3}},
        {"job_id": "a2", "type": "queued", "at": now - 3000, "name": "reports.send", "queue": "mail",
         "batch": "req-1", "resources": ["User:2"], "labels": {"tenant": "acme"}},
        {"job_id": "a2", "type": "started", "at": now - 2980, "worker": "w2"},
        {"job_id": "a2", "type": "failed", "at": now - 2930,
         "error": {"type": "ValueError", "message": "bad row 7"}},
        {"job_id": "b1", "type": "queued", "at": now - 3 * DAY, "name": "ImportBook",
         "queue": "imports", "batch": "req-2", "resources": ["Book:42"], "labels": {"tenant": "globex"}},
        {"job_id": "b1", "type": "started", "at": now - 3 * DAY + 30},
        {"job_id": "b1", "type": "succeeded", "at": now - 3 * DAY + 330},
        {"job_id": "b2", "type": "queued", "at": now - 600, "name": "ImportBook", "queue": "imports",
         "resources": ["Book:42", "User:1"], "labels": {"tenant": "globex", "env": "prod"}},
        {"job_id": "b2", "type": "started", "at": now - 590},
        {"job_id": "b2", "type": "progress", "at": now - 580, "progress": {"done": 3, "total": 9}},
        {"job_id": "c1", "type": "queued", "at": now - 60, "name": "cleanup"},
    ]


@pytest.fixture
def now(ingester: httpx.Client, send: Callable[..., dict[str, Any]]) -> float:
    """The history above, sent by an ingest-only token; returns the instant it is relative to."""
    t = time.time()
    body = send(ingester, *history(t))
    assert body["accepted"] == len(history(t))
    return t


def _rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


Params = Callable[[float], list[tuple[str, str]]]

FILTERS: list[tuple[str, Params, set[str]]] = [
    ("one state", lambda now: [("state", "succeeded")], {"a1", "b1"}),
    ("comma-separated states", lambda now: [("state", "failed,started")], {"a2", "b2"}),
    ("repeated states", lambda now: [("state", "failed"), ("state", "started")], {"a2", "b2"}),
    ("waiting jobs", lambda now: [("state", "queued")], {"c1"}),
    ("one name", lambda now: [("name", "reports.send")], {"a1", "a2"}),
    ("comma-separated names", lambda now: [("name", "ImportBook,cleanup")], {"b1", "b2", "c1"}),
    ("repeated names", lambda now: [("name", "ImportBook"), ("name", "cleanup")], {"b1", "b2", "c1"}),
    ("one queue", lambda now: [("queue", "imports")], {"b1", "b2"}),
    ("the default queue", lambda now: [("queue", "default")], {"c1"}),
    ("comma-separated queues", lambda now: [("queue", "mail,default")], {"a1", "a2", "c1"}),
    ("repeated queues", lambda now: [("queue", "mail"), ("queue", "default")], {"a1", "a2", "c1"}),
    ("a batch", lambda now: [("batch", "req-1")], {"a1", "a2"}),
    ("a resource", lambda now: [("resource", "Book:42")], {"b1", "b2"}),
    ("a resource shared across names", lambda now: [("resource", "User:1")], {"a1", "b2"}),
    ("a label as k:v", lambda now: [("label", "tenant:globex")], {"b1", "b2"}),
    ("a label as k=v", lambda now: [("label", "tenant=acme")], {"a1", "a2"}),
    ("two labels", lambda now: [("label", "tenant:globex"), ("label", "env:prod")], {"b2"}),
    ("since a span", lambda now: [("since", "1d")], {"a1", "a2", "b2", "c1"}),
    ("until a span", lambda now: [("until", "1d")], {"b1"}),
    ("a window", lambda now: [("since", "2h"), ("until", "30m")], {"a1", "a2"}),
    ("since Unix seconds", lambda now: [("since", str(now - 1000))], {"b2", "c1"}),
    ("since RFC 3339", lambda now: [("since", _rfc3339(now - 1000))], {"b2", "c1"}),
    ("until RFC 3339", lambda now: [("until", _rfc3339(now - 2 * DAY))], {"b1"}),
    ("name and state", lambda now: [("name", "ImportBook"), ("state", "started")], {"b2"}),
    ("state, queue and label", lambda now: [("state", "succeeded,failed"), ("queue", "mail"),
                                            ("label", "tenant:acme")], {"a1", "a2"}),
    ("blank filters, as a form sends them", lambda now: [("state", ""), ("name", ""), ("queue", ""),
                                                         ("batch", ""), ("resource", ""),
                                                         ("label", ""), ("since", ""), ("until", "")],
     set(NEWEST_FIRST)),
    ("nothing matching", lambda now: [("name", "reports.send"), ("queue", "imports")], set()),
]


def test_every_filter_selects_the_matching_jobs_newest_first(
    reader: httpx.Client, now: float, subtests: pytest.Subtests
) -> None:
    for label, params, expected in FILTERS:
        with subtests.test(label):
            response = reader.get("/api/v1/jobs", params=params(now))

            assert response.status_code == 200
            assert [job["id"] for job in response.json()["jobs"]] == [
                i for i in NEWEST_FIRST if i in expected]
            assert response.json()["next_cursor"] is None


def test_the_same_filters_count_the_matching_jobs_in_stats(
    reader: httpx.Client, now: float, subtests: pytest.Subtests
) -> None:
    for label, params, expected in FILTERS:
        with subtests.test(label):
            body = reader.get("/api/v1/stats", params=params(now)).json()

            assert body["count"] == len(expected)
            assert sum(body["counts"].values()) == len(expected)


def test_a_job_detail_has_every_field_and_timestamp(reader: httpx.Client, now: float) -> None:
    job = reader.get("/api/v1/jobs/a2").json()

    assert job["id"] == "a2"
    assert (job["name"], job["queue"], job["batch"], job["state"]) == ("reports.send", "mail", "req-1",
                                                                       "failed")
    assert job["resources"] == ["User:2"]
    assert job["labels"] == {"tenant": "acme"}
    assert job["worker"] == "w2"
    assert job["error"]["type"] == "ValueError"
    assert job["error"]["message"] == "bad row 7"
    assert list(job["timestamps"]) == ["queued", "started", "failed"]
    assert job["timestamps"]["failed"] == pytest.approx(now - 2930)
    assert job["wait"] == pytest.approx(20)
    assert job["run"] == pytest.approx(50)
    assert [(a["number"], a["end"]) for a in job["attempts"]] == [(1, "failed")]
    assert job["attempts"][0]["run"] == pytest.approx(50)


def test_a_running_job_shows_its_progress_and_no_end(reader: httpx.Client, now: float) -> None:
    job = reader.get("/api/v1/jobs/b2").json()

    assert job["state"] == "started"
    assert job["progress"]["done"] == 3
    assert job["progress"]["total"] == 9
    assert job["finished_at"] is None
    assert job["run"] is None
    assert job["resources"] == ["Book:42", "User:1"]
    assert job["labels"] == {"env": "prod", "tenant": "globex"}


def test_a_job_id_with_slashes_and_spaces_is_found_when_url_encoded(
    admin: httpx.Client, ingester: httpx.Client, send: Callable[..., dict[str, Any]]
) -> None:
    send(ingester, {"job_id": "import/2024 06:books?x=1", "type": "queued", "at": time.time()})

    response = admin.get("/api/v1/jobs/import%2F2024%2006%3Abooks%3Fx%3D1")

    assert response.status_code == 200
    assert response.json()["id"] == "import/2024 06:books?x=1"


def test_a_batch_sums_its_jobs(reader: httpx.Client, now: float) -> None:
    batch = reader.get("/api/v1/batches/req-1").json()

    assert batch["id"] == "req-1"
    assert batch["total"] == 2
    assert batch["counts"] == {"succeeded": 1, "failed": 1}
    assert batch["runtime"] == pytest.approx(150)
    assert batch["finished"] is True
    assert batch["queue_time"] == pytest.approx(10)  # first queued (a1) to first start (a1)
    assert batch["wall_time"] == pytest.approx(660)  # a1's start to a2's end
    assert batch["first_queued_at"] == pytest.approx(now - 3600)


def test_stats_count_by_state_and_summarise_durations_from_rollups(reader: httpx.Client,
                                                                   now: float) -> None:
    body = reader.get("/api/v1/stats", params={"name": "reports.send"}).json()

    assert body["count"] == 2
    assert body["counts"] == {"succeeded": 1, "failed": 1}
    assert body["source"] == "rollup"
    assert body["run"]["count"] == 2
    assert body["run"]["min"] == pytest.approx(50)
    assert body["run"]["max"] == pytest.approx(100)
    assert body["wait"]["count"] == 2


@pytest.mark.parametrize(("by", "counts"), [
    ("name", {"reports.send": 2, "ImportBook": 2, "cleanup": 1}),
    ("queue", {"mail": 2, "imports": 2, "default": 1}),
    ("state", {"succeeded": 2, "failed": 1, "started": 1, "queued": 1}),
])
def test_stats_count_by_name_queue_or_state(reader: httpx.Client, now: float, by: str,
                                            counts: dict[str, int]) -> None:
    body = reader.get("/api/v1/stats", params={"by": by}).json()

    assert body["counts"] == counts
    assert body["count"] == 5


def test_stats_filtered_by_state_or_asked_exact_come_from_rows(reader: httpx.Client, now: float) -> None:
    by_state = reader.get("/api/v1/stats", params={"state": "succeeded"}).json()
    exact = reader.get("/api/v1/stats", params={"name": "ImportBook", "exact": "true"}).json()

    assert by_state["source"] == "exact"
    assert (by_state["run"]["count"], by_state["run"]["min"], by_state["run"]["max"]) == (
        2, pytest.approx(100), pytest.approx(300))
    assert exact["source"] == "exact"
    assert exact["run"]["count"] == 1  # b2 is still running
    assert exact["run"]["p50"] == pytest.approx(300)


def _walk(client: httpx.Client, params: dict[str, Any]) -> list[list[str]]:
    pages, cursor = [], None
    for _ in range(100):
        response = client.get("/api/v1/jobs", params=params | ({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200
        pages.append([job["id"] for job in response.json()["jobs"]])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("the cursors never ended")


def test_next_cursor_walks_every_job_once_newest_first_even_with_equal_times(
    admin: httpx.Client, ingester: httpx.Client, send: Callable[..., dict[str, Any]]
) -> None:
    now = time.time()
    # Given 23 jobs, three at a time created at the same instant, among 5 of another name
    send(ingester, *({"job_id": f"p{i:02d}", "type": "queued", "at": now - 1000 + i // 3,
                      "name": "paged"} for i in range(23)),
         *({"job_id": f"o{i}", "type": "queued", "at": now - 1000 + i, "name": "other"}
           for i in range(5)))

    pages = _walk(admin, {"name": "paged", "limit": 10})

    assert [len(p) for p in pages] == [10, 10, 3]
    walked = [i for page in pages for i in page]
    assert walked == sorted((f"p{i:02d}" for i in range(23)), key=lambda j: (int(j[1:]) // 3, j),
                            reverse=True)


def test_the_last_page_has_no_next_cursor_and_an_empty_store_lists_nothing(admin: httpx.Client) -> None:
    response = admin.get("/api/v1/jobs")

    assert response.json() == {"jobs": [], "next_cursor": None}
    assert admin.get("/api/v1/stats").json()["count"] == 0


def test_the_openapi_document_lists_every_route(admin: httpx.Client) -> None:
    paths = admin.get("/openapi.json").json()["paths"]

    assert {"/api/v1/events", "/api/v1/jobs", "/api/v1/jobs/{job_id}", "/api/v1/batches/{batch_id}",
            "/api/v1/stats", "/api/v1/jobs/{job_id}/kill", "/api/v1/jobs/kill", "/api/v1/jobs/delete",
            "/api/v1/health"} <= set(paths)


def test_health_answers_without_a_token_and_says_the_store_is_healthy(live: Any) -> None:
    response = live.client(token=None).get("/api/v1/health")

    assert response.status_code == 200
    assert response.json()["status"] == "healthy"
    assert response.json()["checks"][0]["name"] == "store"
