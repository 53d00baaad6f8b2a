"""Shared fixtures: real migrated databases (SQLite and PostgreSQL), rolled-back sessions, apps.

How tests get a database
------------------------
- ``backend`` is parametrized over "sqlite" and "postgres" (the PostgreSQL variant carries the
  ``postgres`` marker). Every fixture below that depends on it runs each test on both.
- ``database_url`` / ``engine``: one migrated database per backend for the whole run.
- ``db_connection`` / ``session``: per-test isolation: the test runs inside a transaction that
  is rolled back afterwards; ``session.commit()`` only releases a SAVEPOINT.
- ``app`` / ``client``: the real app, whose request sessions use the same rolled-back
  connection, so a route's commit is visible to the test and undone after it.
- ``fresh_database_url``: a new migrated database of the test's own, for tests that need real
  commits seen by other connections (concurrency, live servers, browsers).
- ``database_factory.create(backend, migrated=...)`` for anything else (e.g. empty databases).
- ``redis_url``: a reachable Redis for tests marked ``redis``.

PostgreSQL comes from PROCESSLENS_TEST_POSTGRES_URL (default: postgres@127.0.0.1:5432/test):
each run creates uniquely named databases there and drops them at the end. When PostgreSQL or
Chromium is missing, the tests that need it are skipped with a reason, unless CI=true, where
they fail instead: CI must never pass by skipping.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, make_url
from sqlalchemy.engine import Connection
from sqlmodel import Session

from app import db, migrate
from app.config import Settings, load_settings
from app.main import create_app

CI = os.environ.get("CI", "").strip().lower() == "true"
POSTGRES_ADMIN_URL = os.environ.get(
    "PROCESSLENS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_TEST_URL = os.environ.get("PROCESSLENS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def unavailable(reason: str) -> None:
    """Skip with ``reason`` (which says how to enable the test), or fail when CI=true."""
    if CI:
        pytest.fail(f"{reason} (CI=true: this must be available)", pytrace=False)
    pytest.skip(reason)


def make_test_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for tests: environment "test", the given database, nothing from the shell."""
    values: dict[str, Any] = {"environment": "test", "database_url": database_url}
    values.update(overrides)
    return load_settings(**values)


