"""The read rules of stored team results, each giving the typed ``TeamResult`` (never a dict).

The stored JSON (``RoundResult.computed``) is parsed here, once per load, and only here; the
pages, reports, API, exports and survey pages read attributes of what these functions return.
There is one rule for "the previous round" (``previous_shown``), used by the results page, the
team report (page, PDF and batch) and the engine's comparison alike.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col, select

from app.models import AssessmentRound, RoundResult, RoundStatus
from app.results import visibility
from app.results.model import TeamResult, parse_stored
from app.rubric.loader import Catalog

ORIGINAL = "original"
RESCORED_PREFIX = "rescored-"


def rescore_label(catalog: Catalog) -> str:
    """The label of a result rescored under ``catalog``: its version set, hashed short."""
    digest = hashlib.sha256(json.dumps(sorted(catalog.versions.items())).encode()).hexdigest()
    return RESCORED_PREFIX + digest[:8]


def result_of(row: RoundResult) -> TeamResult:
    """The typed result of a stored row (older shapes upgraded as they load)."""
    return parse_stored(row.computed)


def parse_column(value: Mapping[str, Any]) -> TeamResult:
    """The typed result of the stored JSON selected with ``stored_column`` (bulk reads)."""
    return parse_stored(value)


def stored_column() -> Mapped[dict[str, Any]]:
    """The stored JSON column, for queries that select it beside other columns or read a
    few of its values by path in SQL (a stored result is ~100 KB)."""
    return col(RoundResult.computed)


def write(row: RoundResult, result: TeamResult) -> None:
    """Store ``result`` in ``row`` (the caller adds and flushes it), with the order of its
    mappings recorded (``TeamResult.to_stored``)."""
    row.computed = result.to_stored()


def load_row(session: Session, round_id: int, label: str = ORIGINAL) -> RoundResult | None:
    """The stored row as it is (for storing and lifecycle; display reads ``shown_row``)."""
    return session.exec(
        select(RoundResult).where(RoundResult.round_id == round_id, RoundResult.label == label)
    ).first()


def shown_row(
    session: Session,
    assessment_round: AssessmentRound,
    label: str = ORIGINAL,
    viewer: visibility.Viewer = visibility.ANYONE,
) -> RoundResult | None:
    """The round's stored row under ``label`` as ``viewer`` may see it (detached, filtered by
    ``visibility.shown``), or None while nothing of it may show."""
    assert assessment_round.id is not None
    row = load_row(session, assessment_round.id, label)
    return visibility.shown_row(session, assessment_round, row, viewer)


def shown_result(
    session: Session,
    assessment_round: AssessmentRound,
    label: str = ORIGINAL,
    viewer: visibility.Viewer = visibility.ANYONE,
) -> TeamResult | None:
    """The round's result under ``label`` as ``viewer`` may see it, or None."""
    assert assessment_round.id is not None
    row = load_row(session, assessment_round.id, label)
    return visibility.shown(session, assessment_round, row, viewer)


def load_result(session: Session, round_id: int, label: str = ORIGINAL) -> TeamResult | None:
    """The round's stored result under ``label`` ("original", or a rescore's label)."""
    row = load_row(session, round_id, label)
    return None if row is None else result_of(row)


def latest_visible(session: Session, team_id: int) -> TeamResult | None:
    """The team's newest closed round's original result, when the anonymity rule lets it show."""
    rows = session.exec(
        select(AssessmentRound, RoundResult)
        .join(RoundResult, col(RoundResult.round_id) == col(AssessmentRound.id))
        .where(
            AssessmentRound.team_id == team_id,
            AssessmentRound.status == RoundStatus.closed,
            RoundResult.label == ORIGINAL,
        )
        .order_by(col(AssessmentRound.created_at).desc())
    ).all()
    for assessment_round, row in rows:
        result = visibility.shown(session, assessment_round, row, visibility.ANYONE)
        if result is not None:
            return result
    return None


@dataclasses.dataclass(frozen=True)
class ShownResult:
    """A round with its stored original result, as shown."""

    round: AssessmentRound
    row: RoundResult
    result: TeamResult


def previous_shown(session: Session, assessment_round: AssessmentRound) -> ShownResult | None:
    """The previous round: the team's latest closed round created before ``assessment_round``
    that has an original result, when that result is published and the anonymity rule
    (``visibility.shown``) lets its team figures show to anyone who may look.

    A round whose result is hidden must not appear through the next round's chart, report,
    stored comparison or dashboards, so then there is no previous round (an older one is not
    used instead). ``result`` carries only the figures the rule shows.
    """
    found = session.exec(
        select(AssessmentRound, RoundResult)
        .join(RoundResult, col(RoundResult.round_id) == col(AssessmentRound.id))
        .where(
            AssessmentRound.team_id == assessment_round.team_id,
            col(AssessmentRound.created_at) < assessment_round.created_at,
            AssessmentRound.status == RoundStatus.closed,
            RoundResult.label == ORIGINAL,
        )
        .order_by(col(AssessmentRound.created_at).desc())
        .limit(1)
    ).first()
    if found is None:
        return None
    earlier, row = found
    result = visibility.shown(session, earlier, row, visibility.ANYONE)
    if result is None:
        return None
    return ShownResult(round=earlier, row=row, result=result)


@dataclasses.dataclass(frozen=True)
class DimensionHeadline:
    title: str
    score: float
    band: str | None  # the band's label
    level: int | None  # the levelled instrument's level


@dataclasses.dataclass(frozen=True)
class Headline:
    """The few values of a stored original result that a list of teams shows."""

    model: str | None  # the recommended model's name; None when no model fits
    trajectory: str | None
    dimensions: dict[str, DimensionHeadline]  # only the dimensions that have a score


def headlines(
    session: Session, round_ids: Sequence[int], dimensions: Sequence[str]
) -> dict[int, Headline]:
    """Each round's headline, read from the stored JSON by path in SQL: a stored result is
    ~100 KB, and a home page may list many teams (older shapes hold these paths too)."""
    if not round_ids:
        return {}
    computed = stored_column()
    top = computed["process_models"][0]
    columns: list[Any] = [
        col(RoundResult.round_id),
        top["name"].as_string(),
        top["fit"].as_float(),
        computed["trajectory"]["label"].as_string(),
    ]
    for dimension in dimensions:
        part = computed["dimensions"][dimension]
        columns += [
            part["title"].as_string(),
            part["score"].as_float(),
            part["band"]["label"].as_string(),
            part["level"].as_integer(),
        ]
    rows = session.execute(
        sa_select(*columns).where(
            col(RoundResult.round_id).in_(round_ids), col(RoundResult.label) == ORIGINAL
        )
    ).all()
    found: dict[int, Headline] = {}
    for row in rows:
        values: list[Any] = list(row)
        round_id, model, fit, trajectory = values[:4]
        parts = values[4:]
        scored: dict[str, DimensionHeadline] = {}
        for dimension, index in zip(dimensions, range(0, len(parts), 4), strict=True):
            title, score, band, level = parts[index : index + 4]
            if title is None or score is None:
                continue
            scored[dimension] = DimensionHeadline(
                str(title),
                float(score),
                None if band is None else str(band),
                None if level is None else int(level),
            )
        found[int(round_id)] = Headline(
            # the recommendation rule (some condition of the top model holds), as stored
            model=str(model) if model and float(fit or 0) > 0 else None,
            trajectory=None if trajectory is None else str(trajectory),
            dimensions=scored,
        )
    return found
