"""Running one job: claim its row, keep a heartbeat, record progress and finished pieces, then
store the output or the failure.

Every write is a short transaction of its own (never held across a render) and is guarded by
the claim's token: once the sweeper has handed the job to another worker (or failed it), the
old worker's next write changes nothing and it stops (``JobLostError``), so two workers never
both finish a job.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app import db
from app.config import Settings
from app.db import utcnow
from app.errors import DomainError
from app.models import JobFile, ReportJob, ReportJobStatus

logger = logging.getLogger(__name__)

# the media type of an output shown once (set-password links): the page that shows it deletes
# it, and the sweeper deletes one not shown within SHOWN_ONCE_KEPT (docs/security.md)
SHOWN_ONCE = "application/x-processlens-shown-once+json"
SHOWN_ONCE_KEPT = timedelta(hours=24)

FAILED = (
    "Making this stopped unexpectedly. Please try again; if it keeps happening, tell your "
    "administrator."
)


class JobLostError(Exception):
    """This worker's claim is gone (the job was handed to another worker, or failed), or
    its process is stopping: the attempt ends without another write, and the sweeper hands
    the job to a worker that runs (a render pool closing under it must not finish the job
    with teams missing)."""


class JobTimeLimitError(DomainError):
    title = "Took too long"

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"This took longer than its limit of {seconds:g} seconds and was stopped. Try "
            "again when the service is quieter, or ask your administrator to raise "
            "PROCESSLENS_JOB_SECONDS."
        )


def worker_name(role: str) -> str:
    """Who holds a claim: host, process and role (web or worker), shown to operators."""
    return f"{socket.gethostname()}:{os.getpid()}:{role}"[:200]


def abandoned_after(settings: Settings) -> timedelta:
    """A running job whose heartbeat is older than this has lost its worker."""
    return timedelta(seconds=3 * settings.job_heartbeat_seconds + 1)


@dataclass(frozen=True)
class Job:
    """What a handler knows of its job (a snapshot taken when it was claimed)."""

    id: int
    organisation_id: int
    kind: str
    params: Mapping[str, Any]
    attempts: int
    created_by_id: int | None


@dataclass
class JobRun:
    """A claimed job as its handler sees it: progress, pieces and the end, all guarded."""

    engine: Engine
    settings: Settings
    job: Job
    token: str
    deadline: datetime
    lost: threading.Event = field(default_factory=threading.Event)
    stopping: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        """Stop here if the claim is gone, the process is stopping, or the time is up."""
        if self.lost.is_set() or self.stopping.is_set():
            raise JobLostError()
        if utcnow() > self.deadline:
            raise JobTimeLimitError(self.settings.job_seconds)

    def _write(self, session: Session, **values: Any) -> None:
        written = session.exec(
            update(ReportJob)
            .where(col(ReportJob.id) == self.job.id, col(ReportJob.run_token) == self.token)
            .values(updated_at=utcnow(), **values)
        )
        if written.rowcount != 1:
            self.lost.set()
            raise JobLostError()

    def progress(self, **values: int) -> None:
        """Record counts (``total``, ``done``, ``failed``) for the progress page."""
        self.check()
        with Session(self.engine) as session:
            self._write(session, **values)
            session.commit()

    def beat(self) -> None:
        with Session(self.engine) as session:
            self._write(session, heartbeat_at=utcnow())
            session.commit()

    def stored_pieces(self) -> set[str]:
        """Names of the pieces an earlier attempt already made."""
        with Session(db.read_only(self.engine)) as session:
            names = session.exec(
                select(JobFile.name).where(JobFile.job_id == self.job.id, ~col(JobFile.final))
            ).all()
        return set(names)

    def save_piece(self, name: str, data: bytes, media_type: str) -> None:
        """Keep one finished piece (one team's PDF) so a resumed job does not make it again."""
        self.check()
        with Session(self.engine) as session:
            session.add(
                JobFile(
                    job_id=self.job.id, name=name, media_type=media_type, size=len(data), data=data
                )
            )
            try:
                session.commit()
            except IntegrityError:
                # the same piece from an attempt that was still finishing: kept once
                session.rollback()

    def pieces(self) -> Iterator[tuple[str, bytes]]:
        """Every stored piece, by name, one at a time (a large batch is not held in memory)."""
        with Session(db.read_only(self.engine)) as session:
            ids = session.exec(
                select(JobFile.id, JobFile.name)
                .where(JobFile.job_id == self.job.id, ~col(JobFile.final))
                .order_by(col(JobFile.name))
            ).all()
        for piece_id, name in ids:
            with Session(db.read_only(self.engine)) as session:
                data = session.exec(select(JobFile.data).where(JobFile.id == piece_id)).one()
            yield name, data

    def finish(self, *, name: str, media_type: str, data: bytes, note: str | None = None) -> None:
        """Store the output and mark the job done, in one transaction; the pieces go."""
        self.check()
        with Session(self.engine) as session:
            self._write(
                session,
                status=ReportJobStatus.done,
                error=note[:2000] if note else None,
                finished_at=utcnow(),
                run_token=None,
            )
            session.exec(delete(JobFile).where(col(JobFile.job_id) == self.job.id))
            session.add(
                JobFile(
                    job_id=self.job.id,
                    name=name,
                    final=True,
                    media_type=media_type,
                    size=len(data),
                    data=data,
                )
            )
            session.commit()

    def fail(self, message: str) -> None:
        with Session(self.engine) as session:
            self._write(
                session,
                status=ReportJobStatus.failed,
                error=message[:2000],
                finished_at=utcnow(),
                run_token=None,
            )
            session.exec(delete(JobFile).where(col(JobFile.job_id) == self.job.id))
            session.commit()


Handler = Callable[[JobRun], None]


def claim(
    *,
    engine: Engine,
    settings: Settings,
    job_id: int,
    role: str,
    stopping: threading.Event | None = None,
) -> JobRun | None:
    """Take a queued job for this worker, or None (done, failed, or another worker has it)."""
    token = secrets.token_hex(16)
    now = utcnow()
    with Session(engine) as session:
        claimed = session.exec(
            update(ReportJob)
            .where(col(ReportJob.id) == job_id, col(ReportJob.status) == ReportJobStatus.queued)
            .values(
                status=ReportJobStatus.running,
                run_token=token,
                ran_by=worker_name(role),
                attempts=col(ReportJob.attempts) + 1,
                heartbeat_at=now,
                updated_at=now,
            )
        )
        if claimed.rowcount != 1:
            session.rollback()
            return None
        row = session.get(ReportJob, job_id)
        assert row is not None
        if row.started_at is None:
            row.started_at = now
        session.commit()
        started = row.started_at
        job = Job(
            id=job_id,
            organisation_id=row.organisation_id,
            kind=row.kind,
            params=dict(row.params or {}),
            attempts=row.attempts,
            created_by_id=row.created_by_id,
        )
    deadline = started + timedelta(seconds=settings.job_seconds)
    return JobRun(
        engine=engine,
        settings=settings,
        job=job,
        token=token,
        deadline=deadline,
        stopping=stopping or threading.Event(),
    )


@contextmanager
def heartbeat(run: JobRun) -> Iterator[None]:
    """Write the job's heartbeat every ``job_heartbeat_seconds`` while the block runs."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(run.settings.job_heartbeat_seconds):
            try:
                run.beat()
            except JobLostError:
                return
            except Exception:  # a busy database: the next beat tries again
                logger.warning("job %s: heartbeat not written", run.job.id, exc_info=True)

    thread = threading.Thread(target=beat, name=f"job-{run.job.id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def run_job(
    *,
    engine: Engine,
    settings: Settings,
    job_id: int,
    handlers: Mapping[str, Handler],
    role: str,
    stopping: threading.Event | None = None,
) -> None:
    """Claim the job and run its kind's handler. Never raises: a failure is recorded on the
    job with a message for people; a lost claim (or ``stopping`` set) is left to the next
    worker."""
    if stopping is not None and stopping.is_set():
        return
    run = claim(engine=engine, settings=settings, job_id=job_id, role=role, stopping=stopping)
    if run is None:
        return
    logger.info("job %s (%s): attempt %s", job_id, run.job.kind, run.job.attempts)
    with heartbeat(run):
        try:
            handler = handlers.get(run.job.kind)
            if handler is None:
                raise DomainError(f"No worker here makes jobs of kind {run.job.kind!r}.")
            handler(run)
        except JobLostError:
            logger.warning("job %s: this attempt stops; the sweeper hands the job on", job_id)
        except Exception as error:
            if run.stopping.is_set():
                logger.warning("job %s: stopped with the process; it will be resumed", job_id)
                return
            if not isinstance(error, DomainError):
                logger.exception("job %s failed", job_id)
            try:
                run.fail(error.message if isinstance(error, DomainError) else FAILED)
            except JobLostError:
                pass
            except Exception:
                logger.exception("job %s: could not record the failure", job_id)
