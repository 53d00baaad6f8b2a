"""Two tabs editing the same response: the stale one ends on the conflict page, and no answer
is lost."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.surveys import browser_support
from tests.surveys.browser_support import checked_values, no_serious_axe_violations, screenshots

pytestmark = pytest.mark.browser

# the live server and Chromium (fixtures shared by the survey's browser tests)
browser = browser_support.browser
survey_server = browser_support.survey_server


def test_two_tabs_end_on_the_conflict_page_and_lose_nothing(
    survey_server: Any,
    browser: Any,
) -> None:
    context = browser.new_context()
    tab_a = context.new_page()
    tab_a.goto(survey_server.invitation())
    tab_a.get_by_role("button", name="Start the survey").click()
    tab_a.wait_for_url(re.compile(r"/r/[\w-]+$"))
    tab_a.get_by_role("link", name="Begin").click()
    tab_a.wait_for_url(re.compile(r"page=1$"))
    tab_b = context.new_page()
    tab_b.goto(tab_a.url)

    first, second = tab_a.locator("[data-qid]").nth(0), tab_b.locator("[data-qid]").nth(1)
    first_qid, second_qid = first.get_attribute("data-qid"), second.get_attribute("data-qid")
    first.locator("label.survey-choice").nth(0).click()
    tab_a.get_by_role("button", name="Save and continue").click()
    tab_a.wait_for_url(re.compile(r"page=2$"))

    second.locator("label.survey-choice").nth(1).click()
    tab_b.get_by_role("button", name="Save and continue").click()
    heading = tab_b.locator("h1")
    heading.filter(has_text="Your answers were changed in another tab").wait_for()
    conflicts = tab_b.locator(".survey-question")
    assert conflicts.count() == 2  # both versions of each answer that differs
    saved_first = conflicts.nth(0).get_by_label(re.compile("Keep the saved version"))
    assert saved_first.is_checked()  # this tab did not change it: the saved answer stays
    assert conflicts.nth(1).get_by_label(re.compile("Use the answer from this tab")).is_checked()
    no_serious_axe_violations(tab_b, "conflict")
    screenshots(tab_b, "conflict")
    tab_b.get_by_role("button", name="Keep these answers").click()
    tab_b.wait_for_url(re.compile(r"page=1&notice=resolved$"))
    values = checked_values(tab_b)
    assert values[first_qid]  # tab A's answer
    assert values[second_qid]  # and tab B's
    context.close()
