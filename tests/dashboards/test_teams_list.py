"""The teams lists of a large organisation: the signed-in home (a leader of 1,000 teams) and
the dashboard's team table, paged, searchable by name and filtered by business unit, on the
server (plain GET forms: no JavaScript needed)."""

from __future__ import annotations

import time

import lxml.html
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.config import Settings
from app.dashboards import views
from app.demo import seed_organisation
from app.models import BusinessUnit, Organisation, UserRole
from app.natural_sort import natural_key
from app.workspace import pages
from tests.accounts import helpers as account_helpers
from tests.dashboards import helpers

MAX_PAGE_BYTES = 150_000


def _team_names(html: str) -> list[str]:
    document = lxml.html.fromstring(html)
    return [" ".join(a.text_content().split()) for a in document.xpath("//a[@class='team-name']")]


def test_a_leader_of_1000_teams_lands_on_a_small_searchable_page(
    client: TestClient, session: Session, settings: Settings
) -> None:
    started = time.monotonic()
    seed_organisation(session=session, name="Big Org", teams=1000, rounds=0)
    organisation = session.exec(select(Organisation).where(Organisation.name == "Big Org")).one()
    leader = account_helpers.user(session, UserRole.org_leader, name="Lee Leader")
    account_helpers.assign(session, leader, organisation)
    who = account_helpers.sign_in(session, settings, leader)
    session.commit()
    headers = {**who.headers(), "accept": "text/html"}

    first = client.get("/teams", headers=headers)
    assert first.status_code == 200
    assert len(first.content) < MAX_PAGE_BYTES, len(first.content)
    names = _team_names(first.text)
    assert len(names) == pages.HOME_PAGE_SIZE
    assert names == sorted(names)  # zero-padded numbers: natural and text order agree
    assert names[0] == "Team 0001"
    assert "Teams 1–50 of 1000" in first.text
    document = lxml.html.fromstring(first.text)
    (next_link,) = document.xpath("//nav[@class='pager']//a[@rel='next']/@href")
    assert next_link == "/teams?page=2"

    last = client.get("/teams?page=20", headers=headers)
    assert _team_names(last.text)[-1] == "Team 1000"
    assert client.get("/teams?page=999", headers=headers).status_code == 200  # the last page

    # search by part of the name, any case
    found = client.get("/teams?q=team+099", headers=headers)
    assert _team_names(found.text) == [f"Team {n:04d}" for n in range(990, 1000)]
    assert "of 1000" in found.text
    assert "matching" in found.text

    # the business-unit filter offers the units in natural order and narrows to one
    units = session.exec(
        select(BusinessUnit).where(BusinessUnit.organisation_id == organisation.id)
    ).all()
    offered = lxml.html.fromstring(first.text).xpath("//select[@id='team-unit']/option/text()")
    assert offered[1:] == sorted((u.name for u in units), key=natural_key)
    chosen = units[3]
    narrowed = client.get(f"/teams?unit={chosen.id}", headers=headers)
    shown = _team_names(narrowed.text)
    assert shown
    assert len(shown) <= pages.HOME_PAGE_SIZE
    meta = lxml.html.fromstring(narrowed.text).xpath("//li[@class='ws-team']//p[@class='meta']")
    assert {m.text_content().split("·")[0].strip() for m in meta} == {chosen.name}
    both = client.get(f"/teams?unit={chosen.id}&q=nothing-like-this", headers=headers)
    assert "No team matches this search." in both.text
    assert time.monotonic() - started < 30


def test_the_dashboard_team_table_is_searchable_without_javascript(
    client: TestClient, session: Session, settings: Settings
) -> None:
    world = helpers.world(session)
    session.commit()
    _, who = helpers.viewer(session, settings, world.organisation, UserRole.org_leader)
    headers = {**who.headers(), "accept": "text/html"}
    response = client.get(f"/organisations/{world.id}/dashboard?q=AT", headers=headers)
    assert response.status_code == 200
    page: views.DashboardPage = response.context["page"]  # type: ignore[attr-defined]
    teams = next(section for section in page.sections if section.id == "teams")
    assert [row[0] for row in teams.table.rows] == ["Atlas"]
    assert page.form.search == "AT"
    # the form carries the search, so the next page and the CSV keep it
    document = lxml.html.fromstring(response.text)
    assert document.xpath("//form[@class='dash-filters']//input[@name='q']/@value") == ["AT"]
    assert "q=AT" in teams.csv_url
    # a search that matches a hidden team finds nothing (search applies after anonymity)
    hidden = client.get(f"/organisations/{world.id}/dashboard?q=fjord", headers=headers)
    assert hidden.context["page"].empty_state is not None  # type: ignore[attr-defined]
