"""The user's case in real Chromium: a job server on another site (`localhost` frames
`127.0.0.1`, a different site, so SameSite=Strict cookies never reach the frame) embeds a chart
from a jobtrail that has tokens. The signed link draws the chart; the unsigned one does not."""

from __future__ import annotations

from html import escape

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from jobtrail import signed_embed_url

from .conftest import ADMIN, READ, Serve, Watched, free_port, start_server

SECRET = "embed-secret-for-the-iframe-test-0123456789"



def _job_server(signed: str, unsigned: str) -> Starlette:
    async def page(_: Request) -> HTMLResponse:
        return HTMLResponse(
            '<!doctype html><title>job server</title><link rel="icon" href="data:,">'
            '<h1>Job request 7254</h1>'
            f'<iframe id="signed" src="{escape(signed)}" width="900" height="380"></iframe>'
            f'<iframe id="unsigned" src="{escape(unsigned)}" width="900" height="380"></iframe>')

    return Starlette(routes=[Route("/", page)])


def test_a_signed_embed_draws_inside_another_sites_iframe_and_an_unsigned_one_does_not(
        serve_dash: Serve, watched: Watched) -> None:
    outer_port = free_port()
    outer = f"http://localhost:{outer_port}"
    dash = serve_dash(tokens=(f"admin:{ADMIN}", f"read:{READ}"), embed_secret=SECRET,
                      env={"JOBTRAIL_FRAME_ORIGINS": outer})
    signed = signed_embed_url(dash.url, "load", {"range": "24h"}, SECRET, "1h")
    unsigned = dash.url + "/embed/load?range=24h"
    host = start_server(_job_server(signed, unsigned), outer_port)
    try:
        watched.page.goto(outer + "/")
        frame = watched.page.frame_locator("#signed")
        frame.locator("[data-chart][data-ready]").wait_for(timeout=10_000)
        assert frame.locator(".embed-title").inner_text() == "Jobs queued and running"
        assert frame.locator("[data-chart][data-ready] canvas").count() >= 1  # ECharts drew it
        drawn = frame.locator("script.chart-config").first.text_content() or ""
        assert '"kind": "time"' in drawn and '"series"' in drawn
        watched.page.wait_for_timeout(500)
        other = watched.page.frame_locator("#unsigned")
        assert other.locator("[data-chart]").count() == 0
        assert watched.page.context.cookies(dash.url) == []  # the signed embed set no cookie
        watched.shot("signed-embed-in-cross-site-iframe")
    finally:
        host.stop()
        # The unsigned frame is sent to /login, which refuses to be framed: Chromium says so on
        # the console, and that refusal is what is tested.
        watched.problems[:] = [p for p in watched.problems
                               if "frame-ancestors" not in p and "/login" not in p]
