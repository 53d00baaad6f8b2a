"""Settings: environment variables, defaults, the secret key, and one-line configuration errors."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from app import config
from app.config import ConfigurationError, Environment, Settings, load_settings

README = config.ROOT_DIR / "README.md"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing from the developer's shell; the data folder in a temporary place."""
    for name in list(os.environ):
        if name.startswith("PROCESSLENS_") or name in {"DATABASE_URL", "REDIS_URL"}:
            monkeypatch.delenv(name)
    monkeypatch.setenv("PROCESSLENS_DATA_DIR", str(tmp_path / "data"))


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.environment is Environment.development
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'data' / 'processlens.db'}"
    assert settings.redis_url is None
    assert settings.base_url == "http://127.0.0.1:8000"
    # role groups need at least 3 whatever the round's threshold (docs/security.md, anonymity)
    assert (settings.team_results_min, settings.role_group_min, settings.org_cell_min) == (3, 3, 3)
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.questionnaire_dirs == []
    assert settings.auto_migrate
    assert not settings.json_logs


def test_prefixed_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCESSLENS_ENVIRONMENT", "Test")
    monkeypatch.setenv("PROCESSLENS_BRAND_NAME", "Acme Lens")
    monkeypatch.setenv("PROCESSLENS_TEAM_RESULTS_MIN", "4")
    monkeypatch.setenv("PROCESSLENS_LOG_LEVEL", "debug")
    settings = load_settings()
    assert settings.environment is Environment.test
    assert settings.brand_name == "Acme Lens"
    assert settings.team_results_min == 4
    assert settings.log_level == "DEBUG"
    assert not settings.auto_migrate


def test_database_and_redis_urls_are_read_without_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://app:pw@db.internal:5432/lens")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    settings = load_settings()
    assert settings.resolved_database_url == "postgresql+psycopg://app:pw@db.internal:5432/lens"
    assert settings.redis_url == "redis://cache:6379/0"
    assert not settings.is_sqlite


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgresql://u@h:5433/db", "postgresql+psycopg://u@h:5433/db"),
        ("sqlite:///relative.db", "sqlite:///relative.db"),
    ],
)
def test_database_url_spellings_are_normalised(given: str, expected: str) -> None:
    assert load_settings(database_url=given).database_url == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("not a url", "not a database URL"),
        ("mysql://u@h/db", "unsupported database 'mysql'"),
        ("postgresql+asyncpg://u@h/db", "unsupported PostgreSQL driver 'asyncpg'"),
    ],
)
def test_bad_database_urls_give_one_line(
    monkeypatch: pytest.MonkeyPatch, given: str, message: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", given)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    text = str(caught.value)
    assert text.startswith("invalid configuration: DATABASE_URL: ")
    assert message in text
    assert "\n" not in text


def test_invalid_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCESSLENS_BRAND_COLOUR", "teal")
    monkeypatch.setenv("PROCESSLENS_ROLE_GROUP_MIN", "1")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    text = str(caught.value)
    assert "PROCESSLENS_BRAND_COLOUR" in text
    assert "PROCESSLENS_ROLE_GROUP_MIN" in text
    assert "\n" not in text


def test_production_requires_a_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCESSLENS_ENVIRONMENT", "production")
    with pytest.raises(ConfigurationError, match="PROCESSLENS_SECRET_KEY is required"):
        load_settings()
    monkeypatch.setenv("PROCESSLENS_SECRET_KEY", "short")
    with pytest.raises(ConfigurationError, match="too short"):
        load_settings()
    monkeypatch.setenv("PROCESSLENS_SECRET_KEY", "k" * 40)
    settings = load_settings()
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == "k" * 40
    assert "k" * 40 not in repr(settings)
    assert settings.json_logs
    assert not settings.auto_migrate


def test_development_generates_and_keeps_a_secret(tmp_path: Path) -> None:
    first = load_settings()
    key_file = tmp_path / "data" / "secret_key"
    assert key_file.exists()
    assert key_file.stat().st_mode & 0o777 == 0o600
    second = load_settings()
    assert first.secret_key is not None
    assert second.secret_key is not None
    assert first.secret_key.get_secret_value() == second.secret_key.get_secret_value()
    assert len(first.secret_key.get_secret_value()) >= 48


def test_test_environment_leaves_no_secret_file(tmp_path: Path) -> None:
    settings = load_settings(environment="test")
    assert settings.secret_key is not None
    assert not (tmp_path / "data" / "secret_key").exists()


def test_questionnaire_dirs_accept_a_path_list_or_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCESSLENS_QUESTIONNAIRE_DIRS", f"/srv/a{os.pathsep}/srv/b")
    assert load_settings().questionnaire_dirs == [Path("/srv/a"), Path("/srv/b")]
    monkeypatch.setenv("PROCESSLENS_QUESTIONNAIRE_DIRS", '["/srv/c"]')
    assert load_settings().questionnaire_dirs == [Path("/srv/c")]


def test_get_settings_is_cached() -> None:
    config.get_settings.cache_clear()
    try:
        assert config.get_settings() is config.get_settings()
    finally:
        config.get_settings.cache_clear()


def test_every_setting_is_documented_in_the_readme() -> None:
    """The README's configuration table names every variable (datasette's rule)."""
    readme = README.read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        variable = {"database_url": "DATABASE_URL", "redis_url": "REDIS_URL"}.get(
            name, f"PROCESSLENS_{name.upper()}"
        )
        assert re.search(rf"`{variable}`", readme), f"{variable} is not documented in README.md"
        assert field.description, f"{name} has no description"
