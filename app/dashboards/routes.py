"""Dashboard and export pages: the organisation dashboard, its CSV per view, analysis exports.

Routes are thin: the guard admits org leaders, consultants and admins (``OrgViewer``;
respondent-level exports only consultants and admins; both in app.accounts.dependencies),
``ScopedOrganisation`` loads ``{org_id}`` through tenancy (another tenant's id is a 404),
``app.dashboards.service`` builds the data and ``app.dashboards.views`` the page. Filters come
from the query string; a unit id of another organisation is a 404, anything malformed is
ignored. Every analysis export is recorded in the audit log (its path says "export", which the
no-change-on-GET test expects).
The dashboard and its CSVs only read (summaries are written with each stored result), so they
load the organisation through tenancy with the read session, as the report routes do.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import Any, Final

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlmodel import Session, col

from app import templating
from app.accounts import audit, organisations, tenancy
from app.accounts.dependencies import (
    OrgViewer,
    RespondentRowsViewer,
    ScopedOrganisation,
    settings_of,
)
from app.accounts.tenancy import Principal
from app.catalog_store import CatalogDep
from app.dashboards import exports, service, views
from app.dashboards.service import Filters, Line
from app.db import ReadSessionDep, SessionDep
from app.errors import NotFoundError
from app.models import Organisation, Team, UserRole
from app.natural_sort import natural_sorted
from app.results import visibility

router = APIRouter(include_in_schema=False)


PERIOD: Final = re.compile(r"\d{4} Q[1-4]")
IDENTIFIER: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,79}")
DOWNLOAD_HEADERS: Final = {
    "Cache-Control": "private, no-store",
    "X-Content-Type-Options": "nosniff",
}
MEDIA_TYPES: Final = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


# ---------------------------------------------------------------- shared helpers


def cache_of(app: FastAPI) -> service.DashboardCache:
    """The app's dashboard cache (made on first use; only an optimisation)."""
    cache: service.DashboardCache | None = getattr(app.state, "dashboard_cache", None)
    if cache is None:
        cache = service.DashboardCache()
        app.state.dashboard_cache = cache
    return cache


def filters_from(
    request: Request, *, session: Session, principal: Principal, organisation_id: int
) -> Filters:
    """The dashboard filters of the query string (malformed values are ignored)."""
    query = request.query_params
    unit_id = None
    unit = query.get("unit", "").strip()
    if unit:
        if not unit.isdigit() or len(unit) > 12:
            raise NotFoundError()
        # a unit of another organisation (or tenant) is answered like a missing one
        tenancy.get_unit(
            session=session, principal=principal, unit_id=int(unit), org_id=organisation_id
        )
        unit_id = int(unit)
    period_from = query.get("from", "")
    period_to = query.get("to", "")
    chosen_from = period_from if PERIOD.fullmatch(period_from) else None
    chosen_to = period_to if PERIOD.fullmatch(period_to) else None
    if chosen_from and chosen_to and chosen_from > chosen_to:
        chosen_from, chosen_to = chosen_to, chosen_from
    model = query.get("model", "")
    band = None
    dimension, _, label = query.get("band", "").partition(":")
    if IDENTIFIER.fullmatch(dimension) and 0 < len(label) <= 80:
        band = (dimension, label)
    page = query.get("page", "1")
    return Filters(
        unit_id=unit_id,
        period_from=chosen_from,
        period_to=chosen_to,
        model=model if IDENTIFIER.fullmatch(model) else None,
        band=band,
        hide_names=query.get("hide_names", "") in ("1", "on", "true"),
        sort="score" if query.get("sort") == "score" else "name",
        search=" ".join(query.get("q", "").split())[: service.SEARCH_MAX],
        page=int(page) if page.isdigit() and len(page) <= 6 else 1,
    )


def team_results_url(team_id: int, round_id: int) -> str:
    """A team's results page for a round (app.workspace.routes)."""
    return f"/teams/{team_id}/rounds/{round_id}/results"


def results_link(line: Line) -> str:
    """A team's results page for the round the dashboard shows."""
    return team_results_url(line.team_id, line.round_id)


def viewer_of(request: Request, principal: Principal) -> visibility.SignedIn:
    """The signed-in viewer of an organisation view: their own answers never count for them."""
    return visibility.SignedIn(user_id=principal.user_id, settings=settings_of(request))


