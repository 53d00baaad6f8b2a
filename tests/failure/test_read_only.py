"""A read-only database: reading works, saving gets a clear 503 page (never a traceback or a
bare 500) and changes nothing, and service recovers when the database is writable again.

- SQLite: the server opens the file through SQLite's read-only URI (``?mode=ro``; tests run as
  root, which ignores file permissions). Writable again means served from the normal URL.
- PostgreSQL: ``ALTER DATABASE ... SET default_transaction_read_only`` and the app's sessions
  dropped (as when it fails over to a read-only standby); writable again is the setting turned
  off, with the app left running: it must pick that up by itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import lxml.html
import psycopg
import pytest
from sqlalchemy import make_url
from sqlmodel import col, select

from app import db
from app.config import Settings
from app.models import Response
from tests.live import LiveServer, start_respondents
from tests.surveys import helpers

READ_ONLY_TITLE = "Read-only for the moment"


def stored_responses(settings: Settings) -> list[tuple[Any, ...]]:
    engine = db.create_db_engine(settings)
    try:
        with db.session_factory(db.read_only(engine))() as session:
            rows = session.exec(select(Response).order_by(col(Response.id))).all()
            return [(r.id, r.version, r.answers, r.status, r.resume_at) for r in rows]
    finally:
        engine.dispose()


def save_page(client: httpx.Client, token: str, qid: str) -> httpx.Response:
    page = client.get(f"/r/{token}/questions?page=1")
    assert page.status_code == 200, page.text
    fields = helpers.with_answers(helpers.form_values(page.text), {qid: "dont_know"})
    return helpers.post_form(client, f"/r/{token}/questions?page=1", [*fields, ("action", "save")])  # type: ignore[arg-type]


def save_api(client: httpx.Client, token: str, qid: str) -> httpx.Response:
    survey = client.get(f"/api/survey/{token}").json()
    return client.put(
        f"/api/survey/{token}/answers",
        json={"version": survey["version"], "answers": {qid: "dont_know"}},
        headers={"x-csrf-token": survey["csrf_token"]},
    )


def assert_refused_clearly(client: httpx.Client, token: str, qid: str) -> None:
    page = save_page(client, token, qid)
    assert page.status_code == 503, page.text
    assert page.headers["retry-after"]
    document = lxml.html.fromstring(page.text)
    assert document.xpath("string(//h1)").strip() == READ_ONLY_TITLE
    assert "Traceback" not in page.text
    assert "nothing was saved" in page.text
    api = save_api(client, token, qid)
    assert api.status_code == 503, api.text
    assert "read-only" in api.json()["detail"]


def first_question(client: httpx.Client, token: str) -> str:
    survey = client.get(f"/api/survey/{token}").json()
    return str(survey["pages"][0]["questions"][0]["id"])


def test_read_only_sqlite_refuses_saves_clearly_and_recovers(
    database_factory: Any, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    url = database_factory.create("sqlite")
    path = make_url(url).database
    writable = LiveServer(database_url=url, data_dir=tmp_path / "server", workers=1)
    settings = make_settings(url, secret_key=writable.secret_key, data_dir=tmp_path)
    token = start_respondents(settings, 1)[0]
    before = stored_responses(settings)
    read_only = LiveServer(
        database_url=f"sqlite:///file:{path}?mode=ro&uri=true",
        data_dir=tmp_path / "server",
        workers=1,
        secret_key=writable.secret_key,
        port=writable.port,
    )
    try:
        read_only.start()
        with httpx.Client(base_url=read_only.url, timeout=30) as client:
            qid = first_question(client, token)
            assert_refused_clearly(client, token, qid)
        read_only.stop()
        assert stored_responses(settings) == before
        writable.start()
        with httpx.Client(base_url=writable.url, timeout=30) as client:
            assert save_api(client, token, qid).status_code == 200
            assert save_page(client, token, qid).status_code == 303
    finally:
        read_only.stop()
        writable.stop()
    assert "Traceback" not in writable.log_text()
    assert "database read-only" in writable.log_text()


@pytest.fixture
def postgres_database(
    database_factory: Any, postgres_server: str
) -> Iterator[tuple[str, Callable[[str], None]]]:
    """A migrated database of its own, and ``admin(sql)`` to run statements as its owner."""
    url = database_factory.create("postgres")
    name = make_url(url).database
    admin_url = make_url(postgres_server).set(drivername="postgresql").render_as_string(False)

    def admin(sql: str) -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.replace("{db}", f'"{name}"').encode())

    def drop_sessions() -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )

    def run(sql: str) -> None:
        if sql == "drop sessions":
            drop_sessions()
        else:
            admin(sql)

    yield url, run
    admin("ALTER DATABASE {db} RESET default_transaction_read_only")


@pytest.mark.postgres
def test_read_only_postgres_refuses_saves_clearly_and_recovers_without_restart(
    postgres_database: tuple[str, Callable[[str], None]],
    make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    url, run = postgres_database
    server = LiveServer(database_url=url, data_dir=tmp_path / "server", workers=1)
    settings = make_settings(url, secret_key=server.secret_key, data_dir=tmp_path)
    token = start_respondents(settings, 1)[0]
    try:
        server.start()
        with httpx.Client(base_url=server.url, timeout=30) as client:
            qid = first_question(client, token)
            before = stored_responses(settings)
            run("ALTER DATABASE {db} SET default_transaction_read_only = on")
            run("drop sessions")
            assert client.get(f"/r/{token}/questions?page=1").status_code == 200
            assert_refused_clearly(client, token, qid)
            assert stored_responses(settings) == before
            run("ALTER DATABASE {db} SET default_transaction_read_only = off")
            # the same running server: its next save works
            assert save_api(client, token, qid).status_code == 200
            assert save_page(client, token, qid).status_code == 303
    finally:
        server.stop()
    assert "Traceback" not in server.log_text()
