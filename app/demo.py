"""Demo and bulk seed data: organisations, business units, teams and (empty) past rounds.

Answers and results arrive with the survey and scoring work; until then a seeded round is a
closed, unanswered round with realistic dates, which is what dashboards and trends key on.
"""

from __future__ import annotations

import dataclasses
import math
import re
from datetime import datetime, timedelta

from sqlmodel import Session, select

from app import models
from app.db import utcnow

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
    session: Session, *, team_id: int, rounds: int, now: datetime, stage_offset: int
) -> int:
    """``rounds`` closed, unanswered rounds a quarter apart, the latest ending before ``now``."""
    stages = list(models.ProjectStage)
    for index in range(rounds):
        opened_at = now - ROUND_SPACING * (rounds - index)
        # a team moves forward through the stages over its rounds, never back
        stage = stages[min(len(stages) - 1, (stage_offset + index) // 2)]
        session.add(
            models.AssessmentRound(
                team_id=team_id,
                title=f"Round {index + 1}",
                mode=models.RoundMode.solo,
                kind=models.RoundKind.full,
                stage=stage,
                instruments=list(INSTRUMENTS),
                status=models.RoundStatus.closed,
                created_at=opened_at,
                opened_at=opened_at,
                closes_at=opened_at + ROUND_LENGTH,
                closed_at=opened_at + ROUND_LENGTH,
            )
        )
    return rounds


def _seed(
    session: Session,
    *,
    name: str,
    slug: str,
    units: dict[str, tuple[str, ...]],
    rounds: int,
    now: datetime,
) -> SeedSummary:
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
            round_count += _add_closed_rounds(
                session, team_id=team.id, rounds=rounds, now=now, stage_offset=len(team_names)
            )
            team_names.append(team_name)
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
    return _seed(
        session, name=DEMO_NAME, slug=DEMO_SLUG, units=DEMO_UNITS, rounds=0, now=now or utcnow()
    )


def seed_organisation(
    *,
    session: Session,
    name: str,
    teams: int,
    rounds: int,
    now: datetime | None = None,
) -> SeedSummary:
    """A new organisation with ``teams`` teams in ten-team business units (at most 20 units),
    each team with ``rounds`` closed, unanswered rounds a quarter apart."""
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
    )
