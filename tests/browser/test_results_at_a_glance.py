"""The results page at a glance, in Chromium at 1280 px and 375 px: everything above the first
detailed section (the summary) fits two desktop screens, its reasons are a click away, no
element runs past a phone's screen, and axe finds nothing serious. Screenshots go to
test-artifacts/."""

from __future__ import annotations

from typing import Any

import pytest

from app.models import Respondent, Team
from app.results.service import round_settings, store_round_result
from app.workspace import rounds
from tests import factories
from tests.workspace import helpers
from tests.workspace.browser_support import (
    ARTIFACTS,
    DESKTOP,
    PHONE,
    backend,  # noqa: F401 - fixture: SQLite only
    browser,  # noqa: F401 - fixture
    no_serious_axe_violations,
    sign_in,
    workspace_server,  # noqa: F401 - fixture
)
from tests.workspace.test_disputed_results import invitation

pytestmark = pytest.mark.browser

# elements past the right edge, outside any container that scrolls sideways on purpose
OVERFLOWING = """() => {
  const limit = document.documentElement.clientWidth + 1;
  const scrolls = (el) => {
    for (let node = el.parentElement; node; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (['auto', 'scroll', 'hidden'].includes(style.overflowX)) return true;
    }
    return false;
  };
  return [...document.querySelectorAll('body *')]
    .filter((el) => {
      const box = el.getBoundingClientRect();
      return box.width > 0 && box.height > 1 && box.right > limit && !scrolls(el);
    })
    .slice(0, 5)
    .map((el) => `${el.tagName}.${el.className} ${Math.round(el.getBoundingClientRect().right)}`);
}"""
SUMMARY_BOTTOM = (
    "() => document.querySelector('#summary').getBoundingClientRect().bottom + window.scrollY"
)


def split_team_round(server: Any, team_id: int) -> tuple[int, int]:
    """A closed full survey: data scientists answer handoff at the top, engineers at the
    bottom (perception gaps), each through an invitation link."""
    with server.session() as session:
        team = session.get(Team, team_id)
        assert team is not None
        assessment_round = helpers.team_round(session, team, kind="full")
        for role, level in [("data_scientist", "high")] * 3 + [("ml_engineer", "low")] * 3:
            response = helpers.submit(session, assessment_round, role, handoff=level, store=False)  # type: ignore[arg-type]
            respondent = session.get(Respondent, response.respondent_id)
            assert respondent is not None
            respondent.invitation_id = invitation(session, assessment_round, role)
            session.add(respondent)
        rounds.close_round(session=session, assessment_round=assessment_round)
        session.commit()
        assert assessment_round.id is not None
        return team_id, assessment_round.id


PAGE_HEIGHT = "document.documentElement.scrollHeight"
TAB_NAMES = (
    "Scores",
    "Process",
    "Roadmap",
    "Where roles differ",
    "Unknowns and debt",
    "About and downloads",
)
# every detailed section, and the tab it sits under
SECTIONS = {
    "#profile": "Scores",
    "#handoff": "Scores",
    "#process": "Process",
    "#roadmap": "Roadmap",
    "#gaps": "Where roles differ",
    "#knowledge": "Unknowns and debt",
    "#debt": "Unknowns and debt",
    "#reading": "About and downloads",
    "#downloads": "About and downloads",
}


def no_overflow_at_375(page: Any, what: str) -> None:
    assert page.evaluate(OVERFLOWING) == [], what
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], what


