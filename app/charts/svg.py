"""Static SVG for the PDF: draws a ChartSpec without a browser.

Why our own renderer rather than pygal or matplotlib: the PDF must show what the page shows
(Plotly), number for number and colour for colour, with patterns and markers for greyscale and
every text escaped. Four chart kinds with fixed layouts are a few hundred lines of string
building that run in well under a millisecond per chart (pygal ~4 ms, matplotlib ~54 ms, a
headless browser ~140 ms); pygal's own look (fonts, legends, tooltips, CSS) would have to be
overridden piece by piece to match and adds a dependency. Every mark carries ``data-series``,
``data-value`` and ``data-colour`` so a test can compare it with the Plotly figure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from html import escape

from app.charts import (
    MISSING_COLOUR,
    ChartSpec,
    Series,
    SeriesStyle,
    format_value,
    scale_colour,
    text_colour_on,
)

WIDTH = 640
FONT = "IBM Plex Sans, DejaVu Sans, sans-serif"
INK = "#1A1A1A"
MUTED = "#595959"
GRID = "#D0D0D0"
LABEL_SIZE = 11.0
SMALL_SIZE = 9.5
CHAR_WIDTH = 0.55  # average advance of IBM Plex Sans, in em, for wrapping estimates


def _a(value: object) -> str:
    """An attribute value, escaped (user text reaches labels and titles)."""
    return escape(str(value), quote=True)


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def wrap(text: str, max_chars: int, max_lines: int = 3) -> list[str]:
    """Split ``text`` into lines of at most ``max_chars`` (estimated), ending in "…" if cut."""
    words = text.split()
    lines: list[str] = []
    current = ""
    for word in words:
        while len(word) > max_chars:  # a very long word: hard break
            if current:
                lines.append(current)
                current = ""
            lines.append(word[: max_chars - 1] + "-")
            word = word[max_chars - 1 :]
        candidate = f"{current} {word}".strip()
        if len(candidate) <= max_chars:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current or not lines:
        lines.append(current)
    if len(lines) > max_lines:
        kept = lines[:max_lines]
        kept[-1] = kept[-1][: max(1, max_chars - 1)].rstrip() + "…"
        return kept
    return lines


def _text(
    x: float,
    y: float,
    lines: list[str],
    *,
    size: float = LABEL_SIZE,
    anchor: str = "start",
    colour: str = INK,
    weight: str = "normal",
    css_class: str = "",
    line_height: float = 1.25,
) -> str:
    """A (multi-line) text; ``y`` is the baseline of the first line."""
    attrs = (
        f'x="{_num(x)}" y="{_num(y)}" font-size="{_num(size)}" text-anchor="{anchor}" '
        f'fill="{colour}"'
    )
    if weight != "normal":
        attrs += f' font-weight="{weight}"'
    if css_class:
        attrs += f' class="{css_class}"'
    if len(lines) == 1:
        return f"<text {attrs}>{escape(lines[0])}</text>"
    spans = "".join(
        f'<tspan x="{_num(x)}" dy="{0 if i == 0 else _num(size * line_height)}">'
        f"{escape(line)}</tspan>"
        for i, line in enumerate(lines)
    )
    return f"<text {attrs}>{spans}</text>"


def _pattern_id(spec: ChartSpec, index: int) -> str:
    return f"{spec.id}-p{index}"


def _pattern_defs(spec: ChartSpec) -> str:
    """Fill patterns (hatching, dots, cross-hatching) for series that use one."""
    parts = []
    for index, series in enumerate(spec.series):
        style = series.style
        if style.pattern in ("solid", "none"):
            continue
        ink = text_colour_on(style.colour)
        body = f'<rect width="6" height="6" fill="{style.colour}"/>'
        line = f'stroke="{ink}" stroke-width="1.6" stroke-opacity="0.6"'
        thin = f'stroke="{ink}" stroke-width="1.2" stroke-opacity="0.6"'
        if style.pattern in ("hatch", "backhatch", "vlines"):
            body += f'<path d="M0 0V6" {line}/>'
            angle = {"hatch": 45, "backhatch": -45, "vlines": 0}[style.pattern]
            transform = f' patternTransform="rotate({angle})"' if angle else ""
        elif style.pattern == "lines":
            body += f'<path d="M0 0H6" {line}/>'
            transform = ""
        elif style.pattern in ("cross", "grid"):
            body += f'<path d="M0 0V6M0 0H6" {thin}/>'
            transform = ' patternTransform="rotate(45)"' if style.pattern == "cross" else ""
        else:  # dots
            body += f'<circle cx="3" cy="3" r="1.1" fill="{ink}" fill-opacity="0.6"/>'
            transform = ""
        parts.append(
            f'<pattern id="{_pattern_id(spec, index)}" patternUnits="userSpaceOnUse" '
            f'width="6" height="6"{transform}>{body}</pattern>'
        )
    return f"<defs>{''.join(parts)}</defs>" if parts else ""


def _fill(spec: ChartSpec, index: int, style: SeriesStyle) -> str:
    if style.pattern in ("solid", "none"):
        return style.colour
    return f"url(#{_pattern_id(spec, index)})"


def _mark_attrs(index: int, value: float | None, spec: ChartSpec, colour: str) -> str:
    return (
        f'class="mark" data-series="{index}" data-value="{_a(spec.format(value))}" '
        f'data-colour="{colour}"'
    )


def _marker(shape: str, x: float, y: float, colour: str, extra: str) -> str:
    r = 4.0
    if shape == "square":
        return (
            f'<rect {extra} x="{_num(x - r)}" y="{_num(y - r)}" width="{_num(2 * r)}" '
            f'height="{_num(2 * r)}" fill="{colour}" stroke="#FFFFFF" stroke-width="1"/>'
        )
    if shape == "diamond":
        points = f"{_num(x)},{_num(y - r - 1)} {_num(x + r + 1)},{_num(y)} "
        points += f"{_num(x)},{_num(y + r + 1)} {_num(x - r - 1)},{_num(y)}"
        return f'<polygon {extra} points="{points}" fill="{colour}" stroke="#FFFFFF"/>'
    if shape == "triangle":
        points = f"{_num(x)},{_num(y - r - 1)} {_num(x + r + 1)},{_num(y + r)} "
        points += f"{_num(x - r - 1)},{_num(y + r)}"
        return f'<polygon {extra} points="{points}" fill="{colour}" stroke="#FFFFFF"/>'
    return (
        f'<circle {extra} cx="{_num(x)}" cy="{_num(y)}" r="{_num(r)}" fill="{colour}" '
        f'stroke="#FFFFFF" stroke-width="1"/>'
    )


def _legend(spec: ChartSpec, y: float, *, lines: bool) -> tuple[str, float]:
    """One row (or more) of swatches and names; returns the SVG and the height used."""
    if len(spec.series) < 2:
        return "", 0.0
    parts = []
    x = 0.0
    row = 0
    for index, series in enumerate(spec.series):
        label = wrap(series.name, 40, 1)[0]
        width = 22 + len(label) * SMALL_SIZE * CHAR_WIDTH + 18
        if x + width > WIDTH and x > 0:
            x = 0
            row += 1
        top = y + row * 18
        style = series.style
        if lines:
            dash = _dash(style.dash)
            parts.append(
                f'<line x1="{_num(x)}" y1="{_num(top + 6)}" x2="{_num(x + 18)}" '
                f'y2="{_num(top + 6)}" stroke="{style.colour}" stroke-width="2"{dash}/>'
            )
            parts.append(_marker(style.marker, x + 9, top + 6, style.colour, 'class="key"'))
        else:
            parts.append(
                f'<rect x="{_num(x + 2)}" y="{_num(top)}" width="14" height="12" '
                f'fill="{_fill(spec, index, style)}" stroke="{INK}" stroke-width="0.5"/>'
            )
        parts.append(_text(x + 22, top + 10, [label], size=SMALL_SIZE + 0.5))
        x += width
    return "".join(parts), (row + 1) * 18.0


def _dash(dash: str) -> str:
    return {"dash": ' stroke-dasharray="6 3"', "dot": ' stroke-dasharray="2 2.5"'}.get(dash, "")


def _document(spec: ChartSpec, height: float, body: Iterable[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {_num(height)}" '
        f'width="{WIDTH}" height="{_num(height)}" role="img" '
        f'aria-labelledby="{spec.id}-title {spec.id}-desc" class="chart chart-{spec.kind}" '
        f'font-family="{FONT}">'
        f'<title id="{spec.id}-title">{escape(spec.title)}</title>'
        f'<desc id="{spec.id}-desc">{escape(spec.description)}</desc>'
        f"{_pattern_defs(spec)}{''.join(body)}</svg>"
    )


# ---------------------------------------------------------------- bars


# long: one drawing top to bottom; split, its coordinates would be passed through every helper
def _bars(spec: ChartSpec) -> str:
    stacked = spec.kind == "stacked_bar"
    label_width = 190.0
    x0, x1 = label_width + 10, WIDTH - 44.0
    axis = spec.value_axis
    span = (axis.maximum - axis.minimum) or 1.0

    def x_of(value: float) -> float:
        return x0 + (x1 - x0) * (min(max(value, axis.minimum), axis.maximum) - axis.minimum) / span

    bar_height = 16.0 if stacked or len(spec.series) == 1 else 13.0
    per_category = bar_height if stacked else bar_height * len(spec.series)
    label_chars = int(label_width / (LABEL_SIZE * CHAR_WIDTH))
    rows: list[tuple[float, float, list[str]]] = []  # (top, height, label lines)
    y = 6.0
    for category in spec.categories:
        lines = wrap(category, label_chars, 3)
        height = max(per_category + 10, len(lines) * LABEL_SIZE * 1.25 + 8)
        rows.append((y, height, lines))
        y += height
    plot_bottom = y
    body: list[str] = []
    for tick in axis.ticks:
        tx = x_of(tick)
        body.append(
            f'<line x1="{_num(tx)}" y1="2" x2="{_num(tx)}" y2="{_num(plot_bottom)}" '
            f'stroke="{GRID}" stroke-width="0.75"/>'
        )
        body.append(
            _text(
                tx,
                plot_bottom + 13,
                [format_value(tick)],
                size=SMALL_SIZE,
                anchor="middle",
                colour=MUTED,
            )
        )
    body.append(
        _text(
            (x0 + x1) / 2,
            plot_bottom + 28,
            [axis.title],
            size=SMALL_SIZE,
            anchor="middle",
            colour=MUTED,
        )
    )
    for category_index, (top, height, lines) in enumerate(rows):
        label_y = top + height / 2 - (len(lines) - 1) * LABEL_SIZE * 1.25 / 2 + LABEL_SIZE * 0.35
        body.append(_text(label_width, label_y, lines, anchor="end"))
        bar_top = top + (height - per_category) / 2
        cursor = axis.minimum
        for index, series in enumerate(spec.series):
            value = series.values[category_index]
            style = series.style
            attrs = _mark_attrs(index, value, spec, style.colour)
            if stacked:
                if not value:
                    body.append(f"<g {attrs}></g>")
                    continue
                start, end = x_of(cursor), x_of(cursor + value)
                cursor += value
                body.append(
                    f'<rect {attrs} x="{_num(start)}" y="{_num(bar_top)}" '
                    f'width="{_num(max(end - start, 0.5))}" height="{_num(bar_height)}" '
                    f'fill="{_fill(spec, index, style)}" stroke="#FFFFFF" stroke-width="0.75"/>'
                )
                label = spec.format(value)
                if end - start >= len(label) * SMALL_SIZE * CHAR_WIDTH + 6:
                    body.append(
                        _text(
                            (start + end) / 2,
                            bar_top + bar_height / 2 + SMALL_SIZE * 0.36,
                            [label],
                            size=SMALL_SIZE,
                            anchor="middle",
                            colour=text_colour_on(style.colour),
                            weight="600",
                            css_class="value",
                        )
                    )
                continue
            y_bar = bar_top + index * bar_height
            if value is None:
                body.append(f"<g {attrs}></g>")
                body.append(
                    _text(
                        x0 + 4,
                        y_bar + bar_height * 0.72,
                        ["no score"],
                        size=SMALL_SIZE,
                        colour=MUTED,
                    )
                )
                continue
            end = x_of(value)
            body.append(
                f'<rect {attrs} x="{_num(x0)}" y="{_num(y_bar + 1)}" '
                f'width="{_num(max(end - x0, 0.5))}" height="{_num(bar_height - 2)}" '
                f'fill="{_fill(spec, index, style)}" stroke="{INK}" stroke-width="0.5"/>'
            )
            body.append(
                _text(
                    end + 4,
                    y_bar + bar_height * 0.72,
                    [spec.format(value)],
                    size=SMALL_SIZE + 0.5,
                    weight="600",
                    css_class="value",
                )
            )
        if stacked:
            total = sum(v or 0 for v in (s.values[category_index] for s in spec.series))
            body.append(
                _text(
                    x_of(cursor) + 4,
                    bar_top + bar_height * 0.72,
                    [format_value(total)],
                    size=SMALL_SIZE,
                    colour=MUTED,
                )
            )
    body.append(
        f'<line x1="{_num(x0)}" y1="2" x2="{_num(x0)}" y2="{_num(plot_bottom)}" '
        f'stroke="{INK}" stroke-width="0.75"/>'
    )
    legend, legend_height = _legend(spec, plot_bottom + 40, lines=False)
    body.append(legend)
    height = plot_bottom + 36 + (legend_height + 6 if legend_height else 0)
    return _document(spec, height, body)


# ---------------------------------------------------------------- radar


# long: one drawing top to bottom; split, its coordinates would be passed through every helper
def _radar(spec: ChartSpec) -> str:
    count = len(spec.categories)
    radius = 150.0
    label_chars = 20
    cx = WIDTH / 2
    top_margin = 58.0
    cy = top_margin + radius
    axis = spec.value_axis
    span = (axis.maximum - axis.minimum) or 1.0

    def point(index: int, value: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * index / count
        r = radius * (min(max(value, axis.minimum), axis.maximum) - axis.minimum) / span
        return cx + r * math.cos(angle), cy + r * math.sin(angle)

    body: list[str] = []
    for tick in axis.ticks:
        if tick <= axis.minimum:
            continue
        ring = " ".join(f"{_num(x)},{_num(y)}" for x, y in (point(i, tick) for i in range(count)))
        body.append(f'<polygon points="{ring}" fill="none" stroke="{GRID}" stroke-width="0.75"/>')
        tx, ty = point(0, tick)
        body.append(_text(tx + 3, ty + 3, [format_value(tick)], size=SMALL_SIZE - 1, colour=MUTED))
    for index, category in enumerate(spec.categories):
        x, y = point(index, axis.maximum)
        body.append(
            f'<line x1="{_num(cx)}" y1="{_num(cy)}" x2="{_num(x)}" y2="{_num(y)}" '
            f'stroke="{GRID}" stroke-width="0.75"/>'
        )
        angle = -math.pi / 2 + 2 * math.pi * index / count
        lx, ly = cx + (radius + 14) * math.cos(angle), cy + (radius + 14) * math.sin(angle)
        cos = math.cos(angle)
        anchor = "middle" if abs(cos) < 0.2 else ("start" if cos > 0 else "end")
        lines = wrap(category, label_chars, 3)
        group = spec.groups[index].split()[0] if spec.groups else ""
        total = len(lines) + (1 if group else 0)
        line_height = LABEL_SIZE * 1.2
        sin = math.sin(angle)
        if sin < -0.2:
            first = ly - (total - 1) * line_height
        elif sin > 0.2:
            first = ly + LABEL_SIZE * 0.8
        else:
            first = ly - (total - 1) * line_height / 2 + LABEL_SIZE * 0.35
        if group:
            body.append(
                _text(
                    lx,
                    first,
                    [group.upper()],
                    size=SMALL_SIZE - 1.5,
                    anchor=anchor,
                    colour=MUTED,
                    weight="600",
                )
            )
            first += line_height
        body.append(_text(lx, first, lines, size=LABEL_SIZE - 0.5, anchor=anchor, line_height=1.2))
    for series in spec.series:
        style = series.style
        known = [(i, v) for i, v in enumerate(series.values) if v is not None]
        outline = " ".join(f"{_num(x)},{_num(y)}" for x, y in (point(i, v) for i, v in known))
        body.append(
            f'<polygon points="{outline}" fill="{style.colour}" fill-opacity="0.12" '
            f'stroke="{style.colour}" stroke-width="2"{_dash(style.dash)}/>'
        )
    for index, series in enumerate(spec.series):
        style = series.style
        for i, value in enumerate(series.values):
            attrs = _mark_attrs(index, value, spec, style.colour)
            if value is None:
                body.append(f"<g {attrs}></g>")
                continue
            x, y = point(i, value)
            body.append(_marker(style.marker, x, y, style.colour, attrs))
            if index == 0:
                angle = -math.pi / 2 + 2 * math.pi * i / count
                vx, vy = x + 11 * math.cos(angle), y + 11 * math.sin(angle) + 3.5
                label = escape(spec.format(value))
                position = f'x="{_num(vx)}" y="{_num(vy)}" font-size="{SMALL_SIZE}"'
                # a white halo under the number keeps it readable over grid lines
                body.append(
                    f'<text {position} text-anchor="middle" font-weight="600" fill="#FFFFFF" '
                    f'stroke="#FFFFFF" stroke-width="3">{label}</text>'
                )
                body.append(
                    f'<text {position} text-anchor="middle" font-weight="600" fill="{INK}" '
                    f'class="value">{label}</text>'
                )
    bottom = cy + radius + 62
    legend, legend_height = _legend(spec, bottom, lines=True)
    body.append(legend)
    return _document(spec, bottom + legend_height + 4, body)


# ---------------------------------------------------------------- heatmap


# long: one drawing top to bottom; split, its coordinates would be passed through every helper
def _heatmap(spec: ChartSpec) -> str:
    label_width = 200.0
    columns = max(1, len(spec.categories))
    cell_width = (WIDTH - label_width - 8) / columns
    cell_height = 20.0
    header_chars = max(6, int(cell_width / (SMALL_SIZE * CHAR_WIDTH)))
    headers = [wrap(c, header_chars, 3) for c in spec.categories]
    header_height = max(len(h) for h in headers) * SMALL_SIZE * 1.2 + 8 if headers else 10
    axis = spec.value_axis
    span = (axis.maximum - axis.minimum) or 1.0
    body: list[str] = []
    for index, lines in enumerate(headers):
        x = label_width + 8 + cell_width * (index + 0.5)
        y = header_height - 6 - (len(lines) - 1) * SMALL_SIZE * 1.2
        body.append(
            _text(x, y, lines, size=SMALL_SIZE, anchor="middle", weight="600", line_height=1.2)
        )
    row_chars = int(label_width / (LABEL_SIZE * CHAR_WIDTH))
    for row, series in enumerate(spec.series):
        top = header_height + row * cell_height
        body.append(
            _text(
                label_width,
                top + cell_height * 0.68,
                wrap(series.name, row_chars, 1),
                anchor="end",
                size=LABEL_SIZE - 0.5,
            )
        )
        for column, value in enumerate(series.values):
            x = label_width + 8 + column * cell_width
            colour = (
                MISSING_COLOUR
                if value is None
                else scale_colour(spec.colour_scale, (value - axis.minimum) / span)
            )
            body.append(
                f'<rect {_mark_attrs(row, value, spec, colour)} x="{_num(x + 1)}" '
                f'y="{_num(top + 1)}" width="{_num(cell_width - 2)}" '
                f'height="{_num(cell_height - 2)}" fill="{colour}"/>'
            )
            body.append(
                _text(
                    x + cell_width / 2,
                    top + cell_height * 0.68,
                    [spec.format(value)],
                    size=SMALL_SIZE + 0.5,
                    anchor="middle",
                    colour=text_colour_on(colour),
                    weight="600",
                    css_class="value",
                )
            )
    bottom = header_height + len(spec.series) * cell_height + 12
    body.append(
        _text(label_width + 8, bottom + 10, [axis.title + ":"], size=SMALL_SIZE, colour=MUTED)
    )
    x = label_width + 8 + len(axis.title) * SMALL_SIZE * CHAR_WIDTH + 12
    for tick in axis.ticks:
        colour = scale_colour(spec.colour_scale, (tick - axis.minimum) / span)
        body.append(
            f'<rect x="{_num(x)}" y="{_num(bottom)}" width="28" height="14" fill="{colour}" '
            f'stroke="{GRID}" stroke-width="0.5"/>'
        )
        body.append(
            _text(
                x + 14,
                bottom + 10.5,
                [format_value(tick)],
                size=SMALL_SIZE - 0.5,
                anchor="middle",
                colour=text_colour_on(colour),
            )
        )
        x += 30
    body.append(
        f'<rect x="{_num(x + 8)}" y="{_num(bottom)}" width="28" height="14" '
        f'fill="{MISSING_COLOUR}"/>'
    )
    body.append(_text(x + 22, bottom + 10.5, ["–"], size=SMALL_SIZE, anchor="middle"))
    body.append(_text(x + 42, bottom + 10.5, ["hidden or no score"], size=SMALL_SIZE, colour=MUTED))
    return _document(spec, bottom + 20, body)


def to_svg(spec: ChartSpec) -> str:
    """The chart as a standalone ``<svg>`` element (inline in the report's HTML)."""
    if spec.kind == "radar":
        return _radar(spec)
    if spec.kind == "heatmap":
        return _heatmap(spec)
    return _bars(spec)


def series_values(series: Series, spec: ChartSpec) -> list[str]:
    """The labels a series shows, in order (used by tests comparing the two renderings)."""
    return [spec.format(value) for value in series.values]
