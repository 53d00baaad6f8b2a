"""Password hashing with Argon2id (pwdlib), with rehashing of outdated hashes at sign-in."""

from __future__ import annotations

import functools

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.errors import InvalidInputError

MIN_LENGTH = 12
# Argon2 hashes whatever it is given; a cap keeps a megabyte "password" from costing CPU
MAX_LENGTH = 1024


class WeakPasswordError(InvalidInputError):
    default_message = (
        f"Choose a password of at least {MIN_LENGTH} characters; a few unrelated words work well."
    )


@functools.cache
def _hasher() -> PasswordHash:
    return PasswordHash((Argon2Hasher(),))


@functools.cache
def _dummy_hash() -> str:
    # verified against when no account matches, so a wrong e-mail costs as long as a wrong
    # password and response times do not reveal which accounts exist
    return _hasher().hash("processlens-no-such-account")


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH or len(password) > MAX_LENGTH or not password.strip():
        raise WeakPasswordError()


def hash_password(password: str) -> str:
    check_strength(password)
    return _hasher().hash(password)


def verify(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """(matches, new hash or None). A new hash is returned when the stored one uses outdated
    parameters; the caller stores it. With no hash, a dummy is checked for equal timing."""
    if len(password) > MAX_LENGTH:
        password = password[:MAX_LENGTH]
    if password_hash is None:
        _hasher().verify(password, _dummy_hash())
        return False, None
    try:
        return _hasher().verify_and_update(password, password_hash)
    except Exception:
        # an unreadable stored hash is treated as a wrong password, never as a crash
        return False, None
