"""Bulk set-up pages (admins, and consultants for the organisations they are assigned to):
upload a CSV of units, teams and team leads, see what every row would do, confirm; and the
same file format exported.

A thin edge over app.accounts.bulk_setup and app.accounts.setup_import. The preview writes
nothing; the confirmation sends the previewed text back (with its digest) and the service checks
it all again before writing anything, so what changed in between is caught. A file of more
than ``setup_import.JOB_ROWS`` rows is imported by a job: 202 and its progress page, whose
finished state shows the new leads' set-password links once, to the person who started it
only. A smaller file is imported in the request and its links are shown on the response.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from starlette.background import BackgroundTask

from app import db, templating
from app.accounts import bulk_setup, setup_import, tenancy
from app.accounts.actor import PageActor
from app.accounts.dependencies import require_roles, settings_of
from app.accounts.tenancy import Principal
from app.db import ReadSessionDep, RequestSessionDep
from app.errors import DomainError, NotFoundError
from app.jobs import status as job_status
from app.models import Organisation, UserRole

router = APIRouter(include_in_schema=False)

# admins always; consultants only for the organisations they are assigned to (tenancy)
SetupEditor = Annotated[Principal, Depends(require_roles(UserRole.consultant))]


def _organisation(
    org_id: int, request: Request, principal: SetupEditor, session: RequestSessionDep
) -> Organisation:
    # a dependency, so another organisation's id is a 404 before the form is validated
    if not bulk_setup.may_import(principal=principal, settings=settings_of(request)):
        raise NotFoundError()
    return tenancy.get_organisation(session=session, principal=principal, org_id=org_id)


InOrganisation = Annotated[Organisation, Depends(_organisation)]
MAX_TEXT = 1024 * 1024  # the previewed file sent back (the form parser's part limit)


@dataclasses.dataclass(frozen=True)
class ImportPage:
    """Context of templates/admin/import.html: the form, a preview, or the result."""

    title: str
    organisation_id: int
    organisation_name: str
    max_rows: int
    columns: str
    admin_link: bool
    plan: bulk_setup.SetupPlan | None = None
    csv_text: str = ""  # a previewed file without errors, sent back to confirm
    previewed: str = ""  # its digest: a different file sent back is refused
    result: bulk_setup.SetupResult | None = None
    error: str | None = None
    message: str | None = None


def _page(
    request: Request,
    principal: Principal,
    organisation: Organisation,
    *,
    status: int = 200,
    **parts: object,
) -> HTMLResponse:
    assert organisation.id is not None
    page = ImportPage(
        title=f"Import teams – {organisation.name}",
        organisation_id=organisation.id,
        organisation_name=organisation.name,
        max_rows=bulk_setup.MAX_ROWS,
        columns=",".join(bulk_setup.COLUMNS),
        admin_link=principal.is_admin,
        **parts,  # type: ignore[arg-type]
    )
    return templating.render(request, "admin/import.html", page, status_code=status)


@router.get("/organisations/{org_id}/import", response_class=HTMLResponse)
def import_page(
    request: Request,
    org_id: int,
    principal: SetupEditor,
    organisation: InOrganisation,
    session: ReadSessionDep,
) -> HTMLResponse:
    return _page(request, principal, organisation)


@router.post("/organisations/{org_id}/import/preview", response_class=HTMLResponse)
def preview_import(
    request: Request,
    org_id: int,
    principal: SetupEditor,
    organisation: InOrganisation,
    session: ReadSessionDep,
    file: Annotated[UploadFile, File()],
) -> HTMLResponse:
    """Every row's outcome; writes nothing."""
    data = file.file.read()
    try:
        plan = bulk_setup.preview(session=session, organisation=organisation, data=data)
    except DomainError as problem:
        return _page(
            request, principal, organisation, error=problem.message, status=problem.status_code
        )
    text = data.decode("utf-8-sig") if plan.ok else ""
    return _page(
        request,
        principal,
        organisation,
        plan=plan,
        csv_text=text,
        previewed=setup_import.digest(text.encode("utf-8")) if plan.ok else "",
        status=200 if plan.ok else 400,
    )


