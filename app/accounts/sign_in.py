"""What the password and single sign-on pages share: the sign-in page, where to go after it,
and starting the session once someone has proven who they are (app.accounts.routes and
app.accounts.sso_routes are its callers)."""

from __future__ import annotations

import dataclasses
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from app import templating
from app.accounts import audit, sessions, sso
from app.accounts.dependencies import settings_of
from app.models import User

HOME_AFTER_SIGN_IN = "/teams"


def safe_next(value: str | None) -> str:
    """Only a path on this site: never another host (an open redirect helps phishing)."""
    if (
        not value
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(ch) < 32 for ch in value)
        or len(value) > 500
    ):
        return HOME_AFTER_SIGN_IN
    return value


@dataclasses.dataclass(frozen=True)
class SignInPage:
    """Context of templates/accounts/sign_in.html."""

    title: str
    email: str
    next: str
    error: str | None
    # "Sign in with <provider>" when single sign-on is configured (app.accounts.sso)
    sso_name: str | None
    sso_url: str
    password_sign_in: bool


def sign_in_page(
    request: Request, *, email: str = "", next_path: str, error: str | None, status: int = 200
) -> HTMLResponse:
    settings = settings_of(request)
    config = sso.config_of(settings)
    page = SignInPage(
        title="Sign in",
        email=email,
        next=next_path,
        error=error,
        sso_name=config.provider_name if config else None,
        sso_url="/sign-in/sso?" + urlencode({"next": next_path}),
        password_sign_in=settings.password_sign_in,
    )
    return templating.render(request, "accounts/sign_in.html", page, status_code=status)


def complete_sign_in(
    request: Request, session: Session, user: User, next_path: str, *, method: str
) -> Response:
    """Start a new session for ``user`` (ending the browser's old one), audit the sign-in
    with its ``method`` ("password" or "sso") and send the browser on to ``next_path``."""
    settings = settings_of(request)
    # rotation: whatever session the browser had is ended, and a new id is issued
    old_token = request.cookies.get(sessions.session_cookie_name(settings))
    if old_token:
        sessions.end(session=session, settings=settings, token=old_token)
    sessions.purge_expired(session=session)
    new = sessions.create(session=session, settings=settings, user=user)
    audit.record(
        session=session,
        request=request,
        actor_id=user.id,
        action="sign_in.succeeded",
        target_type="user",
        target_id=user.id,
        details={"method": method},
    )
    response = RedirectResponse(next_path, status_code=303)
    response.headers.append(
        "set-cookie",
        sessions.cookie_header(
            settings,
            sessions.session_cookie_name(settings),
            new.token,
            max_age=int(sessions.ABSOLUTE_TIMEOUT.total_seconds()),
        ),
    )
    response.headers.append(
        "set-cookie",
        sessions.cookie_header(settings, sessions.csrf_cookie_name(settings), "", max_age=0),
    )
    response.headers.append("set-cookie", sessions.device_cookie(settings, user.email))
    return response
