"""Background report jobs: every team's latest report of an organisation, zipped, with progress.

A job is a ``ReportJob`` row: the page that starts it inserts the row, and once the request
has committed a thread of that web worker renders the reports in the render pool, writing
progress (done / total) to the row after each PDF. Progress lives in the database, so
whichever worker answers the job page sees it; the finished zip is written atomically under
``<data_dir>/report-jobs``, which every worker of an installation shares.

The thread takes its own connections from the engine, never the request's session: the job
outlives the request, and every write it makes is a short transaction of its own (never held
across a render; ENGINEERING.md). If the worker dies mid-job, the row stops changing and the
job page calls it stopped after ``stale_after`` (the next start makes a new job).
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import threading
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from app import db
from app.config import Settings
from app.db import utcnow
from app.errors import DomainError, NotFoundError
from app.files import inside
from app.models import Organisation, ReportJob, ReportJobStatus
from app.reports import batch, pdf, render
from app.reports.branding import organisation_branding

logger = logging.getLogger(__name__)

JOBS_FOLDER = "report-jobs"
ACTIVE = (ReportJobStatus.queued, ReportJobStatus.running)
NO_RESULTS = batch.NO_RESULTS  # the pages and API answer the same (NoResultsError)
FAILED = (
    "Making the reports stopped unexpectedly. Please try again; if it keeps happening, tell "
    "your administrator."
)


def jobs_dir(settings: Settings) -> Path:
    return settings.data_dir / JOBS_FOLDER


def stale_after(settings: Settings) -> timedelta:
    """How long a running job may go without progress before it counts as stopped: a render
    never takes longer than its time limit plus the pool's grace, so this is generous."""
    return timedelta(seconds=max(300.0, 3 * (settings.render_seconds + 10)))


# ---------------------------------------------------------------- reading and starting


def get_job(*, session: Session, organisation_id: int, job_id: int) -> ReportJob:
    """A job of the organisation (already loaded through tenancy); another's is a 404."""
    job = session.exec(
        select(ReportJob).where(
            ReportJob.id == job_id, ReportJob.organisation_id == organisation_id
        )
    ).first()
    if job is None:
        raise NotFoundError()
    return job


def is_stopped(job: ReportJob, settings: Settings, *, now: datetime | None = None) -> bool:
    """A queued or running job whose worker has not written progress for too long."""
    if job.status not in ACTIVE:
        return False
    return (now or utcnow()) - job.updated_at > stale_after(settings)


def active_job(*, session: Session, organisation_id: int, settings: Settings) -> ReportJob | None:
    """The organisation's job still under way, if any (one at a time is enough)."""
    jobs = session.exec(
        select(ReportJob)
        .where(
            ReportJob.organisation_id == organisation_id,
            col(ReportJob.status).in_([s.value for s in ACTIVE]),
        )
        .order_by(col(ReportJob.created_at).desc())
    ).all()
    return next((job for job in jobs if not is_stopped(job, settings)), None)


def create_job(*, session: Session, organisation_id: int, user_id: int | None) -> ReportJob:
    """Queue a job (flushed; the request commits it and then calls ``start``)."""
    job = ReportJob(organisation_id=organisation_id, created_by_id=user_id)
    session.add(job)
    session.flush()
    return job


def start(*, engine: Engine, settings: Settings, job_id: int) -> threading.Thread:
    """Run the job in a background thread of this process (after the row is committed)."""
    thread = threading.Thread(
        target=run_job,
        kwargs={"engine": engine, "settings": settings, "job_id": job_id},
        name=f"report-job-{job_id}",
        daemon=True,
    )
    thread.start()
    return thread


def zip_path(settings: Settings, job: ReportJob) -> Path | None:
    """The finished zip of a done job, if its file is still there.

    The stored name must be a plain file name directly in the jobs folder (``files.inside``):
    a row that names anything else (edited, or from a tampered backup) is a 404.
    """
    if job.status != ReportJobStatus.done or not job.file_name:
        return None
    path = inside(jobs_dir(settings), job.file_name)
    return path if path.is_file() else None


