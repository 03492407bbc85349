"""Signed embed links against a real server with tokens and `JOBTRAIL_EMBED_SECRET`: a valid link
shows its one chart with no cookie or token and sets none; anything else about it is refused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from jobtrail import Settings, signed_embed_url
from jobtrail.web import asgi_app

from .conftest import ADMIN, READ, XSS_BATCH, XSS_JOB, Serve, Server, start_server

TOKENS = (f"admin:{ADMIN}", f"read:{READ}")
SECRET = "embed-secret-for-tests-0123456789abcdef"
GANTT = {"batch": XSS_BATCH, "highlight": XSS_JOB}  # every awkward character, signed and sent


@pytest.fixture(scope="module")
def signing(serve_dash: Serve) -> Server:
    return serve_dash(tokens=TOKENS, embed_secret=SECRET)


@pytest.fixture(scope="module")
def unsigning(serve_dash: Serve) -> Server:
    """Tokens but no embed secret: signed embeds are off."""
    return serve_dash(tokens=TOKENS)


@pytest.fixture
def http(signing: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=signing.url, follow_redirects=False, timeout=30) as client:
        yield client


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _link(chart: str = "gantt", params: dict[str, str] | None = None, **kw: float) -> str:
    return _path(signed_embed_url("http://x", chart, GANTT if params is None else params, SECRET,
                                  **kw))  # type: ignore[arg-type]


def _swap(path: str, key: str, value: str) -> str:
    route, _, query = path.partition("?")
    pairs = [(k, value if k == key else v) for k, v in parse_qsl(query)]
    return f"{route}?{urlencode(pairs)}"


def test_a_signed_link_shows_its_chart_without_cookie_or_token_and_sets_none(
        http: httpx.Client) -> None:
    response = http.get(_link())
    assert response.status_code == 200, response.text
    assert "<h1 class=\"embed-title\">Timeline of batch batch" in response.text
    assert '"highlight": "xss-' in response.text  # the signed highlight reached the chart
    assert '"kind": "gantt"' in response.text and "data-chart" in response.text
    assert "set-cookie" not in response.headers
    assert http.cookies == {}
    load = http.get(_link("load", {"range": "24h"}))
    assert load.status_code == 200 and "Jobs queued and running" in load.text


def test_parameter_order_does_not_matter(http: httpx.Client) -> None:
    route, _, query = _link().partition("?")
    assert http.get(f"{route}?{urlencode(list(reversed(parse_qsl(query))))}").status_code == 200


def test_an_unsigned_embed_still_needs_the_login(http: httpx.Client) -> None:
    route, _, query = _link().partition("?")
    bare = [(k, v) for k, v in parse_qsl(query) if k not in ("signature", "expires")]
    response = http.get(f"{route}?{urlencode(bare)}")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize(("key", "value"), [("highlight", "another-job"), ("batch", "other"),
                                            ("signature", "A" * 43)])
def test_a_tampered_link_is_refused(http: httpx.Client, key: str, value: str) -> None:
    response = http.get(_swap(_link(), key, value))
    assert response.status_code == 403
    assert "signature does not match" in response.text
    assert "set-cookie" not in response.headers


def test_a_link_for_one_chart_opens_no_other(http: httpx.Client) -> None:
    path = _link("load", {"range": "24h"})
    for other in ("throughput", "failure-rate"):
        response = http.get(path.replace("/embed/load?", f"/embed/{other}?"))
        assert response.status_code == 403, other
    extra = http.get(path + "&name=reports.send")
    assert extra.status_code == 403


def test_an_expired_link_is_refused_with_its_expiry(http: httpx.Client) -> None:
    minted = time.time() - 7200
    path = _link(now=minted, expires_in=3600)
    response = http.get(path)
    assert response.status_code == 403
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(dict(parse_qsl(
        urlsplit(path).query))["expires"])))
    assert f"expired at {stamp}" in response.text


def test_an_expired_link_is_refused_even_to_a_logged_in_reader(http: httpx.Client) -> None:
    path = _link(now=time.time() - 7200, expires_in=3600)
    response = http.get(path, headers={"Authorization": f"Bearer {READ}"})
    assert response.status_code == 403 and "expired at" in response.text


def test_a_signature_opens_no_other_route(http: httpx.Client) -> None:
    query = _link().partition("?")[2]
    page = http.get(f"/jobs?{query}")
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    api = http.get(f"/api/v1/jobs?{query}")
    assert api.status_code == 401
    batch = http.get(f"/batches/x?{query}")
    assert batch.status_code == 303


def test_the_errors_of_a_signed_link_may_show_inside_the_allowed_frames(
        serve_dash: Serve) -> None:
    server = serve_dash(tokens=TOKENS, embed_secret=SECRET,
                        env={"JOBTRAIL_FRAME_ORIGINS": "https://jobs.example.org"})
    response = httpx.get(server.url + _swap(_link(), "batch", "other"))
    assert response.status_code == 403
    assert "frame-ancestors https://jobs.example.org" in response.headers["content-security-policy"]


def test_without_a_secret_a_signed_link_is_refused_with_the_reason(unsigning: Server) -> None:
    response = httpx.get(unsigning.url + _link())
    assert response.status_code == 403
    assert "signed embeds are off" in response.text and "JOBTRAIL_EMBED_SECRET" in response.text
    minted = httpx.post(unsigning.url + "/api/v1/embeds", json={"chart": "load"},
                        headers={"Authorization": f"Bearer {ADMIN}"})
    assert minted.status_code == 403
    assert "JOBTRAIL_EMBED_SECRET" in minted.json()["error"]


def test_the_static_files_an_embed_loads_need_no_cookie(http: httpx.Client) -> None:
    page = http.get(_link())
    assets = [part.split('"')[0] for part in page.text.split('src="')[1:]]
    assets += [part.split('"')[0] for part in page.text.split('rel="stylesheet" href="')[1:]]
    assert len(assets) == 4, assets
    for asset in assets:
        assert asset.startswith("/static/")
        assert http.get(asset).status_code == 200, asset


def _mint(server: Server, token: str | None, body: dict[str, object]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(server.url + "/api/v1/embeds", json=body, headers=headers)


def test_minting_over_the_api_needs_admin(signing: Server) -> None:
    body = {"chart": "load", "params": {"range": "7d"}, "expires_in": "1h"}
    assert _mint(signing, None, body).status_code == 401
    refused = _mint(signing, READ, body)
    assert refused.status_code == 403 and "admin" in refused.json()["error"]


def test_a_link_minted_over_the_api_works(signing: Server) -> None:
    before = time.time()
    minted = _mint(signing, ADMIN, {"chart": "gantt", "params": GANTT, "expires_in": "1h"})
    assert minted.status_code == 200, minted.text
    data = minted.json()
    assert data["url"].startswith(signing.url + "/embed/gantt?")
    assert before + 3600 <= data["expires"] <= time.time() + 3601
    shown = httpx.get(data["url"])
    assert shown.status_code == 200 and '"kind": "gantt"' in shown.text
    public = _mint(signing, ADMIN, {"chart": "load", "base_url": "https://jobs.example.org/trail"})
    assert public.json()["url"].startswith("https://jobs.example.org/trail/embed/load?expires=")


@pytest.mark.parametrize(("body", "message"), [
    ({"chart": "pie"}, "no chart 'pie'"),
    ({"chart": "gantt", "params": {"batch": "b", "job": "j"}}, "takes no parameter 'job'"),
    ({"chart": "busy"}, "needs the parameter 'job'"),
    ({"chart": "load", "expires_in": "400d"}, "expires_in"),
    ({"chart": "load", "base_url": "javascript:alert(1)"}, "base_url"),
    ({"chart": "load", "base_url": "http://["}, "base_url"),
    ({"chart": "load", "base_url": "https://a.example/?x=1"}, "base_url"),
    ({"chart": "load", "colour": "red"}, "colour"),
])
def test_minting_refuses_what_no_chart_takes(signing: Server, body: dict[str, object],
                                             message: str) -> None:
    response = _mint(signing, ADMIN, body)
    assert response.status_code == 422
    assert message in response.json()["error"]


def test_the_openapi_document_describes_minting(signing: Server) -> None:
    spec = httpx.get(signing.url + "/openapi.json").json()
    operation = spec["paths"]["/api/v1/embeds"]["post"]
    assert "200" in operation["responses"] and "403" in operation["responses"]
    assert set(spec["components"]["schemas"]["EmbedIn"]["properties"]) == {
        "chart", "params", "expires_in", "base_url"}
    assert set(spec["components"]["schemas"]["EmbedOut"]["properties"]) == {"url", "expires"}


def test_a_link_minted_inside_a_users_app_keeps_the_mount_prefix(demo_url: str) -> None:
    inner = asgi_app(demo_url, Settings(tokens=TOKENS, embed_secret=SECRET))
    outer = start_server(Starlette(routes=[Mount("/trail", app=inner)]))
    try:
        minted = httpx.post(outer.url + "/trail/api/v1/embeds", json={
            "chart": "load", "params": {"range": "24h"}}, headers={"Authorization": f"Bearer {ADMIN}"})
        assert minted.status_code == 200, minted.text
        assert minted.json()["url"].startswith(outer.url + "/trail/embed/load?")
        shown = httpx.get(minted.json()["url"])
        assert shown.status_code == 200 and "Jobs queued and running" in shown.text
        assets = [part.split('"')[0] for part in shown.text.split('src="')[1:]]
        assert assets and all(a.startswith("/trail/static/") for a in assets), assets
        assert all(httpx.get(outer.url + a).status_code == 200 for a in assets)
    finally:
        outer.stop()
