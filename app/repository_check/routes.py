"""The repository check's page of a round: the comparison of what the team says with what its
repository shows, and the form that attaches (or removes) a `processlens repo-check` file.

Thin: tenancy loads the round (another tenant's is a 404), app.repository_check.service does
the rest; the API twin is app.api.repository. Registered in app.main.create_app.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse

from app import templating
from app.accounts import tenancy
from app.accounts.actor import PageActor
from app.accounts.dependencies import (
    CurrentPrincipal,
    OrgViewer,
    ScopedRound,
    ScopedTeam,
    require_roles,
    settings_of,
)
from app.accounts.tenancy import Principal
from app.catalog_store import CatalogDep
from app.dashboards import repository_counts
from app.db import SessionDep
from app.errors import InvalidInputError
from app.models import UserRole
from app.reports.context import ResultsNotVisibleError
from app.repository_check import service
from app.rubric import repository_compare, safe_yaml

router = APIRouter(tags=["repository check"])
SignalsEditor = Annotated[
    Principal, Depends(require_roles(UserRole.team_lead, UserRole.consultant))
]
NOTICES = {
    "attached": "Signals file attached. Scores do not change; the comparison is below.",
    "removed": "Signals file removed.",
}


class SignalsUploadError(InvalidInputError):
    status_code = 422
    title = "The signals file could not be attached"


@dataclasses.dataclass(frozen=True)
class RepositoryPage:
    """Context of templates/results/repository.html."""

    team_name: str
    round_title: str
    round_url: str
    action: str
    can_attach: bool
    repository: str | None  # the attached file's folder name
    comparison: repository_compare.RepositoryComparison | None
    waiting: str | None  # why there is no comparison yet, when a file is attached
    notice: str | None
    prefills: int | None = None  # an open solo round: answers the lead's survey pre-fills


def _url(team_id: int, round_id: int) -> str:
    return f"/teams/{team_id}/rounds/{round_id}/repository"


@router.get("/teams/{team_id}/rounds/{round_id}/repository", response_class=HTMLResponse)
def repository_page(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    catalog: CatalogDep,
    team: ScopedTeam,
    assessment_round: ScopedRound,
    notice: str = "",
) -> HTMLResponse:
    """The round's repository check, for everyone who may see the round's results."""
    assert team.id is not None
    assert assessment_round.id is not None
    readings = service.stored_signals(assessment_round)
    comparison, waiting = None, None
    try:
        comparison = service.comparison_for(
            session=session, catalog=catalog, assessment_round=assessment_round
        )
    except ResultsNotVisibleError as hidden:
        waiting = hidden.message
    page = RepositoryPage(
        team_name=team.name,
        round_title=assessment_round.title or "Round",
        round_url=f"/teams/{team.id}/rounds/{assessment_round.id}",
        action=_url(team.id, assessment_round.id),
        can_attach=service.may_attach(principal),
        repository=readings.repository if readings else None,
        comparison=comparison,
        waiting=waiting,
        notice=NOTICES.get(notice),
        prefills=service.solo_prefills(catalog=catalog, assessment_round=assessment_round),
    )
    return templating.render(request, "results/repository.html", page)


@router.post("/teams/{team_id}/rounds/{round_id}/repository", include_in_schema=False)
def attach_signals(
    session: SessionDep,
    principal: SignalsEditor,
    actor: PageActor,
    catalog: CatalogDep,
    team_id: int,
    round_id: int,
    assessment_round: ScopedRound,  # another tenant's round is a 404 before the file is read
    signals: Annotated[UploadFile | None, File()] = None,
) -> RedirectResponse:
    """Attach the uploaded signals file (the team's lead, consultants and admins)."""
    if signals is None or not signals.filename:
        raise SignalsUploadError("Choose the signals file that `processlens repo-check` wrote.")
    data = signals.file.read(repository_compare.MAX_SIGNALS_FILE_BYTES + 1)
    try:
        readings = repository_compare.parse_signals_file(
            data.decode("utf-8"),
            source=signals.filename[:80],
            signals=service.signal_catalog(catalog),
        )
    except UnicodeDecodeError:
        raise SignalsUploadError("The signals file is not UTF-8 JSON.") from None
    except safe_yaml.BadInputError as problem:
        raise SignalsUploadError(f"{problem} Nothing was changed.") from None
    service.attach_and_audit(
        session=session,
        principal=principal,
        catalog=catalog,
        team_id=team_id,
        round_id=round_id,
        signals_file=readings,
        actor=actor,
    )
    return RedirectResponse(f"{_url(team_id, round_id)}?notice=attached", status_code=303)


@router.post("/teams/{team_id}/rounds/{round_id}/repository/remove", include_in_schema=False)
def remove_signals(
    session: SessionDep,
    principal: SignalsEditor,
    actor: PageActor,
    catalog: CatalogDep,
    team_id: int,
    round_id: int,
) -> RedirectResponse:
    """Remove the round's signals file."""
    service.attach_and_audit(
        session=session,
        principal=principal,
        catalog=catalog,
        team_id=team_id,
        round_id=round_id,
        signals_file=None,
        actor=actor,
    )
    return RedirectResponse(f"{_url(team_id, round_id)}?notice=removed", status_code=303)


@dataclasses.dataclass(frozen=True)
class ContradictionsPage:
    """Context of templates/dashboards/repository_counts.html."""

    organisation: str
    dashboard_url: str
    counts: repository_counts.ContradictionCounts


@router.get("/organisations/{org_id}/repository-contradictions", response_class=HTMLResponse)
def contradictions_page(
    request: Request,
    org_id: int,
    session: SessionDep,
    principal: OrgViewer,
    catalog: CatalogDep,
) -> HTMLResponse:
    """How often the repository contradicts teams' answers, per question, across the
    organisation (only teams whose result the viewer may see)."""
    organisation = tenancy.get_organisation(session=session, principal=principal, org_id=org_id)
    assert organisation.id is not None
    counts = repository_counts.contradiction_counts(
        session=session,
        settings=settings_of(request),
        catalog=catalog,
        organisation_id=organisation.id,
        user_id=principal.user_id,
    )
    page = ContradictionsPage(
        organisation=organisation.name,
        dashboard_url=f"/organisations/{organisation.id}/dashboard",
        counts=counts,
    )
    return templating.render(request, "dashboards/repository_counts.html", page)
