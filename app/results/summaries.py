"""Dashboard summaries: the small rows that dashboards and exports aggregate in SQL.

A stored team result (``RoundResult.computed``) is ~100 KB of JSON; parsing a thousand of them
per page view would take seconds. So each closed round's original result is summarised once
into three small tables (``app.models.ResultSummary``, ``ResultDimension``, ``ResultFact``),
and dashboards run GROUP BY queries over those (``app.dashboards.queries``). The summaries are
derived data: ``refresh`` rebuilds every summary whose result changed (another
``computed_at``, ``final``, respondent count or closing date) or is missing, and drops those
whose round is no longer closed, so the database never needs anything else kept in step.

What is taken from a result, and how, mirrors ``app.reports.org.aggregate`` (the organisation
report), so the dashboard and the PDF count the same things: a team's trajectory label, its
top process model, its handoff level per artifact, its Now upgrades with their owners, its
perception gaps (once per title, largest first), and per practice dimension its band or level.
Dimension scores, coverage and the number of respondents behind them are aggregated from the
per-response scores (``ResponseScore``), which is also what the result's team score is (the
mean of the respondents' scores).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import mean
from typing import Any, Final

from sqlalchemy import case, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.models import (
    AssessmentRound,
    ResponseScore,
    ResultDimension,
    ResultFact,
    ResultSummary,
    RoundResult,
    RoundStatus,
    Team,
)
from app.reports.context import humanise
from app.rubric.output import NO_RECOMMENDATION, recommended_model

logger = logging.getLogger(__name__)

ORIGINAL: Final = "original"
BATCH: Final = 200  # results rebuilt per round trip

# ResultFact kinds
LEVEL: Final = "level"  # key: artifact id ("overall" for the whole handoff); value: the level
# key: practice id; label: its title; detail: its owner roles, comma-separated; position: order
UPGRADE: Final = "upgrade"
GAP: Final = "gap"  # key: question or dimension id; label: title; detail: dimension; value: size
OVERALL: Final = "overall"
OVERALL_TITLE: Final = "Overall"


def period_of(moment: datetime) -> str:
    """The quarter of a UTC timestamp, as the organisation report writes it ("2026 Q3")."""
    return f"{moment.year:04d} Q{(moment.month - 1) // 3 + 1}"


def cell_label(dimension: Mapping[str, Any]) -> str:
    """What a team's cell says beside its score: the band, or the handoff level."""
    if dimension.get("band"):
        return str(dimension["band"]["label"])
    if dimension.get("level") is not None:
        return f"Level {dimension['level']}"
    return ""


@dataclass(frozen=True, slots=True)
class Cell:
    """A team's dimension aggregated from its respondents' stored scores."""

    score: float | None
    respondents: int  # respondents with a score
    coverage: float


@dataclass(frozen=True, slots=True)
class Source:
    """What one summary is built from: the result row and its round."""

    result_id: int
    round_id: int
    team_id: int
    organisation_id: int
    unit_id: int | None
    computed_at: datetime
    final: bool
    respondents: int
    closed_at: datetime
    mode: str
    kind: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Rows:
    summary: dict[str, Any]
    dimensions: list[dict[str, Any]]
    facts: list[dict[str, Any]]


