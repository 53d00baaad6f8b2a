"""The organisation dashboard as plain data: SQL aggregates, anonymity, filters, a cache.

``dashboard(...)`` runs the aggregate queries of ``app.dashboards.queries`` over the summaries
written with each stored result (``app.results.summaries``; a view only reads) under the rules
that decide what may be shown, in this order:

1. the *selection*: per team, its latest closed round in the chosen quarters (and only the
   teams of one business unit, if chosen);
2. anonymity, with the engine's own rule set (``app.rubric.anonymity``): teams are shown as
   ``anonymity.shown_teams`` allows (a team survey needs at least the organisation minimum
   of responses, and no small team may be recoverable by subtracting the others), and every
   team x dimension cell needs that many respondents with a score behind it
   (``anonymity.cell_shown``); a solo round is the team lead answering for the team and is
   shown. For a signed-in viewer every round counts without the viewer's own response
   (``app.results.visibility.counted``: a team or cell resting on fewer than k others is
   hidden for them alone). Hidden teams and cells are left out of every count,
   mean and total, so subtraction cannot bring them back;
3. the data filters (recommended process model, band or level), applied only to what step 2
   shows, so a filter can never tell which hidden team has a property.

The result is cached per organisation, filters and the rounds holding the viewer's own
response (most viewers have none), keyed by the data version of the stored summaries (a new
or changed result changes it) and the organisation's cache generation
(``app.cache_generations``: a team renamed or moved, a unit renamed, through any instance),
and kept at most a minute; the cache only saves work: every instance keeps its own, and none
serves what another changed.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from sqlmodel import Session

from app import cache_generations
from app.dashboards import glance, queries
from app.natural_sort import natural_key
from app.results import summaries, visibility
from app.results.reads import rescore_label
from app.rubric import anonymity
from app.rubric.labels import ROLE_LABELS, humanise
from app.rubric.loader import Catalog
from app.rubric.output import NO_RECOMMENDATION
from app.rubric.versions import release

TOP_UPGRADES = 10
TOP_HOT_SPOTS = 12
LOW_COVERAGE = queries.LOW_COVERAGE
LOW_COVERAGE_LISTED = 200
PAGE_SIZE = 40
NO_UNIT = "No business unit"
HIDDEN_CELL = "not shown"
UNKNOWN_TRAJECTORY = queries.UNKNOWN_TRAJECTORY
SEARCH_MAX = 80
Sort = Literal["name", "score"]


@functools.cache
def cell_shown(*, mode: str, respondents: int, minimum: int) -> bool:
    """``anonymity.cell_shown``, remembered (asked once per cell of a page)."""
    return anonymity.cell_shown(mode=mode, respondents=respondents, minimum=minimum)


@functools.cache
def visible_from(minimum: int) -> int:
    """The fewest respondents a team-survey cell may be shown with, found by asking the rule
    itself, so the SQL condition (``respondents >= visible_from``) cannot drift from it."""
    return next(
        n
        for n in range(1, 10_000)
        if cell_shown(mode="team_survey", respondents=n, minimum=minimum)
    )


def _mean(total: float, count: int, *_: float) -> float | None:
    return round(total / count, 1) if count else None


# the key of organisation-wide sums beside the per-business-unit ones
ORGANISATION: Any = object()


@dataclass(frozen=True, slots=True)
class Filters:
    unit_id: int | None = None
    period_from: str | None = None
    period_to: str | None = None
    model: str | None = None
    band: tuple[str, str] | None = None  # (dimension id, band label or "Level n")
    hide_names: bool = False
    sort: Sort = "name"
    page: int = 1
    search: str = ""  # part of a team's name (applied after anonymity, like model and band)

    @property
    def narrowed(self) -> bool:
        return any(
            (
                self.unit_id,
                self.period_from,
                self.period_to,
                self.model,
                self.band is not None,
                self.search,
            )
        )

    @property
    def order(self) -> queries.Order:
        if self.hide_names:
            return "score_high"  # numbered by mean score, so the order itself names nobody
        return "score_low" if self.sort == "score" else "name"

    def selection(self, organisation_id: int) -> queries.Selection:
        return queries.Selection(
            organisation_id=organisation_id,
            period_from=self.period_from,
            period_to=self.period_to,
            unit_id=self.unit_id,
        )


@dataclass(frozen=True, slots=True)
class CountRow:
    """A counted item of a view (trajectory, process model, upgrade, hot spot): how many teams."""

    label: str
    count: int
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Cell:
    score: float | None  # None when there is no score or the cell is hidden
    label: str  # band or "Level n"; HIDDEN_CELL when hidden
    coverage: float | None  # 0-1; None when hidden
    shown: bool


@dataclass(frozen=True, slots=True)
class Line:
    """One team on the dashboard."""

    team_id: int
    round_id: int
    label: str  # the team's name, or "Team 07" with hidden names
    unit: str
    date: str
    mode: str
    kind: str
    respondents: int
    trajectory: str
    fit: str
    model: str
    cells: tuple[Cell, ...]  # per dimension of ``Dashboard.dimensions``
    handoff_level: int | None  # None when unknown or hidden
    change: float | None


@dataclass(frozen=True, slots=True)
class CoverageWarning:
    dimension: str
    low: int  # shown cells with coverage below LOW_COVERAGE, or without a score
    teams: tuple[tuple[str, int, bool], ...]  # (team, coverage %, scored), lowest first


@dataclass(frozen=True, slots=True)
class UnitRow:
    unit: str
    teams: int
    means: tuple[float | None, ...]  # per dimension


@dataclass(frozen=True, slots=True)
class UnitTrend:
    unit: str
    period: str
    means: tuple[float | None, ...]  # per dimension


@dataclass(frozen=True, slots=True)
class Options:
    """Choices the filters offer (only values that occur)."""

    units: tuple[tuple[int, str], ...]
    periods: tuple[str, ...]
    models: tuple[tuple[str, str], ...]  # (id, name)
    bands: tuple[tuple[str, str, str], ...]  # (dimension id, dimension title, label)


@dataclass(frozen=True, slots=True)
class OlderRubric:
    """Shown teams whose result was computed with an older rubric than the newest: their
    levels and advice may differ from what the newest rubric gives."""

    teams: int
    shown: int  # the teams the view shows
    rescored: int  # of ``teams``, those with a result rescored under the newest rubric
    release: str  # the newest rubric's version names

    @property
    def text(self) -> str:
        """What the dashboard and the organisation report say of them."""
        if self.teams == self.shown:
            text = "Every team shown was scored under an older rubric"
        else:
            verb = "was" if self.teams == 1 else "were"
            text = f"{self.teams} of {self.shown} teams shown {verb} scored under an older rubric"
        text += (
            f" than the newest ({self.release}), so their levels and advice may differ from"
            " what the newest gives. The figures count each team's original result"
        )
        if self.rescored:
            text += (
                f"; {self.rescored} of them also {'has' if self.rescored == 1 else 'have'} a"
                " result rescored under the newest rubric, on its results page"
            )
        return text + "."


@dataclass(frozen=True, slots=True)
class Dashboard:
    """Everything the organisation dashboard shows, before any chart or table."""

    organisation_id: int
    filters: Filters
    minimum: int
    options: Options
    dimensions: tuple[tuple[str, str], ...]  # (id, title) of the practice dimensions
    teams_total: int  # teams with a closed round in the selection
    teams_shown: int  # of those, teams the anonymity rules let appear
    teams_matching: int  # of those, teams matching the data filters
    respondents_shown: int
    hidden_reason: str | None
    page: int
    pages: int
    lines: tuple[Line, ...]  # the teams of this page, in display order
    means: tuple[tuple[str, float | None], ...]
    band_parts: tuple[str, ...]
    band_counts: tuple[tuple[str, tuple[int, ...]], ...]
    level_counts: tuple[tuple[str, tuple[int, ...]], ...]
    trajectories: tuple[CountRow, ...]
    models: tuple[CountRow, ...]
    mix: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]
    upgrades: tuple[CountRow, ...]
    hot_spots: tuple[CountRow, ...]
    coverage: tuple[CoverageWarning, ...]
    trend_periods: tuple[str, ...]
    trend: tuple[tuple[str, tuple[float | None, ...]], ...]
    units: tuple[UnitRow, ...]
    unit_trend: tuple[UnitTrend, ...]
    top_gaps: tuple[glance.TopGap, ...] = ()
    far_teams: tuple[glance.FarTeam, ...] = ()
    older_rubric: OlderRubric | None = None  # None: every shown team on the newest rubric
    scope: queries.Scope | None = field(default=None, compare=False)
    data_version: tuple[Any, ...] = field(default=(), compare=False)

    @property
    def empty(self) -> bool:
        return not self.teams_matching


# ---------------------------------------------------------------- the cache


class DashboardCache:
    """Dashboards per organisation and filters, valid while the data version is unchanged.

    Only an optimisation: nothing in it is needed by another instance. The version an entry
    is checked against includes the cache generations every writer bumps, so a change made
    through another instance is seen at once; an entry older than ``ttl`` is rebuilt anyway."""

    def __init__(self, *, max_entries: int = 256, ttl: float = 60.0, enabled: bool = True):
        self.max_entries = max_entries
        self.ttl = ttl
        self.enabled = enabled
        self._entries: dict[Hashable, tuple[tuple[Any, ...], float, Dashboard]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, version: tuple[Any, ...]) -> Dashboard | None:
        if not self.enabled:
            return None
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            return None
        stored_version, stored_at, value = entry
        if stored_version != version or time.monotonic() - stored_at > self.ttl:
            return None
        return value

    def put(self, key: Hashable, version: tuple[Any, ...], value: Dashboard) -> None:
        if not self.enabled:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries and key not in self._entries:
                oldest = min(self._entries, key=lambda k: self._entries[k][1])
                del self._entries[oldest]
            self._entries[key] = (version, time.monotonic(), value)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


# ---------------------------------------------------------------- building


def dashboard(
    *,
    session: Session,
    organisation_id: int,
    filters: Filters,
    catalog: Catalog,
    minimum: int = anonymity.DEFAULT_ORG_CELL_MIN,
    cache: DashboardCache | None = None,
    viewer: visibility.SignedIn | None = None,
) -> Dashboard:
    """The dashboard of an organisation under ``filters`` as ``viewer`` may see it (their
    own answers never count for them). Reads only."""
    version = (
        *queries.data_version(session=session, organisation_id=organisation_id),
        *cache_generations.current(session, organisation_id),
    )
    own = own_of(session=session, viewer=viewer, organisation_id=organisation_id)
    # the rounds holding the viewer's own response change what they see: most viewers have
    # none, and share one entry per organisation and filters
    key = (organisation_id, filters, minimum, own.rounds)
    if cache is not None and (cached := cache.get(key, version)) is not None:
        return cached
    built = replace(
        build(
            session=session,
            organisation_id=organisation_id,
            filters=filters,
            catalog=catalog,
            minimum=minimum,
            viewer=viewer,
            own=own,
        ),
        data_version=version,
    )
    if cache is not None:
        cache.put(key, version, built)
    return built


@dataclass(frozen=True, slots=True)
class Own:
    """The organisation's summarised rounds holding the viewer's own response."""

    rounds: frozenset[int] = frozenset()
    results: frozenset[int] = frozenset()  # their stored results
    summarised: tuple[queries.Summarised, ...] = ()  # those rounds, as the rules count them

    def left_out_results(
        self, session: Session, viewer: visibility.SignedIn | None, minimum: int
    ) -> frozenset[int]:
        """The results of the rounds left out for the viewer outright, the older ones too
        (``visibility.counted``): their own response and too few others."""
        counted = visibility.counted(
            session,
            viewer,
            [
                visibility.OrgRound(r.round_id, r.mode, r.respondents, r.threshold)
                for r in self.summarised
            ],
            minimum=minimum,
            own=self.rounds,
        )
        return frozenset(r.result_id for r in self.summarised if r.round_id in counted.left_out)


def own_of(*, session: Session, viewer: visibility.SignedIn | None, organisation_id: int) -> Own:
    """Where ``viewer`` answered through a round's "answer" route (``visibility.own_rounds``),
    over every summarised team survey of the organisation (the trend reaches past the latest)."""
    if viewer is None:
        return Own()
    # run on every request, the cached page's too: the ids alone, and the rows of the
    # viewer's own rounds only (most viewers have none)
    round_ids = queries.summarised_round_ids(session=session, organisation_id=organisation_id)
    own = visibility.own_rounds(session, viewer.settings, viewer.user_id, round_ids)
    if not own:
        return Own()
    mine = tuple(
        queries.summarised_rounds(session=session, organisation_id=organisation_id, round_ids=own)
    )
    return Own(own, frozenset(r.result_id for r in mine), mine)


def shown_team_ids(
    members: Sequence[queries.Member],
    *,
    minimum: int,
    counted: visibility.Counted = visibility.NO_ONE_IN_PARTICULAR,
) -> frozenset[int]:
    """The teams anonymity lets appear (``anonymity.shown_teams``, the report's rule too),
    applied to the responses that count for the viewer (``counted``: never their own), less
    the teams the viewer's rule leaves out."""
    allowed = anonymity.shown_teams(
        (
            anonymity.TeamCount(m.team_id, m.mode, counted.others.get(m.round_id, m.respondents))
            for m in members
        ),
        minimum=minimum,
    )
    return allowed - {m.team_id for m in members if m.round_id in counted.left_out}


def older_rubric(
    *, session: Session, scope: queries.Scope, catalog: Catalog, shown: int
) -> OlderRubric | None:
    """How many of the teams the view shows were scored under an older rubric than
    ``catalog`` (the newest), and how many of those are rescored under it."""
    older = queries.older_rubric_count(
        session=session,
        scope=scope,
        newest=dict(catalog.versions),
        rescore_label=rescore_label(catalog),
    )
    if not older.teams:
        return None
    return OlderRubric(
        teams=older.teams, shown=shown, rescored=older.rescored, release=release(catalog)
    )


def _hidden_reason(hidden: int, minimum: int) -> str | None:
    if not hidden:
        return None
    return (
        f"{hidden} team{'s' if hidden != 1 else ''} not shown: their results rest on fewer "
        f"than {minimum} responses, or could be worked out from the others"
    )


def _band_parts(catalog: Catalog, dimension_ids: Sequence[str]) -> list[str]:
    """Band labels in order of their thresholds, merged by label (as the organisation report)."""
    parts: list[str] = []
    for dimension_id in dimension_ids:
        instrument = catalog.instruments.get(dimension_id)
        for band in sorted(instrument.bands if instrument else (), key=lambda b: b.min_score):
            if band.label not in parts:
                parts.append(band.label)
    return parts


def scope_of(
    *,
    session: Session,
    organisation_id: int,
    filters: Filters,
    minimum: int,
    viewer: visibility.SignedIn | None = None,
    own: Own | None = None,
) -> tuple[queries.Scope, list[queries.Member], frozenset[int]]:
    """The scope a dashboard shows ``viewer`` (``own``: where they answered, if known), the
    selection's teams, and the teams anonymity allows."""
    selection = filters.selection(organisation_id)
    members = queries.members(session=session, selection=selection)
    if own is None:
        own = own_of(session=session, viewer=viewer, organisation_id=organisation_id)
    counted = visibility.counted(
        session,
        viewer,
        [visibility.OrgRound(m.round_id, m.mode, m.respondents, m.threshold) for m in members],
        minimum=minimum,
        own=own.rounds,
    )
    allowed = shown_team_ids(members, minimum=minimum, counted=counted)
    scope = queries.Scope(
        selection=selection,
        visible_from=visible_from(minimum),
        hidden_teams=frozenset(m.team_id for m in members if m.team_id not in allowed),
        own_results=own.results,
        left_out_results=own.left_out_results(session, viewer, minimum),
        model=filters.model,
        band=filters.band,
        search=filters.search.strip()[:SEARCH_MAX] or None,
    )
    return scope, members, allowed


def lines_of(
    rows: Sequence[queries.TeamRow],
    *,
    dimension_ids: Sequence[str],
    hide_names: bool,
    minimum: int,
    own_results: frozenset[int] = frozenset(),
) -> tuple[Line, ...]:
    """Dashboard lines from team rows: hidden cells blanked (the viewer's own answer, in
    ``own_results``, not counted), names hidden if asked."""
    lines = []
    for row in rows:
        cells = []
        level_hidden = False
        for dimension_id in dimension_ids:
            cell = row.cells.get(dimension_id)
            if cell is None:
                cells.append(Cell(None, "", None, True))
            elif not cell_shown(
                mode=row.mode,
                respondents=cell.respondents - (row.result_id in own_results),
                minimum=minimum,
            ):
                cells.append(Cell(None, HIDDEN_CELL, None, False))
                level_hidden = level_hidden or cell.label.startswith("Level ")
            else:
                cells.append(Cell(cell.score, cell.label, cell.coverage, True))
        lines.append(
            Line(
                team_id=row.team_id,
                round_id=row.round_id,
                label=f"Team {row.rank:02d}" if hide_names else row.team,
                unit="" if hide_names else (row.unit or ""),
                date=row.date,
                mode=row.mode,
                kind=row.kind,
                respondents=row.respondents,
                trajectory=row.trajectory,
                fit=row.fit,
                model=model_shown(row.trajectory, row.model_name),
                cells=tuple(cells),
                handoff_level=None if level_hidden else row.handoff_level,
                change=row.change,
            )
        )
    return tuple(lines)


# long: one pass from the summary queries to the typed Dashboard (the organisation report's too)
def build(
    *,
    session: Session,
    organisation_id: int,
    filters: Filters,
    catalog: Catalog,
    minimum: int,
    viewer: visibility.SignedIn | None = None,
    own: Own | None = None,
) -> Dashboard:
    """The dashboard without the cache (what the benchmark times)."""
    queries.tune(session)
    scope, members, allowed = scope_of(
        session=session,
        organisation_id=organisation_id,
        filters=filters,
        minimum=minimum,
        viewer=viewer,
        own=own,
    )
    unfiltered = replace(scope, model=None, band=None, search=None)
    filtered = scope != unfiltered

    groups = queries.dimension_groups(session=session, scope=scope)
    # the filters offer the models, bands and levels of every shown team, not only matches
    choice_groups = (
        queries.dimension_groups(session=session, scope=unfiltered) if filtered else groups
    )
    titles: dict[str, tuple[int, str]] = {}
    for group in sorted(choice_groups, key=lambda g: g.position):
        titles.setdefault(group.dimension, (group.position, group.title))
    scored = {g.dimension for g in choice_groups if g.scored}
    dimension_ids = [d for d, _ in sorted(titles.items(), key=lambda i: i[1]) if d in scored]
    dimensions = tuple((d, titles[d][1]) for d in dimension_ids)
    index = {d: i for i, d in enumerate(dimension_ids)}

    sums: dict[tuple[int | None, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    bands: dict[str, Counter[str]] = defaultdict(Counter)
    for group in groups:
        if group.dimension not in index:
            continue
        for unit_key in (group.unit_id, ORGANISATION):
            total = sums[(unit_key, group.dimension)]
            total[0] += group.score_sum
            total[1] += group.scored
            total[2] += group.low_coverage
        if group.band:
            bands[group.dimension][group.band] += group.cells
    means = tuple((title, _mean(*_pair(sums.get((ORGANISATION, d))))) for d, title in dimensions)
    band_parts = _band_parts(catalog, dimension_ids)
    band_counts = tuple(
        (title, tuple(bands[d].get(part, 0) for part in band_parts))
        for d, title in dimensions
        if bands[d]
    )

    mix_rows = queries.mix(session=session, scope=scope)
    choice_mix = queries.mix(session=session, scope=unfiltered) if filtered else mix_rows
    teams_matching = sum(row.teams for row in mix_rows)
    trajectories: Counter[str] = Counter()
    models: Counter[str] = Counter()
    mix: dict[str, Counter[str]] = defaultdict(Counter)
    unit_teams: Counter[int | None] = Counter()
    for row in sorted(mix_rows, key=lambda r: (r.trajectory, r.model_name)):
        model_name = model_shown(row.trajectory, row.model_name)
        trajectories[row.trajectory] += row.teams
        models[model_name] += row.teams
        mix[row.trajectory][model_name] += row.teams
        unit_teams[row.unit_id] += row.teams

    tallies = queries.fact_counts(
        session=session,
        scope=scope,
        limits={
            summaries.UPGRADE: TOP_UPGRADES,
            summaries.GAP: TOP_HOT_SPOTS,
            summaries.LEVEL: None,
        },
    )
    upgrades = tuple(
        CountRow(
            count.label,
            count.count,
            # a practice's owners come from the practice catalogue, the same for every team
            ", ".join(ROLE_LABELS.get(o, humanise(o)) for o in count.detail.split(",")[:2] if o),
        )
        for count in tallies[summaries.UPGRADE]
    )
    hot_spots = tuple(
        CountRow(count.label, count.count, f"{count.detail} · mean gap {count.mean or 0:.0f}")
        for count in tallies[summaries.GAP]
    )
    level_counts = _levels(tallies[summaries.LEVEL])

    listed: dict[str, list[tuple[str, int, bool]]] = defaultdict(list)
    if not filters.hide_names and any(
        sums[(ORGANISATION, d)][2] for d in dimension_ids if (ORGANISATION, d) in sums
    ):
        for low in queries.low_coverage(session=session, scope=scope, limit=LOW_COVERAGE_LISTED):
            listed[low.dimension].append((low.team, round(100 * low.coverage), low.scored))
    coverage = tuple(
        CoverageWarning(title, int(_pair(sums.get((ORGANISATION, d)))[2]), tuple(listed[d]))
        for d, title in dimensions
    )

    trend_sums: dict[tuple[int | None, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for trend_row in queries.trend(session=session, scope=scope):
        for unit_key in (trend_row.unit_id, ORGANISATION):
            total = trend_sums[(unit_key, trend_row.period, trend_row.dimension)]
            total[0] += trend_row.score_sum
            total[1] += trend_row.scored
    trend_periods = sorted(
        {period for unit_key, period, _ in trend_sums if unit_key == ORGANISATION}
    )
    trend = tuple(
        (
            title,
            tuple(_mean(*_pair(trend_sums.get((ORGANISATION, p, d)))) for p in trend_periods),
        )
        for d, title in dimensions
    )

    unit_names = dict(queries.units(session=session, organisation_id=organisation_id))

    def unit_name(unit_id: int | None) -> str:
        return unit_names.get(unit_id, NO_UNIT) if unit_id is not None else NO_UNIT

    units: tuple[UnitRow, ...] = ()
    unit_trend: tuple[UnitTrend, ...] = ()
    if not filters.hide_names:  # business units are left out when presenting, as in the PDF
        units = tuple(
            sorted(
                (
                    UnitRow(
                        unit_name(unit_id),
                        count,
                        tuple(_mean(*_pair(sums.get((unit_id, d)))) for d in dimension_ids),
                    )
                    for unit_id, count in unit_teams.items()
                ),
                key=lambda r: (r.unit == NO_UNIT, natural_key(r.unit)),
            )
        )
        unit_periods = sorted(
            {(u, p) for u, p, _ in trend_sums if u is not ORGANISATION},
            key=lambda item: (
                unit_name(item[0]) == NO_UNIT,
                natural_key(unit_name(item[0])),
                item[1],
            ),
        )
        unit_trend = tuple(
            UnitTrend(
                unit_name(unit_id),
                period,
                tuple(_mean(*_pair(trend_sums.get((unit_id, period, d)))) for d in dimension_ids),
            )
            for unit_id, period in unit_periods
        )

    pages = max(1, math.ceil(teams_matching / PAGE_SIZE))
    page = min(max(1, filters.page), pages)
    rows = queries.team_rows(
        session=session,
        scope=scope,
        order=filters.order,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    lines = lines_of(
        rows,
        dimension_ids=dimension_ids,
        hide_names=filters.hide_names,
        minimum=minimum,
        own_results=scope.own_results,
    )
    hidden = sum(1 for m in members if m.team_id not in allowed)
    return Dashboard(
        organisation_id=organisation_id,
        filters=filters,
        minimum=minimum,
        options=Options(
            units=tuple(unit_names.items()),
            periods=tuple(queries.periods(session=session, organisation_id=organisation_id)),
            models=tuple(
                sorted(
                    {
                        (r.model_id, r.model_name)
                        for r in choice_mix
                        if r.model_id and r.trajectory != UNKNOWN_TRAJECTORY
                    },
                    key=lambda m: natural_key(m[1]),
                )
            ),
            bands=tuple(
                sorted(
                    {
                        (g.dimension, titles[g.dimension][1], g.label)
                        for g in choice_groups
                        if g.label and g.dimension in index
                    },
                    key=lambda b: (index[b[0]], _label_order(b[2], band_parts)),
                )
            ),
        ),
        dimensions=dimensions,
        teams_total=len(members),
        teams_shown=len(members) - hidden,
        teams_matching=teams_matching,
        respondents_shown=sum(row.respondents for row in mix_rows),
        hidden_reason=_hidden_reason(hidden, minimum),
        page=page,
        pages=pages,
        lines=lines,
        means=means,
        band_parts=tuple(band_parts),
        band_counts=band_counts,
        level_counts=level_counts,
        trajectories=tuple(CountRow(label, n) for label, n in trajectories.most_common()),
        models=tuple(CountRow(label, n) for label, n in models.most_common()),
        mix=tuple(
            (trajectory, tuple(counter.most_common()))
            for trajectory, counter in sorted(
                mix.items(), key=lambda item: (-sum(item[1].values()), item[0])
            )
        ),
        upgrades=upgrades,
        hot_spots=hot_spots,
        coverage=coverage,
        trend_periods=tuple(trend_periods),
        trend=trend,
        units=units,
        unit_trend=unit_trend,
        top_gaps=glance.top_gaps(
            catalog=catalog,
            dimensions=dimensions,
            bands=bands,
            level_counts=level_counts,
            handoff_title=_handoff_title(catalog),
        ),
        far_teams=_far_teams(
            session=session,
            organisation_id=organisation_id,
            scope=scope,
            filters=filters,
            catalog=catalog,
            dimensions=dimensions,
            minimum=minimum,
        ),
        older_rubric=older_rubric(
            session=session, scope=scope, catalog=catalog, shown=teams_matching
        ),
        scope=scope,
    )


def model_shown(trajectory: str, model_name: str) -> str:
    """The recommended process as organisation views show it: none while the team's
    trajectory is unknown (a process is recommended for a trajectory)."""
    return NO_RECOMMENDATION if trajectory == UNKNOWN_TRAJECTORY else model_name


def _handoff_title(catalog: Catalog) -> str:
    """The short name of the levelled instrument (handoff), for "Handoff of models"."""
    for instrument in catalog.instruments.values():
        if instrument.levels is not None:
            return instrument.title.split(" ", 1)[0]
    return "Handoff"


def _far_teams(
    *,
    session: Session,
    organisation_id: int,
    scope: queries.Scope,
    filters: Filters,
    catalog: Catalog,
    dimensions: Sequence[tuple[str, str]],
    minimum: int,
) -> tuple[glance.FarTeam, ...]:
    """The shown teams furthest from their targets (only read when targets were set)."""
    targets = queries.targets(session=session, organisation_id=organisation_id)
    if not targets:
        return ()
    dimension_ids = [d for d, _ in dimensions]
    # only the teams with targets of their own, unless the organisation has targets for all,
    # or hidden names number the teams by their rank among all
    everyone = None in targets or filters.hide_names
    lines = lines_of(
        queries.team_rows(
            session=session,
            scope=scope,
            order=filters.order,
            only_teams=None if everyone else [t for t in targets if t is not None],
        ),
        dimension_ids=dimension_ids,
        hide_names=filters.hide_names,
        minimum=minimum,
        own_results=scope.own_results,
    )
    return glance.far_teams(
        catalog=catalog,
        dimensions=dimensions,
        teams=[
            glance.TeamScores(
                label=line.label,
                team_id=line.team_id,
                round_id=line.round_id,
                scores={d: cell.score for d, cell in zip(dimension_ids, line.cells, strict=True)},
                handoff_level=line.handoff_level,
            )
            for line in lines
        ],
        targets=targets,
    )


@dataclass(frozen=True, slots=True)
class AtAGlance:
    """The strip at the top of the dashboard, the organisation report's summary and the
    dashboard's "at a glance" CSV: one computation (``Dashboard.top_gaps`` etc.)."""

    top_gaps: tuple[glance.TopGap, ...]
    upgrades: tuple[CountRow, ...]
    far_teams: tuple[glance.FarTeam, ...]
    hot_spots: tuple[CountRow, ...]

    @property
    def empty(self) -> bool:
        return not (self.top_gaps or self.upgrades or self.far_teams or self.hot_spots)


def at_a_glance(dashboard: Dashboard) -> AtAGlance:
    """What the organisation most needs to see first, from a built dashboard."""
    return AtAGlance(
        top_gaps=dashboard.top_gaps,
        upgrades=dashboard.upgrades[: glance.TOP_UPGRADES],
        far_teams=dashboard.far_teams,
        hot_spots=dashboard.hot_spots[: glance.TOP_HOT_SPOTS],
    )


def _pair(values: Sequence[float] | None) -> tuple[float, int, float]:
    if values is None:
        return 0.0, 0, 0.0
    return values[0], int(values[1]), values[2] if len(values) > 2 else 0.0


def all_lines(*, session: Session, dashboard: Dashboard) -> tuple[Line, ...]:
    """Every matching team of a dashboard (all pages), for the heatmap's CSV."""
    if dashboard.scope is None:
        return ()
    rows = queries.team_rows(session=session, scope=dashboard.scope, order=dashboard.filters.order)
    return lines_of(
        rows,
        dimension_ids=[d for d, _ in dashboard.dimensions],
        hide_names=dashboard.filters.hide_names,
        minimum=dashboard.minimum,
        own_results=dashboard.scope.own_results,
    )


def _label_order(label: str, band_parts: Sequence[str]) -> tuple[int, str]:
    return (band_parts.index(label), label) if label in band_parts else (len(band_parts), label)


def _levels(counts: Sequence[queries.Count]) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """Teams at level 0, 1, 2 per artifact, artifacts in their order and "Overall" last."""
    by_title: dict[str, list[int]] = {}
    order: dict[str, int] = {}
    for count in sorted(counts, key=lambda c: (c.position, c.label)):
        levels = by_title.setdefault(count.label, [0, 0, 0])
        order.setdefault(count.label, count.position)
        levels[min(max(int(count.mean or 0), 0), 2)] += count.count
    return tuple(
        (title, tuple(levels))
        for title, levels in sorted(by_title.items(), key=lambda item: order[item[0]])
    )
