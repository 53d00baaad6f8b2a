"""Charts as data: typed specs built once from results, drawn by Plotly on pages and as SVG in PDFs.

A spec holds everything both renderings need (categories, series with their values, scale,
colours, patterns, titles), so the page and the PDF show the same numbers in the same order
with the same colours. ``to_plotly`` turns a spec into figure JSON for ``static/js/charts.js``;
``app.charts.svg.to_svg`` draws the same spec without a browser.

Colours come from the Okabe-Ito palette (safe for the common colour-vision deficiencies) and
every series also differs by pattern, marker and line style, so charts stay readable in
greyscale; ordered categories (bands, levels) and heatmaps use one hue from light to dark.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

ChartKind = Literal["radar", "bar", "heatmap", "stacked_bar"]
Pattern = Literal["solid", "hatch", "backhatch", "dots", "cross", "grid", "lines", "vlines", "none"]
Marker = Literal["circle", "square", "diamond", "triangle"]
Dash = Literal["solid", "dash", "dot"]

# Okabe & Ito (2008): distinguishable with every common colour-vision deficiency
BLUE = "#0072B2"
ORANGE = "#E69F00"
GREEN = "#009E73"
PURPLE = "#CC79A7"
VERMILLION = "#D55E00"
SKY_BLUE = "#56B4E9"
YELLOW = "#F0E442"
GREY = "#7F7F7F"  # Okabe-Ito's black, lightened so bar labels and outlines still show


@dataclass(frozen=True, slots=True)
class SeriesStyle:
    colour: str
    pattern: Pattern
    marker: Marker
    dash: Dash


# One style per series position: colour, and (for greyscale) pattern, marker and dash too.
# Every colour and every pattern differs from the others' (the two orange-ish colours,
# orange and vermillion, lie far apart in the order and never share a pattern), so eight
# series (a trajectory's process models) stay apart in colour, in greyscale and for the
# common colour-vision deficiencies.
SERIES_STYLES: tuple[SeriesStyle, ...] = (
    SeriesStyle(BLUE, "solid", "circle", "solid"),
    SeriesStyle(ORANGE, "hatch", "square", "dash"),
    SeriesStyle(GREEN, "dots", "diamond", "dot"),
    SeriesStyle(PURPLE, "cross", "triangle", "solid"),
    SeriesStyle(SKY_BLUE, "backhatch", "circle", "dash"),
    SeriesStyle(YELLOW, "lines", "square", "dot"),
    SeriesStyle(VERMILLION, "vlines", "diamond", "solid"),
    SeriesStyle(GREY, "grid", "triangle", "dash"),
)

# Ordered categories (bands, levels) from lowest to highest: one hue, light to dark, so the
# order survives greyscale; the lightest two get a pattern so they differ from the paper.
ORDERED_STYLES: tuple[SeriesStyle, ...] = (
    SeriesStyle("#DCE9F5", "dots", "circle", "solid"),
    SeriesStyle("#9ECAE1", "hatch", "circle", "solid"),
    SeriesStyle("#4292C6", "solid", "circle", "solid"),
    SeriesStyle("#08519C", "solid", "circle", "solid"),
    SeriesStyle("#08306B", "solid", "circle", "solid"),
)

# Sequential scale for heatmaps (0-100), linear in RGB between stops like Plotly's.
HEATMAP_SCALE: tuple[tuple[float, str], ...] = (
    (0.0, "#F7FBFF"),
    (0.25, "#C6DBEF"),
    (0.5, "#6BAED6"),
    (0.75, "#2171B5"),
    (1.0, "#08306B"),
)
MISSING_COLOUR = "#E6E6E6"
CHART_ID = re.compile(r"[a-z][a-z0-9-]{0,60}")
THIS_ROUND = "This round"
PREVIOUS_ROUND = "Previous round"


@dataclass(frozen=True, slots=True)
class Series:
    """One named row of values, one value per category (None: no value, drawn as a gap)."""

    name: str
    values: tuple[float | None, ...]
    style: SeriesStyle


@dataclass(frozen=True, slots=True)
class ValueAxis:
    title: str = "Score (0–100)"
    minimum: float = 0.0
    maximum: float = 100.0
    ticks: tuple[float, ...] = (0.0, 25.0, 50.0, 75.0, 100.0)


@dataclass(frozen=True, slots=True)
class ChartSpec:
    """A chart as plain data: what to draw, never how a library draws it."""

    id: str  # unique within a page; used for the HTML id of the figure
    kind: ChartKind
    title: str
    description: str  # one sentence for screen readers and the PDF's alternative text
    categories: tuple[str, ...]
    series: tuple[Series, ...]
    value_axis: ValueAxis = field(default_factory=ValueAxis)
    category_title: str = ""
    decimals: int = 0  # value labels and hover texts use this many decimals
    groups: tuple[str, ...] = ()  # radar: the dimension each category belongs to
    colour_scale: tuple[tuple[float, str], ...] = HEATMAP_SCALE  # heatmap only

    def __post_init__(self) -> None:
        if not CHART_ID.fullmatch(self.id):
            raise ValueError(f"chart id {self.id!r} must be lower-case letters, digits and -")
        for series in self.series:
            if len(series.values) != len(self.categories):
                raise ValueError(
                    f"chart {self.id}: series {series.name!r} has {len(series.values)} values "
                    f"for {len(self.categories)} categories"
                )
        if self.groups and len(self.groups) != len(self.categories):
            raise ValueError(f"chart {self.id}: one group per category is needed")

    def format(self, value: float | None) -> str:
        """A value as the chart labels show it ("–" for no value)."""
        return format_value(value, self.decimals)


def format_value(value: float | None, decimals: int = 0) -> str:
    return "–" if value is None else f"{value:.{decimals}f}"


# ---------------------------------------------------------------- colours


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def scale_colour(scale: Sequence[tuple[float, str]], fraction: float) -> str:
    """The colour at ``fraction`` (0-1) of a scale, interpolated linearly in RGB."""
    fraction = min(1.0, max(0.0, fraction))
    for (low, low_colour), (high, high_colour) in itertools.pairwise(scale):
        if fraction <= high:
            share = 0.0 if high == low else (fraction - low) / (high - low)
            a, b = _rgb(low_colour), _rgb(high_colour)
            mixed = (round(x + (y - x) * share) for x, y in zip(a, b, strict=True))
            return "#{:02X}{:02X}{:02X}".format(*mixed)
    return scale[-1][1]


def relative_luminance(colour: str) -> float:
    """WCAG relative luminance, to pick black or white text on a coloured cell."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def text_colour_on(colour: str) -> str:
    return "#FFFFFF" if relative_luminance(colour) < 0.3 else "#1A1A1A"


