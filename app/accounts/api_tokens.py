"""Bearer tokens for the JSON API: shown once at creation, stored as keyed hashes, revocable.

A token carries its owner's trust: a new password, a role change or disabling the account
revokes every token of it (users.set_password / set_role / set_active), as they end its
sessions, so a token made before a compromise does not outlive the reset.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from app.accounts import audit, tenancy, tokens
from app.accounts.audit import Actor
from app.accounts.tenancy import Principal, check_id, load_principal
from app.config import Settings
from app.db import utcnow
from app.errors import InvalidInputError, NotFoundError
from app.models import ApiToken, User

# A recognisable prefix lets secret scanners (and people) spot a leaked token.
TOKEN_PREFIX = "pl_"
LAST_USED_INTERVAL = timedelta(minutes=5)


@dataclasses.dataclass(frozen=True)
class CreatedToken:
    token: str  # shown once, never stored
    row: ApiToken


def create(
    *, session: Session, settings: Settings, user: User, name: str, actor: Actor | None = None
) -> CreatedToken:
    """A new token for the user (the secret is in the result, once); audited for ``actor``
    (the name and owner, never the secret)."""
    assert user.id is not None
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInputError("Give the token a name of 1 to 200 characters, e.g. 'CI export'.")
    token = TOKEN_PREFIX + tokens.generate_token()
    row = ApiToken(
        user_id=user.id, name=name, token_hash=tokens.hash_token(settings, token, purpose="api")
    )
    session.add(row)
    session.flush()
    if actor is not None:
        audit.record(
            session=session,
            actor=actor,
            action="api_token.created",
            target_type="api_token",
            target_id=row.id,
            details={"name": row.name, "owner_id": user.id},
        )
    return CreatedToken(token=token, row=row)


def find(*, session: Session, settings: Settings, token: str) -> tuple[ApiToken, User] | None:
    """The token row and its user for a bearer token, revoked or not; writes nothing."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    token_hash = tokens.hash_token(settings, token, purpose="api")
    found = session.exec(
        select(ApiToken, User)
        .join(User, col(User.id) == col(ApiToken.user_id))
        .where(ApiToken.token_hash == token_hash)
    ).first()
    return None if found is None else (found[0], found[1])


def needs_touch(row: ApiToken) -> bool:
    """Whether authenticating with ``row`` records its use (at most every few minutes)."""
    return row.last_used_at is None or utcnow() - row.last_used_at > LAST_USED_INTERVAL


def authenticate(*, session: Session, settings: Settings, token: str) -> Principal | None:
    found = find(session=session, settings=settings, token=token)
    if found is None:
        return None
    row, user = found
    if row.revoked_at is not None or not user.is_active:
        return None
    now = utcnow()
    if needs_touch(row):
        row.last_used_at = now
        session.add(row)
        session.flush()
    return load_principal(session=session, user=user, via="api", api_token_id=row.id)


def list_for_user(*, session: Session, user_id: int) -> Sequence[ApiToken]:
    return session.exec(
        select(ApiToken).where(ApiToken.user_id == user_id).order_by(col(ApiToken.id).desc())
    ).all()


def get_for_user(*, session: Session, user_id: int, token_id: int) -> ApiToken:
    """A token of this user; another user's token id is answered like a missing one."""
    check_id(token_id)
    tenancy.require_id(token_id)
    row = session.exec(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user_id)
    ).first()
    if row is None:
        raise NotFoundError()
    return row


def revoke(
    *, session: Session, row: ApiToken, now: datetime | None = None, actor: Actor | None = None
) -> bool:
    """Revoke; False if it already was (revoking twice changes nothing and records nothing)."""
    if row.revoked_at is not None:
        return False
    row.revoked_at = now or utcnow()
    session.add(row)
    session.flush()
    if actor is not None:
        audit.record(
            session=session,
            actor=actor,
            action="api_token.revoked",
            target_type="api_token",
            target_id=row.id,
            details={"owner_id": row.user_id},
        )
    return True


def revoke_all_for_user(*, session: Session, user_id: int, now: datetime | None = None) -> int:
    """Revoke every live token of the user; the number revoked (already revoked ones keep
    their date)."""
    live = session.exec(
        select(ApiToken).where(ApiToken.user_id == user_id, col(ApiToken.revoked_at).is_(None))
    ).all()
    stamp = now or utcnow()
    for row in live:
        row.revoked_at = stamp
        session.add(row)
    session.flush()
    return len(live)


# ---------------------------------------------------------------- the token list of the pages


@dataclasses.dataclass(frozen=True)
class TokenRow:
    """One of a user's tokens as the account page and the admin's user page list it."""

    id: int
    name: str
    created_at: str
    last_used_at: str
    revoked: bool


def token_rows(session: Session, user_id: int) -> tuple[TokenRow, ...]:
    return tuple(
        TokenRow(
            id=row.id or 0,
            name=row.name,
            created_at=row.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            last_used_at=row.last_used_at.strftime("%Y-%m-%d %H:%M UTC")
            if row.last_used_at
            else "never",
            revoked=row.revoked_at is not None,
        )
        for row in list_for_user(session=session, user_id=user_id)
    )
