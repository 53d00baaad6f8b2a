"""Publishing a synthetic team-survey result for the report tests: a team survey's result
shows only once its round has closed with enough submitted responses (app.results.visibility),
so a stored result is given a closed round and that many responses behind it."""

from __future__ import annotations

from sqlmodel import Session

from app.models import AssessmentRound, RoundStatus
from tests import factories

ROLES = ("data_scientist", "ml_engineer", "software_engineer", "product_manager")


def publish(session: Session, assessment_round: AssessmentRound, responses: int) -> None:
    """Close ``assessment_round`` with ``responses`` submitted responses behind its result
    (add the result with ``final=True``)."""
    for index in range(responses):
        factories.submitted_response(session, assessment_round, ROLES[index % len(ROLES)], {})
    assessment_round.status = RoundStatus.closed
    if assessment_round.closed_at is None:
        assessment_round.closed_at = assessment_round.created_at
    session.add(assessment_round)
    session.flush()
