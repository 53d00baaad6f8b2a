"""The strict loader: every broken rubric fails with `file:line: message`; good ones load.

The broken rubrics are the table in `tests/rubric/broken/`: the mini rubric with one edit each.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.rubric.loader import (
    NOT_CATALOG_FILES,
    Catalog,
    RubricError,
    content_hash,
    iter_rules,
    load_catalog,
    load_catalog_from_texts,
)
from app.rubric.rules import iter_predicates

from .broken import BY_NAME, CASES, MINI, Case, apply, mini_texts

REPO = Path(__file__).resolve().parents[2]
QUESTIONNAIRES = REPO / "questionnaires"
PROBLEM = re.compile(r"^[\w.-]+\.yaml:\d+: \S")


class WrongLine(AssertionError):
    """The expected problem is reported, but at another line."""


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(RubricError) as caught:
        load_catalog(folder)
    return caught.value.problems


def assert_reported(problems: list[str], case: Case) -> None:
    listing = "\n  ".join(problems)
    matching = [problem for problem in problems if case.message in problem]
    assert matching, f"no problem says {case.message!r}; got:\n  {listing}"
    if not any(problem.startswith(case.prefix) for problem in matching):
        raise WrongLine(f"expected at {case.prefix!r}; got:\n  {listing}")


# Reported at a line that does not point at the mistake (see the report in the test's reason).
KNOWN_WRONG_LINE: dict[str, str] = {}


def _case_param(case: Case) -> object:
    marks = []
    if case.name in KNOWN_WRONG_LINE:
        marks.append(
            pytest.mark.xfail(reason=KNOWN_WRONG_LINE[case.name], raises=WrongLine, strict=True)
        )
    return pytest.param(case, id=case.name, marks=marks)


# --- the mini rubric and its broken copies ----------------------------------------------------


@pytest.fixture(scope="module")
def mini() -> Catalog:
    return load_catalog(MINI)


def test_the_mini_rubric_loads(mini: Catalog) -> None:
    assert sorted(mini.instruments) == ["quality", "shape"]
    assert len(mini.questions) == 9
    assert [p.id for p in mini.practices.practices] == [
        "write_unit_tests",
        "data_tests",
        "add_monitoring",
        "automate_deploys",
    ]


def test_rules_in_instrument_files_are_qualified_on_load(mini: Catalog) -> None:
    referenced = {p.q for rule in iter_rules(mini) for p in iter_predicates(rule)}
    assert all("." in qid for qid in referenced)
    assert referenced <= set(mini.questions)
    deploy = mini.instruments["quality"].question("deploy")
    assert deploy is not None
    assert deploy.show_if is not None
    assert {p.q for p in iter_predicates(deploy.show_if)} == {"quality.structure"}


def test_every_case_edits_a_distinct_thing() -> None:
    assert len(BY_NAME) == len(CASES)
    assert len({(case.file, case.old, case.new) for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", [_case_param(case) for case in CASES])
def test_broken_rubric_fails_with_file_line_message(case: Case, tmp_path: Path) -> None:
    problems = problems_of(case.write(tmp_path))
    malformed = [problem for problem in problems if not PROBLEM.match(problem)]
    assert not malformed, f"problems without a file:line: prefix: {malformed}"
    assert_reported(problems, case)


@pytest.mark.parametrize("name", ["duplicate_yaml_key", "unknown_option_in_rule", "weight_zero"])
def test_texts_fail_like_files(name: str, tmp_path: Path) -> None:
    # load_catalog_from_texts (used to re-read stored versions) reports what load_catalog does
    case = BY_NAME[name]
    with pytest.raises(RubricError) as caught:
        load_catalog_from_texts(case.texts())
    assert caught.value.problems == problems_of(case.write(tmp_path))


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    first, second = BY_NAME["unknown_prerequisite"], BY_NAME["unknown_option_in_rule"]
    texts = apply(first.texts(), second.file, second.old, second.new)
    with pytest.raises(RubricError) as caught:
        load_catalog_from_texts(texts)
    assert_reported(caught.value.problems, first)
    assert_reported(caught.value.problems, second)
    assert str(caught.value) == "\n".join(caught.value.problems)


@pytest.mark.parametrize("missing", ["practices.yaml", "process_models.yaml", "sources.yaml"])
def test_a_missing_required_file_is_named(missing: str) -> None:
    texts = {name: text for name, text in mini_texts().items() if name != missing}
    with pytest.raises(RubricError) as caught:
        load_catalog_from_texts(texts)
    assert any(p.startswith(f"{missing}:1: missing:") for p in caught.value.problems)


def test_a_rubric_without_instruments_is_refused() -> None:
    texts = {
        name: text
        for name, text in mini_texts().items()
        if name not in ("quality.yaml", "shape.yaml")
    }
    with pytest.raises(RubricError) as caught:
        load_catalog_from_texts(texts)
    assert any("no instrument files found" in p for p in caught.value.problems)


def test_a_second_practices_file_is_refused() -> None:
    texts = {**mini_texts(), "more_practices.yaml": mini_texts()["practices.yaml"]}
    with pytest.raises(RubricError) as caught:
        load_catalog_from_texts(texts)
    assert any(
        p.startswith("practices.yaml:1: only one practices file is allowed")
        for p in caught.value.problems
    )


def test_a_null_test_value_is_a_problem_not_a_crash() -> None:
    # `{q: x, equals: }` used to raise StopIteration from Predicate.test (fixed in rules.py)
    texts = apply(
        mini_texts(),
        "practices.yaml",
        "trigger: {q: quality.deploy, at_most: scripted}",
        "trigger: {q: quality.deploy, at_most: }",
    )
    with pytest.raises(RubricError) as caught:
        load_catalog_from_texts(texts)
    assert any(
        p.startswith("practices.yaml:57: ") and "needs exactly one of" in p
        for p in caught.value.problems
    )


# --- custom instrument folders ----------------------------------------------------------------

EXTRA = """\
kind: instrument
id: extra
title: Extra
version: "t1"
description: A custom instrument.
scored: false
roles: [team_lead]
sources: [{doc: doc_a, section: Alpha, note: test}]
sections:
  - id: main
    title: Main
    questions:
      - id: tools
        text: Which tools?
        help: Why.
        type: multi
        quick: true
        options:
          - {id: notebooks, label: Notebooks}
          - {id: ci, label: CI}
          - {id: registry, label: Registry}
        sources: [{doc: doc_a, section: Alpha, note: test}]
