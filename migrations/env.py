"""Alembic environment: the app's settings give the database, the app's models the target."""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import JSON, Engine
from sqlalchemy.engine import Connection
from sqlmodel.sql.sqltypes import AutoString

import app.models  # noqa: F401  (registers every table on the metadata)
from app import db
from app.config import get_settings

config = context.config
target_metadata = db.metadata

# Only the `alembic` command line configures logging from alembic.ini; inside the app (and in
# tests) the app's own logging setup stays in charge.
if config.cmd_opts is not None and config.config_file_name is not None:
    fileConfig(config.config_file_name)


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Write the app's column types as plain SQLAlchemy ones, so migrations never import app."""
    if type_ != "type":
        return False
    if isinstance(obj, db.UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if isinstance(obj, JSON) and getattr(obj, "_variant_mapping", None):
        # db.JSONType: JSON, and JSONB on PostgreSQL
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return 'sa.JSON().with_variant(postgresql.JSONB(), "postgresql")'
    if isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode recreates the table instead
        render_as_batch=True,
        compare_type=True,
        compare_server_default=True,
        render_item=render_item,
        transaction_per_migration=True,
        # app.db takes BEGIN over from the sqlite3 module, which makes SQLite's DDL
        # transactional: a failed migration rolls back whole and can simply be run again
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connectable = config.attributes.get("connection")
    if isinstance(connectable, Connection):
        # processlens migrate holds the connection (and the migration lock)
        run_migrations(connectable)
        return
    if isinstance(connectable, Engine):
        # pytest-alembic hands over an engine
        with connectable.connect() as connection:
            run_migrations(connection)
            connection.commit()
        return
    settings = get_settings()
    url = config.attributes.get("database_url") or settings.resolved_database_url
    engine = db.create_db_engine(settings, url=url, for_migrations=True)
    try:
        with engine.connect() as connection:
            run_migrations(connection)
    finally:
        engine.dispose()


def run_offline() -> None:
    url = config.attributes.get("database_url") or get_settings().resolved_database_url
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
