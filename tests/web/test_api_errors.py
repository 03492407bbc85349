"""Every error answers its status with a JSON `{"error", "status"}` body that says what went wrong.

The body's shape, its status field and the absence of tracebacks are checked on every response by
the clients' hook (`conftest.check_response`); these tests assert the status and the message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from jobtrail.config import Settings
from jobtrail.errors import StoreError
from jobtrail.store import Store, open_store

from .conftest import ADMIN, INGEST, READ, TOKENS, Live, Serve

JSON = {"Content-Type": "application/json"}

Send = Callable[..., dict[str, Any]]

PROTECTED = [
    ("GET", "/api/v1/jobs"),
    ("GET", "/api/v1/jobs/a1"),
    ("GET", "/api/v1/batches/req-1"),
    ("GET", "/api/v1/stats"),
    ("GET", "/metrics"),
    ("POST", "/api/v1/events"),
    ("POST", "/api/v1/jobs/a1/kill"),
    ("POST", "/api/v1/jobs/kill"),
    ("POST", "/api/v1/jobs/delete"),
]
READING = [(m, p) for m, p in PROTECTED if m == "GET"]
ADMINISTERING = [("POST", "/api/v1/jobs/a1/kill"), ("POST", "/api/v1/jobs/kill"),
                 ("POST", "/api/v1/jobs/delete")]
BULK_BODY = {"filter": {"name": "reports.send"}, "dry_run": True}


def _call(client: httpx.Client, method: str, path: str) -> httpx.Response:
    if method == "GET":
        return client.get(path)
    body = {"events": []} if path.endswith("/events") else BULK_BODY
    return client.post(path, json=body)


def error(response: httpx.Response) -> str:
    message: str = response.json()["error"]
    return message


# ---- 401 and 403 ------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic YWRtaW46c2VjcmV0",
                                    f"Token {ADMIN}"])
def test_a_request_without_a_bearer_token_is_401_with_a_bearer_challenge(live: Live,
                                                                         header: str | None) -> None:
    client = live.client(token=None)
    headers = {} if header is None else {"Authorization": header}
    for method, path in PROTECTED:
        response = client.request(method, path, headers=headers, json={"events": []})

        assert response.status_code == 401, (method, path)
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "missing bearer token" in error(response)


def test_an_unknown_token_is_401(live: Live) -> None:
    client = live.client(token="not-a-configured-token")
    for method, path in PROTECTED:
        response = _call(client, method, path)

        assert response.status_code == 401, (method, path)
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert error(response) == "invalid token"


def test_authentication_comes_before_reading_the_body(live: Live) -> None:
    anonymous = live.client(token=None)

    events = anonymous.post("/api/v1/events", content=b"{not json")
    bulk = anonymous.post("/api/v1/jobs/kill", json={"filter": {"state": "bogus"}})

    assert (events.status_code, bulk.status_code) == (401, 401)


def test_an_ingest_token_cannot_read(live: Live) -> None:
    client = live.client(INGEST)
    for method, path in READING:
        response = _call(client, method, path)

        assert response.status_code == 403, path
        assert error(response) == "this token lacks the 'read' scope"


def test_a_read_token_cannot_kill_or_delete(live: Live) -> None:
    client = live.client(READ)
    for method, path in ADMINISTERING:
        response = _call(client, method, path)

        assert response.status_code == 403, path
        assert error(response) == "this token lacks the 'admin' scope"


def test_a_read_token_cannot_send_events(reader: httpx.Client) -> None:
    response = reader.post("/api/v1/events", json={"events": []})

    assert response.status_code == 403
    assert error(response) == "this token lacks the 'ingest' scope"


def test_an_admin_token_can_read(admin: httpx.Client) -> None:
    for path in ("/api/v1/jobs", "/api/v1/stats", "/metrics"):
        assert admin.get(path).status_code == 200, path


def test_a_token_with_joined_scopes_has_each_of_them(serve: Serve, sqlite_url: str) -> None:
    live = serve(sqlite_url, Settings(tokens=("ingest+read:both-secret",)))
    client = live.client("both-secret")

    sent = client.post("/api/v1/events", json={"events": [
        {"job_id": "j", "type": "queued", "at": time.time()}]})
    read = client.get("/api/v1/jobs/j")
    kill = client.post("/api/v1/jobs/j/kill")

    assert (sent.status_code, read.status_code, kill.status_code) == (200, 200, 403)


def test_an_ingest_token_cannot_ask_for_a_kill_through_events(serve: Serve, sqlite_url: str) -> None:
    # A kill request is an operation: from an ingest-only token it is rejected by index
    live = serve(sqlite_url, Settings(tokens=(*TOKENS, "ingest+admin:both-secret")))
    at = time.time()
    started = {"job_id": "k1", "type": "started", "at": at, "name": "victim"}
    kill = {"job_id": "k1", "type": "kill_requested", "at": at + 1}
    refused = live.client(INGEST).post("/api/v1/events", json={"events": [started, kill]})
    assert refused.status_code == 200
    assert refused.json()["accepted"] == 1 and refused.json()["control"] == {}
    assert [(r["index"], "admin scope" in r["error"]) for r in refused.json()["rejected"]] == [
        (1, True)]
    assert live.client(READ).get("/api/v1/jobs/k1").json()["state"] == "started"
    # A token with both scopes may send one, and learns of it in the control reply
    allowed = live.client("both-secret").post("/api/v1/events", json={"events": [kill]})
    assert allowed.json() == {"accepted": 1, "rejected": [], "control": {"k1": {"kill_requested": True}}}


# ---- 400 and other malformed bodies ------------------------------------------------------------


@pytest.mark.parametrize("body", [b'{"events": [', b"not json", b"", b'{"events": []}\xff',
                                  b"\xff\xfe{}"])
def test_malformed_json_is_400(ingester: httpx.Client, body: bytes) -> None:
    response = ingester.post("/api/v1/events", content=body,
                             headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert error(response).startswith("malformed JSON")


def test_malformed_json_in_a_bulk_request_is_400_too(admin: httpx.Client) -> None:
    response = admin.post("/api/v1/jobs/kill", content=b'{"filter": {',
                          headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert "JSON" in error(response)


@pytest.mark.parametrize(("body", "says"), [
    ([], 'body must be {"events": [...]}'),
    ({"events": "x"}, 'body must be {"events": [...]}'),
    ({"event": []}, 'body must be {"events": [...]}'),
    ({"events": [], "extra": 1}, "unknown field(s): extra"),
])
def test_a_body_that_is_not_an_events_object_is_422(ingester: httpx.Client, body: Any,
                                                    says: str) -> None:
    response = ingester.post("/api/v1/events", json=body)

    assert response.status_code == 422
    assert error(response) == says


def test_a_message_quoting_a_lone_surrogate_is_still_sent(ingester: httpx.Client) -> None:
    event = {"job_id": "x", "type": "queued", "at": time.time(), "\ud996": 1}

    unknown_top = ingester.post("/api/v1/events", content=json.dumps({"events": [], "\ud996": 1}),
                                headers=JSON)
    unknown_in_event = ingester.post("/api/v1/events", content=json.dumps({"events": [event]}),
                                     headers=JSON)

    assert unknown_top.status_code == 422
    assert unknown_top.json()["error"] == "unknown field(s): \ud996"
    assert unknown_in_event.status_code == 200
    assert [r["index"] for r in unknown_in_event.json()["rejected"]] == [0]


def test_an_event_validation_cannot_read_is_rejected_by_index_and_the_rest_stored(
        ingester: httpx.Client, reader: httpx.Client) -> None:
    at = time.time()
    deep: Any = "bottom"
    for _ in range(900):  # within what the JSON parser takes, beyond what validation recurses
        deep = [deep]
    events = [
        {"job_id": "kept", "type": "queued", "at": at, "name": "ok"},
        {"job_id": "t1", "type": ["queued"], "at": at},
        {"job_id": "t2", "type": {"queued": 1}, "at": at},
        {"job_id": "t3", "type": "queued", "at": at, "args": deep},
    ]
    response = ingester.post("/api/v1/events", json={"events": events})
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 1
    assert [r["index"] for r in body["rejected"]] == [1, 2, 3]
    assert body["rejected"][0]["error"].startswith("type: ['queued'] is not one of")
    assert body["rejected"][2]["error"] == "args: is nested too deeply"
    assert reader.get("/api/v1/jobs/kept").status_code == 200


def test_json_nested_deeper_than_the_parser_goes_is_400(ingester: httpx.Client) -> None:
    body = b'{"events": [{"args": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]}"
    response = ingester.post("/api/v1/events", content=body, headers=JSON)
    assert response.status_code == 400
    assert error(response) == "malformed JSON: nested too deeply"


@pytest.mark.parametrize("path", ["/api/v1/jobs", "/api/v1/stats"])
@pytest.mark.parametrize("since", ["1e19", "-1e19", "99999999999999d"])
def test_a_time_beyond_any_calendar_is_422(reader: httpx.Client, path: str, since: str) -> None:
    response = reader.get(path, params={"since": since})
    assert response.status_code == 422
    assert error(response).startswith("not a time:")


def test_lone_surrogates_in_free_text_are_replaced_so_the_job_still_shows(
        serve: Serve, sqlite_url: str) -> None:
    # Python builds such strings from undecodable bytes (file names, a subprocess's output)
    live = serve(sqlite_url, Settings())  # no tokens: the dashboard needs no login
    client = live.client(None)
    at = time.time()
    events = [
        {"job_id": "s1", "type": "failed", "at": at, "name": "files.scan",
         "args": {"path\ud800": ["bad \udcff name", "fine \U0001f600"]},
         "error": {"type": "OSError", "message": "cannot open \udcff", "traceback": "x\ud800y"}},
        {"job_id": "s2", "type": "succeeded", "at": at, "name": "files.scan", "result": "\udfff"},
    ]
    body = json.dumps({"events": events})  # ASCII: every surrogate is escaped, as senders do
    sent = client.post("/api/v1/events", content=body, headers=JSON)
    assert sent.json() == {"accepted": 2, "rejected": [], "control": {}}

    job = client.get("/api/v1/jobs/s1").json()
    assert job["args"] == {"path\ufffd": ["bad \ufffd name", "fine \U0001f600"]}
    assert job["error"] == {"type": "OSError", "message": "cannot open \ufffd",
                            "traceback": "x\ufffdy"}
    assert client.get("/api/v1/jobs/s2").json()["result"] == "\ufffd"
    assert client.get("/api/v1/jobs").status_code == 200
    page = client.get("/jobs/s1")
    assert page.status_code == 200 and "cannot open \ufffd" in page.text


# ---- 404, 405 and 409 --------------------------------------------------------------------------


def test_an_unknown_job_or_batch_is_404(admin: httpx.Client) -> None:
    for method, path, says in [
        ("GET", "/api/v1/jobs/nope", "no job 'nope'"),
        ("GET", "/api/v1/batches/nope", "no batch 'nope'"),
        ("POST", "/api/v1/jobs/nope/kill", "no job 'nope'"),
    ]:
        response = admin.request(method, path)

        assert response.status_code == 404, path
        assert error(response) == says


def test_an_unknown_route_is_404_and_a_wrong_method_405_both_as_json(admin: httpx.Client) -> None:
    assert admin.get("/api/v1/nothing-here").status_code == 404
    assert admin.get("/api/v1/events").status_code == 405
    assert admin.delete("/api/v1/jobs").status_code == 405


def test_a_wrong_method_on_a_post_route_under_jobs_names_post_as_allowed(admin: httpx.Client) -> None:
    for path in ("/api/v1/jobs/kill", "/api/v1/jobs/delete", "/api/v1/jobs/a1/kill"):
        response = admin.request("OPTIONS", path)

        assert response.status_code == 405, path
        assert response.headers["Allow"] == "POST", path


def test_killing_a_finished_job_is_409(admin: httpx.Client, ingester: httpx.Client,
                                       send: Send) -> None:
    now = time.time()
    send(ingester, {"job_id": "done", "type": "started", "at": now - 10},
         {"job_id": "done", "type": "succeeded", "at": now - 5})

    response = admin.post("/api/v1/jobs/done/kill")

    assert response.status_code == 409
    assert "'done' already succeeded" in error(response)
    assert admin.get("/api/v1/jobs/done").json()["kill_requested_at"] is None


# ---- 413 ---------------------------------------------------------------------------------------


def _events(n: int) -> list[dict[str, Any]]:
    now = time.time()
    return [{"job_id": f"e{i}", "type": "queued", "at": now} for i in range(n)]


def test_more_events_than_the_limit_is_413_and_stores_none(serve: Serve, store_url: str) -> None:
    live = serve(store_url, Settings(tokens=TOKENS, max_events=5))
    ingester = live.client(INGEST)

    over = ingester.post("/api/v1/events", json={"events": _events(6)})
    at_limit = ingester.post("/api/v1/events", json={"events": _events(5)})

    assert over.status_code == 413
    assert error(over) == "6 events in one request; the limit is 5"
    assert at_limit.status_code == 200
    assert at_limit.json()["accepted"] == 5


@pytest.fixture
def small_bodies(serve: Serve, store_url: str) -> Live:
    return serve(store_url, Settings(tokens=TOKENS, max_body_bytes=1000))


def _padded(size: int) -> bytes:
    """A valid events body of exactly `size` bytes."""
    head = b'{"events": [], "pad": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


def test_a_body_larger_than_the_limit_is_413_by_its_content_length(small_bodies: Live) -> None:
    response = small_bodies.client(INGEST).post("/api/v1/events", content=_padded(1001), headers=JSON)

    assert response.status_code == 413
    assert error(response) == "request body is larger than the 1000-byte limit"


def test_a_chunked_body_larger_than_the_limit_is_413_as_it_streams(small_bodies: Live) -> None:
    def chunks() -> Iterator[bytes]:
        body = _padded(3000)
        for i in range(0, len(body), 100):
            yield body[i:i + 100]

    response = small_bodies.client(INGEST).post("/api/v1/events", content=chunks(), headers=JSON)

    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in response.request.headers
    assert response.status_code == 413
    assert error(response) == "request body is larger than the 1000-byte limit"


def test_a_body_at_the_limit_is_read(small_bodies: Live) -> None:
    def chunks() -> Iterator[bytes]:
        yield _padded(1000)

    by_length = small_bodies.client(INGEST).post("/api/v1/events", content=_padded(1000), headers=JSON)
    chunked = small_bodies.client(INGEST).post("/api/v1/events", content=chunks(), headers=JSON)

    # Read in full, so the complaint is about the (made-up) field, not the size.
    assert (by_length.status_code, chunked.status_code) == (422, 422)
    assert error(by_length) == error(chunked) == "unknown field(s): pad"


# ---- 422: filters and bulk requests ------------------------------------------------------------


@pytest.mark.parametrize(("params", "says"), [
    ({"state": "bogus"}, "unknown state 'bogus'"),
    ({"state": "failed,bogus"}, "unknown state 'bogus'"),
    ({"since": "yesterday-ish"}, "not a time: 'yesterday-ish'"),
    ({"until": "2024-13-45"}, "not a time: '2024-13-45'"),
    ({"cursor": "garbage!"}, "invalid cursor 'garbage!'"),
    ({"cursor": "WzEsMiwzXQ"}, "invalid cursor"),  # base64 of [1,2,3]
    ({"limit": "0"}, "limit"),
    ({"limit": "1001"}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"label": "tenant"}, "label filter 'tenant' must be key=value"),
    ({"name": "a\x00b"}, "NUL"),
])
def test_a_bad_list_filter_is_422_naming_the_problem(reader: httpx.Client, params: dict[str, str],
                                                     says: str) -> None:
    response = reader.get("/api/v1/jobs", params=params)

    assert response.status_code == 422
    assert says in error(response)


@pytest.mark.parametrize(("params", "says"), [
    ({"by": "worker"}, "by"),
    ({"state": "nope"}, "unknown state 'nope'"),
    ({"since": "soon"}, "not a time"),
    ({"exact": "perhaps"}, "exact"),
])
def test_a_bad_stats_request_is_422(reader: httpx.Client, params: dict[str, str], says: str) -> None:
    response = reader.get("/api/v1/stats", params=params)

    assert response.status_code == 422
    assert says in error(response)


@pytest.mark.parametrize(("body", "says"), [
    ({}, 'an empty filter matches every job; send "all": true to mean that'),
    ({"filter": {}, "dry_run": False}, 'send "all": true'),
    ({"filter": {"state": "bogus"}}, "unknown state 'bogus'"),
    ({"filter": {"since": "whenever"}}, "not a time"),
    ({"filter": {"colour": "red"}}, "colour"),
    ({"filter": {"name": "x"}, "dry_run": "maybe"}, "dry_run"),
    ({"filter": {"labels": {"k": 1}}}, "labels"),
    ({"filter": {"until": False}}, "filter.until"),
    ({"filter": {"name": "x"}, "dry_run": "yes"}, "dry_run"),
    ({"filter": {"resource": "Book:\x00"}}, "filter.resource: Value error, must not contain NUL"),
    ({"filter": {"name": ["ok", "\ud996"]}}, "filter.name: Value error, must be valid Unicode"),
    ({"filter": {"labels": {"k": "\udfff"}}}, "filter.labels: Value error, must be valid Unicode"),
])
def test_a_bad_bulk_request_is_422_and_changes_nothing(admin: httpx.Client, body: dict[str, Any],
                                                       says: str) -> None:
    for path in ("/api/v1/jobs/kill", "/api/v1/jobs/delete"):
        # json.dumps escapes what UTF-8 cannot carry (a lone surrogate) as JSON allows: \ud996
        response = admin.post(path, content=json.dumps(body),
                              headers={"Content-Type": "application/json"})

        assert response.status_code == 422, path
        assert says in error(response)


# ---- 5xx: failures inside never leak ----------------------------------------------------------


class FailingStore:
    """A real store whose `find` raises `exc`."""

    def __init__(self, store: Store, exc: Exception) -> None:
        self._store = store
        self._exc = exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def find(self, *args: Any) -> Any:
        raise self._exc


@pytest.fixture
def real_store(sqlite_url: str) -> Iterator[Store]:
    store = open_store(sqlite_url)
    yield store
    store.close()


def test_an_unexpected_failure_is_a_bare_500(serve: Serve, real_store: Store) -> None:
    from jobtrail.web import asgi_app

    failing = FailingStore(real_store, RuntimeError("secret detail at /srv/app.py line 9"))
    live = serve(asgi_app(failing, Settings(tokens=TOKENS)))  # type: ignore[arg-type]

    response = live.client(READ).get("/api/v1/jobs")

    assert response.status_code == 500
    assert error(response) == "internal error"
    assert "secret detail" not in response.text


def test_an_unreachable_store_is_503(serve: Serve, real_store: Store) -> None:
    from jobtrail.web import asgi_app

    failing = FailingStore(real_store, StoreError("connection refused"))
    live = serve(asgi_app(failing, Settings(tokens=TOKENS)))  # type: ignore[arg-type]

    response = live.client(READ).get("/api/v1/jobs")

    assert response.status_code == 503
    assert error(response) == "the job store is unavailable; try again shortly"
