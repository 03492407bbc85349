"""The ASGI app factory: API (and later the dashboard) over one store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

import jobtrail
from jobtrail.alerts.scheduler import start_alerts
from jobtrail.config import Settings
from jobtrail.health import HealthSettings
from jobtrail.health.sweeper import stall_sweeper
from jobtrail.store import Store, open_store
from jobtrail.web import embeds_api, errors, fleet_api
from jobtrail.web.alerts import router as alerts_router
from jobtrail.web.api import metrics_router, router
from jobtrail.web.auth import TokenTable
from jobtrail.web.balance import Balancer
from jobtrail.web.gate import IngestGate
from jobtrail.web.guards import BodyLimit, LocalOnly
from jobtrail.web.pages import install as install_dashboard
from jobtrail.web.pages import warm as warm_dashboard
from jobtrail.web.responses import JsonResponse

__all__ = ["app_from_env", "asgi_app"]


def asgi_app(target: str | Store | None = None, settings: Settings | None = None) -> FastAPI:
    """The whole app over a database URL or an open store; mountable in a user's app
    (`app.mount("/jobs", jobtrail.asgi_app(url))`). Holds no job state of its own."""
    settings = settings or Settings.from_env()
    owned = not hasattr(target, "update")
    store: Store = open_store(target or settings.resolved_url()) if owned else target  # type: ignore[arg-type,assignment]

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(warm_dashboard)
        alert_scheduler = start_alerts(store)  # evaluates alert rules in the background
        try:
            async with stall_sweeper(store, app.state.health):
                yield
        finally:
            await alert_scheduler.stop()
        if owned:
            store.close()

    app = FastAPI(
        title="jobtrail",
        version=jobtrail.__version__,
        description="Track and monitor background jobs: HTTP API v1.",
        lifespan=lifespan,
        default_response_class=JsonResponse,
        # Swagger UI and ReDoc load their assets from a CDN; jobtrail works offline. The OpenAPI
        # document stays at /openapi.json.
        docs_url=None,
        redoc_url=None,
    )
    app.state.store = store
    app.state.settings = settings
    app.state.tokens = TokenTable(settings.tokens)
    app.state.health = HealthSettings.from_env()
    app.state.balancer = Balancer(shared=settings.server_workers > 1)
    app.state.ingest_gate = IngestGate(parallel=store.parallel_writes)  # see Store.parallel_writes
    errors.install(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    if not app.state.tokens.enabled and "*" not in settings.allowed_hosts:
        app.add_middleware(LocalOnly, allowed=settings.allowed_hosts)  # outermost: runs first
    app.include_router(router)
    app.include_router(fleet_api.router)
    app.include_router(embeds_api.router)
    app.include_router(metrics_router)
    app.include_router(alerts_router)
    install_dashboard(app)
    return app


def app_from_env() -> FastAPI:
    """For `uvicorn --factory jobtrail.web:app_from_env` (and `jobtrail serve --workers N`)."""
    return asgi_app()
