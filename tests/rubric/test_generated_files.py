"""Generated files stay current: docs/rubric.md and questionnaires/schema.json.

If one fails, regenerate it: `processlens rubric --format md > docs/rubric.md` or
`processlens rubric --schema > questionnaires/schema.json`.
"""

from __future__ import annotations

import json
from pathlib import Path

from app.config import QUESTIONNAIRES_DIR
from app.rubric.document import rubric_json, rubric_markdown
from app.rubric.loader import load_catalog
from app.rubric_cli import json_schema

ROOT = Path(__file__).resolve().parents[2]


def test_rubric_document_is_current() -> None:
    expected = rubric_markdown(load_catalog(QUESTIONNAIRES_DIR))
    actual = (ROOT / "docs" / "rubric.md").read_text(encoding="utf-8")
    assert actual == expected, (
        "docs/rubric.md is stale: processlens rubric --format md > docs/rubric.md"
    )


def test_json_schema_is_current() -> None:
    actual = json.loads((QUESTIONNAIRES_DIR / "schema.json").read_text(encoding="utf-8"))
    assert actual == json_schema(), (
        "schema.json is stale: processlens rubric --schema > questionnaires/schema.json"
    )


def test_rubric_json_has_the_promised_shape() -> None:
    data = rubric_json(load_catalog(QUESTIONNAIRES_DIR))
    assert len(data["instruments"]) == 4
    for instrument in data["instruments"]:
        assert {"id", "title", "version", "questions"} <= set(instrument)
        assert 12 <= len(instrument["questions"]) <= 20, instrument["id"]
        quick = [q for q in instrument["questions"] if q["quick"]]
        assert 4 <= len(quick) <= 6, instrument["id"]
        for question in instrument["questions"]:
            assert {"id", "text", "quick", "roles", "sources"} <= set(question)
            assert question["sources"], question["id"]
    assert len(data["practices"]) >= 40
    assert all(p["sources"] for p in data["practices"])
    assert len(data["process_models"]) >= 6
    assert all(m["sources"] for m in data["process_models"])


def test_one_respondent_sees_about_45_questions_at_most() -> None:
    from app.rubric.answers import RoundSettings, asked_questions
    from app.rubric.schema import ROLES

    catalog = load_catalog(QUESTIONNAIRES_DIR)
    for role in ROLES:
        full = asked_questions(catalog, RoundSettings(stage="operating", mode="team_survey"), role)
        quick = asked_questions(
            catalog, RoundSettings(stage="operating", mode="team_survey", kind="quick"), role
        )
        required_full = [q for q in full if q.required]
        assert len(required_full) <= 47, (role, len(required_full))
        assert len([q for q in quick if q.required]) <= 16, role
