"""Find runs of 12 or more words that a rubric text shares with a source document.

Used by `test_originality.py`; also runnable by rubric authors:
`python -m tests.rubric.originality [SEEDS_DIR]`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

RUN_LENGTH = 12
QUESTIONNAIRES = Path(__file__).resolve().parents[2] / "questionnaires"
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def shingles(tokens: list[str]) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + RUN_LENGTH]) for i in range(len(tokens) - RUN_LENGTH + 1)}


def rubric_texts() -> Iterator[tuple[str, str]]:
    """(file: path-in-file, text) for every string in the rubric except the bibliography's
    citations and section headings, which are quoted on purpose."""
    for path in sorted(QUESTIONNAIRES.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if data.get("kind") == "bibliography":
            continue
        yield from _strings(data, path.name)


def _strings(node: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, str):
        yield where, node
    elif isinstance(node, dict):
        for key, value in node.items():
            if key != "section":  # section headings are exact quotes by design
                yield from _strings(value, f"{where}:{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, f"{where}[{index}]")


def copied_runs(seeds_dir: Path) -> list[tuple[str, str]]:
    seed_shingles: set[tuple[str, ...]] = set()
    for seed in sorted(seeds_dir.glob("0*.txt")):
        seed_shingles |= shingles(words(seed.read_text(encoding="utf-8")))
    found = []
    for where, text in rubric_texts():
        for run in shingles(words(text)):
            if run in seed_shingles:
                found.append((where, " ".join(run)))
                break
    return found


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[3] / "shared" / "seeds"
    problems = copied_runs(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
    for where, run in problems:
        sys.stdout.write(f"{where}: copies '{run}'\n")
    sys.exit(1 if problems else 0)
