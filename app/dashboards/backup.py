"""Lossless backup of one organisation as JSON, and its restore (admin only, audit-logged).

What belongs to an organisation is read from the schema itself: every table that reaches
``organisation`` through foreign keys (business units, teams, memberships, rounds,
invitations, respondents, responses, per-response scores, stored results, adopted practices,
targets, and whatever tables are added later) is backed up with every column, ids included,
so pseudonymous respondent ids, resume and invitation links (stored as hashes) and results
survive unchanged. Two kinds of rows are referenced rather than owned:

- rubric versions (``rubric_file_version``) the rounds and results name by content hash are
  included, and restored unless the target already has that hash;
- user accounts are installation-wide: a reference to one (a membership, who created a round)
  is written as the account's e-mail and restored to the account with that e-mail if there
  is one; otherwise the reference becomes empty, and a membership without its account, or
  whose role is not the account's role there, is skipped (the restore reports it).

Report jobs (``report_job``, ``job_file``) are left out too: they are made again on demand,
and what a job serves never comes from a file.

Derived rows (dashboard summaries) are left out; the restore rebuilds them. The
backup file holds hashes of resume and invitation links and the answers: treat it like the
database.

Restore keeps every id, so it needs a database where those ids are free (an empty one, or
one without this organisation); it refuses otherwise and changes nothing.

Restore trusts nothing in the file (an edited backup must not reach another organisation).
Before writing anything it checks the whole file: the one ``organisation`` row is the one the
file says it is of; every other row reaches it through its foreign keys, each reference
naming a row of this backup that was itself accepted (parents before children, the same
schema walk as the backup); no membership has the admin role; report-job rows (from older
files) have plain file names, and are then not restored; each rubric version's content
matches its content hash. A refusal (``BackupFileError``) names the table, the row and the
reason. The rules are listed in docs/security.md, "Restore rules".
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, NoReturn

from sqlalchemy import (
    Column,
    DateTime,
    LargeBinary,
    Table,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col

from app import db, files
from app.accounts import audit, pending
from app.accounts.audit import Actor
from app.models import AssessmentRound, Organisation, RoundResult, Team, UserRole
from app.results import summaries
from app.rubric.loader import content_hash

FORMAT: Final = "processlens-backup"
VERSION: Final = 1
ROOT: Final = "organisation"
USERS: Final = "user_account"
RUBRIC: Final = "rubric_file_version"
# installation-wide tables: never part of an organisation's backup
INSTALLATION: Final = frozenset(
    {
        USERS,
        "user_session",
        "sso_identity",
        "api_token",
        "audit_event",
        RUBRIC,
        "scheduled_run",
        "cache_generation",
    }
)
# derived from the rest, rebuilt when needed
DERIVED: Final = frozenset({"result_summary", "result_dimension", "result_fact"})
# owned by an organisation, but never backed up nor restored: a report job and its files
# (app.jobs) are made again on demand, and what is served must never come from a file
REPORT_JOBS: Final = "report_job"
LEFT_OUT: Final = frozenset({REPORT_JOBS, "job_file"})
# e-mail addresses invited to a round and messages waiting to be sent: never written to a
# backup (PRODUCT.md section 6; deleted when the round closes)
NEVER_BACKED_UP: Final = frozenset({"invitation_address", "outgoing_mail"})
MEMBERSHIP: Final = "membership"
CHUNK: Final = 500


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says what to do."""


class BackupFileError(BackupError):
    """The file is not a backup this installation restores as it is (not a backup, another
    version, or a row that does not belong to its organisation): bad input."""


@dataclass(frozen=True, slots=True)
class Summary:
    organisation_id: int
    organisation: str
    rows: Mapping[str, int]
    skipped: tuple[str, ...] = field(default=())


# ---------------------------------------------------------------- which tables


def organisation_tables() -> list[Table]:
    """Tables owned by an organisation, parents before children (the schema decides)."""
    owned: list[Table] = []
    names: set[str] = set()
    for table in db.metadata.sorted_tables:
        if table.name in INSTALLATION or table.name in DERIVED or table.name in NEVER_BACKED_UP:
            continue
        if table.name == ROOT or any(fk.column.table.name in names for fk in table.foreign_keys):
            owned.append(table)
            names.add(table.name)
    return owned


