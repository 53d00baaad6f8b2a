"""Domain errors that carry their HTTP status, and the one place errors become pages or JSON."""

from __future__ import annotations

import dataclasses
import logging
from typing import ClassVar

from asgi_correlation_id import correlation_id
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import input_guard, templating
from app.logs import loggable_path

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """Base of every error a service raises on purpose.

    Carries the HTTP status and a message written for the person using the service (what
    happened and what to do next); it is shown as is, so it must not contain internals.
    """

    status_code: ClassVar[int] = 400
    title: ClassVar[str] = "That did not work"
    default_message: ClassVar[str] = "The request could not be completed."
    # the default message for API callers where the page's speaks of pages and clicks; set on
    # the class that sets default_message (a subclass's own default is never replaced by it)
    api_message: ClassVar[str | None] = None

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    def message_for(self, *, api: bool) -> str:
        """The message for a page or, with ``api``, for a script (when the class words it)."""
        if not api or self.message != self.default_message:
            return self.message
        defining = next(cls for cls in type(self).__mro__ if "default_message" in vars(cls))
        return vars(defining).get("api_message") or self.message


class NotFoundError(DomainError):
    status_code = 404
    title = "Page not found"
    default_message = (
        "We could not find that page. Check the address, or start again from the home page."
    )
    api_message = (
        "Nothing was found at this path, or it is not yours to see. Check the method, the path "
        "and the ids in it; /api/docs lists every endpoint."
    )


class ConflictError(DomainError):
    status_code = 409
    title = "Changed in the meantime"
    default_message = "Someone changed this while you were working on it. Reload and try again."
    api_message = "It changed since you read it, so nothing was changed. Read it again and retry."


class InvalidInputError(DomainError):
    status_code = 400
    title = "Please check your input"
    default_message = "Some of what was sent could not be used. Check it and try again."


class BodyTooLargeError(StarletteHTTPException):
    """Raised while reading a request body past the limit.

    An HTTPException subclass on purpose: FastAPI turns other errors raised while it reads a
    body into a 400, but lets HTTPException through to our handler, which answers 413.
    """

    def __init__(self) -> None:
        super().__init__(status_code=413)


# Messages for the HTTP errors the framework raises itself (routing, methods, limits).
HTTP_MESSAGES: dict[int, tuple[str, str]] = {
    400: (
        "Could not read the request",
        "What was sent could not be read (it is not well-formed JSON or form data), so "
        "nothing was changed. Check it and try again.",
    ),
    404: (NotFoundError.title, NotFoundError.default_message),
    405: ("Not available", "That action is not available at this address."),
    413: (
        "Too much data",
        "The request is larger than this service accepts. Send less at once and try again.",
    ),
    500: (
        "Something went wrong",
        "Something went wrong on our side and nothing was changed by it. Please try again; "
        "if it keeps happening, tell your administrator the reference below.",
    ),
}
# The same for API callers, where the page's message speaks of pages.
API_HTTP_MESSAGES: dict[int, str] = {
    404: NotFoundError.api_message or "",
    500: "Something went wrong on our side and nothing was changed by it. Retry; if it keeps "
    "happening, give your administrator the request_id of this answer.",
}


@dataclasses.dataclass(frozen=True)
class ErrorPage:
    """Context of templates/errors/error.html."""

    status_code: int
    title: str
    message: str
    request_id: str | None


