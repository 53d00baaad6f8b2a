"""Several instances: two ``processlens serve`` on different ports (one secret key, separate
data folders) and one ``processlens worker``, against one PostgreSQL and one Redis.

What a user or operator would notice: a session made on one instance works on the other (and
ends on both at sign-out); rate limits count across instances; a job started from one runs on
the worker, and both show its progress and serve its file (kept in the database, not on any
instance's disk); a team renamed through one shows renamed on the other's cached dashboard
at once; the organisation report of a large organisation is a job (202) on the page
and in the API; a scheduled task runs once per period however many workers run it.

``make test`` runs the short form; ``-m slow`` adds a longer run (a larger batch and the
organisation report at once, started from both instances).
"""

from __future__ import annotations

import dataclasses
import io
import re
import secrets
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import lxml.html
import pytest
import redis
from sqlalchemy import make_url
from sqlmodel import Session, col, select

from app import db
from app.accounts import passwords
from app.config import Settings
from app.jobs import sweeper
from app.models import Organisation, ReportJobStatus, ScheduledRun, Team, UserRole
from tests.accounts import helpers
from tests.jobs.live import QUICK_JOBS, LiveWorker, Seeded, job_row, seeded_organisation
from tests.live import LiveServer, slow_requested

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

PASSWORD = "a long test password 4 instances"
TEAMS = 4  # seeded; about two in three are published (the anonymity rule hides the rest)


@dataclasses.dataclass
class Installation:
    settings: Settings
    seeded: Seeded
    email: str
    first: LiveServer
    second: LiveServer
    worker: LiveWorker
    tmp: Path

    @property
    def servers(self) -> tuple[LiveServer, LiveServer]:
        return self.first, self.second


def _own_redis(redis_url: str) -> str:
    """A Redis database of this module's own (its rate-limit counters start at zero)."""
    url = str(make_url(redis_url).set(database="13"))
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
    return url


@pytest.fixture(scope="module")
def installation(
    postgres_server: str,
    redis_url: str,
    database_factory: Any,
    make_settings: Callable[..., Settings],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Installation]:
    tmp = tmp_path_factory.mktemp("instances")
    secret = secrets.token_urlsafe(48)
    database_url = database_factory.create("postgres")
    shared_redis = _own_redis(redis_url)
    env = {
        **QUICK_JOBS,
        # not "test": a test app counts rate limits under a key prefix of its own, and
        # these instances must share theirs as production ones do
        "PROCESSLENS_ENVIRONMENT": "development",
        "REDIS_URL": shared_redis,
        "PROCESSLENS_EMBEDDED_WORKER": "false",
        "PROCESSLENS_SIGN_IN_MAX_DELAY": "0",
        "PROCESSLENS_ORG_REPORT_JOB_TEAMS": "1",
        "PROCESSLENS_RENDER_WORKERS": "1",
    }
    settings = make_settings(
        database_url, data_dir=tmp / "setup", secret_key=secret, redis_url=shared_redis
    )
    seeded = seeded_organisation(settings, teams=TEAMS, name="Instances organisation")
    email = f"leader-{secrets.token_hex(4)}@example.org"
    engine = db.create_db_engine(settings)
    try:
        with Session(engine) as session:
            leader = helpers.user(
                session,
                UserRole.org_leader,
                email=email,
                password_hash=passwords.hash_password(PASSWORD),
            )
            organisation_id = seeded.organisation_id
            helpers.assign(session, leader, session.get_one(Organisation, organisation_id))
            session.commit()
    finally:
        engine.dispose()
    servers = [
        LiveServer(database_url, tmp / name, workers=1, secret_key=secret, extra_env=env)
        for name in ("first", "second")
    ]
    worker = LiveWorker(database_url, tmp / "worker", secret, env)
    try:
        for server in servers:
            server.start(wait=False)
        worker.start()
        for server in servers:
            server.wait_ready()
        yield Installation(settings, seeded, email, servers[0], servers[1], worker, tmp)
    finally:
        worker.kill()  # nothing of its to keep: quicker than a polite stop
        for server in servers:
            server.stop()


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, html[:500]
    return found[1]


def _sign_in(client: httpx.Client, base: str, email: str, password: str) -> httpx.Response:
    page = client.get(f"{base}/sign-in")
    return client.post(
        f"{base}/sign-in",
        data={"email": email, "password": password, "csrf_token": _csrf(page.text)},
    )


# ---------------------------------------------------------------- sessions and rate limits


def test_a_session_made_on_one_instance_works_on_the_other(installation: Installation) -> None:
    first, second = installation.servers
    dashboard = f"/organisations/{installation.seeded.organisation_id}/dashboard"
    # cookies belong to the host, not the port: one client is one browser for both
    with httpx.Client(timeout=30) as browser:
        signed_in = _sign_in(browser, first.url, installation.email, PASSWORD)
        assert signed_in.status_code == 303, signed_in.text[:500]
        page = browser.get(f"{second.url}{dashboard}")
        assert page.status_code == 200
        assert "Instances organisation" in page.text
        # signing out on the second ends the session on the first too
        out = browser.post(f"{second.url}/sign-out", data={"csrf_token": _csrf(page.text)})
        assert out.status_code == 303
        after = browser.get(f"{first.url}{dashboard}", follow_redirects=False)
        assert after.status_code in (303, 401), after.status_code


