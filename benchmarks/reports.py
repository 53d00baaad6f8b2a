"""Report rendering: the team PDF warm and cold, concise and full, a 20-team batch, and the
organisation PDF for 200 teams.

- team report, warm: a loaded worker, cache bypassed; the time from a stored result (plain
  data) to PDF bytes back in the caller — context, charts, Jinja, the trip to the worker and
  WeasyPrint. Its floor is WeasyPrint alone rendering the same final HTML in a warm process;
  the target is at most 1.3 times the floor (PRODUCT.md section 11). This is the concise
  report, the default.
- concise against full: the concise report's warm render against the full report's (all
  answers) measured the same way in the same run; the target is at most half.
- 20-team batch: twenty concise team reports (distinct contexts, cache bypassed) through the
  render pool's ``render_many``, as the every-team zip job makes them, with the pool's
  default number of workers.
- team report, cold: a new pool (fork server, worker start, fonts) to the first PDF.
- organisation report for 200 teams (two rounds each, seeded into a scratch SQLite database
  like ``processlens seed``): the dashboard's aggregates read from the summaries, charts and
  the PDF.

Run: `python benchmarks/reports.py [--quick] [--json] [--team-only]`. ``measure(quick)``
returns the figures as dicts (name, value, unit, floor, ratio, target, ok) for
benchmarks/run.py; ``measure_team(quick)`` only the team report's (``run.py --only
team_reports``), without the 200-team organisation seed.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402
from sqlmodel import Session, col  # noqa: E402

from app import db  # noqa: E402
from app.models import Team  # noqa: E402
from app.reports import context, org, pdf, render  # noqa: E402
from app.reports.branding import default_branding  # noqa: E402
from app.rubric.answers_file import assess_file, read_answers_file  # noqa: E402
from app.rubric.loader import Catalog, load_catalog  # noqa: E402
from app.rubric.output import to_data  # noqa: E402
from benchmarks import dashboard  # noqa: E402

TARGET_RATIO = 1.3
CONCISE_TARGET_RATIO = 0.5  # the concise report at most half the full report's time
BATCH_TEAMS = 20
ORG_TARGET_SECONDS = 10.0
ORG_TEAMS = 200
COLD_TARGET_SECONDS = 15.0


def _team_report(
    catalog: Catalog,
    data: dict[str, Any],
    notes: Any,
    *,
    full: bool = False,
    team: str = "Fraud detection",
) -> context.TeamReport:
    return context.team_report(
        data=data,
        catalog=catalog,
        team=team,
        full=full,
        organisation="Northwind Payments",
        date="2026-11-02",
        branding=default_branding(),
        commentary="Start with the Now items; we will repeat the survey next quarter.",
        notes=notes,
    )


def measure(quick: bool = False) -> list[dict[str, Any]]:
    """Every report figure: the team report's, then the organisation report for 200 teams."""
    return measure_team(quick) + measure_organisation(quick)


def _pages(document: bytes) -> int:
    import pikepdf  # a test dependency; only the page count needs it

    with pikepdf.open(io.BytesIO(document)) as parsed:
        return len(parsed.pages)


