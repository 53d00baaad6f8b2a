"""Inviting respondents by e-mail, reminding those who have not submitted, and forgetting
every address when the round closes (PRODUCT.md section 6).

Each address gets a personal resume link: a respondent of the chosen role is started for it
(``invitations.start_respondent``) and the address is kept in ``invitation_address`` with the
role, the hash of the link's token and whether it has submitted. That row is the one join of
an address to a response: no page, API, export, log or audit event ever shows it, a backup
skips it, and closing the round deletes it with every queued message and outbox file.

A reminder carries the same personal link as the invitation, so a respondent answering in an
open tab keeps saving: the link's token is derived from the server's secret key and a random
nonce kept on the address row (``link_token``), and the database holds only the token's hash,
as for every resume link. Someone with the database alone cannot make the link; with the
secret key, they could make any link anyway. The nonce goes with the row at close, so nothing
joins a response to an invitation afterwards. The lead sees totals only: invited, sent,
reminders sent, could not be delivered.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import Engine, delete, event, func
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app import catalog_store
from app.accounts import audit
from app.accounts.audit import Actor
from app.accounts.tokens import hash_token
from app.config import Settings
from app.db import SQLITE_BUSY_TIMEOUT_MS, utcnow
from app.errors import DomainError, InvalidInputError
from app.jobs import queue
from app.mail import messages, outgoing, transport
from app.models import (
    AssessmentRound,
    InvitationAddress,
    Organisation,
    OutgoingMail,
    Respondent,
    Response,
    ResponseStatus,
    RoundMailing,
    RoundMode,
    RoundStatus,
    Team,
)
from app.results.service import round_settings
from app.rubric.labels import ROLE_LABELS
from app.rubric.schema import ROLES
from app.surveys import estimate, invitations
from app.surveys.service import round_closed

logger = logging.getLogger(__name__)

MAX_ADDRESSES: Final = 500
MAX_REMINDER_EVERY_DAYS: Final = 30
# deliberately plain: one @, no spaces, a dot in the domain; the SMTP server has the last word
ADDRESS: Final = re.compile(r"[^@\s<>,;\"()\[\]\\]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
SEPARATORS: Final = re.compile(r"[\s,;]+")
NONCE_BYTES: Final = 16
CHECKPOINT_WAIT_MS: Final = 1_000


class MailOffError(DomainError):
    status_code = 409
    title = "E-mail is not set up"
    default_message = (
        "This installation sends no e-mail. Copy the round's invitation links instead, or ask "
        "your administrator to configure an SMTP server (PROCESSLENS_SMTP_HOST)."
    )


@dataclass(frozen=True)
class Invited:
    """What a lead learns from inviting: counts, and the ids of the messages to send."""

    queued: int
    already_invited: int
    mail_ids: tuple[int, ...]


@dataclass(frozen=True)
class Reminded:
    queued: int
    mail_ids: tuple[int, ...]


@dataclass(frozen=True)
class MailingSummary:
    """What the round page shows: totals, never who."""

    enabled: bool
    outbox: bool  # the demo's catch-all: messages are written to <data dir>/outbox, not sent
    invited: int
    # the invited addresses' surveys, in total (a respondent may unsubscribe: then not counted)
    invited_submitted: int
    invited_answering: int  # something saved, not submitted
    invited_not_started: int  # nothing saved yet: not "in progress" in the round's counts
    invitations_sent: int
    invitations_refused: int
    reminders_sent: int
    reminders_refused: int
    reminder_every_days: int | None
    next_reminder_at: datetime | None


def _record(
    session: Session,
    actor: Actor | None,
    assessment_round: AssessmentRound,
    action: str,
    **counts: int | None,
) -> None:
    """An audit event with counts only: never an address, a link or who has submitted."""
    team = session.get(Team, assessment_round.team_id)
    audit.record(
        session=session,
        actor=actor,
        action=action,
        target_type="round",
        target_id=assessment_round.id,
        organisation_id=team.organisation_id if team else None,
        details=counts,
    )


def parse_addresses(text: str) -> list[str]:
    """The addresses in ``text`` (one per line, or separated by commas), lower-cased, each
    once. Any that is not an address refuses the whole list, naming it."""
    found: list[str] = []
    bad: list[str] = []
    for part in SEPARATORS.split(text.strip()):
        if not part:
            continue
        if len(part) > 254 or not ADDRESS.fullmatch(part):
            bad.append(part[:60])
        elif part.lower() not in found:
            found.append(part.lower())
    if bad:
        shown = ", ".join(repr(item) for item in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise InvalidInputError(
            f"Not an e-mail address: {shown}{more}. Nothing was sent; correct the list and "
            "send again."
        )
    if len(found) > MAX_ADDRESSES:
        raise InvalidInputError(f"At most {MAX_ADDRESSES} addresses at a time.")
    return found


def link_token(settings: Settings, *, round_id: int, nonce: str) -> str:
    """The personal link's token of an address invited by e-mail to ``round_id``: an HMAC of
    the server's secret key over the row's random ``nonce`` (43 URL-safe characters, like a
    random token). Only its hash is stored; the invitation and every reminder send it."""
    assert settings.secret_key is not None, "settings are resolved with a secret key"
    key = settings.secret_key.get_secret_value().encode("utf-8")
    message = f"email-invitation:{round_id}:{nonce}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _new_link(settings: Settings, round_id: int) -> tuple[str, str, str]:
    """A new nonce, the link token it derives and that token's stored hash."""
    nonce = secrets.token_urlsafe(NONCE_BYTES)
    token = link_token(settings, round_id=round_id, nonce=nonce)
    return nonce, token, hash_token(settings, token, purpose="resume")


