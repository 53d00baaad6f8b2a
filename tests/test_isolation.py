"""Tenant isolation and role access, on every route the app has (docs/security.md).

The test builds two organisations ("Alpha" and "Bravo") with users of every role, enumerates
every registered route from the app (so routes added later are walked automatically) and
requests each one, with every method it accepts, as an administrator, as Alpha's consultant,
organisation leader and team lead, as a leader of both Alpha and a third organisation (Charlie),
and anonymously, once with Alpha's objects in the path and once with Bravo's. It asserts that

- nothing of an organisation a user may not see is ever in a response (no name, no e-mail);
- a route's access rule (read from the dependency that guards it) is applied exactly: a role
  it does not admit gets 404, an anonymous visitor is sent to sign in (401 for the API);
- another tenant's object in the path answers 404, never 403 and never the object;
- a permitted request does not fail (no 5xx; GET pages answer 2xx or a redirect).

Conventions a new route must follow, or this test fails and says what to do:

1. Every path parameter has a name from PATH_PARAMETERS below ({org_id}, {unit_id},
   {team_id}, {round_id}, {user_id}, {membership_id}, {token_id}, {respondent_id}, {token},
   {practice_id}, {job_id}). A new kind of object needs a row here: how to get Alpha's and Bravo's
   value, and who may see it.
2. Every route depends on one of the access dependencies of app.accounts.dependencies
   (CurrentPrincipal, AdminPrincipal, require_roles(...), ApiPrincipal, AnonymousCsrf), or is
   listed in PUBLIC_ROUTES here.
"""

from __future__ import annotations

import dataclasses
import io
import re
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.engine import Connection
from sqlmodel import Session, select
from starlette.routing import Mount

from app.accounts import api_tokens, setup_import
from app.config import ROOT_DIR, Settings
from app.models import (
    JobFile,
    Membership,
    Organisation,
    ReportJob,
    ReportJobStatus,
    RoundResult,
    User,
    UserRole,
)
from app.results import summaries
from app.rubric.answers_file import assess_file, read_answers_file
from app.rubric.output import to_data
from app.workspace import organisation_rescore
from tests.accounts import helpers
from tests.reports import published

ALPHA, BRAVO = "Alpha", "Bravo"

