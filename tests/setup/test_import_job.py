"""A large bulk set-up is imported by a job: the confirmation answers 202 with the job's
progress page, the job writes in short batches under a hidden organisation and everything
appears at once; the set-password links are shown once, to the person who started it only;
a name taken while the job runs fails it whole and leaves nothing behind.

Real commits on a database of the test's own (the job runs on its own connections), on SQLite
and PostgreSQL; the job runs in the test's thread (``runner.run_job``), as a consumer runs it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from app import db
from app.accounts import audit, setup_import
from app.config import Settings
from app.db import utcnow
from app.jobs import runner, sweeper
from app.jobs.runner import JobRun
from app.main import create_app
from app.models import (
    AuditEvent,
    BusinessUnit,
    JobFile,
    Membership,
    Organisation,
    ReportJob,
    ReportJobStatus,
    Team,
    User,
    UserRole,
)
from tests.accounts import helpers
from tests.rendered import page_of

UNITS = 10
TEAMS = 990  # with the unit lines: 1,000 rows
LEAD_EVERY = 10
LONGEST = re.compile(r"the longest held the write lock (\d+) ms")


def big_file() -> str:
    lines = ["unit,team,lead_email,lead_name"]
    lines += [f"Unit {u},,," for u in range(UNITS)]
    for t in range(TEAMS):
        lead = f"lead{t}@example.org,Lead {t}" if t % LEAD_EVERY == 0 else ","
        lines.append(f"Unit {t % UNITS},Team {t:04d},{lead}")
    return "\n".join(lines) + "\n"


@dataclass
class World:
    client: TestClient
    engine: Engine
    settings: Settings
    org_id: int
    consultant: helpers.SignedIn
    other: helpers.SignedIn  # another consultant of the same organisation


@pytest.fixture
def world(
    fresh_database_url: str, make_settings: Callable[..., Settings], tmp_path: Path
) -> Iterator[World]:
    settings = make_settings(
        fresh_database_url,
        data_dir=tmp_path / "data",
        secret_key=secrets.token_urlsafe(48),
        consultants_create_organisations=True,
        embedded_worker=False,  # the test runs the job itself
    )
    engine = db.create_db_engine(settings)
    with Session(engine) as session:
        org = Organisation(name="Big Co", slug="big-co")
        session.add(org)
        session.flush()
        assert org.id is not None
        consultant = helpers.user(session, UserRole.consultant, name="Starter")
        other = helpers.user(session, UserRole.consultant, name="Colleague")
        for person in (consultant, other):
            helpers.assign(session, person, org)
        signed = helpers.sign_in(session, settings, consultant)
        signed_other = helpers.sign_in(session, settings, other)
        session.commit()
        org_id = org.id
    application = create_app(settings)
    with TestClient(application) as client:
        yield World(client, engine, settings, org_id, signed, signed_other)
    application.state.engine.dispose()
    engine.dispose()


def _count(engine: Engine, model: Any, *where: Any) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def _pending(engine: Engine) -> int:
    return _count(engine, Organisation, col(Organisation.pending).is_(True))


def _run(world: World, job_id: int, during: Callable[[int], None] | None = None) -> None:
    """Run the job as a consumer does; ``during(done)`` after each progress it records."""

    def handler(run: JobRun) -> None:
        record = run.progress

        def progress(**values: int) -> None:
            record(**values)
            if during is not None and "done" in values:
                during(values["done"])

        run.progress = progress  # type: ignore[method-assign]
        setup_import.run_job(run)

    runner.run_job(
        engine=world.engine,
        settings=world.settings,
        job_id=job_id,
        handlers={setup_import.KIND: handler},
        role="test",
    )


def _confirm(world: World, text: str) -> str:
    """Upload, preview and confirm on the pages: the job's page URL (202)."""
    headers = world.consultant.headers()
    base = f"/organisations/{world.org_id}/import"
    preview = world.client.post(
        f"{base}/preview", files={"file": ("big.csv", text, "text/csv")}, headers=headers
    )
    assert preview.status_code == 200, preview.text[:500]
    shown = page_of(preview)
    assert shown.plan.ok
    assert len(shown.plan.rows) == UNITS + TEAMS
    confirmed = world.client.post(
        base,
        data={"csv_text": shown.csv_text, "previewed": shown.previewed},
        headers=headers,
        follow_redirects=False,
    )
    assert confirmed.status_code == 202, confirmed.text[:500]
    job_url = confirmed.headers["location"]
    assert page_of(confirmed).job.status == "queued"
    assert 'http-equiv="refresh"' in confirmed.text
    return job_url


