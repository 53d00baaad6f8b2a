"""Cross-site request forgery protection: two layers, as ENGINEERING.md recommends.

1. `CrossSiteRequestMiddleware` refuses any state-changing request a browser marks as
   cross-site (`Sec-Fetch-Site`), or, from browsers that do not send that header, whose
   `Origin` is not this site.
2. A synchronizer token kept with the server-side session (a user's sign-in session, or a
   respondent's resume session) must come back with every state-changing request, as the
   `csrf_token` form field or the `X-CSRF-Token` header. Whatever dependency resolves the
   session calls `bind_csrf_token()` and then `require_csrf()` for unsafe methods; templates
   put `request.state.csrf_token` in a hidden field (`_macros.html`: `csrf_field()`).

Requests authenticated only by a bearer API token (no cookie) are exempt from layer 2: a
browser cannot be tricked into sending a bearer header.
"""

from __future__ import annotations

from typing import ClassVar

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.accounts.tokens import same
from app.errors import DomainError

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CsrfError(DomainError):
    status_code: ClassVar[int] = 403
    title: ClassVar[str] = "This form has expired"
    default_message: ClassVar[str] = (
        "For your security we could not accept this request. Go back, reload the page and "
        "send it again."
    )
    api_message: ClassVar[str | None] = (
        "This call sent a session cookie but not its CSRF token, so nothing was changed. Send "
        "the X-CSRF-Token header with the session's csrf_token, or call without cookies using "
        "an API token (Authorization: Bearer <token>)."
    )


def bind_csrf_token(request: Request, token: str) -> None:
    """Make `token` the one this request's forms carry and its unsafe requests must return."""
    request.state.csrf_token = token


async def require_csrf(request: Request) -> None:
    """Raise CsrfError unless an unsafe request returns the token bound to its session."""
    if request.method not in UNSAFE_METHODS:
        return
    expected = getattr(request.state, "csrf_token", None)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()  # Starlette caches it, so the route can read it again
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not same(expected, sent):
        raise CsrfError()


class CrossSiteRequestMiddleware:
    """Refuse unsafe requests that a browser says come from another site (raw ASGI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in UNSAFE_METHODS:
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            if _cross_site(scope, headers):
                await _refuse(send)
                return
        await self.app(scope, receive, send)


def _cross_site(scope: Scope, headers: dict[str, str]) -> bool:
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is None or origin == "null":
        return origin == "null"  # no Origin: not a browser form post from another site
    host = headers.get("host", "")
    scheme = scope.get("scheme", "http")
    return origin.rstrip("/") != f"{scheme}://{host}"


async def _refuse(send: Send) -> None:
    body = b"Cross-site request refused. Reload the page on this site and try again."
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