def summarise(source: Source, cells: Mapping[str, Cell]) -> Rows:
    """The summary rows of one result (pure: no database)."""
    data = source.data
    top = recommended_model(data)
    model_name = next(
        (m["name"] for m in data.get("process_models", ()) if m["id"] == top),
        humanise(top) if top else NO_RECOMMENDATION,
    )
    changes = [
        value
        for value in ((data.get("comparison") or {}).get("dimensions") or {}).values()
        if value is not None
    ]
    handoff = data.get("handoff")
    summary = {
        "result_id": source.result_id,
        "round_id": source.round_id,
        "team_id": source.team_id,
        "organisation_id": source.organisation_id,
        "unit_id": source.unit_id,
        "computed_at": source.computed_at,
        "final": source.final,
        "respondents": source.respondents,
        "closed_at": source.closed_at,
        "period": period_of(source.closed_at),
        "latest": False,  # set for the whole organisation by _mark_latest
        "latest_in_period": False,
        "mode": source.mode,
        "kind": source.kind,
        "trajectory": data["trajectory"]["label"],
        "fit": data["trajectory"].get("fit") or "unknown",
        "model_id": top or "",
        "model_name": model_name,
        "handoff_level": handoff["level"] if handoff else None,
        "change": round(mean(changes), 1) if changes else None,
    }
    dimensions = []
    practice_dimensions = [
        (dimension_id, raw)
        for dimension_id, raw in data["dimensions"].items()
        if raw.get("sub_dimensions")  # practice instruments; trajectory is a type, not a score
    ]
    for position, (dimension_id, raw) in enumerate(practice_dimensions):
        cell = cells.get(dimension_id, Cell(None, 0, 0.0))
        dimensions.append(
            {
                "result_id": source.result_id,
                "dimension": dimension_id,
                "title": raw["title"],
                "position": position,
                "score": cell.score,
                "coverage": cell.coverage,
                "respondents": cell.respondents,
                "band": raw["band"]["label"] if raw.get("band") else "",
                "label": cell_label(raw),
            }
        )
    facts: list[dict[str, Any]] = []

    def fact(kind: str, key: str, label: str, **more: Any) -> None:
        facts.append(
            {"result_id": source.result_id, "kind": kind, "key": key, "label": label}
            | {"detail": "", "position": 0, "value": None, "respondents": 0}
            | more
        )

    if handoff:
        level_dimension = next(
            (d for d, raw in practice_dimensions if raw.get("level") is not None), ""
        )
        # a level rests on the answers of the respondents of its dimension
        level_respondents = cells.get(level_dimension, Cell(None, 0, 0.0)).respondents
        for position, (artifact_id, artifact) in enumerate(handoff["artifacts"].items()):
            fact(
                LEVEL,
                artifact_id,
                artifact["title"],
                detail=level_dimension,
                position=position,
                value=float(artifact["level"]),
                respondents=level_respondents,
            )
        fact(
            LEVEL,
            OVERALL,
            OVERALL_TITLE,
            detail=level_dimension,
            position=len(handoff["artifacts"]),
            value=float(handoff["level"]),
            respondents=level_respondents,
        )
    for position, practice in enumerate(data["roadmap"]["now"]):
        fact(
            UPGRADE,
            practice["practice"],
            practice["title"],
            detail=",".join(practice["owners"]),
            position=position,
        )
    seen: set[str] = set()
    for gap in data["perception_gaps"]:
        if gap["title"] in seen:
            continue  # the first (largest) gap of a title counts, as in the organisation report
        seen.add(gap["title"])
        dimension_title = (
            data["dimensions"].get(gap["dimension"], {}).get("title", humanise(gap["dimension"]))
        )
        fact(
            GAP,
            gap["subject"],
            gap["title"],
            detail=dimension_title,
            position=len(seen),
            value=float(gap["size"]),
        )
    return Rows(summary=summary, dimensions=dimensions, facts=facts)


# ---------------------------------------------------------------- keeping them current


def stale_results(*, session: Session, organisation_id: int) -> tuple[list[int], list[int]]:
    """(results whose summary is missing or out of date, summaries to drop) of an organisation."""
    summary = ResultSummary.__table__  # type: ignore[attr-defined]
    result = RoundResult.__table__  # type: ignore[attr-defined]
    rounds = AssessmentRound.__table__  # type: ignore[attr-defined]
    teams = Team.__table__  # type: ignore[attr-defined]
    changed: Sequence[int] = (
        session.execute(
            select(result.c.id)
            .join(rounds, rounds.c.id == result.c.round_id)
            .join(teams, teams.c.id == rounds.c.team_id)
            .outerjoin(summary, summary.c.result_id == result.c.id)
            .where(
                teams.c.organisation_id == organisation_id,
                result.c.label == ORIGINAL,
                rounds.c.status == RoundStatus.closed,
                rounds.c.closed_at.is_not(None),
                or_(
                    summary.c.result_id.is_(None),
                    summary.c.computed_at != result.c.computed_at,
                    summary.c.final != result.c.final,
                    summary.c.respondents != result.c.respondent_count,
                    summary.c.closed_at != rounds.c.closed_at,
                ),
            )
        )
        .scalars()
        .all()
    )
    gone: Sequence[int] = (
        session.execute(
            select(summary.c.result_id)
            .join(rounds, rounds.c.id == summary.c.round_id)
            .where(
                summary.c.organisation_id == organisation_id,
                or_(rounds.c.status != RoundStatus.closed, rounds.c.closed_at.is_(None)),
            )
        )
        .scalars()
        .all()
    )
    return list(changed), list(gone)


