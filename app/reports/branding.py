"""Report branding: name, accent colour and logo per organisation, with the installation default.

Logos are only PNG or JPEG, size-limited, and re-encoded with Pillow before use, so what
reaches a PDF is a plain raster image we wrote ourselves (never SVG, never a URL).
"""

from __future__ import annotations

import base64
import io
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from app.config import Settings
from app.errors import InvalidInputError
from app.models import Organisation
from app.rubric import safe_yaml

MAX_LOGO_BYTES = 512 * 1024
MAX_BRANDING_FILE_BYTES = 1024 * 1024  # four short fields; the cap only stops abuse
MAX_LOGO_SIDE = 2000  # pixels a side (a 100,000 x 1 strip is small in bytes but no logo)
LOGO_BOX = (800, 300)  # re-encoded logos fit in this box; they print at most ~60 x 22 mm
COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
DEFAULT_NAME = "ProcessLens"
DEFAULT_COLOUR = "#1f5f5b"


class LogoError(InvalidInputError):
    title = "This logo cannot be used"
    default_message = "Upload the logo as a PNG or JPEG file of at most 512 KB."


class BrandingError(safe_yaml.BadInputError):
    """A branding file for the offline report that cannot be used, as one line."""


@dataclass(frozen=True, slots=True)
class Branding:
    """What a report shows about who made it."""

    name: str  # the consultancy or installation shown on the cover and in the footer
    colour: str  # accent, #rrggbb
    logo: bytes | None = None  # re-encoded PNG (prepare_logo), or None
    consultant: str | None = None  # the consultant's name, if given

    @property
    def logo_data_uri(self) -> str | None:
        if self.logo is None:
            return None
        return "data:image/png;base64," + base64.b64encode(self.logo).decode("ascii")

    @property
    def colour_dark(self) -> str:
        """The accent darkened until white text on it has a contrast ratio of at least 4.5."""
        r, g, b = (int(self.colour[i : i + 2], 16) for i in (1, 3, 5))
        for _ in range(20):
            if _contrast_with_white(r, g, b) >= 4.5:
                break
            r, g, b = (int(v * 0.88) for v in (r, g, b))
        return f"#{r:02x}{g:02x}{b:02x}"

    @property
    def colour_tint(self) -> str:
        """A pale tint of the accent for backgrounds."""
        r, g, b = (int(self.colour[i : i + 2], 16) for i in (1, 3, 5))
        r, g, b = (round(v + (255 - v) * 0.9) for v in (r, g, b))
        return f"#{r:02x}{g:02x}{b:02x}"


def contrast_with_white(colour: str) -> float:
    """The WCAG contrast ratio of white text on ``colour`` (#rrggbb): 1 to 21."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return _contrast_with_white(r, g, b)


def _contrast_with_white(r: int, g: int, b: int) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    return 1.05 / (luminance + 0.05)


def prepare_logo(data: bytes) -> bytes:
    """Check an uploaded logo and re-encode it as a plain PNG; refuse anything else.

    Accepts PNG and JPEG only (by content, not by name), up to MAX_LOGO_BYTES and
    MAX_LOGO_SIDE pixels a side; metadata, colour profiles and animation frames are dropped.
    """
    if not data:
        raise LogoError("The logo file is empty. Upload a PNG or JPEG file.")
    if len(data) > MAX_LOGO_BYTES:
        raise LogoError(
            f"The logo is {len(data) // 1024} KB; the limit is {MAX_LOGO_BYTES // 1024} KB. "
            "Upload a smaller PNG or JPEG file."
        )
    head = data[:512].lstrip().lower()
    if head.startswith((b"<svg", b"<?xml", b"<!doctype")) or b"<svg" in head:
        raise LogoError("SVG logos are not accepted. Upload the logo as a PNG or JPEG file.")
    try:
        with warnings.catch_warnings():
            # a decompression bomb must be an error here, not a warning
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in ("PNG", "JPEG"):
                    raise LogoError(
                        f"{image.format or 'This'} images are not accepted. "
                        "Upload the logo as a PNG or JPEG file."
                    )
                width, height = image.size
                if max(width, height) > MAX_LOGO_SIDE or width < 1 or height < 1:
                    raise LogoError(
                        f"The logo is {width} x {height} pixels; the limit is "
                        f"{MAX_LOGO_SIDE} x {MAX_LOGO_SIDE}. "
                        "Upload a smaller image."
                    )
                image.load()
                converted = image.convert("RGBA")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombWarning, ValueError):
        raise LogoError(
            "The file is not a readable PNG or JPEG image. Upload the logo as a PNG or JPEG file."
        ) from None
    converted.thumbnail(LOGO_BOX)
    output = io.BytesIO()
    converted.save(output, format="PNG", optimize=True)
    return output.getvalue()


def default_branding(settings: Settings | None = None) -> Branding:
    """The installation's branding (PROCESSLENS_BRAND_NAME / _COLOUR)."""
    if settings is None:
        return Branding(name=DEFAULT_NAME, colour=DEFAULT_COLOUR)
    return Branding(name=settings.brand_name, colour=settings.brand_colour)


