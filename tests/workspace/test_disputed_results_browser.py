"""A split team in Chromium: three data scientists answer handoff at the top, three engineers at
the bottom, the lead closes the round. The results page shows the handoff levels as ranges
("Level 0–2, disputed"), says aggregates use the lower bound, and lists every disputed answer
in one notice whose list opens on a click; the team report PDF shows the same ranges. The
page, the notice opened and the PDF's pages are saved under test-artifacts/."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest

from tests.workspace.browser_support import (
    ARTIFACTS,
    backend,  # noqa: F401 - fixture: SQLite only
    browser,  # noqa: F401 - fixture
    no_serious_axe_violations,
    screenshots,
    sign_in,
    workspace_server,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.browser

RANGE = re.compile(r"[Ll]evel \d–\d, disputed")


def test_a_split_team_reads_ranges_and_one_notice_of_disputed_answers(
    workspace_server: Any,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    server = workspace_server
    server.team_lead()
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(page, server.url, "tess@example.org")
    page.get_by_role("link", name="Start a round for Checkout ranking").click()
    page.get_by_text("Full assessment", exact=True).click()
    page.get_by_text("Productionising", exact=True).click()
    page.get_by_role("button", name="Start the round").click()
    page.wait_for_url(re.compile(r"/teams/\d+/rounds$"))
    links = {
        field.get_attribute("id").removeprefix("link-"): field.input_value()
        for field in page.locator(".ws-new-links input.ws-copy__value").all()
    }
    for _ in range(3):
        server.answer(links["data_scientist"], handoff="high")
    for role in ("ml_engineer", "ml_engineer", "software_engineer"):
        server.answer(links[role], handoff="low")
    page.reload()
    page.get_by_role("button", name="Close the round").click()
    page.wait_for_load_state()
    page.get_by_role("link", name="See the results").click()
    page.wait_for_url(re.compile(r"/results$"))

    notices = page.locator(".ws-disputes")
    assert notices.count() == 1
    assert page.locator(".alert", has_text="Disputed answer to").count() == 0
    summary = " ".join(page.locator("#summary").inner_text().split())
    assert RANGE.search(summary), summary
    assert "lower bound" in summary
    listed = notices.locator("details li")
    assert not listed.first.is_visible()  # a click away
    notices.locator("summary").click()
    assert listed.count() >= 2
    assert listed.first.is_visible()
    no_serious_axe_violations(page, "results with disputed answers")
    notices.screenshot(path=str(ARTIFACTS / "workspace-disputes-notice.png"))
    page.locator("#summary").screenshot(path=str(ARTIFACTS / "workspace-disputes-summary.png"))
    page.locator("#handoff").screenshot(path=str(ARTIFACTS / "workspace-disputes-handoff.png"))
    screenshots(page, "results-disputed")

    pdf = page.request.get(page.url.removesuffix("/results") + "/report.pdf")
    assert pdf.status == 200
    target = ARTIFACTS / "team-report-disputed.pdf"
    target.write_bytes(pdf.body())
    text = subprocess.run(
        ["pdftotext", "-layout", str(target), "-"], check=True, capture_output=True, text=True
    ).stdout
    flat = " ".join(text.split())
    assert RANGE.search(flat) or re.search(r"\d–\d, disputed", flat), "no range in the PDF"
    assert "Where the team’s answers differ" in flat
