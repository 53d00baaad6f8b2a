"""Bulk set-up pages: upload, preview (a bad line refused, named, nothing written), confirm,
the links shown once; and many rounds started from one form, with their links as CSV."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from app.config import Settings
from app.models import AssessmentRound, Team, UserRole
from tests.accounts import helpers
from tests.rendered import page_of

FILE = (
    "unit,team,lead_email,lead_name\n"
    "Payments,,,\n"
    "Payments,Ledger,ada@example.org,Ada Lovelace\n"
    "Payments,Billing,,\n"
)


@pytest.fixture(autouse=True)
def consultants_set_up_clients(app: FastAPI) -> None:
    """The installation lets consultants set up client organisations (off by default)."""
    app.state.settings = app.state.settings.model_copy(
        update={"consultants_create_organisations": True}
    )


@pytest.fixture
def signed_in(session: Session, settings: Settings) -> dict[str, Any]:
    alpha = helpers.tenant(session, settings, "Alpha")
    bravo = helpers.tenant(session, settings, "Bravo")
    consultant = helpers.sign_in(session, settings, alpha.consultant)
    leader = helpers.sign_in(session, settings, alpha.org_leader)
    session.commit()
    return {"alpha": alpha, "bravo": bravo, "consultant": consultant, "leader": leader}


def _teams(session: Session, org_id: int) -> int:
    session.expire_all()
    return int(
        session.exec(
            select(func.count()).select_from(Team).where(Team.organisation_id == org_id)
        ).one()
    )


def test_upload_preview_confirm_and_start_the_rounds(
    client: TestClient, session: Session, signed_in: dict[str, Any]
) -> None:
    alpha = signed_in["alpha"]
    headers = signed_in["consultant"].headers()
    base = f"/organisations/{alpha.org.id}"
    assert client.get(f"{base}/import", headers=headers).status_code == 200
    before = _teams(session, alpha.org.id)

    bad = FILE + "Paymnts,Fraud,,\n"
    preview = client.post(
        f"{base}/import/preview", files={"file": ("teams.csv", bad, "text/csv")}, headers=headers
    )
    assert preview.status_code == 400
    plan = page_of(preview).plan
    assert [row.line for row in plan.errors] == [5]
    assert "did you mean 'Payments'?" in (plan.errors[0].error or "")
    assert page_of(preview).csv_text == ""  # nothing to confirm
    assert _teams(session, alpha.org.id) == before

    preview = client.post(
        f"{base}/import/preview", files={"file": ("teams.csv", FILE, "text/csv")}, headers=headers
    )
    assert preview.status_code == 200
    assert page_of(preview).plan.ok
    assert _teams(session, alpha.org.id) == before  # the preview wrote nothing

    done = client.post(
        f"{base}/import", data={"csv_text": page_of(preview).csv_text}, headers=headers
    )
    assert done.status_code == 200, done.text
    links = page_of(done).result.password_links
    assert [link.email for link in links] == ["ada@example.org"]
    assert links[0].url in done.text
    assert _teams(session, alpha.org.id) == before + 2

    form = page_of(client.get(f"{base}/rounds/new", headers=headers))
    payments = next(unit for unit in form.units if unit.name == "Payments")
    started = client.post(
        f"{base}/rounds",
        data={
            "unit_ids": [str(payments.id)],
            "mode": "team_survey",
            "kind": "quick",
            "stage": "prototype",
        },
        headers=headers,
    )
    assert started.status_code == 200, started.text
    page = page_of(started)
    assert sorted(item.team_name for item in page.started) == ["Billing", "Ledger"]
    rounds = session.exec(
        select(AssessmentRound).where(
            col(AssessmentRound.id).in_([i.round_id for i in page.started])
        )
    ).all()
    assert {r.kind for r in rounds} == {"quick"}
    download = client.post(
        f"{base}/rounds/links.csv", data={"links": page.links_csv}, headers=headers
    )
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment")
    assert len(download.text.splitlines()) == 1 + 2 * 4  # the header, 4 roles of 2 teams


def test_a_refused_round_starts_none_and_others_are_hidden(
    client: TestClient, session: Session, signed_in: dict[str, Any]
) -> None:
    alpha, bravo = signed_in["alpha"], signed_in["bravo"]
    headers = signed_in["consultant"].headers()
    count = select(func.count()).select_from(AssessmentRound)
    before = session.exec(count).one()
    refused = client.post(
        f"/organisations/{alpha.org.id}/rounds",
        data={"team_ids": [str(alpha.team.id), str(alpha.other_team.id)], "stage": "nowhere"},
        headers=headers,
    )
    assert refused.status_code == 400
    other = client.post(
        f"/organisations/{alpha.org.id}/rounds",
        data={"team_ids": [str(alpha.team.id), str(bravo.team.id)], "stage": "operating"},
        headers=headers,
    )
    assert other.status_code == 404
    for path in ("import", "rounds/new"):
        assert (
            client.get(f"/organisations/{bravo.org.id}/{path}", headers=headers).status_code == 404
        )
        leader = signed_in["leader"].headers()
        assert (
            client.get(f"/organisations/{alpha.org.id}/{path}", headers=leader).status_code == 404
        )
    session.expire_all()
    assert session.exec(count).one() == before


def test_without_the_setting_consultants_cannot_import_but_admins_can(
    app: FastAPI,
    client: TestClient,
    session: Session,
    signed_in: dict[str, Any],
    settings: Settings,
) -> None:
    app.state.settings = app.state.settings.model_copy(
        update={"consultants_create_organisations": False}
    )
    alpha = signed_in["alpha"]
    admin = helpers.sign_in(session, settings, helpers.user(session, UserRole.admin))
    session.commit()
    consultant = signed_in["consultant"].headers()
    for path in ("/organisations/{}/import", "/api/organisations/{}/import.csv"):
        assert client.get(path.format(alpha.org.id), headers=consultant).status_code == 404
        assert client.get(path.format(alpha.org.id), headers=admin.headers()).status_code == 200
    # starting rounds is not setting organisations up: consultants always may
    assert (
        client.get(f"/organisations/{alpha.org.id}/rounds/new", headers=consultant).status_code
        == 200
    )
