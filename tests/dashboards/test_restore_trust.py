"""A restore trusts nothing in the file: every row must reach the restored organisation through
its foreign keys, accounts gain nothing outside it, rubric versions match their hashes, report
jobs are never restored. An edited backup is refused whole, naming the table, the row and the
reason, and the database is left exactly as it was.

The scene: organisation Alpha is backed up and then deleted (so its ids are free again), while
Bravo, and every account, stays; each case edits Alpha's backup to reach into Bravo.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import Session, select
from typer.testing import CliRunner

from app import cli, cli_session, db
from app.accounts import organisations, tenancy
from app.config import Settings
from app.dashboards import backup
from app.models import Membership, ReportJob, ReportJobStatus, User, UserRole
from tests.accounts import helpers

NEW_ID = 900_001
WHEN = "2026-01-01T00:00:00+00:00"


@dataclasses.dataclass
class Scene:
    alpha: helpers.Tenant
    bravo: helpers.Tenant
    document: dict[str, Any]

    def edited(self, change: Callable[[Scene, dict[str, Any]], None]) -> dict[str, Any]:
        document = copy.deepcopy(self.document)
        change(self, document)
        return document


def _make_scene(session: Session, settings: Settings) -> Scene:
    alpha = helpers.tenant(session, settings, "Alpha")
    bravo = helpers.tenant(session, settings, "Bravo")
    assert alpha.org.id is not None
    # a finished report job: the backup leaves it out (its zip is a file on this server)
    session.add(
        ReportJob(
            organisation_id=alpha.org.id,
            status=ReportJobStatus.done,
            total=1,
            done=1,
            file_name="job-1-0123456789abcdef.zip",
        )
    )
    session.flush()
    made = backup.backup(session=session, organisation_id=alpha.org.id)
    document = json.loads(backup.dumps(made))
    organisations.delete_organisation(session=session, organisation=alpha.org)
    session.commit()
    return Scene(alpha=alpha, bravo=bravo, document=document)


@pytest.fixture
def scene(session: Session, settings: Settings) -> Scene:
    return _make_scene(session, settings)


def _add(document: dict[str, Any], table: str, **values: Any) -> None:
    """Append a row to a table of the backup: a copy of its first row (if any) with
    ``values`` put in (a table the backup leaves out gets a section of its own)."""
    columns = [column.name for column in db.metadata.tables[table].columns]
    section = document["tables"].setdefault(table, {"columns": columns, "rows": []})
    columns = section["columns"]
    base = dict(zip(columns, section["rows"][0], strict=True)) if section["rows"] else {}
    row = {column: base.get(column) for column in columns} | {"created_at": WHEN} | values
    section["rows"].append([row.get(column) for column in columns])


def _report_job(s: Scene, d: dict[str, Any], file_name: str) -> None:
    _add(d, "report_job", id=NEW_ID, organisation_id=s.alpha.org.id, kind="team_reports",
         status="done", total=1, done=1, failed=0, file_name=file_name,
         updated_at=WHEN)  # fmt: skip


def _counts(session: Session) -> dict[str, int]:
    return {
        table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
        for table in db.metadata.sorted_tables
    }


def _membership_elsewhere(s: Scene, d: dict[str, Any]) -> None:
    _add(d, "membership", id=NEW_ID, user_id=s.alpha.consultant.id, organisation_id=s.bravo.org.id,
         team_id=None, role="consultant")  # fmt: skip


def _membership_on_a_team_elsewhere(s: Scene, d: dict[str, Any]) -> None:
    _add(d, "membership", id=NEW_ID, user_id=s.alpha.team_lead.id, organisation_id=s.alpha.org.id,
         team_id=s.bravo.team.id, role="team_lead")  # fmt: skip


def _administrator_membership(s: Scene, d: dict[str, Any]) -> None:
    _add(d, "membership", id=NEW_ID, user_id=s.alpha.team_lead.id, organisation_id=s.alpha.org.id,
         team_id=None, role="admin")  # fmt: skip


def _team_elsewhere(s: Scene, d: dict[str, Any]) -> None:
    _add(d, "team", id=NEW_ID, organisation_id=s.bravo.org.id, business_unit_id=None,
         name="Planted")  # fmt: skip


def _target_elsewhere(s: Scene, d: dict[str, Any]) -> None:
    _add(d, "target", id=NEW_ID, organisation_id=s.bravo.org.id, team_id=None,
         dimension="data", target_level="managed")  # fmt: skip


def _target_on_a_team_elsewhere(s: Scene, d: dict[str, Any]) -> None:
    _add(d, "target", id=NEW_ID, organisation_id=None, team_id=s.bravo.team.id,
         dimension="data", target_level="managed")  # fmt: skip


def _round_on_a_team_elsewhere(s: Scene, d: dict[str, Any]) -> None:
    _add(d, "assessment_round", id=NEW_ID, team_id=s.bravo.team.id)


def _report_job_up_a_folder(s: Scene, d: dict[str, Any]) -> None:
    _report_job(s, d, "../secret_key")


def _report_job_absolute(s: Scene, d: dict[str, Any]) -> None:
    _report_job(s, d, "/etc/passwd")


def _rubric_edited(s: Scene, d: dict[str, Any]) -> None:
    d["rubric_versions"][0]["content"] += "\n# edited after the backup\n"


def _another_organisation(s: Scene, d: dict[str, Any]) -> None:
    d["organisation_id"] = s.bravo.org.id


def _at(table: str, reason: str) -> str:
    """The refusal of the planted row (id NEW_ID) of ``table``, naming ``reason``."""
    return f"{table} {NEW_ID}: .*{reason}"


CASES = {
    "membership in another organisation": (
        _membership_elsewhere,
        _at("membership", "organisation_id"),
    ),
    "membership on another's team": (_membership_on_a_team_elsewhere, _at("membership", "team_id")),
    "administrator membership": (_administrator_membership, _at("membership", "admin")),
    "team in another organisation": (_team_elsewhere, _at("team", "organisation_id")),
    "target of another organisation": (_target_elsewhere, _at("target", "organisation_id")),
    "target of another's team": (_target_on_a_team_elsewhere, _at("target", "team_id")),
    "round on another's team": (_round_on_a_team_elsewhere, _at("assessment_round", "team_id")),
    "report job up a folder": (_report_job_up_a_folder, _at("report_job", "file name")),
    "report job absolute": (_report_job_absolute, _at("report_job", "file name")),
    "rubric version edited": (_rubric_edited, r"rubric_file_version \w+: .*hash"),
    "another organisation's id": (_another_organisation, r"organisation \d+: .*no other"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_an_edited_backup_is_refused_and_nothing_changes(
    scene: Scene, session: Session, case: str
) -> None:
    change, reason = CASES[case]
    before = _counts(session)
    with pytest.raises(backup.BackupFileError, match=reason):
        backup.restore(session=session, document=scene.edited(change))
    session.rollback()
    assert _counts(session) == before


def test_the_untouched_backup_restores_without_its_report_jobs(
    scene: Scene, session: Session
) -> None:
    assert "report_job" not in scene.document["tables"]
    before = _counts(session)
    # a file from before report jobs were left out: its jobs are checked, then not restored
    document = scene.edited(lambda s, d: _report_job(s, d, "job-1-0123456789abcdef.zip"))
    summary = backup.restore(session=session, document=document)
    session.commit()
    after = _counts(session)
    assert after["organisation"] == before["organisation"] + 1
    assert after["team"] == before["team"] + 2
    # memberships come back for the accounts (matched by e-mail), report jobs never do
    assert after["membership"] == before["membership"] + 3
    assert after["report_job"] == before["report_job"]
    assert summary.rows.get("report_job", 0) == 0
    assert any("report_job" in line for line in summary.skipped)
    consultant = session.exec(
        select(Membership).where(Membership.user_id == scene.alpha.consultant.id)
    ).all()
    assert [membership.organisation_id for membership in consultant] == [scene.alpha.org.id]


def test_a_row_the_database_refuses_ends_in_a_message_not_a_traceback(
    scene: Scene, session: Session
) -> None:
    """Within the organisation, but against a rule of the schema (a target is for a team or
    for the organisation, not both): refused with the table's name; the caller rolls back."""
    before = _counts(session)
    document = scene.edited(
        lambda s, d: _add(d, "target", id=NEW_ID, organisation_id=s.alpha.org.id,
                          team_id=s.alpha.team.id, dimension="data", target_level="managed")
    )  # fmt: skip
    with pytest.raises(backup.BackupError, match=r"^target: this database refuses"):
        backup.restore(session=session, document=document)
    session.rollback()
    assert _counts(session) == before


