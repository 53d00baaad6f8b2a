"""Dashboard queries: aggregates in SQL over the summaries of stored results, as plain rows.

Everything here reads ``result_summary``, ``result_dimension`` and ``result_fact`` (written
with each stored result by ``app.results.summaries``) and returns frozen dataclasses; nothing
here writes. Counting,
summing and grouping happen in the database; Python only receives a few rows per chart, so a
dashboard over 1,000 teams moves a few hundred rows, not the teams' results.

- A ``Selection`` is per team its latest closed round inside the chosen quarters (optionally
  only the teams of one business unit): ``latest``.
- A ``Scope`` narrows a selection to what may be shown and matches the data filters: the
  teams the anonymity rules hide are left out by id, and a cell (team x dimension) counts
  only with ``visible_from`` respondents with a score behind it, or in a solo round. Both
  numbers come from ``app.rubric.anonymity`` via ``app.dashboards.service``; nothing here
  decides what is shown.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Subquery,
    and_,
    case,
    exists,
    func,
    or_,
    select,
    text,
    true,
)
from sqlmodel import Session

from app.models import (
    AssessmentRound,
    BusinessUnit,
    ResultDimension,
    ResultFact,
    ResultSummary,
    RoundResult,
    Target,
    Team,
)
from app.natural_sort import natural_key
from app.results import summaries

_summary = ResultSummary.__table__  # type: ignore[attr-defined]
_dimension = ResultDimension.__table__  # type: ignore[attr-defined]
_fact = ResultFact.__table__  # type: ignore[attr-defined]
_team = Team.__table__  # type: ignore[attr-defined]
_unit = BusinessUnit.__table__  # type: ignore[attr-defined]
_round = AssessmentRound.__table__  # type: ignore[attr-defined]
_target = Target.__table__  # type: ignore[attr-defined]
_result = RoundResult.__table__  # type: ignore[attr-defined]

SOLO = "solo"
# a team whose trajectory is not known gets no recommended process on organisation views
UNKNOWN_TRAJECTORY = "Unknown"
LOW_COVERAGE = 0.6  # the engine warns below this coverage too (app.rubric.assessment)
Order = Literal["name", "score_high", "score_low"]


@dataclass(frozen=True, slots=True)
class Selection:
    organisation_id: int
    period_from: str | None = None  # "2026 Q1"; quarters compare as text
    period_to: str | None = None
    unit_id: int | None = None


@dataclass(frozen=True, slots=True)
class Scope:
    """The part of a selection a view shows (see the module docstring)."""

    selection: Selection
    visible_from: int  # respondents a cell needs (team surveys)
    hidden_teams: frozenset[int] = frozenset()
    # results holding the viewer's own response: a cell of one needs one respondent more,
    # as the viewer's own answer never counts for them
    own_results: frozenset[int] = frozenset()
    # results of rounds left out for the viewer outright (their own response and fewer than
    # the larger of k and the organisation minimum others): the trend skips them whole
    left_out_results: frozenset[int] = frozenset()
    model: str | None = None
    band: tuple[str, str] | None = None  # (dimension, cell label)
    search: str | None = None  # part of a team's name, any case


# ---------------------------------------------------------------- rows


@dataclass(frozen=True, slots=True)
class Member:
    """A team of the selection, with what the anonymity rules need to know about it."""

    team_id: int
    result_id: int
    mode: str
    respondents: int
    round_id: int
    threshold: int  # the round's own k


@dataclass(frozen=True, slots=True)
class CellRow:
    dimension: str
    score: float | None
    label: str
    coverage: float
    respondents: int


@dataclass(frozen=True, slots=True)
class TeamRow:
    """A team's latest summarised result, with its dimension cells."""

    result_id: int
    round_id: int
    team_id: int
    team: str
    unit: str | None
    closed_at: datetime
    mode: str
    kind: str
    respondents: int
    trajectory: str
    fit: str
    model_name: str
    handoff_level: int | None
    change: float | None
    rank: int  # 1-based position in the order asked for
    cells: dict[str, CellRow] = field(default_factory=dict)

    @property
    def date(self) -> str:
        return self.closed_at.date().isoformat()


