"""A job whose name, args, error, labels, batch, resource and worker are script payloads is shown on
every page and chart, tooltips included, and no payload ever runs (window.__xss stays unset)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from .conftest import XSS, XSS_BATCH, XSS_JOB, XSS_NAME, XSS_RESOURCE, Server, Watched


def _q(value: str) -> str:
    return quote(value, safe="")


PAGES = {
    "overview": "/",
    "jobs": "/jobs",
    "jobs-filtered": f"/jobs?name={_q(XSS_NAME)}&label={_q('note=' + XSS['script'])}",
    "job": f"/jobs/{_q(XSS_JOB)}",
    "batch": f"/batches/{_q(XSS_BATCH)}?highlight={_q(XSS_JOB)}",
    "name": f"/names/{_q(XSS_NAME)}",
    "resource": f"/resources/{_q(XSS_RESOURCE)}",
    "embed-gantt": f"/embed/gantt?batch={_q(XSS_BATCH)}&highlight={_q(XSS_JOB)}",
    "embed-run-compare": f"/embed/run-compare?job={_q(XSS_JOB)}",
    "embed-throughput": f"/embed/throughput?name={_q(XSS_NAME)}",
    "missing-job": f"/jobs/{_q(XSS['close'])}",
}


def _hover_every_chart(watched: Watched) -> int:
    """Show a tooltip for the first data item of every series of every chart; returns how many."""
    return int(watched.page.evaluate(
        """() => { let shown = 0;
             for (const box of document.querySelectorAll('[data-chart][data-ready]')) {
               const chart = echarts.getInstanceByDom(box);
               chart.getOption().series.forEach((s, i) => {
                 const n = (s.data || []).length;
                 for (let d = 0; d < Math.min(n, 3); d++) {
                   chart.dispatchAction({type: 'showTip', seriesIndex: i, dataIndex: d}); shown++;
                 }
               });
             }
             return shown; }"""))


@pytest.mark.parametrize("page_name", list(PAGES))
def test_script_payloads_are_shown_as_text_and_never_run(page_name: str, dash: Server,
                                                         watched: Watched) -> None:
    response = watched.open(dash.url + PAGES[page_name])
    assert response.status == (404 if page_name == "missing-job" else 200)
    if page_name == "missing-job":  # Chromium logs the page's own 404; nothing else may fail
        watched.problems.remove("console error: Failed to load resource: the server responded "
                                "with a status of 404 (Not Found)")
    html = response.text()
    # Inside <script type="application/json"> blocks every < is escaped, so none can close them.
    for block in html.split('<script type="application/json" class="chart-config">')[1:]:
        assert "<" not in block.split("</script>")[0]
    assert "<script>window.__xss" not in html and "<img src=x" not in html
    _hover_every_chart(watched)
    watched.page.wait_for_timeout(100)
    assert watched.xss_flag() is None
    watched.shot(f"xss-{page_name}")


def test_the_payload_job_page_shows_each_payload_literally(dash: Server, watched: Watched) -> None:
    watched.open(dash.url + PAGES["job"])
    text = watched.page.locator("main").inner_text()
    for payload in (XSS["script"], XSS["img"], XSS["close"]):
        assert payload in text
    assert XSS_NAME in watched.page.locator("#job-name").inner_text()
    assert XSS["close"] in watched.page.locator("#args").inner_text()
    assert XSS["img"] in watched.page.locator("#error").inner_text()
    # Links built from untrusted values stay on this server: no javascript: URL is ever an href.
    hrefs = watched.page.eval_on_selector_all("a[href]", "els => els.map(a => a.getAttribute('href'))")
    assert all(h.startswith(("/", "?", "#")) for h in hrefs), hrefs
    assert watched.xss_flag() is None


def test_gantt_tooltip_of_the_payload_job_shows_its_name_as_text(dash: Server, watched: Watched) -> None:
    watched.open(dash.url + PAGES["embed-gantt"])
    assert _hover_every_chart(watched) >= 1
    tooltip = watched.page.locator("div", has_text="evil<script>").last
    tooltip.wait_for(state="attached", timeout=5000)
    assert XSS["script"] in tooltip.inner_text()
    assert watched.xss_flag() is None
