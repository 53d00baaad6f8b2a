"""The worked example in docs/scoring.md, recomputed through the engine."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from app.config import QUESTIONNAIRES_DIR
from app.rubric.answers_file import assess_file, parse_answers_data
from app.rubric.loader import load_catalog
from app.rubric.output import to_data

DOC = Path(__file__).resolve().parents[2] / "docs" / "scoring.md"


def block(marker: str) -> str:
    match = re.search(
        rf"<!-- {marker} -->\s*```\w+\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S
    )
    assert match, f"no block after <!-- {marker} --> in docs/scoring.md"
    return match.group(1)


def test_the_worked_example_is_what_the_engine_computes() -> None:
    catalog = load_catalog(QUESTIONNAIRES_DIR)
    answers = yaml.safe_load(block("worked-example:answers"))
    expected = json.loads(block("worked-example:expected"))
    result = to_data(catalog, assess_file(catalog, parse_answers_data(answers, catalog)))
    handoff = result["dimensions"]["handoff"]
    assert handoff["score"] == expected["score"]
    assert handoff["coverage"] == expected["coverage"]
    assert handoff["knowledge_gaps"] == expected["knowledge_gaps"]
    contributions = {
        row["question"]: [row["points"], row["max_points"]] for row in handoff["explanation"]
    }
    assert contributions == expected["contributions"]
    assert sum(points for points, _ in contributions.values()) == pytest.approx(
        expected["score"], abs=0.05
    )
    for sub, (score, coverage) in expected["sub_dimensions"].items():
        assert handoff["sub_dimensions"][sub]["score"] == score
        assert handoff["sub_dimensions"][sub]["coverage"] == coverage
    assert result["handoff"]["level"] == expected["handoff_level"]
    now = {item["practice"]: item["priority"] for item in result["roadmap"]["now"]}
    later = {item["practice"]: item["priority"] for item in result["roadmap"]["later"]}
    assert now == expected["now"]
    for practice, priority in expected["later"].items():
        assert later[practice] == priority
