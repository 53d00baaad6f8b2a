"""Change since the previous round when the two rounds used different rubric versions: only
dimension scores are compared, each as its own rubric computed it, and the comparison says so
(Rubric 2026.2, "Versions"). The previous answers are not re-scored into levels or fit."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from app import catalog_store
from app.config import Settings
from app.db import utcnow
from app.models import AssessmentRound, RoundStatus
from app.reports import context
from app.reports.branding import default_branding
from app.results.reads import load_result, previous_shown
from app.results.service import store_round_result
from app.rubric.answers import RoundSettings
from tests import factories
from tests.workspace import helpers
from tests.workspace.test_results import older_catalog


def answered_round(
    session: Session, lead: helpers.Lead, versions: dict[str, str], *, days_ago: int
) -> AssessmentRound:
    assessment_round = helpers.team_round(
        session,
        lead.team,
        mode="solo",
        kind="full",
        rubric_versions=versions,
        created_at=utcnow() - timedelta(days=days_ago),
    )
    answers = helpers.answers_for(
        RoundSettings(stage="productionising", kind="full", mode="solo"), "team_lead"
    )
    factories.submitted_response(session, assessment_round, "team_lead", answers)
    assessment_round.status = RoundStatus.closed
    assessment_round.closed_at = assessment_round.created_at
    session.add(assessment_round)
    session.flush()
    store_round_result(session=session, assessment_round=assessment_round)
    return assessment_round


def test_across_rubric_versions_only_dimension_scores_are_compared_and_labelled(
    session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    newest = helpers.catalog()
    old_versions = catalog_store.register_catalog(session=session, catalog=older_catalog(newest))
    new_versions = catalog_store.register_catalog(session=session, catalog=newest)
    earlier = answered_round(session, lead, old_versions, days_ago=30)
    later = answered_round(session, lead, new_versions, days_ago=1)
    assert earlier.id is not None
    assert later.id is not None
    before = load_result(session, earlier.id)
    after = load_result(session, later.id)
    assert before is not None
    assert after is not None
    comparison = after.comparison
    assert comparison is not None
    assert comparison.previous_rubric is not None
    assert "2025.9" in comparison.previous_rubric
    # no answer is re-scored under the newer rubric: no per-question moves, no adoption moves
    assert comparison.questions == {}
    assert comparison.adopted_moved == {}
    for dimension, change in comparison.dimensions.items():
        then, now = before.dimensions[dimension].score, after.dimensions[dimension].score
        assert then is not None
        assert now is not None
        assert change == round(now - then, 1)

    shown = previous_shown(session, later)
    assert shown is not None
    report = context.team_report(
        data=after,
        catalog=newest,
        team=lead.team.name,
        branding=default_branding(settings),
        previous=shown.result,
    )
    assert report.comparison is not None
    assert report.comparison.across_versions is not None
    assert "only dimension scores" in report.comparison.across_versions
    # the previous profile (sub-dimensions may differ between versions) is not drawn
    assert report.radar is not None
    assert len(report.radar.figure["data"]) == 1


def test_under_the_same_rubric_the_whole_comparison_stays(
    session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    versions = catalog_store.register_catalog(session=session, catalog=helpers.catalog())
    answered_round(session, lead, versions, days_ago=30)
    later = answered_round(session, lead, versions, days_ago=1)
    assert later.id is not None
    after = load_result(session, later.id)
    assert after is not None
    assert after.comparison is not None
    assert after.comparison.previous_rubric is None
    assert all(change == 0 for change in after.comparison.dimensions.values())