# ---------------------------------------------------------------- builders from results


def _series(name: str, values: Sequence[float | None], index: int) -> Series:
    return Series(name, tuple(values), SERIES_STYLES[index % len(SERIES_STYLES)])


def scored_dimensions(data: Mapping[str, Any]) -> list[str]:
    """Ids of the practice instruments with a score (trajectory is a type, never a score)."""
    return [
        dimension_id
        for dimension_id, dimension in data["dimensions"].items()
        if dimension.get("sub_dimensions") and dimension.get("score") is not None
    ]


def radar_chart(
    data: Mapping[str, Any], previous: Mapping[str, Any] | None = None
) -> ChartSpec | None:
    """Sub-dimension scores of the practice instruments on one radar (None if too few)."""
    categories: list[str] = []
    groups: list[str] = []
    current: list[float | None] = []
    earlier: list[float | None] = []
    for dimension_id in scored_dimensions(data):
        dimension = data["dimensions"][dimension_id]
        before = (previous or {}).get("dimensions", {}).get(dimension_id, {})
        for sub_id, sub in dimension["sub_dimensions"].items():
            categories.append(sub["title"])
            groups.append(dimension["title"])
            current.append(sub["score"])
            earlier.append(before.get("sub_dimensions", {}).get(sub_id, {}).get("score"))
    if len(categories) < 3:
        return None
    series = [_series(THIS_ROUND, current, 0)]
    if previous is not None and any(value is not None for value in earlier):
        series.append(_series(PREVIOUS_ROUND, earlier, 1))
    return ChartSpec(
        id="radar",
        kind="radar",
        title="Practice profile by sub-dimension",
        description=(
            "Radar chart of the sub-dimension scores (0 to 100) of the practice instruments: "
            + "; ".join(f"{c} {format_value(v)}" for c, v in zip(categories, current, strict=True))
            + "."
        ),
        categories=tuple(categories),
        groups=tuple(groups),
        series=tuple(series),
        decimals=0,
    )


