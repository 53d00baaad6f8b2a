"""Accounts tests hash with cheap Argon2 parameters: the real ones cost ~0.2 s per hash,
which is the point in production and only slowness here (test_passwords checks the real)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.accounts import passwords

CHEAP = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(passwords, "_hasher", lambda: CHEAP)
    monkeypatch.setattr(passwords, "_dummy_hash", lambda: CHEAP.hash("dummy"))
    return
