"""Backup and restore of an organisation: lossless into an empty database (the same computed
results and results pages), refused where it would collide, audit-logged; the commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from app import cli, cli_session, db
from app.config import Settings
from app.dashboards import backup
from app.main import create_app
from app.models import (
    AssessmentRound,
    AuditEvent,
    Membership,
    Organisation,
    Respondent,
    RoundResult,
    RubricFileVersion,
    UserRole,
)
from tests.accounts import helpers as account_helpers
from tests.dashboards import helpers
from tests.rendered import page_of


@pytest.fixture
def databases(
    backend: str, database_factory: Any, make_settings: Callable[..., Settings], tmp_path: Path
) -> tuple[Settings, Settings]:
    """Two migrated databases of this test's own: the source and an empty target."""
    source = make_settings(database_factory.create(backend), data_dir=tmp_path / "source")
    target = make_settings(database_factory.create(backend), data_dir=tmp_path / "target")
    return source, target


def _engine(settings: Settings) -> Engine:
    return db.create_db_engine(settings)


def _seed(settings: Settings) -> tuple[int, int]:
    engine = _engine(settings)
    try:
        with Session(engine) as session:
            world = helpers.world(session, name="Backed Up")
            consultant = account_helpers.user(
                session, UserRole.consultant, email="dana@example.org", name="Dana"
            )
            account_helpers.assign(session, consultant, world.organisation)
            leader = account_helpers.user(
                session, UserRole.org_leader, email="lee@example.org", name="Lee"
            )
            account_helpers.assign(session, leader, world.organisation)
            # another organisation that must stay out of the backup
            other = helpers.factories.organisation(session, name="Someone Else")
            helpers.closed_round(session, helpers.team(session, other, "Elsewhere", None))
            session.commit()
            round_id = world.rounds["Atlas"][-1].id
            assert round_id is not None
            return world.id, round_id
    finally:
        engine.dispose()


def _computed(settings: Settings, organisation_id: int) -> dict[int, Any]:
    engine = _engine(settings)
    try:
        with Session(engine) as session:
            rows = session.exec(
                select(RoundResult)
                .join(AssessmentRound, AssessmentRound.id == RoundResult.round_id)  # type: ignore[arg-type]
                .where(
                    AssessmentRound.team_id.in_(  # type: ignore[attr-defined]
                        select(helpers.Team.id).where(
                            helpers.Team.organisation_id == organisation_id
                        )
                    )
                )
            ).all()
            return {row.round_id: (row.computed, row.rubric_versions, row.final) for row in rows}
    finally:
        engine.dispose()


def _results_page(settings: Settings, team_id: int, round_id: int) -> Any:
    """The workspace's results page of a round, as an admin sees it (its typed context)."""
    app = create_app(settings)
    with Session(app.state.engine) as session:
        admin = account_helpers.user(session, UserRole.admin, email=f"admin-{team_id}@x.org")
        signed = account_helpers.sign_in(session, settings, admin)
        session.commit()
    try:
        with TestClient(app) as client:
            response = client.get(
                f"/teams/{team_id}/rounds/{round_id}/results", headers=signed.headers()
            )
            assert response.status_code == 200, response.text[:300]
            return page_of(response)
    finally:
        app.state.engine.dispose()


