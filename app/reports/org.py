"""The organisation report: what the organisation dashboard counts, as one printable document.

The report reads the same summaries of stored results (``app.results.summaries``), with the
same queries and rules, as the organisation dashboard: ``aggregate`` is the dashboard's
``app.dashboards.service.build`` for the whole organisation (every team, no filter), mapped
into the report's view model, so the two can never count differently. Anonymity is
``app.rubric.anonymity``'s (``shown_teams`` for teams, ``cell_shown`` for each team x dimension
cell): hidden teams are left out of every aggregate, not only of their own row, and a hidden
cell shows no score. Like the dashboard, the report counts each team's latest closed round.

``StoredTeamResult`` and ``latest_per_team`` serve the team reports (``app.reports.batch``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from app import charts
from app.dashboards import queries, service
from app.dashboards.service import CountRow
from app.reports.branding import Branding
from app.reports.context import Chart, chart
from app.results import visibility
from app.rubric import anonymity
from app.rubric.loader import Catalog

HEATMAP_ROWS_PER_CHART = 40
TEAM_ROWS_PER_TABLE = 45


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
    data: Mapping[str, Any]  # the stored result as JSON (app.results.model.TeamResult)


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
    # the dashboard's "at a glance" (top gaps, Now upgrades, teams furthest from target,
    # perception-gap hot spots): the same computation as its strip and CSV
    glance: service.AtAGlance
    older_rubric: service.OlderRubric | None = None  # teams scored under an older rubric


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


def latest_per_team(results: Sequence[StoredTeamResult]) -> list[StoredTeamResult]:
    latest: dict[int, StoredTeamResult] = {}
    for result in results:
        current = latest.get(result.team_id)
        if current is None or (result.date, result.round_id) > (current.date, current.round_id):
            latest[result.team_id] = result
    return list(latest.values())


def aggregate(
    *,
    session: Session,
    organisation_id: int,
    catalog: Catalog,
    hide_names: bool = False,
    cell_minimum: int = anonymity.DEFAULT_ORG_CELL_MIN,
    viewer: visibility.SignedIn | None = None,
) -> Aggregate:
    """The organisation's aggregates: the dashboard's, over every team (see the docstring),
    as ``viewer`` may see them (their own answers never count for them)."""
    built = service.build(
        session=session,
        organisation_id=organisation_id,
        filters=service.Filters(hide_names=hide_names),
        catalog=catalog,
        minimum=cell_minimum,
        viewer=viewer,
    )
    lines = service.all_lines(session=session, dashboard=built)
    return Aggregate(
        dimensions=built.dimensions,
        teams_total=built.teams_total,
        teams_shown=built.teams_shown,
        respondents_shown=built.respondents_shown,
        hidden_reason=built.hidden_reason,
        lines=tuple(
            TeamLine(
                label=line.label,
                unit=line.unit,
                date=line.date,
                respondents=line.respondents,
                trajectory=line.trajectory,
                model=line.model,
                scores=tuple((cell.score, cell.label) for cell in line.cells),
                handoff_level=line.handoff_level,
                change=line.change,
            )
            for line in lines
        ),
        means=built.means,
        band_parts=built.band_parts,
        band_counts=built.band_counts,
        level_counts=built.level_counts,
        trajectories=built.trajectories,
        models=built.models,
        mix=built.mix,
        upgrades=built.upgrades,
        hot_spots=built.hot_spots,
        trend_periods=built.trend_periods,
        trend=built.trend,
        glance=service.at_a_glance(built),
        older_rubric=built.older_rubric,
    )


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [items[:0]]


# long: a flat mapping of the dashboard's numbers onto the organisation report's context
def organisation_report(
    *,
    organisation: str,
    session: Session,
    organisation_id: int,
    catalog: Catalog,
    branding: Branding,
    hide_names: bool = False,
    cell_minimum: int = anonymity.DEFAULT_ORG_CELL_MIN,
    lang: str = "en",
    viewer: visibility.SignedIn | None = None,
) -> OrgReport:
    """The organisation report (each team's latest closed round; the trend over all), as
    ``viewer`` may see it (None: no one in particular, as the CLI)."""
    summary = aggregate(
        session=session,
        organisation_id=organisation_id,
        catalog=catalog,
        hide_names=hide_names,
        cell_minimum=cell_minimum,
        viewer=viewer,
    )
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
    closed = queries.closed_between(session=session, organisation_id=organisation_id)
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
                # room past the longest bar for its value label
                axis=charts.count_axis(
                    "Teams with it in Now", [row.count for row in summary.upgrades]
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
        period=(
            f"{closed[0].date().isoformat()} to {closed[1].date().isoformat()}" if closed else ""
        ),
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
