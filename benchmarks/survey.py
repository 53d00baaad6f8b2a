"""Survey answer page and save under concurrent respondents, against a floor app in the same run.

For each database (SQLite, PostgreSQL) this seeds an open team survey with one resume link per
simulated respondent, starts ProcessLens as it is deployed (``processlens serve --workers 2``,
production settings, JSON access log to a file) and then the floor app (benchmarks/floor_app.py:
bare FastAPI, same server stack, same database and durability settings), and drives each with
the same load: CONNECTIONS keep-alive connections on 127.0.0.1, each sending its next request as
soon as the last one is answered, for a fixed time after a warm-up.

- page: ``GET /r/{token}/questions?page=N`` (the answer page of a full assessment) against the
  floor's one-lookup, same-size template page.
- save: ``POST /r/{token}/questions?page=N``, the page's form as survey.js autosaves it (every
  answer of the page changed, the version it was rendered from, ``Accept: application/json``);
  the version in each answer is used for the next save, so a 409 is an error. The floor parses
  the form and inserts one row with SQLAlchemy Core.

Rate limits are left as configured (60 saves a minute per resume link); each connection cycles
through its own RESPONDENTS_PER_CONNECTION respondents, so no link gets near its limit and a
429 would count as an error. Each connection owns its respondents: no two requests for one
respondent are ever in flight together, as with a person filling in a form.

Targets (PRODUCT.md section 11, issue 11): throughput >= 50 % of the floor's, p99 <= 2.5x the
floor's, zero errors. ``measure(quick)`` returns the figures; run alone with
``python benchmarks/survey.py [--quick] [--json] [--backend sqlite|postgres]``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httptools  # noqa: E402
import psycopg  # noqa: E402
import uvloop  # noqa: E402
from sqlalchemy import make_url  # noqa: E402

from app import catalog_store, db, migrate  # noqa: E402
from app.accounts.tokens import hash_token  # noqa: E402
from app.config import Settings, load_settings  # noqa: E402
from app.models import AssessmentRound, BusinessUnit, Organisation, Team  # noqa: E402
from app.results.service import round_settings  # noqa: E402
from app.rubric.schema import Role  # noqa: E402
from app.surveys import invitations, service  # noqa: E402
from benchmarks import dashboard, floor_app  # noqa: E402

WORKERS = 2
CONNECTIONS = 32
# enough that a link stays well under 60 saves a minute at 500+ saves a second through both
# save phases (with 24 the faster saves of December 2026 met the limit: 429s)
RESPONDENTS_PER_CONNECTION = 48
REQUEST_TIMEOUT_S = 30.0
# the connections open this far apart, as respondents' browsers do, not in one burst: the
# server's workers share one listening socket, and a burst of 32 connections at an idle server
# can all be taken by one worker (seen in about one phase in five, on the floor too), leaving
# the other idle for the whole phase; the answer page then measured at 0.32-0.41 of the floor,
# 0.82-0.96 otherwise (docs/performance.md)
CONNECT_EVERY_S = 0.01
START_TIMEOUT_S = 90.0
THROUGHPUT_TARGET = 0.5  # at least half the floor's requests per second
P99_TARGET = 2.5  # p99 at most 2.5 times the floor's
ROLES: tuple[Role, ...] = (
    "data_scientist",
    "ml_engineer",
    "software_engineer",
    "product_manager",
    "team_lead",
)
DEFAULT_POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


# ---------------------------------------------------------------- a lean HTTP/1.1 client


class _Parsed:
    """httptools callbacks for one response at a time."""

    def __init__(self) -> None:
        self.body: list[bytes] = []
        self.done = False
        self.close = False

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"connection" and value.lower() == b"close":
            self.close = True

    def on_message_complete(self) -> None:
        self.done = True


class Connection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1.

    Hand-made rather than httpx: the client shares the two cores with the servers, and an
    httpx request costs several times the CPU of this one, which would flatter the slower of
    the two servers (the client's share of the machine is larger next to the faster floor).
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        if body or method in ("POST", "PUT"):
            head.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        parsed = _Parsed()
        parser = httptools.HttpResponseParser(parsed)
        while not parsed.done:
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError("the server closed the connection")
            parser.feed_data(data)
        if parsed.close:
            await self.close()
        return parser.get_status_code(), b"".join(parsed.body)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None


# ---------------------------------------------------------------- what the respondents send


@dataclasses.dataclass
class Respondent:
    """One simulated respondent: their link, and the version their next save starts from."""

    token: str
    csrf: str
    pages: list[list[Any]]  # the AskedQuestion items of each page, in order
    version: int = 1
    visits: int = 0


@dataclasses.dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    check: Callable[[int, bytes], bool]


def _value(question: Any, turn: int) -> list[str]:
    """An answer for ``question`` that changes every turn (so every save really writes)."""
    kind = question.type
    if kind in ("ordinal", "single", "multi"):
        options = [option.id for option in question.options]
        return [options[turn % len(options)]]
    if kind == "number":
        low = question.minimum if question.minimum is not None else 0
        return [f"{low + turn % 5:g}"]
    return [f"Benchmark answer {turn}"]


def page_request(respondent: Respondent, *, prefix: str) -> Request:
    number = respondent.visits % len(respondent.pages) + 1
    respondent.visits += 1
    return Request(
        method="GET",
        path=f"{prefix}/{respondent.token}/questions?page={number}",
        headers={"Accept": "text/html"},
        body=b"",
        check=lambda status, _body: status == 200,
    )


def save_request(respondent: Respondent, *, prefix: str) -> Request:
    index = respondent.visits % len(respondent.pages)
    turn = respondent.visits // len(respondent.pages)
    respondent.visits += 1
    fields = [("csrf_token", respondent.csrf), ("version", str(respondent.version))]
    for item in respondent.pages[index]:
        fields += [(f"a.{item.qid}", value) for value in _value(item.question, turn)]
    fields.append(("action", "save"))

    def check(status: int, body: bytes) -> bool:
        if status != 200:
            return False
        answer = json.loads(body)
        if "version" not in answer or answer.get("saved") is not True:
            return False
        respondent.version = int(answer["version"])
        return True

    return Request(
        method="POST",
        path=f"{prefix}/{respondent.token}/questions?page={index + 1}",
        headers={
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        body=urlencode(fields).encode(),
        check=check,
    )


# ---------------------------------------------------------------- the load loop


@dataclasses.dataclass
class PhaseResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    first_error: str | None
    # the load's connections per server process after the warm-up, most first (ss): two
    # levels of the SQLite answer page came from how the kernel handed them out
    connections_per_process: list[int] = dataclasses.field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float:
        """Nearest-rank percentile of the measured latencies, in milliseconds."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        rank = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
        return ordered[rank]


