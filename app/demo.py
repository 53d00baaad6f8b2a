"""Demo and bulk seed data: organisations, business units, teams and answered past rounds.

Each seeded round is a closed team survey with several respondents whose answers come from
`app.rubric.synthetic` (a team profile that matures from round to round, role biases that make
data scientists and engineers disagree), scored and stored like a real round, so results pages,
reports, dashboards and benchmarks see realistic data. A fixed random seed reproduces it.
"""

from __future__ import annotations

import dataclasses
import math
import random
import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlmodel import Session, select

from app import catalog_store, models
from app.config import QUESTIONNAIRES_DIR
from app.db import utcnow
from app.results.service import store_round_result
from app.rubric.answers import RoundSettings, validate_role
from app.rubric.loader import Catalog, load_catalog
from app.rubric.rules import STAGES
from app.rubric.schema import Role
from app.rubric.synthetic import TeamProfile, random_profile, synthetic_answers
from app.workspace import demo as workspace_demo

DEMO_SLUG = "demo"
DEMO_NAME = "Northwind Analytics (demo)"
DEMO_UNITS: dict[str, tuple[str, ...]] = {
    "Customer products": (
        "Fraud detection",
        "Search ranking",
        "Support assistant",
    ),
    "Operations and platforms": (
        "Demand forecasting",
        "Document intake",
    ),
}
# the four instruments of PRODUCT.md section 2, in the order respondents meet them
INSTRUMENTS = ["trajectory", "collaboration", "handoff", "debt"]
ROUND_SPACING = timedelta(days=91)
ROUND_LENGTH = timedelta(days=14)
TEAMS_PER_UNIT = 10
MAX_UNITS = 20
DEMO_ROUNDS = 2  # two rounds for most demo teams, so results show change over time
# who answers a seeded team survey: always both sides of the data-science/engineering divide
SURVEY_ROLES: tuple[tuple[Role, ...], ...] = (
    ("team_lead", "data_scientist", "data_scientist", "ml_engineer", "software_engineer"),
    ("product_manager", "data_scientist", "ml_engineer", "ml_engineer"),
    (
        "team_lead",
        "product_manager",
        "data_scientist",
        "data_scientist",
        "software_engineer",
        "ml_engineer",
    ),
    ("team_lead", "data_scientist", "ml_engineer"),
)
Progress = Callable[[int], None]


@dataclasses.dataclass(frozen=True)
class SeedSummary:
    organisation_id: int
    organisation_name: str
    slug: str
    business_units: tuple[str, ...]
    teams: tuple[str, ...]
    rounds: int
    created: bool


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:60] or "organisation"