def _owned_references(table: Table, owned: set[str]) -> list[Column[Any]]:
    return [
        fk.parent
        for fk in table.foreign_keys
        if fk.column.table.name in owned and fk.column.table.name != table.name
    ]


def _user_references(table: Table) -> list[Column[Any]]:
    return [fk.parent for fk in table.foreign_keys if fk.column.table.name == USERS]


def _key(table: Table) -> Column[Any]:
    primary = list(table.primary_key.columns)
    if len(primary) != 1:
        raise BackupError(f"table {table.name} has no single-column key")
    return primary[0]


# ---------------------------------------------------------------- values


def _encode(column: Column[Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(column.type, LargeBinary) or isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _decode(column: Column[Any], value: Any) -> Any:
    if value is None:
        return None
    if _is_datetime(column):
        return datetime.fromisoformat(value)
    if isinstance(column.type, LargeBinary):
        return base64.b64decode(value)
    return value


def _is_datetime(column: Column[Any]) -> bool:
    kind = column.type
    return isinstance(kind, DateTime) or isinstance(getattr(kind, "impl", None), DateTime)


def _rubric_hashes(rows: Mapping[str, Sequence[Mapping[str, Any]]]) -> set[str]:
    hashes: set[str] = set()
    for name in ("assessment_round", "round_result"):
        for row in rows.get(name, ()):
            versions = row.get("rubric_versions") or {}
            hashes.update(str(digest) for digest in versions.values())
    return hashes


# ---------------------------------------------------------------- backup


def backup(*, session: Session, organisation_id: int, actor: Actor | None = None) -> dict[str, Any]:
    """Everything of one organisation as JSON-ready data (see the module docstring); the
    backup is audited for ``actor`` (with its number of rows)."""
    document = _backup(session=session, organisation_id=organisation_id)
    if actor is not None:
        audit.record(
            session=session,
            actor=actor,
            action="organisation.backed_up",
            target_type="organisation",
            target_id=organisation_id,
            organisation_id=organisation_id,
            details={"rows": sum(counts(document).values())},
        )
    return document


def _backup(*, session: Session, organisation_id: int) -> dict[str, Any]:
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise BackupError(f"no organisation with id {organisation_id}")
    tables = organisation_tables()
    owned = {table.name for table in tables}
    data: dict[str, list[dict[str, Any]]] = {}
    keys: dict[str, list[Any]] = {}  # per table, the keys of the rows backed up
    user_ids: set[int] = set()
    for table in tables:
        key = _key(table)
        found: dict[Any, Any] = {}
        if table.name in LEFT_OUT:
            keys[table.name] = []
            continue
        if table.name == ROOT:
            queries = [select(table).where(key == organisation_id)]
        else:
            # a row belongs to the organisation through any of its parents
            queries = []
            for column in _owned_references(table, owned):
                parent = next(iter(column.foreign_keys)).column.table.name
                parent_keys = keys[parent]
                queries += [
                    select(table).where(column.in_(parent_keys[start : start + CHUNK]))
                    for start in range(0, len(parent_keys), CHUNK)
                ]
        for query in queries:
            for row in session.execute(query).mappings():
                found[row[key.name]] = row
        rows = [found[k] for k in sorted(found)]
        keys[table.name] = [row[key.name] for row in rows]
        data[table.name] = [
            {column.name: _encode(column, row[column.name]) for column in table.columns}
            for row in rows
        ]
        for column in _user_references(table):
            user_ids.update(row[column.name] for row in rows if row[column.name] is not None)
    by_name = {table.name: table for table in tables}
    users_table = db.metadata.tables[USERS]
    users = {
        str(user_id): email
        for user_id, email in session.execute(
            select(users_table.c.id, users_table.c.email).where(
                users_table.c.id.in_(sorted(user_ids))
            )
        ).all()
    }
    rubric_table = db.metadata.tables[RUBRIC]
    rubric_rows = session.execute(
        select(rubric_table)
        .where(rubric_table.c.content_hash.in_(sorted(_rubric_hashes(data))))
        .order_by(rubric_table.c.id)
    ).mappings()
    rubric = [
        {
            column.name: _encode(column, row[column.name])
            for column in rubric_table.columns
            if column.name != "id"
        }
        for row in rubric_rows
    ]
    return {
        "format": FORMAT,
        "version": VERSION,
        "schema": list(db.head_revisions()),
        "organisation_id": organisation_id,
        "organisation": organisation.name,
        "tables": {
            name: {
                "columns": [column.name for column in by_name[name].columns],
                "rows": [[row[c.name] for c in by_name[name].columns] for row in rows],
            }
            for name, rows in data.items()
        },
        "users": users,
        "rubric_versions": rubric,
    }


def dumps(document: Mapping[str, Any]) -> str:
    # keys keep their order: stored results are read in it (sub-dimensions, artifacts)
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def counts(document: Mapping[str, Any]) -> dict[str, int]:
    return {name: len(table["rows"]) for name, table in document["tables"].items()}


# ---------------------------------------------------------------- restore


def _check(document: Any) -> int:
    """The file's format, version and schema; returns the organisation it is of."""
    if not isinstance(document, Mapping) or document.get("format") != FORMAT:
        raise BackupFileError("this is not a ProcessLens backup file")
    if document.get("version") != VERSION:
        raise BackupFileError(
            f"backup format version {document.get('version')!r} is not supported "
            f"(this ProcessLens reads version {VERSION})"
        )
    schema = list(db.head_revisions())
    if document.get("schema") != schema:
        raise BackupFileError(
            f"the backup was made with database schema {document.get('schema')} but this "
            f"ProcessLens has {schema}: restore it with the same version of ProcessLens it "
            "was made with"
        )
    organisation_id = document.get("organisation_id")
    if not isinstance(organisation_id, int) or isinstance(organisation_id, bool):
        raise BackupFileError("the backup does not say which organisation it is of")
    return organisation_id


def _refuse(table: str, row_id: Any, reason: str) -> NoReturn:
    raise BackupFileError(f"{table} {row_id}: {reason}; nothing was restored")


def _rows(table: Table, section: Any) -> list[dict[str, Any]]:
    """A table's rows from the file, decoded; a malformed one is refused."""
    if not isinstance(section, Mapping):
        raise BackupFileError(f"table {table.name}: expected its columns and rows")
    names, values = section.get("columns"), section.get("rows")
    if not isinstance(names, list) or not isinstance(values, list):
        raise BackupFileError(f"table {table.name}: expected a list of columns and of rows")
    known = {column.name: column for column in table.columns}
    unknown = [str(name) for name in names if name not in known]
    if unknown:
        raise BackupFileError(f"table {table.name}: unknown columns {', '.join(unknown)}")
    key = _key(table).name
    if key not in names:
        raise BackupFileError(f"table {table.name}: the rows have no {key}")
    rows = []
    for position, row in enumerate(values):
        if not isinstance(row, list) or len(row) != len(names):
            _refuse(table.name, f"(row {position + 1})", "not one value per column")
        raw = dict(zip(names, row, strict=True))
        try:
            rows.append({name: _decode(known[name], value) for name, value in raw.items()})
        except (TypeError, ValueError) as error:
            _refuse(table.name, raw[key], f"a value cannot be read ({error})")
    return rows


def _check_rows(
    tables: Mapping[str, Table], prepared: Mapping[str, list[dict[str, Any]]], organisation_id: int
) -> None:
    """Every row reaches the restored organisation through its foreign keys, and only it.

    Tables come parents first; a row is accepted only if each reference it holds to a table of
    the backup names a row already accepted (so its chain ends at the organisation's own row,
    which must be the file's only one), and at least one such reference is set. References to
    accounts are not checked here: they are matched by e-mail when restoring.
    """
    accepted: dict[str, list[dict[str, Any]]] = {}
    values: dict[tuple[str, str], set[Any]] = {}

    def allowed(parent: str, column: str) -> set[Any]:
        if (parent, column) not in values:
            values[parent, column] = {row.get(column) for row in accepted[parent]}
        return values[parent, column]

    for name, table in tables.items():
        key = _key(table).name
        rows = prepared.get(name, [])
        seen: set[Any] = set()
        for row in rows:
            row_id = row.get(key)
            if row_id is None:
                _refuse(name, "(no id)", "every row needs its id")
            if row_id in seen:
                _refuse(name, row_id, "the id appears twice")
            seen.add(row_id)
        if name == ROOT:
            for row in rows:
                if row[key] != organisation_id:
                    _refuse(
                        name,
                        row[key],
                        f"the backup is of organisation {organisation_id} and holds no other",
                    )
            if not rows:
                raise BackupFileError(
                    f"the backup does not hold organisation {organisation_id} itself"
                )
            accepted[name] = rows
            continue
        for row in rows:
            reached = False
            for reference in sorted(table.foreign_keys, key=lambda fk: fk.parent.name):
                value = row.get(reference.parent.name)
                parent = reference.column.table.name
                if value is None or parent == USERS:
                    continue
                if parent == name:
                    # a row of the same table: checked in its own right, proves nothing here
                    if value not in seen:
                        _refuse(name, row[key], f"{reference.parent.name} {value!r} is not here")
                    continue
                if parent not in accepted:
                    _refuse(
                        name,
                        row[key],
                        f"{reference.parent.name} points into {parent}, which no backup holds",
                    )
                if value not in allowed(parent, reference.column.name):
                    where = (
                        f"the restored organisation {organisation_id}"
                        if parent == ROOT
                        else f"a {parent} row of organisation {organisation_id} in this backup"
                    )
                    _refuse(name, row[key], f"{reference.parent.name} {value!r} is not {where}")
                reached = True
            if not reached:
                _refuse(name, row[key], f"it does not belong to organisation {organisation_id}")
        accepted[name] = rows


def _check_special_rows(prepared: Mapping[str, list[dict[str, Any]]]) -> None:
    for row in prepared.get(MEMBERSHIP, []):
        if row.get("role") == UserRole.admin:
            _refuse(
                MEMBERSHIP,
                row.get("id"),
                "role admin: administrators are installation-wide, never a membership",
            )
    for row in prepared.get(REPORT_JOBS, []):
        name = row.get("file_name")
        if name is not None and not (isinstance(name, str) and files.is_plain_name(name)):
            _refuse(REPORT_JOBS, row.get("id"), f"file name {name!r} is not a plain file name")


def _users(document: Mapping[str, Any]) -> dict[str, str]:
    users = document.get("users", {})
    if not isinstance(users, Mapping) or not all(
        isinstance(old, str) and isinstance(email, str) for old, email in users.items()
    ):
        raise BackupFileError("the backup's accounts are not a list of ids and e-mail addresses")
    return dict(users)


def _rubric_versions(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rubric versions of the file, each re-hashed: content that does not match its hash
    (edited after the backup) is refused."""
    table = db.metadata.tables[RUBRIC]
    columns = {column.name: column for column in table.columns if column.name != "id"}
    raw = document.get("rubric_versions", [])
    if not isinstance(raw, list):
        raise BackupFileError("the backup's rubric versions are not a list")
    rows: list[dict[str, Any]] = []
    hashes: set[str] = set()
    for position, item in enumerate(raw):
        label = f"(version {position + 1})"
        if not isinstance(item, Mapping) or set(item) != set(columns):
            _refuse(RUBRIC, label, f"expected exactly {', '.join(columns)}")
        digest, content = item["content_hash"], item["content"]
        if not isinstance(digest, str) or not isinstance(content, str):
            _refuse(RUBRIC, label, "its content and content hash must be text")
        if content_hash(content) != digest:
            _refuse(
                RUBRIC,
                digest,
                "its content does not match its content hash (edited after the backup?)",
            )
        if digest in hashes:
            _refuse(RUBRIC, digest, "the content hash appears twice")
        hashes.add(digest)
        try:
            rows.append({name: _decode(columns[name], item[name]) for name in columns})
        except (TypeError, ValueError) as error:
            _refuse(RUBRIC, digest, f"a value cannot be read ({error})")
    return rows


@dataclass(frozen=True, slots=True)
class _Checked:
    """A backup file that passed every check, ready to write (see ``_checked``)."""

    organisation_id: int
    rows: Mapping[str, list[dict[str, Any]]]  # per table, parents first, without report jobs
    left_out: Mapping[str, int]  # rows of tables never restored, per table
    users: Mapping[str, str]  # account id in the file -> e-mail
    rubric_versions: list[dict[str, Any]]


def _checked(document: Any) -> _Checked:
    """The whole file checked, before anything is written: BackupFileError otherwise."""
    organisation_id = _check(document)
    tables = {table.name: table for table in organisation_tables()}
    sections = document.get("tables")
    if not isinstance(sections, Mapping):
        raise BackupFileError("the backup holds no tables")
    missing = [str(name) for name in sections if name not in tables]
    if missing:
        raise BackupFileError(f"the backup has tables that are not an organisation's: {missing}")
    prepared = {name: _rows(tables[name], sections[name]) for name in tables if name in sections}
    _check_rows(tables, prepared, organisation_id)
    _check_special_rows(prepared)
    users = _users(document)
    rubric_versions = _rubric_versions(document)
    return _Checked(
        organisation_id=organisation_id,
        rows={name: rows for name, rows in prepared.items() if name not in LEFT_OUT},
        left_out={name: len(rows) for name, rows in prepared.items() if name in LEFT_OUT and rows},
        users=users,
        rubric_versions=rubric_versions,
    )


def _taken(session: Session, table: Table, ids: Sequence[Any]) -> int:
    key = _key(table)
    taken = 0
    for start in range(0, len(ids), CHUNK):
        taken += session.execute(
            select(func.count()).select_from(table).where(key.in_(ids[start : start + CHUNK]))
        ).scalar_one()
    return taken


# long: the restore's one transaction, every check before the first write, read top to bottom
def restore(
    *, session: Session, document: Mapping[str, Any], actor: Actor | None = None
) -> Summary:
    """Restore an organisation (see ``_restore``); audited for ``actor`` once restored."""
    summary = _restore(session=session, document=document)
    if actor is not None:
        audit.record(
            session=session,
            actor=actor,
            action="organisation.restored",
            target_type="organisation",
            target_id=summary.organisation_id,
            organisation_id=summary.organisation_id,
            details={"rows": sum(summary.rows.values())},
        )
    return summary


def _refuse_collisions(
    session: Session, tables: Mapping[str, Table], prepared: Mapping[str, Sequence[Any]]
) -> None:
    """Restore keeps every id: refuse a database that holds any of them, or the slug."""
    for name, rows in prepared.items():
        ids = [row[_key(tables[name]).name] for row in rows]
        if ids and _taken(session, tables[name], ids):
            raise BackupError(
                f"this database already holds {name} rows with the backup's ids (is the "
                "organisation already here?): restore into an empty database"
            )
    organisation_row = prepared[ROOT][0]
    slug_column = tables[ROOT].c.slug
    if session.execute(
        select(func.count()).where(slug_column == organisation_row["slug"])
    ).scalar_one():
        raise BackupError(
            f"an organisation with the short name {organisation_row['slug']!r} exists here"
        )


def _restore_rubric_versions(session: Session, versions: Sequence[Mapping[str, Any]]) -> None:
    """Insert the rubric versions (already re-hashed) this database does not hold yet."""
    rubric_table = db.metadata.tables[RUBRIC]
    present: set[str] = set(
        session.execute(
            select(rubric_table.c.content_hash).where(
                rubric_table.c.content_hash.in_([row["content_hash"] for row in versions])
            )
        ).scalars()
    )
    new_versions = [row for row in versions if row["content_hash"] not in present]
    if new_versions:
        session.execute(insert(rubric_table), new_versions)


def _restore(*, session: Session, document: Mapping[str, Any]) -> Summary:
    """Put a backed-up organisation back, with every id (see the module docstring).

    The whole file is checked first: a file that is not a trustworthy backup of one
    organisation raises BackupFileError, one that collides with this database BackupError,
    and either way nothing is written. A write the database still refuses (a link hash that
    is taken) raises BackupError after some rows were written: roll the session back.
    """
    checked = _checked(document)
    tables = {table.name: table for table in organisation_tables() if table.name not in LEFT_OUT}
    _refuse_collisions(session, tables, checked.rows)
    organisation_row = checked.rows[ROOT][0]
    kept, skipped = _kept_rows(session, tables, checked)
    _restore_rubric_versions(session, checked.rubric_versions)
    restored: dict[str, int] = {}
    for name, table in tables.items():
        for start in range(0, len(kept[name]), CHUNK):
            _insert(session, name, table, kept[name][start : start + CHUNK])
        restored[name] = len(kept[name])
    session.flush()
    _reset_sequences(session, tables.values())
    summaries.rebuild(session=session, organisation_id=checked.organisation_id)
    return Summary(
        organisation_id=checked.organisation_id,
        organisation=str(organisation_row.get("name", "")),
        rows=restored,
        skipped=tuple(skipped),
    )


# ---------------------------------------------------------------- restore beside a running service

FIRST_CHUNK: Final = 25  # rows in a table's first transaction; then adapted to the budget
MAX_CHUNK: Final = 5000


# long: the batched restore's steps in order — check, create pending, tables, publish or remove
def restore_in_batches(
    *,
    sessions: sessionmaker[Session],
    document: Mapping[str, Any],
    actor: Actor | None = None,
    timings: db.BatchTimings | None = None,
) -> Summary:
    """``restore`` for a running service: the same checks and the same rows, written so that
    people using the service never wait long for it.

    The whole file is checked and the database looked at (ids, slug, accounts) before the
    first write. The organisation is then created *pending* (hidden, app.accounts.pending)
    and its rows written in short transactions, each holding the write lock well under
    ``db.WRITE_BATCH_BUDGET_S`` (the number of rows per transaction adapts to how long the
    last one took; ``timings`` records each). At the end it is flipped visible with its
    audit event; if anything fails, what was written is removed, so a refused or failed
    restore changes nothing anyone sees.
    """
    timings = timings if timings is not None else db.BatchTimings()
    checked = _checked(document)
    tables = {table.name: table for table in organisation_tables() if table.name not in LEFT_OUT}
    with sessions() as session:
        session.connection(execution_options={"sqlite_begin": "DEFERRED"})  # only reads
        _refuse_collisions(session, tables, checked.rows)
        kept, skipped = _kept_rows(session, tables, checked)
        session.rollback()
    organisation_row = {**kept[ROOT][0], "pending": True}
    with db.write_batch(sessions, timings, "restore: organisation") as session:
        _restore_rubric_versions(session, checked.rubric_versions)
        session.execute(insert(tables[ROOT]), [organisation_row])
    try:
        for name, table in tables.items():
            rows = kept[name] if name != ROOT else []
            start, chunk = 0, FIRST_CHUNK  # rows differ in size from table to table
            while start < len(rows):
                label = f"restore: {min(chunk, len(rows) - start)} {name} rows"
                with db.write_batch(sessions, timings, label) as session:
                    _insert(session, name, table, rows[start : start + chunk])
                start += chunk
                chunk = _next_chunk(chunk, timings.held[-1])
        _summarise_in_batches(sessions, timings, checked.organisation_id)
        with db.write_batch(sessions, timings, "restore: sequences") as session:
            _reset_sequences(session, tables.values())
            # finds nothing left to build (done above); moves summaries if units differ
            summaries.rebuild(session=session, organisation_id=checked.organisation_id)
        with db.write_batch(sessions, timings, "restore: audit") as session:
            if actor is not None:
                _record_restored(session, actor, checked.organisation_id, kept)
        pending.publish(sessions=sessions, organisation_id=checked.organisation_id, timings=timings)
    except BaseException:
        pending.remove(sessions=sessions, organisation_id=checked.organisation_id, timings=timings)
        raise
    return Summary(
        organisation_id=checked.organisation_id,
        organisation=str(organisation_row.get("name", "")),
        rows={name: len(rows) for name, rows in kept.items()},
        skipped=tuple(skipped),
    )


SUMMARIES_PER_BATCH: Final = 1  # results summarised per transaction (tens of ms each)


def _summarise_in_batches(
    sessions: sessionmaker[Session], timings: db.BatchTimings, organisation_id: int
) -> None:
    """The dashboards' summaries of the restored results, a few results per transaction (in
    one, a large organisation's would hold the write lock far past the budget)."""
    with sessions() as session:
        session.connection(execution_options={"sqlite_begin": "DEFERRED"})  # only reads
        result_ids: list[int] = list(
            session.execute(
                select(col(RoundResult.id))
                .join(AssessmentRound, col(AssessmentRound.id) == col(RoundResult.round_id))
                .join(Team, col(Team.id) == col(AssessmentRound.team_id))
                .where(col(Team.organisation_id) == organisation_id)
                .order_by(col(RoundResult.id))
            ).scalars()
        )
        session.rollback()
    for start in range(0, len(result_ids), SUMMARIES_PER_BATCH):
        chunk = result_ids[start : start + SUMMARIES_PER_BATCH]
        with db.write_batch(sessions, timings, "restore: summaries") as session:
            results: list[RoundResult] = list(
                session.execute(select(RoundResult).where(col(RoundResult.id).in_(chunk))).scalars()
            )
            for result in results:
                summaries.store(session=session, result=result)


def _next_chunk(chunk: int, held: float) -> int:
    """Rows for the next transaction: as many as the last one's pace fits in a quarter of the
    budget (room for a slow disk or a busy machine), at most doubling from one to the next."""
    fits = int(chunk * (db.WRITE_BATCH_BUDGET_S / 4) / max(held, 1e-4))
    return max(1, min(MAX_CHUNK, chunk * 2, fits))


def _insert(session: Session, name: str, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    try:
        session.execute(insert(table), list(rows))
    except (IntegrityError, DataError) as error:
        detail = str(error.orig).strip().splitlines()[0] if error.orig else "a conflict"
        raise BackupError(f"{name}: this database refuses the backup's rows ({detail})") from error


def _record_restored(
    session: Session, actor: Actor, organisation_id: int, kept: Mapping[str, Sequence[Any]]
) -> None:
    audit.record(
        session=session,
        actor=actor,
        action="organisation.restored",
        target_type="organisation",
        target_id=organisation_id,
        organisation_id=organisation_id,
        details={"rows": sum(len(rows) for rows in kept.values())},
    )


def _kept_rows(
    session: Session, tables: Mapping[str, Table], checked: _Checked
) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """The rows to write, with account references mapped to this database's accounts (by
    e-mail), and what is skipped and why."""
    users_table = db.metadata.tables[USERS]
    emails = checked.users
    accounts = {
        email: (user_id, role)
        for email, user_id, role in session.execute(
            select(users_table.c.email, users_table.c.id, users_table.c.role).where(
                users_table.c.email.in_(sorted(set(emails.values())))
            )
        ).all()
    }
    skipped = [
        f"{name}: {count} rows (report jobs are made again on the new server)"
        for name, count in checked.left_out.items()
    ]
    kept: dict[str, list[dict[str, Any]]] = {}
    for name, table in tables.items():
        references = _user_references(table)
        kept[name] = []
        for source in checked.rows.get(name, []):
            row = dict(source)
            keep = True
            for column in references:
                old = row.get(column.name)
                if old is None:
                    continue
                email = emails.get(str(old), "")
                user_id, role = accounts.get(email, (None, None))
                if user_id is None and not column.nullable:
                    keep = False
                    skipped.append(f"{name} {row[_key(table).name]}: no account {email or '?'}")
                elif name == MEMBERSHIP and role != row.get("role"):
                    # it would grant nothing now, and the role it names if the account's changed
                    keep = False
                    skipped.append(
                        f"{name} {row[_key(table).name]}: {email} is not a {row.get('role')} here"
                    )
                row[column.name] = user_id
            if keep:
                kept[name].append(row)
    return kept, skipped


def _reset_sequences(session: Session, tables: Iterable[Table]) -> None:
    """PostgreSQL's id sequences past the restored ids (SQLite needs nothing)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in [*tables, db.metadata.tables[RUBRIC]]:
        key = _key(table)
        if key.name != "id":
            continue
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f'GREATEST((SELECT COALESCE(MAX(id), 0) FROM "{table.name}"), 1))'
            )
        )


def loads(raw: str | bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise BackupFileError(f"the backup file is not valid JSON: {error}") from error
