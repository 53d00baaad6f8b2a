"""Bulk set-up tests: the accounts tests' two-tenant world and cheap password hashing."""

from __future__ import annotations

from tests.accounts.conftest import cheap_password_hashing, settings

__all__ = ["cheap_password_hashing", "settings"]
