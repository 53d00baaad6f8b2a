"""In Chromium, the whole set-up of a new client as a consultant would do it (issue 20): sign in,
create the client organisation, brand it with a logo, import 2 units and 20 teams with their
leads from a CSV (a file with one bad line first: refused with the line named, nothing
written), start all 20 rounds in one action; the test then answers and closes the rounds by
script (the survey API with the resume tokens alone, the workspace API with the consultant's
token; not counted as interactions); the consultant downloads every team's report as a zip
(a job, waited for on its progress page) and the organisation report. ``pdftotext`` and
``pdfimages`` find the firm's name and the logo in the organisation PDF and in team PDFs of the
zip. Every click, fill, upload, selection and typed address from sign-in to the zip is counted:
fewer than 30. Screenshots of each step go to test-artifacts/consultant-setup-*.png."""

from __future__ import annotations

import dataclasses
import io
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import func
from sqlmodel import select

from app.accounts import api_tokens, users
from app.config import ROOT_DIR, Settings
from app.models import AssessmentRound, BusinessUnit, Organisation, Team, UserRole
from app.rubric.answers import RoundSettings
from tests.workspace import helpers
from tests.workspace.browser_support import (
    DESKTOP,
    PASSWORD,
    backend,  # noqa: F401 - fixture (SQLite)
    browser,  # noqa: F401 - fixture
    workspace_server,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT_DIR / "test-artifacts"
FIRM = "Northwind Advisory"
CONSULTANT = "Casey Consultant"
EMAIL = "casey@example.org"
CLIENT = "Globex Retail"
RESPONDENTS = 3  # a team survey's results show from 3 submitted responses (results_min)
MAX_INTERACTIONS = 30


@pytest.fixture
def make_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    """The live server lets consultants set up client organisations (off by default)."""

    def with_consultants(database_url: str, **overrides: Any) -> Settings:
        return make_settings(database_url, consultants_create_organisations=True, **overrides)

    return with_consultants


@dataclasses.dataclass
class Interactions:
    """What the consultant does, counted: each click, fill, upload, selection, tick and typed
    address is one interaction. A screenshot of every step goes to test-artifacts/."""

    page: Any
    count: int = 0
    steps: list[str] = dataclasses.field(default_factory=list)

    def _one(self, what: str) -> None:
        self.count += 1
        self.steps.append(what)

    def goto(self, url: str) -> None:
        self._one(f"type {url}")
        self.page.goto(url)

    def click(self, locator: Any, what: str) -> None:
        self._one(f"click {what}")
        locator.click()

    def fill(self, locator: Any, value: str) -> None:
        self._one(f"fill {value}")
        locator.fill(value)

    def upload(self, locator: Any, path: Path) -> None:
        self._one(f"upload {path.name}")
        locator.set_input_files(str(path))

    def select(self, locator: Any, value: str) -> None:
        self._one(f"select {value}")
        locator.select_option(value)

    def check(self, locator: Any, what: str) -> None:
        self._one(f"tick {what}")
        locator.check()

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(ARTIFACTS / f"consultant-setup-{name}.png"), full_page=True)


def _logo() -> bytes:
    """A small two-colour PNG, as a firm's logo."""
    image = Image.new("RGB", (240, 80), (255, 255, 255))
    for x in range(20, 220):
        for y in range(20, 60):
            image.putpixel((x, y), (26, 68, 128))
    output = io.BytesIO()
    image.save(output, format="PNG")
    return output.getvalue()


def _teams_csv(*, typo: bool) -> str:
    lines = ["unit,team,lead_email,lead_name", "Payments,,,", "Search,,,"]
    for number in range(1, 21):
        unit = "Payments" if number <= 10 else "Search"
        if typo and number == 5:
            unit = "Paymnts"
        lines.append(f"{unit},Team {number:02d},lead{number}@example.org,Lead {number}")
    return "\r\n".join(lines) + "\r\n"  # as spreadsheets write CSV (RFC 4180)


def _counts(server: Any) -> tuple[int, int, int]:
    """Units, teams and rounds of the client organisation (0s while it does not exist)."""
    with server.session() as session:
        org = session.exec(select(Organisation).where(Organisation.name == CLIENT)).first()
        if org is None:
            return 0, 0, 0
        units = session.exec(
            select(func.count())
            .select_from(BusinessUnit)
            .where(BusinessUnit.organisation_id == org.id)
        ).one()
        teams = session.exec(
            select(func.count()).select_from(Team).where(Team.organisation_id == org.id)
        ).one()
        started = session.exec(
            select(func.count())
            .select_from(AssessmentRound)
            .join(Team, Team.id == AssessmentRound.team_id)  # type: ignore[arg-type]
            .where(Team.organisation_id == org.id)
        ).one()
        return int(units), int(teams), int(started)


