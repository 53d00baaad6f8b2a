"""Rate limits: sign-in, invitation-token lookup and answer saving, in memory or in Redis.

Built on `limits` (the library slowapi uses) with a moving window, so "10/minute" means at
most ten hits in any sixty seconds, not ten per calendar minute. With `REDIS_URL` set the
counters live in Redis and hold across workers and instances; without it each process counts
on its own (fine for one worker, which is what plain development runs).

Callers name a *scope* (what is being limited) and a *key* (whom it is counted for: an
address, an account, a resume link). Keys are stored only as keyed hashes, so Redis never
holds an e-mail address or a resume token in clear.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
import heapq
import hmac
import logging
import math
import threading
import time
import uuid
from typing import ClassVar

from fastapi import FastAPI, Request
from limits import RateLimitItem
from limits import parse as parse_limit
from limits.storage import MovingWindowSupport, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter
from starlette.responses import Response

from app import errors
from app.config import Settings

logger = logging.getLogger(__name__)

# a handful of limit strings, parsed once each (re-parsing showed in the answer page's profile)
parse = functools.lru_cache(maxsize=64)(parse_limit)

# Limits used by the accounts and survey code; one place to read and tune them.
# Sign-in: every attempt counts against the address; only FAILED attempts count against the
# account, in two buckets: the account's own browsers (by device cookie, each on its own) and
# everybody else together. See sign_in_failure_key and docs/security.md.
SIGN_IN_FAILURES_PER_ACCOUNT = ("10/minute", "30/hour", "100/day")  # tiers: the slowdown
SIGN_IN_PER_ADDRESS = ("20/minute", "200/hour")
# the pause before answering a failure grows by a tenth of the longest with each failure on
# the account in the last minute, reaching it at the tenth (where the minute's limit stops
# further tries anyway)
SIGN_IN_PAUSE_STEPS = 10
INVITATION_LOOKUP_PER_ADDRESS = ("20/minute", "200/hour")
RESUME_LINK_LOOKUP_PER_ADDRESS = ("60/minute",)
ANSWER_SAVE_PER_RESUME_LINK = ("60/minute",)


class RateLimitedError(errors.DomainError):
    """Too many attempts; the response carries Retry-After (seconds)."""

    status_code: ClassVar[int] = 429
    title: ClassVar[str] = "Too many attempts"
    default_message: ClassVar[str] = (
        "There have been too many attempts in a short time. Wait a little and try again."
    )

    def __init__(self, message: str | None = None, *, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class RateLimitUnavailableError(errors.DomainError):
    """The shared counter store (Redis) cannot be reached: refuse rather than count nothing."""

    status_code: ClassVar[int] = 503
    title: ClassVar[str] = "Temporarily unavailable"
    default_message: ClassVar[str] = (
        "This action is temporarily unavailable. Please try again in a minute."
    )


class LocalWindowStorage(Storage, MovingWindowSupport):
    """The moving-window counters of one process, for installations without Redis.

    `limits`' MemoryStorage restarts a timer thread every 10 ms that walks every key to drop
    old hits, which showed in the answer save's profile. Here a key's old hits are dropped
    when the key is used, and keys nobody used for a whole window leave through a heap
    ordered by expiry, so each hit costs O(log keys) and nothing scans them all.
    """

    STORAGE_SCHEME = ["processlens-local"]  # noqa: RUF012 - an instance attribute in `limits`

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self._lock = threading.Lock()
        self._hits: dict[str, collections.deque[float]] = {}  # oldest first
        self._expires: dict[str, float] = {}  # when the key's newest hit leaves its window
        self._heap: list[tuple[float, str]] = []  # (expiry, key), at most one live per key

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    def _drop_expired_keys(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            _expiry, key = heapq.heappop(self._heap)
            expires = self._expires.get(key)
            if expires is None:
                continue
            if expires <= now:
                self._hits.pop(key, None)
                del self._expires[key]
            else:  # hit again since: back in the heap at its new expiry
                heapq.heappush(self._heap, (expires, key))

    def _window(self, key: str, expiry: float, now: float) -> collections.deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            return collections.deque()
        while hits and hits[0] <= now - expiry:
            hits.popleft()
        return hits

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        with self._lock:
            now = time.time()
            self._drop_expired_keys(now)
            hits = self._window(key, expiry, now)
            if len(hits) + amount > limit:
                return False
            if key not in self._hits:
                self._hits[key] = hits
                heapq.heappush(self._heap, (now + expiry, key))
            hits.extend([now] * amount)
            self._expires[key] = now + expiry
            return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        with self._lock:
            now = time.time()
            hits = self._window(key, expiry, now)
            return (hits[0], len(hits)) if hits else (now, 0)

    # the fixed-window half of Storage, unused by the moving window but abstract
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        raise NotImplementedError("LocalWindowStorage counts moving windows only")

    def get(self, key: str) -> int:
        with self._lock:
            return len(self._hits.get(key, ()))

    def get_expiry(self, key: str) -> float:
        with self._lock:
            return self._expires.get(key, time.time())

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._lock:
            count = len(self._hits)
            self._hits.clear()
            self._expires.clear()
            self._heap.clear()
            return count

    def clear(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)
            self._expires.pop(key, None)  # its heap entry, if any, is skipped when popped

    def key_count(self) -> int:
        """Keys held now (tests: idle keys leave)."""
        with self._lock:
            return len(self._hits)


@dataclasses.dataclass
class RateLimiter:
    """A counter store and the moving-window strategy over it, one per app."""

    storage: Storage
    strategy: MovingWindowRateLimiter
    secret: bytes

    @classmethod
    def create(
        cls, settings: Settings, *, storage_url: str | None = None, key_prefix: str | None = None
    ) -> RateLimiter:
        url = storage_url if storage_url is not None else settings.redis_url
        storage: Storage
        if url:
            # short socket timeouts: a dead Redis must answer 503 quickly, not hang a worker
            storage = RedisStorage(
                url,
                key_prefix=key_prefix or "processlens",
                socket_timeout=2,
                socket_connect_timeout=2,
            )
        else:
            storage = LocalWindowStorage()
        assert settings.secret_key is not None, "settings are resolved with a secret key"
        secret = settings.secret_key.get_secret_value().encode("utf-8")
        return cls(storage=storage, strategy=MovingWindowRateLimiter(storage), secret=secret)

    def _identifier(self, scope: str, key: str) -> str:
        digest = hmac.new(self.secret, f"{scope}\0{key}".encode(), hashlib.sha256)
        return f"{scope}:{digest.hexdigest()[:40]}"

    def _check(self, *, scope: str, key: str, limits: tuple[str, ...], consume: bool) -> None:
        identifier = self._identifier(scope, key)
        items: list[RateLimitItem] = [parse(limit) for limit in limits]
        try:
            for item in items:
                allowed = (
                    self.strategy.hit(item, identifier)
                    if consume
                    else self.strategy.test(item, identifier)
                )
                if not allowed:
                    stats = self.strategy.get_window_stats(item, identifier)
                    retry_after = math.ceil(stats.reset_time - time.time())
                    # the scope only: the key may be an address or an account
                    logger.warning("rate limit reached", extra={"limit_scope": scope})
                    raise RateLimitedError(retry_after=retry_after)
        except RateLimitedError:
            raise
        except Exception as error:
            logger.error(
                "rate-limit storage failed: %s", type(error).__name__, extra={"limit_scope": scope}
            )
            raise RateLimitUnavailableError() from None

    def used(self, *, scope: str, key: str, limit: str) -> int:
        """Hits counted for ``key`` in ``limit``'s current window (0 when the store fails:
        this only tunes a pause, the limits themselves are enforced by _check)."""
        item = parse(limit)
        try:
            stats = self.strategy.get_window_stats(item, self._identifier(scope, key))
        except Exception:
            return 0
        return max(0, item.amount - stats.remaining)

    def clear(self, *, scope: str, key: str, limits: tuple[str, ...]) -> None:
        identifier = self._identifier(scope, key)
        for limit in limits:
            self.strategy.clear(parse(limit), identifier)


def limiter_for(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


def hit(request: Request, *, scope: str, key: str, limit: str | tuple[str, ...]) -> None:
    """Count one attempt for ``key`` in ``scope``; raise RateLimitedError (429) past ``limit``.

    ``limit`` is a `limits` string such as "10/minute", or a tuple of them (all must hold).
    """
    limits = (limit,) if isinstance(limit, str) else limit
    limiter_for(request)._check(scope=scope, key=key, limits=limits, consume=True)


def check(request: Request, *, scope: str, key: str, limit: str | tuple[str, ...]) -> None:
    """Like ``hit`` but counts nothing: raise if ``key`` is already over ``limit``."""
    limits = (limit,) if isinstance(limit, str) else limit
    limiter_for(request)._check(scope=scope, key=key, limits=limits, consume=False)


_forwarded_ignored_logged = False


def client_address(request: Request) -> str:
    """The connecting address as the ASGI server reports it; never read from a header here.

    uvicorn replaces it with the X-Forwarded-For client only when the connection comes from
    one of PROCESSLENS_TRUSTED_PROXIES (app.cli), so a client cannot choose its own."""
    global _forwarded_ignored_logged
    address = request.client.host if request.client else "unknown"
    if not _forwarded_ignored_logged and "x-forwarded-for" in request.headers:
        settings: Settings = request.app.state.settings
        if not settings.trusted_proxies:
            # once per process: behind a proxy that is not configured, every client would
            # share the proxy's address (and its limits); say what to set
            _forwarded_ignored_logged = True
            logger.warning(
                "X-Forwarded-For from %s ignored; if that is your reverse proxy, set "
                "PROCESSLENS_TRUSTED_PROXIES to its address",
                address,
            )
    return address


def sign_in_failure_key(email: str, device: str | None) -> str:
    """Whose failures a sign-in attempt is counted with: the account's known browser
    ``device`` on its own, or, without one, every stranger trying that account together."""
    return f"{email}\0device\0{device}" if device else f"{email}\0strangers"


def check_sign_in_failures(request: Request, *, key: str) -> None:
    """Refuse (429) before the password is checked when ``key`` failed too often; counts
    nothing, so a right password never uses up the account's budget."""
    check(request, scope="sign-in-failures", key=key, limit=SIGN_IN_FAILURES_PER_ACCOUNT)


