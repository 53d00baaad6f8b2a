"""Five kinds of repository, each scanned to its golden signals file and compared with the
team's answers (examples/full-assessment.yaml) to its expected agree / contradict table.

After an intended change to questionnaires/repository.yaml, rewrite the golden files with
PROCESSLENS_UPDATE_GOLDEN=1 and read the diff before committing it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from app.repository_check.cli import signals_json
from app.repository_check.scan import scan_repository
from app.rubric import repository_compare
from app.rubric.repository_match import RepositorySignals
from tests.repository import common, shapes

UPDATE = os.environ.get("PROCESSLENS_UPDATE_GOLDEN") == "1"


def scanned(shape: str, tmp_path: Path) -> RepositorySignals:
    signal_catalog, sha256 = common.signals()
    return scan_repository(
        shapes.build(shape, tmp_path / shape), signal_catalog, signals_sha256=sha256
    )


def check_golden(path: Path, text: str) -> None:
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}: run with PROCESSLENS_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{path.name} differs from the scan"


def table(readings: RepositorySignals) -> list[list[str]]:
    """question, verdict and (for a disputed answer) the end the repository sides with."""
    signal_catalog, _ = common.signals()
    comparison = repository_compare.compare(
        catalog=common.catalog(),
        signals=signal_catalog,
        readings=readings,
        spreads=common.assessment().spreads,
    )
    return [[check.question, check.verdict, check.sides_with or ""] for check in comparison.checks]


@pytest.mark.parametrize("shape", sorted(shapes.SHAPES))
def test_each_shape_gives_its_golden_signals_and_table(shape: str, tmp_path: Path) -> None:
    readings = scanned(shape, tmp_path)
    check_golden(common.GOLDEN / f"{shape}.signals.json", signals_json(readings))
    rows = ",\n".join(f"  {json.dumps(row, ensure_ascii=False)}" for row in table(readings))
    check_golden(common.GOLDEN / f"{shape}.table.json", f"[\n{rows}\n]\n")


def found(readings: RepositorySignals) -> set[str]:
    return {s.id for s in readings.signals if s.state == "found"}


def verdicts(readings: RepositorySignals) -> dict[str, str]:
    return {question: verdict for question, verdict, _ in table(readings)}


def test_notebooks_only_is_seen_as_notebooks_with_hard_coded_thresholds(tmp_path: Path) -> None:
    readings = scanned("notebooks_only", tmp_path)
    assert {"notebooks_only", "notebook_thresholds", "no_monitoring"} <= found(readings)
    assert "ci_configured" not in found(readings)
    # the team claims CI runs tests and modular code: the notebooks say otherwise
    assert verdicts(readings)["debt.engineering_basics"] == "contradicts"
    assert verdicts(readings)["handoff.notebook_to_pipeline"] == "contradicts"


def test_a_tidy_package_agrees_with_the_teams_claims(tmp_path: Path) -> None:
    readings = scanned("tidy_package", tmp_path)
    assert {
        "ci_runs_tests",
        "ci_runs_style_checks",
        "ci_runs_type_checks",
        "types_configured",
        "precommit_configured",
        "registry_used",
        "registry_promotes",
        "data_validation",
        "drift_monitoring",
        "tracked_markers",
        "containers",
        "pinned_environment",
    } <= found(readings)
    assert "contradicts" not in verdicts(readings).values()
    assert verdicts(readings)["debt.engineering_basics"] == "agrees"


def test_a_rewritten_service_contradicts_shared_code(tmp_path: Path) -> None:
    readings = scanned("rewritten_service", tmp_path)
    assert "other_language_model" in found(readings)
    assert verdicts(readings)["collaboration.rewrite"] == "contradicts"


def test_a_monorepo_shares_feature_code_between_training_and_serving(tmp_path: Path) -> None:
    readings = scanned("monorepo_shared", tmp_path)
    assert "shared_feature_code" in found(readings)
    assert "features_not_shared" not in found(readings)
    shared = next(m for m in readings.measures if m.id == "shared_feature_modules")
    assert shared.examples == ("features.transform",)


def test_hacks_and_untracked_todos_contradict_tracked_debt(tmp_path: Path) -> None:
    readings = scanned("hacks_and_todos", tmp_path)
    assert {"untracked_markers", "hacks_in_code", "notebooks_run_by_code"} <= found(readings)
    assert "tracked_markers" not in found(readings)
    assert verdicts(readings)["debt.debt_tracking"] == "contradicts"
    assert verdicts(readings)["handoff.hacks_productionised"] == "contradicts"
