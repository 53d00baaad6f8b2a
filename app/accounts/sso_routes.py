"""Single sign-on pages: start at the provider, come back, and (once) confirm a password.

Thin over app.accounts.sso (who the person is) and Authlib (the protocol). The routes are
async because Authlib's Starlette client is; the database work runs in the thread pool.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app import templating
from app.accounts import audit, ratelimit, sessions, sso, users
from app.accounts.dependencies import PreSessionCsrf, settings_of
from app.accounts.sign_in import complete_sign_in, safe_next, sign_in_page
from app.db import SessionDep
from app.errors import NotFoundError
from app.models import User

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

UNREACHABLE = (
    "The sign-in provider could not be reached. Try again in a moment; if it keeps "
    "happening, tell your administrator."
)


def _config(request: Request) -> sso.SsoConfig:
    config = sso.config_of(settings_of(request))
    if config is None:
        raise NotFoundError()
    return config


def _with_flow_cookie(
    response: Response, request: Request, data: dict[str, Any] | None
) -> Response:
    settings = settings_of(request)
    cookie = sso.clear_flow_cookie(settings) if data is None else sso.flow_cookie(settings, data)
    response.headers.append("set-cookie", cookie)
    return response


@router.get("/sign-in/sso")
async def sso_start(request: Request, _csrf: PreSessionCsrf, next: str = "") -> Response:
    """Send the browser to the provider (Authlib: discovery, PKCE, state, nonce)."""
    config = _config(request)
    client = sso.client_for(config)
    request.scope["session"] = {}
    try:
        metadata = await client.load_server_metadata()
        if str(metadata.get("issuer", "")).rstrip("/") != config.issuer:
            raise ValueError("the discovery document names another issuer")
        redirect = await client.authorize_redirect(request, sso.redirect_uri(settings_of(request)))
    except Exception as error:  # the provider is down, or its discovery document is wrong
        logger.warning("single sign-on could not start: %s", type(error).__name__)
        return sign_in_page(request, next_path=safe_next(next), error=UNREACHABLE, status=502)
    flow = {**request.scope["session"], "next": safe_next(next)}
    return _with_flow_cookie(redirect, request, flow)


async def _identity(request: Request, config: sso.SsoConfig) -> sso.Identity:
    """The provider's answer, checked by Authlib (state, PKCE, ID token, nonce)."""
    client = sso.client_for(config)
    try:
        token = await client.authorize_access_token(request)
        claims = dict(token.get("userinfo") or {})
        if not claims:
            raise ValueError("no ID token")
        if "email" not in claims:
            # providers that follow the spec strictly send e-mail claims from userinfo only
            info = dict(await client.userinfo(token=token))
            if info.get("sub") != claims.get("sub"):
                raise ValueError("userinfo is about someone else")
            claims |= {k: info[k] for k in ("email", "email_verified") if k in info}
    except Exception as error:  # Authlib's refusals (state, nonce, signature, code), network
        # the kind of refusal (e.g. MismatchingStateError, InvalidClaimError: nonce) for the
        # operator; Authlib's descriptions name claims, never tokens
        detail = str(getattr(error, "description", "") or "")[:200]
        logger.info("single sign-on refused: %s %s", type(error).__name__, detail)
        raise sso.SsoRefusedError(sso.PROTOCOL_FAILED, reason="sso_protocol") from None
    return sso.identity_from(config.issuer, claims)


def _refused(
    request: Request, session: Session, problem: sso.SsoRefusedError, next_path: str
) -> Response:
    audit.record(
        session=session,
        request=request,
        action="sign_in.failed",
        target_type="user" if problem.user else None,
        target_id=problem.user.id if problem.user else None,
        details={"reason": problem.reason, "method": "sso"},
    )
    response = sign_in_page(request, next_path=next_path, error=problem.message, status=403)
    return _with_flow_cookie(response, request, None)


