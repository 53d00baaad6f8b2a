"""A respondent fills the quick check from an invitation link: welcome, personal link, every
page with autosave, review, submit, thank-you; and a validation error shown next to its
question. axe-core on every kind of page; 375 px and desktop screenshots of each."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.surveys import browser_support, helpers
from tests.surveys.browser_support import (
    answer_page,
    answer_page_at_once,
    no_serious_axe_violations,
    screenshots,
)

pytestmark = pytest.mark.browser

# the live server and Chromium (fixtures shared by the survey's browser tests)
browser = browser_support.browser
survey_server = browser_support.survey_server


def test_quick_check_end_to_end_from_an_invitation_link(
    survey_server: Any,
    browser: Any,
) -> None:
    link = survey_server.invitation(role="data_scientist", results_min=2)
    context = browser.new_context(viewport={"width": 375, "height": 812})
    page = context.new_page()
    page.goto(link)
    assert page.locator("h1").inner_text() == "How does your team build ML-enabled software?"
    assert "lowered the threshold to 2" in page.locator("main").inner_text()
    no_serious_axe_violations(page, "welcome")
    screenshots(page, "welcome")

    page.get_by_role("button", name="Start the survey").click()
    page.wait_for_url(re.compile(r"/r/[\w-]+$"))
    personal = page.get_by_label("Your personal link").input_value()
    assert personal == page.url
    page.get_by_role("button", name="Copy link").click()  # shown by survey.js
    page.locator("[data-copy-status]", has_text="Link copied.").wait_for()
    no_serious_axe_violations(page, "personal link")
    screenshots(page, "personal-link")
    page.get_by_role("link", name="Begin").click()

    # page 1: answer, then watch autosave say "Saved"
    page.wait_for_url(re.compile(r"/questions\?page=1"))
    # the quick check's questions grouped by instrument: 4 pages, not one per rubric section
    assert page.locator(".survey-progress__where").inner_text().startswith("Page 1 of 4")
    assert page.get_by_role("button", name="Save and go back").count() == 0  # nowhere to go
    answered = answer_page(page)
    page.locator("[data-save-status][data-state=saved]").wait_for()
    asked = helpers.quick_questions("data_scientist")  # the quick check's question budget
    progress = page.locator("[data-progress-text]").inner_text()
    # an answer can hide a later question (a display condition): the total may drop by it
    assert re.search(rf"^{len(answered)} of {asked}|^{len(answered)} of {asked - 1} ", progress)
    no_serious_axe_violations(page, "question")
    screenshots(page, "question")

    page.get_by_role("button", name="Save and continue").click()

    # the remaining pages: "don't know" everywhere
    page.wait_for_url(re.compile(r"page=2$"))
    assert page.locator("h2.survey-part__title").count() >= 2  # sections joined, each headed
    screenshots(page, "joined-sections")
    while "/review" not in page.url:
        before = page.url
        answer_page_at_once(page)  # the last choice: "don't know" or "not applicable"
        page.get_by_role("button", name=re.compile("Save and (continue|review)")).click()
        page.wait_for_url(lambda url, before=before: url != before)

    assert page.locator("h1").inner_text() == "Check your answers"
    assert page.locator(".survey-missing").count() == 0
    no_serious_axe_violations(page, "review")
    screenshots(page, "review")
    page.get_by_role("button", name="Submit my answers").click()
    page.wait_for_url(re.compile(r"/done$"))
    assert page.locator("h1").inner_text() == "Thank you: your answers are in"
    no_serious_axe_violations(page, "thank-you")
    screenshots(page, "thank-you")
    context.close()


def test_a_validation_error_is_shown_next_to_its_question(survey_server: Any, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 812})
    page = context.new_page()
    page.goto(survey_server.invitation(role="data_scientist"))
    page.get_by_role("button", name="Start the survey").click()
    page.wait_for_url(re.compile(r"/r/[\w-]+$"))
    page.get_by_role("link", name="Begin").click()
    page.wait_for_url(re.compile(r"page=1$"))
    # a bad evidence link is refused next to its question; the rest of the page is kept
    question = page.locator("[data-qid]").first
    question.locator("label.survey-choice").first.click()
    question.locator("summary", has_text="Add a note").click()
    question.get_by_label("Evidence link").fill("ftp://files.example.org/report")
    question.get_by_label("Note", exact=True).fill("Checked with the team.")
    page.get_by_role("button", name="Save and continue").click()
    page.wait_for_url(re.compile(r"/questions\?page=1$"))
    error = page.locator(".survey-field-error:visible")
    assert "must start with http:// or https://" in error.inner_text()
    described = question.locator("fieldset").get_attribute("aria-describedby")
    assert error.get_attribute("id") in described.split()
    assert page.evaluate("document.activeElement.id") == "survey-errors"  # announced
    assert question.get_by_label("Note", exact=True).input_value() == "Checked with the team."
    assert question.locator("input[type=radio]:checked").count() == 1
    no_serious_axe_violations(page, "question with an error")
    screenshots(page, "question-error")
    question.get_by_label("Evidence link").fill("https://files.example.org/report")
    page.get_by_role("button", name="Save and continue").click()
    page.wait_for_url(re.compile(r"page=2$"))
    context.close()
