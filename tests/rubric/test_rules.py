"""The rule language: parsing, each predicate, Kleene's three-valued logic, cross-instrument ids.

Rules are evaluated against the mini rubric (`tests/rubric/mini/`) plus one extra instrument
with the question types the mini rubric lacks (multiple choice) and rules across instruments.
Option ranks used by `at_least` / `at_most`:

- quality.unit_tests (ordinal): none 0, some 2, all 4 (positions 0, 1, 2)
- quality.monitoring (ordinal): none 0, basic 1, full 4
- shape.risk (single): known, plausible, unknown_feasibility (positions 0, 1, 2)
- shape.team_size (number, 1-500); shape.comment (text); extra.tools (multi)
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.rubric.loader import Catalog, iter_rules, load_catalog_from_texts
from app.rubric.rules import (
    DONT_KNOW,
    NOT_APPLICABLE,
    STAGES,
    AllRule,
    AnyRule,
    NotRule,
    Predicate,
    Rule,
    StageRule,
    Verdict,
    evaluate,
    iter_predicates,
    parse_rule,
    referenced_questions,
    rule_to_data,
)

from .broken import mini_texts

EXTRA = """\
kind: instrument
id: extra
title: Extra
version: "t1"
description: Question types the mini rubric lacks, and rules across instruments.
scored: false
roles: [team_lead]
sources: [{doc: doc_a, section: Alpha, note: test}]
sections:
  - id: main
    title: Main
    questions:
      - id: tools
        text: Which tools does the team use?
        help: Why.
        type: multi
        quick: true
        options:
          - {id: notebooks, label: Notebooks}
          - {id: ci, label: Continuous integration}
          - {id: registry, label: Model registry}
        sources: [{doc: doc_a, section: Alpha, note: test}]
      - id: review
        text: Does the other team review handed-over models?
        help: Why.
        type: single
        show_if: {q: quality.structure, equals: separate}
        options:
          - {id: never, label: Never}
          - {id: sometimes, label: Sometimes}
          - {id: always, label: Always}
        sources: [{doc: doc_a, section: Alpha, note: test}]
findings:
  - id: tested_and_integrated
    kind: strength
    title: Tested and integrated
    when: {all: [{q: tools, includes: ci}, {q: quality.unit_tests, at_least: some}]}
    text: Unit tests run in continuous integration.
    sources: [{doc: doc_a, section: Alpha, note: n}]
