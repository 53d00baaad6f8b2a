"""The admin commands: users, organisations, units, teams, assignments, tokens, audit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from app import cli, cli_session, db
from app.accounts import api_tokens, users
from app.config import Settings
from app.models import ApiToken, AuditEvent, Membership, Organisation, Team, User, UserSession


@pytest.fixture
def cli_settings(
    fresh_database_url: str,
    make_settings: Callable[..., Settings],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    settings = make_settings(fresh_database_url, data_dir=tmp_path / "data")
    monkeypatch.setattr(cli_session, "get_settings", lambda: settings)
    return settings


def invoke(*args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(cli.app, list(args), input=stdin)


def test_admin_commands_cover_the_admin_pages(cli_settings: Settings) -> None:
    assert invoke("org", "create", "Initech <Labs>").exit_code == 0
    listed = invoke("org", "list")
    assert "initech-labs" in listed.stdout
    assert invoke("unit", "create", "initech-labs", "Platform").exit_code == 0
    assert invoke("team", "create", "initech-labs", "Search", "--unit", "Platform").exit_code == 0
    created = invoke("user", "create", "Lead@Example.org", "--name", "Lee", "--role", "team_lead")
    assert created.exit_code == 0, created.stdout
    assert "/reset/" in created.stdout
    assert invoke("assign", "lead@example.org", "initech-labs", "--team", "Search").exit_code == 0
    assert (
        invoke("user", "create", "c@example.org", "--name", "Cee", "--role", "consultant").exit_code
        == 0
    )
    assert invoke("assign", "c@example.org", "initech-labs").exit_code == 0
    password = "a long enough password"
    assert (
        invoke(
            "user", "set-password", "lead@example.org", "--password-stdin", stdin=password + "\n"
        ).exit_code
        == 0
    )
    made = invoke("token", "create", "lead@example.org", "nightly")
    assert made.exit_code == 0
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("pl_")
    engine = db.create_db_engine(cli_settings)
    try:
        with Session(engine) as session:
            lead = session.exec(select(User).where(User.email == "lead@example.org")).one()
            assert users.authenticate(session=session, email=lead.email, password=password)
            assert api_tokens.authenticate(session=session, settings=cli_settings, token=token)
            team = session.exec(select(Team).where(Team.name == "Search")).one()
            membership = session.exec(select(Membership).where(Membership.user_id == lead.id)).one()
            assert membership.team_id == team.id
            row = session.exec(select(ApiToken)).one()
            token_id = str(row.id)
            assert lead.id is not None
            session.add(
                UserSession(
                    token_hash="x" * 64, user_id=lead.id, csrf_token="c", expires_at=db.utcnow()
                )
            )
            session.commit()
        assert invoke("token", "revoke", token_id).exit_code == 0
        assert invoke("user", "disable", "lead@example.org").exit_code == 0
        assert "disabled" in invoke("user", "list").stdout
        assert "team.created" in invoke("audit", "--limit", "100").stdout
        assert invoke("unassign", "c@example.org", "initech-labs").exit_code == 0
        assert invoke("team", "delete", "initech-labs", "Search", "--yes").exit_code == 0
        assert invoke("org", "delete", "initech-labs", "--yes").exit_code == 0
        with Session(engine) as session:
            assert session.exec(select(UserSession)).all() == []  # disabling ended it
            assert session.exec(select(ApiToken)).one().revoked_at is not None
            assert session.exec(select(Organisation)).all() == []
            actions = {event.action for event in session.exec(select(AuditEvent))}
            assert {"user.disabled", "api_token.revoked", "organisation.deleted"} <= actions
            events = session.exec(select(AuditEvent)).all()
            assert all(event.details.get("via") == "cli" for event in events)
            assert password not in str([e.details for e in events])
    finally:
        engine.dispose()


def test_mistakes_end_in_one_line(cli_settings: Settings) -> None:
    missing = invoke("user", "disable", "nobody@example.org")
    assert missing.exit_code == 1
    assert "no account" in missing.output
    weak = invoke(
        "user", "create", "x@example.org", "--name", "X", "--password-stdin", stdin="short\n"
    )
    assert weak.exit_code == 1
    assert "at least 12 characters" in weak.output
    assert invoke("team", "create", "no-such-org", "T").exit_code == 1


def test_demo_accounts_are_idempotent_and_scoped(session: Session) -> None:
    from app import demo
    from app.accounts import demo_users, tenancy

    summary = demo.seed_demo(session=session)
    first = demo_users.seed_demo_accounts(session=session, organisation_id=summary.organisation_id)
    again = demo_users.seed_demo_accounts(session=session, organisation_id=summary.organisation_id)
    assert [a.email for a in first] == [a.email for a in again]
    assert {a.role.value for a in first} == {"admin", "consultant", "org_leader", "team_lead"}
    for account in first:
        user = users.authenticate(session=session, email=account.email, password=account.password)
        assert user is not None
        principal = tenancy.load_principal(session=session, user=user, via="session")
        if account.role.value == "team_lead":
            assert len(principal.team_ids) == 1
        elif account.role.value != "admin":
            assert principal.organisation_ids == {summary.organisation_id}
