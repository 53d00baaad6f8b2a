"""The organisation report for 1,000 teams as a job, and the pages' responsiveness during it.

On a copy of the dashboard benchmark's seeded SQLite database (``dashboard.seeded_database``:
1,000 teams x 4 closed rounds; 100 teams with ``--quick``, cached in the temporary folder, so
after the dashboard part it costs nothing), with an organisation leader added, this starts
ProcessLens as it is deployed (``processlens serve --workers 2``, production settings, the
embedded job consumer of the default SQLite install), signs in once through the sign-in form
and reuses the session cookie, then:

1. baseline: CLIENTS concurrent clients load the pages people use while a report is being
   made: the organisation dashboard (its cache as configured), a team's results page and
   ``/readyz``, each client cycling through the three, for 20 s (quick: 5 s) after a warm-up
   that outlasts each web worker's first, cold views;
2. the job: the same load runs while the organisation report is started as its link does
   (``GET /organisations/{id}/report.pdf``: 202 and the job's progress page, above
   PROCESSLENS_ORG_REPORT_JOB_TEAMS teams) and its progress is polled through the API's JSON
   until it has finished; measured: the 202's latency, the time to the job's first progress
   (a consumer has picked it up), the total time from the start request to "done", the pages'
   p50/p99/errors during the job, and the ``/readyz`` status values seen;
3. the PDF: downloaded from the job (kept in the database), checked to be a PDF whose text
   names every seeded team.

Targets: the request that starts the job answers at once (202 under 1 s); zero errors; each
page's p99 during the job at most P99_TARGET (2.5) times its baseline p99, the bar the survey
benchmark sets against its floor. Why that bar: the consumer runs in threads of a web process,
where the report's data, charts and HTML are made before a render worker process turns them
into a PDF, so the pages share the machine (two cores here) and one web process's interpreter
with the job and may slow down, but they must not stall; a page waiting on the job (a
database lock held by it, a render inside the request's worker) shows up as seconds at p99,
far past 2.5x. The job's total time is reported, not judged; p50 ratios are informational.
``--quick`` seeds 100 teams and lowers PROCESSLENS_ORG_REPORT_JOB_TEAMS to 50 so that the
report is still a job (the default, 200, is kept for the full run).

Run: ``python benchmarks/org_report_job.py [--quick] [--json]``; ``measure(quick)`` returns
the figures as dicts (name, value, unit, floor, ratio, target, ok) for benchmarks/run.py.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import io
import json
import re
import secrets
import sys
import tempfile
import time
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import pypdf  # noqa: E402
import uvloop  # noqa: E402
from sqlmodel import Session, col, select  # noqa: E402

from app import db  # noqa: E402
from app.accounts import users  # noqa: E402
from app.config import Settings  # noqa: E402
from app.models import AssessmentRound, Membership, ReportJob, Team, UserRole  # noqa: E402
from benchmarks import dashboard, survey  # noqa: E402

TEAMS = {True: 100, False: 1000}
ROUNDS = 4
CLIENTS = 4
# each web worker's first views of the pages (templates, rubric, connections) take seconds on
# a busy machine: the baseline's warm-up outlasts them; the job's load starts warm
WARMUP_S = {True: 4.0, False: 6.0}
JOB_WARMUP_S = 1.0
# the baseline is cheap beside the job: long enough for a p99 of a few hundred samples a page
BASELINE_S = {True: 5.0, False: 20.0}
QUICK_JOB_TEAMS = 50  # 100 teams are below the default threshold (200): still a job
POLL_S = 0.25
JOB_TIMEOUT_S = 1800.0
REQUEST_TIMEOUT_S = 30.0
START_TARGET_MS = 1000.0
P99_TARGET = 2.5
PASSWORD = "benchmark-" + secrets.token_urlsafe(12)
PAGES = ("dashboard", "team results", "/readyz")
FINISHED = ("done", "failed", "stopped")


def _progress(message: str) -> None:
    sys.stderr.write(f"[org_report_job {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


# ---------------------------------------------------------------- the database and the user


@dataclasses.dataclass(frozen=True)
class World:
    """What the clients ask for: the seeded organisation, one team's latest round, a leader."""

    organisation_id: int
    team_id: int
    round_id: int
    email: str
    team_names: frozenset[str]


