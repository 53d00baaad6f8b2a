"""A newcomer with no prior knowledge: sign in as the demo team lead, start a quick check
answered alone, answer it, and reach a results page with a recommendation, in under 30 page
interactions (every page the browser loads, links followed and forms sent). A solo round
shows its results as soon as it is submitted."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app import demo
from app.accounts import demo_users
from tests.workspace.browser_support import (
    backend,  # noqa: F401 - fixture: SQLite only
    browser,  # noqa: F401 - fixture
    no_serious_axe_violations,
    screenshots,
    workspace_server,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.browser

MAX_INTERACTIONS = 30


def _answer_visible_questions(page: Any) -> None:
    """Choose the first option of every question on the page that is not answered yet
    (again, if an answer revealed another question)."""
    for _ in range(3):
        open_questions = [
            question
            for question in page.locator("[data-qid]:visible").all()
            if question.locator("input:checked").count() == 0
        ]
        if not open_questions:
            return
        for question in open_questions:
            question.locator("label.survey-choice").first.click()


def test_a_newcomer_gets_a_recommendation_in_under_30_page_interactions(
    workspace_server: Any,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    server = workspace_server
    with server.session() as session:
        seeded = demo.seed_demo(session=session)
        accounts = demo_users.seed_demo_accounts(
            session=session, organisation_id=seeded.organisation_id
        )
        session.commit()
    lead = next(account for account in accounts if account.role.value == "team_lead")

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    loads: list[str] = []
    page.on(
        "framenavigated",
        lambda frame: loads.append(frame.url) if frame == page.main_frame else None,
    )

    page.goto(server.url + "/")
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("E-mail address").fill(lead.email)
    page.get_by_label("Password").fill(lead.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(server.url + "/teams")

    # the home page says what to do next; "Start a new round" it is
    page.get_by_role("link", name="Start a new round for Demand forecasting").click()
    page.wait_for_url(re.compile(r"/rounds/new$"))
    page.get_by_text("Just me", exact=True).click()
    assert page.locator("[data-survey-only]").is_hidden()
    page.get_by_text("Quick check", exact=True).click()
    # the stage is pre-filled from the team's previous round
    assert page.locator('input[name="stage"]:checked').count() == 1
    page.get_by_role("button", name="Start the round").click()
    page.wait_for_url(re.compile(r"/r/[\w-]+$"))
    page.get_by_role("link", name="Begin").click()

    while "/review" not in page.url:
        before = page.url
        page.wait_for_selector("[data-qid]")
        _answer_visible_questions(page)
        page.get_by_role("button", name=re.compile("Save and (continue|review)")).click()
        page.wait_for_url(lambda url, before=before: url != before)
    assert page.locator(".survey-missing").count() == 0
    page.get_by_role("button", name="Submit my answers").click()
    page.wait_for_url(re.compile(r"/done$"))

    # back to the workspace from the survey's own pages, and straight to the results
    page.get_by_role("link", name="Your teams").click()
    page.wait_for_url(server.url + "/teams")
    page.get_by_role("link", name="See the results of Demand forecasting").click()
    page.wait_for_url(re.compile(r"/results$"))

    model = page.locator(".ws-summary__process .ws-model-name")
    assert model.inner_text() not in ("", "No recommendation yet")
    assert page.locator("#process .ws-model--top .ws-reasons > li").count() >= 1
    assert "Quick check" in page.locator(".ws-round-facts").inner_text()
    assert len(loads) < MAX_INTERACTIONS, loads
    no_serious_axe_violations(page, "newcomer's results")
    screenshots(page, "newcomer-results")
    page.close()
