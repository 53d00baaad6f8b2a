"""The scan reads files only and stays within its budgets, whatever the tree holds: links out of
it, huge sparse files, very deep folders, bytes that are not UTF-8, devices, 100,000 files."""

from __future__ import annotations

import os
import time
import tracemalloc
from pathlib import Path

import pytest

from app.config import Settings
from app.repository_check import scan
from app.repository_check.cli import signals_json
from app.repository_check.scan import Budgets, scan_repository
from app.rubric.repository_match import RepositorySignals
from tests.repository import common, shapes


def run_scan(root: Path, budgets: Budgets | None = None, **kwargs: object) -> RepositorySignals:
    signal_catalog, sha256 = common.signals()
    return scan_repository(
        root,
        signal_catalog,
        signals_sha256=sha256,
        budgets=budgets,
        **kwargs,  # type: ignore[arg-type]
    )


def skipped(readings: RepositorySignals) -> dict[str, int]:
    return {note.reason: note.count for note in readings.skipped}


def measure(readings: RepositorySignals, measure_id: str) -> float | None:
    return next(m.value for m in readings.measures if m.id == measure_id)


def test_a_link_to_etc_is_never_followed(tmp_path: Path) -> None:
    root = shapes.build("notebooks_only", tmp_path / "repo")
    os.symlink("/etc", root / "etc")
    os.symlink("/etc/hostname", root / "Dockerfile")  # a name a measure counts
    os.symlink("/etc/passwd", root / "requirements-pinned.txt")  # a file a measure reads
    readings = run_scan(root)
    assert skipped(readings)[scan.SYMLINK] == 3
    assert measure(readings, "container_files") == 0
    assert measure(readings, "pinned_requirements") == 0
    text = signals_json(readings)
    assert "passwd" not in text.replace("requirements-pinned.txt", "")
    assert not any(e.startswith("etc/") for m in readings.measures for e in m.examples)


def test_a_huge_sparse_file_is_skipped_without_reading_it(tmp_path: Path) -> None:
    root = shapes.build("tidy_package", tmp_path / "repo")
    with (root / "src" / "churn" / "huge.py").open("wb") as handle:
        handle.truncate(20 * 1024**3)  # 20 GiB, sparse: no disk used
    started = time.monotonic()
    readings = run_scan(root)
    assert time.monotonic() - started < 10
    assert skipped(readings)["files over 2 MiB (not read)"] == 1
    assert readings.scan.bytes_read < 10_000
    assert readings.scan.complete


def _deep_tree(root: Path, depth: int, name: str) -> None:
    """Folders nested `depth` deep, made relative to an open folder so that paths longer
    than the system's limit can be created."""
    descriptor = os.open(root, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=descriptor)
            inner = os.open(name, os.O_RDONLY, dir_fd=descriptor)
            os.close(descriptor)
            descriptor = inner
        fd = os.open("deep.py", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=descriptor)
        os.write(fd, b"import mlflow\n")
        os.close(fd)
    finally:
        os.close(descriptor)


def test_a_deep_tree_stops_at_the_depth_budget(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    _deep_tree(root, 100, "d")
    readings = run_scan(root)
    assert skipped(readings)["folders nested deeper than 64 levels"] == 1
    assert readings.scan.files_seen == 0


def test_a_tree_deeper_than_the_path_limit_does_not_crash(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    _deep_tree(root, 450, "folder-name")  # about 5,400 characters: past PATH_MAX
    readings = run_scan(root, Budgets(max_depth=1000))
    assert skipped(readings)[scan.UNREADABLE] >= 1
    assert readings.scan.files_seen == 0


def test_invalid_utf8_is_read_with_replacement_characters(tmp_path: Path) -> None:
    root = shapes.build("hacks_and_todos", tmp_path / "repo")
    (root / "pricing" / "latin1.py").write_bytes(
        b"import mlflow\n# caf\xe9 \xff\xfe TODO no ticket\nx = '\xc3\x28'\n"
    )
    (root / "notebooks" / "broken.ipynb").write_bytes(b'{"cells": [\xff')
    readings = run_scan(root)
    assert skipped(readings)[scan.NOT_UTF8] == 2
    assert skipped(readings)[scan.BAD_NOTEBOOK] == 1
    assert measure(readings, "registry_libraries") == 1  # the rest of the file is still read


def test_binary_files_and_pipes_are_not_read(tmp_path: Path) -> None:
    root = shapes.build("tidy_package", tmp_path / "repo")
    (root / "src" / "churn" / "compiled.py").write_bytes(b"\x00\x01import mlflow\x00" * 10)
    os.mkfifo(root / "src" / "churn" / "pipe.py")
    started = time.monotonic()
    readings = run_scan(root)
    assert time.monotonic() - started < 10  # a pipe nobody writes to does not block
    assert skipped(readings)[scan.BINARY] == 1
    assert skipped(readings)[scan.NOT_REGULAR] == 1


def test_budgets_stop_the_scan_with_a_note(tmp_path: Path) -> None:
    root = shapes.build("tidy_package", tmp_path / "repo")
    by_files = run_scan(root, Budgets(max_files=3))
    assert by_files.scan.files_seen == 3
    assert not by_files.scan.complete
    assert "stopped at 3 files (the file budget)" in by_files.notes[0]
    by_bytes = run_scan(root, Budgets(max_bytes=300))
    assert not by_bytes.scan.complete
    assert "the read budget" in by_bytes.notes[0]
    ticks = iter(range(0, 1000, 30))
    by_time = run_scan(root, Budgets(max_seconds=60), clock=lambda: float(next(ticks)))
    assert not by_time.scan.complete
    assert "the time budget" in by_time.notes[0]


def test_the_signals_file_stays_under_the_api_body_limit(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    long_name = "x" * 240
    for index in range(30):
        folder = root / f"{long_name}{index}"
        folder.mkdir(parents=True)
        (folder / "train.py").write_text("import mlflow  # TODO hack\n" * 50)
    text = signals_json(run_scan(root))
    assert len(text.encode()) < Settings().max_body_bytes / 4


@pytest.mark.slow
def test_a_hundred_thousand_files_stay_within_time_and_memory(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    for folder_index in range(200):
        folder = root / f"pkg{folder_index:03}"
        folder.mkdir(parents=True)
        for file_index in range(500):
            (folder / f"m{file_index:03}.py").write_text("import os\n")
    tracemalloc.start()
    started = time.monotonic()
    try:
        readings = run_scan(root)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 90
    assert peak < 100 * 1024 * 1024
    assert readings.scan.files_seen == 50_000
    assert not readings.scan.complete
    assert "stopped at 50,000 files (the file budget)" in readings.notes[0]