def dimension_chart(
    data: Mapping[str, Any], previous: Mapping[str, Any] | None = None
) -> ChartSpec | None:
    """The practice scores (0-100), with the previous round's beside them when known."""
    dimensions = scored_dimensions(data)
    if not dimensions:
        return None
    titles = tuple(data["dimensions"][d]["title"] for d in dimensions)
    series = [_series(THIS_ROUND, [data["dimensions"][d]["score"] for d in dimensions], 0)]
    if previous is not None:
        before = [previous.get("dimensions", {}).get(d, {}).get("score") for d in dimensions]
        if any(value is not None for value in before):
            series.append(_series(PREVIOUS_ROUND, before, 1))
    return ChartSpec(
        id="dimensions",
        kind="bar",
        title="Practice scores",
        description="Bar chart of the practice scores (0 to 100): "
        + "; ".join(
            f"{t} {format_value(v, 1)}" for t, v in zip(titles, series[0].values, strict=True)
        )
        + ".",
        categories=titles,
        series=tuple(series),
        value_axis=ValueAxis("Score (0–100)"),
        decimals=1,
    )


def sub_dimension_chart(data: Mapping[str, Any], dimension_id: str) -> ChartSpec | None:
    """One dimension's sub-dimension scores as bars."""
    dimension = data["dimensions"][dimension_id]
    subs = dimension.get("sub_dimensions") or {}
    if not subs:
        return None
    titles = tuple(sub["title"] for sub in subs.values())
    values = [sub["score"] for sub in subs.values()]
    return ChartSpec(
        id=f"sub-{dimension_id.replace('_', '-')}",
        kind="bar",
        title=f"{dimension['title']}: sub-dimensions",
        description=f"Bar chart of the sub-dimension scores of {dimension['title']}: "
        + "; ".join(f"{t} {format_value(v)}" for t, v in zip(titles, values, strict=True))
        + ".",
        categories=titles,
        series=(_series(THIS_ROUND, values, 0),),
        value_axis=ValueAxis("Score (0–100)"),
        decimals=0,
    )


def heatmap_chart(
    *,
    chart_id: str,
    title: str,
    columns: Sequence[str],
    rows: Sequence[tuple[str, Sequence[float | None]]],
) -> ChartSpec:
    """Rows (e.g. teams) by columns (e.g. dimensions), each cell coloured by its 0-100 value."""
    return ChartSpec(
        id=chart_id,
        kind="heatmap",
        title=title,
        description=f"Heatmap of scores (0 to 100) for {len(rows)} rows by "
        f"{len(columns)} columns ({', '.join(columns)}); every cell is labelled with its value.",
        categories=tuple(columns),
        series=tuple(Series(name, tuple(values), SERIES_STYLES[0]) for name, values in rows),
        value_axis=ValueAxis("Score (0–100)"),
        decimals=0,
    )


def stacked_chart(
    *,
    chart_id: str,
    title: str,
    categories: Sequence[str],
    parts: Sequence[tuple[str, Sequence[float | None]]],
    axis_title: str,
    ordered: bool = True,
) -> ChartSpec:
    """Counts per category split into ordered parts (e.g. teams per band for each dimension)."""
    totals = [sum(values[i] or 0 for _, values in parts) for i in range(len(categories))] or [0]
    axis = count_axis(axis_title, totals, room=0.08)
    return ChartSpec(
        id=chart_id,
        kind="stacked_bar",
        title=title,
        description=f"Stacked bar chart: {axis_title.lower()} for "
        + "; ".join(
            f"{c}: " + ", ".join(f"{name} {format_value(values[i])}" for name, values in parts)
            for i, c in enumerate(categories)
        )
        + ".",
        categories=tuple(categories),
        series=tuple(
            Series(
                name,
                tuple(values),
                ORDERED_STYLES[min(index, len(ORDERED_STYLES) - 1)]
                if ordered
                else SERIES_STYLES[index % len(SERIES_STYLES)],
            )
            for index, (name, values) in enumerate(parts)
        ),
        value_axis=axis,
        decimals=0,
    )


