"""Run every ProcessLens benchmark and print each figure next to its floor and target.

    python benchmarks/run.py [--quick] [--json] [--only survey,reports,dashboard,scoring]
    python benchmarks/run.py --only team_reports    # the team report's figures alone

- survey (benchmarks/survey.py): the answer page and the answer save under 32 concurrent
  respondents against a bare FastAPI floor app, on SQLite and PostgreSQL, served on 127.0.0.1
  with 2 uvicorn workers;
- reports (benchmarks/reports.py): the team PDF warm (against WeasyPrint alone on the same
  HTML), the concise report against the full one (all answers) in the same run, a 20-team
  batch, cold, and the organisation report for 200 teams; ``team_reports`` selects the team
  report's figures alone (no 200-team seed);
- dashboard (benchmarks/dashboard.py, when present): the dashboard for 1,000 teams, warm and
  its first view after seeding;
- org_report_job (benchmarks/org_report_job.py): the organisation report for 1,000 teams as
  a job on a served app (its 202, its time, the PDF) and the pages' latency during it beside
  the same load without it; it reuses the dashboard's cached seed, so it runs after it;
- scoring (benchmarks/scoring.py): full responses scored per second against parsing and
  validating them.

``--quick`` uses reduced sizes (about three minutes in all); ``--json`` prints the figures as a
JSON list of ``{"name", "value", "unit", "floor", "ratio", "target", "ok"}`` on stdout (progress
goes to stderr). Every run also writes benchmarks/results/latest.json with the machine it ran
on. Exit status: 0 when every benchmark ran (missed targets are reported, not failures; add
``--strict`` to exit 1 on a missed target), 1 when a benchmark could not run.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results"
KEYS = ("name", "value", "unit", "floor", "ratio", "target", "ok")
BENCHMARKS = ("scoring", "survey", "reports", "dashboard", "org_report_job")
# selectable with --only but not run by default: a part of a benchmark above
# (name: (module, its function taking ``quick``))
SECTIONS = {"team_reports": ("reports", "measure_team")}
SCORING_RESPONSES = {True: 2_000, False: 10_000}


def _progress(message: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def _load(name: str) -> Any | None:
    """The benchmark module, or None when it does not exist (yet)."""
    if not (ROOT / "benchmarks" / f"{name}.py").exists():
        return None
    return importlib.import_module(f"benchmarks.{name}")


def _measure(name: str, quick: bool) -> Callable[[], list[dict[str, Any]]] | None:
    if name in SECTIONS:
        module_name, function = SECTIONS[name]
        section = _load(module_name)
        if section is None:
            return None
        return lambda: list(getattr(section, function)(quick))
    module = _load(name)
    if module is None:
        return None
    if name == "scoring":
        return lambda: list(module.measure(SCORING_RESPONSES[quick]))
    return lambda: list(module.measure(quick))


def _failure(name: str, message: str) -> dict[str, Any]:
    return {
        "name": f"{name}: benchmark did not run",
        "value": None,
        "unit": "",
        "floor": None,
        "ratio": None,
        "target": message,
        "ok": False,
    }


def run(names: tuple[str, ...], quick: bool) -> tuple[list[dict[str, Any]], list[str], bool]:
    """(figures, notes, every benchmark ran)."""
    figures: list[dict[str, Any]] = []
    notes: list[str] = []
    all_ran = True
    for name in names:
        measure = _measure(name, quick)
        if measure is None:
            notes.append(f"{name}: benchmarks/{name}.py does not exist yet; not measured")
            _progress(notes[-1])
            continue
        _progress(f"{name}: measuring{' (quick)' if quick else ''}")
        started = time.perf_counter()
        try:
            measured = measure()
        except Exception as error:
            all_ran = False
            traceback.print_exc(file=sys.stderr)
            figures.append(_failure(name, f"{type(error).__name__}: {error}"))
            continue
        for figure in measured:
            extra = {key: value for key, value in figure.items() if key not in KEYS}
            if extra:
                notes.append(f"{figure['name']}: {json.dumps(extra)}")
            figures.append({key: figure.get(key) for key in KEYS})
        _progress(f"{name}: done in {time.perf_counter() - started:.0f} s")
    return figures, notes, all_ran


def _command(*args: str) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    memory_gib: float | None = None
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    postgres = "unreachable"
    try:
        from benchmarks import survey

        if survey.postgres_unavailable() is None:
            import psycopg

            with psycopg.connect(
                survey._psycopg_url(survey.postgres_admin_url()), connect_timeout=3
            ) as conn:
                row = conn.execute("SHOW server_version").fetchone()
                postgres = str(row[0]) if row else "unknown"
    except Exception as error:  # the description must never stop the run
        postgres = f"unknown ({type(error).__name__})"
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": memory_gib,
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres,
        "commit": _command("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"),
    }


def describe(figure: dict[str, Any]) -> str:
    """One line: name, value, floor, ratio, target and verdict."""
    value = "-" if figure["value"] is None else f"{figure['value']} {figure['unit']}".strip()
    parts = [f"{figure['name']}: {value}"]
    if figure["floor"] is not None:
        parts.append(f"floor {figure['floor']}")
    if figure["ratio"] is not None:
        parts.append(f"ratio {figure['ratio']}")
    parts.append(f"target {figure['target']}")
    parts.append("ok" if figure["ok"] else "MISSED")
    return " | ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="reduced sizes (~3 minutes)")
    parser.add_argument("--json", action="store_true", help="print the figures as a JSON list")
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help=f"comma-separated subset of {', '.join(BENCHMARKS + tuple(SECTIONS))}",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--output", type=Path, default=RESULTS / "latest.json", help="where to write the results"
    )
    args = parser.parse_args()
    names = tuple(name.strip() for name in args.only.split(",") if name.strip())
    unknown = [name for name in names if name not in BENCHMARKS and name not in SECTIONS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")

    before = machine()
    started = time.perf_counter()
    figures, notes, all_ran = run(names, args.quick)
    result = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": before,
        "load_average_after": [round(value, 2) for value in os.getloadavg()],
        "notes": notes,
        "figures": figures,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    _progress(f"results written to {args.output} ({result['seconds']} s)")
    if args.json:
        sys.stdout.write(json.dumps(figures, indent=2) + "\n")
    else:
        for figure in figures:
            sys.stdout.write(describe(figure) + "\n")
        for note in notes:
            sys.stdout.write(f"note: {note}\n")
    if not all_ran:
        return 1
    if args.strict and not all(figure["ok"] for figure in figures):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
