"""Write one broken rubric to a folder: `python -m tests.rubric.broken CASE DIR`."""

from __future__ import annotations

import sys
from pathlib import Path

from . import BY_NAME


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in BY_NAME:
        sys.stderr.write(
            f"usage: python -m tests.rubric.broken CASE DIR\ncases: {', '.join(BY_NAME)}\n"
        )
        return 2
    target = BY_NAME[argv[0]].write(Path(argv[1]))
    sys.stdout.write(f"wrote {target}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
