"""The engine on a small rubric made for testing: scores, levels, consensus, gaps, roadmap."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.rubric import anonymity
from app.rubric.aggregate import Respondent
from app.rubric.answers import Answer, AnswerError, RoundSettings, validate_answers
from app.rubric.answers_file import AnswersFileError, assess_file, parse_answers_data
from app.rubric.assessment import assess
from app.rubric.loader import Catalog, load_catalog
from app.rubric.output import recommended_model, to_data
from app.rubric.scoring import score_response

MINI = Path(__file__).parent / "mini"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(MINI)


def answers(**values: Any) -> dict[str, Answer]:
    return {f"quality.{key}": Answer(value) for key, value in values.items()}


def solo(stage: str = "productionising") -> RoundSettings:
    return RoundSettings(stage=stage)  # type: ignore[arg-type]


def run(catalog: Catalog, data: dict[str, Any]) -> dict[str, Any]:
    return to_data(catalog, assess_file(catalog, parse_answers_data(data, catalog)))


# --- one respondent ---------------------------------------------------------------------------


def test_score_is_the_weighted_mean_on_0_to_100(catalog: Catalog) -> None:
    # unit_tests (w2) all=4, data_tests (w1) some=2, monitoring (w1) basic=1, structure nominal
    result = score_response(
        catalog,
        solo(),
        "ml_engineer",
        answers(unit_tests="all", data_tests="some", monitoring="basic"),
    )
    quality = result.dimensions["quality"]
    assert quality.score == pytest.approx(100 * (2 * 4 + 2 + 1) / (4 * 4))
    assert sum(c.points for c in quality.contributions) == pytest.approx(quality.score)
    # deploy is hidden (structure unanswered -> unknown condition shows it) and unanswered
    assert quality.unanswered == ("quality.deploy",)
    assert quality.coverage == pytest.approx(4 / 5)
    assert quality.band == "mid"


def test_dont_know_is_left_out_of_the_score_and_lowers_coverage(catalog: Catalog) -> None:
    base = answers(unit_tests="all", data_tests="none", structure="together")
    with_gap = {**base, "quality.monitoring": Answer("dont_know")}
    without = score_response(catalog, solo(), "ml_engineer", base).dimensions["quality"]
    gap = score_response(catalog, solo(), "ml_engineer", with_gap).dimensions["quality"]
    assert gap.score == without.score
    assert gap.knowledge_gaps == ("quality.monitoring",)
    assert gap.coverage < 1.0


def test_not_applicable_is_excluded_and_keeps_coverage(catalog: Catalog) -> None:
    result = score_response(
        catalog,
        solo(),
        "ml_engineer",
        answers(
            unit_tests="some", data_tests="not_applicable", monitoring="full", structure="together"
        ),
    ).dimensions["quality"]
    assert result.not_applicable == ("quality.data_tests",)
    assert result.coverage == 1.0
    assert result.score == pytest.approx(100 * (2 * 2 + 4) / (4 * 3))


def test_questions_not_expected_at_the_stage_are_later_not_gaps(catalog: Catalog) -> None:
    result = score_response(
        catalog, solo("prototype"), "ml_engineer", answers(unit_tests="all", structure="together")
    ).dimensions["quality"]
    assert result.later == ("quality.monitoring",)
    assert "quality.monitoring" not in result.unanswered
    assert result.score == pytest.approx(100.0)


def test_display_conditions_hide_questions(catalog: Catalog) -> None:
    hidden = score_response(catalog, solo(), "ml_engineer", answers(structure="together"))
    shown = score_response(catalog, solo(), "ml_engineer", answers(structure="separate"))
    assert "quality.deploy" in hidden.hidden
    assert "quality.deploy" in shown.asked


def test_roles_decide_who_is_asked_in_a_team_survey(catalog: Catalog) -> None:
    team = RoundSettings(stage="operating", mode="team_survey")
    lead = score_response(catalog, team, "team_lead", {})
    scientist = score_response(catalog, team, "data_scientist", answers(structure="separate"))
    assert all(q.startswith("shape.") for q in lead.asked)
    assert "quality.deploy" not in scientist.asked  # engineers only
    everything = score_response(catalog, solo(), "team_lead", {})
    assert any(q.startswith("quality.") for q in everything.asked)  # solo: the lead answers all


def test_quick_check_asks_only_quick_questions(catalog: Catalog) -> None:
    quick = RoundSettings(stage="operating", kind="quick")
    asked = score_response(catalog, quick, "team_lead", {}).asked
    assert set(asked) == {
        "quality.unit_tests",
        "quality.monitoring",
        "quality.structure",
        "shape.risk",
        "shape.stakes",
    }


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"quality.nope": "all"}, "quality.nope: unknown question id"),
        ({"quality.unit_tests": "most"}, "quality.unit_tests: 'most' is not an option"),
        ({"quality.unit_tests": 3}, "is not an option"),
        ({"quality.unit_tests": "not_applicable"}, "'not applicable' is not offered"),
        ({"shape.team_size": "many"}, "is not a number"),
        ({"shape.team_size": 0}, "below the minimum"),
        ({"shape.team_size": float("nan")}, "is not a number"),
        ({"shape.comment": "x" * 5000}, "longer than"),
        ({"quality.unit_tests": {"value": "all", "note": "n" * 3000}}, "note is longer"),
        ({"quality.unit_tests": {"value": "all", "evidence": "javascript:alert(1)"}}, "http"),
        ({"quality.unit_tests": {"value": "all", "colour": "red"}}, "unknown answer field"),
    ],
)
def test_bad_answers_are_refused_with_the_question_named(
    catalog: Catalog, raw: dict[str, Any], message: str
) -> None:
    with pytest.raises(AnswerError, match=message.replace("(", r"\(")):
        validate_answers(catalog, raw)


def test_answers_file_errors_are_one_line(catalog: Catalog) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"respondents": []}, "'respondents' must be a non-empty list"),
        ({"round": {"stage": "launch"}, "respondents": [{"role": "team_lead"}]}, "unknown stage"),
        ({"respondents": [{"role": "boss"}]}, "unknown role"),
        ({"respondents": [{"role": "team_lead", "answers": {"x.y": 1}}]}, "x.y: unknown question"),
        (
            {"round": {"versions": {"quality": "t0"}}, "respondents": [{"role": "team_lead"}]},
            "version 't0' does not exist",
        ),
        ({"respondents": [{"role": "team_lead"}], "adopted": ["fly"]}, "unknown practice"),
    ]
    for data, message in cases:
        with pytest.raises(AnswersFileError, match=message) as raised:
            run(catalog, data)
        assert "\n" not in str(raised.value)


# --- levels, classifications, findings --------------------------------------------------------


def test_levels_climb_gate_by_gate_and_overall_is_the_lowest(catalog: Catalog) -> None:
    data = run(
        catalog,
        {
            "round": {"stage": "operating"},
            "respondents": [
                {
                    "role": "team_lead",
                    "answers": {
                        "quality.unit_tests": "all",
                        "quality.data_tests": "all",
                        "quality.monitoring": "none",
                        "quality.structure": "together",
                    },
                }
            ],
        },
    )
    handoff = data["handoff"]
    assert handoff["artifacts"]["testing"]["level"] == 2
    assert handoff["artifacts"]["operations"]["level"] == 0
    assert handoff["artifacts"]["operations"]["gates"][0]["status"] == "missing"
    assert handoff["level"] == 0


def test_an_unknown_gate_makes_the_level_uncertain_not_false(catalog: Catalog) -> None:
    data = run(
        catalog,
        {
            "round": {"stage": "operating"},
            "respondents": [
                {
                    "role": "team_lead",
                    "answers": {"quality.unit_tests": "all", "quality.data_tests": "dont_know"},
                }
            ],
        },
    )
    testing = data["handoff"]["artifacts"]["testing"]
    assert testing["level"] == 1
    assert testing["certain"] is False
    assert testing["gates"][0]["status"] == "unknown"
    assert testing["gates"][0]["unknown_because"] == ["quality.data_tests"]


def test_classification_is_unknown_when_an_earlier_outcome_is_undecided(catalog: Catalog) -> None:
    data = run(
        catalog, {"respondents": [{"role": "team_lead", "answers": {"shape.risk": "dont_know"}}]}
    )
    assert data["classifications"]["shape.kind"]["outcome"] is None
    assert data["classifications"]["shape.kind"]["unknown_because"] == ["shape.risk"]
    assert data["trajectory"]["label"] == "Unknown"
    assert any("Kind is unknown" in warning for warning in data["warnings"])


# --- process models, sensitivity --------------------------------------------------------------


def test_process_models_are_ranked_with_reasons_and_caveats(catalog: Catalog) -> None:
    data = run(
        catalog,
        {
            "respondents": [
                {
                    "role": "team_lead",
                    "answers": {"shape.risk": "unknown_feasibility", "shape.stakes": "low"},
                }
            ]
        },
    )
    top, runner_up = data["process_models"]
    assert (top["id"], top["fit"]) == ("risk_first", 100.0)
    assert top["reasons"][0]["reason"] == "Model feasibility is unknown"
    assert top["reasons"][0]["answers"][0]["answer_label"] == "Unknown"
    assert runner_up["fit"] == 0.0
    assert data["recommendation"] == {
        "recommended": True,
        "top": "risk_first",
        "runner_up": "plan_first",
        "close": False,
        "margin": 10.0,
    }
    flips = [s for s in data["sensitivity"] if s["effect"] == "top_model"]
    assert {(s["question"], s["alternative"]) for s in flips} >= {("shape.stakes", "high")}


def test_no_trajectory_answers_means_no_recommendation(catalog: Catalog) -> None:
    unanswered = {"respondents": [{"role": "team_lead", "answers": {"quality.unit_tests": "some"}}]}
    data = run(catalog, unanswered)
    assert data["recommendation"]["recommended"] is False
    assert recommended_model(data) is None
    assert data["warnings"][0].startswith("No process model fits")
    # results stored before the flag existed get the same reading from the fits
    del data["recommendation"]["recommended"]
    assert recommended_model(data) is None
    answered = run(
        catalog,
        {"respondents": [{"role": "team_lead", "answers": {"shape.risk": "unknown_feasibility"}}]},
    )
    assert recommended_model(answered) == answered["recommendation"]["top"] == "risk_first"
    del answered["recommendation"]["recommended"]
    assert recommended_model(answered) == "risk_first"


def test_close_call_and_caveats(catalog: Catalog) -> None:
    data = run(
        catalog,
        {
            "respondents": [
                {
                    "role": "team_lead",
                    "answers": {"shape.risk": "unknown_feasibility", "shape.stakes": "high"},
                }
            ]
        },
    )
    assert data["recommendation"]["close"] is True  # 75 vs 66.7
    risk_first = next(m for m in data["process_models"] if m["id"] == "risk_first")
    assert [c["id"] for c in risk_first["caveats"]] == ["mind_the_system"]
    assert risk_first["against"][0]["reason"] == "High stakes"


# --- roadmap, debt register, targets, comparison ----------------------------------------------


def test_roadmap_respects_stage_prerequisites_and_adoption(catalog: Catalog) -> None:
    data = run(
        catalog,
        {
            "round": {"stage": "prototype"},
            "respondents": [
                {
                    "role": "team_lead",
                    "answers": {
                        "quality.unit_tests": "none",
                        "quality.data_tests": "none",
                        "quality.monitoring": "none",
                        "quality.structure": "separate",
                        "quality.deploy": "manual",
                    },
                }
            ],
        },
    )
    roadmap = data["roadmap"]
    assert [i["practice"] for i in roadmap["now"]] == ["write_unit_tests"]
    assert [i["practice"] for i in roadmap["next"]] == ["data_tests"]  # after its prerequisite
    assert {i["practice"] for i in roadmap["later"]} == {"add_monitoring", "automate_deploys"}
    assert roadmap["now"][0]["priority"] == 3.0  # gap 1 x impact 3 / effort S
    paths = {p["artifact"]: p for p in roadmap["level_paths"]}
    assert paths["testing"]["practices"] == ["write_unit_tests"]
    adopted = run(
        catalog,
        {
            "round": {"stage": "prototype"},
            "respondents": [
                {
                    "role": "team_lead",
                    "answers": {"quality.unit_tests": "none", "quality.data_tests": "none"},
                }
            ],
            "adopted": ["write_unit_tests"],
        },
    )["roadmap"]
    assert [i["practice"] for i in adopted["adopted"]] == ["write_unit_tests"]
    assert [i["practice"] for i in adopted["now"]] == ["data_tests"]


def test_now_holds_at_most_five(catalog: Catalog) -> None:
    from app.rubric.recommend import NOW_LIMIT

    assert NOW_LIMIT == 5


def test_debt_register_rows_carry_category_and_quadrant(catalog: Catalog) -> None:
    data = run(
        catalog,
        {
            "respondents": [
                {
                    "role": "team_lead",
                    "answers": {"quality.structure": "separate", "quality.deploy": "manual"},
                }
            ]
        },
    )
    assert data["debt_register"] == [
        {
            "id": "manual_deploys",
            "title": "Manual deployment",
            "category": "manual_deployment",
            "quadrant": "inadvertent_reckless",
            "description": "Deploys by hand.",
            "practice": "automate_deploys",
            "source": 'Doc A, "Beta"',
        }
    ]


def test_targets_and_round_comparison(catalog: Catalog) -> None:
    before = {
        "role": "team_lead",
        "answers": {"quality.unit_tests": "none", "quality.data_tests": "some"},
    }
    after = {
        "role": "team_lead",
        "answers": {"quality.unit_tests": "all", "quality.data_tests": "some"},
    }
    data = run(
        catalog,
        {
            "round": {"stage": "prototype"},
            "respondents": [after],
            "targets": {"quality": "high"},
            "adopted": ["write_unit_tests"],
            "previous": {"round": {"stage": "prototype"}, "respondents": [before]},
        },
    )
    assert data["targets"] == [
        {"dimension": "quality", "target": "high", "percent": 100, "met": True}
    ]
    assert data["comparison"]["questions"]["quality.unit_tests"] == 100.0
    assert data["comparison"]["adopted_moved"] == {"write_unit_tests": "up"}
    assert data["comparison"]["dimensions"]["quality"] == pytest.approx(
        100 * 10 / 12 - 100 * 2 / 12, abs=0.1
    )
    with pytest.raises(AnswersFileError, match="must be one of low, mid, high"):
        run(catalog, {"respondents": [after], "targets": {"quality": "stellar"}})


# --- team aggregation -------------------------------------------------------------------------


def team(*members: tuple[str, str, dict[str, Any]]) -> list[Respondent]:
    return [
        Respondent(id=rid, role=role, answers={q: Answer(v) for q, v in values.items()})  # type: ignore[arg-type]
        for rid, role, values in members
    ]


SURVEY = RoundSettings(stage="operating", mode="team_survey")


def test_team_score_is_the_mean_and_consensus_is_the_lower_median(catalog: Catalog) -> None:
    people = team(
        ("a", "ml_engineer", {"quality.unit_tests": "none", "quality.structure": "separate"}),
        ("b", "ml_engineer", {"quality.unit_tests": "some", "quality.structure": "separate"}),
        ("c", "data_scientist", {"quality.unit_tests": "all", "quality.structure": "together"}),
        ("d", "data_scientist", {"quality.unit_tests": "all", "quality.structure": "together"}),
    )
    result = assess(catalog, SURVEY, people)
    assert result.dimensions["quality"].score == pytest.approx((0 + 50 + 100 + 100) / 4)
    assert result.consensus["quality.unit_tests"] == "some"  # lower median of 0, 2, 4, 4
    assert result.consensus["quality.structure"] == "dont_know"  # a tie is unknown
    assert result.spreads["quality.unit_tests"].disagreement is True


def test_a_majority_of_dont_know_gives_unknown(catalog: Catalog) -> None:
    people = team(
        ("a", "ml_engineer", {"quality.unit_tests": "dont_know"}),
        ("b", "ml_engineer", {"quality.unit_tests": "dont_know"}),
        ("c", "ml_engineer", {"quality.unit_tests": "all"}),
    )
    assert assess(catalog, SURVEY, people).consensus["quality.unit_tests"] == "dont_know"


def test_perception_gaps_need_three_per_group(catalog: Catalog) -> None:
    opposed = team(
        ("a", "data_scientist", {"quality.unit_tests": "all"}),
        ("b", "data_scientist", {"quality.unit_tests": "all"}),
        ("c", "ml_engineer", {"quality.unit_tests": "none"}),
        ("d", "software_engineer", {"quality.unit_tests": "none"}),
        ("e", "data_scientist", {"quality.unit_tests": "all"}),
        ("f", "ml_engineer", {"quality.unit_tests": "none"}),
    )
    gaps = assess(catalog, SURVEY, opposed).perception_gaps
    question_gap = next(g for g in gaps if g.subject == "quality.unit_tests")
    assert question_gap.groups == ("engineering", "data_science")
    assert question_gap.size == 100.0
    assert gaps[0].size >= gaps[-1].size
    # two per group are too few: their answers could be singled out
    pairs = assess(catalog, SURVEY, opposed[:4]).perception_gaps
    assert pairs == ()


def test_team_results_wait_for_the_threshold(catalog: Catalog) -> None:
    two = team(("a", "ml_engineer", {}), ("b", "ml_engineer", {}))
    assert assess(catalog, SURVEY, two).visibility.visible is False
    assert assess(catalog, SURVEY, two, results_min=2).visibility.visible is True
    assert assess(catalog, solo(), two[:1]).visibility.visible is True


def test_shown_cells_protect_against_subtraction() -> None:
    assert anonymity.shown_cells(10, {"a": 5, "b": 4, "c": 1}, minimum=3) == {"a"}
    assert anonymity.shown_cells(10, {"a": 5, "b": 5}, minimum=3) == {"a", "b"}
    assert anonymity.shown_cells(2, {"a": 2}, minimum=3) == frozenset()
    assert anonymity.shown_cells(9, {"a": 3, "b": 3, "c": 2, "d": 1}, minimum=3) == {"a", "b"}


# --- properties -------------------------------------------------------------------------------

QUALITY_OPTIONS = {
    "quality.unit_tests": ["none", "some", "all", "dont_know"],
    "quality.data_tests": ["none", "some", "all", "dont_know", "not_applicable"],
    "quality.monitoring": ["none", "basic", "full", "dont_know"],
    "quality.deploy": ["manual", "scripted", "automated", "dont_know"],
    "quality.structure": ["together", "separate", "dont_know"],
}
answer_sets = st.fixed_dictionaries(
    {},
    optional={qid: st.sampled_from(options) for qid, options in QUALITY_OPTIONS.items()},
)
roles = st.sampled_from(["data_scientist", "ml_engineer", "software_engineer", "team_lead"])


@settings(max_examples=150, deadline=None)
@given(values=answer_sets)
def test_scores_stay_within_0_and_100(catalog: Catalog, values: dict[str, str]) -> None:
    result = score_response(
        catalog, solo(), "ml_engineer", {q: Answer(v) for q, v in values.items()}
    )
    for dimension in result.dimensions.values():
        assert dimension.score is None or 0 <= dimension.score <= 100
        assert 0 <= dimension.coverage <= 1


@settings(max_examples=150, deadline=None)
@given(
    values=answer_sets,
    question=st.sampled_from(["quality.unit_tests", "quality.data_tests", "quality.monitoring"]),
)
def test_raising_one_answer_never_lowers_the_score(
    catalog: Catalog, values: dict[str, str], question: str
) -> None:
    ordinal = [o for o in QUALITY_OPTIONS[question] if o not in ("dont_know", "not_applicable")]
    scores = []
    for option in ordinal:
        changed = {**values, question: option}
        result = score_response(
            catalog, solo(), "ml_engineer", {q: Answer(v) for q, v in changed.items()}
        )
        scores.append(result.dimensions["quality"].score)
    assert all(a <= b + 1e-9 for a, b in itertools.pairwise(scores))  # type: ignore[operator]


@settings(max_examples=150, deadline=None)
@given(values=answer_sets, question=st.sampled_from(list(QUALITY_OPTIONS)))
def test_dont_know_equals_leaving_the_question_out(
    catalog: Catalog, values: dict[str, str], question: str
) -> None:
    known = {q: v for q, v in values.items() if q != question}
    unknown = {**known, question: "dont_know"}
    a = score_response(catalog, solo(), "ml_engineer", {q: Answer(v) for q, v in known.items()})
    b = score_response(catalog, solo(), "ml_engineer", {q: Answer(v) for q, v in unknown.items()})
    assert a.dimensions["quality"].score == b.dimensions["quality"].score
    assert b.dimensions["quality"].coverage <= a.dimensions["quality"].coverage + 1e-9


@settings(max_examples=60, deadline=None)
@given(
    members=st.lists(st.tuples(roles, answer_sets), min_size=1, max_size=6),
    seed=st.randoms(use_true_random=False),
)
def test_team_results_ignore_respondent_order_and_are_deterministic(
    catalog: Catalog, members: list[tuple[str, dict[str, str]]], seed: Any
) -> None:
    people = team(*((f"r{i}", role, values) for i, (role, values) in enumerate(members)))
    shuffled = list(people)
    seed.shuffle(shuffled)
    first = json.dumps(to_data(catalog, assess(catalog, SURVEY, people)), sort_keys=True)
    second = json.dumps(to_data(catalog, assess(catalog, SURVEY, shuffled)), sort_keys=True)
    assert first == second


@settings(max_examples=80, deadline=None)
@given(members=st.lists(st.tuples(roles, answer_sets), min_size=1, max_size=7))
def test_no_role_group_below_the_minimum_appears_in_a_gap(
    catalog: Catalog, members: list[tuple[str, dict[str, str]]]
) -> None:
    people = team(*((f"r{i}", role, values) for i, (role, values) in enumerate(members)))
    from app.rubric.aggregate import role_group

    sizes: dict[str, int] = {}
    for person in people:
        group = role_group(person.role)
        if group:
            sizes[group] = sizes.get(group, 0) + 1
    for gap in assess(catalog, SURVEY, people).perception_gaps:
        assert all(sizes[group] >= anonymity.DEFAULT_ROLE_GROUP_MIN for group in gap.groups)
