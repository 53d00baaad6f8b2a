"""Invitations and reminders by e-mail (issue 22), against a real SMTP server on 127.0.0.1:
the message arrives as plain text and HTML, its link opens the survey as the invited role,
reminders go only to those who have not submitted, and after close the address is found
nowhere (database, queue store, logs, outbox, backup)."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlalchemy import select as select_rows
from sqlmodel import Session, col, select

from app import db
from app.config import Settings
from app.dashboards import backup
from app.jobs import queue
from app.main import create_app
from app.models import InvitationAddress, OutgoingMail, Respondent, Response, ResponseStatus
from app.surveys.service import resume_token_hash
from tests.mail.conftest import Mailbox, wait_for_consumer_threads
from tests.workspace import helpers

ADDRESSES = {
    "data_scientist": ["ana.one@example.com", "bo.two@example.com"],
    "ml_engineer": ["cy.three@example.com"],
}
LINK = re.compile(r"http://[^\s<>\"]+/r/([A-Za-z0-9_\-]+)")


def _setup(engine: Engine, settings: Settings) -> tuple[helpers.Lead, int]:
    with Session(engine, expire_on_commit=False) as session:
        lead = helpers.lead(session, settings)
        assessment_round = helpers.team_round(session, lead.team)
        session.commit()
        assert assessment_round.id is not None
        return lead, assessment_round.id


def _invite(client: TestClient, lead: helpers.Lead, round_id: int, **fields: str) -> object:
    form = {f"addresses_{role}": "\n".join(a) for role, a in ADDRESSES.items()} | {
        f"addresses_{role}": text for role, text in fields.items()
    }
    return client.post(
        f"{lead.team_url}/rounds/{round_id}/email/invite",
        data=form,
        headers=lead.headers,
        follow_redirects=False,
    )


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    return text.get_content(), html.get_content()


def _token(message: EmailMessage) -> str:
    text, _html = _parts(message)
    found = LINK.search(text)
    assert found, text
    return found.group(1)


def _everything_in_the_database(engine: Engine) -> str:
    with engine.connect() as connection:
        return "\n".join(
            repr(row)
            for table in db.metadata.sorted_tables
            for row in connection.execute(select_rows(table)).all()
        )


def test_an_invitation_arrives_opens_the_survey_as_its_role_and_is_forgotten_at_close(
    mail_client: TestClient,
    mail_engine: Engine,
    mail_settings: Settings,
    mailbox: Mailbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    lead, round_id = _setup(mail_engine, mail_settings)

    sent = _invite(mail_client, lead, round_id)
    assert sent.status_code == 303  # type: ignore[attr-defined]
    mailbox.wait_for(3)

    (message,) = mailbox.to("cy.three@example.com")
    assert message["Subject"] == "Search team: your invitation to the team survey"
    assert str(message["From"]) == "ProcessLens for Search team Org <survey@example.com>"
    assert message.get_content_type() == "multipart/alternative"
    text, html = _parts(message)
    assert "as ML engineer" in text.replace("\n", " ")
    assert "deleted when the survey closes" in text
    assert "Open your survey" in html
    assert "#1f5f5b" in html
    assert "List-Unsubscribe" not in message  # only reminders carry it

    opened = mail_client.get(f"/r/{_token(message)}")
    assert opened.status_code == 200
    assert opened.context["page"].role == "ml_engineer"  # type: ignore[attr-defined]
    assert "deleted when the survey closes" in opened.text
    # the invitation states the welcome page's time for this role, from the same function
    minutes = opened.context["page"].minutes  # type: ignore[attr-defined]
    assert f"It takes about {minutes} minutes;" in " ".join(text.split())
    assert f"It takes about {minutes} minutes;" in " ".join(html.split())

    page = mail_client.get(f"{lead.team_url}/rounds/{round_id}", headers=lead.headers)
    summary = page.context["page"].email.summary  # type: ignore[attr-defined]
    assert (summary.invited, summary.invitations_sent, summary.invitations_refused) == (3, 3, 0)
    assert "example.com" not in page.text

    closed = mail_client.post(
        f"{lead.team_url}/rounds/{round_id}/close", headers=lead.headers, follow_redirects=False
    )
    assert closed.status_code == 303

    names = [a.split("@")[0] for addresses in ADDRESSES.values() for a in addresses]
    stored = _everything_in_the_database(mail_engine)
    queue_store = queue.queue_file(mail_settings).read_bytes()
    outbox = mail_settings.data_dir / "outbox"
    with Session(mail_engine) as session:
        document = backup.backup(session=session, organisation_id=lead.organisation.id or 0)
    backed_up = json.dumps(document, default=str)
    # every line the service logged (the test SMTP server's own log, mail.log, is not ours)
    logged = "\n".join(
        f"{record.getMessage()} {record.__dict__}"
        for record in caplog.records
        if not record.name.startswith("mail.log")
    )
    for name in names:
        assert name not in stored
        assert name.encode() not in queue_store
        assert name not in logged
        assert name not in backed_up
    assert not outbox.exists() or not any(outbox.iterdir())
    assert "invitation_address" not in document["tables"]
    assert "outgoing_mail" not in document["tables"]


def test_reminders_go_only_to_those_who_have_not_submitted(
    mail_client: TestClient, mail_engine: Engine, mail_settings: Settings, mailbox: Mailbox
) -> None:
    lead, round_id = _setup(mail_engine, mail_settings)
    _invite(mail_client, lead, round_id)
    mailbox.wait_for(3)
    ana_token = _token(mailbox.to("ana.one@example.com")[0])
    bo_token = _token(mailbox.to("bo.two@example.com")[0])
    with Session(mail_engine) as session:
        respondent_id = session.exec(
            select(Respondent.id).where(
                Respondent.resume_token_hash == resume_token_hash(mail_settings, ana_token)
            )
        ).one()
        session.exec(
            update(Response)
            .where(col(Response.respondent_id) == respondent_id)
            .values(status=ResponseStatus.submitted)
        )
        session.commit()

    url = f"{lead.team_url}/rounds/{round_id}/email/remind"
    assert mail_client.post(url, headers=lead.headers, follow_redirects=False).status_code == 303
    received = mailbox.wait_for(5)
    reminded = sorted(r.recipients[0] for r in received[3:])
    assert reminded == ["bo.two@example.com", "cy.three@example.com"]
    reminder = mailbox.to("bo.two@example.com")[1]
    assert reminder["List-Unsubscribe"].startswith("<http://")
    assert "not by your team lead" in _parts(reminder)[0]
    # the reminder resends the invitation's personal link, which keeps working
    assert _token(reminder) == bo_token
    assert mail_client.get(f"/r/{bo_token}").status_code == 200

    # asked again the same day: nothing more is sent
    assert mail_client.post(url, headers=lead.headers, follow_redirects=False).status_code == 303
    page = mail_client.get(f"{lead.team_url}/rounds/{round_id}", headers=lead.headers)
    summary = page.context["page"].email.summary  # type: ignore[attr-defined]
    assert summary.reminders_sent == 2
    assert "2 reminders sent in total" in " ".join(page.text.split())
    assert len(mailbox.received) == 5

    # the reminder's List-Unsubscribe link: a page, then a form that deletes the address
    unsubscribe = reminder["List-Unsubscribe"].strip("<>").removeprefix("http://127.0.0.1:8000")
    shown = mail_client.get(unsubscribe)
    assert shown.status_code == 200
    csrf = helpers.document(shown.text).xpath("//input[@name='csrf_token']/@value")[0]
    stopped = mail_client.post(unsubscribe, data={"csrf_token": csrf}, follow_redirects=False)
    assert stopped.status_code == 303
    with Session(mail_engine) as session:
        left = session.exec(select(InvitationAddress.address)).all()
    assert sorted(left) == ["ana.one@example.com", "cy.three@example.com"]


def test_a_bad_address_refuses_the_whole_list_and_changes_nothing(
    mail_client: TestClient, mail_engine: Engine, mail_settings: Settings, mailbox: Mailbox
) -> None:
    lead, round_id = _setup(mail_engine, mail_settings)
    refused = _invite(mail_client, lead, round_id, ml_engineer="cy@example.com, not-an-address")
    assert refused.status_code == 400  # type: ignore[attr-defined]
    page = refused.context["page"]  # type: ignore[attr-defined]
    assert page.error.startswith("Not an e-mail address: 'not-an-address'.")
    assert "Nothing was sent" in page.error
    assert page.email.typed["ml_engineer"] == "cy@example.com, not-an-address"
    with Session(mail_engine) as session:
        assert session.exec(select(InvitationAddress)).all() == []
        assert session.exec(select(OutgoingMail)).all() == []
        assert session.exec(select(Respondent)).all() == []
    assert mailbox.received == []


def test_an_address_the_server_refuses_is_counted_for_the_lead(
    mail_client: TestClient, mail_engine: Engine, mail_settings: Settings, mailbox: Mailbox
) -> None:
    lead, round_id = _setup(mail_engine, mail_settings)
    _invite(mail_client, lead, round_id, ml_engineer="refused.x@example.com")
    mailbox.wait_for(2)
    url = f"{lead.team_url}/rounds/{round_id}"
    for _ in range(100):
        page = mail_client.get(url, headers=lead.headers)
        summary = page.context["page"].email.summary  # type: ignore[attr-defined]
        if summary.invitations_refused:
            break
    assert (summary.invitations_sent, summary.invitations_refused) == (2, 1)
    assert "1 invitation could not be delivered" in " ".join(page.text.split())


def test_without_smtp_the_outbox_holds_labelled_messages_until_close(
    make_settings: Callable[..., Settings], fresh_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        fresh_database_url, data_dir=tmp_path / "data", mail_outbox=True, job_sweep_seconds=1
    )
    engine = db.create_db_engine(settings)
    lead, round_id = _setup(engine, settings)
    app = create_app(settings)
    outbox = settings.data_dir / "outbox"
    with TestClient(app) as client:
        _invite(client, lead, round_id, data_scientist="", ml_engineer="cy.three@example.com")
        for _ in range(400):
            if outbox.exists() and list(outbox.glob("*.eml")):
                break
            time.sleep(0.05)
        (written,) = outbox.glob("*.eml")
        content = written.read_text()
        assert "X-ProcessLens-Outbox: not sent (no SMTP server is configured)" in content
        assert "Subject: [not sent: outbox] Search team: your invitation" in content
        assert "cy.three@example.com" in content
        client.post(f"{lead.team_url}/rounds/{round_id}/close", headers=lead.headers)
        assert list(outbox.glob("*")) == []
    wait_for_consumer_threads()
    app.state.engine.dispose()
    engine.dispose()
