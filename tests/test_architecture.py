"""The layer contracts of pyproject.toml (docs/architecture.md) bite: `lint-imports` passes on
the code as it is and fails once the rubric core imports the database or a domain module
imports an edge.

Each case copies app/ into a temporary folder, plants one import and runs `lint-imports` on
the copy (PYTHONPATH puts the copy first, so the check reads the planted code).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


@pytest.fixture(scope="module")
def copy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layers")
    shutil.copytree(
        ROOT / "app", root / "app", ignore=shutil.ignore_patterns("__pycache__", "static")
    )
    return root


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _planted(copy_root: Path, module: str, line: str) -> Path:
    """A fresh copy of app/ with ``line`` appended to ``module`` (a path under app/)."""
    root = copy_root.parent / f"{copy_root.name}-{module.replace('/', '-')}"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(copy_root, root)
    target = root / "app" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    return root


def test_the_code_as_it_is_keeps_every_contract(copy_root: Path) -> None:
    result = _lint_imports(copy_root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_rubric_core_importing_the_database_breaks_the_layers(copy_root: Path) -> None:
    result = _lint_imports(_planted(copy_root, "rubric/scoring.py", "import app.db  # noqa"))
    assert result.returncode != 0
    assert "app.rubric.scoring -> app.db" in result.stdout


@pytest.mark.parametrize(
    "line",
    [
        "import app.api  # noqa",
        "import app.cli  # noqa",
        "import app.dashboards.routes  # noqa",
    ],
)
def test_a_domain_module_importing_an_edge_breaks_a_contract(copy_root: Path, line: str) -> None:
    result = _lint_imports(_planted(copy_root, "reports/context.py", line))
    assert result.returncode != 0
    imported = line.split()[1]
    assert f"app.reports.context -> {imported}" in result.stdout
