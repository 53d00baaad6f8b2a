"""A job worker SIGKILLed in the middle of a 20-team batch: once a new worker starts, the
sweeper hands it the job, it resumes from the teams already made, and the zip holds every
team's report exactly once. The long form (``-m slow``) is that batch; ``make test`` runs a
short one of a few teams.

The default install's shape: SQLite, the queue in its own SQLite file beside the database,
and ``processlens worker`` processes (the job is started as the page starts it: a row, then
a message on the queue).
"""

from __future__ import annotations

import io
import secrets
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from app import db
from app.config import Settings
from app.jobs import queue
from app.models import JobFile, ReportJobStatus
from app.reports import jobs
from tests.jobs.live import QUICK_JOBS, LiveWorker, job_row, seeded_organisation, wait_for

# (teams seeded, reports at least in the batch, reports made before the kill, seconds the
# rest may take); the seed publishes about two teams in three (the anonymity rule hides the
# rest); a busy two-core machine renders a team report in 5-15 s
SHORT = (6, 3, 1, 240)
LONG = (30, 20, 5, 900)


def _start_batch(settings: Settings, organisation_id: int) -> int:
    engine = db.create_db_engine(settings)
    try:
        with Session(engine) as session:
            job = jobs.create_job(session=session, organisation_id=organisation_id, user_id=None)
            session.commit()
            assert job.id is not None
            job_id = job.id
        queue.JobQueue(settings=settings, engine=engine, handlers={}, role="test").enqueue(job_id)
    finally:
        engine.dispose()
    return job_id


def _output(settings: Settings, job_id: int) -> JobFile:
    engine = db.create_db_engine(settings)
    try:
        with Session(engine) as session:
            files = session.exec(select(JobFile).where(JobFile.job_id == job_id)).all()
            assert [file.final for file in files] == [True], "only the zip is left"
            return files[0]
    finally:
        engine.dispose()


def _pieces(settings: Settings, job_id: int) -> int:
    engine = db.create_db_engine(settings)
    try:
        with Session(engine) as session:
            return len(
                session.exec(
                    select(JobFile.id).where(JobFile.job_id == job_id, ~col(JobFile.final))
                ).all()
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "shape",
    [pytest.param(SHORT, id="short"), pytest.param(LONG, id="20-teams", marks=pytest.mark.slow)],
)
def test_a_worker_killed_mid_batch_leaves_a_complete_zip_with_each_team_once(
    database_factory: Any,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    shape: tuple[int, int, int, int],
) -> None:
    teams, at_least, made_first, seconds = shape
    secret = secrets.token_urlsafe(48)
    settings = make_settings(
        database_factory.create("sqlite"), data_dir=tmp_path / "data", secret_key=secret
    )
    seeded = seeded_organisation(settings, teams=teams, name="Killed worker organisation")
    job_id = _start_batch(settings, seeded.organisation_id)
    env = {**QUICK_JOBS, "PROCESSLENS_RENDER_WORKERS": "1"}
    first = LiveWorker(settings.resolved_database_url, settings.data_dir, secret, env, "first")
    second = LiveWorker(settings.resolved_database_url, settings.data_dir, secret, env, "second")
    try:
        first.start()
        wait_for(lambda: job_row(settings, job_id).done >= made_first, 240, first.log_text)
        first.kill()
        killed = job_row(settings, job_id)
        assert killed.status == ReportJobStatus.running
        assert made_first <= killed.done < killed.total, "killed in the middle"
        assert killed.total >= at_least
        assert _pieces(settings, job_id) >= made_first

        second.start()
        wait_for(
            lambda: (
                job_row(settings, job_id).status in (ReportJobStatus.done, ReportJobStatus.failed)
            ),
            seconds,
            second.log_text,
        )
    finally:
        first.stop()
        second.stop()
    finished = job_row(settings, job_id)
    assert finished.status == ReportJobStatus.done, finished.error
    assert finished.error is None
    assert finished.attempts == 2
    assert finished.ran_by is not None
    assert finished.ran_by.endswith(":worker")
    assert "re-queued" in second.log_text()
    assert (finished.done, finished.failed) == (killed.total, 0)

    output = _output(settings, job_id)
    assert output.media_type == "application/zip"
    with zipfile.ZipFile(io.BytesIO(output.data)) as archive:
        names = archive.namelist()
        assert len(names) == len(set(names)), "a team's report appears twice"
        reports = [name for name in names if name.endswith(".pdf")]
        assert len(reports) == killed.total
        assert all(name.startswith("Team-") for name in reports)
        for name in reports:
            assert archive.read(name).startswith(b"%PDF")
