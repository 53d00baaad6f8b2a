"""The typed team result: every example round-trips through storage unchanged, number for
number, and results stored in an older shape load upgraded without their row being rewritten."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from app.config import QUESTIONNAIRES_DIR
from app.models import RoundResult
from app.results import reads
from app.results.model import SCHEMA_VERSION, TeamResult, parse_stored
from app.rubric.answers_file import assess_file, read_answers_file
from app.rubric.loader import Catalog, load_catalog
from app.rubric.output import to_data
from tests import factories

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(QUESTIONNAIRES_DIR)


def _scored(catalog: Catalog, path: Path) -> tuple[dict[str, Any], TeamResult]:
    assessment = assess_file(catalog, read_answers_file(path, catalog))
    return to_data(catalog, assessment), TeamResult.from_assessment(catalog, assessment)


def _older(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as results were stored before ``schema_version`` and ``recommended`` existed."""
    old = copy.deepcopy(data)
    del old["schema_version"]
    del old["recommendation"]["recommended"]
    return old


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_round_trips_through_storage(catalog: Catalog, path: Path) -> None:
    data, result = _scored(catalog, path)
    stored = json.loads(json.dumps(result.to_data()))  # what a JSON column gives back
    assert parse_stored(stored) == result
    # the JSON is the engine's, number for number (1 and 1.0 print differently)
    assert json.dumps(result.to_data(), sort_keys=True) == json.dumps(data, sort_keys=True)
    assert result.schema_version == SCHEMA_VERSION


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_an_older_stored_shape_parses_and_upgrades(catalog: Catalog, path: Path) -> None:
    data, result = _scored(catalog, path)
    assert parse_stored(_older(data)) == result


def test_an_older_result_whose_top_model_does_not_fit_is_no_recommendation(
    catalog: Catalog,
) -> None:
    data, _ = _scored(catalog, EXAMPLES[0])
    old = _older(data)
    top = old["recommendation"]["top"]
    for process_model in old["process_models"]:
        if process_model["id"] == top:
            process_model["fit"] = 0
    upgraded = parse_stored(old)
    assert upgraded.recommendation.recommended is False
    assert upgraded.recommendation.model_id is None
    assert upgraded.recommended_model is None


def test_a_stored_row_of_the_older_shape_loads_upgraded_and_is_not_rewritten(
    session: Session, catalog: Catalog
) -> None:
    data, result = _scored(catalog, EXAMPLES[0])
    old = _older(data)
    assessment_round = factories.assessment_round(session, catalog)
    assert assessment_round.id is not None
    session.add(RoundResult(round_id=assessment_round.id, label="original", computed=old))
    session.commit()

    loaded = reads.load_result(session, assessment_round.id)
    assert loaded == result
    session.expire_all()
    row = reads.load_row(session, assessment_round.id)
    assert row is not None
    assert row.computed == old  # read, never written back
    assert reads.load_result(session, assessment_round.id, "rescored-0000") is None


def test_a_stored_result_of_an_unknown_shape_is_refused(catalog: Catalog) -> None:
    data, _ = _scored(catalog, EXAMPLES[0])
    broken = copy.deepcopy(data)
    broken["round"]["stage"] = "someday"
    with pytest.raises(ValueError, match="stage"):
        parse_stored(broken)