def _answer(base: str, link: str, *, level: helpers.Level) -> None:
    """One respondent through the survey API with no cookie at all: the invitation starts a
    survey, and its resume token alone reads, saves and submits it."""
    token = link.rstrip("/").rsplit("/", 1)[-1]
    started = httpx.post(f"{base}/api/survey/invitations/{token}/start", json={}, timeout=30)
    assert started.status_code == 201, started.text
    resume = started.json()["resume_token"]
    survey = httpx.get(f"{base}/api/survey/{resume}", timeout=30).json()
    settings = RoundSettings(
        stage=survey["round"]["stage"], kind=survey["round"]["kind"], mode=survey["round"]["mode"]
    )
    answers = helpers.answers_for(settings, survey["role"], handoff=level, other=level)
    saved = httpx.put(
        f"{base}/api/survey/{resume}/answers",
        json={"version": survey["version"], "answers": answers},
        timeout=30,
    )
    assert saved.status_code == 200, saved.text
    submitted = httpx.post(
        f"{base}/api/survey/{resume}/submit",
        json={"submission_key": survey["submission_key"], "version": saved.json()["version"]},
        timeout=30,
    )
    assert submitted.status_code == 200, submitted.text


def _pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def _pdf_images(path: Path) -> list[tuple[int, int]]:
    """Width and height of each image in the PDF (``pdfimages -list``)."""
    listing = subprocess.run(
        ["pdfimages", "-list", str(path)], check=True, capture_output=True, text=True
    ).stdout
    sizes = []
    for line in listing.splitlines()[2:]:
        cells = line.split()
        sizes.append((int(cells[3]), int(cells[4])))
    return sizes


def _assert_branded(path: Path) -> None:
    text = " ".join(_pdf_text(path).split())
    assert FIRM in text, f"{path.name} does not name {FIRM}"
    assert f"{CONSULTANT}, {FIRM}" in text
    # the logo, re-encoded at its own size or scaled keeping its 3:1 shape
    assert any(abs(width - 3 * height) <= 3 for width, height in _pdf_images(path)), path.name


