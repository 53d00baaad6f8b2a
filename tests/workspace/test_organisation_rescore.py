"""Rescoring a whole organisation under the newest rubric (app.workspace.organisation_rescore):
rounds under an older rubric get a labelled result beside their unchanged original, rounds on
the newest rubric and rounds whose results are hidden are skipped and counted, a second run
stores nothing (nor does a resumed one); the job through the queue's runner with its progress
page and summary, the API's 202 and status, who may start it, and ``processlens rescore``.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import lxml.html
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, func
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from app import catalog_store, cli, cli_session, db
from app.accounts.audit import Actor
from app.config import Settings
from app.db import utcnow
from app.jobs import runner
from app.main import create_app
from app.models import (
    AssessmentRound,
    AuditEvent,
    Membership,
    Organisation,
    ReportJob,
    ReportJobStatus,
    RoundResult,
    Team,
    UserRole,
)
from app.results.reads import rescore_label
from app.results.service import ORIGINAL
from app.workspace import organisation_rescore, rounds
from app.workspace.organisation_rescore import Steps
from tests import factories
from tests.accounts import helpers as account_helpers
from tests.reports.test_ui import pdf_text
from tests.workspace import helpers
from tests.workspace.test_results import older_catalog


@dataclasses.dataclass(frozen=True)
class World:
    org_id: int
    leader: account_helpers.SignedIn  # an organisation leader
    lead: account_helpers.SignedIn  # the team lead of one of its teams
    leader_id: int
    to_rescore: tuple[int, ...]  # rounds under the older rubric whose results are shown
    hidden: int  # an open team survey under the older rubric with a stored (unshown) result
    current: int  # a round on the newest rubric


def build(session: Session, settings: Settings) -> World:
    """Two teams: a solo round and a closed team survey under an older rubric (shown), an
    open survey with a stored result (hidden) and a round on the newest rubric."""
    organisation = factories.organisation(session, name="Rescore Org")
    first = factories.team(session, organisation, name="Search")
    second = Team(organisation_id=organisation.id or 0, name="Ranking")  # no unit
    session.add(second)
    session.flush()
    versions = catalog_store.register_catalog(
        session=session, catalog=older_catalog(helpers.catalog())
    )
    solo = helpers.team_round(session, first, mode="solo", kind="full", rubric_versions=versions)
    helpers.submit(session, solo, "team_lead")
    survey = helpers.team_round(session, first, rubric_versions=versions, title="Survey")
    for role in ("data_scientist", "ml_engineer", "product_manager", "software_engineer"):
        helpers.submit(session, survey, role, store=False)
    rounds.close_round(session=session, assessment_round=survey)
    hidden = helpers.team_round(session, second, rubric_versions=versions, title="Small")
    for role in ("data_scientist", "ml_engineer"):
        # stored while open, as before results were published only at close: not shown
        helpers.submit(session, hidden, role)
    current = helpers.team_round(session, second, mode="solo", kind="full", title="Newest")
    helpers.submit(session, current, "team_lead")
    leader = account_helpers.user(session, UserRole.org_leader, name="Olga Leader")
    account_helpers.assign(session, leader, organisation)
    lead = account_helpers.user(session, UserRole.team_lead, name="Tess Lead")
    account_helpers.assign(session, lead, organisation, first)
    world = World(
        org_id=organisation.id or 0,
        leader=account_helpers.sign_in(session, settings, leader),
        lead=account_helpers.sign_in(session, settings, lead),
        leader_id=leader.id or 0,
        to_rescore=(solo.id or 0, survey.id or 0),
        hidden=hidden.id or 0,
        current=current.id or 0,
    )
    session.commit()
    return world


def _labels(session: Session, round_id: int) -> list[str]:
    return sorted(
        session.exec(select(RoundResult.label).where(RoundResult.round_id == round_id)).all()
    )


def _originals(session: Session, world: World) -> dict[int, str]:
    round_ids = [*world.to_rescore, world.hidden, world.current]
    return {
        row.round_id: json.dumps(row.computed, sort_keys=True)
        for row in session.exec(
            select(RoundResult).where(
                col(RoundResult.round_id).in_(round_ids), RoundResult.label == ORIGINAL
            )
        ).all()
    }


def test_the_older_rounds_are_rescored_once_and_the_rest_counted(
    session: Session, settings: Settings, db_connection: Connection
) -> None:
    world = build(session, settings)
    newest = helpers.catalog()
    label = rescore_label(newest)
    before = _originals(session, world)
    plan = organisation_rescore.outlook(
        session=session, organisation_id=world.org_id, newest=newest
    )
    assert (plan.to_rescore, plan.teams, plan.already, plan.hidden) == (2, 1, 0, 1)

    def run(seen: list[tuple[int, int]], timings: db.BatchTimings) -> organisation_rescore.Outcome:
        return organisation_rescore.rescore_organisation(
            sessions=db.session_factory(db_connection),
            read_sessions=db.read_session_factory(db_connection),
            organisation_id=world.org_id,
            newest=newest,
            actor=Actor(user_id=world.leader_id),
            timings=timings,
            steps=Steps(progress=lambda done, total: seen.append((done, total))),
        )

    seen: list[tuple[int, int]] = []
    timings = db.BatchTimings()
    outcome = run(seen, timings)
    assert (outcome.rescored, outcome.teams, outcome.already) == (2, 1, 0), outcome
    assert (outcome.hidden, outcome.current, outcome.failed) == (1, 1, 0)
    assert outcome.summary().startswith("Rescored 2 rounds of 1 team under rubric ")
    assert "0 already rescored, 1 not shown" in outcome.summary()
    assert (seen[0], seen[-1]) == ((0, 3), (3, 3))
    session.expire_all()
    for round_id in world.to_rescore:
        assert _labels(session, round_id) == sorted([ORIGINAL, label])
        stored = session.exec(
            select(RoundResult).where(RoundResult.round_id == round_id, RoundResult.label == label)
        ).one()
        assert stored.rubric_versions == dict(newest.versions)
    assert _labels(session, world.hidden) == [ORIGINAL]
    assert _labels(session, world.current) == [ORIGINAL]
    assert _originals(session, world) == before  # the originals never change
    # each round stored in a short write of its own, within the budget
    assert timings.labels.count("rescore: one round") == 2
    assert timings.longest <= db.WRITE_BATCH_BUDGET_S
    event = session.exec(
        select(AuditEvent).where(AuditEvent.action == "organisation.rescored")
    ).one()
    assert event.organisation_id == world.org_id
    assert event.actor_id == world.leader_id
    assert event.details["rescored"] == 2
    assert event.details["hidden"] == 1

    # again: nothing new is stored; what the first run did now counts as already rescored
    results = session.exec(select(func.count()).select_from(RoundResult)).one()
    again = run([], db.BatchTimings())
    assert (again.rescored, again.teams, again.already, again.hidden) == (0, 0, 2, 1)
    assert session.exec(select(func.count()).select_from(RoundResult)).one() == results
    plan = organisation_rescore.outlook(
        session=session, organisation_id=world.org_id, newest=newest
    )
    assert (plan.to_rescore, plan.already) == (0, 2)


# ---------------------------------------------------------------- the job, pages and API


@dataclasses.dataclass
class Live:
    client: TestClient
    engine: Engine
    settings: Settings
    world: World


@pytest.fixture
def live(
    fresh_database_url: str, make_settings: Callable[..., Settings], tmp_path: Path
) -> Iterator[Live]:
    settings = make_settings(
        fresh_database_url,
        data_dir=tmp_path / "data",
        secret_key=secrets.token_urlsafe(48),
        embedded_worker=False,  # the test runs the job itself, as a consumer does
    )
    engine = db.create_db_engine(settings)
    with Session(engine) as session:
        world = build(session, settings)
    application = create_app(settings)
    with TestClient(application) as client:
        yield Live(client, engine, settings, world)
    application.state.engine.dispose()
    engine.dispose()


def _run(live: Live, job_id: int) -> None:
    runner.run_job(
        engine=live.engine,
        settings=live.settings,
        job_id=job_id,
        handlers=organisation_rescore.handlers(helpers.catalog()),
        role="test",
    )


def _jobs(live: Live) -> int:
    with Session(live.engine) as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(ReportJob)
                .where(ReportJob.kind == organisation_rescore.KIND)
            ).one()
        )


def test_the_rescore_job_from_the_dashboard_to_its_summary(live: Live) -> None:
    client, world = live.client, live.world
    form_url = f"/organisations/{world.org_id}/rescore"
    dashboard = client.get(
        f"/organisations/{world.org_id}/dashboard", headers=world.leader.headers()
    )
    assert f'href="{form_url}"' in dashboard.text
    form = client.get(form_url, headers=world.leader.headers())
    assert form.status_code == 200
    page = form.context["page"]  # type: ignore[attr-defined]
    assert (page.to_rescore, page.teams, page.hidden, page.job) == (2, 1, 1, None)
    assert 'name="csrf_token"' in form.text
    # a team lead of one team may not, and a form without its CSRF token starts nothing
    assert client.get(form_url, headers=world.lead.headers()).status_code == 404
    assert client.post(form_url, headers=world.lead.headers()).status_code == 404
    refused = client.post(form_url, headers=world.leader.headers(csrf=False))
    assert refused.status_code == 403
    assert _jobs(live) == 0

    started = client.post(form_url, headers=world.leader.headers(), follow_redirects=False)
    assert started.status_code == 202
    job_url = started.headers["location"]
    assert started.context["page"].job.status == "queued"  # type: ignore[attr-defined]
    assert 'http-equiv="refresh"' in started.text
    # while it is under way, starting again shows it rather than starting a second
    again = client.post(form_url, headers=world.leader.headers(), follow_redirects=False)
    assert (again.status_code, again.headers["location"]) == (303, job_url)
    api_again = client.post(f"/api{form_url}", headers=world.leader.headers())
    assert api_again.status_code == 202
    assert api_again.json()["progress_url"].endswith(job_url.rsplit("/", 1)[1])
    assert _jobs(live) == 1

    _run(live, int(job_url.rsplit("/", 1)[1]))
    done = client.get(job_url, headers=world.leader.headers())
    job = done.context["page"].job  # type: ignore[attr-defined]
    assert (job.status, job.done, job.total) == ("done", 3, 3)  # the hidden one checked too
    assert job.message.startswith("Rescored 2 rounds of 1 team under rubric ")
    assert "1 not shown" in job.message
    assert job.message in done.text
    assert 'http-equiv="refresh"' not in done.text
    status = client.get(api_again.json()["progress_url"], headers=world.leader.headers()).json()
    assert (status["status"], status["done"], status["message"]) == ("done", 3, job.message)
    assert client.get(job_url, headers=world.lead.headers()).status_code == 404

    # nothing left to rescore: said so, and nothing started, on the page and in the API
    nothing = client.post(form_url, headers=world.leader.headers(), follow_redirects=False)
    assert nothing.status_code == 200
    assert nothing.context["page"].notice.startswith("Every round")  # type: ignore[attr-defined]
    assert client.post(f"/api{form_url}", headers=world.leader.headers()).status_code == 409
    assert _jobs(live) == 1


def _older_rubric_note(live: Live) -> lxml.html.HtmlElement | None:
    page = live.client.get(
        f"/organisations/{live.world.org_id}/dashboard", headers=live.world.leader.headers()
    )
    assert page.status_code == 200
    found = lxml.html.document_fromstring(page.text).xpath("//p[@data-older-rubric]")
    return found[0] if found else None


def test_the_dashboard_says_which_teams_an_older_rubric_scored_until_they_are_rescored(
    live: Live, tmp_path: Path
) -> None:
    """Search's latest round used the older rubric, Ranking's the newest: the dashboard says
    so, offers the rescore, and after it says the rescored result is on the results page
    (its cache told by the rescore: the summaries it counts do not change)."""
    with Session(live.engine) as session:  # Ranking's round on the newest rubric, closed
        newest_round = session.get_one(AssessmentRound, live.world.current)
        rounds.close_round(session=session, assessment_round=newest_round)
        session.commit()
    release = organisation_rescore.release(helpers.catalog())
    note = _older_rubric_note(live)
    assert note is not None
    assert note.text_content().startswith(
        f"1 of 2 teams shown was scored under an older rubric than the newest ({release}), "
        "so their levels and advice may differ"
    )
    assert "rescored" not in note.text_content()
    assert note.xpath(".//a/@href") == [f"/organisations/{live.world.org_id}/rescore"]
    # the organisation report says the same
    report = live.client.get(
        f"/organisations/{live.world.org_id}/report.pdf", headers=live.world.leader.headers()
    )
    assert report.status_code == 200
    text = " ".join(pdf_text(report.content, tmp_path).split())
    assert "1 of 2 teams shown was scored under an older rubric than the newest" in text

    form_url = f"/organisations/{live.world.org_id}/rescore"
    started = live.client.post(
        form_url, headers=live.world.leader.headers(), follow_redirects=False
    )
    _run(live, int(started.headers["location"].rsplit("/", 1)[1]))
    note = _older_rubric_note(live)
    assert note is not None
    assert note.text_content().endswith(
        "1 of them also has a result rescored under the newest rubric, on its results page."
    )
    assert note.xpath(".//a") == []  # nothing left to rescore


def test_a_rescore_job_whose_starter_was_unassigned_since_rescores_nothing(live: Live) -> None:
    client, world = live.client, live.world
    form_url = f"/organisations/{world.org_id}/rescore"
    started = client.post(form_url, headers=world.leader.headers(), follow_redirects=False)
    assert started.status_code == 202
    job_id = int(started.headers["location"].rsplit("/", 1)[1])
    with Session(live.engine) as session:  # the leader leaves the organisation meanwhile
        for membership in session.exec(
            select(Membership).where(Membership.user_id == world.leader_id)
        ).all():
            session.delete(membership)
        session.commit()
    _run(live, job_id)
    with Session(live.engine) as session:
        job = session.get_one(ReportJob, job_id)
        assert job.status == ReportJobStatus.failed
        assert "may no longer see this organisation" in (job.error or "")
        assert "Nothing was rescored" in (job.error or "")
        rescored = session.exec(
            select(func.count())
            .select_from(RoundResult)
            .where(RoundResult.label == rescore_label(helpers.catalog()))
        ).one()
        assert rescored == 0


def test_a_round_deleted_while_the_rescore_runs_is_counted_as_not_scored(
    session: Session, settings: Settings, db_connection: Connection
) -> None:
    world = build(session, settings)
    newest = helpers.catalog()
    gone = world.to_rescore[1]

    def delete_the_second_round() -> None:
        if len(calls) == 1:  # after the first round, before the second
            with db.session_factory(db_connection)() as other:
                other.delete(other.get_one(AssessmentRound, gone))
                other.commit()
        calls.append(1)

    calls: list[int] = []
    outcome = organisation_rescore.rescore_organisation(
        sessions=db.session_factory(db_connection),
        read_sessions=db.read_session_factory(db_connection),
        organisation_id=world.org_id,
        newest=newest,
        actor=Actor(user_id=world.leader_id),
        timings=db.BatchTimings(),
        steps=Steps(check=delete_the_second_round),
    )
    assert (outcome.rescored, outcome.failed, outcome.hidden) == (1, 1, 1), outcome
    assert outcome.summary().startswith("Rescored 1 round of 1 team under rubric ")
    assert "1 could not be scored under the newest rubric" in outcome.summary()
    session.expire_all()
    assert _labels(session, world.to_rescore[0]) == sorted([ORIGINAL, rescore_label(newest)])
    event = session.exec(
        select(AuditEvent).where(AuditEvent.action == "organisation.rescored")
    ).one()
    assert event.details["failed"] == 1


class _Killed(Exception):
    """The worker dies between two rounds."""


def test_a_resumed_rescore_counts_what_its_first_attempt_stored(
    session: Session, settings: Settings, db_connection: Connection
) -> None:
    world = build(session, settings)
    newest = helpers.catalog()
    since = utcnow()
    checks: list[int] = []

    def dies_on_the_second_round() -> None:
        checks.append(1)
        if len(checks) == 2:
            raise _Killed()

    def attempt(steps: Steps) -> organisation_rescore.Outcome:
        return organisation_rescore.rescore_organisation(
            sessions=db.session_factory(db_connection),
            read_sessions=db.read_session_factory(db_connection),
            organisation_id=world.org_id,
            newest=newest,
            actor=Actor(user_id=world.leader_id),
            timings=db.BatchTimings(),
            since=since,
            steps=steps,
        )

    with pytest.raises(_Killed):
        attempt(Steps(check=dies_on_the_second_round))
    session.expire_all()
    label = rescore_label(newest)
    assert [label in _labels(session, round_id) for round_id in world.to_rescore] == [True, False]
    seen: list[tuple[int, int]] = []
    resumed = attempt(Steps(progress=lambda done, total: seen.append((done, total))))
    # the first attempt's round is neither scored again nor counted as rescored before
    assert (resumed.rescored, resumed.teams, resumed.already, resumed.hidden) == (2, 1, 0, 1)
    assert (seen[0], seen[-1]) == ((1, 3), (3, 3))
    stored = session.exec(
        select(func.count()).select_from(RoundResult).where(RoundResult.label == label)
    ).one()
    assert stored == 2


def test_the_rescore_command(
    fresh_database_url: str,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings(fresh_database_url, data_dir=tmp_path / "data")
    monkeypatch.setattr(cli_session, "get_settings", lambda: settings)
    engine = db.create_db_engine(settings)
    try:
        with Session(engine) as session:
            world = build(session, settings)
            slug = session.exec(
                select(Organisation.slug).where(Organisation.id == world.org_id)
            ).one()
    finally:
        engine.dispose()
    done = CliRunner().invoke(cli.app, ["rescore", "--org", slug])
    assert done.exit_code == 0, done.output
    assert "Rescored 2 rounds of 1 team under rubric" in done.stdout
    assert "the longest held the write lock" in done.stdout
    again = CliRunner().invoke(cli.app, ["rescore", "--org", slug])
    assert "Rescored 0 rounds of 0 teams" in again.stdout
    assert "2 already rescored" in again.stdout
    unknown = CliRunner().invoke(cli.app, ["rescore", "--org", "no-such-org"])
    assert unknown.exit_code == 1
    assert "no organisation with the short name" in unknown.stderr
