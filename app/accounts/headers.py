"""Security headers on every response, and the cookies a dependency queued for it.

The Content-Security-Policy allows scripts only from our own origin: no inline script and no
eval. Plotly figures travel as JSON and are drawn by our own static file; if a chart type ever
needs plotly.js's eval, use Plotly's strict bundle rather than loosening script-src.
`style-src` allows 'unsafe-inline' only because plotly.js sets inline styles on the charts it
draws (ENGINEERING.md); styles cannot run code.

Every response except a static file is sent with `Cache-Control: no-store`: decided here, once,
rather than route by route, so a new signed-in page cannot forget it (a shared computer's
browser cache or back button would otherwise show the last person's results). An https base
URL adds Strict-Transport-Security, so browsers never try the site over plain http again.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
_SECURITY_HEADER_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
# the only responses a browser or proxy may keep: files that are the same for everybody
CACHEABLE_PREFIXES = ("/static/",)


def _no_store(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Keep a route's own Cache-Control when it already forbids storing; otherwise replace it."""
    own = [value for name, value in headers if name.lower() == b"cache-control"]
    if len(own) == 1 and b"no-store" in own[0].lower():
        return headers
    kept = [(name, value) for name, value in headers if name.lower() != b"cache-control"]
    kept.append((b"cache-control", b"no-store"))
    return kept


class SecurityHeadersMiddleware:
    """Raw ASGI, outermost after the request id, so error pages and 413s get the headers too.

    ``hsts``: send Strict-Transport-Security (only when the public base URL is https; a
    browser remembers it for a year, so never on a plain-http installation).
    """

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        hsts = self.hsts

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in _SECURITY_HEADER_NAMES and name.lower() != HSTS[0]
                ]
                headers.extend(SECURITY_HEADERS)
                if hsts:
                    headers.append(HSTS)
                if not path.startswith(CACHEABLE_PREFIXES):
                    headers = _no_store(headers)
                state = scope.get("state") or {}
                for cookie in state.get("set_cookies", ()):
                    headers.append((b"set-cookie", cookie.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_wrapper)
