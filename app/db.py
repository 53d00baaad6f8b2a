"""Database engine, column types, the request session that owns its transaction, schema checks."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, cast

from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from fastapi import Depends, Request
from sqlalchemy import JSON, DateTime, Engine, create_engine, event, inspect, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL, Connection, ExceptionContext, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection, Dialect
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Session, SQLModel

from app import cache_generations  # noqa: F401  (writers bump the caches' counters)
from app.config import ALEMBIC_INI, MIGRATIONS_DIR, ConfigurationError, Settings

logger = logging.getLogger(__name__)

# Named constraints make migrations reviewable and let SQLite's batch mode (which recreates
# tables) find a constraint again; every table of the app lives in SQLModel's shared metadata.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = SQLModel.metadata
metadata.naming_convention = NAMING_CONVENTION

SQLITE_BUSY_TIMEOUT_MS = 10_000
ALEMBIC_VERSION_TABLE = "alembic_version"
POSTGRES_CONNECT_TIMEOUT_S = 5


class DatabaseUnavailableError(Exception):
    """The database cannot be reached or opened; the message is one line, without secrets."""


class SchemaOutOfDateError(Exception):
    """The database schema is not the one this code expects."""


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (the only kind of datetime we store)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, on SQLite as on PostgreSQL.

    SQLite has no time zones and hands back naive values; a naive value coming *in* is a bug
    (local or UTC?), so it is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use app.db.utcnow() or an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSON on SQLite, JSONB on PostgreSQL (indexable, compact, and what dashboards query).
JSONType: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")


# How long a request may queue for SQLite's write lock before /readyz says "degraded"
# (docs/performance.md, "Writers and respondents"). Long writers commit in batches that each
# hold the lock for at most WRITE_BATCH_BUDGET_S, so a request normally waits far less.
WRITE_LOCK_WAIT_BUDGET_S = 1.0
WRITE_BATCH_BUDGET_S = 0.2


class WriteLockWaits:
    """The transactions of this process now queuing for SQLite's write lock, and since when."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started: dict[int, float] = {}
        self._next = 0

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        with self._lock:
            self._next += 1
            ticket = self._next
            self._started[ticket] = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                del self._started[ticket]

    def longest(self) -> float:
        """Seconds the longest-waiting transaction has been queuing (0 when none waits)."""
        with self._lock:
            oldest = min(self._started.values(), default=None)
        return 0.0 if oldest is None else time.monotonic() - oldest

    def count(self) -> int:
        with self._lock:
            return len(self._started)


write_lock_waits = WriteLockWaits()
# the same, for requests of this process waiting for a connection of the pool (all in use)
pool_waits = WriteLockWaits()


class _TimedQueuePool(QueuePool):
    """SQLAlchemy's pool, whose checkouts are counted while they wait (for /readyz)."""

    def _do_get(self) -> ConnectionPoolEntry:
        with pool_waits.waiting():
            return super()._do_get()


# SQLAlchemy names a pool's logger after the pool's class; under "app" it would escape the
# "sqlalchemy" logger's WARNING default and print pool chatter ("Pool disposed") at INFO
logging.getLogger(f"{__name__}.{_TimedQueuePool.__name__}").setLevel(logging.WARNING)


@dataclasses.dataclass(frozen=True)
class LockWaits:
    """Requests waiting for a lock now: how many, the longest wait, and what they wait for."""

    longest: float
    count: int
    reason: str

    @property
    def over_budget(self) -> bool:
        return self.longest > WRITE_LOCK_WAIT_BUDGET_S

    def describe(self) -> str:
        return (
            f"requests are waiting for {self.reason}: the longest for {self.longest:.1f} s "
            f"(budget {WRITE_LOCK_WAIT_BUDGET_S:.1f} s), {self.count} waiting"
        )


POSTGRES_APPLICATION_NAME = "processlens"
# every session of this service (any instance) on this database waiting on a row or table
# lock; pg_stat_activity shows another session's wait to the same database user
_POSTGRES_LOCK_WAITS = text(
    "SELECT count(*), "
    "coalesce(max(extract(epoch FROM clock_timestamp() - query_start)), 0) "
    "FROM pg_stat_activity WHERE datname = current_database() AND application_name = :name "
    "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
)


def connection_waits() -> LockWaits:
    """This process's requests waiting for a connection of the pool (every one in use)."""
    return LockWaits(
        longest=pool_waits.longest(), count=pool_waits.count(), reason="a database connection"
    )


