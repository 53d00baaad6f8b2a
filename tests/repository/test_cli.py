"""`processlens repo-check` and `processlens score --repo-signals`, as a user runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from app import cli
from app.config import QUESTIONNAIRES_DIR
from tests.repository import common, shapes


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli.app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_repo_check_writes_the_signals_file_and_a_summary(tmp_path: Path) -> None:
    root = shapes.build("tidy_package", tmp_path / "tidy_package")
    output = tmp_path / "signals.json"
    code, stdout, stderr = invoke("repo-check", str(root), "-o", str(output))
    assert code == 0, stderr
    assert stdout == ""
    assert "14 files seen, 9 read; 21 of 31 signals found" in stderr
    data = json.loads(output.read_text())
    assert data["format"] == "processlens-repository-signals"
    assert data["format_version"] == 1
    assert data["repository"] == "tidy_package"
    assert str(tmp_path) not in output.read_text()  # no absolute paths leave the machine


def test_repo_check_without_output_writes_to_stdout(tmp_path: Path) -> None:
    root = shapes.build("notebooks_only", tmp_path / "nb")
    code, stdout, _ = invoke("repo-check", str(root))
    assert code == 0
    assert json.loads(stdout)["signals_version"] == "2026.1"


def test_repo_check_refuses_a_file(tmp_path: Path) -> None:
    path = tmp_path / "file.txt"
    path.write_text("x")
    code, stdout, stderr = invoke("repo-check", str(path))
    assert code == 2
    assert "not a folder" in stderr
    assert stdout == ""


def _signals_file(tmp_path: Path, shape: str) -> Path:
    output = tmp_path / f"{shape}.json"
    code, _, stderr = invoke(
        "repo-check", str(shapes.build(shape, tmp_path / shape)), "-o", str(output)
    )
    assert code == 0, stderr
    return output


def test_score_shows_the_comparison_and_leaves_the_scores_alone(tmp_path: Path) -> None:
    signals = _signals_file(tmp_path, "hacks_and_todos")
    code, plain, _ = invoke("score", str(common.ANSWERS))
    assert code == 0
    code, with_repo, stderr = invoke("score", str(common.ANSWERS), "--repo-signals", str(signals))
    assert code == 0, stderr
    before, after = json.loads(plain), json.loads(with_repo)
    repository = after.pop("repository")
    assert after == before  # no score, level, finding or evidence share changes
    assert repository["counts"] == {"agrees": 0, "contradicts": 5, "silent": 6}
    assert repository["confidence_lowered"] is True
    tracking = next(q for q in repository["questions"] if q["question"] == "debt.debt_tracking")
    assert tracking["verdict"] == "contradicts"
    assert tracking["team_says"].startswith("disputed (")
    assert [f["question"] for f in repository["findings"]] == [
        "handoff.schema_acceptance",
        "handoff.hacks_productionised",
        "debt.debt_tracking",
        "debt.production_monitoring",
        "debt.engineering_basics",
    ]


def test_score_text_lists_each_question(tmp_path: Path) -> None:
    signals = _signals_file(tmp_path, "tidy_package")
    code, text, stderr = invoke(
        "score", str(common.ANSWERS), "--format", "text", "--repo-signals", str(signals)
    )
    assert code == 0, stderr
    assert "Repository check (tidy_package): 6 agree, 0 contradict, 6 silent" in text
    assert "= debt.engineering_basics: the team says" in text
    assert "Confidence lowered" not in text


def test_score_refuses_a_signals_file_it_cannot_read(tmp_path: Path) -> None:
    signals = _signals_file(tmp_path, "tidy_package")
    data = json.loads(signals.read_text())
    data["signals_version"] = "1999.1"
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    code, stdout, stderr = invoke("score", str(common.ANSWERS), "--repo-signals", str(old))
    assert code == 2
    assert "made with repository signals 1999.1" in stderr
    assert stdout == ""
    junk = tmp_path / "junk.json"
    junk.write_text('{"format": "something else"}')
    code, _, stderr = invoke("score", str(common.ANSWERS), "--repo-signals", str(junk))
    assert code == 2
    assert "not a repository signals file" in stderr


def test_validate_checks_the_signals_file(tmp_path: Path) -> None:
    code, stdout, _ = invoke("validate")
    assert code == 0
    assert "31 repository signals" in stdout
    broken = tmp_path / "repository.yaml"
    text = (QUESTIONNAIRES_DIR / "repository.yaml").read_text()
    broken.write_text(
        text.replace("question: debt.debt_tracking", "question: debt.no_such_question", 1)
    )
    code, _, stderr = invoke("validate", str(broken))
    assert code == 2
    assert "unknown question 'debt.no_such_question'" in stderr
    folder = tmp_path / "rubric"
    shutil.copytree(QUESTIONNAIRES_DIR, folder)
    (folder / "repository.yaml").write_text(text.replace("measure: ci_files", "measure: nope"))
    code, _, stderr = invoke("validate", str(folder))
    assert code == 2
    assert "repository.yaml:" in stderr
    assert "unknown measure 'nope'" in stderr