@router.post("/organisations/{org_id}/import", response_class=HTMLResponse)
def confirm_import(
    request: Request,
    org_id: int,
    principal: SetupEditor,
    organisation: InOrganisation,
    actor: PageActor,
    session: ReadSessionDep,
    csv_text: Annotated[str, Form(max_length=MAX_TEXT)] = "",
    previewed: Annotated[str | None, Form(max_length=64)] = None,
) -> Response:
    """Import the previewed file, all or nothing (checked again first): in the request, or
    above JOB_ROWS rows by a job (202 and its progress page)."""
    assert organisation.id is not None
    data = csv_text.encode("utf-8")
    sessions = request.app.state.sessions
    session.commit()  # ends the read (nothing expires): the import writes on its own
    try:
        if setup_import.is_a_job(data):
            job = setup_import.start_job(
                sessions=sessions,
                organisation_id=organisation.id,
                user_id=principal.user_id,
                data=data,
                actor=actor,
                previewed=previewed,
            )
            assert job.id is not None
            return _job_page(
                request,
                organisation,
                job_status.view(job, settings_of(request)),
                status=202,
                background=BackgroundTask(request.app.state.job_queue.enqueue, job.id),
            )
        result = setup_import.import_file(
            sessions=sessions,
            settings=settings_of(request),
            organisation_id=organisation.id,
            data=data,
            actor=actor,
            timings=db.BatchTimings(),
            previewed=previewed,
        )
    except bulk_setup.SetupRefusedError as refused:
        return _page(
            request, principal, organisation, plan=refused.plan, error=refused.message, status=400
        )
    except DomainError as problem:
        return _page(
            request, principal, organisation, error=problem.message, status=problem.status_code
        )
    return _page(request, principal, organisation, result=result)


@dataclasses.dataclass(frozen=True)
class ImportJobPage:
    """Context of templates/admin/import_job.html: an import job's progress, then its end."""

    title: str
    organisation_id: int
    organisation_name: str
    job: job_status.JobView
    job_url: str
    percent: int
    password_links: tuple[bulk_setup.PasswordLink, ...] = ()


def _job_page(
    request: Request,
    organisation: Organisation,
    job: job_status.JobView,
    *,
    status: int = 200,
    links: list[bulk_setup.PasswordLink] | None = None,
    background: BackgroundTask | None = None,
) -> HTMLResponse:
    assert organisation.id is not None
    job_url = f"/organisations/{organisation.id}/import/jobs/{job.id}"
    page = ImportJobPage(
        title=f"Import teams – {organisation.name}",
        organisation_id=organisation.id,
        organisation_name=organisation.name,
        job=job,
        job_url=job_url,
        percent=round(100 * job.done / job.total) if job.total else 0,
        password_links=tuple(links or ()),
    )
    headers = {"Location": job_url} if status == 202 else None
    return templating.render(
        request,
        "admin/import_job.html",
        page,
        status_code=status,
        headers=headers,
        background=background,
    )


@router.get("/organisations/{org_id}/import/jobs/{import_job_id}", response_class=HTMLResponse)
def import_job_page(
    request: Request,
    org_id: int,
    import_job_id: int,
    principal: SetupEditor,
    organisation: InOrganisation,
    session: ReadSessionDep,
) -> HTMLResponse:
    """An import job's progress; when done, its summary and, the first time only, the new
    leads' set-password links. Only the person who started it sees it (else 404)."""
    assert organisation.id is not None
    job = setup_import.get_job(
        session=session,
        organisation_id=organisation.id,
        job_id=tenancy.check_id(import_job_id),
        user_id=principal.user_id,
    )
    session.commit()  # ends the read (nothing expires): taking the links writes on its own
    links = setup_import.take_links(sessions=request.app.state.sessions, job=job)
    return _job_page(request, organisation, job_status.view(job, settings_of(request)), links=links)


@router.get("/organisations/{org_id}/import.csv", response_class=Response)
def export_setup(
    org_id: int, principal: SetupEditor, organisation: InOrganisation, session: ReadSessionDep
) -> Response:
    """The organisation's units, teams and leads in the import format."""
    return Response(
        bulk_setup.export_csv(session=session, organisation=organisation),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{organisation.slug}-setup.csv"'},
    )