"""

CATALOG: Catalog = load_catalog_from_texts({**mini_texts(), "extra.yaml": EXTRA})

UT = "quality.unit_tests"
MON = "quality.monitoring"
DATA = "quality.data_tests"
STRUCT = "quality.structure"
DEPLOY = "quality.deploy"
RISK = "shape.risk"
STAKES = "shape.stakes"
SIZE = "shape.team_size"
COMMENT = "shape.comment"
TOOLS = "extra.tools"
REVIEW = "extra.review"

T = Verdict(True)
F = Verdict(False)


def U(*questions: str) -> Verdict:
    """Unknown because of exactly these questions."""
    return Verdict(None, frozenset(questions))


def check(
    rule: Any,
    answers: dict[str, Any],
    *,
    stage: str | None = None,
    hidden: frozenset[str] = frozenset(),
) -> Verdict:
    return evaluate(parse_rule(rule), CATALOG.lookup(answers, stage=stage, hidden=hidden))


# --- parsing ----------------------------------------------------------------------------------

PREDICATE = {"q": "a.b", "equals": "x"}

PARSE_ERRORS = [
    pytest.param("equals", "a rule must be a mapping, got str", id="text-not-mapping"),
    pytest.param([PREDICATE], "a rule must be a mapping, got a list", id="list-not-mapping"),
    pytest.param(None, "a rule must be a mapping, got NoneType", id="null-not-mapping"),
    pytest.param(3, "a rule must be a mapping, got int", id="number-not-mapping"),
    pytest.param(
        {"question": "a.b", "equals": "x"},
        "a rule needs 'all', 'any', 'not', 'stage' or a predicate on a question ('q'), "
        "got keys ['equals', 'question']",
        id="no-rule-key",
    ),
    pytest.param(
        {"q": "a.b", "equals": "x", "colour": "red"},
        "unknown key(s) ['colour'] in predicate on 'a.b'",
        id="unknown-key",
    ),
    pytest.param(
        {"q": "a.b", "at_lest": "x"}, "unknown key(s) ['at_lest'] in predicate", id="misspelt-test"
    ),
    pytest.param(
        {"q": "a.b", "equals": "x", "in": ["y"]},
        "a predicate on 'a.b' needs exactly one of equals, in, includes, at_least, at_most, "
        "answered, unknown; got ['equals', 'in']",
        id="two-tests",
    ),
    pytest.param(
        {"q": "a.b", "at_least": "x", "at_most": "y"},
        "got ['at_least', 'at_most']",
        id="two-comparisons",
    ),
    pytest.param({"q": "a.b"}, "needs exactly one of", id="no-test"),
    pytest.param({"q": "a.b", "equals": None}, "got none", id="null-test-value"),
    pytest.param({"all": []}, "'all' needs a non-empty list of rules", id="empty-all"),
    pytest.param({"any": []}, "'any' needs a non-empty list of rules", id="empty-any"),
    pytest.param({"all": PREDICATE}, "'all' needs a non-empty list of rules", id="all-of-mapping"),
    pytest.param({"any": None}, "'any' needs a non-empty list of rules", id="any-of-null"),
    pytest.param(
        {"all": [PREDICATE], "q": "a.b"},
        "a rule with 'all' must have no other keys, got ['all', 'q']",
        id="all-with-predicate-keys",
    ),
    pytest.param(
        {"all": [PREDICATE], "any": [PREDICATE]},
        "must have no other keys, got ['all', 'any']",
        id="all-and-any",
    ),
    pytest.param({"not": [PREDICATE]}, "a rule must be a mapping, got a list", id="not-of-list"),
    pytest.param(
        {"any": [PREDICATE, {"not": {"all": [PREDICATE, {"q": "a.c"}]}}]},
        "a predicate on 'a.c' needs exactly one of",
        id="nested-error",
    ),
    pytest.param({"stage": []}, "at least 1 item", id="no-stage"),
    pytest.param(
        {"stage": ["beta"]},
        "Input should be 'exploration', 'prototype', 'productionising' or 'operating'",
        id="unknown-stage",
    ),
    pytest.param({"q": 3, "equals": "x"}, "Input should be a valid string", id="q-not-text"),
    pytest.param(
        {"q": "a.b", "includes": ["x", "y"]}, "Input should be a valid string", id="includes-list"
    ),
    pytest.param({"q": "a.b", "in": "x"}, "Input should be a valid tuple", id="in-not-a-list"),
]


@pytest.mark.parametrize(("raw", "message"), PARSE_ERRORS)
def test_parse_errors_say_what_is_wrong(raw: Any, message: str) -> None:
    # pydantic's ValidationError is a ValueError too: the loader reports both with file:line
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_rule(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param({"stage": "prototype"}, StageRule(stage=("prototype",)), id="one-stage"),
        pytest.param(
            {"not": {"q": "a.b", "in": ["x", 2]}},
            NotRule.model_validate({"not": Predicate.model_validate({"q": "a.b", "in": ["x", 2]})}),
            id="not-in",
        ),
        pytest.param(
            {"q": "a.b", "answered": False},
            Predicate(q="a.b", answered=False),
            id="answered-false-is-a-test",
        ),
    ],
)
def test_parse_builds_the_rule(raw: Any, expected: Rule) -> None:
    assert parse_rule(raw) == expected


@pytest.mark.parametrize(
    ("raw", "test"),
    [
        ({"q": "a.b", "equals": "x"}, "equals"),
        ({"q": "a.b", "equals": 0}, "equals"),
        ({"q": "a.b", "in": ["x"]}, "in"),
        ({"q": "a.b", "includes": "x"}, "includes"),
        ({"q": "a.b", "at_least": 0}, "at_least"),
        ({"q": "a.b", "at_most": "x"}, "at_most"),
        ({"q": "a.b", "answered": False}, "answered"),
        ({"q": "a.b", "unknown": True}, "unknown"),
    ],
)
def test_each_predicate_names_its_single_test(raw: dict[str, Any], test: str) -> None:
    predicate = parse_rule(raw)
    assert isinstance(predicate, Predicate)
    assert predicate.test == test
    assert list(predicate.tests()) == [test]


def test_parse_accepts_an_already_parsed_rule() -> None:
    rule = parse_rule({"all": [PREDICATE]})
    assert parse_rule(rule) is rule


def test_iter_predicates_and_referenced_questions_walk_the_whole_rule() -> None:
    rule = parse_rule(
        {
            "any": [
                {"all": [{"q": "a.b", "equals": "x"}, {"stage": ["prototype"]}]},
                {"not": {"q": "c.d", "unknown": True}},
                {"q": "a.b", "at_least": 1},
            ]
        }
    )
    assert [p.q for p in iter_predicates(rule)] == ["a.b", "c.d", "a.b"]
    assert referenced_questions(rule) == frozenset({"a.b", "c.d"})
    assert isinstance(rule, AnyRule)
    assert isinstance(rule.any_[0], AllRule)


# --- each predicate ---------------------------------------------------------------------------

PREDICATES: list[tuple[dict[str, Any], dict[str, Any], Verdict]] = [
    # equals
    ({"q": UT, "equals": "some"}, {UT: "some"}, T),
    ({"q": UT, "equals": "some"}, {UT: "all"}, F),
    ({"q": RISK, "equals": "known"}, {RISK: "known"}, T),
    ({"q": SIZE, "equals": 7}, {SIZE: 7}, T),
    ({"q": SIZE, "equals": 7}, {SIZE: 7.0}, T),
    ({"q": SIZE, "equals": 7}, {SIZE: 8}, F),
    # in
    ({"q": RISK, "in": ["known", "plausible"]}, {RISK: "plausible"}, T),
    ({"q": RISK, "in": ["known", "plausible"]}, {RISK: "unknown_feasibility"}, F),
    ({"q": SIZE, "in": [5, 7]}, {SIZE: 7}, T),
    ({"q": SIZE, "in": [5, 7]}, {SIZE: 6}, F),
    # includes (multiple choice)
    ({"q": TOOLS, "includes": "ci"}, {TOOLS: ["notebooks", "ci"]}, T),
    ({"q": TOOLS, "includes": "ci"}, {TOOLS: ["notebooks"]}, F),
    ({"q": TOOLS, "includes": "ci"}, {TOOLS: []}, F),
    # at_least / at_most with option ids: ordinal compares scores
    ({"q": UT, "at_least": "some"}, {UT: "all"}, T),
    ({"q": UT, "at_least": "some"}, {UT: "some"}, T),
    ({"q": UT, "at_least": "some"}, {UT: "none"}, F),
    ({"q": MON, "at_most": "basic"}, {MON: "none"}, T),
    ({"q": MON, "at_most": "basic"}, {MON: "basic"}, T),
    ({"q": MON, "at_most": "basic"}, {MON: "full"}, F),
    # ... and with numbers: the option's score, not its position (some: score 2, position 1)
    ({"q": UT, "at_least": 2}, {UT: "some"}, T),
    ({"q": UT, "at_least": 3}, {UT: "some"}, F),
    ({"q": UT, "at_most": 1}, {UT: "some"}, F),
    ({"q": UT, "at_most": 2}, {UT: "some"}, T),
    ({"q": MON, "at_least": 1.5}, {MON: "basic"}, F),
    ({"q": MON, "at_least": 4}, {MON: "full"}, T),
    # single choice compares positions, with option ids or numbers
    ({"q": RISK, "at_least": "plausible"}, {RISK: "unknown_feasibility"}, T),
    ({"q": RISK, "at_least": "plausible"}, {RISK: "plausible"}, T),
    ({"q": RISK, "at_least": "plausible"}, {RISK: "known"}, F),
    ({"q": RISK, "at_most": "plausible"}, {RISK: "known"}, T),
    ({"q": RISK, "at_most": "plausible"}, {RISK: "unknown_feasibility"}, F),
    ({"q": RISK, "at_least": 1}, {RISK: "plausible"}, T),
    ({"q": RISK, "at_least": 1}, {RISK: "known"}, F),
    ({"q": RISK, "at_most": 0}, {RISK: "known"}, T),
    ({"q": RISK, "at_most": 0}, {RISK: "plausible"}, F),
    # number questions compare values
    ({"q": SIZE, "at_least": 10}, {SIZE: 12}, T),
    ({"q": SIZE, "at_least": 10}, {SIZE: 10}, T),
    ({"q": SIZE, "at_least": 10}, {SIZE: 9.5}, F),
    ({"q": SIZE, "at_most": 10}, {SIZE: 10.0}, T),
    ({"q": SIZE, "at_most": 10}, {SIZE: 11}, F),
    ({"q": SIZE, "at_least": 2.5}, {SIZE: 3}, T),
    # answered: a real answer; never unknown
    ({"q": UT, "answered": True}, {UT: "none"}, T),
    ({"q": UT, "answered": True}, {UT: DONT_KNOW}, F),
    ({"q": UT, "answered": True}, {}, F),
    ({"q": DATA, "answered": True}, {DATA: NOT_APPLICABLE}, F),
    ({"q": UT, "answered": False}, {UT: DONT_KNOW}, T),
    ({"q": UT, "answered": False}, {}, T),
    ({"q": DATA, "answered": False}, {DATA: NOT_APPLICABLE}, T),
    ({"q": UT, "answered": False}, {UT: "some"}, F),
    ({"q": COMMENT, "answered": True}, {COMMENT: "We ship on Fridays."}, T),
    ({"q": SIZE, "answered": True}, {SIZE: 0}, T),
    ({"q": TOOLS, "answered": True}, {TOOLS: ["ci"]}, T),
    ({"q": TOOLS, "answered": True}, {TOOLS: []}, T),  # "none of these" is an answer
    # unknown: "don't know" or missing; never unknown itself
    ({"q": UT, "unknown": True}, {UT: DONT_KNOW}, T),
    ({"q": UT, "unknown": True}, {}, T),
    ({"q": DATA, "unknown": True}, {DATA: NOT_APPLICABLE}, F),
    ({"q": UT, "unknown": True}, {UT: "none"}, F),
    ({"q": UT, "unknown": False}, {UT: "none"}, T),
    ({"q": UT, "unknown": False}, {UT: DONT_KNOW}, F),
    ({"q": TOOLS, "unknown": True}, {TOOLS: []}, F),
    # "don't know" and missing answers make comparisons unknown, naming the question
    ({"q": UT, "equals": "some"}, {UT: DONT_KNOW}, U(UT)),
    ({"q": UT, "equals": "some"}, {}, U(UT)),
    ({"q": RISK, "in": ["known"]}, {RISK: DONT_KNOW}, U(RISK)),
    ({"q": TOOLS, "includes": "ci"}, {TOOLS: DONT_KNOW}, U(TOOLS)),
    ({"q": UT, "at_least": "some"}, {UT: DONT_KNOW}, U(UT)),
    ({"q": UT, "at_most": 2}, {}, U(UT)),
    ({"q": SIZE, "at_least": 10}, {}, U(SIZE)),
    # "not applicable" makes every comparison false
    ({"q": DATA, "equals": "none"}, {DATA: NOT_APPLICABLE}, F),
    ({"q": DATA, "in": ["none", "some", "all"]}, {DATA: NOT_APPLICABLE}, F),
    ({"q": DATA, "at_least": "none"}, {DATA: NOT_APPLICABLE}, F),
    ({"q": DATA, "at_most": "all"}, {DATA: NOT_APPLICABLE}, F),
    ({"q": DATA, "at_most": 4}, {DATA: NOT_APPLICABLE}, F),
    ({"q": TOOLS, "includes": "ci"}, {TOOLS: NOT_APPLICABLE}, F),
    # ... so its negation is true
    ({"not": {"q": DATA, "at_least": "none"}}, {DATA: NOT_APPLICABLE}, T),
    # answers to other questions do not matter
    ({"q": UT, "equals": "all"}, {UT: "all", MON: DONT_KNOW, RISK: NOT_APPLICABLE}, T),
]


@pytest.mark.parametrize(
    ("rule", "answers", "expected"),
    [
        pytest.param(rule, answers, expected, id=f"{index:02d}-{'-'.join(map(str, rule))}")
        for index, (rule, answers, expected) in enumerate(PREDICATES)
    ],
)
def test_predicate(rule: dict[str, Any], answers: dict[str, Any], expected: Verdict) -> None:
    assert check(rule, answers) == expected


HIDDEN = frozenset({DEPLOY})


@pytest.mark.parametrize(
    ("rule", "answers", "expected"),
    [
        # a hidden question counts as not applicable, whatever was stored for it
        ({"q": DEPLOY, "equals": "manual"}, {DEPLOY: "manual"}, F),
        ({"q": DEPLOY, "at_most": "automated"}, {DEPLOY: "scripted"}, F),
        ({"q": DEPLOY, "at_least": 0}, {}, F),
        ({"q": DEPLOY, "in": ["manual"]}, {DEPLOY: DONT_KNOW}, F),
        ({"not": {"q": DEPLOY, "equals": "manual"}}, {DEPLOY: "manual"}, T),
        ({"q": DEPLOY, "answered": True}, {DEPLOY: "manual"}, F),
        ({"q": DEPLOY, "answered": False}, {DEPLOY: "manual"}, T),
        ({"q": DEPLOY, "unknown": True}, {DEPLOY: DONT_KNOW}, F),
        ({"q": DEPLOY, "unknown": True}, {}, F),
        # other questions are not affected
        ({"q": UT, "equals": "all"}, {UT: "all", DEPLOY: "manual"}, T),
        ({"all": [{"q": UT, "equals": "all"}, {"q": DEPLOY, "equals": "manual"}]}, {}, F),
    ],
)
def test_hidden_questions_count_as_not_applicable(
    rule: dict[str, Any], answers: dict[str, Any], expected: Verdict
) -> None:
    assert check(rule, answers, hidden=HIDDEN) == expected


@pytest.mark.parametrize(
    ("stages", "stage", "expected"),
    [
        (["prototype"], "prototype", T),
        (["prototype", "operating"], "operating", T),
        (["prototype"], "exploration", F),
        ("productionising", "productionising", T),
        (["prototype"], None, F),  # no stage set: never unknown
    ],
)
def test_stage(stages: Any, stage: str | None, expected: Verdict) -> None:
    assert check({"stage": stages}, {}, stage=stage) == expected


def test_stage_is_not_an_answer() -> None:
    rule = {"all": [{"stage": ["operating"]}, {"q": MON, "at_least": "basic"}]}
    assert check(rule, {MON: "full"}, stage="operating") == T
    assert check(rule, {MON: "full"}, stage="prototype") == F
    assert check(rule, {MON: DONT_KNOW}, stage="prototype") == F
    assert check(rule, {MON: DONT_KNOW}, stage="operating") == U(MON)


# --- three-valued logic -----------------------------------------------------------------------

# Atoms whose value is set by the answers: "a"/"b"/"c" are true with "all", false with "none",
# unknown with "dont_know" (or no answer).
A = {"q": UT, "equals": "all"}
B = {"q": DATA, "equals": "all"}
C = {"q": MON, "equals": "full"}
ATOM_QUESTIONS = {"a": (A, UT, "all"), "b": (B, DATA, "all"), "c": (C, MON, "full")}


def answers_for(**values: str) -> dict[str, Any]:
    """`t`, `f`, `u` (don't know) or `m` (missing) per atom."""
    answers: dict[str, Any] = {}
    for atom, value in values.items():
        _, qid, true_option = ATOM_QUESTIONS[atom]
        if value == "t":
            answers[qid] = true_option
        elif value == "f":
            answers[qid] = "none"
        elif value == "u":
            answers[qid] = DONT_KNOW
    return answers


KLEENE: list[tuple[dict[str, Any], str, Verdict]] = [
    # all: a false part decides, even next to unknown parts
    ({"all": [A, B]}, "tt", T),
    ({"all": [A, B]}, "tf", F),
    ({"all": [A, B]}, "fu", F),
    ({"all": [A, B]}, "uf", F),
    ({"all": [A, B]}, "mf", F),
    ({"all": [A, B]}, "tu", U(DATA)),
    ({"all": [A, B]}, "tm", U(DATA)),
    ({"all": [A, B]}, "uu", U(UT, DATA)),
    ({"all": [A, B]}, "um", U(UT, DATA)),
    ({"all": [A, B, C]}, "utu", U(UT, MON)),
    ({"all": [A, B, C]}, "uuf", F),
    # any: a true part decides, even next to unknown parts
    ({"any": [A, B]}, "ff", F),
    ({"any": [A, B]}, "ft", T),
    ({"any": [A, B]}, "ut", T),
    ({"any": [A, B]}, "tm", T),
    ({"any": [A, B]}, "fu", U(DATA)),
    ({"any": [A, B]}, "uu", U(UT, DATA)),
    ({"any": [A, B, C]}, "ufm", U(UT, MON)),
    # not: unknown stays unknown, with the same reason
    ({"not": A}, "t", F),
    ({"not": A}, "f", T),
    ({"not": A}, "u", U(UT)),
    ({"not": A}, "m", U(UT)),
    ({"not": {"not": A}}, "u", U(UT)),
    # one-part combinations are the part itself
    ({"all": [A]}, "u", U(UT)),
    ({"any": [A]}, "f", F),
    # only the questions that leave the result open are named
    ({"all": [A, {"any": [B, C]}]}, "utu", U(UT)),
    ({"all": [A, {"any": [B, C]}]}, "uuf", U(UT, DATA)),
    ({"all": [A, {"any": [B, C]}]}, "uff", F),
    ({"any": [A, {"all": [B, C]}]}, "ufu", U(UT)),
    ({"any": [A, {"all": [B, C]}]}, "utu", U(UT, MON)),
    ({"any": [A, {"all": [B, C]}]}, "utt", T),
    ({"not": {"all": [A, {"not": B}]}}, "tu", U(DATA)),
    ({"not": {"all": [A, {"not": B}]}}, "fu", T),
    ({"any": [{"not": A}, {"all": [A, B]}]}, "uu", U(UT, DATA)),
    ({"any": [{"not": A}, {"all": [A, B]}]}, "ut", U(UT)),
    # the same question twice is named once
    ({"any": [A, {"q": UT, "at_most": "some"}]}, "u", U(UT)),
]


@pytest.mark.parametrize(
    ("rule", "values", "expected"),
    [
        pytest.param(rule, values, expected, id=f"{index:02d}-{values}")
        for index, (rule, values, expected) in enumerate(KLEENE)
    ],
)
def test_kleene(rule: dict[str, Any], values: str, expected: Verdict) -> None:
    answers = answers_for(**dict(zip("abc", values, strict=False)))
    assert check(rule, answers) == expected


def test_the_example_in_the_format_document() -> None:
    # docs/rubric-format.md: {all: [{q: a, at_least: 2}, {not: {q: b, equals: x}}]}
    rule = {"all": [{"q": UT, "at_least": 2}, {"not": {"q": RISK, "equals": "known"}}]}
    assert check(rule, {UT: "all", RISK: DONT_KNOW}) == U(RISK)
    assert check(rule, {UT: "none", RISK: DONT_KNOW}) == F
    assert check(rule, {UT: "all", RISK: "plausible"}) == T


def kleene(values: list[bool | None], *, conjunction: bool) -> bool | None:
    """Kleene's strong `and` / `or` on True, False and None (unknown)."""
    decisive = not conjunction
    if decisive in values:
        return decisive
    return None if None in values else conjunction


@pytest.mark.parametrize("values", ["".join(v) for v in itertools.product("tfum", repeat=3)])
def test_all_and_any_of_three_follow_kleene(values: str) -> None:
    answers = answers_for(**dict(zip("abc", values, strict=True)))
    parts = [check(atom, answers) for atom in (A, B, C)]
    unknown = frozenset().union(*(p.unknown_because for p in parts if p.value is None))
    for key, conjunction in (("all", True), ("any", False)):
        value = kleene([p.value for p in parts], conjunction=conjunction)
        expected = Verdict(value, unknown if value is None else frozenset())
        assert check({key: [A, B, C]}, answers) == expected, key


# --- cross-instrument references --------------------------------------------------------------


def test_unqualified_ids_are_qualified_with_their_own_instrument() -> None:
    extra = CATALOG.instruments["extra"]
    (finding,) = extra.findings
    assert [p.q for p in iter_predicates(finding.when)] == [TOOLS, UT]
    review = extra.question("review")
    assert review is not None
    assert review.show_if is not None
    assert referenced_questions(review.show_if) == {STRUCT}


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({TOOLS: ["ci"], UT: "some"}, T),
        ({TOOLS: ["ci", "registry"], UT: "all"}, T),
        ({TOOLS: ["notebooks"], UT: "all"}, F),
        ({TOOLS: ["ci"], UT: "none"}, F),
        ({TOOLS: ["ci"], UT: DONT_KNOW}, U(UT)),
        ({TOOLS: ["ci"]}, U(UT)),
        ({TOOLS: DONT_KNOW, UT: "none"}, F),
        ({TOOLS: DONT_KNOW, UT: DONT_KNOW}, U(TOOLS, UT)),
    ],
)
def test_a_rule_across_instruments_evaluates(answers: dict[str, Any], expected: Verdict) -> None:
    (finding,) = CATALOG.instruments["extra"].findings
    assert evaluate(finding.when, CATALOG.lookup(answers)) == expected


