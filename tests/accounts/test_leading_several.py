"""An organisation leader may lead several organisations: an admin gives one account the
leadership of each (admin page, API, command), every assignment audit-logged; the leader's
dashboards list offers each of them, and every dashboard, export, organisation report and API
call answers for the organisation chosen, while one they do not lead stays a 404."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from app import cli, cli_session, db
from app.accounts import api_tokens
from app.config import ROOT_DIR, Settings
from app.models import AuditEvent, Membership, Organisation, RoundResult, User, UserRole
from app.results import summaries
from app.rubric.answers_file import assess_file, read_answers_file
from app.rubric.output import to_data
from tests.accounts import helpers
from tests.reports import published


def _leader_of(session: Session, user: User) -> set[int]:
    return set(
        session.exec(
            select(Membership.organisation_id).where(
                Membership.user_id == user.id,
                Membership.role == UserRole.org_leader,
                col(Membership.team_id).is_(None),
            )
        ).all()
    )


def _added(session: Session, user: User) -> list[int | None]:
    return list(
        session.exec(
            select(AuditEvent.organisation_id)
            .where(AuditEvent.action == "assignment.added", AuditEvent.target_id == user.id)
            .order_by(col(AuditEvent.id))
        ).all()
    )


def test_an_admin_gives_one_leader_several_organisations_on_the_page_and_by_api(
    client: TestClient, session: Session, settings: Settings
) -> None:
    alpha = helpers.tenant(session, settings, "Alpha")
    bravo = helpers.tenant(session, settings, "Bravo")
    charlie = helpers.tenant(session, settings, "Charlie")
    leader = alpha.org_leader
    admin = helpers.user(session, UserRole.admin)
    signed = helpers.sign_in(session, settings, admin)
    token = api_tokens.create(session=session, settings=settings, user=admin, name="set-up")
    session.commit()
    page = client.post(
        f"/admin/organisations/{bravo.org.id}/assignments",
        data={"user_id": str(leader.id)},
        headers=signed.headers(),
    )
    assert page.status_code == 200, page.text[:300]
    assert "leads one organisation" not in page.text
    api = client.post(
        f"/api/organisations/{charlie.org.id}/assignments",
        json={"user_id": leader.id},
        headers={"authorization": f"Bearer {token.token}"},
    )
    assert api.status_code == 201, api.text
    assert api.json()["role"] == "org_leader"
    session.expire_all()
    assert _leader_of(session, leader) == {alpha.org.id, bravo.org.id, charlie.org.id}
    assert _added(session, leader) == [bravo.org.id, charlie.org.id]
    # each organisation's people list names the leader; the account page lists all three
    account = client.get(f"/admin/users/{leader.id}", headers=signed.headers())
    for org in (alpha.org, bravo.org, charlie.org):
        assert org.name in account.text
    # removing one leaves the others
    membership = session.exec(
        select(Membership).where(
            Membership.user_id == leader.id, Membership.organisation_id == bravo.org.id
        )
    ).one()
    removed = client.delete(
        f"/api/organisations/{bravo.org.id}/assignments/{membership.id}",
        headers={"authorization": f"Bearer {token.token}"},
    )
    assert removed.status_code == 204
    session.expire_all()
    assert _leader_of(session, leader) == {alpha.org.id, charlie.org.id}


def test_the_assign_command_gives_a_leader_a_second_organisation(
    fresh_database_url: str,
    make_settings: Callable[..., Settings],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings(fresh_database_url, data_dir=tmp_path / "data")
    monkeypatch.setattr(cli_session, "get_settings", lambda: settings)

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(cli.app, list(args))

    for name in ("Initech", "Globex"):
        assert invoke("org", "create", name).exit_code == 0
    made = invoke("user", "create", "lena@example.org", "--name", "Lena", "--role", "org_leader")
    assert made.exit_code == 0, made.stdout
    assert invoke("assign", "lena@example.org", "initech").exit_code == 0
    second = invoke("assign", "lena@example.org", "globex")
    assert second.exit_code == 0, second.stdout
    assert "Assigned lena@example.org to Globex." in " ".join(second.stdout.split())
    engine = db.create_db_engine(settings)
    try:
        with Session(engine) as session:
            user = session.exec(select(User).where(User.email == "lena@example.org")).one()
            slugs = {
                org.slug
                for org in session.exec(
                    select(Organisation).where(col(Organisation.id).in_(_leader_of(session, user)))
                ).all()
            }
            assert slugs == {"initech", "globex"}
            assert len(_added(session, user)) == 2
    finally:
        engine.dispose()


def _quick_check_result() -> dict[str, Any]:
    catalog = helpers.catalog()
    answers = read_answers_file(ROOT_DIR / "examples" / "quick-check.yaml", catalog)
    return to_data(catalog, assess_file(catalog, answers))


@pytest.fixture
def two_led(session: Session, settings: Settings) -> dict[str, Any]:
    """Alpha's leader also leads Charlie (not Bravo); each organisation has a published round."""
    tenants = {
        side: helpers.tenant(session, settings, side) for side in ("Alpha", "Bravo", "Charlie")
    }
    leader = tenants["Alpha"].org_leader
    helpers.assign(session, leader, tenants["Charlie"].org)
    data = _quick_check_result()
    for tenant in tenants.values():
        assert tenant.org.id is not None
        assert tenant.round.id is not None
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
        summaries.rebuild(session=session, organisation_id=tenant.org.id)
    signed = helpers.sign_in(session, settings, leader)
    token = api_tokens.create(session=session, settings=settings, user=leader, name="leader")
    session.commit()
    return {
        **tenants,
        "page": {**signed.headers(), "accept": "text/html"},
        "api": {"authorization": f"Bearer {token.token}", "accept": "application/json"},
    }


