"""The rubric against the cases written from the sources before any rule was.

`tests/fixtures/reference/` holds the four projects of the process-models chapter's "Examples";
`tests/fixtures/cases/` holds the over-the-wall team, handoff teams at levels 0-2 and debt
teams. Each file states what the text argues under `expected:`; the rubric must agree.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from app.cli import app as cli_app
from app.config import QUESTIONNAIRES_DIR
from app.rubric.answers_file import assess_file, read_answers_file
from app.rubric.loader import Catalog, load_catalog
from app.rubric.output import to_data

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CASES = sorted((FIXTURES / "reference").glob("*.yaml")) + sorted(
    (FIXTURES / "cases").glob("*.yaml")
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(QUESTIONNAIRES_DIR)


def expected_of(path: Path) -> dict[str, Any]:
    expected = yaml.safe_load(path.read_text(encoding="utf-8"))["expected"]
    assert isinstance(expected, dict)
    return expected


def result_of(catalog: Catalog, path: Path) -> dict[str, Any]:
    return to_data(catalog, assess_file(catalog, read_answers_file(path, catalog)))


def scored_by_cli(path: Path) -> dict[str, Any]:
    """The JSON `processlens score` prints for `path` (run in-process: same code path)."""
    result = CliRunner().invoke(cli_app, ["score", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_there_are_cases() -> None:
    names = {path.stem for path in CASES}
    assert {
        "transcription_startup",
        "hotel_recommendations",
        "notes_app_llm",
        "recidivism_risk",
    } <= names
    assert {"over_the_wall", "handoff_level1", "handoff_level2"} <= names


def case_param(path: Path) -> Any:
    """A case file as a test parameter; an optional `expected.xfail: "<why>"` marks a case
    written before the rule change that makes it pass (strict: it must fail until then)."""
    reason = expected_of(path).get("xfail")
    marks = [pytest.mark.xfail(reason=str(reason), strict=True)] if reason else []
    return pytest.param(path, id=path.stem, marks=marks)


@pytest.mark.parametrize("path", [case_param(path) for path in CASES])
def test_case_gets_what_the_sources_argue(catalog: Catalog, path: Path) -> None:
    expected = expected_of(path)
    result = scored_by_cli(path)
    ranked = [model["id"] for model in result["process_models"]]
    top = result["process_models"][0]
    if "top" in expected:
        assert ranked[0] in expected["top"], f"top pick {ranked[0]}, ranking {ranked}"
    if "top_two" in expected:
        assert set(ranked[:2]) == set(expected["top_two"]), f"ranking {ranked}"
    for key in ("starting_point", "development_order"):
        if key in expected:
            assert result["trajectory"]["type"][key] == expected[key]
    reasons = " ".join(reason["reason"] for reason in top["reasons"]).lower()
    for fragment in expected.get("reasons_include", []):
        assert fragment.lower() in reasons, f"{fragment!r} not among the reasons: {reasons}"
    caveats = {caveat["id"] for caveat in top["caveats"] if caveat["status"] == "holds"}
    assert set(expected.get("caveats_include", [])) <= caveats
    if "pattern" in expected:
        assert result["classifications"]["collaboration.pattern"]["outcome"] == expected["pattern"]
    if "handoff_level" in expected:
        assert result["handoff"]["level"] == expected["handoff_level"]
    for artifact, level in expected.get("handoff_levels", {}).items():
        assert result["handoff"]["artifacts"][artifact]["level"] == level, artifact
    _check_handoff_and_consensus(expected, result)
    if "quadrant" in expected:
        assert result["classifications"]["debt.quadrant"]["outcome"] == expected["quadrant"]
    if "debt_band" in expected:
        assert result["dimensions"]["debt"]["band"]["id"] == expected["debt_band"]
    categories = {row["category"] for row in result["debt_register"]}
    assert set(expected.get("debt_register_categories_include", [])) <= categories
    if expected.get("debt_register_categories_include") == []:
        assert categories == set()
    # A question whose situation does not exist (answered "not applicable", or not asked) is
    # no knowledge gap, and nothing about it is recommended or flagged.
    for qid in expected.get("not_gaps", []):
        dimension = result["dimensions"][qid.split(".")[0]]
        assert qid not in dimension["knowledge_gaps"], f"{qid} is listed as a knowledge gap"
        assert qid not in dimension["unanswered"], f"{qid} is listed as unanswered"
    roadmap = result["roadmap"]
    listed = {item["practice"] for bucket in ("now", "next", "later") for item in roadmap[bucket]}
    listed |= set(roadmap["to_check"])
    for practice in expected.get("roadmap_excludes", []):
        assert practice not in listed, f"{practice} is on the roadmap"
    holding = {f["id"] for f in result["findings"] if f["status"] in ("holds", "unknown")}
    for finding in expected.get("findings_exclude", []):
        assert finding not in holding, f"{finding} is shown"
    holds = {f["id"] for f in result["findings"] if f["status"] == "holds"}
    for finding in expected.get("findings_include", []):
        assert finding in holds, f"{finding} does not hold: {sorted(holds)}"
    _check_roadmap_and_fit(expected, result)


def _check_roadmap_and_fit(expected: dict[str, Any], result: dict[str, Any]) -> None:
    """The 2026.2 roadmap and fit expectations: what must (not) be in Now, which fit warnings
    hold. Comparisons between cases are in test_roadmap_and_fit_cases.py."""
    now = [item["practice"] for item in result["roadmap"]["now"]]
    for practice in expected.get("now_includes", []):
        assert practice in now, f"{practice} not in Now: {now}"
    for practice in expected.get("now_excludes", []):
        assert practice not in now, f"{practice} in Now: {now}"
    holding = {f["id"] for f in result["findings"] if f["status"] == "holds"}
    for warning in expected.get("warnings_include", []):
        assert f"trajectory.{warning}" in holding, f"{warning} not shown: {sorted(holding)}"


def _check_handoff_and_consensus(expected: dict[str, Any], result: dict[str, Any]) -> None:
    """The 2026.2 expectations: level ranges, the early-stage note, consensus and disputes."""
    handoff = result["handoff"]
    if "handoff_range" in expected:
        assert handoff["range"] == expected["handoff_range"], handoff
    if "handoff_certain" in expected:
        assert handoff["certain"] is expected["handoff_certain"], handoff
    if "handoff_disputed" in expected:
        assert handoff["disputed"] is expected["handoff_disputed"], handoff
    if "handoff_note_includes" in expected:
        assert expected["handoff_note_includes"].lower() in (handoff["note"] or "").lower()
    if "handoff_scored" in expected:
        assert (result["dimensions"]["handoff"]["score"] is not None) is expected["handoff_scored"]
    for qid, value in expected.get("consensus", {}).items():
        assert result["answers"][qid]["consensus"] == value, result["answers"][qid]
    for qid in expected.get("disputed_include", []):
        assert result["answers"][qid]["disputed"] is True, result["answers"][qid]
    for qid in expected.get("disagreement_include", []):
        assert result["answers"][qid]["disagreement"] is True, result["answers"][qid]
    warnings = " ".join(result["warnings"]).lower()
    for fragment in expected.get("messages_include", []):
        assert fragment.lower() in warnings, f"{fragment!r} not among the warnings: {warnings}"


def test_processlens_score_gives_the_same_json_twice_and_matches_the_engine(
    catalog: Catalog,
) -> None:
    path = FIXTURES / "reference" / "transcription_startup.yaml"
    command = [sys.executable, "-m", "app.cli", "score", str(path), "--format", "json"]
    first = subprocess.run(command, capture_output=True, check=True, timeout=60)
    second = subprocess.run(command, capture_output=True, check=True, timeout=60)
    assert first.stdout == second.stdout  # deterministic, byte for byte
    assert json.loads(first.stdout) == json.loads(json.dumps(result_of(catalog, path)))
    for key in ("dimensions", "trajectory", "handoff", "process_models", "roadmap"):
        assert key in json.loads(first.stdout)
    for key in ("debt_register", "perception_gaps", "warnings"):
        assert key in json.loads(first.stdout)


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        (
            "respondents: [{role: team_lead, answers: {trajectory.nope: x}}]",
            "trajectory.nope: unknown question",
        ),
        (
            "respondents: [{role: team_lead, answers: {trajectory.stakes: purple}}]",
            "trajectory.stakes: 'purple' is not an option",
        ),
        (
            "respondents: [{role: team_lead, answers: {collaboration.team_structure: [1]}}]",
            "is not an option",
        ),
        (
            "round: {versions: {handoff: '1999.1'}}\nrespondents: [{role: team_lead}]",
            "handoff version '1999.1' does not exist",
        ),
        ("respondents: [{role: pilot}]", "unknown role 'pilot'"),
        ("{{{", "not valid YAML or JSON"),
    ],
)
def test_a_bad_answers_file_gets_one_line_and_exit_2(
    tmp_path: Path, answers: str, message: str
) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text(answers, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "score", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
