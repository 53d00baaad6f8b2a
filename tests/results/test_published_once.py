"""A published team-survey result never changes after close (issue 17, "published once"):
setting targets or adopting a practice recomputed every round of the team, closed team
surveys too, so a result saved at close and saved again later could differ."""

from __future__ import annotations

from sqlmodel import Session, select

from app.accounts.audit import Actor
from app.config import Settings
from app.models import RoundResult
from app.workspace import rounds, services
from tests.workspace import helpers


def test_targets_and_adoption_leave_a_published_team_result_as_it_was(
    session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    assert lead.team.id is not None
    catalog = helpers.catalog()
    assessment_round = helpers.team_round(session, lead.team)
    for role in ("data_scientist", "ml_engineer", "product_manager"):
        helpers.submit(session, assessment_round, role, store=False, other="low", handoff="low")
    rounds.close_round(session=session, assessment_round=assessment_round)
    stored = session.exec(
        select(RoundResult).where(RoundResult.round_id == assessment_round.id)
    ).one()
    published = (stored.computed, stored.computed_at, stored.respondent_count)
    practice = stored.computed["roadmap"]["now"][0]["practice"]

    actor = Actor(user_id=lead.user.id)
    services.set_targets(
        session=session,
        catalog=catalog,
        team=lead.team,
        targets={"collaboration": "established", "handoff": "2"},
        actor=actor,
    )
    assert services.adopt_practice(
        session=session, catalog=catalog, team=lead.team, practice_id=practice, actor=actor
    )
    session.expire_all()
    after = session.exec(
        select(RoundResult).where(RoundResult.round_id == assessment_round.id)
    ).one()
    assert (after.computed, after.computed_at, after.respondent_count) == published
    assert after.final


def test_the_results_page_measures_a_published_result_against_todays_targets(
    session: Session, settings: Settings
) -> None:
    """Targets are the team's plans: set after close, they are shown against the published
    scores (the page's view), while the stored result stays as published."""
    from app.results.reads import result_of
    from app.results.service import with_current_targets

    lead = helpers.lead(session, settings)
    assert lead.team.id is not None
    catalog = helpers.catalog()
    assessment_round = helpers.team_round(session, lead.team)
    for role in ("data_scientist", "ml_engineer", "product_manager"):
        helpers.submit(session, assessment_round, role, store=False, other="low", handoff="low")
    rounds.close_round(session=session, assessment_round=assessment_round)
    stored = session.exec(
        select(RoundResult).where(RoundResult.round_id == assessment_round.id)
    ).one()
    assert result_of(stored).targets == ()

    services.set_targets(
        session=session,
        catalog=catalog,
        team=lead.team,
        targets={"collaboration": "established", "handoff": "2"},
        actor=Actor(user_id=lead.user.id),
    )
    shown = with_current_targets(session, result_of(stored), catalog, lead.team.id)
    by_dimension = {target.dimension: target for target in shown.targets}
    assert set(by_dimension) == {"collaboration", "handoff"}
    assert by_dimension["handoff"].target == 2
    assert by_dimension["handoff"].percent == min(100, 50 * shown.handoff.level)  # type: ignore[union-attr]
    assert not by_dimension["collaboration"].met
    assert result_of(stored).targets == ()  # the published result is untouched