def wants_json(request: Request) -> bool:
    """JSON for the API and for clients that ask for it; an HTML page for browsers."""
    if str(request.scope.get("path", "")).startswith("/api"):  # not request.url: it parses
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_response(
    request: Request,
    *,
    status_code: int,
    title: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> Response:
    """The one rendering of an error: JSON ``{"detail", "status", "request_id"}`` or a page."""
    request_id = correlation_id.get()
    if wants_json(request):
        body = {"detail": message, "status": status_code, "request_id": request_id}
        return JSONResponse(body, status_code=status_code, headers=headers)
    page = ErrorPage(status_code=status_code, title=title, message=message, request_id=request_id)
    try:
        return templating.render(
            request, "errors/error.html", page, status_code=status_code, headers=headers
        )
    except Exception:
        # an error page must never fail in turn; plain text still tells the person what happened
        logger.exception("error page could not be rendered")
        return PlainTextResponse(f"{title}. {message}", status_code=status_code, headers=headers)


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return error_response(
        request,
        status_code=exc.status_code,
        title=exc.title,
        message=exc.message_for(api=wants_json(request)),
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    title, message = HTTP_MESSAGES.get(
        exc.status_code, ("That did not work", "The request could not be completed.")
    )
    if wants_json(request):
        message = API_HTTP_MESSAGES.get(exc.status_code, message)
    return error_response(
        request,
        status_code=exc.status_code,
        title=title,
        message=message,
        headers=dict(exc.headers) if exc.headers else None,
    )


# how much of a validation message and of each location part the 422 repeats
MAX_PROBLEM_CHARS = 300
MAX_LOCATION_CHARS = 80
MAX_TYPE_CHARS = 80


@dataclasses.dataclass(frozen=True)
class FieldProblem:
    """One entry of a JSON 422's ``detail``: where, what, and pydantic's error type.

    Never the input itself: it may be anything the client sent (NaN, half a surrogate pair,
    a megabyte of text), and echoing it is how the handler used to fail in turn.
    """

    loc: list[str | int]
    msg: str
    type: str


def field_problems(exc: RequestValidationError) -> list[FieldProblem]:
    problems = []
    for error in exc.errors():
        loc = [
            part
            if isinstance(part, int) and not isinstance(part, bool)
            else input_guard.safe_name(str(part), MAX_LOCATION_CHARS)
            for part in error.get("loc", ())
        ]
        message = input_guard.safe_name(str(error.get("msg", "")), MAX_PROBLEM_CHARS)
        problems.append(
            FieldProblem(
                loc, message, input_guard.safe_name(str(error.get("type", "")), MAX_TYPE_CHARS)
            )
        )
    return problems


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if wants_json(request):
        # API clients get a field-by-field list, like FastAPI's but without the input
        try:
            detail = [dataclasses.asdict(problem) for problem in field_problems(exc)]
            return JSONResponse({"detail": detail}, status_code=422)
        except Exception:
            logger.exception("validation errors could not be listed")
    return error_response(
        request,
        status_code=422,
        title=InvalidInputError.title,
        message=InvalidInputError.default_message,
    )


# SQLite result codes (the primary code is the low byte of an extended one)
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY, _SQLITE_CANTOPEN = 5, 6, 8, 14
# PostgreSQL SQLSTATEs: read-only transaction; connection exceptions; the server shutting down
_PG_READ_ONLY = "25006"
_PG_UNAVAILABLE_PREFIXES = ("08", "57P")
RETRY_AFTER_S = "30"

DATABASE_MESSAGES: dict[str, tuple[str, str]] = {
    "read_only": (
        "Read-only for the moment",
        "The service is in read-only mode for maintenance, so nothing was saved or changed. "
        "What was saved before is safe. Please try again in a few minutes.",
    ),
    "unavailable": (
        "Temporarily unavailable",
        "The service cannot reach its database just now, so nothing was saved or changed. "
        "What was saved before is safe. Please try again in a minute.",
    ),
}


def database_problem(error: DBAPIError) -> str | None:
    """ "read_only" or "unavailable" for a database error the operator must fix and the user
    can only wait out (503), or None for anything else (a bug: 500)."""
    original = error.orig
    sqlite_code = getattr(original, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int):
        primary = sqlite_code & 0xFF
        if primary == _SQLITE_READONLY:
            return "read_only"
        if primary in (_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_CANTOPEN):
            return "unavailable"
        return None
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate == _PG_READ_ONLY:
        return "read_only"
    if error.connection_invalidated or (
        isinstance(sqlstate, str) and sqlstate.startswith(_PG_UNAVAILABLE_PREFIXES)
    ):
        return "unavailable"
    # psycopg reports a refused or lost connection without a SQLSTATE
    if sqlstate is None and type(original).__name__ == "OperationalError":
        return "unavailable"
    return None


async def _database_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DBAPIError)
    problem = database_problem(exc)
    if problem is None:
        raise exc  # a bug: UnhandledErrorMiddleware logs it and answers 500
    # one line for the operator, no traceback: the cause is the database, not the code
    logger.warning(
        "database %s while serving %s %s: %s",
        problem.replace("_", "-"),
        request.method,
        loggable_path(request.scope),
        str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__,
    )
    title, message = DATABASE_MESSAGES[problem]
    return error_response(
        request,
        status_code=503,
        title=title,
        message=message,
        headers={"Retry-After": RETRY_AFTER_S},
    )


def install(app: FastAPI) -> None:
    """Register the handlers; unexpected exceptions are caught by UnhandledErrorMiddleware."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)


class UnhandledErrorMiddleware:
    """Turns any unexpected exception into a 500 page that leaks nothing, logged once.

    Raw ASGI (not BaseHTTPMiddleware) and inside the request-id middleware, so the log line
    and the page carry the same reference.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            logger.exception(
                "unhandled error while serving %s %s", scope["method"], loggable_path(scope)
            )
            if response_started:
                raise  # too late for an error page; the server closes the connection
            title, message = HTTP_MESSAGES[500]
            request = Request(scope)
            if wants_json(request):
                message = API_HTTP_MESSAGES[500]
            response = error_response(request, status_code=500, title=title, message=message)
            await response(scope, receive, send)


BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BadInputMiddleware:
    """Refuses, with a 422 naming the field, any request whose path, query string, form or
    JSON body holds text or numbers the database cannot store (app/input_guard.py says what
    and why it is checked here, once, rather than field by field).

    Raw ASGI, inside the body size limit: the body it buffers is at most that large, and one
    too large is stopped there (413) while it is read here.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = input_guard.check_address(scope["path"], scope.get("query_string", b""))
        if found is None and scope["method"] in BODY_METHODS:
            chunks: list[bytes] = []
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client went away before sending it all: nobody to answer
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
            found = await input_guard.check_body(Headers(scope=scope), body)
            receive = _replay(body, receive)
        if found is None:
            await self.app(scope, receive, send)
            return
        response = error_response(
            Request(scope),
            status_code=422,
            title=InvalidInputError.title,
            message=found.message,
        )
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the buffered body to the app, then waits as the server would."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
