"""Anonymity against an insider: a lead or respondent who knows their own answers and saves
everything they are shown must not single out another respondent's answers (issue 17).

Each test reproduces one finding with the routes a curious insider would use: the API's
results, the lead's own answers through the round's "answer" route, the report's previous round.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.accounts import api_tokens, privacy
from app.config import Settings
from app.db import utcnow
from app.models import (
    AssessmentRound,
    Respondent,
    Response,
    ResponseStatus,
    RoundResult,
    User,
    UserRole,
)
from app.results.service import round_settings
from app.surveys.service import resume_token_hash
from app.workspace import rounds
from tests.accounts import helpers as account_helpers
from tests.mail.conftest import Mailbox
from tests.results.test_swap_views import _stable
from tests.workspace import helpers

ROLES_OF_THREE = ("data_scientist", "ml_engineer", "product_manager")


def _bearer(session: Session, settings: Settings, user: User) -> dict[str, str]:
    created = api_tokens.create(session=session, settings=settings, user=user, name="insider")
    session.commit()
    return {"authorization": f"Bearer {created.token}"}


def _results(client: TestClient, lead: helpers.Lead, round_id: int, bearer: Any) -> Any:
    got = client.get(f"/api{lead.team_url}/rounds/{round_id}/results", headers=bearer)
    assert got.status_code == 200, got.text
    return got.json()


def _close(client: TestClient, lead: helpers.Lead, round_id: int, bearer: Any) -> None:
    closed = client.post(f"/api{lead.team_url}/rounds/{round_id}/close", headers=bearer)
    assert closed.status_code == 200, closed.text


def _invited(
    session: Session,
    settings: Settings,
    assessment_round: AssessmentRound,
    role: str,
    **levels: Any,
) -> Response:
    """A response submitted through the round's invitation link (as every respondent's is)."""
    issued = rounds.issue_links(
        session=session,
        settings=settings,
        assessment_round=assessment_round,
        roles=["data_scientist"],
        created_by_id=None,
    )
    response = helpers.submit(session, assessment_round, role, **levels)
    respondent = session.get(Respondent, response.respondent_id)
    assert respondent is not None
    respondent.invitation_id = issued["data_scientist"].invitation.id
    session.add(respondent)
    session.flush()
    return response


def _answer_as(
    session: Session, settings: Settings, assessment_round: AssessmentRound, user: User
) -> Response:
    """``user``'s own answers through the round's "answer" route (their personal link)."""
    path = rounds.lead_response_path(
        session=session, settings=settings, assessment_round=assessment_round, user_id=user.id
    )
    token = path.rsplit("/", 1)[-1]
    found = session.exec(
        select(Response).where(
            Response.respondent_id
            == select(Respondent.id)
            .where(Respondent.resume_token_hash == resume_token_hash(settings, token))
            .scalar_subquery()
        )
    ).one()
    found.answers = {
        qid: {"value": value}
        for qid, value in helpers.answers_for(round_settings(assessment_round), "team_lead").items()
    }
    found.status = ResponseStatus.submitted
    found.submitted_at = utcnow()
    session.add(found)
    session.flush()
    return found


def test_one_more_submission_while_open_reveals_nothing(
    client: TestClient, session: Session, settings: Settings
) -> None:
    """Saving the results before and after one more submission gave that respondent's
    answers: the results were recomputed after every submission while the round was open."""
    lead = helpers.lead(session, settings)
    bearer = _bearer(session, settings, lead.user)
    assessment_round = helpers.team_round(session, lead.team)
    assert assessment_round.id is not None
    for role in ROLES_OF_THREE:
        _invited(session, settings, assessment_round, role, other="low")
    session.commit()
    before = _results(client, lead, assessment_round.id, bearer)
    _invited(session, settings, assessment_round, "software_engineer", other="high")
    session.commit()
    after = _results(client, lead, assessment_round.id, bearer)

    assert (before["submitted"], after["submitted"]) == (3, 4)  # progress only
    assert before["result"] == after["result"]
    assert after["result"] is None


def test_the_leads_own_answers_do_not_count_toward_the_threshold(
    client: TestClient, session: Session, settings: Settings
) -> None:
    """Threshold 2: the lead plus one respondent made results visible, and subtracting the
    lead's own answers gave the other person's answers exactly."""
    lead = helpers.lead(session, settings)
    bearer = _bearer(session, settings, lead.user)
    assessment_round = helpers.team_round(session, lead.team, results_min=2)
    assert assessment_round.id is not None
    _answer_as(session, settings, assessment_round, lead.user)
    _invited(session, settings, assessment_round, "data_scientist", other="high")
    session.commit()
    _close(client, lead, assessment_round.id, bearer)

    seen = _results(client, lead, assessment_round.id, bearer)
    assert seen["result"] is None
    assert seen["visible"] is False


def test_an_org_leaders_answer_does_not_tip_two_responses_into_visible(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    leader = account_helpers.user(session, UserRole.org_leader, name="Olga Leader")
    account_helpers.assign(session, leader, lead.organisation)
    bearer = _bearer(session, settings, leader)
    assessment_round = helpers.team_round(session, lead.team)
    assert assessment_round.id is not None
    _answer_as(session, settings, assessment_round, leader)
    _invited(session, settings, assessment_round, "data_scientist", other="high")
    _invited(session, settings, assessment_round, "ml_engineer", other="low")
    session.commit()
    _close(client, lead, assessment_round.id, bearer)

    seen = _results(client, lead, assessment_round.id, bearer)
    assert seen["result"] is None


def test_a_pair_in_a_role_group_never_shows_as_a_group(
    client: TestClient, session: Session, settings: Settings
) -> None:
    """With a role-group minimum of 2, each member of a pair computed the other's answer
    from the group mean in "where roles see things differently"."""
    lead = helpers.lead(session, settings)
    bearer = _bearer(session, settings, lead.user)
    assessment_round = helpers.team_round(session, lead.team)
    assert assessment_round.id is not None
    for role, level in (
        ("data_scientist", "mid"),
        ("data_scientist", "mid"),
        ("other", "mid"),  # with the pair, a rest of three outside the groups shown
        ("ml_engineer", "high"),
        ("software_engineer", "high"),
        ("ml_engineer", "high"),
        ("product_manager", "low"),
        ("product_manager", "low"),
        ("product_manager", "low"),
    ):
        _invited(session, settings, assessment_round, role, other=level, handoff=level)
    session.commit()
    _close(client, lead, assessment_round.id, bearer)

    seen = _results(client, lead, assessment_round.id, bearer)
    assert seen["result"] is not None
    groups = {
        group
        for gap in seen["result"]["perception_gaps"]
        for group in (gap["lower_group"], gap["higher_group"])
    }
    assert groups == {"engineering", "product_and_lead"}  # three each, and they differ
    assert "data_science" not in groups


def test_a_previous_round_hidden_from_its_viewers_is_not_compared(
    client: TestClient, session: Session, settings: Settings
) -> None:
    """The report and the stored deltas used a previous round whose results were hidden."""
    lead = helpers.lead(session, settings)
    bearer = _bearer(session, settings, lead.user)
    first = helpers.team_round(session, lead.team, results_min=2)
    assert first.id is not None
    first.created_at = utcnow().replace(year=2025)
    session.add(first)
    _answer_as(session, settings, first, lead.user)
    _invited(session, settings, first, "data_scientist", other="low")
    session.commit()
    _close(client, lead, first.id, bearer)
    second = helpers.team_round(session, lead.team, title="Round 2")
    assert second.id is not None
    for role in ("data_scientist", "ml_engineer", "software_engineer"):
        _invited(session, settings, second, role, other="high")
    session.commit()
    _close(client, lead, second.id, bearer)

    seen = _results(client, lead, second.id, bearer)
    assert seen["result"] is not None
    assert seen["result"]["comparison"] is None
    url = f"{lead.team_url}/rounds/{second.id}"
    report = client.get(f"{url}/report.html", headers=lead.headers)
    assert report.status_code == 200
    assert "Previous round" not in report.text


# ---------------------------------------------------------------- published once


def test_closing_with_fewer_than_the_threshold_publishes_nothing(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    bearer = _bearer(session, settings, lead.user)
    assessment_round = helpers.team_round(session, lead.team)
    assert assessment_round.id is not None
    for role in ROLES_OF_THREE[:2]:
        _invited(session, settings, assessment_round, role)
    session.commit()
    _close(client, lead, assessment_round.id, bearer)

    assert _results(client, lead, assessment_round.id, bearer)["result"] is None
    page = client.get(f"{lead.team_url}/rounds/{assessment_round.id}/results", headers=lead.headers)
    assert "closed with fewer than 3 responses" in page.text
    assert (
        session.exec(select(RoundResult).where(RoundResult.round_id == assessment_round.id)).first()
        is None
    )


def test_a_round_closed_by_date_publishes_once_and_never_reopens(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    bearer = _bearer(session, settings, lead.user)
    assessment_round = helpers.team_round(session, lead.team)
    assert assessment_round.id is not None
    for role in ROLES_OF_THREE:
        _invited(session, settings, assessment_round, role)
    assessment_round.closes_at = utcnow() - timedelta(hours=1)  # the closing date passed
    session.add(assessment_round)
    session.commit()

    published = _results(client, lead, assessment_round.id, bearer)
    assert published["result"] is not None
    assert published["final"] is True
    later = (utcnow() + timedelta(days=7)).date().isoformat()
    extended = client.post(
        f"/api{lead.team_url}/rounds/{assessment_round.id}/extend",
        json={"closes_on": later},
        headers=bearer,
    )
    assert extended.status_code == 409
    assert _results(client, lead, assessment_round.id, bearer)["result"] == published["result"]


def test_an_erasure_after_close_withdraws_the_result(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    bearer = _bearer(session, settings, lead.user)
    assessment_round = helpers.team_round(session, lead.team)
    assert assessment_round.id is not None
    responses = [
        _invited(session, settings, assessment_round, role)
        for role in (*ROLES_OF_THREE, "software_engineer")
    ]
    session.commit()
    _close(client, lead, assessment_round.id, bearer)
    assert _results(client, lead, assessment_round.id, bearer)["result"] is not None

    respondent = session.get(Respondent, responses[0].respondent_id)
    assert respondent is not None
    privacy.erase_respondent(session=session, respondent=respondent)
    session.commit()

    # three responses remain, but the result before and after would differ by the erased one
    assert _results(client, lead, assessment_round.id, bearer)["result"] is None
    page = client.get(f"{lead.team_url}/rounds/{assessment_round.id}/results", headers=lead.headers)
    assert "withdrawn after a request to erase answers" in page.text


# ---------------------------------------------------------------- e-mail invitations

# two invitees of one role and one of another: swapping which of the two submitted must
# change nothing the lead obtains
INVITEES = {
    "data_scientist": ("ana.one@example.com", "bo.two@example.com"),
    "ml_engineer": ("cy.three@example.com",),
}
ADDRESSES = tuple(address for addresses in INVITEES.values() for address in addresses)
MAIL_LINK = re.compile(r"http://[^\s<>\"]+/r/([A-Za-z0-9_\-]+)")


def _link_token(mailbox: Mailbox, address: str, *, since: int) -> str:
    """The link in the first message to ``address`` among those received after ``since``."""
    message = next(r.message for r in mailbox.received[since:] if address in r.recipients)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    found = MAIL_LINK.search(body.get_content())
    assert found is not None
    return found.group(1)


def _lead_obtains(
    client: TestClient, mail_engine: Engine, settings: Settings, mailbox: Mailbox, submitter: str
) -> tuple[str, list[str]]:
    """A lead invites ``INVITEES`` by e-mail, ``submitter`` submits through the link their
    invitation brought, and the lead sends reminders: everything the lead then obtains (the
    round page and its e-mail summary, the round and results in the API, the results page,
    the redirect after reminding), normalised, and the raw texts (to search for addresses)."""
    with Session(mail_engine, expire_on_commit=False) as session:
        lead = helpers.lead(session, settings)
        assessment_round = helpers.team_round(session, lead.team)
        bearer = _bearer(session, settings, lead.user)
        session.commit()
        round_id = assessment_round.id
    url = f"{lead.team_url}/rounds/{round_id}"
    before = len(mailbox.received)
    form = {f"addresses_{role}": "\n".join(found) for role, found in INVITEES.items()}
    invited = client.post(
        f"{url}/email/invite", data=form, headers=lead.headers, follow_redirects=False
    )
    assert invited.status_code == 303, invited.text[:300]
    mailbox.wait_for(before + len(ADDRESSES))
    token = _link_token(mailbox, submitter, since=before)
    with Session(mail_engine) as session:
        response = session.exec(
            select(Response)
            .join(Respondent, col(Respondent.id) == col(Response.respondent_id))
            .where(Respondent.resume_token_hash == resume_token_hash(settings, token))
        ).one()
        survey = round_settings(session.get_one(AssessmentRound, round_id))
        chosen = helpers.answers_for(survey, "data_scientist")
        response.answers = {qid: {"value": value} for qid, value in chosen.items()}
        response.status = ResponseStatus.submitted
        response.submitted_at = utcnow()
        session.add(response)
        session.commit()
    reminded = client.post(f"{url}/email/remind", headers=lead.headers, follow_redirects=False)
    assert reminded.status_code == 303, reminded.text[:300]
    mailbox.wait_for(before + 2 * len(ADDRESSES) - 1)  # everyone but the submitter
    # the server counts a message once the SMTP server has accepted it, a moment after it
    # arrives: wait for the lead's totals to settle before comparing them
    deadline = time.monotonic() + 10
    while True:
        page = client.get(reminded.headers["location"], headers=lead.headers)
        summary = page.context["page"].email.summary  # type: ignore[attr-defined]
        if summary.reminders_sent == len(ADDRESSES) - 1 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    results_page = client.get(f"{url}/results", headers=lead.headers)
    api_round = client.get(f"/api{url}", headers=bearer)
    api_results = client.get(f"/api{url}/results", headers=bearer)
    api_rounds = client.get(f"/api{lead.team_url}/rounds", headers=bearer)
    assert page.status_code == api_round.status_code == api_rounds.status_code == 200
    raw = [
        page.text,
        results_page.text,
        api_round.text,
        api_results.text,
        api_rounds.text,
        reminded.headers["location"],
    ]
    seen = {
        "page": " ".join(helpers.document(page.text).text_content().split()),
        "email": dataclasses.asdict(page.context["page"].email.summary),  # type: ignore[attr-defined]
        "results_page": (
            results_page.status_code,
            " ".join(helpers.document(results_page.text).text_content().split()),
        ),
        "api_round": api_round.json(),
        "api_results": (api_results.status_code, api_results.json()),
        "api_rounds": api_rounds.json(),
    }
    return json.dumps(_stable(seen), sort_keys=True, default=str), raw


def test_e_mail_reminders_and_the_leads_views_never_tell_who_submitted(
    mail_client: TestClient, mail_engine: Engine, mail_settings: Settings, mailbox: Mailbox
) -> None:
    """Two invitees of the same role, one of whom submitted: the lead obtains the same whichever
    of them it was (totals only, reminders included), no page or API answer the lead gets
    holds an invited address, and no message goes to the lead."""
    ana, ana_raw = _lead_obtains(mail_client, mail_engine, mail_settings, mailbox, ADDRESSES[0])
    bo, bo_raw = _lead_obtains(mail_client, mail_engine, mail_settings, mailbox, ADDRESSES[1])
    assert ana == bo
    for text in (*ana_raw, *bo_raw):
        assert not any(address in text for address in ADDRESSES)
    # every message went to an invitee (none to the lead), reminders only to those who had
    # not submitted
    assert {a for r in mailbox.received for a in r.recipients} == set(ADDRESSES)
    reminded = [r.recipients for r in mailbox.received if "reminder" in str(r.message["Subject"])]
    ana_address, bo_address, cy_address = ADDRESSES
    assert sorted(address for recipients in reminded for address in recipients) == sorted(
        [bo_address, cy_address, ana_address, cy_address]
    )