# Routes that are public on purpose and declare no access dependency: (method, path).
PUBLIC_ROUTES = {
    ("GET", "/"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/docs"),  # the page that shows the OpenAPI document
}


@dataclasses.dataclass
class World:
    settings: Settings
    tenants: dict[str, helpers.Tenant]
    admin: User
    token_ids: dict[str, int]  # an API token of each tenant's team lead
    membership_ids: dict[str, int]  # each tenant's team-lead membership
    job_ids: dict[str, int]  # a finished report job of each tenant (its zip on disk)
    # an organisation leader of Alpha who also leads a third organisation, Charlie (not Bravo)
    two_org_leader: User
    charlie: str  # Charlie's name: no one else may see it
    # a finished bulk set-up import job of each tenant, started by its consultant
    import_job_ids: dict[str, int] = dataclasses.field(default_factory=dict)
    # a finished rescore of each tenant under the newest rubric (app.workspace.organisation_rescore)
    rescore_job_ids: dict[str, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who makes a request: a role and the organisation they belong to (admins: none)."""

    label: str
    role: UserRole | None  # None: anonymous
    side: str | None
    user: User | None


@dataclasses.dataclass(frozen=True)
class Parameter:
    value: Callable[[World, str], str]
    # may this actor see the side's object through this route? (path given for routes whose
    # answer depends on the area, e.g. a token id under /admin or under /account)
    visible: Callable[[Actor, str, str], bool]
    capability: bool = False  # the value itself grants access (a link token)


def _org_wide(actor: Actor, side: str, _path: str) -> bool:
    return actor.role is UserRole.admin or (
        actor.side == side and actor.role in (UserRole.consultant, UserRole.org_leader)
    )


def _team_level(actor: Actor, side: str, _path: str) -> bool:
    # the value is the team the side's team lead leads (and a round of it)
    return actor.role is UserRole.admin or (
        actor.side == side
        and actor.role in (UserRole.consultant, UserRole.org_leader, UserRole.team_lead)
    )


def _admin_only(actor: Actor, _side: str, _path: str) -> bool:
    return actor.role is UserRole.admin


def _token_owner(actor: Actor, side: str, path: str) -> bool:
    if path.startswith("/admin"):
        return actor.role is UserRole.admin
    return actor.side == side and actor.role is UserRole.team_lead


def _import_starter(actor: Actor, side: str, _path: str) -> bool:
    # an import job's page may hold set-password links: only whoever started it (the side's
    # consultant) sees it, not even an admin
    return actor.side == side and actor.role is UserRole.consultant


PATH_PARAMETERS: dict[str, Parameter] = {
    "org_id": Parameter(lambda w, s: str(w.tenants[s].org.id), _org_wide),
    "unit_id": Parameter(lambda w, s: str(w.tenants[s].unit.id), _org_wide),
    "team_id": Parameter(lambda w, s: str(w.tenants[s].team.id), _team_level),
    "round_id": Parameter(lambda w, s: str(w.tenants[s].round.id), _team_level),
    "user_id": Parameter(lambda w, s: str(w.tenants[s].team_lead.id), _admin_only),
    "membership_id": Parameter(lambda w, s: str(w.membership_ids[s]), _admin_only),
    "respondent_id": Parameter(lambda w, s: str(w.tenants[s].respondent.id), _admin_only),
    "token_id": Parameter(lambda w, s: str(w.token_ids[s]), _token_owner),
    # link tokens (invitation, resume, reset): whoever holds one may use it; the walk checks
    # that using one leaks nothing else and never fails (their own tests check the rest)
    "token": Parameter(lambda w, s: w.tenants[s].resume_token, lambda *_: True, capability=True),
    # practices are the same for everyone (the catalogue), not tenant data
    "practice_id": Parameter(lambda w, s: "unknown-practice", lambda *_: True),
    # a background report job of the organisation (every team's report, zipped)
    "job_id": Parameter(lambda w, s: str(w.job_ids[s]), _org_wide),
    # a bulk set-up import job (app.accounts.setup_import), for its starter only
    "import_job_id": Parameter(lambda w, s: str(w.import_job_ids[s]), _import_starter),
    # an organisation's rescore under the newest rubric: organisation-wide, like the dashboard
    "rescore_job_id": Parameter(lambda w, s: str(w.rescore_job_ids[s]), _org_wide),
}

PARAMETER_PATTERN = re.compile(r"{([^}:]+)(?::[^}]+)?}")


def _guards_of(dependant: Any) -> tuple[str, ...]:
    """Modules of the access dependencies guarding a route."""
    found: list[str] = []

    def walk(node: Any) -> None:
        for sub in node.dependencies:
            if getattr(sub.call, "access", None):
                found.append(sub.call.__module__)
            walk(sub)

    walk(dependant)
    return tuple(found)


def _access_of(dependant: Any) -> tuple[str, frozenset[UserRole]]:
    """The access rule of a route, read from the guarding dependencies it uses."""
    found: list[Any] = []

    def walk(dependant: Any) -> None:
        for sub in dependant.dependencies:
            if getattr(sub.call, "access", None):
                found.append(sub.call)
            walk(sub)

    walk(dependant)
    kinds = {call.access for call in found}
    if "roles" in kinds:
        roles: frozenset[UserRole] = frozenset(UserRole)
        for call in found:
            if call.access == "roles":
                roles = roles & call.roles
        return "roles", roles
    for kind in ("signed_in", "api", "public"):
        if kind in kinds:
            return kind, frozenset(UserRole)
    return "none", frozenset()


@dataclasses.dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    access: str
    roles: frozenset[UserRole]
    parameters: tuple[str, ...]
    guards: tuple[str, ...] = ()


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every (method, route) of the app; fails on an unknown parameter or missing guard."""
    result = []
    problems = []
    for context in iter_route_contexts(app.routes):
        original = context.original_route
        if isinstance(original, Mount):
            continue  # static files
        path = context.path
        assert isinstance(path, str), f"unexpected route {original!r}"
        names = tuple(PARAMETER_PATTERN.findall(path))
        for name in names:
            if name not in PATH_PARAMETERS:
                problems.append(
                    f"{path}: path parameter {{{name}}} is not in PATH_PARAMETERS of "
                    "tests/test_isolation.py; add it (Alpha/Bravo values and who may see "
                    "it) or use an existing name (docs/security.md)"
                )
        dependant = getattr(context, "dependant", None)
        for method in sorted((context.methods or set()) - {"HEAD", "OPTIONS"}):
            if dependant is not None:
                access, roles = _access_of(dependant)
            else:
                access, roles = "none", frozenset()
            if access == "none":
                if (method, path) in PUBLIC_ROUTES:
                    access = "public"
                else:
                    problems.append(
                        f"{method} {path} has no access dependency; depend on one from "
                        "app.accounts.dependencies, or list it in PUBLIC_ROUTES"
                    )
            guards = _guards_of(dependant) if dependant is not None else ()
            result.append(Endpoint(method, path, access, roles, names, guards))
    assert not problems, "\n".join(problems)
    return result


def _stored_result_data() -> dict[str, Any]:
    """A stored result for each tenant's round, so report routes reach their 200 path (the
    quick check's: its report is the shortest to render)."""
    catalog = helpers.catalog()
    answers = read_answers_file(ROOT_DIR / "examples" / "quick-check.yaml", catalog)
    return to_data(catalog, assess_file(catalog, answers))


def _finished_job(session: Session, settings: Settings, tenant: helpers.Tenant) -> int:
    assert tenant.org.id is not None
    job = ReportJob(organisation_id=tenant.org.id, status=ReportJobStatus.done, total=1, done=1)
    session.add(job)
    session.flush()
    assert job.id is not None
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("team.pdf", b"%PDF-1.7 placeholder")
    # a job's output is kept in the database (app.jobs), served by every instance
    session.add(
        JobFile(
            job_id=job.id,
            name=f"walk-{tenant.marker.lower()}-{tenant.org.id}.zip",
            final=True,
            media_type="application/zip",
            size=len(buffer.getvalue()),
            data=buffer.getvalue(),
        )
    )
    session.flush()
    return job.id


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Consultants may create organisations here (PROCESSLENS_CONSULTANTS_CREATE_ORGANISATIONS):
    the walk checks that they still reach only their own organisation."""
    return settings.model_copy(update={"consultants_create_organisations": True})


def _finished_import_job(session: Session, tenant: helpers.Tenant, side: str) -> int:
    """A finished bulk set-up import job of ``tenant``, started by its consultant."""
    assert tenant.org.id is not None
    job = ReportJob(
        organisation_id=tenant.org.id,
        created_by_id=tenant.consultant.id,
        kind=setup_import.KIND,
        status=ReportJobStatus.done,
        error=f"Imported {side}.",
    )
    session.add(job)
    session.flush()
    assert job.id is not None
    return job.id


def _finished_rescore_job(session: Session, tenant: helpers.Tenant, side: str) -> int:
    """A finished rescore of ``tenant``'s rounds under the newest rubric."""
    assert tenant.org.id is not None
    job = ReportJob(
        organisation_id=tenant.org.id,
        kind=organisation_rescore.KIND,
        status=ReportJobStatus.done,
        error=f"Rescored {side}.",
    )
    session.add(job)
    session.flush()
    assert job.id is not None
    return job.id


@pytest.fixture
def world(session: Session, settings: Settings) -> World:
    tenants = {side: helpers.tenant(session, settings, side) for side in (ALPHA, BRAVO)}
    admin = helpers.user(session, UserRole.admin, name="Root Admin", email="root@example.org")
    token_ids = {}
    membership_ids = {}
    job_ids = {}
    data = _stored_result_data()
    for side, tenant in tenants.items():
        assert tenant.round.id is not None
        # a team survey's result shows once its round has closed with enough responses
        published.publish(session, tenant.round, 4)
        session.add(
            RoundResult(
                round_id=tenant.round.id,
                computed=data,
                respondent_count=4,
                rubric_versions=tenant.round.rubric_versions,
                final=True,
            )
        )
        session.flush()
        # results stored by hand: their dashboard summaries too, as storing a result writes them
        assert tenant.org.id is not None
        summaries.rebuild(session=session, organisation_id=tenant.org.id)
        job_ids[side] = _finished_job(session, settings, tenant)
        created = api_tokens.create(
            session=session, settings=settings, user=tenant.team_lead, name=f"{side} script"
        )
        assert created.row.id is not None
        token_ids[side] = created.row.id
        membership = session.exec(
            select(Membership).where(Membership.user_id == tenant.team_lead.id)
        ).one()
        assert membership.id is not None
        membership_ids[side] = membership.id
    two_org_leader = helpers.user(session, UserRole.org_leader, name="Dual Leader")
    charlie = Organisation(name="Charlie Organisation", slug="charlie-walk")
    session.add(charlie)
    session.flush()
    helpers.assign(session, two_org_leader, tenants[ALPHA].org)
    helpers.assign(session, two_org_leader, charlie)
    import_job_ids = {
        side: _finished_import_job(session, tenant, side) for side, tenant in tenants.items()
    }
    rescore_job_ids = {
        side: _finished_rescore_job(session, tenant, side) for side, tenant in tenants.items()
    }
    session.commit()
    return World(
        settings,
        tenants,
        admin,
        token_ids,
        membership_ids,
        job_ids,
        two_org_leader,
        charlie.name,
        import_job_ids,
        rescore_job_ids,
    )


def _actors(world: World) -> list[Actor]:
    alpha = world.tenants[ALPHA]
    return [
        Actor("anonymous", None, None, None),
        Actor("admin", UserRole.admin, None, world.admin),
        Actor("alpha consultant", UserRole.consultant, ALPHA, alpha.consultant),
        Actor("alpha org leader", UserRole.org_leader, ALPHA, alpha.org_leader),
        Actor("alpha and charlie org leader", UserRole.org_leader, ALPHA, world.two_org_leader),
        Actor("alpha team lead", UserRole.team_lead, ALPHA, alpha.team_lead),
    ]


def _hidden_texts(world: World, actor: Actor) -> list[str]:
    """Texts of organisations the actor may not see at all."""
    if actor.role is UserRole.admin:
        return []
    sides = [BRAVO] if actor.side == ALPHA else [ALPHA, BRAVO]
    texts: list[str] = []
    for side in sides:
        texts.extend(world.tenants[side].texts)
    if actor.user is not world.two_org_leader:
        texts.append(world.charlie)
    return texts


def _expectation(endpoint: Endpoint, actor: Actor, side: str) -> str:
    if endpoint.access == "public":
        return "public"
    if actor.role is None:
        return "sign-in"
    if endpoint.access == "roles" and actor.role not in endpoint.roles:
        return "hidden"
    for name in endpoint.parameters:
        parameter = PATH_PARAMETERS[name]
        if not parameter.visible(actor, side, endpoint.path):
            return "hidden"
    return "allowed"


@pytest.fixture
def walker(
    app: FastAPI,
    client: TestClient,
    world: World,
    db_connection: Connection,
    session: Session,
) -> Callable[..., Any]:
    signed_in = {}
    for actor in _actors(world):
        if actor.user is not None:
            signed_in[actor.label] = helpers.sign_in(session, world.settings, actor.user)
    session.commit()
    anonymous_cookie, anonymous_token = helpers.anonymous_csrf(client, world.settings)

    def request(endpoint: Endpoint, actor: Actor, side: str) -> Any:
        path = endpoint.path
        for name in endpoint.parameters:
            value = PATH_PARAMETERS[name].value(world, side)
            path = re.sub(r"{" + name + r"(:[^}]+)?}", value, path)
        if actor.user is None:
            headers = {"cookie": anonymous_cookie, "x-csrf-token": anonymous_token}
        else:
            headers = signed_in[actor.label].headers()
        headers["accept"] = "text/html"
        # each request in a savepoint rolled back afterwards: a permitted delete must not
        # change what the next request sees; counters start afresh too
        nested = db_connection.begin_nested()
        app.state.rate_limiter.storage.reset()
        client.cookies.clear()
        try:
            return client.request(endpoint.method, path, headers=headers, follow_redirects=False)
        finally:
            nested.rollback()

    return request


def test_every_route_isolates_tenants_and_roles(
    app: FastAPI, world: World, walker: Callable[..., Any]
) -> None:
    failures: list[str] = []
    walked = 0
    for endpoint in endpoints(app):
        sides = (ALPHA, BRAVO) if endpoint.parameters else (ALPHA,)
        for actor in _actors(world):
            for side in sides:
                response = walker(endpoint, actor, side)
                walked += 1
                where = f"{endpoint.method} {endpoint.path} as {actor.label} with {side}'s ids"
                body = response.text
                for text in _hidden_texts(world, actor):
                    if text in body:
                        failures.append(f"{where}: the response contains {text!r}")
                status = response.status_code
                if status >= 500:
                    failures.append(f"{where}: {status}")
                    continue
                expected = _expectation(endpoint, actor, side)
                if expected == "sign-in":
                    location = response.headers.get("location", "")
                    if not (status == 401 or (status == 303 and location.startswith("/sign-in"))):
                        failures.append(f"{where}: {status}, expected a sign-in redirect or 401")
                elif expected == "hidden":
                    if status != 404:
                        failures.append(f"{where}: {status}, expected 404")
                elif expected == "allowed":
                    if status in (401, 403, 404):
                        failures.append(f"{where}: {status}, expected access")
                    if endpoint.method == "GET" and not 200 <= status < 400:
                        failures.append(f"{where}: {status}, expected the page")
    assert walked > 100
    assert not failures, f"{len(failures)} problems:\n" + "\n".join(failures[:60])


def test_unknown_parameter_names_and_unguarded_routes_fail(app: FastAPI) -> None:
    """The walk refuses routes it cannot reason about, so new routes must register."""

    def unknown(widget_id: int) -> dict[str, int]:
        return {"id": widget_id}

    app.add_api_route("/widgets/{widget_id}", unknown, methods=["GET"])
    with pytest.raises(AssertionError) as failure:
        endpoints(app)
    assert "{widget_id} is not in PATH_PARAMETERS" in str(failure.value)
    assert "GET /widgets/{widget_id} has no access dependency" in str(failure.value)


def test_ids_in_the_body_are_checked_against_the_path(
    client: TestClient, world: World, session: Session
) -> None:
    """A unit or team id of Bravo sent in a form to Alpha's admin page is refused (404), and
    nothing is created or assigned."""
    admin = helpers.sign_in(session, world.settings, world.admin)
    session.commit()
    alpha, bravo = world.tenants[ALPHA], world.tenants[BRAVO]
    headers = admin.headers()
    created = client.post(
        f"/admin/organisations/{alpha.org.id}/teams",
        data={"name": "Smuggled", "unit_id": str(bravo.unit.id)},
        headers=headers,
    )
    assert created.status_code in (400, 404)
    assigned = client.post(
        f"/admin/organisations/{alpha.org.id}/assignments",
        data={"user_id": str(alpha.team_lead.id), "team_id": str(bravo.team.id)},
        headers=headers,
    )
    assert assigned.status_code in (400, 404)
    memberships = session.exec(select(Membership).where(Membership.team_id == bravo.team.id)).all()
    assert all(m.user_id != alpha.team_lead.id for m in memberships)
    deleted = client.post(
        f"/admin/organisations/{alpha.org.id}/teams/{bravo.team.id}/delete", headers=headers
    )
    assert deleted.status_code == 404