def test_a_display_condition_on_another_instrument() -> None:
    review = CATALOG.instruments["extra"].question("review")
    assert review is not None
    assert review.show_if is not None
    assert evaluate(review.show_if, CATALOG.lookup({STRUCT: "separate"})) == T
    assert evaluate(review.show_if, CATALOG.lookup({STRUCT: "together"})) == F
    assert evaluate(review.show_if, CATALOG.lookup({})) == U(STRUCT)


def test_process_model_and_practice_rules_use_qualified_ids() -> None:
    (risk_first, plan_first) = CATALOG.process_models.process_models
    lookup = CATALOG.lookup({RISK: "unknown_feasibility", STAKES: DONT_KNOW})
    assert [evaluate(f.when, lookup) for f in risk_first.fit] == [T, U(STAKES)]
    assert [evaluate(f.when, lookup) for f in plan_first.fit] == [U(STAKES), F]
    trigger = CATALOG.practices.practices[0].trigger
    assert evaluate(trigger, CATALOG.lookup({UT: "some"})) == T


def test_option_ranks_come_from_the_catalog() -> None:
    assert CATALOG.option_order[UT] == {"none": 0, "some": 2, "all": 4}
    assert CATALOG.option_order[RISK] == {"known": 0, "plausible": 1, "unknown_feasibility": 2}
    assert CATALOG.option_order[TOOLS] == {"notebooks": 0, "ci": 1, "registry": 2}
    assert SIZE not in CATALOG.option_order


