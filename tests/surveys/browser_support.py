"""Fixtures and helpers for the survey's browser tests (tests/browser/test_survey_*.py).

A live uvicorn server on a free loopback port with a database of its own, Debian's Chromium
through Playwright, axe-core scans, and 375 px / desktop screenshots in test-artifacts/.
A test module makes the fixtures its own with ``browser = browser_support.browser`` and
``survey_server = browser_support.survey_server``.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlmodel import Session

from app import db
from app.config import ROOT_DIR, Settings
from app.main import create_app
from tests import factories
from tests.surveys import helpers

__all__ = ["browser", "survey_server"]

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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclasses.dataclass
class SurveyServer:
    """The live app and a way to set up rounds and links in its database."""

    url: str
    settings: Settings
    engine: Any

    def invitation(self, *, role: str = "data_scientist", **round_fields: Any) -> str:
        """A new open round (a quick check unless told otherwise) and its link for ``role``;
        returns the link's full URL."""
        with Session(self.engine) as session:
            team = factories.team(session)
            fields = {"kind": "quick"} | round_fields
            assessment_round = helpers.team_round(session, team_=team, **fields)
            token = helpers.invite(session, self.settings, assessment_round, role)
            session.commit()
        return f"{self.url}/i/{token}"


@pytest.fixture
def survey_server(
    database_factory: Any, make_settings: Callable[..., Settings], tmp_path: Path
) -> Iterator[SurveyServer]:
    """The app served by uvicorn on a free loopback port, on a SQLite database of its own."""
    port = _free_port()
    settings = make_settings(
        database_factory.create("sqlite"),
        data_dir=tmp_path / "data",
        base_url=f"http://127.0.0.1:{port}",
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
        yield SurveyServer(url=f"http://127.0.0.1:{port}", settings=settings, engine=engine)
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


def screenshots(page: Any, name: str, *, desktop: bool = True) -> None:
    """A 375 px and a desktop screenshot of the whole page, each without sideways overflow.
    (Both need the page's JavaScript: not in a context that has it disabled.)"""
    ARTIFACTS.mkdir(exist_ok=True)
    original = page.viewport_size
    sizes = (("375", PHONE), ("desktop", DESKTOP)) if desktop else (("375", PHONE),)
    for label, size in sizes:
        page.set_viewport_size(size)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"], f"{name} overflows at {size['width']} px ({width} px)"
        page.screenshot(path=str(ARTIFACTS / f"survey-{name}-{label}.png"), full_page=True)
    page.set_viewport_size(original)


def answer_page(page: Any, choice: int = 0) -> list[str]:
    """Answer every visible question of the page by clicking an option's label; returns the
    question ids. ``choice`` picks the option (the last one, "don't know", with -1)."""
    qids = []
    for question in page.locator("[data-qid]:visible").all():
        labels = question.locator("label.survey-choice")
        labels.nth(choice if choice >= 0 else labels.count() + choice).click()
        qids.append(question.get_attribute("data-qid"))
    return qids


def answer_page_at_once(page: Any) -> None:
    """Pick the last choice ("don't know" or "not applicable") of every question in one step
    (real clicks on the labels, dispatched by the page: needs JavaScript)."""
    page.eval_on_selector_all(
        "[data-qid]:not([hidden])",
        """questions => questions.forEach(q => {
            const labels = q.querySelectorAll('label.survey-choice');
            labels[labels.length - 1].click(); })""",
    )


def checked_values(page: Any) -> dict[str, list[str]]:
    """Question id -> the values checked on the page."""
    result: dict[str, list[str]] = page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('[data-qid]')).map(
            q => [q.dataset.qid, Array.from(q.querySelectorAll('input[name^="a."]:checked'))
              .map(i => i.value)]))"""
    )
    return result
