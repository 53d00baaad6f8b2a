"""JSON API twins of the dashboard and the analysis exports (``/api/organisations/...``).

The same services as the pages: ``GET /api/organisations/{org_id}/dashboard`` answers every
view's table (columns and rows, the very data of the page's charts and CSVs) under the same
query-string filters; ``GET /api/organisations/{org_id}/exports/{dataset}.csv|.json`` the
analysis exports, audit-logged like the page downloads. Callers authenticate with a bearer
token (or the browser session with its CSRF token); organisation-wide roles only, and
respondent-level datasets for consultants and admins only (``require_api_roles``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlmodel import Session

from app.accounts import tenancy
from app.accounts.dependencies import (
    ERROR_RESPONSES,
    ApiOrgViewer,
    ApiRespondentRowsViewer,
    settings_of,
)
from app.accounts.tenancy import Principal
from app.catalog_store import CatalogDep
from app.dashboards import exports, routes, service, views
from app.db import ReadSessionDep, SessionDep
from app.rubric.loader import Catalog

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES, tags=["dashboards"])


class ViewTable(BaseModel):
    title: str
    columns: list[str]
    rows: list[list[str | int | float | None]]


class DashboardOut(BaseModel):
    organisation_id: int
    organisation: str
    filters: dict[str, str]
    minimum_respondents: int
    teams_with_results: int
    teams_shown: int
    teams_matching: int
    respondents: int
    hidden: str | None
    page: int
    pages: int
    views: dict[str, ViewTable]


@router.get("/organisations/{org_id}/dashboard", response_model=DashboardOut)
def dashboard(
    request: Request,
    org_id: int,
    session: ReadSessionDep,
    principal: ApiOrgViewer,
    catalog: CatalogDep,
) -> DashboardOut:
    """The organisation dashboard as tables (query: unit, from, to, model, band, hide_names,
    sort, page, as on the page)."""
    organisation = tenancy.get_organisation(session=session, principal=principal, org_id=org_id)
    filters = routes.filters_from(
        request, session=session, principal=principal, organisation_id=org_id
    )
    built = service.dashboard(
        session=session,
        organisation_id=org_id,
        filters=filters,
        catalog=catalog,
        minimum=settings_of(request).org_cell_min,
        cache=routes.cache_of(request.app),
        viewer=routes.viewer_of(request, principal),
    )
    titles = views.CSV_TITLES
    return DashboardOut(
        organisation_id=org_id,
        organisation=organisation.name,
        filters=views.query_of(filters),
        minimum_respondents=built.minimum,
        teams_with_results=built.teams_total,
        teams_shown=built.teams_shown,
        teams_matching=built.teams_matching,
        respondents=built.respondents_shown,
        hidden=built.hidden_reason,
        page=built.page,
        pages=built.pages,
        views={
            view_id: ViewTable(
                title=titles[view_id],
                columns=[column.title for column in table.columns],
                rows=[list(row) for row in table.rows],
            )
            for view_id, table in views.tables(built).items()
            if not (filters.hide_names and view_id in ("units", "unit-trend"))
        },
    )


def _export(dataset_id: str, fmt: str, respondent_level: bool) -> Callable[..., Response]:
    # two functions, not one with a chosen guard: FastAPI reads the (string) annotations
    # against this module's names, so each guard must be a module-level alias
    def download(
        request: Request,
        org_id: int,
        session: SessionDep,
        principal: ApiOrgViewer,
        catalog: CatalogDep,
    ) -> Response:
        return _send(request, org_id, session, principal, catalog, dataset_id, fmt)

    def download_respondent_rows(
        request: Request,
        org_id: int,
        session: SessionDep,
        principal: ApiRespondentRowsViewer,
        catalog: CatalogDep,
    ) -> Response:
        return _send(request, org_id, session, principal, catalog, dataset_id, fmt)

    chosen = download_respondent_rows if respondent_level else download
    chosen.__doc__ = f"The {dataset_id!r} analysis export as {fmt.upper()} (audit-logged)." + (
        " Consultants and admins only." if respondent_level else ""
    )
    return chosen


def _send(
    request: Request,
    org_id: int,
    session: Session,
    principal: Principal,
    catalog: Catalog,
    dataset_id: str,
    fmt: str,
) -> Response:
    organisation = tenancy.get_organisation(session=session, principal=principal, org_id=org_id)
    return routes.export_response(
        request=request,
        session=session,
        organisation=organisation,
        principal=principal,
        catalog=catalog,
        dataset_id=dataset_id,
        fmt=fmt,
    )


_CONTENT: dict[str, dict[str, Any]] = {
    "csv": {"text/csv": {"schema": {"type": "string"}}},
    "json": {"application/json": {"schema": {"type": "object"}}},
}

for _dataset in exports.DATASETS:
    for _fmt in exports.FORMATS:
        router.add_api_route(
            f"/organisations/{{org_id}}/exports/{_dataset.id}.{_fmt}",
            _export(_dataset.id, _fmt, _dataset.respondent_level),
            methods=["GET"],
            name=f"api_export_{_dataset.id.replace('-', '_')}_{_fmt}",
            response_class=Response,
            responses={200: {"content": _CONTENT[_fmt], "description": _dataset.title}},
        )