def grouped_chart(
    *,
    chart_id: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    axis: ValueAxis | None = None,
    decimals: int = 0,
) -> ChartSpec:
    """Grouped horizontal bars: one bar per series in every category."""
    return ChartSpec(
        id=chart_id,
        kind="bar",
        title=title,
        description=f"Bar chart: {title.lower()}: "
        + "; ".join(
            f"{c}: "
            + ", ".join(f"{name} {format_value(values[i], decimals)}" for name, values in series)
            for i, c in enumerate(categories)
        )
        + ".",
        categories=tuple(categories),
        series=tuple(_series(name, values, index) for index, (name, values) in enumerate(series)),
        value_axis=axis or ValueAxis("Score (0–100)"),
        decimals=decimals,
    )


def count_ticks(top: float) -> tuple[float, ...]:
    step = max(1, round(top / 4))
    ticks = [float(v) for v in range(0, int(top) + 1, step)]
    return tuple(ticks)


def count_axis(title: str, values: Sequence[float | None], *, room: float = 0.2) -> ValueAxis:
    """An axis of counts from 0 to beyond the largest value (``room``: the share added for
    a value label beside the longest bar), so no bar reaches, let alone passes, its end."""
    top = float(max(1.0, *(v or 0.0 for v in values))) if values else 1.0
    return ValueAxis(title, 0.0, max(top * (1 + room), top + 0.5), count_ticks(top))


# ---------------------------------------------------------------- Plotly


# Plotly reads pseudo-HTML in every text it draws; escaping turns user text (team names,
# custom rubric titles) into inert characters, which Plotly shows as written.
def _text(value: str) -> str:
    return html.escape(value, quote=False)


_PLOTLY_PATTERNS = {
    "solid": "",
    "none": "",
    "hatch": "/",
    "backhatch": "\\",
    "dots": ".",
    "cross": "x",
    "grid": "+",
    "lines": "-",
    "vlines": "|",
}
_PLOTLY_MARKERS = {
    "circle": "circle",
    "square": "square",
    "diamond": "diamond",
    "triangle": "triangle-up",
}
_PLOTLY_DASH = {"solid": "solid", "dash": "dash", "dot": "dot"}
FONT_FAMILY = "IBM Plex Sans, Helvetica Neue, Arial, sans-serif"


def wrap_label(label: str, width: int = 22) -> str:
    """An escaped label broken into lines for Plotly (which reads <br> as a line break)."""
    lines: list[str] = []
    for word in label.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines)


def _rgba(colour: str, alpha: float) -> str:
    r, g, b = _rgb(colour)
    return f"rgba({r},{g},{b},{alpha})"


