"""Organisations that long writers (seed, restore) add in short transactions.

A long writer creates its organisation ``pending``, adds everything else in batches that each
hold the write lock briefly (``app.db.write_batch``), and at the end flips it visible in one
short transaction (``publish``). Tenancy hides a pending organisation and all it holds, so
nobody sees half of it; if the writer fails, ``remove`` deletes what it wrote, again in
short batches, and nothing visible has changed.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, delete, select, update

from app import db
from app.models import Organisation, Team

logger = logging.getLogger(__name__)

# teams deleted per transaction when a failed writer's organisation is removed (each takes
# its rounds, respondents and results with it through ON DELETE CASCADE)
REMOVE_TEAMS_PER_BATCH = 5


def publish(
    *, sessions: sessionmaker[Session], organisation_id: int, timings: db.BatchTimings
) -> None:
    """Make a pending organisation visible: the one moment readers see it appear, whole."""
    with db.write_batch(sessions, timings, "publish") as session:
        session.exec(
            update(Organisation)
            .where(col(Organisation.id) == organisation_id)
            .values(pending=False)
        )


def remove(
    *, sessions: sessionmaker[Session], organisation_id: int, timings: db.BatchTimings
) -> None:
    """Delete a pending organisation a writer left unfinished, a few teams per transaction.

    Refuses (does nothing) for an organisation that is not pending: a visible one is never
    removed by a writer's failure."""
    with sessions() as session:
        session.connection(execution_options={"sqlite_begin": "DEFERRED"})  # only reads
        organisation = session.get(Organisation, organisation_id)
        if organisation is None or not organisation.pending:
            session.rollback()
            return
        team_ids = [
            team_id
            for team_id in session.exec(
                select(Team.id).where(Team.organisation_id == organisation_id)
            ).all()
            if team_id is not None
        ]
        session.rollback()
    for start in range(0, len(team_ids), REMOVE_TEAMS_PER_BATCH):
        with db.write_batch(sessions, timings, "remove: teams") as session:
            chunk = team_ids[start : start + REMOVE_TEAMS_PER_BATCH]
            session.exec(delete(Team).where(col(Team.id).in_(chunk)))
    with db.write_batch(sessions, timings, "remove: organisation") as session:
        session.exec(
            delete(Organisation).where(
                col(Organisation.id) == organisation_id,
                col(Organisation.pending) == True,  # noqa: E712
            )
        )
    logger.info("removed the unfinished organisation %s", organisation_id)
