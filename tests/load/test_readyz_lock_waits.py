"""``/readyz``: "degraded" (still 200), with the reason, while a request waits past the
budget on PostgreSQL for a row or table lock (a long writer holding it), or on either database
for a connection of the pool (every one busy); then "ready" again.

SQLite's write lock (a request queuing for it) is in test_long_writers.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import make_url

from app import db
from app.config import Settings
from app.main import create_app
from tests.conftest import DatabaseFactory
from tests.live import start_respondents

POOL = 3


@pytest.mark.postgres
def test_readyz_says_degraded_while_a_request_waits_on_a_lock_on_postgresql(
    database_factory: DatabaseFactory,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(db, "WRITE_LOCK_WAIT_BUDGET_S", 0.3)
    database_url = database_factory.create("postgres")
    settings = make_settings(database_url, data_dir=tmp_path)
    token = start_respondents(settings, 1)[0]
    app = create_app(settings)
    plain_url = make_url(database_url).set(drivername="postgresql")
    with TestClient(app) as client:
        survey = client.get(f"/api/survey/{token}").json()
        question = survey["pages"][0]["questions"][0]["id"]
        assert client.get("/readyz").json()["status"] == "ready"
        # a long writer (another program, say) holding every answer row's lock
        writer = psycopg.connect(plain_url.render_as_string(hide_password=False))
        writer.execute("LOCK TABLE response IN EXCLUSIVE MODE")
        outcome: list[int] = []

        def save() -> None:
            saved = client.put(
                f"/api/survey/{token}/answers",
                json={"version": survey["version"], "answers": {question: "dont_know"}},
                headers={"x-csrf-token": survey["csrf_token"]},
            )
            outcome.append(saved.status_code)

        waiting = threading.Thread(target=save)
        waiting.start()
        try:
            time.sleep(0.8)
            ready = client.get("/readyz")
            assert ready.status_code == 200
            body = ready.json()
            assert body["status"] == "degraded", body
            assert "waiting for a lock held by another transaction" in body["reason"], body
            assert not outcome  # the save is still waiting
        finally:
            writer.rollback()
            writer.close()
            waiting.join(timeout=30)
        assert outcome == [200]
        assert client.get("/readyz").json()["status"] == "ready"


def test_readyz_says_degraded_while_a_request_waits_for_a_database_connection(
    backend: str,
    database_factory: DatabaseFactory,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(db, "WRITE_LOCK_WAIT_BUDGET_S", 0.3)
    database_url = database_factory.create(backend)
    settings = make_settings(database_url, data_dir=tmp_path, db_pool_size=POOL, db_max_overflow=0)
    token = start_respondents(settings, 1)[0]
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get(f"/api/survey/{token}").status_code == 200
        assert client.get("/readyz").json()["status"] == "ready"
        # every connection of the pool held (slow requests, say)
        busy = [app.state.engine.connect() for _ in range(POOL)]
        outcome: list[int] = []
        waiting = threading.Thread(
            target=lambda: outcome.append(client.get(f"/api/survey/{token}").status_code)
        )
        waiting.start()
        try:
            time.sleep(0.8)
            ready = client.get("/readyz")
            assert ready.status_code == 200
            body = ready.json()
            assert body["status"] == "degraded", body
            assert "waiting for a database connection" in body["reason"], body
            assert not outcome
        finally:
            for connection in busy:
                connection.close()
            waiting.join(timeout=30)
        assert outcome == [200]
        assert client.get("/readyz").json()["status"] == "ready"
