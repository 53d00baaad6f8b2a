"""Accounts tests hash with cheap Argon2 parameters: the real ones cost ~0.2 s per hash,
which is the point in production and only slowness here (test_passwords checks the real)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.accounts import passwords
from app.config import Settings

CHEAP = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "_hasher", lambda: CHEAP)
    monkeypatch.setattr(passwords, "_dummy_hash", lambda: CHEAP.hash("dummy"))


@pytest.fixture
def settings(make_settings: Callable[..., Settings], database_url: str, tmp_path: Path) -> Settings:
    """The shared settings without the pause after a failed sign-in (test_trust measures it)."""
    return make_settings(database_url, data_dir=tmp_path / "data", sign_in_max_delay=0.0)
