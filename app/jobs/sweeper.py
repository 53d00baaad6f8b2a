"""The sweeper: a periodic task that hands abandoned jobs to another worker, run once per
period however many processes schedule it.

Every consumer's scheduler runs the sweep each period (on its own thread, never queued behind
a job); the first process to insert the period's ``scheduled_run`` row (its primary key is
task and slot) runs it and the others skip.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.config import Settings
from app.db import utcnow
from app.jobs.runner import SHOWN_ONCE, SHOWN_ONCE_KEPT, JobTimeLimitError, abandoned_after
from app.models import JobFile, ReportJob, ReportJobStatus, ScheduledRun

logger = logging.getLogger(__name__)

SWEEP = "sweep-jobs"
MAX_ATTEMPTS = 3
KEEP_RUNS = timedelta(days=1)
# a queued job is sent again after this long when the queue cannot say whether it holds it
LOST_AFTER = timedelta(minutes=10)
GAVE_UP = (
    "The worker making this stopped {attempts} times (the service restarted or ran out of "
    "memory). Please try again later; if it keeps happening, tell your administrator."
)


def claim_slot(*, engine: Engine, task: str, period_seconds: float, ran_by: str) -> bool:
    """True for the one process that claims this period of ``task``; False for the others."""
    slot = int(time.time() // period_seconds)
    with Session(engine) as session:
        session.add(ScheduledRun(task=task, slot=slot, ran_by=ran_by))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return False
    return True


@dataclass
class SweepOutcome:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def sweep(
    *,
    engine: Engine,
    settings: Settings,
    enqueue: Callable[[int], None],
    in_queue: Callable[[], Collection[int]] | None = None,
) -> SweepOutcome:
    """Re-queue running jobs whose heartbeat stopped and queued jobs whose message was lost;
    fail those past their time limit or their attempts.

    ``in_queue`` lists the jobs whose message waits in the queue now: a job waiting there
    (every worker busy with long jobs) is not sent again each sweep. A queued job without a
    message (it died with a consumer, or the queue could not be reached) is sent again once
    it has waited a little; when the queue cannot be listed, only after LOST_AFTER."""
    now = utcnow()
    grace = abandoned_after(settings)
    silent_since = now - grace
    waiting_since = now - max(grace, timedelta(seconds=2 * settings.job_sweep_seconds))
    waiting = _listed(in_queue)
    if waiting is None:
        waiting_since = min(waiting_since, now - LOST_AFTER)
    limit = timedelta(seconds=settings.job_seconds)
    outcome = SweepOutcome()
    with Session(engine) as session:
        active = session.exec(
            select(ReportJob).where(
                col(ReportJob.status).in_([ReportJobStatus.queued, ReportJobStatus.running])
            )
        ).all()
        for job in active:
            assert job.id is not None
            beat = job.heartbeat_at or job.updated_at
            # a worker past the limit stops itself at its next step; this is for one that hangs
            over_time = job.started_at is not None and now > job.started_at + limit + grace
            if job.status == ReportJobStatus.running and (over_time or beat < silent_since):
                if over_time or job.attempts >= MAX_ATTEMPTS:
                    message = (
                        JobTimeLimitError(settings.job_seconds).message
                        if over_time
                        else GAVE_UP.format(attempts=job.attempts)
                    )
                    _fail(session, job, message)
                    outcome.failed.append(job.id)
                    continue
                job.status = ReportJobStatus.queued
                job.run_token = None
                job.updated_at = now
                outcome.requeued.append(job.id)
            elif (
                job.status == ReportJobStatus.queued
                and job.updated_at < waiting_since
                and (waiting is None or job.id not in waiting)
            ):
                job.updated_at = now
                outcome.requeued.append(job.id)
        session.exec(delete(ScheduledRun).where(col(ScheduledRun.started_at) < now - KEEP_RUNS))
        session.exec(
            delete(JobFile).where(
                col(JobFile.media_type) == SHOWN_ONCE,
                col(JobFile.created_at) < now - SHOWN_ONCE_KEPT,
            )
        )
        session.commit()
    for job_id in outcome.requeued:
        enqueue(job_id)
    if outcome.requeued or outcome.failed:
        logger.warning("sweeper: re-queued %s, failed %s", outcome.requeued, outcome.failed)
    return outcome


def _listed(in_queue: Callable[[], Collection[int]] | None) -> frozenset[int] | None:
    """The jobs with a message in the queue, or None when it cannot be listed."""
    if in_queue is None:
        return None
    try:
        return frozenset(in_queue())
    except Exception:  # an unreachable queue: the longer budget decides
        logger.exception("sweeper: the queue could not be listed")
        return None


def _fail(session: Session, job: ReportJob, message: str) -> None:
    job.status = ReportJobStatus.failed
    job.error = message
    job.run_token = None
    job.finished_at = job.updated_at = utcnow()
    session.exec(delete(JobFile).where(col(JobFile.job_id) == job.id))