# --- properties -------------------------------------------------------------------------------

QUESTIONS = {qid: ref.question for qid, ref in CATALOG.questions.items()}
MISSING = object()


def real_answers(qid: str) -> st.SearchStrategy[Any]:
    question = QUESTIONS[qid]
    ids = list(question.option_ids)
    if question.type in ("ordinal", "single"):
        return st.sampled_from(ids)
    if question.type == "multi":
        return st.lists(st.sampled_from(ids), unique=True).map(
            lambda chosen: [o for o in ids if o in chosen]
        )
    if question.type == "number":
        low, high = question.minimum or 0, question.maximum or 1000
        return st.integers(int(low), int(high)) | st.floats(low, high, allow_nan=False)
    return st.text(max_size=20)


def any_answer(qid: str) -> st.SearchStrategy[Any]:
    return real_answers(qid) | st.sampled_from([DONT_KNOW, NOT_APPLICABLE, MISSING])


answer_sets = st.fixed_dictionaries({qid: any_answer(qid) for qid in QUESTIONS}).map(
    lambda values: {qid: value for qid, value in values.items() if value is not MISSING}
)
hidden_sets = st.frozensets(st.sampled_from(sorted(QUESTIONS)), max_size=3)
stages = st.sampled_from([None, *STAGES])


