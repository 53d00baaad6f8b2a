"""The organisation dashboard in Chromium: Plotly draws every chart from the page's JSON, a
filter changes them, the table view shows the chart's numbers, a click on the heatmap opens a
team's results, the CSV downloads parse and match the page, and without JavaScript every view
is its table. Screenshots at 375 px and desktop width go to test-artifacts/."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from sqlmodel import select

from app.accounts import users
from app.config import ROOT_DIR
from app.demo import seed_organisation
from app.models import Membership, Organisation, Target, Team, UserRole
from tests.dashboards import helpers
from tests.workspace.browser_support import (
    DESKTOP,
    PASSWORD,
    PHONE,
    browser,  # noqa: F401 - fixture
    no_serious_axe_violations,
    sign_in,
    workspace_server,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT_DIR / "test-artifacts"
LEADER = "olivia@example.org"


def _seed(server: Any) -> tuple[int, int]:
    """The dashboard test world and an organisation leader who may see it."""
    with server.session() as session:
        world = helpers.world(session)
        leader = users.create_user(
            session=session,
            email=LEADER,
            display_name="Olivia Leader",
            role=UserRole.org_leader,
            password=PASSWORD,
        )
        session.add(
            Membership(user_id=leader.id or 0, organisation_id=world.id, role=UserRole.org_leader)
        )
        session.commit()
        north = world.units["North"].id
        assert north is not None
        return world.id, north


def _figure(page: Any, chart: str) -> dict[str, Any]:
    """What Plotly drew: the data of the chart's plot (x, y, z of each trace)."""
    data: list[dict[str, Any]] = page.evaluate(
        """chart => Array.from(
            document.querySelector(`[data-chart="${chart}"] .chart-interactive`).data
        ).map(t => ({x: t.x, y: t.y, z: t.z, name: t.name}))""",
        chart,
    )
    return {"traces": data}


def _drawn(page: Any) -> None:
    page.wait_for_function(
        """() => Array.from(document.querySelectorAll("[data-chart]")).every(
            f => f.querySelector(".chart-interactive svg.main-svg"))"""
    )


def _table(page: Any, view: str) -> list[list[str]]:
    rows: list[list[str]] = page.evaluate(
        """view => Array.from(document.querySelectorAll(`#${view}-table tbody tr`)).map(
            tr => Array.from(tr.children).map(cell => cell.textContent.trim()))""",
        view,
    )
    return rows


def _number(text: str) -> float | None:
    return None if text in ("", "–") else float(text)


