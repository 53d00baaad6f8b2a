"""Report pages and downloads: team reports (page, PDF), the organisation report (PDF, or a
job above PROCESSLENS_ORG_REPORT_JOB_TEAMS teams), jobs that zip every team's report, with a
progress page, and the form that saves the consultant's commentary. The JSON/PDF twins
under ``/api`` are app.api.reports.

Routes are thin: tenancy loads the round or organisation (another tenant's id is a 404), the
service (app.reports.batch) builds the typed context from stored results, the PDF comes from
the cache or the render pool. WeasyPrint never runs in the event loop: the routes are sync
(FastAPI's thread pool) and the render itself happens in a worker process. Organisation-wide
reports follow the dashboard's guard: organisation leaders, consultants and admins
(``OrgViewer``).

Registered in ``app.main.create_app``.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session
from starlette.background import BackgroundTask

from app import templating
from app.accounts import audit, tenancy
from app.accounts.actor import PageActor
from app.accounts.dependencies import (
    CurrentPrincipal,
    OrgViewer,
    ScopedOrganisation,
    require_roles,
    settings_of,
)
from app.accounts.tenancy import Principal
from app.catalog_store import CatalogDep
from app.db import ReadSessionDep, SessionDep
from app.jobs import queue
from app.jobs import status as job_status
from app.models import JobFile, Organisation, ReportJob, ReportJobStatus, UserRole
from app.reports import batch, jobs, render
from app.reports import commentary as report_commentary
from app.reports.batch import safe_file_name
from app.results import visibility

router = APIRouter(tags=["reports"])
PDF_HEADERS = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
HideNames = Annotated[bool, Query(description="Number the teams instead of naming them")]
FULL_DESCRIPTION = (
    "Include all answers: the full team report, with Appendix A (every question's answers), "
    "every 'why this score' row and every answer that would change the recommendation (about "
    "30 pages). Without it, the concise report (about 10-14 pages)."
)
FullReport = Annotated[bool, Query(description=FULL_DESCRIPTION)]


def pdf_download(document: bytes, name: str) -> Response:
    """A PDF as an attachment that no cache keeps (``name`` is already a safe file name)."""
    return Response(
        content=document,
        media_type="application/pdf",
        headers={**PDF_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/teams/{team_id}/rounds/{round_id}/report.pdf", response_class=Response)
def team_report_pdf(
    request: Request,
    team_id: int,
    round_id: int,
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    full: FullReport = False,
) -> Response:
    """The round's team report as a PDF download (``full=1``: with all answers)."""
    report = batch.team_report_for_round_id(
        session=session,
        settings=settings_of(request),
        principal=principal,
        team_id=team_id,
        round_id=round_id,
        full=full,
    )
    return pdf_download(*batch.team_pdf(report, settings_of(request)))


@router.get("/teams/{team_id}/rounds/{round_id}/report.html", response_class=HTMLResponse)
def team_report_page(
    request: Request,
    team_id: int,
    round_id: int,
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    full: FullReport = False,
) -> HTMLResponse:
    """The round's team report as a page (interactive charts; prints like the PDF;
    ``full=1``: with all answers)."""
    report = batch.team_report_for_round_id(
        session=session,
        settings=settings_of(request),
        principal=principal,
        team_id=team_id,
        round_id=round_id,
        full=full,
    )
    links = render.PageLinks.for_round(team_id, round_id)
    return HTMLResponse(render.team_html(report, medium="web", links=links))


# ---------------------------------------------------------------- the organisation report


# Routes that render or only read load the organisation through tenancy with the read session
# (ScopedOrganisation would open the write session, and with it SQLite's write lock, for the
# whole render).


@router.get(
    "/organisations/{org_id}/report.pdf",
    response_class=Response,
    responses={202: {"description": "A large organisation: the report is made by a job"}},
)
def organisation_report_pdf(
    request: Request,
    org_id: int,
    principal: OrgViewer,
    session: ReadSessionDep,
    catalog: CatalogDep,
    hide_names: HideNames = False,
) -> Response:
    """The organisation report as a PDF download (``hide_names=1``: teams numbered). Above
    PROCESSLENS_ORG_REPORT_JOB_TEAMS teams it is made by a job: 202 and its progress page."""
    organisation = tenancy.get_organisation(session=session, principal=principal, org_id=org_id)
    assert organisation.id is not None
    settings = settings_of(request)
    if jobs.organisation_report_is_a_job(
        session=session, organisation_id=organisation.id, settings=settings
    ):
        job = start_organisation_report_job(request, organisation, principal, hide_names)
        assert job.id is not None
        page = _job_page(job, organisation, request, file=None)
        return templating.render(
            request,
            "dashboards/report_job.html",
            dataclasses.replace(page, refresh_url=page.job_url),
            status_code=202,
            headers={"Location": page.job_url},
            background=BackgroundTask(job_queue(request).enqueue, job.id),
        )
    return pdf_download(
        *batch.organisation_pdf(
            session=session,
            settings=settings,
            organisation=organisation,
            catalog=catalog,
            hide_names=hide_names,
            viewer=visibility.SignedIn(user_id=principal.user_id, settings=settings),
        )
    )


