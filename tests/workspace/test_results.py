"""A round's results in the workspace (app.workspace.results, acting, exports): the anonymity
rule, results that follow new submissions, perception gaps, rescoring under a newer rubric,
targets and adoption after a round has closed, and neutralised CSV exports."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
import yaml
from sqlmodel import Session, select

from app import catalog_store
from app.config import Settings
from app.errors import InvalidInputError, NotFoundError
from app.models import RoundResult
from app.reports.context import ResultsNotVisibleError
from app.results import exports
from app.results.reads import rescore_label
from app.results.service import ORIGINAL
from app.results.visibility import OUTSIDER
from app.rubric.answers import RoundSettings
from app.rubric.loader import Catalog, load_catalog_from_texts
from app.workspace import acting, rounds
from app.workspace.results import (
    load_results,
    refresh_team_results,
    rescore,
    rubric_upgrade,
)
from tests import factories
from tests.workspace import helpers


def test_a_team_survey_shows_results_from_the_threshold_on(
    session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    assessment_round = helpers.team_round(session, lead.team)
    helpers.submit(session, assessment_round, "data_scientist")
    helpers.submit(session, assessment_round, "ml_engineer")
    hidden = load_results(session=session, assessment_round=assessment_round)
    assert hidden.result is None
    assert (hidden.visibility.submitted, hidden.visibility.needed) == (2, 3)
    with pytest.raises(ResultsNotVisibleError):
        rescore(session=session, assessment_round=assessment_round, newest=helpers.catalog())
    # a third submission: still nothing while the round is open (the result is published
    # once, at close, so no one's answers show as the difference of two results)
    helpers.submit(session, assessment_round, "product_manager", store=False)
    assert load_results(session=session, assessment_round=assessment_round).result is None
    rounds.close_round(session=session, assessment_round=assessment_round)
    shown = load_results(session=session, assessment_round=assessment_round, viewer=OUTSIDER)
    assert shown.result is not None
    assert shown.result.respondent_count == 3
    assert shown.result.computed["round"]["results_visible"]


def test_a_solo_round_shows_results_at_once(session: Session, settings: Settings) -> None:
    lead = helpers.lead(session, settings)
    assessment_round = helpers.team_round(session, lead.team, mode="solo")
    assert load_results(session=session, assessment_round=assessment_round).result is None
    helpers.submit(session, assessment_round, "team_lead")
    assert load_results(session=session, assessment_round=assessment_round).result is not None


def test_perception_gaps_need_three_people_per_role_group(
    session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    opposing = helpers.team_round(session, lead.team)
    for role, level in (
        ("data_scientist", "high"),
        ("data_scientist", "high"),
        ("data_scientist", "high"),
        ("software_engineer", "low"),
        ("ml_engineer", "low"),
        ("ml_engineer", "low"),
    ):
        helpers.submit(session, opposing, role, handoff=level, store=False)  # type: ignore[arg-type]
    rounds.close_round(session=session, assessment_round=opposing)
    result = load_results(session=session, assessment_round=opposing, viewer=OUTSIDER).result
    assert result is not None
    gaps = result.computed["perception_gaps"]
    handoff = [g for g in gaps if g["dimension"] == "handoff"]
    assert handoff
    assert {(g["lower_group"], g["higher_group"]) for g in handoff} == {
        ("engineering", "data_science")
    }
    pair = helpers.team_round(session, lead.team, results_min=2, title="Pair")
    helpers.submit(session, pair, "data_scientist", handoff="high", store=False)
    helpers.submit(session, pair, "data_scientist", handoff="high", store=False)
    helpers.submit(session, pair, "software_engineer", handoff="low", store=False)
    rounds.close_round(session=session, assessment_round=pair)
    result = load_results(session=session, assessment_round=pair, viewer=OUTSIDER).result
    assert result is not None
    assert result.computed["perception_gaps"] == []


def test_an_unknown_result_label_is_a_404(session: Session, settings: Settings) -> None:
    lead = helpers.lead(session, settings)
    assessment_round = helpers.team_round(session, lead.team, mode="solo")
    helpers.submit(session, assessment_round, "team_lead")
    with pytest.raises(NotFoundError):
        load_results(session=session, assessment_round=assessment_round, label="rescored-nope")


# ---------------------------------------------------------------- rescoring


def older_catalog(newest: Catalog) -> Catalog:
    """The newest rubric as it was "before": one more option on handoff.registry (which the
    newest no longer has) and another wording of handoff.environment."""
    texts = dict(newest.texts)
    data: Any = yaml.safe_load(texts["handoff.yaml"])
    data["version"] = "2025.9"
    for section in data["sections"]:
        for question in section["questions"]:
            if question["id"] == "registry":
                question["options"].append(
                    {"id": "legacy_store", "label": "The old model store", "score": 1}
                )
            if question["id"] == "environment":
                question["text"] = "How is the model's environment set up elsewhere?"
    texts["handoff.yaml"] = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return load_catalog_from_texts(texts)


def test_rescoring_stores_a_labelled_result_beside_the_original(
    session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    newest = helpers.catalog()
    old = older_catalog(newest)
    versions = catalog_store.register_catalog(session=session, catalog=old)
    assessment_round = helpers.team_round(
        session, lead.team, mode="solo", kind="full", rubric_versions=versions
    )
    answers = helpers.answers_for(
        RoundSettings(stage="productionising", kind="full", mode="solo"), "team_lead"
    )
    answers["handoff.registry"] = "legacy_store"
    factories.submitted_response(session, assessment_round, "team_lead", answers)
    original = load_results(session=session, assessment_round=assessment_round).result
    assert original is not None
    before = json.dumps(original.computed, sort_keys=True)

    upgrade = rubric_upgrade(session=session, assessment_round=assessment_round, newest=newest)
    assert upgrade is not None
    assert not upgrade.rescored
    assert [(r.question, r.reason) for r in upgrade.renew] == [
        ("handoff.registry", "the chosen option no longer exists")
    ]
    assert {c.question for c in upgrade.changes} >= {"handoff.registry", "handoff.environment"}

    rescored = rescore(session=session, assessment_round=assessment_round, newest=newest)
    assert rescored.label == rescore_label(newest)
    assert rescored.rubric_versions == dict(newest.versions)
    labels = session.exec(
        select(RoundResult.label).where(RoundResult.round_id == assessment_round.id)
    ).all()
    assert sorted(labels) == sorted([ORIGINAL, rescored.label])
    session.refresh(original)
    assert json.dumps(original.computed, sort_keys=True) == before
    shown = load_results(session=session, assessment_round=assessment_round, label=rescored.label)
    assert shown.result is not None
    assert shown.result.id == rescored.id
    assert rubric_upgrade(
        session=session, assessment_round=assessment_round, newest=newest
    ).rescored  # type: ignore[union-attr]


def test_a_round_on_the_newest_rubric_has_nothing_to_rescore(
    session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    assessment_round = helpers.team_round(session, lead.team, mode="solo")
    helpers.submit(session, assessment_round, "team_lead")
    newest = helpers.catalog()
    assert rubric_upgrade(session=session, assessment_round=assessment_round, newest=newest) is None
    with pytest.raises(InvalidInputError):
        rescore(session=session, assessment_round=assessment_round, newest=newest)


# ---------------------------------------------------------------- targets and adoption


def test_targets_and_adoption_reach_a_closed_rounds_final_result(
    session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    catalog = helpers.catalog()
    assessment_round = helpers.team_round(session, lead.team, mode="solo", status="closed")
    helpers.submit(session, assessment_round, "team_lead", other="low", handoff="low")
    result = session.exec(
        select(RoundResult).where(RoundResult.round_id == assessment_round.id)
    ).one()
    assert result.final
    assert result.computed["targets"] == []
    first_now = result.computed["roadmap"]["now"][0]["practice"]

    acting.set_targets(
        session=session,
        catalog=catalog,
        team=lead.team,
        targets={"collaboration": "established", "handoff": "2"},
    )
    acting.adopt(
        session=session, catalog=catalog, team=lead.team, practice_id=first_now, user_id=None
    )
    assert refresh_team_results(session=session, team_id=lead.team.id or 0) == 1
    session.refresh(result)
    assert result.final
    targets = {t["dimension"]: t for t in result.computed["targets"]}
    assert targets["collaboration"]["target"] == "established"
    assert targets["handoff"]["target"] == 2
    assert 0 <= targets["collaboration"]["percent"] < 100
    adopted = [p["practice"] for p in result.computed["roadmap"]["adopted"]]
    assert adopted == [first_now]
    assert first_now not in [p["practice"] for p in result.computed["roadmap"]["now"]]

    acting.set_targets(session=session, catalog=catalog, team=lead.team, targets={"handoff": None})
    assert acting.team_targets(session=session, team_id=lead.team.id or 0) == {
        "collaboration": "established"
    }
    assert acting.unadopt(session=session, catalog=catalog, team=lead.team, practice_id=first_now)
    assert not acting.unadopt(
        session=session, catalog=catalog, team=lead.team, practice_id=first_now
    )


@pytest.mark.parametrize(
    "targets",
    [{"trajectory": "established"}, {"collaboration": "brilliant"}, {"handoff": "0"}, {"x": "1"}],
)
def test_a_bad_target_changes_nothing(
    session: Session, settings: Settings, targets: dict[str, str]
) -> None:
    lead = helpers.lead(session, settings)
    acting.set_targets(
        session=session, catalog=helpers.catalog(), team=lead.team, targets={"debt": "emerging"}
    )
    with pytest.raises(InvalidInputError):
        acting.set_targets(
            session=session,
            catalog=helpers.catalog(),
            team=lead.team,
            targets={"collaboration": "established", **targets},
        )
    assert acting.team_targets(session=session, team_id=lead.team.id or 0) == {"debt": "emerging"}


def test_an_unknown_practice_cannot_be_adopted(session: Session, settings: Settings) -> None:
    lead = helpers.lead(session, settings)
    with pytest.raises(InvalidInputError):
        acting.adopt(
            session=session,
            catalog=helpers.catalog(),
            team=lead.team,
            practice_id="perpetual_motion",
            user_id=None,
        )
    assert acting.adopted_practices(session=session, team_id=lead.team.id or 0) == {}


# ---------------------------------------------------------------- exports


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_formula_starts_are_neutralised(start: str) -> None:
    assert exports.neutralise(f"{start}HYPERLINK(1)") == f"'{start}HYPERLINK(1)"
    assert exports.neutralise("plain text") == "plain text"


def test_csv_cells_and_headers_never_run_as_formulas() -> None:
    rows = [{"=cmd|' /C calc'!A0": "x", "title": "@SUM(1+1)", "steps": ["-1", "ok"]}]
    text = exports.to_csv(rows, ["=cmd|' /C calc'!A0", "title", "steps"])
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0][0].startswith("'=")
    assert parsed[1][1] == "'@SUM(1+1)"
    assert parsed[1][2] == "'-1 | ok"


def test_roadmap_and_debt_rows_come_from_the_stored_result(
    session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    assessment_round = helpers.team_round(session, lead.team, mode="solo")
    helpers.submit(session, assessment_round, "team_lead", other="low", handoff="low")
    data = load_results(session=session, assessment_round=assessment_round).result.computed  # type: ignore[union-attr]
    roadmap = exports.roadmap_rows(data, helpers.catalog())
    assert [r["practice"] for r in roadmap if r["bucket"] == "Now"] == [
        p["practice"] for p in data["roadmap"]["now"]
    ]
    assert all(
        r["steps"] and r["owners"] and r["effort"] in ("Small", "Medium", "Large") for r in roadmap
    )
    debt = exports.debt_rows(data, helpers.catalog())
    assert [d["item"] for d in debt] == [d["id"] for d in data["debt_register"]]
    assert debt, "low answers point to debt items"
    assert json.loads(exports.to_json(debt)) == debt
