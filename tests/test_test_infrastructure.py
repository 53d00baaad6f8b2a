"""The suite's own rules: missing services skip locally but fail under CI=true."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
import redis

from tests import conftest


def test_unavailable_skips_locally(
    unavailable: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.modules[unavailable.__module__], "CI", False)
    with pytest.raises(pytest.skip.Exception, match="start it"):
        unavailable("PostgreSQL is not reachable; start it")


def test_unavailable_fails_under_ci(
    unavailable: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.modules[unavailable.__module__], "CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        unavailable("PostgreSQL is not reachable; start it")


@pytest.mark.redis
def test_redis_fixture_gives_a_working_server(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        client.set("processlens:test", "1", ex=10)
        assert client.get("processlens:test") == b"1"
    finally:
        client.delete("processlens:test")
        client.close()


@pytest.mark.postgres
def test_databases_left_by_killed_runs_are_swept_hours_later(
    postgres_server: str, tmp_path: Path
) -> None:
    old = f"processlens_test_{int(time.time()) - conftest.STALE_DATABASE_SECONDS - 60}_dead_1"
    recent = f"processlens_test_{int(time.time()) - 60}_alive_1"
    factory = conftest.DatabaseFactory(tmp_path)
    for name in (old, recent):
        factory._postgres_execute(f'CREATE DATABASE "{name}"')
    try:
        assert factory.drop_stale() == [old]
        with psycopg.connect(conftest._psycopg_url(postgres_server)) as conn:
            left = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        assert old not in left
        assert recent in left
    finally:
        for name in (old, recent):
            factory._postgres_execute(f'DROP DATABASE IF EXISTS "{name}"')