def _cells(session: Session, round_ids: Sequence[int]) -> dict[int, dict[str, Cell]]:
    scores = ResponseScore.__table__  # type: ignore[attr-defined]
    rows: Sequence[Any] = session.execute(
        select(
            scores.c.round_id,
            scores.c.dimension,
            func.avg(scores.c.score),
            func.count(scores.c.score),
            func.avg(scores.c.coverage),
        )
        .where(scores.c.round_id.in_(round_ids), scores.c.sub_dimension == "")
        .group_by(scores.c.round_id, scores.c.dimension)
    ).all()
    cells: dict[int, dict[str, Cell]] = {}
    for round_id, dimension, average, count, coverage in rows:
        cells.setdefault(round_id, {})[dimension] = Cell(
            None if average is None else float(average), int(count), float(coverage or 0.0)
        )
    return cells


def _sources(session: Session, result_ids: Sequence[int]) -> list[Source]:
    result = RoundResult.__table__  # type: ignore[attr-defined]
    rounds = AssessmentRound.__table__  # type: ignore[attr-defined]
    teams = Team.__table__  # type: ignore[attr-defined]
    rows: Sequence[Any] = session.execute(
        select(
            result.c.id,
            result.c.round_id,
            rounds.c.team_id,
            teams.c.organisation_id,
            teams.c.business_unit_id,
            result.c.computed_at,
            result.c.final,
            result.c.respondent_count,
            rounds.c.closed_at,
            rounds.c.mode,
            rounds.c.kind,
            result.c.computed,
        )
        .join(rounds, rounds.c.id == result.c.round_id)
        .join(teams, teams.c.id == rounds.c.team_id)
        .where(result.c.id.in_(result_ids))
    ).all()
    return [Source(*row) for row in rows]


def _store(session: Session, result_ids: Sequence[int]) -> int:
    sources = _sources(session, result_ids)
    cells = _cells(session, [source.round_id for source in sources])
    built = [summarise(source, cells.get(source.round_id, {})) for source in sources]
    session.execute(delete(ResultSummary).where(col(ResultSummary.result_id).in_(result_ids)))
    if built:
        session.execute(insert(ResultSummary), [rows.summary for rows in built])
        dimensions = [row for rows in built for row in rows.dimensions]
        facts = [row for rows in built for row in rows.facts]
        if dimensions:
            session.execute(insert(ResultDimension), dimensions)
        if facts:
            session.execute(insert(ResultFact), facts)
    return len(built)


def _mark_latest(session: Session, organisation_id: int) -> None:
    """Flag each team's latest summarised round, overall and per quarter."""
    summary = ResultSummary.__table__  # type: ignore[attr-defined]

    def ranked(*partition: Any) -> Any:
        inner = (
            select(
                summary.c.result_id,
                func.row_number()
                .over(
                    partition_by=partition,
                    order_by=(summary.c.closed_at.desc(), summary.c.round_id.desc()),
                )
                .label("rank"),
            )
            .where(summary.c.organisation_id == organisation_id)
            .subquery()
        )
        return select(inner.c.result_id).where(inner.c.rank == 1)

    session.execute(
        update(summary)
        .where(summary.c.organisation_id == organisation_id)
        .values(
            latest=summary.c.result_id.in_(ranked(summary.c.team_id)),
            latest_in_period=summary.c.result_id.in_(ranked(summary.c.team_id, summary.c.period)),
        )
    )