def _free_slug(session: Session, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``... whichever is not taken yet."""
    taken = set(
        session.exec(
            select(models.Organisation.slug).where(models.Organisation.slug.startswith(base))
        )
    )
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def _add_closed_rounds(
    session: Session,
    *,
    team_id: int,
    rounds: int,
    now: datetime,
    stage_offset: int,
    catalog: Catalog,
    versions: dict[str, str],
    rng: random.Random,
) -> int:
    """``rounds`` closed, answered team surveys a quarter apart, the latest ending before
    ``now``; the team's practices improve a little from one round to the next."""
    stages = list(STAGES)
    profile = random_profile(catalog, rng)
    for index in range(rounds):
        opened_at = now - ROUND_SPACING * (rounds - index)
        # a team moves forward through the stages over its rounds, never back
        stage = stages[min(len(stages) - 1, (stage_offset + index) // 2)]
        assessment_round = models.AssessmentRound(
            team_id=team_id,
            title=f"Round {index + 1}",
            mode="team_survey",
            kind="full",
            stage=stage,
            instruments=list(INSTRUMENTS),
            rubric_versions=versions,
            status=models.RoundStatus.closed,
            created_at=opened_at,
            opened_at=opened_at,
            closes_at=opened_at + ROUND_LENGTH,
            closed_at=opened_at + ROUND_LENGTH,
        )
        session.add(assessment_round)
        session.flush()
        matured = dataclasses.replace(profile, maturity=min(1.0, profile.maturity + 0.08 * index))
        _add_responses(session, assessment_round, catalog, matured, rng)
        store_round_result(session=session, assessment_round=assessment_round)
    return rounds


def _add_responses(
    session: Session,
    assessment_round: models.AssessmentRound,
    catalog: Catalog,
    profile: TeamProfile,
    rng: random.Random,
) -> None:
    assert assessment_round.id is not None
    assert assessment_round.opened_at is not None
    settings = RoundSettings(
        stage=assessment_round.stage,
        mode="team_survey",
        instruments=tuple(assessment_round.instruments),
    )
    for number, role in enumerate(rng.choice(SURVEY_ROLES)):
        answered_at = assessment_round.opened_at + timedelta(hours=6 + 20 * number)
        respondent = models.Respondent(
            round_id=assessment_round.id,
            role=role,
            # seeded respondents get no usable resume link: the hash of nothing anyone holds
            resume_token_hash=secrets.token_hex(32),
            created_at=answered_at,
        )
        session.add(respondent)
        session.flush()
        assert respondent.id is not None
        session.add(
            models.Response(
                respondent_id=respondent.id,
                round_id=assessment_round.id,
                answers=synthetic_answers(
                    catalog,
                    settings,
                    validate_role(role),
                    profile,
                    rng,
                    with_notes=True,
                ),
                status=models.ResponseStatus.submitted,
                created_at=answered_at,
                updated_at=answered_at,
                submitted_at=answered_at,
            )
        )
    session.flush()


def _adopt_some_practices(
    session: Session, *, team_id: int, rng: random.Random, catalog: Catalog
) -> None:
    """Mark two practices as adopted, as a team would after its first round."""
    for practice in rng.sample(list(catalog.practices.practices), 2):
        session.add(models.AdoptedPractice(team_id=team_id, practice_id=practice.id))


def _seed(
    session: Session,
    *,
    name: str,
    slug: str,
    units: dict[str, tuple[str, ...]],
    rounds: int,
    now: datetime,
    seed: int = 20261121,
    progress: Progress | None = None,
    adopt: bool = False,
) -> SeedSummary:
    catalog = load_catalog(QUESTIONNAIRES_DIR)
    versions = catalog_store.register_catalog(session=session, catalog=catalog)
    rng = random.Random(seed)
    organisation = models.Organisation(name=name, slug=slug)
    session.add(organisation)
    session.flush()
    assert organisation.id is not None
    team_names: list[str] = []
    round_count = 0
    for unit_name, teams in units.items():
        unit = models.BusinessUnit(organisation_id=organisation.id, name=unit_name)
        session.add(unit)
        session.flush()
        for team_name in teams:
            team = models.Team(
                organisation_id=organisation.id, business_unit_id=unit.id, name=team_name
            )
            session.add(team)
            session.flush()
            assert team.id is not None
            if adopt and rounds:
                _adopt_some_practices(session, team_id=team.id, rng=rng, catalog=catalog)
            round_count += _add_closed_rounds(
                session,
                team_id=team.id,
                rounds=rounds,
                now=now,
                stage_offset=len(team_names),
                catalog=catalog,
                versions=versions,
                rng=rng,
            )
            team_names.append(team_name)
            if progress is not None:
                progress(1)
    session.flush()
    return SeedSummary(
        organisation_id=organisation.id,
        organisation_name=name,
        slug=slug,
        business_units=tuple(units),
        teams=tuple(team_names),
        rounds=round_count,
        created=True,
    )


def seed_demo(*, session: Session, now: datetime | None = None) -> SeedSummary:
    """The demo organisation: 2 business units, 5 teams. Idempotent: a second call finds it."""
    existing = session.exec(
        select(models.Organisation).where(models.Organisation.slug == DEMO_SLUG)
    ).first()
    if existing is not None:
        assert existing.id is not None
        units = session.exec(
            select(models.BusinessUnit.name)
            .where(models.BusinessUnit.organisation_id == existing.id)
            .order_by(models.BusinessUnit.name)
        ).all()
        teams = session.exec(
            select(models.Team.name)
            .where(models.Team.organisation_id == existing.id)
            .order_by(models.Team.name)
        ).all()
        return SeedSummary(
            organisation_id=existing.id,
            organisation_name=existing.name,
            slug=existing.slug,
            business_units=tuple(units),
            teams=tuple(teams),
            rounds=0,
            created=False,
        )
    summary = _seed(
        session,
        name=DEMO_NAME,
        slug=DEMO_SLUG,
        units=DEMO_UNITS,
        rounds=DEMO_ROUNDS,
        now=now or utcnow(),
        adopt=True,
    )
    # targets and an open team survey for the demo team lead's team (app/workspace/demo.py)
    workspace_demo.add_demo_extras(
        session=session,
        catalog=load_catalog(QUESTIONNAIRES_DIR),
        organisation_id=summary.organisation_id,
        now=now,
    )
    return summary


def seed_organisation(
    *,
    session: Session,
    name: str,
    teams: int,
    rounds: int,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> SeedSummary:
    """A new organisation with ``teams`` teams in ten-team business units (at most 20 units),
    each team with ``rounds`` closed, answered team surveys a quarter apart."""
    if teams < 1:
        raise ValueError("teams must be at least 1")
    if rounds < 0:
        raise ValueError("rounds must not be negative")
    unit_count = min(MAX_UNITS, math.ceil(teams / TEAMS_PER_UNIT))
    width = len(str(teams))
    units: dict[str, list[str]] = {f"Unit {u + 1}": [] for u in range(unit_count)}
    unit_names = list(units)
    for number in range(1, teams + 1):
        units[unit_names[(number - 1) % unit_count]].append(f"Team {number:0{width}d}")
    return _seed(
        session,
        name=name,
        slug=_free_slug(session, slugify(name)),
        units={unit: tuple(names) for unit, names in units.items()},
        rounds=rounds,
        now=now or utcnow(),
        progress=progress,
        adopt=True,
    )
