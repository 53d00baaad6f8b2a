"""Each admin use case the pages and the CLI share is one service function that changes and
records its own audit event: doing the same things through the admin pages and through
`processlens ...` calls the same functions and leaves the same events, the CLI's marked
``"via": "cli"``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from app import cli, cli_session, db
from app.accounts import api_tokens, organisations, users
from app.config import Settings
from app.models import ApiToken, AuditEvent, Membership, Organisation, Team, User, UserRole
from tests.accounts import helpers

# (module, function) of every shared use case; each one records its own event.
SERVICES = (
    (organisations, "create_organisation"),
    (organisations, "create_unit"),
    (organisations, "create_team"),
    (organisations, "assign"),
    (organisations, "unassign"),
    (organisations, "delete_team"),
    (organisations, "delete_organisation"),
    (users, "create_user"),
    (users, "set_role"),
    (users, "issue_reset_link"),
    (users, "set_active"),
    (api_tokens, "create"),
    (api_tokens, "revoke"),
)
USE_CASE_ACTIONS = (
    "organisation.created",
    "business_unit.created",
    "team.created",
    "user.created",
    "assignment.added",
    "assignment.removed",
    "user.role_changed",
    "password.reset_link_issued",
    "api_token.created",
    "api_token.revoked",
    "user.disabled",
    "user.enabled",
    "team.deleted",
    "organisation.deleted",
)

Event = tuple[str, str | None, tuple[tuple[str, Any], ...]]


@pytest.fixture
def service_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The shared service functions called with an actor, in order (the real ones run)."""
    calls: list[str] = []
    for module, name in SERVICES:
        real = getattr(module, name)

        def spy(*args: Any, _real: Callable[..., Any] = real, **kwargs: Any) -> Any:
            if kwargs.get("actor") is not None:  # set-up code creates users without one
                calls.append(f"{_real.__module__}.{_real.__name__}")
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, name, functools.wraps(real)(spy))
    return calls


def _events(session: Session) -> list[tuple[Event, str | None]]:
    """The use-case events in order, ids blanked (the two databases number rows differently),
    with the ``via`` detail apart."""
    rows = session.exec(
        select(AuditEvent)
        .where(col(AuditEvent.action).in_(USE_CASE_ACTIONS))
        .order_by(col(AuditEvent.id))
    ).all()
    found: list[tuple[Event, str | None]] = []
    for row in rows:
        details = {
            key: ("<id>" if key.endswith("_id") and value is not None else value)
            for key, value in row.details.items()
            if key != "via"
        }
        event = (row.action, row.target_type, tuple(sorted(details.items())))
        found.append((event, row.details.get("via")))
    return found


def _through_the_pages(client: TestClient, session: Session, settings: Settings) -> None:
    admin = helpers.user(session, UserRole.admin, name="Ada Admin")
    headers = helpers.sign_in(session, settings, admin).headers()
    session.commit()

    def post(path: str, **data: str) -> None:
        response = client.post(path, data=data, headers=headers)
        assert response.status_code == 200, (path, response.text[:300])

    post("/admin/organisations", name="Globex")
    org = session.exec(select(Organisation).where(Organisation.name == "Globex")).one()
    page = f"/admin/organisations/{org.id}"
    post(f"{page}/units", name="Research")
    unit_id = str(organisations.units_of(session=session, organisation_id=org.id or 0)[0].id)
    post(f"{page}/teams", name="Vision", unit_id=unit_id)
    team = session.exec(select(Team).where(Team.organisation_id == org.id)).one()
    post("/admin/users", email="lead@example.org", display_name="Lee", role="team_lead")
    lead = session.exec(select(User).where(User.email == "lead@example.org")).one()
    post(f"{page}/assignments", user_id=str(lead.id), team_id=str(team.id))
    membership = session.exec(select(Membership).where(Membership.user_id == lead.id)).one()
    post(f"{page}/assignments/{membership.id}/remove")
    post(f"/admin/users/{lead.id}/role", role="consultant")
    post(f"/admin/users/{lead.id}/reset-link")
    post(f"/admin/users/{lead.id}/tokens", name="nightly")
    token = session.exec(select(ApiToken).where(ApiToken.user_id == lead.id)).one()
    post(f"/admin/users/{lead.id}/tokens/{token.id}/revoke")
    post(f"/admin/users/{lead.id}/active", active="no")
    post(f"/admin/users/{lead.id}/active", active="yes")
    post(f"{page}/teams/{team.id}/delete")
    post(f"{page}/delete", confirm=org.slug)


def _through_the_cli(
    fresh_database_url: str,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    settings = make_settings(fresh_database_url, data_dir=tmp_path / "cli-data")
    monkeypatch.setattr(cli_session, "get_settings", lambda: settings)

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli.app, list(args))
        assert result.exit_code == 0, (args, result.stdout)
        return str(result.stdout)

    run("org", "create", "Globex")
    run("unit", "create", "globex", "Research")
    run("team", "create", "globex", "Vision", "--unit", "Research")
    run("user", "create", "lead@example.org", "--name", "Lee", "--role", "team_lead")
    run("assign", "lead@example.org", "globex", "--team", "Vision")
    run("unassign", "lead@example.org", "globex", "--team", "Vision")
    run("user", "set-role", "lead@example.org", "consultant")
    run("user", "reset-link", "lead@example.org")
    run("token", "create", "lead@example.org", "nightly")
    run("token", "list", "lead@example.org")
    engine = db.create_db_engine(settings)
    try:
        with Session(engine) as session:
            token_id = session.exec(select(ApiToken.id)).one()
    finally:
        engine.dispose()
    run("token", "revoke", str(token_id))
    run("user", "disable", "lead@example.org")
    run("user", "enable", "lead@example.org")
    run("team", "delete", "globex", "Vision", "--yes")
    run("org", "delete", "globex", "--yes")
    return settings


def test_pages_and_cli_share_each_use_case_and_its_audit_event(
    client: TestClient,
    session: Session,
    settings: Settings,
    fresh_database_url: str,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    service_calls: list[str],
) -> None:
    _through_the_pages(client, session, settings)
    page_calls = list(service_calls)
    page_events = _events(session)
    service_calls.clear()

    cli_settings = _through_the_cli(fresh_database_url, make_settings, tmp_path, monkeypatch)
    cli_calls = list(service_calls)
    engine = db.create_db_engine(cli_settings)
    try:
        with Session(engine) as cli_db:
            cli_events = _events(cli_db)
    finally:
        engine.dispose()

    # one function per use case, the same ones in the same order from either edge
    assert page_calls == cli_calls
    assert len(page_calls) == len(USE_CASE_ACTIONS)
    # the same events, one each, in the same shape; only the CLI's say where they came from
    assert [event for event, _via in page_events] == [event for event, _via in cli_events]
    assert [event[0] for event, _via in page_events] == list(USE_CASE_ACTIONS)
    assert {via for _event, via in page_events} == {None}
    assert {via for _event, via in cli_events} == {"cli"}