def fingerprint(session: Session) -> tuple[Any, ...]:
    """A cheap digest of everything ``stale_results`` looks at, over the whole installation
    (covering indexes only): stored results, closed rounds, teams and their units."""
    result = RoundResult.__table__  # type: ignore[attr-defined]
    rounds = AssessmentRound.__table__  # type: ignore[attr-defined]
    teams = Team.__table__  # type: ignore[attr-defined]
    unit = func.coalesce(teams.c.business_unit_id, 0)
    results = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(result.c.id), 0),
            func.coalesce(func.sum(result.c.respondent_count), 0),
            func.max(result.c.computed_at),
            func.coalesce(func.sum(case((result.c.final, 1), else_=0)), 0),
        ).where(result.c.label == ORIGINAL)
    ).one()
    closed = session.execute(
        select(
            func.count(), func.max(rounds.c.closed_at), func.coalesce(func.sum(rounds.c.id), 0)
        ).where(rounds.c.status == RoundStatus.closed)
    ).one()
    units = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(unit), 0),
            func.coalesce(func.sum(unit * teams.c.id), 0),
        )
    ).one()
    return (*results, *closed, *units)


def _own_digest(session: Session, organisation_id: int) -> tuple[Any, ...]:
    """The organisation's summaries themselves (so a rolled-back rebuild is noticed)."""
    summary = ResultSummary.__table__  # type: ignore[attr-defined]
    return tuple(
        session.execute(
            select(func.count(), func.coalesce(func.sum(summary.c.result_id), 0)).where(
                summary.c.organisation_id == organisation_id
            )
        ).one()
    )


# organisations whose summaries were last found current, by database and fingerprint. Only an
# optimisation: a process that has not seen the fingerprint checks the summaries themselves,
# and an entry is made only after a check that found nothing to rebuild (never after writes a
# rollback could undo).
_current: dict[tuple[str, int], tuple[Any, ...]] = {}
_current_lock = threading.Lock()


def _sync_units(session: Session, organisation_id: int) -> int:
    """Move summaries along with teams that changed business unit."""
    summary = ResultSummary.__table__  # type: ignore[attr-defined]
    teams = Team.__table__  # type: ignore[attr-defined]
    unit_of_team = (
        select(teams.c.business_unit_id).where(teams.c.id == summary.c.team_id).scalar_subquery()
    )
    moved = session.execute(
        update(summary)
        .where(
            summary.c.organisation_id == organisation_id,
            summary.c.unit_id.is_distinct_from(unit_of_team),
        )
        .values(unit_id=unit_of_team)
    )
    return int(moved.rowcount or 0)  # type: ignore[attr-defined]


def refresh(*, session: Session, organisation_id: int) -> int:
    """Bring the organisation's summaries up to date; returns how many were rebuilt.

    Cheap when nothing changed (a fingerprint over covering indexes). Safe to run
    concurrently: if another request stored the same summaries first, this one's savepoint
    is rolled back and the other's rows are used.
    """
    key = (session.connection().engine.url.render_as_string(), organisation_id)
    digest = (*fingerprint(session), *_own_digest(session, organisation_id))
    with _current_lock:
        if _current.get(key) == digest:
            return 0
    changed, gone = stale_results(session=session, organisation_id=organisation_id)
    built = 0
    try:
        with session.begin_nested():
            if gone:
                session.execute(delete(ResultSummary).where(col(ResultSummary.result_id).in_(gone)))
            for start in range(0, len(changed), BATCH):
                built += _store(session, changed[start : start + BATCH])
            moved = _sync_units(session, organisation_id)
            if changed or gone:
                _mark_latest(session, organisation_id)
    except IntegrityError:
        logger.info("organisation %s: summaries were refreshed concurrently", organisation_id)
        return 0
    if built:
        logger.info("rebuilt %d dashboard summaries of organisation %s", built, organisation_id)
    if not (changed or gone or moved):
        with _current_lock:
            if len(_current) > 10_000:
                _current.clear()
            _current[key] = digest
    return built
