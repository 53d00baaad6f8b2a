"""`processlens score --format text` shows everything the JSON holds, in titled sections: the
recommendation and what would change it, levels with their gates, the roadmap, the debt
register, the perception gaps, findings, every answer and every note."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from app.cli import app as cli_app
from app.config import QUESTIONNAIRES_DIR, ROOT_DIR
from app.rubric import score_text
from app.rubric.answers_file import assess_file, read_answers_file
from app.rubric.loader import Catalog, load_catalog
from app.rubric.output import to_data

EXAMPLES = ROOT_DIR / "examples"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(QUESTIONNAIRES_DIR)


@pytest.fixture(scope="module")
def survey_with_gaps(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full example with a third data scientist and a third engineer, so both role groups
    are large enough for their perception gaps to be shown."""
    data = yaml.safe_load((EXAMPLES / "full-assessment.yaml").read_text(encoding="utf-8"))
    for role in ("data_scientist", "ml_engineer"):
        extra = copy.deepcopy(next(r for r in data["respondents"] if r["role"] == role))
        extra["id"] = f"extra-{role}"
        data["respondents"].append(extra)
    path = tmp_path_factory.mktemp("answers") / "gaps.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _score(path: Path, output_format: str) -> str:
    result = CliRunner().invoke(cli_app, ["score", str(path), "--format", output_format])
    assert result.exit_code == 0, result.output
    return result.stdout


def _section(text: str, heading: str) -> str:
    """The body of one section: from its underlined heading to the next heading."""
    start = text.index(f"{heading}\n{'=' * len(heading)}\n") + 2 * len(heading) + 2
    following = [
        text.index(f"\n{other}\n{'=' * len(other)}\n", start)
        for other, _, _ in score_text.SECTIONS
        if f"\n{other}\n{'=' * len(other)}\n" in text[start:]
    ]
    return text[start : min(following, default=len(text))]


def _flat(text: str) -> str:
    """Text with its wrapping undone, to look for whole sentences."""
    return " ".join(text.split())


@pytest.mark.parametrize("example", ["full-assessment.yaml", "quick-check.yaml"])
def test_every_part_of_the_json_has_a_section(catalog: Catalog, example: str) -> None:
    data = to_data(catalog, assess_file(catalog, read_answers_file(EXAMPLES / example, catalog)))
    assert set(data) <= score_text.shown_keys(), set(data) - score_text.shown_keys()
    text = score_text.render(data)
    headings = [heading for heading, _, _ in score_text.SECTIONS]
    positions = [text.index(f"{heading}\n{'=' * len(heading)}") for heading in headings]
    assert positions == sorted(positions)
    assert all(len(line) <= score_text.WIDTH for line in text.splitlines()), "lines are wrapped"
    # a question without an answer reads as such, never as Python's None
    assert "“None”" not in text


def test_the_text_shows_what_the_json_holds(survey_with_gaps: Path) -> None:
    data: dict[str, Any] = json.loads(_score(survey_with_gaps, "json"))
    text = _score(survey_with_gaps, "text")
    flat = _flat(text)
    models = {m["id"]: m["name"] for m in data["process_models"]}
    assert flat.startswith("Round ===== Round: full team survey at the productionising stage")

    recommendation = _flat(_section(text, "Recommended process"))
    assert f"Recommended process: {models[data['recommendation']['top']]}" in recommendation
    assert f"Runner-up: {models[data['recommendation']['runner_up']]}" in recommendation

    changes = _flat(_section(text, "What would change the recommendation"))
    assert data["sensitivity"], "the example has answers the recommendation rests on"
    for change in data["sensitivity"]:
        assert change["text"] in changes
        assert change["alternative_label"] in changes

    gaps = _flat(_section(text, "Perception gaps"))
    assert data["perception_gaps"], "three per role group: the gaps are shown"
    assert "Engineering rate lower than data science" in gaps
    for gap in data["perception_gaps"]:
        assert gap["title"] in gaps
    assert f"{len(data['perception_gaps'])} gap(s)" in gaps

    register = _flat(_section(text, "Debt register"))
    assert data["debt_register"]
    for row in data["debt_register"]:
        assert row["title"] in register
        assert row["description"] in register

    levels = _flat(_section(text, "Handoff levels"))
    assert f"Handoff {data['handoff']['label']}" in levels
    for part in data["handoff"]["artifacts"].values():
        for gate in part["gates"]:
            assert gate["title"] in levels

    roadmap = _flat(_section(text, "Roadmap"))
    for bucket in ("now", "next", "later", "adopted"):
        for item in data["roadmap"][bucket]:
            assert item["title"] in roadmap
            assert all(step in roadmap for step in item["steps"])

    dimensions = _flat(_section(text, "Dimensions"))
    for dimension in data["dimensions"].values():
        assert f"{dimension['title']}: {dimension['score']:g}/100" in dimensions
        assert all(part["text"] in dimensions for part in dimension["explanation"])

    findings = _flat(_section(text, "Findings"))
    assert all(finding["title"] in findings for finding in data["findings"])
    answers = _section(text, "Answers")
    assert all(f"- {qid}: " in answers for qid in data["answers"])
    notes = _flat(_section(text, "Notes"))
    assert all(_flat(warning) in notes for warning in data["warnings"])


def test_the_text_is_the_same_twice(survey_with_gaps: Path) -> None:
    assert _score(survey_with_gaps, "text") == _score(survey_with_gaps, "text")
