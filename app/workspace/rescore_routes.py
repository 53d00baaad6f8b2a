"""The organisation's "rescore under the newest rubric" pages: what it would do and the form
that starts it (reached from the organisation dashboard), and the job's progress page. The
work is app.workspace.organisation_rescore's, run by the job queue; the API twin is in
app.api.workspace. Organisation-wide, so the dashboard's guard (``OrgViewer``) decides who."""

from __future__ import annotations

import dataclasses
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session
from starlette.background import BackgroundTask

from app import templating
from app.accounts import tenancy
from app.accounts.actor import PageActor
from app.accounts.dependencies import OrgViewer, settings_of
from app.accounts.tenancy import Principal
from app.catalog_store import CatalogDep
from app.db import ReadSessionDep
from app.jobs import queue
from app.jobs import status as job_status
from app.models import Organisation
from app.rubric.loader import Catalog
from app.workspace import organisation_rescore
from app.workspace.organisation_rescore import NothingToRescoreError

router = APIRouter(include_in_schema=False)

NO_STORE: Final = {"Cache-Control": "no-store"}
STATUS_TEXTS: Final = {
    "queued": "Waiting to start…",
    "running": "Rescoring the rounds…",
    "done": "Done.",
    "failed": "Stopped with an error.",
    "stopped": (
        "Stopped: no job worker has picked this up for a long time. Start again (rounds "
        "already rescored are not scored twice); if it stays like this, ask your "
        "administrator to check that the job worker runs."
    ),
}


def rescore_url(org_id: int) -> str:
    return f"/organisations/{org_id}/rescore"


def job_url(org_id: int, job_id: int) -> str:
    return f"{rescore_url(org_id)}/jobs/{job_id}"


@dataclasses.dataclass(frozen=True)
class JobProgress:
    """A rescore job on its page."""

    url: str
    status: str  # queued | running | done | failed | stopped
    status_text: str
    under_way: bool  # the page refreshes itself while true
    done: int
    total: int
    percent: int
    started: str
    message: str | None  # the one-line summary when done, what went wrong when failed


@dataclasses.dataclass(frozen=True)
class RescorePage:
    """Context of templates/workspace/organisation_rescore.html: the form (``job`` None) or
    a job's progress."""

    title: str
    organisation: str
    dashboard_url: str
    action: str  # where the form posts
    release: str  # the newest rubric's version names
    label: str  # the label rescored results carry on a round's results page
    to_rescore: int
    teams: int
    already: int
    hidden: int  # rounds under an older rubric whose results are not shown: skipped
    running_url: str | None  # a rescore under way (the form is not offered then)
    notice: str | None
    job: JobProgress | None


def _progress(org_id: int, job: job_status.JobView) -> JobProgress:
    return JobProgress(
        url=job_url(org_id, job.id),
        status=job.status,
        status_text=STATUS_TEXTS[job.status],
        under_way=job.under_way,
        done=job.done,
        total=job.total,
        percent=round(100 * job.done / job.total) if job.total else 0,
        started=job.started,
        message=job.message,
    )


def _page(
    request: Request,
    session: Session,
    organisation: Organisation,
    catalog: Catalog,
    *,
    job: job_status.JobView | None = None,
    notice: str | None = None,
) -> RescorePage:
    assert organisation.id is not None
    outlook = organisation_rescore.outlook(
        session=session, organisation_id=organisation.id, newest=catalog
    )
    running = organisation_rescore.active_job(
        session=session, organisation_id=organisation.id, settings=settings_of(request)
    )
    return RescorePage(
        title=f"{organisation.name} — rescore under the newest rubric",
        organisation=organisation.name,
        dashboard_url=f"/organisations/{organisation.id}/dashboard",
        action=rescore_url(organisation.id),
        release=outlook.release,
        label=outlook.label,
        to_rescore=outlook.to_rescore,
        teams=outlook.teams,
        already=outlook.already,
        hidden=outlook.hidden,
        running_url=job_url(organisation.id, running.id)
        if running is not None and running.id is not None
        else None,
        notice=notice,
        job=_progress(organisation.id, job) if job is not None else None,
    )


def _organisation(session: Session, principal: Principal, org_id: int) -> Organisation:
    return tenancy.get_organisation(session=session, principal=principal, org_id=org_id)


@router.get("/organisations/{org_id}/rescore", response_class=HTMLResponse)
def rescore_form(
    request: Request,
    org_id: int,
    principal: OrgViewer,
    session: ReadSessionDep,
    catalog: CatalogDep,
) -> HTMLResponse:
    """What rescoring the organisation would do, and the form that starts it."""
    organisation = _organisation(session, principal, org_id)
    page = _page(request, session, organisation, catalog)
    return templating.render(request, "workspace/organisation_rescore.html", page)


@router.post("/organisations/{org_id}/rescore", response_class=HTMLResponse)
def start_rescore(
    request: Request,
    org_id: int,
    principal: OrgViewer,
    session: ReadSessionDep,
    catalog: CatalogDep,
    actor: PageActor,
) -> Response:
    """Start the rescore: 202 and its progress page; the one under way if there is one; the
    form again, saying so, when nothing needs rescoring."""
    organisation = _organisation(session, principal, org_id)
    assert organisation.id is not None
    settings = settings_of(request)
    try:
        started = organisation_rescore.start_job(
            sessions=request.app.state.sessions,
            read_sessions=request.app.state.read_sessions,
            settings=settings,
            organisation_id=organisation.id,
            newest=catalog,
            actor=actor,
        )
    except NothingToRescoreError as nothing:
        page = _page(request, session, organisation, catalog, notice=nothing.message)
        return templating.render(request, "workspace/organisation_rescore.html", page)
    job = job_status.view(started.job, settings)
    url = job_url(organisation.id, job.id)
    if not started.new:
        return RedirectResponse(url, status_code=303)
    page = _page(request, session, organisation, catalog, job=job)
    job_queue: queue.JobQueue = request.app.state.job_queue
    return templating.render(
        request,
        "workspace/organisation_rescore.html",
        page,
        status_code=202,
        headers={"Location": url, **NO_STORE},
        # sent once the response is: the job's row is committed already
        background=BackgroundTask(job_queue.enqueue, job.id),
    )


@router.get("/organisations/{org_id}/rescore/jobs/{rescore_job_id}", response_class=HTMLResponse)
def rescore_job_page(
    request: Request,
    org_id: int,
    rescore_job_id: int,
    principal: OrgViewer,
    session: ReadSessionDep,
    catalog: CatalogDep,
) -> HTMLResponse:
    """The rescore's progress (the page refreshes itself while it runs) and its summary."""
    organisation = _organisation(session, principal, org_id)
    assert organisation.id is not None
    tenancy.check_id(rescore_job_id)
    job = organisation_rescore.get_job(
        session=session, organisation_id=organisation.id, job_id=rescore_job_id
    )
    page = _page(
        request,
        session,
        organisation,
        catalog,
        job=job_status.view(job, settings_of(request)),
    )
    return templating.render(request, "workspace/organisation_rescore.html", page)
