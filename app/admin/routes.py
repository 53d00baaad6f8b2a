"""Administration pages (admins only; anyone else gets 404): organisations, business units,
teams, users and their assignments, one-time password-reset links, API tokens, the audit log,
and a respondent's data (export and erasure).

Changes are POSTs that redirect back with a fixed message code (Post/Redirect/Get); a secret
shown once (a new API token, a reset link) is rendered on the POST's own response instead, so
it is never stored anywhere to be shown again.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app import templating
from app.accounts import api_tokens, audit, organisations, privacy, tenancy, users
from app.accounts.dependencies import AdminPrincipal, settings_of
from app.accounts.routes import TokenRow, token_rows
from app.accounts.tenancy import ROLE_LABELS, Principal
from app.db import SessionDep
from app.errors import DomainError, InvalidInputError
from app.models import Organisation, User, UserRole

router = APIRouter(prefix="/admin", include_in_schema=False)

# Messages for ?done=...: fixed texts, so nothing from the address bar is ever shown.
DONE_MESSAGES = {
    "organisation-created": "Organisation created.",
    "organisation-deleted": "Organisation deleted, with everything in it.",
    "unit-created": "Business unit created.",
    "team-created": "Team created.",
    "team-deleted": "Team deleted, with its rounds and answers.",
    "assigned": "Assignment saved.",
    "unassigned": "Assignment removed.",
    "user-created": "Account created. Give the person a password-reset link to sign in.",
    "user-disabled": "Account disabled; its sessions have ended.",
    "user-enabled": "Account enabled.",
    "role-changed": "Role changed; earlier assignments were removed.",
    "token-revoked": "API token revoked.",
    "respondent-erased": "The respondent's answers were erased and the round's results recomputed.",
}


def _done(code: str | None) -> str | None:
    return DONE_MESSAGES.get(code or "")


def _redirect(path: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?done={done}", status_code=303)


ROLE_CHOICES = tuple((role.value, ROLE_LABELS[role]) for role in UserRole)


# ---------------------------------------------------------------- organisations


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
    request: Request, session: SessionDep, principal: AdminPrincipal, done: str | None = None
) -> HTMLResponse:
    return _home(request, session, principal, message=_done(done))


@router.post("/organisations", response_class=HTMLResponse)
def create_organisation(
    request: Request,
    session: SessionDep,
    principal: AdminPrincipal,
    name: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    try:
        org = organisations.create_organisation(session=session, name=name)
    except DomainError as problem:
        return _home(request, session, principal, error=problem.message, status=problem.status_code)
    audit.record(
        session=session,
        request=request,
        action="organisation.created",
        target_type="organisation",
        target_id=org.id,
        organisation_id=org.id,
        details={"name": org.name},
    )
    return _redirect(f"/admin/organisations/{org.id}", "organisation-created")


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


def _organisation(session: SessionDep, principal: Principal, org_id: int) -> Organisation:
    return tenancy.get_organisation(session=session, principal=principal, org_id=org_id)


@router.get("/organisations/{org_id}", response_class=HTMLResponse)
def organisation_page(
    request: Request,
    session: SessionDep,
    principal: AdminPrincipal,
    org_id: int,
    done: str | None = None,
) -> HTMLResponse:
    organisation = _organisation(session, principal, org_id)
    return _organisation_page(request, session, principal, organisation, message=_done(done))


@router.post("/organisations/{org_id}/units", response_class=HTMLResponse)
def create_unit(
    request: Request,
    session: SessionDep,
    principal: AdminPrincipal,
    org_id: int,
    name: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    organisation = _organisation(session, principal, org_id)
    try:
        unit = organisations.create_unit(session=session, organisation=organisation, name=name)
    except DomainError as problem:
        return _organisation_page(
            request,
            session,
            principal,
            organisation,
            error=problem.message,
            status=problem.status_code,
        )
    audit.record(
        session=session,
        request=request,
        action="business_unit.created",
        target_type="business_unit",
        target_id=unit.id,
        organisation_id=org_id,
        details={"name": unit.name},
    )
    return _redirect(f"/admin/organisations/{org_id}", "unit-created")


@router.post("/organisations/{org_id}/teams", response_class=HTMLResponse)
def create_team(
    request: Request,
    session: SessionDep,
    principal: AdminPrincipal,
    org_id: int,
    name: Annotated[str, Form(max_length=400)] = "",
    unit_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    organisation = _organisation(session, principal, org_id)
    try:
        team = organisations.create_team(
            session=session,
            principal=principal,
            organisation=organisation,
            name=name,
            unit_id=int(unit_id) if unit_id.isdigit() else None,
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
    audit.record(
        session=session,
        request=request,
        action="team.created",
        target_type="team",
        target_id=team.id,
        organisation_id=org_id,
        details={"name": team.name, "business_unit_id": team.business_unit_id},
    )
    return _redirect(f"/admin/organisations/{org_id}", "team-created")


@router.post("/organisations/{org_id}/teams/{team_id}/delete")
def delete_team(
    request: Request,
    session: SessionDep,
    principal: AdminPrincipal,
    org_id: int,
    team_id: int,
) -> Response:
    team = tenancy.get_team(session=session, principal=principal, team_id=team_id, org_id=org_id)
    counts = organisations.delete_team(session=session, team=team)
    audit.record(
        session=session,
        request=request,
        action="team.deleted",
        target_type="team",
        target_id=team_id,
        organisation_id=org_id,
        details=dataclasses.asdict(counts),
    )
    return _redirect(f"/admin/organisations/{org_id}", "team-deleted")


@router.post("/organisations/{org_id}/delete", response_class=HTMLResponse)
def delete_organisation(
    request: Request,
    session: SessionDep,
    principal: AdminPrincipal,
    org_id: int,
    confirm: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    organisation = _organisation(session, principal, org_id)
    if confirm.strip() != organisation.slug:
        return _organisation_page(
            request,
            session,
            principal,
            organisation,
            error=f"To delete, type the organisation's short name ({organisation.slug}) exactly.",
            status=400,
        )
    counts = organisations.delete_organisation(session=session, organisation=organisation)
    audit.record(
        session=session,
        request=request,
        action="organisation.deleted",
        target_type="organisation",
        target_id=org_id,
        organisation_id=org_id,
        details=dataclasses.asdict(counts),
    )
    return _redirect("/admin", "organisation-deleted")


@router.post("/organisations/{org_id}/assignments", response_class=HTMLResponse)
def assign(
    request: Request,
    session: SessionDep,
    principal: AdminPrincipal,
    org_id: int,
    user_id: Annotated[str, Form(max_length=20)] = "",
    team_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    organisation = _organisation(session, principal, org_id)
    try:
        if not user_id.isdigit():
            raise InvalidInputError("Choose the person to assign.")
        user = users.get_user(session=session, user_id=int(user_id))
        membership = organisations.assign(
            session=session,
            principal=principal,
            organisation=organisation,
            user=user,
            team_id=int(team_id) if team_id.isdigit() else None,
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
    audit.record(
        session=session,
        request=request,
        action="assignment.added",
        target_type="user",
        target_id=user.id,
        organisation_id=org_id,
        details={"role": membership.role, "team_id": membership.team_id},
    )
    return _redirect(f"/admin/organisations/{org_id}", "assigned")


@router.post("/organisations/{org_id}/assignments/{membership_id}/remove")
def unassign(
    request: Request,
    session: SessionDep,
    principal: AdminPrincipal,
    org_id: int,
    membership_id: int,
) -> Response:
    _organisation(session, principal, org_id)
    membership = organisations.get_membership(
        session=session, organisation_id=org_id, membership_id=membership_id
    )
    details = {"role": membership.role, "team_id": membership.team_id}
    target = membership.user_id
    organisations.unassign(session=session, membership=membership)
    audit.record(
        session=session,
        request=request,
        action="assignment.removed",
        target_type="user",
        target_id=target,
        organisation_id=org_id,
        details=details,
    )
    return _redirect(f"/admin/organisations/{org_id}", "unassigned")


# ---------------------------------------------------------------- users


@dataclasses.dataclass(frozen=True)
class AdminUsersPage:
    """Context of templates/admin/users.html."""

    title: str
    users: tuple[users.UserRow, ...]
    roles: tuple[tuple[str, str], ...]
    message: str | None
    error: str | None
    form_email: str
    form_name: str


def _user_row(user: User) -> users.UserRow:
    return users.UserRow(
        id=user.id or 0,
        email=user.email,
        display_name=user.display_name,
        role=ROLE_LABELS[UserRole(user.role)],
        is_active=user.is_active,
        has_password=user.password_hash is not None,
    )


def _users_page(
    request: Request,
    session: SessionDep,
    *,
    message: str | None = None,
    error: str | None = None,
    status: int = 200,
    form_email: str = "",
    form_name: str = "",
) -> HTMLResponse:
    page = AdminUsersPage(
        title="Users",
        users=tuple(_user_row(user) for user in users.list_users(session=session)),
        roles=ROLE_CHOICES,
        message=message,
        error=error,
        form_email=form_email,
        form_name=form_name,
    )
    return templating.render(request, "admin/users.html", page, status_code=status)


@router.get("/users", response_class=HTMLResponse)
def users_page(
    request: Request, session: SessionDep, _admin: AdminPrincipal, done: str | None = None
) -> HTMLResponse:
    return _users_page(request, session, message=_done(done))


@router.post("/users", response_class=HTMLResponse)
def create_user(
    request: Request,
    session: SessionDep,
    _admin: AdminPrincipal,
    email: Annotated[str, Form(max_length=320)] = "",
    display_name: Annotated[str, Form(max_length=400)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    try:
        user = users.create_user(
            session=session,
            email=email,
            display_name=display_name,
            role=users.parse_role(role),
        )
    except DomainError as problem:
        return _users_page(
            request,
            session,
            error=problem.message,
            status=400,
            form_email=email,
            form_name=display_name,
        )
    audit.record(
        session=session,
        request=request,
        action="user.created",
        target_type="user",
        target_id=user.id,
        details={"role": user.role},
    )
    return _redirect(f"/admin/users/{user.id}", "user-created")


@dataclasses.dataclass(frozen=True)
class MembershipRow:
    membership_id: int
    organisation_id: int
    organisation_name: str
    team_name: str | None
    role: str


@dataclasses.dataclass(frozen=True)
class AdminUserPage:
    """Context of templates/admin/user.html."""

    title: str
    user: users.UserRow
    role_value: str
    roles: tuple[tuple[str, str], ...]
    memberships: tuple[MembershipRow, ...]
    tokens: tuple[TokenRow, ...]
    reset_link: str | None
    new_token: str | None
    message: str | None
    error: str | None


def _user_page(
    request: Request,
    session: SessionDep,
    user: User,
    *,
    reset_link: str | None = None,
    new_token: str | None = None,
    message: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    assert user.id is not None
    page = AdminUserPage(
        title=user.display_name,
        user=_user_row(user),
        role_value=user.role,
        roles=ROLE_CHOICES,
        memberships=tuple(
            MembershipRow(
                membership_id=membership.id or 0,
                organisation_id=membership.organisation_id,
                organisation_name=org_name,
                team_name=team_name,
                role=ROLE_LABELS[UserRole(membership.role)],
            )
            for membership, org_name, team_name in organisations.memberships_of_user(
                session=session, user_id=user.id
            )
        ),
        tokens=token_rows(session, user.id),
        reset_link=reset_link,
        new_token=new_token,
        message=message,
        error=error,
    )
    return templating.render(request, "admin/user.html", page, status_code=status)


@router.get("/users/{user_id}", response_class=HTMLResponse)
def user_page(
    request: Request,
    session: SessionDep,
    _admin: AdminPrincipal,
    user_id: int,
    done: str | None = None,
) -> HTMLResponse:
    user = users.get_user(session=session, user_id=user_id)
    return _user_page(request, session, user, message=_done(done))


@router.post("/users/{user_id}/active")
def set_active(
    request: Request,
    session: SessionDep,
    admin: AdminPrincipal,
    user_id: int,
    active: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    user = users.get_user(session=session, user_id=user_id)
    enable = active == "yes"
    if not enable and user.id == admin.user_id:
        return _user_page(
            request, session, user, error="You cannot disable your own account.", status=400
        )
    users.set_active(session=session, user=user, active=enable)
    audit.record(
        session=session,
        request=request,
        action="user.enabled" if enable else "user.disabled",
        target_type="user",
        target_id=user.id,
    )
    return _redirect(f"/admin/users/{user_id}", "user-enabled" if enable else "user-disabled")


@router.post("/users/{user_id}/role", response_class=HTMLResponse)
def set_role(
    request: Request,
    session: SessionDep,
    admin: AdminPrincipal,
    user_id: int,
    role: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    user = users.get_user(session=session, user_id=user_id)
    try:
        new_role = users.parse_role(role)
        if user.id == admin.user_id and new_role is not UserRole.admin:
            raise InvalidInputError("You cannot take away your own administrator role.")
    except DomainError as problem:
        return _user_page(request, session, user, error=problem.message, status=problem.status_code)
    old_role = user.role
    users.set_role(session=session, user=user, role=new_role)
    audit.record(
        session=session,
        request=request,
        action="user.role_changed",
        target_type="user",
        target_id=user.id,
        details={"from": old_role, "to": new_role.value},
    )
    return _redirect(f"/admin/users/{user_id}", "role-changed")


@router.post("/users/{user_id}/reset-link", response_class=HTMLResponse)
def reset_link(
    request: Request, session: SessionDep, _admin: AdminPrincipal, user_id: int
) -> HTMLResponse:
    user = users.get_user(session=session, user_id=user_id)
    if not user.is_active:
        return _user_page(
            request, session, user, error="Enable the account before sending a link.", status=400
        )
    settings = settings_of(request)
    link = users.reset_url(
        settings=settings, token=users.make_reset_token(settings=settings, user=user)
    )
    audit.record(
        session=session,
        request=request,
        action="password.reset_link_issued",
        target_type="user",
        target_id=user.id,
    )
    return _user_page(request, session, user, reset_link=link)


@router.post("/users/{user_id}/tokens", response_class=HTMLResponse)
def create_token(
    request: Request,
    session: SessionDep,
    _admin: AdminPrincipal,
    user_id: int,
    name: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse:
    user = users.get_user(session=session, user_id=user_id)
    try:
        created = api_tokens.create(
            session=session, settings=settings_of(request), user=user, name=name
        )
    except DomainError as problem:
        return _user_page(request, session, user, error=problem.message, status=problem.status_code)
    audit.record(
        session=session,
        request=request,
        action="api_token.created",
        target_type="api_token",
        target_id=created.row.id,
        details={"name": created.row.name, "owner_id": user.id},
    )
    return _user_page(request, session, user, new_token=created.token)


@router.post("/users/{user_id}/tokens/{token_id}/revoke")
def revoke_token(
    request: Request, session: SessionDep, _admin: AdminPrincipal, user_id: int, token_id: int
) -> Response:
    row = api_tokens.get_for_user(session=session, user_id=user_id, token_id=token_id)
    if api_tokens.revoke(session=session, row=row):
        audit.record(
            session=session,
            request=request,
            action="api_token.revoked",
            target_type="api_token",
            target_id=row.id,
            details={"owner_id": user_id},
        )
    return _redirect(f"/admin/users/{user_id}", "token-revoked")


# ---------------------------------------------------------------- audit log


@dataclasses.dataclass(frozen=True)
class AuditLogPage:
    """Context of templates/admin/audit.html."""

    title: str
    log: audit.AuditPage
    action: str
    previous_offset: int | None
    next_offset: int | None


@router.get("/audit", response_class=HTMLResponse)
def audit_log(
    request: Request,
    session: SessionDep,
    _admin: AdminPrincipal,
    offset: int = 0,
    action: str = "",
) -> HTMLResponse:
    offset = max(0, min(offset, 10_000_000))
    action = action.strip()[:80]
    log = audit.recent(session=session, offset=offset, limit=50, action=action or None)
    page = AuditLogPage(
        title="Audit log",
        log=log,
        action=action,
        previous_offset=max(0, offset - log.limit) if offset > 0 else None,
        next_offset=offset + log.limit if offset + log.limit < log.total else None,
    )
    return templating.render(request, "admin/audit.html", page)


# ---------------------------------------------------------------- a respondent's data


@dataclasses.dataclass(frozen=True)
class RespondentPage:
    """Context of templates/admin/respondent.html."""

    title: str
    respondent_id: int | None
    round_id: int | None
    role: str | None
    searched: bool
    message: str | None
    error: str | None = None


@router.get("/respondents", response_class=HTMLResponse)
def find_respondent(
    request: Request,
    session: SessionDep,
    _admin: AdminPrincipal,
    done: str | None = None,
) -> HTMLResponse:
    page = RespondentPage(
        title="A respondent's data",
        respondent_id=None,
        round_id=None,
        role=None,
        searched=False,
        message=_done(done),
    )
    return templating.render(request, "admin/respondent.html", page)


@router.post("/respondents", response_class=HTMLResponse)
def lookup_respondent(
    request: Request,
    session: SessionDep,
    _admin: AdminPrincipal,
    link: Annotated[str, Form(max_length=500)] = "",
) -> HTMLResponse:
    # a POST, so the resume link travels in the body and never in an address or a log
    respondent = privacy.find_by_resume_token(
        session=session, settings=settings_of(request), token=link
    )
    page = RespondentPage(
        title="A respondent's data",
        respondent_id=respondent.id if respondent else None,
        round_id=respondent.round_id if respondent else None,
        role=respondent.role if respondent else None,
        searched=True,
        message=None,
    )
    return templating.render(request, "admin/respondent.html", page)


@router.get("/respondents/{respondent_id}/export")
def export_respondent(
    request: Request, session: SessionDep, principal: AdminPrincipal, respondent_id: int
) -> Response:
    respondent = tenancy.get_respondent(
        session=session, principal=principal, respondent_id=respondent_id
    )
    data = privacy.export_respondent(session=session, respondent=respondent)
    audit.record(
        session=session,
        request=request,
        action="respondent.exported",
        target_type="respondent",
        target_id=respondent.id,
        organisation_id=privacy.organisation_of(session=session, respondent=respondent),
        details={"round_id": respondent.round_id, "by": "admin"},
    )
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={"content-disposition": f'attachment; filename="respondent-{respondent.id}.json"'},
    )


@router.post("/respondents/{respondent_id}/erase")
def erase_respondent(
    request: Request, session: SessionDep, principal: AdminPrincipal, respondent_id: int
) -> Response:
    respondent = tenancy.get_respondent(
        session=session, principal=principal, respondent_id=respondent_id
    )
    organisation_id = privacy.organisation_of(session=session, respondent=respondent)
    round_id = privacy.erase_respondent(session=session, respondent=respondent)
    audit.record(
        session=session,
        request=request,
        action="respondent.erased",
        target_type="respondent",
        target_id=respondent_id,
        organisation_id=organisation_id,
        details={"round_id": round_id, "by": "admin"},
    )
    return _redirect("/admin/respondents", "respondent-erased")
