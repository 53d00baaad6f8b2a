"""Dashboard summaries: the small rows of a stored result that organisation views count in SQL.

A stored team result is ~100 KB of JSON; parsing a thousand of them
per page view would take seconds. So each closed round's original result is summarised into
three small tables (``app.models.ResultSummary``, ``ResultDimension``, ``ResultFact``) *when it
is stored*, in the same transaction (``store``, called by ``store_round_result``), and the
organisation dashboard and report run GROUP BY queries over those
(``app.dashboards.queries``) without writing anything. ``rebuild`` brings an organisation's
summaries in step after changes that bypass storing a result (a restored backup, a team moved
to another business unit); ``backfill`` does it for every organisation at startup.

What is taken from a result: a team's trajectory label, its top process model, its handoff
level per artifact, its Now upgrades with their owners, its perception gaps (once per title,
largest first), and per practice dimension its band or level. Dimension scores, coverage and
the number of respondents behind them are aggregated from the per-response scores
(``ResponseScore``), which is also what the result's team score is (the mean of the
respondents' scores).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import mean
from typing import Any, Final

from sqlalchemy import ColumnElement, Engine, delete, func, insert, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col

from app import migrate
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
from app.results import model, reads
from app.rubric.output import NO_RECOMMENDATION

logger = logging.getLogger(__name__)
_summary = ResultSummary.__table__  # type: ignore[attr-defined]


def humanise(identifier: str) -> str:
    """An id as words, as ``app.reports.context.humanise`` writes it (results sit below
    reports, so they cannot import it)."""
    text = identifier.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


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


def cell_label(dimension: model.Dimension) -> str:
    """What a team's cell says beside its score: the band, or the handoff level."""
    if dimension.band is not None:
        return dimension.band.label
    if dimension.level is not None:
        return f"Level {dimension.level}"
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
    result: model.TeamResult


@dataclass(frozen=True, slots=True)
class Rows:
    summary: dict[str, Any]
    dimensions: list[dict[str, Any]]
    facts: list[dict[str, Any]]


