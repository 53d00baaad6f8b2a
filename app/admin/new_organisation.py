"""The "New client organisation" page: admins always, and consultants when the installation
lets them (``consultants_create_organisations``; otherwise 404). Linked from the Dashboards
page.

A thin edge over app.accounts.organisations.create_client_organisation, which creates, assigns
a consultant creator to the new organisation and records both in the audit log.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app import templating
from app.accounts import organisations
from app.accounts.actor import PageActor
from app.accounts.dependencies import OrganisationCreator
from app.db import SessionDep
from app.errors import DomainError

router = APIRouter(include_in_schema=False)

URL = "/dashboards/new-organisation"


@dataclasses.dataclass(frozen=True)
class NewOrganisationPage:
    """Context of templates/admin/new_organisation.html."""

    title: str
    name: str  # what was typed, kept after a refused attempt
    assigns_creator: bool  # a consultant is assigned to what they create; an admin is not
    max_length: int
    message: str | None
    error: str | None


def _page(
    request: Request,
    *,
    consultant: bool,
    name: str = "",
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    page = NewOrganisationPage(
        title="New client organisation",
        name=name,
        assigns_creator=consultant,
        max_length=organisations.NAME_MAX,
        message=None,
        error=error,
    )
    return templating.render(request, "admin/new_organisation.html", page, status_code=status)


@router.get(URL, response_class=HTMLResponse)
def new_organisation_page(request: Request, principal: OrganisationCreator) -> HTMLResponse:
    return _page(request, consultant=not principal.is_admin)


@router.post(URL, response_class=HTMLResponse)
def create_organisation(
    request: Request,
    principal: OrganisationCreator,
    actor: PageActor,
    session: SessionDep,
    name: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    try:
        organisation = organisations.create_client_organisation(
            session=session, principal=principal, name=name, actor=actor
        )
    except DomainError as error:
        session.rollback()
        return _page(
            request,
            consultant=not principal.is_admin,
            name=name,
            error=error.message,
            status=error.status_code,
        )
    # its branding is the natural next step; the page names the new organisation
    return RedirectResponse(f"/organisations/{organisation.id}/branding", status_code=303)
