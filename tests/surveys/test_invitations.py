"""Invitation links: one per role, hashed, expiring, single-purpose, and indistinguishable
when they do not work; starting creates a pseudonymous respondent with a resume link."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.accounts.tokens import hash_token
from app.config import Settings
from app.db import utcnow
from app.models import Invitation, Respondent, Response
from app.surveys import invitations
from app.surveys.pages import WelcomePage
from tests.rendered import page_of
from tests.surveys import helpers


def _neutral(text: str) -> str:
    """A page without its request id, to compare two error pages."""
    return re.sub(r"<code>[0-9a-f]+</code>", "<code></code>", text)


def test_a_link_is_a_long_token_stored_only_as_its_hash(
    session: Session, settings: Settings
) -> None:
    assessment_round = helpers.team_round(session)
    issued = invitations.create_invitation(
        session=session, settings=settings, assessment_round=assessment_round, role="ml_engineer"
    )
    assert len(issued.token) >= 43  # 256 bits, URL-safe
    stored = session.get(Invitation, issued.invitation.id)
    assert stored is not None
    assert stored.token_hash == hash_token(settings, issued.token, purpose="invitation")
    assert issued.token not in stored.token_hash
    assert stored.expires_at > utcnow()
    assert issued.url(settings).endswith(f"/i/{issued.token}")


def test_one_link_per_role_a_new_one_replaces_the_old(
    session: Session, settings: Settings, survey_client: TestClient
) -> None:
    assessment_round = helpers.team_round(session)
    links = invitations.create_round_invitations(
        session=session, settings=settings, assessment_round=assessment_round
    )
    assert set(links) == {
        "data_scientist",
        "ml_engineer",
        "software_engineer",
        "product_manager",
        "team_lead",
        "other",
    }
    old = links["data_scientist"].token
    new = helpers.invite(session, settings, assessment_round, "data_scientist")
    assert survey_client.get(f"/i/{old}").status_code == 404
    assert survey_client.get(f"/i/{new}").status_code == 200
    active = [
        i
        for i in invitations.round_invitations(session=session, assessment_round=assessment_round)
        if i.revoked_at is None
    ]
    assert len(active) == 6


def test_the_welcome_page_explains_and_changes_nothing(
    session: Session, settings: Settings, survey_client: TestClient
) -> None:
    assessment_round = helpers.team_round(session, kind="quick", results_min=2)
    token = helpers.invite(session, settings, assessment_round, "data_scientist")
    response = survey_client.get(f"/i/{token}")
    assert response.status_code == 200
    page = page_of(response)
    assert isinstance(page, WelcomePage)
    assert page.role == "data_scientist"
    assert page.questions == helpers.quick_questions("data_scientist")
    assert page.minutes == 5  # PRODUCT.md: a quick check takes about 5 minutes
    assert page.stage_label == "Operating"
    assert page.small_group
    assert page.results_min == 2
    assert page.resume_url is None
    assert page.start_action == f"/i/{token}"
    text = helpers.document(response.text).text_content()
    assert "lowered the threshold to 2" in text
    assert "Pseudonymous" in text
    assert response.headers["cache-control"] == "no-store"
    # nothing happened: no use counted, nobody created
    invitation = session.exec(select(Invitation)).one()
    assert invitation.use_count == 0
    assert session.exec(select(Respondent)).all() == []


def test_starting_creates_a_respondent_with_a_resume_link(
    session: Session, settings: Settings, survey_client: TestClient
) -> None:
    assessment_round = helpers.team_round(session)
    token = helpers.invite(session, settings, assessment_round, "data_scientist")
    resume = helpers.start(survey_client, token, role="ml_engineer")  # role corrected
    respondent = session.exec(select(Respondent)).one()
    assert respondent.role == "ml_engineer"
    assert respondent.resume_token_hash == hash_token(settings, resume, purpose="resume")
    response = session.exec(select(Response)).one()
    assert response.status == "draft"
    assert response.answers == {}
    assert session.exec(select(Invitation)).one().use_count == 1
    first = survey_client.get(f"/r/{resume}")
    assert first.status_code == 200
    page = page_of(first)
    assert page.resume_url.endswith(f"/r/{resume}")
    assert page.title == "Your personal survey link"


@pytest.mark.parametrize("problem", ["unknown", "expired", "revoked", "used_up", "draft_round"])
def test_links_that_do_not_work_all_look_the_same(
    session: Session, settings: Settings, survey_client: TestClient, problem: str
) -> None:
    assessment_round = helpers.team_round(session)
    unknown = survey_client.get("/i/" + "x" * 43)
    issued = invitations.create_invitation(
        session=session,
        settings=settings,
        assessment_round=assessment_round,
        role="other",
        use_limit=1,
    )
    invitation = issued.invitation
    token = "y" * 43 if problem == "unknown" else issued.token
    if problem == "expired":
        invitation.expires_at = utcnow() - timedelta(seconds=1)
    elif problem == "revoked":
        invitations.revoke_invitation(session=session, invitation=invitation)
    elif problem == "used_up":
        helpers.start(survey_client, token)
    elif problem == "draft_round":
        assessment_round.status = "draft"
    session.add_all([invitation, assessment_round])
    session.flush()
    for response in (
        survey_client.get(f"/i/{token}"),
        survey_client.post(
            f"/i/{token}", data={"csrf_token": hash_token(settings, token, purpose="csrf")}
        ),
    ):
        assert response.status_code == unknown.status_code == 404
        assert _neutral(response.text) == _neutral(unknown.text)
        assert set(response.headers) == set(unknown.headers)


def test_a_closed_round_turns_every_link_into_a_closed_page(
    session: Session, settings: Settings, survey_client: TestClient
) -> None:
    assessment_round = helpers.team_round(session)
    token = helpers.invite(session, settings, assessment_round, "other")
    resume = helpers.start(
        survey_client, helpers.invite(session, settings, assessment_round, "ml_engineer")
    )
    assessment_round.closes_at = utcnow() - timedelta(minutes=1)
    session.add(assessment_round)
    session.flush()
    closed = survey_client.get(f"/i/{token}")
    assert closed.status_code == 410
    assert "has closed" in closed.text
    assert survey_client.get(f"/r/{resume}").status_code == 410
    assert survey_client.get(f"/r/{resume}/questions?page=1").status_code == 410


def test_the_use_limit_holds(
    session: Session, settings: Settings, survey_client: TestClient
) -> None:
    assessment_round = helpers.team_round(session)
    token = helpers.invite(session, settings, assessment_round, "other", use_limit=2)
    helpers.start(survey_client, token)
    helpers.start(survey_client, token)
    welcome = survey_client.get(f"/i/{token}")
    assert welcome.status_code == 404
    assert session.exec(select(Invitation)).one().use_count == 2
    assert len(session.exec(select(Respondent)).all()) == 2


def test_start_needs_the_csrf_token(
    session: Session, settings: Settings, survey_client: TestClient
) -> None:
    assessment_round = helpers.team_round(session)
    token = helpers.invite(session, settings, assessment_round, "other")
    refused = survey_client.post(f"/i/{token}", data={"role": "other"})
    assert refused.status_code == 403
    forged = survey_client.post(f"/i/{token}", data={"csrf_token": "0" * 64})
    assert forged.status_code == 403
    assert session.exec(select(Respondent)).all() == []


def test_guessing_links_is_throttled_but_a_busy_valid_link_is_not(
    session: Session, settings: Settings, survey_client: TestClient
) -> None:
    assessment_round = helpers.team_round(session)
    token = helpers.invite(session, settings, assessment_round, "other", use_limit=50)
    for _ in range(30):  # a whole office behind one address opening the same link
        assert survey_client.get(f"/i/{token}").status_code == 200
    statuses = [survey_client.get(f"/i/guess{n:040d}").status_code for n in range(25)]
    assert statuses[:20] == [404] * 20
    assert set(statuses[20:]) == {429}
    # while over the limit, even a valid link is refused to this address
    assert survey_client.get(f"/i/{token}").status_code == 429


def test_unknown_resume_links_are_neutral_and_throttled(survey_client: TestClient) -> None:
    first = survey_client.get("/r/" + "z" * 43)
    assert first.status_code == 404
    assert "could not open a survey" in first.text
    statuses = [survey_client.get(f"/r/guess{n:040d}").status_code for n in range(70)]
    assert 429 in statuses
