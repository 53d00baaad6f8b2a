"""The new-round form shows only what the chosen mode needs, at 1280 and 375 px: after "Just
me" the team-survey fields (links, threshold, closing date, sharing) are gone, with the
page's script and without it (CSS alone), and the time shown follows the mode and stage."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.workspace.browser_support import (
    DESKTOP,
    PHONE,
    backend,  # noqa: F401 - fixture: SQLite only
    browser,  # noqa: F401 - fixture
    no_serious_axe_violations,
    screenshots,
    sign_in,
    workspace_server,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.browser


def _quick_time(page: Any) -> str:
    return str(page.locator("#kind-quick-hint [data-estimates]").inner_text())


@pytest.mark.parametrize("script", [True, False], ids=["javascript", "no-javascript"])
def test_just_me_hides_the_team_survey_fields(
    workspace_server: Any,  # noqa: F811
    browser: Any,  # noqa: F811
    script: bool,
) -> None:
    server = workspace_server
    team_id = server.team_lead()
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=script)
    page = context.new_page()
    sign_in(page, server.url, "tess@example.org")
    page.goto(f"{server.url}/teams/{team_id}/rounds/new")
    team_only = page.locator("[data-survey-only]")
    assert team_only.is_visible()  # a team survey is the default
    assert page.get_by_role("group", name="Only for a team survey").is_visible()
    assert "per person" in _quick_time(page)

    page.get_by_text("Just me", exact=True).click()
    assert team_only.is_hidden()
    assert page.get_by_label("Closing date").is_hidden()
    assert page.locator('input[name="roles"]:visible').count() == 0
    if script:
        # one figure, for the lead alone; it follows the stage
        assert re.fullmatch(r"About \d+ minutes\.", _quick_time(page))
        before = _quick_time(page)
        page.get_by_text("Exploration", exact=True).click()
        assert re.fullmatch(r"About \d+ minutes\.", _quick_time(page))
        assert _quick_time(page) != before  # fewer questions at exploration
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        assert team_only.is_hidden()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"]
    if script:
        no_serious_axe_violations(page, "new round, just me")
        screenshots(page, "new-round-just-me")
    else:
        page.set_viewport_size(PHONE)
        page.screenshot(
            path="test-artifacts/workspace-new-round-just-me-nojs-375.png", full_page=True
        )

    page.get_by_text("Team survey", exact=True).click()
    assert team_only.is_visible()
    if script:
        screenshots(page, "new-round-team-survey")

    # answered alone: the round starts and goes straight to the lead's survey
    page.get_by_text("Just me", exact=True).click()
    page.get_by_text("Quick check", exact=True).click()
    page.get_by_text("Prototype", exact=True).click()
    page.get_by_role("button", name="Start the round").click()
    page.wait_for_url(re.compile(r"/r/[\w-]+$"))
    context.close()
