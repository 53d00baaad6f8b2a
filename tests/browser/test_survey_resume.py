"""Stopping halfway and coming back on another device; finishing a page by keyboard alone."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.surveys import browser_support, helpers
from tests.surveys.browser_support import answer_page, checked_values

pytestmark = pytest.mark.browser

# the live server and Chromium (fixtures shared by the survey's browser tests)
browser = browser_support.browser
survey_server = browser_support.survey_server


def _begin(browser: Any, link: str) -> tuple[Any, Any, str]:
    context = browser.new_context()
    page = context.new_page()
    page.goto(link)
    page.get_by_role("button", name="Start the survey").click()
    page.wait_for_url(re.compile(r"/r/[\w-]+$"))
    resume_url = page.get_by_label("Your personal link").input_value()
    page.get_by_role("link", name="Begin").click()
    page.wait_for_url(re.compile(r"page=1$"))
    return context, page, resume_url


def test_stop_halfway_and_find_every_answer_on_another_device(
    survey_server: Any,
    browser: Any,
) -> None:
    context, page, resume_url = _begin(browser, survey_server.invitation())
    first_page = answer_page(page, choice=1)
    note_question = page.locator("[data-qid]").first
    note_question.locator("summary", has_text="Add a note").click()
    note_question.get_by_label("Note", exact=True).fill("Our lead knows more.")
    note_question.get_by_label("My note and evidence may be shown to the team").check()
    page.get_by_role("button", name="Save and continue").click()
    page.wait_for_url(re.compile(r"page=2$"))
    second_page = answer_page(page, choice=0)
    # no button pressed: the autosave keeps the answers, then the tab is closed
    page.locator("[data-save-status][data-state=saved]").wait_for()
    on_first = checked_values(page)
    context.close()

    other_device = browser.new_context()
    page = other_device.new_page()
    page.goto(resume_url)
    page.wait_for_url(re.compile(r"page=2$"))  # back where the respondent stopped
    assert checked_values(page) == on_first
    assert all(on_first[qid] for qid in second_page)
    page.get_by_role("button", name="Save and go back").click()
    page.wait_for_url(re.compile(r"page=1$"))
    values = checked_values(page)
    assert all(len(values[qid]) == 1 for qid in first_page)
    question = page.locator("[data-qid]").first
    assert question.locator("details.survey-extras").get_attribute("open") is not None
    assert question.get_by_label("Note", exact=True).input_value() == "Our lead knows more."
    assert question.get_by_label("My note and evidence may be shown to the team").is_checked()
    # every answer of both pages counts, after resuming on another device
    asked = helpers.quick_questions("data_scientist")
    progress = page.locator("[data-progress-text]").inner_text()
    assert f"{len(first_page) + len(second_page)} of {asked} questions answered" in progress
    other_device.close()


def test_a_page_can_be_completed_with_the_keyboard_alone(
    survey_server: Any,
    browser: Any,
) -> None:
    context, page, _ = _begin(browser, survey_server.invitation())
    qids = page.eval_on_selector_all("[data-qid]", "els => els.map(e => e.dataset.qid)")
    answered: set[str] = set()
    for _ in range(80):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => { const e = document.activeElement; const q = e.closest('[data-qid]');
              return {tag: e.tagName, type: e.type || '', name: e.name || '',
                      text: (e.innerText || '').trim(), qid: q ? q.dataset.qid : null,
                      outline: getComputedStyle(e.closest('label') || e).outlineStyle}; }"""
        )
        if focused["type"] == "radio" and focused["qid"] not in answered:
            assert focused["outline"] == "solid", "keyboard focus must be visible"
            # Space picks the focused option; the arrow keys move along the group
            page.keyboard.press("Space" if not answered else "ArrowDown")
            answered.add(focused["qid"])
        if focused["text"] == "Save and continue":
            assert answered == set(qids)
            page.keyboard.press("Enter")
            break
    page.wait_for_url(re.compile(r"page=2$"))
    page.go_back()
    page.wait_for_url(re.compile(r"page=1$"))
    page.reload()
    values = checked_values(page)
    assert all(len(values[qid]) == 1 for qid in qids)
    context.close()
