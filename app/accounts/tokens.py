"""Secret tokens: generated with 256 bits of randomness, stored only as keyed hashes.

A hash is bound to its purpose, so a token issued as an invitation cannot be replayed as a
resume link or a session, even if someone obtains the stored hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Literal

from app.config import Settings

Purpose = Literal[
    "session", "invitation", "resume", "api", "password_reset", "csrf", "device", "sso"
]
TOKEN_BYTES = 32  # 256 bits; the checklist asks for at least 128


def generate_token() -> str:
    """A new URL-safe token (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(settings: Settings, token: str, *, purpose: Purpose) -> str:
    """The keyed hash stored in the database for `token` used as `purpose` (hex, 64 chars)."""
    assert settings.secret_key is not None, "settings are resolved with a secret key"
    key = settings.secret_key.get_secret_value().encode("utf-8")
    message = f"{purpose}:{token}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def lead_token(settings: Settings, *, round_id: int, user_id: int | None) -> str:
    """The personal link token of the lead's own response, derived from the server secret.

    The workspace can then always take the lead back to their answers without storing the
    link: like every resume link, only its keyed hash is in the database. A solo round has
    one response for the team (``user_id`` None), whoever of the team's leads answers it.
    """
    assert settings.secret_key is not None
    key = settings.secret_key.get_secret_value().encode("utf-8")
    who = "team" if user_id is None else f"user-{user_id}"
    message = f"workspace-lead-response:{round_id}:{who}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
