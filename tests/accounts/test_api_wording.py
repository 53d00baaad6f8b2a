"""The API speaks to API users: `GET /api/teams` returns each team's real business unit, JSON
errors say what to send instead of what to click, and a script drives the survey API with the
resume token alone (no cookie, so no CSRF token), with errors worded for it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.accounts import api_tokens, tokens
from app.config import Settings
from tests.accounts import helpers

BROWSER_WORDS = ("page", "reload", "go back", "tab", "click")


def _bearer(session: Session, settings: Settings, member: Any) -> dict[str, str]:
    created = api_tokens.create(session=session, settings=settings, user=member, name="script")
    return {"authorization": f"Bearer {created.token}"}


@pytest.fixture
def alpha(session: Session, settings: Settings) -> helpers.Tenant:
    tenant = helpers.tenant(session, settings, "Alpha")
    session.commit()
    return tenant


def _no_browser_words(detail: str) -> None:
    lowered = detail.lower()
    assert not [word for word in BROWSER_WORDS if word in lowered], detail


def test_the_team_list_returns_each_teams_business_unit(
    client: TestClient, session: Session, settings: Settings, alpha: helpers.Tenant
) -> None:
    headers = _bearer(session, settings, alpha.consultant)
    session.commit()
    listed = {team["id"]: team for team in client.get("/api/teams", headers=headers).json()}
    assert listed[alpha.team.id]["business_unit_id"] == alpha.unit.id
    assert listed[alpha.other_team.id]["business_unit_id"] is None
    single = client.get(f"/api/teams/{alpha.team.id}", headers=headers).json()
    assert single["business_unit_id"] == listed[alpha.team.id]["business_unit_id"]


@pytest.mark.parametrize("path", ["/api/teams/999999", "/api/no-such-endpoint"])
def test_a_json_404_speaks_of_ids_and_paths_not_pages(
    client: TestClient, session: Session, settings: Settings, alpha: helpers.Tenant, path: str
) -> None:
    headers = _bearer(session, settings, alpha.consultant)
    session.commit()
    response = client.get(path, headers=headers)
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert "We could not find that page" not in detail
    assert "/api/docs" in detail
    _no_browser_words(detail)


def test_an_api_call_with_the_session_cookie_but_no_csrf_token_says_what_to_send(
    client: TestClient, session: Session, settings: Settings, alpha: helpers.Tenant
) -> None:
    signed_in = helpers.sign_in(session, settings, alpha.team_lead)
    session.commit()
    response = client.delete("/api/tokens/1", headers=signed_in.headers(csrf=False))
    assert response.status_code == 403
    detail = response.json()["detail"]
    assert "X-CSRF-Token" in detail
    assert "Authorization: Bearer" in detail
    _no_browser_words(detail)


def test_the_pages_keep_their_own_wording(
    client: TestClient, session: Session, settings: Settings, alpha: helpers.Tenant
) -> None:
    signed_in = helpers.sign_in(session, settings, alpha.team_lead)
    session.commit()
    page = client.get("/teams/999999", headers={**signed_in.headers(), "accept": "text/html"})
    assert page.status_code == 404
    assert "We could not find that page" in page.text


# ---------------------------------------------------------------- the survey API, token alone


def _fresh_resume_token(session: Session, settings: Settings, alpha: helpers.Tenant) -> str:
    """The tenant's respondent given a resume token this test knows."""
    token = tokens.generate_token()
    alpha.respondent.resume_token_hash = tokens.hash_token(settings, token, purpose="resume")
    session.add(alpha.respondent)
    session.commit()
    return token


def test_a_script_drives_the_survey_with_the_resume_token_alone(
    client: TestClient, session: Session, settings: Settings, alpha: helpers.Tenant
) -> None:
    token = _fresh_resume_token(session, settings, alpha)
    client.cookies.clear()
    survey = client.get(f"/api/survey/{token}")
    assert survey.status_code == 200, survey.text
    body = survey.json()
    role = client.put(f"/api/survey/{token}/role", json={"role": body["role"]})
    assert role.status_code == 200, role.text  # no cookie: no X-CSRF-Token needed
    saved = client.put(f"/api/survey/{token}/answers", json={"version": 1, "answers": {}})
    assert saved.status_code == 200, saved.text


def test_with_a_cookie_the_survey_api_still_needs_the_csrf_token_and_says_so(
    client: TestClient, session: Session, settings: Settings, alpha: helpers.Tenant
) -> None:
    token = _fresh_resume_token(session, settings, alpha)
    cookie, _ = helpers.anonymous_csrf(client, settings)
    response = client.put(
        f"/api/survey/{token}/role", json={"role": "data_scientist"}, headers={"cookie": cookie}
    )
    assert response.status_code == 403
    detail = response.json()["detail"]
    assert "X-CSRF-Token" in detail
    assert "GET /api/survey/{token}" in detail
    _no_browser_words(detail)
    with_token = client.get(f"/api/survey/{token}", headers={"cookie": cookie})
    allowed = client.put(
        f"/api/survey/{token}/role",
        json={"role": "data_scientist"},
        headers={"cookie": cookie, "x-csrf-token": with_token.json()["csrf_token"]},
    )
    assert allowed.status_code == 200, allowed.text


def test_survey_api_errors_speak_of_tokens(client: TestClient) -> None:
    client.cookies.clear()
    unknown = client.get("/api/survey/" + "x" * 43)
    assert unknown.status_code == 404
    assert "resume token" in unknown.json()["detail"]
    _no_browser_words(unknown.json()["detail"])
    invitation = client.get("/api/survey/invitations/" + "y" * 43)
    assert invitation.status_code == 404
    assert "invitation token" in invitation.json()["detail"]
    _no_browser_words(invitation.json()["detail"])