def _look(
    session: Session, settings: Settings, assessment_round: AssessmentRound
) -> tuple[messages.MailBranding, str]:
    team = session.get(Team, assessment_round.team_id)
    organisation = session.get(Organisation, team.organisation_id) if team else None
    return messages.branding(settings, organisation), team.name if team else "your team"


def _minutes_by_role(session: Session, assessment_round: AssessmentRound) -> dict[str, int]:
    """Each role's time to answer this round, as its welcome page states it."""
    round_catalog = catalog_store.catalog_for(
        session=session, versions=assessment_round.rubric_versions
    )
    survey = round_settings(assessment_round)
    return {role: estimate.minutes_for_role(round_catalog, survey, role) for role in ROLES}


def invite(
    *,
    session: Session,
    settings: Settings,
    assessment_round: AssessmentRound,
    addresses_by_role: Mapping[str, Iterable[str]],
    actor: Actor | None = None,
) -> Invited:
    """Start a respondent for each new address and queue its invitation; an address already
    invited to this round is left alone (it has its link)."""
    if not settings.mail_enabled:
        raise MailOffError()
    if round_closed(assessment_round) or assessment_round.status == RoundStatus.closed:
        raise InvalidInputError("This round has closed; it takes no new invitations.")
    if assessment_round.mode == RoundMode.solo:
        raise InvalidInputError("A solo round is answered by its lead alone: nobody to invite.")
    assert assessment_round.id is not None
    look, team_name = _look(session, settings, assessment_round)
    minutes = _minutes_by_role(session, assessment_round)
    known = set(
        session.exec(
            select(InvitationAddress.address).where(
                InvitationAddress.round_id == assessment_round.id
            )
        ).all()
    )
    mail_ids: list[int] = []
    skipped = 0
    for role, addresses in addresses_by_role.items():
        for address in addresses:
            if address in known:
                skipped += 1
                continue
            known.add(address)
            started = invitations.start_respondent(
                session=session, settings=settings, assessment_round=assessment_round, role=role
            )
            # the survey made a random personal link; this address's is the derived one
            nonce, token, token_hash = _new_link(settings, assessment_round.id)
            started.respondent.resume_token_hash = token_hash
            row = InvitationAddress(
                round_id=assessment_round.id,
                address=address,
                role=started.respondent.role,
                token_hash=token_hash,
                link_nonce=nonce,
            )
            session.add_all([started.respondent, row])
            session.flush()
            message = messages.compose(
                settings=settings,
                recipient=address,
                template="invitation",
                subject=f"{team_name}: your invitation to the team survey",
                context={
                    "team": team_name,
                    "link": invitations.absolute_url(settings, f"/r/{token}"),
                    "role": ROLE_LABELS.get(role, role),
                    "closes_at": assessment_round.closes_at,
                    # the welcome page's figure for this role (app.surveys.estimate)
                    "time": estimate.about(minutes[started.respondent.role]),
                },
                look=look,
            )
            queued = outgoing.queue_message(
                session=session,
                key=f"invitation:{row.id}",
                purpose="invitation",
                message=message,
                round_id=assessment_round.id,
            )
            if queued is not None and queued.id is not None:
                mail_ids.append(queued.id)
    _record(session, actor, assessment_round, "invitation.emailed", queued=len(mail_ids))
    return Invited(queued=len(mail_ids), already_invited=skipped, mail_ids=tuple(mail_ids))


