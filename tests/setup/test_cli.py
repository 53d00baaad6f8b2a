"""processlens import: preview, import (all or nothing, idempotent), export, on a fresh
database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import Session, select
from typer.testing import CliRunner

from app import cli, cli_session, db
from app.config import Settings
from app.models import Team

FILE = "unit,team,lead_email,lead_name\nPayments,,,\nPayments,Ledger,ada@example.org,Ada\n"


@pytest.fixture
def cli_settings(
    fresh_database_url: str,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    settings = make_settings(fresh_database_url, data_dir=tmp_path / "data")
    monkeypatch.setattr(cli_session, "get_settings", lambda: settings)
    return settings


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli.app, list(args))


def _teams(settings: Settings) -> int:
    engine = db.create_db_engine(settings)
    try:
        with Session(engine) as session:
            return int(session.exec(select(func.count()).select_from(Team)).one())
    finally:
        engine.dispose()


def test_import_previews_refuses_imports_and_exports(
    cli_settings: Settings, tmp_path: Path
) -> None:
    assert "all or nothing" in invoke("import", "--help").stdout
    assert invoke("org", "create", "Globex").exit_code == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(FILE + "Paymnts,Fraud,,\n", encoding="utf-8")
    refused = invoke("import", "globex", str(bad))
    assert refused.exit_code == 1
    assert "line 4: unit 'Paymnts' does not exist" in refused.stderr
    assert _teams(cli_settings) == 0

    good = tmp_path / "good.csv"
    good.write_text(FILE, encoding="utf-8")
    previewed = invoke("import", "globex", str(good), "--preview")
    assert previewed.exit_code == 0
    assert _teams(cli_settings) == 0
    done = invoke("import", "globex", str(good))
    assert done.exit_code == 0, done.output
    assert "set-password link for ada@example.org" in done.stdout
    again = invoke("import", "globex", str(good))
    assert again.exit_code == 0
    assert "set-password link" not in again.stdout
    assert _teams(cli_settings) == 1

    exported = tmp_path / "out.csv"
    assert invoke("import", "globex", str(exported), "--export").exit_code == 0
    assert exported.read_text(encoding="utf-8").splitlines() == [
        "unit,team,lead_email,lead_name",
        "Payments,,,",
        "Payments,Ledger,ada@example.org,Ada",
    ]
