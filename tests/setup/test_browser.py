"""In Chromium: a consultant uploads a CSV of 2 units and 20 teams with leads; the preview
refuses a file with one misspelt unit (the line named, nothing written); the corrected file is
previewed and imported; then rounds for all 20 teams start in one action and their links are
downloaded as CSV. Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select

from app.accounts import users
from app.config import ROOT_DIR, Settings
from app.models import AssessmentRound, Membership, Organisation, Team, UserRole
from tests.workspace.browser_support import (
    DESKTOP,
    PASSWORD,
    backend,  # noqa: F401 - fixture (SQLite)
    browser,  # noqa: F401 - fixture
    no_serious_axe_violations,
    workspace_server,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.browser


@pytest.fixture
def make_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    """The live server's settings let consultants set up client organisations."""

    def with_consultants(database_url: str, **overrides: Any) -> Settings:
        return make_settings(database_url, consultants_create_organisations=True, **overrides)

    return with_consultants


ARTIFACTS = ROOT_DIR / "test-artifacts"


def _file(unit_typo: bool) -> str:
    lines = ["unit,team,lead_email,lead_name", "Payments,,,", "Search,,,"]
    for number in range(1, 21):
        unit = "Payments" if number <= 10 else "Search"
        if unit_typo and number == 5:
            unit = "Paymnts"
        lines.append(f"{unit},Team {number:02d},lead{number}@example.org,Lead {number}")
    return "\n".join(lines) + "\n"


def _counts(server: Any, org_id: int) -> tuple[int, int]:
    with server.session() as session:
        teams = session.exec(
            select(func.count()).select_from(Team).where(Team.organisation_id == org_id)
        ).one()
        started = session.exec(
            select(func.count())
            .select_from(AssessmentRound)
            .join(Team, Team.id == AssessmentRound.team_id)  # type: ignore[arg-type]
            .where(Team.organisation_id == org_id)
        ).one()
        return int(teams), int(started)


