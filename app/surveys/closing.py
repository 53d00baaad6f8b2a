"""Closing a round and publishing its result once (PRODUCT.md section 6, "published once").

A round closes when its lead closes it or when its closing date passes. Closing by date has no
event of its own: the first page that reads the round afterwards (the lead's pages, the API, a
respondent's pages) closes it, and publishes its result: a team survey's only when at least
its threshold of responses is in (fewer publishes nothing). Both ways go through ``close``,
which also deletes the addresses invited by e-mail (``email_invitations.forget_round``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, func
from sqlmodel import Session, col, delete, select

from app import db
from app.models import (
    AssessmentRound,
    Response,
    ResponseStatus,
    RoundMode,
    RoundResult,
    RoundStatus,
)
from app.results import visibility
from app.results.service import store_round_result
from app.surveys import email_invitations


def submitted_count(*, session: Session, round_id: int) -> int:
    return session.exec(
        select(func.count())
        .select_from(Response)
        .where(Response.round_id == round_id, Response.status == ResponseStatus.submitted)
    ).one()


def close(
    *, session: Session, assessment_round: AssessmentRound, at: datetime | None = None
) -> None:
    """Mark the open round closed and publish its result, once: a team survey's only with at
    least its threshold of responses, a solo round's when the lead has answered."""
    assessment_round.status = RoundStatus.closed
    assessment_round.closed_at = at or db.utcnow()
    session.add(assessment_round)
    session.flush()
    # the addresses invited by e-mail and their messages go at close, whoever closes it
    email_invitations.forget_round(session=session, round_id=assessment_round.id or 0)
    submitted = submitted_count(session=session, round_id=assessment_round.id or 0)
    needed = 1 if assessment_round.mode == RoundMode.solo else assessment_round.results_min
    if submitted >= needed:
        store_round_result(session=session, assessment_round=assessment_round)
    else:
        # a result stored earlier (before results were published only at close) goes too
        session.exec(delete(RoundResult).where(col(RoundResult.round_id) == assessment_round.id))
        session.flush()


def _close_locked_if_due(session: Session, assessment_round: AssessmentRound) -> bool:
    """Lock the round row, then close it if its date passed and nobody closed it meanwhile."""
    session.exec(
        select(AssessmentRound).where(AssessmentRound.id == assessment_round.id).with_for_update()
    ).one()
    session.refresh(assessment_round)
    if not visibility.closes_by_date(assessment_round):
        return False
    close(session=session, assessment_round=assessment_round, at=assessment_round.closes_at)
    return True


def close_if_due(*, session: Session, assessment_round: AssessmentRound) -> bool:
    """Close (and publish) a round whose closing date has passed; True if this call did.

    Pages that only read hold a read session, which cannot write: the round is then closed in
    a short write transaction of its own, and the read session starts reading afresh so it
    sees the round closed (on SQLite a read transaction keeps the snapshot it started with).
    """
    if not visibility.closes_by_date(assessment_round):
        return False
    if not isinstance(session, db.ReadSession):
        return _close_locked_if_due(session, assessment_round)
    bind = session.get_bind()
    writable = (
        bind.execution_options(sqlite_begin="IMMEDIATE") if isinstance(bind, Engine) else bind
    )
    with db.session_factory(writable)() as writer:
        held = writer.get(AssessmentRound, assessment_round.id)
        closed = held is not None and _close_locked_if_due(writer, held)
        writer.commit()
    if isinstance(bind, Engine):
        session.rollback()  # a new transaction, with a snapshot that holds the close
    else:
        session.expire_all()  # one shared connection (tests): the close is already in view
    return closed
