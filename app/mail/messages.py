"""A message as plain text and HTML from templates/email/, with the organisation's branding,
a clear sender and, for messages sent without being asked for, ``List-Unsubscribe``."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

import jinja2

from app.config import TEMPLATES_DIR, Settings
from app.models import Organisation

COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


@dataclass(frozen=True)
class MailBranding:
    """Who a message is from, as people read it: the brand and the organisation."""

    brand: str
    colour: str
    organisation: str | None


def branding(settings: Settings, organisation: Organisation | None) -> MailBranding:
    """The organisation's brand name and colour (from its branding page), else the
    installation's."""
    if organisation is None:
        return MailBranding(
            brand=settings.brand_name, colour=settings.brand_colour, organisation=None
        )
    colour = organisation.brand_colour
    return MailBranding(
        brand=organisation.brand_name or settings.brand_name,
        colour=colour if colour and COLOUR.fullmatch(colour) else settings.brand_colour,
        organisation=organisation.name,
    )


@functools.cache
def _environment() -> jinja2.Environment:
    # HTML parts are escaped; plain-text parts are not HTML, so they are not
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR / "email"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


def compose(
    *,
    settings: Settings,
    recipient: str,
    template: str,
    subject: str,
    context: dict[str, object],
    look: MailBranding,
    unsubscribe: str | None = None,
) -> EmailMessage:
    """``template``.txt and ``template``.html rendered with ``context`` (and ``look``) as
    one message to ``recipient``."""
    environment = _environment()
    values = {**context, "look": look, "subject": subject}
    message = EmailMessage()
    _name, sender_address = parseaddr(settings.mail_from)
    # the sender says whose message this is, with the installation's own address
    display = f"{look.brand} for {look.organisation}" if look.organisation else look.brand
    message["From"] = Address(_one_line(display), addr_spec=sender_address)
    message["To"] = recipient
    message["Subject"] = _one_line(subject)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender_address.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    if unsubscribe:
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message.set_content(environment.get_template(f"{template}.txt").render(values))
    message.add_alternative(
        environment.get_template(f"{template}.html").render(values), subtype="html"
    )
    return message
