"""With tokens configured, pages need a `read` token (entered once, kept in an HttpOnly cookie),
kill and delete need `admin` and the form's CSRF token; read-only mode hides and refuses them."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from jobtrail.store import open_store

from .conftest import ADMIN, READ, Serve, Server, Watched

TOKENS = (f"admin:{ADMIN}", f"read:{READ}")


@pytest.fixture(scope="module")
def locked(serve_dash: Serve) -> Server:
    return serve_dash(tokens=TOKENS)


def _client(server: Server, token: str | None = None) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=30) as client:
        if token:
            response = client.get("/login")
            csrf = client.cookies["jobtrail_csrf"]
            response = client.post("/login", data={"token": token, "csrf": csrf, "next": "/jobs"})
            assert response.status_code == 303, response.text
        yield client


@pytest.fixture
def anonymous(locked: Server) -> Iterator[httpx.Client]:
    yield from _client(locked)


@pytest.fixture
def reader(locked: Server) -> Iterator[httpx.Client]:
    yield from _client(locked, READ)


@pytest.fixture
def admin(locked: Server) -> Iterator[httpx.Client]:
    yield from _client(locked, ADMIN)


def _state(demo_url: str, job_id: str) -> str:
    store = open_store(demo_url)
    try:
        record = store.get(job_id)
        assert record is not None
        return str(record["state"])
    finally:
        store.close()


@pytest.mark.parametrize("path", ["/", "/jobs", "/jobs/kill-me", "/queues", "/embed/load", "/names/x"])
def test_without_a_token_every_page_sends_the_browser_to_the_login_form(
        anonymous: httpx.Client, path: str) -> None:
    response = anonymous.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
    assert response.text == ""  # nothing of the page leaks before logging in


def test_without_a_token_kill_and_bulk_are_refused(anonymous: httpx.Client, demo_url: str) -> None:
    anonymous.get("/login")
    csrf = anonymous.cookies["jobtrail_csrf"]
    before = _state(demo_url, "bulk-1")
    for path, data in (("/jobs/bulk-1/kill", {"csrf": csrf}),
                       ("/jobs/bulk", {"csrf": csrf, "action": "delete", "name": "bulk_target",
                                       "confirm": "yes"})):
        response = anonymous.post(path, data=data)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert _state(demo_url, "bulk-1") == before


def test_a_wrong_token_is_refused_at_login(anonymous: httpx.Client) -> None:
    anonymous.get("/login")
    response = anonymous.post("/login", data={"token": "nope", "csrf": anonymous.cookies["jobtrail_csrf"]})
    assert response.status_code == 401
    assert "jobtrail_session" not in response.cookies


def test_the_session_cookie_is_httponly_and_samesite_strict(locked: Server) -> None:
    with httpx.Client(base_url=locked.url) as client:
        client.get("/login")
        response = client.post("/login", data={"token": READ, "csrf": client.cookies["jobtrail_csrf"]})
    cookie = next(v for k, v in response.headers.multi_items()
                  if k == "set-cookie" and v.startswith("jobtrail_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")


def test_a_read_token_reads_but_cannot_kill(reader: httpx.Client, demo_url: str) -> None:
    before = _state(demo_url, "kill-me")
    page = reader.get("/jobs/kill-me")
    assert page.status_code == 200
    assert 'id="kill"' not in page.text
    response = reader.post("/jobs/kill-me/kill", data={"csrf": reader.cookies["jobtrail_csrf"]})
    assert response.status_code == 403
    assert _state(demo_url, "kill-me") == before


def test_an_admin_post_without_the_csrf_token_is_refused(admin: httpx.Client) -> None:
    for data in ({}, {"csrf": "forged-" + "x" * 40}):
        response = admin.post("/jobs/kill-me/kill", data=data)
        assert response.status_code == 403
        assert "CSRF" in response.text
        response = admin.post("/jobs/bulk", data={**data, "action": "kill", "name": "bulk_target"})
        assert response.status_code == 403


def test_an_admin_sees_the_kill_button(admin: httpx.Client) -> None:
    page = admin.get("/jobs/bulk-3")
    assert page.status_code == 200
    assert 'id="kill"' in page.text


def test_read_only_mode_hides_and_refuses_kill_and_delete(serve_dash: Serve) -> None:
    server = serve_dash(env={"JOBTRAIL_READ_ONLY": "1"})
    with httpx.Client(base_url=server.url) as client:
        page = client.get("/jobs/bulk-3")
        assert page.status_code == 200 and "read-only" in page.text
        assert 'id="kill"' not in page.text
        listing = client.get("/jobs?name=bulk_target")
        assert 'id="bulk-kill"' not in listing.text
        csrf = client.cookies["jobtrail_csrf"]
        assert client.post("/jobs/bulk-3/kill", data={"csrf": csrf}).status_code == 403
        response = client.post("/jobs/bulk", data={"csrf": csrf, "action": "delete",
                                                   "name": "bulk_target", "confirm": "yes"})
        assert response.status_code == 403


def test_logging_in_through_the_form_in_the_browser(locked: Server, watched: Watched) -> None:
    watched.page.goto(locked.url + "/jobs?state=failed")
    assert "/login?next=" in watched.page.url
    watched.page.fill("#token", READ)
    watched.page.click("form.login button")
    watched.page.wait_for_url(locked.url + "/jobs?state=failed")
    assert watched.page.locator("h1").inner_text() == "Jobs"
    cookies = {c["name"]: c for c in watched.page.context.cookies()}
    assert cookies["jobtrail_session"]["httpOnly"] and cookies["jobtrail_session"]["sameSite"] == "Strict"
    assert watched.page.evaluate("() => document.cookie") == ""  # HttpOnly: scripts see nothing
    watched.shot("login-then-jobs")
