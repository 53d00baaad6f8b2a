"""Closing by date publishes once, from a respondent's page too (issue 17, "published once").

A round whose closing date has passed is closed by the first page that reads it: the lead's
pages and the API did; a respondent's pages did not, so a respondent who may see results was
told "open" for ever while the lead's page published. With fewer than k responses, closing
publishes nothing.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.config import Settings
from app.db import utcnow
from app.models import AssessmentRound, Respondent, RoundResult, RoundStatus
from app.surveys.service import resume_token_hash
from tests.workspace import helpers


def _past_round_with(
    session: Session, settings: Settings, responses: int
) -> tuple[AssessmentRound, str]:
    """A team survey whose closing date passed, with ``responses`` submitted; the resume
    token of the first respondent (who may see results)."""
    lead = helpers.lead(session, settings)
    assessment_round = helpers.team_round(session, lead.team, respondents_see_results=True)
    submitted = [
        helpers.submit(session, assessment_round, role, store=False)
        for role in ("data_scientist", "ml_engineer", "product_manager", "software_engineer")[
            :responses
        ]
    ]
    token = secrets.token_urlsafe(24)
    respondent = session.get(Respondent, submitted[0].respondent_id)
    assert respondent is not None
    respondent.resume_token_hash = resume_token_hash(settings, token)
    assessment_round.closes_at = utcnow() - timedelta(hours=1)
    session.add_all([respondent, assessment_round])
    session.commit()
    return assessment_round, token


def test_a_respondents_page_closes_a_round_past_its_date_and_publishes(
    client: TestClient, session: Session, settings: Settings
) -> None:
    assessment_round, token = _past_round_with(session, settings, responses=4)
    page = client.get(f"/r/{token}/results")
    assert page.status_code == 200, page.text[:300]

    session.expire_all()
    closed = session.get(AssessmentRound, assessment_round.id)
    assert closed is not None
    assert closed.status == RoundStatus.closed
    assert closed.closed_at == closed.closes_at
    stored = session.exec(
        select(RoundResult).where(RoundResult.round_id == assessment_round.id)
    ).one()
    assert stored.final
    # the respondent's own answers never count for them: three others, at least k
    assert page.context["page"].visible  # type: ignore[attr-defined]


def test_closing_by_date_with_fewer_than_k_publishes_nothing(
    client: TestClient, session: Session, settings: Settings
) -> None:
    assessment_round, token = _past_round_with(session, settings, responses=2)
    welcome = client.get(f"/r/{token}")
    assert welcome.status_code in (200, 303)

    session.expire_all()
    closed = session.get(AssessmentRound, assessment_round.id)
    assert closed is not None
    assert closed.status == RoundStatus.closed
    assert (
        session.exec(select(RoundResult).where(RoundResult.round_id == assessment_round.id)).first()
        is None
    )
    page = client.get(f"/r/{token}/results")
    assert page.status_code == 200
    assert not page.context["page"].visible  # type: ignore[attr-defined]
