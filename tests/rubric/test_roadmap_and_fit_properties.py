"""Properties of the roadmap and the process fit over generated answer sets (hypothesis).

Roadmap: a prerequisite is never in a later bucket than a practice that needs it; an
operating team that answers the lowest option everywhere gets the production controls first.
Fit: only trajectory answers move the ranking; a regulated product's top pick always carries
the regulation caveat; a large programme never gets a fully parallel process on top without
the size warning.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.config import QUESTIONNAIRES_DIR
from app.rubric.categorical import evaluate_findings
from app.rubric.loader import Catalog, load_catalog
from app.rubric.recommend import Roadmap, build_roadmap, rank_models
from app.rubric.rules import STAGES

CATALOG = load_catalog(QUESTIONNAIRES_DIR)
CHOICE_QUESTIONS = {
    qid: ref.question.option_ids
    for qid, ref in CATALOG.questions.items()
    if ref.question.type in ("ordinal", "single")
}
TRAJECTORY = {qid: o for qid, o in CHOICE_QUESTIONS.items() if qid.startswith("trajectory.")}
OTHERS = {qid: o for qid, o in CHOICE_QUESTIONS.items() if not qid.startswith("trajectory.")}
BUCKETS = ("adopted", "now", "next", "later")
REGULATION_CAVEAT = "regulated_use_requirements_first"
SIZE_WARNINGS = {"parallel_only_for_small_teams", "large_programme_needs_more_planning"}
FULLY_PARALLEL = {"integrated_parallel", "agile_iterative"}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return CATALOG


def answer_sets(questions: dict[str, tuple[str, ...]]) -> st.SearchStrategy[dict[str, Any]]:
    """Each question: one of its options, "don't know", or not answered."""
    return st.fixed_dictionaries(
        {},
        optional={
            qid: st.sampled_from((*options, "dont_know")) for qid, options in questions.items()
        },
    )


def bucket_of(roadmap: Roadmap) -> dict[str, int]:
    placed = {}
    for index, name in enumerate(BUCKETS):
        for item in getattr(roadmap, name):
            placed[item.practice] = index
    return placed


def roadmap_for(values: dict[str, Any], stage: str, adopted: tuple[str, ...] = ()) -> Roadmap:
    lookup = CATALOG.lookup(values, stage=stage)
    return build_roadmap(CATALOG, lookup, stage=stage, adopted=adopted, levels=None)


# --- roadmap ----------------------------------------------------------------------------------


@settings(max_examples=120, deadline=None)
@given(
    values=answer_sets(CHOICE_QUESTIONS),
    stage=st.sampled_from(STAGES),
    adopted=st.lists(st.sampled_from([p.id for p in CATALOG.practices.practices]), max_size=3),
)
def test_a_prerequisite_is_never_in_a_later_bucket_than_its_dependant(
    values: dict[str, Any], stage: str, adopted: list[str]
) -> None:
    placed = bucket_of(roadmap_for(values, stage, tuple(adopted)))
    for practice in CATALOG.practices.practices:
        # a practice the team marked adopted is theirs to place, whatever it needed
        if practice.id not in placed or practice.id in adopted:
            continue
        for needed in practice.prerequisites:
            if needed in placed:
                assert placed[needed] <= placed[practice.id], (needed, practice.id, placed)


def lowest_everywhere() -> dict[str, Any]:
    return {
        qid: min(ref.question.options, key=lambda o: o.score or 0).id
        for qid, ref in CATALOG.questions.items()
        if ref.question.type == "ordinal"
    }


def test_an_operating_team_with_nothing_in_place_gets_the_production_controls_first() -> None:
    roadmap = roadmap_for(lowest_everywhere(), "operating")
    placed = bucket_of(roadmap)
    order = [item.practice for name in BUCKETS for item in getattr(roadmap, name)]
    now = [item.practice for item in roadmap.now]
    # version control and CI basics, pipeline tests and automated deployment (the remedy for
    # deploying by hand) come first; monitoring right after
    assert {"adopt_engineering_basics", "test_pipeline_code", "automate_deployment"} <= set(now)
    assert placed["monitor_data_and_models"] <= BUCKETS.index("next")
    assert placed["notebooks_to_pipelines"] <= BUCKETS.index("next")
    for control in ("adopt_engineering_basics", "monitor_data_and_models", "test_pipeline_code"):
        for clean_up in ("remove_dead_experimental_code", "externalise_magic_constants"):
            assert order.index(control) < order.index(clean_up)


def test_production_controls_rise_only_once_a_model_goes_to_production() -> None:
    values = lowest_everywhere()
    at = {stage: roadmap_for(values, stage) for stage in ("prototype", "operating")}
    priority = {
        stage: {item.practice: item.priority for b in BUCKETS for item in getattr(r, b)}
        for stage, r in at.items()
    }
    assert priority["operating"]["adopt_engineering_basics"] == pytest.approx(
        2 * priority["prototype"]["adopt_engineering_basics"]
    )
    assert (
        priority["operating"]["involve_engineers_early"]
        == priority["prototype"]["involve_engineers_early"]
    )


def test_a_remedy_says_which_defining_problem_it_answers() -> None:
    roadmap = roadmap_for(lowest_everywhere(), "operating")
    reasons = {item.practice: item.reason for item in roadmap.now}
    assert "deployed by hand" in reasons["automate_deployment"]
    assert reasons["test_pipeline_code"].startswith("needed first for")


# --- process fit ------------------------------------------------------------------------------


def fits(values: dict[str, Any], stage: str) -> tuple[tuple[str, float], ...]:
    ranking = rank_models(CATALOG, CATALOG.lookup(values, stage=stage))
    return tuple((model.id, model.fit) for model in ranking.models)


@settings(max_examples=100, deadline=None)
@given(
    trajectory=answer_sets(TRAJECTORY),
    others=answer_sets(OTHERS),
    changed=st.sampled_from(sorted(OTHERS)),
    data=st.data(),
    stage=st.sampled_from(STAGES),
)
def test_no_collaboration_handoff_or_debt_answer_changes_the_ranking(
    trajectory: dict[str, Any],
    others: dict[str, Any],
    changed: str,
    data: st.DataObject,
    stage: str,
) -> None:
    before = fits({**trajectory, **others}, stage)
    value = data.draw(st.sampled_from((*OTHERS[changed], "dont_know")))
    assert fits({**trajectory, **others, changed: value}, stage) == before


@settings(max_examples=150, deadline=None)
@given(trajectory=answer_sets(TRAJECTORY), stage=st.sampled_from(STAGES))
def test_a_regulated_product_never_gets_a_top_pick_without_the_regulation_caveat(
    trajectory: dict[str, Any], stage: str
) -> None:
    values = {**trajectory, "trajectory.stakes": "high_stakes_regulated"}
    top = rank_models(CATALOG, CATALOG.lookup(values, stage=stage)).top
    held = {caveat.id for caveat in top.caveats if caveat.status == "holds"}
    assert REGULATION_CAVEAT in held, (top.id, held)


@settings(max_examples=150, deadline=None)
@given(trajectory=answer_sets(TRAJECTORY), stage=st.sampled_from(STAGES))
def test_a_large_programme_never_gets_a_parallel_process_on_top_without_the_size_warning(
    trajectory: dict[str, Any], stage: str
) -> None:
    values = {**trajectory, "trajectory.project_size": "large_programme"}
    lookup = CATALOG.lookup(values, stage=stage)
    top = rank_models(CATALOG, lookup).top
    if top.id not in FULLY_PARALLEL:
        return
    held = {caveat.id for caveat in top.caveats if caveat.status == "holds"}
    warnings = {
        finding.id
        for finding in evaluate_findings(
            "trajectory", CATALOG.instruments["trajectory"].findings, lookup
        )
        if finding.status == "holds"
    }
    assert held & SIZE_WARNINGS, (top.id, held)
    assert "trajectory.parallel_in_large_project" in warnings


def test_a_small_team_and_a_large_programme_are_ranked_differently() -> None:
    base = {
        "trajectory.starting_point": "goal_driven",
        "trajectory.development_order": "system_first",
        "trajectory.ml_centrality": "feature",
        "trajectory.model_feasibility": "plausible_unproven",
        "trajectory.stakes": "moderate",
        "trajectory.requirements_volatility": "some_change",
    }
    small = fits({**base, "trajectory.project_size": "one_small_team"}, "prototype")
    large = fits({**base, "trajectory.project_size": "large_programme"}, "prototype")
    assert small != large
