"""A team lead runs a team survey in Chromium: signs in, starts the round and copies the links;
results stay hidden while the survey is open, even past the threshold; three data scientists
and three engineers answer handoff in opposite ways, the lead closes the round, and the results
show a process model with reasons, a roadmap and the handoff perception gap between data science
and engineering (with one of each, no gap: a role group needs three people); marking an upgrade
adopted and setting a target change the page; the radar's table holds the drawn chart's data.
axe-core on the home, round and results pages; 375 px and desktop screenshots."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest

from app.db import utcnow
from app.models import AssessmentRound, Organisation, Team
from app.workspace import rounds
from tests.workspace import helpers
from tests.workspace.browser_support import (
    backend,  # noqa: F401 - fixture: SQLite only
    browser,  # noqa: F401 - fixture
    no_serious_axe_violations,
    screenshots,
    sign_in,
    workspace_server,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.browser


def _results_text(page: Any) -> str:
    return " ".join(page.locator("main").inner_text().split())


def test_a_team_survey_from_links_to_acting_on_results(
    workspace_server: Any,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    server = workspace_server
    team_id = server.team_lead()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page = context.new_page()
    sign_in(page, server.url, "tess@example.org")

    # home: the team, with nothing run yet
    assert "No round yet" in page.locator(".ws-team").inner_text()
    no_serious_axe_violations(page, "home")
    screenshots(page, "home-empty")

    # start a team survey (quick check, productionising)
    page.get_by_role("link", name="Start a round for Checkout ranking").click()
    page.wait_for_url(re.compile(r"/rounds/new$"))
    page.get_by_text("Quick check", exact=True).click()
    page.get_by_text("Productionising", exact=True).click()
    screenshots(page, "new-round")
    no_serious_axe_violations(page, "new round")
    page.get_by_role("button", name="Start the round").click()
    page.wait_for_url(re.compile(r"/teams/\d+/rounds$"))
    assert page.locator("h2", has_text="Your invitation links").is_visible()
    fields = page.locator(".ws-new-links input.ws-copy__value")
    links = {
        field.get_attribute("id").removeprefix("link-"): field.input_value()
        for field in fields.all()
    }
    assert sorted(links) == [
        "data_scientist",
        "ml_engineer",
        "product_manager",
        "software_engineer",
    ]
    assert all(link.startswith(server.url + "/i/") for link in links.values())
    # copy buttons (shown by workspace.js) put the link on the clipboard
    page.get_by_role("button", name="Copy link for data scientists").click()
    page.locator('[data-copy-status="link-data_scientist"]', has_text="Copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == links["data_scientist"]
    no_serious_axe_violations(page, "round with new links")
    screenshots(page, "round-links")

    # results stay hidden while the survey is open: they are published once, at close
    round_path = page.evaluate(
        "document.querySelector('form[action$=\"/close\"]').getAttribute('action')"
    ).removesuffix("/close")
    page.goto(server.url + round_path + "/results")
    assert "The survey is open: 0 responses so far." in _results_text(page)
    assert "published once, when it closes, if at least 3 people" in _results_text(page)
    for _ in range(3):
        server.answer(links["data_scientist"], handoff="high")
    page.reload()
    assert "The survey is open: 3 responses so far." in _results_text(page)
    assert page.locator("#process").count() == 0  # the threshold alone publishes nothing
    screenshots(page, "results-waiting")

    # three engineers answer handoff the other way; still nothing while the survey is open
    server.answer(links["software_engineer"], handoff="low")
    server.answer(links["ml_engineer"], handoff="low")
    server.answer(links["ml_engineer"], handoff="low")
    page.reload()
    assert "The survey is open: 6 responses so far." in _results_text(page)
    assert page.locator("#process").count() == 0
    page.goto(server.url + round_path)
    assert (
        "6 responses submitted; team results are published once, when the round closes"
        in _results_text(page)
    )
    counts = page.locator("table.ws-table tbody tr").all_inner_texts()
    assert any(row.startswith("Data scientist") and row.split()[-1] == "3" for row in counts)
    no_serious_axe_violations(page, "round")
    screenshots(page, "round")

    # the lead closes the round: the results are published, with the gap
    page.get_by_role("button", name="Close the round").click()
    page.wait_for_load_state()
    assert "The round has closed." in _results_text(page)
    assert page.get_by_role("button", name="Close the round").count() == 0
    page.get_by_role("link", name="See the results").click()
    page.wait_for_url(re.compile(r"/results$"))
    model = page.locator("#process .ws-model--top")
    assert model.locator("h3").inner_text()
    assert model.locator(".ws-reasons > li").count() >= 1
    assert page.locator("#roadmap .ws-practice").count() >= 1
    # the gaps as a picture first, in words and dots; the table a click away
    assert (
        "Engineering sees things as weaker than data science"
        in page.locator("#gap-summary").inner_text()
    )
    assert page.locator("#gaps .ws-dumbbell__row").count() >= 1
    # the details below the summary are tabs: one panel at a time
    page.get_by_role("tab", name="Where roles differ").click()
    page.get_by_text("The gaps as a table").click()
    gaps = page.locator("#perception-gaps tbody tr")
    handoff_gaps = [row for row in gaps.all_inner_texts() if "Handoff maturity" in row]
    assert handoff_gaps
    assert all("Engineering" in row and "Data science" in row for row in handoff_gaps)

    # the radar as drawn by Plotly, its JSON and its table agree
    page.get_by_role("tab", name="Scores").click()
    page.locator("#profile .chart-interactive .main-svg").first.wait_for()
    drawn = page.evaluate(
        "(() => { const d = document.querySelector('#profile .chart-interactive').data[0];"
        " return {r: d.r, theta: d.theta}; })()"
    )
    embedded = json.loads(page.locator("#chart-radar-figure").text_content())["data"][0]
    assert drawn == {"r": embedded["r"], "theta": embedded["theta"]}
    page.get_by_text("The chart's data as a table").click()
    rows = page.locator("#radar-table tbody tr")
    table = [
        (row.locator("th").inner_text(), row.locator("td.num").first.inner_text())
        for row in rows.all()
    ]
    chart = [
        (" ".join(label.replace("<br>", " ").split()), "–" if value is None else f"{value:.0f}")
        for label, value in zip(drawn["theta"][:-1], drawn["r"][:-1], strict=True)
    ]
    assert table == chart
    no_serious_axe_violations(page, "results")

    # mark the first upgrade adopted: it leaves Now and is listed as adopted
    page.get_by_role("tab", name="Roadmap").click()
    first = page.locator("#roadmap .ws-practice").first
    title = first.locator("h4").inner_text().lstrip("0123456789").strip()
    first.get_by_role("button", name=re.compile("^Mark adopted")).click()
    page.wait_for_url(re.compile(r"notice=adopted"))
    assert "Marked as adopted" in page.get_by_role("status").first.inner_text()
    adopted = page.locator("#roadmap .ws-adopted").inner_text()
    assert title in adopted
    now_titles = page.locator("#roadmap .ws-practice h4").all_inner_texts()
    assert all(title not in text for text in now_titles[:5])

    # set a target: the score card shows how far the team is from it
    page.get_by_role("tab", name="About and downloads").click()
    page.get_by_role(
        "combobox", name="Collaboration between data science and engineering"
    ).select_option("established")
    page.get_by_role("button", name="Save targets").click()
    page.wait_for_url(re.compile(r"notice=targets"))
    card = page.locator(".ws-card", has_text="Collaboration between data science")
    assert re.search(r"Target Established: \d+ % there", " ".join(card.inner_text().split()))
    assert card.locator("progress").get_attribute("value")
    screenshots(page, "results-acted")

    # the home page now shows the round's headline
    page.get_by_role("navigation", name="Account").get_by_role("link", name="Your teams").click()
    page.wait_for_url(server.url + "/teams")
    card = page.locator(".ws-team")
    assert "Recommended process:" in card.inner_text()
    no_serious_axe_violations(page, "home with a result")
    screenshots(page, "home")
    context.close()

    # one data scientist and one engineer (threshold lowered to 2): no perception gap
    with server.session() as session:
        team = session.get(Team, team_id)
        assert team is not None
        organisation = session.get(Organisation, team.organisation_id)
        assert organisation is not None
        started = rounds.start_round(
            session=session,
            settings=server.settings,
            catalog=helpers.catalog(),
            team=team,
            organisation=organisation,
            request=rounds.RoundRequest(
                mode="team_survey",
                kind="quick",
                stage="productionising",
                instruments=("trajectory", "collaboration", "handoff", "debt"),
                results_min=2,
                closes_on=utcnow().date() + timedelta(days=7),
                roles=("data_scientist", "software_engineer"),
            ),
            created_by_id=None,
        )
        pair_round = started.assessment_round.id
        session.commit()
    server.answer(started.links["data_scientist"].url(server.settings), handoff="high")
    server.answer(started.links["software_engineer"].url(server.settings), handoff="low")
    with server.session() as session:
        closing = session.get(AssessmentRound, pair_round)
        assert closing is not None
        rounds.close_round(session=session, assessment_round=closing)
        session.commit()
    second = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(second, server.url, "tess@example.org")
    second.goto(f"{server.url}/teams/{team_id}/rounds/{pair_round}/results")
    assert second.locator("#process .ws-model--top").count() == 1
    assert second.locator("#perception-gaps").count() == 0
    assert "No perception gap" in second.locator("#gaps").inner_text()
    second.close()
