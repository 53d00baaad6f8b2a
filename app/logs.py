"""Structured logging: stdlib loggers rendered by structlog, with the request id on every line."""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from app.config import Settings


class _ProcessLensHandler(logging.StreamHandler[TextIO]):
    """Our handler on the root logger, recognisable so reconfiguring replaces only it."""


def _drop_color_message(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """uvicorn adds an ANSI-coloured copy of its message as an extra; one copy is enough."""
    event.pop("color_message", None)
    return event


def configure_logging(settings: Settings) -> None:
    """Route every logger (ours, uvicorn's, SQLAlchemy's) through one structlog formatter.

    Idempotent: called by create_app in every worker and by the CLI before it serves. Other
    handlers on the root logger (pytest's capture, for one) are left alone.
    """
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,  # request_id bound per request
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        _drop_color_message,
        timestamper,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    renderer: Any
    if settings.json_logs:
        renderer = structlog.processors.JSONRenderer()
        final: list[Any] = [structlog.processors.format_exc_info, renderer]
    else:
        # plain tracebacks: the default rich ones print local variables, which may be secrets
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
        final = [renderer]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = _ProcessLensHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not isinstance(h, _ProcessLensHandler)]
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # alembic narrates every step at INFO; app.migrate logs one line per migration instead
    logging.getLogger("alembic").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        # uvicorn's own handlers would print a second, unstructured copy
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # RequestContextMiddleware writes the access log; uvicorn's would repeat it, raw paths
    # (with any token in them) included
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False


def loggable_path(scope: Scope) -> str:
    """The route template (``/i/{token}``) rather than the raw path, so secrets in URLs
    (invitation and resume tokens) never reach a log.

    Static files are logged as they are; a path that matched no route keeps only its first
    segment, because a mistyped link can still carry a valid token.
    """
    route = scope.get("route")
    raw = str(scope.get("path", ""))
    if isinstance(route, Mount) or isinstance(scope.get("endpoint"), StaticFiles):
        return raw[:200]
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    first, _, rest = raw.lstrip("/").partition("/")
    return f"/{first[:40]}/..." if rest else f"/{first[:40]}"
