"""Chart specs: the Plotly figure and the PDF's SVG show the same numbers, order and colours."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from app import charts
from app.charts import svg
from app.config import QUESTIONNAIRES_DIR, ROOT_DIR
from app.rubric.answers_file import assess_file, read_answers_file
from app.rubric.loader import load_catalog
from app.rubric.output import to_data

SVG_NS = "{http://www.w3.org/2000/svg}"
HOSTILE = '<img src="http://127.0.0.1:9/x"> & <script>alert(1)</script>'


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    catalog = load_catalog(QUESTIONNAIRES_DIR)
    answers = read_answers_file(ROOT_DIR / "examples" / "full-assessment.yaml", catalog)
    return to_data(catalog, assess_file(catalog, answers))


def _previous(data: dict[str, Any]) -> dict[str, Any]:
    earlier: dict[str, Any] = json.loads(json.dumps(data))
    for dimension in earlier["dimensions"].values():
        if dimension["score"] is not None:
            dimension["score"] -= 7.5
        for sub in dimension["sub_dimensions"].values():
            sub["score"] = None if sub["score"] is None else sub["score"] / 2
    return earlier


def _specs(data: dict[str, Any]) -> list[charts.ChartSpec]:
    specs = [
        charts.radar_chart(data),
        charts.radar_chart(data, _previous(data)),
        charts.dimension_chart(data, _previous(data)),
        charts.sub_dimension_chart(data, "handoff"),
        charts.heatmap_chart(
            chart_id="heatmap",
            title="Teams by dimension",
            columns=["Collaboration", "Debt", "Handoff"],
            rows=[("Team A", [12.0, None, 88.0]), (HOSTILE, [50.0, 63.4, 0.0])],
        ),
        charts.stacked_chart(
            chart_id="bands",
            title="Bands",
            categories=["Collaboration", "Debt"],
            parts=[("Ad hoc", [1, 0]), ("Emerging", [4, 2]), ("Established", [0, 5])],
            axis_title="Teams",
        ),
    ]
    return [spec for spec in specs if spec is not None]


def _svg_marks(spec: charts.ChartSpec) -> dict[int, list[tuple[str, str]]]:
    root = ET.fromstring(svg.to_svg(spec))
    marks: dict[int, list[tuple[str, str]]] = {}
    for element in root.iter():
        if element.get("class") == "mark":
            series = int(element.get("data-series", "-1"))
            marks.setdefault(series, []).append(
                (element.get("data-value", ""), element.get("data-colour", ""))
            )
    return marks


def _plotly_marks(spec: charts.ChartSpec) -> dict[int, list[tuple[str, str]]]:
    figure = charts.to_plotly(spec)
    json.dumps(figure)  # JSON-ready, as charts.js receives it
    marks: dict[int, list[tuple[str, str]]] = {}
    traces = figure["data"]
    if spec.kind == "heatmap":
        (trace,) = traces
        scale = [(stop, colour) for stop, colour in trace["colorscale"]]
        for row, values in enumerate(trace["z"]):
            marks[row] = [
                (
                    spec.format(value),
                    charts.MISSING_COLOUR
                    if value is None
                    else charts.scale_colour(scale, value / trace["zmax"]),
                )
                for value in values
            ]
        return marks
    for index, trace in enumerate(traces):
        if spec.kind == "radar":
            assert trace["r"][0] == trace["r"][-1]  # closed polygon
            values, colour = trace["r"][:-1], trace["marker"]["color"]
            labels = [t.replace("<br>", " ") for t in trace["theta"][:-1]]
            assert labels == list(spec.categories)
        else:
            values, colour = trace["x"], trace["marker"]["color"]
            assert trace["y"] == list(spec.categories)
        marks[index] = [(spec.format(value), colour) for value in values]
    return marks


def test_web_and_pdf_show_the_same_numbers_in_the_same_order_with_the_same_colours(
    data: dict[str, Any],
) -> None:
    specs = _specs(data)
    assert {spec.kind for spec in specs} == {"radar", "bar", "heatmap", "stacked_bar"}
    for spec in specs:
        assert _svg_marks(spec) == _plotly_marks(spec), spec.id


def test_specs_come_from_the_results(data: dict[str, Any]) -> None:
    radar = charts.radar_chart(data)
    assert radar is not None
    handoff = data["dimensions"]["handoff"]["sub_dimensions"]
    for sub in handoff.values():
        index = radar.categories.index(sub["title"])
        assert radar.series[0].values[index] == sub["score"]
    bars = charts.dimension_chart(data)
    assert bars is not None
    assert "Trajectory" not in " ".join(bars.categories)  # a type, never a score
    assert [round(v or 0, 1) for v in bars.series[0].values] == [
        data["dimensions"][d]["score"] for d in charts.scored_dimensions(data)
    ]


def test_series_differ_by_more_than_colour() -> None:
    styles = charts.SERIES_STYLES
    assert len({(s.pattern, s.marker, s.dash) for s in styles}) == len(styles)
    # ordered categories get darker step by step, so greyscale keeps the order
    luminances = [charts.relative_luminance(s.colour) for s in charts.ORDERED_STYLES]
    assert luminances == sorted(luminances, reverse=True)


def test_user_text_is_escaped_in_both_renderings(data: dict[str, Any]) -> None:
    spec = _specs(data)[4]
    drawn = svg.to_svg(spec)
    root = ET.fromstring(drawn)  # well-formed: the label did not open elements
    assert not [e for e in root.iter() if e.tag in (f"{SVG_NS}img", f"{SVG_NS}script")]
    assert "<img" not in drawn
    assert "&lt;img" in drawn
    figure = json.dumps(charts.to_plotly(spec))
    assert "<img" not in figure
    assert "<script" not in figure


def test_svg_is_fast(data: dict[str, Any]) -> None:
    import time

    specs = _specs(data)
    start = time.perf_counter()
    for _ in range(20):
        for spec in specs:
            svg.to_svg(spec)
    per_chart = (time.perf_counter() - start) / (20 * len(specs))
    assert per_chart < 0.01  # measured ~0.2 ms; a generous bound against regressions


def test_wrap_never_loses_words_and_marks_cuts() -> None:
    assert svg.wrap("one two three", 7) == ["one two", "three"]
    assert svg.wrap("a " * 40, 10, 2)[-1].endswith("…")
    assert all(len(line) <= 12 for line in svg.wrap("x" * 50, 12, 9))


def test_chart_ids_are_safe() -> None:
    with pytest.raises(ValueError, match="chart id"):
        charts.heatmap_chart(chart_id='x" onload="1', title="t", columns=["a"], rows=[])


def test_charts_js_is_static_and_has_no_eval() -> None:
    script = (Path(charts.__file__).parents[1] / "static" / "js" / "charts.js").read_text()
    assert "eval(" not in script
    assert "new Function" not in script