def _mark_submitted(session: Session, round_id: int) -> None:
    """Record which invited addresses have submitted (the reminders' one use of the join)."""
    submitted_hashes = (
        select(Respondent.resume_token_hash)
        .join(Response, col(Response.respondent_id) == col(Respondent.id))
        .where(Respondent.round_id == round_id, Response.status == ResponseStatus.submitted)
    )
    rows = session.exec(
        select(InvitationAddress).where(
            InvitationAddress.round_id == round_id,
            ~col(InvitationAddress.submitted),
            col(InvitationAddress.token_hash).in_(submitted_hashes),
        )
    ).all()
    for row in rows:
        row.submitted = True
        session.add(row)
    session.flush()


def remind(
    *,
    session: Session,
    settings: Settings,
    assessment_round: AssessmentRound,
    actor: Actor | None = None,
) -> Reminded:
    """Queue a reminder, with the invitation's personal link, to every invited address that
    has not submitted; at most one per address per day however often this runs."""
    if not settings.mail_enabled:
        raise MailOffError()
    if round_closed(assessment_round) or assessment_round.status != RoundStatus.open:
        raise InvalidInputError("Only an open round's invitees can be reminded.")
    assert assessment_round.id is not None
    _mark_submitted(session, assessment_round.id)
    look, team_name = _look(session, settings, assessment_round)
    day = utcnow().date().isoformat()
    waiting = session.exec(
        select(InvitationAddress).where(
            InvitationAddress.round_id == assessment_round.id, ~col(InvitationAddress.submitted)
        )
    ).all()
    mail_ids: list[int] = []
    for row in waiting:
        key = f"reminder:{row.id}:{day}"
        if session.exec(select(OutgoingMail.id).where(OutgoingMail.idempotency_key == key)).first():
            continue
        respondent = session.exec(
            select(Respondent).where(Respondent.resume_token_hash == row.token_hash)
        ).first()
        if respondent is None:  # erased on request: nobody to remind
            continue
        if row.link_nonce is None:  # invited before links were derived: a new link, once
            row.link_nonce, _token, row.token_hash = _new_link(settings, row.round_id)
            respondent.resume_token_hash = row.token_hash
        token = link_token(settings, round_id=row.round_id, nonce=row.link_nonce)
        row.reminders += 1
        session.add_all([respondent, row])
        session.flush()
        message = messages.compose(
            settings=settings,
            recipient=row.address,
            template="reminder",
            subject=f"{team_name}: a reminder about the team survey",
            context={
                "team": team_name,
                "link": invitations.absolute_url(settings, f"/r/{token}"),
                "closes_at": assessment_round.closes_at,
            },
            look=look,
            unsubscribe=invitations.absolute_url(settings, f"/r/{token}/unsubscribe"),
        )
        queued = outgoing.queue_message(
            session=session, key=key, purpose="reminder", message=message, round_id=row.round_id
        )
        if queued is not None and queued.id is not None:
            mail_ids.append(queued.id)
    _record(session, actor, assessment_round, "invitation.reminded", queued=len(mail_ids))
    return Reminded(queued=len(mail_ids), mail_ids=tuple(mail_ids))


def set_reminder_schedule(
    *,
    session: Session,
    assessment_round: AssessmentRound,
    every_days: int | None,
    actor: Actor | None = None,
) -> None:
    """Remind every ``every_days`` days from now (None: no scheduled reminders)."""
    if every_days is not None and not 1 <= every_days <= MAX_REMINDER_EVERY_DAYS:
        raise InvalidInputError(f"Reminders can be sent every 1 to {MAX_REMINDER_EVERY_DAYS} days.")
    assert assessment_round.id is not None
    tally = session.get(RoundMailing, assessment_round.id) or RoundMailing(
        round_id=assessment_round.id
    )
    tally.reminder_every_days = every_days
    tally.next_reminder_at = utcnow() + timedelta(days=every_days) if every_days else None
    session.add(tally)
    session.flush()
    _record(session, actor, assessment_round, "invitation.reminder_schedule", every_days=every_days)


def send_due_reminders(
    *, engine: Engine, settings: Settings, enqueue: Callable[[int], None]
) -> int:
    """The scheduled reminders that are due, each round in a transaction of its own."""
    if not settings.mail_enabled:
        return 0
    with Session(engine) as session:
        due = session.exec(
            select(RoundMailing.round_id).where(
                col(RoundMailing.next_reminder_at).is_not(None),
                col(RoundMailing.next_reminder_at) <= utcnow(),
            )
        ).all()
    sent = 0
    for round_id in due:
        with Session(engine) as session:
            tally = session.get(RoundMailing, round_id)
            assessment_round = session.get(AssessmentRound, round_id)
            if tally is None or assessment_round is None or tally.reminder_every_days is None:
                continue
            tally.next_reminder_at = utcnow() + timedelta(days=tally.reminder_every_days)
            session.add(tally)
            if assessment_round.status == RoundStatus.open and not round_closed(assessment_round):
                reminded = remind(
                    session=session, settings=settings, assessment_round=assessment_round
                )
            else:
                reminded = Reminded(queued=0, mail_ids=())
            session.commit()
        for mail_id in reminded.mail_ids:
            enqueue(mail_id)
        sent += reminded.queued
    return sent


