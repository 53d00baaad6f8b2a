"""Setting an organisation's report branding: the one use case its page, the API and
``processlens org brand`` share.

Everything is checked before anything is written (a bad logo leaves the name and colour as they
were, and the reverse), and each change records one audit event for the acting ``Actor``. The
logo is stored re-encoded in the database (app.reports.branding.prepare_logo), so every
instance serves the same one and nothing is ever fetched from a URL. Like the other services,
these functions only ``flush()``.
"""

from __future__ import annotations

import dataclasses

from sqlmodel import Session

from app.accounts import audit
from app.accounts.audit import Actor
from app.config import Settings
from app.errors import InvalidInputError
from app.models import Organisation
from app.reports.branding import (
    COLOUR,
    Branding,
    LogoError,
    contrast_with_white,
    organisation_branding,
    prepare_logo,
)

MAX_DISPLAY_NAME = 80  # organisation.brand_name
MAX_CONSULTANT = 200  # organisation.consultant_name
# WCAG AA for normal text: the cover band and headings put white text on the accent colour
MIN_CONTRAST_WITH_WHITE = 4.5


class BrandingInputError(InvalidInputError):
    title = "This branding cannot be used"


@dataclasses.dataclass(frozen=True)
class BrandingChange:
    """What a person sets. Empty text means "use the installation's"; ``logo`` is the uploaded
    file's bytes (None: keep the current logo), ``remove_logo`` drops it."""

    display_name: str = ""
    consultant: str = ""
    colour: str = ""
    logo: bytes | None = None
    remove_logo: bool = False


@dataclasses.dataclass(frozen=True)
class BrandingSettings:
    """An organisation's own branding fields (None: not set) and what its reports show."""

    organisation_id: int
    display_name: str | None
    consultant: str | None
    colour: str | None
    has_logo: bool
    effective: Branding


def current(*, organisation: Organisation, settings: Settings) -> BrandingSettings:
    assert organisation.id is not None
    return BrandingSettings(
        organisation_id=organisation.id,
        display_name=organisation.brand_name,
        consultant=organisation.consultant_name,
        colour=organisation.brand_colour,
        has_logo=organisation.logo is not None,
        effective=organisation_branding(organisation, settings),
    )


def check_colour(value: str) -> str | None:
    """``#rrggbb`` (lower-cased) or None for empty; refuses a colour white text cannot be read
    on, naming a darker one that can."""
    colour = value.strip().lower()
    if not colour:
        return None
    if not COLOUR.fullmatch(colour):
        raise BrandingInputError(
            "Give the accent colour as # and six hexadecimal digits, for example #1f5f5b."
        )
    ratio = contrast_with_white(colour)
    if ratio < MIN_CONTRAST_WITH_WHITE:
        darker = Branding(name="", colour=colour).colour_dark
        raise BrandingInputError(
            f"White text on {colour} has a contrast of {ratio:.1f}:1; reports need at least "
            f"{MIN_CONTRAST_WITH_WHITE}:1 to be readable. Choose a darker colour, for example "
            f"{darker}."
        )
    return colour


def _text(value: str, *, what: str, limit: int) -> str | None:
    text = " ".join(value.split())
    if len(text) > limit:
        raise BrandingInputError(f"The {what} is {len(text)} characters; the limit is {limit}.")
    if any(ord(ch) < 32 for ch in value if ch not in "\t\n\r"):
        raise BrandingInputError(f"The {what} contains control characters; type it again.")
    return text or None


def check_logo(data: bytes) -> bytes:
    """The uploaded logo re-encoded as PNG; a LogoError (400) says why it cannot be used."""
    return prepare_logo(data)


def update(
    *,
    session: Session,
    settings: Settings,
    organisation: Organisation,
    change: BrandingChange,
    actor: Actor,
) -> BrandingSettings:
    """Check every field, then store them all and record ``organisation.branding_changed``
    with the names of the fields that changed (never the logo's bytes). A bad field raises
    BrandingInputError or LogoError and changes nothing."""
    display_name = _text(change.display_name, what="name on reports", limit=MAX_DISPLAY_NAME)
    consultant = _text(change.consultant, what="consultant's name", limit=MAX_CONSULTANT)
    colour = check_colour(change.colour)
    logo = check_logo(change.logo) if change.logo is not None else None
    changed = [
        field
        for field, before, after in (
            ("display_name", organisation.brand_name, display_name),
            ("consultant", organisation.consultant_name, consultant),
            ("colour", organisation.brand_colour, colour),
        )
        if before != after
    ]
    organisation.brand_name = display_name
    organisation.consultant_name = consultant
    organisation.brand_colour = colour
    if logo is not None:
        organisation.logo, organisation.logo_mime_type = logo, "image/png"
        changed.append("logo")
    elif change.remove_logo and organisation.logo is not None:
        organisation.logo, organisation.logo_mime_type = None, None
        changed.append("logo removed")
    session.add(organisation)
    session.flush()
    if changed:
        audit.record(
            session=session,
            actor=actor,
            action="organisation.branding_changed",
            target_type="organisation",
            target_id=organisation.id,
            organisation_id=organisation.id,
            details={"fields": changed, "colour": colour},
        )
    return current(organisation=organisation, settings=settings)


def set_logo(
    *, session: Session, settings: Settings, organisation: Organisation, data: bytes, actor: Actor
) -> BrandingSettings:
    """Replace only the logo (the API's upload); the other fields stay as they are."""
    return update(
        session=session,
        settings=settings,
        organisation=organisation,
        change=dataclasses.replace(_unchanged(organisation), logo=data),
        actor=actor,
    )


def remove_logo(
    *, session: Session, settings: Settings, organisation: Organisation, actor: Actor
) -> BrandingSettings:
    return update(
        session=session,
        settings=settings,
        organisation=organisation,
        change=dataclasses.replace(_unchanged(organisation), remove_logo=True),
        actor=actor,
    )


def _unchanged(organisation: Organisation) -> BrandingChange:
    return BrandingChange(
        display_name=organisation.brand_name or "",
        consultant=organisation.consultant_name or "",
        colour=organisation.brand_colour or "",
    )


__all__ = [
    "BrandingChange",
    "BrandingInputError",
    "BrandingSettings",
    "LogoError",
    "check_colour",
    "current",
    "remove_logo",
    "set_logo",
    "update",
]
