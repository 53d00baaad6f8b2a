"""A round's repository check through the API: attach a signals file, read the comparison,
remove it; scoped to the tenant, refused when bad, never touching the stored result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.config import Settings
from app.models import AssessmentRound, AuditEvent, Response, ResponseStatus, RoundResult
from app.repository_check.cli import signals_json
from app.repository_check.scan import scan_repository
from app.rubric.output import to_data
from tests.accounts import helpers
from tests.reports import published
from tests.repository import common, shapes


@pytest.fixture
def world(session: Session, settings: Settings) -> dict[str, Any]:
    alpha = helpers.tenant(session, settings, "Alpha")
    bravo = helpers.tenant(session, settings, "Bravo")
    data = to_data(common.catalog(), common.assessment())
    for tenant in (alpha, bravo):
        assert tenant.round.id is not None
        published.publish(session, tenant.round, 4)
        session.add(
            RoundResult(
                round_id=tenant.round.id,
                computed=data,
                respondent_count=1,
                rubric_versions=tenant.round.rubric_versions,
                final=True,
            )
        )
    # a solo round with its one response submitted: its results show to its people
    alpha.round.mode = "solo"
    response = session.exec(
        select(Response).where(Response.round_id == alpha.round.id).order_by(col(Response.id))
    ).first()
    assert response is not None
    response.status = ResponseStatus.submitted
    session.add_all([alpha.round, response])
    people = {
        "consultant": helpers.sign_in(session, settings, alpha.consultant),
        "org_leader": helpers.sign_in(session, settings, alpha.org_leader),
        "team_lead": helpers.sign_in(session, settings, alpha.team_lead),
        "bravo_consultant": helpers.sign_in(session, settings, bravo.consultant),
    }
    session.commit()
    return {"alpha": alpha, "bravo": bravo, **people}


def signals_body(tmp_path: Path, shape: str) -> dict[str, Any]:
    signal_catalog, sha256 = common.signals()
    readings = scan_repository(
        shapes.build(shape, tmp_path / shape), signal_catalog, signals_sha256=sha256
    )
    body: dict[str, Any] = json.loads(signals_json(readings))
    return body


def path_of(tenant: Any) -> str:
    return f"/api/teams/{tenant.team.id}/rounds/{tenant.round.id}/repository-signals"


def test_a_lead_attaches_signals_and_reads_the_comparison(
    client: TestClient, world: dict[str, Any], session: Session, tmp_path: Path
) -> None:
    alpha = world["alpha"]
    lead = world["team_lead"].headers()
    before = client.get(path_of(alpha), headers=lead)
    assert before.status_code == 200, before.text
    assert before.json() == {
        "round_id": alpha.round.id,
        "attached": False,
        "repository": None,
        "signals_version": None,
        "comparison": None,
    }
    stored_before = session.exec(
        select(RoundResult).where(RoundResult.round_id == alpha.round.id)
    ).one()
    computed_before = json.dumps(stored_before.computed, sort_keys=True)

    attached = client.put(
        path_of(alpha), json=signals_body(tmp_path, "hacks_and_todos"), headers=lead
    )
    assert attached.status_code == 200, attached.text
    assert attached.json()["attached"] is True
    assert attached.json()["repository"] == "hacks_and_todos"

    read = client.get(path_of(alpha), headers=world["org_leader"].headers())
    assert read.status_code == 200, read.text
    comparison = read.json()["comparison"]
    assert comparison["counts"] == {"agrees": 0, "contradicts": 5, "silent": 6}
    assert comparison["confidence_lowered"] is True
    assert {f["question"] for f in comparison["findings"]} >= {"debt.debt_tracking"}

    session.expire_all()
    event = session.exec(
        select(AuditEvent).where(AuditEvent.action == "round.repository_signals_attached")
    ).one()
    assert event.organisation_id == alpha.org.id
    assert event.details == {"repository": "hacks_and_todos", "signals_version": "2026.1"}
    stored_after = session.exec(
        select(RoundResult).where(RoundResult.round_id == alpha.round.id)
    ).one()
    assert json.dumps(stored_after.computed, sort_keys=True) == computed_before  # no score moves

    removed = client.delete(path_of(alpha), headers=lead)
    assert removed.status_code == 200
    assert removed.json()["attached"] is False
    session.expire_all()
    round_after = session.get(AssessmentRound, alpha.round.id)
    assert round_after is not None
    assert round_after.repository_signals is None


def test_other_tenants_and_roles_cannot_attach(
    client: TestClient, world: dict[str, Any], session: Session, tmp_path: Path
) -> None:
    alpha, bravo = world["alpha"], world["bravo"]
    body = signals_body(tmp_path, "tidy_package")
    other = world["bravo_consultant"].headers()
    assert client.put(path_of(alpha), json=body, headers=other).status_code == 404
    assert client.get(path_of(alpha), headers=other).status_code == 404
    assert (
        client.put(path_of(alpha), json=body, headers=world["org_leader"].headers()).status_code
        == 404
    )
    own = client.put(path_of(bravo), json=body, headers=other)
    assert own.status_code == 200, own.text
    session.expire_all()
    untouched = session.get(AssessmentRound, alpha.round.id)
    assert untouched is not None
    assert untouched.repository_signals is None


def test_bad_signals_files_are_refused_and_nothing_changes(
    client: TestClient, world: dict[str, Any], session: Session, tmp_path: Path
) -> None:
    alpha = world["alpha"]
    consultant = world["consultant"].headers()
    old = signals_body(tmp_path, "tidy_package")
    old["signals_version"] = "1999.1"
    refused = client.put(path_of(alpha), json=old, headers=consultant)
    assert refused.status_code == 422
    assert "another version of the repository signals" in refused.json()["detail"]
    for body in (
        {},
        {"format": "something else"},
        {**signals_body(tmp_path, "notebooks_only"), "x": 1},
    ):
        assert client.put(path_of(alpha), json=body, headers=consultant).status_code == 422
    session.expire_all()
    stored = session.get(AssessmentRound, alpha.round.id)
    assert stored is not None
    assert stored.repository_signals is None


def test_the_comparison_waits_for_visible_results(
    client: TestClient, world: dict[str, Any], session: Session, tmp_path: Path
) -> None:
    bravo = world["bravo"]
    other = world["bravo_consultant"].headers()
    body = signals_body(tmp_path, "tidy_package")
    assert client.put(path_of(bravo), json=body, headers=other).status_code == 200
    bravo.round.status = "open"  # an open team survey shows no results, so no comparison
    session.add(bravo.round)
    session.commit()
    waiting = client.get(path_of(bravo), headers=other)
    assert waiting.status_code == 409, waiting.text