def test_a_consultant_sets_up_a_client_of_twenty_teams_in_under_thirty_interactions(
    browser: Any,  # noqa: F811
    workspace_server: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    if shutil.which("pdftotext") is None or shutil.which("pdfimages") is None:
        pytest.skip("poppler-utils (pdftotext, pdfimages) is not installed")
    with workspace_server.session() as session:
        consultant = users.create_user(
            session=session,
            email=EMAIL,
            display_name=CONSULTANT,
            role=UserRole.consultant,
            password=PASSWORD,
        )
        # the script's credential for closing the rounds (the workspace API)
        token = api_tokens.create(
            session=session, settings=workspace_server.settings, user=consultant, name="close"
        ).token
        session.commit()
    logo = tmp_path / "northwind-logo.png"
    logo.write_bytes(_logo())
    bad, good = tmp_path / "teams-with-a-typo.csv", tmp_path / "teams.csv"
    bad.write_text(_teams_csv(typo=True), encoding="utf-8")
    good.write_text(_teams_csv(typo=False), encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    base = workspace_server.url
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    page = context.new_page()
    act = Interactions(page)
    try:
        # sign in
        act.goto(base + "/sign-in")
        act.fill(page.get_by_label("E-mail address"), EMAIL)
        act.fill(page.get_by_label("Password"), PASSWORD)
        act.click(page.get_by_role("button", name="Sign in"), "Sign in")
        page.wait_for_url(base + "/teams")
        act.shot("01-signed-in")

        # the client organisation
        act.click(page.get_by_role("link", name="Dashboards", exact=True), "Dashboards")
        act.click(page.get_by_role("link", name="New client organisation"), "New client")
        act.fill(page.get_by_label("Organisation name"), CLIENT)
        act.click(page.get_by_role("button", name="Create organisation"), "Create")
        act.shot("02-created")

        # its branding, with a logo (the page the new organisation opens on)
        act.fill(page.get_by_label("Name on reports"), FIRM)
        act.fill(page.get_by_label("Consultant"), CONSULTANT)
        act.upload(page.get_by_label("Logo"), logo)
        act.click(page.get_by_role("button", name="Save branding"), "Save branding")
        assert "Branding saved" in page.get_by_role("status").inner_text()
        act.shot("03-branded")

        # the import: the file with a typo is refused, its line named, nothing written
        act.click(page.get_by_role("link", name="Import business units and teams"), "Import")
        act.upload(page.get_by_label("CSV file"), bad)
        act.click(page.get_by_role("button", name="Preview"), "Preview")
        refused = page.locator("#preview tr.row-error").inner_text()
        assert "line 8: unit 'Paymnts'" in refused
        assert "Nothing was written" in page.locator("#nothing-written").inner_text()
        assert page.locator("#confirm-import").count() == 0
        act.shot("04-import-refused")
        assert _counts(workspace_server) == (0, 0, 0)

        act.upload(page.get_by_label("CSV file"), good)
        act.click(page.get_by_role("button", name="Preview"), "Preview")
        assert _counts(workspace_server) == (0, 0, 0)
        act.shot("05-import-preview")
        act.click(page.get_by_role("button", name="Import 22 lines"), "Import")
        act.shot("06-imported")
        assert "20 team(s) created" in page.locator("#import-done").inner_text()
        assert page.locator("#password-links tbody tr").count() == 20
        assert _counts(workspace_server) == (2, 20, 0)

        # all 20 rounds in one action
        act.click(page.get_by_role("link", name="Start rounds for these teams"), "Start rounds")
        act.check(page.get_by_label("Every team of this organisation"), "every team")
        act.select(page.get_by_label("The teams' project stage"), "operating")
        act.click(page.get_by_role("button", name="Start the rounds"), "Start the rounds")
        assert "20 round(s) started" in page.get_by_role("status").inner_text()
        act.shot("07-rounds-started")
        assert _counts(workspace_server) == (2, 20, 20)

        # scripted, not counted: three respondents per round through the survey API, then
        # the rounds closed through the workspace API
        rows = page.eval_on_selector_all(
            "#round-links tbody tr",
            "rows => rows.map(r => [r.querySelector('a').getAttribute('href'),"
            " r.querySelector('code').innerText])",
        )
        links: dict[str, list[str]] = {}
        for href, link in rows:
            links.setdefault(href, []).append(link)
        assert len(links) == 20
        levels: tuple[helpers.Level, ...] = ("low", "mid", "high")
        for number, (href, round_links) in enumerate(sorted(links.items())):
            for respondent in range(RESPONDENTS):
                link = round_links[respondent % len(round_links)]
                # teams differ from one another: each answers at its own level
                _answer(base, link, level=levels[number % 3])
            closed = httpx.post(
                f"{base}/api{href}/close",
                headers={"authorization": f"Bearer {token}"},
                timeout=60,
            )
            assert closed.status_code == 200, closed.text

        # every team's report as a zip: a job, waited for on its progress page
        act.click(page.get_by_role("link", name="Follow them on the dashboard"), "Dashboard")
        act.shot("08-dashboard")
        act.click(page.get_by_role("button", name="Every team’s report"), "Every team's report")
        act.shot("09-zip-job")
        download_zip = page.get_by_role("link", name="Download the zip")
        download_zip.wait_for(timeout=180_000)
        act.shot("10-zip-ready")
        with page.expect_download() as zip_download:
            act.click(download_zip, "Download the zip")
        zipped = tmp_path / "team-reports.zip"
        zip_download.value.save_as(zipped)
        interactions_to_zip = act.count

        # and the organisation report
        act.click(page.get_by_role("link", name=CLIENT), "the organisation's dashboard")
        with page.expect_download() as org_download:
            act.click(page.get_by_role("link", name="Organisation report PDF"), "Org PDF")
        org_pdf = tmp_path / "organisation.pdf"
        org_download.value.save_as(org_pdf)
    finally:
        context.close()

    (ARTIFACTS / "consultant-setup-interactions.txt").write_text(
        f"{interactions_to_zip} interactions to the zip:\n" + "\n".join(act.steps) + "\n",
        encoding="utf-8",
    )
    assert interactions_to_zip < MAX_INTERACTIONS, act.steps

    with zipfile.ZipFile(zipped) as archive:
        names = [name for name in archive.namelist() if name.endswith(".pdf")]
        names.sort()
        assert len(names) == 20, archive.namelist()
        for name, team in ((names[0], "Team 01"), (names[-1], "Team 20")):
            target = tmp_path / Path(name).name
            target.write_bytes(archive.read(name))
            assert team in _pdf_text(target)
            _assert_branded(target)
    _assert_branded(org_pdf)
