"""Admin pages and services: organisations, units, teams, users, assignments, deletion with
everything under it, respondent export and erasure (with recomputed results), the audit log."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.accounts import audit
from app.config import APP_DIR
from app.models import (
    AssessmentRound,
    AuditEvent,
    BusinessUnit,
    Membership,
    Organisation,
    Respondent,
    Response,
    RoundResult,
    Team,
    User,
    UserRole,
)
from app.results import service as results_service
from tests import factories
from tests.accounts import helpers


def _admin(session: Session, settings: Any) -> helpers.SignedIn:
    admin = helpers.user(session, UserRole.admin, name="Ada Admin")
    signed = helpers.sign_in(session, settings, admin)
    session.commit()
    return signed


def test_admin_builds_an_organisation_and_assigns_people(
    client: TestClient, session: Session, settings: Any
) -> None:
    admin = _admin(session, settings)
    headers = admin.headers()
    created = client.post("/admin/organisations", data={"name": "Globex"}, headers=headers)
    assert created.status_code == 200
    org = session.exec(select(Organisation).where(Organisation.name == "Globex")).one()
    page = f"/admin/organisations/{org.id}"
    assert (
        client.post(f"{page}/units", data={"name": "Research"}, headers=headers).status_code == 200
    )
    unit = session.exec(select(BusinessUnit).where(BusinessUnit.organisation_id == org.id)).one()
    client.post(f"{page}/teams", data={"name": "Vision", "unit_id": str(unit.id)}, headers=headers)
    team = session.exec(select(Team).where(Team.organisation_id == org.id)).one()
    assert team.business_unit_id == unit.id
    # duplicate names are refused with a message, not a crash
    again = client.post(f"{page}/teams", data={"name": "Vision"}, headers=headers)
    assert again.status_code == 409
    assert "already used" in again.text
    client.post(
        "/admin/users",
        data={"email": "Lead@Example.org", "display_name": "Lee", "role": "team_lead"},
        headers=headers,
    )
    lead = session.exec(select(User).where(User.email == "lead@example.org")).one()
    assigned = client.post(
        f"{page}/assignments",
        data={"user_id": str(lead.id), "team_id": str(team.id)},
        headers=headers,
    )
    assert assigned.status_code == 200
    membership = session.exec(select(Membership).where(Membership.user_id == lead.id)).one()
    assert membership.team_id == team.id
    assert membership.role == "team_lead"
    # the team lead now sees the team, and only that
    lead_session = helpers.sign_in(session, settings, lead)
    session.commit()
    client.cookies.clear()
    teams = client.get("/teams", headers=lead_session.headers())
    assert [t.name for g in teams.context["page"].groups for t in g.teams] == ["Vision"]  # type: ignore[attr-defined]
    client.cookies.clear()
    assert client.get(f"/organisations/{org.id}", headers=lead_session.headers()).status_code == 404
    actions = {e.action for e in session.exec(select(AuditEvent)).all()}
    assert {
        "organisation.created",
        "business_unit.created",
        "team.created",
        "user.created",
        "assignment.added",
    } <= actions


def test_reset_link_and_token_are_shown_once(
    client: TestClient, session: Session, settings: Any
) -> None:
    admin = _admin(session, settings)
    person = helpers.user(session, UserRole.consultant)
    session.commit()
    link_page = client.post(f"/admin/users/{person.id}/reset-link", headers=admin.headers())
    link = link_page.context["page"].reset_link  # type: ignore[attr-defined]
    assert link.startswith(settings.base_url + "/reset/")
    assert link_page.headers["cache-control"] == "no-store"
    again = client.get(f"/admin/users/{person.id}", headers=admin.headers())
    assert link not in again.text
    made = client.post(
        f"/admin/users/{person.id}/tokens", data={"name": "etl"}, headers=admin.headers()
    )
    token = made.context["page"].new_token  # type: ignore[attr-defined]
    assert token.startswith("pl_")
    client.cookies.clear()
    me = client.get("/api/me", headers={"authorization": f"Bearer {token}"})
    assert me.json()["email"] == person.email


def test_role_change_drops_assignments(client: TestClient, session: Session, settings: Any) -> None:
    admin = _admin(session, settings)
    tenant = helpers.tenant(session, settings, "Roles")
    session.commit()
    response = client.post(
        f"/admin/users/{tenant.consultant.id}/role",
        data={"role": "team_lead"},
        headers=admin.headers(),
    )
    assert response.status_code == 200
    assert (
        session.exec(select(Membership).where(Membership.user_id == tenant.consultant.id)).all()
        == []
    )


def test_deleting_an_organisation_deletes_everything_under_it(
    client: TestClient, session: Session, settings: Any
) -> None:
    admin = _admin(session, settings)
    doomed = helpers.tenant(session, settings, "Doomed")
    kept = helpers.tenant(session, settings, "Kept")
    session.commit()
    org_id, round_id = doomed.org.id, doomed.round.id
    refused = client.post(
        f"/admin/organisations/{org_id}/delete", data={"confirm": "nope"}, headers=admin.headers()
    )
    assert refused.status_code == 400
    done = client.post(
        f"/admin/organisations/{org_id}/delete",
        data={"confirm": doomed.org.slug},
        headers=admin.headers(),
    )
    assert done.status_code == 200
    session.expire_all()
    assert session.get(Organisation, org_id) is None
    assert session.exec(select(Team).where(Team.organisation_id == org_id)).all() == []
    assert session.get(AssessmentRound, round_id) is None
    assert session.exec(select(Respondent).where(Respondent.round_id == round_id)).all() == []
    assert session.exec(select(Membership).where(Membership.organisation_id == org_id)).all() == []
    # the people stay (they may work elsewhere); the other organisation is untouched
    assert session.get(User, doomed.team_lead.id) is not None
    assert session.get(Team, kept.team.id) is not None
    record = session.exec(
        select(AuditEvent).where(AuditEvent.action == "organisation.deleted")
    ).one()
    assert record.organisation_id == org_id
    assert record.details["respondents"] == 1


def test_deleting_a_team(client: TestClient, session: Session, settings: Any) -> None:
    admin = _admin(session, settings)
    tenant = helpers.tenant(session, settings, "TeamGone")
    session.commit()
    team_id, round_id = tenant.team.id, tenant.round.id
    client.post(
        f"/admin/organisations/{tenant.org.id}/teams/{team_id}/delete", headers=admin.headers()
    )
    session.expire_all()
    assert session.get(Team, team_id) is None
    assert session.get(AssessmentRound, round_id) is None
    assert session.get(Team, tenant.other_team.id) is not None


def test_erasing_a_respondent_drops_results_and_keeps_no_personal_data(
    client: TestClient, session: Session, settings: Any
) -> None:
    admin = _admin(session, settings)
    tenant = helpers.tenant(session, settings, "Erase")
    catalog = helpers.catalog()
    answers = {"trajectory.t_goal": "goal_first"}
    first = factories.submitted_response(session, tenant.round, "ml_engineer", answers)
    factories.submitted_response(session, tenant.round, "data_scientist", answers)
    results_service.store_round_result(
        session=session, assessment_round=tenant.round, catalog=catalog
    )
    session.commit()
    respondent_id, response_id = first.respondent_id, first.id
    before = session.exec(select(RoundResult).where(RoundResult.round_id == tenant.round.id)).one()
    assert before.respondent_count == 2
    # export by the admin, then erase
    exported = client.get(f"/admin/respondents/{respondent_id}/export", headers=admin.headers())
    assert exported.status_code == 200
    assert json.loads(exported.text)["response"]["answers"]
    erased = client.post(f"/admin/respondents/{respondent_id}/erase", headers=admin.headers())
    assert erased.status_code == 200
    session.expire_all()
    assert session.get(Respondent, respondent_id) is None
    assert session.get(Response, response_id) is None
    # the survey is open: nothing is published until it closes, so nothing is recomputed
    after = session.exec(select(RoundResult).where(RoundResult.round_id == tenant.round.id))
    assert after.first() is None
    events = session.exec(
        select(AuditEvent).where(
            col(AuditEvent.action).in_(["respondent.erased", "respondent.exported"])
        )
    ).all()
    assert len(events) == 2
    assert all("goal_first" not in str(event.details) for event in events)


def test_respondent_erases_by_resume_link(
    client: TestClient, session: Session, settings: Any
) -> None:
    tenant = helpers.tenant(session, settings, "Self")
    session.commit()
    page = client.get(f"/privacy/{tenant.resume_token}")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    export = client.get(f"/privacy/{tenant.resume_token}/export")
    assert export.json()["respondent"]["id"] == tenant.respondent.id
    done = client.post(f"/privacy/{tenant.resume_token}/erase", data={"csrf_token": token[1]})
    assert done.status_code == 200
    assert client.get(f"/privacy/{tenant.resume_token}").status_code == 404
    # wrong links answer like missing ones
    assert client.get("/privacy/not-a-real-link").status_code == 404


def test_audit_log_is_append_only_and_admin_only(
    client: TestClient, session: Session, settings: Any
) -> None:
    event = audit.record(
        session=session,
        action="test.event",
        details={"password": "hunter2hunter2", "token": "abc", "answers": {"q": 1}, "kept": "yes"},
    )
    assert event.details == {"kept": "yes"}
    admin = _admin(session, settings)
    page = client.get("/admin/audit", headers=admin.headers())
    assert page.status_code == 200
    assert any(row.action == "test.event" for row in page.context["page"].log.rows)  # type: ignore[attr-defined]
    lead = helpers.sign_in(session, settings, helpers.user(session, UserRole.team_lead))
    session.commit()
    client.cookies.clear()
    assert client.get("/admin/audit", headers=lead.headers()).status_code == 404
    # no code path updates or deletes audit rows
    offenders = []
    for path in Path(APP_DIR).rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"(update|delete)\(\s*(models\.)?AuditEvent", text):
            offenders.append(str(path))
    assert offenders == []


def test_empty_states(client: TestClient, session: Session, settings: Any) -> None:
    admin = _admin(session, settings)
    for path in (
        "/admin",
        "/admin/users",
        "/admin/audit",
        "/admin/respondents",
        "/teams",
        "/account",
    ):
        client.cookies.clear()
        assert client.get(path, headers=admin.headers()).status_code == 200
    lonely = helpers.sign_in(session, settings, helpers.user(session, UserRole.consultant))
    session.commit()
    client.cookies.clear()
    page = client.get("/teams", headers=lonely.headers())
    assert "Ask your administrator" in page.text


def test_ids_beyond_the_database_range_are_not_found(
    client: TestClient, session: Session, settings: Any
) -> None:
    """PostgreSQL keys are 32-bit: a huge id in a URL is a 404, not a driver error."""
    admin = _admin(session, settings)
    huge = str(2**63 - 5)
    for path in (
        f"/api/organisations/{huge}",
        f"/api/teams/{huge}",
        f"/admin/users/{huge}",
        f"/admin/organisations/{huge}",
        f"/admin/respondents/{huge}/export",
        "/admin/organisations/0",
    ):
        client.cookies.clear()
        assert client.get(path, headers=admin.headers()).status_code == 404, path
    client.cookies.clear()
    assert client.delete(f"/api/tokens/{huge}", headers=admin.headers()).status_code == 404
