"""Generation counters that tell every instance's in-process caches a change was made.

Each process keeps its own caches (the dashboard's); a change made through another instance
must not leave them serving stale data. So every cached entry is stored with the generation
of its organisation (and the installation-wide one), read with one indexed query, and writers
bump the counters in their own transaction: a counter is never ahead of, nor behind, the
change it announces, whichever instance committed it.

Writers need not remember: a flush that adds, changes or deletes a row of a watched table
(organisations, business units, teams, targets: names, units, anything a cached view shows
besides the result summaries, which carry their own data version) bumps the organisation's
counter; a bulk UPDATE or DELETE on one of those tables bumps the installation-wide one. The
counters live in the database rather than Redis so that the bump commits with the change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

TABLE = "cache_generation"
EVERYTHING = "all"
# tables whose rows a cached view shows (besides derived result summaries)
WATCHED = frozenset({"organisation", "business_unit", "team", "target"})

_BUMP = text(
    f"INSERT INTO {TABLE} (scope, value) VALUES (:scope, 1) "
    f"ON CONFLICT (scope) DO UPDATE SET value = {TABLE}.value + 1"
)
_READ = text(f"SELECT scope, value FROM {TABLE} WHERE scope IN (:everything, :organisation)")
_BUMPED = "cache_generations_bumped"
_TEAM_ORGANISATION = text("SELECT organisation_id FROM team WHERE id = :id")


def organisation_scope(organisation_id: int) -> str:
    return f"organisation:{organisation_id}"


def current(connection: Connection | Session, organisation_id: int) -> tuple[int, int]:
    """(installation-wide, organisation) generations: a cached entry is good while equal."""
    rows = connection.execute(
        _READ,
        {"everything": EVERYTHING, "organisation": organisation_scope(organisation_id)},
    ).all()
    found: dict[str, int] = {str(row[0]): int(row[1]) for row in rows}
    return found.get(EVERYTHING, 0), found.get(organisation_scope(organisation_id), 0)


def bump(connection: Connection, scopes: Iterable[str]) -> None:
    """Advance the counters of ``scopes`` in the caller's transaction (sorted, so two
    writers bumping several take their row locks in one order)."""
    for scope in sorted(set(scopes)):
        connection.execute(_BUMP, {"scope": scope})


def _organisation_of(session: Session, instance: Any, table: str) -> int | None:
    if table == "organisation":
        return getattr(instance, "id", None)
    organisation_id = getattr(instance, "organisation_id", None)
    if organisation_id is None and table == "target":
        team_id = getattr(instance, "team_id", None)
        if team_id is not None:
            organisation_id = (
                session.connection().execute(_TEAM_ORGANISATION, {"id": team_id}).scalar()
            )
    return None if organisation_id is None else int(organisation_id)


@event.listens_for(Session, "before_flush")
def _bump_on_flush(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    scopes: set[str] = set()
    changed = [
        *session.new,
        *session.deleted,
        *(item for item in session.dirty if session.is_modified(item)),
    ]
    for instance in changed:
        table = getattr(getattr(instance, "__table__", None), "name", None)
        if table not in WATCHED:
            continue
        organisation_id = _organisation_of(session, instance, table)
        if organisation_id is not None:  # a new organisation: nothing of it is cached yet
            scopes.add(organisation_scope(organisation_id))
    # once per transaction and scope is enough (others see the whole commit at once), so a
    # long writer's batch of many flushes bumps each counter once
    done: set[str] = session.info.setdefault(_BUMPED, set())
    scopes -= done
    if scopes:
        bump(session.connection(), scopes)
        done |= scopes


@event.listens_for(Session, "after_transaction_end")
def _forget_bumps(session: Session, _transaction: object) -> None:
    # any end, a savepoint's too: a rolled-back bump must be made again by the next change
    session.info.pop(_BUMPED, None)


@event.listens_for(Session, "do_orm_execute")
def _bump_on_bulk_write(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    table = getattr(getattr(state.statement, "table", None), "name", None)
    if table in WATCHED:
        bump(state.session.connection(), [EVERYTHING])
