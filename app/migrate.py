"""Schema upgrades and downgrades that run once, even when several workers start together."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from app import db
from app.config import Settings

logger = logging.getLogger(__name__)

# pg_advisory_lock takes a 64-bit key; any constant works as long as only migrations use it.
POSTGRES_MIGRATION_LOCK_KEY = 0x50726F634C656E73  # "ProcLens"


@dataclasses.dataclass(frozen=True)
class MigrationOutcome:
    before: db.SchemaStatus
    after: db.SchemaStatus

    @property
    def changed(self) -> bool:
        return self.before.current != self.after.current


def lock_file_for(engine: Engine) -> Path | None:
    """The lock file beside a SQLite database file (None for in-memory databases)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        # SQLite's URI form (`file:/path/db?mode=ro`, with `uri=true`): the file is the path
        database = database.removeprefix("file:").split("?", 1)[0]
    return Path(database).expanduser().resolve().with_name(Path(database).name + ".migrate.lock")


@contextlib.contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Hold the installation-wide migration lock: a file lock for SQLite, an advisory lock for
    PostgreSQL. A second process waits here and then finds the schema already current."""
    if engine.dialect.name == "sqlite":
        lock_path = lock_file_for(engine)
        if lock_path is None:
            yield
            return
        with lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    with engine.connect() as connection:
        # the advisory lock belongs to this session, outside any migration transaction
        locked = connection.execution_options(isolation_level="AUTOCOMMIT")
        locked.execute(text("SELECT pg_advisory_lock(:key)"), {"key": POSTGRES_MIGRATION_LOCK_KEY})
        try:
            yield
        finally:
            locked.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": POSTGRES_MIGRATION_LOCK_KEY}
            )


def _check_foreign_keys(engine: Engine) -> None:
    """SQLite migrates with foreign keys off (see db.py); make sure nothing was left dangling."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        connection.rollback()
    if problems:
        raise RuntimeError(f"migration left {len(problems)} broken foreign key(s): {problems[:5]}")


def _run(settings: Settings, *, action: str, revision: str) -> MigrationOutcome:
    engine = db.create_db_engine(settings, for_migrations=True)
    try:
        with migration_lock(engine):
            before = db.schema_status(engine)
            if action == "upgrade" and revision == "head" and before.is_current:
                return MigrationOutcome(before=before, after=before)
            with engine.begin() as connection:
                config = db.alembic_config(connection=connection)
                if action == "upgrade":
                    command.upgrade(config, revision)
                else:
                    command.downgrade(config, revision)
            _check_foreign_keys(engine)
            after = db.schema_status(engine)
    except OperationalError as error:
        raise db.DatabaseUnavailableError(db.describe_database_error(error, engine.url)) from None
    finally:
        engine.dispose()
    logger.info(
        "schema %s: %s -> %s",
        action,
        ",".join(before.current) or "empty",
        ",".join(after.current) or "empty",
    )
    return MigrationOutcome(before=before, after=after)


def upgrade(settings: Settings, revision: str = "head") -> MigrationOutcome:
    """Upgrade the configured database to ``revision`` (default: the newest)."""
    return _run(settings, action="upgrade", revision=revision)


def downgrade(settings: Settings, revision: str) -> MigrationOutcome:
    """Downgrade the configured database to ``revision`` ("base" empties it)."""
    return _run(settings, action="downgrade", revision=revision)


def prepare_schema(settings: Settings, engine: Engine, *, migrate: bool) -> db.SchemaStatus:
    """Make sure the schema is current before serving: migrate if allowed, else refuse.

    Raises SchemaOutOfDateError (naming `processlens migrate`) or DatabaseUnavailableError.
    """
    status = db.schema_status(engine)
    if status.is_current:
        return status
    if migrate and status.known:
        return upgrade(settings).after
    raise db.SchemaOutOfDateError(status.describe())
