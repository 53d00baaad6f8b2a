"""Client organisations made by consultants (PROCESSLENS_CONSULTANTS_CREATE_ORGANISATIONS), on
both databases: off, a consultant gets 404 and nothing changes; on, the organisation is created,
its creator assigned to it as its consultant and both recorded in the audit log, while another
organisation stays out of reach. Admins always may, see every organisation and can reassign."""

from __future__ import annotations

import os
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from app import demo
from app.accounts import api_tokens
from app.config import Settings
from app.dashboards.routes import DashboardsIndexPage
from app.models import AuditEvent, Membership, Organisation, User, UserRole
from tests.accounts import helpers


@pytest.fixture
def world(session: Session, settings: Settings) -> dict[str, Any]:
    alpha = helpers.tenant(session, settings, "Alpha")
    bravo = helpers.tenant(session, settings, "Bravo")
    admin = helpers.user(session, UserRole.admin, email="root@example.org")

    def bearer(user: User) -> dict[str, str]:
        token = api_tokens.create(session=session, settings=settings, user=user, name="t")
        return {"authorization": f"Bearer {token.token}"}

    world = {
        "alpha": alpha,
        "bravo": bravo,
        "admin": admin,
        "api": {"admin": bearer(admin), "consultant": bearer(alpha.consultant)},
        "pages": {
            "consultant": helpers.sign_in(session, settings, alpha.consultant).headers(),
            "org_leader": helpers.sign_in(session, settings, alpha.org_leader).headers(),
        },
    }
    session.commit()
    return world


def _index(response: Any) -> DashboardsIndexPage:
    page: DashboardsIndexPage = response.context["page"]
    return page


def _allow(app: FastAPI, allowed: bool) -> None:
    settings: Settings = app.state.settings
    app.state.settings = settings.model_copy(update={"consultants_create_organisations": allowed})


def _state(session: Session) -> tuple[int, int, int]:
    def count(model: Any) -> int:
        return int(session.exec(select(func.count()).select_from(model)).one())

    return count(Organisation), count(Membership), count(AuditEvent)


