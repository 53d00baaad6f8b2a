"""The organisation report: aggregates over teams' stored results, as plain data.

Built from a list of ``StoredTeamResult`` (one per team and round, ``RoundResult.computed`` as
``data``), so dashboards can reuse ``aggregate`` without the PDF. Anonymity: a team-survey
result counts as a cell built from its respondents, so teams are shown only as
``app.rubric.anonymity.shown_cells`` allows (at least the organisation minimum, and no small
team recoverable by subtracting the others from a total); hidden teams are left out of every
aggregate, not only of their own row. A solo round is the team lead answering for the team,
not a group of pseudonymous respondents, so it is shown.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import mean
from typing import Any

from app.reports import charts
from app.reports.branding import Branding
from app.reports.context import (
    ROLE_LABELS,
    Chart,
    chart,
    humanise,
)
from app.rubric import anonymity
from app.rubric.loader import Catalog
from app.rubric.output import NO_RECOMMENDATION, recommended_model

HEATMAP_ROWS_PER_CHART = 40
TEAM_ROWS_PER_TABLE = 45
TOP_UPGRADES = 10
TOP_HOT_SPOTS = 12


@dataclass(frozen=True, slots=True)
class StoredTeamResult:
    """One team's stored result of one round, as plain data."""

    team_id: int
    team: str
    business_unit: str | None
    round_id: int
    date: str  # ISO date of the round (closed, else started)
    mode: str  # solo | team_survey
    respondents: int
    data: Mapping[str, Any]  # RoundResult.computed (app.rubric.output.to_data)


@dataclass(frozen=True, slots=True)
class TeamLine:
    label: str
    unit: str
    date: str
    respondents: int
    trajectory: str
    model: str
    scores: tuple[tuple[float | None, str], ...]  # per dimension: score, band or level
    handoff_level: int | None
    change: float | None  # mean change of the dimension scores since the team's last round


@dataclass(frozen=True, slots=True)
class CountRow:
    label: str
    count: int
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Aggregate:
    """Everything the organisation report (and a dashboard) shows, before any chart."""

    dimensions: tuple[tuple[str, str], ...]  # (id, title) of the scored dimensions
    teams_total: int
    teams_shown: int
    respondents_shown: int
    hidden_reason: str | None
    lines: tuple[TeamLine, ...]  # one per shown team, in display order
    means: tuple[tuple[str, float | None], ...]  # dimension title, mean team score
    band_parts: tuple[str, ...]
    band_counts: tuple[tuple[str, tuple[int, ...]], ...]  # dimension, counts per band part
    level_counts: tuple[tuple[str, tuple[int, ...]], ...]  # artifact, teams at level 0, 1, 2
    trajectories: tuple[CountRow, ...]
    models: tuple[CountRow, ...]
    mix: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]  # trajectory -> model counts
    upgrades: tuple[CountRow, ...]
    hot_spots: tuple[CountRow, ...]
    trend_periods: tuple[str, ...]
    trend: tuple[tuple[str, tuple[float | None, ...]], ...]  # dimension -> mean per period


@dataclass(frozen=True, slots=True)
class OrgReport:
    """Context of templates/reports/org.html."""

    title: str
    lang: str
    organisation: str
    branding: Branding
    hide_names: bool
    cell_minimum: int
    period: str
    aggregate: Aggregate
    heatmaps: tuple[Chart, ...]
    bands_chart: Chart | None
    levels_chart: Chart | None
    mix_chart: Chart | None
    upgrades_chart: Chart | None
    trend_chart: Chart | None
    line_tables: tuple[tuple[TeamLine, ...], ...]


def _quarter(day: str) -> str:
    year, month = day[:4], int(day[5:7] or 1)
    return f"{year} Q{(month - 1) // 3 + 1}"


def latest_per_team(results: Sequence[StoredTeamResult]) -> list[StoredTeamResult]:
    latest: dict[int, StoredTeamResult] = {}
    for result in results:
        current = latest.get(result.team_id)
        if current is None or (result.date, result.round_id) > (current.date, current.round_id):
            latest[result.team_id] = result
    return list(latest.values())