def lock_waits(engine: Engine) -> LockWaits:
    """On SQLite, this process's transactions queuing for the write lock; on PostgreSQL,
    statements of any instance waiting on a lock another transaction holds (a long writer's
    row or table lock)."""
    if engine.dialect.name != "postgresql":
        return LockWaits(
            longest=write_lock_waits.longest(),
            count=write_lock_waits.count(),
            reason="the database's write lock",
        )
    with engine.connect() as connection:
        row: Any = connection.execute(
            _POSTGRES_LOCK_WAITS, {"name": POSTGRES_APPLICATION_NAME}
        ).one()
        count, longest = row
    return LockWaits(
        longest=float(longest),
        count=int(count),
        reason="a lock held by another transaction",
    )


def _prepare_sqlite_file(url: URL) -> None:
    """Create the folder of a SQLite file on first run, so the default just works."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    folder = Path(database).expanduser().resolve().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigurationError(
            f"cannot create the database folder {folder}: {error.strerror}"
        ) from None


def _configure_sqlite(engine: Engine, *, foreign_keys: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Take BEGIN away from the sqlite3 module (SQLAlchemy's documented recipe) so that
        # _on_begin below decides how each transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL lets readers work while one writer writes; FULL syncs the WAL on every commit so
        # an acknowledged answer survives a power cut; the busy timeout makes writers queue.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=FULL")
        # deleted rows (an invited address at close) are overwritten with zeros, not left in
        # free space for a copy of the file to show (issue 22)
        cursor.execute("PRAGMA secure_delete=ON")
        # Off only while migrating: batch mode recreates tables, and dropping a parent table
        # with foreign keys on would run its ON DELETE CASCADE and empty the children.
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A plain (deferred) BEGIN that reads and then writes fails with "database is locked"
        # when another writer got in first, and the busy timeout does not help; IMMEDIATE takes
        # the write lock up front so concurrent writers wait their turn instead. Read-only work
        # can opt into DEFERRED with execution_options(sqlite_begin="DEFERRED").
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode not in {"IMMEDIATE", "DEFERRED", "EXCLUSIVE"}:
            raise ValueError(f"unknown sqlite_begin mode {mode!r}")
        if mode == "DEFERRED":
            conn.exec_driver_sql("BEGIN DEFERRED")
            return
        # time spent queuing for the write lock is what /readyz reports as "degraded"
        with write_lock_waits.waiting():
            conn.exec_driver_sql(f"BEGIN {mode}")


def _in_memory(url: URL) -> bool:
    return not url.database or url.database == ":memory:" or "mode=memory" in url.database


def create_db_engine(
    settings: Settings, *, url: str | None = None, for_migrations: bool = False
) -> Engine:
    """The engine for the configured database (or ``url``), set up for a web service.

    ``for_migrations`` turns SQLite's foreign-key enforcement off for Alembic's batch mode.
    """
    parsed = make_url(url or settings.resolved_database_url)
    if parsed.get_backend_name() == "sqlite":
        _prepare_sqlite_file(parsed)
        engine = create_engine(
            parsed,
            # connections move between the threads of FastAPI's pool, one at a time
            connect_args={"check_same_thread": False},
            # a SQLite connection is only a file handle: keep as many as a busy worker uses
            # (an overflow connection is opened, set up with its PRAGMAs and closed again for
            # every request past the pool, which showed in the answer save's profile)
            pool_size=settings.db_pool_size + settings.db_max_overflow,
            max_overflow=settings.db_max_overflow,
            **({} if _in_memory(parsed) else {"poolclass": _TimedQueuePool}),
        )
        _configure_sqlite(engine, foreign_keys=not for_migrations)
        return engine
    engine = create_engine(
        parsed,
        connect_args={
            "connect_timeout": POSTGRES_CONNECT_TIMEOUT_S,
            "application_name": POSTGRES_APPLICATION_NAME,
        },
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
        poolclass=_TimedQueuePool,
    )
    _configure_postgres(engine)
    return engine


POSTGRES_READ_ONLY_SQLSTATE = "25006"


def _configure_postgres(engine: Engine) -> None:
    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        # A session keeps the default_transaction_read_only it started with, so after a
        # database (or a failed-over standby) becomes writable again, pooled connections
        # would stay read-only for ever. Treating the refusal as a disconnect drops them:
        # the next request gets a fresh session with the current default.
        sqlstate = getattr(context.original_exception, "sqlstate", None)
        if sqlstate == POSTGRES_READ_ONLY_SQLSTATE:
            context.is_disconnect = True


def read_only(engine: Engine) -> Engine:
    """The same engine and pool, but SQLite transactions start DEFERRED (shared, not write)."""
    return engine.execution_options(sqlite_begin="DEFERRED")


def describe_database_error(error: DBAPIError, url: URL | str) -> str:
    """A one-line description of why the database could not be used, with no password in it."""
    safe_url = make_url(url).render_as_string(hide_password=True)
    lines = str(error.orig).strip().splitlines() if error.orig is not None else []
    detail = lines[0] if lines else type(error).__name__
    return f"cannot use the database {safe_url}: {detail}"


class ReadOnlySessionError(RuntimeError):
    """A read session was asked to write: the route should take SessionDep instead."""


class ReadSession(Session):
    """A session for work that only reads: on SQLite its transaction starts DEFERRED, so it
    never queues for (or holds) the write lock, and a flush with changes is refused."""

    def flush(self, objects: Sequence[Any] | None = None) -> None:
        if self.new or self.dirty or self.deleted:
            raise ReadOnlySessionError(
                "a read session cannot write; take SessionDep for a route that changes data"
            )
        super().flush(objects)


def session_factory(bind: Engine | Connection) -> sessionmaker[Session]:
    """Sessions for ``bind``; tests bind to a connection and get SAVEPOINTs instead of COMMITs.

    A ``read_only`` engine's sessions are read sessions (see read_session_factory)."""
    if isinstance(bind, Engine) and bind.get_execution_options().get("sqlite_begin") == "DEFERRED":
        return cast("sessionmaker[Session]", read_session_factory(bind))
    return sessionmaker(
        bind=bind,
        class_=Session,
        # objects stay usable after commit without a reload (a reload is another transaction)
        expire_on_commit=False,
        join_transaction_mode="create_savepoint",
    )


