"""API twins of the reports: the team report and the organisation report as PDF, and the
consultant's commentary on a round.

The same service as the pages (app.reports.batch, app.reports.commentary), through the same
tenancy loaders: another organisation's round is a 404; a report while results are hidden, or
an organisation report before any team has a stored result, is a 409.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from app.accounts import tenancy
from app.accounts.actor import ApiActor
from app.accounts.dependencies import (
    ERROR_RESPONSES,
    ApiOrgViewer,
    ApiPrincipal,
    RoundId,
    TeamId,
    require_api_roles,
    settings_of,
)
from app.accounts.tenancy import Principal
from app.catalog_store import CatalogDep
from app.db import ReadSessionDep, SessionDep
from app.models import AssessmentRound, UserRole
from app.reports import batch, commentary
from app.reports.routes import pdf_download

router = APIRouter(prefix="/api", tags=["reports"])
HideNames = Annotated[bool, Query(description="Number the teams instead of naming them")]


@router.get(
    "/teams/{team_id}/rounds/{round_id}/report.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The team report"}},
)
def api_team_report_pdf(
    request: Request,
    team_id: int,
    round_id: int,
    principal: ApiPrincipal,
    session: ReadSessionDep,
) -> Response:
    """The round's team report as application/pdf (409 while results are not available)."""
    settings = settings_of(request)
    report = batch.team_report_for_round_id(
        session=session, settings=settings, principal=principal, team_id=team_id, round_id=round_id
    )
    return pdf_download(*batch.team_pdf(report, settings))


@router.get(
    "/organisations/{org_id}/report.pdf",
    response_class=Response,
    responses={
        **ERROR_RESPONSES,
        200: {"content": {"application/pdf": {}}, "description": "The organisation report"},
    },
)
def api_organisation_report_pdf(
    request: Request,
    org_id: int,
    principal: ApiOrgViewer,
    session: ReadSessionDep,
    catalog: CatalogDep,
    hide_names: HideNames = False,
) -> Response:
    """The organisation report as application/pdf (409 while no team has a stored result)."""
    organisation = tenancy.get_organisation(session=session, principal=principal, org_id=org_id)
    return pdf_download(
        *batch.organisation_pdf(
            session=session,
            settings=settings_of(request),
            organisation=organisation,
            catalog=catalog,
            hide_names=hide_names,
        )
    )


# ---------------------------------------------------------------- the consultant's commentary

ApiCommentaryEditor = Annotated[Principal, Depends(require_api_roles(UserRole.consultant))]


class CommentaryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # the length is checked by ``clean`` after line endings are normalised, as on the page
    commentary: StrictStr = Field(max_length=2 * commentary.MAX_CHARS)


class CommentaryOut(BaseModel):
    round_id: int
    commentary: str | None = Field(description="Plain text; null when there is none.")


@router.get("/teams/{team_id}/rounds/{round_id}/commentary", responses=ERROR_RESPONSES)
def api_commentary(
    session: SessionDep, principal: ApiPrincipal, team_id: TeamId, round_id: RoundId
) -> CommentaryOut:
    """The round's commentary, for everyone who may see the round."""
    assessment_round = tenancy.get_round(
        session=session, principal=principal, round_id=round_id, team_id=team_id
    )
    return CommentaryOut(round_id=round_id, commentary=assessment_round.commentary)


def _api_editable_round(
    team_id: TeamId, round_id: RoundId, principal: ApiCommentaryEditor, session: SessionDep
) -> AssessmentRound:
    """The round, loaded before the body is validated: another tenant's round is a 404
    whatever the body holds."""
    return tenancy.get_round(
        session=session, principal=principal, round_id=round_id, team_id=team_id
    )


@router.put(
    "/teams/{team_id}/rounds/{round_id}/commentary",
    responses={
        **ERROR_RESPONSES,
        422: {"description": "Too long or not text; nothing was changed."},
    },
)
def api_save_commentary(
    session: SessionDep,
    principal: ApiCommentaryEditor,
    actor: ApiActor,
    assessment_round: Annotated[AssessmentRound, Depends(_api_editable_round)],
    body: CommentaryIn,
) -> CommentaryOut:
    """Set the round's commentary (consultants of the organisation and admins); an empty
    text removes it."""
    assert assessment_round.id is not None
    saved = commentary.save_and_audit(
        actor=actor,
        session=session,
        principal=principal,
        team_id=assessment_round.team_id,
        round_id=assessment_round.id,
        text=body.commentary,
    )
    return CommentaryOut(round_id=assessment_round.id, commentary=saved.commentary)
