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
  is one; otherwise the reference becomes empty, and a membership without its account is
  skipped (the restore reports it).

Derived rows (dashboard summaries) are left out; they are rebuilt on the next view. The
backup file holds hashes of resume and invitation links and the answers: treat it like the
database.

Restore keeps every id, so it needs a database where those ids are free (an empty one, or
one without this organisation); it refuses otherwise and changes nothing.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

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
from sqlmodel import Session

from app import db
from app.models import Organisation

FORMAT: Final = "processlens-backup"
VERSION: Final = 1
ROOT: Final = "organisation"
USERS: Final = "user_account"
RUBRIC: Final = "rubric_file_version"
# installation-wide tables: never part of an organisation's backup
INSTALLATION: Final = frozenset({USERS, "user_session", "api_token", "audit_event", RUBRIC})
# derived from the rest, rebuilt when needed
DERIVED: Final = frozenset({"result_summary", "result_dimension", "result_fact"})
CHUNK: Final = 500


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says what to do."""


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
        if table.name in INSTALLATION or table.name in DERIVED:
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


def backup(*, session: Session, organisation_id: int) -> dict[str, Any]:
    """Everything of one organisation as JSON-ready data (see the module docstring)."""
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


def _check(document: Any) -> None:
    if not isinstance(document, Mapping) or document.get("format") != FORMAT:
        raise BackupError("this is not a ProcessLens backup file")
    if document.get("version") != VERSION:
        raise BackupError(
            f"backup format version {document.get('version')!r} is not supported "
            f"(this ProcessLens reads version {VERSION})"
        )
    schema = list(db.head_revisions())
    if document.get("schema") != schema:
        raise BackupError(
            f"the backup was made with database schema {document.get('schema')} but this "
            f"ProcessLens has {schema}: restore it with the same version of ProcessLens it "
            "was made with"
        )


def _rows(table: Table, section: Mapping[str, Any]) -> list[dict[str, Any]]:
    known = {column.name: column for column in table.columns}
    names = list(section["columns"])
    unknown = [name for name in names if name not in known]
    if unknown:
        raise BackupError(f"table {table.name}: unknown columns {', '.join(unknown)}")
    rows = []
    for values in section["rows"]:
        rows.append(
            {name: _decode(known[name], value) for name, value in zip(names, values, strict=True)}
        )
    return rows


def _taken(session: Session, table: Table, ids: Sequence[Any]) -> int:
    key = _key(table)
    taken = 0
    for start in range(0, len(ids), CHUNK):
        taken += session.execute(
            select(func.count()).select_from(table).where(key.in_(ids[start : start + CHUNK]))
        ).scalar_one()
    return taken


def restore(*, session: Session, document: Mapping[str, Any]) -> Summary:
    """Put a backed-up organisation back, with every id; refuses if any id is taken."""
    _check(document)
    tables = {table.name: table for table in organisation_tables()}
    sections: Mapping[str, Any] = document["tables"]
    missing = [name for name in sections if name not in tables]
    if missing:
        raise BackupError(f"the backup has tables this ProcessLens does not: {missing}")
    prepared = {name: _rows(tables[name], sections[name]) for name in tables if name in sections}

    for name, rows in prepared.items():
        ids = [row[_key(tables[name]).name] for row in rows]
        if ids and _taken(session, tables[name], ids):
            raise BackupError(
                f"this database already holds {name} rows with the backup's ids (is the "
                "organisation already here?): restore into an empty database"
            )
    organisation_rows = prepared.get(ROOT, [])
    slug_column = tables[ROOT].c.slug
    if (
        organisation_rows
        and session.execute(
            select(func.count()).where(slug_column == organisation_rows[0]["slug"])
        ).scalar_one()
    ):
        raise BackupError(
            f"an organisation with the short name {organisation_rows[0]['slug']!r} exists here"
        )

    # accounts by e-mail: references to accounts this database does not have become empty
    users_table = db.metadata.tables[USERS]
    emails: Mapping[str, str] = document.get("users", {})
    existing = dict(
        session.execute(
            select(users_table.c.email, users_table.c.id).where(
                users_table.c.email.in_(sorted(set(emails.values())))
            )
        ).all()
    )
    skipped: list[str] = []

    rubric_table = db.metadata.tables[RUBRIC]
    present: set[str] = set(
        session.execute(
            select(rubric_table.c.content_hash).where(
                rubric_table.c.content_hash.in_(
                    [row["content_hash"] for row in document.get("rubric_versions", [])]
                )
            )
        ).scalars()
    )
    new_versions = [
        {
            name: (datetime.fromisoformat(value) if name == "created_at" else value)
            for name, value in row.items()
        }
        for row in document.get("rubric_versions", [])
        if row["content_hash"] not in present
    ]
    if new_versions:
        session.execute(insert(rubric_table), new_versions)

    restored: dict[str, int] = {}
    for name, table in tables.items():
        rows = prepared.get(name, [])
        references = _user_references(table)
        kept = []
        for row in rows:
            keep = True
            for column in references:
                old = row.get(column.name)
                if old is None:
                    continue
                user_id = existing.get(emails.get(str(old), ""))
                if user_id is None and not column.nullable:
                    keep = False
                    skipped.append(
                        f"{name} {row[_key(table).name]}: no account {emails.get(str(old), '?')}"
                    )
                row[column.name] = user_id
            if keep:
                kept.append(row)
        for start in range(0, len(kept), CHUNK):
            session.execute(insert(table), kept[start : start + CHUNK])
        restored[name] = len(kept)
    session.flush()
    _reset_sequences(session, tables.values())
    organisation = organisation_rows[0] if organisation_rows else {}
    return Summary(
        organisation_id=int(organisation.get("id", document.get("organisation_id", 0))),
        organisation=str(organisation.get("name", document.get("organisation", ""))),
        rows=restored,
        skipped=tuple(skipped),
    )


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
        raise BackupError(f"the backup file is not valid JSON: {error}") from error
