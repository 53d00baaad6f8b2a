"""How a survey's questions are grouped into pages: the one place paging is decided.

The rubric files group questions into sections of one to six questions; a page per section
gave a 21-question quick check 14 pages. Here pages follow the instruments (one dimension per
page at least) and join neighbouring sections of the same instrument until a page holds about
``MAX_QUESTIONS_PER_PAGE`` questions, so a quick check is one page per instrument and a full
survey a few pages per instrument. A section is never split unless it alone is longer than a
page. The rubric files are not changed: this is presentation only.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Final, TypeVar

MAX_QUESTIONS_PER_PAGE: Final = 10

T = TypeVar("T")


def _chunks(items: Sequence[T], size: int) -> list[tuple[T, ...]]:
    """``items`` in even runs of at most ``size`` (a long section split fairly)."""
    count = max(1, math.ceil(len(items) / size))
    step = math.ceil(len(items) / count)
    return [tuple(items[i : i + step]) for i in range(0, len(items), step)]


def _best_split(sizes: Sequence[int], parts: int) -> list[int] | None:
    """Where to cut ``sizes`` into ``parts`` contiguous runs so the largest run is smallest,
    each at most the page size (None when no cut fits). Surveys have a handful of sections,
    so trying every cut is cheap."""
    best: tuple[int, list[int]] | None = None

    def walk(start: int, left: int, cuts: list[int]) -> None:
        nonlocal best
        if left == 1:
            runs = [*cuts, len(sizes)]
            edges = [0, *runs]
            largest = max(sum(sizes[a:b]) for a, b in itertools.pairwise(edges))
            if largest <= MAX_QUESTIONS_PER_PAGE and (best is None or largest < best[0]):
                best = (largest, runs)
            return
        for cut in range(start + 1, len(sizes) - left + 2):
            walk(cut, left - 1, [*cuts, cut])

    walk(0, parts, [])
    return best[1] if best else None


def group_sections(sections: Sequence[Sequence[T]]) -> list[list[tuple[T, ...]]]:
    """One instrument's sections (each a run of questions, in order) grouped into pages: each
    page a list of the section runs it shows. As few pages as the page size allows, balanced."""
    runs: list[tuple[T, ...]] = []
    for section in sections:
        runs.extend(_chunks(section, MAX_QUESTIONS_PER_PAGE))
    runs = [run for run in runs if run]
    if not runs:
        return []
    sizes = [len(run) for run in runs]
    for parts in range(max(1, math.ceil(sum(sizes) / MAX_QUESTIONS_PER_PAGE)), len(runs) + 1):
        ends = _best_split(sizes, parts)
        if ends is not None:
            starts = [0, *ends[:-1]]
            return [runs[a:b] for a, b in zip(starts, ends, strict=True)]
    return [[run] for run in runs]
