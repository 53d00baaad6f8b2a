"""CSRF: every state-changing route (enumerated from the app, sign-in included) refuses a
cross-site request and a request without a valid token; no GET changes anything."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Connection
from sqlmodel import Session, func, select

from app.accounts import api_tokens, csrf
from app.models import ApiToken, AuditEvent, UserRole
from tests import test_isolation as walk
from tests.accounts import helpers

UNSAFE = csrf.UNSAFE_METHODS


@pytest.fixture
def world(session: Session, settings: Any) -> walk.World:
    return walk.world.__wrapped__(session, settings)  # type: ignore[attr-defined]


def _state_changing(app: FastAPI) -> list[walk.Endpoint]:
    found = [e for e in walk.endpoints(app) if e.method in UNSAFE]
    assert any(e.path == "/sign-in" for e in found)
    return found


def _path(endpoint: walk.Endpoint, world: walk.World) -> str:
    path = endpoint.path
    for name in endpoint.parameters:
        value = walk.PATH_PARAMETERS[name].value(world, walk.ALPHA)
        path = re.sub(r"{" + name + r"(:[^}]+)?}", value, path)
    return path


def _isolated(connection: Connection, call: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one request in a savepoint rolled back afterwards (a sign-out must not end the
    session the next request uses)."""
    nested = connection.begin_nested()
    try:
        return call(*args, **kwargs)
    finally:
        nested.rollback()


def _count(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(AuditEvent)).one())


def test_every_state_changing_route_refuses_forgeries(
    app: FastAPI,
    client: TestClient,
    session: Session,
    world: walk.World,
    db_connection: Connection,
) -> None:
    admin = helpers.sign_in(session, world.settings, world.admin)
    owner = helpers.sign_in(session, world.settings, world.tenants[walk.ALPHA].team_lead)
    session.commit()
    anonymous_cookie, anonymous_token = helpers.anonymous_csrf(client, world.settings)
    failures = []
    endpoints = _state_changing(app)
    for endpoint in endpoints:
        path = _path(endpoint, world)
        if endpoint.access == "public":
            cookie, token = anonymous_cookie, anonymous_token
        elif endpoint.path.startswith("/account/tokens/"):
            cookie, token = owner.cookie_header, owner.csrf_token
        else:
            cookie, token = admin.cookie_header, admin.csrf_token
        attempts = {
            "cross-site (Sec-Fetch-Site)": {"sec-fetch-site": "cross-site", "x-csrf-token": token},
            "same-site subdomain": {"sec-fetch-site": "same-site", "x-csrf-token": token},
            "foreign Origin": {"origin": "https://evil.example", "x-csrf-token": token},
            "no token": {},
            # one character changed (a token may itself start with "x": then "y")
            "wrong token": {"x-csrf-token": ("y" if token.startswith("x") else "x") + token[1:]},
            "token of another session": {
                "x-csrf-token": owner.csrf_token if token != owner.csrf_token else admin.csrf_token
            },
        }
        for label, extra in attempts.items():
            client.cookies.clear()
            response = _isolated(
                db_connection,
                client.request,
                endpoint.method,
                path,
                headers={"cookie": cookie, "accept": "text/html", **extra},
                data={"name": "forged", "email": "x@example.org", "password": "x" * 20},
                follow_redirects=False,
            )
            if response.status_code != 403:
                failures.append(
                    f"{endpoint.method} {endpoint.path} ({label}): {response.status_code}"
                )
        if set(endpoint.guards) != {"app.accounts.dependencies"}:
            continue  # guarded by another area's CSRF binding (e.g. a resume link's)
        # the form field works as well as the header, so plain HTML forms need no script
        client.cookies.clear()
        accepted = _isolated(
            db_connection,
            client.request,
            endpoint.method,
            path,
            headers={"cookie": cookie, "accept": "text/html"},
            data={"csrf_token": token},
            follow_redirects=False,
        )
        if accepted.status_code == 403:
            failures.append(f"{endpoint.method} {endpoint.path}: refused a valid form token")
    assert not failures, "\n".join(failures)
    assert len(endpoints) >= 20


def test_the_anonymous_pair_needs_its_cookie(client: TestClient, settings: Any) -> None:
    """A token without the cookie it was made from (or with another one) is refused."""
    cookie, token = helpers.anonymous_csrf(client, settings)
    other_cookie, _ = helpers.anonymous_csrf(client, settings)
    data = {"email": "a@example.org", "password": "whatever-long-enough", "csrf_token": token}
    client.cookies.clear()
    assert client.post("/sign-in", data=data).status_code == 403
    client.cookies.clear()
    assert client.post("/sign-in", data=data, headers={"cookie": other_cookie}).status_code == 403
    client.cookies.clear()
    assert client.post("/sign-in", data=data, headers={"cookie": cookie}).status_code == 400


def test_sign_in_page_sets_the_pair_and_it_works(client: TestClient) -> None:
    page = client.get("/sign-in")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    response = client.post(
        "/sign-in",
        data={
            "email": "nobody@example.org",
            "password": "not the password",
            "csrf_token": token[1],
        },
    )
    assert response.status_code == 400  # checked, and the credentials are wrong


def test_no_get_changes_anything(
    app: FastAPI, client: TestClient, session: Session, world: walk.World
) -> None:
    """GET routes that exist under an unsafe route's path (or anywhere) write no audit event
    and revoke nothing; the walk covers every GET."""
    admin = helpers.sign_in(session, world.settings, world.admin)
    session.commit()
    before = _count(session)
    for endpoint in walk.endpoints(app):
        if endpoint.method != "GET" or "export" in endpoint.path:
            continue  # exports are recorded in the audit log on purpose
        client.cookies.clear()
        client.get(_path(endpoint, world), headers={"cookie": admin.cookie_header})
    assert _count(session) == before
    assert session.exec(select(ApiToken).where(ApiToken.revoked_at.is_not(None))).first() is None  # type: ignore[union-attr]


def test_api_bearer_is_exempt_only_without_a_cookie(
    client: TestClient, session: Session, settings: Any
) -> None:
    owner = helpers.user(session, UserRole.team_lead)
    signed_in = helpers.sign_in(session, settings, owner)
    first = api_tokens.create(session=session, settings=settings, user=owner, name="one")
    second = api_tokens.create(session=session, settings=settings, user=owner, name="two")
    session.commit()
    bearer = {"authorization": f"Bearer {first.token}"}
    # a cookie authenticates the request: CSRF applies even with a bearer token beside it
    client.cookies.clear()
    refused = client.delete(
        f"/api/tokens/{second.row.id}", headers={**bearer, "cookie": signed_in.cookie_header}
    )
    assert refused.status_code == 403
    # bearer alone: no cookie a browser could send on its own, so no CSRF token needed
    client.cookies.clear()
    assert client.delete(f"/api/tokens/{second.row.id}", headers=bearer).status_code == 204
    # the cookie with its token works too
    client.cookies.clear()
    assert (
        client.delete(f"/api/tokens/{first.row.id}", headers=signed_in.headers()).status_code == 204
    )
    client.cookies.clear()
    assert client.get("/api/me", headers=bearer).status_code == 401  # revoked