def _dashboard(
    request: Request,
    session: Session,
    organisation: Organisation,
    principal: Principal,
    catalog: Any,
) -> service.Dashboard:
    assert organisation.id is not None
    filters = filters_from(
        request, session=session, principal=principal, organisation_id=organisation.id
    )
    return service.dashboard(
        session=session,
        organisation_id=organisation.id,
        filters=filters,
        catalog=catalog,
        minimum=settings_of(request).org_cell_min,
        cache=cache_of(request.app),
        viewer=viewer_of(request, principal),
    )


def _file_stem(organisation: Organisation) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", organisation.slug.lower()).strip("-") or "organisation"


# ---------------------------------------------------------------- pages


@dataclasses.dataclass(frozen=True)
class OrganisationLink:
    id: int
    name: str
    teams: int


@dataclasses.dataclass(frozen=True)
class DashboardsIndexPage:
    """Context of templates/dashboards/index.html."""

    title: str
    organisations: tuple[OrganisationLink, ...]
    is_admin: bool
    # consultants edit the branding of the organisations they are assigned to (admins of all)
    may_brand: bool
    may_create_organisation: bool  # the "New client organisation" page (app.admin)


@router.get("/dashboards", response_class=HTMLResponse)
def dashboards_index(
    request: Request, session: ReadSessionDep, principal: OrgViewer
) -> HTMLResponse:
    """The organisations whose dashboard the user may open."""
    visible = natural_sorted(
        organisations.visible_organisations(session=session, principal=principal),
        key=lambda org: org.name,
    )
    ids = [org.id for org in visible if org.id is not None]
    rows: Sequence[Any] = session.execute(
        select(col(Team.organisation_id), func.count())
        .where(col(Team.organisation_id).in_(ids))
        .group_by(col(Team.organisation_id))
    ).all()
    counts: dict[int, int] = {org_id: int(n) for org_id, n in rows}
    page = DashboardsIndexPage(
        title="Dashboards",
        organisations=tuple(
            OrganisationLink(org.id, org.name, counts.get(org.id, 0))
            for org in visible
            if org.id is not None
        ),
        is_admin=principal.is_admin,
        may_brand=principal.is_admin or principal.role is UserRole.consultant,
        may_create_organisation=organisations.may_create_organisations(
            principal=principal,
            consultants_may=settings_of(request).consultants_create_organisations,
        ),
    )
    return templating.render(request, "dashboards/index.html", page)


@router.get("/organisations/{org_id}/dashboard", response_class=HTMLResponse)
def dashboard(
    request: Request,
    org_id: int,
    principal: OrgViewer,
    session: ReadSessionDep,
    catalog: CatalogDep,
) -> HTMLResponse:
    """The organisation dashboard: every view as a chart and a table, with filters."""
    organisation = tenancy.get_organisation(session=session, principal=principal, org_id=org_id)
    built = _dashboard(request, session, organisation, principal, catalog)
    teams = (
        session.execute(
            select(func.count())
            .select_from(Team)
            .where(col(Team.organisation_id) == organisation.id)
        ).scalar_one()
        if built.empty
        else built.teams_total
    )
    page = views.dashboard_page(
        built,
        organisation=organisation.name,
        teams_in_organisation=teams,
        is_admin=principal.is_admin,
        results_link=results_link,
        team_link=team_results_url,
    )
    return templating.render(request, "dashboards/dashboard.html", page)


