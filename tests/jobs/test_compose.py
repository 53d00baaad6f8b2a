"""docker-compose.yml describes the tested shape of several instances: web replicas with no
job consumer of their own, a job worker, PostgreSQL and Redis, all sharing one secret key,
database and Redis (there is no Docker daemon here, so the file is parsed, not run)."""

from __future__ import annotations

from typing import Any

import yaml

from app.config import ROOT_DIR, load_settings

SHARED = ("PROCESSLENS_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "PROCESSLENS_ENVIRONMENT")


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        (ROOT_DIR / "docker-compose.yml").read_text(encoding="utf-8")
    )
    return loaded


def test_compose_runs_web_replicas_a_worker_postgres_and_redis() -> None:
    services = _compose()["services"]
    assert set(services) >= {"web", "worker", "db", "redis"}
    web, worker = services["web"], services["worker"]
    assert web["deploy"]["replicas"] >= 2
    # one published port per replica
    low, high = web["ports"][0].split(":")[1].split("-")
    assert int(high) - int(low) + 1 == web["deploy"]["replicas"]
    assert web["command"][:2] == ["processlens", "serve"]
    assert worker["command"][:2] == ["processlens", "worker"]
    assert services["db"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    for service in (web, worker):
        assert {"db", "redis"} <= set(service["depends_on"])


def test_every_process_shares_the_secret_database_and_redis() -> None:
    services = _compose()["services"]
    web, worker = services["web"]["environment"], services["worker"]["environment"]
    for name in SHARED:
        assert web[name] == worker[name], name
    assert web["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert web["REDIS_URL"].startswith("redis://redis:")
    # the web replicas leave jobs to the worker; the worker consumes
    assert web["PROCESSLENS_EMBEDDED_WORKER"] == "false"
    assert "PROCESSLENS_EMBEDDED_WORKER" not in worker


def test_the_compose_settings_are_valid_settings() -> None:
    web = _compose()["services"]["web"]["environment"]
    values = {
        "environment": web["PROCESSLENS_ENVIRONMENT"],
        "secret_key": "s" * 48,
        "database_url": web["DATABASE_URL"],
        "redis_url": web["REDIS_URL"],
        "embedded_worker": web["PROCESSLENS_EMBEDDED_WORKER"],
    }
    settings = load_settings(**values)
    assert settings.embedded_worker is False
    assert settings.redis_url == web["REDIS_URL"]