@dataclass(frozen=True, slots=True)
class DimensionGroup:
    """Shown cells of one business unit and dimension with one label (band or level)."""

    unit_id: int | None
    dimension: str
    title: str
    position: int
    label: str
    band: str
    cells: int
    scored: int
    score_sum: float
    low_coverage: int  # cells below LOW_COVERAGE or without a score


@dataclass(frozen=True, slots=True)
class LowCoverage:
    dimension: str
    team: str
    coverage: float
    scored: bool


@dataclass(frozen=True, slots=True)
class MixRow:
    unit_id: int | None
    trajectory: str
    model_id: str
    model_name: str
    teams: int
    respondents: int


@dataclass(frozen=True, slots=True)
class Count:
    key: str
    label: str
    detail: str
    count: int
    mean: float | None = None
    position: int = 0


@dataclass(frozen=True, slots=True)
class TrendRow:
    unit_id: int | None
    period: str
    dimension: str
    score_sum: float
    scored: int


# ---------------------------------------------------------------- the selection and scope


def _period_clause(selection: Selection) -> list[ColumnElement[bool]]:
    conditions = []
    if selection.period_from:
        conditions.append(_summary.c.period >= selection.period_from)
    if selection.period_to:
        conditions.append(_summary.c.period <= selection.period_to)
    return conditions


def latest(selection: Selection) -> Subquery:
    """Per team, its latest summarised (closed) round inside the selection's quarters:
    (result_id, team_id, unit_id, mode, respondents).

    Without quarters this is the ``latest`` flag kept by ``app.results.summaries``; with them, the
    latest of the team's per-quarter latest rounds in the range.
    """
    columns = (
        _summary.c.result_id,
        _summary.c.team_id,
        _summary.c.unit_id,
        _summary.c.mode,
        _summary.c.respondents,
    )
    units = [] if selection.unit_id is None else [_summary.c.unit_id == selection.unit_id]
    if not selection.period_from and not selection.period_to:
        return (
            select(*columns)
            .where(
                _summary.c.organisation_id == selection.organisation_id,
                _summary.c.latest == true(),
                *units,
            )
            .subquery("latest")
        )
    ranked = (
        select(
            *columns,
            func.row_number()
            .over(
                partition_by=_summary.c.team_id,
                order_by=(_summary.c.closed_at.desc(), _summary.c.round_id.desc()),
            )
            .label("rank"),
        )
        .where(
            _summary.c.organisation_id == selection.organisation_id,
            _summary.c.latest_in_period == true(),
            *_period_clause(selection),
            *units,
        )
        .subquery("ranked")
    )
    return (
        select(
            ranked.c.result_id,
            ranked.c.team_id,
            ranked.c.unit_id,
            ranked.c.mode,
            ranked.c.respondents,
        )
        .where(ranked.c.rank == 1)
        .subquery("latest")
    )


def _narrowed(scope: Scope) -> bool:
    return bool(scope.hidden_teams or scope.model or scope.band is not None or scope.search)


