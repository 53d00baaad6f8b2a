"""The repository check of a round: attach a `processlens repo-check` signals file, read the
comparison of what the team says with what its repository shows, or remove the file.

The service is app.repository_check.service; another organisation's round is a 404, and the
comparison follows the results' anonymity rule (409 while the results are not available).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from app.accounts import tenancy
from app.accounts.actor import ApiActor
from app.accounts.dependencies import (
    ERROR_RESPONSES,
    ApiPrincipal,
    RoundId,
    TeamId,
    require_api_roles,
)
from app.accounts.tenancy import Principal
from app.catalog_store import CatalogDep
from app.db import SessionDep
from app.models import AssessmentRound, UserRole
from app.repository_check import service
from app.rubric import repository_compare
from app.rubric.repository_match import RepositorySignals

router = APIRouter(prefix="/api", tags=["repository check"])
ApiSignalsEditor = Annotated[
    Principal, Depends(require_api_roles(UserRole.team_lead, UserRole.consultant))
]
PATH = "/teams/{team_id}/rounds/{round_id}/repository-signals"


class RepositoryCheckOut(BaseModel):
    round_id: int
    attached: bool
    repository: str | None = None
    signals_version: str | None = None
    comparison: dict[str, Any] | None = None  # docs/repository-check.md, "The comparison"


def _editable_round(
    team_id: TeamId, round_id: RoundId, principal: ApiSignalsEditor, session: SessionDep
) -> AssessmentRound:
    """The round, loaded before the body is validated: another tenant's round is a 404
    whatever the body holds."""
    return tenancy.get_round(
        session=session, principal=principal, round_id=round_id, team_id=team_id
    )


EditableRound = Annotated[AssessmentRound, Depends(_editable_round)]


def _out(
    assessment_round: AssessmentRound, comparison: repository_compare.RepositoryComparison | None
) -> RepositoryCheckOut:
    assert assessment_round.id is not None
    readings = service.stored_signals(assessment_round)
    return RepositoryCheckOut(
        round_id=assessment_round.id,
        attached=readings is not None,
        repository=readings.repository if readings else None,
        signals_version=readings.signals_version if readings else None,
        comparison=repository_compare.comparison_data(comparison) if comparison else None,
    )


@router.get(PATH, responses=ERROR_RESPONSES)
def api_repository_check(
    session: SessionDep,
    principal: ApiPrincipal,
    catalog: CatalogDep,
    team_id: TeamId,
    round_id: RoundId,
) -> RepositoryCheckOut:
    """The round's repository check: per question, what the team says, what the repository
    shows and whether they agree (409 while the results are not available)."""
    assessment_round = tenancy.get_round(
        session=session, principal=principal, round_id=round_id, team_id=team_id
    )
    comparison = service.comparison_for(
        session=session, catalog=catalog, assessment_round=assessment_round
    )
    return _out(assessment_round, comparison)


@router.put(
    PATH,
    responses={
        **ERROR_RESPONSES,
        422: {"description": "Not a signals file, or one of another version; nothing changed."},
    },
)
def api_attach_repository_signals(
    session: SessionDep,
    principal: ApiSignalsEditor,
    actor: ApiActor,
    catalog: CatalogDep,
    assessment_round: EditableRound,
    body: RepositorySignals,
) -> RepositoryCheckOut:
    """Attach a signals file written by `processlens repo-check` (the team's lead, the
    organisation's consultants and admins). Scores do not change."""
    assert assessment_round.id is not None
    saved = service.attach_and_audit(
        session=session,
        principal=principal,
        catalog=catalog,
        team_id=assessment_round.team_id,
        round_id=assessment_round.id,
        signals_file=body,
        actor=actor,
    )
    return _out(saved, None)


@router.delete(PATH, responses=ERROR_RESPONSES)
def api_remove_repository_signals(
    session: SessionDep,
    principal: ApiSignalsEditor,
    actor: ApiActor,
    catalog: CatalogDep,
    assessment_round: EditableRound,
) -> RepositoryCheckOut:
    """Remove the round's signals file."""
    assert assessment_round.id is not None
    saved = service.attach_and_audit(
        session=session,
        principal=principal,
        catalog=catalog,
        team_id=assessment_round.team_id,
        round_id=assessment_round.id,
        signals_file=None,
        actor=actor,
    )
    return _out(saved, None)
