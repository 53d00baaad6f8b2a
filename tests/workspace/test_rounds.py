"""Rounds from the lead's side (app.workspace.rounds): starting, closing, extending, links per
role, counts per role, and the lead's own answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, func, select

from app.config import Settings
from app.db import utcnow
from app.errors import InvalidInputError
from app.models import AssessmentRound, Invitation, Respondent, RoundResult
from app.surveys import invitations
from app.workspace import round_pages, rounds
from tests.workspace import helpers


def _request(**fields: object) -> rounds.RoundRequest:
    values: dict[str, object] = {
        "mode": "team_survey",
        "kind": "quick",
        "stage": "prototype",
        "instruments": ("trajectory", "collaboration", "handoff", "debt"),
    } | fields
    return rounds.RoundRequest(**values)  # type: ignore[arg-type]


def _start(
    session: Session, settings: Settings, lead: helpers.Lead, **fields: object
) -> rounds.StartedRound:
    return rounds.start_round(
        session=session,
        settings=settings,
        catalog=helpers.catalog(),
        team=lead.team,
        organisation=lead.organisation,
        request=_request(**fields),
        created_by_id=lead.user.id,
    )


def test_a_team_survey_starts_open_with_one_link_per_role(
    session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    started = _start(session, settings, lead, roles=("data_scientist", "software_engineer"))
    created = started.assessment_round
    assert created.status == "open"
    assert created.title == "Round 1"
    assert created.rubric_versions == dict(helpers.catalog().versions)
    assert created.closes_at is not None
    days = (created.closes_at - utcnow()).days
    assert 13 <= days <= 15  # fourteen days by default, to the end of the day
    assert sorted(started.links) == ["data_scientist", "software_engineer"]
    assert started.lead_path is None
    opened = invitations.open_invitation(
        session=session, settings=settings, token=started.links["data_scientist"].token
    )
    assert opened[1].id == created.id


def test_a_solo_round_gets_the_teams_one_response_ready_to_answer(
    session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    started = _start(session, settings, lead, mode="solo", closes_on=None)
    created = started.assessment_round
    assert started.links == {}
    assert created.closes_at is None
    assert created.results_min == 2
    assert started.lead_path is not None
    assert started.lead_path.startswith("/r/")
    # the same link again, for anyone of the team answering it: still one response
    again = rounds.lead_response_path(
        session=session, settings=settings, assessment_round=created, user_id=lead.user.id
    )
    assert again == started.lead_path
    count = session.exec(
        select(func.count()).select_from(Respondent).where(Respondent.round_id == created.id)
    ).one()
    assert count == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"stage": "done"}, "stage"),
        ({"mode": "everyone"}, "mode"),
        ({"kind": "medium"}, "kind"),
        ({"instruments": ()}, "instruments"),
        ({"instruments": ("astrology",)}, "instruments"),
        ({"results_min": 1}, "results_min"),
        ({"roles": ()}, "roles"),
        ({"roles": ("boss",)}, "roles"),
        ({"title": "x" * 201}, "title"),
    ],
)
def test_a_bad_request_names_the_field_and_creates_nothing(
    session: Session, settings: Settings, fields: dict[str, object], field: str
) -> None:
    lead = helpers.lead(session, settings)
    with pytest.raises(rounds.RoundFormError) as problem:
        _start(session, settings, lead, **fields)
    assert field in problem.value.errors
    assert session.exec(select(func.count()).select_from(AssessmentRound)).one() == 0
    assert session.exec(select(func.count()).select_from(Invitation)).one() == 0


def test_a_closing_date_in_the_past_or_too_far_is_refused(
    session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    today = utcnow().date()
    for closes_on in (today - timedelta(days=1), today + timedelta(days=400)):
        with pytest.raises(rounds.RoundFormError) as problem:
            _start(session, settings, lead, closes_on=closes_on)
        assert "closes_on" in problem.value.errors


def test_the_form_defaults_to_the_previous_rounds_stage(
    session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    helpers.team_round(session, lead.team, stage="operating", title="Spring")
    values, note = round_pages.default_values(
        session=session,
        settings=settings,
        catalog=helpers.catalog(),
        team=lead.team,
        organisation=lead.organisation,
    )
    assert values.stage == "operating"
    assert note == "Pre-filled from Spring"


def test_closing_makes_the_result_final_and_stops_changes(
    session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    started = _start(session, settings, lead)
    assessment_round = started.assessment_round
    for role in ("data_scientist", "ml_engineer", "product_manager"):
        helpers.submit(session, assessment_round, role)
    rounds.close_round(session=session, assessment_round=assessment_round)
    assert assessment_round.status == "closed"
    result = session.exec(
        select(RoundResult).where(RoundResult.round_id == assessment_round.id)
    ).one()
    assert result.final
    with pytest.raises(rounds.RoundClosedError):
        rounds.close_round(session=session, assessment_round=assessment_round)
    with pytest.raises(rounds.RoundClosedError):
        rounds.extend_round(
            session=session,
            assessment_round=assessment_round,
            closes_on=utcnow().date() + timedelta(days=3),
        )
    with pytest.raises(invitations.RoundClosedError):
        invitations.open_invitation(
            session=session, settings=settings, token=started.links["data_scientist"].token
        )


def test_extending_moves_the_date_and_the_links_with_it(
    session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    started = _start(session, settings, lead, roles=("data_scientist",))
    assessment_round = started.assessment_round
    later = utcnow().date() + timedelta(days=40)
    rounds.extend_round(session=session, assessment_round=assessment_round, closes_on=later)
    assert assessment_round.closes_at == rounds.closing_time(later)
    link = started.links["data_scientist"].invitation
    session.refresh(link)
    assert link.expires_at == rounds.closing_time(later)
    with pytest.raises(InvalidInputError):
        rounds.extend_round(
            session=session,
            assessment_round=assessment_round,
            closes_on=utcnow().date() - timedelta(days=1),
        )


def test_links_are_revoked_extended_and_replaced_per_role(
    session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    started = _start(session, settings, lead, roles=("data_scientist", "ml_engineer"))
    assessment_round = started.assessment_round
    rounds.revoke_link(session=session, assessment_round=assessment_round, role="ml_engineer")
    states = {
        s.role: s for s in rounds.link_states(session=session, assessment_round=assessment_round)
    }
    assert states["ml_engineer"].status == "revoked"
    assert states["data_scientist"].status == "active"
    with pytest.raises(InvalidInputError):
        rounds.revoke_link(session=session, assessment_round=assessment_round, role="ml_engineer")
    rounds.extend_link(session=session, assessment_round=assessment_round, role="data_scientist")
    states = {
        s.role: s for s in rounds.link_states(session=session, assessment_round=assessment_round)
    }
    assert states["data_scientist"].use_limit == 20
    issued = rounds.issue_links(
        session=session,
        settings=settings,
        assessment_round=assessment_round,
        roles=["ml_engineer", "data_scientist"],
        created_by_id=lead.user.id,
    )
    states = {
        s.role: s for s in rounds.link_states(session=session, assessment_round=assessment_round)
    }
    assert states["ml_engineer"].status == "active"
    # the data scientists' earlier link was replaced, so it no longer opens
    with pytest.raises(invitations.InvitationUnavailableError):
        invitations.open_invitation(
            session=session, settings=settings, token=started.links["data_scientist"].token
        )
    invitations.open_invitation(
        session=session, settings=settings, token=issued["data_scientist"].token
    )
    with pytest.raises(InvalidInputError):
        rounds.issue_links(
            session=session,
            settings=settings,
            assessment_round=assessment_round,
            roles=["boss"],
            created_by_id=None,
        )


def test_counts_per_role_never_say_who(session: Session, settings: Settings) -> None:
    lead = helpers.lead(session, settings)
    assessment_round = helpers.team_round(session, lead.team)
    for _ in range(3):
        helpers.submit(session, assessment_round, "data_scientist", store=False)
    invitations.start_respondent(
        session=session, settings=settings, assessment_round=assessment_round, role="ml_engineer"
    )
    counts = rounds.role_counts(session=session, assessment_round=assessment_round)
    # a role shows its counts only from the round's threshold (3) of submitted responses
    assert [(c.role, c.started, c.submitted, c.fewer_than_minimum) for c in counts] == [
        ("data_scientist", 0, 3, False),
        ("ml_engineer", None, None, True),
    ]


def test_in_a_team_survey_each_lead_answers_as_one_more_respondent(
    session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    assessment_round = helpers.team_round(session, lead.team)
    first = rounds.lead_response_path(
        session=session, settings=settings, assessment_round=assessment_round, user_id=lead.user.id
    )
    other = rounds.lead_response_path(
        session=session, settings=settings, assessment_round=assessment_round, user_id=999
    )
    assert first != other
    assert lead.user.id is not None
    state = rounds.lead_response(
        session=session, settings=settings, assessment_round=assessment_round, user_id=lead.user.id
    )
    assert state.started
    assert not state.submitted
    roles = session.exec(
        select(Respondent.role).where(Respondent.round_id == assessment_round.id)
    ).all()
    assert roles == ["team_lead", "team_lead"]
    assessment_round.status = "closed"
    with pytest.raises(rounds.RoundClosedError):
        rounds.lead_response_path(
            session=session, settings=settings, assessment_round=assessment_round, user_id=7
        )
