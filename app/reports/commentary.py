"""The consultant's commentary on a round: free text for the team report, edited on the results
page by the organisation's consultants and admins, shown (escaped) to everyone who may see the
results.

The text is plain: the report and the page escape every line (``context.commentary_paragraphs``
splits it into paragraphs), so markup in it is shown as typed, never run.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from sqlmodel import Session

from app.accounts import audit, tenancy
from app.accounts.dependencies import ApiPrincipal, require_roles
from app.accounts.tenancy import Principal
from app.api.base import ERROR_RESPONSES
from app.api.dashboards import require_api_roles
from app.api.workspace import RoundId, TeamId
from app.db import SessionDep
from app.errors import InvalidInputError
from app.models import AssessmentRound, Team, UserRole
from app.reports import context

MAX_CHARS = 20_000

router = APIRouter(include_in_schema=False)

require_commentary_editor = require_roles(UserRole.consultant)
CommentaryEditor = Annotated[Principal, Depends(require_commentary_editor)]


class CommentaryTooLongError(InvalidInputError):
    status_code = 422
    title = "The commentary is too long"
    default_message = (
        f"The commentary can be at most {MAX_CHARS:,} characters. Shorten it and save again; "
        "nothing was changed."
    )


class CommentaryNotTextError(InvalidInputError):
    status_code = 422
    title = "The commentary could not be saved"
    default_message = (
        "The commentary contains characters that are not text (such as a NUL byte). Remove "
        "them and save again; nothing was changed."
    )


def may_edit(principal: Principal) -> bool:
    """Consultants (of organisations they are assigned to: tenancy decides that) and admins."""
    return principal.is_admin or principal.role is UserRole.consultant


def clean(text: str) -> str | None:
    """The commentary as stored: line endings normalised, trailing space trimmed; None when
    empty. Raises CommentaryTooLongError / CommentaryNotTextError."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(normalised) > MAX_CHARS:
        raise CommentaryTooLongError()
    # NUL cannot be stored in PostgreSQL text; other control characters (but tab and newline)
    # are not commentary either
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in normalised):
        raise CommentaryNotTextError()
    return normalised or None


def save(
    *, session: Session, assessment_round: AssessmentRound, text: str
) -> tuple[str | None, bool]:
    """Set the round's commentary (flushed); returns it and whether it changed."""
    value = clean(text)
    changed = value != assessment_round.commentary
    if changed:
        assessment_round.commentary = value
        session.add(assessment_round)
        session.flush()
    return value, changed


@dataclasses.dataclass(frozen=True)
class CommentaryView:
    """Context of templates/results/_commentary.html (``page.commentary`` of the results page)."""

    paragraphs: tuple[tuple[str, ...], ...]  # as the report shows them
    text: str  # for the form
    can_edit: bool
    action: str
    max_chars: int = MAX_CHARS


def view(*, assessment_round: AssessmentRound, principal: Principal, action: str) -> CommentaryView:
    text = assessment_round.commentary or ""
    return CommentaryView(
        paragraphs=context.commentary_paragraphs(text),
        text=text,
        can_edit=may_edit(principal),
        action=action,
    )


def _save_and_audit(
    *,
    request: Request,
    session: Session,
    principal: Principal,
    team_id: int,
    round_id: int,
    text: str,
) -> AssessmentRound:
    """Save a round the principal may see (another tenant's is a 404); audit a change."""
    assessment_round = tenancy.get_round(
        session=session, principal=principal, round_id=round_id, team_id=team_id
    )
    team = session.get(Team, assessment_round.team_id)
    assert team is not None
    _, changed = save(session=session, assessment_round=assessment_round, text=text)
    if changed:
        audit.record(
            session=session,
            request=request,
            action="round.commentary_saved",
            target_type="round",
            target_id=round_id,
            organisation_id=team.organisation_id,
            # the length only: the text itself may be long and is in the round
            details={"characters": len(assessment_round.commentary or "")},
        )
    return assessment_round


@router.post("/teams/{team_id}/rounds/{round_id}/commentary")
def save_commentary(
    request: Request,
    session: SessionDep,
    principal: CommentaryEditor,
    team_id: int,
    round_id: int,
    commentary: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Save the round's commentary (consultants of the organisation and admins)."""
    _save_and_audit(
        request=request,
        session=session,
        principal=principal,
        team_id=team_id,
        round_id=round_id,
        text=commentary,
    )
    return RedirectResponse(
        f"/teams/{team_id}/rounds/{round_id}/results?notice=commentary#commentary",
        status_code=303,
    )


# ---------------------------------------------------------------- API twin

api_router = APIRouter(prefix="/api", tags=["reports"], responses=ERROR_RESPONSES)
ApiCommentaryEditor = Annotated[Principal, Depends(require_api_roles(UserRole.consultant))]


class CommentaryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # the length is checked by ``clean`` after line endings are normalised, as on the page
    commentary: StrictStr = Field(max_length=2 * MAX_CHARS)


class CommentaryOut(BaseModel):
    round_id: int
    commentary: str | None = Field(description="Plain text; null when there is none.")


@api_router.get("/teams/{team_id}/rounds/{round_id}/commentary")
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


@api_router.put(
    "/teams/{team_id}/rounds/{round_id}/commentary",
    responses={422: {"description": "Too long or not text; nothing was changed."}},
)
def api_save_commentary(
    request: Request,
    session: SessionDep,
    principal: ApiCommentaryEditor,
    assessment_round: Annotated[AssessmentRound, Depends(_api_editable_round)],
    body: CommentaryIn,
) -> CommentaryOut:
    """Set the round's commentary (consultants of the organisation and admins); an empty
    text removes it."""
    assert assessment_round.id is not None
    saved = _save_and_audit(
        request=request,
        session=session,
        principal=principal,
        team_id=assessment_round.team_id,
        round_id=assessment_round.id,
        text=body.commentary,
    )
    return CommentaryOut(round_id=assessment_round.id, commentary=saved.commentary)