def comparisons(qid: str) -> st.SearchStrategy[dict[str, Any]]:
    """Every comparison the loader accepts on this question (no answered / unknown tests)."""
    question = QUESTIONS[qid]
    ids = list(question.option_ids)
    if question.type == "text":
        return st.nothing()
    if question.type == "multi":
        return st.builds(lambda o: {"q": qid, "includes": o}, st.sampled_from(ids))
    if question.type == "number":
        values: st.SearchStrategy[Any] = st.integers(-10, 510) | st.floats(-10, 510)
        bounds: st.SearchStrategy[Any] = values
        many = st.lists(values, min_size=1, max_size=3)
    else:
        values = st.sampled_from(ids)
        bounds = values | st.integers(0, 4) if question.type == "ordinal" else values
        many = st.lists(values, min_size=1, max_size=3)
    return st.one_of(
        st.builds(lambda v: {"q": qid, "equals": v}, values),
        st.builds(lambda v: {"q": qid, "in": v}, many),
        st.builds(lambda v: {"q": qid, "at_least": v}, bounds),
        st.builds(lambda v: {"q": qid, "at_most": v}, bounds),
    )


def presence_tests(qid: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda test, flag: {"q": qid, test: flag},
        st.sampled_from(["answered", "unknown"]),
        st.booleans(),
    )


