"""Fixtures and helpers for the workspace's browser tests (tests/browser/test_workspace_*.py).

A live uvicorn server on a free loopback port with a fresh migrated database of its own
(``fresh_database_url``), Debian's Chromium through Playwright, axe-core scans, screenshots at
375 px and desktop width in test-artifacts/, and a way to answer a survey through its JSON API.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlmodel import Session

from app import db
from app.accounts import users
from app.config import ROOT_DIR, Settings
from app.main import create_app
from app.models import Membership, Organisation, Team, UserRole
from app.rubric.answers import RoundSettings
from tests.workspace import helpers

__all__ = ["backend", "browser", "workspace_server"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT_DIR / "test-artifacts"
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}
SERIOUS = ("serious", "critical")
PASSWORD = "correct horse battery staple"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclasses.dataclass
class WorkspaceServer:
    """The live app, and a way to set things up in its database."""

    url: str
    settings: Settings
    engine: Any

    def session(self) -> Session:
        return Session(self.engine)

    def team_lead(self, *, team: str = "Checkout ranking", email: str = "tess@example.org") -> int:
        """An organisation with one team and its team lead (password ``PASSWORD``)."""
        with self.session() as session:
            organisation = Organisation(name="Example Retail", slug="example-retail")
            session.add(organisation)
            session.flush()
            assert organisation.id is not None
            created = Team(organisation_id=organisation.id, name=team)
            session.add(created)
            session.flush()
            user = users.create_user(
                session=session,
                email=email,
                display_name="Tess Lead",
                role=UserRole.team_lead,
                password=PASSWORD,
            )
            session.add(
                Membership(
                    user_id=user.id or 0,
                    organisation_id=organisation.id,
                    team_id=created.id,
                    role=UserRole.team_lead,
                )
            )
            session.commit()
            assert created.id is not None
            return created.id

    def answer(self, link: str, *, handoff: helpers.Level, other: helpers.Level = "mid") -> None:
        """Open an invitation link and submit the survey through its JSON API, answering
        every question the link's role is asked (the optional ones too)."""
        token = link.rstrip("/").rsplit("/", 1)[-1]
        with httpx.Client(base_url=self.url, timeout=30) as client:
            welcome = client.get(f"/api/survey/invitations/{token}")
            assert welcome.status_code == 200, welcome.text
            started = client.post(
                f"/api/survey/invitations/{token}/start",
                json={},
                headers={"x-csrf-token": welcome.json()["csrf_token"]},
            )
            assert started.status_code == 201, started.text
            resume = started.json()["resume_token"]
            survey = client.get(f"/api/survey/{resume}").json()
            settings = RoundSettings(
                stage=survey["round"]["stage"],
                kind=survey["round"]["kind"],
                mode=survey["round"]["mode"],
            )
            answers = helpers.answers_for(settings, survey["role"], handoff=handoff, other=other)
            headers = {"x-csrf-token": survey["csrf_token"]}
            saved = client.put(
                f"/api/survey/{resume}/answers",
                json={"version": survey["version"], "answers": answers},
                headers=headers,
            )
            assert saved.status_code == 200, saved.text
            submitted = client.post(
                f"/api/survey/{resume}/submit",
                json={
                    "submission_key": survey["submission_key"],
                    "version": saved.json()["version"],
                },
                headers=headers,
            )
            assert submitted.status_code == 200, submitted.text


@pytest.fixture
def backend() -> str:
    """Browser tests run on SQLite only (the services and routes they drive are tested on
    both databases without a browser); importing this fixture into a test module overrides
    the suite's both-databases ``backend`` there, so ``fresh_database_url`` is SQLite."""
    return "sqlite"


@pytest.fixture
def workspace_server(
    fresh_database_url: str, make_settings: Callable[..., Settings], tmp_path: Path
) -> Iterator[WorkspaceServer]:
    """The app served by uvicorn on a free loopback port, on a fresh database of its own."""
    port = _free_port()
    settings = make_settings(
        fresh_database_url, data_dir=tmp_path / "data", base_url=f"http://127.0.0.1:{port}"
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the live server did not start")
        time.sleep(0.05)
    engine = db.create_db_engine(settings)
    try:
        yield WorkspaceServer(url=f"http://127.0.0.1:{port}", settings=settings, engine=engine)
    finally:
        engine.dispose()
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def browser(unavailable: Callable[[str], None]) -> Iterator[Any]:
    if not CHROMIUM.exists():
        unavailable(
            f"{CHROMIUM} is missing; install Debian's chromium (make test does this as root: "
            "apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Debian's Chromium, never a downloaded build (`playwright install` needs the network)
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


# ---------------------------------------------------------------- checks


def sign_in(page: Any, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(base + "/sign-in")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + "/teams")


def no_serious_axe_violations(page: Any, what: str) -> None:
    """axe-core (bundled by axe-playwright-python) finds nothing serious or critical."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found = [v for v in results.response["violations"] if v.get("impact") in SERIOUS]
    details = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in found
    ]
    assert not details, f"axe on the {what} page:\n" + "\n".join(details)


def screenshots(page: Any, name: str) -> None:
    """A 375 px and a desktop screenshot of the whole page, each without sideways overflow."""
    ARTIFACTS.mkdir(exist_ok=True)
    original = page.viewport_size
    for label, size in (("375", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)
        page.wait_for_timeout(150)  # let the charts resize
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"], f"{name} overflows at {size['width']} px ({width} px)"
        page.screenshot(path=str(ARTIFACTS / f"workspace-{name}-{label}.png"), full_page=True)
    page.set_viewport_size(original)
