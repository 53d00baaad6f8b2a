"""A migration killed part-way (SIGKILL at a chosen SQL statement) can simply be run again.

The child process runs ``processlens migrate``'s code and kills itself just before its Nth SQL
statement, for several N spread over the whole upgrade: nothing half-done may remain (the
upgrade is one transaction), the migration lock must not outlive the process, SQLite's
``integrity_check`` must pass, and a normal ``processlens migrate`` then brings the database to
the newest schema, identical to a cleanly migrated one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, make_url

from app import db
from app.config import ROOT_DIR, Settings
from tests.failure.test_kill import sqlite_integrity

CHILD = """
import os, signal, sys
from sqlalchemy import event
from sqlalchemy.engine import Engine
from app import migrate
from app.config import load_settings

kill_at = int(sys.argv[1])
count = 0

@event.listens_for(Engine, "before_cursor_execute")
def _count(*_args):
    global count
    count += 1
    if count == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

migrate.upgrade(load_settings())
print(count)
"""


def run_child(url: str, kill_at: int) -> subprocess.CompletedProcess[str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("PROCESSLENS_") and name != "DATABASE_URL"
    } | {"PROCESSLENS_ENVIRONMENT": "test", "DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(kill_at)],
        cwd=ROOT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def schema_of(settings: Settings) -> dict[str, Any]:
    engine = db.create_db_engine(settings)
    try:
        inspector = inspect(engine)
        return {
            table: sorted(column["name"] for column in inspector.get_columns(table))
            for table in inspector.get_table_names()
        }
    finally:
        engine.dispose()


def test_a_migration_killed_part_way_can_be_run_again(
    backend: str, database_factory: Any, make_settings: Callable[..., Settings]
) -> None:
    # how many statements a whole upgrade runs, on a database of the same kind
    probe = run_child(database_factory.create(backend, migrated=False), 10**9)
    assert probe.returncode == 0, probe.stderr
    total = int(probe.stdout.strip().splitlines()[-1])
    assert total > 20

    url = database_factory.create(backend, migrated=False)
    settings = make_settings(url)
    for kill_at in (2, total // 2, total - 5):
        killed = run_child(url, kill_at)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        engine = db.create_db_engine(settings)
        try:
            status = db.schema_status(engine)
        finally:
            engine.dispose()
        assert status.current == (), "a killed upgrade left part of itself behind"
        if backend == "sqlite":
            assert sqlite_integrity(url) == "ok"
            # the lock file stays behind; its flock died with the process (the next run
            # below would wait for ever otherwise)
            assert Path(f"{make_url(url).database}.migrate.lock").exists()

    finished = run_child(url, 10**9)
    assert finished.returncode == 0, finished.stderr
    engine = db.create_db_engine(settings)
    try:
        assert db.schema_status(engine).is_current
    finally:
        engine.dispose()
    assert schema_of(settings) == schema_of(make_settings(database_factory.create(backend)))