def rules(atoms: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        atoms,
        lambda parts: st.one_of(
            st.builds(lambda ps: {"all": ps}, st.lists(parts, min_size=1, max_size=3)),
            st.builds(lambda ps: {"any": ps}, st.lists(parts, min_size=1, max_size=3)),
            st.builds(lambda p: {"not": p}, parts),
        ),
        max_leaves=8,
    )


stage_rules = st.builds(
    lambda chosen: {"stage": chosen}, st.lists(st.sampled_from(STAGES), min_size=1, unique=True)
)
comparison_atoms = st.one_of([comparisons(qid) for qid in sorted(QUESTIONS)])
all_atoms = st.one_of(
    comparison_atoms, st.one_of([presence_tests(qid) for qid in sorted(QUESTIONS)]), stage_rules
)
any_rules = rules(all_atoms)
monotone_rules = rules(st.one_of(comparison_atoms, stage_rules))

PROPERTY = settings(max_examples=100, deadline=None)


def unknown_questions(answers: dict[str, Any], hidden: frozenset[str]) -> set[str]:
    return {
        qid for qid in QUESTIONS if qid not in hidden and answers.get(qid, DONT_KNOW) == DONT_KNOW
    }


@PROPERTY
@given(rule=any_rules, answers=answer_sets, hidden=hidden_sets, stage=stages)
def test_evaluation_never_raises_and_names_only_open_questions(
    rule: dict[str, Any], answers: dict[str, Any], hidden: frozenset[str], stage: str | None
) -> None:
    parsed = parse_rule(rule)
    verdict = evaluate(parsed, CATALOG.lookup(answers, stage=stage, hidden=hidden))
    assert verdict.value in (True, False, None)
    if verdict.value is None:
        assert verdict.unknown_because
        assert verdict.unknown_because <= referenced_questions(parsed)
        assert verdict.unknown_because <= unknown_questions(answers, hidden)
    else:
        assert verdict.unknown_because == frozenset()


