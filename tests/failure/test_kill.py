"""``kill -9`` in the middle of saves: no acknowledged save is lost, nothing is corrupted.

Eight clients keep saving changing answers for their own respondents through the JSON API of
the server (one worker in the short form; two in the slow form, killed five times); the server
and its workers are killed with SIGKILL while saves are in flight, then started again on the
same database. Every respondent's stored answers are then
exactly its last acknowledged save, or the one save that was in flight when the connection
broke (the client could not know whether it landed) — never older, never a mix. On SQLite
``PRAGMA integrity_check`` says "ok" before the restart; afterwards every respondent saves
again from the stored version.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url

from app.config import Settings
from tests.live import LiveServer, Saver, SaveState, start_respondents
from tests.surveys import helpers

CLIENTS = 8
RESPONDENTS_PER_CLIENT = 3


def sqlite_integrity(database_url: str) -> str:
    path = make_url(database_url).database
    assert path is not None
    with sqlite3.connect(path) as connection:
        rows = connection.execute("PRAGMA integrity_check").fetchall()
        foreign = connection.execute("PRAGMA foreign_key_check").fetchall()
    assert not foreign, foreign
    return ",".join(str(row[0]) for row in rows)


def kill_during_saves(
    database_url: str,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    *,
    kills: int,
    saves_before_kill: int,
    workers: int,
) -> None:
    server = LiveServer(database_url=database_url, data_dir=tmp_path / "server", workers=workers)
    settings = make_settings(database_url, secret_key=server.secret_key, data_dir=tmp_path)
    tokens = start_respondents(settings, CLIENTS * RESPONDENTS_PER_CLIENT)
    states = [SaveState(token=token) for token in tokens]
    catalog = helpers.catalog()
    try:
        server.start()
        for _ in range(kills):
            savers = [Saver(server.url, states[i::CLIENTS], catalog) for i in range(CLIENTS)]
            with httpx.Client(base_url=server.url, timeout=30) as client:
                for saver in savers:
                    saver.prepare(client)
            baseline = sum(state.saves for state in states)
            stop = threading.Event()
            threads = [threading.Thread(target=s.run, args=(stop,)) for s in savers]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 60
            while sum(s.saves for s in states) - baseline < saves_before_kill:
                assert time.monotonic() < deadline, "the clients did not get to save"
                time.sleep(0.01)
            server.kill()  # while every client has a save on the way
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
                assert not thread.is_alive()
            assert not [code for s in savers for code in s.server_errors]
            if database_url.startswith("sqlite"):
                assert sqlite_integrity(database_url) == "ok"
            server.start()
            check_after_restart(server.url, states)
    finally:
        server.stop()
    assert "Traceback" not in server.log_text()


def check_after_restart(base_url: str, states: list[SaveState]) -> None:
    in_flight_landed = 0
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for state in states:
            data = client.get(f"/api/survey/{state.token}").json()
            stored = {qid: answer["value"] for qid, answer in data["answers"].items()}
            if data["version"] == state.version:
                assert stored == state.acknowledged, state.token
            else:
                # the save in flight at the kill was committed; nothing else may differ
                assert state.in_flight is not None, (data["version"], state.version)
                assert data["version"] == state.version + 1
                assert stored == state.in_flight
                in_flight_landed += 1
                state.acknowledged, state.version = stored, data["version"]
            state.in_flight = None
            # and the respondent carries on from what is stored
            saved = client.put(
                f"/api/survey/{state.token}/answers",
                json={"version": state.version, "answers": {state.qids[0]: "dont_know"}},
                headers={"x-csrf-token": data["csrf_token"]},
            )
            assert saved.status_code == 200, saved.text
            state.version = saved.json()["version"]
            state.acknowledged = state.acknowledged | {state.qids[0]: "dont_know"}


def test_sigkill_during_saves_loses_no_acknowledged_save(
    fresh_database_url: str, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    kill_during_saves(
        fresh_database_url, make_settings, tmp_path, kills=1, saves_before_kill=30, workers=1
    )


@pytest.mark.slow
def test_sigkill_again_and_again(
    fresh_database_url: str, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    kill_during_saves(
        fresh_database_url, make_settings, tmp_path, kills=5, saves_before_kill=150, workers=2
    )
