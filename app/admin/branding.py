"""An organisation's branding page (admins, and consultants assigned to it): the name and
consultant its reports show, the accent colour and the logo, with a preview of the cover.

A thin edge over app.reports.branding_service, which checks, stores and audits.
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
from app.admin.common import redirect_done
from app.db import ReadSessionDep, SessionDep
from app.errors import DomainError
from app.models import Organisation, UserRole
from app.reports import branding_service, render
from app.reports.branding import MAX_LOGO_BYTES, Branding

router = APIRouter(include_in_schema=False)

# admins always; consultants only for the organisations they are assigned to (tenancy)
BrandingEditor = Annotated[Principal, Depends(require_roles(UserRole.consultant))]


SAVED = "Branding saved. Reports made from now on use it."


def _url(org_id: int) -> str:
    return f"/organisations/{org_id}/branding"


@dataclasses.dataclass(frozen=True)
class BrandingForm:
    """The form's values: the stored ones, or after a refused save what was typed."""

    display_name: str
    consultant: str
    colour: str


@dataclasses.dataclass(frozen=True)
class BrandingPage:
    """Context of templates/admin/branding.html."""

    title: str
    organisation_id: int
    organisation_name: str
    branding: branding_service.BrandingSettings
    form: BrandingForm
    installation_name: str
    installation_colour: str
    max_logo_kb: int
    admin_link: bool
    import_url: str | None  # the next step of a set-up, for those who may import
    message: str | None
    error: str | None


def _page(
    request: Request,
    principal: Principal,
    organisation: Organisation,
    *,
    message: str | None = None,
    error: str | None = None,
    status: int = 200,
    typed: BrandingForm | None = None,
) -> HTMLResponse:
    settings = settings_of(request)
    assert organisation.id is not None
    page = BrandingPage(
        title=f"Branding – {organisation.name}",
        organisation_id=organisation.id,
        organisation_name=organisation.name,
        branding=branding_service.current(organisation=organisation, settings=settings),
        form=typed
        or BrandingForm(
            display_name=organisation.brand_name or "",
            consultant=organisation.consultant_name or "",
            colour=organisation.brand_colour or "",
        ),
        installation_name=settings.brand_name,
        installation_colour=settings.brand_colour,
        max_logo_kb=MAX_LOGO_BYTES // 1024,
        admin_link=principal.is_admin,
        import_url=f"/organisations/{organisation.id}/import"
        if bulk_setup.may_import(principal=principal, settings=settings)
        else None,
        message=message,
        error=error,
    )
    return templating.render(request, "admin/branding.html", page, status_code=status)


@router.get("/organisations/{org_id}/branding", response_class=HTMLResponse)
def branding_page(
    request: Request,
    org_id: int,
    principal: BrandingEditor,
    session: SessionDep,
    done: str | None = None,
) -> HTMLResponse:
    organisation = tenancy.get_organisation(session=session, principal=principal, org_id=org_id)
    return _page(request, principal, organisation, message=SAVED if done == "saved" else None)


@router.post("/organisations/{org_id}/branding", response_class=HTMLResponse)
def save_branding(
    request: Request,
    org_id: int,
    principal: BrandingEditor,
    actor: PageActor,
    session: SessionDep,
    display_name: Annotated[str, Form(max_length=400)] = "",
    consultant: Annotated[str, Form(max_length=400)] = "",
    colour: Annotated[str, Form(max_length=40)] = "",
    remove_logo: Annotated[str, Form(max_length=10)] = "",
    logo: Annotated[UploadFile | None, File()] = None,
) -> Response:
    organisation = tenancy.get_organisation(session=session, principal=principal, org_id=org_id)
    # a form without a chosen file still sends an empty part with no file name
    upload = logo.file.read() if logo is not None and logo.filename else None
    change = branding_service.BrandingChange(
        display_name=display_name,
        consultant=consultant,
        colour=colour,
        logo=upload,
        remove_logo=bool(remove_logo),
    )
    try:
        branding_service.update(
            session=session,
            settings=settings_of(request),
            organisation=organisation,
            change=change,
            actor=actor,
        )
    except DomainError as problem:
        return _page(
            request,
            principal,
            organisation,
            error=problem.message,
            status=problem.status_code,
            typed=BrandingForm(display_name=display_name, consultant=consultant, colour=colour),
        )
    return redirect_done(_url(org_id), "saved")


# ---------------------------------------------------------------- the cover preview


@dataclasses.dataclass(frozen=True)
class CoverPreview:
    """Context of templates/reports/cover_preview.html: a report's cover with sample text."""

    lang: str
    title: str
    team: str
    organisation: str
    branding: Branding


def _preview(organisation: Organisation, request: Request) -> CoverPreview:
    branding = branding_service.current(
        organisation=organisation, settings=settings_of(request)
    ).effective
    return CoverPreview(
        lang="en",
        title=f"Cover preview – {organisation.name}",
        team="Example team",
        organisation=organisation.name,
        branding=branding,
    )


@router.get("/organisations/{org_id}/branding/preview", response_class=HTMLResponse)
def cover_preview(
    request: Request, org_id: int, principal: BrandingEditor, session: ReadSessionDep
) -> HTMLResponse:
    """The cover of this organisation's reports as a page, with an example team."""
    organisation = tenancy.get_organisation(session=session, principal=principal, org_id=org_id)
    preview = _preview(organisation, request)
    return HTMLResponse(render.render_html("reports/cover_preview.html", preview, medium="web"))


@router.get("/organisations/{org_id}/branding/preview.pdf", response_class=Response)
def cover_preview_pdf(
    request: Request, org_id: int, principal: BrandingEditor, session: ReadSessionDep
) -> Response:
    """The same cover as the first page of a PDF, made as the reports are."""
    organisation = tenancy.get_organisation(session=session, principal=principal, org_id=org_id)
    document = render.report_pdf("reports/cover_preview.html", _preview(organisation, request))
    return Response(
        content=document,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{organisation.slug}-cover.pdf"'},
    )
