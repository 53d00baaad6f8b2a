"""Stored results keep the rubric version their round started with."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from sqlmodel import Session, select

from app import catalog_store
from app.config import QUESTIONNAIRES_DIR
from app.models import ResponseScore, RoundResult
from app.results.service import store_round_result
from app.rubric.loader import load_catalog
from tests import factories

CASE = Path(__file__).resolve().parents[1] / "fixtures" / "reference" / "transcription_startup.yaml"


def case_answers() -> dict[str, object]:
    data = yaml.safe_load(CASE.read_text(encoding="utf-8"))
    answers: dict[str, object] = data["respondents"][0]["answers"]
    return answers | {"handoff.registry": "dont_know"}


def edited_rubric(tmp_path: Path) -> Path:
    """A copy of the rubric whose process models weigh feasibility differently."""
    folder = tmp_path / "questionnaires"
    shutil.copytree(QUESTIONNAIRES_DIR, folder)
    path = folder / "process_models.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("close_margin: 10", "close_margin: 25"), encoding="utf-8")
    return folder


def test_editing_a_file_leaves_stored_results_alone_and_new_rounds_use_it(
    session: Session, tmp_path: Path
) -> None:
    original = load_catalog(QUESTIONNAIRES_DIR)
    first = factories.assessment_round(session, original)
    factories.submitted_response(session, first, "team_lead", case_answers())
    stored = store_round_result(session=session, assessment_round=first)
    before = dict(stored.computed)
    assert before["recommendation"]["margin"] == 10.0

    edited = load_catalog(edited_rubric(tmp_path))
    assert edited.versions["process_models.yaml"] != original.versions["process_models.yaml"]
    second = factories.assessment_round(session, edited)
    assert second.rubric_versions["process_models.yaml"] == edited.versions["process_models.yaml"]
    assert first.rubric_versions["process_models.yaml"] == original.versions["process_models.yaml"]

    catalog_store._cache.clear()  # prove the old round is rebuilt from the stored texts
    again = store_round_result(session=session, assessment_round=first)
    assert again.computed == before
    assert again.rubric_versions == first.rubric_versions

    rescored = store_round_result(
        session=session, assessment_round=first, catalog=edited, label="rescored"
    )
    assert rescored.computed["recommendation"]["margin"] == 25.0
    labels = session.exec(select(RoundResult.label).where(RoundResult.round_id == first.id)).all()
    assert sorted(labels) == ["original", "rescored"]
    original_row = session.exec(
        select(RoundResult).where(RoundResult.round_id == first.id, RoundResult.label == "original")
    ).one()
    assert original_row.computed == before


def test_a_final_result_is_never_recomputed(session: Session) -> None:
    catalog = load_catalog(QUESTIONNAIRES_DIR)
    round_ = factories.assessment_round(session, catalog, status="closed")
    factories.submitted_response(session, round_, "team_lead", case_answers())
    result = store_round_result(session=session, assessment_round=round_)
    assert result.final is True
    factories.submitted_response(session, round_, "team_lead", {"trajectory.stakes": "low"})
    assert store_round_result(session=session, assessment_round=round_).computed == result.computed


def test_per_response_scores_are_stored_for_dashboards(session: Session) -> None:
    catalog = load_catalog(QUESTIONNAIRES_DIR)
    round_ = factories.assessment_round(session, catalog, mode="team_survey")
    for role, registry in (("data_scientist", "versioned_store"), ("ml_engineer", "dont_know")):
        factories.submitted_response(session, round_, role, {"handoff.registry": registry})
    store_round_result(session=session, assessment_round=round_)
    rows = session.exec(
        select(ResponseScore).where(
            ResponseScore.round_id == round_.id,
            ResponseScore.dimension == "handoff",
            ResponseScore.sub_dimension == "",
        )
    ).all()
    assert len(rows) == 2
    assert sorted(row.score is None for row in rows) == [False, True]
