"""The workspace's API twins: rounds, links, results, targets and adoption, with the same
rules as the pages (tenancy, the anonymity rule, bad input refused with nothing changed)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from app.accounts import api_tokens
from app.config import Settings
from app.db import utcnow
from app.models import AdoptedPractice, AssessmentRound, RoundResult, Target
from tests import factories
from tests.workspace import helpers


@pytest.fixture
def lead(session: Session, settings: Settings) -> helpers.Lead:
    return helpers.lead(session, settings)


@pytest.fixture
def bearer(session: Session, settings: Settings, lead: helpers.Lead) -> dict[str, str]:
    created = api_tokens.create(session=session, settings=settings, user=lead.user, name="script")
    session.commit()
    return {"authorization": f"Bearer {created.token}"}


def _round(client: TestClient, lead: helpers.Lead, headers: dict[str, str], **body: Any) -> Any:
    payload = {"mode": "team_survey", "kind": "quick", "stage": "prototype"} | body
    response = client.post(f"/api{lead.team_url}/rounds", json=payload, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_round_is_started_with_links_and_listed(
    client: TestClient,
    session: Session,
    settings: Settings,
    lead: helpers.Lead,
    bearer: dict[str, str],
) -> None:
    created = _round(client, lead, bearer, roles=["data_scientist", "software_engineer"])
    assert created["round"]["status"] == "open"
    assert created["round"]["results_visible"] is False
    assert [link["role"] for link in created["links"]] == ["data_scientist", "software_engineer"]
    assert all(link["url"].startswith(settings.base_url + "/i/") for link in created["links"])
    assert created["answer_url"] is None
    listed = client.get(f"/api{lead.team_url}/rounds", headers=bearer).json()
    assert [r["id"] for r in listed] == [created["round"]["id"]]
    detail = client.get(f"/api{lead.team_url}/rounds/{created['round']['id']}", headers=bearer)
    assert [link["status"] for link in detail.json()["links"]] == ["active", "active"]
    solo = _round(client, lead, bearer, mode="solo")
    assert solo["links"] == []
    assert solo["answer_url"].startswith(settings.base_url + "/r/")


def test_a_browser_session_needs_the_csrf_token(client: TestClient, lead: helpers.Lead) -> None:
    refused = client.post(
        f"/api{lead.team_url}/rounds",
        json={"mode": "solo", "stage": "prototype"},
        headers=lead.signed_in.headers(csrf=False),
    )
    assert refused.status_code == 403
    assert _round(client, lead, lead.headers, mode="solo")["round"]["mode"] == "solo"


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "team_survey", "stage": "finished"},
        {"mode": "team_survey", "stage": "prototype", "roles": ["boss"]},
        {"mode": "team_survey", "stage": "prototype", "results_min": 1},
        {"mode": "team_survey", "stage": "prototype", "instruments": ["astrology"]},
        {"mode": "team_survey", "stage": "prototype", "closes_on": "1999-01-01"},
        {"mode": "team_survey", "stage": "prototype", "surprise": True},
        {"stage": "prototype"},
    ],
)
def test_bad_input_is_refused_and_creates_nothing(
    client: TestClient, session: Session, lead: helpers.Lead, bearer: dict[str, str], body: Any
) -> None:
    response = client.post(f"/api{lead.team_url}/rounds", json=body, headers=bearer)
    assert response.status_code in (400, 422), response.text
    assert response.json()["detail"]
    assert session.exec(select(func.count()).select_from(AssessmentRound)).one() == 0


def test_links_are_made_revoked_and_extended(
    client: TestClient, lead: helpers.Lead, bearer: dict[str, str]
) -> None:
    created = _round(client, lead, bearer, roles=["data_scientist"])
    base = f"/api{lead.team_url}/rounds/{created['round']['id']}"
    more = client.post(f"{base}/invitations", json={"roles": ["ml_engineer"]}, headers=bearer)
    assert more.status_code == 201
    assert more.json()[0]["role"] == "ml_engineer"
    extended = client.post(
        f"{base}/invitations/extend", json={"role": "ml_engineer"}, headers=bearer
    )
    assert extended.json()["use_limit"] == 20
    revoked = client.post(
        f"{base}/invitations/revoke", json={"role": "ml_engineer"}, headers=bearer
    )
    assert revoked.status_code == 204
    again = client.post(f"{base}/invitations/revoke", json={"role": "ml_engineer"}, headers=bearer)
    assert again.status_code == 400
    later = (utcnow().date() + timedelta(days=20)).isoformat()
    moved = client.post(f"{base}/extend", json={"closes_on": later}, headers=bearer)
    assert moved.json()["closes_at"].startswith((utcnow().date() + timedelta(days=21)).isoformat())
    closed = client.post(f"{base}/close", headers=bearer)
    assert closed.json()["status"] == "closed"
    assert client.post(f"{base}/close", headers=bearer).status_code == 409


def test_results_follow_the_anonymity_rule_and_are_the_stored_result(
    client: TestClient, session: Session, lead: helpers.Lead, bearer: dict[str, str]
) -> None:
    assessment_round = helpers.team_round(session, lead.team)
    helpers.submit(session, assessment_round, "data_scientist")
    helpers.submit(session, assessment_round, "ml_engineer")
    session.commit()
    url = f"/api{lead.team_url}/rounds/{assessment_round.id}"
    hidden = client.get(f"{url}/results", headers=bearer).json()
    assert hidden["visible"] is False
    assert hidden["result"] is None
    assert (hidden["submitted"], hidden["needed"]) == (2, 3)
    assert client.post(f"{url}/rescore", headers=bearer).status_code == 409
    helpers.submit(session, assessment_round, "product_manager")
    session.commit()
    # published once, at close
    assert client.get(f"{url}/results", headers=bearer).json()["result"] is None
    assert client.post(f"{url}/close", headers=bearer).status_code == 200
    shown = client.get(f"{url}/results", headers=bearer).json()
    assert shown["visible"] is True
    stored = session.exec(
        select(RoundResult).where(RoundResult.round_id == assessment_round.id)
    ).one()
    # the stored result, less the figures of role groups too small to show (one person each)
    assert shown["result"]["dimensions"] == stored.computed["dimensions"]
    assert shown["result"]["perception_gaps"] == []
    assert shown["labels"] == ["original"]
    assert shown["upgrade"] is None
    assert client.get(f"{url}/results?label=rescored-x", headers=bearer).status_code == 404


def test_targets_and_adoption(
    client: TestClient, session: Session, lead: helpers.Lead, bearer: dict[str, str]
) -> None:
    assessment_round = helpers.team_round(session, lead.team, mode="solo")
    helpers.submit(session, assessment_round, "team_lead")
    session.commit()
    url = f"/api{lead.team_url}"
    saved = client.put(
        f"{url}/targets",
        json={"targets": {"collaboration": "established", "handoff": "2"}},
        headers=bearer,
    )
    assert saved.json() == {"collaboration": "established", "handoff": "2"}
    removed = client.put(f"{url}/targets", json={"targets": {"handoff": None}}, headers=bearer)
    assert removed.json() == {"collaboration": "established"}
    refused = client.put(f"{url}/targets", json={"targets": {"debt": "heroic"}}, headers=bearer)
    assert refused.status_code == 400
    assert client.get(f"{url}/targets", headers=bearer).json() == {"collaboration": "established"}
    result = client.get(f"{url}/rounds/{assessment_round.id}/results", headers=bearer).json()
    assert [t["dimension"] for t in result["result"]["targets"]] == ["collaboration"]

    adopted = client.put(f"{url}/adopted/model_registry", headers=bearer)
    assert [a["practice"] for a in adopted.json()] == ["model_registry"]
    assert client.put(f"{url}/adopted/model_registry", headers=bearer).status_code == 200
    assert client.put(f"{url}/adopted/perpetual_motion", headers=bearer).status_code == 400
    assert client.delete(f"{url}/adopted/model_registry", headers=bearer).status_code == 204
    assert client.get(f"{url}/adopted", headers=bearer).json() == []
    assert session.exec(select(func.count()).select_from(AdoptedPractice)).one() == 0


def test_another_organisations_team_is_404_whatever_the_body(
    client: TestClient, session: Session, lead: helpers.Lead, bearer: dict[str, str]
) -> None:
    other = factories.team(session, factories.organisation(session, "Other Org"), name="Hidden")
    hidden_round = helpers.team_round(session, other)
    session.commit()
    base = f"/api/teams/{other.id}"
    assert client.get(f"{base}/rounds", headers=bearer).status_code == 404
    assert client.post(f"{base}/rounds", json={}, headers=bearer).status_code == 404
    assert client.put(f"{base}/targets", json={"x": 1}, headers=bearer).status_code == 404
    assert client.get(f"{base}/rounds/{hidden_round.id}/results", headers=bearer).status_code == 404
    # a round of another team under one's own team is a 404 too
    mine = f"/api{lead.team_url}/rounds/{hidden_round.id}"
    assert client.post(f"{mine}/close", headers=bearer).status_code == 404
    assert session.exec(select(func.count()).select_from(Target)).one() == 0
    session.refresh(hidden_round)
    assert hidden_round.status == "open"
