"""Report contexts to HTML (one template per report, two media) and to cached PDFs.

``medium="pdf"`` shows charts as SVG (the renderer, app.reports.pdf, adds the print
stylesheet, parsed once per process); ``medium="web"`` links the same stylesheet and adds the
Plotly figures that ``static/js/charts.js`` draws (no inline script). The HTML is built here,
in the calling process (a few milliseconds); only WeasyPrint runs in the render pool.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from typing import Any, Literal

import jinja2
from markupsafe import Markup

from app import __version__, templating
from app.config import APP_DIR, STATIC_DIR, TEMPLATES_DIR
from app.reports import pdf
from app.reports.context import TeamReport

Medium = Literal["pdf", "web"]


@dataclasses.dataclass(frozen=True, slots=True)
class PageLinks:
    """The team report page's links to its other forms: concise or with all answers, page or
    PDF (the page served by the app only; never in a PDF or the CLI's HTML file)."""

    concise_page: str
    full_page: str
    concise_pdf: str
    full_pdf: str

    @classmethod
    def for_round(cls, team_id: int, round_id: int) -> PageLinks:
        base = f"/teams/{team_id}/rounds/{round_id}/report"
        return cls(f"{base}.html", f"{base}.html?full=1", f"{base}.pdf", f"{base}.pdf?full=1")


STYLESHEET = STATIC_DIR / "css" / "report.css"
# the code that shapes a report's HTML: a change to any of it invalidates cached PDFs
_VERSIONED_FILES = (
    STYLESHEET,
    APP_DIR / "charts" / "svg.py",
    APP_DIR / "charts" / "__init__.py",
    APP_DIR / "reports" / "render.py",
)


@functools.cache
def environment() -> jinja2.Environment:
    """The reports' Jinja environment (the one factory of app.templating, with report filters)."""
    # strict everywhere: a report is rendered from a typed context, a missing name is a bug
    env = templating.new_environment(strict=True, auto_reload=False)
    env.filters["number"] = _number
    env.filters["signed"] = _signed
    env.globals["svg_markup"] = _svg_markup
    return env


def _number(value: float | None, decimals: int = 1) -> str:
    if value is None:
        return "–"
    text = f"{value:.{decimals}f}"
    return text


def _signed(value: float | None, decimals: int = 1) -> str:
    if value is None:
        return "–"
    return f"{value:+.{decimals}f}".replace("-", "−")


def _svg_markup(svg: str) -> Markup:
    # The only markup inserted unescaped: SVG made by app.charts.svg, which escapes every
    # text and attribute it writes.
    return Markup(svg)


@functools.cache
def template_version() -> str:
    """A hash of the report templates, stylesheet, fonts and chart code."""
    digest = hashlib.sha256(__version__.encode())
    files = sorted((TEMPLATES_DIR / "reports").glob("*")) + list(_VERSIONED_FILES)
    files += sorted((STATIC_DIR / "fonts").glob("*.ttf"))
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def render_html(
    template: str, report: Any, *, medium: Medium, links: PageLinks | None = None
) -> str:
    """The report's HTML for the page or for the PDF (deterministic: same context, same HTML)."""
    return (
        environment()
        .get_template(template)
        .render(
            page=report,
            medium=medium,
            links=links if medium == "web" else None,
        )
    )


def team_html(report: TeamReport, *, medium: Medium = "web", links: PageLinks | None = None) -> str:
    return render_html("reports/team.html", report, medium=medium, links=links)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot hash {type(value).__name__} into a report key")


def report_key(report: Any, **options: Any) -> str:
    """A key for the PDF cache: the context, options, templates and renderer versions."""
    context = json.dumps(
        dataclasses.asdict(report), sort_keys=True, default=_jsonable, ensure_ascii=False
    )
    return pdf.cache_key(
        template_version(), type(report).__name__, context, json.dumps(options, sort_keys=True)
    )


def report_pdf(
    template: str,
    report: Any,
    *,
    pool: pdf.RenderPool | None = None,
    cache: pdf.PdfCache | None = None,
    **options: Any,
) -> bytes:
    """The report as a PDF: from the cache when nothing changed, else rendered in the pool."""
    key = report_key(report, template=template, **options)
    if cache is not None:
        cached = cache.get(key)
        if cached is not None:
            return cached
    html = render_html(template, report, medium="pdf")
    document = (pool or pdf.get_pool()).render(html)
    if cache is not None:
        cache.put(key, document)
    return document


def team_pdf(
    report: TeamReport,
    *,
    pool: pdf.RenderPool | None = None,
    cache: pdf.PdfCache | None = None,
) -> bytes:
    """The team report as a PDF (see ``report_pdf``)."""
    return report_pdf("reports/team.html", report, pool=pool, cache=cache)
