"""Dashboard pages, their CSV downloads, the exports and the API twins, as each role sees them."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import lxml.html
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.accounts import api_tokens
from app.config import Settings
from app.dashboards import exports, views
from app.models import AuditEvent, UserRole
from tests.accounts import helpers as account_helpers
from tests.dashboards import helpers


@pytest.fixture
def world(session: Session) -> helpers.World:
    built = helpers.world(session)
    session.commit()
    return built


def signed_in(
    session: Session, settings: Settings, world: helpers.World, role: UserRole
) -> dict[str, str]:
    _, who = helpers.viewer(session, settings, world.organisation, role)
    return {**who.headers(), "accept": "text/html"}


def page_of(response: Any) -> views.DashboardPage:
    assert response.status_code == 200, response.text[:500]
    page: views.DashboardPage = response.context["page"]
    return page


def test_the_dashboard_page_shows_every_view_as_chart_and_table(
    client: TestClient, session: Session, settings: Settings, world: helpers.World
) -> None:
    headers = signed_in(session, settings, world, UserRole.org_leader)
    response = client.get(f"/organisations/{world.id}/dashboard", headers=headers)
    page = page_of(response)
    assert [section.id for section in page.sections] == list(views.VIEW_IDS)
    teams = next(section for section in page.sections if section.id == "teams")
    names = [row[0] for row in teams.table.rows]
    assert "Atlas" in names
    assert "Fjord" not in names
    assert page.hidden_reason is not None
    assert page.rubric_note is None  # every team scored under the newest rubric: no note
    document = lxml.html.fromstring(response.text)
    assert document.xpath("//p[@data-older-rubric]") == []
    # no inline script: only our files and JSON data blocks (the CSP allows nothing else)
    for script in document.xpath("//script"):
        assert script.get("src") or script.get("type") == "application/json"
    figures = {
        node.get("id"): json.loads(node.text_content())
        for node in document.xpath("//script[@type='application/json']")
    }
    heatmap = figures["chart-teams-figure"]
    assert heatmap["data"][0]["type"] == "heatmap"
    assert heatmap["data"][0]["y"] == names  # the chart's rows are the table's
    # the drill-down: the table links each team to its results page, and so does the chart
    links = [link for link in teams.table.links if link]
    assert len(links) == len(names)
    assert heatmap["data"][0]["customdata"][0][0] == links[0]
    opened = client.get(links[0], headers=headers)
    assert opened.status_code == 200
    # the table view: the same numbers as the chart
    z = heatmap["data"][0]["z"]
    score_columns = [
        i
        for i, c in enumerate(teams.table.columns)
        if c.title.endswith(" score") and "mean" not in c.title
    ]
    for row, values in zip(teams.table.rows, z, strict=True):
        assert [row[i] for i in score_columns] == values
    # every table is on the page, so readers without JavaScript get the data
    for section in page.sections:
        if section.table.rows:
            assert document.get_element_by_id(f"{section.id}-table") is not None


def test_each_view_downloads_exactly_its_table_as_csv(
    client: TestClient, session: Session, settings: Settings, world: helpers.World
) -> None:
    headers = signed_in(session, settings, world, UserRole.consultant)
    page = page_of(client.get(f"/organisations/{world.id}/dashboard", headers=headers))
    for section in page.sections:
        response = client.get(section.csv_url, headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(response.text)))
        assert rows[0] == [column.title for column in section.table.columns]
        expected = [[exports.csv_cell(value) for value in row] for row in section.table.rows]
        assert rows[1:] == expected, section.id


def test_filters_come_from_the_query_string(
    client: TestClient, session: Session, settings: Settings, world: helpers.World
) -> None:
    headers = signed_in(session, settings, world, UserRole.org_leader)
    base = f"/organisations/{world.id}/dashboard"
    north = page_of(client.get(f"{base}?unit={world.units['North'].id}", headers=headers))
    teams = next(s for s in north.sections if s.id == "teams")
    assert {row[1] for row in teams.table.rows} == {"North"}
    assert north.form.active == ("Business unit: North",)
    # malformed values are ignored, not errors
    ignored = client.get(f"{base}?from=yesterday&band=%3D1&page=-4&model=DROP", headers=headers)
    assert ignored.status_code == 200
    # a business unit of another organisation is answered like a missing one
    other = helpers.factories.organisation(session, name="Other Org")
    foreign = helpers.unit(session, other, "Elsewhere")
    session.commit()
    assert client.get(f"{base}?unit={foreign.id}", headers=headers).status_code == 404
    hidden = page_of(client.get(f"{base}?hide_names=1", headers=headers))
    assert hidden.hide_names
    assert "Atlas" not in client.get(f"{base}?hide_names=1", headers=headers).text
    assert [s.id for s in hidden.sections if s.id in ("units", "unit-trend")] == []


def test_team_leads_and_other_tenants_get_not_found(
    client: TestClient, session: Session, settings: Settings, world: helpers.World
) -> None:
    lead = signed_in(session, settings, world, UserRole.team_lead)
    for path in ("dashboard", "dashboard/teams.csv", "exports", "exports/scores.csv"):
        assert client.get(f"/organisations/{world.id}/{path}", headers=lead).status_code == 404
    stranger_org = helpers.factories.organisation(session, name="Stranger Org")
    stranger = signed_in(
        session, settings, helpers.World(stranger_org, {}, {}, {}), UserRole.org_leader
    )
    assert client.get(f"/organisations/{world.id}/dashboard", headers=stranger).status_code == 404
    assert client.get("/dashboards", headers=lead).status_code == 404
    index = client.get("/dashboards", headers=stranger)
    assert index.status_code == 200
    assert "Contoso" not in index.text


def test_exports_are_audit_logged_and_respondent_rows_are_for_consultants(
    client: TestClient, session: Session, settings: Settings, world: helpers.World
) -> None:
    leader = signed_in(session, settings, world, UserRole.org_leader)
    consultant = signed_in(session, settings, world, UserRole.consultant)
    base = f"/organisations/{world.id}/exports"
    listing = client.get(base, headers=leader)
    assert listing.status_code == 200
    assert "responses-long" not in listing.text
    assert "responses-long.csv" in client.get(base, headers=consultant).text
    scores = client.get(f"{base}/scores.csv", headers=leader)
    assert scores.status_code == 200
    assert "Atlas" in scores.text
    assert client.get(f"{base}/responses-long.csv", headers=leader).status_code == 404
    assert client.get(f"{base}/responses-wide.json", headers=leader).status_code == 404
    long = client.get(f"{base}/responses-long.json", headers=consultant)
    assert long.status_code == 200
    assert json.loads(long.text)["rows"]
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "export.downloaded")).all()
    assert [(e.details["dataset"], e.details["format"]) for e in events] == [
        ("scores", "csv"),
        ("responses-long", "json"),
    ]
    assert all(e.organisation_id == world.id and e.actor_id for e in events)


def test_the_api_twins_answer_tables_and_exports(
    client: TestClient, session: Session, settings: Settings, world: helpers.World
) -> None:
    leader, _ = helpers.viewer(session, settings, world.organisation, UserRole.org_leader)
    token = api_tokens.create(session=session, settings=settings, user=leader, name="bi")
    session.commit()
    bearer = {"authorization": f"Bearer {token.token}"}
    client.cookies.clear()
    answer = client.get(f"/api/organisations/{world.id}/dashboard?sort=score", headers=bearer)
    assert answer.status_code == 200
    data = answer.json()
    assert data["teams_shown"] == 6
    assert set(data["views"]) == set(views.CSV_IDS)  # the views and "at a glance"
    assert data["filters"] == {"sort": "score"}
    assert data["views"]["teams"]["rows"][0][0] in {"Comet", "Gale"}  # the lowest first
    scores = client.get(f"/api/organisations/{world.id}/exports/scores.json", headers=bearer)
    assert scores.status_code == 200
    assert scores.json()["dataset"] == "scores"
    rows = client.get(f"/api/organisations/{world.id}/exports/responses-long.csv", headers=bearer)
    assert rows.status_code == 404
    assert client.get(f"/api/organisations/{world.id}/dashboard").status_code == 401


def test_an_organisation_without_results_says_what_to_do(
    client: TestClient, session: Session, settings: Settings
) -> None:
    organisation = helpers.factories.organisation(session, name="Fresh Org")
    admin = account_helpers.user(session, UserRole.admin)
    signed = account_helpers.sign_in(session, settings, admin)
    session.commit()
    page = page_of(
        client.get(f"/organisations/{organisation.id}/dashboard", headers=signed.headers())
    )
    assert page.empty_state is not None
    assert page.empty_state.title == "No teams yet"
    assert page.empty_state.action_url == f"/admin/organisations/{organisation.id}"
    helpers.team(session, organisation, "First team", None)
    session.commit()
    page = page_of(
        client.get(f"/organisations/{organisation.id}/dashboard", headers=signed.headers())
    )
    assert page.empty_state is not None
    assert page.empty_state.title == "No team has closed a round yet"
    assert "start one" in page.empty_state.message.lower()
