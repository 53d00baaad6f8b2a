"""Bulk set-up through the API: preview, import (all or nothing, idempotent), export, and many
rounds at once; on both databases. Another organisation's id is a 404 for every endpoint."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from app.accounts import api_tokens, bulk_setup
from app.config import Settings
from app.models import (
    AssessmentRound,
    AuditEvent,
    BusinessUnit,
    Membership,
    Team,
    User,
    UserRole,
)
from tests.accounts import helpers

GOOD = (
    "unit,team,lead_email,lead_name\n"
    "Payments,,,\n"
    "Search,,,\n"
    "Payments,Ledger,ada@example.org,Ada Lovelace\n"
    "Payments,Billing,ada@example.org,\n"
    "Search,Ranking,grace@example.org,Grace Hopper\n"
    "Search,=Crawl,,\n"
    "Search,@Home,,\n"
)


@pytest.fixture(autouse=True)
def consultants_set_up_clients(app: FastAPI) -> None:
    """The installation lets consultants set up client organisations (off by default)."""
    app.state.settings = app.state.settings.model_copy(
        update={"consultants_create_organisations": True}
    )


@pytest.fixture
def world(session: Session, settings: Settings) -> dict[str, Any]:
    alpha = helpers.tenant(session, settings, "Alpha")
    bravo = helpers.tenant(session, settings, "Bravo")
    admin = helpers.user(session, UserRole.admin, email="root@example.org")

    def bearer(user: User) -> dict[str, str]:
        token = api_tokens.create(session=session, settings=settings, user=user, name="t")
        return {"authorization": f"Bearer {token.token}"}

    headers = {
        "admin": bearer(admin),
        "consultant": bearer(alpha.consultant),
        "org_leader": bearer(alpha.org_leader),
        "team_lead": bearer(alpha.team_lead),
    }
    session.commit()
    return {"alpha": alpha, "bravo": bravo, "admin": admin, "headers": headers}


def _post_csv(client: TestClient, path: str, text: str | bytes, headers: dict[str, str]) -> Any:
    body = text.encode() if isinstance(text, str) else text
    return client.post(path, content=body, headers={**headers, "content-type": "text/csv"})


def _counts(session: Session, org_id: int) -> tuple[int, int, int, int]:
    def count(model: Any, *where: Any) -> int:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())

    return (
        count(BusinessUnit, BusinessUnit.organisation_id == org_id),
        count(Team, Team.organisation_id == org_id),
        count(Membership, Membership.organisation_id == org_id),
        count(User),
    )


def test_a_consultant_previews_imports_and_imports_again(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    org = world["alpha"].org
    headers = world["headers"]["consultant"]
    base = f"/api/organisations/{org.id}"
    before = _counts(session, org.id)

    preview = _post_csv(client, f"{base}/import/preview", GOOD, headers)
    assert preview.status_code == 200, preview.text
    plan = preview.json()
    assert plan["ok"] is True
    assert [row["line"] for row in plan["rows"]] == [2, 3, 4, 5, 6, 7, 8]
    assert "will be created" in plan["rows"][0]["outcome"]
    assert (plan["units_created"], plan["teams_created"], plan["leads_created"]) == (2, 5, 2)
    assert _counts(session, org.id) == before  # a preview writes nothing

    done = _post_csv(client, f"{base}/import", GOOD, headers)
    assert done.status_code == 201, done.text
    links = {item["email"]: item["url"] for item in done.json()["password_links"]}
    assert set(links) == {"ada@example.org", "grace@example.org"}
    assert all("/reset/" in url for url in links.values())
    session.expire_all()
    units, teams, memberships, accounts = _counts(session, org.id)
    assert (units, teams) == (before[0] + 2, before[1] + 5)
    assert memberships == before[2] + 3
    assert accounts == before[3] + 2
    for name in ("=Crawl", "@Home"):  # stored as text, as typed
        assert session.exec(select(Team).where(Team.name == name)).one().organisation_id == org.id
    actions = session.exec(select(AuditEvent.action).where(AuditEvent.organisation_id == org.id))
    assert "setup.imported" in set(actions)

    again = _post_csv(client, f"{base}/import", GOOD, headers)
    assert again.status_code == 201
    assert again.json()["password_links"] == []  # never a second link
    plan = again.json()["plan"]
    assert (plan["units_created"], plan["teams_created"], plan["leads_created"]) == (0, 0, 0)
    session.expire_all()
    assert _counts(session, org.id) == (units, teams, memberships, accounts)

    shorter = "unit,team\nPayments,Ledger\n"  # rows left out are never deleted
    assert _post_csv(client, f"{base}/import", shorter, headers).status_code == 201
    session.expire_all()
    assert _counts(session, org.id) == (units, teams, memberships, accounts)

    exported = client.get(f"{base}/import.csv", headers=headers)
    assert exported.status_code == 200
    assert "'=Crawl" in exported.text  # neutralised for spreadsheets, read back as =Crawl
    assert "'@Home" in exported.text
    round_trip = _post_csv(client, f"{base}/import/preview", exported.text, headers).json()
    assert round_trip["ok"]
    assert (round_trip["units_created"], round_trip["teams_created"]) == (0, 0)
    assert round_trip["leads_created"] == 0


def test_one_bad_line_refuses_the_whole_file(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    org = world["alpha"].org
    headers = world["headers"]["admin"]
    bad = GOOD + "Paymnts,Fraud,,\n"
    before = _counts(session, org.id)
    preview = _post_csv(client, f"/api/organisations/{org.id}/import/preview", bad, headers)
    errors = [row["error"] for row in preview.json()["rows"] if row["error"]]
    assert errors == [
        "line 9: unit 'Paymnts' does not exist — did you mean 'Payments'? "
        "(declare it on a line of its own, with no team)"
    ]
    refused = _post_csv(client, f"/api/organisations/{org.id}/import", bad, headers)
    assert refused.status_code == 400
    assert refused.json()["detail"].startswith("line 9: unit 'Paymnts' does not exist")
    session.expire_all()
    assert _counts(session, org.id) == before


BAD_FILES = [
    ("unit,team\nCafé,\n".encode("latin-1"), "not UTF-8"),
    (b"name,size\nx,1\n", "first line must name the columns"),
    (
        ("team\n" + "".join(f"T{n}\n" for n in range(bulk_setup.MAX_ROWS + 1))).encode(),
        f"more than {bulk_setup.MAX_ROWS} rows",
    ),
]


def test_bad_files_are_refused_with_nothing_changed(
    client: TestClient, session: Session, world: dict[str, Any], settings: Settings
) -> None:
    org = world["alpha"].org
    before = _counts(session, org.id)
    path = f"/api/organisations/{org.id}/import"
    for body, message in BAD_FILES:
        answer = _post_csv(client, path, body, world["headers"]["admin"])
        assert answer.status_code == 400
        assert message in answer.json()["detail"]
    too_big = b"team\n" + b"x" * (settings.max_body_bytes + 1)
    assert _post_csv(client, path, too_big, world["headers"]["admin"]).status_code == 413
    session.expire_all()
    assert _counts(session, org.id) == before


def test_an_existing_account_is_only_assigned_never_given_a_link_or_role(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    alpha, bravo = world["alpha"], world["bravo"]
    text = (
        "team,lead_email\n"
        f"Alpha Team,{world['admin'].email}\n"  # an administrator as a lead
        f"Alpha Team,{bravo.consultant.email}\n"  # another organisation's consultant
        f"Alpha Second Team,{alpha.team_lead.email}\n"  # an existing team lead
    )
    memberships_before = session.exec(
        select(Membership.id).where(col(Membership.user_id) != alpha.team_lead.id)
    ).all()
    answer = _post_csv(
        client, f"/api/organisations/{alpha.org.id}/import", text, world["headers"]["admin"]
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["password_links"] == []
    outcomes = [row["outcome"] for row in answer.json()["plan"]["rows"]]
    for outcome in outcomes[:2]:  # the same words for every role: nothing told about it
        assert "has an account that is not an active team lead's: left unchanged" in outcome
    session.expire_all()
    assert session.get(User, world["admin"].id).role == UserRole.admin  # type: ignore[union-attr]
    assert session.get(User, bravo.consultant.id).role == UserRole.consultant  # type: ignore[union-attr]
    assert (
        session.exec(
            select(Membership.id).where(col(Membership.user_id) != alpha.team_lead.id)
        ).all()
        == memberships_before
    )
    led = session.exec(
        select(Membership.team_id).where(Membership.user_id == alpha.team_lead.id)
    ).all()
    assert set(led) == {alpha.team.id, alpha.other_team.id}


def test_many_rounds_at_once_for_a_unit_and_a_selection(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    alpha = world["alpha"]
    headers = world["headers"]["consultant"]
    path = f"/api/organisations/{alpha.org.id}/rounds"
    answer = client.post(
        path,
        json={
            "mode": "team_survey",
            "stage": "operating",
            "unit_id": alpha.unit.id,
            "team_ids": [alpha.other_team.id],
        },
        headers=headers,
    )
    assert answer.status_code == 201, answer.text
    started = answer.json()["rounds"]
    assert {item["team_id"] for item in started} == {alpha.team.id, alpha.other_team.id}
    assert all(len(item["links"]) == 4 for item in started)
    csv_lines = answer.json()["links_csv"].splitlines()
    assert csv_lines[0] == "team,round_id,role,url"
    assert len(csv_lines) == 9
    events = session.exec(
        select(AuditEvent.action).where(AuditEvent.organisation_id == alpha.org.id)
    ).all()
    assert events.count("rounds.started_together") == 1
    assert events.count("round.created") >= 2
    session.expire_all()
    for item in started:
        stored = session.get(AssessmentRound, item["round_id"])
        assert stored is not None
        assert stored.team_id == item["team_id"]

    refused = client.post(
        path,
        json={"mode": "team_survey", "stage": "nowhere", "team_ids": [alpha.team.id]},
        headers=headers,
    )
    assert refused.status_code == 422
    empty = client.post(path, json={"mode": "solo", "stage": "operating"}, headers=headers)
    assert empty.status_code == 400


ENDPOINTS = [
    ("POST", "/api/organisations/{org}/import/preview", "team\nX\n"),
    ("POST", "/api/organisations/{org}/import", "team\nX\n"),
    ("GET", "/api/organisations/{org}/import.csv", None),
    ("POST", "/api/organisations/{org}/rounds", None),
]


def _cases(alpha: Any, bravo: Any, role: str) -> list[tuple[str, str, Any]]:
    """(method, path, body) that must be 404 for ``role``: bravo's organisation (except for
    an admin, who sees it), and for those who may start rounds in alpha, bravo's team or unit
    named in alpha's request body."""
    cases: list[tuple[str, str, Any]] = []
    if role != "admin":
        cases += [
            ("POST", f"/api/organisations/{bravo.org.id}/import/preview", "team\nX\n"),
            ("POST", f"/api/organisations/{bravo.org.id}/import", "team\nX\n"),
            ("GET", f"/api/organisations/{bravo.org.id}/import.csv", None),
            (
                "POST",
                f"/api/organisations/{bravo.org.id}/rounds",
                {"mode": "solo", "stage": "operating", "team_ids": [bravo.team.id]},
            ),
        ]
    in_alpha = f"/api/organisations/{alpha.org.id}/rounds"
    cases += [
        ("POST", in_alpha, {"mode": "solo", "stage": "operating", "team_ids": [bravo.team.id]}),
        ("POST", in_alpha, {"mode": "solo", "stage": "operating", "unit_id": bravo.unit.id}),
    ]
    return cases


def test_another_organisations_ids_are_404_for_every_role(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    alpha, bravo = world["alpha"], world["bravo"]
    before = _counts(session, bravo.org.id), _counts(session, alpha.org.id)
    walk = [
        (who, headers, case)
        for who, headers in world["headers"].items()
        for case in _cases(alpha, bravo, who)
    ]
    for role, headers, (method, path, body) in walk:
        if isinstance(body, str):
            answer = _post_csv(client, path, body, headers)
        elif method == "GET":
            answer = client.get(path, headers=headers)
        else:
            answer = client.post(path, json=body, headers=headers)
        assert answer.status_code == 404, (role, method, path, answer.text)
    session.expire_all()
    assert (_counts(session, bravo.org.id), _counts(session, alpha.org.id)) == before