def _psycopg_url(url: str) -> str:
    """psycopg wants postgresql://, SQLAlchemy postgresql+psycopg://."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# A run that is killed cannot drop its PostgreSQL databases; the next run drops those older
# than this (their names start with the creating run's Unix time).
STALE_DATABASE_SECONDS = 6 * 3600


class DatabaseFactory:
    """Creates throw-away databases; migrated ones are cloned from a template migrated once."""

    def __init__(self, tmp_dir: Path) -> None:
        self.tmp_dir = tmp_dir
        self.run_id = f"{int(time.time())}_{uuid.uuid4().hex[:6]}"
        self._pg_databases: list[str] = []
        self._templates: dict[str, str] = {}
        self._count = 0

    def _name(self) -> str:
        self._count += 1
        return f"processlens_test_{self.run_id}_{self._count}"

    def _postgres_execute(self, sql: str) -> None:
        with psycopg.connect(_psycopg_url(POSTGRES_ADMIN_URL), autocommit=True) as conn:
            conn.execute(sql.encode())  # names in it are ours, never user input

    def _empty(self, backend: str) -> str:
        name = self._name()
        if backend == "sqlite":
            return f"sqlite:///{self.tmp_dir / (name + '.db')}"
        self._postgres_execute(f'CREATE DATABASE "{name}"')
        self._pg_databases.append(name)
        return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False)

    def _template(self, backend: str) -> str:
        if backend not in self._templates:
            url = self._empty(backend)
            migrate.upgrade(make_test_settings(url))
            self._templates[backend] = url
        return self._templates[backend]

    def create(self, backend: str, *, migrated: bool = True) -> str:
        """The URL of a new database: empty, or migrated to the newest schema."""
        if not migrated:
            return self._empty(backend)
        template = self._template(backend)
        name = self._name()
        if backend == "sqlite":
            source = make_url(template).database
            assert source is not None
            target = self.tmp_dir / f"{name}.db"
            shutil.copyfile(source, target)
            return f"sqlite:///{target}"
        template_name = make_url(template).database
        self._postgres_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
        self._pg_databases.append(name)
        return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False)

    def drop_stale(self) -> list[str]:
        """Drop test databases that killed runs left behind, hours ago; returns their names."""
        url = _psycopg_url(POSTGRES_ADMIN_URL)
        with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
            names = [
                row[0]
                for row in conn.execute(
                    r"SELECT datname FROM pg_database WHERE datname LIKE 'processlens\_test\_%'"
                )
            ]
        cutoff = time.time() - STALE_DATABASE_SECONDS
        stale = []
        for name in names:
            started = name.removeprefix("processlens_test_").split("_", 1)[0]
            if started.isdigit() and int(started) < cutoff and not name.startswith(self.run_id):
                stale.append(name)
        for name in stale:
            self._postgres_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return stale

    def drop_all(self) -> None:
        for name in reversed(self._pg_databases):
            self._postgres_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._pg_databases.clear()


@pytest.fixture(scope="session", name="unavailable")
def unavailable_fixture() -> Any:
    """``unavailable(reason)``: skip, or fail when CI=true (for tests needing a tool)."""
    return unavailable


@pytest.fixture(scope="session", name="make_settings")
def make_settings_fixture() -> Any:
    """``make_settings(database_url, **overrides)``: test Settings independent of the shell."""
    return make_test_settings


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of a reachable PostgreSQL server (skips, or fails with CI=true)."""
    try:
        with psycopg.connect(_psycopg_url(POSTGRES_ADMIN_URL), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        safe = make_url(POSTGRES_ADMIN_URL).render_as_string(hide_password=True)
        unavailable(
            f"PostgreSQL is not reachable at {safe} ({str(error).splitlines()[0]}); start it "
            "(Debian: apt-get install postgresql) or point PROCESSLENS_TEST_POSTGRES_URL at one"
        )
    return POSTGRES_ADMIN_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A reachable Redis (database 15 by default, flushed before the run); mark tests
    ``redis``. Skips when Redis is missing, or fails with CI=true."""
    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=3)
    try:
        client.ping()
        client.flushdb()
    except redis.RedisError as error:
        unavailable(
            f"Redis is not reachable at {REDIS_TEST_URL} ({error}); start it "
            "(Debian: apt-get install redis-server) or set PROCESSLENS_TEST_REDIS_URL"
        )
    finally:
        client.close()
    return REDIS_TEST_URL


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory.mktemp("databases"))
    with contextlib.suppress(psycopg.OperationalError):  # no server: nothing to sweep
        factory.drop_stale()
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """ "sqlite" or "postgres": tests using it (directly or through the fixtures below) run
    once per database."""
    name: str = request.param
    if name == "postgres":
        request.getfixturevalue("postgres_server")
    return name


@pytest.fixture(scope="session")
def database_url(backend: str, database_factory: DatabaseFactory) -> str:
    """A database migrated to the newest schema, shared by the run's rolled-back tests."""
    return database_factory.create(backend)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """The app's engine (pragmas, BEGIN IMMEDIATE, pool) on the shared migrated database."""
    engine = db.create_db_engine(make_test_settings(database_url))
    yield engine
    engine.dispose()


@pytest.fixture
def db_connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield connection
        finally:
            if transaction.is_active:
                transaction.rollback()


@pytest.fixture
def session(db_connection: Connection) -> Iterator[Session]:
    """A session on the rolled-back connection: commit() releases a SAVEPOINT, nothing more."""
    with db.session_factory(db_connection)() as session:
        yield session


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_test_settings(database_url, data_dir=tmp_path / "data")


@pytest.fixture
def app(settings: Settings, db_connection: Connection) -> Iterator[FastAPI]:
    """The real app; its request sessions share the test's rolled-back connection."""
    application = create_app(settings)
    application.state.sessions = db.session_factory(db_connection)
    application.state.read_sessions = db.read_session_factory(db_connection)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A client for ``app``, with its lifespan (the start-up schema check) run."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def fresh_database_url(backend: str, database_factory: DatabaseFactory) -> str:
    """A migrated database of this test's own (for real commits across connections)."""
    return database_factory.create(backend)