async def _drive(
    port: int,
    groups: list[list[Respondent]],
    make: Callable[[Respondent], Request],
    *,
    warmup_s: float,
    measure_s: float,
) -> PhaseResult:
    # perf_counter, not loop.time(): uvloop's clock ticks in whole milliseconds
    clock = time.perf_counter
    start = clock()
    measure_from = start + warmup_s
    stop_at = measure_from + measure_s
    latencies: list[float] = []
    counts = {"requests": 0, "errors": 0}
    first_error: list[str] = []

    async def worker(position: int, group: list[Respondent]) -> None:
        await asyncio.sleep(position * CONNECT_EVERY_S)
        connection = Connection(port)
        turn = 0
        try:
            while (now := clock()) < stop_at:
                respondent = group[turn % len(group)]
                turn += 1
                request = make(respondent)
                started = clock()
                try:
                    status, body = await asyncio.wait_for(
                        connection.request(
                            request.method, request.path, request.headers, request.body
                        ),
                        REQUEST_TIMEOUT_S,
                    )
                    ok = request.check(status, body)
                    problem = None if ok else f"{request.method} -> {status}: {body[:300]!r}"
                except (OSError, TimeoutError, ValueError) as error:
                    await connection.close()
                    ok, problem = False, f"{request.method}: {type(error).__name__}: {error}"
                finished = clock()
                if now >= measure_from and finished <= stop_at:
                    counts["requests"] += 1
                    latencies.append((finished - started) * 1000)
                    if not ok:
                        counts["errors"] += 1
                if problem and not first_error:
                    first_error.append(problem)
        finally:
            await connection.close()

    async def count_connections() -> list[int]:
        await asyncio.sleep(max(0.0, measure_from - clock()))
        return await connections_per_process(port)

    split, _ = await asyncio.gather(
        count_connections(),
        asyncio.gather(*(worker(position, group) for position, group in enumerate(groups))),
    )
    return PhaseResult(
        requests=counts["requests"],
        errors=counts["errors"],
        seconds=measure_s,
        latencies_ms=latencies,
        first_error=first_error[0] if first_error else None,
        connections_per_process=split,
    )