def test_a_consultant_imports_twenty_teams_and_starts_their_rounds(
    browser: Any,  # noqa: F811
    workspace_server: Any,  # noqa: F811
    tmp_path: Any,
) -> None:
    with workspace_server.session() as session:
        organisation = Organisation(name="Globex Client", slug="globex-client")
        session.add(organisation)
        session.flush()
        consultant = users.create_user(
            session=session,
            email="casey@example.org",
            display_name="Casey Consultant",
            role=UserRole.consultant,
            password=PASSWORD,
        )
        session.add(
            Membership(
                user_id=consultant.id or 0,
                organisation_id=organisation.id or 0,
                role=UserRole.consultant,
            )
        )
        session.commit()
        org_id = organisation.id or 0
    bad, good = tmp_path / "teams-bad.csv", tmp_path / "teams.csv"
    bad.write_text(_file(unit_typo=True), encoding="utf-8")
    good.write_text(_file(unit_typo=False), encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    page = context.new_page()
    try:
        base = workspace_server.url
        page.goto(base + "/sign-in")
        page.get_by_label("E-mail address").fill("casey@example.org")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()

        page.goto(f"{base}/organisations/{org_id}/import")
        page.get_by_label("CSV file").set_input_files(str(bad))
        page.get_by_role("button", name="Preview").click()
        refused = page.locator("#preview tr.row-error").inner_text()
        assert "line 8: unit 'Paymnts' does not exist — did you mean 'Payments'?" in refused
        assert "Nothing was written" in page.locator("#nothing-written").inner_text()
        assert page.locator("#confirm-import").count() == 0
        page.screenshot(path=str(ARTIFACTS / "import-refused-line.png"), full_page=True)
        assert _counts(workspace_server, org_id) == (0, 0)

        page.get_by_label("CSV file").set_input_files(str(good))
        page.get_by_role("button", name="Preview").click()
        assert page.locator("#preview tbody tr").count() == 22
        page.screenshot(path=str(ARTIFACTS / "import-preview.png"), full_page=True)
        assert _counts(workspace_server, org_id) == (0, 0)  # the preview wrote nothing
        no_serious_axe_violations(page, "import preview")
        page.get_by_role("button", name="Import 22 lines").click()
        assert "20 team(s) created" in page.locator("#import-done").inner_text()
        assert page.locator("#password-links tbody tr").count() == 20
        page.screenshot(path=str(ARTIFACTS / "import-done.png"), full_page=True)
        assert _counts(workspace_server, org_id) == (20, 0)

        page.get_by_role("link", name="Start rounds for these teams").click()
        page.get_by_label("Every team of Payments (10)").check()
        page.get_by_label("Every team of Search (10)").check()
        page.get_by_label("The teams' project stage").select_option("operating")
        page.get_by_role("button", name="Start the rounds").click()
        assert "20 round(s) started" in page.get_by_role("status").inner_text()
        assert page.locator("#round-links tbody tr").count() == 20 * 4
        no_serious_axe_violations(page, "rounds started")
        page.screenshot(path=str(ARTIFACTS / "bulk-rounds-links.png"), full_page=True)
        with page.expect_download() as download_info:
            page.get_by_role("button", name="Download the links (CSV)").click()
        saved = tmp_path / "links.csv"
        download_info.value.save_as(saved)
        assert len(saved.read_text(encoding="utf-8").splitlines()) == 1 + 20 * 4
        assert _counts(workspace_server, org_id) == (20, 20)
    finally:
        context.close()


def test_a_large_file_is_imported_by_a_job_whose_page_shows_the_links_once(
    browser: Any,  # noqa: F811
    workspace_server: Any,  # noqa: F811
    tmp_path: Any,
) -> None:
    """60 teams (more than setup_import.JOB_ROWS lines): the confirmation opens the job's
    page, which updates itself until the import is done and then shows the links, once."""
    with workspace_server.session() as session:
        organisation = Organisation(name="Initech Client", slug="initech-client")
        session.add(organisation)
        session.flush()
        consultant = users.create_user(
            session=session,
            email="jules@example.org",
            display_name="Jules Consultant",
            role=UserRole.consultant,
            password=PASSWORD,
        )
        session.add(
            Membership(
                user_id=consultant.id or 0,
                organisation_id=organisation.id or 0,
                role=UserRole.consultant,
            )
        )
        session.commit()
        org_id = organisation.id or 0
    big = tmp_path / "teams.csv"
    lines = ["unit,team,lead_email,lead_name", "Payments,,,"]
    lines += [f"Payments,Team {n:02d},lead{n}@example.org,Lead {n}" for n in range(1, 61)]
    big.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        base = workspace_server.url
        page.goto(base + "/sign-in")
        page.get_by_label("E-mail address").fill("jules@example.org")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()

        page.goto(f"{base}/organisations/{org_id}/import")
        page.get_by_label("CSV file").set_input_files(str(big))
        page.get_by_role("button", name="Preview").click()
        page.get_by_role("button", name="Import 61 lines").click()
        page.wait_for_url(f"{base}/organisations/{org_id}/import/jobs/*", timeout=60_000)
        done = page.locator("#import-done")
        done.wait_for(timeout=60_000)  # the page refreshes itself until then
        assert "60 team(s) created" in done.inner_text()
        assert page.locator("#password-links tbody tr").count() == 60
        no_serious_axe_violations(page, "import job done")
        page.screenshot(path=str(ARTIFACTS / "import-job-done.png"), full_page=True)
        assert _counts(workspace_server, org_id) == (60, 0)

        page.reload()
        assert page.locator("#password-links").count() == 0
        assert "no longer kept" in page.locator("#links-gone").inner_text()
        page.screenshot(path=str(ARTIFACTS / "import-job-links-gone.png"), full_page=True)
    finally:
        context.close()
