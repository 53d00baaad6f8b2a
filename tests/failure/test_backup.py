"""A backup taken while respondents save and start restores to a consistent database that
still migrates.

Clients keep saving changing answers and new respondents keep starting through an invitation
link while ``processlens backup --org`` runs against the live database. The backup is restored
(``processlens restore``) into an empty migrated database, where every respondent has its one
response, foreign keys hold, and each response is exactly a state its client saved at that
version; the restored database then survives a downgrade and an upgrade to the newest schema
and keeps its respondents. SQLite runs in ``make test``; PostgreSQL in the slow form.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, make_url
from sqlmodel import select

from app import db
from app.accounts.tokens import hash_token
from app.config import ROOT_DIR, Settings
from app.models import AssessmentRound, Respondent, Response, Team
from tests.live import LiveServer, Saver, SaveState, start_respondents
from tests.surveys import helpers

CLIENTS = 4


def cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("PROCESSLENS_") and name not in ("DATABASE_URL", "REDIS_URL")
    } | {"PROCESSLENS_ENVIRONMENT": "test", "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def keep_starting(
    base_url: str, invitation: str, stop: threading.Event, started: list[str]
) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        while not stop.is_set():
            try:
                welcome = client.get(f"/api/survey/invitations/{invitation}").json()
                response = client.post(
                    f"/api/survey/invitations/{invitation}/start",
                    json={},
                    headers={"x-csrf-token": welcome["csrf_token"]},
                )
            except httpx.HTTPError:
                return
            if response.status_code == 201:
                started.append(response.json()["resume_token"])


def organisation_of(settings: Settings, token: str) -> int:
    engine = db.create_db_engine(settings)
    try:
        with db.session_factory(engine)() as session:
            respondent = session.exec(
                select(Respondent).where(
                    Respondent.resume_token_hash == hash_token(settings, token, purpose="resume")
                )
            ).one()
            assessment_round = session.get(AssessmentRound, respondent.round_id)
            assert assessment_round is not None
            team = session.get(Team, assessment_round.team_id)
            assert team is not None
            return team.organisation_id
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param("sqlite", id="sqlite"),
        # the long form: PostgreSQL too (about a minute more)
        pytest.param("postgres", id="postgres", marks=(pytest.mark.postgres, pytest.mark.slow)),
    ],
)
def test_a_backup_taken_during_writes_restores_consistently_and_migrates(
    backend: str,
    request: pytest.FixtureRequest,
    database_factory: Any,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    if backend == "postgres":
        request.getfixturevalue("postgres_server")
    url = database_factory.create(backend)
    server = LiveServer(database_url=url, data_dir=tmp_path / "server", workers=1)
    settings = make_settings(url, secret_key=server.secret_key, data_dir=tmp_path)
    invitation: list[str] = []
    tokens = start_respondents(settings, CLIENTS * 2, invitation=invitation)
    organisation_id = organisation_of(settings, tokens[0])
    states = [SaveState(token=token) for token in tokens]
    backup_file = tmp_path / "backup.json"
    started: list[str] = []
    try:
        server.start()
        savers = [Saver(server.url, states[i::CLIENTS], helpers.catalog()) for i in range(CLIENTS)]
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for saver in savers:
                saver.prepare(client)
        stop = threading.Event()
        threads = [threading.Thread(target=s.run, args=(stop,)) for s in savers]
        threads.append(
            threading.Thread(target=keep_starting, args=(server.url, invitation[0], stop, started))
        )
        for thread in threads:
            thread.start()
        try:
            deadline = time.monotonic() + 60
            while sum(s.saves for s in states) < 20 or len(started) < 2:
                assert time.monotonic() < deadline, "the clients did not get going"
                time.sleep(0.02)
            backed_up = cli(url, "backup", "--org", str(organisation_id), "-o", str(backup_file))
            saves_during = sum(s.saves for s in states)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        assert backed_up.returncode == 0, backed_up.stderr
        assert saves_during > 20
    finally:
        server.stop()
    assert "Traceback" not in server.log_text()

    restored_url = database_factory.create(backend)
    restored = cli(restored_url, "restore", str(backup_file))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    restored_settings = make_settings(restored_url, secret_key=server.secret_key)
    check_restored(restored_settings, restored_url, states)

    down = cli(restored_url, "downgrade", "--yes", "--", "-1")
    assert down.returncode == 0, down.stderr
    up = cli(restored_url, "migrate")
    assert up.returncode == 0, up.stderr
    engine = db.create_db_engine(restored_settings)
    try:
        assert db.schema_status(engine).is_current
    finally:
        engine.dispose()
    check_restored(restored_settings, restored_url, states)


def check_restored(settings: Settings, url: str, states: list[SaveState]) -> None:
    if url.startswith("sqlite"):
        path = make_url(url).database
        assert path is not None
        with sqlite3.connect(path) as connection:
            assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    engine = db.create_db_engine(settings)
    try:
        with db.session_factory(engine)() as session:
            respondents = session.exec(select(func.count()).select_from(Respondent)).one()
            responses = session.exec(select(func.count()).select_from(Response)).one()
            assert respondents == responses >= len(states)
            for state in states:
                respondent = session.exec(
                    select(Respondent).where(
                        Respondent.resume_token_hash
                        == hash_token(settings, state.token, purpose="resume")
                    )
                ).one()
                response = session.exec(
                    select(Response).where(Response.respondent_id == respondent.id)
                ).one()
                stored = {qid: answer["value"] for qid, answer in response.answers.items()}
                assert response.version is not None
                # exactly what the client had saved at that version (or the one in flight)
                expected = state.history.get(response.version, state.in_flight)
                assert stored == expected, (state.token, response.version)
    finally:
        engine.dispose()