async def connections_per_process(port: int) -> list[int]:
    """The established connections to ``port`` per server process, most first (``ss``)."""
    listing = await asyncio.create_subprocess_exec(
        "ss",
        "-Htnp",
        "state",
        "established",
        f"( sport = :{port} )",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    output, _ = await listing.communicate()
    per_process = collections.Counter(re.findall(r"pid=(\d+)", output.decode()))
    return sorted(per_process.values(), reverse=True)


def drive(
    port: int,
    groups: list[list[Respondent]],
    make: Callable[[Respondent], Request],
    *,
    warmup_s: float,
    measure_s: float,
) -> PhaseResult:
    """Run the load for ``warmup_s`` + ``measure_s`` seconds; only the second part counts."""
    return uvloop.run(_drive(port, groups, make, warmup_s=warmup_s, measure_s=measure_s))


# ---------------------------------------------------------------- databases and servers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _psycopg_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def postgres_admin_url() -> str:
    return os.environ.get(
        "PROCESSLENS_BENCH_POSTGRES_URL",
        os.environ.get("PROCESSLENS_TEST_POSTGRES_URL", DEFAULT_POSTGRES_ADMIN_URL),
    )


def postgres_unavailable() -> str | None:
    """Why PostgreSQL cannot be used (None when it can)."""
    try:
        with psycopg.connect(_psycopg_url(postgres_admin_url()), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        return str(error).strip().splitlines()[0]
    return None


@contextlib.contextmanager
def scratch_database(backend: str, folder: Path) -> Iterator[str]:
    """An empty database of its own (a file, or a new PostgreSQL database dropped after)."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    admin = postgres_admin_url()
    name = f"processlens_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_psycopg_url(admin), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_psycopg_url(admin), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def seed_survey(settings: Settings, count: int) -> list[Respondent]:
    """An open full team survey of the four instruments with ``count`` started respondents."""
    engine = db.create_db_engine(settings)
    catalog = catalog_store.load_configured_catalog(settings)
    respondents: list[Respondent] = []
    try:
        with db.session_factory(engine)() as session:
            versions = catalog_store.register_catalog(session=session, catalog=catalog)
            organisation = Organisation(name="Benchmark", slug=f"bench-{uuid.uuid4().hex[:8]}")
            session.add(organisation)
            session.flush()
            assert organisation.id is not None
            unit = BusinessUnit(organisation_id=organisation.id, name="Benchmarks")
            session.add(unit)
            session.flush()
            team = Team(organisation_id=organisation.id, business_unit_id=unit.id, name="Load")
            session.add(team)
            session.flush()
            assert team.id is not None
            assessment_round = AssessmentRound(
                team_id=team.id,
                stage="productionising",
                mode="team_survey",
                kind="full",
                status="open",
                instruments=list(catalog.instruments),
                rubric_versions=versions,
            )
            session.add(assessment_round)
            session.flush()
            for index in range(count):
                role = ROLES[index % len(ROLES)]
                started = invitations.start_respondent(
                    session=session, settings=settings, assessment_round=assessment_round, role=role
                )
                plan = service.survey_plan(catalog, round_settings(assessment_round), role)
                respondents.append(
                    Respondent(
                        token=started.resume_token,
                        csrf=hash_token(settings, started.resume_token, purpose="csrf"),
                        pages=[list(page.questions) for page in plan.pages],
                    )
                )
            session.commit()
    finally:
        engine.dispose()
    return respondents


def _clean_environment() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PROCESSLENS_", "FLOOR_"))
        and name not in ("DATABASE_URL", "REDIS_URL")
    }


@contextlib.contextmanager
def server(
    command: list[str], env: dict[str, str], port: int, probe: str, log: Path
) -> Iterator[int]:
    """A server process group started on 127.0.0.1:``port`` (yields its pid); stopped
    (SIGTERM, then SIGKILL) on the way out. Waits until ``probe`` answers 200."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_up(process, port, probe, log)
        yield process.pid
    finally:
        stop_process_group(process)


def stop_process_group(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Stop a process started with ``start_new_session=True`` and its children."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)
    # workers a SIGKILLed parent left behind share its process group
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _wait_until_up(process: subprocess.Popen[bytes], port: int, probe: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    answered = 0
    while answered < 4:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the server exited with {process.returncode}:\n{tail}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not answer {probe} within {START_TIMEOUT_S} s")
        try:
            status = uvloop.run(_probe(port, probe))
        except OSError:
            status = 0
        answered = answered + 1 if status == 200 else 0
        time.sleep(0.1 if status == 200 else 0.25)


async def _probe(port: int, path: str) -> int:
    connection = Connection(port)
    try:
        status, _ = await asyncio.wait_for(connection.request("GET", path, {}), 5)
        return status
    finally:
        await connection.close()


def app_command(port: int, workers: int = WORKERS) -> list[str]:
    return [
        sys.executable,
        "-m",
        "app.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


def floor_command(port: int, workers: int = WORKERS) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "benchmarks.floor_app:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def app_environment(database_url: str, data_dir: Path, secret_key: str) -> dict[str, str]:
    """ProcessLens as deployed: production, JSON logs at INFO (one access line per request)."""
    return _clean_environment() | {
        "PROCESSLENS_ENVIRONMENT": "production",
        "PROCESSLENS_SECRET_KEY": secret_key,
        "PROCESSLENS_DATA_DIR": str(data_dir),
        "PROCESSLENS_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "INFO"),
        "DATABASE_URL": database_url,
    }


# ---------------------------------------------------------------- measuring


@dataclasses.dataclass(frozen=True)
class Sizes:
    warmup_s: float
    measure_s: float


QUICK = Sizes(warmup_s=1.5, measure_s=4.0)
FULL = Sizes(warmup_s=3.0, measure_s=15.0)


def _groups(respondents: list[Respondent]) -> list[list[Respondent]]:
    return [respondents[i::CONNECTIONS] for i in range(CONNECTIONS)]


def _reset(respondents: list[Respondent]) -> None:
    for respondent in respondents:
        respondent.visits = 0


def _mean_page_bytes(port: int, respondents: list[Respondent]) -> int:
    """The size of the answer pages as served (every page of one respondent)."""
    sizes = []
    sample = respondents[0]

    async def fetch() -> None:
        connection = Connection(port)
        try:
            for number in range(1, len(sample.pages) + 1):
                status, body = await connection.request(
                    "GET", f"/r/{sample.token}/questions?page={number}", {}
                )
                if status != 200:
                    raise RuntimeError(f"answer page {number} answered {status}")
                sizes.append(len(body))
        finally:
            await connection.close()

    uvloop.run(fetch())
    return round(sum(sizes) / len(sizes))


def _split(phase: PhaseResult) -> str:
    return "+".join(str(count) for count in phase.connections_per_process) or "unknown"


def _figures(backend: str, kind: str, app: PhaseResult, floor: PhaseResult) -> list[dict[str, Any]]:
    label = {"page": "answer page GET", "save": "answer save POST"}[kind]
    name = f"survey {label} ({backend}, {CONNECTIONS} connections, {WORKERS} workers)"
    throughput_ratio = app.throughput / floor.throughput if floor.throughput else 0.0
    p50, floor_p50 = app.percentile(0.50), floor.percentile(0.50)
    p99, floor_p99 = app.percentile(0.99), floor.percentile(0.99)
    p99_ratio = p99 / floor_p99 if floor_p99 else float("inf")
    figures = [
        {
            "name": f"{name}: throughput",
            "value": round(app.throughput, 1),
            "unit": (
                f"requests/s (connections per worker {_split(app)}, the floor's {_split(floor)})"
            ),
            "floor": round(floor.throughput, 1),
            "ratio": round(throughput_ratio, 3),
            "target": f">= {THROUGHPUT_TARGET:.0%} of the floor's",
            "ok": throughput_ratio >= THROUGHPUT_TARGET,
        },
        {
            "name": f"{name}: p50 latency",
            "value": round(p50, 1),
            "unit": "ms",
            "floor": round(floor_p50, 1),
            "ratio": round(p50 / floor_p50, 3) if floor_p50 else None,
            "target": "informational",
            "ok": True,
        },
        {
            "name": f"{name}: p99 latency",
            "value": round(p99, 1),
            "unit": "ms",
            "floor": round(floor_p99, 1),
            "ratio": round(p99_ratio, 3),
            "target": f"<= {P99_TARGET}x the floor's",
            "ok": p99_ratio <= P99_TARGET,
        },
        {
            "name": f"{name}: errors",
            "value": app.errors,
            "unit": f"of {app.requests} requests",
            "floor": floor.errors,
            "ratio": None,
            "target": "0",
            "ok": app.errors == 0 and app.requests > 0,
        },
    ]
    if app.first_error:
        figures[-1]["first_error"] = app.first_error
    return figures


@contextlib.contextmanager
def profiled(pid: int, output: Path | None, seconds: float) -> Iterator[None]:
    """Sample the server's processes with py-spy (when ``output`` is given) while the body runs.

    Non-blocking sampling, so the profile barely slows what it measures; the collapsed stacks
    go to ``output`` and ``summarise_profile`` reads them. py-spy is not a project dependency:
    ``.venv/bin/pip install py-spy``.
    """
    if output is None:
        yield
        return
    command = ["py-spy", "record", "--pid", str(pid), "--subprocesses", "--nonblocking"]
    command += ["--format", "raw", "--rate", "200", "--duration", str(round(seconds))]
    command += ["--output", str(output)]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        try:
            spy.wait(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()


# leaf frames of threads and event loops waiting for work: not cost
IDLE_FRAMES = ("wait (threading.py", "get (queue.py", "select (selectors.py", "_recv (multiproc")


def summarise_profile(path: Path, top: int = 30, exclude: tuple[str, ...] = ()) -> str:
    """The functions most often on the stack (inclusive share of samples), from collapsed
    stacks, skipping idle threads and stacks that contain any of ``exclude``."""
    inclusive: dict[str, int] = {}
    leaf: dict[str, int] = {}
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame.strip() for frame in stack.split(";")]
        if exclude and any(part in frame for frame in frames for part in exclude):
            continue
        # idle threads waiting for work are not cost
        if any(idle in frames[-1] for idle in IDLE_FRAMES):
            continue
        total += count
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
        leaf[frames[-1]] = leaf.get(frames[-1], 0) + count
    if not total:
        return "no samples"
    lines = [f"{total} samples; inclusive share of the busiest functions:"]
    for frame, count in sorted(inclusive.items(), key=lambda item: -item[1])[:top]:
        lines.append(f"{count / total:6.1%}  {frame}")
    lines.append("self time (leaf frames):")
    for frame, count in sorted(leaf.items(), key=lambda item: -item[1])[: top // 2]:
        lines.append(f"{count / total:6.1%}  {frame}")
    return "\n".join(lines)


def measure_backend(
    backend: str, sizes: Sizes, profile_dir: Path | None = None
) -> list[dict[str, Any]]:
    """The page and save figures on one database (profiled with py-spy into ``profile_dir``)."""
    secret_key = secrets.token_urlsafe(48)
    with (
        tempfile.TemporaryDirectory(prefix="processlens-bench-") as scratch,
        scratch_database(backend, Path(scratch)) as database_url,
    ):
        folder = Path(scratch)
        settings = load_settings(
            environment="production",
            database_url=database_url,
            secret_key=secret_key,
            data_dir=folder,
        )
        migrate.upgrade(settings)
        respondents = seed_survey(settings, CONNECTIONS * RESPONDENTS_PER_CONNECTION)
        groups = _groups(respondents)
        engine = floor_app.create_db_engine(database_url)
        try:
            floor_app.create_tables(engine, [r.token for r in respondents])
        finally:
            engine.dispose()
        # as a running database is some time after such writes (the app's page phase comes
        # first: on SQLite it read through the seed's whole write-ahead log, the floor's
        # later phases did not)
        dashboard.settle(settings)

        port = free_port()
        results: dict[str, PhaseResult] = {}
        with server(
            app_command(port),
            app_environment(database_url, folder, secret_key),
            port,
            "/readyz",
            folder / "app.log",
        ) as pid:
            page_bytes = _mean_page_bytes(port, respondents)
            seconds = sizes.warmup_s + sizes.measure_s
            with profiled(pid, _profile_path(profile_dir, backend, "page"), seconds):
                results["app page"] = drive(
                    port, groups, lambda r: page_request(r, prefix="/r"), **_timing(sizes)
                )
            _reset(respondents)
            with profiled(pid, _profile_path(profile_dir, backend, "save"), seconds):
                results["app save"] = drive(
                    port, groups, lambda r: save_request(r, prefix="/r"), **_timing(sizes)
                )
            _reset(respondents)
            with seeding(database_url, folder, secret_key):
                results["app save during seed"] = drive(
                    port, groups, lambda r: save_request(r, prefix="/r"), **_timing(sizes)
                )
        _reset(respondents)
        port = free_port()
        floor_env = _clean_environment() | {
            "FLOOR_DATABASE_URL": database_url,
            "FLOOR_PAGE_BYTES": str(page_bytes),
        }
        with server(floor_command(port), floor_env, port, "/floor/healthz", folder / "floor.log"):
            results["floor page"] = drive(
                port, groups, lambda r: page_request(r, prefix="/floor"), **_timing(sizes)
            )
            _reset(respondents)
            results["floor save"] = drive(
                port, groups, lambda r: save_request_floor(r), **_timing(sizes)
            )
    return (
        _figures(backend, "page", results["app page"], results["floor page"])
        + _figures(backend, "save", results["app save"], results["floor save"])
        + _during_seed_figures(backend, results["app save during seed"], results["app save"])
    )


# a seed big enough to outlast a phase: teams with a scored round each (the slow part, which
# the seed does in read transactions; only its short writes take the lock)
SEED_TEAMS = 400
SEED_ROUNDS = 1


@contextlib.contextmanager
def seeding(database_url: str, folder: Path, secret_key: str) -> Iterator[None]:
    """`processlens seed` running against the app's database for the duration (stopped at the
    end if it is still writing: its organisation stays pending, which nobody sees)."""
    environment = app_environment(database_url, folder, secret_key)
    command = [sys.executable, "-m", "app.cli", "seed", "--teams", str(SEED_TEAMS)]
    command += ["--rounds", str(SEED_ROUNDS), "--organisation", "Seeded during the benchmark"]
    with (folder / "seed.log").open("ab") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        time.sleep(2.0)  # past loading the rubric and planning: the writes have begun
        if process.poll() is not None:
            raise RuntimeError(f"the seed ended early ({process.returncode}): see seed.log")
        yield
    finally:
        stop_process_group(process)


def _during_seed_figures(
    backend: str, during: PhaseResult, without: PhaseResult
) -> list[dict[str, Any]]:
    """The save's p99 while `processlens seed` writes, beside its p99 without one."""
    name = f"survey answer save POST during a {SEED_TEAMS}-team seed ({backend})"
    p99, quiet_p99 = during.percentile(0.99), without.percentile(0.99)
    ratio = p99 / quiet_p99 if quiet_p99 else float("inf")
    return [
        {
            "name": f"{name}: p99 latency",
            "value": round(p99, 1),
            "unit": "ms",
            "floor": round(quiet_p99, 1),
            "ratio": round(ratio, 3),
            "target": "informational: beside the save's p99 without a seed (the floor column)",
            "ok": True,
        },
        {
            "name": f"{name}: throughput",
            "value": round(during.throughput, 1),
            "unit": "requests/s",
            "floor": round(without.throughput, 1),
            "ratio": round(during.throughput / without.throughput, 3)
            if without.throughput
            else None,
            "target": "informational",
            "ok": True,
        },
        {
            "name": f"{name}: errors",
            "value": during.errors,
            "unit": f"of {during.requests} requests",
            "floor": without.errors,
            "ratio": None,
            "target": "0",
            "ok": during.errors == 0 and during.requests > 0,
            **({"first_error": during.first_error} if during.first_error else {}),
        },
    ]


def _profile_path(folder: Path | None, backend: str, kind: str) -> Path | None:
    return None if folder is None else folder / f"{backend}-{kind}.txt"


def save_request_floor(respondent: Respondent) -> Request:
    """The same form as the app's save, to the floor (which answers its row id as version)."""
    request = save_request(respondent, prefix="/floor")
    return dataclasses.replace(request, check=lambda status, _body: status == 200)


def _timing(sizes: Sizes) -> dict[str, float]:
    return {"warmup_s": sizes.warmup_s, "measure_s": sizes.measure_s}


def measure(
    quick: bool = False,
    backends: tuple[str, ...] = ("sqlite", "postgres"),
    profile_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """Figures for every backend; PostgreSQL, when unreachable, gives one failed figure saying
    why (the run must show that it was not measured)."""
    sizes = QUICK if quick else FULL
    figures: list[dict[str, Any]] = []
    for backend in backends:
        if backend == "postgres" and (reason := postgres_unavailable()) is not None:
            figures.append(
                {
                    "name": "survey answer page and save (postgres)",
                    "value": None,
                    "unit": "",
                    "floor": None,
                    "ratio": None,
                    "target": f"measured (PostgreSQL unreachable: {reason})",
                    "ok": False,
                }
            )
            continue
        figures += measure_backend(backend, sizes, profile_dir)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter phases")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), action="append")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample the app's workers with py-spy during each phase; summaries to stderr",
    )
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    figures = measure(args.quick, tuple(args.backend or ("sqlite", "postgres")), args.profile)
    if args.profile:
        for path in sorted(args.profile.glob("*.txt")):
            sys.stderr.write(f"\n== {path.name}\n{summarise_profile(path)}\n")
    if args.json:
        sys.stdout.write(json.dumps(figures, indent=2) + "\n")
    else:
        for figure in figures:
            sys.stdout.write(json.dumps(figure) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
