"""`processlens rubric diff` reads as a changelog: grouped by file and kind, reworded texts shown
old → new, roles named, "not applicable" and display conditions in words, gates, practices,
fit rules and caveats included. A small pair of catalogs in a temp folder, plus the shipped
2026.1 → 2026.2 changelog, which must be current like docs/rubric.md."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.config import QUESTIONNAIRES_DIR
from app.rubric.changelog import changelog_markdown
from app.rubric.loader import load_catalog
from app.rubric_cli import rubric_app

MINI = Path(__file__).parent / "mini"
RUBRIC_2026_1 = Path(__file__).parents[1] / "fixtures" / "rubric-2026.1"
CHANGELOG = Path(__file__).parents[2] / "docs" / "rubric-changes-2026.2.md"

# (file, old text, new text): each old text occurs exactly once in its file
EDITS = [
    ("quality.yaml", "text: Unit tests?", "text: How much of the pipeline do unit tests cover?"),
    (
        "quality.yaml",
        "        evidence: true\n        options:\n          - {id: none, label: None, score: 0}\n"
        "          - {id: some, label: Some, score: 2}",
        "        evidence: true\n        options:\n          - {id: none, label: None, score: 0}\n"
        "          - {id: some, label: Some, score: 3}",
    ),
    ("quality.yaml", "        allow_na: true\n", ""),
    (
        "quality.yaml",
        "        roles: [ml_engineer, software_engineer]\n",
        "        roles: [ml_engineer, data_scientist]\n",
    ),
    (
        "quality.yaml",
        "        stages: [productionising, operating]\n",
        "        stages: [productionising, operating]\n"
        "        show_if: {not: {q: structure, equals: together}}\n",
    ),
    (
        "quality.yaml",
        "      - id: structure\n",
        "      - id: coverage_goal\n        text: Is there a coverage goal?\n        help: Why.\n"
        "        type: single\n        options:\n          - {id: 'no', label: 'No'}\n"
        "          - {id: 'yes', label: 'Yes'}\n"
        "        sources: [{doc: doc_a, section: Beta, note: test}]\n      - id: structure\n",
    ),
    ("quality.yaml", "rule: {q: unit_tests, at_least: some}", "rule: {q: unit_tests, equals: all}"),
    ("practices.yaml", "    effort: S\n", "    effort: M\n"),
    (
        "process_models.yaml",
        'weight: 3, reason: "Model feasibility is unknown"',
        'weight: 2, reason: "Model feasibility is unknown"',
    ),
    (
        "process_models.yaml",
        "        text: Mind the system.\n        sources: [{doc: doc_a, section: Alpha, note: n}]\n"
        "  - id: plan_first",
        "        text: Mind the system.\n        sources: [{doc: doc_a, section: Alpha, note: n}]\n"
        "      - id: regulated\n        when: {q: shape.stakes, equals: high}\n"
        "        text: Check the regulation.\n"
        "        sources: [{doc: doc_a, section: Alpha, note: n}]\n"
        "  - id: plan_first",
    ),
]


@pytest.fixture
def versions(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "old", tmp_path / "new"
    shutil.copytree(MINI, old)
    shutil.copytree(MINI, new)
    for name, before, after in EDITS:
        path = new / name
        text = path.read_text()
        assert text.count(before) == 1, (name, before)
        path.write_text(text.replace(before, after))
    for path in new.glob("*.yaml"):
        path.write_text(path.read_text().replace('version: "t1"', 'version: "t2"'))
    return old, new


def _diff(old: Path, new: Path) -> str:
    result = CliRunner().invoke(rubric_app, ["diff", str(old), str(new)])
    assert result.exit_code == 0, result.output
    return result.output


def _section(text: str, heading: str) -> str:
    """The lines under one heading, up to the next heading of the same or a higher level."""
    level = heading.split(" ")[0]
    lines = text.splitlines()
    start = lines.index(heading) + 1
    end = next(
        (
            i
            for i in range(start, len(lines))
            if lines[i].startswith("#") and len(lines[i].split(" ")[0]) <= len(level)
        ),
        len(lines),
    )
    return "\n".join(lines[start:end])


def test_the_changelog_groups_changes_by_file_and_kind_in_words(
    versions: tuple[Path, Path],
) -> None:
    text = _diff(*versions)
    assert text.startswith("# Rubric changes: t1 → t2")
    quality = _section(text, "## quality.yaml")
    assert "Version t1 → t2." in quality
    assert "`quality.coverage_goal` — “Is there a coverage goal?”" in _section(
        quality, "### Questions added"
    )
    changed = _section(quality, "### Questions changed")
    assert (
        "text reworded: “Unit tests?” → “How much of the pipeline do unit tests cover?”" in changed
    )
    assert "option some rescored: 2 → 3" in changed
    assert "“not applicable” no longer allowed" in changed
    # roles by name, which way
    assert "now required of: data scientist" in changed
    assert "no longer required of: software engineer" in changed
    # a display condition in words
    assert "display condition (shown only when) added: quality.structure is not together" in changed
    gates = _section(quality, "### Gates changed")
    assert (
        "passed when changed: quality.unit_tests is at least some → quality.unit_tests is all"
    ) in gates
    practices = _section(text, "## practices.yaml")
    assert "`write_unit_tests`" in practices
    assert "effort: S → M" in practices
    models = _section(text, "## process_models.yaml")
    assert "fit rule reweighted: +3 → +2 when shape.risk is unknown_feasibility" in models
    assert "caveat added: regulated — shown when shape.stakes is high" in models


def test_removals_show_in_the_reverse_direction(versions: tuple[Path, Path]) -> None:
    old, new = versions
    text = _diff(new, old)
    assert "`quality.coverage_goal` — “Is there a coverage goal?”" in _section(
        text, "### Questions removed"
    )
    assert "“not applicable” now allowed" in text
    removed = "display condition (shown only when) removed (was: quality.structure is not together)"
    assert removed in text


def test_identical_versions_say_nothing_changed() -> None:
    catalog = load_catalog(MINI)
    assert changelog_markdown(catalog, catalog).rstrip().endswith("Nothing changed.")


def test_a_late_rewording_shows_where_the_texts_differ(
    versions: tuple[Path, Path],
) -> None:
    old, new = versions
    path = new / "quality.yaml"
    long_start = "Why. " + "This sentence is shared by both versions of the help text. " * 3
    text = path.read_text().replace(
        "text: How much of the pipeline do unit tests cover?\n        help: Why.",
        f"text: How much of the pipeline do unit tests cover?\n        help: {long_start}New end.",
    )
    path.write_text(text)
    (old / "quality.yaml").write_text(
        (old / "quality.yaml")
        .read_text()
        .replace(
            "text: Unit tests?\n        help: Why.",
            f"text: Unit tests?\n        help: {long_start}Old end.",
        )
    )
    changed = _diff(old, new)
    line = next(x for x in changed.splitlines() if "help reworded" in x)
    assert "Old end." in line
    assert "New end." in line


def test_the_shipped_2026_2_changelog_is_current() -> None:
    expected = changelog_markdown(load_catalog(RUBRIC_2026_1), load_catalog(QUESTIONNAIRES_DIR))
    assert CHANGELOG.read_text() == expected, (
        "regenerate: processlens rubric diff tests/fixtures/rubric-2026.1 questionnaires "
        "> docs/rubric-changes-2026.2.md"
    )
