"""Names in the order people expect: "Unit 2" before "Unit 10" (natural sort).

One helper for every list of names (business units, teams, organisations): text compares
without regard to case, and runs of digits compare as numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TypeVar

_DIGITS = re.compile(r"(\d+)")
T = TypeVar("T")


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key for ``text``: "Unit 2" < "Unit 10" < "unit 11" < "Unit B"."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.casefold())
        for part in _DIGITS.split(text.strip())
        if part
    )


def natural_sorted(items: Iterable[T], key: Callable[[T], str]) -> list[T]:
    """``items`` in the natural order of ``key(item)`` (ties keep their order)."""
    return sorted(items, key=lambda item: natural_key(key(item)))
