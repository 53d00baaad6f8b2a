"""Single sign-on with one OpenID Connect provider, through Authlib (no protocol of our own).

Authlib does the protocol: it reads the provider's discovery document, sends the authorisation
code request with PKCE (S256), a ``state`` and a ``nonce``, exchanges the code, checks the ID
token's signature against the provider's keys and its issuer, audience, expiry and nonce, and
refuses a callback whose ``state`` it did not issue to this browser. What it keeps between the
redirect and the callback (state, nonce, PKCE verifier) lives in a short-lived cookie signed
with the server secret (``flow_cookie``), so any worker can finish a flow another one started;
the callback clears it, and the provider's codes work once, so a replayed callback is refused.

This module decides who the person is, and nothing more (docs/security.md):

- only an e-mail the provider marks ``email_verified: true``, in an allowed domain, counts;
- a linked identity (``sso_identity``: issuer and subject) signs its account in;
- otherwise the account with that e-mail must already exist: one without a password (made by
  an administrator, never used) is linked at once, one with a password only after the person
  types that password once in the same flow (``needs_password``);
- no account is ever created and no role is ever granted here: a person without an account
  is refused; disabled accounts are refused.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import time
from collections.abc import Mapping
from typing import Any

from fastapi import Request
from sqlmodel import Session, col, select

from app.accounts import audit, sessions, tokens, users
from app.accounts.audit import Actor
from app.config import Settings
from app.errors import DomainError
from app.models import SsoIdentity, User

FLOW_LIFETIME_S = 10 * 60
SCOPE = "openid email profile"


@dataclasses.dataclass(frozen=True)
class SsoConfig:
    issuer: str
    client_id: str
    client_secret: str
    provider_name: str
    allowed_domains: tuple[str, ...]

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"


def config_of(settings: Settings) -> SsoConfig | None:
    """The single sign-on configuration, or None when the installation has none."""
    if not settings.oidc_issuer or not settings.oidc_client_id or not settings.oidc_client_secret:
        return None
    return SsoConfig(
        issuer=settings.oidc_issuer,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret.get_secret_value(),
        provider_name=settings.oidc_provider_name,
        allowed_domains=tuple(settings.oidc_allowed_domains),
    )


def redirect_uri(settings: Settings) -> str:
    """The callback registered at the provider."""
    return f"{settings.base_url.rstrip('/')}/sign-in/sso/callback"


_clients: dict[SsoConfig, Any] = {}


def client_for(config: SsoConfig) -> Any:
    """Authlib's Starlette client for the provider (one per configuration: it caches the
    discovery document and the provider's keys)."""
    from authlib.integrations.starlette_client import OAuth

    if config not in _clients:
        oauth = OAuth()
        _clients[config] = oauth.register(
            name="sso",
            client_id=config.client_id,
            client_secret=config.client_secret,
            server_metadata_url=config.discovery_url,
            client_kwargs={"scope": SCOPE, "code_challenge_method": "S256"},
        )
    return _clients[config]


# ---------------------------------------------------------------- the flow's cookie


def flow_cookie_name(settings: Settings) -> str:
    return "__Host-processlens_sso" if sessions.secure_cookies(settings) else "processlens_sso"


def _signature(settings: Settings, payload: str) -> str:
    return tokens.hash_token(settings, payload, purpose="sso")


def flow_cookie(settings: Settings, data: Mapping[str, Any]) -> str:
    """A Set-Cookie value holding ``data`` (signed, expiring with the flow)."""
    body = json.dumps({**data, "_expires": int(time.time()) + FLOW_LIFETIME_S})
    payload = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
    return sessions.cookie_header(
        settings,
        flow_cookie_name(settings),
        f"{payload}.{_signature(settings, payload)}",
        max_age=FLOW_LIFETIME_S,
    )


def clear_flow_cookie(settings: Settings) -> str:
    return sessions.cookie_header(settings, flow_cookie_name(settings), "", max_age=0)


def load_flow(request: Request, settings: Settings) -> dict[str, Any]:
    """What this browser's flow cookie holds; empty when missing, forged or expired."""
    value = request.cookies.get(flow_cookie_name(settings), "")
    payload, _, signature = value.partition(".")
    if (
        not payload
        or len(value) > 4000
        or not tokens.same(signature, _signature(settings, payload))
    ):
        return {}
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        return {}
    if not isinstance(data, dict) or int(data.pop("_expires", 0)) < time.time():
        return {}
    return data