# ---------------------------------------------------------------- running (in the thread)


@dataclass
class _Progress:
    engine: Engine
    job_id: int

    def write(self, **values: Any) -> None:
        """One short write transaction per change (never held across a render)."""
        with Session(self.engine) as session:
            session.execute(
                update(ReportJob)
                .where(col(ReportJob.id) == self.job_id)
                .values(updated_at=utcnow(), **values)
            )
            session.commit()


def run_job(*, engine: Engine, settings: Settings, job_id: int) -> None:
    """Make every team's latest report, zip them, and record progress and the outcome.

    Never raises: a failure is recorded on the job with a message for people.
    """
    progress = _Progress(engine, job_id)
    try:
        _run(engine=engine, settings=settings, job_id=job_id, progress=progress)
    except Exception as error:
        if not isinstance(error, DomainError):
            logger.exception("report job %s failed", job_id)
        message = error.message if isinstance(error, DomainError) else FAILED
        try:
            progress.write(status=ReportJobStatus.failed, error=message, finished_at=utcnow())
        except Exception:
            logger.exception("report job %s: could not record the failure", job_id)


def _run(*, engine: Engine, settings: Settings, job_id: int, progress: _Progress) -> None:
    # read-only work needs no write lock on SQLite
    with Session(db.read_only(engine)) as session:
        job = session.get(ReportJob, job_id)
        if job is None or job.status != ReportJobStatus.queued:
            # never committed (the request failed), or another thread has it
            return
        organisation = session.get(Organisation, job.organisation_id)
        if organisation is None:
            return
        assert organisation.id is not None
        results = batch.stored_results(session=session, organisation_id=organisation.id)
        reports, skipped = batch.latest_team_reports(
            session=session,
            results=results,
            organisation=organisation.name,
            branding=organisation_branding(organisation, settings),
            role_group_minimum=settings.role_group_min,
        )
    if not reports:
        raise DomainError(NO_RESULTS)
    progress.write(status=ReportJobStatus.running, total=len(reports))
    names = batch.zip_entry_names(reports)
    cache = pdf.PdfCache(settings.data_dir / "report-cache")
    files: dict[int, bytes] = {}
    failures: list[str] = []
    todo: list[int] = []
    keys = [render.report_key(report, template="reports/team.html") for report in reports]
    for index, key in enumerate(keys):
        cached = cache.get(key)
        if cached is None:
            todo.append(index)
        else:
            files[index] = cached
    if files:
        progress.write(done=len(files))

    def done(position: int, outcome: bytes | pdf.ReportRenderError) -> None:
        index = todo[position]
        if isinstance(outcome, bytes):
            files[index] = outcome
            cache.put(keys[index], outcome)
        else:
            failures.append(f"{reports[index].team}: {outcome.message}")
        progress.write(done=len(files) + len(failures), failed=len(failures))

    pdf.get_pool().render_many(
        [functools.partial(render.team_html, reports[index], medium="pdf") for index in todo],
        on_done=done,
    )
    name = _write_zip(settings, job_id, [(names[i], files[i]) for i in sorted(files)], skipped)
    progress.write(
        status=ReportJobStatus.done,
        file_name=name,
        error="; ".join(failures)[:2000] or None,
        finished_at=utcnow(),
    )


def _write_zip(
    settings: Settings, job_id: int, files: list[tuple[str, bytes]], skipped: list[str]
) -> str:
    folder = jobs_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    # unguessable, though access is checked anyway: the file is only served through the job
    name = f"job-{job_id}-{secrets.token_hex(8)}.zip"
    temporary = folder / f".{name}.{os.getpid()}.tmp"
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_STORED) as archive:
        for entry, data in files:
            archive.writestr(entry, data)
        if skipped:
            archive.writestr(
                "not-included.txt",
                "Teams without enough responses for a team report:\n"
                + "".join(f"- {team}\n" for team in skipped),
            )
    os.replace(temporary, folder / name)
    return name
