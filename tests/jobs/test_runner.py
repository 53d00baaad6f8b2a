"""The job row as the source of truth: one claim at a time, a worker that lost its claim
changes nothing, the sweeper hands abandoned jobs on and gives up after three workers or past
the job's time limit, pieces are kept once, and a scheduled period is claimed once.

The tests run on a migrated database of the module's own (SQLite and PostgreSQL): the runner
commits from its own connections, as it does in a worker.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from app import db
from app.config import Settings
from app.db import utcnow
from app.errors import DomainError
from app.jobs import runner, sweeper
from app.jobs.queue import JobQueue
from app.jobs.runner import JobLostError, JobRun
from app.models import JobFile, Organisation, ReportJob, ReportJobStatus

QUICK = {"job_heartbeat_seconds": 0.2, "job_sweep_seconds": 1}


@pytest.fixture(scope="module")
def settings(
    backend: str,
    database_factory: Any,
    make_settings: Callable[..., Settings],
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    """One migrated database per backend for this module (each test makes its own jobs)."""
    return make_settings(
        database_factory.create(backend), data_dir=tmp_path_factory.mktemp("jobs"), **QUICK
    )


@pytest.fixture(scope="module")
def engine(settings: Settings) -> Iterator[Engine]:
    made = db.create_db_engine(settings)
    yield made
    made.dispose()


def _job(engine: Engine) -> int:
    with Session(engine) as session:
        organisation = Organisation(name="Jobs organisation", slug=f"jobs-{uuid.uuid4().hex[:8]}")
        session.add(organisation)
        session.flush()
        assert organisation.id is not None
        job = ReportJob(organisation_id=organisation.id, kind="test")
        session.add(job)
        session.commit()
        assert job.id is not None
        return job.id


def _row(engine: Engine, job_id: int) -> ReportJob:
    with Session(engine) as session:
        row = session.get(ReportJob, job_id)
        assert row is not None
        return row


def _silence(engine: Engine, job_id: int, seconds: float = 60) -> None:
    """Make the job's heartbeat old, as a killed worker's is."""
    with Session(engine) as session:
        row = session.get(ReportJob, job_id)
        assert row is not None
        row.heartbeat_at = utcnow() - timedelta(seconds=seconds)
        session.add(row)
        session.commit()


def test_a_job_is_claimed_once(engine: Engine, settings: Settings) -> None:
    job_id = _job(engine)
    first = runner.claim(engine=engine, settings=settings, job_id=job_id, role="worker")
    assert first is not None
    assert runner.claim(engine=engine, settings=settings, job_id=job_id, role="worker") is None
    row = _row(engine, job_id)
    assert row.status == ReportJobStatus.running
    assert row.attempts == 1
    assert row.ran_by is not None
    assert row.ran_by.endswith(":worker")


def test_a_worker_whose_job_was_handed_on_changes_nothing(
    engine: Engine, settings: Settings
) -> None:
    job_id = _job(engine)
    old = runner.claim(engine=engine, settings=settings, job_id=job_id, role="worker")
    assert old is not None
    old.progress(total=5, done=2)
    _silence(engine, job_id)
    enqueued: list[int] = []
    outcome = sweeper.sweep(engine=engine, settings=settings, enqueue=enqueued.append)
    assert job_id in outcome.requeued
    assert enqueued.count(job_id) == 1
    new = runner.claim(engine=engine, settings=settings, job_id=job_id, role="worker")
    assert new is not None
    # the old worker wakes up: every write it tries is refused, and it learns to stop
    with pytest.raises(JobLostError):
        old.progress(done=5)
    with pytest.raises(JobLostError):
        old.finish(name="old.zip", media_type="application/zip", data=b"old")
    new.finish(name="new.zip", media_type="application/zip", data=b"new")
    row = _row(engine, job_id)
    assert (row.status, row.done, row.attempts) == (ReportJobStatus.done, 2, 2)
    with Session(engine) as session:
        files = session.exec(select(JobFile).where(JobFile.job_id == job_id)).all()
    assert [(file.name, file.data) for file in files] == [("new.zip", b"new")]


def test_a_live_heartbeat_keeps_the_job_and_a_silent_one_loses_it(
    engine: Engine, settings: Settings
) -> None:
    job_id = _job(engine)
    run = runner.claim(engine=engine, settings=settings, job_id=job_id, role="worker")
    assert run is not None
    with runner.heartbeat(run):
        # more than the sweeper waits for a silent job: this one is still this worker's
        time.sleep(3 * settings.job_heartbeat_seconds + 1.2)
        outcome = sweeper.sweep(engine=engine, settings=settings, enqueue=lambda _job_id: None)
        assert job_id not in outcome.requeued
    assert _row(engine, job_id).status == ReportJobStatus.running


def _waited(engine: Engine, job_id: int, seconds: float) -> None:
    """Make a queued job look as if it had waited ``seconds`` for a worker."""
    with Session(engine) as session:
        row = session.get(ReportJob, job_id)
        assert row is not None
        row.updated_at = utcnow() - timedelta(seconds=seconds)
        session.add(row)
        session.commit()


def test_a_job_waiting_in_the_queue_is_not_sent_again_but_a_lost_message_is(
    engine: Engine, settings: Settings
) -> None:
    """Every worker busy for minutes: a queued job's message waits in the queue, and each
    sweep must not add another; a job whose message the queue lost is sent again, once."""
    jobs = JobQueue(settings=settings, engine=engine, handlers={}, role="worker")
    jobs.huey.flush()
    waiting, lost = _job(engine), _job(engine)
    jobs.enqueue(waiting)  # no consumer runs: it waits, as behind a long job
    for job_id in (waiting, lost):
        _waited(engine, job_id, 120)
    first = jobs.sweep()
    assert first.requeued == [lost]
    for _ in range(2):
        _waited(engine, waiting, 300)
        _waited(engine, lost, 300)
        assert jobs.sweep().requeued == []
    messages = [task.args[0] for task in jobs.huey.pending()]
    assert sorted(messages) == sorted([waiting, lost])
    jobs.huey.flush()


def test_the_sweeper_gives_up_after_three_workers_and_past_the_time_limit(
    engine: Engine, settings: Settings
) -> None:
    tired = _job(engine)
    late = _job(engine)
    for _ in range(sweeper.MAX_ATTEMPTS):
        assert runner.claim(engine=engine, settings=settings, job_id=tired, role="w") is not None
        _silence(engine, tired)
        sweeper.sweep(engine=engine, settings=settings, enqueue=lambda _job_id: None)
    assert runner.claim(engine=engine, settings=settings, job_id=late, role="w") is not None
    with Session(engine) as session:
        row = session.get(ReportJob, late)
        assert row is not None
        row.started_at = utcnow() - timedelta(seconds=settings.job_seconds + 120)
        session.add(row)
        session.commit()
    outcome = sweeper.sweep(engine=engine, settings=settings, enqueue=lambda _job_id: None)
    assert late in outcome.failed
    for job_id, words in ((tired, "stopped 3 times"), (late, "longer than its limit")):
        row = _row(engine, job_id)
        assert row.status == ReportJobStatus.failed
        assert row.error is not None
        assert words in row.error


def test_a_job_past_its_time_limit_stops_itself(engine: Engine, settings: Settings) -> None:
    job_id = _job(engine)

    def slow(run: JobRun) -> None:
        run.progress(total=2, done=1)
        run.deadline = utcnow() - timedelta(seconds=1)  # its time is up
        run.progress(done=2)

    runner.run_job(
        engine=engine, settings=settings, job_id=job_id, handlers={"test": slow}, role="w"
    )
    row = _row(engine, job_id)
    assert row.status == ReportJobStatus.failed
    assert row.error is not None
    assert "longer than its limit" in row.error
    assert row.done == 1


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (DomainError("The organisation no longer exists."), "The organisation no longer exists."),
        (RuntimeError("internal detail"), runner.FAILED),
    ],
)
def test_a_failing_job_records_a_message_for_people(
    engine: Engine, settings: Settings, error: Exception, message: str
) -> None:
    job_id = _job(engine)

    def broken(run: JobRun) -> None:
        run.save_piece("one.pdf", b"%PDF", "application/pdf")
        raise error

    runner.run_job(
        engine=engine, settings=settings, job_id=job_id, handlers={"test": broken}, role="w"
    )
    row = _row(engine, job_id)
    assert (row.status, row.error, row.run_token) == (ReportJobStatus.failed, message, None)
    with Session(engine) as session:
        assert session.exec(select(JobFile).where(JobFile.job_id == job_id)).all() == []


def test_a_piece_is_kept_once(engine: Engine, settings: Settings) -> None:
    job_id = _job(engine)
    run = runner.claim(engine=engine, settings=settings, job_id=job_id, role="w")
    assert run is not None
    run.save_piece("Team-1.pdf", b"%PDF first", "application/pdf")
    run.save_piece("Team-1.pdf", b"%PDF again", "application/pdf")
    run.save_piece("Team-2.pdf", b"%PDF second", "application/pdf")
    assert run.stored_pieces() == {"Team-1.pdf", "Team-2.pdf"}
    assert list(run.pieces()) == [("Team-1.pdf", b"%PDF first"), ("Team-2.pdf", b"%PDF second")]


def test_a_scheduled_period_is_claimed_once(engine: Engine) -> None:
    marker = uuid.uuid4().hex[:8]
    claims = [
        sweeper.claim_slot(engine=engine, task=f"test-{marker}", period_seconds=3600, ran_by=who)
        for who in ("one", "two", "three")
    ]
    assert claims == [True, False, False]