"""


def test_custom_folders_add_instruments(tmp_path: Path) -> None:
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "extra.yaml").write_text(EXTRA, encoding="utf-8")
    catalog = load_catalog([MINI, custom])
    assert catalog.custom_instruments == frozenset({"extra"})
    assert "extra.tools" in catalog.questions
    assert set(catalog.versions) == {*mini_texts(), "extra.yaml"}


def test_a_file_name_in_two_folders_is_refused(tmp_path: Path) -> None:
    (tmp_path / "shape.yaml").write_text(mini_texts()["shape.yaml"], encoding="utf-8")
    with pytest.raises(RubricError, match=r"shape\.yaml:1: a file named shape\.yaml is already"):
        load_catalog([MINI, tmp_path])


def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RubricError, match="not a folder"):
        load_catalog(tmp_path / "nowhere")


# --- versions ---------------------------------------------------------------------------------


def test_each_file_gets_its_sha256_as_version(mini: Catalog) -> None:
    assert set(mini.versions) == {path.name for path in MINI.glob("*.yaml")}
    for name, version in mini.versions.items():
        assert version == hashlib.sha256((MINI / name).read_bytes()).hexdigest()
        assert version == content_hash(mini.texts[name])


def test_the_version_follows_the_content_not_the_path(mini: Catalog, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    for name, text in mini_texts().items():
        (copy / name).write_text(text, encoding="utf-8")
    assert load_catalog(copy).versions == mini.versions
    assert load_catalog_from_texts(mini_texts()).versions == mini.versions

    # an edit that changes nothing the loader sees still makes a new version of that file only
    shape = copy / "shape.yaml"
    shape.write_text(shape.read_text(encoding="utf-8") + "# a comment\n", encoding="utf-8")
    edited = load_catalog(copy)
    changed = {name for name in mini.versions if edited.versions[name] != mini.versions[name]}
    assert changed == {"shape.yaml"}
    assert edited.versions["shape.yaml"] == content_hash(shape.read_text(encoding="utf-8"))
    assert edited.instruments["shape"] == mini.instruments["shape"]


# --- the real rubric --------------------------------------------------------------------------

MISSING_REAL = [
    name
    for name in ("practices.yaml", "process_models.yaml")
    if not (QUESTIONNAIRES / name).is_file()
]


@pytest.mark.skipif(
    bool(MISSING_REAL),
    reason=f"questionnaires/{' and '.join(MISSING_REAL)} not written yet (in progress)",
)
def test_the_real_rubric_loads() -> None:
    try:
        catalog = load_catalog(QUESTIONNAIRES)
    except RubricError as error:
        pytest.fail("questionnaires/ does not load:\n" + "\n".join(error.problems))
    files = {path.name for path in QUESTIONNAIRES.glob("*.yaml")} - NOT_CATALOG_FILES
    assert set(catalog.versions) == files
    assert {f"{instrument_id}.yaml" for instrument_id in catalog.instruments} <= files


# --- python -m app.rubric.loader --------------------------------------------------------------


def run_loader(*folders: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.rubric.loader", *map(str, folders)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_command_line_accepts_the_mini_rubric() -> None:
    result = run_loader(MINI)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: 2 instruments, 9 questions, 4 practices, 2 process models")
    assert result.stderr == ""


def test_command_line_refuses_a_broken_rubric(tmp_path: Path) -> None:
    case = BY_NAME["unknown_option_in_rule"]
    result = run_loader(case.write(tmp_path))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines
    assert all(PROBLEM.match(line) for line in lines), result.stderr
    assert any(line.startswith(case.prefix) and case.message in line for line in lines)


# --- loader bugs found by these tests, now fixed ------------------------------------------------

TOOLS_QUESTION = """\
      - id: tools
        text: Which tools?
        help: Why.
        type: multi
        quick: true
        options:
          - {id: notebooks, label: Notebooks}
          - {id: ci, label: CI}
          - {id: registry, label: Registry}
        sources: [{doc: doc_a, section: Alpha, note: test}]
      - id: comment
