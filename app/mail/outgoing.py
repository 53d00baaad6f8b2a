"""Outgoing messages: queued as rows, sent by the job queue, each once.

Queueing writes an ``outgoing_mail`` row under an idempotency key (UNIQUE): asking again for
the same message (a double click, a retried request, a reminder run twice) queues nothing.
Sending claims the row (queued -> sending, one guarded UPDATE), so two workers or a message
delivered twice by the queue send it once. A message the server could not take now goes
back to the queue with back-off; one it refused is counted on the round, never retried. Once
sent, the row keeps only its key: the address and the text (a personal link) are blanked.

A claim left in ``sending`` by a worker that died mid-send is not sent again: whether the
server took it cannot be known, and sending twice is what must not happen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from huey import Huey
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from app.config import Settings
from app.db import utcnow
from app.jobs import sweeper
from app.mail import transport
from app.models import MailStatus, OutgoingMail, RoundMailing

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
FIRST_RETRY = timedelta(seconds=30)
SEND_DUE = "send-due-mail"

Enqueue = Callable[[int], None]


def queue_message(
    *,
    session: Session,
    key: str,
    purpose: str,
    message: EmailMessage,
    round_id: int | None = None,
) -> OutgoingMail | None:
    """Queue ``message`` under ``key``; None when a message with that key was queued before."""
    row = OutgoingMail(
        idempotency_key=key,
        round_id=round_id,
        purpose=purpose,
        recipient=str(message["To"]),
        message=message.as_string(),
    )
    if session.exec(select(OutgoingMail.id).where(OutgoingMail.idempotency_key == key)).first():
        return None
    # two requests racing past this check: the UNIQUE key fails the second one's transaction
    session.add(row)
    session.flush()
    return row


def file_stem(mail: OutgoingMail) -> str:
    """The outbox file's name: a round's messages start with its prefix, so closing finds them."""
    return f"{round_prefix(mail.round_id)}{mail.purpose}-{mail.id}"


def round_prefix(round_id: int | None) -> str:
    return f"round-{round_id}-" if round_id is not None else "account-"


def _claim(engine: Engine, mail_id: int) -> OutgoingMail | None:
    with Session(engine) as session:
        claimed = session.exec(
            update(OutgoingMail)
            .where(
                col(OutgoingMail.id) == mail_id,
                col(OutgoingMail.status) == MailStatus.queued,
                col(OutgoingMail.next_attempt_at) <= utcnow(),
            )
            .values(
                status=MailStatus.sending,
                attempts=col(OutgoingMail.attempts) + 1,
                updated_at=utcnow(),
            )
        )
        if claimed.rowcount != 1:
            session.rollback()
            return None
        session.commit()
        row = session.get(OutgoingMail, mail_id)
        if row is not None:
            session.expunge(row)
        return row


def send(*, engine: Engine, settings: Settings, mail_id: int) -> MailStatus | None:
    """Send one queued message (a queue task). None when it is not this call's to send."""
    mail = _claim(engine, mail_id)
    if mail is None:
        return None
    message = BytesParser(policy=policy.default).parsebytes(mail.message.encode())
    assert isinstance(message, EmailMessage)
    try:
        transport.deliver(settings, message, file_stem=file_stem(mail))
    except transport.MailRefusedError as error:
        return _finish(engine, mail, MailStatus.refused, str(error))
    except transport.MailNotHandedOverError as error:
        if mail.attempts >= MAX_ATTEMPTS:
            return _finish(engine, mail, MailStatus.failed, str(error))
        _retry_later(engine, mail, str(error))
        return MailStatus.queued
    return _finish(engine, mail, MailStatus.sent, None)


def _retry_later(engine: Engine, mail: OutgoingMail, error: str) -> None:
    delay = FIRST_RETRY * 2 ** (mail.attempts - 1)
    with Session(engine) as session:
        session.exec(
            update(OutgoingMail)
            .where(col(OutgoingMail.id) == mail.id, col(OutgoingMail.status) == MailStatus.sending)
            .values(
                status=MailStatus.queued,
                next_attempt_at=utcnow() + delay,
                last_error=error[:300],
                updated_at=utcnow(),
            )
        )
        session.commit()
    logger.warning("message %s (%s): not handed over, retry in %s", mail.id, mail.purpose, delay)


def _finish(
    engine: Engine, mail: OutgoingMail, status: MailStatus, error: str | None
) -> MailStatus:
    with Session(engine) as session:
        finished = session.exec(
            update(OutgoingMail)
            .where(col(OutgoingMail.id) == mail.id, col(OutgoingMail.status) == MailStatus.sending)
            .values(
                status=status,
                last_error=error[:300] if error else None,
                updated_at=utcnow(),
                # the personal link and the address are not kept once the message is gone
                recipient="",
                message="",
            )
        )
        if finished.rowcount == 1 and mail.round_id is not None:
            _count(session, mail.round_id, mail.purpose, status)
        session.commit()
    if status is not MailStatus.sent:
        logger.warning("message %s (%s): %s (%s)", mail.id, mail.purpose, status.value, error)
    return status


def _count(session: Session, round_id: int, purpose: str, status: MailStatus) -> None:
    """A round's totals: sent, and refused by the SMTP server at sending time (a message
    that could not be handed over after every retry is neither), per purpose."""
    tally = session.get(RoundMailing, round_id) or RoundMailing(round_id=round_id)
    if purpose == "invitation":
        tally.invitations_sent += status is MailStatus.sent
        tally.invitations_refused += status is MailStatus.refused
    elif purpose == "reminder":
        tally.reminders_sent += status is MailStatus.sent
        tally.reminders_refused += status is MailStatus.refused
    session.add(tally)


def due_messages(engine: Engine) -> list[int]:
    """Queued messages whose time has come (new ones whose task was lost, retries)."""
    with Session(engine) as session:
        found = session.exec(
            select(OutgoingMail.id).where(
                col(OutgoingMail.status) == MailStatus.queued,
                col(OutgoingMail.next_attempt_at) <= utcnow(),
            )
        ).all()
    return [mail_id for mail_id in found if mail_id is not None]


class MailQueue:
    """The queue's mail tasks, registered on this process's Huey: ``send`` one message, and a
    periodic task (once per period across processes) that sends what is due and runs the
    domains' scheduled mailings (reminders)."""

    def __init__(
        self,
        *,
        huey: Huey,
        engine: Engine,
        settings: Settings,
        scheduled: Iterable[Callable[[Enqueue], None]] = (),
        ran_by: str = "web",
    ) -> None:
        self.settings = settings
        jobs = list(scheduled)

        def send_mail(mail_id: int) -> None:
            send(engine=engine, settings=settings, mail_id=mail_id)

        def send_due() -> None:
            period = settings.job_sweep_seconds
            if not sweeper.claim_slot(
                engine=engine, task=SEND_DUE, period_seconds=period, ran_by=ran_by
            ):
                return
            for job in jobs:
                job(self.enqueue)
            for mail_id in due_messages(engine):
                self.enqueue(mail_id)

        self._send = huey.task(name="send_mail")(send_mail)
        huey.periodic_task(lambda _when: True, name=SEND_DUE)(send_due)

    def enqueue(self, mail_id: int) -> None:
        """Send "send message N" (after its row is committed); if the queue cannot be reached
        the periodic task sends it later."""
        try:
            self._send(mail_id)
        except Exception:
            logger.exception("message %s: could not be queued; it is sent later", mail_id)

    def enqueue_all(self, mail_ids: Iterable[int]) -> None:
        for mail_id in mail_ids:
            self.enqueue(mail_id)
