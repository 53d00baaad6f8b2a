"""Request dependencies: who is asking (session cookie or API token), CSRF, roles, tenancy.

Every route that is not public depends on one of these; every state-changing route depends on
one that also checks CSRF. They carry an ``access`` attribute that tests/test_isolation.py
reads to know what each role should get from a route (see docs/security.md).

- ``CurrentPrincipal``: a signed-in user (session cookie); pages redirect to sign-in.
- ``AdminPrincipal``: an administrator; anyone else gets 404.
- ``require_roles(...)``: one of the given roles; anyone else gets 404.
- ``ApiPrincipal``: the JSON API: a bearer token, or a session cookie (then with CSRF).
- ``AnonymousCsrf``: a public form (sign-in, password reset): the pre-session CSRF pair.
- ``OrgViewer``, ``RespondentRowsViewer``: organisation-wide pages (dashboards, the
  organisation report, analysis exports) and their respondent-level datasets.
- ``require_api_roles(...)``, ``ApiOrgViewer``, ``ApiRespondentRowsViewer``: the same for API
  callers (bearer or session).
- ``ScopedOrganisation``, ``ScopedTeam``, ``ScopedRound``: the ``{org_id}``/``{team_id}``/
  ``{round_id}`` of the path loaded through app.accounts.tenancy (404 outside the principal's
  scope): the one way a page loads them; the API and the CLI call the same tenancy functions.

The shapes every API endpoint shares live here too (``ApiError``, ``ERROR_RESPONSES``, the id
path types ``TeamId``/``RoundId``), so the endpoint modules of app/api/ and nothing else
define routes under ``/api`` (docs/architecture.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Annotated, ClassVar, Final
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from app.accounts import api_tokens, csrf, organisations, sessions, tenancy
from app.accounts.tenancy import Principal
from app.config import Settings
from app.db import ReadSession, RequestSessionDep
from app.errors import DomainError, NotFoundError, error_response, wants_json
from app.models import AssessmentRound, Organisation, Team, User, UserRole, UserSession


class SignInRequiredError(DomainError):
    """No valid session: pages redirect to the sign-in page, the API answers 401."""

    status_code: ClassVar[int] = 401
    title: ClassVar[str] = "Please sign in"
    default_message: ClassVar[str] = "Sign in to see this page."


_UNRESOLVED = object()


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _resolve_cookie(
    request: Request, session: Session, settings: Settings, token: str
) -> tuple[UserSession, User] | None:
    """The live session of the cookie. A read-only request resolves it in its read session;
    only when that would write (an ended session, a last-seen time due) does it take a short
    write transaction of its own, so signed-in pages never queue for the write lock."""
    if not isinstance(session, ReadSession):
        return sessions.resolve(session=session, settings=settings, token=token)
    found = sessions.find(session=session, settings=settings, token=token)
    if found is None or not sessions.needs_upkeep(*found):
        return found
    session.rollback()  # end the read first: its snapshot must not outlive the write below
    write_sessions: sessionmaker[Session] = request.app.state.sessions
    with write_sessions() as write_session:
        resolved = sessions.resolve(session=write_session, settings=settings, token=token)
        write_session.commit()
    return resolved


def _principal_from_cookie(request: Request, session: Session) -> Principal | None:
    settings = settings_of(request)
    token = request.cookies.get(sessions.session_cookie_name(settings))
    if not token:
        return None
    resolved = _resolve_cookie(request, session, settings, token)
    if resolved is None:
        return None
    row, user = resolved
    principal = tenancy.load_principal(session=session, user=user, via="session", session_id=row.id)
    request.state.principal = principal
    csrf.bind_csrf_token(request, row.csrf_token)
    return principal


def resolve_session(request: Request, session: RequestSessionDep) -> Principal | None:
    """The signed-in user, if any (no CSRF check: use the dependencies below for routes)."""
    known: Principal | object | None = getattr(request.state, "principal", _UNRESOLVED)
    if known is not _UNRESOLVED:
        assert known is None or isinstance(known, Principal)
        return known
    principal = _principal_from_cookie(request, session)
    request.state.principal = principal
    return principal


OptionalPrincipal = Annotated[Principal | None, Depends(resolve_session)]


async def current_principal(request: Request, principal: OptionalPrincipal) -> Principal:
    if principal is None:
        raise SignInRequiredError()
    await csrf.require_csrf(request)
    return principal


current_principal.access = "signed_in"  # type: ignore[attr-defined]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: UserRole) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting only ``roles`` (admins always); others get 404."""
    allowed = frozenset(roles) | {UserRole.admin}

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            raise NotFoundError()
        return principal

    dependency.access = "roles"  # type: ignore[attr-defined]
    dependency.roles = allowed  # type: ignore[attr-defined]
    return dependency


