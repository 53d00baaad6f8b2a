"""The signals file's checks, the matcher kinds, and the comparison's verdicts, table-driven."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.config import APP_DIR, QUESTIONNAIRES_DIR
from app.rubric import loader, repository_compare
from app.rubric.aggregate import Spread
from app.rubric.repository_match import (
    PathFilter,
    RepositorySignals,
    ScanSummary,
    SignalReading,
    Tally,
    imported_modules,
    notebook_code,
)
from app.rubric.repository_signals import FAMILIES, SIGNALS_FILE, parse_signal_catalog
from tests.repository import common, shapes

SIGNALS_TEXT = (QUESTIONNAIRES_DIR / SIGNALS_FILE).read_text(encoding="utf-8")


def problems(text: str) -> list[str]:
    with pytest.raises(loader.RubricError) as raised:
        parse_signal_catalog(text, common.catalog(), source=SIGNALS_FILE)
    return raised.value.problems


# --- the file ----------------------------------------------------------------------------------


def test_every_family_the_issue_names_has_a_signal_with_a_citation() -> None:
    signal_catalog, _ = common.signals()
    assert {signal.family for signal in signal_catalog.signals} == set(FAMILIES)
    assert all(signal.why for signal in signal_catalog.signals)


def test_the_catalog_does_not_include_the_signals_file() -> None:
    # the instruments' versions, which rounds store, do not change when a signal does
    assert SIGNALS_FILE not in common.catalog().versions


@pytest.mark.parametrize(
    ("before", "after", "problem"),
    [
        ("measure: ci_files", "measure: nowhere", "unknown measure 'nowhere'"),
        (
            "contradicts: [ci_some_tests, ci_everything]",
            "contradicts: [ci_some_tests, sometimes]",
            "debt.engineering_basics has no option 'sometimes'",
        ),
        ("section: Must have", "section: Must", "section 'Must' is not a listed heading"),
        (
            "doc: handoff_notes",
            "doc: unknown_doc",
            "source 'unknown_doc' is not in the bibliography",
        ),
        ("numerator: notebooks", "numerator: test_share", "a ratio cannot divide another ratio"),
        (
            r"pattern: '\b(mypy|pyright|pytype|tsc)\b'",
            "pattern: '(unclosed'",
            "not a valid regular",
        ),
        ('kind: files\n    paths: ["*.ipynb"]', 'kind: glob\n    paths: ["*.ipynb"]', "kind"),
        (
            "supports: [ci_some_tests, ci_everything]\n        contradicts: [not_versioned,",
            "supports: [ci_some_tests, not_versioned]\n        contradicts: [not_versioned,",
            "both supported and contradicted: not_versioned",
        ),
        ('version: "2026.1"', 'version: "2026.1"\nextra: &anchor 1', "anchors and aliases"),
    ],
)
def test_a_bad_signals_file_names_the_line_and_the_problem(
    before: str, after: str, problem: str
) -> None:
    assert SIGNALS_TEXT.count(before) >= 1, before
    found = problems(SIGNALS_TEXT.replace(before, after, 1))
    assert any(problem in line for line in found), found
    assert all(re.match(r"repository\.yaml:\d+: ", line) for line in found), found


def test_no_python_branches_on_a_signal_id() -> None:
    signal_catalog, _ = common.signals()
    # family names are the schema's own enumeration; some signals share their names
    ids = (
        {signal.id for signal in signal_catalog.signals}
        | {measure.id for measure in signal_catalog.measures}
    ) - set(FAMILIES)
    sources = [
        *sorted((APP_DIR / "rubric").glob("repository_*.py")),
        *sorted((APP_DIR / "repository_check").glob("*.py")),
    ]
    for path in sources:
        literals = set(re.findall(r"[\"']([a-z_]+)[\"']", path.read_text(encoding="utf-8")))
        assert not literals & ids, f"{path.name} names {sorted(literals & ids)}"


# --- matchers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("globs", "path", "matches"),
    [
        (["*.py"], "a.py", True),
        (["*.py"], "deep/er/a.py", True),  # no slash: any folder
        (["*.py"], "a.pyc", False),
        (["*.c"], "style.css", False),
        ([".github/workflows/*.yml"], ".github/workflows/ci.yml", True),
        ([".github/workflows/*.yml"], "x/.github/workflows/ci.yml", False),
        (["**/tests/**/*.py"], "tests/test_a.py", True),
        (["**/tests/**/*.py"], "pkg/tests/unit/test_a.py", True),
        (["**/train*/**/*.py"], "training/x/y.py", True),
        (["Dockerfile", "Dockerfile.*"], "svc/Dockerfile.gpu", True),
    ],
)
def test_globs(globs: list[str], path: str, matches: bool) -> None:
    assert PathFilter.of(globs).matches(path) is matches


def test_imports_are_read_not_run() -> None:
    code = (
        "import os, sys as system\nfrom .features.transform import build\n"
        "from mlflow.tracking import MlflowClient\n    import torch  # lazily\n"
        "text = 'import not_this'\n"
    )
    assert imported_modules(code) == {
        "os",
        "sys",
        "features.transform",
        "mlflow.tracking",
        "torch",
    }


def test_a_notebook_is_read_as_its_code_cells() -> None:
    text = shapes.notebook("import pandas", "x = 1")
    assert notebook_code(text) == "import pandas\nx = 1"
    assert notebook_code("not json") is None
    assert notebook_code('{"cells": 3}') is None


@pytest.mark.parametrize(
    ("path", "text", "measure", "value"),
    [
        ("pyproject.toml", "[tool.mypy]\nstrict = true\n", "type_config_keys", 1),
        ("setup.cfg", "[mypy]\nstrict = True\n", "type_config_keys", 1),
        ("tsconfig.json", '{"compilerOptions": {"strict": true}}', "type_config_keys", 1),
        ("pyproject.toml", "[tool.mypy\nbroken", "type_config_keys", 0),
        ("package.json", '{"eslintConfig": {}}', "style_config_keys", 1),
        ("requirements.txt", "a==1\nb==2.0\nc>=3\n", "pinned_requirements", 2),
        ("x.py", "# TODO(ABC-12) later\n# TODO later\n", "untracked_markers", 1),
        ("x.py", "# TODO(ABC-12) later\n# TODO later\n", "tracked_markers", 1),
    ],
)
def test_matcher_kinds(path: str, text: str, measure: str, value: float) -> None:
    signal_catalog, _ = common.signals()
    tally = Tally(signal_catalog)
    tally.add_path(path)
    assert tally.wants_text(path)
    tally.add_text(path, text)
    measures, _ = tally.readings()
    assert next(m.value for m in measures if m.id == measure) == value


# --- verdicts ----------------------------------------------------------------------------------


def readings_with(states: dict[str, str]) -> RepositorySignals:
    signal_catalog, sha256 = common.signals()
    return RepositorySignals(
        signals_version=signal_catalog.version,
        signals_sha256=sha256,
        repository="r",
        scan=ScanSummary(files_seen=1, files_read=1, bytes_read=1, complete=True),
        measures=(),
        signals=tuple(
            SignalReading(id=s.id, family=s.family, state=states.get(s.id, "unknown"), shows="")  # type: ignore[arg-type]
            for s in signal_catalog.signals
        ),
    )


def spread(value: str, high: str | None = None) -> Spread:
    return Spread(
        question="debt.engineering_basics",
        counts={},
        consensus=value,
        disagreement=high is not None,
        disputed=high is not None,
        high=high,
    )


@pytest.mark.parametrize(
    ("team", "verdict", "sides_with"),
    [
        (spread("ci_some_tests"), "agrees", None),
        (spread("reviewed"), "contradicts", None),
        (spread("dont_know"), "silent", None),
        (None, "silent", None),
        (spread("reviewed", "ci_everything"), "silent", "Every change is reviewed"),
        (spread("versioned_only", "reviewed"), "contradicts", None),
    ],
)
def test_verdicts(team: Spread | None, verdict: str, sides_with: str | None) -> None:
    signal_catalog, _ = common.signals()
    comparison = repository_compare.compare(
        catalog=common.catalog(),
        signals=signal_catalog,
        readings=readings_with({"ci_runs_tests": "found"}),
        spreads={} if team is None else {"debt.engineering_basics": team},
    )
    (check,) = comparison.checks
    assert check.verdict == verdict
    if sides_with is None:
        assert check.sides_with is None
    else:
        assert (check.sides_with or "").startswith(sides_with)
    assert bool(comparison.findings) is (verdict == "contradicts")
    assert comparison.confidence_lowered is (verdict == "contradicts")


def test_unknown_signals_say_nothing(tmp_path: Path) -> None:
    signal_catalog, _ = common.signals()
    comparison = repository_compare.compare(
        catalog=common.catalog(),
        signals=signal_catalog,
        readings=readings_with({}),
        spreads=common.assessment().spreads,
    )
    assert comparison.checks == ()
