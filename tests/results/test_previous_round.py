"""One rule for "the previous round" (``reads.previous_shown``): the team's latest closed round
created before this one that has an original result, and only when the anonymity rule lets that
result show; the results page, the team report and the engine's comparison all follow it."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.config import QUESTIONNAIRES_DIR, Settings
from app.models import AssessmentRound, RoundResult
from app.results import reads
from app.results.service import store_round_result
from app.rubric.answers_file import assess_file, read_answers_file
from app.rubric.loader import Catalog, load_catalog
from app.rubric.output import to_data
from app.workspace import rounds
from tests import factories
from tests.workspace import helpers

QUICK_CHECK = Path(__file__).resolve().parents[2] / "examples" / "quick-check.yaml"
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(QUESTIONNAIRES_DIR)


@pytest.fixture(scope="module")
def stored_data(catalog: Catalog) -> dict[str, Any]:
    return to_data(catalog, assess_file(catalog, read_answers_file(QUICK_CHECK, catalog)))


@dataclass(frozen=True)
class Earlier:
    """A round created before the current one."""

    status: str = "closed"
    label: str | None = "original"  # the label of its one stored result; None: no result
    visible: bool = True  # whether the anonymity rule lets its result show


CASES: dict[str, tuple[tuple[Earlier, ...], int | None]] = {
    # rounds oldest first; the expected previous round's index among them, or None
    "no earlier round": ((), None),
    "an earlier closed round": ((Earlier(),), 0),
    "the latest of two closed rounds": ((Earlier(), Earlier()), 1),
    "an open round is not previous": ((Earlier(), Earlier(status="open")), 0),
    "a round without a result is skipped": ((Earlier(), Earlier(label=None)), 0),
    "a rescore alone is not a result to compare": ((Earlier(), Earlier(label="rescored-1")), 0),
    "a hidden result hides, no older one instead": ((Earlier(), Earlier(visible=False)), None),
    "a hidden older round does not matter": ((Earlier(visible=False), Earlier()), 1),
}


@pytest.mark.parametrize(("rounds", "expected"), list(CASES.values()), ids=list(CASES))
def test_the_previous_round(
    session: Session,
    catalog: Catalog,
    stored_data: dict[str, Any],
    rounds: tuple[Earlier, ...],
    expected: int | None,
) -> None:
    team = factories.team(session)
    made: list[AssessmentRound] = []
    for index, earlier in enumerate(rounds):
        assessment_round = factories.assessment_round(
            session, catalog, team, status=earlier.status, created_at=START + timedelta(days=index)
        )
        assert assessment_round.id is not None
        if earlier.label is not None:
            data = copy.deepcopy(stored_data)
            data["round"]["results_visible"] = earlier.visible
            session.add(
                RoundResult(round_id=assessment_round.id, label=earlier.label, computed=data)
            )
        made.append(assessment_round)
    current = factories.assessment_round(
        session, catalog, team, created_at=START + timedelta(days=len(rounds))
    )
    # a later round is never the previous one
    factories.assessment_round(
        session, catalog, team, status="closed", created_at=START + timedelta(days=99)
    )
    session.flush()

    shown = reads.previous_shown(session, current)
    if expected is None:
        assert shown is None
    else:
        assert shown is not None
        assert shown.round.id == made[expected].id
        assert shown.result.visible


def test_a_report_does_not_compare_with_a_round_still_below_its_threshold(
    client: TestClient, session: Session, settings: Settings
) -> None:
    """The team report (page and PDF) used any earlier round with a result; the results page
    only one the anonymity rule shows. Both follow the results page's rule now."""
    lead = helpers.lead(session, settings)
    first = helpers.team_round(session, lead.team, results_min=5)
    for role in ("data_scientist", "ml_engineer", "software_engineer"):
        helpers.submit(session, first, role, other="low", store=False)  # three: below 5
    first.created_at = START
    session.add(first)
    rounds.close_round(session=session, assessment_round=first)  # publishes nothing
    second = helpers.team_round(session, lead.team, title="Round 2")
    for role in ("data_scientist", "ml_engineer", "software_engineer"):
        helpers.submit(session, second, role, other="high", store=False)
    rounds.close_round(session=session, assessment_round=second)
    session.commit()

    url = f"{lead.team_url}/rounds/{second.id}"
    page = client.get(f"{url}/results", headers=lead.headers)
    report = client.get(f"{url}/report.html", headers=lead.headers)
    assert page.status_code == report.status_code == 200
    assert not page.context["page"].radar_has_previous  # type: ignore[attr-defined]
    assert "Previous round" not in report.text
    assert page.context["page"].data["comparison"] is None  # type: ignore[attr-defined]


def test_the_page_and_the_report_say_the_same_when_no_model_is_recommended(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    assessment_round = helpers.team_round(
        session, lead.team, instruments=["collaboration", "handoff", "debt"], status="closed"
    )
    for role in ("data_scientist", "ml_engineer", "software_engineer"):
        helpers.submit(session, assessment_round, role, store=False)
    store_round_result(session=session, assessment_round=assessment_round)  # published at close
    session.commit()

    url = f"{lead.team_url}/rounds/{assessment_round.id}"
    page = client.get(f"{url}/results", headers=lead.headers)
    report = client.get(f"{url}/report.html", headers=lead.headers)
    said = page.context["page"].recommendation.no_recommendation  # type: ignore[attr-defined]
    assert said is not None
    assert "trajectory questions" in said
    assert said in helpers.document(page.text).text_content()
    assert said in helpers.document(report.text).text_content()
