"""The read rules of stored team results, each giving the typed ``TeamResult`` (never a dict).

The stored JSON (``RoundResult.computed``) is parsed here, once per load, and only here; the
pages, reports, API, exports and survey pages read attributes of what these functions return.
There is one rule for "the previous round" (``previous_shown``), used by the results page, the
team report (page, PDF and batch) and the engine's comparison alike.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Mapped
from sqlmodel import Session, col, select

from app.models import AssessmentRound, RoundResult, RoundStatus
from app.results.model import TeamResult, parse_stored

ORIGINAL = "original"


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
    """Store ``result`` in ``row`` (the caller adds and flushes it)."""
    row.computed = result.to_data()


def load_row(session: Session, round_id: int, label: str = ORIGINAL) -> RoundResult | None:
    return session.exec(
        select(RoundResult).where(RoundResult.round_id == round_id, RoundResult.label == label)
    ).first()


def load_result(session: Session, round_id: int, label: str = ORIGINAL) -> TeamResult | None:
    """The round's stored result under ``label`` ("original", or a rescore's label)."""
    row = load_row(session, round_id, label)
    return None if row is None else result_of(row)


def latest_visible(session: Session, team_id: int) -> TeamResult | None:
    """The team's newest closed round's original result, when the anonymity rule lets it show."""
    rows = session.exec(
        select(RoundResult)
        .join(AssessmentRound, col(AssessmentRound.id) == col(RoundResult.round_id))
        .where(
            AssessmentRound.team_id == team_id,
            AssessmentRound.status == RoundStatus.closed,
            RoundResult.label == ORIGINAL,
        )
        .order_by(col(AssessmentRound.created_at).desc())
    ).all()
    for row in rows:
        result = result_of(row)
        if result.visible:
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
    that has an original result, when the anonymity rule lets that result show.

    A round still below its threshold must not appear through the next round's chart, report
    or comparison, so then there is no previous round (an older one is not used instead).
    Who is looking does not matter: visibility is the anonymity rule's alone.
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
    result = result_of(row)
    if not result.visible:
        return None
    return ShownResult(round=earlier, row=row, result=result)
