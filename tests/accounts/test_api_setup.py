"""Setting an organisation up through the API (admins, like the admin pages): organisations,
units and teams created, renamed, moved and deleted, people assigned and unassigned, each
through the pages' service with its audit event; ids of another organisation, in the path or
in the body, are 404 and change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.accounts import api_tokens
from app.config import Settings
from app.models import AuditEvent, BusinessUnit, Membership, Organisation, Team, UserRole
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


def test_only_admins_set_up_organisations(
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
    ]
    assert [r.status_code for r in refused] == [404, 404]
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
