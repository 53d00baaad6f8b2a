"""Walking a local checkout for the repository check: read files only, within budgets.

The scan never runs the project's code and never follows a symbolic link (so never leaves the
tree); it skips ignored folders, binary and oversized files and anything that is not a regular
file, and it stops at its budgets (files, bytes read, seconds, folder depth). Everything it
skipped is counted in the result's notes. What the files mean is decided by the pure matchers
in app/rubric/repository_match.py.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from app.rubric.repository_match import (
    MAX_EXAMPLES,
    MAX_SHOWN_PATH,
    RepositorySignals,
    ScanSummary,
    SkipNote,
    Tally,
)
from app.rubric.repository_signals import SignalCatalog

MIB = 1024 * 1024
BINARY_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class Budgets:
    """Where a scan stops (documented in docs/repository-check.md)."""

    max_files: int = 50_000
    max_bytes: int = 200 * MIB
    max_seconds: float = 60.0
    max_file_bytes: int = 2 * MIB
    max_depth: int = 64


@dataclass
class _Skips:
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, path: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        shown = self.examples.setdefault(reason, [])
        if len(shown) < MAX_EXAMPLES:
            shown.append(path[:MAX_SHOWN_PATH])

    def notes(self) -> tuple[SkipNote, ...]:
        return tuple(
            SkipNote(reason=reason, count=count, examples=tuple(self.examples[reason]))
            for reason, count in self.counts.items()
        )


SYMLINK = "symbolic links (never followed)"
IGNORED = "ignored folders (dependencies, caches, version control)"
NOT_REGULAR = "not regular files (devices, sockets, pipes)"
BINARY = "binary files (not read)"
UNREADABLE = "files or folders that could not be read"
NOT_UTF8 = "files that are not valid UTF-8 (read with replacement characters)"
BAD_NOTEBOOK = "notebooks that are not valid JSON (searched as plain text)"


class _Scan:
    def __init__(
        self,
        root: Path,
        tally: Tally,
        budgets: Budgets,
        progress: Callable[[int], None] | None,
        clock: Callable[[], float],
    ) -> None:
        self.root = root
        self.tally = tally
        self.budgets = budgets
        self.progress = progress
        self.clock = clock
        self.started = clock()
        self.skips = _Skips()
        self.notes: list[str] = []
        self.files_seen = 0
        self.files_read = 0
        self.bytes_read = 0
        self.stopped = False
        self.reading_stopped = False

    def run(self) -> None:
        # an explicit stack: a very deep tree cannot overflow Python's recursion
        stack: list[tuple[str, str, int]] = [(str(self.root), "", 0)]
        while stack and not self.stopped and not self._over_time():
            folder, relative, depth = stack.pop()
            subfolders = self._visit(folder, relative, depth)
            stack.extend(reversed(subfolders))

    def _over_time(self) -> bool:
        if self.clock() - self.started > self.budgets.max_seconds:
            self.notes.append(
                f"stopped after {self.budgets.max_seconds:g} s (the time budget): "
                "the rest of the tree was not scanned"
            )
            self.stopped = True
        return self.stopped

    # long: one folder's entries, each sorted into skipped, descended into or counted and read
    def _visit(self, folder: str, relative: str, depth: int) -> list[tuple[str, str, int]]:
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError:
            self.skips.add(UNREADABLE, relative or ".")
            return []
        subfolders = []
        for entry in entries:
            path = f"{relative}/{entry.name}" if relative else entry.name
            try:
                if entry.is_symlink():
                    self.skips.add(SYMLINK, path)
                    continue
                if entry.is_dir(follow_symlinks=False):
                    if entry.name in self.tally.ignored_dirs:
                        self.skips.add(IGNORED, path)
                    elif depth + 1 > self.budgets.max_depth:
                        self.skips.add(
                            f"folders nested deeper than {self.budgets.max_depth} levels", path
                        )
                    else:
                        subfolders.append((entry.path, path, depth + 1))
                    continue
                if not entry.is_file(follow_symlinks=False):
                    self.skips.add(NOT_REGULAR, path)
                    continue
            except OSError:
                self.skips.add(UNREADABLE, path)
                continue
            if self.files_seen >= self.budgets.max_files:
                self.notes.append(
                    f"stopped at {self.budgets.max_files:,} files (the file budget): "
                    "the rest of the tree was not scanned"
                )
                self.stopped = True
                return []
            self.files_seen += 1
            if self.files_seen % 500 == 0:
                if self.progress is not None:
                    self.progress(self.files_seen)
                if self._over_time():
                    return []
            self.tally.add_path(path)
            if self.tally.wants_text(path):
                self._read(entry.path, path)
        return subfolders

    def _read(self, full_path: str, path: str) -> None:
        if self.reading_stopped:
            return
        try:
            # O_NOFOLLOW: a file swapped for a link after the listing is refused, not followed
            descriptor = os.open(full_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            self.skips.add(UNREADABLE, path)
            return
        try:
            status = os.fstat(descriptor)
            if not stat.S_ISREG(status.st_mode):
                self.skips.add(NOT_REGULAR, path)
                return
            limit = self.budgets.max_file_bytes
            if status.st_size > limit:
                self.skips.add(f"files over {limit // MIB} MiB (not read)", path)
                return
            if self.bytes_read + status.st_size > self.budgets.max_bytes:
                self.notes.append(
                    f"stopped reading at {self.budgets.max_bytes // MIB} MiB (the read budget): "
                    "later files were counted by name only"
                )
                self.reading_stopped = True
                return
            data = os.read(descriptor, limit + 1)[:limit]
        except OSError:
            self.skips.add(UNREADABLE, path)
            return
        finally:
            os.close(descriptor)
        self.bytes_read += len(data)
        if b"\0" in data[:BINARY_SNIFF_BYTES]:
            self.skips.add(BINARY, path)
            return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            self.skips.add(NOT_UTF8, path)
            text = data.decode("utf-8", errors="replace")
        self.files_read += 1
        if not self.tally.add_text(path, text):
            self.skips.add(BAD_NOTEBOOK, path)


def scan_repository(
    root: Path,
    signals: SignalCatalog,
    *,
    signals_sha256: str,
    budgets: Budgets | None = None,
    progress: Callable[[int], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> RepositorySignals:
    """Scan the checkout at `root` (a folder) and return what the signals catalog finds."""
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: not a folder")
    scan = _Scan(root, Tally(signals), budgets or Budgets(), progress, clock)
    scan.run()
    if progress is not None:
        progress(scan.files_seen)
    measures, readings = scan.tally.readings()
    return RepositorySignals(
        signals_version=signals.version,
        signals_sha256=signals_sha256,
        repository=root.resolve().name[:MAX_SHOWN_PATH],
        scan=ScanSummary(
            files_seen=scan.files_seen,
            files_read=scan.files_read,
            bytes_read=scan.bytes_read,
            complete=not scan.stopped and not scan.reading_stopped,
        ),
        skipped=scan.skips.notes(),
        notes=tuple(scan.notes),
        measures=measures,
        signals=readings,
    )