def test_the_dashboards_list_offers_each_organisation_the_leader_leads(
    client: TestClient, two_led: dict[str, Any]
) -> None:
    listed = client.get("/dashboards", headers=two_led["page"])
    assert listed.status_code == 200
    for side in ("Alpha", "Charlie"):
        org = two_led[side].org
        assert f'href="/organisations/{org.id}/dashboard">{org.name}</a>' in listed.text
    assert "Bravo" not in listed.text
    # the account API names the organisations the leader's token reaches
    me = client.get("/api/me", headers=two_led["api"])
    assert me.status_code == 200
    assert set(me.json()["organisation_ids"]) == {
        two_led["Alpha"].org.id,
        two_led["Charlie"].org.id,
    }


def test_every_organisation_view_answers_for_the_one_chosen_and_not_for_another(
    client: TestClient, two_led: dict[str, Any]
) -> None:
    page, api = two_led["page"], two_led["api"]
    for side in ("Alpha", "Charlie"):
        tenant = two_led[side]
        other = "Alpha" if side == "Charlie" else "Charlie"
        base = f"/organisations/{tenant.org.id}"
        dashboard = client.get(f"{base}/dashboard", headers=page)
        assert dashboard.status_code == 200
        assert tenant.org.name in dashboard.text
        assert f"{side} Team" in dashboard.text
        assert f"{other} Team" not in dashboard.text
        exported = client.get(f"{base}/exports/scores.csv", headers=page)
        assert exported.status_code == 200
        teams = {row["team"] for row in csv.DictReader(io.StringIO(exported.text))}
        assert teams == {f"{side} Team"}
        by_api = client.get(f"/api{base}/dashboard", headers=api)
        assert by_api.status_code == 200
        assert f"{other} Team" not in by_api.text
        assert client.get(f"/api{base}/teams", headers=api).status_code == 200
    # the one PDF: Charlie's organisation report, made for the leader of Alpha and Charlie
    report = client.get(f"/organisations/{two_led['Charlie'].org.id}/report.pdf", headers=page)
    assert report.status_code == 200
    assert report.content.startswith(b"%PDF")
    bravo = two_led["Bravo"]
    base = f"/organisations/{bravo.org.id}"
    for path, headers in (
        (f"{base}/dashboard", page),
        (f"{base}/exports", page),
        (f"{base}/exports/scores.csv", page),
        (f"{base}/report.pdf", page),
        (f"/api{base}/dashboard", api),
        (f"/api{base}/teams", api),
        (f"/api{base}/report.pdf", api),
        (f"/teams/{bravo.team.id}", page),
    ):
        answer = client.get(path, headers=headers)
        assert answer.status_code == 404, path
        assert "Bravo" not in answer.text, path
