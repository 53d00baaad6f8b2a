"""Starting rounds for many teams at once (admins, and consultants for the organisations they
are assigned to): choose teams or whole business units and one set of settings; the links of
every new round on one page, and as a CSV.

A thin edge over app.workspace.bulk_rounds (which starts each round through the single-round
service). Links exist only in the answer that made them, so the CSV is made from the page's
own copy, sent back by its download button.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from app import catalog_store, templating
from app.accounts import organisations, tenancy
from app.accounts.actor import PageActor
from app.accounts.dependencies import require_roles, settings_of
from app.accounts.tenancy import Principal
from app.catalog_store import CatalogDep
from app.db import ReadSessionDep, RequestSessionDep, SessionDep
from app.errors import DomainError, InvalidInputError
from app.models import Organisation, RoundKind, RoundMode, UserRole
from app.surveys.pages import STAGES
from app.workspace import bulk_rounds, rounds

router = APIRouter(include_in_schema=False)

RoundStarter = Annotated[Principal, Depends(require_roles(UserRole.consultant))]


def _organisation(org_id: int, principal: RoundStarter, session: RequestSessionDep) -> Organisation:
    # a dependency, so another organisation's id is a 404 before the form is validated
    return tenancy.get_organisation(session=session, principal=principal, org_id=org_id)


InOrganisation = Annotated[Organisation, Depends(_organisation)]
LINKS_HEADER = "team,round_id,role,url"


@dataclasses.dataclass(frozen=True)
class TeamChoice:
    id: int
    name: str


@dataclasses.dataclass(frozen=True)
class UnitChoice:
    id: int | None  # None: the teams in no unit
    name: str
    teams: tuple[TeamChoice, ...]


@dataclasses.dataclass(frozen=True)
class BulkRoundsPage:
    """Context of templates/workspace/bulk_rounds.html: the form, or the rounds started."""

    title: str
    organisation_id: int
    organisation_name: str
    units: tuple[UnitChoice, ...]
    team_count: int
    dashboard_url: str
    stages: tuple[tuple[str, str], ...]
    max_teams: int
    started: tuple[bulk_rounds.StartedTeamRound, ...] = ()
    links_csv: str = ""
    error: str | None = None
    message: str | None = None


def _units(session: SessionDep, principal: Principal, org_id: int) -> tuple[UnitChoice, ...]:
    teams = organisations.teams_of(session=session, principal=principal, organisation_id=org_id)
    units = [
        (unit.id, unit.name)
        for unit in organisations.units_of(session=session, organisation_id=org_id)
    ] + [(None, "Teams in no business unit")]
    return tuple(
        UnitChoice(
            id=unit_id,
            name=name,
            teams=tuple(
                TeamChoice(id=team.id or 0, name=team.name)
                for team in teams
                if team.business_unit_id == unit_id
            ),
        )
        for unit_id, name in units
    )


def _page(
    request: Request,
    session: SessionDep,
    principal: Principal,
    organisation: Organisation,
    *,
    status: int = 200,
    **parts: object,
) -> HTMLResponse:
    assert organisation.id is not None
    units = _units(session, principal, organisation.id)
    page = BulkRoundsPage(
        title=f"Start rounds – {organisation.name}",
        organisation_id=organisation.id,
        organisation_name=organisation.name,
        units=units,
        team_count=sum(len(unit.teams) for unit in units),
        dashboard_url=f"/organisations/{organisation.id}/dashboard",
        stages=tuple((stage, label) for stage, (label, _hint) in STAGES.items()),
        max_teams=bulk_rounds.MAX_TEAMS,
        **parts,  # type: ignore[arg-type]
    )
    return templating.render(request, "workspace/bulk_rounds.html", page, status_code=status)


@router.get("/organisations/{org_id}/rounds/new", response_class=HTMLResponse)
def bulk_rounds_page(
    request: Request,
    org_id: int,
    principal: RoundStarter,
    organisation: InOrganisation,
    session: ReadSessionDep,
) -> HTMLResponse:
    return _page(request, session, principal, organisation)


def _ids(values: list[str], what: str) -> list[int]:
    if not all(value.isdigit() and 1 <= int(value) <= tenancy.MAX_ID for value in values):
        raise InvalidInputError(f"Choose {what} from the list.")
    return [int(value) for value in values]


@router.post("/organisations/{org_id}/rounds", response_class=HTMLResponse)
def start_rounds(
    request: Request,
    org_id: int,
    principal: RoundStarter,
    organisation: InOrganisation,
    actor: PageActor,
    session: SessionDep,
    catalog: CatalogDep,
    team_ids: Annotated[list[str], Form(max_length=bulk_rounds.MAX_TEAMS)] = [],  # noqa: B006
    unit_ids: Annotated[list[str], Form(max_length=100)] = [],  # noqa: B006
    all_teams: Annotated[str, Form(max_length=5)] = "",
    mode: Annotated[str, Form(max_length=20)] = RoundMode.team_survey,
    kind: Annotated[str, Form(max_length=20)] = RoundKind.full,
    stage: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """One round with the same settings for every chosen team, all or none."""
    settings = settings_of(request)
    try:
        teams = bulk_rounds.select_teams(
            session=session,
            principal=principal,
            organisation=organisation,
            team_ids=_ids(team_ids, "teams"),
            unit_ids=_ids(unit_ids, "business units"),
            all_teams=all_teams == "1",
        )
        started = bulk_rounds.start_rounds(
            session=session,
            settings=settings,
            catalog=catalog,
            organisation=organisation,
            teams=teams,
            request=rounds.RoundRequest(
                mode=mode,
                kind=kind,
                stage=stage,
                instruments=tuple(catalog_store.round_instruments(catalog, organisation)),
                results_min=rounds.results_threshold(settings, organisation),
            ),
            actor=actor,
        )
    except DomainError as problem:
        session.rollback()  # a refused round refuses them all
        return _page(
            request,
            session,
            principal,
            organisation,
            error=problem.message,
            status=problem.status_code,
        )
    return _page(
        request,
        session,
        principal,
        organisation,
        started=tuple(started),
        links_csv=bulk_rounds.links_csv(started),
        message=f"{len(started)} round(s) started. The links are shown only now: copy them or "
        "download the CSV.",
    )


@router.post("/organisations/{org_id}/rounds/links.csv", response_class=Response)
def links_csv(
    org_id: int,
    principal: RoundStarter,
    organisation: InOrganisation,
    session: ReadSessionDep,
    links: Annotated[str, Form(max_length=1024 * 1024)] = "",
) -> Response:
    """The page's own copy of the links it showed, as a download (nothing is stored)."""
    if not links.startswith(LINKS_HEADER):
        raise InvalidInputError("Send the links of the page that started the rounds.")
    return Response(
        links,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{organisation.slug}-round-links.csv"'
        },
    )
