"""`processlens repo-check PATH [-o signals.json]`: scan a local checkout, offline.

Progress and a summary go to the terminal (standard error); the signals file goes to `-o` or to
standard output. Nothing here needs a server or a database.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from app.config import QUESTIONNAIRES_DIR
from app.repository_check.scan import Budgets, scan_repository
from app.rubric import loader, repository_signals
from app.rubric.repository_match import RepositorySignals

EXIT_INVALID = 2


def signals_json(result: RepositorySignals) -> str:
    """The signals file's text: sorted keys and indented, so a golden file diffs cleanly."""
    return json.dumps(result.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


def repo_check(
    path: Annotated[Path, typer.Argument(help="The checkout to scan (a folder).")],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Write the signals file here (default: stdout)."),
    ] = None,
    max_files: Annotated[int, typer.Option(help="Stop after this many files.", min=1)] = (
        Budgets.max_files
    ),
    max_megabytes: Annotated[int, typer.Option(help="Stop reading after this many MiB.", min=1)] = (
        Budgets.max_bytes // (1024 * 1024)
    ),
    max_seconds: Annotated[float, typer.Option(help="Stop after this many seconds.", min=1)] = (
        Budgets.max_seconds
    ),
    rubric_path: Annotated[
        Path | None, typer.Option("--rubric", help="Rubric folder (default: built-in).")
    ] = None,
) -> None:
    """Scan a checkout for repository signals (CI, tests, code checks, notebooks, environments,
    registry, data validation, shared feature code, monitoring, shortcuts). Reads files only:
    never runs the project's code and never follows a symbolic link."""
    console = Console(stderr=True)
    if not path.is_dir():
        console.print(f"error: {path}: not a folder", markup=False)
        raise typer.Exit(EXIT_INVALID)
    folder = rubric_path or QUESTIONNAIRES_DIR
    catalog = loader.load_catalog(folder)
    signals, sha256 = repository_signals.load_signal_catalog(folder, catalog)
    budgets = Budgets(
        max_files=max_files,
        max_bytes=max_megabytes * 1024 * 1024,
        max_seconds=max_seconds,
    )
    with Progress(
        SpinnerColumn(),
        TextColumn("Scanning {task.fields[name]}: {task.completed:,} files"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("scan", total=None, name=path.name or str(path))
        result = scan_repository(
            path,
            signals,
            signals_sha256=sha256,
            budgets=budgets,
            progress=lambda seen: progress.update(task, completed=seen),
        )
    text = signals_json(result)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
    found = [s for s in result.signals if s.state == "found"]
    console.print(
        f"{result.scan.files_seen:,} files seen, {result.scan.files_read:,} read; "
        f"{len(found)} of {len(result.signals)} signals found"
        + (f"; written to {output}" if output else ""),
        markup=False,
    )
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
    for skip in result.skipped:
        console.print(f"skipped {skip.count:,} {skip.reason}", markup=False)
