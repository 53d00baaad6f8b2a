"""Sign-in, the teams page and the admin pages in Chromium: keyboard-only sign-in, the error
announced, sign-out, no serious axe-core violations, and 375 px / desktop screenshots (in
test-artifacts/accounts-*.png) without sideways overflow."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from app import db, demo
from app.accounts import audit, demo_users
from app.config import ROOT_DIR, Settings
from app.main import create_app
from tests.test_browser_smoke import browser  # noqa: F401 - fixture

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT_DIR / "test-artifacts"
PHONE = {"width": 375, "height": 800}
DESKTOP = {"width": 1280, "height": 900}
SERIOUS = {"serious", "critical"}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def server(
    database_factory: Any, make_settings: Callable[..., Settings], tmp_path: Path
) -> Iterator[tuple[str, list[demo_users.DemoAccount]]]:
    settings = make_settings(database_factory.create("sqlite"), data_dir=tmp_path / "data")
    engine = db.create_db_engine(settings)
    with db.session_factory(engine)() as session:
        summary = demo.seed_demo(session=session)
        accounts = demo_users.seed_demo_accounts(
            session=session, organisation_id=summary.organisation_id
        )
        audit.record(session=session, action="demo.seeded", details={"teams": 5})
        session.commit()
    engine.dispose()
    port = _free_port()
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the live server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", accounts
    server.should_exit = True
    thread.join(timeout=10)


def _axe(page: Any, what: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found = [v for v in results.response["violations"] if v.get("impact") in SERIOUS]
    details = [f"{v['id']} ({v['impact']}): {v['help']}" for v in found]
    assert not details, f"axe on the {what} page:\n" + "\n".join(details)


def _shots(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    original = page.viewport_size
    for label, size in (("375", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > size["width"]:
            wide = page.evaluate(
                "Array.from(document.querySelectorAll('body *')).filter(e => "
                "e.getBoundingClientRect().right > window.innerWidth + 1 && "
                "e.parentElement.getBoundingClientRect().right <= window.innerWidth + 1)"
                ".slice(0, 5).map(e => e.tagName + '.' + e.className + ' in ' + "
                "e.parentElement.tagName + '.' + e.parentElement.className)"
            )
            pytest.fail(f"{name} overflows at {size['width']} px ({width} px): {wide}")
        assert width <= size["width"], f"{name} overflows at {size['width']} px ({width} px)"
        page.screenshot(path=str(ARTIFACTS / f"accounts-{name}-{label}.png"), full_page=True)
    page.set_viewport_size(original)


def _by_role(accounts: list[demo_users.DemoAccount], role: str) -> demo_users.DemoAccount:
    return next(account for account in accounts if account.role.value == role)


def test_sign_in_with_the_keyboard_and_the_admin_pages(
    server: tuple[str, list[demo_users.DemoAccount]],
    browser: Any,  # noqa: F811
) -> None:
    base, accounts = server
    admin = _by_role(accounts, "admin")
    page = browser.new_page(viewport=DESKTOP)
    page.goto(base + "/teams")
    assert "/sign-in" in page.url  # sent to sign in, and back afterwards
    _axe(page, "sign-in")
    _shots(page, "sign-in")
    # a wrong password: the error is announced (role=alert) and tied to the fields
    page.get_by_label("E-mail address").fill(admin.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    assert "not right" in alert.inner_text()
    assert page.get_by_label("Password").get_attribute("aria-invalid") == "true"
    _axe(page, "sign-in error")
    _shots(page, "sign-in-error")
    # keyboard only: focus starts in the e-mail field (autofocus), Tab to the password, Enter
    page.get_by_label("E-mail address").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type(admin.email)
    page.keyboard.press("Tab")
    page.keyboard.type(admin.password)
    page.keyboard.press("Enter")
    page.wait_for_url(base + "/teams")
    assert page.locator("h1").inner_text() == "Your teams"
    _axe(page, "teams")
    _shots(page, "teams")
    for path, name in (
        ("/admin", "admin"),
        ("/admin/users", "admin-users"),
        ("/admin/audit", "admin-audit"),
        ("/admin/respondents", "admin-respondents"),
        ("/account", "account"),
    ):
        page.goto(base + path)
        _axe(page, name)
        _shots(page, name)
    page.goto(base + "/admin")
    page.get_by_role("link", name="Northwind Analytics (demo)").click()
    _axe(page, "admin organisation")
    _shots(page, "admin-organisation")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(base + "/sign-in?signed_out=1")
    assert "signed out" in page.get_by_role("status").inner_text()
    page.goto(base + "/teams")
    assert "/sign-in" in page.url
    page.close()


def test_team_lead_sees_their_team(
    server: tuple[str, list[demo_users.DemoAccount]],
    browser: Any,  # noqa: F811
) -> None:
    base, accounts = server
    lead = _by_role(accounts, "team_lead")
    page = browser.new_page(viewport=PHONE)
    page.goto(base + "/sign-in")
    page.get_by_label("E-mail address").fill(lead.email)
    page.get_by_label("Password").fill(lead.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + "/teams")
    names = page.locator(".team-name").all_inner_texts()
    assert names == ["Demand forecasting"]
    _shots(page, "teams-team-lead")
    page.goto(base + "/admin")
    assert page.locator("h1").inner_text() == "Page not found"
    page.close()