def test_a_restored_organisation_is_the_same_to_the_last_id(
    databases: tuple[Settings, Settings],
) -> None:
    source, target = databases
    organisation_id, round_id = _seed(source)
    engine = _engine(source)
    with Session(engine) as session:
        document = backup.backup(session=session, organisation_id=organisation_id)
        team_id = session.get(AssessmentRound, round_id).team_id  # type: ignore[union-attr]
        respondent_ids = set(
            session.exec(
                select(Respondent.id)
                .join(AssessmentRound)
                .where(AssessmentRound.team_id == team_id)
            ).all()
        )
    engine.dispose()
    text = backup.dumps(document)
    assert "Someone Else" not in text
    assert backup.counts(document)["organisation"] == 1

    target_engine = _engine(target)
    with Session(target_engine) as session:
        # the consultant has an account here (same e-mail), the organisation leader has not
        account_helpers.user(session, UserRole.consultant, email="dana@example.org")
        session.commit()
        summary = backup.restore(session=session, document=backup.loads(text))
        session.commit()
        assert summary.organisation_id == organisation_id
        assert [line for line in summary.skipped if "membership" in line]
        memberships = session.exec(select(Membership)).all()
        assert len(memberships) == 1
        assert (
            set(
                session.exec(
                    select(Respondent.id)
                    .join(AssessmentRound)
                    .where(AssessmentRound.team_id == team_id)
                ).all()
            )
            == respondent_ids
        )
        # rubric versions the rounds used came along
        assert session.exec(select(func.count()).select_from(RubricFileVersion)).one() >= 1
        again = backup.backup(session=session, organisation_id=organisation_id)
    target_engine.dispose()
    # lossless: a backup of the restored organisation is the same document (but for the
    # membership whose account does not exist here)
    original_tables = json.loads(text)["tables"]
    for name, table in again["tables"].items():
        if name != "membership":
            assert table == original_tables[name], name
    assert again["rubric_versions"] == document["rubric_versions"]
    assert _computed(target, organisation_id) == _computed(source, organisation_id)
    assert _results_page(target, team_id, round_id) == _results_page(source, team_id, round_id)


def test_restore_refuses_to_overwrite_and_changes_nothing(
    databases: tuple[Settings, Settings],
) -> None:
    source, _ = databases
    organisation_id, _ = _seed(source)
    engine = _engine(source)
    with Session(engine) as session:
        document = backup.backup(session=session, organisation_id=organisation_id)
        before = session.exec(select(func.count()).select_from(Organisation)).one()
        with pytest.raises(backup.BackupError, match="already holds"):
            backup.restore(session=session, document=document)
        session.rollback()
        assert session.exec(select(func.count()).select_from(Organisation)).one() == before
        with pytest.raises(backup.BackupError, match="not a ProcessLens backup"):
            backup.restore(session=session, document={"format": "zip"})
        with pytest.raises(backup.BackupError, match="schema"):
            backup.restore(session=session, document={**document, "schema": ["0000"]})
    engine.dispose()


def test_every_table_is_either_backed_up_or_said_to_be_installation_wide() -> None:
    """A new table must join the backup (through a foreign key to the organisation) or be
    listed as installation-wide, derived, or never backed up (e-mail addresses) on purpose."""
    owned = {table.name for table in backup.organisation_tables()}
    for name in db.metadata.tables:
        assert name in owned | backup.INSTALLATION | backup.DERIVED | backup.NEVER_BACKED_UP, name
    assert not backup.NEVER_BACKED_UP & owned  # addresses are never part of a backup
    assert {"respondent", "response", "round_result", "response_score", "invitation"} <= owned


def test_the_commands_back_up_restore_and_export(
    databases: tuple[Settings, Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = databases
    organisation_id, _ = _seed(source)
    file = tmp_path / "org.json"
    runner = CliRunner()
    monkeypatch.setattr(cli_session, "get_settings", lambda: source)
    made = runner.invoke(cli.app, ["backup", "--org", str(organisation_id), "-o", str(file)])
    assert made.exit_code == 0, made.output
    exported = runner.invoke(
        cli.app, ["export", "--org", str(organisation_id), "--dataset", "scores"]
    )
    assert exported.exit_code == 0, exported.output
    assert exported.stdout.startswith("team,business_unit,round_id")
    wrong = runner.invoke(cli.app, ["export", "--org", "999999"])
    assert wrong.exit_code == 1
    assert "no organisation with id 999999" in wrong.output

    monkeypatch.setattr(cli_session, "get_settings", lambda: target)
    restored = runner.invoke(cli.app, ["restore", str(file)])
    assert restored.exit_code == 0, restored.output
    assert "Restored Backed Up" in restored.output
    twice = runner.invoke(cli.app, ["restore", str(file)])
    assert twice.exit_code == 1
    assert "restore into an empty database" in twice.output
    engine = _engine(target)
    with Session(engine) as session:
        actions = session.exec(select(AuditEvent.action)).all()
    engine.dispose()
    assert "organisation.restored" in actions
    engine = _engine(source)
    with Session(engine) as session:
        actions = session.exec(select(AuditEvent.action)).all()
    engine.dispose()
    assert {"organisation.backed_up", "export.downloaded"} <= set(actions)