# long: one Plotly layout per chart kind, side by side so the kinds stay alike
def to_plotly(spec: ChartSpec) -> dict[str, Any]:
    """Figure JSON (``{"data", "layout", "config"}``) for ``static/js/charts.js``."""
    layout: dict[str, Any] = {
        "title": {"text": _text(spec.title), "x": 0, "xanchor": "left", "font": {"size": 15}},
        "font": {"family": FONT_FAMILY, "size": 12, "color": "#1A1A1A"},
        "paper_bgcolor": "#FFFFFF",
        "plot_bgcolor": "#FFFFFF",
        "showlegend": len(spec.series) > 1 and spec.kind != "heatmap",
        "legend": {"orientation": "h", "y": -0.15},
        "margin": {"l": 10, "r": 40, "t": 50, "b": 40},
    }
    fmt = f".{spec.decimals}f"
    categories = [_text(c) for c in spec.categories]
    layout["autosize"] = True
    rows = len(spec.categories)
    data: list[dict[str, Any]] = []
    if spec.kind == "radar":
        for series in spec.series:
            values = list(series.values)
            data.append(
                {
                    "type": "scatterpolar",
                    "name": _text(series.name),
                    # closed polygon: the first point repeated at the end
                    "r": [*values, values[0]],
                    "theta": [*categories, categories[0]],
                    "mode": "lines+markers",
                    "fill": "toself",
                    "fillcolor": _rgba(series.style.colour, 0.12),
                    "line": {"color": series.style.colour, "dash": _PLOTLY_DASH[series.style.dash]},
                    "marker": {
                        "color": series.style.colour,
                        "symbol": _PLOTLY_MARKERS[series.style.marker],
                        "size": 7,
                    },
                    "hovertemplate": f"%{{theta}}: %{{r:{fmt}}}<extra>{_text(series.name)}</extra>",
                }
            )
        # wrapped axis labels (our own <br>, between escaped words) keep the radar compact
        for trace in data:
            trace["theta"] = [wrap_label(c) for c in trace["theta"]]
        layout["height"] = 560
        layout["margin"] = {"l": 110, "r": 110, "t": 70, "b": 50}
        layout["polar"] = {
            "radialaxis": {
                "angle": 90,  # along the first (top) spoke, as in the SVG
                "tickangle": 90,
                "tickfont": {"size": 10, "color": "#595959"},
                "range": [spec.value_axis.minimum, spec.value_axis.maximum],
                "tickvals": list(spec.value_axis.ticks),
                "gridcolor": "#D9D9D9",
            },
            "angularaxis": {"direction": "clockwise", "rotation": 90, "gridcolor": "#D9D9D9"},
        }
    elif spec.kind in ("bar", "stacked_bar"):
        for series in spec.series:
            data.append(
                {
                    "type": "bar",
                    "orientation": "h",
                    "name": _text(series.name),
                    "y": categories,
                    "x": list(series.values),
                    "text": [spec.format(v) if v else "" for v in series.values],
                    "textposition": "inside" if spec.kind == "stacked_bar" else "outside",
                    "marker": {
                        "color": series.style.colour,
                        "line": {"color": "#1A1A1A", "width": 0.5},
                        "pattern": {"shape": _PLOTLY_PATTERNS[series.style.pattern]},
                    },
                    "hovertemplate": f"%{{y}}: %{{x:{fmt}}}<extra>{_text(series.name)}</extra>",
                }
            )
        layout["barmode"] = "stack" if spec.kind == "stacked_bar" else "group"
        per_row = 30 if spec.kind == "stacked_bar" else 16 * len(spec.series) + 18
        layout["height"] = max(220, 110 + rows * per_row + (30 if len(spec.series) > 1 else 0))
        layout["xaxis"] = {
            "title": {"text": _text(spec.value_axis.title)},
            "range": [spec.value_axis.minimum, spec.value_axis.maximum],
            "tickvals": list(spec.value_axis.ticks),
            "gridcolor": "#E0E0E0",
        }
        # categories read top to bottom, in the spec's order, as in the SVG
        layout["yaxis"] = {"autorange": "reversed", "automargin": True}
    else:  # heatmap
        data.append(
            {
                "type": "heatmap",
                "z": [list(series.values) for series in spec.series],
                "x": categories,
                "y": [_text(series.name) for series in spec.series],
                "zmin": spec.value_axis.minimum,
                "zmax": spec.value_axis.maximum,
                "colorscale": [[stop, colour] for stop, colour in spec.colour_scale],
                "texttemplate": f"%{{z:{fmt}}}",
                "hovertemplate": f"%{{y}} · %{{x}}: %{{z:{fmt}}}<extra></extra>",
                "xgap": 2,
                "ygap": 2,
                "colorbar": {"title": {"text": _text(spec.value_axis.title)}},
            }
        )
        layout["yaxis"] = {"autorange": "reversed", "automargin": True}
        layout["xaxis"] = {"side": "top", "automargin": True}
        layout["height"] = max(240, 140 + 24 * len(spec.series))
    return {
        "data": data,
        "layout": layout,
        "config": {"displaylogo": False, "responsive": True},
    }
