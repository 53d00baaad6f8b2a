"""Security headers on every response, and the cookies a dependency queued for it.

The Content-Security-Policy allows scripts only from our own origin: no inline script and no
eval. Plotly figures travel as JSON and are drawn by our own static file; if a chart type ever
needs plotly.js's eval, use Plotly's strict bundle rather than loosening script-src.
`style-src` allows 'unsafe-inline' only because plotly.js sets inline styles on the charts it
draws (ENGINEERING.md); styles cannot run code.
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
# pages that can show a secret (a new API token, a reset link) or personal data
NO_STORE_PREFIXES = ("/sign-in", "/reset/", "/account", "/admin", "/privacy/", "/api/")


class SecurityHeadersMiddleware:
    """Raw ASGI, outermost after the request id, so error pages and 413s get the headers too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in {h for h, _ in SECURITY_HEADERS}
                ]
                headers.extend(SECURITY_HEADERS)
                if path.startswith(NO_STORE_PREFIXES):
                    headers.append((b"cache-control", b"no-store"))
                state = scope.get("state") or {}
                for cookie in state.get("set_cookies", ()):
                    headers.append((b"set-cookie", cookie.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_wrapper)