def test_the_results_summary_fits_at_a_glance_on_desktop_and_phone(
    workspace_server: Any,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    server = workspace_server
    team_id, round_id = split_team_round(server, server.team_lead())
    page = browser.new_context(viewport=DESKTOP).new_page()
    sign_in(page, server.url, "tess@example.org")
    page.goto(f"{server.url}/teams/{team_id}/rounds/{round_id}/results")
    ARTIFACTS.mkdir(exist_ok=True)
    heights = {}
    for label, size in (("desktop", DESKTOP), ("375", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_timeout(300)  # let the charts resize
        heights[label] = page.evaluate(SUMMARY_BOTTOM)
        page.screenshot(
            path=str(ARTIFACTS / f"results-at-a-glance-{label}.png"),
            full_page=True,
            clip={"x": 0, "y": 0, "width": size["width"], "height": heights[label]},
        )
        page.screenshot(path=str(ARTIFACTS / f"results-whole-{label}.png"), full_page=True)
        if label == "desktop":
            # the details are a click away: the page holds the summary and one tab's panel
            assert page.evaluate(PAGE_HEIGHT) <= 8 * DESKTOP["height"]
        # every tab's panel, one at a time; on a phone nothing runs past the screen
        for name in TAB_NAMES:
            page.get_by_role("tab", name=name).click()
            page.wait_for_timeout(150)
            if label == "375":
                no_overflow_at_375(page, name)
        page.get_by_role("tab", name="Where roles differ").click()
        page.locator("#gaps").screenshot(path=str(ARTIFACTS / f"results-gaps-{label}.png"))
        page.get_by_role("tab", name="Scores").click()
        page.wait_for_timeout(300)
        page.locator("#profile").screenshot(path=str(ARTIFACTS / f"results-profile-{label}.png"))
    assert heights["desktop"] <= 2 * DESKTOP["height"], heights
    # a phone screen and a half
    assert heights["375"] <= 1.5 * PHONE["height"], heights
    # the summary's reasons and warnings are a click away
    assert page.locator("#summary details.ws-summary__why").count() == 1
    no_serious_axe_violations(page, "results at a glance, 375 px")
    page.set_viewport_size(DESKTOP)
    no_serious_axe_violations(page, "results at a glance")


def test_the_practice_profile_reads_on_a_phone(
    workspace_server: Any,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    """At 375 px the radar gives way to one bar per sub-dimension, every label whole; at
    desktop width the radar is drawn, its labels inside the chart."""
    server = workspace_server
    team_id, round_id = split_team_round(server, server.team_lead())
    page = browser.new_context(viewport=PHONE).new_page()
    sign_in(page, server.url, "tess@example.org")
    page.goto(f"{server.url}/teams/{team_id}/rounds/{round_id}/results#profile")
    bars = page.locator("#profile .ws-profile-bars__row")
    assert bars.count() >= 3
    assert bars.first.is_visible()
    assert not page.locator("#profile figure.ws-profile-radar").is_visible()
    cut = page.evaluate(
        """() => [...document.querySelectorAll('#profile .ws-profile-bars__label')]
            .filter((el) => el.scrollWidth > el.clientWidth + 1
                || el.getBoundingClientRect().right > document.documentElement.clientWidth)
            .map((el) => el.textContent)"""
    )
    assert cut == []
    labels = page.locator("#profile .ws-profile-bars__label").all_inner_texts()
    table = page.locator("#radar-table tbody th").all_text_contents()
    assert labels == table
    no_overflow_at_375(page, "profile")
    page.locator("#profile").screenshot(path=str(ARTIFACTS / "results-profile-bars-375.png"))

    page.set_viewport_size(DESKTOP)
    page.locator("#profile .chart-interactive .main-svg").first.wait_for()
    assert not bars.first.is_visible()
    figure = page.locator("#profile figure.ws-profile-radar").bounding_box()
    assert figure is not None
    outside = page.evaluate(
        """(box) => [...document.querySelectorAll('#profile .angularaxistick text')]
            .map((el) => el.getBoundingClientRect())
            .filter((r) => r.left < box.x - 1 || r.right > box.x + box.width + 1)
            .length""",
        figure,
    )
    assert outside == 0


def test_the_printable_report_page_reads_on_a_phone(
    workspace_server: Any,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    """The team report's web page, concise and with all answers, at 375 px: the rubric files'
    digests, the gate statuses and the answer tables stay within the screen."""
    server = workspace_server
    team_id, round_id = split_team_round(server, server.team_lead())
    page = browser.new_context(viewport=PHONE).new_page()
    sign_in(page, server.url, "tess@example.org")
    ARTIFACTS.mkdir(exist_ok=True)
    for label, query in (("concise", ""), ("full", "?full=true")):
        page.goto(f"{server.url}/teams/{team_id}/rounds/{round_id}/report.html{query}")
        assert page.locator("table.versions td.mono").count() >= 5
        no_overflow_at_375(page, f"the {label} report page")
        page.screenshot(path=str(ARTIFACTS / f"report-page-{label}-375.png"), full_page=True)


def test_tabs_are_accessible_and_links_open_the_tab_they_point_into(
    workspace_server: Any,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    server = workspace_server
    team_id, round_id = split_team_round(server, server.team_lead())
    page = browser.new_context(viewport=DESKTOP).new_page()
    sign_in(page, server.url, "tess@example.org")
    page.goto(f"{server.url}/teams/{team_id}/rounds/{round_id}/results")
    tablist = page.get_by_role("tablist", name="Details of the results")
    assert tablist.get_by_role("tab").all_inner_texts() == list(TAB_NAMES)
    scores = page.get_by_role("tab", name="Scores")
    assert scores.get_attribute("aria-selected") == "true"
    assert page.get_by_role("tabpanel").count() == 1  # the others are hidden
    assert page.locator("#profile").is_visible()
    assert not page.locator("#roadmap").is_visible()

    # arrow keys move between tabs, and the panel follows
    scores.focus()
    page.keyboard.press("ArrowRight")
    process = page.get_by_role("tab", name="Process")
    assert process.get_attribute("aria-selected") == "true"
    assert page.evaluate("document.activeElement.textContent") == "Process"
    assert page.locator("#process").is_visible()
    assert not page.locator("#profile").is_visible()
    page.keyboard.press("End")
    assert page.locator("#downloads").is_visible()

    # a link from the summary into a hidden panel opens it
    page.locator("#summary").get_by_role("link", name="The whole roadmap").click()
    assert page.get_by_role("tab", name="Roadmap").get_attribute("aria-selected") == "true"
    assert page.locator("#roadmap").is_visible()
    page.locator("#summary").get_by_role("link", name="The gates").click()
    assert page.locator("#handoff").is_visible()
    assert page.locator("#handoff").bounding_box()["y"] < DESKTOP["height"]  # scrolled to

    # an address naming a section opens its tab on arrival (a form's return address too)
    page.goto(f"{server.url}/teams/{team_id}/rounds/{round_id}/results#debt")
    assert page.locator("#debt").is_visible()
    assert page.get_by_role("tab", name="Unknowns and debt").get_attribute("aria-selected") == (
        "true"
    )
    no_serious_axe_violations(page, "results, a tab open")


def test_without_javascript_every_section_shows_and_the_tabs_are_links(
    workspace_server: Any,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    server = workspace_server
    team_id, round_id = split_team_round(server, server.team_lead())
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    sign_in(page, server.url, "tess@example.org")
    url = f"{server.url}/teams/{team_id}/rounds/{round_id}/results"
    page.goto(url)
    assert page.get_by_role("tab").count() == 0
    navigation = page.get_by_role("navigation", name="Details of the results")
    assert navigation.get_by_role("link").all_inner_texts() == list(TAB_NAMES)
    for selector in SECTIONS:
        section = page.locator(selector)
        assert section.is_visible(), selector
        assert section.locator("h2").inner_text()
    # the practice profile reads as bars, no script needed
    assert page.locator("#profile .ws-profile-bars__row").first.is_visible()
    no_overflow_at_375(page, "results without JavaScript")
    navigation.get_by_role("link", name="Roadmap").click()
    page.wait_for_url(f"{url}#tab-roadmap")
    assert page.locator("#roadmap").bounding_box()["y"] < PHONE["height"]
    page.screenshot(path=str(ARTIFACTS / "results-no-javascript-375.png"), full_page=True)
    context.close()


def test_notes_and_evidence_links_read_on_a_phone(
    workspace_server: Any,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    """A note and a long evidence link their author marked "may be shown", under the Notes
    tab: the link breaks rather than run past a phone's screen."""
    server = workspace_server
    team_id = server.team_lead()
    link = "https://wiki.example.org/" + "deployment-runbooks/" * 6 + "model-release"
    with server.session() as session:
        team = session.get(Team, team_id)
        assert team is not None
        assessment_round = helpers.team_round(session, team, mode="solo", kind="quick")
        answers: dict[str, Any] = helpers.answers_for(
            round_settings(assessment_round), "team_lead", handoff="high"
        )
        qid = next(iter(answers))
        answers[qid] = {
            "value": answers[qid],
            "note": "We deploy by hand, from a runbook.",
            "evidence": link,
            "note_shareable": True,
        }
        factories.submitted_response(session, assessment_round, "team_lead", answers)
        store_round_result(session=session, assessment_round=assessment_round)
        session.commit()
        round_id = assessment_round.id
    page = browser.new_context(viewport=PHONE).new_page()
    sign_in(page, server.url, "tess@example.org")
    page.goto(f"{server.url}/teams/{team_id}/rounds/{round_id}/results")
    page.get_by_role("tab", name="Notes").click()
    notes = page.locator("#notes")
    assert notes.get_by_role("link", name=link).is_visible()
    assert "We deploy by hand, from a runbook." in notes.inner_text()
    no_overflow_at_375(page, "notes")
    notes.screenshot(path=str(ARTIFACTS / "results-notes-375.png"))
    no_serious_axe_violations(page, "results, notes and evidence links")
