"""The processlens command, run as a user runs it: in a subprocess, with its exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from app import __version__, cli, db, demo, models
from app.config import Settings

PROCESSLENS = str(Path(sys.executable).with_name("processlens"))


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run processlens with a clean environment (nothing from the shell's PROCESSLENS_*)."""
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PROCESSLENS_") and key not in {"DATABASE_URL", "REDIS_URL", "CI"}
    }
    base["PROCESSLENS_DATA_DIR"] = str(cwd / "data")
    base.update(env or {})
    return subprocess.run(
        [PROCESSLENS, *args],
        cwd=cwd,
        env=base,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert text in lines[0]


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("serve", "migrate", "downgrade", "demo", "seed"):
        assert command in result.stdout
    assert "ML-enabled software" in result.stdout


# in process (each subprocess costs a second of imports): the commands' own help and version
@pytest.mark.parametrize("command", ["serve", "migrate", "downgrade", "demo", "seed"])
def test_each_command_has_help(command: str) -> None:
    result = CliRunner().invoke(cli.app, [command, "--help"], prog_name="processlens")
    assert result.exit_code == 0, result.output
    assert "Usage: processlens" in result.output


def test_version() -> None:
    result = CliRunner().invoke(cli.app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"processlens {__version__}\n"


def test_malformed_database_url_is_one_line_exit_2(tmp_path: Path) -> None:
    result = run("migrate", cwd=tmp_path, env={"DATABASE_URL": "postgresql+nope//x"})
    assert_one_line_error(result, 2, "DATABASE_URL")


def test_unreachable_database_is_one_line_exit_1(tmp_path: Path) -> None:
    result = run(
        "migrate",
        cwd=tmp_path,
        env={"DATABASE_URL": "postgresql+psycopg://lens:hunter2@127.0.0.1:9/lens"},
    )
    assert_one_line_error(result, 1, "cannot use the database")
    assert "hunter2" not in result.stderr


def test_missing_secret_in_production_is_one_line_exit_2(tmp_path: Path) -> None:
    result = run("serve", cwd=tmp_path, env={"PROCESSLENS_ENVIRONMENT": "production"})
    assert_one_line_error(result, 2, "PROCESSLENS_SECRET_KEY is required in production")


def test_production_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    env = {"PROCESSLENS_ENVIRONMENT": "production", "PROCESSLENS_SECRET_KEY": "s" * 40}
    result = run("serve", "--port", "1", cwd=tmp_path, env=env)
    assert_one_line_error(result, 1, "run `processlens migrate`")
    assert not (tmp_path / "data" / "secret_key").exists()


def test_migrate_on_an_empty_sqlite_file_then_check(tmp_path: Path) -> None:
    env = {"PROCESSLENS_ENVIRONMENT": "test"}
    check = run("migrate", "--check", cwd=tmp_path, env=env)
    assert_one_line_error(check, 1, "out of date")
    first = run("migrate", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert "Migrated the database schema from empty to" in first.stdout
    assert (tmp_path / "data" / "processlens.db").exists()
    again = run("migrate", cwd=tmp_path, env=env)
    assert "nothing to do" in again.stdout
    assert run("migrate", "--check", cwd=tmp_path, env=env).returncode == 0
    down = run("downgrade", "base", "--yes", cwd=tmp_path, env=env)
    assert down.returncode == 0, down.stderr
    assert "base (no tables)" in down.stdout


@pytest.mark.postgres
def test_migrate_and_seed_on_postgres(
    postgres_server: str,
    database_factory: Any,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    url = database_factory.create("postgres", migrated=False)
    env = {"PROCESSLENS_ENVIRONMENT": "test", "DATABASE_URL": url}
    migrated = run("migrate", cwd=tmp_path, env=env)
    assert migrated.returncode == 0, migrated.stderr
    seeded = run("seed", "--teams", "12", "--rounds", "2", cwd=tmp_path, env=env)
    assert seeded.returncode == 0, seeded.stderr
    assert "12 teams" in seeded.stdout
    engine = db.create_db_engine(make_settings(url))
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(models.Team)).one() == 12
        assert session.exec(select(func.count()).select_from(models.AssessmentRound)).one() == 24
    engine.dispose()


# ---------------------------------------------------------------- seeding, in process


def test_seed_demo_is_idempotent(session: Session) -> None:
    first = demo.seed_demo(session=session)
    assert first.created
    assert len(first.business_units) == 2
    assert len(first.teams) == 5
    second = demo.seed_demo(session=session)
    assert not second.created
    assert second.organisation_id == first.organisation_id
    assert sorted(second.teams) == sorted(first.teams)


def test_seed_organisation_creates_teams_units_and_dated_rounds(session: Session) -> None:
    summary = demo.seed_organisation(session=session, name="Bench Co", teams=25, rounds=3)
    assert summary.slug == "bench-co"
    assert len(summary.teams) == 25
    assert summary.business_units == ("Unit 1", "Unit 2", "Unit 3")
    assert summary.rounds == 75
    rounds = session.exec(
        select(models.AssessmentRound)
        .join(models.Team)
        .where(models.Team.organisation_id == summary.organisation_id)
    ).all()
    assert len(rounds) == 75
    assert {r.status for r in rounds} == {models.RoundStatus.closed}
    for assessment in rounds:
        assert assessment.opened_at is not None
        assert assessment.closed_at is not None
        assert assessment.opened_at < assessment.closed_at <= db.utcnow()
    again = demo.seed_organisation(session=session, name="Bench Co", teams=1, rounds=0)
    assert again.slug == "bench-co-2"
