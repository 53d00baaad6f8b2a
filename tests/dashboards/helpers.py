"""Helpers for dashboard tests: organisations with teams whose closed rounds have exactly the
respondents (roles) and answer levels a test needs, scored and stored like real rounds."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from app.config import Settings
from app.models import (
    AssessmentRound,
    BusinessUnit,
    Organisation,
    Team,
    User,
    UserRole,
)
from app.results.service import round_settings, store_round_result
from tests import factories
from tests.accounts import helpers as account_helpers
from tests.workspace.helpers import Level, answers_for, catalog

# every dimension answered by at least 3 people: handoff and debt by the lead, the 2 data
# scientists and 2 engineers, collaboration by all
FULL_TEAM = (
    "team_lead",
    "product_manager",
    "data_scientist",
    "data_scientist",
    "ml_engineer",
    "software_engineer",
)
# 3 responses, but only 2 behind handoff and debt (the data scientist and the engineer)
THIN_TEAM = ("product_manager", "data_scientist", "ml_engineer")
PAIR = ("data_scientist", "ml_engineer")
Q1 = datetime(2026, 2, 10, 12, tzinfo=UTC)
Q2 = datetime(2026, 5, 12, 12, tzinfo=UTC)
Q3 = datetime(2026, 8, 11, 12, tzinfo=UTC)
EARLIER = ("Atlas", "Beacon", "Gale")  # teams with a round in Q2 as well


def unit(session: Session, organisation: Organisation, name: str) -> BusinessUnit:
    assert organisation.id is not None
    item = BusinessUnit(organisation_id=organisation.id, name=name)
    session.add(item)
    session.flush()
    return item


def team(
    session: Session, organisation: Organisation, name: str, business_unit: BusinessUnit | None
) -> Team:
    assert organisation.id is not None
    item = Team(
        organisation_id=organisation.id,
        business_unit_id=business_unit.id if business_unit else None,
        name=name,
    )
    session.add(item)
    session.flush()
    return item


def closed_round(
    session: Session,
    team_: Team,
    *,
    roles: Sequence[str] = FULL_TEAM,
    closed_at: datetime = Q3,
    level: Level = "mid",
    handoff: Level | None = None,
    mode: str = "team_survey",
    kind: str = "full",
    results_min: int = 3,
    notes: dict[str, Any] | None = None,
) -> AssessmentRound:
    """A closed round of ``team_`` answered by ``roles`` (answers at ``level``), stored."""
    opened = closed_at - timedelta(days=14)
    assessment_round = factories.assessment_round(
        session,
        catalog(),
        team_,
        mode=mode,
        kind=kind,
        status="open",
        results_min=results_min,
        created_at=opened,
        opened_at=opened,
        title=f"{team_.name} {closed_at.date()}",
    )
    settings = round_settings(assessment_round)
    for index, role in enumerate(roles):
        answers = answers_for(settings, role, handoff=handoff or level, other=level)
        if notes and index == 0:
            answers = {
                qid: {"value": value, **notes} if qid == next(iter(answers)) else value
                for qid, value in answers.items()
            }
        factories.submitted_response(session, assessment_round, role, answers)
    assessment_round.status = "closed"
    assessment_round.closed_at = closed_at
    session.add(assessment_round)
    session.flush()
    store_round_result(session=session, assessment_round=assessment_round)
    return assessment_round


@dataclasses.dataclass
class World:
    organisation: Organisation
    units: dict[str, BusinessUnit]
    teams: dict[str, Team]
    rounds: dict[str, list[AssessmentRound]]

    @property
    def id(self) -> int:
        assert self.organisation.id is not None
        return self.organisation.id


def world(session: Session, *, name: str = "Contoso Analytics") -> World:
    """Two units and eight teams with a closed round (Atlas, Beacon and Gale one more in the
    quarter before, at a low level): four full teams at different levels; two teams of 3
    whose handoff and debt rest on 2 people (Ember, Halo); a team survey with 2 responses
    (Fjord); a solo round (Gale). With the minimum of 3, Fjord is hidden, and so is one of
    Ember and Halo, or Fjord could be worked out from the total."""
    organisation = factories.organisation(session, name=name)
    north = unit(session, organisation, "North")
    south = unit(session, organisation, "South")
    shapes: list[tuple[str, BusinessUnit, Level, Sequence[str], str]] = [
        ("Atlas", north, "high", FULL_TEAM, "team_survey"),
        ("Beacon", north, "mid", FULL_TEAM, "team_survey"),
        ("Comet", south, "low", FULL_TEAM, "team_survey"),
        ("Delta", south, "mid", FULL_TEAM, "team_survey"),
        ("Ember", south, "high", THIN_TEAM, "team_survey"),
        ("Fjord", north, "mid", PAIR, "team_survey"),
        ("Gale", south, "low", ("team_lead",), "solo"),
        ("Halo", north, "high", THIN_TEAM, "team_survey"),
    ]
    teams: dict[str, Team] = {}
    rounds: dict[str, list[AssessmentRound]] = {}
    for team_name, business_unit, level, roles, mode in shapes:
        item = team(session, organisation, team_name, business_unit)
        teams[team_name] = item
        quarters = (Q2, Q3) if team_name in EARLIER else (Q3,)
        rounds[team_name] = [
            closed_round(
                session,
                item,
                roles=roles,
                closed_at=closed_at,
                level=level if closed_at == Q3 else "low",
                mode=mode,
                results_min=2 if len(roles) == 2 else 3,
            )
            for closed_at in quarters
        ]
    return World(organisation, {"North": north, "South": south}, teams, rounds)


def viewer(
    session: Session, settings: Settings, organisation: Organisation, role: UserRole
) -> tuple[User, account_helpers.SignedIn]:
    user = account_helpers.user(session, role, name=f"{role.value} viewer")
    if role is not UserRole.admin:
        account_helpers.assign(session, user, organisation)
    signed_in = account_helpers.sign_in(session, settings, user)
    session.commit()
    return user, signed_in