def test_off_by_default_a_consultant_gets_404_and_nothing_changes(
    app: FastAPI, client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    assert app.state.settings.consultants_create_organisations is False
    before = _state(session)
    api = client.post(
        "/api/organisations", json={"name": "Northwind"}, headers=world["api"]["consultant"]
    )
    assert api.status_code == 404
    pages = world["pages"]["consultant"]
    assert client.get("/dashboards/new-organisation", headers=pages).status_code == 404
    form = client.post("/dashboards/new-organisation", data={"name": "Northwind"}, headers=pages)
    assert form.status_code == 404
    assert _state(session) == before
    index = client.get("/dashboards", headers=pages)
    assert _index(index).may_create_organisation is False
    assert "/dashboards/new-organisation" not in index.text
    # admins always may
    created = client.post(
        "/api/organisations", json={"name": "Northwind"}, headers=world["api"]["admin"]
    )
    assert created.status_code == 201


def test_on_a_consultant_creates_is_assigned_and_it_is_audited(
    app: FastAPI, client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    _allow(app, True)
    consultant = world["alpha"].consultant
    headers = world["api"]["consultant"]
    response = client.post("/api/organisations", json={"name": "Northwind"}, headers=headers)
    assert response.status_code == 201, response.text
    org_id = response.json()["id"]
    membership = session.exec(select(Membership).where(Membership.organisation_id == org_id)).one()
    assert (membership.user_id, membership.role, membership.team_id) == (
        consultant.id,
        UserRole.consultant,
        None,
    )
    actions = session.exec(
        select(AuditEvent.action, AuditEvent.actor_id)
        .where(AuditEvent.organisation_id == org_id)
        .order_by(col(AuditEvent.id))
    ).all()
    assert list(actions) == [
        ("organisation.created", consultant.id),
        ("assignment.added", consultant.id),
    ]
    # it is theirs now, beside Alpha; Bravo stays hidden
    listed = client.get("/api/organisations", headers=headers).json()
    assert {org["name"] for org in listed} == {"Alpha Organisation", "Northwind"}
    assert client.get(f"/api/organisations/{org_id}", headers=headers).status_code == 200
    bravo = world["bravo"].org.id
    assert client.get(f"/api/organisations/{bravo}", headers=headers).status_code == 404


def test_on_a_consultant_cannot_change_another_organisation(
    app: FastAPI, client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    _allow(app, True)
    headers = world["api"]["consultant"]
    bravo = world["bravo"].org.id
    before = _state(session)
    attempts = [
        client.post(f"/api/organisations/{bravo}/units", json={"name": "X"}, headers=headers),
        client.post(f"/api/organisations/{bravo}/teams", json={"name": "X"}, headers=headers),
        client.patch(f"/api/organisations/{bravo}", json={"name": "X"}, headers=headers),
        client.post(
            f"/api/organisations/{bravo}/assignments",
            json={"user_id": world["alpha"].consultant.id},
            headers=headers,
        ),
    ]
    assert [attempt.status_code for attempt in attempts] == [404, 404, 404, 404]
    assert _state(session) == before


def test_on_admins_see_every_new_organisation_and_can_reassign_it(
    app: FastAPI, client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    _allow(app, True)
    org_id = client.post(
        "/api/organisations", json={"name": "Northwind"}, headers=world["api"]["consultant"]
    ).json()["id"]
    admin = world["api"]["admin"]
    assert "Northwind" in {
        org["name"] for org in client.get("/api/organisations", headers=admin).json()
    }
    assignments = client.get(f"/api/organisations/{org_id}/assignments", headers=admin).json()
    assert [a["user_id"] for a in assignments] == [world["alpha"].consultant.id]
    other = helpers.user(session, UserRole.consultant, email="other@example.org")
    session.commit()
    added = client.post(
        f"/api/organisations/{org_id}/assignments", json={"user_id": other.id}, headers=admin
    )
    assert added.status_code == 201
    removed = client.delete(
        f"/api/organisations/{org_id}/assignments/{assignments[0]['membership_id']}",
        headers=admin,
    )
    assert removed.status_code == 204
    # the creator no longer sees it
    headers = world["api"]["consultant"]
    assert client.get(f"/api/organisations/{org_id}", headers=headers).status_code == 404


def test_the_page_from_the_dashboards_list_creates_and_refuses_a_blank_name(
    app: FastAPI, client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    _allow(app, True)
    headers = world["pages"]["consultant"]
    index = client.get("/dashboards", headers=headers)
    assert _index(index).may_create_organisation is True
    assert 'href="/dashboards/new-organisation"' in index.text
    assert client.get("/dashboards/new-organisation", headers=headers).status_code == 200
    before = _state(session)
    blank = client.post("/dashboards/new-organisation", data={"name": "  "}, headers=headers)
    assert blank.status_code == 400
    assert "name of 1 to 200 characters" in blank.text
    assert _state(session) == before
    created = client.post(
        "/dashboards/new-organisation",
        data={"name": "Northwind"},
        headers=headers,
        follow_redirects=False,
    )
    assert created.status_code == 303
    org = session.exec(select(Organisation).where(Organisation.name == "Northwind")).one()
    assert created.headers["location"] == f"/organisations/{org.id}/branding"
    listed = client.get("/dashboards", headers=headers)
    assert {link.name for link in _index(listed).organisations} == {
        "Alpha Organisation",
        "Northwind",
    }
    assert f'href="/organisations/{org.id}/branding"' in listed.text


def test_the_dashboards_list_links_branding_for_consultants_only(
    client: TestClient, world: dict[str, Any]
) -> None:
    alpha = world["alpha"].org.id
    consultant = client.get("/dashboards", headers=world["pages"]["consultant"])
    assert f'href="/organisations/{alpha}/branding"' in consultant.text
    leader = client.get("/dashboards", headers=world["pages"]["org_leader"])
    assert leader.status_code == 200
    assert "/branding" not in leader.text


def test_the_demo_turns_the_setting_on_unless_the_environment_says_otherwise(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    name = "PROCESSLENS_CONSULTANTS_CREATE_ORGANISATIONS"
    # set, then removed: monkeypatch then restores the variable's first state, whatever the
    # demo writes to the environment meanwhile
    monkeypatch.setenv(name, "false")
    monkeypatch.delenv(name)
    # the demo's other settings (the e-mail outbox) are restored the same way
    monkeypatch.setenv("PROCESSLENS_MAIL_OUTBOX", "false")
    monkeypatch.delenv("PROCESSLENS_MAIL_OUTBOX")
    demo.apply_demo_settings()
    assert os.environ[name] == "true"
    assert Settings(database_url=settings.database_url).consultants_create_organisations
    monkeypatch.setenv(name, "false")
    demo.apply_demo_settings()
    assert not Settings(database_url=settings.database_url).consultants_create_organisations


def test_a_consultant_without_an_organisation_is_told_to_create_one(
    app: FastAPI, client: TestClient, session: Session, settings: Settings
) -> None:
    _allow(app, True)
    newcomer = helpers.user(session, UserRole.consultant, email="new@example.org")
    headers = helpers.sign_in(session, settings, newcomer).headers()
    session.commit()
    index = client.get("/dashboards", headers=headers)
    assert _index(index).organisations == ()
    assert "Create your first client organisation below" in index.text
    assert 'href="/dashboards/new-organisation"' in index.text
