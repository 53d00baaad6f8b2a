"""docs/rubric-rationale.md (Part II, 2.3) shows the handoff gates as the rubric file states
them: the tables are generated from questionnaires/handoff.yaml and must not drift from it.

If this fails, regenerate the block between the markers with
`app.rubric.document.gate_tables_markdown(catalog)`."""

from __future__ import annotations

from pathlib import Path

from app.config import QUESTIONNAIRES_DIR
from app.rubric.document import GATES_END, GATES_START, gate_tables_markdown
from app.rubric.loader import load_catalog

RATIONALE = Path(__file__).resolve().parents[2] / "docs" / "rubric-rationale.md"


def test_the_rationale_gate_tables_match_the_rubric_file() -> None:
    text = RATIONALE.read_text(encoding="utf-8")
    start = text.index(GATES_START)
    end = text.index(GATES_END) + len(GATES_END)
    expected = gate_tables_markdown(load_catalog(QUESTIONNAIRES_DIR))
    assert text[start:end] == expected, "the 2.3 gate tables are stale: regenerate them"


def test_every_gate_of_the_rubric_is_in_the_rationale() -> None:
    catalog = load_catalog(QUESTIONNAIRES_DIR)
    levels = catalog.instruments["handoff"].levels
    assert levels is not None
    text = RATIONALE.read_text(encoding="utf-8")
    for gate in levels.gates:
        assert f"| `{gate.id}` | {gate.level} |" in text, gate.id