def shown_teams(results: Sequence[StoredTeamResult], *, minimum: int) -> set[int]:
    """Teams whose results may appear in organisation breakdowns (see the module docstring)."""
    surveyed = {r.team_id: r.respondents for r in results if r.mode != "solo"}
    visible = anonymity.shown_cells(
        sum(surveyed.values()), {str(t): n for t, n in surveyed.items()}, minimum=minimum
    )
    return {r.team_id for r in results if r.mode == "solo" or str(r.team_id) in visible}


def _label(result: StoredTeamResult, index: int, hide_names: bool) -> str:
    return f"Team {index + 1:02d}" if hide_names else result.team


def aggregate(
    results: Sequence[StoredTeamResult],
    *,
    catalog: Catalog,
    hide_names: bool = False,
    cell_minimum: int = anonymity.DEFAULT_ORG_CELL_MIN,
) -> Aggregate:
    """Aggregate teams' stored results (every round; the latest per team for the snapshot)."""
    latest = latest_per_team(results)
    allowed = shown_teams(latest, minimum=cell_minimum)
    shown = [r for r in latest if r.team_id in allowed]
    dimensions: list[tuple[str, str]] = []
    for result in shown:
        for dimension_id in charts.scored_dimensions(result.data):
            if dimension_id not in dict(dimensions):
                dimensions.append((dimension_id, result.data["dimensions"][dimension_id]["title"]))

    def score(result: StoredTeamResult, dimension_id: str) -> float | None:
        value = result.data["dimensions"].get(dimension_id, {}).get("score")
        return None if value is None else float(value)

    if hide_names:
        # ordered by mean score, so the order itself names nobody
        def overall(r: StoredTeamResult) -> float:
            values = [v for d, _ in dimensions if (v := score(r, d)) is not None]
            return -mean(values) if values else 0.0

        shown.sort(key=lambda r: (overall(r), r.team_id))
    else:
        shown.sort(key=lambda r: ((r.business_unit or "").lower(), r.team.lower(), r.team_id))

    lines = []
    for index, result in enumerate(shown):
        data = result.data
        top = next(
            (m["name"] for m in data["process_models"] if m["id"] == recommended_model(data)),
            NO_RECOMMENDATION,
        )
        changes = [
            v
            for v in ((data.get("comparison") or {}).get("dimensions") or {}).values()
            if v is not None
        ]
        cells = []
        for dimension_id, _ in dimensions:
            raw = data["dimensions"].get(dimension_id, {})
            label = (
                raw["band"]["label"]
                if raw.get("band")
                else (f"Level {raw['level']}" if raw.get("level") is not None else "")
            )
            cells.append((score(result, dimension_id), label))
        handoff = data.get("handoff")
        lines.append(
            TeamLine(
                label=_label(result, index, hide_names),
                unit="" if hide_names else (result.business_unit or ""),
                date=result.date,
                respondents=result.respondents,
                trajectory=data["trajectory"]["label"],
                model=top,
                scores=tuple(cells),
                handoff_level=handoff["level"] if handoff else None,
                change=round(mean(changes), 1) if changes else None,
            )
        )

    # bands per dimension (parts in order of the bands' thresholds, merged by label)
    band_parts: list[str] = []
    for dimension_id, _ in dimensions:
        instrument = catalog.instruments.get(dimension_id)
        for band in sorted(instrument.bands if instrument else (), key=lambda b: b.min_score):
            if band.label not in band_parts:
                band_parts.append(band.label)
    band_counts = []
    for dimension_id, title in dimensions:
        counter = Counter(
            r.data["dimensions"][dimension_id]["band"]["label"]
            for r in shown
            if r.data["dimensions"].get(dimension_id, {}).get("band")
        )
        if counter:
            band_counts.append((title, tuple(counter.get(part, 0) for part in band_parts)))

    level_counts: dict[str, list[int]] = {}
    for result in shown:
        handoff = result.data.get("handoff")
        if not handoff:
            continue
        parts = [(a["title"], a["level"]) for a in handoff["artifacts"].values()]
        parts.append(("Overall", handoff["level"]))
        for title, level in parts:
            counts = level_counts.setdefault(title, [0, 0, 0])
            counts[min(max(int(level), 0), 2)] += 1

    trajectories = Counter(r.data["trajectory"]["label"] for r in shown)
    model_names = {m.id: m.name for m in catalog.process_models.process_models}

    def model_name(data: Mapping[str, Any]) -> str:
        top = recommended_model(data)
        return NO_RECOMMENDATION if top is None else model_names.get(top, humanise(top))

    models = Counter(model_name(r.data) for r in shown)
    mix: dict[str, Counter[str]] = defaultdict(Counter)
    for result in shown:
        mix[result.data["trajectory"]["label"]][model_name(result.data)] += 1

    upgrades: Counter[str] = Counter()
    owners: dict[str, Counter[str]] = defaultdict(Counter)
    for result in shown:
        for practice in result.data["roadmap"]["now"]:
            upgrades[practice["title"]] += 1
            owners[practice["title"]].update(practice["owners"])

    hot: dict[str, list[float]] = defaultdict(list)
    hot_dimension: dict[str, str] = {}
    for result in shown:
        seen: set[str] = set()
        for gap in result.data["perception_gaps"]:
            if gap["title"] in seen:
                continue
            seen.add(gap["title"])
            hot[gap["title"]].append(float(gap["size"]))
            hot_dimension[gap["title"]] = (
                result.data["dimensions"]
                .get(gap["dimension"], {})
                .get("title", humanise(gap["dimension"]))
            )

    # trend: every shown team's rounds, by quarter; a team's latest round in a quarter counts
    history = [r for r in results if r.team_id in allowed]
    per_period: dict[str, dict[int, StoredTeamResult]] = defaultdict(dict)
    for result in history:
        period = _quarter(result.date)
        current = per_period[period].get(result.team_id)
        if current is None or (result.date, result.round_id) > (current.date, current.round_id):
            per_period[period][result.team_id] = result
    periods = sorted(per_period)
    trend = []
    for dimension_id, title in dimensions:
        values: list[float | None] = []
        for period in periods:
            scores = [
                s for r in per_period[period].values() if (s := score(r, dimension_id)) is not None
            ]
            values.append(round(mean(scores), 1) if scores else None)
        trend.append((title, tuple(values)))

    hidden = len(latest) - len(shown)
    return Aggregate(
        dimensions=tuple(dimensions),
        teams_total=len(latest),
        teams_shown=len(shown),
        respondents_shown=sum(r.respondents for r in shown),
        hidden_reason=(
            f"{hidden} team{'s' if hidden != 1 else ''} not shown: their results rest on fewer "
            f"than {cell_minimum} responses, or could be worked out from the others"
            if hidden
            else None
        ),
        lines=tuple(lines),
        means=tuple(
            (
                title,
                round(mean(values), 1)
                if (values := [s for r in shown if (s := score(r, d)) is not None])
                else None,
            )
            for d, title in dimensions
        ),
        band_parts=tuple(band_parts),
        band_counts=tuple(band_counts),
        level_counts=tuple((title, tuple(counts)) for title, counts in level_counts.items()),
        trajectories=tuple(CountRow(label, n) for label, n in trajectories.most_common()),
        models=tuple(CountRow(label, n) for label, n in models.most_common()),
        mix=tuple(
            (trajectory, tuple(counter.most_common()))
            for trajectory, counter in sorted(mix.items(), key=lambda item: -sum(item[1].values()))
        ),
        upgrades=tuple(
            CountRow(
                title,
                n,
                ", ".join(ROLE_LABELS.get(o, humanise(o)) for o, _ in owners[title].most_common(2)),
            )
            for title, n in upgrades.most_common(TOP_UPGRADES)
        ),
        hot_spots=tuple(
            CountRow(title, len(sizes), f"{hot_dimension[title]} · mean gap {mean(sizes):.0f}")
            for title, sizes in sorted(
                hot.items(), key=lambda item: (-len(item[1]), -mean(item[1]))
            )[:TOP_HOT_SPOTS]
        ),
        trend_periods=tuple(periods),
        trend=tuple(trend),
    )


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [items[:0]]


