"""Build the FastAPI application: nothing is opened until ``create_app`` is called."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from importlib.resources import files

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from jointsat import __version__
from jointsat.archive.blobs import ArchiveOwner
from jointsat.archive.ingest import archive_owner, store_archive
from jointsat.service import (
    analyses,
    cluster,
    limits,
    notifier,
    problems,
    refresher,
    security,
    shedding,
    studies,
)
from jointsat.service.cache import ResponseCache
from jointsat.service.logs import redact_access_log
from jointsat.service.routes import (
    agreements,
    contact_outputs,
    contacts,
    design,
    events,
    exchange,
    me,
    partners,
    passes,
    plans,
    products,
    requests,
    satellites,
    schedules,
    sources,
    stac,
    stations,
    tracks,
    users,
)
from jointsat.service.routes import (
    analyses as analysis_routes,
)
from jointsat.service.routes import link_budget as link_budget_routes
from jointsat.service.tokens import TokenLifetime
from jointsat.settings import Settings
from jointsat.store.database import open_engine, session_factory

API_PREFIX = "/api/v1"


SWAGGER_ASSETS = "/static/swagger-ui"
DOCS_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>jointsat API</title>
<link rel="stylesheet" href="{SWAGGER_ASSETS}/swagger-ui.css">
<link rel="icon" href="{SWAGGER_ASSETS}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{SWAGGER_ASSETS}/swagger-ui-bundle.js"></script>
<script src="/static/docs/swagger-init.js"></script>
</body>
</html>
"""


def _serve_docs(app: FastAPI) -> None:
    """Serve the interactive API docs at /docs from Swagger UI files bundled in the package.

    The page starts Swagger UI from a file (``web/docs``), not an inline script, so that
    it runs under the service's Content Security Policy (security.py).
    """
    web = files("jointsat.web")
    app.mount(SWAGGER_ASSETS, StaticFiles(directory=str(web / "swagger-ui")), name="swagger-ui")
    app.mount("/static/docs", StaticFiles(directory=str(web / "docs")), name="web-docs")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_PAGE)


DASHBOARD_ASSETS = "/static/dashboard"


def _serve_dashboard(app: FastAPI) -> None:
    """Serve the web dashboard at / with its assets, all bundled in the package.

    The page is static: it signs in with an API token and reads everything from the
    API (docs/dashboard.md).
    """
    web = files("jointsat.web")
    for path, folder in (
        (DASHBOARD_ASSETS, "dashboard"),
        ("/static/vendor", "vendor"),
        ("/static/basemap", "basemap"),
    ):
        app.mount(path, StaticFiles(directory=str(web / folder)), name=f"web-{folder}")
    page = (web / "dashboard" / "index.html").read_text(encoding="utf-8")

    @app.get("/", include_in_schema=False)
    def dashboard() -> HTMLResponse:
        return HTMLResponse(page)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _owner(settings: Settings, app: FastAPI) -> ArchiveOwner:
    """Return the store as its archive records it (read when the archive is first written)."""
    with app.state.sessions() as session:
        return archive_owner(settings, session)


def create_app(settings: Settings, *, clock: Callable[[], datetime] = _utc_now) -> FastAPI:
    """Return the service for the store in ``settings`` (migrated with `jointsat db upgrade`)."""
    app = FastAPI(
        title="jointsat",
        version=__version__,
        summary="The service of a joint satellite mission's consortium.",
        openapi_url="/openapi.json",
        docs_url=None,  # interactive docs come with bundled assets, never from a CDN
        redoc_url=None,
        responses=problems.ERROR_RESPONSES,
    )
    engine = open_engine(settings.database_url, **shedding.pool_options(settings.database_url))
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.clock = clock
    app.state.source_order = settings.source_order  # which element sets win at equal epoch
    app.state.stale_rule = settings.stale_rule
    app.state.webhook_private_targets = settings.webhook_private_targets  # (SSRF) docs/events.md
    app.state.blobs = store_archive(settings, lambda: _owner(settings, app))
    app.state.response_cache = ResponseCache()
    app.state.token_lifetime = TokenLifetime.of(settings)
    redact_access_log()  # no token sent in a query string reaches the access log
    problems.install(app)
    limits.install(app, settings)  # body limits, a token before a body, prediction budget
    shedding.install(app)  # outside the limits: at most so many requests at once, then 503
    refresher.install(app, settings)  # refreshes element sets on a schedule, when configured
    cluster.install(app, settings)  # pass predictions on a Dask cluster, when configured
    studies.install(app)  # design studies run in the background (on that cluster too)
    analyses.install(app)  # and so do analysis runs
    notifier.install(app)  # events reach their subscribers (webhooks, apprise), retried
    _serve_docs(app)
    _serve_dashboard(app)
    for router in (
        me.router,
        partners.router,
        agreements.router,
        stations.router,
        tracks.router,  # before satellites.router: /satellites/positions is not an id
        satellites.router,
        users.router,
        passes.router,
        exchange.router,  # SSF export and import; before schedules.router (its /{id})
        schedules.router,
        contact_outputs.router,
        contacts.router,
        contacts.tokens_router,
        contacts.feeds_router,
        requests.router,
        plans.router,
        products.router,
        sources.router,
        design.router,
        analysis_routes.router,
        events.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(link_budget_routes.router, prefix=API_PREFIX)
    app.include_router(stac.router)  # the STAC API, at /stac
    problems.guard(app)  # after other middleware: their failures are answered too
    security.install(app)  # outermost: every answer, errors included, gets the headers
    return app


def app_from_environment() -> FastAPI:
    """Build the app from JOINTSAT_* variables (for uvicorn's worker processes)."""
    return shedding.exit_when_stuck(create_app(Settings.from_environment()))