def record_sign_in_failure(request: Request, *, key: str, max_delay: float) -> float:
    """Count one failed sign-in for ``key``; the pause (seconds) to take before answering."""
    hit(request, scope="sign-in-failures", key=key, limit=SIGN_IN_FAILURES_PER_ACCOUNT)
    recent = limiter_for(request).used(
        scope="sign-in-failures", key=key, limit=SIGN_IN_FAILURES_PER_ACCOUNT[0]
    )
    return max_delay * min(recent, SIGN_IN_PAUSE_STEPS) / SIGN_IN_PAUSE_STEPS


def limit_invitation_lookup(request: Request) -> None:
    """Call before looking up an invitation token: throttles token guessing per address."""
    hit(
        request,
        scope="invitation-lookup",
        key=client_address(request),
        limit=INVITATION_LOOKUP_PER_ADDRESS,
    )


def limit_resume_lookup(request: Request) -> None:
    """Call before looking up a resume token: throttles token guessing per address."""
    hit(
        request,
        scope="resume-lookup",
        key=client_address(request),
        limit=RESUME_LINK_LOOKUP_PER_ADDRESS,
    )


def limit_answer_saving(request: Request, *, resume_key: str) -> None:
    """Call before saving answers; ``resume_key`` identifies the resume link (its hash or the
    respondent id), so many respondents behind one address are not throttled together."""
    hit(request, scope="answer-save", key=resume_key, limit=ANSWER_SAVE_PER_RESUME_LINK)


async def _rate_limited(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RateLimitedError)
    return errors.error_response(
        request,
        status_code=exc.status_code,
        title=exc.title,
        message=exc.message,
        headers={"Retry-After": str(exc.retry_after)},
    )


def install(app: FastAPI, settings: Settings) -> None:
    """Give the app its limiter and the 429 handler that adds Retry-After."""
    app.state.rate_limiter = RateLimiter.create(
        settings,
        # a fresh namespace per test app keeps tests sharing one Redis apart
        key_prefix=f"processlens-test-{uuid.uuid4().hex[:8]}"
        if settings.environment.value == "test"
        else None,
    )
    app.add_exception_handler(RateLimitedError, _rate_limited)