def _download(page: Any, view: str) -> list[list[str]]:
    with page.expect_download() as info:
        page.locator(f"#{view} .dash-view__actions a", has_text="CSV").first.click()
    path = info.value.path()
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def _screenshots(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for label, size in (("375", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)
        page.wait_for_timeout(400)  # let Plotly resize the charts
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"], f"{name} overflows at {size['width']} px ({width} px)"
        page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}-{label}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def test_charts_filters_tables_downloads_and_drill_down(
    workspace_server: Any,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    server = workspace_server
    organisation_id, north = _seed(server)
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "response",
        lambda response: (
            errors.append(f"{response.status} {response.url}")
            if response.status >= 400 and not response.url.endswith("/favicon.ico")
            else None
        ),
    )
    sign_in(page, server.url, LEADER)
    page.get_by_role("link", name="Dashboards").click()
    page.get_by_role("link", name="Contoso Analytics").click()
    page.wait_for_url(f"**/organisations/{organisation_id}/dashboard")
    _drawn(page)
    assert page.locator("[data-chart] .chart-interactive svg.main-svg").count() >= 8
    heatmap = _figure(page, "teams")["traces"][0]
    assert "Atlas" in heatmap["y"]
    assert "Fjord" not in heatmap["y"]  # too few responses: hidden

    # the table view shows the chart's numbers
    assert page.locator("#teams-table").is_hidden()
    page.locator("#teams .dash-toggle").click()
    assert page.locator("#teams-table").is_visible()
    table = _table(page, "teams")
    headers = page.evaluate(
        "Array.from(document.querySelectorAll('#teams-table thead th')).map(t => t.textContent)"
    )
    score_columns = [i for i, title in enumerate(headers) if title.endswith(" score")]
    assert [row[0] for row in table] == heatmap["y"]
    for row, values in zip(table, heatmap["z"], strict=True):
        assert [_number(row[i]) for i in score_columns] == values
    no_serious_axe_violations(page, "dashboard")
    _screenshots(page, "organisation")

    # the downloads parse and match the page
    rows = _download(page, "teams")
    assert rows[0] == headers
    assert [row[0] for row in rows[1:]] == [row[0] for row in table]
    for downloaded, shown in zip(rows[1:], table, strict=True):
        assert [_number(downloaded[i]) for i in score_columns] == [
            _number(shown[i]) for i in score_columns
        ]
    page.locator("#bands .dash-toggle").click()
    bands = _download(page, "bands")
    assert [row[0] for row in bands[1:]] == [row[0] for row in _table(page, "bands")]
    assert [[int(v) for v in row[1:]] for row in bands[1:]] == [
        [int(v) for v in row[1:]] for row in _table(page, "bands")
    ]

    # a filter changes the charts: only the teams of one business unit
    page.get_by_label("Business unit", exact=True).select_option(str(north))
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(f"**/dashboard?unit={north}*")
    _drawn(page)
    filtered = _figure(page, "teams")["traces"][0]
    assert set(filtered["y"]) < set(heatmap["y"])
    assert set(filtered["y"]) <= {"Atlas", "Beacon", "Halo"}
    assert page.get_by_role("status").inner_text().startswith("Showing: Business unit: North")

    # drill-down: clicking a heatmap cell opens that team's results
    first_team = filtered["y"][0]
    drag = page.locator('[data-chart="teams"] .nsewdrag').first
    drag.scroll_into_view_if_needed()
    plot = drag.bounding_box()
    rows_count, columns = len(filtered["y"]), len(filtered["x"])
    page.mouse.click(
        plot["x"] + plot["width"] / (2 * columns), plot["y"] + plot["height"] / (2 * rows_count)
    )
    page.wait_for_url("**/results")
    assert first_team in page.locator("h1").first.inner_text()
    assert not errors, errors
    context.close()

    # without JavaScript every view is its table (here in the presenting mode)
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    sign_in(page, server.url, LEADER)
    page.goto(f"{server.url}/organisations/{organisation_id}/dashboard?hide_names=1")
    assert page.locator(".chart-interactive").count() == 0
    assert page.locator("#teams-table").is_visible()
    assert page.locator(".dash-toggle:visible").count() == 0
    assert _table(page, "teams")[0][0] == "Team 01"
    assert "Atlas" not in page.content()
    figures = page.locator("script[type='application/json']").all_text_contents()
    assert all(json.loads(text)["data"] for text in figures)
    page.screenshot(path=str(ARTIFACTS / "dashboard-no-javascript-375.png"), full_page=True)
    context.close()


def _seed_large(server: Any) -> int:
    """An organisation like a large one, small enough to seed quickly: 30 seeded teams (a
    mix of trajectories and processes) in Unit 1 to Unit 3, and Unit 10 and Unit 11 with a
    team each; targets for a few teams; an organisation leader who may see it all."""
    with server.session() as session:
        summary = seed_organisation(session=session, name="Northwind", teams=30, rounds=1)
        organisation = session.get(Organisation, summary.organisation_id)
        assert organisation is not None
        assert organisation.id is not None
        for number in (10, 11):
            business_unit = helpers.unit(session, organisation, f"Unit {number}")
            team = helpers.team(session, organisation, f"Team {number}0", business_unit)
            helpers.closed_round(session, team, level="low")
        for team in session.exec(
            select(Team).where(Team.organisation_id == organisation.id).limit(4)
        ).all():
            for dimension in ("collaboration", "debt"):
                session.add(
                    Target(team_id=team.id, dimension=dimension, target_level="established")
                )
        leader = users.create_user(
            session=session,
            email=LEADER,
            display_name="Olivia Leader",
            role=UserRole.org_leader,
            password=PASSWORD,
        )
        session.add(
            Membership(
                user_id=leader.id or 0, organisation_id=organisation.id, role=UserRole.org_leader
            )
        )
        session.commit()
        return organisation.id


def _overflowing(page: Any, width: int) -> list[str]:
    """Charts whose drawing, or legend, reaches past the viewport's right edge."""
    found: list[str] = page.evaluate(
        """width => {
            const found = [];
            for (const figure of document.querySelectorAll("[data-chart]")) {
                const id = figure.getAttribute("data-chart");
                for (const part of figure.querySelectorAll("svg.main-svg, g.legend")) {
                    const box = part.getBoundingClientRect();
                    if (box.right > width + 0.5 || box.left < -0.5) {
                        found.push(`${id}: ${part.getAttribute("class")} ${box.left}-${box.right}`);
                    }
                }
            }
            return found;
        }""",
        width,
    )
    return found


def _overlapping_headers(page: Any) -> list[str]:
    """Heatmap column titles that run into their neighbours."""
    found: list[str] = page.evaluate(
        """() => {
            const found = [];
            for (const plot of document.querySelectorAll('[data-chart] .chart-interactive')) {
                if (!plot.data || plot.data[0].type !== "heatmap") continue;
                const boxes = Array.from(plot.querySelectorAll(".xtick text"))
                    .map(t => t.getBoundingClientRect())
                    .sort((a, b) => a.left - b.left);
                for (let i = 1; i < boxes.length; i += 1) {
                    if (boxes[i].left < boxes[i - 1].right - 0.5) {
                        found.push(`${boxes[i - 1].right} > ${boxes[i].left}`);
                    }
                }
            }
            return found;
        }"""
    )
    return found


def test_the_dashboard_opens_on_its_glance_and_fits_a_phone(
    workspace_server: Any,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    server = workspace_server
    organisation_id = _seed_large(server)
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, server.url, LEADER)
    page.goto(f"{server.url}/organisations/{organisation_id}/dashboard")
    _drawn(page)

    # the strip is on the first screen, above every detailed view
    strip = page.locator("#glance").bounding_box()
    assert strip is not None
    assert strip["y"] < DESKTOP["height"]
    first_view = page.locator("#teams").bounding_box()
    assert first_view is not None
    assert strip["y"] < first_view["y"]
    assert page.locator("#glance-gaps li").count() == 3
    assert page.locator("#glance-targets li").count() >= 1

    # business units in natural order, in the filter and the unit view
    options = page.locator("#filter-unit option").all_inner_texts()[1:]
    assert options == ["Unit 1", "Unit 2", "Unit 3", "Unit 10", "Unit 11"]
    assert _figure(page, "units")["traces"][0]["y"] == options

    # the trajectory chart: one legend entry per process, none repeating a look
    mix = page.evaluate(
        """() => document.querySelector('[data-chart="mix"] .chart-interactive').data.map(
            t => [t.marker.color, t.marker.pattern.shape])"""
    )
    assert len(mix) > 3
    assert len({tuple(m) for m in mix}) == len(mix)

    for label, size in (("1280", DESKTOP), ("375", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_timeout(600)  # Plotly redraws at the new width
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"], f"the dashboard overflows at {label} px ({width} px)"
        assert _overflowing(page, size["width"]) == [], label
        assert _overlapping_headers(page) == [], label
        page.screenshot(path=f"/tmp/dashboard-glance-{label}.png", full_page=True)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"dashboard-glance-{label}.png"), full_page=True)
    assert not errors, errors
    context.close()


def test_the_teams_home_of_a_large_organisation_pages_and_fits_a_phone(
    workspace_server: Any,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    """The landing page after sign-in for a leader of many teams: a page of teams with a
    search form that works without JavaScript, no overflow at 375 px."""
    server = workspace_server
    with server.session() as session:
        summary = seed_organisation(session=session, name="Wide Org", teams=120, rounds=0)
        leader = users.create_user(
            session=session,
            email=LEADER,
            display_name="Olivia Leader",
            role=UserRole.org_leader,
            password=PASSWORD,
        )
        session.add(
            Membership(
                user_id=leader.id or 0,
                organisation_id=summary.organisation_id,
                role=UserRole.org_leader,
            )
        )
        session.commit()
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    sign_in(page, server.url, LEADER)
    page.goto(f"{server.url}/teams")
    assert page.locator("li.ws-team").count() == 50
    page.get_by_label("Business unit").select_option(label="Unit 10")
    page.get_by_label("Team name contains").fill("team 01")
    page.get_by_role("button", name="Find teams").click()
    page.wait_for_url("**/teams?q=team+01&unit=*")
    names = page.locator("a.team-name").all_inner_texts()
    assert names == ["Team 010"]  # Unit 10 holds every twelfth team: 010, 022, ...
    for label, size in (("375", PHONE), ("1280", DESKTOP)):
        page.set_viewport_size(size)
        page.goto(f"{server.url}/teams")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"], f"the teams page overflows at {label} px ({width} px)"
        page.screenshot(path=f"/tmp/teams-home-{label}.png", full_page=False)
    context.close()