def _view_csv(view_id: str) -> Callable[..., Response]:
    def download(
        request: Request,
        org_id: int,
        principal: OrgViewer,
        session: ReadSessionDep,
        catalog: CatalogDep,
    ) -> Response:
        organisation = tenancy.get_organisation(session=session, principal=principal, org_id=org_id)
        built = _dashboard(request, session, organisation, principal, catalog)
        # the team view: the page asked for, as on screen; without a page, every team
        every_team = view_id == "teams" and "page" not in request.query_params
        table = views.tables(
            built,
            lines=service.all_lines(session=session, dashboard=built) if every_team else None,
        )[view_id]
        name = f"{_file_stem(organisation)}-{view_id}.csv"
        return Response(
            exports.csv_text([column.title for column in table.columns], table.rows),
            media_type=MEDIA_TYPES["csv"],
            headers={**DOWNLOAD_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
        )

    download.__doc__ = f"The data of the dashboard's {view_id!r} view as CSV (same filters)."
    return download


for _view in views.CSV_IDS:
    router.add_api_route(
        f"/organisations/{{org_id}}/dashboard/{_view}.csv",
        _view_csv(_view),
        methods=["GET"],
        name=f"dashboard_csv_{_view.replace('-', '_')}",
        response_class=Response,
    )


# ---------------------------------------------------------------- analysis exports


@dataclasses.dataclass(frozen=True)
class ExportLink:
    id: str
    title: str
    description: str
    csv_url: str
    json_url: str
    respondent_level: bool


@dataclasses.dataclass(frozen=True)
class ExportsPage:
    """Context of templates/dashboards/exports.html."""

    title: str
    organisation: str
    organisation_id: int
    minimum: int
    exports: tuple[ExportLink, ...]
    respondent_level_hidden: bool  # the viewer may not download respondent-level rows


def may_export_respondents(principal: Principal) -> bool:
    return principal.is_admin or principal.role is UserRole.consultant


@router.get("/organisations/{org_id}/exports", response_class=HTMLResponse)
def exports_page(
    request: Request, organisation: ScopedOrganisation, principal: OrgViewer
) -> HTMLResponse:
    """The analysis exports the viewer may download."""
    assert organisation.id is not None
    allowed = may_export_respondents(principal)
    base = f"/organisations/{organisation.id}/exports"
    page = ExportsPage(
        title=f"{organisation.name} — exports",
        organisation=organisation.name,
        organisation_id=organisation.id,
        minimum=settings_of(request).org_cell_min,
        exports=tuple(
            ExportLink(
                d.id,
                d.title,
                d.description,
                f"{base}/{d.id}.csv",
                f"{base}/{d.id}.json",
                d.respondent_level,
            )
            for d in exports.DATASETS
            if allowed or not d.respondent_level
        ),
        respondent_level_hidden=not allowed,
    )
    return templating.render(request, "dashboards/exports.html", page)


def export_response(
    *,
    request: Request,
    session: Session,
    organisation: Organisation,
    principal: Principal,
    catalog: Any,
    dataset_id: str,
    fmt: str,
) -> Response:
    """Build, audit-log and send one analysis export (pages and the API share this)."""
    assert organisation.id is not None
    settings = settings_of(request)
    built = exports.build(
        exports.Context(
            session=session,
            organisation_id=organisation.id,
            organisation=organisation.name,
            catalog=catalog,
            minimum=settings.org_cell_min,
            role_group_minimum=settings.role_group_min,
            viewer=viewer_of(request, principal),
        ),
        dataset_id,
    )
    audit.record(
        session=session,
        request=request,
        action="export.downloaded",
        target_type="organisation",
        target_id=organisation.id,
        organisation_id=organisation.id,
        details={"dataset": dataset_id, "format": fmt, "rows": len(built.rows)},
    )
    name = f"{_file_stem(organisation)}-{built.file_name(fmt)}"
    return Response(
        built.render(fmt),
        media_type=MEDIA_TYPES[fmt],
        headers={**DOWNLOAD_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )


def _export_route(dataset_id: str, fmt: str, respondent_level: bool) -> Callable[..., Response]:
    # two functions, not one with a chosen guard: FastAPI reads the (string) annotations
    # against this module's names, so each guard must be a module-level alias
    def download(
        request: Request,
        session: SessionDep,
        organisation: ScopedOrganisation,
        principal: OrgViewer,
        catalog: CatalogDep,
    ) -> Response:
        return export_response(
            request=request,
            session=session,
            organisation=organisation,
            principal=principal,
            catalog=catalog,
            dataset_id=dataset_id,
            fmt=fmt,
        )

    def download_respondent_rows(
        request: Request,
        session: SessionDep,
        organisation: ScopedOrganisation,
        principal: RespondentRowsViewer,
        catalog: CatalogDep,
    ) -> Response:
        return export_response(
            request=request,
            session=session,
            organisation=organisation,
            principal=principal,
            catalog=catalog,
            dataset_id=dataset_id,
            fmt=fmt,
        )

    chosen = download_respondent_rows if respondent_level else download
    chosen.__doc__ = f"The {dataset_id!r} analysis export as {fmt.upper()} (audit-logged)."
    return chosen


for _dataset in exports.DATASETS:
    for _fmt in exports.FORMATS:
        router.add_api_route(
            f"/organisations/{{org_id}}/exports/{_dataset.id}.{_fmt}",
            _export_route(_dataset.id, _fmt, _dataset.respondent_level),
            methods=["GET"],
            name=f"export_{_dataset.id.replace('-', '_')}_{_fmt}",
            response_class=Response,
        )
