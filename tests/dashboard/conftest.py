"""The dashboard, served for real on loopback over a demo database, driven by headless Chromium.

One demo database, one server and one browser for this package (package scope: the sync Playwright
API runs an event loop in the main thread, which must be gone before other packages' tests call
asyncio.run). Reading tests share them; tests that change jobs use jobs made for them. Every page a
test opens is watched: a console error, a failed request (CSP violations included) or an uncaught
exception fails the test. Screenshots go to `test-output/dashboard/` (git-ignored).
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from jobtrail import Settings, Trail
from jobtrail.demo import generate_events
from jobtrail.demo_fleet import fleet
from jobtrail.web import asgi_app
from jt_support import LiveServer, need, start_server

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "dashboard"
ADMIN, READ = "admin-secret", "read-secret"
NOW = time.time()

# Payloads that would set window.__xss if any page or chart let them run.
XSS = {
    "script": "<script>window.__xss='script'</script>",
    "img": "\"><img src=x onerror=\"window.__xss='img'\">",
    "close": "</script><script>window.__xss='close'</script>",
    "js": "javascript:window.__xss='js'",
}
XSS_NAME = "evil" + XSS["script"] + XSS["img"]
XSS_JOB = "xss-" + XSS["close"]
XSS_BATCH = "batch" + XSS["img"]
XSS_RESOURCE = "Evil:" + XSS["js"]
KILLABLE = "kill-me"


def free_port() -> int:
    """A free loopback port, for a second server that a test starts itself."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _events() -> list[dict[str, Any]]:
    """Jobs the tests need beside the generated history: an XSS job (name, args, error, labels,
    batch and resource all payloads), an earlier run of its name, and running jobs to kill."""
    out: list[dict[str, Any]] = []
    for i, (job, run) in enumerate((("xss-earlier-1", 10.0), ("xss-earlier-2", 12.0), (XSS_JOB, 30.0))):
        at = NOW - 3600 + i * 600
        out += [
            {"job_id": job, "type": "queued", "at": at, "name": XSS_NAME, "batch": XSS_BATCH,
             "resources": [XSS_RESOURCE],
             "labels": {"workspace": XSS["img"], "note": XSS["script"], "url": XSS["js"]},
             "args": {"payload": XSS["close"], "link": XSS["js"]}},
            {"job_id": job, "type": "started", "at": at + 5, "worker": XSS["script"]},
            {"job_id": job, "type": "failed", "at": at + 5 + run,
             "error": {"type": XSS["script"], "message": XSS["img"], "traceback": XSS["close"]}},
        ]
    for job in (KILLABLE, "bulk-1", "bulk-2", "bulk-3"):
        name = "to_kill" if job == KILLABLE else "bulk_target"
        out += [{"job_id": job, "type": "queued", "at": NOW - 120, "name": name, "queue": "ops"},
                {"job_id": job, "type": "started", "at": NOW - 100, "worker": "w1"}]
    for job in ("delete-1", "delete-2"):
        out += [{"job_id": job, "type": "queued", "at": NOW - 300, "name": "delete_target"},
                {"job_id": job, "type": "started", "at": NOW - 290},
                {"job_id": job, "type": "succeeded", "at": NOW - 280}]
    return out


def beat(url: str, *jobs: str) -> None:
    """A heartbeat now for running jobs a test acts on: the served app's stall sweeper marks a job
    silent for the stall timeout (5 minutes) `lost`, and this package runs longer than that."""
    with Trail(url, settings=Settings()) as trail:
        result = trail.ingest([{"job_id": job, "type": "heartbeat", "at": time.time()} for job in jobs])
        assert not result.rejected, result.rejected


@pytest.fixture(scope="package")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('dash') / 'demo.db'}"
    with Trail(url, settings=Settings()) as trail:
        for events in generate_events(1500, 3, NOW, seed=11, batch_size=2000):
            trail.ingest(events)
        result = trail.ingest(_events())
        assert not result.rejected, result.rejected
        workers, periodic = fleet(NOW, seed=11)
        for worker in workers:
            trail.store.beat_worker(worker)
        for spec in periodic:
            trail.store.declare_periodic(spec)
    return url


Server = LiveServer
Serve = Callable[..., Server]


@pytest.fixture(scope="package")
def serve_dash(demo_url: str) -> Iterator[Serve]:
    """`serve_dash(tokens=(), env={}, embed_secret=None)`: the whole app over the demo database;
    `env` sets the dashboard's own variables (JOBTRAIL_FRAME_ORIGINS, JOBTRAIL_READ_ONLY) while it
    is built."""
    servers: list[Server] = []

    def start(tokens: tuple[str, ...] = (), env: dict[str, str] | None = None,
              port: int | None = None, embed_secret: str | None = None) -> Server:
        saved = {k: os.environ.get(k) for k in env or {}}
        os.environ.update(env or {})
        try:
            app = asgi_app(demo_url, Settings(tokens=tokens, embed_secret=embed_secret))
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        server = start_server(app, port)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="package")
def dash(serve_dash: Serve) -> Server:
    """The open dashboard (no tokens): everyone may read and act."""
    return serve_dash()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        need("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        need("Playwright", str(exc))
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Watched:
    """A page and every problem the browser reported while the test used it."""

    page: Any
    problems: list[str] = field(default_factory=list)

    def open(self, url: str) -> Any:
        response = self.page.goto(url)
        self.settle()
        return response

    def settle(self) -> None:
        """Wait until every chart on the page has drawn (or said it has no data)."""
        self.page.wait_for_load_state("load")
        self.page.wait_for_function(
            "() => Array.from(document.querySelectorAll('[data-chart]'))"
            ".every(b => b.dataset.ready || b.classList.contains('no-data'))", timeout=10_000)

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def xss_flag(self) -> Any:
        return self.page.evaluate("() => window.__xss")


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    w = Watched(page)
    page.on("console", lambda m: w.problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: w.problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: w.problems.append(f"request failed: {r.url}"))
    yield w
    context.close()
    assert w.problems == [], w.problems


@pytest.fixture(scope="package", autouse=True)
def _fresh_shots() -> None:
    shutil.rmtree(SHOTS, ignore_errors=True)