def prepare(settings: Settings) -> World:
    """An organisation leader of the seeded organisation, with a password, and the ids the
    pages need."""
    engine = db.create_db_engine(settings)
    try:
        with Session(engine) as session:
            organisation_id = session.exec(select(Team.organisation_id).limit(1)).one()
            team_id, round_id = session.exec(
                select(col(Team.id), col(AssessmentRound.id))
                .join(AssessmentRound, col(AssessmentRound.team_id) == col(Team.id))
                .where(Team.organisation_id == organisation_id, AssessmentRound.status == "closed")
                .order_by(col(Team.id), col(AssessmentRound.closed_at).desc())
                .limit(1)
            ).one()
            names = session.exec(
                select(Team.name).where(Team.organisation_id == organisation_id)
            ).all()
            assert team_id is not None
            assert round_id is not None
            email = f"leader-{secrets.token_hex(4)}@example.org"
            user = users.create_user(
                session=session,
                email=email,
                display_name="Benchmark leader",
                role=UserRole.org_leader,
                password=PASSWORD,
            )
            assert user.id is not None
            session.add(
                Membership(
                    user_id=user.id, organisation_id=organisation_id, role=UserRole.org_leader
                )
            )
            world = World(organisation_id, team_id, round_id, email, frozenset(names))
            session.commit()
    finally:
        engine.dispose()
    return world


def sign_in(port: int, email: str) -> str:
    """The session cookies of a sign-in through the real form (one sign-in, reused)."""
    base = f"http://127.0.0.1:{port}"
    form = httpx.get(f"{base}/sign-in", timeout=REQUEST_TIMEOUT_S)
    token = re.search(r'name="csrf_token"\s+value="([^"]+)"', form.text)
    assert form.status_code == 200, f"sign-in form: {form.status_code}"
    assert token, "the sign-in form has no CSRF field"
    answer = httpx.post(
        f"{base}/sign-in",
        data={"email": email, "password": PASSWORD, "csrf_token": token.group(1), "next": "/"},
        headers={"Cookie": _cookies(form)},
        timeout=REQUEST_TIMEOUT_S,
    )
    assert answer.status_code == 303, f"sign-in: {answer.status_code} {answer.text[:300]}"
    return _cookies(answer)


def _cookies(response: httpx.Response) -> str:
    """The cookies a response sets, as a Cookie header (production's are Secure, which a
    client's cookie jar keeps off a plain-HTTP loopback connection)."""
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    return "; ".join(f"{name}={morsel.value}" for name, morsel in jar.items() if morsel.value)


# ---------------------------------------------------------------- the load and the job


@dataclasses.dataclass
class PageLoad:
    """The pages' latencies (ms) and errors while measured, and ``/readyz``'s statuses."""

    latencies: dict[str, list[float]] = dataclasses.field(
        default_factory=lambda: {page: [] for page in PAGES}
    )
    errors: dict[str, int] = dataclasses.field(default_factory=lambda: dict.fromkeys(PAGES, 0))
    readyz: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    first_error: str | None = None
    start: float = float("inf")  # perf_counter bounds of the measured window
    end: float = float("inf")

    def requests(self) -> int:
        return sum(len(samples) for samples in self.latencies.values())

    def percentile(self, page: str, share: float) -> float:
        """Nearest-rank percentile of one page's latencies, in milliseconds."""
        ordered = sorted(self.latencies[page])
        if not ordered:
            return float("nan")
        return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))]


def _paths(world: World) -> dict[str, str]:
    return {
        "dashboard": f"/organisations/{world.organisation_id}/dashboard",
        "team results": f"/teams/{world.team_id}/rounds/{world.round_id}/results",
        "/readyz": "/readyz",
    }


