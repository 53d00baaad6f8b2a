"""Long writers beside respondents: a seed and a restore while 16 respondents save.

`processlens seed` and `processlens restore` write in short transactions under a pending
organisation (app.accounts.pending), so a running service keeps answering. Here a real
two-worker server serves 16 respondents, each saving changing answers one request after
another through the JSON API, while `processlens restore` and then `processlens seed` run as
an operator runs them, against the same database. Afterwards: no request got a 5xx, every
acknowledged save is stored exactly, both organisations are complete and visible, and on
SQLite no transaction of either command held the write lock longer than the documented budget
(``db.WRITE_BATCH_BUDGET_S``; each command prints its longest).

The short form (a 200-team seed without rounds, a 4-team restore) runs in ``make test``; the
long form (200 teams with a scored round each) is marked ``slow``.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, make_url
from sqlmodel import Session, col, select

from app import db, demo
from app.accounts import organisations
from app.config import ROOT_DIR, Settings
from app.dashboards import backup
from app.main import create_app
from app.models import AssessmentRound, Organisation, Team
from app.surveys import service
from tests.conftest import DatabaseFactory
from tests.live import LiveServer, Saver, SaveState, start_respondents
from tests.surveys import helpers

RESPONDENTS = 16


def _backup_and_delete(sessions: Callable[[], Session], *, teams: int) -> dict[str, object]:
    """A backup of a seeded organisation that is then deleted, so its restore fits."""
    with sessions() as session:
        summary = demo.seed_organisation(session=session, name="Restored Co", teams=teams, rounds=1)
        session.commit()
        document = backup.backup(session=session, organisation_id=summary.organisation_id)
        organisation = session.get(Organisation, summary.organisation_id)
        assert organisation is not None
        organisations.delete_organisation(session=session, organisation=organisation)
        session.commit()
    return backup.loads(backup.dumps(document))


LONGEST = re.compile(r"the longest held the write lock (\d+) ms")


def run_command(server: LiveServer, *arguments: str) -> tuple[int, str]:
    """`processlens ARGUMENTS` against the server's database, as an operator runs it beside
    the service; the longest time one of its transactions held the write lock, in ms, and
    the line that says so (with what that transaction wrote)."""
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *arguments],
        cwd=ROOT_DIR,
        env=server.environment() | {"COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    found = LONGEST.search(done.stdout + done.stderr)  # restore reports on stderr
    assert found is not None, done.stdout + done.stderr
    return int(found.group(1)), found.string[found.start() :].splitlines()[0]


def _check_saves(session: Session, settings: Settings, states: list[SaveState]) -> None:
    for state in states:
        assert state.in_flight is None  # the clients stopped between saves
        survey = service.load_survey(session=session, settings=settings, resume_token=state.token)
        stored = {qid: answer["value"] for qid, answer in survey.response.answers.items()}
        assert stored == state.acknowledged, state.token
        assert survey.version == state.version


def _team_count(session: Session, organisation_id: int) -> int:
    return session.exec(
        select(func.count()).select_from(Team).where(Team.organisation_id == organisation_id)
    ).one()


# long: one scenario read top to bottom — prepare, serve and save, write, check
def run_writers_while_saving(
    database_url: str,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    *,
    teams: int,
    rounds: int,
    restore_teams: int,
) -> None:
    server = LiveServer(database_url=database_url, data_dir=tmp_path / "server", workers=2)
    settings = make_settings(database_url, secret_key=server.secret_key, data_dir=tmp_path)
    states = [SaveState(token=token) for token in start_respondents(settings, RESPONDENTS)]
    engine = db.create_db_engine(settings)
    sessions = db.session_factory(engine)
    backup_file = tmp_path / "backup.json"
    backup_file.write_text(backup.dumps(_backup_and_delete(sessions, teams=restore_teams)))
    savers = [Saver(server.url, [state], helpers.catalog()) for state in states]
    try:
        server.start()
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for saver in savers:
                saver.prepare(client)
        stop = threading.Event()
        threads = [threading.Thread(target=saver.run, args=(stop,)) for saver in savers]
        for thread in threads:
            thread.start()
        try:
            # the restore first: on SQLite a new organisation would take its freed ids
            restored = run_command(server, "restore", str(backup_file))
            seeded = run_command(
                server,
                "seed",
                f"--teams={teams}",
                f"--rounds={rounds}",
                "--organisation=Seeded while saving",
            )
            saves_during = sum(state.saves for state in states)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
    finally:
        server.stop()
    try:
        assert not [saver.failure for saver in savers if saver.failure]
        assert not [code for saver in savers for code in saver.server_errors]
        assert "Traceback" not in server.log_text(), server.log_tail()
        assert saves_during >= RESPONDENTS  # every respondent got to save during the writes
        with sessions() as session:
            _check_saves(session, settings, states)
            seeded_id = session.exec(
                select(Organisation.id).where(Organisation.name == "Seeded while saving")
            ).one()
            restored_id = session.exec(
                select(Organisation.id).where(Organisation.name == "Restored Co")
            ).one()
            assert seeded_id is not None
            assert restored_id is not None
            assert _team_count(session, seeded_id) == teams
            assert _team_count(session, restored_id) == restore_teams
            assert not session.exec(
                select(func.count())
                .select_from(Organisation)
                .where(col(Organisation.pending).is_(True))
            ).one()
            restored_rounds = session.exec(
                select(func.count())
                .select_from(AssessmentRound)
                .join(Team, col(Team.id) == col(AssessmentRound.team_id))
                .where(Team.organisation_id == restored_id)
            ).one()
            assert restored_rounds == restore_teams
        if database_url.startswith("sqlite"):
            for command, (longest, line) in (("restore", restored), ("seed", seeded)):
                assert longest <= db.WRITE_BATCH_BUDGET_S * 1000, (command, line)
    finally:
        engine.dispose()


def test_seed_and_restore_while_sixteen_respondents_save(
    fresh_database_url: str, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    run_writers_while_saving(
        fresh_database_url, make_settings, tmp_path, teams=200, rounds=0, restore_teams=4
    )


@pytest.mark.slow
def test_seed_with_rounds_and_restore_while_sixteen_respondents_save(
    fresh_database_url: str, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    run_writers_while_saving(
        fresh_database_url, make_settings, tmp_path, teams=200, rounds=1, restore_teams=40
    )


def test_a_failed_restore_leaves_nothing_visible(
    fresh_database_url: str, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """A restore the database refuses half-way (a resume-link hash taken since the backup)
    removes what it wrote: no organisation, pending or not, and nothing of its teams."""
    settings = make_settings(fresh_database_url, data_dir=tmp_path)
    engine = db.create_db_engine(settings)
    sessions = db.session_factory(engine)
    try:
        with sessions() as session:
            other = demo.seed_organisation(session=session, name="Other Co", teams=1, rounds=1)
            session.commit()
        document = _backup_and_delete(sessions, teams=3)
        tables = document["tables"]
        assert isinstance(tables, dict)
        # a respondent's link hash that this database already holds, in another organisation
        respondents = tables["respondent"]
        taken = respondents["rows"][-1][respondents["columns"].index("resume_token_hash")]
        with sessions() as session:
            respondent_table = db.metadata.tables["respondent"]
            one_respondent = (
                select(func.min(respondent_table.c.id))
                .join(AssessmentRound, col(AssessmentRound.id) == respondent_table.c.round_id)
                .join(Team, col(Team.id) == col(AssessmentRound.team_id))
                .where(Team.organisation_id == other.organisation_id)
                .scalar_subquery()
            )
            session.execute(
                respondent_table.update()
                .where(respondent_table.c.id == one_respondent)
                .values(resume_token_hash=taken)
            )
            session.commit()
            before = session.exec(select(func.count()).select_from(Team)).one()
        timings = db.BatchTimings()
        with pytest.raises(backup.BackupError, match="respondent"):
            backup.restore_in_batches(sessions=sessions, document=document, timings=timings)
        assert len(timings.held) > 2  # it had written batches before the refusal
        with sessions() as session:
            names = session.exec(select(Organisation.name)).all()
            assert "Restored Co" not in names
            assert session.exec(select(func.count()).select_from(Team)).one() == before
    finally:
        engine.dispose()


def test_readyz_says_degraded_while_a_request_waits_for_the_write_lock(
    database_factory: DatabaseFactory,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A save queued behind a writer that holds SQLite's write lock past the budget: /readyz
    stays 200 but says "degraded" with the reason; once the lock is free the save lands and
    /readyz is "ready" again."""
    monkeypatch.setattr(db, "WRITE_LOCK_WAIT_BUDGET_S", 0.3)
    database_url = database_factory.create("sqlite")
    settings = make_settings(database_url, data_dir=tmp_path)
    token = start_respondents(settings, 1)[0]
    app = create_app(settings)
    path = make_url(database_url).database
    assert path is not None
    with TestClient(app) as client:
        survey = client.get(f"/api/survey/{token}").json()
        question = survey["pages"][0]["questions"][0]["id"]
        assert client.get("/readyz").json()["status"] == "ready"
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")  # a long writer holding the lock
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
            assert "waiting for the database's write lock" in body["reason"]
            assert not outcome  # the save is still queued
        finally:
            writer.execute("ROLLBACK")
            writer.close()
            waiting.join(timeout=30)
        assert outcome == [200]
        assert client.get("/readyz").json()["status"] == "ready"
