"""The swap test of the anonymity rule (issue 17): it trusts no declaration of support sets.

Hypothesis builds team-survey rounds (random roles, answers, thresholds, viewers, closing and
erasure); for each viewer it computes everything the viewer obtains of the round (the published
result exactly as app.results.visibility hands it to the results page, the API, the report and
the exports: ``shown`` is ``filtered`` of the engine's result under ``decide``'s verdict), and
for every other response r checks that at least k-1 other responses (none the viewer's own)
exist whose answers can be swapped with r's without changing anything the viewer obtained.

The first test's instruments are the quick check's trajectory and collaboration questions,
which every role answers; the second adds handoff and debt, whose questions are asked of some
roles only (a support set of their own), and swaps answers to the questions both were asked.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.results.model import TeamResult
from app.results.visibility import Member, Viewer, decide, filtered, role_group
from app.rubric import aggregate
from app.rubric.answers import RoundSettings, parse_answer
from app.rubric.assessment import assess
from tests.workspace import helpers

ROLES = ("data_scientist", "ml_engineer", "software_engineer", "product_manager", "team_lead")
LEVELS = ("low", "mid", "high")
ROUND = RoundSettings(
    stage="productionising",
    kind="quick",
    mode="team_survey",
    instruments=("trajectory", "collaboration"),
)


@dataclasses.dataclass(frozen=True)
class Scenario:
    roles: tuple[str, ...]
    levels: tuple[str, ...]
    k: int
    viewer: int | None  # the index of the viewer's own response; None: a lead who did not answer
    closed: bool
    erased: bool  # an erasure request after close


@functools.cache
def _answers(role: str, level: str) -> tuple[tuple[str, Any], ...]:
    chosen = helpers.answers_for(ROUND, role, handoff=level, other=level)  # type: ignore[arg-type]
    return tuple(sorted((qid, value) for qid, value in chosen.items()))


@functools.cache
def obtained(roles: tuple[str, ...], levels: tuple[str, ...], k: int, scenario: Scenario) -> str:
    """Everything the scenario's viewer obtains of the round, as one comparable text."""
    if not scenario.closed or scenario.erased or len(roles) < k:
        # progress only: the number of responses, which no swap changes
        return json.dumps({"submitted": len(roles)})
    catalog = helpers.catalog()
    respondents = [
        aggregate.Respondent(
            id=f"r{index}",
            role=role,  # type: ignore[arg-type]
            answers={qid: parse_answer({"value": value}) for qid, value in _answers(role, level)},
        )
        for index, (role, level) in enumerate(zip(roles, levels, strict=True))
    ]
    result = TeamResult.from_assessment(catalog, assess(catalog, ROUND, respondents, results_min=k))
    members = tuple(
        Member(index, role_group(role), may_view=index == scenario.viewer)
        for index, role in enumerate(roles)
    )
    verdict = decide(members, k=k, viewer=Viewer(own_response_id=scenario.viewer))
    if not verdict.team or not result.visible:
        return json.dumps({"submitted": len(roles), "hidden": True})
    return json.dumps(filtered(result, verdict).to_data(), sort_keys=True)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    n = draw(st.integers(min_value=3, max_value=7))
    roles = tuple(draw(st.lists(st.sampled_from(ROLES), min_size=n, max_size=n)))
    levels = tuple(draw(st.lists(st.sampled_from(LEVELS), min_size=n, max_size=n)))
    viewer = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=n - 1)))
    return Scenario(
        roles=roles,
        levels=levels,
        k=draw(st.sampled_from((2, 3, 3))),
        viewer=viewer,
        closed=draw(st.integers(min_value=0, max_value=4)) != 0,  # mostly: results show then
        erased=draw(st.integers(min_value=0, max_value=5)) == 0,
    )


def _swapped(levels: tuple[str, ...], a: int, b: int) -> tuple[str, ...]:
    changed = list(levels)
    changed[a], changed[b] = changed[b], changed[a]
    return tuple(changed)


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(scenarios())
def test_no_response_can_be_told_from_k_minus_one_others(scenario: Scenario) -> None:
    seen = obtained(scenario.roles, scenario.levels, scenario.k, scenario)
    if "submitted" in json.loads(seen):
        return  # progress only: no figure computed from answers, nothing to single out
    others = [i for i in range(len(scenario.roles)) if i != scenario.viewer]
    for r in others:
        alike = [
            s
            for s in others
            if s != r
            and obtained(scenario.roles, _swapped(scenario.levels, r, s), scenario.k, scenario)
            == seen
        ]
        assert len(alike) >= scenario.k - 1, (scenario, r, alike)