def test_rate_limits_count_across_instances(installation: Installation) -> None:
    """Sign-in attempts from one address are limited per minute: what the first instance
    counted, the second knows (per-instance counters would let the second allow 20 more)."""
    first, second = installation.servers
    codes: dict[str, list[int]] = {"first": [], "second": []}
    with httpx.Client(timeout=30) as browser:
        for index in range(12):
            response = _sign_in(browser, first.url, f"nobody{index}@example.org", "wrong")
            codes["first"].append(response.status_code)
        for index in range(12, 32):
            response = _sign_in(browser, second.url, f"nobody{index}@example.org", "wrong")
            codes["second"].append(response.status_code)
            if response.status_code == 429:
                break
    assert 429 not in codes["first"], codes
    assert codes["second"][-1] == 429, codes
    # the limit is 20 a minute per address, whichever instance answers
    assert len(codes["second"]) <= 9, codes


# ---------------------------------------------------------------- caches across instances


def _team_names(client: httpx.Client, base: str, org_id: int, headers: dict[str, str]) -> set[str]:
    answer = client.get(f"{base}/api/organisations/{org_id}/dashboard", headers=headers)
    assert answer.status_code == 200, answer.text[:500]
    return {str(row[0]) for row in answer.json()["views"]["teams"]["rows"]}


def _team_id(settings: Settings, org_id: int, name: str) -> int:
    engine = db.create_db_engine(settings)
    try:
        with Session(engine) as session:
            team = session.exec(
                select(Team).where(Team.organisation_id == org_id, Team.name == name)
            ).one()
            assert team.id is not None
            return team.id
    finally:
        engine.dispose()


def test_a_change_made_through_one_instance_shows_at_once_on_the_other(
    installation: Installation,
) -> None:
    """The dashboard is cached in each instance; renaming a team through the first must not
    leave the second showing the old name (for up to the cache's minute)."""
    org_id = installation.seeded.organisation_id
    viewer = installation.seeded.consultant.headers()
    engine = db.create_db_engine(installation.settings)
    try:
        with Session(engine) as session:
            admin = helpers.user(session, UserRole.admin)
            signed_in = helpers.sign_in(session, installation.settings, admin)
            session.commit()
    finally:
        engine.dispose()
    first, second = installation.servers
    with httpx.Client(timeout=30) as client:
        before = _team_names(client, second.url, org_id, viewer)
        assert before == _team_names(client, second.url, org_id, viewer)  # now cached
        old_name = sorted(before)[0]
        team_id = _team_id(installation.settings, org_id, old_name)
        renamed = client.patch(
            f"{first.url}/api/organisations/{org_id}/teams/{team_id}",
            json={"name": f"{old_name} (renamed)"},
            headers=signed_in.headers(),
        )
        assert renamed.status_code == 200, renamed.text[:500]
        after = _team_names(client, second.url, org_id, viewer)
    assert f"{old_name} (renamed)" in after
    assert old_name not in after


# ---------------------------------------------------------------- jobs across instances


def _job_page(client: httpx.Client, url: str, headers: dict[str, str]) -> tuple[int, int, str]:
    page = client.get(url, headers=headers)
    assert page.status_code == 200, page.text[:500]
    tree = lxml.html.document_fromstring(page.text)
    bar = tree.xpath("//progress")[0]
    links = tree.xpath("//a[@download]/@href")
    return int(bar.get("value") or 0), int(bar.get("max") or 0), links[0] if links else ""


def _run_batch_across(installation: Installation, started_on: LiveServer) -> bytes:
    """Start every team's report on ``started_on``; follow it on both; the same zip from
    both. Returns the zip."""
    headers = installation.seeded.consultant.headers()
    org_id = installation.seeded.organisation_id
    with httpx.Client(timeout=60) as client:
        started = client.post(
            f"{started_on.url}/organisations/{org_id}/report-exports",
            headers=headers,
            follow_redirects=False,
        )
        assert started.status_code == 303, started.text[:500]
        job_path = started.headers["location"]
        job_id = int(job_path.rsplit("/", 1)[1])
        seen: dict[str, list[tuple[int, int]]] = {"first": [], "second": []}
        deadline = time.monotonic() + 240
        while True:
            download = {}
            for name, server in zip(seen, installation.servers, strict=True):
                value, maximum, download[name] = _job_page(
                    client, f"{server.url}{job_path}", headers
                )
                seen[name].append((value, maximum))
            if download["first"] and download["second"]:
                break
            assert time.monotonic() < deadline, (seen, installation.worker.log_text()[-2000:])
            time.sleep(0.5)
        assert download["first"] == download["second"] == f"{job_path}/download"
        files = [
            client.get(f"{server.url}{job_path}/download", headers=headers)
            for server in installation.servers
        ]
    assert all(file.status_code == 200 for file in files)
    assert files[0].content == files[1].content
    row = job_row(installation.settings, job_id)
    assert row.status == ReportJobStatus.done
    assert row.ran_by is not None
    assert row.ran_by.endswith(":worker"), row.ran_by
    # both instances showed the same progress, read from the database
    assert seen["first"][-1] == seen["second"][-1] == (row.total, row.total)
    return files[0].content


