"""How a job reads to the people waiting for it, whatever its kind: its status (with
"stopped" for an unfinished job no worker has touched for long) and its progress.

The report, import and rescore pages and their API twins all show a job through this module,
so a job that stopped reads the same everywhere.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Final

from app.config import Settings
from app.db import utcnow
from app.models import ReportJob, ReportJobStatus

ACTIVE: Final = (ReportJobStatus.queued, ReportJobStatus.running)
STOPPED: Final = "stopped"


def stale_after(settings: Settings) -> timedelta:
    """How long an unfinished job may go without any write before the page calls it stopped:
    long past what the sweeper needs to hand it on, so it means no worker runs at all."""
    return timedelta(seconds=max(300.0, 10 * settings.job_sweep_seconds))


def is_stopped(job: ReportJob, settings: Settings, *, now: datetime | None = None) -> bool:
    """An unfinished job nothing has touched for too long: no worker is running."""
    if job.status not in ACTIVE:
        return False
    return (now or utcnow()) - job.updated_at > stale_after(settings)


def shown_status(job: ReportJob, settings: Settings) -> str:
    """queued | running | done | failed, or stopped (see ``is_stopped``)."""
    return STOPPED if is_stopped(job, settings) else str(job.status)


@dataclasses.dataclass(frozen=True)
class JobView:
    """A job as its progress page and the API show it."""

    id: int
    status: str  # queued | running | done | failed | stopped
    done: int
    total: int
    message: str | None  # the summary when done, what went wrong when failed
    started: str

    @property
    def under_way(self) -> bool:
        return self.status in ACTIVE


def view(job: ReportJob, settings: Settings) -> JobView:
    assert job.id is not None
    return JobView(
        id=job.id,
        status=shown_status(job, settings),
        done=job.done,
        total=job.total,
        message=job.error,
        started=job.created_at.strftime("%Y-%m-%d %H:%M UTC"),
    )
