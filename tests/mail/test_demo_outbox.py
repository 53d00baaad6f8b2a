"""The demo shows e-mail without an SMTP server: `processlens demo` (and so `make run`) turns
on the outbox, and the round page says plainly that nothing is sent and where messages go."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app import db, demo
from app.config import Settings
from app.main import create_app
from tests.mail.conftest import wait_for_consumer_threads
from tests.mail.test_invitations import _setup

DEMO_VARIABLES = ("PROCESSLENS_MAIL_OUTBOX", "PROCESSLENS_CONSULTANTS_CREATE_ORGANISATIONS")


def _unset(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Remove ``names`` from the environment; monkeypatch restores their first state after
    the test, whatever the demo writes meanwhile."""
    for name in names:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def test_the_demo_writes_e_mail_to_the_outbox_and_the_round_page_says_so(
    monkeypatch: pytest.MonkeyPatch,
    make_settings: Callable[..., Settings],
    fresh_database_url: str,
    tmp_path: Path,
) -> None:
    _unset(monkeypatch, *DEMO_VARIABLES, "PROCESSLENS_SMTP_HOST")
    demo.apply_demo_settings()
    settings = make_settings(fresh_database_url, data_dir=tmp_path / "data")
    assert settings.mail_outbox
    assert settings.mail_enabled

    engine = db.create_db_engine(settings)
    lead, round_id = _setup(engine, settings)
    app = create_app(settings)
    with TestClient(app) as client:
        page = client.get(f"{lead.team_url}/rounds/{round_id}", headers=lead.headers)
        text = " ".join(page.text.split())
        assert "Demo e-mail: nothing is sent." in text
        assert 'written, labelled "not sent", to the <code>outbox</code> folder' in text
        assert 'name="addresses_data_scientist"' in text  # the invitation form is there
    wait_for_consumer_threads()
    app.state.engine.dispose()
    engine.dispose()

    # an environment that sets the outbox off keeps it off (and with SMTP, nothing says "demo")
    monkeypatch.setenv("PROCESSLENS_MAIL_OUTBOX", "false")
    demo.apply_demo_settings()
    assert not make_settings(fresh_database_url).mail_outbox