def _readiness(page: str, status: int, body: bytes, load: PageLoad) -> bool:
    """Whether the answer is right; ``/readyz``'s status value is counted."""
    if page != "/readyz":
        return status == 200
    try:
        value = json.loads(body).get("status") if status == 200 else f"HTTP {status}"
    except ValueError:
        value = "not JSON"
    load.readyz[str(value)] += 1
    return value in ("ready", "degraded")


async def _client(
    port: int, paths: dict[str, str], cookie: str, offset: int, load: PageLoad, stop: asyncio.Event
) -> None:
    """One person's browser: the next page as soon as the last one is answered."""
    connection = survey.Connection(port)
    headers = {"Accept": "text/html", "Cookie": cookie}
    turn = offset
    try:
        while not stop.is_set():
            page = PAGES[turn % len(PAGES)]
            turn += 1
            started = time.perf_counter()
            try:
                status, body = await asyncio.wait_for(
                    connection.request("GET", paths[page], headers), REQUEST_TIMEOUT_S
                )
                problem = None if status == 200 else f"{page} -> {status}: {body[:200]!r}"
            except (OSError, TimeoutError, ValueError) as error:
                await connection.close()
                status, body, problem = 0, b"", f"{page}: {type(error).__name__}: {error}"
            finished = time.perf_counter()
            if started < load.start or finished > load.end:
                continue
            ok = status != 0 and _readiness(page, status, body, load)
            load.latencies[page].append((finished - started) * 1000)
            if not ok:
                load.errors[page] += 1
                load.first_error = load.first_error or problem or f"{page}: {body[:200]!r}"
    finally:
        await connection.close()


@dataclasses.dataclass
class JobOutcome:
    job_id: int
    start_ms: float  # the request that starts the job, to its 202
    first_progress_s: float | None  # from the start request to the first poll that saw it run
    total_s: float  # from the start request to the first poll that saw it finished
    status: str
    polls: int


async def _job(port: int, world: World, cookie: str) -> JobOutcome:
    """Start the organisation report as its link does; poll its JSON progress to the end."""
    connection = survey.Connection(port)
    headers = {"Accept": "text/html", "Cookie": cookie}
    org = world.organisation_id
    try:
        started = time.perf_counter()
        status, body = await connection.request("GET", f"/organisations/{org}/report.pdf", headers)
        start_ms = (time.perf_counter() - started) * 1000
        found = re.search(rf"/organisations/{org}/report-exports/(\d+)".encode(), body)
        if status != 202 or found is None:
            raise RuntimeError(f"the report did not start a job: {status} {body[:300]!r}")
        job_id = int(found.group(1))
        polls, first_progress, state = 0, None, "queued"
        headers["Accept"] = "application/json"
        while state not in FINISHED:
            if time.perf_counter() - started > JOB_TIMEOUT_S:
                raise RuntimeError(f"job {job_id} did not finish within {JOB_TIMEOUT_S:g} s")
            await asyncio.sleep(POLL_S)
            code, answer = await connection.request(
                "GET", f"/api/organisations/{org}/report-jobs/{job_id}", headers
            )
            if code != 200:
                raise RuntimeError(f"job progress answered {code}: {answer[:300]!r}")
            polls += 1
            progress = json.loads(answer)
            state = progress["status"]
            if first_progress is None and (state != "queued" or progress["total"] > 0):
                first_progress = time.perf_counter() - started
        total = time.perf_counter() - started
    finally:
        await connection.close()
    return JobOutcome(job_id, start_ms, first_progress, total, state, polls)


async def _baseline(port: int, world: World, cookie: str, quick: bool) -> PageLoad:
    load, stop = PageLoad(), asyncio.Event()
    clients = [_client(port, _paths(world), cookie, n, load, stop) for n in range(CLIENTS)]
    tasks = [asyncio.ensure_future(client) for client in clients]
    load.start = time.perf_counter() + WARMUP_S[quick]
    await asyncio.sleep(WARMUP_S[quick] + BASELINE_S[quick])
    load.end = time.perf_counter()
    stop.set()
    await asyncio.gather(*tasks)
    return load


