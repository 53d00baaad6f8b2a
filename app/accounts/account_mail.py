"""Account links by e-mail: the one-time link to choose a password (a new account's invitation,
or a reset), sent to the account's own address through the mail queue."""

from __future__ import annotations

from sqlmodel import Session

from app.accounts import audit, users
from app.accounts.audit import Actor
from app.config import Settings
from app.errors import DomainError
from app.mail import messages, outgoing
from app.models import User


class AccountMailOffError(DomainError):
    status_code = 409
    title = "E-mail is not set up"
    default_message = (
        "This installation sends no e-mail: create a one-time link instead and pass it on "
        "yourself, or ask your administrator to configure an SMTP server."
    )


def email_password_link(*, session: Session, settings: Settings, user: User, actor: Actor) -> int:
    """Queue the account's one-time password link to its address; the id of the message.
    A new account (no password yet) gets an invitation, an existing one a reset."""
    if not settings.mail_enabled:
        raise AccountMailOffError()
    link = users.issue_reset_link(session=session, settings=settings, user=user, actor=actor)
    invited = user.password_hash is None
    message = messages.compose(
        settings=settings,
        recipient=user.email,
        template="account_link",
        subject=f"Your {settings.brand_name} account"
        if invited
        else f"Choose a new {settings.brand_name} password",
        context={"name": user.display_name, "link": link, "invited": invited},
        look=messages.branding(settings, None),
    )
    # the link's signature is in the key: the same link is sent once, a new link again
    queued = outgoing.queue_message(
        session=session,
        key=f"account:{link.rsplit('/', 1)[-1]}",
        purpose="account",
        message=message,
    )
    audit.record(
        session=session,
        actor=actor,
        action="password.link_emailed",
        target_type="user",
        target_id=user.id,
    )
    return queued.id if queued is not None and queued.id is not None else 0
