"""A stored result reads back in the rubric's order on both databases: dimensions as the engine
lists them, sub-dimensions and handoff artifacts as the catalog defines them (PostgreSQL's JSONB
keeps object keys sorted by length, not in the order they were written)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from app.config import QUESTIONNAIRES_DIR
from app.models import RoundResult
from app.reports import context
from app.reports.branding import default_branding
from app.results import reads
from app.results.model import TeamResult, parse_stored
from app.rubric.answers_file import assess_file, read_answers_file
from app.rubric.loader import Catalog, load_catalog
from app.rubric.output import to_data
from tests import factories

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(QUESTIONNAIRES_DIR)


def _key_orders(value: Any, path: str = "") -> Iterator[tuple[str, list[str]]]:
    """Every JSON object's path and its keys, in order."""
    if isinstance(value, dict):
        yield path, list(value)
        for key, item in value.items():
            yield from _key_orders(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _key_orders(item, f"{path}/{index}")


def _stored_and_read(session: Session, catalog: Catalog, result: TeamResult) -> TeamResult:
    assessment_round = factories.assessment_round(session, catalog)
    assert assessment_round.id is not None
    row = RoundResult(round_id=assessment_round.id, label=reads.ORIGINAL)
    reads.write(row, result)
    session.add(row)
    session.commit()
    session.expire_all()  # read back what the database holds, not the object written
    loaded = reads.load_result(session, assessment_round.id)
    assert loaded is not None
    return loaded


def _catalog_order(catalog: Catalog, result: TeamResult) -> tuple[dict[str, list[str]], list[str]]:
    subs = {
        dimension: [
            sub.id for sub in catalog.instruments[dimension].sub_dimensions if sub.id in raw
        ]
        for dimension, raw in ((d, r.sub_dimensions) for d, r in result.dimensions.items())
    }
    artifacts: list[str] = []
    if result.handoff is not None:
        levels = catalog.instruments["handoff"].levels
        assert levels is not None
        artifacts = [a.id for a in levels.artifacts if a.id in result.handoff.artifacts]
    return subs, artifacts


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_a_stored_result_reads_back_in_the_rubric_order(
    session: Session, catalog: Catalog, path: Path
) -> None:
    assessment = assess_file(catalog, read_answers_file(path, catalog))
    engine = to_data(catalog, assessment)
    result = TeamResult.from_assessment(catalog, assessment)

    loaded = _stored_and_read(session, catalog, result)

    assert list(loaded.dimensions) == list(engine["dimensions"])
    subs, artifacts = _catalog_order(catalog, result)
    assert {d: list(raw.sub_dimensions) for d, raw in loaded.dimensions.items()} == subs
    assert any(len(order) > 1 for order in subs.values())
    if loaded.handoff is not None:
        assert list(loaded.handoff.artifacts) == artifacts
    # every mapping (classifications, answers and their counts, the trajectory's type, ...)
    # in the order the result had before it was stored
    assert list(_key_orders(loaded.to_data())) == list(_key_orders(result.to_data()))


def test_the_team_report_lists_sub_dimensions_and_artifacts_as_the_rubric_does(
    session: Session, catalog: Catalog
) -> None:
    assessment = assess_file(catalog, read_answers_file(EXAMPLES[0], catalog))
    result = TeamResult.from_assessment(catalog, assessment)
    subs, artifacts = _catalog_order(catalog, result)

    loaded = _stored_and_read(session, catalog, result)
    report = context.team_report(
        data=loaded, catalog=catalog, team="T", branding=default_branding()
    )

    titles = {
        instrument.id: {sub.id: sub.title for sub in instrument.sub_dimensions}
        for instrument in catalog.instruments.values()
    }
    for section in report.dimensions:
        shown = [title for title, _, _ in section.sub_scores]
        assert shown == [titles[section.id][sub] for sub in subs[section.id]]
    assert len(artifacts) > 1
    assert [part.id for part in report.artifacts][: len(artifacts)] == artifacts


def test_the_engine_order_survives_a_comparison_and_the_stored_form_is_the_api_form(
    session: Session, catalog: Catalog
) -> None:
    assessment = assess_file(catalog, read_answers_file(EXAMPLES[0], catalog))
    data = to_data(catalog, assessment)
    data["comparison"] = {
        "dimensions": {"collaboration": 1.0, "debt": -2.0, "handoff": None},
        "questions": {"collaboration.q01": 1.0, "debt.q10": 0.5, "handoff.q2": -1.0},
        "adopted_moved": {"ci": "up", "code-review": "same"},
        "previous_rubric": None,
        "not_compared": None,
    }
    result = parse_stored(data)

    loaded = _stored_and_read(session, catalog, result)

    assert loaded.comparison is not None
    assert list(loaded.comparison.questions) == ["collaboration.q01", "debt.q10", "handoff.q2"]
    assert list(_key_orders(loaded.to_data())) == list(_key_orders(result.to_data()))
    # what the API returns and the CLI prints carries nothing but the result's own fields
    assert set(loaded.to_data()) == set(data)


def test_a_result_stored_before_its_order_was_recorded_keeps_the_order_it_was_stored_in(
    session: Session, catalog: Catalog
) -> None:
    """A row written before this release (no recorded order) reads as it always did: the
    mappings the engine sorts are sorted again; the rubric-ordered ones keep the stored order."""
    assessment = assess_file(catalog, read_answers_file(EXAMPLES[0], catalog))
    old = copy.deepcopy(to_data(catalog, assessment))
    assessment_round = factories.assessment_round(session, catalog)
    assert assessment_round.id is not None
    session.add(RoundResult(round_id=assessment_round.id, label="original", computed=old))
    session.commit()
    session.expire_all()

    loaded = reads.load_result(session, assessment_round.id)

    assert loaded is not None
    assert list(loaded.dimensions) == list(old["dimensions"])
    assert list(loaded.answers) == sorted(old["answers"])
    assert loaded == parse_stored(old)