# long: a flat table: the summary rows of one result, one block per kind of row
def summarise(source: Source, cells: Mapping[str, Cell]) -> Rows:
    """The summary rows of one result (pure: no database)."""
    result = source.result
    top = result.recommendation.model_id
    model_name = next(
        (m.name for m in result.process_models if m.id == top),
        humanise(top) if top else NO_RECOMMENDATION,
    )
    changes = [
        value
        for value in (result.comparison.dimensions if result.comparison else {}).values()
        if value is not None
    ]
    handoff = result.handoff
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
        "latest": False,  # set for the whole team by _mark_latest
        "latest_in_period": False,
        "mode": source.mode,
        "kind": source.kind,
        "trajectory": result.trajectory.label,
        "fit": result.trajectory.fit or "unknown",
        "model_id": top or "",
        "model_name": model_name,
        "handoff_level": handoff.level if handoff else None,
        "change": round(mean(changes), 1) if changes else None,
    }
    dimensions = []
    practice_dimensions = [
        (dimension_id, dimension)
        for dimension_id, dimension in result.dimensions.items()
        if dimension.sub_dimensions  # practice instruments; trajectory is a type, not a score
    ]
    for position, (dimension_id, dimension) in enumerate(practice_dimensions):
        cell = cells.get(dimension_id, Cell(None, 0, 0.0))
        dimensions.append(
            {
                "result_id": source.result_id,
                "dimension": dimension_id,
                "title": dimension.title,
                "position": position,
                "score": cell.score,
                "coverage": cell.coverage,
                "respondents": cell.respondents,
                "band": dimension.band.label if dimension.band else "",
                "label": cell_label(dimension),
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
            (d for d, dimension in practice_dimensions if dimension.level is not None), ""
        )
        # a level rests on the answers of the respondents of its dimension
        level_respondents = cells.get(level_dimension, Cell(None, 0, 0.0)).respondents
        for position, (artifact_id, artifact) in enumerate(handoff.artifacts.items()):
            fact(
                LEVEL,
                artifact_id,
                artifact.title,
                detail=level_dimension,
                position=position,
                value=float(artifact.level),
                respondents=level_respondents,
            )
        fact(
            LEVEL,
            OVERALL,
            OVERALL_TITLE,
            detail=level_dimension,
            position=len(handoff.artifacts),
            value=float(handoff.level),
            respondents=level_respondents,
        )
    for position, practice in enumerate(result.roadmap.now):
        fact(
            UPGRADE,
            practice.practice,
            practice.title,
            detail=",".join(practice.owners),
            position=position,
        )
    seen: set[str] = set()
    for gap in result.perception_gaps:
        if gap.title in seen:
            continue  # the first (largest) gap of a title counts
        seen.add(gap.title)
        gap_dimension = result.dimensions.get(gap.dimension)
        fact(
            GAP,
            gap.subject,
            gap.title,
            detail=gap_dimension.title if gap_dimension else humanise(gap.dimension),
            position=len(seen),
            value=float(gap.size),
        )
    return Rows(summary=summary, dimensions=dimensions, facts=facts)


# ---------------------------------------------------------------- writing them


def store(*, session: Session, result: RoundResult) -> None:
    """Write the summary of a result just stored (and flushed), in the caller's transaction.

    Built from the stored row as read back (on PostgreSQL a JSONB object keeps its keys in
    its own order, and the summary's positions follow what ``rebuild`` reads); dropped when
    the round is not closed, since organisation views count closed rounds only; and the
    team's latest rounds flagged again. A rescore (another label) has no summary.
    """
    if result.label != ORIGINAL or result.id is None:
        return
    _store(session, [result.id])
    rounds = AssessmentRound.__table__  # type: ignore[attr-defined]
    teams = Team.__table__  # type: ignore[attr-defined]
    team_id: int = session.execute(
        select(rounds.c.team_id).where(rounds.c.id == result.round_id)
    ).scalar_one()
    # two rounds of one team stored at once (PostgreSQL) flag the latest one after the other,
    # each seeing the other's summary; SQLite's write transactions are serial anyway
    session.execute(select(teams.c.id).where(teams.c.id == team_id).with_for_update())
    _mark_latest(session, _summary.c.team_id == team_id)


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
            reads.stored_column(),
        )
        .join(rounds, rounds.c.id == result.c.round_id)
        .join(teams, teams.c.id == rounds.c.team_id)
        .where(
            result.c.id.in_(result_ids),
            rounds.c.status == RoundStatus.closed,
            rounds.c.closed_at.is_not(None),
        )
    ).all()
    make: Any = Source  # the columns above, in the dataclass's field order
    sources = []
    for row in rows:
        try:
            result = reads.parse_column(row[-1])
        except (ValueError, KeyError, TypeError):  # pydantic's ValidationError is a ValueError
            # one unreadable stored result costs its own summary (logged at every start-up),
            # never the start-up or the other organisations' summaries
            logger.error("stored result %s cannot be read: it has no dashboard summary", row[0])
            continue
        sources.append(make(*row[:-1], result))
    return sources


def _insert(session: Session, built: Sequence[Rows]) -> None:
    if not built:
        return
    session.execute(insert(ResultSummary), [rows.summary for rows in built])
    dimensions = [row for rows in built for row in rows.dimensions]
    facts = [row for rows in built for row in rows.facts]
    if dimensions:
        session.execute(insert(ResultDimension), dimensions)
    if facts:
        session.execute(insert(ResultFact), facts)


def _store(session: Session, result_ids: Sequence[int]) -> int:
    """Summarise these results again (those of closed rounds; the others lose theirs)."""
    sources = _sources(session, result_ids)
    cells = _cells(session, [source.round_id for source in sources])
    built = [summarise(source, cells.get(source.round_id, {})) for source in sources]
    session.execute(delete(ResultSummary).where(col(ResultSummary.result_id).in_(result_ids)))
    _insert(session, built)
    return len(built)


