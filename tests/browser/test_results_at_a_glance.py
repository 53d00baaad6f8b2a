"""The results page at a glance, in Chromium at 1280 px and 375 px: everything above the first
detailed section (the summary) fits two desktop screens, its reasons are a click away, no
element runs past a phone's screen, and axe finds nothing serious. Screenshots go to
test-artifacts/."""

from __future__ import annotations

from typing import Any

import pytest

from app.models import Respondent, Team
from app.workspace import rounds
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
        page.locator("#gaps").screenshot(path=str(ARTIFACTS / f"results-gaps-{label}.png"))
        if label == "375":
            assert page.evaluate(OVERFLOWING) == []
            assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
    assert heights["desktop"] <= 2 * DESKTOP["height"], heights
    # the summary's reasons and warnings are a click away
    assert page.locator("#summary details.ws-summary__why").count() == 1
    no_serious_axe_violations(page, "results at a glance")
