"""Every page on the demo database in real Chromium: it loads, draws its charts without a console
error, and its links and forms do what they say."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

import pytest

from jobtrail import Settings, Trail
from jobtrail.demo_fleet import fleet
from jobtrail.model import JobFilter
from jobtrail.store import open_store

from .conftest import KILLABLE, Server, Watched, beat


@pytest.fixture(scope="package")
def sample(demo_url: str) -> dict[str, str]:
    """Ids of things the generated history holds: a finished job in a batch, a running batch."""
    store = open_store(demo_url)
    try:
        batched = [r for r in store.find(JobFilter(states=("succeeded",)), 500, None) if r["batch"]]
        job = batched[0]
        return {"job": job["id"], "batch": job["batch"], "name": job["name"],
                "resource": job["resources"][0]}
    finally:
        store.close()


PAGES = {
    "overview": "/",
    "overview-7d": "/?range=7d",
    "jobs": "/jobs",
    "jobs-failed": "/jobs?state=failed",
    "job": "/jobs/{job}",
    "batch": "/batches/{batch}?highlight={job}",
    "name": "/names/{name}",
    "resource": "/resources/{resource}",
    "queues": "/queues",
    "workers": "/workers",
    "health": "/health",
    "alerts": "/alerts",
    "embed-throughput": "/embed/throughput?range=24h",
    "embed-failure-rate": "/embed/failure-rate?range=7d",
    "embed-load": "/embed/load",
    "embed-gantt": "/embed/gantt?batch={batch}&highlight={job}",
    "embed-run-compare": "/embed/run-compare?job={job}",
    "embed-busy": "/embed/busy?job={job}",
    "embed-heatmap": "/embed/heatmap?name={name}",
    "embed-duration-trend": "/embed/duration-trend?name={name}",
    "embed-wait": "/embed/wait?name={name}",
}


@pytest.mark.parametrize("page_name", list(PAGES))
def test_every_page_loads_without_console_errors(page_name: str, dash: Server, watched: Watched,
                                                 sample: dict[str, str]) -> None:
    path = PAGES[page_name].format(**{k: quote(v, safe="") for k, v in sample.items()})
    response = watched.open(dash.url + path)
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "unsafe-inline" not in response.headers["content-security-policy"].split("script-src")[1] \
        .split(";")[0]
    watched.shot(page_name)
    charts = watched.page.locator("[data-chart]")
    if page_name.startswith("embed"):
        assert charts.count() == 1
    assert watched.page.locator("[data-chart][data-ready]").count() >= (1 if charts.count() else 0)


def test_durations_on_pages_are_human_never_raw_seconds(dash: Server, watched: Watched,
                                                        sample: dict[str, str]) -> None:
    watched.open(dash.url + "/jobs/" + quote(sample["job"], safe=""))
    facts = watched.page.locator("dl.facts").inner_text()
    run = re.search(r"run\s+(\S+(?: \S+)?)", facts)
    assert run is not None and re.fullmatch(r"\d+(\.\d)?(ms|s)|\d+[mhd] \d+[smh]", run.group(1)), facts


def test_clicking_a_count_on_the_overview_opens_the_matching_filtered_list(
        dash: Server, watched: Watched, demo_url: str) -> None:
    watched.open(dash.url + "/?range=7d")
    link = watched.page.locator(".count[data-state=succeeded]")
    shown = int(link.locator(".n").inner_text())
    link.click()
    watched.page.wait_for_url(re.compile(r"/jobs\?"))
    query = parse_qs(urlparse(watched.page.url).query)
    assert query == {"state": ["succeeded"], "range": ["7d"]}
    states = watched.page.locator("table.grid tbody tr .state").all_inner_texts()
    assert states and set(states) == {"succeeded"}
    assert len(states) == min(50, shown)
    store = open_store(demo_url)
    assert shown == store.count(JobFilter(states=("succeeded",), since=time.time() - 7 * 86400))
    store.close()


def _ids(watched: Watched) -> list[str]:
    return watched.page.locator("table.grid tbody tr td.mono").all_inner_texts()


def test_filters_and_keyset_pagination(dash: Server, watched: Watched, demo_url: str) -> None:
    name = "reports.send_email"
    store = open_store(demo_url)
    expected = store.count(JobFilter(names=(name,)))
    store.close()
    assert expected > 50  # the busiest name: more than one page
    watched.open(dash.url + "/jobs")
    watched.page.fill("#filters input[name=name]", name)
    watched.page.click("#filters button[type=submit]")
    watched.page.wait_for_url(re.compile(r"name=reports.send_email"))
    first = _ids(watched)
    assert len(first) == 50
    assert set(watched.page.locator("table.grid tbody tr td:nth-child(2)").all_inner_texts()) == {name}
    seen = list(first)
    while watched.page.locator("#next-page").count():
        watched.page.click("#next-page")
        watched.page.wait_for_load_state("load")
        assert parse_qs(urlparse(watched.page.url).query)["name"] == [name]
        seen += _ids(watched)
    assert len(seen) == len(set(seen)) == expected


def test_kill_from_the_job_page_changes_its_state(dash: Server, watched: Watched,
                                                  demo_url: str) -> None:
    beat(demo_url, KILLABLE)
    watched.open(dash.url + f"/jobs/{KILLABLE}")
    assert watched.page.locator("h1 .state").inner_text() == "started"
    watched.page.click("#kill")
    watched.page.wait_for_load_state("load")
    assert watched.page.url.endswith(f"/jobs/{KILLABLE}")
    assert watched.page.locator("h1 .state").inner_text() == "kill_requested"
    assert watched.page.locator("#kill").count() == 1  # still unfinished: it may be asked again
    watched.shot("job-killed")


def test_bulk_kill_shows_the_dry_run_count_first_then_kills(dash: Server, watched: Watched,
                                                            demo_url: str) -> None:
    beat(demo_url, "bulk-1", "bulk-2", "bulk-3")
    watched.open(dash.url + "/jobs?name=bulk_target")
    watched.page.click("#bulk-kill")
    watched.page.wait_for_load_state("load")
    assert "3" in watched.page.locator("#dry-run strong").inner_text()
    store = open_store(demo_url)
    assert store.counts(JobFilter(names=("bulk_target",)), "state") == {"started": 3}  # nothing yet
    watched.page.click("#confirm")
    watched.page.wait_for_load_state("load")
    assert "3 jobs flagged for killing" in watched.page.locator(".notice").inner_text()
    assert store.counts(JobFilter(names=("bulk_target",)), "state") == {"kill_requested": 3}
    store.close()


def test_bulk_delete_shows_the_dry_run_count_first_then_deletes(dash: Server, watched: Watched,
                                                                demo_url: str) -> None:
    watched.open(dash.url + "/jobs?name=delete_target")
    watched.page.click("#bulk-delete")
    watched.page.wait_for_load_state("load")
    assert watched.page.locator("#dry-run strong").inner_text() == "2"
    store = open_store(demo_url)
    assert store.count(JobFilter(names=("delete_target",))) == 2
    watched.page.click("#confirm")
    watched.page.wait_for_load_state("load")
    assert "2 jobs deleted" in watched.page.locator(".notice").inner_text()
    assert store.count(JobFilter(names=("delete_target",))) == 0
    assert watched.page.locator("td.empty").count() == 1
    store.close()


def test_a_confirmed_bulk_delete_spares_jobs_created_after_its_dry_run(
        dash: Server, watched: Watched, demo_url: str) -> None:
    # Given two jobs of a name, counted by a bulk delete's dry run over the last hour
    def job(job_id: str) -> None:
        with Trail(demo_url, settings=Settings()) as trail:
            result = trail.ingest([{"job_id": job_id, "type": "queued", "name": "freeze_target",
                                    "at": time.time()}])
            assert not result.rejected
    job("freeze-1")
    job("freeze-2")
    watched.open(dash.url + "/jobs?name=freeze_target&range=1h")
    watched.page.click("#bulk-delete")
    watched.page.wait_for_load_state("load")
    assert watched.page.locator("#dry-run strong").inner_text() == "2"
    # When a third one arrives before the confirmation
    time.sleep(0.01)
    job("freeze-3")
    watched.page.click("#confirm")
    watched.page.wait_for_load_state("load")
    # Expect the two counted deleted and the newer one kept
    assert watched.page.locator(".notice").inner_text() == "2 jobs deleted"
    store = open_store(demo_url)
    try:
        assert [r["id"] for r in store.find(JobFilter(names=("freeze_target",)), 10, None)] == [
            "freeze-3"]
    finally:
        store.close()


def test_a_link_cannot_put_its_own_text_in_the_jobs_pages_banner(dash: Server, watched: Watched) -> None:
    # Given a crafted link with a message of its own, and one with a made-up action
    spoofed = quote("Session expired: sign in at evil.example")
    for query in (f"notice={spoofed}", "done=wipe&n=3", "done=delete&n=" + spoofed):
        # When it is opened
        watched.open(dash.url + "/jobs?" + query)
        # Expect no banner at all
        assert watched.page.locator(".notice").count() == 0, query
    # And a real action's banner still shows its count
    watched.open(dash.url + "/jobs?done=delete&n=2")
    assert watched.page.locator(".notice").inner_text() == "2 jobs deleted"


def _chart_config(watched: Watched, index: int = 0) -> Any:
    return watched.page.evaluate(
        f"() => JSON.parse(document.querySelectorAll('script.chart-config')[{index}].textContent)")


def test_batch_page_with_highlight_marks_that_job(dash: Server, watched: Watched,
                                                  sample: dict[str, str]) -> None:
    batch, job = quote(sample["batch"], safe=""), sample["job"]
    watched.open(dash.url + f"/batches/{batch}?highlight={quote(job)}")
    assert job in watched.page.locator("#highlighted").inner_text()
    config = _chart_config(watched)
    assert config["kind"] == "gantt" and config["highlight"] == job
    assert job in [row["id"] for row in config["rows"]]
    # The drawn chart's y axis marks the highlighted row (the axis formatter output).
    label = watched.page.evaluate(
        """(job) => { const box = document.querySelector('[data-chart]');
                      const chart = echarts.getInstanceByDom(box);
                      const axis = chart.getOption().yAxis[0];
                      return axis.axisLabel.formatter(job, axis.data.indexOf(job)); }""", job)
    assert label.startswith("{hl|▶")
    watched.shot("batch-highlight")
    watched.open(dash.url + f"/batches/{batch}")
    assert watched.page.locator("#highlighted").count() == 0
    assert _chart_config(watched)["highlight"] is None


def test_workers_page_lists_every_heartbeat_and_flags_the_silent_one(
    dash: Server, watched: Watched, demo_url: str
) -> None:
    # Beat again now: the session's demo data may be older than the silence threshold by now.
    store = open_store(demo_url)
    try:
        for worker in fleet(time.time(), seed=11)[0]:
            store.beat_worker(worker)
    finally:
        store.close()
    watched.open(dash.url + "/workers")
    rows = watched.page.locator("#workers tbody tr")
    assert rows.count() == 8
    silent = watched.page.locator("#workers tbody tr", has_text="silent")
    assert silent.count() == 1 and "worker-7" in silent.inner_text()


def test_name_page_shows_the_periodic_schedule(dash: Server, watched: Watched) -> None:
    watched.open(dash.url + "/names/hot_score_refresh")
    schedule = watched.page.locator("section.periodic")
    assert schedule.count() == 1
    assert schedule.locator(".state").inner_text() in ("ok", "late", "down", "never")
