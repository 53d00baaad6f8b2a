"""A respondent's data: export it and erase it, by their resume link or by an administrator.

Erasure deletes the respondent (their response and per-response scores go with it through
ON DELETE CASCADE), drops the round's stored results, which were computed with those answers,
and computes the team result again from the remaining responses. What remains is an audit
entry naming the round and the respondent's pseudonymous id, never their answers.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, delete, select

from app.accounts import tokens
from app.config import Settings
from app.models import AssessmentRound, Respondent, Response, RoundResult, Team
from app.results import service as results_service


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


def export_respondent(*, session: Session, respondent: Respondent) -> dict[str, Any]:
    """Everything stored about one respondent, as plain JSON-ready data (no token hashes)."""
    response = session.exec(select(Response).where(Response.respondent_id == respondent.id)).first()
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


def erase_respondent(*, session: Session, respondent: Respondent) -> int:
    """Delete the respondent and recompute the round's stored result. Returns the round id."""
    assert respondent.id is not None
    round_id = respondent.round_id
    session.exec(delete(Respondent).where(col(Respondent.id) == respondent.id))
    session.expunge(respondent)
    # results computed with the erased answers go, even a final one: the recomputation below
    # stores the round's result (final again if the round is closed) without them
    session.exec(delete(RoundResult).where(col(RoundResult.round_id) == round_id))
    session.flush()
    assessment_round = session.get(AssessmentRound, round_id)
    if assessment_round is not None:
        results_service.store_round_result(session=session, assessment_round=assessment_round)
    return round_id