@dataclasses.dataclass(frozen=True)
class PendingLink:
    """A verified identity waiting for its account's password (kept in the flow cookie)."""

    user_id: int
    issuer: str
    subject: str
    next: str

    def to_data(self) -> dict[str, Any]:
        return {"link": dataclasses.asdict(self)}

    @classmethod
    def from_flow(cls, flow: Mapping[str, Any]) -> PendingLink | None:
        link = flow.get("link")
        if not isinstance(link, dict):
            return None
        try:
            return cls(
                user_id=int(link["user_id"]),
                issuer=str(link["issuer"]),
                subject=str(link["subject"]),
                next=str(link["next"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


# ---------------------------------------------------------------- who is this


@dataclasses.dataclass(frozen=True)
class Identity:
    """What the provider vouched for, after Authlib checked the ID token."""

    issuer: str
    subject: str
    email: str
    email_verified: bool


class SsoRefusedError(DomainError):
    """Single sign-on did not sign this person in; ``reason`` goes to the audit log."""

    status_code = 403
    default_message = "Single sign-on could not sign you in."

    def __init__(self, message: str, *, reason: str, user: User | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.user = user


PROTOCOL_FAILED = (
    "Single sign-on did not complete (the answer from the sign-in provider could not be "
    "checked, or the sign-in was started in another window). Start again from this page."
)
UNVERIFIED = (
    "Your sign-in provider has not confirmed your e-mail address, so it cannot be matched to "
    "an account here. Ask your administrator."
)
OUTSIDE_DOMAINS = (
    "Single sign-on here is for the organisation's own e-mail addresses; yours is not one "
    "of them. Ask your administrator."
)
NO_ACCOUNT = (
    "There is no account here for your e-mail address. Accounts are created by your "
    "administrator; ask them for one, then sign in again."
)
DISABLED = "This account is disabled. Ask your administrator."
OTHER_IDENTITY = (
    "This account is already linked to another identity at your sign-in provider. "
    "Ask your administrator."
)


def identity_from(issuer: str, claims: Mapping[str, Any]) -> Identity:
    subject = claims.get("sub")
    email = claims.get("email")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise SsoRefusedError(PROTOCOL_FAILED, reason="sso_no_subject")
    return Identity(
        issuer=issuer,
        subject=subject,
        email=users.normalise_email(email) if isinstance(email, str) else "",
        # only the JSON value true counts (some providers send the string "true": not here)
        email_verified=claims.get("email_verified") is True,
    )


@dataclasses.dataclass(frozen=True)
class Resolution:
    """The account the identity signs in, and whether its password must be typed first."""

    user: User
    needs_password: bool
    new_link: bool


def _linked_user(session: Session, identity: Identity) -> User | None:
    row = session.exec(
        select(SsoIdentity).where(
            SsoIdentity.issuer == identity.issuer, SsoIdentity.subject == identity.subject
        )
    ).first()
    return None if row is None else session.get(User, row.user_id)


def resolve(*, session: Session, config: SsoConfig, identity: Identity) -> Resolution:
    """The account this verified identity may sign in to; raises SsoRefusedError otherwise."""
    if not identity.email or not identity.email_verified:
        raise SsoRefusedError(UNVERIFIED, reason="sso_email_not_verified")
    domain = identity.email.rpartition("@")[2]
    if config.allowed_domains and domain not in config.allowed_domains:
        raise SsoRefusedError(OUTSIDE_DOMAINS, reason="sso_domain_not_allowed")
    linked = _linked_user(session, identity)
    user = linked or users.find_by_email(session=session, email=identity.email)
    if user is None:
        raise SsoRefusedError(NO_ACCOUNT, reason="sso_no_account")
    if not user.is_active:
        raise SsoRefusedError(DISABLED, reason="sso_account_disabled", user=user)
    if linked is not None:
        return Resolution(user=user, needs_password=False, new_link=False)
    other = session.exec(
        select(SsoIdentity.id).where(
            SsoIdentity.user_id == user.id, SsoIdentity.issuer == identity.issuer
        )
    ).first()
    if other is not None:
        raise SsoRefusedError(OTHER_IDENTITY, reason="sso_other_identity", user=user)
    return Resolution(user=user, needs_password=user.password_hash is not None, new_link=True)


def link(*, session: Session, user: User, issuer: str, subject: str) -> None:
    """Store that this provider identity signs ``user`` in from now on."""
    assert user.id is not None
    session.add(SsoIdentity(user_id=user.id, issuer=issuer, subject=subject))
    session.flush()


@dataclasses.dataclass(frozen=True)
class LinkState:
    """Whether an account signs in through the provider, as its own page and the
    administrator's show it."""

    linked: bool
    summary: str  # one line for people


def link_state(*, session: Session, settings: Settings, user_id: int) -> LinkState | None:
    """The account's single sign-on link; None when the installation has no single sign-on
    and the account no link (nothing to say)."""
    linked_at = session.exec(
        select(SsoIdentity.linked_at)
        .where(SsoIdentity.user_id == user_id)
        .order_by(col(SsoIdentity.linked_at))
    ).first()
    config = config_of(settings)
    if config is None:
        if linked_at is None:
            return None
        return LinkState(True, f"Linked since {linked_at:%Y-%m-%d}; single sign-on is off here now")
    if linked_at is None:
        return LinkState(
            False, f"Not linked: the first sign-in with {config.provider_name} links it"
        )
    return LinkState(True, f"Linked to {config.provider_name} since {linked_at:%Y-%m-%d}")


def unlink(*, session: Session, user: User, actor: Actor) -> int:
    """Forget the account's provider identities (the next single sign-on links again, after
    the password if the account has one) and end its sessions; audited. How many went."""
    assert user.id is not None
    rows = session.exec(select(SsoIdentity).where(SsoIdentity.user_id == user.id)).all()
    for row in rows:
        session.delete(row)
    session.flush()
    sessions.end_all_for_user(session=session, user_id=user.id)
    audit.record(
        session=session,
        actor=actor,
        action="sso.unlinked",
        target_type="user",
        target_id=user.id,
        details={"identities": len(rows)},
    )
    return len(rows)