def _like(words: str) -> str:
    """A LIKE pattern matching ``words`` anywhere (its own % and _ taken literally)."""
    escaped = words.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def scoped(scope: Scope) -> Subquery:
    """(result_id, team_id, unit_id, mode, respondents) of the teams a view shows."""
    chosen = latest(scope.selection)
    if not _narrowed(scope):
        return chosen
    conditions: list[ColumnElement[bool]] = []
    if scope.hidden_teams:
        conditions.append(chosen.c.team_id.not_in(sorted(scope.hidden_teams)))
    if scope.model:
        conditions.append(
            chosen.c.result_id.in_(
                select(_summary.c.result_id).where(
                    _summary.c.model_id == scope.model,
                    _summary.c.trajectory != UNKNOWN_TRAJECTORY,
                )
            )
        )
    if scope.search:
        conditions.append(
            chosen.c.team_id.in_(
                select(_team.c.id).where(
                    func.lower(_team.c.name).like(_like(scope.search), escape="\\")
                )
            )
        )
    if scope.band is not None:
        dimension_id, label = scope.band
        cell = _dimension.alias("filter_cell")
        conditions.append(
            exists().where(
                cell.c.result_id == chosen.c.result_id,
                cell.c.dimension == dimension_id,
                cell.c.label == label,
                _visible(scope, cell.c.respondents, chosen.c.mode, cell.c.result_id),
            )
        )
    return (
        select(
            chosen.c.result_id,
            chosen.c.team_id,
            chosen.c.unit_id,
            chosen.c.mode,
            chosen.c.respondents,
        )
        .where(*conditions)
        .subquery("scope")
    )


def _visible(scope: Scope, respondents: Any, mode: Any, result_id: Any) -> ColumnElement[bool]:
    if scope.own_results:
        own = case((result_id.in_(sorted(scope.own_results)), 1), else_=0)
        return or_(respondents - own >= scope.visible_from, mode == SOLO)
    return or_(respondents >= scope.visible_from, mode == SOLO)


