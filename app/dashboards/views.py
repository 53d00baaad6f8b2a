"""The dashboard page: each view as a table (what readers without JavaScript get, and the
CSV download) and, built from the very same rows, a Plotly figure.

One ``Table`` per view is the source of truth for the page's table, the chart and the CSV, so
the three always show the same numbers. Charts are specs from ``app.charts`` (the
builders the organisation report uses, with its colour-blind-safe palettes), drawn by
``static/js/charts.js``; the heatmap's figure also carries each team's results-page link for
the drill-down (``static/js/dashboard.js``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

from app import charts
from app.dashboards.service import (
    HIDDEN_CELL,
    PAGE_SIZE,
    AtAGlance,
    Dashboard,
    Filters,
    Line,
    at_a_glance,
)
from app.natural_sort import natural_key
from app.rubric.labels import FIT_LABELS
from app.rubric.output import NO_RECOMMENDATION

TableValue = str | int | float | None
NO_VALUE: Final = "–"
SCORE_DECIMALS: Final = 1
# every view of the dashboard: (id, title); the id names its chart, table and CSV
VIEWS: Final = (
    ("teams", "Teams by dimension"),
    ("units", "Business units by dimension"),
    ("bands", "Teams per band"),
    ("levels", "Teams per handoff level"),
    ("mix", "Trajectory and recommended process"),
    ("upgrades", "Most common Now upgrades"),
    ("gaps", "Perception-gap hot spots"),
    ("coverage", "Coverage warnings"),
    ("trend", "Trend by quarter"),
    ("unit-trend", "Trend by business unit"),
)
VIEW_IDS: Final = tuple(view_id for view_id, _ in VIEWS)
# every CSV of the page: the views' and the "at a glance" strip's (above the views)
CSV_TITLES: Final = {"glance": "At a glance", **dict(VIEWS)}
CSV_IDS: Final = tuple(CSV_TITLES)


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    numeric: bool = False
    nowrap: bool = False  # short values that read badly broken (dates)

    def text(self, value: TableValue) -> str:
        """A cell of this column as the page shows it."""
        return cell_text(value, numeric=self.numeric)


@dataclass(frozen=True, slots=True)
class Table:
    """A view's data: the page's table and its CSV, row for row."""

    columns: tuple[Column, ...]
    rows: tuple[tuple[TableValue, ...], ...]
    links: tuple[str | None, ...] = ()  # per row: where its first cell leads (drill-down)

    def link(self, index: int) -> str | None:
        return self.links[index] if index < len(self.links) else None

    def display(self) -> list[tuple[str | None, str, list[tuple[str, str]]]]:
        """The rows as the page shows them: (link, the first cell's text (the row's head),
        [(text, CSS classes) of each further cell]); the template needs no loop state."""
        classes = [
            " ".join(c for c in ("num" if column.numeric else "", "nowrap" * column.nowrap) if c)
            for column in self.columns
        ]
        shown = []
        for index, row in enumerate(self.rows):
            cells = [
                (
                    cell_text(value, numeric=column.numeric),
                    f"{css} dash-hidden".strip() if value == HIDDEN_CELL else css,
                )
                for value, column, css in zip(row, self.columns, classes, strict=True)
            ]
            shown.append((self.link(index), cells[0][0], cells[1:]))
        return shown


@dataclass(frozen=True, slots=True)
class Figure:
    id: str
    figure_json: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Section:
    id: str
    title: str
    description: str
    table: Table
    figures: tuple[Figure, ...]
    csv_url: str
    empty: str | None  # what to say instead of an empty table
    note: str | None = None
    all_csv_url: str | None = None  # the team view: every page at once
    chartless: str = ""  # what to say when there is a table but no chart


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label: str
    selected: bool


@dataclass(frozen=True, slots=True)
class FilterForm:
    units: tuple[Choice, ...]
    periods_from: tuple[Choice, ...]
    periods_to: tuple[Choice, ...]
    models: tuple[Choice, ...]
    bands: tuple[tuple[str, tuple[Choice, ...]], ...]  # grouped by dimension title
    hide_names: bool
    sort: str
    search: str
    active: tuple[str, ...]  # "Business unit: Unit 1", ... for the summary line


@dataclass(frozen=True, slots=True)
class EmptyState:
    title: str
    message: str
    action_label: str | None
    action_url: str | None


@dataclass(frozen=True, slots=True)
class Pager:
    page: int
    pages: int
    previous_url: str | None
    next_url: str | None


@dataclass(frozen=True, slots=True)
class GlanceItem:
    text: str
    figure: str  # "412 teams (41 %)"
    url: str | None = None  # a team's results (furthest from target), if it may be opened


@dataclass(frozen=True, slots=True)
class GlancePanel:
    id: str
    title: str
    items: tuple[GlanceItem, ...]
    empty: str
    details_url: str  # the detailed view further down


@dataclass(frozen=True, slots=True)
class GlanceStrip:
    panels: tuple[GlancePanel, ...]
    csv_url: str


@dataclass(frozen=True, slots=True)
class DashboardPage:
    """Context of templates/dashboards/dashboard.html."""

    title: str
    organisation: str
    organisation_id: int
    base_url: str
    minimum: int
    hide_names: bool
    headline: tuple[tuple[str, str], ...]  # (label, value)
    hidden_reason: str | None
    form: FilterForm
    clear_url: str | None
    hide_names_url: str
    sections: tuple[Section, ...]
    pager: Pager
    empty_state: EmptyState | None
    exports_url: str
    glance: GlanceStrip | None = None
    rubric_note: RubricNote | None = None


@dataclasses.dataclass(frozen=True)
class RubricNote:
    """Teams shown that were scored under an older rubric (their levels and advice may
    differ from the newest rubric's): how many, and the rescore page while some are not."""

    text: str
    rescore_url: str | None


def rubric_note(dashboard: Dashboard) -> RubricNote | None:
    older = dashboard.older_rubric
    if older is None:
        return None
    return RubricNote(
        text=older.text,
        rescore_url=f"/organisations/{dashboard.organisation_id}/rescore"
        if older.rescored < older.teams
        else None,
    )


# ---------------------------------------------------------------- query strings


def query_of(filters: Filters, **changes: Any) -> dict[str, str]:
    """The query-string parameters that reproduce ``filters`` (with ``changes``)."""
    chosen = dataclasses.replace(filters, **changes)
    params: dict[str, str] = {}
    if chosen.unit_id is not None:
        params["unit"] = str(chosen.unit_id)
    if chosen.period_from:
        params["from"] = chosen.period_from
    if chosen.period_to:
        params["to"] = chosen.period_to
    if chosen.model:
        params["model"] = chosen.model
    if chosen.band is not None:
        params["band"] = f"{chosen.band[0]}:{chosen.band[1]}"
    if chosen.hide_names:
        params["hide_names"] = "1"
    if chosen.sort != "name":
        params["sort"] = chosen.sort
    if chosen.search:
        params["q"] = chosen.search
    if chosen.page != 1:
        params["page"] = str(chosen.page)
    return params


def url_of(base: str, filters: Filters, **changes: Any) -> str:
    params = query_of(filters, **changes)
    return base + ("?" + urlencode(params) if params else "")


# ---------------------------------------------------------------- tables


def short_titles(dashboard: Dashboard) -> list[str]:
    """Dimension titles short enough for column heads and chart axes on a phone: the first
    word ("Collaboration", "Technical-debt", "Handoff"), unless that would be ambiguous."""
    titles = [title for _, title in dashboard.dimensions]
    short = [title.split(" ", 1)[0] if len(title) > 12 else title for title in titles]
    return short if len(set(short)) == len(short) else titles


def _score(value: float | None) -> float | None:
    return None if value is None else round(value, SCORE_DECIMALS)


def team_table(
    dashboard: Dashboard, lines: Sequence[Line], link: Callable[[Line], str | None]
) -> Table:
    """One row per team: the heatmap's data with everything else known about the team."""
    columns = [
        Column("Team"),
        Column("Business unit"),
        Column("Round closed", nowrap=True),
        Column("Respondents", numeric=True),
        Column("Trajectory"),
        Column("Trajectory fit"),
        Column("Recommended process"),
    ]
    for title in short_titles(dashboard):
        columns += [Column(f"{title} score", numeric=True), Column(f"{title} band or level")]
    columns += [
        Column("Handoff level", numeric=True),
        Column("Change since last round", numeric=True),
    ]
    rows = []
    for line in lines:
        row: list[TableValue] = [
            line.label,
            line.unit,
            line.date,
            line.respondents,
            line.trajectory,
            FIT_LABELS.get(line.fit, line.fit),
            line.model,
        ]
        for cell in line.cells:
            row += [_score(cell.score), cell.label]
        row += [line.handoff_level, line.change]
        rows.append(tuple(row))
    if dashboard.filters.hide_names:
        columns.pop(1)
        rows = [row[:1] + row[2:] for row in rows]
    return Table(
        tuple(columns),
        tuple(rows),
        tuple(None if dashboard.filters.hide_names else link(line) for line in lines),
    )


def glance_table(strip: AtAGlance) -> Table:
    """The "at a glance" strip as rows: what it is, the item, how many teams, the detail."""
    rows: list[tuple[TableValue, ...]] = []
    rows += [
        ("Most common gap", gap.label, gap.teams, f"{gap.percent} % of {gap.of} teams")
        for gap in strip.top_gaps
    ]
    rows += [("Most common Now upgrade", u.label, u.count, u.detail) for u in strip.upgrades]
    rows += [
        (
            "Furthest from target",
            far.label,
            None,
            f"{far.percent} % of the way; not met: {', '.join(far.missed)}",
        )
        for far in strip.far_teams
    ]
    rows += [("Perception-gap hot spot", h.label, h.count, h.detail) for h in strip.hot_spots]
    return Table(
        (Column("At a glance"), Column("Item"), Column("Teams", numeric=True), Column("Detail")),
        tuple(rows),
    )


# long: a flat table, one entry per view: its columns beside the rows that fill them
def tables(
    dashboard: Dashboard,
    *,
    lines: Sequence[Line] | None = None,
    link: Callable[[Line], str | None] = lambda _: None,
) -> dict[str, Table]:
    """Every view's table (``lines``: the teams for the team table; the page by default)."""
    titles = short_titles(dashboard)
    result = {
        "glance": glance_table(at_a_glance(dashboard)),
        "teams": team_table(dashboard, dashboard.lines if lines is None else lines, link),
        "units": Table(
            (
                Column("Business unit"),
                Column("Teams", numeric=True),
                *tuple(Column(f"{t} mean score", numeric=True) for t in titles),
            ),
            tuple((row.unit, row.teams, *row.means) for row in dashboard.units),
        ),
        "bands": Table(
            (
                Column("Dimension"),
                *tuple(Column(f"{part}: teams", numeric=True) for part in dashboard.band_parts),
            ),
            tuple((title, *counts) for title, counts in dashboard.band_counts),
        ),
        "levels": Table(
            (
                Column("Artifact"),
                *tuple(Column(f"Level {level}: teams", numeric=True) for level in range(3)),
            ),
            tuple((title, *counts) for title, counts in dashboard.level_counts),
        ),
        "mix": Table(
            (Column("Trajectory"), Column("Recommended process"), Column("Teams", numeric=True)),
            tuple(
                (trajectory, model, count)
                for trajectory, models in dashboard.mix
                for model, count in models
            ),
        ),
        "upgrades": Table(
            (Column("Upgrade"), Column("Teams with it in Now", numeric=True), Column("Owners")),
            tuple((row.label, row.count, row.detail) for row in dashboard.upgrades),
        ),
        "gaps": Table(
            (
                Column("Question or dimension"),
                Column("Teams with this gap", numeric=True),
                Column("Where and how large"),
            ),
            tuple((row.label, row.count, row.detail) for row in dashboard.hot_spots),
        ),
        "coverage": Table(
            (
                Column("Dimension"),
                Column("Teams with low coverage", numeric=True),
                Column("Teams (coverage)"),
            ),
            tuple(
                (
                    warning.dimension,
                    warning.low,
                    "; ".join(
                        f"{team} ({percent} %)" if scored else f"{team} (no score)"
                        for team, percent, scored in warning.teams
                    ),
                )
                for warning in dashboard.coverage
            ),
        ),
        "trend": Table(
            (
                Column("Quarter", nowrap=True),
                *tuple(Column(f"{t} mean score", numeric=True) for t in titles),
            ),
            tuple(
                (period, *(values[i] for _, values in dashboard.trend))
                for i, period in enumerate(dashboard.trend_periods)
            ),
        ),
        "unit-trend": Table(
            (
                Column("Business unit"),
                Column("Quarter", nowrap=True),
                *tuple(Column(f"{t} mean score", numeric=True) for t in titles),
            ),
            tuple((row.unit, row.period, *row.means) for row in dashboard.unit_trend),
        ),
    }
    return result


# ---------------------------------------------------------------- charts


TITLE_WIDTH = 34  # characters of a chart title per line: a phone (375 px) shows them whole
LEGEND_WIDTH = 26  # characters of a legend entry per line


def _figure(
    spec: charts.ChartSpec, *, legend: bool = False, legend_reversed: bool = True
) -> Figure:
    """The page's figure of ``spec``: its title and legend entries wrapped to fit a phone,
    the legend above the plot (``legend``: even for one series, to name it)."""
    figure = Figure(spec.id, charts.to_plotly(spec))
    if spec.kind in ("bar", "stacked_bar"):
        _wrap_categories(figure)  # first: it sets the height the legend is placed by
    layout = figure.figure_json["layout"]
    title = layout.get("title", {})
    title_lines = 1
    if "text" in title:
        title["text"] = charts.wrap_label(title["text"], TITLE_WIDTH)
        title_lines = title["text"].count("<br>") + 1
    if legend:
        layout["showlegend"] = True
    for trace in figure.figure_json["data"]:
        if trace.get("type") == "bar":
            trace["name"] = charts.wrap_label(trace.get("name", ""), LEGEND_WIDTH)
            # a value label past the longest bar may use the right margin rather than be
            # cut at the plot's edge (a phone leaves the plot narrow)
            trace["cliponaxis"] = False
    if layout.get("showlegend"):
        # the title at the very top, so the legend below it never covers it
        layout["title"] = {
            **layout.get("title", {}),
            "yref": "container",
            "y": 1,
            "yanchor": "top",
            "pad": {"t": 12},
        }
        # a line per entry when there are many: a phone shows them one under the other
        # (an entry wrapped on two lines takes two)
        legend_rows = sum(
            trace.get("name", "").count("<br>") + 1 for trace in figure.figure_json["data"]
        )
        if len(spec.series) <= 3:
            legend_rows = math.ceil(legend_rows / 2)
        extra = 20 * legend_rows + 18 * (title_lines - 1)
        layout["margin"] = {**layout.get("margin", {}), "t": 56 + extra}
        height = int(layout.get("height", 300)) + extra
        layout["height"] = height
        # the legend under the title, in the top margin, from the figure's left edge (not
        # the plot's: long category labels on the left would push the entries past a
        # phone's right edge); placed on the container, it takes no room from the plot
        layout["legend"] = {
            "orientation": "h",
            # in the order of the series (Plotly lists stacked ones from the top down)
            "traceorder": "reversed"
            if spec.kind == "stacked_bar" and legend_reversed
            else "normal",
            "xref": "container",
            "yref": "container",
            "x": 0,
            "xanchor": "left",
            "y": 1 - (34 + 18 * (title_lines - 1)) / height,
            "yanchor": "top",
        }
    elif title_lines > 1:
        extra = 18 * (title_lines - 1)
        margin = layout.get("margin", {})
        layout["margin"] = {**margin, "t": int(margin.get("t", 50)) + extra}
        layout["height"] = int(layout.get("height", 300)) + extra
    return figure


def _wrap_categories(figure: Figure, width: int = 30) -> None:
    """Long category names (practice titles, questions) on several lines, so a phone can
    show them beside their bars; the chart grows with the extra lines."""
    lines = 1
    for trace in figure.figure_json["data"]:
        wrapped = [charts.wrap_label(label, width) for label in trace["y"]]
        lines = max([lines, *(label.count("<br>") + 1 for label in wrapped)])
        trace["y"] = wrapped
    if lines > 1:
        layout = figure.figure_json["layout"]
        rows = len(figure.figure_json["data"][0]["y"]) if figure.figure_json["data"] else 0
        layout["height"] = int(layout.get("height", 300)) + rows * 13 * (lines - 1)


def _count_axis(title: str, values: Sequence[int]) -> charts.ValueAxis:
    # room beyond the longest bar for its value label
    return charts.count_axis(title, values, room=0.2)


def figures(dashboard: Dashboard, table_of: Mapping[str, Table]) -> dict[str, tuple[Figure, ...]]:
    """Each view's charts, from the same data as its table (in the order of the views)."""
    titles = short_titles(dashboard)
    return {
        **_heatmap_figures(dashboard, titles, table_of),
        **_stacked_figures(dashboard),
        **_count_figures(dashboard),
        **_trend_figures(dashboard, titles),
    }


def _heatmap_figures(
    dashboard: Dashboard, titles: Sequence[str], table_of: Mapping[str, Table]
) -> dict[str, tuple[Figure, ...]]:
    """Teams and business units by dimension; a team's cell opens its results page."""
    result: dict[str, tuple[Figure, ...]] = {}
    if dashboard.lines and titles:
        spec = charts.heatmap_chart(
            chart_id="teams",
            title="Teams by dimension (mean score, 0–100)",
            columns=titles,
            rows=[(line.label, [_score(c.score) for c in line.cells]) for line in dashboard.lines],
        )
        figure = _figure(dataclasses.replace(spec, decimals=SCORE_DECIMALS))
        links = table_of["teams"].links
        if any(links):
            # the drill-down: dashboard.js opens a clicked team's results page
            figure.figure_json["data"][0]["customdata"] = [
                [link or ""] * len(titles) for link in links
            ]
        _fit_heatmap(figure, len(dashboard.lines))
        result["teams"] = (figure,)
    if dashboard.units and titles:
        spec = charts.heatmap_chart(
            chart_id="units",
            title="Business units by dimension (mean score, 0–100)",
            columns=titles,
            rows=[(row.unit, list(row.means)) for row in dashboard.units],
        )
        figure = _figure(dataclasses.replace(spec, decimals=SCORE_DECIMALS))
        _fit_heatmap(figure, len(dashboard.units))
        result["units"] = (figure,)
    return result


def _stacked_figures(dashboard: Dashboard) -> dict[str, tuple[Figure, ...]]:
    """Teams per band, per handoff level, and per trajectory and recommended process."""
    result: dict[str, tuple[Figure, ...]] = {}
    if dashboard.band_counts:
        result["bands"] = (
            _figure(
                charts.stacked_chart(
                    chart_id="bands",
                    title="Teams per band",
                    categories=[title for title, _ in dashboard.band_counts],
                    parts=[
                        (part, [counts[i] for _, counts in dashboard.band_counts])
                        for i, part in enumerate(dashboard.band_parts)
                    ],
                    axis_title="Teams",
                )
            ),
        )
    if dashboard.level_counts:
        result["levels"] = (
            _figure(
                charts.stacked_chart(
                    chart_id="levels",
                    title="Teams per handoff level",
                    categories=[title for title, _ in dashboard.level_counts],
                    parts=[
                        (f"Level {level}", [counts[level] for _, counts in dashboard.level_counts])
                        for level in range(3)
                    ],
                    axis_title="Teams",
                )
            ),
        )
    if dashboard.mix:
        # "No recommendation" (unknown trajectories) last, after the processes recommended
        names = [row.label for row in dashboard.models if row.label != NO_RECOMMENDATION] + [
            row.label for row in dashboard.models if row.label == NO_RECOMMENDATION
        ]
        result["mix"] = (
            _figure(
                charts.stacked_chart(
                    chart_id="mix",
                    title="Trajectory and recommended process",
                    categories=[trajectory for trajectory, _ in dashboard.mix],
                    parts=[
                        (name, [dict(counts).get(name, 0) for _, counts in dashboard.mix])
                        for name in names
                    ],
                    axis_title="Teams",
                    ordered=False,
                ),
                legend=True,  # the legend names the processes, even a single one
                legend_reversed=False,  # most common first, "No recommendation" last
            ),
        )
    return result


def _count_figures(dashboard: Dashboard) -> dict[str, tuple[Figure, ...]]:
    """How many teams share an upgrade, a perception gap, or low coverage."""
    result: dict[str, tuple[Figure, ...]] = {}
    if dashboard.upgrades:
        counts = [row.count for row in dashboard.upgrades]
        result["upgrades"] = (
            _figure(
                charts.grouped_chart(
                    chart_id="upgrades",
                    title="Most common Now upgrades",
                    categories=[row.label for row in dashboard.upgrades],
                    series=[("Teams", counts)],
                    axis=_count_axis("Teams with it in Now", counts),
                )
            ),
        )
    if dashboard.hot_spots:
        counts = [row.count for row in dashboard.hot_spots]
        result["gaps"] = (
            _figure(
                charts.grouped_chart(
                    chart_id="gaps",
                    title="Perception-gap hot spots",
                    categories=[_short(row.label) for row in dashboard.hot_spots],
                    series=[("Teams", counts)],
                    axis=_count_axis("Teams with this gap", counts),
                )
            ),
        )
    if any(warning.low for warning in dashboard.coverage):
        counts = [warning.low for warning in dashboard.coverage]
        result["coverage"] = (
            _figure(
                charts.grouped_chart(
                    chart_id="coverage",
                    title="Teams with low coverage",
                    categories=[warning.dimension for warning in dashboard.coverage],
                    series=[("Teams", counts)],
                    axis=_count_axis("Teams below 60 % coverage or without a score", counts),
                )
            ),
        )
    return result


def _trend_figures(dashboard: Dashboard, titles: Sequence[str]) -> dict[str, tuple[Figure, ...]]:
    """Mean scores by quarter, overall and (one chart per dimension) by business unit."""
    result: dict[str, tuple[Figure, ...]] = {}
    if len(dashboard.trend_periods) > 1 and dashboard.trend:
        result["trend"] = (
            _figure(
                charts.grouped_chart(
                    chart_id="trend",
                    title="Mean team score by quarter",
                    categories=list(dashboard.trend_periods),
                    series=[
                        (title, values)
                        for title, (_, values) in zip(titles, dashboard.trend, strict=True)
                    ],
                    decimals=SCORE_DECIMALS,
                )
            ),
        )
    periods = sorted({row.period for row in dashboard.unit_trend})
    if len(periods) > 1 and dashboard.units:
        shown_periods = periods[-len(charts.SERIES_STYLES) :]  # the latest quarters
        units = sorted({row.unit for row in dashboard.unit_trend}, key=natural_key)
        by_key = {(row.unit, row.period): row.means for row in dashboard.unit_trend}
        figures_of_units = []
        for i, title in enumerate(titles):
            figures_of_units.append(
                _figure(
                    charts.grouped_chart(
                        chart_id=f"unit-trend-{i + 1}",
                        title=f"{title}: by unit and quarter",
                        categories=units,
                        series=[
                            (p, [by_key.get((u, p), (None,) * len(titles))[i] for u in units])
                            for p in shown_periods
                        ],
                        decimals=SCORE_DECIMALS,
                    )
                )
            )
        result["unit-trend"] = tuple(figures_of_units)
    return result


def _short(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


HEADER_WIDTH = 10  # characters per line of a heatmap column title: 4 fit side by side at 375 px


def _header(label: str) -> str:
    """A heatmap column title on short lines (also broken after hyphens: "Technical-" /
    "debt"), so neighbouring titles never run into each other on a phone."""
    return charts.wrap_label(label.replace("-", "- "), HEADER_WIDTH).replace("- ", "-")


def _fit_heatmap(figure: Figure, rows: int) -> None:
    """Column titles wrapped (not turned sideways), the colour bar under the plot (so a phone
    keeps its width for the cells), hidden and missing cells grey without a hover label."""
    data = figure.figure_json["data"][0]
    data["x"] = [_header(label) for label in data["x"]]
    data["hoverongaps"] = False
    data["colorbar"] = {
        "title": {"text": "Score (0–100)", "side": "top"},
        "orientation": "h",
        "thickness": 10,
        "len": 0.5,
        "x": 1,
        "xanchor": "right",
        "y": -0.02,
        "yanchor": "top",
    }
    layout = figure.figure_json["layout"]
    layout["plot_bgcolor"] = charts.MISSING_COLOUR
    layout["xaxis"] = {**layout.get("xaxis", {}), "tickangle": 0, "tickfont": {"size": 10}}
    # room above the column titles for the chart's title (one or two lines)
    title_lines = layout.get("title", {}).get("text", "").count("<br>") + 1
    layout["margin"] = {**layout.get("margin", {}), "t": 92 + 18 * title_lines, "b": 80}
    layout["height"] = max(int(layout.get("height", 240)), 200 + 26 * rows)


# ---------------------------------------------------------------- the page


DESCRIPTIONS: Final = {
    "teams": "Each team's latest closed round: the mean of its respondents' scores per "
    "practice dimension, with its band or handoff level. Grey cells are not shown (fewer "
    "respondents behind them than the minimum) or have no score. Select a team to open its "
    "results.",
    "units": "The mean team score of each business unit, over the teams shown above.",
    "bands": "How many teams are in each band of the collaboration and technical-debt practices.",
    "levels": "How many teams have reached handoff level 0, 1 or 2 for models, code and data, "
    "and overall (the lowest of the three). Where a team's answers were disputed between role "
    "groups, its level counts at the lower bound of its range.",
    "mix": "Trajectory types (goal- or data-driven; model-first, system-first or parallel) "
    "and the process model recommended to the teams of each.",
    "upgrades": "The practice upgrades most often in teams' Now column, with who usually "
    "owns them.",
    "gaps": "Questions and dimensions where data scientists, engineers and product people "
    "of a team most often disagree, and how far apart they are on average.",
    "coverage": "Scores resting on less than 60 % of the expected questions (many "
    '"don\'t know" answers or a quick check) deserve care before comparing.',
    "trend": "The mean team score per quarter; each team counts once per quarter, with its "
    "latest round there.",
    "unit-trend": "The mean team score per business unit and quarter (the latest quarters "
    "in the charts, all of them in the table).",
}

EMPTY: Final = {
    "units": "No business unit to compare yet.",
    "bands": "No team has a band to count yet.",
    "levels": "No team has a handoff level that may be shown yet.",
    "mix": "No trajectory to count yet.",
    "upgrades": "No team has a Now upgrade yet.",
    "gaps": "No perception gaps: no team survey had two role groups large enough to show "
    "(at least 3 people each) that disagreed.",
    "coverage": "No warning: every score shown rests on at least 60 % of its questions.",
    "trend": "A trend needs closed rounds in at least two quarters.",
    "unit-trend": "A trend needs closed rounds in at least two quarters.",
}


def _empty_state(
    dashboard: Dashboard, *, teams_in_organisation: int, is_admin: bool, clear_url: str | None
) -> EmptyState | None:
    if dashboard.teams_matching:
        return None
    if not teams_in_organisation:
        return EmptyState(
            "No teams yet",
            "This organisation has no teams yet. An administrator adds business units and "
            "teams under Administration; team leads then start rounds from their teams' pages.",
            "Open Administration" if is_admin else None,
            f"/admin/organisations/{dashboard.organisation_id}" if is_admin else None,
        )
    if not dashboard.teams_total and not dashboard.filters.narrowed:
        return EmptyState(
            "No team has closed a round yet",
            "The dashboard shows each team's latest closed round. Start one from a team's page "
            "(Your teams → a team → Start a round); once its answers are in and the round is "
            "closed, the team appears here.",
            "Go to your teams",
            "/teams",
        )
    if dashboard.teams_total and not dashboard.teams_shown:
        return EmptyState(
            "Nothing can be shown without exposing respondents",
            f"Teams have closed rounds, but none with at least {dashboard.minimum} responses "
            "(or they could be worked out from one another). Invite more of each team to "
            "answer its next round.",
            None,
            None,
        )
    return EmptyState(
        "No team matches these filters",
        "Widen the quarters, choose another business unit, or clear the filters.",
        "Clear the filters" if clear_url else None,
        clear_url,
    )


def _form(dashboard: Dashboard) -> FilterForm:
    filters = dashboard.filters
    options = dashboard.options
    unit_names = dict(options.units)
    model_names = dict(options.models)
    active = []
    if filters.unit_id is not None:
        active.append(f"Business unit: {unit_names.get(filters.unit_id, '?')}")
    if filters.period_from or filters.period_to:
        active.append(
            f"Quarters: {filters.period_from or 'first'} to {filters.period_to or 'latest'}"
        )
    if filters.model:
        active.append(f"Process model: {model_names.get(filters.model, filters.model)}")
    if filters.band is not None:
        active.append(f"Band or level: {filters.band[1]}")
    if filters.search:
        active.append(f"Team names containing “{filters.search}”")
    grouped: dict[str, list[Choice]] = {}
    for dimension_id, title, label in options.bands:
        value = f"{dimension_id}:{label}"
        grouped.setdefault(title, []).append(
            Choice(value, label, filters.band == (dimension_id, label))
        )
    return FilterForm(
        units=tuple(
            Choice(str(unit_id), name, filters.unit_id == unit_id)
            for unit_id, name in options.units
        ),
        periods_from=tuple(Choice(p, p, filters.period_from == p) for p in options.periods),
        periods_to=tuple(Choice(p, p, filters.period_to == p) for p in options.periods),
        models=tuple(
            Choice(model_id, name, filters.model == model_id) for model_id, name in options.models
        ),
        bands=tuple((title, tuple(choices)) for title, choices in grouped.items()),
        hide_names=filters.hide_names,
        sort=filters.sort,
        search=filters.search,
        active=tuple(active),
    )


def _section(
    dashboard: Dashboard,
    base: str,
    view_id: str,
    title: str,
    table: Table,
    figures_of_view: tuple[Figure, ...],
) -> Section:
    """One view of the page: its table, charts, CSV links and the note on paging."""
    filters = dashboard.filters
    csv_params = query_of(filters, page=1)
    if view_id == "teams":
        csv_params["page"] = str(dashboard.page)  # exactly the teams on the page
    first = (dashboard.page - 1) * PAGE_SIZE + 1
    return Section(
        id=view_id,
        title=title,
        description=DESCRIPTIONS[view_id],
        table=table,
        figures=figures_of_view,
        csv_url=f"{base}/{view_id}.csv" + ("?" + urlencode(csv_params) if csv_params else ""),
        all_csv_url=url_of(f"{base}/{view_id}.csv", filters, page=1)
        if view_id == "teams" and dashboard.pages > 1
        else None,
        empty=None if table.rows else EMPTY.get(view_id, "Nothing to show."),
        chartless=EMPTY.get(view_id, "") if view_id in ("trend", "unit-trend") else "",
        note=(
            f"Page {dashboard.page} of {dashboard.pages}: teams {first}–"
            f"{first + len(table.rows) - 1} of {dashboard.teams_matching}"
            if view_id == "teams" and dashboard.pages > 1
            else None
        ),
    )


def _pager(dashboard: Dashboard, base: str) -> Pager:
    filters = dashboard.filters
    return Pager(
        page=dashboard.page,
        pages=dashboard.pages,
        previous_url=url_of(base, filters, page=dashboard.page - 1) + "#teams"
        if dashboard.page > 1
        else None,
        next_url=url_of(base, filters, page=dashboard.page + 1) + "#teams"
        if dashboard.page < dashboard.pages
        else None,
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def glance_strip(
    dashboard: Dashboard, base: str, team_link: Callable[[int, int], str | None]
) -> GlanceStrip:
    """The strip at the top of the page: the four things to see first, each a few lines with
    a link to its detailed view below (``service.at_a_glance``: the report's and CSV's too)."""
    strip = at_a_glance(dashboard)
    hide = dashboard.filters.hide_names

    def team_url(team_id: int, round_id: int) -> str | None:
        return None if hide else team_link(team_id, round_id)

    panels = (
        GlancePanel(
            "glance-gaps",
            "Most common gaps",
            tuple(
                GlanceItem(gap.label, f"{_plural(gap.teams, 'team')} ({gap.percent} %)")
                for gap in strip.top_gaps
            ),
            "No practice area has teams at its lowest band or level.",
            "#levels" if strip.top_gaps and strip.top_gaps[0].levelled else "#bands",
        ),
        GlancePanel(
            "glance-upgrades",
            "Most common Now upgrades",
            tuple(GlanceItem(u.label, _plural(u.count, "team")) for u in strip.upgrades),
            "No team has a Now upgrade yet.",
            "#upgrades",
        ),
        GlancePanel(
            "glance-targets",
            "Furthest from target",
            tuple(
                GlanceItem(
                    far.label,
                    f"{far.percent} % of the way",
                    team_url(far.team_id, far.round_id),
                )
                for far in strip.far_teams
            ),
            "No team shown has a target it has not met (targets are set on a team's page).",
            "#teams",
        ),
        GlancePanel(
            "glance-gaps-perception",
            "Perception-gap hot spots",
            tuple(GlanceItem(_short(h.label), _plural(h.count, "team")) for h in strip.hot_spots),
            EMPTY["gaps"],
            "#gaps",
        ),
    )
    return GlanceStrip(panels, url_of(f"{base}/glance.csv", dashboard.filters, page=1))


def dashboard_page(
    dashboard: Dashboard,
    *,
    organisation: str,
    teams_in_organisation: int,
    is_admin: bool,
    results_link: Callable[[Line], str | None],
    team_link: Callable[[int, int], str | None] = lambda _team, _round: None,
) -> DashboardPage:
    base = f"/organisations/{dashboard.organisation_id}/dashboard"
    filters = dashboard.filters
    table_of = tables(dashboard, link=results_link)
    figure_of = figures(dashboard, table_of)
    clear_url = url_of(base, Filters(hide_names=filters.hide_names)) if filters.narrowed else None
    sections = tuple(
        _section(dashboard, base, view_id, title, table_of[view_id], figure_of.get(view_id, ()))
        for view_id, title in VIEWS
        # business units are left out when presenting, as in the report
        if not (filters.hide_names and view_id in ("units", "unit-trend"))
    )
    headline = (
        ("Teams shown", f"{dashboard.teams_matching} of {dashboard.teams_total}"),
        ("Responses behind them", str(dashboard.respondents_shown)),
        *(
            (title, NO_VALUE if value is None else f"{value:.1f}")
            for title, value in dashboard.means
        ),
    )
    return DashboardPage(
        title=f"{organisation} — dashboard",
        organisation=organisation,
        organisation_id=dashboard.organisation_id,
        base_url=base,
        minimum=dashboard.minimum,
        hide_names=filters.hide_names,
        headline=headline,
        hidden_reason=dashboard.hidden_reason,
        form=_form(dashboard),
        clear_url=clear_url,
        hide_names_url=url_of(base, filters, hide_names=not filters.hide_names, page=1),
        sections=sections,
        pager=_pager(dashboard, base),
        empty_state=_empty_state(
            dashboard,
            teams_in_organisation=teams_in_organisation,
            is_admin=is_admin,
            clear_url=clear_url,
        ),
        exports_url=f"/organisations/{dashboard.organisation_id}/exports",
        glance=glance_strip(dashboard, base, team_link) if dashboard.teams_matching else None,
        rubric_note=rubric_note(dashboard),
    )


def cell_text(value: TableValue, *, numeric: bool) -> str:
    """A table cell as the page shows it."""
    if value is None or value == "":
        return NO_VALUE if numeric else ""
    if isinstance(value, float):
        return f"{value:.{SCORE_DECIMALS}f}"
    return str(value)
