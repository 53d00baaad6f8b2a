"""Starting rounds for every team of an organisation in one tick: the page's 'Every team of this
organisation' starts one for each of its teams (in a unit or not) and none elsewhere, and the
page of started rounds links to the organisation's dashboard."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.config import Settings
from app.models import AssessmentRound, Team
from tests.accounts import helpers
from tests.rendered import page_of


@pytest.fixture(autouse=True)
def consultants_set_up_clients(app: FastAPI) -> None:
    app.state.settings = app.state.settings.model_copy(
        update={"consultants_create_organisations": True}
    )


def test_every_team_of_the_organisation_in_one_tick(
    client: TestClient, session: Session, settings: Settings
) -> None:
    alpha = helpers.tenant(session, settings, "Alpha")
    bravo = helpers.tenant(session, settings, "Bravo")
    loose = Team(organisation_id=alpha.org.id or 0, name="No unit")  # in no business unit
    session.add(loose)
    consultant = helpers.sign_in(session, settings, alpha.consultant)
    session.commit()
    headers = consultant.headers()
    base = f"/organisations/{alpha.org.id}"
    teams = session.exec(select(Team.id).where(Team.organisation_id == alpha.org.id)).all()
    assert len(teams) >= 3

    form = client.get(f"{base}/rounds/new", headers=headers)
    assert f"Every team of this organisation ({len(teams)})" in form.text
    started = client.post(
        f"{base}/rounds",
        data={"all_teams": "1", "mode": "team_survey", "kind": "quick", "stage": "operating"},
        headers=headers,
    )
    assert started.status_code == 200, started.text
    page = page_of(started)
    assert sorted(item.team_id for item in page.started) == sorted(team or 0 for team in teams)
    assert f'href="{base}/dashboard"' in started.text
    new = session.exec(
        select(AssessmentRound).where(
            col(AssessmentRound.id).in_([item.round_id for item in page.started])
        )
    ).all()
    assert {r.team_id for r in new} == set(teams)
    assert bravo.team.id not in {r.team_id for r in new}
