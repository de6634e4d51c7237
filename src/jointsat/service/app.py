"""Build the FastAPI application: nothing is opened until ``create_app`` is called."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from jointsat import __version__
from jointsat.archive.blobs import BlobStore
from jointsat.service import problems
from jointsat.service.cache import ResponseCache
from jointsat.service.logs import redact_access_log
from jointsat.service.routes import (
    agreements,
    me,
    partners,
    passes,
    plans,
    products,
    requests,
    satellites,
    schedules,
    stac,
    stations,
    tracks,
    users,
)
from jointsat.service.tokens import TokenLifetime
from jointsat.settings import Settings
from jointsat.store.database import open_engine, session_factory

API_PREFIX = "/api/v1"


SWAGGER_ASSETS = "/static/swagger-ui"


def _serve_docs(app: FastAPI) -> None:
    """Serve the interactive API docs at /docs from Swagger UI files bundled in the package."""
    folder = files("jointsat.web") / "swagger-ui"
    app.mount(SWAGGER_ASSETS, StaticFiles(directory=str(folder)), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="jointsat API",
            swagger_js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_ASSETS}/favicon-32x32.png",
        )


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
    engine = open_engine(settings.database_url)
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.clock = clock
    app.state.blobs = BlobStore(settings.archive_folder)
    app.state.response_cache = ResponseCache()
    app.state.token_lifetime = TokenLifetime.of(settings)
    redact_access_log()  # no token sent in a query string reaches the access log
    problems.install(app)
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
        schedules.router,
        requests.router,
        plans.router,
        products.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(stac.router)  # the STAC API, at /stac
    return app


def app_from_environment() -> FastAPI:
    """Build the app from JOINTSAT_* variables (for uvicorn's worker processes)."""
    return create_app(Settings.from_environment())
