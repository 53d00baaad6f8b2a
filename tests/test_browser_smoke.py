"""The browser toolchain works: Debian's Chromium, driven by Playwright, loads a live server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from app.config import ROOT_DIR, Settings
from app.main import create_app

pytestmark = pytest.mark.browser

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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def live_server(
    database_factory: Any, make_settings: Callable[..., Settings], tmp_path: Path
) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, on a database of its own."""
    settings = make_settings(database_factory.create("sqlite"), data_dir=tmp_path / "data")
    port = _free_port()
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
    yield f"http://127.0.0.1:{port}"
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
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_home_page_renders_in_chromium(live_server: str, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    response = page.goto(live_server + "/")
    assert response is not None
    assert response.status == 200
    heading = page.locator("h1")
    assert heading.inner_text() == "Find the process that fits your ML team"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "home-1280.png"), full_page=True)
    # the stylesheet loaded and applied: the skip link sits off-screen until focused
    assert page.locator(".skip-link").bounding_box()["y"] < 0
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.locator(".skip-link").bounding_box()["y"] >= 0
    page.keyboard.press("Tab")  # on to the next element, away from the skip link
    page.set_viewport_size({"width": 375, "height": 800})
    # nothing wider than a phone screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path=str(ARTIFACTS / "home-375.png"), full_page=True)
    page.close()
