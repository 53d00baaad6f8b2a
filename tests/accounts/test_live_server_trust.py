"""A real server on 127.0.0.1: X-Forwarded-For counts only from a configured proxy, and
SIGTERM leaves no render worker behind.

Each test starts ``processlens serve`` (tests.live.LiveServer) on a SQLite database of its own:
what is tested is the server process and its network edge, not the database.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from app import db
from app.accounts import sessions
from app.config import Settings
from app.models import RoundResult
from app.rubric.answers_file import assess_file, read_answers_file
from app.rubric.output import to_data
from tests.accounts import helpers
from tests.live import LiveServer
from tests.reports import published
from tests.reports.conftest import EXAMPLE


def _sign_in_attempts(server: LiveServer, count: int) -> list[int]:
    """Wrong passwords for ``count`` different accounts, each claiming another address."""
    codes = []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for index in range(count):
            page = client.get("/sign-in")
            found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert found is not None, page.text[:500]
            response = client.post(
                "/sign-in",
                data={
                    "email": f"person{index}@example.org",
                    "password": "a wrong password",
                    "csrf_token": found[1],
                },
                headers={"x-forwarded-for": f"198.51.100.{index + 1}"},
            )
            codes.append(response.status_code)
    return codes


def _server(database_factory: Any, tmp_path: Path, workers: int = 1, **env: str) -> LiveServer:
    return LiveServer(
        database_url=database_factory.create("sqlite"),
        data_dir=tmp_path / "server",
        workers=workers,
        # no pause after a failed sign-in: these tests make twenty of them
        extra_env={"PROCESSLENS_SIGN_IN_MAX_DELAY": "0", **env},
    )


def test_forwarded_for_from_an_untrusted_client_is_ignored(
    database_factory: Any, tmp_path: Path
) -> None:
    # 127.0.0.1 is uvicorn's default trusted proxy: a local client must not pick its address
    server = _server(database_factory, tmp_path)
    try:
        server.start()
        codes = _sign_in_attempts(server, 21)
    finally:
        server.stop()
    assert codes[:20] == [400] * 20
    assert codes[20] == 429


def test_forwarded_for_from_a_configured_proxy_is_the_client(
    database_factory: Any, tmp_path: Path
) -> None:
    server = _server(database_factory, tmp_path, PROCESSLENS_TRUSTED_PROXIES="127.0.0.1")
    try:
        server.start()
        codes = _sign_in_attempts(server, 21)
    finally:
        server.stop()
    # each attempt came, through the proxy, from another client: none reaches its limit
    assert codes == [400] * 21


# ---------------------------------------------------------------- SIGTERM and render workers


def _session_members(session_id: int) -> list[int]:
    """Processes whose session is ``session_id`` (the server and everything it started)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the ")": state, ppid, pgrp, session, ...
        if fields[0] != "Z" and int(fields[3]) == session_id:
            members.append(int(entry.name))
    return members


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_stops_the_render_workers(
    database_factory: Any, make_settings: Callable[..., Settings], tmp_path: Path, workers: int
) -> None:
    # one worker serves in the main process; several run under uvicorn's supervisor
    server = _server(database_factory, tmp_path, workers=workers)
    settings = make_settings(
        server.database_url, secret_key=server.secret_key, data_dir=tmp_path / "seed"
    )
    engine = db.create_db_engine(settings)
    try:
        with Session(engine) as session:
            alpha = helpers.tenant(session, settings, "Alpha")
            catalog = helpers.catalog()
            data = to_data(catalog, assess_file(catalog, read_answers_file(EXAMPLE, catalog)))
            assert alpha.round.id is not None
            # a team survey's result shows once its round has closed with enough responses
            published.publish(session, alpha.round, 6)
            session.add(
                RoundResult(round_id=alpha.round.id, computed=data, respondent_count=6, final=True)
            )
            signed_in = helpers.sign_in(session, settings, alpha.team_lead)
            path = f"/teams/{alpha.team.id}/rounds/{alpha.round.id}/report.pdf"
            session.commit()
    finally:
        engine.dispose()
    try:
        server.start()
        assert server.process is not None
        with httpx.Client(base_url=server.url, timeout=120) as client:
            cookie = {"cookie": f"{sessions.session_cookie_name(settings)}={signed_in.token}"}
            response = client.get(path, headers=cookie)
            assert response.status_code == 200, response.text[:500]
            assert response.content.startswith(b"%PDF")
        pid = server.process.pid
        assert len(_session_members(pid)) > 1, "the render pool should be running"
        # the server alone is told to stop, as a process manager would
        os.kill(pid, signal.SIGTERM)
        server.process.wait(timeout=30)
        deadline = time.monotonic() + 5
        while _session_members(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = _session_members(pid)
        assert left == [], f"processes left running after SIGTERM: {left}"
    finally:
        # stop() signals the server's whole process group, stragglers included
        server.stop()