def read_session_factory(bind: Engine | Connection) -> sessionmaker[ReadSession]:
    """Read sessions for ``bind`` (an engine's transactions start DEFERRED on SQLite)."""
    return sessionmaker(
        bind=read_only(bind) if isinstance(bind, Engine) else bind,
        class_=ReadSession,
        expire_on_commit=False,
        join_transaction_mode="create_savepoint",
    )


def get_session(request: Request) -> Iterator[Session]:
    """The request's write session: it owns the transaction, so services only ``flush()``.

    Commits when the route returns and rolls back when it raises. SessionDep runs this with
    scope="function", so the commit happens *before* the response is sent: a failed commit
    becomes an error response, never a success page for data that was not stored. On SQLite
    its first statement takes the write lock (BEGIN IMMEDIATE): routes that only read take
    ReadSessionDep instead, so they never queue behind a writer.
    """
    with write_session(request) as session:
        yield session


@contextlib.contextmanager
def write_session(request: Request) -> Iterator[Session]:
    """The request's write session as a context: committed when the block ends, rolled back
    when it raises. For a hot route that opens it inside one sync call of its own: FastAPI
    runs a sync generator dependency's start and end as two more trips to the threadpool."""
    factory: sessionmaker[Session] = request.app.state.sessions
    with factory() as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        session.commit()


def get_read_session(request: Request) -> Iterator[ReadSession]:
    """The request's read session (pages and API calls that change nothing): no write lock
    on SQLite; never commits."""
    factory: sessionmaker[ReadSession] = request.app.state.read_sessions
    with factory() as session:
        try:
            yield session
        finally:
            session.rollback()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[ReadSession, Depends(get_read_session, scope="function")]


def get_request_session(
    request: Request, write_session: SessionDep, read_session: ReadSessionDep
) -> Session:
    """The session shared by a route and its path dependencies (who is asking, the team of
    the path): the route's write session when anything it depends on takes SessionDep, else
    the read session. Both are lazy, so the one not used never opens a transaction."""
    route = request.scope.get("route")
    return write_session if route is not None and _route_writes(route) else read_session


# by endpoint function (routes are not hashable; an endpoint's dependencies never change)
_ENDPOINT_WRITES: dict[Any, bool] = {}


def _route_writes(route: Any) -> bool:
    known = _ENDPOINT_WRITES.get(route.endpoint)
    if known is None:
        known = _ENDPOINT_WRITES[route.endpoint] = _depends_on_write_session(route.dependant)
    return known


