"""Report jobs: every team's latest report of an organisation, zipped, and a large
organisation report, made by the job queue (app.jobs) with progress on the job's page.

A job is a ``ReportJob`` row: the page or API call that starts it inserts the row and, once
the request has committed, sends "run job N" to the queue. Whichever consumer takes it (inside
a web process, or ``processlens worker``) claims the row, renders in the render pool and
writes progress after each PDF. Each team's finished PDF is kept as a piece of the job, so a
job whose worker was killed resumes where it stopped (the sweeper re-queues it) and no team
appears twice; the finished zip or PDF is kept in the database, so every instance serves it.
"""

from __future__ import annotations

import functools
import io
import logging
import zipfile
from typing import Final

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, func, select

from app import db
from app.config import Settings
from app.db import utcnow
from app.errors import DomainError, NotFoundError
from app.jobs import runner
from app.jobs import status as job_status
from app.jobs.runner import JobRun
from app.models import JobFile, Organisation, ReportJob, ReportJobStatus, Team
from app.reports import batch, pdf, render
from app.reports.branding import organisation_branding
from app.results import visibility
from app.rubric.loader import Catalog

logger = logging.getLogger(__name__)

TEAM_REPORTS: Final = "team_reports"
ORGANISATION_REPORT: Final = "organisation_report"
REPORT_KINDS = (TEAM_REPORTS, ORGANISATION_REPORT)
NO_RESULTS = batch.NO_RESULTS  # the pages and API answer the same (NoResultsError)
PDF: Final = "application/pdf"
ZIP: Final = "application/zip"


# ---------------------------------------------------------------- reading and starting


def get_job(
    *, session: Session, organisation_id: int, job_id: int, user_id: int | None = None
) -> ReportJob:
    """A job of the organisation (already loaded through tenancy); another's is a 404, and so
    is an organisation report made for another viewer (``user_id``: who asks): it counts the
    teams as its creator may see them, their own answers left out, not as the asker may.
    Other kinds of job (an import, a rescore) have pages of their own: a 404 here."""
    job = session.exec(
        select(ReportJob).where(
            ReportJob.id == job_id,
            ReportJob.organisation_id == organisation_id,
            col(ReportJob.kind).in_(REPORT_KINDS),
        )
    ).first()
    if job is None:
        raise NotFoundError()
    if (
        job.kind == ORGANISATION_REPORT
        and user_id is not None
        and job.created_by_id is not None
        and job.created_by_id != user_id
    ):
        raise NotFoundError()
    return job


def active_job(
    *,
    session: Session,
    organisation_id: int,
    settings: Settings,
    kind: str = TEAM_REPORTS,
    hide_names: bool = False,
    created_by_id: int | None = None,
    full: bool = False,
) -> ReportJob | None:
    """The organisation's job of this kind (and options) still under way, if any (and,
    given ``created_by_id``, only its creator's: an organisation report is made for the
    viewer who asked, whose own answers do not count in it)."""
    jobs = session.exec(
        select(ReportJob)
        .where(
            ReportJob.organisation_id == organisation_id,
            ReportJob.kind == kind,
            col(ReportJob.status).in_([s.value for s in job_status.ACTIVE]),
        )
        .order_by(col(ReportJob.created_at).desc())
    ).all()
    return next(
        (
            job
            for job in jobs
            if not job_status.is_stopped(job, settings)
            and bool((job.params or {}).get("hide_names")) == hide_names
            and bool((job.params or {}).get("full")) == full
            and (created_by_id is None or job.created_by_id == created_by_id)
        ),
        None,
    )


def create_job(
    *,
    session: Session,
    organisation_id: int,
    user_id: int | None,
    kind: str = TEAM_REPORTS,
    hide_names: bool = False,
    full: bool = False,
) -> ReportJob:
    """Queue a job (flushed; the request commits it and then enqueues it); ``full``: team
    reports with all answers (Appendix A), else the concise ones."""
    params: dict[str, bool] = {}
    if hide_names:
        params["hide_names"] = True
    if full:
        params["full"] = True
    job = ReportJob(
        organisation_id=organisation_id, created_by_id=user_id, kind=kind, params=params
    )
    session.add(job)
    session.flush()
    return job


def start_organisation_report(
    *,
    sessions: sessionmaker[Session],
    settings: Settings,
    organisation_id: int,
    user_id: int | None,
    hide_names: bool,
) -> ReportJob:
    """The organisation report's job under way, or a new one, committed at once: the page
    and the API read through the read session, and only this short write needs a write one
    (the caller then enqueues the job)."""
    with sessions() as session:
        job = active_job(
            session=session,
            organisation_id=organisation_id,
            settings=settings,
            kind=ORGANISATION_REPORT,
            hide_names=hide_names,
            created_by_id=user_id,
        ) or create_job(
            session=session,
            organisation_id=organisation_id,
            user_id=user_id,
            kind=ORGANISATION_REPORT,
            hide_names=hide_names,
        )
        session.commit()
    return job