async def _during_job(port: int, world: World, cookie: str) -> tuple[PageLoad, JobOutcome]:
    load, stop = PageLoad(), asyncio.Event()
    clients = [_client(port, _paths(world), cookie, n, load, stop) for n in range(CLIENTS)]
    tasks = [asyncio.ensure_future(client) for client in clients]
    try:
        await asyncio.sleep(JOB_WARMUP_S)
        load.start = time.perf_counter()
        outcome = await _job(port, world, cookie)
        load.end = time.perf_counter()
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    return load, outcome


# ---------------------------------------------------------------- the PDF and the job's row


@dataclasses.dataclass(frozen=True)
class Document:
    size: int
    pages: int
    teams_named: int


def download(port: int, world: World, cookie: str, job_id: int) -> Document:
    """The job's PDF as its page's download link serves it, read back."""
    answer = httpx.get(
        f"http://127.0.0.1:{port}/organisations/{world.organisation_id}"
        f"/report-exports/{job_id}/download",
        headers={"Cookie": cookie},
        timeout=REQUEST_TIMEOUT_S,
    )
    if answer.status_code != 200 or not answer.content.startswith(b"%PDF-"):
        raise RuntimeError(f"the download answered {answer.status_code}: {answer.content[:200]!r}")
    reader = pypdf.PdfReader(io.BytesIO(answer.content))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    named = sum(1 for name in world.team_names if name in text)
    return Document(size=len(answer.content), pages=len(reader.pages), teams_named=named)


def job_times(settings: Settings, job_id: int) -> dict[str, float]:
    """The job row's own times (s): queued until a consumer claimed it, claimed until done."""
    engine = db.create_db_engine(settings)
    try:
        with Session(engine) as session:
            job = session.get(ReportJob, job_id)
            assert job is not None
            assert job.started_at
            assert job.finished_at
            return {
                "queued_s": round((job.started_at - job.created_at).total_seconds(), 2),
                "claimed_to_done_s": round((job.finished_at - job.started_at).total_seconds(), 2),
            }
    finally:
        engine.dispose()


# ---------------------------------------------------------------- measuring


@dataclasses.dataclass(frozen=True)
class Measured:
    teams: int
    baseline: PageLoad
    during: PageLoad
    job: JobOutcome
    document: Document
    job_row: dict[str, float]


