"""Bulk set-up pages (admins, and consultants for the organisations they are assigned to):
upload a CSV of units, teams and team leads, see what every row would do, confirm; and the
same file format exported.

A thin edge over app.accounts.bulk_setup. The preview writes nothing; the confirmation sends
the previewed text back and the service checks it all again before writing anything, so what
changed in between is caught. Set-password links of new accounts are shown once, on the
confirmation's own response, and never stored.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from app import templating
from app.accounts import bulk_setup, tenancy
from app.accounts.actor import PageActor
from app.accounts.dependencies import require_roles, settings_of
from app.accounts.tenancy import Principal
from app.db import ReadSessionDep, RequestSessionDep, SessionDep
from app.errors import DomainError, NotFoundError
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
        request, principal, organisation, plan=plan, csv_text=text, status=200 if plan.ok else 400
    )


@router.post("/organisations/{org_id}/import", response_class=HTMLResponse)
def confirm_import(
    request: Request,
    org_id: int,
    principal: SetupEditor,
    organisation: InOrganisation,
    actor: PageActor,
    session: SessionDep,
    csv_text: Annotated[str, Form(max_length=MAX_TEXT)] = "",
) -> Response:
    """Import the previewed file, all or nothing (checked again first)."""
    try:
        result = bulk_setup.apply(
            session=session,
            settings=settings_of(request),
            principal=principal,
            organisation=organisation,
            data=csv_text.encode("utf-8"),
            actor=actor,
        )
    except bulk_setup.SetupRefusedError as refused:
        return _page(
            request, principal, organisation, plan=refused.plan, error=refused.message, status=400
        )
    except DomainError as problem:
        session.rollback()  # all or nothing: a change refused half-way undoes the others
        return _page(
            request, principal, organisation, error=problem.message, status=problem.status_code
        )
    return _page(request, principal, organisation, result=result)


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