def job_queue(request: Request) -> queue.JobQueue:
    """This process's job queue (app.main builds it)."""
    found: queue.JobQueue = request.app.state.job_queue
    return found


def start_organisation_report_job(
    request: Request, organisation: Organisation, principal: Principal, hide_names: bool
) -> ReportJob:
    """The organisation report's job (under way, or new); the page and the API share it."""
    assert organisation.id is not None
    return jobs.start_organisation_report(
        sessions=request.app.state.sessions,
        settings=settings_of(request),
        organisation_id=organisation.id,
        user_id=principal.user_id,
        hide_names=hide_names,
    )


# ---------------------------------------------------------------- report jobs' pages


def _jobs_url(org_id: int) -> str:
    return f"/organisations/{org_id}/report-exports"


@dataclasses.dataclass(frozen=True)
class ReportJobPage:
    """Context of templates/dashboards/report_job.html."""

    title: str
    heading: str
    lede: str
    organisation: str
    dashboard_url: str
    job_url: str
    start_url: str  # a new job (when this one has ended)
    start_method: str  # post (every team's report) | get (the organisation report)
    status: str  # queued | running | done | failed | stopped
    status_text: str
    under_way: bool  # the page refreshes itself while true
    done: int
    total: int
    failed: int
    percent: int
    started: str
    message: str | None
    download_url: str | None
    download_label: str
    refresh_url: str | None = None  # where the refresh goes (the 202 page: the job's page)
    full: bool = False  # team reports with all answers (the form starting again keeps it)


STATUS_TEXTS = {
    "queued": "Waiting to start…",
    "running": "Making the reports…",
    "done": "Ready.",
    "failed": "Not made.",
    "stopped": (
        "Stopped: no job worker has picked this up for a long time. Start again; if it stays "
        "like this, ask your administrator to check that the job worker runs."
    ),
}


def _job_page(
    job: ReportJob, organisation: Organisation, request: Request, *, file: JobFile | None
) -> ReportJobPage:
    assert organisation.id is not None
    assert job.id is not None
    settings = settings_of(request)
    status = job_status.shown_status(job, settings)
    job_url = f"{_jobs_url(organisation.id)}/{job.id}"
    message = job.error
    if job.status == ReportJobStatus.done and job.error:
        message = f"Some reports could not be made: {job.error}"
    if job.status == ReportJobStatus.done and file is None:
        message = "The file is no longer available. Start again to make a new one."
    whole = job.kind == jobs.ORGANISATION_REPORT
    hide_names = bool((job.params or {}).get("hide_names"))
    return ReportJobPage(
        title=f"{organisation.name} — {'organisation report' if whole else 'team reports'}",
        heading="The organisation report" if whole else "Every team’s report",
        lede=(
            "The organisation report as a PDF; with this many teams it is made in the background."
            if whole
            else "Each team’s latest report as a PDF"
            + (", with all answers," if jobs.is_full(job) else " (concise),")
            + " together in one zip file."
        ),
        organisation=organisation.name,
        dashboard_url=f"/organisations/{organisation.id}/dashboard",
        job_url=job_url,
        start_url=(
            f"/organisations/{organisation.id}/report.pdf{'?hide_names=1' if hide_names else ''}"
            if whole
            else _jobs_url(organisation.id)
        ),
        start_method="get" if whole else "post",
        status=status,
        status_text=STATUS_TEXTS[status],
        under_way=status in ("queued", "running"),
        done=job.done,
        total=job.total,
        failed=job.failed,
        percent=round(100 * job.done / job.total) if job.total else 0,
        started=job.created_at.strftime("%Y-%m-%d %H:%M UTC"),
        message=message,
        download_url=f"{job_url}/download" if file is not None else None,
        download_label="Download the PDF" if whole else "Download the zip",
        full=jobs.is_full(job),
    )


