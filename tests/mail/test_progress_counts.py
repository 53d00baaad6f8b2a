"""The round page's progress with invitations by e-mail: an invited address is not "in
progress" until its survey has something saved, and the lead sees the invitees' totals
(submitted, answering, not started) in one line, never per person (issue 22)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from app.config import Settings
from app.models import AssessmentRound
from tests.mail.conftest import Mailbox
from tests.mail.test_invitations import _token
from tests.mail.test_reminder_links import _save_first_question
from tests.workspace import helpers

INVITED = ["ana.one@example.com", "bo.two@example.com", "cy.three@example.com"]
RESPONSES = "//section[@aria-labelledby='responses-title']"


def _rows(html: str) -> list[str]:
    rows = helpers.document(html).xpath(f"{RESPONSES}//tbody/tr")
    return [" ".join(cell.text_content().strip() for cell in row) for row in rows]


def test_invitees_count_as_in_progress_only_once_they_answer_and_as_totals_by_e_mail(
    mail_client: TestClient, mail_engine: Engine, mail_settings: Settings, mailbox: Mailbox
) -> None:
    with Session(mail_engine, expire_on_commit=False) as session:
        lead = helpers.lead(session, mail_settings)
        assessment_round: AssessmentRound = helpers.team_round(session, lead.team)
        for _ in range(3):  # enough data scientists for the role to show its counts
            helpers.submit(session, assessment_round, "data_scientist", store=False)
        session.commit()
    url = f"{lead.team_url}/rounds/{assessment_round.id}"
    invited = mail_client.post(
        f"{url}/email/invite",
        data={"addresses_data_scientist": "\n".join(INVITED)},
        headers=lead.headers,
        follow_redirects=False,
    )
    assert invited.status_code == 303
    mailbox.wait_for(3)

    page = mail_client.get(url, headers=lead.headers).text
    # invited is not in progress: nobody of the three has opened their survey yet
    assert _rows(page) == ["Data scientist 0 3"]
    responses = " ".join(helpers.texts(page, f"{RESPONSES}//p"))
    assert "3 submitted in all" in responses
    assert "3 invited by e-mail have not started yet" in responses
    totals = " ".join(helpers.texts(page, "//*[@data-testid='email-totals']"))
    assert "3 addresses invited: 0 submitted, 0 answering, 3 not started yet" in totals

    # one invitee opens the link and saves an answer: one more in progress, still no names
    token = _token(mailbox.to("bo.two@example.com")[0])
    _save_first_question(mail_client, token, 1)
    page = mail_client.get(url, headers=lead.headers).text
    assert _rows(page) == ["Data scientist 1 3"]
    totals = " ".join(helpers.texts(page, "//*[@data-testid='email-totals']"))
    assert "3 addresses invited: 0 submitted, 1 answering, 2 not started yet" in totals
    assert "2 invited by e-mail have not started yet" in " ".join(
        helpers.texts(page, f"{RESPONSES}//p")
    )
    assert "example.com" not in page
