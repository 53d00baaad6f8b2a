"""The repository check in Chromium: a team lead goes from the results page to the round's
repository check, uploads a signals file written by `processlens repo-check`, and reads the
table; no serious axe violation; screenshots at 375 px and desktop width in test-artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from app import demo
from app.accounts import demo_users
from app.models import AssessmentRound, Membership, RoundResult, RoundStatus
from app.repository_check.cli import signals_json
from app.repository_check.scan import scan_repository
from tests.repository import common, shapes
from tests.workspace.browser_support import (
    browser,  # noqa: F401 - fixture
    no_serious_axe_violations,
    screenshots,
    workspace_server,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.browser


def test_a_lead_uploads_signals_and_reads_the_comparison(
    workspace_server: Any,  # noqa: F811
    browser: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    server = workspace_server
    with server.session() as session:
        seeded = demo.seed_demo(session=session)
        accounts = demo_users.seed_demo_accounts(
            session=session, organisation_id=seeded.organisation_id
        )
        session.commit()
        lead = next(account for account in accounts if account.role.value == "team_lead")
        team_id = session.exec(
            select(Membership.team_id).where(
                Membership.organisation_id == seeded.organisation_id,
                Membership.role == "team_lead",
            )
        ).first()
        round_id = session.exec(
            select(AssessmentRound.id)
            .join(RoundResult, col(RoundResult.round_id) == col(AssessmentRound.id))
            .where(AssessmentRound.team_id == team_id, AssessmentRound.status == RoundStatus.closed)
            .order_by(col(AssessmentRound.closed_at).desc())
        ).first()
    assert round_id is not None
    signal_catalog, sha256 = common.signals()
    readings = scan_repository(
        shapes.build("hacks_and_todos", tmp_path / "pricing-service"),
        signal_catalog,
        signals_sha256=sha256,
    )
    signals_file = tmp_path / "signals.json"
    signals_file.write_text(signals_json(readings))

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server.url + "/sign-in")
    page.get_by_label("E-mail address").fill(lead.email)
    page.get_by_label("Password").fill(lead.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(server.url + "/teams")

    page.goto(f"{server.url}/teams/{team_id}/rounds/{round_id}/results")
    page.get_by_role("tab", name="About and downloads").click()
    page.get_by_role("link", name="the repository check").click()
    page.wait_for_url(f"**/rounds/{round_id}/repository")
    page.get_by_label("Signals file").set_input_files(str(signals_file))
    page.get_by_role("button", name="Attach").click()
    page.wait_for_url("**/repository?notice=attached")
    assert "Signals file attached" in page.locator("[role=status]").inner_text()
    rows = page.locator("#repository-comparison tbody tr")
    assert rows.count() > 0
    assert "pricing-service" in page.locator("main").inner_text()
    no_serious_axe_violations(page, "repository check")
    screenshots(page, "repository-check")