@router.post("/organisations/{org_id}/report-exports", response_class=RedirectResponse)
def start_report_job(
    request: Request,
    session: SessionDep,
    organisation: ScopedOrganisation,
    principal: OrgViewer,
    full: Annotated[bool, Form()] = False,
) -> RedirectResponse:
    """Start making every team's latest report, zipped (or go to the job under way);
    ``full``: the reports with all answers."""
    assert organisation.id is not None
    settings = settings_of(request)
    running = jobs.active_job(
        session=session, organisation_id=organisation.id, settings=settings, full=full
    )
    if running is not None:
        return RedirectResponse(f"{_jobs_url(organisation.id)}/{running.id}", status_code=303)
    job = jobs.create_job(
        session=session, organisation_id=organisation.id, user_id=principal.user_id, full=full
    )
    assert job.id is not None
    audit.record(
        session=session,
        request=request,
        action="export.team_reports_started",
        target_type="organisation",
        target_id=organisation.id,
        organisation_id=organisation.id,
        details={"job": job.id, "full": full},
    )
    # sent once the response is, so after the request's session has committed the job row
    # the consumer looks for
    return RedirectResponse(
        f"{_jobs_url(organisation.id)}/{job.id}",
        status_code=303,
        background=BackgroundTask(job_queue(request).enqueue, job.id),
    )


def _organisation_job(
    session: Session, principal: Principal, org_id: int, job_id: int
) -> tuple[Organisation, ReportJob]:
    """The organisation (tenancy) and its job; another organisation's job is a 404."""
    organisation = tenancy.get_organisation(session=session, principal=principal, org_id=org_id)
    assert organisation.id is not None
    tenancy.check_id(job_id)
    return organisation, jobs.get_job(
        session=session, organisation_id=organisation.id, job_id=job_id, user_id=principal.user_id
    )


@router.get("/organisations/{org_id}/report-exports/{job_id}", response_class=HTMLResponse)
def report_job_page(
    request: Request,
    org_id: int,
    job_id: int,
    principal: OrgViewer,
    session: ReadSessionDep,
) -> HTMLResponse:
    """The job's progress (the page refreshes itself while it runs) and its download."""
    organisation, job = _organisation_job(session, principal, org_id, job_id)
    file = jobs.output(session=session, job=job)
    return templating.render(
        request, "dashboards/report_job.html", _job_page(job, organisation, request, file=file)
    )


@router.get("/organisations/{org_id}/report-exports/{job_id}/download", response_class=Response)
def report_job_download(
    request: Request,
    org_id: int,
    job_id: int,
    session: SessionDep,
    principal: OrgViewer,
) -> Response:
    """The finished zip or PDF (audit-logged); while the job runs, its progress page."""
    organisation, job = _organisation_job(session, principal, org_id, job_id)
    file = jobs.output(session=session, job=job)
    if file is None:
        return RedirectResponse(f"{_jobs_url(org_id)}/{job_id}", status_code=303)
    audit.record(
        session=session,
        request=request,
        action=(
            "export.organisation_report_downloaded"
            if job.kind == jobs.ORGANISATION_REPORT
            else "export.team_reports_downloaded"
        ),
        target_type="organisation",
        target_id=organisation.id,
        organisation_id=organisation.id,
        details={"job": job_id, "reports": job.done - job.failed},
    )
    return file_download(file)


def file_download(file: JobFile) -> Response:
    """A job's stored output as an attachment that no cache keeps."""
    name = safe_file_name(file.name, "report")
    return Response(
        content=file.data,
        media_type=file.media_type,
        headers={**PDF_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )


# ---------------------------------------------------------------- the consultant's commentary

require_commentary_editor = require_roles(UserRole.consultant)
CommentaryEditor = Annotated[Principal, Depends(require_commentary_editor)]


@router.post("/teams/{team_id}/rounds/{round_id}/commentary", include_in_schema=False)
def save_commentary(
    session: SessionDep,
    principal: CommentaryEditor,
    actor: PageActor,
    team_id: int,
    round_id: int,
    commentary: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Save the round's commentary (consultants of the organisation and admins)."""
    report_commentary.save_and_audit(
        actor=actor,
        session=session,
        principal=principal,
        team_id=team_id,
        round_id=round_id,
        text=commentary,
    )
    return RedirectResponse(
        f"/teams/{team_id}/rounds/{round_id}/results?notice=commentary#commentary",
        status_code=303,
    )
