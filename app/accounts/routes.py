"""Sign-in and sign-out, password reset links, the account page with API tokens, an
organisation overview, and a respondent's privacy page. (The signed-in home, /teams, is the
workspace's: app.workspace.routes.)"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app import templating
from app.accounts import (
    api_tokens,
    audit,
    organisations,
    privacy,
    ratelimit,
    sessions,
    sso,
    sso_routes,
    users,
)
from app.accounts.actor import AnonymousActor, PageActor
from app.accounts.api_tokens import TokenRow, token_rows
from app.accounts.dependencies import (
    AnonymousCsrf,
    CurrentPrincipal,
    PreSessionCsrf,
    ScopedOrganisation,
    require_roles,
    settings_of,
)
from app.accounts.sign_in import complete_sign_in, safe_next, sign_in_page
from app.accounts.tenancy import Principal
from app.db import ReadSessionDep, SessionDep
from app.errors import DomainError, NotFoundError
from app.models import Respondent, UserRole

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
# single sign-on's pages (app.accounts.sso_routes) are part of the sign-in edge
router.include_router(sso_routes.router)

# ---------------------------------------------------------------- sign-in and sign-out


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, _csrf: PreSessionCsrf, next: str = "") -> Response:
    return sign_in_page(request, next_path=safe_next(next), error=None)


BAD_CREDENTIALS = "The e-mail address or password is not right. Check both and try again."
PASSWORD_SIGN_IN_OFF = (
    "Sign-in with a password is turned off here: use single sign-on (the button on this page)."
)


# long: the sign-in checks in the order they must run (rate limits before the password is checked)
@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request,
    session: SessionDep,
    _csrf: PreSessionCsrf,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    settings = settings_of(request)
    next_path = safe_next(next)
    if not settings.password_sign_in:
        return sign_in_page(request, next_path=next_path, error=PASSWORD_SIGN_IN_OFF, status=403)
    if not email.strip() or not password:
        return sign_in_page(
            request,
            email=email,
            next_path=next_path,
            error="Enter your e-mail address and your password.",
            status=400,
        )
    # every attempt counts against the address, before the password is checked (no hashing
    # for the 21st try in a minute)
    ratelimit.hit(
        request,
        scope="sign-in-address",
        key=ratelimit.client_address(request),
        limit=ratelimit.SIGN_IN_PER_ADDRESS,
    )
    # only failures count against the account, so knowing an e-mail address is not enough to
    # lock its owner out: the owner's own browsers (device cookie) have a budget of their own
    normalised = users.normalise_email(email)
    failure_key = ratelimit.sign_in_failure_key(
        normalised, sessions.known_device(request, settings, normalised)
    )
    ratelimit.check_sign_in_failures(request, key=failure_key)
    user = users.authenticate(session=session, email=email, password=password)
    if user is None:
        pause = ratelimit.record_sign_in_failure(
            request, key=failure_key, max_delay=settings.sign_in_max_delay
        )
        known = users.find_by_email(session=session, email=email)
        # the typed e-mail is not recorded (people type passwords into the wrong field)
        audit.record(
            session=session,
            request=request,
            action="sign_in.failed",
            target_type="user" if known else None,
            target_id=known.id if known else None,
            details={"reason": "bad_credentials"},
        )
        # a growing pause slows guessing further (capped; the limits above stop it)
        time.sleep(pause)
        return sign_in_page(
            request, email=email, next_path=next_path, error=BAD_CREDENTIALS, status=400
        )
    return complete_sign_in(request, session, user, next_path, method="password")


@router.post("/sign-out")
def sign_out(request: Request, session: SessionDep, principal: CurrentPrincipal) -> Response:
    settings = settings_of(request)
    token = request.cookies.get(sessions.session_cookie_name(settings), "")
    sessions.end(session=session, settings=settings, token=token)
    audit.record(
        session=session,
        request=request,
        action="sign_out",
        target_type="user",
        target_id=principal.user_id,
    )
    response = RedirectResponse("/sign-in?signed_out=1", status_code=303)
    response.headers.append(
        "set-cookie",
        sessions.cookie_header(settings, sessions.session_cookie_name(settings), "", max_age=0),
    )
    return response


# ---------------------------------------------------------------- password reset links


@dataclasses.dataclass(frozen=True)
class ResetPage:
    """Context of templates/accounts/reset.html."""

    title: str
    valid: bool
    email: str
    error: str | None
    done: bool


INVALID_LINK_STATUS = 404


@router.get("/reset/{token}", response_class=HTMLResponse)
def reset_form(
    request: Request, session: ReadSessionDep, _p: AnonymousCsrf, token: str
) -> Response:
    ratelimit.hit(
        request, scope="reset-lookup", key=ratelimit.client_address(request), limit="30/minute"
    )
    user = users.user_for_reset_token(session=session, settings=settings_of(request), token=token)
    if user is None:
        page = ResetPage(
            title="This link does not work", valid=False, email="", error=None, done=False
        )
        return templating.render(
            request, "accounts/reset.html", page, status_code=INVALID_LINK_STATUS
        )
    page = ResetPage(
        title="Choose a password", valid=True, email=user.email, error=None, done=False
    )
    return templating.render(request, "accounts/reset.html", page)


@router.post("/reset/{token}", response_class=HTMLResponse)
def reset_password(
    request: Request,
    session: SessionDep,
    _p: AnonymousCsrf,
    token: str,
    password: Annotated[str, Form(max_length=1024)] = "",
    confirm: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    ratelimit.hit(
        request, scope="reset-lookup", key=ratelimit.client_address(request), limit="30/minute"
    )
    user = users.user_for_reset_token(session=session, settings=settings_of(request), token=token)
    if user is None:
        page = ResetPage(
            title="This link does not work", valid=False, email="", error=None, done=False
        )
        return templating.render(
            request, "accounts/reset.html", page, status_code=INVALID_LINK_STATUS
        )
    error = None
    if password != confirm:
        error = "The two passwords are not the same. Type the new password twice."
    else:
        try:
            users.set_password(session=session, user=user, password=password)
        except DomainError as problem:
            error = problem.message
    if error is not None:
        page = ResetPage(
            title="Choose a password", valid=True, email=user.email, error=error, done=False
        )
        return templating.render(request, "accounts/reset.html", page, status_code=400)
    audit.record(
        session=session,
        request=request,
        actor_id=user.id,
        action="password.reset",
        target_type="user",
        target_id=user.id,
    )
    page = ResetPage(title="Password saved", valid=True, email=user.email, error=None, done=True)
    return templating.render(request, "accounts/reset.html", page)


# The signed-in home (/teams, HOME_AFTER_SIGN_IN) is the team lead's workspace: app.workspace.


@dataclasses.dataclass(frozen=True)
class UnitSummary:
    name: str
    teams: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class OrganisationPage:
    """Context of templates/accounts/organisation.html."""

    title: str
    organisation_id: int
    units: tuple[UnitSummary, ...]
    teams_without_unit: tuple[str, ...]


require_org_wide = require_roles(UserRole.consultant, UserRole.org_leader)


@router.get("/organisations/{org_id}", response_class=HTMLResponse)
def organisation_overview(
    request: Request,
    session: ReadSessionDep,
    organisation: ScopedOrganisation,
    principal: Annotated[Principal, Depends(require_org_wide)],
) -> HTMLResponse:
    assert organisation.id is not None
    units = organisations.units_of(session=session, organisation_id=organisation.id)
    teams_in_org = organisations.teams_of(
        session=session, principal=principal, organisation_id=organisation.id
    )
    page = OrganisationPage(
        title=organisation.name,
        organisation_id=organisation.id,
        units=tuple(
            UnitSummary(
                name=unit.name,
                teams=tuple(t.name for t in teams_in_org if t.business_unit_id == unit.id),
            )
            for unit in units
        ),
        teams_without_unit=tuple(t.name for t in teams_in_org if t.business_unit_id is None),
    )
    return templating.render(request, "accounts/organisation.html", page)


# ---------------------------------------------------------------- account and API tokens


@dataclasses.dataclass(frozen=True)
class AccountPage:
    """Context of templates/accounts/account.html."""

    title: str
    email: str
    display_name: str
    role_label: str
    sso: sso.LinkState | None  # None: no single sign-on here, and no link
    tokens: tuple[TokenRow, ...]
    new_token: str | None
    error: str | None


def _account_page(
    request: Request,
    session: SessionDep,
    principal: Principal,
    *,
    new_token: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    page = AccountPage(
        title="Your account",
        email=principal.email,
        display_name=principal.display_name,
        role_label=principal.role_label,
        sso=sso.link_state(
            session=session, settings=settings_of(request), user_id=principal.user_id
        ),
        tokens=token_rows(session, principal.user_id),
        new_token=new_token,
        error=error,
    )
    return templating.render(request, "accounts/account.html", page, status_code=status)


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, session: ReadSessionDep, principal: CurrentPrincipal) -> HTMLResponse:
    return _account_page(request, session, principal)


@router.post("/account/tokens", response_class=HTMLResponse)
def create_token(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    actor: PageActor,
    name: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse:
    user = users.get_user(session=session, user_id=principal.user_id)
    try:
        created = api_tokens.create(
            session=session, settings=settings_of(request), user=user, name=name, actor=actor
        )
    except DomainError as problem:
        return _account_page(request, session, principal, error=problem.message, status=400)
    # shown once, on this response only (no redirect: the token is never stored to show again)
    return _account_page(request, session, principal, new_token=created.token)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(
    session: SessionDep, principal: CurrentPrincipal, actor: PageActor, token_id: int
) -> Response:
    row = api_tokens.get_for_user(session=session, user_id=principal.user_id, token_id=token_id)
    api_tokens.revoke(session=session, row=row, actor=actor)
    return RedirectResponse("/account", status_code=303)


# ---------------------------------------------------------------- a respondent's own data


@dataclasses.dataclass(frozen=True)
class PrivacyPage:
    """Context of templates/accounts/privacy.html."""

    title: str
    token: str
    found: bool
    erased: bool


def _respondent_or_404(request: Request, session: SessionDep, token: str) -> Respondent:
    ratelimit.limit_resume_lookup(request)
    respondent = privacy.find_by_resume_token(
        session=session, settings=settings_of(request), token=token
    )
    if respondent is None:
        raise NotFoundError("This link does not work. Check that you copied the whole resume link.")
    return respondent


@router.get("/privacy/{token}", response_class=HTMLResponse)
def privacy_page(
    request: Request, session: ReadSessionDep, _p: AnonymousCsrf, token: str
) -> HTMLResponse:
    _respondent_or_404(request, session, token)
    page = PrivacyPage(title="Your answers and your data", token=token, found=True, erased=False)
    return templating.render(request, "accounts/privacy.html", page)


@router.get("/privacy/{token}/export")
def privacy_export(
    request: Request, session: SessionDep, _p: AnonymousCsrf, actor: AnonymousActor, token: str
) -> Response:
    respondent = _respondent_or_404(request, session, token)
    data = privacy.export_respondent(
        session=session, respondent=respondent, actor=actor, by="respondent"
    )
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={"content-disposition": 'attachment; filename="my-answers.json"'},
    )


@router.post("/privacy/{token}/erase", response_class=HTMLResponse)
def privacy_erase(
    request: Request, session: SessionDep, _p: AnonymousCsrf, actor: AnonymousActor, token: str
) -> HTMLResponse:
    respondent = _respondent_or_404(request, session, token)
    privacy.erase_respondent(session=session, respondent=respondent, actor=actor, by="respondent")
    page = PrivacyPage(title="Your answers are erased", token="", found=False, erased=True)
    return templating.render(request, "accounts/privacy.html", page)