def _mark_latest(session: Session, among: ColumnElement[bool]) -> None:
    """Flag each team's latest summarised round, overall and per quarter, among the summaries
    ``among`` selects (whole teams: one team, or an organisation)."""
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
            .where(among)
            .subquery()
        )
        return select(inner.c.result_id).where(inner.c.rank == 1)

    session.execute(
        update(summary)
        .where(among)
        .values(
            latest=summary.c.result_id.in_(ranked(summary.c.team_id)),
            latest_in_period=summary.c.result_id.in_(ranked(summary.c.team_id, summary.c.period)),
        )
    )


def _sync_units(session: Session, organisation_id: int) -> int:
    """Move summaries along with teams that changed business unit."""
    summary = ResultSummary.__table__  # type: ignore[attr-defined]
    teams = Team.__table__  # type: ignore[attr-defined]
    unit_of_team = (
        select(teams.c.business_unit_id).where(teams.c.id == summary.c.team_id).scalar_subquery()
    )
    moved = session.exec(
        update(summary)
        .where(
            summary.c.organisation_id == organisation_id,
            summary.c.unit_id.is_distinct_from(unit_of_team),
        )
        .values(unit_id=unit_of_team)
    )
    return int(moved.rowcount or 0)


def rebuild(*, session: Session, organisation_id: int) -> int:
    """Bring the organisation's summaries in step with its stored results, rounds and teams
    (for changes that bypass ``store``); returns how many were rebuilt. Never on a read."""
    changed, gone = stale_results(session=session, organisation_id=organisation_id)
    if gone:
        session.execute(delete(ResultSummary).where(col(ResultSummary.result_id).in_(gone)))
    built = 0
    for start in range(0, len(changed), BATCH):
        built += _store(session, changed[start : start + BATCH])
    moved = _sync_units(session, organisation_id)
    if changed or gone:
        _mark_latest(
            session,
            _summary.c.organisation_id == organisation_id,
        )
    if built or gone or moved:
        logger.info(
            "organisation %s: %d dashboard summaries rebuilt, %d dropped, %d moved",
            organisation_id,
            built,
            len(gone),
            moved,
        )
    return built


def backfill(*, session: Session) -> int:
    """``rebuild`` every organisation's summaries; returns how many were rebuilt in all.

    Runs at startup (``app.main``), after the schema is migrated and before anything is
    served, rather than as an Alembic data migration: it runs the very code that writes
    summaries with results against the schema that code expects (a data migration would
    freeze today's writer into the migration history, and a later change to these tables
    would break databases upgrading through it); it only touches what is missing or out of
    date, so it is cheap when there is nothing to do and simply resumes after a crash; and it
    also covers rows that reached the database another way (a database from before summaries
    were written with results, a backup restored by an older version).
    """
    teams = Team.__table__  # type: ignore[attr-defined]
    organisation_ids: Sequence[int] = (
        session.execute(select(teams.c.organisation_id).distinct()).scalars().all()
    )
    return sum(
        rebuild(session=session, organisation_id=organisation_id)
        for organisation_id in sorted(organisation_ids)
    )


def backfill_at_startup(sessions: sessionmaker[Session], engine: Engine) -> int:
    """``backfill`` in a transaction of its own, under the migration lock, so that several
    workers starting together build the missing summaries once."""
    try:
        with migrate.migration_lock(engine), sessions() as session:
            built = backfill(session=session)
            session.commit()
    except DBAPIError as error:
        # a read-only database (SQLite's ?mode=ro, PostgreSQL's default_transaction_read_only)
        # still serves: its dashboards lack what is missing until a writable start builds it
        if not _read_only(error):
            raise
        logger.warning("the database is read-only: missing dashboard summaries are not built")
        return 0
    if built:
        logger.info("built %d missing or out-of-date dashboard summaries", built)
    return built


def _read_only(error: DBAPIError) -> bool:
    message = str(error.orig).lower()
    return "readonly database" in message or "read-only transaction" in message
