"""A respondent's data: export it and erase it, by their resume link or by an administrator.

Erasure deletes the respondent (their response and per-response scores go with it through
ON DELETE CASCADE) and drops the round's stored results, which were computed with those
answers; a closed team survey's published result is withdrawn, not recomputed. What remains
is an audit entry naming the round and the respondent's pseudonymous id, never their answers.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlmodel import Session, col, delete, select

from app.accounts import audit, tokens
from app.accounts.audit import Actor
from app.config import Settings
from app.models import (
    AssessmentRound,
    Respondent,
    Response,
    RoundMode,
    RoundResult,
    RoundStatus,
    Team,
)
from app.results import service as results_service
from app.results import visibility


def find_by_resume_token(*, session: Session, settings: Settings, token: str) -> Respondent | None:
    """The respondent a resume token belongs to, accepting the token or a whole resume link."""
    token = token.strip().rstrip("/").rsplit("/", 1)[-1]
    if not token or len(token) > 200:
        return None
    token_hash = tokens.hash_token(settings, token, purpose="resume")
    return session.exec(
        select(Respondent).where(Respondent.resume_token_hash == token_hash)
    ).first()


def organisation_of(*, session: Session, respondent: Respondent) -> int | None:
    return session.exec(
        select(Team.organisation_id)
        .join(AssessmentRound, col(AssessmentRound.team_id) == col(Team.id))
        .where(AssessmentRound.id == respondent.round_id)
    ).first()


# Who asked for an export or an erasure: the respondent through their resume link, or an
# administrator on their behalf (the audit event's "by" detail).
RequestedBy = Literal["respondent", "admin"]


def export_respondent(
    *,
    session: Session,
    respondent: Respondent,
    actor: Actor | None = None,
    by: RequestedBy = "admin",
) -> dict[str, Any]:
    """Everything stored about one respondent, as plain JSON-ready data (no token hashes);
    the export is audited for ``actor``."""
    response = session.exec(select(Response).where(Response.respondent_id == respondent.id)).first()
    if actor is not None:
        audit.record(
            session=session,
            actor=actor,
            action="respondent.exported",
            target_type="respondent",
            target_id=respondent.id,
            organisation_id=organisation_of(session=session, respondent=respondent),
            details={"round_id": respondent.round_id, "by": by},
        )
    return {
        "respondent": {
            "id": respondent.id,
            "role": respondent.role,
            "created_at": respondent.created_at.isoformat(),
        },
        # the round by id only: its title names the team, which is not the respondent's data
        "round": {"id": respondent.round_id},
        "response": None
        if response is None
        else {
            "status": response.status,
            "answers": response.answers,
            "created_at": response.created_at.isoformat(),
            "updated_at": response.updated_at.isoformat(),
            "submitted_at": response.submitted_at.isoformat() if response.submitted_at else None,
        },
    }


def erase_respondent(
    *,
    session: Session,
    respondent: Respondent,
    actor: Actor | None = None,
    by: RequestedBy = "admin",
) -> int:
    """Delete the respondent and what was computed with their answers. Returns the round id.

    A closed team survey's published result is withdrawn ("withdrawn after a request to
    erase answers"), never recomputed from the remaining responses: the result before and
    after would differ by exactly the erased answers. An open survey has published nothing
    yet; a solo round's result is recomputed (the lead answers for the team, openly).
    """
    assert respondent.id is not None
    respondent_id = respondent.id
    organisation_id = organisation_of(session=session, respondent=respondent)
    round_id = _erase(session, respondent)
    if actor is not None:
        audit.record(
            session=session,
            actor=actor,
            action="respondent.erased",
            target_type="respondent",
            target_id=respondent_id,
            organisation_id=organisation_id,
            details={"round_id": round_id, "by": by},
        )
    return round_id


def _erase(session: Session, respondent: Respondent) -> int:
    round_id = respondent.round_id
    session.exec(delete(Respondent).where(col(Respondent.id) == respondent.id))
    session.expunge(respondent)
    session.exec(delete(RoundResult).where(col(RoundResult.round_id) == round_id))
    session.flush()
    # read afresh: whether the round has closed decides between withdrawing and recomputing
    assessment_round = session.get(AssessmentRound, round_id, populate_existing=True)
    if assessment_round is None:
        return round_id
    if assessment_round.mode == RoundMode.solo:
        if session.exec(select(Response.id).where(Response.round_id == round_id)).first():
            results_service.store_round_result(session=session, assessment_round=assessment_round)
    elif assessment_round.status == RoundStatus.closed:
        audit.record(
            session=session,
            action=visibility.WITHDRAWN_ACTION,
            target_type="round",
            target_id=round_id,
            organisation_id=organisation_id_of_round(session, assessment_round),
        )
    return round_id


def organisation_id_of_round(session: Session, assessment_round: AssessmentRound) -> int | None:
    team = session.get(Team, assessment_round.team_id)
    return None if team is None else team.organisation_id