@PROPERTY
@given(answers=answer_sets, hidden=hidden_sets, stage=stages)
def test_every_rule_in_the_catalog_evaluates(
    answers: dict[str, Any], hidden: frozenset[str], stage: str | None
) -> None:
    lookup = CATALOG.lookup(answers, stage=stage, hidden=hidden)
    for rule in iter_rules(CATALOG):
        evaluate(rule, lookup)


@PROPERTY
@given(a=any_rules, b=any_rules, answers=answer_sets, hidden=hidden_sets, stage=stages)
def test_de_morgan_holds_in_three_valued_logic(
    a: dict[str, Any],
    b: dict[str, Any],
    answers: dict[str, Any],
    hidden: frozenset[str],
    stage: str | None,
) -> None:
    def v(rule: dict[str, Any]) -> Verdict:
        return check(rule, answers, stage=stage, hidden=hidden)

    assert v({"not": {"all": [a, b]}}) == v({"any": [{"not": a}, {"not": b}]})
    assert v({"not": {"any": [a, b]}}) == v({"all": [{"not": a}, {"not": b}]})
    assert v({"not": {"not": a}}) == v(a)
    assert v({"all": [a, b]}) == v({"all": [b, a]})
    assert v({"any": [a, b]}) == v({"any": [b, a]})
    assert v({"all": [a, a]}) == v(a) == v({"any": [a]})


