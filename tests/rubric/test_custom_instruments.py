"""Custom instruments from extra folders: validated like built-in ones, scored, banded and
triggering their own practices, but part of a round only when enabled."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session

from app import catalog_store
from app.config import QUESTIONNAIRES_DIR
from app.rubric.aggregate import Respondent
from app.rubric.answers import Answer, RoundSettings
from app.rubric.assessment import assess
from app.rubric.loader import load_catalog
from app.rubric.output import to_data
from tests import factories

CUSTOM = Path(__file__).parent / "custom"


def test_a_custom_folder_adds_an_instrument_and_its_practices() -> None:
    catalog = load_catalog([QUESTIONNAIRES_DIR, CUSTOM])
    assert catalog.custom_instruments == {"privacy"}
    assert "minimise_training_data" in {p.id for p in catalog.practices.practices}
    # not part of a round unless the organisation enables it
    assert "privacy" not in RoundSettings(stage="operating").instrument_ids(catalog)


def test_an_enabled_custom_instrument_is_scored_banded_and_triggers_practices() -> None:
    catalog = load_catalog([QUESTIONNAIRES_DIR, CUSTOM])
    settings = RoundSettings(stage="operating", instruments=("trajectory", "privacy"))
    person = Respondent(
        id="a",
        role="team_lead",
        answers={
            "privacy.minimisation": Answer("reviewed"),
            "privacy.retention": Answer("automatic"),
        },
    )
    result = to_data(catalog, assess(catalog, settings, [person]))
    privacy = result["dimensions"]["privacy"]
    assert privacy["score"] == 75.0
    assert privacy["band"]["id"] == "managed"
    assert [item["practice"] for item in result["roadmap"]["now"]] == ["minimise_training_data"]


def test_validate_checks_a_single_custom_file_with_the_built_in_rubric(tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "app.cli", "validate", str(CUSTOM / "privacy.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    broken = tmp_path / "privacy.yaml"
    broken.write_text(
        (CUSTOM / "privacy.yaml").read_text(encoding="utf-8").replace("score: 4", "score: 9", 1),
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "validate", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("privacy.yaml:")
    assert "less than or equal to 4" in result.stderr


def test_the_server_refuses_to_start_on_a_broken_rubric_file(tmp_path: Path) -> None:
    broken = tmp_path / "custom"
    broken.mkdir()
    (broken / "privacy.yaml").write_text(
        (CUSTOM / "privacy.yaml").read_text(encoding="utf-8").replace("weight", "weigth")
        + "  - {id: x}\n",
        encoding="utf-8",
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "PROCESSLENS_QUESTIONNAIRE_DIRS": str(broken),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "PROCESSLENS_DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--port", "8765"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "privacy.yaml:" in result.stderr
    assert "the server does not start" in result.stderr


def test_an_organisation_enables_a_custom_instrument_for_new_rounds(session: Session) -> None:
    catalog = load_catalog([QUESTIONNAIRES_DIR, CUSTOM])
    organisation = factories.organisation(session)
    assert "privacy" not in catalog_store.round_instruments(catalog, organisation)
    catalog_store.set_custom_instrument(
        catalog=catalog, organisation=organisation, instrument_id="privacy", enabled=True
    )
    session.add(organisation)
    session.flush()
    session.refresh(organisation)
    assert catalog_store.round_instruments(catalog, organisation)[-1] == "privacy"
    with pytest.raises(catalog_store.UnknownInstrumentError, match="not a custom instrument"):
        catalog_store.set_custom_instrument(
            catalog=catalog, organisation=organisation, instrument_id="handoff", enabled=True
        )


def test_processlens_rubric_enable(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "PROCESSLENS_QUESTIONNAIRE_DIRS": str(CUSTOM),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "PROCESSLENS_DATA_DIR": str(tmp_path),
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )

    assert cli("migrate").returncode == 0
    assert cli("org", "create", "Acme").returncode == 0
    slug = "acme"
    enabled = cli("rubric", "enable", slug, "privacy")
    assert enabled.returncode == 0, enabled.stderr
    assert "privacy" in enabled.stdout
    unknown = cli("rubric", "enable", slug, "nonsense")
    assert unknown.returncode == 2
    assert "not a custom instrument" in unknown.stderr