require_admin = require_roles(UserRole.admin)
AdminPrincipal = Annotated[Principal, Depends(require_admin)]

# organisation-wide pages: the dashboards, the organisation report and the analysis exports
require_org_view = require_roles(*tenancy.ORGANISATION_VIEWERS)
require_respondent_rows = require_roles(UserRole.consultant)
OrgViewer = Annotated[Principal, Depends(require_org_view)]
RespondentRowsViewer = Annotated[Principal, Depends(require_respondent_rows)]


async def anonymous_csrf(request: Request, principal: OptionalPrincipal) -> Principal | None:
    """For public forms: binds the session's token when signed in, else the pre-session
    pair's, and checks it on unsafe requests."""
    if principal is None:
        token = sessions.anonymous_csrf_token(request, settings_of(request))
        if request.method in csrf.UNSAFE_METHODS and getattr(
            request.state, "csrf_cookie_is_new", False
        ):
            token = ""  # the request brought no CSRF cookie, so nothing it sent can match
        csrf.bind_csrf_token(request, token)
    await csrf.require_csrf(request)
    return principal


anonymous_csrf.access = "public"  # type: ignore[attr-defined]
AnonymousCsrf = Annotated[Principal | None, Depends(anonymous_csrf)]


async def pre_session_csrf(request: Request) -> None:
    """For the sign-in form: always the pre-session pair, whatever session cookie the browser
    holds, so signing in works (and replaces the old session) even over a planted one."""
    token = sessions.anonymous_csrf_token(request, settings_of(request))
    if request.method in csrf.UNSAFE_METHODS and getattr(
        request.state, "csrf_cookie_is_new", False
    ):
        token = ""
    csrf.bind_csrf_token(request, token)
    await csrf.require_csrf(request)


pre_session_csrf.access = "public"  # type: ignore[attr-defined]
PreSessionCsrf = Annotated[None, Depends(pre_session_csrf)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _authenticate_bearer(request: Request, session: Session, token: str) -> Principal | None:
    """Like _resolve_cookie for API tokens: a read-only call records the token's use (every
    few minutes) in a short write transaction of its own."""
    settings = settings_of(request)
    if isinstance(session, ReadSession):
        found = api_tokens.find(session=session, settings=settings, token=token)
        if found is None or not api_tokens.needs_touch(found[0]):
            return api_tokens.authenticate(session=session, settings=settings, token=token)
        session.rollback()
        write_sessions: sessionmaker[Session] = request.app.state.sessions
        with write_sessions() as write_session:
            principal = api_tokens.authenticate(
                session=write_session, settings=settings, token=token
            )
            write_session.commit()
        return principal
    return api_tokens.authenticate(session=session, settings=settings, token=token)


async def api_principal(
    request: Request, session: RequestSessionDep, cookie_principal: OptionalPrincipal
) -> Principal:
    """The API's caller. A session cookie wins and brings CSRF with it: a browser sends the
    cookie on its own, so only a request that no cookie authenticates is exempt."""
    if cookie_principal is not None:
        await csrf.require_csrf(request)
        return cookie_principal
    token = _bearer(request)
    if token is None:
        raise SignInRequiredError("Send an API token: Authorization: Bearer <token>.")
    principal = _authenticate_bearer(request, session, token)
    if principal is None:
        raise SignInRequiredError("The API token is not valid; it may have been revoked.")
    request.state.principal = principal
    return principal


api_principal.access = "api"  # type: ignore[attr-defined]
ApiPrincipal = Annotated[Principal, Depends(api_principal)]


def require_api_roles(*roles: UserRole) -> Callable[..., Awaitable[Principal]]:
    """Like ``require_roles`` for API callers (bearer or session): only ``roles`` and admins;
    anyone else gets 404."""
    allowed = frozenset(roles) | {UserRole.admin}

    async def dependency(principal: ApiPrincipal) -> Principal:
        if principal.role not in allowed:
            raise NotFoundError()
        return principal

    dependency.access = "roles"  # type: ignore[attr-defined]
    dependency.roles = allowed  # type: ignore[attr-defined]
    return dependency


def _organisation_creator(
    guard: Callable[..., Awaitable[Principal]],
) -> Callable[..., Awaitable[Principal]]:
    """Admins, and consultants when the installation lets them create organisations
    (``consultants_create_organisations``); anyone else gets 404. The walk in
    tests/test_isolation.py reads the role rule from ``guard``."""

    # a default rather than Annotated: the string annotation could not name the local guard
    async def dependency(request: Request, principal: Principal = Depends(guard)) -> Principal:  # noqa: B008
        consultants_may = settings_of(request).consultants_create_organisations
        if not organisations.may_create_organisations(
            principal=principal, consultants_may=consultants_may
        ):
            raise NotFoundError()
        return principal

    return dependency


OrganisationCreator = Annotated[
    Principal, Depends(_organisation_creator(require_roles(UserRole.consultant)))
]
ApiOrganisationCreator = Annotated[
    Principal, Depends(_organisation_creator(require_api_roles(UserRole.consultant)))
]

api_org_view = require_api_roles(UserRole.consultant, UserRole.org_leader)
api_respondent_rows = require_api_roles(UserRole.consultant)
ApiOrgViewer = Annotated[Principal, Depends(api_org_view)]
ApiRespondentRowsViewer = Annotated[Principal, Depends(api_respondent_rows)]


class ApiError(BaseModel):
    """Every API error: what went wrong (for a person), the status and the request id."""

    detail: str
    status: int
    request_id: str | None


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ApiError, "description": "No valid API token or session."},
    404: {"model": ApiError, "description": "Not found, or not yours to see."},
    429: {"model": ApiError, "description": "Too many requests; see Retry-After."},
}

