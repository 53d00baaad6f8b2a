"""The install paths agree: Makefile and Dockerfile share the lock, Compose runs PostgreSQL."""

from __future__ import annotations

import os
import re
import tomllib

import yaml

from app.config import ROOT_DIR


def _text(name: str) -> str:
    return (ROOT_DIR / name).read_text(encoding="utf-8")


def test_makefile_and_dockerfile_install_the_same_lock_file() -> None:
    makefile = _text("Makefile")
    dockerfile = _text("Dockerfile")
    assert "pip install --quiet --disable-pip-version-check -r requirements.lock" in makefile
    assert "pip install --no-cache-dir -r requirements.lock" in dockerfile
    # and then the app itself, without resolving anything again
    assert "--no-deps -e ." in makefile
    assert "--no-deps -e ." in dockerfile


def test_every_runtime_dependency_is_pinned_in_the_lock() -> None:
    project = tomllib.loads(_text("pyproject.toml"))["project"]
    lock = _text("requirements.lock").lower()
    for requirement in project["dependencies"]:
        name = re.split(r"[\[<>=!~ ]", requirement, maxsplit=1)[0].lower()
        assert re.search(rf"^{re.escape(name)}==", lock, re.MULTILINE), name
    assert project["scripts"] == {"processlens": "app.cli:app"}


def test_dockerfile_serves_as_non_root_with_a_healthcheck() -> None:
    dockerfile = _text("Dockerfile")
    assert re.search(r"^USER 10001", dockerfile, re.MULTILINE)
    assert "HEALTHCHECK" in dockerfile
    assert "/healthz" in dockerfile
    assert '"processlens", "serve", "--host", "0.0.0.0", "--port", "8000"' in dockerfile
    assert 'VOLUME ["/app/data"]' in dockerfile


def test_compose_runs_the_app_on_postgres() -> None:
    compose = yaml.safe_load(_text("docker-compose.yml"))
    services = compose["services"]
    assert services["db"]["image"] == "postgres:15"
    assert services["web"]["environment"]["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "db" in services["web"]["depends_on"]


def test_ci_script_runs_make_test_and_is_executable() -> None:
    ci = ROOT_DIR / ".ci" / "run"
    assert os.access(ci, os.X_OK)
    text = ci.read_text(encoding="utf-8")
    assert "set -euo pipefail" in text
    assert "make test" in text
    assert "|| true" not in text
