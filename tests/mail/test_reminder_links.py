"""A reminder carries the same personal link as the invitation, so a respondent answering in
an open tab keeps saving when a reminder goes out (issue 22): the link is derived from the
server's secret key and a random value of the address row, and only its hash is stored."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from app.config import Settings
from app.models import Response
from tests.mail.conftest import Mailbox
from tests.mail.test_invitations import _invite, _setup, _token
from tests.surveys import helpers as survey


def _save_first_question(client: TestClient, resume: str, number: int) -> str:
    """The open tab saves page ``number``'s first question; returns where it was sent."""
    html = client.get(f"/r/{resume}/questions?page={number}").text
    qid = survey.page_questions(html)[0]
    data = survey.with_answers(survey.form_values(html), {qid: "dont_know"}, action="next")
    saved = survey.post_form(
        client, f"/r/{resume}/questions?page={number}", data, follow_redirects=False
    )
    assert saved.status_code == 303, saved.text
    location: str = saved.headers["location"]
    return location


def test_a_reminder_resends_the_working_link_and_an_open_tab_keeps_saving(
    mail_client: TestClient, mail_engine: Engine, mail_settings: Settings, mailbox: Mailbox
) -> None:
    lead, round_id = _setup(mail_engine, mail_settings)
    _invite(mail_client, lead, round_id)
    mailbox.wait_for(3)
    token = _token(mailbox.to("bo.two@example.com")[0])

    # the respondent opens the invitation, saves page 1 and has page 2 open in a tab
    assert mail_client.get(f"/r/{token}").status_code in (200, 303)
    assert _save_first_question(mail_client, token, 1) == f"/r/{token}/questions?page=2"

    url = f"{lead.team_url}/rounds/{round_id}/email/remind"
    assert mail_client.post(url, headers=lead.headers, follow_redirects=False).status_code == 303
    mailbox.wait_for(6)
    reminder = mailbox.to("bo.two@example.com")[1]
    assert "reminder" in str(reminder["Subject"])

    # the reminder's link is the invitation's, and the open tab's next save goes through
    assert _token(reminder) == token
    text = reminder.get_body(preferencelist=("plain",))
    assert text is not None
    assert "the same personal link as in your invitation" in " ".join(text.get_content().split())
    assert reminder["List-Unsubscribe"].endswith(f"/r/{token}/unsubscribe>")
    assert _save_first_question(mail_client, token, 2) == f"/r/{token}/questions?page=3"
    with Session(mail_engine) as session:
        saved = [r for r in session.exec(select(Response)).all() if len(r.answers) == 2]
    assert len(saved) == 1
