"""The FastAPI application factory: settings, database, middleware, error handling, routes."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware

from app import (
    __version__,
    api,
    catalog_store,
    db,
    errors,
    health,
    home,
    job_queues,
    migrate,
    static_assets,
    templating,
)
from app.accounts import csrf, headers, ratelimit, sessions
from app.accounts import dependencies as account_dependencies
from app.accounts import routes as account_routes
from app.admin import routes as admin_routes
from app.config import Settings, get_settings
from app.dashboards import routes as dashboard_routes
from app.logs import configure_logging
from app.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from app.reports import pdf as report_pdf
from app.reports import routes as report_routes
from app.repository_check import routes as repository_routes
from app.results import summaries
from app.surveys import routes as survey_routes
from app.workspace import email_routes as workspace_email_routes
from app.workspace import rescore_routes as workspace_rescore_routes
from app.workspace import routes as workspace_routes

logger = logging.getLogger(__name__)


def create_served_app() -> FastAPI:
    """The app a server process serves (``processlens serve``): ``create_app`` from the
    environment, then everything built so far frozen out of the garbage collector's reach.

    The app holds some 300,000 long-lived objects (rubric, templates, routes); a full
    collection walked them all, a pause of 100-200 ms every few thousand requests that
    stalled every request in flight in that process (the save's p99). Not done in
    ``create_app``: a process that builds many apps (the tests) would keep their garbage.
    """
    app = create_app()
    gc.collect()
    gc.freeze()
    return app


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. Without arguments it reads the environment (``uvicorn --factory``)."""
    settings = settings or get_settings()
    configure_logging(settings)
    engine = db.create_db_engine(settings)
    # a broken rubric file stops the app here, naming file and line (RubricError)
    catalog = catalog_store.load_configured_catalog(settings)
    # the report render pool starts on first use, with the configured limits
    report_pdf.configure_pool(report_pdf.RenderLimits.from_settings(settings))
    queues = job_queues.build(settings=settings, engine=engine, catalog=catalog, role="web")
    job_queue = queues.jobs

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # development migrates (under the migration lock); production refuses an old schema
        # with a message naming `processlens migrate`
        await run_in_threadpool(
            migrate.prepare_schema, settings, engine, migrate=settings.auto_migrate
        )
        await run_in_threadpool(catalog_store.register_at_startup, _app.state.sessions, catalog)
        # results stored before summaries were written with them (app.results.summaries)
        await run_in_threadpool(summaries.backfill_at_startup, _app.state.sessions, engine)
        # long jobs run here unless `processlens worker` runs them (PROCESSLENS_EMBEDDED_WORKER)
        consumer = job_queue.start_embedded() if settings.embedded_worker else None
        logger.info("ProcessLens %s ready (%s)", __version__, settings.environment.value)
        yield
        if consumer is not None:
            job_queue.stop(consumer)
        # the render workers go with the server (a SIGTERM'd uvicorn runs no atexit handlers)
        await run_in_threadpool(report_pdf.close_pool)
        engine.dispose()

    app = FastAPI(
        title="ProcessLens",
        version=__version__,
        lifespan=lifespan,
        # the API reference pages load scripts from a CDN; ProcessLens serves nothing external
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        # outermost first: every log line, error page and 413 carries the request id
        middleware=[
            Middleware(CorrelationIdMiddleware, header_name="X-Request-ID"),
            Middleware(headers.SecurityHeadersMiddleware, hsts=sessions.secure_cookies(settings)),
            Middleware(RequestContextMiddleware),
            Middleware(csrf.CrossSiteRequestMiddleware),
            Middleware(errors.UnhandledErrorMiddleware),
            Middleware(BodySizeLimitMiddleware, max_body_bytes=settings.max_body_bytes),
            # text and numbers the database cannot store (NUL, lone surrogates, NaN): 422
            Middleware(errors.BadInputMiddleware),
        ],
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.catalog = catalog
    app.state.job_queue = job_queue
    app.state.mail_queue = queues.mail
    app.state.sessions = db.session_factory(engine)
    app.state.read_sessions = db.read_session_factory(engine)
    app.state.templates = templating.create_templates(settings)
    errors.install(app)
    ratelimit.install(app, settings)
    account_dependencies.install(app)
    # hashed names cached for a year, compressed bodies (static files only: BREACH)
    static_files = static_assets.StaticAssetFiles(static_assets.static_assets())
    app.mount("/static", static_files, name="static")
    app.include_router(health.router)
    # routes are matched in the order included: the respondents' pages, the busiest requests,
    # come first (their /r/ and /i/ paths overlap no other router's)
    app.include_router(survey_routes.router)
    app.include_router(home.router)
    app.include_router(account_routes.router)
    app.include_router(admin_routes.router)
    for area in (workspace_routes, workspace_email_routes, workspace_rescore_routes):
        app.include_router(area.router)
    for area in (dashboard_routes, report_routes, repository_routes):
        app.include_router(area.router)
    # every JSON endpoint: app/api/, one module per area
    api.install(app)
    return app
