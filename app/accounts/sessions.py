"""Server-side sign-in sessions and the pre-session CSRF cookie.

The cookie holds an opaque 256-bit token; the database holds only its keyed hash, so a stolen
database copy cannot be replayed as a session and signing out really ends the session (the
row is deleted). Sessions end at sign-out, when their user is disabled or gets a new password,
after IDLE_TIMEOUT without a request and ABSOLUTE_TIMEOUT after sign-in, whichever comes first.

Before sign-in there is no session to keep a synchronizer token with, so forms shown to
anonymous visitors (sign-in, password reset, a respondent's privacy page) use a signed
double-submit pair: a random value in a cookie and, in the form, its keyed hash
(``hash_token(purpose="csrf")``), which only the server can compute. A cross-site page can
neither read the cookie nor forge the hash; `Sec-Fetch-Site`/`Origin` checks and SameSite=Lax
sit in front of it.

After a successful sign-in the browser also gets a *device cookie*: a random value and its
keyed hash together with the account's e-mail, so only the server can make one and it vouches
for that account alone. The sign-in lockout (app.accounts.routes) uses it to tell the
account's own browsers from strangers: failures by strangers lock strangers out, not them.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from http.cookies import SimpleCookie

from fastapi import Request
from sqlmodel import Session, col, delete, select

from app.accounts import tokens
from app.config import Settings
from app.db import utcnow
from app.models import User, UserSession

IDLE_TIMEOUT = timedelta(hours=2)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
# last_seen_at is written at most this often, so reading pages does not write on every request
TOUCH_INTERVAL = timedelta(minutes=1)
ANONYMOUS_CSRF_MAX_AGE = 2 * 60 * 60
DEVICE_COOKIE_MAX_AGE = 365 * 24 * 60 * 60


def secure_cookies(settings: Settings) -> bool:
    return settings.base_url.lower().startswith("https://")


def session_cookie_name(settings: Settings) -> str:
    # __Host- requires Secure, no Domain and Path=/: the browser then refuses the cookie from
    # any subdomain or plain-http page; over plain-http development it would be dropped
    return "__Host-processlens_session" if secure_cookies(settings) else "processlens_session"


def csrf_cookie_name(settings: Settings) -> str:
    return "__Host-processlens_csrf" if secure_cookies(settings) else "processlens_csrf"


def device_cookie_name(settings: Settings) -> str:
    return "__Host-processlens_device" if secure_cookies(settings) else "processlens_device"


def _device_signature(settings: Settings, email: str, nonce: str) -> str:
    return tokens.hash_token(settings, f"{email}\0{nonce}", purpose="device")


def device_cookie(settings: Settings, email: str) -> str:
    """A Set-Cookie value vouching that this browser signed in to ``email`` (normalised)."""
    nonce = tokens.generate_token()
    value = f"{nonce}.{_device_signature(settings, email, nonce)}"
    return cookie_header(
        settings, device_cookie_name(settings), value, max_age=DEVICE_COOKIE_MAX_AGE
    )


def known_device(request: Request, settings: Settings, email: str) -> str | None:
    """The id of this browser if its device cookie was issued for ``email`` (normalised),
    else None (no cookie, a forged one, or one of another account)."""
    value = request.cookies.get(device_cookie_name(settings), "")
    nonce, _, signature = value.partition(".")
    if not nonce or len(value) > 200:
        return None
    if not tokens.same(signature, _device_signature(settings, email, nonce)):
        return None
    return nonce


def cookie_header(
    settings: Settings, name: str, value: str, *, max_age: int | None, http_only: bool = True
) -> str:
    """A Set-Cookie value with the attributes every cookie of ours carries."""
    cookie: SimpleCookie = SimpleCookie()
    cookie[name] = value
    morsel = cookie[name]
    morsel["path"] = "/"
    morsel["samesite"] = "Lax"
    if http_only:
        morsel["httponly"] = True
    if secure_cookies(settings):
        morsel["secure"] = True
    if max_age is not None:
        morsel["max-age"] = max_age
    return morsel.OutputString()


def queue_cookie(request: Request, header_value: str) -> None:
    """Ask SecurityHeadersMiddleware to add a Set-Cookie header to this request's response,
    whichever response (page, redirect, error) the route ends up returning."""
    pending: list[str] = getattr(request.state, "set_cookies", [])
    pending.append(header_value)
    request.state.set_cookies = pending


@dataclasses.dataclass(frozen=True)
class NewSession:
    token: str
    row: UserSession


def create(*, session: Session, settings: Settings, user: User) -> NewSession:
    assert user.id is not None
    token = tokens.generate_token()
    now = utcnow()
    row = UserSession(
        token_hash=tokens.hash_token(settings, token, purpose="session"),
        user_id=user.id,
        csrf_token=tokens.generate_token(),
        created_at=now,
        last_seen_at=now,
        expires_at=now + ABSOLUTE_TIMEOUT,
    )
    session.add(row)
    session.flush()
    return NewSession(token=token, row=row)


def find(*, session: Session, settings: Settings, token: str) -> tuple[UserSession, User] | None:
    """The session row and its user for a cookie token, live or not; writes nothing."""
    if not token or len(token) > 200:
        return None
    token_hash = tokens.hash_token(settings, token, purpose="session")
    found = session.exec(
        select(UserSession, User)
        .join(User, col(User.id) == col(UserSession.user_id))
        .where(UserSession.token_hash == token_hash)
    ).first()
    return None if found is None else (found[0], found[1])


def needs_upkeep(row: UserSession, user: User) -> bool:
    """Whether resolving this session writes (it has ended, or its last-seen time is due), so a
    read-only request can leave the common case to its read session."""
    now = utcnow()
    # TOUCH_INTERVAL is shorter than IDLE_TIMEOUT, so an idle session is due as well
    return not user.is_active or row.expires_at <= now or now - row.last_seen_at > TOUCH_INTERVAL


def resolve(*, session: Session, settings: Settings, token: str) -> tuple[UserSession, User] | None:
    """The live session and its active user for a cookie token, or None (expired ones go)."""
    if not token or len(token) > 200:
        return None
    found = find(session=session, settings=settings, token=token)
    if found is None:
        return None
    row, user = found
    now = utcnow()
    if not user.is_active or row.expires_at <= now or now - row.last_seen_at > IDLE_TIMEOUT:
        session.delete(row)
        session.flush()
        return None
    if now - row.last_seen_at > TOUCH_INTERVAL:
        row.last_seen_at = now
        session.add(row)
        session.flush()
    return row, user


def end(*, session: Session, settings: Settings, token: str) -> None:
    token_hash = tokens.hash_token(settings, token, purpose="session")
    session.exec(delete(UserSession).where(col(UserSession.token_hash) == token_hash))
    session.flush()


def end_all_for_user(*, session: Session, user_id: int) -> None:
    session.exec(delete(UserSession).where(col(UserSession.user_id) == user_id))
    session.flush()


def purge_expired(*, session: Session) -> int:
    """Delete expired sessions (called at sign-in so the table does not grow forever)."""
    now = utcnow()
    result = session.exec(
        delete(UserSession).where(
            (col(UserSession.expires_at) <= now)
            | (col(UserSession.last_seen_at) < now - IDLE_TIMEOUT)
        )
    )
    return int(result.rowcount or 0)


def anonymous_csrf_token(request: Request, settings: Settings) -> str:
    """The CSRF token for a visitor without a session: the keyed hash of their CSRF cookie,
    which is created (and queued to be set) when missing."""
    value = request.cookies.get(csrf_cookie_name(settings), "")
    if not value or len(value) > 100:
        value = tokens.generate_token()
        queue_cookie(
            request,
            cookie_header(
                settings, csrf_cookie_name(settings), value, max_age=ANONYMOUS_CSRF_MAX_AGE
            ),
        )
        # a POST without the cookie cannot match: the token is bound to a value it never sent
        request.state.csrf_cookie_is_new = True
    return tokens.hash_token(settings, value, purpose="csrf")
