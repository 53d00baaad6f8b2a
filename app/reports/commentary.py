"""The consultant's commentary on a round: free text for the team report, edited on the results
page by the organisation's consultants and admins, shown (escaped) to everyone who may see the
results.

The text is plain: the report and the page escape every line (``context.commentary_paragraphs``
splits it into paragraphs), so markup in it is shown as typed, never run.

The page form posts to app.reports.routes, the API twin is app.api.reports; both call
``save_and_audit``.
"""

from __future__ import annotations

import dataclasses

from sqlmodel import Session

from app.accounts import audit, tenancy
from app.accounts.audit import Actor
from app.accounts.tenancy import Principal
from app.errors import InvalidInputError
from app.models import AssessmentRound, Team, UserRole
from app.reports import context

MAX_CHARS = 20_000


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


def save_and_audit(
    *,
    session: Session,
    principal: Principal,
    team_id: int,
    round_id: int,
    text: str,
    actor: Actor,
) -> AssessmentRound:
    """Save a round the principal may see (another tenant's is a 404); audit a change for
    ``actor`` (the page and the API pass theirs)."""
    assessment_round = tenancy.get_round(
        session=session, principal=principal, round_id=round_id, team_id=team_id
    )
    team = session.get(Team, assessment_round.team_id)
    assert team is not None
    _, changed = save(session=session, assessment_round=assessment_round, text=text)
    if changed:
        audit.record(
            session=session,
            actor=actor,
            action="round.commentary_saved",
            target_type="round",
            target_id=round_id,
            organisation_id=team.organisation_id,
            # the length only: the text itself may be long and is in the round
            details={"characters": len(assessment_round.commentary or "")},
        )
    return assessment_round