def tune(session: Session) -> None:
    """Tell PostgreSQL's planner, for this transaction, that random reads are cheap.

    The dashboard joins a thousand latest results to their facts; with the default cost of a
    random page read the planner scans the whole fact table instead of reading each result's
    facts from the covering index, which on a cached database is three times slower.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL random_page_cost = 1.1"))


@dataclass(frozen=True, slots=True)
class Summarised:
    """A summarised team survey, with what the anonymity rules need to know about it."""

    round_id: int
    result_id: int
    mode: str
    respondents: int
    threshold: int  # the round's own k


def summarised_round_ids(*, session: Session, organisation_id: int) -> list[int]:
    """Every summarised team survey of the organisation, by id: the rounds an organisation
    view may draw on (the trend reaches past each team's latest)."""
    return list(
        session.execute(
            select(_summary.c.round_id).where(
                _summary.c.organisation_id == organisation_id, _summary.c.mode != SOLO
            )
        ).scalars()
    )


def summarised_rounds(
    *, session: Session, organisation_id: int, round_ids: Collection[int]
) -> list[Summarised]:
    """The organisation's summarised team surveys among ``round_ids`` (of
    ``summarised_round_ids``: the rounds an organisation view may draw on, the trend reaching
    past each team's latest), with what the rules count them by."""
    rows: Sequence[Any] = session.execute(
        select(
            _summary.c.round_id,
            _summary.c.result_id,
            _summary.c.mode,
            _summary.c.respondents,
            _round.c.results_min,
        )
        .join(_round, _round.c.id == _summary.c.round_id)
        .where(
            _summary.c.organisation_id == organisation_id,
            _summary.c.mode != SOLO,
            _summary.c.round_id.in_(sorted(round_ids)),
        )
    ).all()
    return [Summarised(int(r), int(res), str(m), int(n), int(k)) for r, res, m, n, k in rows]


def members(*, session: Session, selection: Selection) -> list[Member]:
    """Every team of the selection, for the anonymity rules."""
    chosen = latest(selection)
    rows: Sequence[Any] = session.execute(
        select(
            chosen.c.team_id,
            chosen.c.result_id,
            chosen.c.mode,
            chosen.c.respondents,
            _summary.c.round_id,
            _round.c.results_min,
        )
        .join(_summary, _summary.c.result_id == chosen.c.result_id)
        .join(_round, _round.c.id == _summary.c.round_id)
    ).all()
    return [Member(*row) for row in rows]


# ---------------------------------------------------------------- aggregates


def dimension_groups(*, session: Session, scope: Scope) -> list[DimensionGroup]:
    """Shown cells per business unit, dimension and label: counts, sums, low coverage."""
    shown = scoped(scope)
    low = case(
        (or_(_dimension.c.score.is_(None), _dimension.c.coverage < LOW_COVERAGE), 1), else_=0
    )
    unit = shown.c.unit_id
    rows: Sequence[Any] = session.execute(
        select(
            unit,
            _dimension.c.dimension,
            func.min(_dimension.c.title),
            func.min(_dimension.c.position),
            _dimension.c.label,
            _dimension.c.band,
            func.count(),
            func.count(_dimension.c.score),
            func.coalesce(func.sum(_dimension.c.score), 0.0),
            func.sum(low),
        )
        .select_from(shown)
        .join(_dimension, _dimension.c.result_id == shown.c.result_id)
        .where(_visible(scope, _dimension.c.respondents, shown.c.mode, _dimension.c.result_id))
        .group_by(unit, _dimension.c.dimension, _dimension.c.label, _dimension.c.band)
    ).all()
    return [
        DimensionGroup(u, d, t, int(p), label, band, int(n), int(k), float(total), int(lows or 0))
        for u, d, t, p, label, band, n, k, total, lows in rows
    ]


def low_coverage(*, session: Session, scope: Scope, limit: int) -> list[LowCoverage]:
    """Shown cells with little coverage (or no score), lowest first."""
    shown = scoped(scope)
    rows: Sequence[Any] = session.execute(
        select(
            _dimension.c.dimension,
            _team.c.name,
            _dimension.c.coverage,
            _dimension.c.score.is_not(None),
        )
        .select_from(shown)
        .join(_dimension, _dimension.c.result_id == shown.c.result_id)
        .join(_team, _team.c.id == shown.c.team_id)
        .where(
            _visible(scope, _dimension.c.respondents, shown.c.mode, _dimension.c.result_id),
            or_(_dimension.c.score.is_(None), _dimension.c.coverage < LOW_COVERAGE),
        )
        .order_by(_dimension.c.coverage, func.lower(_team.c.name), _team.c.id)
        .limit(limit)
    ).all()
    return [LowCoverage(d, name, float(cover), bool(scored)) for d, name, cover, scored in rows]


@dataclass(frozen=True)
class OlderRubricCount:
    """Teams a view shows whose latest round was scored under another rubric than a given
    one (the newest), and of those, teams whose round has a result rescored under it."""

    teams: int
    rescored: int


def older_rubric_count(
    *, session: Session, scope: Scope, newest: Mapping[str, str], rescore_label: str
) -> OlderRubricCount:
    """Grouped in SQL on the rounds' small rows (not the results' large ones): the stored
    JSON is text on SQLite and JSONB on PostgreSQL, so one set of files stored in two key
    orders may come as two groups, compared here as dicts. The rescored ones are counted
    only when there are older ones (the usual dashboard has none)."""
    shown = scoped(scope)
    versions = _round.c.rubric_versions
    joined = (
        select(versions, func.count())
        .select_from(shown)
        .join(_summary, _summary.c.result_id == shown.c.result_id)
        .join(_round, _round.c.id == _summary.c.round_id)
    )
    groups: Sequence[Any] = session.execute(joined.group_by(versions)).all()
    older = [stored for stored, _ in groups if dict(stored) != dict(newest)]
    if not older:
        return OlderRubricCount(0, 0)
    rescored: int = session.execute(
        joined.with_only_columns(func.count()).where(
            or_(*(versions == stored for stored in older)),
            exists().where(_result.c.round_id == _round.c.id, _result.c.label == rescore_label),
        )
    ).scalar_one()
    teams = sum(int(count) for stored, count in groups if dict(stored) != dict(newest))
    return OlderRubricCount(teams, int(rescored))


def mix(*, session: Session, scope: Scope) -> list[MixRow]:
    """Teams (and respondents) per business unit, trajectory and recommended process model."""
    shown = scoped(scope)
    unit = shown.c.unit_id
    rows: Sequence[Any] = session.execute(
        select(
            unit,
            _summary.c.trajectory,
            _summary.c.model_id,
            func.min(_summary.c.model_name),
            func.count(),
            func.sum(_summary.c.respondents),
        )
        .select_from(shown)
        .join(_summary, _summary.c.result_id == shown.c.result_id)
        .group_by(unit, _summary.c.trajectory, _summary.c.model_id)
    ).all()
    return [MixRow(u, t, m, name, int(n), int(r or 0)) for u, t, m, name, n, r in rows]


def _labels(session: Session, first_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """(label, detail) of facts by id: the counting reads only the index, labels come after."""
    if not first_ids:
        return {}
    rows: Sequence[Any] = session.execute(
        select(_fact.c.id, _fact.c.label, _fact.c.detail).where(_fact.c.id.in_(list(first_ids)))
    ).all()
    return {fact_id: (label, detail or "") for fact_id, label, detail in rows}


def fact_counts(
    *, session: Session, scope: Scope, limits: Mapping[str, int | None]
) -> dict[str, list[Count]]:
    """How many teams have each fact of the given kinds, in one pass over the facts.

    Per kind (a key of ``limits``): most teams first, then the largest mean value, then by
    key, cut at the kind's limit. Levels (``summaries.LEVEL``) are counted per artifact and
    level (``mean`` holds the level), and only where the respondents behind them may be shown.
    """
    shown = scoped(scope)
    level = case((_fact.c.kind == summaries.LEVEL, _fact.c.value), else_=None).label("level")
    rows: Sequence[Any] = session.execute(
        select(
            _fact.c.kind,
            _fact.c.key,
            level,
            func.count(),
            func.avg(_fact.c.value),
            func.min(_fact.c.position),
            func.min(_fact.c.id),
        )
        .select_from(shown)
        .join(
            _fact,
            and_(_fact.c.result_id == shown.c.result_id, _fact.c.kind.in_(list(limits))),
        )
        .where(
            or_(
                _fact.c.kind != summaries.LEVEL,
                _visible(scope, _fact.c.respondents, shown.c.mode, _fact.c.result_id),
            )
        )
        .group_by(_fact.c.kind, _fact.c.key, level)
    ).all()
    chosen: dict[str, list[Any]] = {kind: [] for kind in limits}
    for row in rows:
        chosen[row[0]].append(row)
    for kind, limit in limits.items():
        ordered = sorted(chosen[kind], key=lambda r: (-r[3], -(r[4] or 0.0), r[1], r[2] or 0))
        chosen[kind] = ordered if limit is None else ordered[:limit]
    labels = _labels(session, [row[6] for kept in chosen.values() for row in kept])
    return {
        kind: [
            Count(
                key,
                labels[first][0],
                labels[first][1],
                int(count),
                None if mean is None else float(mean),
                int(position),
            )
            for _, key, _, count, mean, position, first in kept
        ]
        for kind, kept in chosen.items()
    }


def trend(*, session: Session, scope: Scope) -> list[TrendRow]:
    """Per business unit, quarter and dimension: the sum and number of shown team scores of
    the scope's teams; a team counts once per quarter, with its latest round there."""
    unit = _summary.c.unit_id
    conditions: list[ColumnElement[bool]] = [
        _summary.c.organisation_id == scope.selection.organisation_id,
        _summary.c.latest_in_period == true(),
        *_period_clause(scope.selection),
        _dimension.c.score.is_not(None),
        _visible(scope, _dimension.c.respondents, _summary.c.mode, _dimension.c.result_id),
    ]
    if scope.selection.unit_id is not None:
        conditions.append(_summary.c.unit_id == scope.selection.unit_id)
    if scope.left_out_results:
        conditions.append(_summary.c.result_id.not_in(sorted(scope.left_out_results)))
    if _narrowed(scope):
        conditions.append(_summary.c.team_id.in_(select(scoped(scope).c.team_id)))
    rows: Sequence[Any] = session.execute(
        select(
            unit,
            _summary.c.period,
            _dimension.c.dimension,
            func.sum(_dimension.c.score),
            func.count(_dimension.c.score),
        )
        .select_from(_summary)
        .join(_dimension, _dimension.c.result_id == _summary.c.result_id)
        .where(*conditions)
        .group_by(unit, _summary.c.period, _dimension.c.dimension)
    ).all()
    return [TrendRow(u, p, d, float(total), int(n)) for u, p, d, total, n in rows]


def team_rows(
    *,
    session: Session,
    scope: Scope,
    order: Order,
    offset: int = 0,
    limit: int | None = None,
    only_teams: Sequence[int] | None = None,
) -> list[TeamRow]:
    """The scope's teams in ``order`` (by business unit and name, or by their mean shown
    score), ``limit`` of them from ``offset``, each with its cells (hidden ones included:
    the caller blanks them). ``only_teams``: just these of them (their ranks then count
    among themselves)."""
    shown = scoped(scope)
    if only_teams is not None:
        shown = select(shown).where(shown.c.team_id.in_(sorted(set(only_teams)))).subquery("only")
    ordering: list[Any]
    query = (
        select(
            _summary.c.result_id,
            _summary.c.round_id,
            _summary.c.team_id,
            _team.c.name,
            _unit.c.name,
            _summary.c.closed_at,
            _summary.c.mode,
            _summary.c.kind,
            _summary.c.respondents,
            _summary.c.trajectory,
            _summary.c.fit,
            _summary.c.model_name,
            _summary.c.handoff_level,
            _summary.c.change,
        )
        .select_from(shown)
        .join(_summary, _summary.c.result_id == shown.c.result_id)
        .join(_team, _team.c.id == shown.c.team_id)
        .outerjoin(_unit, _unit.c.id == _team.c.business_unit_id)
    )
    chosen_ids: list[int] | None = None
    if order == "name":
        chosen_ids = _in_natural_order(session, shown, offset=offset, limit=limit)
        if limit is not None:
            query = query.where(_summary.c.result_id.in_(chosen_ids))
        ordering = []
    else:
        overall = (
            select(_dimension.c.result_id, func.avg(_dimension.c.score).label("overall"))
            .select_from(shown)
            .join(_dimension, _dimension.c.result_id == shown.c.result_id)
            .where(_visible(scope, _dimension.c.respondents, shown.c.mode, _dimension.c.result_id))
            .group_by(_dimension.c.result_id)
            .subquery("overall")
        )
        query = query.outerjoin(overall, overall.c.result_id == _summary.c.result_id)
        mean_score = func.coalesce(overall.c.overall, 0.0)
        ordering = [mean_score.desc() if order == "score_high" else mean_score, _team.c.id]
    if chosen_ids is None:
        query = query.order_by(*ordering).offset(offset)
        if limit is not None:
            query = query.limit(limit)
    found: Sequence[Any] = session.execute(query).all()
    if chosen_ids is not None:
        place = {result_id: index for index, result_id in enumerate(chosen_ids)}
        found = sorted(found, key=lambda row: place[row[0]])
    make: Any = TeamRow  # the columns above, in the dataclass's field order
    rows: list[TeamRow] = [make(*row, rank=offset + index + 1) for index, row in enumerate(found)]
    if not rows:
        return rows
    _add_cells(session, shown, rows, paged=limit is not None)
    return rows


def _in_natural_order(session: Session, shown: Any, *, offset: int, limit: int | None) -> list[int]:
    """The result ids of one page of the scope's teams by unit and name in natural order
    ("Unit 2" before "Unit 10"), which SQL cannot sort portably: the names of the scope's
    teams (a few kilobytes for 1,000 teams) are sorted here, then only the page's rows read."""
    names: Sequence[Any] = session.execute(
        select(shown.c.result_id, _unit.c.name, _team.c.name, _team.c.id)
        .select_from(shown)
        .join(_team, _team.c.id == shown.c.team_id)
        .outerjoin(_unit, _unit.c.id == _team.c.business_unit_id)
    ).all()
    ordered = sorted(names, key=lambda r: (natural_key(r[1] or ""), natural_key(r[2]), r[3]))
    end = None if limit is None else offset + limit
    return [int(r[0]) for r in ordered[offset:end]]


def _add_cells(session: Session, shown: Any, rows: Sequence[TeamRow], *, paged: bool) -> None:
    """Each row's cells (hidden ones included: the caller blanks them); a page reads only its
    own rows' cells, the whole scope reads them in one join."""
    by_result = {row.result_id: row for row in rows}
    cell_query = select(
        _dimension.c.result_id,
        _dimension.c.dimension,
        _dimension.c.score,
        _dimension.c.label,
        _dimension.c.coverage,
        _dimension.c.respondents,
    )
    if paged:
        cell_query = cell_query.where(_dimension.c.result_id.in_(list(by_result)))
    else:
        cell_query = cell_query.join(shown, shown.c.result_id == _dimension.c.result_id)
    cell_rows: Sequence[Any] = session.execute(cell_query).all()
    for result_id, dimension, score, label, coverage, respondents in cell_rows:
        if (row := by_result.get(result_id)) is not None:
            row.cells[dimension] = CellRow(dimension, score, label, float(coverage), respondents)


# ---------------------------------------------------------------- filter choices and versions


def periods(*, session: Session, organisation_id: int) -> list[str]:
    """The quarters in which the organisation's teams closed rounds, oldest first."""
    return list(
        session.execute(
            select(_summary.c.period)
            .where(_summary.c.organisation_id == organisation_id)
            .group_by(_summary.c.period)
            .order_by(_summary.c.period)
        ).scalars()
    )


def units(*, session: Session, organisation_id: int) -> list[tuple[int, str]]:
    """The organisation's business units in natural order of their names."""
    rows: Sequence[Any] = session.execute(
        select(_unit.c.id, _unit.c.name)
        .where(_unit.c.organisation_id == organisation_id)
        .order_by(_unit.c.id)
    ).all()
    return sorted(
        ((unit_id, name) for unit_id, name in rows), key=lambda unit: natural_key(unit[1])
    )


def targets(*, session: Session, organisation_id: int) -> dict[int | None, dict[str, str]]:
    """Targets set for the organisation's teams (by team id) and for the organisation as a
    whole (under None): dimension -> band id or level."""
    rows: Sequence[Any] = session.execute(
        select(_target.c.team_id, _target.c.dimension, _target.c.target_level).where(
            or_(
                _target.c.organisation_id == organisation_id,
                _target.c.team_id.in_(
                    select(_team.c.id).where(_team.c.organisation_id == organisation_id)
                ),
            )
        )
    ).all()
    found: dict[int | None, dict[str, str]] = {}
    for team_id, dimension, value in rows:
        found.setdefault(team_id, {})[dimension] = value
    return found


def data_version(*, session: Session, organisation_id: int) -> tuple[Any, ...]:
    """Changes whenever a summary of the organisation does (a result stored or rebuilt)."""
    row = session.execute(
        select(
            func.count(),
            func.max(_summary.c.computed_at),
            func.sum(_summary.c.respondents),
            func.max(_summary.c.closed_at),
            func.sum(_summary.c.result_id),
        ).where(_summary.c.organisation_id == organisation_id)
    ).one()
    return tuple(row)


def closed_between(*, session: Session, organisation_id: int) -> tuple[datetime, datetime] | None:
    """When the organisation's first and last summarised rounds closed (None: no round)."""
    row: Any = session.execute(
        select(func.min(_summary.c.closed_at), func.max(_summary.c.closed_at)).where(
            _summary.c.organisation_id == organisation_id
        )
    ).one()
    first: datetime | None = row[0]
    last: datetime | None = row[1]
    return None if first is None or last is None else (first, last)
