"""An embedded chart renders inside an <iframe> of a page served from another origin that
JOBTRAIL_FRAME_ORIGINS allows; full pages refuse to be framed by it."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from .conftest import Serve, Server, Watched, free_port, start_server


def _host_site(target: str) -> Starlette:
    """A page on another origin that frames `?src=` from the dashboard at `target`."""

    async def page(request: Request) -> HTMLResponse:
        src = target + request.query_params["src"]
        return HTMLResponse('<!doctype html><title>wiki</title><link rel="icon" href="data:,">'
                            f'<h1>Our wiki</h1><iframe id="chart" src="{src}" width="900" height="380">'
                            '</iframe>')

    return Starlette(routes=[Route("/", page)])


def test_an_embed_renders_inside_an_iframe_on_an_allowed_origin(serve_dash: Serve,
                                                                watched: Watched) -> None:
    host_port = free_port()
    origin = f"http://127.0.0.1:{host_port}"
    dash = serve_dash(env={"JOBTRAIL_FRAME_ORIGINS": origin})
    host = start_server(_host_site(dash.url), host_port)
    try:
        assert host.url == origin and host.url != dash.url
        watched.page.goto(host.url + "/?src=/embed/load%3Frange%3D24h")
        frame = watched.page.frame_locator("#chart")
        frame.locator("[data-chart][data-ready]").wait_for(timeout=10_000)
        assert frame.locator(".embed-title").inner_text() == "Jobs queued and running"
        watched.shot("embed-in-iframe")
    finally:
        host.stop()


def test_embed_and_page_headers_say_who_may_frame_them(serve_dash: Serve, dash: Server) -> None:
    allowed = serve_dash(env={"JOBTRAIL_FRAME_ORIGINS": "https://wiki.example.org, https://b.example"})
    embed = httpx.get(allowed.url + "/embed/load")
    directives = [d.strip() for d in embed.headers["content-security-policy"].split(";")]
    assert "frame-ancestors https://wiki.example.org https://b.example" in directives
    assert "x-frame-options" not in embed.headers
    page = httpx.get(allowed.url + "/")
    assert "frame-ancestors 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "SAMEORIGIN"
    default = httpx.get(dash.url + "/embed/load")
    assert "frame-ancestors 'self'" in default.headers["content-security-policy"]


def test_a_full_page_is_not_rendered_inside_another_origins_iframe(serve_dash: Serve,
                                                                  watched: Watched) -> None:
    host_port = free_port()
    dash = serve_dash(env={"JOBTRAIL_FRAME_ORIGINS": f"http://127.0.0.1:{host_port}"})
    host = start_server(_host_site(dash.url), host_port)
    try:
        watched.page.goto(host.url + "/?src=/jobs")
        watched.page.wait_for_timeout(1000)
        frame = watched.page.frame_locator("#chart")
        assert frame.locator("#filters").count() == 0  # blocked: Chromium shows its own error page
        assert not any(f.url.startswith(dash.url) and f.locator("#filters").count()
                       for f in watched.page.frames)
    finally:
        host.stop()
        # Chromium reports the refused frame on the console; that refusal is what is tested.
        watched.problems[:] = [p for p in watched.problems
                               if "frame-ancestors" not in p and p != f"request failed: {dash.url}/jobs"]