def test_a_thousand_rows_are_imported_by_a_job_in_short_batches(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    job_url = _confirm(world, big_file())
    job_id = int(job_url.rsplit("/", 1)[1])
    assert _count(world.engine, Team, Team.organisation_id == world.org_id) == 0
    pages: list[Any] = []

    def look(done: int) -> None:
        if 0 < done < UNITS + TEAMS and not pages:
            # half-way: the page shows the progress, the organisation shows nothing yet
            pages.append(world.client.get(job_url, headers=world.consultant.headers()))
            assert _count(world.engine, Team, Team.organisation_id == world.org_id) == 0

    caplog.set_level("INFO", logger="app.accounts.setup_import")
    _run(world, job_id, look)

    assert pages, "the job recorded no progress"
    during = page_of(pages[0])
    assert during.job.status == "running"
    assert 0 < during.job.done < during.job.total == UNITS + TEAMS
    assert "Importing…" in pages[0].text
    # every row stored, in the real organisation, and no hidden organisation left
    assert _count(world.engine, BusinessUnit, BusinessUnit.organisation_id == world.org_id) == UNITS
    assert _count(world.engine, Team, Team.organisation_id == world.org_id) == TEAMS
    leads = TEAMS // LEAD_EVERY
    assert _count(world.engine, Membership, Membership.organisation_id == world.org_id) == (
        leads + 2  # and the two consultants
    )
    assert _count(world.engine, User, col(User.email).like("lead%@example.org")) == leads
    assert _pending(world.engine) == 0
    # no batch held the write lock past the budget (SQLite's write lock; as test_long_writers)
    logged = [LONGEST.search(record.getMessage()) for record in caplog.records]
    longest = [int(found.group(1)) for found in logged if found is not None]
    assert longest, "the job did not report its batches"
    if world.settings.resolved_database_url.startswith("sqlite"):
        assert longest[0] <= db.WRITE_BATCH_BUDGET_S * 1000, caplog.text

    # the finished page: the summary, and the links once, to the starter only
    other = world.client.get(job_url, headers=world.other.headers())
    assert other.status_code == 404
    api_url = f"/api/organisations/{world.org_id}/import/jobs/{job_id}"
    assert world.client.get(api_url, headers=world.other.headers()).status_code == 404
    first = world.client.get(job_url, headers=world.consultant.headers())
    assert first.status_code == 200
    shown = page_of(first)
    assert shown.job.status == "done"
    assert f"{TEAMS} team(s)" in (shown.job.message or "")
    assert len(shown.password_links) == leads
    assert "/reset/" in shown.password_links[0].url
    assert shown.password_links[0].url in first.text
    again = world.client.get(job_url, headers=world.consultant.headers())
    assert page_of(again).password_links == ()
    assert "/reset/" not in again.text
    assert (
        world.client.get(api_url, headers=world.consultant.headers()).json()["password_links"]
        is None
    )
    assert _count(world.engine, JobFile, JobFile.job_id == job_id) == 0

    # the same file again changes nothing
    job_url = _confirm(world, big_file())
    _run(world, int(job_url.rsplit("/", 1)[1]))
    assert _count(world.engine, Team, Team.organisation_id == world.org_id) == TEAMS
    again = page_of(world.client.get(job_url, headers=world.consultant.headers()))
    assert "0 business unit(s) and 0 team(s) created" in (again.job.message or "")


def test_a_name_taken_while_the_job_runs_fails_it_and_leaves_nothing(world: World) -> None:
    job_url = _confirm(world, big_file())
    job_id = int(job_url.rsplit("/", 1)[1])
    taken: list[int] = []

    def clash(done: int) -> None:
        if done >= 200 and not taken:  # after the preview, while teams are being written
            with Session(world.engine) as session:
                team = Team(organisation_id=world.org_id, name="Team 0900")
                session.add(team)
                session.commit()
                assert team.id is not None
                taken.append(team.id)

    _run(world, job_id, clash)

    assert taken
    with Session(world.engine) as session:
        job = session.get(ReportJob, job_id)
        assert job is not None
        assert job.status == ReportJobStatus.failed
    # nothing of the file is visible, the hidden organisation is gone, no account was made
    assert _count(world.engine, Team, Team.organisation_id == world.org_id) == 1
    assert _count(world.engine, BusinessUnit, BusinessUnit.organisation_id == world.org_id) == 0
    assert _count(world.engine, User, col(User.email).like("lead%@example.org")) == 0
    assert _pending(world.engine) == 0
    assert _count(world.engine, Team) == 1
    failed = world.client.get(job_url, headers=world.consultant.headers())
    assert failed.status_code == 200
    assert page_of(failed).job.status == "failed"
    assert "Nothing was changed" in failed.text
    assert "was taken while it was being imported" in failed.text


def test_the_api_answers_202_with_the_job_and_a_changed_file_is_refused(world: World) -> None:
    headers = world.consultant.headers() | {"content-type": "text/csv"}
    started = world.client.post(
        f"/api/organisations/{world.org_id}/import", content=big_file(), headers=headers
    )
    assert started.status_code == 202, started.text[:300]
    body = started.json()
    assert started.headers["location"] == body["progress_url"]
    assert body["status"] == "queued"
    _run(world, body["id"])
    done = world.client.get(body["progress_url"], headers=world.consultant.headers()).json()
    assert done["status"] == "done"
    assert len(done["password_links"]) == TEAMS // LEAD_EVERY
    # the page's confirmation refuses a file that is not the one previewed
    refused = world.client.post(
        f"/organisations/{world.org_id}/import",
        data={"csv_text": "team\nOther\n", "previewed": setup_import.digest(b"team\nT\n")},
        headers=world.consultant.headers(),
    )
    assert refused.status_code == 400
    assert "not the one that was previewed" in refused.text
    assert _count(world.engine, Team, Team.name == "Other") == 0
    # ... but the previewed file sent back by a browser (which turns line ends into CRLF) is
    # the same file
    accepted = world.client.post(
        f"/organisations/{world.org_id}/import",
        data={"csv_text": "team\r\nOther\r\n", "previewed": setup_import.digest(b"team\nOther\n")},
        headers=world.consultant.headers(),
    )
    assert accepted.status_code == 200, accepted.text[:500]
    assert _count(world.engine, Team, Team.name == "Other") == 1


def test_links_not_shown_within_a_day_are_deleted_by_the_sweeper(world: World) -> None:
    with Session(world.engine) as session:
        job = ReportJob(
            organisation_id=world.org_id, kind=setup_import.KIND, status=ReportJobStatus.done
        )
        session.add(job)
        session.flush()
        assert job.id is not None
        for age in (timedelta(hours=25), timedelta(hours=1)):
            session.add(
                JobFile(
                    job_id=job.id,
                    name=f"links-{age.total_seconds():.0f}",
                    final=True,
                    media_type=runner.SHOWN_ONCE,
                    data=b"[]",
                    created_at=utcnow() - age,
                )
            )
        session.commit()
        job_id = job.id
    sweeper.sweep(engine=world.engine, settings=world.settings, enqueue=lambda _job: None)
    assert _count(world.engine, JobFile, JobFile.job_id == job_id) == 1


def test_a_job_stopped_just_after_its_import_is_finished_by_the_next_attempt(
    world: World,
) -> None:
    """The worker dies between the import's final transaction and the job's end: the next
    attempt (the sweeper re-queues it) imports nothing twice and still shows the links."""
    job_url = _confirm(world, big_file())
    job_id = int(job_url.rsplit("/", 1)[1])

    def dies_before_finishing(run: JobRun) -> None:
        def killed(**_: Any) -> None:
            raise runner.JobLostError()

        run.finish = killed  # type: ignore[method-assign]
        setup_import.run_job(run)

    runner.run_job(
        engine=world.engine,
        settings=world.settings,
        job_id=job_id,
        handlers={setup_import.KIND: dies_before_finishing},
        role="test",
    )
    assert _count(world.engine, Team, Team.organisation_id == world.org_id) == TEAMS
    with Session(world.engine) as session:  # what the sweeper does with a silent job
        job = session.get(ReportJob, job_id)
        assert job is not None
        assert job.status == ReportJobStatus.running
        job.status, job.run_token = ReportJobStatus.queued, None
        session.commit()
    _run(world, job_id)
    assert _count(world.engine, Team, Team.organisation_id == world.org_id) == TEAMS
    shown = page_of(world.client.get(job_url, headers=world.consultant.headers()))
    assert shown.job.status == "done"
    assert f"{TEAMS} team(s) created" in (shown.job.message or "")
    assert len(shown.password_links) == TEAMS // LEAD_EVERY


def _audit_counts(engine: Engine, org_id: int) -> dict[str, int]:
    """How many audit events of each action the import left (the organisation's, and the
    new accounts' ones, which belong to no organisation)."""
    with Session(engine) as session:
        rows = session.exec(
            select(AuditEvent.action, func.count())
            .where(
                (col(AuditEvent.organisation_id) == org_id)
                | col(AuditEvent.organisation_id).is_(None)
            )
            .group_by(col(AuditEvent.action))
        ).all()
    return dict(rows)


def test_a_job_stopped_while_appending_its_audit_events_appends_each_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker dies after the import's final transaction, in the middle of appending each
    change's audit event: the next attempt appends the rest, none twice, none missing."""
    job_url = _confirm(world, big_file())
    job_id = int(job_url.rsplit("/", 1)[1])
    before = _audit_counts(world.engine, world.org_id)
    record = audit.record
    created = [0]

    def dies_in_the_second_batch(**values: Any) -> Any:
        if values["action"] == "team.created":
            created[0] += 1
            if created[0] == 100:
                raise runner.JobLostError()
        return record(**values)

    monkeypatch.setattr(audit, "record", dies_in_the_second_batch)
    _run(world, job_id)
    monkeypatch.setattr(audit, "record", record)
    assert created[0] == 100
    assert _count(world.engine, Team, Team.organisation_id == world.org_id) == TEAMS
    with Session(world.engine) as session:  # what the sweeper does with a silent job
        job = session.get_one(ReportJob, job_id)
        assert job.status == ReportJobStatus.running
        job.status, job.run_token = ReportJobStatus.queued, None
        session.commit()
    _run(world, job_id)
    shown = page_of(world.client.get(job_url, headers=world.consultant.headers()))
    assert shown.job.status == "done"
    assert len(shown.password_links) == TEAMS // LEAD_EVERY
    after = _audit_counts(world.engine, world.org_id)
    added = {action: after[action] - before.get(action, 0) for action in after}
    leads = TEAMS // LEAD_EVERY
    assert added == {
        "business_unit.created": UNITS,
        "team.created": TEAMS,
        "user.created": leads,
        "password.reset_link_issued": leads,
        "assignment.added": leads,
        "setup.imported": 1,
    }


def test_a_job_whose_starter_was_unassigned_since_imports_nothing(world: World) -> None:
    job_url = _confirm(world, big_file())
    with Session(world.engine) as session:
        starter = session.exec(select(User).where(User.display_name == "Starter")).one()
        for membership in session.exec(
            select(Membership).where(Membership.user_id == starter.id)
        ).all():
            session.delete(membership)
        session.commit()
    _run(world, int(job_url.rsplit("/", 1)[1]))
    with Session(world.engine) as session:
        job = session.get(ReportJob, int(job_url.rsplit("/", 1)[1]))
        assert job is not None
        assert job.status == ReportJobStatus.failed
        assert "may no longer import into this organisation" in (job.error or "")
    assert _count(world.engine, Team, Team.organisation_id == world.org_id) == 0
    assert _pending(world.engine) == 0
