"""The suite's own rules: missing services skip locally but fail under CI=true."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest
import redis


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
