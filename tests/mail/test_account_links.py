"""Account links by e-mail: an administrator e-mails a new account its one-time link to choose
a password; the message arrives at the account's address and the link opens the form."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from app.config import Settings
from app.models import UserRole
from tests.accounts import helpers as account_helpers
from tests.mail.conftest import Mailbox


def test_an_admin_e_mails_a_new_account_its_password_link(
    mail_client: TestClient, mail_engine: Engine, mail_settings: Settings, mailbox: Mailbox
) -> None:
    with Session(mail_engine, expire_on_commit=False) as session:
        admin = account_helpers.user(session, UserRole.admin, name="Ada Admin")
        signed_in = account_helpers.sign_in(session, mail_settings, admin)
        newcomer = account_helpers.user(
            session, UserRole.team_lead, email="new.lead@example.com", name="Nia New"
        )
        session.commit()

    sent = mail_client.post(f"/admin/users/{newcomer.id}/reset-email", headers=signed_in.headers())
    assert sent.status_code == 200
    assert "being sent" in sent.text
    mailbox.wait_for(1)
    (message,) = mailbox.to("new.lead@example.com")
    assert message["Subject"] == "Your ProcessLens account"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "An account has been made for you" in text
    link = re.search(r"http://\S+/reset/(\S+)", text)
    assert link is not None
    assert mail_client.get(f"/reset/{link.group(1)}").status_code == 200


def test_without_e_mail_the_admin_is_told_to_pass_the_link_on(
    client: TestClient, session: Session, settings: Settings
) -> None:
    admin = account_helpers.user(session, UserRole.admin)
    signed_in = account_helpers.sign_in(session, settings, admin)
    other = account_helpers.user(session, UserRole.team_lead)
    session.commit()
    refused = client.post(f"/admin/users/{other.id}/reset-email", headers=signed_in.headers())
    assert refused.status_code == 409
    assert "sends no e-mail" in refused.text
