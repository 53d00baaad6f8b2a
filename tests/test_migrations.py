"""Migrations: pytest-alembic's standard checks and the same schema on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pytest_alembic.tests import (
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
from sqlalchemy import Engine, inspect

from app import db, migrate
from app.config import MIGRATIONS_DIR, Settings

# pytest-alembic's four standard checks, collected here; ``alembic_engine`` below makes each
# run on an empty SQLite database and on an empty PostgreSQL database.
__all__ = [
    "test_model_definitions_match_ddl",
    "test_single_head_revision",
    "test_up_down_consistency",
    "test_upgrade",
]


@pytest.fixture
def alembic_config() -> dict[str, Any]:
    return {"script_location": str(MIGRATIONS_DIR)}


@pytest.fixture
def alembic_engine(
    backend: str, database_factory: Any, make_settings: Callable[..., Settings]
) -> Iterator[Engine]:
    url = database_factory.create(backend, migrated=False)
    engine = db.create_db_engine(make_settings(url), for_migrations=True)
    yield engine
    engine.dispose()


def _schema(engine: Engine) -> dict[str, list[str]]:
    """Table name -> column names, as the database itself reports them."""
    inspector = inspect(engine)
    return {
        table: sorted(column["name"] for column in inspector.get_columns(table))
        for table in sorted(inspector.get_table_names())
    }


def _migrated_schema(url: str, make_settings: Callable[..., Settings]) -> dict[str, list[str]]:
    settings = make_settings(url)
    outcome = migrate.upgrade(settings)
    assert outcome.after.is_current
    engine = db.create_db_engine(settings)
    try:
        return _schema(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_sqlite_and_postgres_get_the_same_tables_and_columns(
    postgres_server: str, database_factory: Any, make_settings: Callable[..., Settings]
) -> None:
    sqlite_schema = _migrated_schema(
        database_factory.create("sqlite", migrated=False), make_settings
    )
    postgres_schema = _migrated_schema(
        database_factory.create("postgres", migrated=False), make_settings
    )
    assert sqlite_schema == postgres_schema
    assert "response" in sqlite_schema
    assert set(db.metadata.tables) | {"alembic_version"} == set(sqlite_schema)


def test_downgrade_to_base_and_upgrade_again(
    fresh_database_url: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(fresh_database_url)
    down = migrate.downgrade(settings, "base")
    assert down.after.current == ()
    engine = db.create_db_engine(settings)
    try:
        assert _schema(engine) == {"alembic_version": ["version_num"]}
        up = migrate.upgrade(settings)
        assert up.after.is_current
        assert set(_schema(engine)) == set(db.metadata.tables) | {"alembic_version"}
    finally:
        engine.dispose()


def test_concurrent_migrations_run_once(
    backend: str, database_factory: Any, make_settings: Callable[..., Settings]
) -> None:
    """Several workers starting together: all succeed, exactly one applies the migrations."""
    settings = make_settings(database_factory.create(backend, migrated=False))
    outcomes: list[migrate.MigrationOutcome] = []
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            outcomes.append(migrate.upgrade(settings))
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert sorted(outcome.changed for outcome in outcomes) == [False, False, True]
    assert all(outcome.after.is_current for outcome in outcomes)


def test_prepare_schema_refuses_an_empty_database_unless_allowed_to_migrate(
    backend: str, database_factory: Any, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(database_factory.create(backend, migrated=False))
    engine = db.create_db_engine(settings)
    try:
        with pytest.raises(db.SchemaOutOfDateError, match="run `processlens migrate`"):
            migrate.prepare_schema(settings, engine, migrate=False)
        assert migrate.prepare_schema(settings, engine, migrate=True).is_current
    finally:
        engine.dispose()


def test_a_schema_newer_than_the_code_is_reported_as_such() -> None:
    status = db.SchemaStatus(current=("ffffffffffff",), head=db.head_revisions())
    assert not status.known
    assert "newer than this version" in status.describe()


def test_the_code_has_exactly_one_head() -> None:
    assert len(db.head_revisions()) == 1


def test_migration_files_follow_the_date_slug_naming() -> None:
    names = sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("*.py"))
    assert names
    for name in names:
        year, month, day, slug = name.split("_", 3)
        assert (len(year), len(month), len(day)) == (4, 2, 2), name
        assert slug.endswith(".py")
