"""Administration of organisations: the admin home (every organisation), an organisation's
page, its business units, teams and assignments, and deleting a team or an organisation."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from app import templating
from app.accounts import organisations, tenancy, users
from app.accounts.actor import PageActor
from app.accounts.dependencies import AdminPrincipal, ScopedOrganisation
from app.accounts.tenancy import ROLE_LABELS, Principal
from app.admin.common import PREFIX, done_message, redirect_done
from app.db import ReadSessionDep, SessionDep
from app.errors import DomainError, InvalidInputError
from app.models import Organisation, UserRole

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@dataclasses.dataclass(frozen=True)
class OrganisationRow:
    id: int
    name: str
    slug: str


@dataclasses.dataclass(frozen=True)
class AdminHomePage:
    """Context of templates/admin/index.html."""

    title: str
    organisations: tuple[OrganisationRow, ...]
    user_count: int
    message: str | None
    error: str | None


def _home(
    request: Request,
    session: SessionDep,
    principal: Principal,
    *,
    error: str | None = None,
    message: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    page = AdminHomePage(
        title="Administration",
        organisations=tuple(
            OrganisationRow(id=org.id or 0, name=org.name, slug=org.slug)
            for org in organisations.visible_organisations(session=session, principal=principal)
        ),
        user_count=users.count_users(session=session),
        message=message,
        error=error,
    )
    return templating.render(request, "admin/index.html", page, status_code=status)


@router.get("", response_class=HTMLResponse)
def admin_home(
    request: Request, session: ReadSessionDep, principal: AdminPrincipal, done: str | None = None
) -> HTMLResponse:
    return _home(request, session, principal, message=done_message(done))


@router.post("/organisations", response_class=HTMLResponse)
def create_organisation(
    request: Request,
    session: SessionDep,
    principal: AdminPrincipal,
    actor: PageActor,
    name: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    try:
        org = organisations.create_organisation(session=session, name=name, actor=actor)
    except DomainError as problem:
        return _home(request, session, principal, error=problem.message, status=problem.status_code)
    return redirect_done(f"/admin/organisations/{org.id}", "organisation-created")


@dataclasses.dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclasses.dataclass(frozen=True)
class AdminOrganisationPage:
    """Context of templates/admin/organisation.html."""

    title: str
    organisation_id: int
    slug: str
    units: tuple[Choice, ...]
    teams: tuple[organisations.VisibleTeam, ...]
    assignments: tuple[organisations.Assignment, ...]
    assignable_users: tuple[Choice, ...]
    message: str | None
    error: str | None


def _organisation_page(
    request: Request,
    session: SessionDep,
    principal: Principal,
    organisation: Organisation,
    *,
    message: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    assert organisation.id is not None
    units = organisations.units_of(session=session, organisation_id=organisation.id)
    unit_names = {unit.id: unit.name for unit in units}
    teams = tuple(
        organisations.VisibleTeam(
            id=team.id or 0,
            name=team.name,
            organisation_id=team.organisation_id,
            organisation_name=organisation.name,
            unit_name=unit_names.get(team.business_unit_id),
            rounds=0,
        )
        for team in organisations.teams_of(
            session=session, principal=principal, organisation_id=organisation.id
        )
    )
    page = AdminOrganisationPage(
        title=organisation.name,
        organisation_id=organisation.id,
        slug=organisation.slug,
        units=tuple(Choice(str(unit.id), unit.name) for unit in units),
        teams=teams,
        assignments=tuple(
            organisations.assignments_of(session=session, organisation_id=organisation.id)
        ),
        assignable_users=tuple(
            Choice(
                str(user.id),
                f"{user.display_name} <{user.email}> ({ROLE_LABELS[UserRole(user.role)]})",
            )
            for user in users.list_users(session=session)
            if user.role != UserRole.admin and user.is_active
        ),
        message=message,
        error=error,
    )
    return templating.render(request, "admin/organisation.html", page, status_code=status)


@router.get("/organisations/{org_id}", response_class=HTMLResponse)
def organisation_page(
    request: Request,
    session: ReadSessionDep,
    principal: AdminPrincipal,
    org_id: int,
    organisation: ScopedOrganisation,
    done: str | None = None,
) -> HTMLResponse:
    return _organisation_page(request, session, principal, organisation, message=done_message(done))


@router.post("/organisations/{org_id}/units", response_class=HTMLResponse)
def create_unit(
    request: Request,
    session: SessionDep,
    principal: AdminPrincipal,
    actor: PageActor,
    org_id: int,
    organisation: ScopedOrganisation,
    name: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    try:
        organisations.create_unit(
            session=session, organisation=organisation, name=name, actor=actor
        )
    except DomainError as problem:
        return _organisation_page(
            request,
            session,
            principal,
            organisation,
            error=problem.message,
            status=problem.status_code,
        )
    return redirect_done(f"/admin/organisations/{org_id}", "unit-created")


@router.post("/organisations/{org_id}/teams", response_class=HTMLResponse)
def create_team(
    request: Request,
    session: SessionDep,
    principal: AdminPrincipal,
    actor: PageActor,
    org_id: int,
    organisation: ScopedOrganisation,
    name: Annotated[str, Form(max_length=400)] = "",
    unit_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    try:
        organisations.create_team(
            session=session,
            principal=principal,
            organisation=organisation,
            name=name,
            unit_id=int(unit_id) if unit_id.isdigit() else None,
            actor=actor,
        )
    except DomainError as problem:
        return _organisation_page(
            request,
            session,
            principal,
            organisation,
            error=problem.message,
            status=problem.status_code,
        )
    return redirect_done(f"/admin/organisations/{org_id}", "team-created")


@router.post("/organisations/{org_id}/teams/{team_id}/delete")
def delete_team(
    request: Request,
    session: SessionDep,
    principal: AdminPrincipal,
    actor: PageActor,
    org_id: int,
    team_id: int,
) -> Response:
    team = tenancy.get_team(session=session, principal=principal, team_id=team_id, org_id=org_id)
    organisations.delete_team(session=session, team=team, actor=actor)
    return redirect_done(f"/admin/organisations/{org_id}", "team-deleted")


@router.post("/organisations/{org_id}/delete", response_class=HTMLResponse)
def delete_organisation(
    request: Request,
    session: SessionDep,
    principal: AdminPrincipal,
    actor: PageActor,
    org_id: int,
    organisation: ScopedOrganisation,
    confirm: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    if confirm.strip() != organisation.slug:
        return _organisation_page(
            request,
            session,
            principal,
            organisation,
            error=f"To delete, type the organisation's short name ({organisation.slug}) exactly.",
            status=400,
        )
    organisations.delete_organisation(session=session, organisation=organisation, actor=actor)
    return redirect_done("/admin", "organisation-deleted")


@router.post("/organisations/{org_id}/assignments", response_class=HTMLResponse)
def assign(
    request: Request,
    session: SessionDep,
    principal: AdminPrincipal,
    actor: PageActor,
    org_id: int,
    organisation: ScopedOrganisation,
    user_id: Annotated[str, Form(max_length=20)] = "",
    team_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    try:
        if not user_id.isdigit():
            raise InvalidInputError("Choose the person to assign.")
        user = users.get_user(session=session, user_id=int(user_id))
        organisations.assign(
            session=session,
            principal=principal,
            organisation=organisation,
            user=user,
            team_id=int(team_id) if team_id.isdigit() else None,
            actor=actor,
        )
    except DomainError as problem:
        return _organisation_page(
            request,
            session,
            principal,
            organisation,
            error=problem.message,
            status=problem.status_code if problem.status_code != 404 else 400,
        )
    return redirect_done(f"/admin/organisations/{org_id}", "assigned")


@router.post("/organisations/{org_id}/assignments/{membership_id}/remove")
def unassign(
    request: Request,
    session: SessionDep,
    principal: AdminPrincipal,
    actor: PageActor,
    org_id: int,
    organisation: ScopedOrganisation,
    membership_id: int,
) -> Response:
    membership = organisations.get_membership(
        session=session, organisation_id=org_id, membership_id=membership_id
    )
    organisations.unassign(session=session, membership=membership, actor=actor)
    return redirect_done(f"/admin/organisations/{org_id}", "unassigned")
