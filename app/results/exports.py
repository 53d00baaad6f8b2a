"""The roadmap and the debt register as CSV and JSON, for a team's backlog.

Rows come from the stored result (``to_data``), labelled for people. CSV cells (and headers)
that a spreadsheet would read as a formula — starting with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return — are prefixed with an apostrophe: quoting alone does not neutralise
them (ENGINEERING.md).

Both the team page's downloads (app.workspace.routes) and the organisation's analysis exports
(app.dashboards.exports) write these rows, so they sit with the result, below both.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from app.results.model import TeamResult, parse_stored
from app.rubric.labels import EFFORT_LABELS, ROLE_LABELS, humanise
from app.rubric.loader import Catalog

FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
BUCKETS: Final = (("now", "Now"), ("next", "Next"), ("later", "Later"), ("adopted", "Adopted"))

ROADMAP_COLUMNS: Final = (
    "bucket",
    "practice",
    "title",
    "dimension",
    "priority",
    "impact",
    "effort",
    "owners",
    "steps",
    "why_now",
    "unlocks",
)
DEBT_COLUMNS: Final = (
    "item",
    "title",
    "category",
    "quadrant",
    "description",
    "paid_down_by",
    "source",
)


def neutralise(cell: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def _outcome_label(catalog: Catalog, outcome: str | None) -> str:
    if not outcome:
        return ""
    for instrument in catalog.instruments.values():
        for classification in instrument.classifications:
            for candidate in classification.outcomes:
                if candidate.id == outcome:
                    return candidate.label
    return humanise(outcome)


def _typed(data: TeamResult | Mapping[str, Any]) -> TeamResult:
    return data if isinstance(data, TeamResult) else parse_stored(data)


def roadmap_rows(data: TeamResult | Mapping[str, Any], catalog: Catalog) -> list[dict[str, Any]]:
    """Every practice of the roadmap, Now first, with its steps, owners and effort."""
    result = _typed(data)
    titles = {d: raw.title for d, raw in result.dimensions.items()}
    titles |= {i: catalog.instruments[i].title for i in catalog.instruments if i not in titles}
    roadmap = result.roadmap
    buckets = dict(
        zip(
            ("now", "next", "later", "adopted"),
            (roadmap.now, roadmap.next, roadmap.later, roadmap.adopted),
            strict=True,
        )
    )
    rows = []
    for key, label in BUCKETS:
        for item in buckets[key]:
            rows.append(
                {
                    "bucket": label,
                    "practice": item.practice,
                    "title": item.title,
                    "dimension": titles.get(item.dimension, humanise(item.dimension)),
                    "priority": item.priority,
                    "impact": item.impact,
                    "effort": EFFORT_LABELS.get(item.effort, item.effort),
                    "owners": [ROLE_LABELS.get(o, humanise(o)) for o in item.owners],
                    "steps": list(item.steps),
                    "why_now": item.reason or "",
                    "unlocks": item.unlocks or "",
                }
            )
    return rows


def debt_rows(data: TeamResult | Mapping[str, Any], catalog: Catalog) -> list[dict[str, Any]]:
    practices = {p.id: p.title for p in catalog.practices.practices}
    return [
        {
            "item": item.id,
            "title": item.title,
            "category": humanise(item.category),
            "quadrant": _outcome_label(catalog, item.quadrant),
            "description": item.description,
            "paid_down_by": practices.get(item.practice, "") if item.practice else "",
            "source": item.source,
        }
        for item in _typed(data).debt_register
    ]


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return " | ".join(str(v) for v in value)
    if value is None:
        return ""
    return str(value)


def to_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(column) for column in columns])
    for row in rows:
        writer.writerow([neutralise(_cell(row.get(column))) for column in columns])
    return buffer.getvalue()


def to_json(rows: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps(list(rows), indent=2, ensure_ascii=False)
