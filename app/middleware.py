"""Raw ASGI middleware: per-request log context and access log, and the request body limit."""

from __future__ import annotations

import logging
import time

import structlog
from asgi_correlation_id import correlation_id
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import errors
from app.logs import loggable_path

access_logger = logging.getLogger("app.access")

# Probes hit these every few seconds; their lines would drown the rest at INFO.
QUIET_PATHS = frozenset({"/healthz", "/readyz"})


class RequestContextMiddleware:
    """Binds the request id into the log context and writes one access line per request.

    Raw ASGI rather than BaseHTTPMiddleware: that one runs the endpoint in another task, so
    context variables bound here would not reach the route's log lines.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=correlation_id.get())
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            path = loggable_path(scope)
            level = logging.DEBUG if scope["path"] in QUIET_PATHS else logging.INFO
            access_logger.log(
                level,
                "%s %s %s",
                scope["method"],
                path,
                status,
                extra={
                    "method": scope["method"],
                    "path": path,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )


class BodySizeLimitMiddleware:
    """Answers 413 for request bodies over ``max_body_bytes``.

    A declared Content-Length over the limit is refused before anything is read; a body sent
    without one (chunked) is counted as it streams and cut off at the limit.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_body_bytes:
                    await self._too_large(scope, receive, send)
                    return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise errors.BodyTooLargeError()
            return message

        async def send_wrapper(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, send_wrapper)
        except errors.BodyTooLargeError:
            # raised where FastAPI does not catch it (e.g. a body read in a plain Starlette
            # route); if a response already began there is nothing better to do than stop
            if response_started:
                raise
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        title, message = errors.HTTP_MESSAGES[413]
        response = errors.error_response(
            Request(scope),
            status_code=413,
            title=title,
            message=message,
            # the unread rest of the body makes the connection unusable for another request
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