def organisation_report(
    *,
    organisation: str,
    results: Sequence[StoredTeamResult],
    catalog: Catalog,
    branding: Branding,
    hide_names: bool = False,
    cell_minimum: int = anonymity.DEFAULT_ORG_CELL_MIN,
    lang: str = "en",
) -> OrgReport:
    """The organisation report from teams' stored results (all rounds; latest per team)."""
    summary = aggregate(results, catalog=catalog, hide_names=hide_names, cell_minimum=cell_minimum)
    titles = [title for _, title in summary.dimensions]
    heatmaps = []
    line_chunks = _chunks(summary.lines, HEATMAP_ROWS_PER_CHART)
    for number, chunk in enumerate(line_chunks):
        if not chunk or not titles:
            continue
        spec = charts.heatmap_chart(
            chart_id=f"heatmap-{number + 1}",
            title="Teams by dimension"
            + (f" ({number + 1} of {len(line_chunks)})" if len(line_chunks) > 1 else ""),
            columns=titles,
            rows=[(line.label, [score for score, _ in line.scores]) for line in chunk],
        )
        heatmaps.append(chart(spec))
    dates = sorted(r.date for r in results)
    bands_chart = (
        chart(
            charts.stacked_chart(
                chart_id="bands",
                title="Teams per band",
                categories=[title for title, _ in summary.band_counts],
                parts=[
                    (part, [counts[i] for _, counts in summary.band_counts])
                    for i, part in enumerate(summary.band_parts)
                ],
                axis_title="Teams",
            )
        )
        if summary.band_counts
        else None
    )
    levels_chart = (
        chart(
            charts.stacked_chart(
                chart_id="levels",
                title="Teams per handoff level",
                categories=[title for title, _ in summary.level_counts],
                parts=[
                    (f"Level {level}", [counts[level] for _, counts in summary.level_counts])
                    for level in range(3)
                ],
                axis_title="Teams",
            )
        )
        if summary.level_counts
        else None
    )
    model_names = [row.label for row in summary.models]
    mix_chart = (
        chart(
            charts.stacked_chart(
                chart_id="mix",
                title="Trajectory and recommended process",
                categories=[trajectory for trajectory, _ in summary.mix],
                parts=[
                    (name, [dict(counts).get(name, 0) for _, counts in summary.mix])
                    for name in model_names
                ],
                axis_title="Teams",
                ordered=False,
            )
        )
        if summary.mix
        else None
    )
    upgrades_chart = (
        chart(
            charts.grouped_chart(
                chart_id="upgrades",
                title="Most common Now upgrades",
                categories=[row.label for row in summary.upgrades],
                series=[("Teams", [row.count for row in summary.upgrades])],
                axis=charts.ValueAxis(
                    "Teams with it in Now",
                    0.0,
                    float(max(1, max(row.count for row in summary.upgrades))),
                    charts.count_ticks(float(max(row.count for row in summary.upgrades))),
                ),
            )
        )
        if summary.upgrades
        else None
    )
    trend_chart = (
        chart(
            charts.grouped_chart(
                chart_id="trend",
                title="Mean team score by quarter",
                categories=list(summary.trend_periods),
                series=[(title, values) for title, values in summary.trend],
                decimals=1,
            )
        )
        if len(summary.trend_periods) > 1 and summary.trend
        else None
    )
    return OrgReport(
        title=f"{organisation} — ProcessLens organisation report",
        lang=lang,
        organisation=organisation,
        branding=branding,
        hide_names=hide_names,
        cell_minimum=cell_minimum,
        period=f"{dates[0]} to {dates[-1]}" if dates else "",
        aggregate=summary,
        heatmaps=tuple(h for h in heatmaps if h is not None),
        bands_chart=bands_chart,
        levels_chart=levels_chart,
        mix_chart=mix_chart,
        upgrades_chart=upgrades_chart,
        trend_chart=trend_chart,
        line_tables=tuple(
            tuple(chunk) for chunk in _chunks(summary.lines, TEAM_ROWS_PER_TABLE) if chunk
        ),
    )
