"""What the database commands of the CLI share: one-line failures and a checked session."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NoReturn

import typer
from sqlmodel import Session

from app import db
from app.config import ConfigurationError, Settings, get_settings
from app.errors import DomainError
from app.logs import configure_logging


def fail(message: str, code: int = 1) -> NoReturn:
    """End the command with ``error: message`` on stderr and exit ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def database_session() -> Iterator[tuple[Session, Settings]]:
    """A session that commits when the command succeeds; user errors end in one line.

    A bad setting exits 2; an unreachable database, a schema that is not the code's (run
    `processlens migrate`) or a refused action exits 1, with nothing written.
    """
    try:
        settings = get_settings()
        configure_logging(settings)
        engine = db.create_db_engine(settings)
    except ConfigurationError as error:
        fail(str(error), 2)
    try:
        status = db.schema_status(engine)
        if not status.is_current:
            fail(status.describe())
        with db.session_factory(engine)() as session:
            try:
                yield session, settings
                session.commit()
            except DomainError as error:
                session.rollback()
                fail(error.message)
    except (db.DatabaseUnavailableError, db.SchemaOutOfDateError) as error:
        fail(str(error))
    finally:
        engine.dispose()
