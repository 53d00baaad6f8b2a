"""Files the app serves from disk by a stored or requested name stay in their folder.

A name comes from a database row or a request, and either may have been tampered with (an
edited backup, a crafted link): ``inside`` accepts only a plain file name, resolves it
(following links) and requires the result to lie directly in the folder. Anything else is
answered like a missing file, a 404, never with a hint of what is outside.
"""

from __future__ import annotations

from pathlib import Path

from app.errors import NotFoundError

# both separators everywhere: a backslash is a folder on Windows and never in our own names
SEPARATORS = ("/", "\\")


def is_plain_name(name: str) -> bool:
    """A file name without any folder part: no separator, not ``.`` or ``..``, not empty."""
    return (
        bool(name)
        and name not in (".", "..")
        and "\x00" not in name
        and not any(separator in name for separator in SEPARATORS)
    )


def inside(folder: Path, name: str) -> Path:
    """The resolved path of ``name`` directly in ``folder``; NotFoundError when ``name`` is
    not a plain file name or resolves (through ``..`` or a link) anywhere else."""
    if not is_plain_name(name):
        raise NotFoundError()
    root = folder.resolve()
    path = (root / name).resolve()
    if path.parent != root:
        raise NotFoundError()
    return path