"""


def with_tools(practice_trigger: str | None = None, finding: str | None = None) -> dict[str, str]:
    """The mini rubric with a multiple-choice question shape.tools and an edited rule."""
    texts = apply(mini_texts(), "shape.yaml", "      - id: comment\n", TOOLS_QUESTION)
    if practice_trigger is not None:
        texts = apply(
            texts,
            "practices.yaml",
            "trigger: {q: quality.deploy, at_most: scripted}",
            f"trigger: {practice_trigger}",
        )
    if finding is not None:
        texts = apply(
            texts,
            "shape.yaml",
            "when: {all: [{q: risk, equals: unknown_feasibility}, {q: stakes, equals: high}]}",
            f"when: {finding}",
        )
    return texts


def test_a_multiple_choice_question_with_includes_loads() -> None:
    catalog = load_catalog_from_texts(
        with_tools(practice_trigger="{not: {q: shape.tools, includes: ci}}")
    )
    assert catalog.questions["shape.tools"].question.type == "multi"


def test_at_least_on_a_multiple_choice_question_is_refused() -> None:
    with pytest.raises(RubricError) as caught:
        load_catalog_from_texts(with_tools(finding="{q: tools, at_least: ci}"))
    assert any(p.startswith("shape.yaml:") and "shape.tools" in p for p in caught.value.problems)


def test_at_least_on_a_multiple_choice_trigger_is_a_problem_not_a_crash() -> None:
    with pytest.raises(RubricError):
        load_catalog_from_texts(with_tools(practice_trigger="{q: shape.tools, at_least: ci}"))


def test_equals_on_a_multiple_choice_question_is_refused() -> None:
    with pytest.raises(RubricError):
        load_catalog_from_texts(with_tools(finding="{q: tools, equals: ci}"))


def test_a_yes_no_value_in_a_rule_is_refused() -> None:
    texts = apply(
        mini_texts(),
        "practices.yaml",
        "trigger: {q: quality.deploy, at_most: scripted}",
        "trigger: {q: shape.team_size, equals: yes}",
    )
    with pytest.raises(RubricError) as caught:
        load_catalog_from_texts(texts)
    assert any("yes/no" in p for p in caught.value.problems)


def test_a_trigger_with_a_stage_condition_loads() -> None:
    texts = apply(
        mini_texts(),
        "practices.yaml",
        "trigger: {q: quality.deploy, at_most: scripted}",
        "trigger: {all: [{stage: [productionising, operating]}, "
        "{q: quality.deploy, at_most: scripted}]}",
    )
    load_catalog_from_texts(texts)


def test_a_trigger_needing_two_of_three_options_loads() -> None:
    load_catalog_from_texts(
        with_tools(
            practice_trigger="{all: [{q: shape.tools, includes: ci}, "
            "{q: shape.tools, includes: registry}, {not: {q: shape.tools, includes: notebooks}}]}"
        )
    )


def test_one_mistake_gives_one_problem() -> None:
    with pytest.raises(RubricError) as caught:
        load_catalog_from_texts(BY_NAME["weight_zero"].texts())
    assert caught.value.problems == [
        "quality.yaml:15: sections.0.questions.0: weight must be greater than 0, got 0.0"
    ]