def forget_round(*, session: Session, round_id: int) -> None:
    """At close: every invited address and every queued or sent message of the round go,
    and the outbox files this process wrote for it (the periodic task removes the rest)."""
    session.exec(delete(InvitationAddress).where(col(InvitationAddress.round_id) == round_id))
    session.exec(delete(OutgoingMail).where(col(OutgoingMail.round_id) == round_id))
    tally = session.get(RoundMailing, round_id)
    if tally is not None:
        tally.reminder_every_days = tally.next_reminder_at = None
        session.add(tally)
    session.flush()
    transport.forget_files(outgoing.round_prefix(round_id))
    event.listen(session, "after_commit", _scrub_write_ahead_log, once=True)


def _scrub_write_ahead_log(session: Session) -> None:
    """On SQLite, once the deletions are committed: copy the write-ahead log into the
    database and empty it, since it still holds earlier copies of the deleted rows' pages
    (the deleted rows themselves are zeroed: db.py turns on secure_delete). Best effort: a
    reader holding an old snapshot leaves part of it for the next close."""
    bind = session.get_bind()
    if not isinstance(bind, Engine) or bind.dialect.name != "sqlite":
        return
    with bind.connect() as connection:
        # the driver's own connection: a checkpoint cannot run inside a transaction; it waits
        # for readers and writers to finish, so briefly (the close's response is waiting)
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
            busy, _pages, _copied = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.close()
    if busy:
        logger.info("write-ahead log in use: not emptied now (the next close empties it)")


def stop_reminders(*, session: Session, settings: Settings, resume_token: str) -> None:
    """The person behind a resume link asked for no more reminders: their address goes."""
    token_hash = hash_token(settings, resume_token, purpose="resume")
    session.exec(delete(InvitationAddress).where(col(InvitationAddress.token_hash) == token_hash))
    session.flush()
    event.listen(session, "after_commit", _scrub_write_ahead_log, once=True)


def not_started(round_id: int) -> SelectOfScalar[str]:
    """The resume-token hashes of addresses invited to ``round_id`` whose survey has nothing
    saved yet (its response was never written to: version 1). Invited is not in progress:
    the round's counts per role leave these out and show them as a total."""
    return (
        select(InvitationAddress.token_hash)
        .join(Respondent, col(Respondent.resume_token_hash) == col(InvitationAddress.token_hash))
        .join(Response, col(Response.respondent_id) == col(Respondent.id))
        .where(
            InvitationAddress.round_id == round_id,
            Response.status != ResponseStatus.submitted,
            col(Response.version) == 1,
        )
    )


def summary(*, session: Session, settings: Settings, round_id: int) -> MailingSummary:
    tally = session.get(RoundMailing, round_id) or RoundMailing(round_id=round_id)
    invited = session.exec(
        select(func.count())
        .select_from(InvitationAddress)
        .where(InvitationAddress.round_id == round_id)
    ).one()
    states = session.exec(
        select(Response.status, Response.version)
        .join(Respondent, col(Response.respondent_id) == col(Respondent.id))
        .join(
            InvitationAddress,
            col(InvitationAddress.token_hash) == col(Respondent.resume_token_hash),
        )
        .where(InvitationAddress.round_id == round_id)
    ).all()
    submitted = sum(status == ResponseStatus.submitted for status, _version in states)
    waiting = sum(status != ResponseStatus.submitted and version == 1 for status, version in states)
    return MailingSummary(
        enabled=settings.mail_enabled,
        outbox=settings.mail_enabled and not settings.smtp_host,
        invited=invited,
        invited_submitted=submitted,
        invited_answering=len(states) - submitted - waiting,
        invited_not_started=waiting,
        invitations_sent=tally.invitations_sent,
        invitations_refused=tally.invitations_refused,
        reminders_sent=tally.reminders_sent,
        reminders_refused=tally.reminders_refused,
        reminder_every_days=tally.reminder_every_days,
        next_reminder_at=tally.next_reminder_at,
    )


def mail_queue(job_queue: queue.JobQueue, *, engine: Engine, role: str) -> outgoing.MailQueue:
    """This process's mail tasks on its job queue, with the scheduled reminders."""
    settings = job_queue.settings

    def reminders(enqueue: Callable[[int], None]) -> None:
        send_due_reminders(engine=engine, settings=settings, enqueue=enqueue)

    return outgoing.MailQueue(
        huey=job_queue.huey, engine=engine, settings=settings, scheduled=[reminders], ran_by=role
    )
