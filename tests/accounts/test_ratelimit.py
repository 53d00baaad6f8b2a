"""Rate limits hold in memory and in Redis, answer 429 with Retry-After, and hash their keys."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi import APIRouter, FastAPI, Request
from fastapi.testclient import TestClient
from limits import parse
from limits.strategies import MovingWindowRateLimiter

from app.accounts import ratelimit
from app.config import Settings
from app.main import create_app


def _app(settings: Settings, storage_url: str | None = None) -> FastAPI:
    app = create_app(settings)
    if storage_url is not None:
        app.state.rate_limiter = ratelimit.RateLimiter.create(
            settings, storage_url=storage_url, key_prefix=f"test-{uuid.uuid4().hex[:8]}"
        )
    router = APIRouter()

    @router.get("/limited/{key}")
    def limited(request: Request, key: str) -> dict[str, str]:
        ratelimit.hit(request, scope="probe", key=key, limit="3/minute")
        return {"ok": "yes"}

    app.include_router(router)
    return app


@pytest.fixture
def plain_settings(
    make_settings: Callable[..., Settings], database_factory: Any, tmp_path: Path
) -> Settings:
    return make_settings(database_factory.create("sqlite"), data_dir=tmp_path / "data")


def _exercise(app: FastAPI) -> None:
    with TestClient(app) as client:
        for _ in range(3):
            assert client.get("/limited/alice").status_code == 200
        refused = client.get("/limited/alice", headers={"accept": "text/html"})
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "Too many attempts" in refused.text
        # another key is counted on its own
        assert client.get("/limited/bob").status_code == 200


def test_memory_storage_limits(plain_settings: Settings) -> None:
    app = _app(plain_settings)
    assert isinstance(app.state.rate_limiter.storage, ratelimit.LocalWindowStorage)
    _exercise(app)


@pytest.mark.redis
def test_redis_storage_limits_and_is_shared(plain_settings: Settings, redis_url: str) -> None:
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    first = ratelimit.RateLimiter.create(plain_settings, storage_url=redis_url, key_prefix=prefix)
    second = ratelimit.RateLimiter.create(plain_settings, storage_url=redis_url, key_prefix=prefix)
    # two limiters (as in two workers) share the counters
    first._check(scope="probe", key="k", limits=("2/minute",), consume=True)
    second._check(scope="probe", key="k", limits=("2/minute",), consume=True)
    with pytest.raises(ratelimit.RateLimitedError):
        first._check(scope="probe", key="k", limits=("2/minute",), consume=True)
    _exercise(_app(plain_settings, storage_url=redis_url))
    # keys are stored hashed: no plain key appears in Redis
    client = redis.Redis.from_url(redis_url)
    try:
        keys = client.keys(f"{prefix}*")
        assert isinstance(keys, list)  # a synchronous client answers at once
        names = [name.decode() for name in keys]
    finally:
        client.close()
    assert names
    assert not any(":k" in name.split("probe")[-1] for name in names if "probe" in name)


def test_unreachable_redis_refuses_with_503(plain_settings: Settings) -> None:
    app = _app(plain_settings, storage_url="redis://127.0.0.1:1/0")
    with TestClient(app) as client:
        response = client.get("/limited/alice")
    assert response.status_code == 503


def test_helpers_for_invitations_and_answers(plain_settings: Settings) -> None:
    app = create_app(plain_settings)
    seen: list[Any] = []
    router = APIRouter()

    @router.get("/probe-invitation")
    def probe_invitation(request: Request) -> dict[str, str]:
        ratelimit.limit_invitation_lookup(request)
        return {}

    @router.get("/probe-save/{link}")
    def probe_save(request: Request, link: str) -> dict[str, str]:
        ratelimit.limit_answer_saving(request, resume_key=link)
        seen.append(link)
        return {}

    app.include_router(router)
    per_minute = int(ratelimit.INVITATION_LOOKUP_PER_ADDRESS[0].split("/")[0])
    with TestClient(app) as client:
        codes = [client.get("/probe-invitation").status_code for _ in range(per_minute + 1)]
        assert codes[:-1] == [200] * per_minute
        assert codes[-1] == 429
        # answer saving is per resume link: one busy link does not throttle another
        save_limit = int(ratelimit.ANSWER_SAVE_PER_RESUME_LINK[0].split("/")[0])
        for _ in range(save_limit):
            client.get("/probe-save/a")
        assert client.get("/probe-save/a").status_code == 429
        assert client.get("/probe-save/b").status_code == 200


def test_local_storage_forgets_idle_keys_without_a_timer_thread() -> None:
    """The in-process store drops a key once its window has passed, on the next hit of any
    key (no thread scanning every key every few milliseconds), and keeps the moving window."""
    # which threads, not how many: an earlier test's threads may end meanwhile (a stopped
    # job consumer's wake up within a second)
    threads_before = set(threading.enumerate())
    storage = ratelimit.LocalWindowStorage()
    limiter = MovingWindowRateLimiter(storage)
    item = parse("2/second")
    assert [limiter.hit(item, "alice") for _ in range(3)] == [True, True, False]
    assert limiter.get_window_stats(item, "alice").remaining == 0
    assert limiter.hit(item, "bob")
    assert storage.key_count() == 2
    time.sleep(1.05)
    assert limiter.hit(item, "carol")  # alice's and bob's windows have passed: both leave
    assert storage.key_count() == 1
    assert limiter.hit(item, "alice")  # and alice may try again
    assert set(threading.enumerate()) - threads_before == set()
