"""Passwords and tokens never reach a log line (access log included) or a database column in
clear: sign-in, API token use, reset links, resume links and invitation paths are exercised
with every logger captured, then every text column of every table is scanned."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel

from app.accounts import api_tokens, passwords, users
from app.models import UserRole
from tests.accounts import helpers

PASSWORD = "a very secret passphrase 1"
NEW_PASSWORD = "another secret passphrase 2"


def _csrf(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found is not None
    return found[1]


def test_no_secret_in_logs_or_database(
    client: TestClient, session: Session, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tenant = helpers.tenant(session, settings, "Secretive")
    member = helpers.user(
        session,
        UserRole.admin,
        email="keeper@example.org",
        password_hash=passwords.hash_password(PASSWORD),
    )
    reset_token = users.make_reset_token(settings=settings, user=tenant.team_lead)
    session.commit()
    secrets: dict[str, str] = {
        "password": PASSWORD,
        "new password": NEW_PASSWORD,
        "reset token": reset_token,
        "resume token": tenant.resume_token,
    }

    # sign-in (failed, then successful)
    client.post(
        "/sign-in",
        data={
            "email": member.email,
            "password": "wrong " + PASSWORD,
            "csrf_token": _csrf(client, "/sign-in"),
        },
    )
    signed = client.post(
        "/sign-in",
        data={"email": member.email, "password": PASSWORD, "csrf_token": _csrf(client, "/sign-in")},
        follow_redirects=False,
    )
    assert signed.status_code == 303
    session_token = signed.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    secrets["session token"] = session_token
    # an API token made on the account page, then used
    page = client.get("/account")
    csrf_token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf_token is not None
    secrets["csrf token"] = csrf_token[1]
    made = client.post("/account/tokens", data={"name": "ci", "csrf_token": csrf_token[1]})
    api_token = made.context["page"].new_token  # type: ignore[attr-defined]
    assert api_token
    secrets["api token"] = api_token
    client.cookies.clear()
    assert (
        client.get("/api/me", headers={"authorization": f"Bearer {api_token}"}).status_code == 200
    )
    another = api_tokens.create(session=session, settings=settings, user=member, name="x")
    session.commit()
    secrets["api token 2"] = another.token
    assert (
        client.get("/api/teams", headers={"authorization": f"Bearer {another.token}"}).status_code
        == 200
    )
    # a reset link, opened and used
    client.cookies.clear()
    reset_path = f"/reset/{reset_token}"
    client.post(
        reset_path,
        data={
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "csrf_token": _csrf(client, reset_path),
        },
    )
    # a resume link (privacy page and export) and an invitation-style path with a token
    client.get(f"/privacy/{tenant.resume_token}")
    client.get(f"/privacy/{tenant.resume_token}/export")
    client.get(f"/i/{tenant.resume_token}")
    client.get(f"/r/{tenant.resume_token}")
    client.get(f"/no-such-area/{tenant.resume_token}/deeper")

    log_text = "\n".join(
        f"{record.name} {record.getMessage()} {record.__dict__}"
        for record in caplog.records
        if not record.name.startswith(("httpx", "httpcore"))  # the test client's own log
    )
    assert "app.access" in log_text  # the access log was captured
    for label, secret in secrets.items():
        assert secret not in log_text, f"the {label} is in the log"

    # every text-like column of every table
    stored: list[str] = []
    for table in SQLModel.metadata.sorted_tables:
        for row in session.execute(sa_select(table)).all():
            stored.extend(str(value) for value in row if value is not None)
    assert stored
    database_text = "\n".join(stored)
    for label, secret in secrets.items():
        if label == "csrf token":
            continue  # the synchronizer token is kept with its session by design
        assert secret not in database_text, f"the {label} is stored in clear"
