"""User accounts: create, list, change role, disable, set passwords, sign in, reset links.

Services take keyword-only arguments and only flush; the request (or the CLI) commits. The
use cases the admin pages and the CLI share (create, enable/disable, change role, issue a
reset link) record their own audit event for the ``actor`` the edge passes; without one
(seeding and test set-up) nothing is recorded.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import re
import time
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.accounts import api_tokens, audit, passwords, sessions, tenancy
from app.accounts.audit import Actor
from app.config import Settings
from app.errors import ConflictError, InvalidInputError, NotFoundError
from app.models import Membership, User, UserRole

EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
RESET_LINK_LIFETIME = timedelta(hours=24)


class EmailTakenError(ConflictError):
    default_message = "There is already an account with that e-mail address."


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_email(email: str) -> str:
    email = normalise_email(email)
    if not EMAIL_PATTERN.match(email) or len(email) > 320:
        raise InvalidInputError("Enter an e-mail address like name@example.org.")
    return email


def check_display_name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise InvalidInputError("Enter a name of 1 to 200 characters.")
    return name


def parse_role(role: str) -> UserRole:
    try:
        return UserRole(role.strip())
    except ValueError:
        raise InvalidInputError(
            "Choose a role: " + ", ".join(member.value for member in UserRole) + "."
        ) from None


def create_user(
    *,
    session: Session,
    email: str,
    display_name: str,
    role: UserRole,
    password: str | None = None,
    actor: Actor | None = None,
) -> User:
    email = check_email(email)
    if session.exec(select(User.id).where(User.email == email)).first() is not None:
        raise EmailTakenError()
    user = User(
        email=email,
        display_name=check_display_name(display_name),
        role=role,
        password_hash=passwords.hash_password(password) if password else None,
    )
    session.add(user)
    session.flush()
    if actor is not None:
        audit.record(
            session=session,
            actor=actor,
            action="user.created",
            target_type="user",
            target_id=user.id,
            details={"role": user.role},
        )
    return user


def get_user(*, session: Session, user_id: int) -> User:
    tenancy.check_id(user_id)
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError()
    return user


def find_by_email(*, session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == normalise_email(email))).first()


def list_users(*, session: Session) -> Sequence[User]:
    return session.exec(select(User).order_by(col(User.email))).all()


def count_users(*, session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(User)).one())


def set_password(*, session: Session, user: User, password: str) -> None:
    """Set a new password, end every session and revoke every API token of the user (a reset
    locks others out, whatever they hold)."""
    assert user.id is not None
    user.password_hash = passwords.hash_password(password)
    session.add(user)
    session.flush()
    sessions.end_all_for_user(session=session, user_id=user.id)
    api_tokens.revoke_all_for_user(session=session, user_id=user.id)


def set_active(*, session: Session, user: User, active: bool, actor: Actor | None = None) -> None:
    """Disable (ending every session and revoking every API token at once) or re-enable an
    account; re-enabling brings no token back."""
    assert user.id is not None
    user.is_active = active
    session.add(user)
    session.flush()
    if not active:
        sessions.end_all_for_user(session=session, user_id=user.id)
        api_tokens.revoke_all_for_user(session=session, user_id=user.id)
    if actor is not None:
        audit.record(
            session=session,
            actor=actor,
            action="user.enabled" if active else "user.disabled",
            target_type="user",
            target_id=user.id,
        )


def set_role(*, session: Session, user: User, role: UserRole, actor: Actor | None = None) -> None:
    """Change the role; memberships of the old role stop granting anything (tenancy reads
    only memberships matching the role) and are removed so none comes back by surprise.

    The change is audited (with the old and new role) even when the role stays the same, as
    the pages and the CLI always did."""
    assert user.id is not None
    old_role = user.role
    if actor is not None:
        audit.record(
            session=session,
            actor=actor,
            action="user.role_changed",
            target_type="user",
            target_id=user.id,
            details={"from": old_role, "to": role.value},
        )
    if UserRole(user.role) is role:
        return
    for membership in session.exec(select(Membership).where(Membership.user_id == user.id)):
        session.delete(membership)
    user.role = role
    session.add(user)
    session.flush()
    sessions.end_all_for_user(session=session, user_id=user.id)
    # a token was granted under the old role; the owner makes a new one if still needed
    api_tokens.revoke_all_for_user(session=session, user_id=user.id)


def authenticate(*, session: Session, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None; always costs one Argon2 check.

    An outdated hash (older parameters) is replaced by a fresh one on success.
    """
    user = find_by_email(session=session, email=email)
    usable = user is not None and user.is_active
    matches, new_hash = passwords.verify(password, user.password_hash if usable and user else None)
    if not matches or user is None:
        return None
    if new_hash is not None:
        user.password_hash = new_hash
        session.add(user)
        session.flush()
    return user


# ---------------------------------------------------------------- one-time reset links
#
# Stateless and single-use: the token signs the user id, an expiry and a fingerprint of the
# current password hash. Setting a password changes the hash, so every earlier link stops
# working at once; nothing secret is stored.


def _reset_signature(settings: Settings, user: User, expires: int) -> str:
    assert settings.secret_key is not None
    fingerprint = f"{user.id}:{expires}:{user.password_hash or ''}:{user.is_active}"
    key = settings.secret_key.get_secret_value().encode()
    digest = hmac.new(key, f"password_reset:{fingerprint}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_reset_token(*, settings: Settings, user: User, now: float | None = None) -> str:
    expires = int((time.time() if now is None else now) + RESET_LINK_LIFETIME.total_seconds())
    return f"{user.id}.{expires}.{_reset_signature(settings, user, expires)}"


def reset_url(*, settings: Settings, token: str) -> str:
    return f"{settings.base_url.rstrip('/')}/reset/{token}"


class DisabledAccountError(InvalidInputError):
    default_message = "Enable the account before sending a link."


def issue_reset_link(*, session: Session, settings: Settings, user: User, actor: Actor) -> str:
    """A one-time link to choose a password, for an active account; the issuing is audited
    (never the link)."""
    if not user.is_active:
        raise DisabledAccountError()
    link = reset_url(settings=settings, token=make_reset_token(settings=settings, user=user))
    audit.record(
        session=session,
        actor=actor,
        action="password.reset_link_issued",
        target_type="user",
        target_id=user.id,
    )
    return link


def user_for_reset_token(
    *, session: Session, settings: Settings, token: str, now: float | None = None
) -> User | None:
    """The user a valid, unused, unexpired reset token is for; None otherwise (one answer for
    every kind of invalid token)."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit() or len(token) > 200:
        return None
    if not 1 <= int(parts[0]) <= tenancy.MAX_ID:
        return None
    user = session.get(User, int(parts[0]))
    if user is None or not user.is_active:
        return None
    expires = int(parts[1])
    if expires < (time.time() if now is None else now):
        return None
    expected = _reset_signature(settings, user, expires)
    if not hmac.compare_digest(expected.encode(), parts[2].encode()):
        return None
    return user


@dataclasses.dataclass(frozen=True)
class UserRow:
    id: int
    email: str
    display_name: str
    role: str
    is_active: bool
    has_password: bool