def test_a_job_started_on_one_runs_on_the_worker_and_both_serve_it(
    installation: Installation,
) -> None:
    archive = _run_batch_across(installation, installation.first)
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        names = [name for name in opened.namelist() if name.endswith(".pdf")]
    assert names
    assert len(names) == len(set(names))
    # neither instance's data folder holds the file: it came from the database
    for server in installation.servers:
        assert not list(server.data_dir.rglob("*.zip"))


def test_a_large_organisation_report_is_a_job_on_the_page_and_in_the_api(
    installation: Installation,
) -> None:
    headers = installation.seeded.consultant.headers()
    org_id = installation.seeded.organisation_id
    with httpx.Client(timeout=60) as client:
        page = client.get(
            f"{installation.second.url}/organisations/{org_id}/report.pdf",
            headers=headers,
            follow_redirects=False,
        )
        assert page.status_code == 202
        job_path = page.headers["location"]
        tree = lxml.html.document_fromstring(page.text)
        refresh = tree.xpath("//meta[@http-equiv='refresh']/@content")
        assert refresh == [f"2; url={job_path}"]
        api = client.get(
            f"{installation.first.url}/api/organisations/{org_id}/report.pdf", headers=headers
        )
        assert api.status_code == 202
        body = api.json()
        # the same job (one under way per organisation and options), from the other instance
        assert job_path.endswith(f"/{body['id']}")
        assert api.headers["location"] == body["progress_url"]
        deadline = time.monotonic() + 240
        while body["download_url"] is None:
            assert time.monotonic() < deadline, installation.worker.log_text()[-2000:]
            time.sleep(0.5)
            body = client.get(
                f"{installation.second.url}{body['progress_url']}", headers=headers
            ).json()
        assert body["status"] == "done"
        document = client.get(f"{installation.first.url}{body['download_url']}", headers=headers)
    assert document.status_code == 200
    assert document.headers["content-type"] == "application/pdf"
    assert document.content.startswith(b"%PDF")


# ---------------------------------------------------------------- scheduled tasks


def test_a_scheduled_task_runs_once_per_period_however_many_workers_run(
    installation: Installation,
) -> None:
    extra = LiveWorker(
        installation.settings.resolved_database_url,
        installation.tmp / "worker-2",
        installation.settings.secret_key.get_secret_value(),  # type: ignore[union-attr]
        {
            **QUICK_JOBS,
            "REDIS_URL": installation.settings.redis_url or "",
            "PROCESSLENS_EMBEDDED_WORKER": "false",
        },
        name="worker-2",
    )
    extra.start()
    try:
        since = time.time()
        time.sleep(4)
    finally:
        extra.kill()
    until = time.time()
    period = int(QUICK_JOBS["PROCESSLENS_JOB_SWEEP_SECONDS"])
    engine = db.create_db_engine(installation.settings)
    try:
        with Session(engine) as session:
            runs = session.exec(
                select(ScheduledRun).where(
                    ScheduledRun.task == sweeper.SWEEP,
                    col(ScheduledRun.slot) >= int(since // period),
                    col(ScheduledRun.slot) <= int(until // period),
                )
            ).all()
    finally:
        engine.dispose()
    slots = [run.slot for run in runs]
    assert len(slots) >= 2, slots
    assert len(slots) == len(set(slots))
    logs = installation.worker.log_text() + extra.log_text()
    ran = re.findall(r"scheduled task sweep-jobs ran here \(([^)]+)\)", logs)
    # every run is logged once, by the process that claimed its period
    assert {run.ran_by for run in runs} <= set(ran)
    for run in runs:
        assert ran.count(run.ran_by) >= 1


# ---------------------------------------------------------------- the long form


@pytest.mark.slow
def test_long_run_jobs_from_both_instances(
    installation: Installation, request: pytest.FixtureRequest
) -> None:
    if not slow_requested(request.config):
        pytest.skip('long form: run with PYTEST_ARGS="-m slow" or PROCESSLENS_SLOW_TESTS=1')
    archives = [
        _run_batch_across(installation, server)
        for server in (installation.first, installation.second, installation.first)
    ]
    listings = []
    for archive in archives:
        with zipfile.ZipFile(io.BytesIO(archive)) as opened:
            listings.append(sorted(opened.namelist()))
    assert listings[0] == listings[1] == listings[2]