def measure_team(quick: bool = False) -> list[dict[str, Any]]:
    """The team report: warm (concise, the default) against WeasyPrint alone, concise against
    full in the same run, a 20-team batch, cold, and the context and HTML alone."""
    repeats = 2 if quick else 5
    catalog = load_catalog(ROOT / "questionnaires")
    answers = read_answers_file(ROOT / "examples" / "full-assessment.yaml", catalog)
    data = to_data(catalog, assess_file(catalog, answers))
    notes = context.shareable_notes(catalog, [r.answers for r in answers.respondents])
    figures: list[dict[str, Any]] = []

    # cold: a new pool to the first PDF
    start = time.perf_counter()
    pool = pdf.RenderPool(pdf.RenderLimits(workers=1))
    render.team_pdf(_team_report(catalog, data, notes), pool=pool)
    cold = time.perf_counter() - start

    # warm: the same (loaded) worker, cache bypassed, context and HTML rebuilt every time;
    # the full report (all answers) measured the same way, interleaved, in the same run
    warm_times, floor_times, full_times = [], [], []
    html = render.team_html(_team_report(catalog, data, notes), medium="pdf")
    pdf.html_to_pdf(html)  # warm this process for the floor
    concise_pages = full_pages = 0
    for _ in range(repeats):
        start = time.perf_counter()
        pdf.html_to_pdf(html)
        floor_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        document = render.team_pdf(_team_report(catalog, data, notes), pool=pool)
        warm_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        full_document = render.team_pdf(_team_report(catalog, data, notes, full=True), pool=pool)
        full_times.append(time.perf_counter() - start)
        concise_pages, full_pages = _pages(document), _pages(full_document)
    warm, floor = statistics.median(warm_times), statistics.median(floor_times)
    full = statistics.median(full_times)
    figures.append(
        {
            "name": f"team report PDF, warm (stored result to PDF bytes; concise, "
            f"{concise_pages} pages)",
            "value": round(warm, 3),
            "unit": "s",
            "floor": round(floor, 3),
            "ratio": round(warm / floor, 2),
            "target": f"<= {TARGET_RATIO}x WeasyPrint alone on the same HTML",
            "ok": warm / floor <= TARGET_RATIO,
        }
    )
    figures.append(
        {
            "name": f"team report PDF, warm, concise ({concise_pages} pages) against full "
            f"({full_pages} pages, all answers)",
            "value": round(warm, 3),
            "unit": "s",
            "floor": round(full, 3),
            "ratio": round(warm / full, 2),
            "target": f"<= {CONCISE_TARGET_RATIO}x the full report in the same run",
            "ok": warm / full <= CONCISE_TARGET_RATIO,
        }
    )

    # 20 teams' concise reports through the default pool, as the every-team zip job does
    batch_pool = pdf.RenderPool(pdf.RenderLimits())
    batch_pool.warm_up()
    reports = [
        _team_report(catalog, data, notes, team=f"Team {index:02d}") for index in range(BATCH_TEAMS)
    ]
    made: list[int] = []
    start = time.perf_counter()
    batch_pool.render_many(
        [functools.partial(render.team_html, report, medium="pdf") for report in reports],
        on_done=lambda index, outcome: made.append(index) if isinstance(outcome, bytes) else None,
    )
    batch_seconds = time.perf_counter() - start
    batch_pool.close()
    figures.append(
        {
            "name": f"{BATCH_TEAMS}-team batch of concise team reports "
            f"({batch_pool.limits.workers} render workers)",
            "value": round(batch_seconds, 2),
            "unit": "s",
            "floor": round(BATCH_TEAMS * warm / batch_pool.limits.workers, 2),
            "ratio": round(batch_seconds / (BATCH_TEAMS * warm / batch_pool.limits.workers), 2),
            "target": f"informational ({len(made)} of {BATCH_TEAMS} made; floor: "
            f"{BATCH_TEAMS} warm renders shared by the workers)",
            "ok": len(made) == BATCH_TEAMS,
        }
    )
    figures.append(
        {
            "name": "team report PDF, cold (new pool to first PDF)",
            "value": round(cold, 3),
            "unit": "s",
            "floor": round(floor, 3),
            "ratio": round(cold / floor, 2),
            "target": f"< {COLD_TARGET_SECONDS:g} s",
            "ok": cold < COLD_TARGET_SECONDS,
        }
    )
    start = time.perf_counter()
    for _ in range(20):
        _team_report(catalog, data, notes)
        render.team_html(_team_report(catalog, data, notes), medium="pdf")
    figures.append(
        {
            "name": "team report context + charts + HTML (no PDF)",
            "value": round((time.perf_counter() - start) / 20 * 1000, 1),
            "unit": "ms",
            "floor": None,
            "ratio": None,
            "target": "informational",
            "ok": True,
        }
    )
    pool.close()
    return figures


def measure_organisation(quick: bool = False) -> list[dict[str, Any]]:
    """The organisation report for 200 teams."""
    catalog = load_catalog(ROOT / "questionnaires")
    figures: list[dict[str, Any]] = []
    pool = pdf.RenderPool(pdf.RenderLimits(workers=1))
    pool.warm_up()

    # organisation report, 200 teams with two rounds each (seeded, summaries written with the
    # results, as in a running installation; the seed is kept for the next run)
    with (
        tempfile.TemporaryDirectory() as scratch,
        dashboard.seeded_database("sqlite", ORG_TEAMS, Path(scratch), rounds=2) as settings,
    ):
        engine = db.create_db_engine(settings)
        with Session(engine) as session:
            organisation_id: int = session.execute(
                select(col(Team.organisation_id)).limit(1)
            ).scalar_one()
            start = time.perf_counter()
            report = org.organisation_report(
                organisation="Benchmark organisation",
                session=session,
                organisation_id=organisation_id,
                catalog=catalog,
                branding=default_branding(),
            )
            session.rollback()
        engine.dispose()
    org_html = render.render_html("reports/org.html", report, medium="pdf")
    prepared = time.perf_counter() - start
    document = pool.render(org_html)
    org_seconds = time.perf_counter() - start
    start = time.perf_counter()
    pdf.html_to_pdf(org_html)
    org_floor = time.perf_counter() - start
    pool.close()
    figures.append(
        {
            "name": f"organisation report PDF, 200 teams ({len(document) // 1024} KB)",
            "value": round(org_seconds, 3),
            "unit": "s",
            "floor": round(org_floor, 3),
            "ratio": round(org_seconds / org_floor, 2),
            "target": f"< {ORG_TARGET_SECONDS:g} s (aggregation and HTML {prepared * 1000:.0f} ms)",
            "ok": org_seconds < ORG_TARGET_SECONDS,
        }
    )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--team-only", action="store_true", help="only the team report (no organisation seed)"
    )
    args = parser.parse_args()
    figures = measure_team(args.quick) if args.team_only else measure(args.quick)
    if args.json:
        sys.stdout.write(json.dumps(figures, indent=2) + "\n")
        return 0
    for f in figures:
        floor = f" (floor {f['floor']} {f['unit']}; ratio {f['ratio']}x)" if f["floor"] else ""
        verdict = "ok" if f["ok"] else "MISSED"
        sys.stdout.write(
            f"{f['name']}: {f['value']} {f['unit']}{floor}; target {f['target']}: {verdict}\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
