"""Administration of user accounts: the list, one account's page, enabling and disabling,
roles, one-time password-reset links and API tokens (a secret is shown once, on the POST's
own response)."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.background import BackgroundTask

from app import templating
from app.accounts import account_mail, api_tokens, organisations, sso, users
from app.accounts.actor import PageActor
from app.accounts.api_tokens import TokenRow, token_rows
from app.accounts.dependencies import AdminPrincipal, settings_of
from app.accounts.tenancy import ROLE_LABELS
from app.admin.common import PREFIX, ROLE_CHOICES, done_message, redirect_done
from app.db import ReadSessionDep, SessionDep
from app.errors import DomainError, InvalidInputError
from app.models import User, UserRole

router = APIRouter(prefix=PREFIX, include_in_schema=False)


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
    request: Request, session: ReadSessionDep, _admin: AdminPrincipal, done: str | None = None
) -> HTMLResponse:
    return _users_page(request, session, message=done_message(done))


@router.post("/users", response_class=HTMLResponse)
def create_user(
    request: Request,
    session: SessionDep,
    _admin: AdminPrincipal,
    actor: PageActor,
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
            actor=actor,
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
    return redirect_done(f"/admin/users/{user.id}", "user-created")


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
    sso: sso.LinkState | None  # None: no single sign-on here, and no link
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
        sso=sso.link_state(session=session, settings=settings_of(request), user_id=user.id),
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
    session: ReadSessionDep,
    _admin: AdminPrincipal,
    user_id: int,
    done: str | None = None,
) -> HTMLResponse:
    user = users.get_user(session=session, user_id=user_id)
    return _user_page(request, session, user, message=done_message(done))


@router.post("/users/{user_id}/active")
def set_active(
    request: Request,
    session: SessionDep,
    admin: AdminPrincipal,
    actor: PageActor,
    user_id: int,
    active: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    user = users.get_user(session=session, user_id=user_id)
    enable = active == "yes"
    if not enable and user.id == admin.user_id:
        return _user_page(
            request, session, user, error="You cannot disable your own account.", status=400
        )
    users.set_active(session=session, user=user, active=enable, actor=actor)
    return redirect_done(f"/admin/users/{user_id}", "user-enabled" if enable else "user-disabled")


@router.post("/users/{user_id}/sso-unlink")
def unlink_sso(
    session: SessionDep, _admin: AdminPrincipal, actor: PageActor, user_id: int
) -> Response:
    """Forget the account's single sign-on identity (a person's identity at the provider
    changed, or was given to someone else): its sessions end, and the next single sign-on
    links again, after the account's password if it has one."""
    user = users.get_user(session=session, user_id=user_id)
    sso.unlink(session=session, user=user, actor=actor)
    return redirect_done(f"/admin/users/{user_id}", "sso-unlinked")


@router.post("/users/{user_id}/role", response_class=HTMLResponse)
def set_role(
    request: Request,
    session: SessionDep,
    admin: AdminPrincipal,
    actor: PageActor,
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
    users.set_role(session=session, user=user, role=new_role, actor=actor)
    return redirect_done(f"/admin/users/{user_id}", "role-changed")


@router.post("/users/{user_id}/reset-link", response_class=HTMLResponse)
def reset_link(
    request: Request, session: SessionDep, _admin: AdminPrincipal, actor: PageActor, user_id: int
) -> HTMLResponse:
    user = users.get_user(session=session, user_id=user_id)
    try:
        link = users.issue_reset_link(
            session=session, settings=settings_of(request), user=user, actor=actor
        )
    except DomainError as problem:
        return _user_page(request, session, user, error=problem.message, status=problem.status_code)
    return _user_page(request, session, user, reset_link=link)


@router.post("/users/{user_id}/reset-email", response_class=HTMLResponse)
def reset_email(
    request: Request, session: SessionDep, _admin: AdminPrincipal, actor: PageActor, user_id: int
) -> HTMLResponse:
    """The one-time password link, e-mailed to the account's own address (the queue sends
    it once the response is out)."""
    user = users.get_user(session=session, user_id=user_id)
    try:
        mail_id = account_mail.email_password_link(
            session=session, settings=settings_of(request), user=user, actor=actor
        )
    except DomainError as problem:
        return _user_page(request, session, user, error=problem.message, status=problem.status_code)
    response = _user_page(
        request,
        session,
        user,
        message="A one-time password link is being sent to the account's address.",
    )
    response.background = BackgroundTask(request.app.state.mail_queue.enqueue, mail_id)
    return response


@router.post("/users/{user_id}/tokens", response_class=HTMLResponse)
def create_token(
    request: Request,
    session: SessionDep,
    _admin: AdminPrincipal,
    actor: PageActor,
    user_id: int,
    name: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse:
    user = users.get_user(session=session, user_id=user_id)
    try:
        created = api_tokens.create(
            session=session, settings=settings_of(request), user=user, name=name, actor=actor
        )
    except DomainError as problem:
        return _user_page(request, session, user, error=problem.message, status=problem.status_code)
    return _user_page(request, session, user, new_token=created.token)


@router.post("/users/{user_id}/tokens/{token_id}/revoke")
def revoke_token(
    _admin: AdminPrincipal, actor: PageActor, session: SessionDep, user_id: int, token_id: int
) -> Response:
    row = api_tokens.get_for_user(session=session, user_id=user_id, token_id=token_id)
    api_tokens.revoke(session=session, row=row, actor=actor)
    return redirect_done(f"/admin/users/{user_id}", "token-revoked")
