"""The dashboard's "at a glance" strip: computed once, named the same on the page, in the
organisation report and in the CSV; natural order of names; no process for an unknown
trajectory."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import lxml.html
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.config import Settings
from app.dashboards import glance, service, views
from app.models import Target, UserRole
from app.natural_sort import natural_key, natural_sorted
from app.reports import org, render
from app.reports.branding import default_branding
from app.results.service import round_settings, store_round_result
from app.rubric.output import NO_RECOMMENDATION
from tests import factories
from tests.dashboards import helpers
from tests.workspace.helpers import asked_questions, catalog, pick

MIN = 3


def build(session: Session, organisation_id: int, **filters: Any) -> service.Dashboard:
    return service.build(
        session=session,
        organisation_id=organisation_id,
        filters=service.Filters(**filters),
        catalog=catalog(),
        minimum=MIN,
    )


def test_natural_sort_puts_unit_2_before_unit_10() -> None:
    names = ["Unit 10", "Unit 2", "unit 1", "Unit 1b", "Unit B", "Alpha 3"]
    assert sorted(names, key=natural_key) == [
        "Alpha 3",
        "unit 1",
        "Unit 1b",
        "Unit 2",
        "Unit 10",
        "Unit B",
    ]
    assert natural_sorted([("b", "Team 10"), ("a", "Team 9")], key=lambda t: t[1])[0] == (
        "a",
        "Team 9",
    )


def test_business_units_and_teams_are_listed_in_natural_order(session: Session) -> None:
    organisation = helpers.factories.organisation(session, name="Numbered")
    for unit_name in ("Unit 10", "Unit 2", "Unit 1"):
        business_unit = helpers.unit(session, organisation, unit_name)
        for team_name in ("Team 10", "Team 9"):
            team = helpers.team(session, organisation, f"{team_name} {unit_name}", business_unit)
            helpers.closed_round(session, team)
    assert organisation.id is not None
    dashboard = build(session, organisation.id)
    expected_units = ["Unit 1", "Unit 2", "Unit 10"]
    assert [row.unit for row in dashboard.units] == expected_units
    assert [name for _, name in dashboard.options.units] == expected_units
    assert [line.label for line in dashboard.lines] == [
        f"{team} {unit}" for unit in expected_units for team in ("Team 9", "Team 10")
    ]
    assert [row.unit for row in dashboard.unit_trend] == expected_units
    # the page's tables and charts keep the order
    page = views.dashboard_page(
        dashboard,
        organisation="Numbered",
        teams_in_organisation=6,
        is_admin=False,
        results_link=lambda _: None,
    )
    units = next(section for section in page.sections if section.id == "units")
    assert [row[0] for row in units.table.rows] == expected_units
    (figure,) = units.figures
    assert figure.figure_json["data"][0]["y"] == expected_units


def _round_without_trajectory_answers(session: Session, team: Any) -> None:
    """A closed team survey whose trajectory questions nobody answered."""
    opened = helpers.Q3 - timedelta(days=14)
    assessment_round = factories.assessment_round(
        session,
        catalog(),
        team,
        mode="team_survey",
        kind="full",
        status="open",
        results_min=3,
        created_at=opened,
        opened_at=opened,
        title="No trajectory",
    )
    settings = round_settings(assessment_round)
    for role in helpers.FULL_TEAM:
        answers = {
            item.qid: pick(item.question, "mid")
            for item in asked_questions(catalog(), settings, role)  # type: ignore[arg-type]
            if item.instrument.id != "trajectory"
        }
        factories.submitted_response(session, assessment_round, role, answers)
    assessment_round.status = "closed"
    assessment_round.closed_at = helpers.Q3
    session.add(assessment_round)
    session.flush()
    store_round_result(session=session, assessment_round=assessment_round)


def test_a_team_with_an_unknown_trajectory_shows_no_recommended_process(
    session: Session,
) -> None:
    organisation = helpers.factories.organisation(session, name="Unknowns")
    area = helpers.unit(session, organisation, "Area")
    known = helpers.team(session, organisation, "Known", area)
    helpers.closed_round(session, known)
    unknown = helpers.team(session, organisation, "Unknown trajectory", area)
    _round_without_trajectory_answers(session, unknown)
    assert organisation.id is not None
    dashboard = build(session, organisation.id)
    lines = {line.label: line for line in dashboard.lines}
    assert lines["Unknown trajectory"].trajectory == service.UNKNOWN_TRAJECTORY
    assert lines["Unknown trajectory"].model == NO_RECOMMENDATION
    assert lines["Known"].model != NO_RECOMMENDATION
    mix = dict(dashboard.mix)
    assert dict(mix[service.UNKNOWN_TRAJECTORY]) == {NO_RECOMMENDATION: 1}
    # a process filter never brings back a team whose trajectory is unknown
    for model_id, _ in dashboard.options.models:
        filtered = build(session, organisation.id, model=model_id)
        assert "Unknown trajectory" not in [line.label for line in filtered.lines]


def _targets(session: Session, world: helpers.World) -> None:
    """Beacon (mid scores) aims at the top band of both banded practices; Atlas (high) at
    what it already has."""
    for team_name in ("Beacon", "Atlas"):
        for dimension in ("collaboration", "debt"):
            session.add(
                Target(
                    team_id=world.teams[team_name].id,
                    dimension=dimension,
                    target_level="established" if team_name == "Beacon" else "ad_hoc",
                )
            )
    session.commit()


def test_the_strip_the_report_and_the_csv_name_the_same_top_gaps(
    client: TestClient, session: Session, settings: Settings
) -> None:
    world = helpers.world(session)
    _targets(session, world)
    _, viewer = helpers.viewer(session, settings, world.organisation, UserRole.org_leader)
    headers = {**viewer.headers(), "accept": "text/html"}

    response = client.get(f"/organisations/{world.id}/dashboard", headers=headers)
    assert response.status_code == 200
    page: views.DashboardPage = response.context["page"]  # type: ignore[attr-defined]
    assert page.glance is not None
    panels = {panel.id: panel for panel in page.glance.panels}
    strip_gaps = [item.text for item in panels["glance-gaps"].items]
    assert 1 <= len(strip_gaps) <= glance.TOP_GAPS
    # Comet and Gale answered at the lowest level: their practice areas lead
    assert all(text.endswith(("Ad hoc", "Level 0")) for text in strip_gaps)
    # "Details" opens the view the leading gap comes from
    leading = "#levels" if strip_gaps[0].endswith("Level 0") else "#bands"
    assert panels["glance-gaps"].details_url == leading

    # the strip comes before every detailed view, and names its items in the HTML
    html = response.text
    assert html.index('id="glance"') < html.index('id="teams"')
    document = lxml.html.fromstring(html)
    shown = [
        " ".join(li.xpath("string(.//span[@class='dash-glance__text'])").split())
        for li in document.xpath("//section[@id='glance-gaps']//li")
    ]
    assert shown == strip_gaps

    # Beacon is the team furthest from its targets (Atlas meets its own, others set none)
    assert [item.text for item in panels["glance-targets"].items] == ["Beacon"]
    assert panels["glance-targets"].items[0].url == (
        f"/teams/{world.teams['Beacon'].id}/rounds/{world.rounds['Beacon'][-1].id}/results"
    )

    # the organisation report (the CLI's: no one in particular, and the leader answered
    # nothing, so they see the same)
    report = org.organisation_report(
        organisation=world.organisation.name,
        session=session,
        organisation_id=world.id,
        catalog=catalog(),
        branding=default_branding(),
        cell_minimum=settings.org_cell_min,
    )
    assert [gap.label for gap in report.aggregate.glance.top_gaps] == strip_gaps
    # ... and the report shows them, in its overview's "At a glance"
    printed = lxml.html.fromstring(render.render_html("reports/org.html", report, medium="pdf"))
    items = printed.xpath(
        "//h3[@id='glance']/following-sibling::div[1]/div[1]/p[@class='glance-item']"
    )
    assert [" ".join(item.text.split()) for item in items] == [
        f"{n}. {gap}" for n, gap in enumerate(strip_gaps, start=1)
    ]
    assert [row.label for row in report.aggregate.glance.upgrades] == [
        item.text for item in panels["glance-upgrades"].items
    ]

    # the CSV of the strip
    download = client.get(page.glance.csv_url, headers=headers)
    assert download.status_code == 200
    rows = list(csv.reader(io.StringIO(download.text)))
    assert rows[0] == ["At a glance", "Item", "Teams", "Detail"]
    assert [row[1] for row in rows[1:] if row[0] == "Most common gap"] == strip_gaps
    assert [row[1] for row in rows[1:] if row[0] == "Furthest from target"] == ["Beacon"]


def test_a_hidden_cell_never_counts_toward_a_target(session: Session) -> None:
    """Ember's and Halo's debt rests on 2 people: a debt target of theirs is not judged."""
    world = helpers.world(session)
    for team_name in ("Ember", "Halo"):
        session.add(
            Target(team_id=world.teams[team_name].id, dimension="debt", target_level="established")
        )
    session.flush()
    dashboard = build(session, world.id)
    assert dashboard.far_teams == ()