def team_count(*, session: Session, organisation_id: int) -> int:
    """Teams of the organisation: what decides whether its report is made by a job."""
    return session.exec(
        select(func.count()).select_from(Team).where(Team.organisation_id == organisation_id)
    ).one()


def organisation_report_is_a_job(
    *, session: Session, organisation_id: int, settings: Settings
) -> bool:
    return (
        team_count(session=session, organisation_id=organisation_id) > settings.org_report_job_teams
    )


def output(*, session: Session, job: ReportJob) -> JobFile | None:
    """The finished output of a done job (kept in the database, served by every instance)."""
    if job.status != ReportJobStatus.done:
        return None
    return session.exec(select(JobFile).where(JobFile.job_id == job.id, col(JobFile.final))).first()


# ---------------------------------------------------------------- running (in a consumer)


def handlers(catalog: Catalog) -> dict[str, runner.Handler]:
    """What each kind of report job does, for the queue (``catalog``: the newest rubric)."""
    return {
        TEAM_REPORTS: make_team_reports,
        ORGANISATION_REPORT: functools.partial(make_organisation_report, catalog=catalog),
    }


def _organisation(session: Session, run: JobRun) -> Organisation:
    organisation = session.get(Organisation, run.job.organisation_id)
    if organisation is None:
        raise DomainError("The organisation no longer exists.")
    return organisation


def make_team_reports(run: JobRun) -> None:
    """Every team's latest report, zipped: the teams an earlier attempt made are not made
    again, each finished PDF is kept at once, and the zip is built from those pieces."""
    settings = run.settings
    with Session(db.read_only(run.engine)) as session:
        organisation = _organisation(session, run)
        assert organisation.id is not None
        slug = organisation.slug
        results = batch.stored_results(session=session, organisation_id=organisation.id)
        reports, skipped = batch.latest_team_reports(
            session=session,
            results=results,
            organisation=organisation.name,
            branding=organisation_branding(organisation, settings),
            role_group_minimum=settings.role_group_min,
            full=is_full(run.job),
        )
    if not reports:
        raise DomainError(NO_RESULTS)
    names = batch.zip_entry_names(reports)
    made = run.stored_pieces()
    cache = pdf.PdfCache(settings.data_dir / "report-cache")
    todo: list[int] = []
    for index, name in enumerate(names):
        if name in made:
            continue
        cached = cache.get(render.report_key(reports[index], template="reports/team.html"))
        if cached is None:
            todo.append(index)
        else:
            run.save_piece(name, cached, PDF)
    failures: list[str] = []
    processed: list[int] = []
    run.progress(total=len(reports), done=len(reports) - len(todo), failed=0)

    def done(position: int, outcome: bytes | pdf.ReportRenderError) -> None:
        index = todo[position]
        if isinstance(outcome, bytes):
            cache.put(render.report_key(reports[index], template="reports/team.html"), outcome)
            run.save_piece(names[index], outcome, PDF)
        else:
            failures.append(f"{reports[index].team}: {outcome.message}")
        processed.append(position)
        run.progress(done=len(reports) - len(todo) + len(processed), failed=len(failures))

    pdf.get_pool().render_many(
        [functools.partial(render.team_html, reports[index], medium="pdf") for index in todo],
        on_done=done,
    )
    run.check()
    archive = _zip(run, skipped)
    run.finish(
        name=f"{batch.safe_file_name(slug, 'organisation')}-team-reports"
        f"{'-full' if is_full(run.job) else ''}.zip",
        media_type=ZIP,
        data=archive,
        note="; ".join(failures) or None,
    )


def is_full(job: ReportJob | runner.Job) -> bool:
    """Whether a team-reports job makes the full reports (all answers), not the concise ones."""
    return bool((job.params or {}).get("full"))


def _zip(run: JobRun, skipped: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in run.pieces():
            archive.writestr(name, data)
        if skipped:
            archive.writestr(
                "not-included.txt",
                "Teams without enough responses for a team report:\n"
                + "".join(f"- {team}\n" for team in skipped),
            )
    return buffer.getvalue()


def make_organisation_report(run: JobRun, *, catalog: Catalog) -> None:
    """The organisation report as a job: one render whose limit is the job's remaining
    time, not one request's render limit."""
    settings = run.settings
    remaining = (run.deadline - utcnow()).total_seconds()
    if remaining <= 0:
        run.check()
    run.progress(total=1, done=0, failed=0)
    pool = pdf.RenderPool(pdf.RenderLimits.from_settings(settings, seconds=remaining, workers=1))
    try:
        with Session(db.read_only(run.engine)) as session:
            organisation = _organisation(session, run)
            creator = run.job.created_by_id
            document, name = batch.organisation_pdf(
                session=session,
                settings=settings,
                organisation=organisation,
                catalog=catalog,
                hide_names=bool(run.job.params.get("hide_names")),
                pool=pool,
                # the report is its creator's: their own answers do not count in it
                viewer=None
                if creator is None
                else visibility.SignedIn(user_id=creator, settings=settings),
            )
    finally:
        pool.close()
    run.progress(done=1)
    run.finish(name=name, media_type=PDF, data=document)
