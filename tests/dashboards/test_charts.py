"""The dashboard's charts as data: no bar reaches past its axis, every process model of the
trajectory chart has its own colour and pattern, and titles, legends and heatmap column
titles come in lines short enough for a phone."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlmodel import Session

from app import charts
from app.dashboards import service, views
from app.rubric.output import NO_RECOMMENDATION
from tests.dashboards import helpers
from tests.workspace.helpers import catalog

MODELS = (
    "Agile iterative delivery",
    "System-first, waterfall-like with stage gates",
    "Model-first exploration with an early system checkpoint",
    "Data-driven exploration (CRISP-DM-like)",
    "Integrated ML and non-ML process",
    "Spiral / risk-first prototyping",
    "Research spike then production rewrite",
)


def _dashboard(session: Session) -> service.Dashboard:
    """The test world's dashboard, with the trajectory mix of a large organisation: seven
    process models and teams whose trajectory is unknown."""
    world = helpers.world(session)
    built = service.build(
        session=session,
        organisation_id=world.id,
        filters=service.Filters(),
        catalog=catalog(),
        minimum=3,
    )
    mix = (
        ("Goal-driven, Model-first", tuple((m, 40 + 7 * i) for i, m in enumerate(MODELS))),
        ("Data-driven, Parallel", tuple((m, 13 * (i + 1)) for i, m in enumerate(MODELS[:4]))),
        (service.UNKNOWN_TRAJECTORY, ((NO_RECOMMENDATION, 31),)),
    )
    totals: dict[str, int] = {}
    for _, counts in mix:
        for name, count in counts:
            totals[name] = totals.get(name, 0) + count
    return dataclasses.replace(
        built,
        mix=mix,
        models=tuple(service.CountRow(name, count) for name, count in totals.items()),
    )


def _lines(text: str) -> list[str]:
    return text.split("<br>")


def test_no_bar_reaches_past_its_axis(session: Session) -> None:
    dashboard = _dashboard(session)
    figures = views.figures(dashboard, views.tables(dashboard))
    checked = 0
    for figures_of_view in figures.values():
        for figure in figures_of_view:
            data: list[dict[str, Any]] = figure.figure_json["data"]
            layout = figure.figure_json["layout"]
            if not data or data[0]["type"] != "bar":
                continue
            count = len(data[0]["x"])
            if layout["barmode"] == "stack":
                longest = max(sum(t["x"][i] or 0 for t in data) for i in range(count))
            else:
                longest = max(max(v or 0 for v in t["x"]) for t in data)
            low, high = layout["xaxis"]["range"]
            assert low == 0
            assert longest < high, (figure.id, longest, high)
            assert max(layout["xaxis"]["tickvals"]) <= high
            checked += 1
    assert checked >= 5  # bands, levels, mix, upgrades, trend at least


def test_every_process_model_has_its_own_colour_and_pattern(session: Session) -> None:
    dashboard = _dashboard(session)
    (mix,) = views.figures(dashboard, views.tables(dashboard))["mix"]
    traces = mix.figure_json["data"]
    assert len(traces) == len(MODELS) + 1
    colours = [t["marker"]["color"] for t in traces]
    patterns = [t["marker"]["pattern"]["shape"] for t in traces]
    assert len(set(colours)) == len(traces), colours
    assert len(set(patterns)) == len(traces), patterns
    # the unknown trajectories' "No recommendation" comes last, after every process
    assert traces[-1]["name"] == NO_RECOMMENDATION
    # the palette: Okabe-Ito colours, none repeated, no pattern repeated
    styles = charts.SERIES_STYLES
    assert len({s.colour for s in styles}) == len({s.pattern for s in styles}) == len(styles)


def test_titles_legends_and_column_titles_fit_a_phone(session: Session) -> None:
    dashboard = _dashboard(session)
    figures = views.figures(dashboard, views.tables(dashboard))
    for figures_of_view in figures.values():
        for figure in figures_of_view:
            layout = figure.figure_json["layout"]
            for line in _lines(layout["title"]["text"]):
                assert len(line) <= views.TITLE_WIDTH or " " not in line, line
            for trace in figure.figure_json["data"]:
                if trace["type"] == "bar" and layout.get("showlegend"):
                    for line in _lines(trace["name"]):
                        assert len(line) <= views.LEGEND_WIDTH or " " not in line, line
    (heatmap,) = figures["teams"]
    headers = heatmap.figure_json["data"][0]["x"]
    assert "Technical-<br>debt" in headers
    for header in headers:
        for line in _lines(header):
            assert len(line) <= views.HEADER_WIDTH or not any(c in line for c in " -"), line
    # one process model is named too: the legend shows even for a single series
    single = dataclasses.replace(
        dashboard,
        mix=(("Goal-driven, Model-first", (("Agile iterative delivery", 6),)),),
        models=(service.CountRow("Agile iterative delivery", 6),),
    )
    (mix,) = views.figures(single, views.tables(single))["mix"]
    assert mix.figure_json["layout"]["showlegend"] is True
