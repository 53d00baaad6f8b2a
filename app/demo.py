"""Demo and bulk seed data: organisations, business units, teams and answered past rounds.

Each seeded round is a closed team survey with several respondents whose answers come from
`app.rubric.synthetic` (a team profile that matures from round to round, role biases that make
data scientists and engineers disagree), scored and stored like a real round, so results pages,
reports, dashboards and benchmarks see realistic data. A fixed random seed reproduces it.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import configure_mappers, sessionmaker
from sqlmodel import Session, select

from app import catalog_store, db, models
from app.accounts import pending
from app.config import QUESTIONNAIRES_DIR, get_settings
from app.db import ReadSession, utcnow
from app.results.service import compute_round_result, save_round_result, store_round_result
from app.rubric.answers import RoundSettings, validate_role
from app.rubric.loader import Catalog, load_catalog
from app.rubric.rules import STAGES, Stage
from app.rubric.schema import Role
from app.rubric.synthetic import random_profile, synthetic_answers
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
TEAMS_PER_WRITE = 10  # teams without rounds written per transaction by seed_in_batches
# installation settings the demo turns on, unless the environment sets them: consultants set
# up their own client organisations (PROCESSLENS_CONSULTANTS_CREATE_ORGANISATIONS), and e-mail
# works without an SMTP server: each message is written, labelled "not sent", to
# <data dir>/outbox (PROCESSLENS_MAIL_OUTBOX; an SMTP host, if set, still wins)
DEMO_SETTINGS = {
    "PROCESSLENS_CONSULTANTS_CREATE_ORGANISATIONS": "true",
    "PROCESSLENS_MAIL_OUTBOX": "true",
}
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
SEED = 20261121  # the random seed: the same command always creates the same answers


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


@dataclasses.dataclass(frozen=True)
class RespondentPlan:
    role: Role
    answers: dict[str, Any]
    answered_at: datetime


@dataclasses.dataclass(frozen=True)
class RoundPlan:
    title: str
    stage: Stage
    opened_at: datetime
    respondents: tuple[RespondentPlan, ...]


@dataclasses.dataclass(frozen=True)
class TeamPlan:
    """One seeded team worked out in full before anything is written (all the randomness)."""

    unit: str
    name: str
    adopted: tuple[str, ...]
    rounds: tuple[RoundPlan, ...]


def _plan_rounds(
    *,
    rounds: int,
    now: datetime,
    stage_offset: int,
    catalog: Catalog,
    rng: random.Random,
) -> tuple[RoundPlan, ...]:
    """``rounds`` closed, answered team surveys a quarter apart, the latest ending before
    ``now``; the team's practices improve a little from one round to the next."""
    stages = list(STAGES)
    profile = random_profile(catalog, rng)
    plans: list[RoundPlan] = []
    for index in range(rounds):
        opened_at = now - ROUND_SPACING * (rounds - index)
        # a team moves forward through the stages over its rounds, never back
        stage = stages[min(len(stages) - 1, (stage_offset + index) // 2)]
        matured = dataclasses.replace(profile, maturity=min(1.0, profile.maturity + 0.08 * index))
        settings = RoundSettings(stage=stage, mode="team_survey", instruments=tuple(INSTRUMENTS))
        respondents = tuple(
            RespondentPlan(
                role=role,
                answers=synthetic_answers(
                    catalog, settings, validate_role(role), matured, rng, with_notes=True
                ),
                answered_at=opened_at + timedelta(hours=6 + 20 * number),
            )
            for number, role in enumerate(rng.choice(SURVEY_ROLES))
        )
        plans.append(
            RoundPlan(
                title=f"Round {index + 1}",
                stage=stage,
                opened_at=opened_at,
                respondents=respondents,
            )
        )
    return tuple(plans)


def apply_demo_settings() -> None:
    """Turn on DEMO_SETTINGS for this process (the server the demo starts reads them)."""
    for name, value in DEMO_SETTINGS.items():
        os.environ.setdefault(name, value)
    get_settings.cache_clear()


def plan_teams(
    *,
    units: dict[str, tuple[str, ...]],
    rounds: int,
    now: datetime,
    catalog: Catalog,
    seed: int = SEED,
    adopt: bool = False,
) -> list[TeamPlan]:
    """Every team of a seed, in order, from one random seed: the same call, the same data."""
    rng = random.Random(seed)
    plans: list[TeamPlan] = []
    for unit_name, teams in units.items():
        for team_name in teams:
            adopted: tuple[str, ...] = ()
            if adopt and rounds:
                # two practices adopted, as a team would after its first round
                adopted = tuple(
                    practice.id for practice in rng.sample(list(catalog.practices.practices), 2)
                )
            plans.append(
                TeamPlan(
                    unit=unit_name,
                    name=team_name,
                    adopted=adopted,
                    rounds=_plan_rounds(
                        rounds=rounds,
                        now=now,
                        stage_offset=len(plans),
                        catalog=catalog,
                        rng=rng,
                    ),
                )
            )
    return plans


def _add_team(
    session: Session, plan: TeamPlan, *, organisation_id: int, unit_id: int
) -> models.Team:
    team = models.Team(organisation_id=organisation_id, business_unit_id=unit_id, name=plan.name)
    session.add(team)
    session.flush()
    assert team.id is not None
    for practice_id in plan.adopted:
        session.add(models.AdoptedPractice(team_id=team.id, practice_id=practice_id))
    return team


def _add_round(
    session: Session, plan: RoundPlan, *, team_id: int, versions: dict[str, str]
) -> models.AssessmentRound:
    """A closed team survey and its submitted responses (its result is stored separately)."""
    assessment_round = models.AssessmentRound(
        team_id=team_id,
        title=plan.title,
        mode="team_survey",
        kind="full",
        stage=plan.stage,
        instruments=list(INSTRUMENTS),
        rubric_versions=versions,
        status=models.RoundStatus.closed,
        created_at=plan.opened_at,
        opened_at=plan.opened_at,
        closes_at=plan.opened_at + ROUND_LENGTH,
        closed_at=plan.opened_at + ROUND_LENGTH,
    )
    session.add(assessment_round)
    session.flush()
    assert assessment_round.id is not None
    for respondent_plan in plan.respondents:
        respondent = models.Respondent(
            round_id=assessment_round.id,
            role=respondent_plan.role,
            # seeded respondents get no usable resume link: the hash of nothing anyone holds
            resume_token_hash=secrets.token_hex(32),
            created_at=respondent_plan.answered_at,
        )
        session.add(respondent)
        session.flush()
        assert respondent.id is not None
        session.add(
            models.Response(
                respondent_id=respondent.id,
                round_id=assessment_round.id,
                answers=respondent_plan.answers,
                status=models.ResponseStatus.submitted,
                created_at=respondent_plan.answered_at,
                updated_at=respondent_plan.answered_at,
                submitted_at=respondent_plan.answered_at,
            )
        )
    session.flush()
    return assessment_round


def _seed(
    session: Session,
    *,
    name: str,
    slug: str,
    units: dict[str, tuple[str, ...]],
    rounds: int,
    now: datetime,
    progress: Progress | None = None,
    adopt: bool = False,
) -> SeedSummary:
    """The seed in the caller's one transaction (the demo, tests); see seed_in_batches."""
    catalog = load_catalog(QUESTIONNAIRES_DIR)
    plans = plan_teams(units=units, rounds=rounds, now=now, catalog=catalog, adopt=adopt)
    versions = catalog_store.register_catalog(session=session, catalog=catalog)
    organisation = models.Organisation(name=name, slug=slug)
    session.add(organisation)
    session.flush()
    assert organisation.id is not None
    unit_ids = _add_units(session, organisation.id, units)
    for plan in plans:
        team = _add_team(
            session, plan, organisation_id=organisation.id, unit_id=unit_ids[plan.unit]
        )
        assert team.id is not None
        for round_plan in plan.rounds:
            assessment_round = _add_round(session, round_plan, team_id=team.id, versions=versions)
            store_round_result(session=session, assessment_round=assessment_round)
        if progress is not None:
            progress(1)
    session.flush()
    return _summary(organisation, units, plans)


def _add_units(
    session: Session, organisation_id: int, units: dict[str, tuple[str, ...]]
) -> dict[str, int]:
    added = [models.BusinessUnit(organisation_id=organisation_id, name=name) for name in units]
    session.add_all(added)
    session.flush()  # one flush for all: their ids
    return {unit.name: unit.id for unit in added if unit.id is not None}


def _summary(
    organisation: models.Organisation, units: dict[str, tuple[str, ...]], plans: list[TeamPlan]
) -> SeedSummary:
    assert organisation.id is not None
    return SeedSummary(
        organisation_id=organisation.id,
        organisation_name=organisation.name,
        slug=organisation.slug,
        business_units=tuple(units),
        teams=tuple(plan.name for plan in plans),
        rounds=sum(len(plan.rounds) for plan in plans),
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


def _units_for(teams: int, rounds: int) -> dict[str, tuple[str, ...]]:
    """``teams`` team names in ten-team business units (at most 20 units)."""
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
    return {unit: tuple(names) for unit, names in units.items()}


# long: the seed's steps in order — plan, create pending, teams and rounds, publish or remove
def seed_in_batches(
    *,
    sessions: sessionmaker[Session],
    read_sessions: sessionmaker[ReadSession],
    name: str,
    teams: int,
    rounds: int,
    now: datetime | None = None,
    progress: Progress | None = None,
    timings: db.BatchTimings | None = None,
) -> SeedSummary:
    """``seed_organisation`` for a running service: the same data, written so that people
    using the service never wait long for it.

    Everything random is worked out first; then the organisation is created *pending*
    (hidden, see app.accounts.pending) and filled in short transactions: a team, a round
    with its responses, a round's result (scored in a read transaction, stored in a short
    write; teams without rounds ten to a transaction). Each holds the write lock for a few
    milliseconds (``timings`` records how long); at the end the organisation is flipped
    visible, and if anything fails it is removed.
    """
    units = _units_for(teams, rounds)
    catalog = load_catalog(QUESTIONNAIRES_DIR)
    plans = plan_teams(units=units, rounds=rounds, now=now or utcnow(), catalog=catalog, adopt=True)
    timings = timings if timings is not None else db.BatchTimings()
    # the first use of the models in a process sets up their mappers and compiles the first
    # statements: done here, in a read, rather than inside the first write transaction
    configure_mappers()
    with read_sessions() as read_session:
        _free_slug(read_session, slugify(name))
        read_session.rollback()
    with db.write_batch(sessions, timings, "seed: rubric files") as session:
        versions = catalog_store.register_catalog(session=session, catalog=catalog)
    with db.write_batch(sessions, timings, "seed: organisation") as session:
        organisation = models.Organisation(
            name=name, slug=_free_slug(session, slugify(name)), pending=True
        )
        session.add(organisation)
        session.flush()
        assert organisation.id is not None
        organisation_id = organisation.id
        unit_ids = _add_units(session, organisation_id, units)
    try:
        # teams without rounds are a few rows each: several to a transaction
        per_write = TEAMS_PER_WRITE if rounds == 0 else 1
        for start in range(0, len(plans), per_write):
            group = plans[start : start + per_write]
            with db.write_batch(sessions, timings, f"seed: {len(group)} teams") as session:
                teams_written = [
                    _add_team(
                        session, plan, organisation_id=organisation_id, unit_id=unit_ids[plan.unit]
                    )
                    for plan in group
                ]
            for plan, team in zip(group, teams_written, strict=True):
                assert team.id is not None
                for round_plan in plan.rounds:
                    _seed_round(
                        sessions, read_sessions, timings, round_plan, team.id, versions, catalog
                    )
                if progress is not None:
                    progress(1)
        pending.publish(sessions=sessions, organisation_id=organisation_id, timings=timings)
    except BaseException:
        pending.remove(sessions=sessions, organisation_id=organisation_id, timings=timings)
        raise
    organisation.pending = False
    return _summary(organisation, units, plans)


def _seed_round(
    sessions: sessionmaker[Session],
    read_sessions: sessionmaker[ReadSession],
    timings: db.BatchTimings,
    plan: RoundPlan,
    team_id: int,
    versions: dict[str, str],
    catalog: Catalog,
) -> None:
    """A round and its responses in one short write, its result scored in a read transaction
    (the slow part, holding no lock) and stored in another short write."""
    with db.write_batch(sessions, timings, "seed: round") as session:
        assessment_round = _add_round(session, plan, team_id=team_id, versions=versions)
    with read_sessions() as read_session:
        computed = compute_round_result(
            session=read_session, assessment_round=assessment_round, catalog=catalog
        )
        read_session.rollback()
    with db.write_batch(sessions, timings, "seed: result") as session:
        save_round_result(session=session, assessment_round=assessment_round, computed=computed)


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
    units = _units_for(teams, rounds)
    return _seed(
        session,
        name=name,
        slug=_free_slug(session, slugify(name)),
        units=units,
        rounds=rounds,
        now=now or utcnow(),
        progress=progress,
        adopt=True,
    )