# ---------------------------------------------------------------- questions asked of some roles

# Handoff and debt questions are asked of every role but product managers (and "other"): their
# figures rest on a support set of their own (the roles asked). A swap exchanges two
# responses' answers to the questions both were asked; the test then checks the same property.
PARTIAL = RoundSettings(
    stage="productionising",
    kind="quick",
    mode="team_survey",
    instruments=("collaboration", "handoff", "debt"),
)
PARTIAL_ROLES = (*ROLES, "other")

Answers = tuple[tuple[str, str], ...]  # (question id, answer as JSON), sorted


@functools.cache
def _partial_answers(role: str, level: str) -> Answers:
    chosen = helpers.answers_for(PARTIAL, role, handoff=level, other=level)  # type: ignore[arg-type]
    return tuple(sorted((qid, json.dumps(value)) for qid, value in chosen.items()))


@functools.cache
def obtained_partial(
    roles: tuple[str, ...], answers: tuple[Answers, ...], k: int, viewer: int | None
) -> str:
    """What the viewer obtains of a closed round over questions asked of some roles only."""
    catalog = helpers.catalog()
    respondents = [
        aggregate.Respondent(
            id=f"r{index}",
            role=role,  # type: ignore[arg-type]
            answers={qid: parse_answer({"value": json.loads(value)}) for qid, value in given},
        )
        for index, (role, given) in enumerate(zip(roles, answers, strict=True))
    ]
    result = TeamResult.from_assessment(
        catalog, assess(catalog, PARTIAL, respondents, results_min=k)
    )
    members = tuple(
        Member(index, role_group(role), may_view=index == viewer)
        for index, role in enumerate(roles)
    )
    verdict = decide(members, k=k, viewer=Viewer(own_response_id=viewer))
    if not verdict.team or not result.visible:
        return json.dumps({"submitted": len(roles), "hidden": True})
    return json.dumps(filtered(result, verdict).to_data(), sort_keys=True)


def _exchanged(answers: tuple[Answers, ...], a: int, b: int) -> tuple[Answers, ...]:
    """``answers`` with responses a and b exchanging their answers to the questions both
    were asked (each keeps the questions only they were asked)."""
    first, second = dict(answers[a]), dict(answers[b])
    common = first.keys() & second.keys()
    changed = list(answers)
    changed[a] = tuple(sorted({**first, **{q: second[q] for q in common}}.items()))
    changed[b] = tuple(sorted({**second, **{q: first[q] for q in common}}.items()))
    return tuple(changed)


@st.composite
def partial_rounds(draw: st.DrawFn) -> tuple[tuple[str, ...], tuple[Answers, ...], int, int | None]:
    n = draw(st.integers(min_value=3, max_value=6))
    roles = tuple(draw(st.lists(st.sampled_from(PARTIAL_ROLES), min_size=n, max_size=n)))
    levels = draw(st.lists(st.sampled_from(LEVELS), min_size=n, max_size=n))
    answers = tuple(
        _partial_answers(role, level) for role, level in zip(roles, levels, strict=True)
    )
    viewer = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=n - 1)))
    return roles, answers, draw(st.sampled_from((2, 3))), viewer


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(partial_rounds())
def test_questions_asked_of_some_roles_single_out_no_one(
    drawn: tuple[tuple[str, ...], tuple[Answers, ...], int, int | None],
) -> None:
    roles, answers, k, viewer = drawn
    seen = obtained_partial(roles, answers, k, viewer)
    if "submitted" in json.loads(seen):
        return
    others = [i for i in range(len(roles)) if i != viewer]
    for r in others:
        alike = [
            s
            for s in others
            if s != r and obtained_partial(roles, _exchanged(answers, r, s), k, viewer) == seen
        ]
        assert len(alike) >= k - 1, (roles, answers, k, viewer, r, alike)
