"""The e-mail pages in Chromium, against a real SMTP server on 127.0.0.1 (aiosmtpd): a lead
invites by e-mail on the round page (one address the server refuses), sees the totals and
"1 invitation could not be delivered", reminds; an invitee stops the reminders from the
unsubscribe page; an administrator e-mails an account its one-time password link. Each page
passes axe-core and does not overflow at 375 px (screenshots in test-artifacts/)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from app import db
from app.accounts import users
from app.config import Settings
from app.main import create_app
from app.models import Team, UserRole
from tests.mail.conftest import (
    Mailbox,
    mailbox,  # noqa: F401 - fixture
    smtp_server,  # noqa: F401 - fixture
)
from tests.mail.test_invitations import LINK
from tests.workspace import helpers
from tests.workspace.browser_support import (
    PASSWORD,
    WorkspaceServer,
    _free_port,
    backend,  # noqa: F401 - fixture: SQLite only
    browser,  # noqa: F401 - fixture
    no_serious_axe_violations,
    screenshots,
    sign_in,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def mail_server(
    fresh_database_url: str,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    smtp_server: tuple[Mailbox, int],  # noqa: F811
) -> Iterator[WorkspaceServer]:
    """The app on a free loopback port, sending through the test's SMTP server."""
    port = _free_port()
    settings = make_settings(
        fresh_database_url,
        data_dir=tmp_path / "data",
        base_url=f"http://127.0.0.1:{port}",
        smtp_host="127.0.0.1",
        smtp_port=smtp_server[1],
        smtp_security="none",
        mail_from="Team survey <survey@example.com>",
        job_sweep_seconds=1,
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
        thread.join(timeout=15)


def _text(page: Any, selector: str) -> str:
    return " ".join(page.locator(selector).inner_text().split())


def test_the_e_mail_pages_of_lead_invitee_and_administrator(
    mail_server: WorkspaceServer,
    browser: Any,  # noqa: F811
    mailbox: Mailbox,  # noqa: F811
) -> None:
    server = mail_server
    team_id = server.team_lead()
    with server.session() as session:
        assessment_round = helpers.team_round(session, session.get_one(Team, team_id))
        admin = users.create_user(
            session=session,
            email="ada@example.org",
            display_name="Ada Admin",
            role=UserRole.admin,
            password=PASSWORD,
        )
        session.commit()
        round_url = f"{server.url}/teams/{team_id}/rounds/{assessment_round.id}"
        admin_id = admin.id
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(page, server.url, "tess@example.org")

    # the lead invites two data scientists; the server refuses one address
    page.goto(round_url + "#email")
    addresses = page.get_by_label("Data scientist e-mail addresses")
    addresses.fill("ana.one@example.com\nrefused.x@example.com")
    no_serious_axe_violations(page, "round page's e-mail form")
    screenshots(page, "email-invite-form")
    page.get_by_role("button", name="Send invitations").click()
    page.wait_for_url(re.compile(r"notice=emailed"))
    mailbox.wait_for(1)
    page.goto(round_url)
    for _ in range(100):  # the queue counts the refusal once the server has answered
        if page.locator("text=could not be delivered").count():
            break
        time.sleep(0.1)
        page.reload()
    totals = _text(page, "[data-testid='email-totals']")
    assert "2 addresses invited: 0 submitted, 0 answering, 2 not started yet" in totals
    assert "1 invitation sent" in totals
    refused = _text(page, "section[aria-labelledby='email'] .alert-error")
    assert refused.startswith("1 invitation could not be delivered")
    assert "example.com" not in page.content()
    no_serious_axe_violations(page, "round page's e-mail totals")
    screenshots(page, "email-totals-and-failure")

    page.get_by_role("button", name="Send reminders now").click()
    page.wait_for_url(re.compile(r"notice=reminded"))
    assert "Reminders are being sent" in _text(page, "main")

    # the invitee opens the reminder's List-Unsubscribe link and stops the reminders
    (received,) = [r for r in mailbox.wait_for(2)[1:] if "reminder" in str(r.message["Subject"])]
    unsubscribe = str(received.message["List-Unsubscribe"]).strip("<>")
    assert LINK.search(unsubscribe)
    invitee = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    invitee.goto(unsubscribe)
    assert invitee.locator("h1").inner_text() == "Reminders by e-mail"
    no_serious_axe_violations(invitee, "unsubscribe")
    screenshots(invitee, "email-unsubscribe")
    invitee.get_by_role("button", name="Stop the reminders").click()
    invitee.wait_for_url(re.compile(r"stopped=true"))
    assert "your e-mail address has been deleted" in _text(invitee, "main")
    no_serious_axe_violations(invitee, "unsubscribed")
    screenshots(invitee, "email-unsubscribed")

    # an administrator e-mails an account its one-time password link
    admin_page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    admin_page.goto(server.url + "/sign-in")
    admin_page.get_by_label("E-mail address").fill("ada@example.org")
    admin_page.get_by_label("Password").fill(PASSWORD)
    admin_page.get_by_role("button", name="Sign in").click()
    admin_page.wait_for_load_state()
    admin_page.goto(f"{server.url}/admin/users/{admin_id}")
    no_serious_axe_violations(admin_page, "admin account")
    admin_page.get_by_role("button", name="E-mail a one-time password link").click()
    admin_page.get_by_text("A one-time password link is being sent").wait_for()
    no_serious_axe_violations(admin_page, "admin account, link e-mailed")
    screenshots(admin_page, "email-admin-account-link")
    assert mailbox.to("ada@example.org") or mailbox.wait_for(3)