def test_a_membership_in_another_role_than_the_accounts_is_not_restored(
    scene: Scene, session: Session
) -> None:
    """The consultant's account is an org leader here: the consultant membership would grant
    nothing now, and would come alive if the account became a consultant again."""
    consultant = session.get(User, scene.alpha.consultant.id)
    assert consultant is not None
    consultant.role = UserRole.org_leader
    session.add(consultant)
    session.commit()
    summary = backup.restore(session=session, document=scene.document)
    session.commit()
    assert any(scene.alpha.consultant.email in line for line in summary.skipped)
    kept = session.exec(
        select(Membership).where(Membership.user_id == scene.alpha.consultant.id)
    ).all()
    assert kept == []


def test_the_command_refuses_an_edited_backup_in_one_line_with_exit_2(
    backend: str,
    database_factory: Any,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings(database_factory.create(backend), data_dir=tmp_path / "data")
    engine = db.create_db_engine(settings)
    try:
        with Session(engine, expire_on_commit=False) as session:
            scene = _make_scene(session, settings)
            session.commit()
            before = _counts(session)
        file = tmp_path / "edited.json"
        file.write_text(json.dumps(scene.edited(_membership_elsewhere)), encoding="utf-8")
        monkeypatch.setattr(cli_session, "get_settings", lambda: settings)
        result = CliRunner().invoke(cli.app, ["restore", str(file)])
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1
        assert lines[0].startswith("error: membership 900001: ")
        with Session(engine) as session:
            assert _counts(session) == before
    finally:
        engine.dispose()


@pytest.mark.parametrize("source", ["/dev/zero", "folder"])
def test_the_command_refuses_a_device_or_folder_in_one_line_without_reading_it(
    source: str, tmp_path: Path
) -> None:
    # /dev/zero never ends: reading it whole would fill the memory; a folder is no file
    path = "/dev/zero" if source == "/dev/zero" else str(tmp_path)
    started = time.monotonic()
    result = CliRunner().invoke(cli.app, ["restore", path])
    assert time.monotonic() - started < 5
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "not a regular file" in lines[0] or "cannot read" in lines[0]


def _leader_memberships(session: Session, user: User) -> dict[int, int]:
    """Organisation id -> membership id of ``user``'s organisation-wide memberships."""
    rows = session.exec(select(Membership).where(Membership.user_id == user.id)).all()
    return {row.organisation_id: row.id for row in rows if row.id is not None}


def test_a_leader_of_two_organisations_gets_back_the_restored_ones_leadership_only(
    session: Session, settings: Settings
) -> None:
    """Bravo's leader also leads Alpha. Alpha's backup holds their Alpha membership only;
    deleting Alpha and restoring it gives that one back and leaves their Bravo membership
    exactly as it was (the same row); an edited file that would add a Bravo membership for
    them through Alpha's backup is refused whole."""
    alpha = helpers.tenant(session, settings, "Alpha")
    bravo = helpers.tenant(session, settings, "Bravo")
    leader = bravo.org_leader
    helpers.assign(session, leader, alpha.org)
    session.commit()
    assert alpha.org.id is not None
    assert bravo.org.id is not None
    before = _leader_memberships(session, leader)
    assert set(before) == {alpha.org.id, bravo.org.id}
    document = json.loads(
        backup.dumps(backup.backup(session=session, organisation_id=alpha.org.id))
    )
    section = document["tables"]["membership"]
    rows = [dict(zip(section["columns"], row, strict=True)) for row in section["rows"]]
    assert {row["organisation_id"] for row in rows} == {alpha.org.id}
    assert before[alpha.org.id] in {row["id"] for row in rows}
    assert before[bravo.org.id] not in {row["id"] for row in rows}
    organisations.delete_organisation(session=session, organisation=alpha.org)
    session.commit()
    assert _leader_memberships(session, leader) == {bravo.org.id: before[bravo.org.id]}
    edited = copy.deepcopy(document)
    _add(edited, "membership", id=NEW_ID, user_id=leader.id, organisation_id=bravo.org.id,
         team_id=None, role="org_leader")  # fmt: skip
    with pytest.raises(backup.BackupFileError, match=r"^membership 900001: "):
        backup.restore(session=session, document=edited)
    session.rollback()
    assert _leader_memberships(session, leader) == {bravo.org.id: before[bravo.org.id]}
    backup.restore(session=session, document=document)
    session.commit()
    session.expire_all()
    assert _leader_memberships(session, leader) == before
    principal = tenancy.load_principal(session=session, user=leader, via="session")
    assert principal.organisation_ids == {alpha.org.id, bravo.org.id}
