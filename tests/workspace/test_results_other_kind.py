"""A quick solo round is never compared with a full team survey in what is stored: the API's
result and the team report say "no comparison: different kind" instead of a change in points
(issue: results that read at a glance; the results page already hides it)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.config import Settings
from app.db import utcnow
from app.models import AssessmentRound, Respondent, Team
from app.reports import batch, render
from app.reports.branding import default_branding
from app.results import model
from app.results.reads import load_row, result_of, write
from app.workspace import rounds
from tests.workspace import helpers
from tests.workspace.test_disputed_results import invitation
from tests.workspace.test_results_consistency import quick_solo_round

NOT_COMPARED = "no comparison: different kind (quick check vs full assessment)"


def closed_full_survey(session: Session, lead: helpers.Lead) -> AssessmentRound:
    survey = helpers.team_round(
        session, lead.team, kind="full", created_at=utcnow() - timedelta(days=30)
    )
    for role in ("data_scientist", "ml_engineer", "product_manager"):
        response = helpers.submit(session, survey, role, handoff="low", store=False)
        respondent = session.get(Respondent, response.respondent_id)
        assert respondent is not None
        respondent.invitation_id = invitation(session, survey, role)
        session.add(respondent)
    rounds.close_round(session=session, assessment_round=survey)
    session.commit()
    return survey


def test_the_api_and_the_report_say_why_a_quick_check_is_not_compared_with_a_full_survey(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    closed_full_survey(session, lead)
    quick = quick_solo_round(session, lead)

    response = client.get(
        f"/api{lead.team_url}/rounds/{quick.id}/results", headers=lead.headers
    ).json()
    comparison = response["result"]["comparison"]
    assert comparison is not None
    assert comparison["not_compared"] == NOT_COMPARED
    assert comparison["dimensions"] == {}
    assert comparison["questions"] == {}
    assert comparison["adopted_moved"] == {}

    assert quick.id is not None
    team = session.get(Team, quick.team_id)
    row = load_row(session, quick.id)
    assert team is not None
    assert row is not None
    stored = batch.stored_team_result(row, quick, team, None)
    report = batch.team_report_for_round(
        session=session,
        result=stored,
        previous=batch.previous_of(session, stored),
        organisation=lead.organisation.name,
        branding=default_branding(settings),
    )
    assert report.comparison is not None
    assert report.comparison.not_compared == NOT_COMPARED
    assert report.comparison.dimensions == ()
    assert all(card.change is None for card in report.cards)
    html = helpers.document(render.team_html(report, medium="pdf"))
    chapter = " ".join(html.xpath("//section[@id='comparison']")[0].text_content().split())
    assert "No comparison: different kind (quick check vs full assessment)" in chapter
    assert "moved up" not in chapter
    # the previous round's profile is not drawn beside this one's either
    assert report.radar is not None
    assert len(report.radar.figure["data"]) == 1


def test_two_quick_checks_are_still_compared(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    earlier = quick_solo_round(session, lead, created_at=utcnow() - timedelta(days=30))
    rounds.close_round(session=session, assessment_round=earlier)
    session.commit()
    later = quick_solo_round(session, lead)
    response = client.get(
        f"/api{lead.team_url}/rounds/{later.id}/results", headers=lead.headers
    ).json()
    comparison = response["result"]["comparison"]
    assert comparison["not_compared"] is None
    assert comparison["dimensions"]


def test_a_result_stored_before_the_rule_is_not_compared_across_kinds_either(
    client: TestClient, session: Session, settings: Settings
) -> None:
    """A quick check's result stored with changes against a full survey (as before this rule):
    the API and the report still say why there is no comparison, not the stored changes."""
    lead = helpers.lead(session, settings)
    closed_full_survey(session, lead)
    quick = quick_solo_round(session, lead)
    assert quick.id is not None
    row = load_row(session, quick.id)
    assert row is not None
    old = result_of(row)
    assert old.comparison is not None
    write(
        row,
        old.model_copy(
            update={
                "comparison": model.Comparison(
                    dimensions=dict.fromkeys(old.dimensions, -27.6),
                    questions={},
                    adopted_moved={},
                )
            }
        ),
    )
    session.add(row)
    session.commit()

    response = client.get(
        f"/api{lead.team_url}/rounds/{quick.id}/results", headers=lead.headers
    ).json()
    assert response["result"]["comparison"]["not_compared"] == NOT_COMPARED
    assert response["result"]["comparison"]["dimensions"] == {}

    team = session.get(Team, quick.team_id)
    assert team is not None
    stored = batch.stored_team_result(row, quick, team, None)
    report = batch.team_report_for_round(
        session=session,
        result=stored,
        previous=batch.previous_of(session, stored),
        organisation=lead.organisation.name,
        branding=default_branding(settings),
    )
    assert report.comparison is not None
    assert report.comparison.not_compared == NOT_COMPARED
    assert all(card.change is None for card in report.cards)