def _depends_on_write_session(dependant: Any) -> bool:
    for dependency in dependant.dependencies:
        if dependency.call is get_request_session:
            continue  # its own SessionDep is a choice, not a need
        if dependency.call is get_session or _depends_on_write_session(dependency):
            return True
    return False


RequestSessionDep = Annotated[Session, Depends(get_request_session, scope="function")]


# ---------------------------------------------------------------- long writers in short batches


@dataclasses.dataclass
class BatchTimings:
    """How long each batch of a long writer held the write lock (seconds), for tests and logs."""

    held: list[float] = dataclasses.field(default_factory=list)
    labels: list[str] = dataclasses.field(default_factory=list)  # what each batch wrote

    @property
    def longest(self) -> float:
        return max(self.held, default=0.0)

    def slowest(self, count: int = 3) -> list[tuple[float, str]]:
        return sorted(zip(self.held, self.labels, strict=True), reverse=True)[:count]

    def describe(self) -> str:
        """One line for the commands' output (tests read the figure back)."""
        slowest = self.slowest(1)
        label = f" ({slowest[0][1]})" if slowest and slowest[0][1] else ""
        return (
            f"{len(self.held)} write transactions; the longest held the write lock "
            f"{self.longest * 1000:.0f} ms{label} (budget {WRITE_BATCH_BUDGET_S * 1000:.0f} ms)"
        )


@contextlib.contextmanager
def write_batch(
    factory: sessionmaker[Session], timings: BatchTimings, label: str = ""
) -> Iterator[Session]:
    """One short transaction of a long writer: everything computed before it, then the lock
    is taken, the rows written and committed. The time from taking the lock to the end of the
    commit is added to ``timings`` (the budget is WRITE_BATCH_BUDGET_S)."""
    with factory() as session:
        session.connection()  # BEGIN (IMMEDIATE on SQLite): waits for, then holds, the lock
        started = time.perf_counter()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            timings.held.append(time.perf_counter() - started)
            timings.labels.append(label)
            if timings.held[-1] > WRITE_BATCH_BUDGET_S:
                logger.warning(
                    "a write batch (%s) held the lock %.0f ms (budget %.0f ms)",
                    label,
                    timings.held[-1] * 1000,
                    WRITE_BATCH_BUDGET_S * 1000,
                )


def alembic_config(
    *, database_url: str | None = None, connection: Connection | None = None
) -> AlembicConfig:
    """Alembic's configuration for this installation, independent of the working directory.

    migrations/env.py uses ``connection`` if given, else ``database_url``, else the settings.
    """
    config = AlembicConfig(str(ALEMBIC_INI)) if ALEMBIC_INI.exists() else AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if database_url is not None:
        config.attributes["database_url"] = database_url
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def _script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revisions() -> tuple[str, ...]:
    """The newest migration revision(s) the code ships (one; a test keeps it so)."""
    return tuple(sorted(_script_directory().get_heads()))


@functools.cache
def known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in _script_directory().walk_revisions())


@dataclasses.dataclass(frozen=True)
class SchemaStatus:
    current: tuple[str, ...]
    head: tuple[str, ...]

    @property
    def is_current(self) -> bool:
        return self.current == self.head

    @property
    def known(self) -> bool:
        """False when the database was migrated by a newer ProcessLens than this one."""
        return all(revision in known_revisions() for revision in self.current)

    def describe(self) -> str:
        current = ", ".join(self.current) or "empty (no tables yet)"
        if not self.known:
            return (
                f"the database schema ({current}) is newer than this version of ProcessLens "
                "knows; upgrade ProcessLens instead"
            )
        return (
            f"the database schema is out of date (database at {current}, code expects "
            f"{', '.join(self.head)}); run `processlens migrate`"
        )


def schema_status(engine: Engine) -> SchemaStatus:
    """Compare the database's Alembic revision with the code's head. Raises on a dead database."""
    try:
        with read_only(engine).connect() as connection:
            # read alembic_version directly: MigrationContext would log at INFO on every probe
            if inspect(connection).has_table(ALEMBIC_VERSION_TABLE):
                rows = connection.execute(text(f"SELECT version_num FROM {ALEMBIC_VERSION_TABLE}"))
                current = tuple(sorted(row[0] for row in rows))
            else:
                current = ()
            connection.rollback()
    except OperationalError as error:
        raise DatabaseUnavailableError(describe_database_error(error, engine.url)) from None
    return SchemaStatus(current=current, head=head_revisions())
