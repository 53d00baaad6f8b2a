"""The whole survey works with JavaScript disabled: plain forms and Post/Redirect/Get."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.surveys import browser_support
from tests.surveys.browser_support import answer_page

pytestmark = pytest.mark.browser

# the live server and Chromium (fixtures shared by the survey's browser tests)
browser = browser_support.browser
survey_server = browser_support.survey_server


def test_the_whole_flow_without_javascript(survey_server: Any, browser: Any) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(survey_server.invitation(role="ml_engineer"))
    page.get_by_label("Your role in the team").select_option("software_engineer")
    page.get_by_role("button", name="Start the survey").click()
    page.wait_for_url(re.compile(r"/r/[\w-]+$"))
    assert page.get_by_role("button", name="Copy link").is_hidden()  # needs the script
    page.get_by_role("link", name="Begin").click()
    page.wait_for_url(re.compile(r"page=1$"))

    # a problem is explained next to its question, and the page keeps what was chosen
    question = page.locator("[data-qid]").first
    question.locator("label.survey-choice").first.click()
    question.locator("summary", has_text="Add a note").click()
    question.get_by_label("Evidence link").fill("not a link")
    page.get_by_role("button", name="Save and continue").click()
    page.wait_for_url(re.compile(r"/questions\?page=1$"))
    error = page.locator(".survey-field-error:visible")
    assert "must start with http://" in error.inner_text()
    described = question.locator("fieldset").get_attribute("aria-describedby")
    assert error.get_attribute("id") in described.split()
    assert page.locator("#survey-errors[role=alert] a").get_attribute("href") == (
        "#" + question.get_attribute("id")
    )
    assert question.locator("input:checked").count() == 1
    question.get_by_label("Evidence link").fill("")

    pages = 0
    while "/review" not in page.url:
        before = page.url
        answer_page(page, choice=-1)
        page.get_by_role("button", name=re.compile("Save and (continue|review)")).click()
        page.wait_for_url(lambda url, before=before: url != before)
        pages += 1
    assert pages == 4  # the quick check's 20 questions, one page per instrument
    assert page.locator(".survey-missing").count() == 0
    page.get_by_role("button", name="Submit my answers").click()
    page.wait_for_url(re.compile(r"/done$"))
    assert page.locator("h1").inner_text() == "Thank you: your answers are in"
    # a resubmitted form (the browser's back button, then submit again) changes nothing
    page.go_back()
    page.wait_for_url(re.compile(r"/done$"))  # the review page now leads to the thank-you page
    context.close()