def organisation_branding(organisation: Organisation, settings: Settings) -> Branding:
    """An organisation's branding (set on its branding page, in the API or with
    ``processlens org brand``), falling back to the installation's for what it leaves out.

    A stored logo is re-checked and re-encoded: what was stored by an older version (or by
    hand) cannot reach a PDF unchecked.
    """
    base = default_branding(settings)
    colour = organisation.brand_colour
    logo = None
    if organisation.logo:
        try:
            logo = prepare_logo(organisation.logo)
        except LogoError:
            logo = None
    return Branding(
        name=organisation.brand_name or base.name,
        colour=colour if colour and COLOUR.fullmatch(colour) else base.colour,
        logo=logo,
        consultant=organisation.consultant_name or None,
    )


def _text_field(raw: Mapping[Any, Any], key: str, path: Path) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BrandingError(f"{path}: {key} must be text, not {safe_yaml.shorten(value)}")
    return str(value)


def load_branding_file(path: Path, *, base: Branding | None = None) -> Branding:
    """Branding for the offline CLI from a YAML file: name, colour, logo (a PNG/JPEG path,
    relative to the file), consultant. Raises a BadInputError (one line) for anything wrong.

    Read through safe_yaml (size cap, no aliases, limited nesting); the logo must be a regular
    file within MAX_LOGO_BYTES, so /dev/zero or a FIFO is refused instead of read for ever.
    """
    base = base or default_branding()
    text = safe_yaml.read_text(path, max_bytes=MAX_BRANDING_FILE_BYTES)
    raw: Any = safe_yaml.load_yaml(text, source=str(path), max_chars=MAX_BRANDING_FILE_BYTES)
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise BrandingError(f"{path}: expected a mapping with name, colour, logo, consultant")
    unknown = set(raw) - {"name", "colour", "color", "logo", "consultant"}
    if unknown:
        shown = ", ".join(sorted(safe_yaml.shorten(key) for key in unknown)[:10])
        raise BrandingError(f"{path}: unknown key(s) [{shown}]")
    name = (_text_field(raw, "name", path) or base.name)[:80]
    colour = _text_field(raw, "colour", path) or _text_field(raw, "color", path) or base.colour
    if not COLOUR.fullmatch(colour):
        raise BrandingError(
            f"{path}: colour must look like #1f5f5b, not {safe_yaml.shorten(colour)}"
        )
    logo = None
    logo_name = _text_field(raw, "logo", path)
    if logo_name:
        logo_path = (path.parent / logo_name).resolve()
        try:
            logo = prepare_logo(safe_yaml.read_bytes(logo_path, max_bytes=MAX_LOGO_BYTES))
        except safe_yaml.InputFileError as error:
            raise BrandingError(f"{path}: logo {error}") from None
        except LogoError as error:
            raise BrandingError(f"{path}: logo: {error.message}") from None
    consultant = _text_field(raw, "consultant", path)
    return Branding(
        name=name,
        colour=colour,
        logo=logo,
        consultant=consultant[:200] if consultant else base.consultant,
    )