def _finish(
    request: Request,
    session: Session,
    config: sso.SsoConfig,
    identity: sso.Identity,
    next_path: str,
) -> Response:
    try:
        found = sso.resolve(session=session, config=config, identity=identity)
    except sso.SsoRefusedError as problem:
        return _refused(request, session, problem, next_path)
    user = found.user
    assert user.id is not None
    if found.needs_password:
        pending = sso.PendingLink(user.id, identity.issuer, identity.subject, next_path)
        redirect = RedirectResponse("/sign-in/sso/link", status_code=303)
        return _with_flow_cookie(redirect, request, pending.to_data())
    if found.new_link:
        _link(request, session, user, identity.issuer, identity.subject)
    response = complete_sign_in(request, session, user, next_path, method="sso")
    return _with_flow_cookie(response, request, None)


def _link(request: Request, session: Session, user: User, issuer: str, subject: str) -> None:
    sso.link(session=session, user=user, issuer=issuer, subject=subject)
    audit.record(
        session=session,
        request=request,
        actor_id=user.id,
        action="sso.linked",
        target_type="user",
        target_id=user.id,
    )


@router.get("/sign-in/sso/callback")
async def sso_callback(request: Request, session: SessionDep, _csrf: PreSessionCsrf) -> Response:
    """The provider sends the browser back here with a code and the state."""
    config = _config(request)
    flow = sso.load_flow(request, settings_of(request))
    next_path = safe_next(str(flow.pop("next", "")))
    request.scope["session"] = flow
    try:
        identity = await _identity(request, config)
    except sso.SsoRefusedError as problem:
        return await run_in_threadpool(_refused, request, session, problem, next_path)
    return await run_in_threadpool(_finish, request, session, config, identity, next_path)


# ---------------------------------------------------------------- linking a password account


@dataclasses.dataclass(frozen=True)
class LinkPage:
    """Context of templates/accounts/sso_link.html."""

    title: str
    email: str
    provider_name: str
    error: str | None


def _pending(request: Request, session: Session) -> tuple[sso.PendingLink, User] | None:
    pending = sso.PendingLink.from_flow(sso.load_flow(request, settings_of(request)))
    if pending is None:
        return None
    user = session.get(User, pending.user_id)
    if user is None or not user.is_active:
        return None
    return pending, user


def _link_page(
    request: Request, config: sso.SsoConfig, email: str, error: str | None, status: int = 200
) -> HTMLResponse:
    page = LinkPage(
        title="Confirm it is your account",
        email=email,
        provider_name=config.provider_name,
        error=error,
    )
    return templating.render(request, "accounts/sso_link.html", page, status_code=status)


@router.get("/sign-in/sso/link", response_class=HTMLResponse)
def sso_link_form(request: Request, session: SessionDep, _csrf: PreSessionCsrf) -> Response:
    config = _config(request)
    found = _pending(request, session)
    if found is None:
        return RedirectResponse("/sign-in", status_code=303)
    return _link_page(request, config, found[1].email, None)


@router.post("/sign-in/sso/link", response_class=HTMLResponse)
def sso_link(
    request: Request,
    session: SessionDep,
    _csrf: PreSessionCsrf,
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """The person types the account's password once; then the identity is linked."""
    config = _config(request)
    settings = settings_of(request)
    found = _pending(request, session)
    if found is None:
        return RedirectResponse("/sign-in", status_code=303)
    pending, user = found
    # the same limits as the password form: this is a password check too
    ratelimit.hit(
        request,
        scope="sign-in-address",
        key=ratelimit.client_address(request),
        limit=ratelimit.SIGN_IN_PER_ADDRESS,
    )
    failure_key = ratelimit.sign_in_failure_key(
        user.email, sessions.known_device(request, settings, user.email)
    )
    ratelimit.check_sign_in_failures(request, key=failure_key)
    if users.authenticate(session=session, email=user.email, password=password) is None:
        pause = ratelimit.record_sign_in_failure(
            request, key=failure_key, max_delay=settings.sign_in_max_delay
        )
        audit.record(
            session=session,
            request=request,
            action="sign_in.failed",
            target_type="user",
            target_id=user.id,
            details={"reason": "bad_credentials", "method": "sso_link"},
        )
        time.sleep(pause)
        return _link_page(request, config, user.email, "That password is not right.", 400)
    _link(request, session, user, pending.issuer, pending.subject)
    response = complete_sign_in(request, session, user, pending.next, method="sso")
    return _with_flow_cookie(response, request, None)
