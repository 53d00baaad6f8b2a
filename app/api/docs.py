"""Interactive API documentation at ``/api/docs``: Swagger UI from our own static files.

FastAPI's built-in page loads Swagger UI from a CDN and starts it with an inline script, which
our Content-Security-Policy blocks; this page links the vendored copy
(app/static/vendor/swagger-ui) and starts it with a static script (app/static/js/api-docs.js),
so it works with the network cut off. Public, like the OpenAPI document it shows.
"""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app import templating
from app.accounts.dependencies import OptionalPrincipal

router = APIRouter(include_in_schema=False)


@dataclasses.dataclass(frozen=True)
class ApiDocsPage:
    """Context of templates/api/docs.html."""

    title: str
    openapi_url: str
    signed_in: bool
    # sent as X-CSRF-Token by "Try it out" for a signed-in browser (its cookie authenticates)
    csrf_token: str


@router.get("/api/docs", response_class=HTMLResponse)
def api_docs(request: Request, principal: OptionalPrincipal) -> HTMLResponse:
    page = ApiDocsPage(
        title="API documentation",
        openapi_url=request.app.openapi_url or "/api/openapi.json",
        signed_in=principal is not None,
        csrf_token=getattr(request.state, "csrf_token", "") if principal is not None else "",
    )
    return templating.render(request, "api/docs.html", page)
