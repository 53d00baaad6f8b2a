"""Reference cases for the roadmap (what comes first) and the process fit (every decisive fact).

`test_reference_cases.py` checks each case on its own (`now_includes`, `now_excludes`,
`warnings_include` among its keys). Here, cases are set against each other:
`now_differs_from` / `ranking_differs_from` name another case whose Now list / process ranking
must differ (teams with different defining problems, or different sizes).

Every trajectory question is also tied to one reference case in which its answer decides the
top pick, a fit warning or a caveat (`DECIDING_CASE`): removing the answer must change one of
them there.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.config import QUESTIONNAIRES_DIR
from app.rubric.answers_file import assess_file, read_answers_file
from app.rubric.categorical import evaluate_findings
from app.rubric.loader import Catalog, load_catalog
from app.rubric.output import to_data
from app.rubric.recommend import rank_models

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "reference"
# Cases set against another case (different defining problems, different sizes).
COMPARED = ("roadmap_over_the_wall", "roadmap_manual_deployment", "programme_system_first")

# The reference case in which each trajectory question decides something, and why (passage).
DECIDING_CASE = {
    "starting_point": "hotel_recommendations",  # 000 "Data-Science Trajectories"
    "development_order": "transcription_startup",  # 000 "Model-First versus System-First"
    "ml_centrality": "transcription_startup",  # 002 "ML Components in Software Systems"
    "existing_system": "existing_tax_product",  # 000 "Model-First versus System-First"
    "model_feasibility": "regulated_unknown_feasibility",  # 000 "Process Models", "Tensions"
    "model_source": "foundation_model_clauses",  # 000 "Examples" (notes app)
    "data_source": "hotel_recommendations",  # 000 "Examples" (hotel telemetry)
    "stakes": "recidivism_risk",  # 000 "Examples" (judges' tool)
    "requirements_volatility": "small_team_system_first",  # 000 "Process Models"
    "project_size": "programme_system_first",  # 000 "Balancing system and model work"
    "system_requirements_known": "regulated_unknown_feasibility",  # 000 "Examples"
    "components_planned": "existing_tax_product",  # 002 "Beyond the ML model…"
    "system_planning_timing": "transcription_startup",  # 000 "Model-First versus System-First"
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(QUESTIONNAIRES_DIR)


def case_data(stem: str) -> dict[str, Any]:
    data = yaml.safe_load((REFERENCE / f"{stem}.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@cache
def scored(stem: str) -> dict[str, Any]:
    catalog = load_catalog(QUESTIONNAIRES_DIR)
    path = REFERENCE / f"{stem}.yaml"
    result: dict[str, Any] = to_data(
        catalog, assess_file(catalog, read_answers_file(path, catalog))
    )
    return result


def now_list(result: dict[str, Any]) -> list[str]:
    return [item["practice"] for item in result["roadmap"]["now"]]


def ranking(result: dict[str, Any]) -> list[tuple[str, float]]:
    return [(model["id"], model["fit"]) for model in result["process_models"]]


@pytest.mark.parametrize("stem", COMPARED)
def test_case_differs_from_the_case_the_sources_set_it_against(stem: str) -> None:
    expected = case_data(stem)["expected"]
    result = scored(stem)
    if "now_differs_from" in expected:
        other = now_list(scored(expected["now_differs_from"]))
        assert set(now_list(result)) != set(other), f"the same Now list: {other}"
    if "ranking_differs_from" in expected:
        other_ranking = ranking(scored(expected["ranking_differs_from"]))
        assert ranking(result) != other_ranking, f"the same ranking: {other_ranking}"


def fit_picture(catalog: Catalog, answers: dict[str, Any], stage: str) -> Any:
    """What a reader sees decided by the trajectory answers: the top pick, every model's caveats
    (holding or "may apply") and the fit warnings. A fit that moves without changing any of
    these does not count."""
    lookup = catalog.lookup(answers, stage=stage)
    ranked = rank_models(catalog, lookup)
    models = tuple(
        (model.id, tuple((c.id, c.status) for c in model.caveats)) for model in ranked.models
    )
    instrument = catalog.instruments["trajectory"]
    warnings = tuple(
        (finding.id, finding.status)
        for finding in evaluate_findings("trajectory", instrument.findings, lookup)
    )
    return ranked.top.id, models, warnings


def test_every_trajectory_question_has_a_deciding_case(catalog: Catalog) -> None:
    questions = {q.id for q in catalog.instruments["trajectory"].questions}
    assert set(DECIDING_CASE) == questions


@pytest.mark.parametrize("question", sorted(DECIDING_CASE))
def test_removing_a_trajectory_answer_changes_its_reference_case(
    catalog: Catalog, question: str
) -> None:
    data = case_data(DECIDING_CASE[question])
    answers = dict(data["respondents"][0]["answers"])
    qid = f"trajectory.{question}"
    assert answers.get(qid) not in (None, "dont_know"), f"{qid} is not answered in its case"
    stage = data["round"]["stage"]
    before = fit_picture(catalog, answers, stage)
    without = {key: value for key, value in answers.items() if key != qid}
    assert fit_picture(catalog, without, stage) != before, f"{qid} decides nothing here"


@pytest.mark.parametrize(
    ("stem", "problem"),
    [
        ("roadmap_over_the_wall", "over_the_wall"),
        ("roadmap_manual_deployment", "manual_deployment_in_production"),
    ],
)
def test_now_items_name_the_defining_problem_they_remedy(stem: str, problem: str) -> None:
    """The defining problem is a typed field of the roadmap item, not only reason text."""
    from app.results.model import TeamResult

    result = scored(stem)
    remedies = [item["remedies"] for item in result["roadmap"]["now"] if item["remedies"]]
    assert any(r["problem"] == problem and not r["needed_first"] for r in remedies), remedies
    for bucket in ("next", "later"):
        assert all(item["remedies"] is None for item in result["roadmap"][bucket])
    typed = TeamResult.model_validate(result)
    assert any(
        item.remedies is not None and item.remedies.problem == problem for item in typed.roadmap.now
    )
