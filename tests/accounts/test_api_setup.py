"""Setting an organisation up through the API (admins, like the admin pages; consultants for
the units and teams of their own organisations when the installation lets them set up client
organisations): organisations, units and teams created, renamed, moved and deleted, people
assigned and unassigned, each through the pages' service with its audit event; ids of another
organisation, in the path or in the body, are 404 and change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.accounts import api_tokens
from app.config import Settings
from app.models import (
    AuditEvent,
    BusinessUnit,
    Membership,
    Organisation,
    Team,
    User,
    UserRole,
)
from tests.accounts import helpers


@pytest.fixture
def world(session: Session, settings: Settings) -> dict[str, Any]:
    alpha = helpers.tenant(session, settings, "Alpha")
    bravo = helpers.tenant(session, settings, "Bravo")
    admin = helpers.user(session, UserRole.admin)
    lead = helpers.user(session, UserRole.team_lead, email="new-lead@example.org")
    token = api_tokens.create(session=session, settings=settings, user=admin, name="set-up")
    consultant_token = api_tokens.create(
        session=session, settings=settings, user=alpha.consultant, name="c"
    )
    session.commit()
    return {
        "alpha": alpha,
        "bravo": bravo,
        "lead": lead,
        "admin": {"authorization": f"Bearer {token.token}"},
        "consultant": {"authorization": f"Bearer {consultant_token.token}"},
    }


def _actions(session: Session, since: int) -> list[str]:
    return list(
        session.exec(
            select(AuditEvent.action).where(col(AuditEvent.id) > since).order_by(col(AuditEvent.id))
        ).all()
    )


def _last_event_id(session: Session) -> int:
    found = session.exec(select(AuditEvent.id).order_by(col(AuditEvent.id).desc())).first()
    return found or 0


def test_an_admin_sets_up_an_organisation_through_the_api(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    headers = world["admin"]
    since = _last_event_id(session)

    def call(method: str, path: str, status: int, **kwargs: Any) -> Any:
        response = client.request(method, path, headers=headers, **kwargs)
        assert response.status_code == status, (method, path, response.text)
        return response.json() if response.content else None

    org = call("POST", "/api/organisations", 201, json={"name": "Globex"})
    base = f"/api/organisations/{org['id']}"
    assert call("PATCH", base, 200, json={"name": "Globex Group"})["slug"] == org["slug"]
    payments = call("POST", f"{base}/units", 201, json={"name": "Payments"})
    search = call("POST", f"{base}/units", 201, json={"name": "Search"})
    call("POST", f"{base}/units", 409, json={"name": "Payments"})
    team = call(
        "POST", f"{base}/teams", 201, json={"name": "Ledger", "business_unit_id": payments["id"]}
    )
    moved = call(
        "PATCH",
        f"{base}/teams/{team['id']}",
        200,
        json={"name": "Ledger Core", "business_unit_id": search["id"]},
    )
    assert (moved["name"], moved["business_unit_id"]) == ("Ledger Core", search["id"])
    listed = {t["id"]: t for t in call("GET", "/api/teams", 200)}
    assert listed[team["id"]]["business_unit_id"] == search["id"]
    assert call("PATCH", f"{base}/units/{search['id']}", 200, json={"name": "Discovery"})["name"]
    assignment = call(
        "POST",
        f"{base}/assignments",
        201,
        json={"user_id": world["lead"].id, "team_id": team["id"]},
    )
    assert assignment["role"] == "team_lead"
    assert [a["membership_id"] for a in call("GET", f"{base}/assignments", 200)] == [
        assignment["membership_id"]
    ]
    call("DELETE", f"{base}/assignments/{assignment['membership_id']}", 204)
    call("DELETE", f"{base}/units/{search['id']}", 204)
    assert session.get(Team, team["id"]).business_unit_id is None  # type: ignore[union-attr]
    call("DELETE", f"{base}/teams/{team['id']}", 204)
    call("DELETE", base, 400)  # without confirm
    call("DELETE", base, 204, params={"confirm": org["slug"]})
    assert session.get(Organisation, org["id"]) is None
    assert _actions(session, since) == [
        "organisation.created",
        "organisation.renamed",
        "business_unit.created",
        "business_unit.created",
        "team.created",
        "team.changed",
        "business_unit.renamed",
        "assignment.added",
        "assignment.removed",
        "business_unit.deleted",
        "team.deleted",
        "organisation.deleted",
    ]


def test_ids_of_another_organisation_in_the_body_are_404_and_change_nothing(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    alpha, bravo = world["alpha"], world["bravo"]
    base = f"/api/organisations/{alpha.org.id}"
    since = _last_event_id(session)
    attempts = [
        ("POST", f"{base}/teams", {"name": "Smuggled", "business_unit_id": bravo.unit.id}),
        ("PATCH", f"{base}/teams/{alpha.team.id}", {"business_unit_id": bravo.unit.id}),
        ("POST", f"{base}/assignments", {"user_id": world["lead"].id, "team_id": bravo.team.id}),
        ("PATCH", f"{base}/teams/{bravo.team.id}", {"name": "Taken over"}),
        ("PATCH", f"{base}/units/{bravo.unit.id}", {"name": "Taken over"}),
    ]
    for method, path, body in attempts:
        response = client.request(method, path, json=body, headers=world["admin"])
        assert response.status_code == 404, (method, path, response.text)
    session.expire_all()
    assert session.get(Team, alpha.team.id).business_unit_id == alpha.unit.id  # type: ignore[union-attr]
    assert session.get(Team, bravo.team.id).name == "Bravo Team"  # type: ignore[union-attr]
    assert session.get(BusinessUnit, bravo.unit.id).name == "Bravo Unit"  # type: ignore[union-attr]
    assert session.exec(select(Team).where(Team.name == "Smuggled")).first() is None
    assert (
        session.exec(select(Membership).where(Membership.user_id == world["lead"].id)).first()
        is None
    )
    assert _actions(session, since) == []


def test_with_the_setting_off_only_admins_set_up_organisations(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    alpha = world["alpha"]
    refused = [
        client.post("/api/organisations", json={"name": "Mine"}, headers=world["consultant"]),
        client.post(
            f"/api/organisations/{alpha.org.id}/teams",
            json={"name": "Mine"},
            headers=world["consultant"],
        ),
        client.post(
            f"/api/organisations/{alpha.org.id}/units",
            json={"name": "Mine"},
            headers=world["consultant"],
        ),
        client.patch(
            f"/api/organisations/{alpha.org.id}/teams/{alpha.team.id}",
            json={"name": "Mine"},
            headers=world["consultant"],
        ),
    ]
    assert [r.status_code for r in refused] == [404, 404, 404, 404]
    assert session.exec(select(Team).where(Team.name == "Mine")).first() is None


@pytest.mark.parametrize(
    "body",
    [{"name": ""}, {"name": "   "}, {"name": "x" * 201}, {"name": 7}, {"name": "ok", "extra": 1}],
)
def test_bad_names_are_refused_and_change_nothing(
    client: TestClient, session: Session, world: dict[str, Any], body: dict[str, Any]
) -> None:
    base = f"/api/organisations/{world['alpha'].org.id}"
    response = client.patch(base, json=body, headers=world["admin"])
    assert response.status_code in (400, 422)
    session.refresh(world["alpha"].org)
    assert world["alpha"].org.name == "Alpha Organisation"


def _consultants_set_up_clients(app: FastAPI) -> None:
    app.state.settings = app.state.settings.model_copy(
        update={"consultants_create_organisations": True}
    )


def test_a_consultant_sets_up_units_and_teams_of_their_organisations(
    app: FastAPI, client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    """With PROCESSLENS_CONSULTANTS_CREATE_ORGANISATIONS on, a consultant creates an
    organisation (and is assigned to it) and creates, renames, moves and deletes units and
    teams of it and of the organisation they were already assigned to, each audited as theirs;
    the organisation itself (rename, delete) and assignments stay with admins."""
    _consultants_set_up_clients(app)
    headers = world["consultant"]
    consultant: User = world["alpha"].consultant
    since = _last_event_id(session)

    def call(method: str, path: str, status: int, **kwargs: Any) -> Any:
        response = client.request(method, path, headers=headers, **kwargs)
        assert response.status_code == status, (method, path, response.text)
        return response.json() if response.content else None

    org = call("POST", "/api/organisations", 201, json={"name": "Initech"})
    for base in (f"/api/organisations/{org['id']}", f"/api/organisations/{world['alpha'].org.id}"):
        payments = call("POST", f"{base}/units", 201, json={"name": "Payments"})
        search = call("POST", f"{base}/units", 201, json={"name": "Search"})
        call("POST", f"{base}/units", 409, json={"name": "Search"})
        team = call(
            "POST",
            f"{base}/teams",
            201,
            json={"name": "Ledger", "business_unit_id": payments["id"]},
        )
        moved = call(
            "PATCH",
            f"{base}/teams/{team['id']}",
            200,
            json={"name": "Ledger Core", "business_unit_id": search["id"]},
        )
        assert (moved["name"], moved["business_unit_id"]) == ("Ledger Core", search["id"])
        assert call("PATCH", f"{base}/units/{search['id']}", 200, json={"name": "Find"})["name"]
        assert {"Payments", "Find"} <= {u["name"] for u in call("GET", f"{base}/units", 200)}
        call("DELETE", f"{base}/units/{search['id']}", 204)
        call("DELETE", f"{base}/teams/{team['id']}", 204)
        assert session.get(Team, team["id"]) is None
        # the organisation and who is assigned to it stay with admins
        call("PATCH", base, 404, json={"name": "Renamed"})
        call("DELETE", base, 404, params={"confirm": "x"})
        call("GET", f"{base}/assignments", 404)
    events = session.exec(
        select(AuditEvent).where(col(AuditEvent.id) > since).order_by(col(AuditEvent.id))
    ).all()
    assert {event.actor_id for event in events} == {consultant.id}
    per_organisation = [
        "business_unit.created",
        "business_unit.created",
        "team.created",
        "team.changed",
        "business_unit.renamed",
        "business_unit.deleted",
        "team.deleted",
    ]
    assert [event.action for event in events if event.action != "assignment.added"] == [
        "organisation.created",
        *per_organisation,
        *per_organisation,
    ]
    assert session.exec(
        select(Membership).where(
            Membership.user_id == consultant.id, Membership.organisation_id == org["id"]
        )
    ).first()


def test_another_organisations_units_and_teams_are_404_for_a_consultant(
    app: FastAPI, client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    _consultants_set_up_clients(app)
    alpha, bravo = world["alpha"], world["bravo"]
    mine, theirs = f"/api/organisations/{alpha.org.id}", f"/api/organisations/{bravo.org.id}"
    since = _last_event_id(session)
    attempts: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", f"{theirs}/units", None),
        ("POST", f"{theirs}/units", {"name": "Smuggled"}),
        ("PATCH", f"{theirs}/units/{bravo.unit.id}", {"name": "Taken over"}),
        ("DELETE", f"{theirs}/units/{bravo.unit.id}", None),
        ("POST", f"{theirs}/teams", {"name": "Smuggled"}),
        ("PATCH", f"{theirs}/teams/{bravo.team.id}", {"name": "Taken over"}),
        ("DELETE", f"{theirs}/teams/{bravo.team.id}", None),
        # Bravo's ids under Alpha's path, in the path and in the body
        ("PATCH", f"{mine}/units/{bravo.unit.id}", {"name": "Taken over"}),
        ("DELETE", f"{mine}/teams/{bravo.team.id}", None),
        ("POST", f"{mine}/teams", {"name": "Smuggled", "business_unit_id": bravo.unit.id}),
        ("PATCH", f"{mine}/teams/{alpha.team.id}", {"business_unit_id": bravo.unit.id}),
    ]
    for method, path, body in attempts:
        response = client.request(method, path, json=body, headers=world["consultant"])
        assert response.status_code == 404, (method, path, response.text)
        assert "Bravo" not in response.text
    session.expire_all()
    assert session.get(Team, bravo.team.id).name == "Bravo Team"  # type: ignore[union-attr]
    assert session.get(BusinessUnit, bravo.unit.id).name == "Bravo Unit"  # type: ignore[union-attr]
    assert session.get(Team, alpha.team.id).business_unit_id == alpha.unit.id  # type: ignore[union-attr]
    assert session.exec(select(Team).where(Team.name == "Smuggled")).first() is None
    assert session.exec(select(BusinessUnit).where(BusinessUnit.name == "Smuggled")).first() is None
    assert _actions(session, since) == []
    # an admin keeps everything, Bravo included
    response = client.patch(
        f"{theirs}/teams/{bravo.team.id}", json={"name": "Bravo Core"}, headers=world["admin"]
    )
    assert response.status_code == 200
