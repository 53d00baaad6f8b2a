"""The Jinja environments: one factory (``new_environment``) configures both the web pages'
environment (``create_templates``) and the reports' (app.reports.render, HTML for print and
PDF): autoescaped, strict about undefined names outside production."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any
from urllib.parse import urlsplit

import jinja2
from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.background import BackgroundTask
from starlette.responses import HTMLResponse

from app import static_assets
from app.config import TEMPLATES_DIR, Environment, Settings

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Site:
    """What every page shows about the installation (header, footer, accent colour)."""

    name: str
    colour: str
    environment: str


def link_prefix(settings: Settings) -> str:
    """The path the site lives under, from the base URL ("" at the root, "/lens" under a
    prefix): links are this plus the route's path."""
    return urlsplit(settings.base_url).path.rstrip("/")


def _url_for(prefix: str) -> Any:
    """Templates' ``url_for``: a path from the base URL, never a URL built from the request.

    Starlette's own builds an absolute URL from the request's Host header, which a client
    chooses: a forged Host would then appear in every stylesheet and script link (and in any
    cache that keeps the page). A root-relative path needs no host at all.
    """

    @jinja2.pass_context
    def url_for(context: Any, name: str, /, **path_params: Any) -> str:
        request: Request = context["request"]
        return prefix + str(request.app.url_path_for(name, **path_params))

    return url_for


def _static_url(prefix: str, *, strict: bool, fixed: bool) -> Any:
    """Templates' ``static_url("css/app.css")``: the file's content-hashed path under /static,
    which browsers may keep for a year (app.static_assets). A missing file fails the render
    when ``strict``; in production the page still renders, with the plain path, and a warning.
    ``fixed``: the files do not change while the process runs (all but development), so each
    path's URL is worked out once (resolving and stat-ing the file on every call was 4 % of
    the answer page's CPU)."""
    assets = static_assets.static_assets()
    known: dict[str, str] = {}

    def static_url(path: str, /) -> str:
        found = known.get(path)
        if found is not None:
            return found
        try:
            url = f"{prefix}/static/{assets.url_path(path)}"
        except FileNotFoundError:
            if strict:
                raise
            logger.warning("static file %r is missing", path)
            return f"{prefix}/static/{path}"
        if fixed:
            known[path] = url
        return url

    return static_url


def new_environment(*, strict: bool, auto_reload: bool) -> jinja2.Environment:
    """A Jinja environment over templates/, configured as pages and reports both need it."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        # every template and every string is HTML-escaped; markup must be marked safe explicitly
        autoescape=True,
        # a misspelt variable fails loudly instead of rendering empty
        undefined=jinja2.StrictUndefined if strict else jinja2.Undefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # checking every template file's modification time on each render (and each include
        # in a loop) cost a survey page about 14 % of its CPU: only development reloads
        auto_reload=auto_reload,
    )
    environment.globals["static_url"] = _static_url("", strict=strict, fixed=not auto_reload)
    return environment


def create_templates(settings: Settings) -> Jinja2Templates:
    """Build the pages' environment once per app; pages get it through ``render``."""
    environment = new_environment(
        # production renders a page with a missing name rather than failing the request
        strict=settings.environment is not Environment.production,
        auto_reload=settings.environment is Environment.development,
    )
    # set before Jinja2Templates, which only adds its own url_for when none is there
    environment.globals["url_for"] = _url_for(link_prefix(settings))
    environment.globals["static_url"] = _static_url(
        link_prefix(settings),
        strict=settings.environment is not Environment.production,
        fixed=settings.environment is not Environment.development,
    )
    environment.globals["site"] = Site(
        name=settings.brand_name,
        colour=settings.brand_colour,
        environment=settings.environment.value,
    )
    return Jinja2Templates(env=environment)


def render(
    request: Request,
    template: str,
    page: object,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    background: BackgroundTask | None = None,
) -> HTMLResponse:
    """Render ``template`` with one typed context object, available to it as ``page``.

    Tests read ``response.context["page"]`` to assert on data rather than on HTML.
    """
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request,
        template,
        {"page": page},
        status_code=status_code,
        headers=headers,
        background=background,
    )
