"""Sending through the queue, against a real SMTP server: each message once however often its
task runs, a server that cannot be reached retried with back-off, e-mail off by default."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, col

from app.config import Settings
from app.db import utcnow
from app.mail import messages, outgoing
from app.models import MailStatus, OutgoingMail
from tests.mail.conftest import Mailbox, _free_port


def _queued(engine: Engine, settings: Settings, key: str = "test:1") -> int:
    message = messages.compose(
        settings=settings,
        recipient="dee.four@example.com",
        template="reminder",
        subject="A reminder",
        context={"team": "Search team", "link": "http://127.0.0.1/r/x", "closes_at": None},
        look=messages.branding(settings, None),
        unsubscribe="http://127.0.0.1/r/x/unsubscribe",
    )
    with Session(engine) as session:
        row = outgoing.queue_message(session=session, key=key, purpose="test", message=message)
        assert row is not None
        assert row.id is not None
        # the same key again queues nothing
        again = outgoing.queue_message(session=session, key=key, purpose="test", message=message)
        assert again is None
        session.commit()
        return row.id


def test_a_message_sent_by_several_tasks_at_once_arrives_once(
    mail_engine: Engine, mail_settings: Settings, mailbox: Mailbox
) -> None:
    mail_id = _queued(mail_engine, mail_settings)
    outcomes: list[MailStatus | None] = []

    def run() -> None:
        outcomes.append(outgoing.send(engine=mail_engine, settings=mail_settings, mail_id=mail_id))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcomes.append(outgoing.send(engine=mail_engine, settings=mail_settings, mail_id=mail_id))

    assert outcomes.count(MailStatus.sent) == 1
    assert outcomes.count(None) == 4
    assert len(mailbox.received) == 1
    with Session(mail_engine) as session:
        row = session.get(OutgoingMail, mail_id)
        assert row is not None
        # once sent, the row keeps its key and nothing personal
        assert (row.status, row.recipient, row.message) == (MailStatus.sent, "", "")


def test_the_queue_sends_a_message_enqueued_twice_once(
    mail_client: TestClient, mail_engine: Engine, mail_settings: Settings, mailbox: Mailbox
) -> None:
    mail_id = _queued(mail_engine, mail_settings)
    mail_queue = mail_client.app.state.mail_queue  # type: ignore[attr-defined]
    mail_queue.enqueue(mail_id)
    mail_queue.enqueue(mail_id)
    mailbox.wait_for(1)
    time.sleep(2.5)  # the periodic task has run too, and sent nothing more
    assert len(mailbox.received) == 1


def test_a_server_that_cannot_be_reached_is_retried_with_back_off(
    mail_engine: Engine,
    mail_settings: Settings,
    mailbox: Mailbox,
) -> None:
    mail_id = _queued(mail_engine, mail_settings)
    unreachable = mail_settings.model_copy(update={"smtp_port": _free_port()})

    assert outgoing.send(engine=mail_engine, settings=unreachable, mail_id=mail_id) == "queued"
    with Session(mail_engine) as session:
        row = session.get(OutgoingMail, mail_id)
        assert row is not None
        assert row.attempts == 1
        wait = row.next_attempt_at - utcnow()
        assert timedelta(seconds=25) < wait <= timedelta(seconds=30)
        assert "dee.four" not in (row.last_error or "")
    # not due yet: nothing is tried
    assert outgoing.send(engine=mail_engine, settings=mail_settings, mail_id=mail_id) is None
    assert outgoing.due_messages(mail_engine) == []

    with Session(mail_engine) as session:
        session.exec(
            update(OutgoingMail)
            .where(col(OutgoingMail.id) == mail_id)
            .values(next_attempt_at=utcnow())
        )
        session.commit()
    assert outgoing.due_messages(mail_engine) == [mail_id]
    assert outgoing.send(engine=mail_engine, settings=mail_settings, mail_id=mail_id) == "sent"
    assert len(mailbox.received) == 1


def test_e_mail_is_off_by_default(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings("sqlite://")
    assert settings.smtp_host is None
    assert not settings.mail_outbox
    assert not settings.mail_enabled