@PROPERTY
@given(parts=st.lists(any_rules, min_size=1, max_size=4), answers=answer_sets, stage=stages)
def test_all_and_any_combine_their_parts_per_kleene(
    parts: list[dict[str, Any]], answers: dict[str, Any], stage: str | None
) -> None:
    verdicts = [check(part, answers, stage=stage) for part in parts]
    for key, conjunction in (("all", True), ("any", False)):
        value = kleene([v.value for v in verdicts], conjunction=conjunction)
        because = frozenset().union(*(v.unknown_because for v in verdicts if v.value is None))
        expected = Verdict(value, because if value is None else frozenset())
        assert check({key: parts}, answers, stage=stage) == expected


@PROPERTY
@given(rule=monotone_rules, answers=answer_sets, stage=stages, data=st.data())
def test_unknown_because_names_exactly_the_questions_that_matter(
    rule: dict[str, Any], answers: dict[str, Any], stage: str | None, data: st.DataObject
) -> None:
    """With comparisons only, answering an open question never overturns a decided result;
    answering the open questions *not* named leaves the result open for the same reason; and
    answering the named ones decides it."""
    verdict = check(rule, answers, stage=stage)
    open_questions = sorted(unknown_questions(answers, frozenset()))
    assume(open_questions)
    filled = {qid: data.draw(real_answers(qid), label=qid) for qid in open_questions}
    if verdict.value is not None:
        assert check(rule, {**answers, **filled}, stage=stage).value == verdict.value
        return
    others = {qid: value for qid, value in filled.items() if qid not in verdict.unknown_because}
    assert check(rule, {**answers, **others}, stage=stage) == verdict
    named = {qid: value for qid, value in filled.items() if qid in verdict.unknown_because}
    assert check(rule, {**answers, **named}, stage=stage).value is not None


@PROPERTY
@given(rule=any_rules)
def test_rule_to_data_round_trips(rule: dict[str, Any]) -> None:
    parsed = parse_rule(rule)
    assert parse_rule(rule_to_data(parsed)) == parsed