def run(quick: bool) -> Measured:
    """Seed (or copy the cached seed), serve, sign in, and measure the two phases."""
    teams = TEAMS[quick]
    with (
        tempfile.TemporaryDirectory(prefix="processlens-bench-") as scratch,
        dashboard.seeded_database("sqlite", teams, Path(scratch), rounds=ROUNDS) as seeded,
    ):
        folder = Path(scratch)
        world = prepare(seeded)
        environment = survey.app_environment(seeded.database_url, folder, secrets.token_urlsafe(48))
        if quick:
            environment["PROCESSLENS_ORG_REPORT_JOB_TEAMS"] = str(QUICK_JOB_TEAMS)
        port = survey.free_port()
        command = survey.app_command(port)
        with survey.server(command, environment, port, "/readyz", folder / "app.log"):
            cookie = sign_in(port, world.email)
            _progress(f"baseline: {CLIENTS} clients for {BASELINE_S[quick]:g} s")
            baseline = uvloop.run(_baseline(port, world, cookie, quick))
            _progress(f"the organisation report for {teams} teams as a job, under the same load")
            during, job = uvloop.run(_during_job(port, world, cookie))
            if job.status != "done":  # the scratch folder goes: the log's end goes with the error
                tail = (folder / "app.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"job {job.job_id} ended {job.status}; the app's log:\n{tail}")
            _progress(f"job done in {job.total_s:.1f} s; reading its PDF")
            document = download(port, world, cookie, job.job_id)
            job_row = job_times(seeded, job.job_id)
    return Measured(teams, baseline, during, job, document, job_row)


def _page_figures(label: str, measured: Measured) -> list[dict[str, Any]]:
    """Each page's p50 (informational) and p99 (target) during the job, beside the baseline."""
    figures: list[dict[str, Any]] = []
    for page in PAGES:
        for share, title in ((0.5, "p50"), (0.99, "p99")):
            value = measured.during.percentile(page, share)
            baseline = measured.baseline.percentile(page, share)
            ratio = value / baseline if baseline else float("inf")
            judged = title == "p99"
            figures.append(
                {
                    "name": f"{page} during the job: {title} latency ({label})",
                    "value": round(value, 1),
                    "unit": "ms",
                    "floor": round(baseline, 1),
                    "ratio": round(ratio, 2),
                    "target": f"<= {P99_TARGET:g}x the baseline's (floor: the same load, no job)"
                    if judged
                    else "informational (floor: the same load, no job)",
                    "ok": ratio <= P99_TARGET if judged else True,
                }
            )
    during, before = measured.during, measured.baseline
    errors = sum(during.errors.values())
    figures.append(
        {
            "name": f"pages during the job: errors ({label})",
            "value": errors,
            "unit": f"of {during.requests()} requests",
            "floor": sum(before.errors.values()),
            "ratio": None,
            "target": "0, and 0 in the baseline (floor: the baseline's errors)",
            "ok": errors == 0
            and not any(before.errors.values())
            and all(during.latencies.values())
            and all(before.latencies.values()),
            **({"first_error": during.first_error} if during.first_error else {}),
            **({"baseline_first_error": before.first_error} if before.first_error else {}),
        }
    )
    readyz = dict(during.readyz)
    figures.append(
        {
            "name": f"/readyz during the job: 'degraded' answers ({label})",
            "value": readyz.get("degraded", 0),
            "unit": f"of {sum(readyz.values())} answers",
            "floor": dict(before.readyz).get("degraded", 0),
            "ratio": None,
            "target": "informational (seen: "
            + ", ".join(f"{status} {count}" for status, count in sorted(readyz.items()))
            + ")",
            "ok": True,
        }
    )
    return figures


def figures(measured: Measured) -> list[dict[str, Any]]:
    teams, job, document = measured.teams, measured.job, measured.document
    label = f"{teams} teams x {ROUNDS} rounds, sqlite, {CLIENTS} clients, {survey.WORKERS} workers"
    name = f"organisation report for {teams:,} teams as a job"
    first, row = job.first_progress_s, measured.job_row
    return [
        {
            "name": f"{name}: time, start to done ({label})",
            "value": round(job.total_s, 2),
            "unit": "s",
            "floor": None,
            "ratio": None,
            "target": f"reported (queued {row['queued_s']} s, "
            f"claimed to done {row['claimed_to_done_s']} s)",
            "ok": True,
            "polls": job.polls,
        },
        {
            "name": f"{name}: the request that starts it, to its 202 ({label})",
            "value": round(job.start_ms, 1),
            "unit": "ms",
            "floor": None,
            "ratio": None,
            "target": f"< {START_TARGET_MS:g} ms",
            "ok": job.start_ms < START_TARGET_MS,
        },
        {
            "name": f"{name}: time to its first progress ({label})",
            "value": None if first is None else round(first, 2),
            "unit": "s",
            "floor": None,
            "ratio": None,
            "target": f"informational (polled every {POLL_S:g} s)",
            "ok": True,
        },
        {
            "name": f"{name}: the PDF ({document.pages} pages; {label})",
            "value": round(document.size / 1024),
            "unit": "KB",
            "floor": None,
            "ratio": None,
            "target": f"a PDF naming all {teams} teams (named: {document.teams_named})",
            "ok": document.teams_named == teams,
        },
        *_page_figures(label, measured),
    ]


def measure(quick: bool = False) -> list[dict[str, Any]]:
    return figures(run(quick))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 teams instead of 1,000")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    measured = measure(args.quick)
    if args.json:
        sys.stdout.write(json.dumps(measured, indent=2) + "\n")
        return 0
    for figure in measured:
        sys.stdout.write(json.dumps(figure) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