# ids in API paths: PostgreSQL's integer range, so a huge id is a 422, never a database error
MAX_ID: Final = 2**31 - 1
TeamId = Annotated[int, Path(ge=1, le=MAX_ID)]
RoundId = Annotated[int, Path(ge=1, le=MAX_ID)]
PracticeId = Annotated[str, Path(min_length=1, max_length=80)]


# ---------------------------------------------------------------- path objects through tenancy


def scoped_organisation(
    org_id: int, principal: CurrentPrincipal, session: RequestSessionDep
) -> Organisation:
    return tenancy.get_organisation(session=session, principal=principal, org_id=org_id)


def scoped_team(team_id: TeamId, principal: CurrentPrincipal, session: RequestSessionDep) -> Team:
    return tenancy.get_team(session=session, principal=principal, team_id=team_id)


ScopedOrganisation = Annotated[Organisation, Depends(scoped_organisation)]
ScopedTeam = Annotated[Team, Depends(scoped_team)]


def scoped_round(
    round_id: RoundId, team: ScopedTeam, principal: CurrentPrincipal, session: RequestSessionDep
) -> AssessmentRound:
    """The ``{round_id}`` of the path, a round of the path's team (a route taking both gets
    the team loaded once)."""
    return tenancy.get_round(
        session=session, principal=principal, round_id=round_id, team_id=team.id
    )


ScopedRound = Annotated[AssessmentRound, Depends(scoped_round)]


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequiredError)
    if wants_json(request):
        return error_response(
            request,
            status_code=401,
            title=exc.title,
            message=exc.message,
            headers={"WWW-Authenticate": "Bearer"},
        )
    target = "/sign-in"
    if request.method == "GET":
        path = request.url.path
        if request.url.query:
            path += "?" + request.url.query
        target += "?" + urlencode({"next": path})
    return RedirectResponse(target, status_code=303)


def install(app: FastAPI) -> None:
    """Pages redirect to sign-in when nobody is signed in; the API answers 401."""
    app.add_exception_handler(SignInRequiredError, _sign_in_required)
    app.state.templates.env.globals["viewer"] = viewer


@dataclasses.dataclass(frozen=True)
class Viewer:
    """What the page header knows about who is looking (templates: ``viewer(request)``)."""

    principal: Principal | None
    has_session_cookie: bool


def viewer(request: Request) -> Viewer:
    principal = getattr(request.state, "principal", None)
    settings = settings_of(request)
    return Viewer(
        principal=principal if isinstance(principal, Principal) else None,
        has_session_cookie=sessions.session_cookie_name(settings) in request.cookies,
    )
