"""Writing a bulk set-up (app.accounts.bulk_setup) without holding the write lock for long.

One path for the page, the API, the job queue and ``processlens import``:

1. the whole file is checked against the database first (the preview's check; a file whose
   digest differs from the previewed one is refused);
2. the new units and teams are written in short transactions (``db.write_batch``, each within
   ``db.WRITE_BATCH_BUDGET_S``) into a hidden *shadow* organisation (``pending``, so tenancy
   hides it and everything in it);
3. one short final transaction moves them into the real organisation, moves the existing
   teams the file moves, creates the new team-lead accounts and their memberships and
   removes the shadow. A name or e-mail taken in between fails that transaction (unique
   indexes), so nothing of the file is visible; the shadow is then removed.

On any failure the shadow is removed and nothing visible has changed. The audit events of
each change are appended after the final transaction, in short batches, with one
``setup.imported`` event inside it; a job keeps the events to append in its final transaction
and how many are appended in each batch's, so an attempt that dies between them leaves the
next attempt to append the rest, each event once.

A confirmed file of more than ``JOB_ROWS`` rows is imported by a job of the queue (``KIND``):
its set-password links are stored in the import's final transaction (so an attempt that dies
just after it still has them) and become the job's output file (``runner.SHOWN_ONCE``), shown
to the job's creator once on its finished page and then deleted; the sweeper deletes them if
not shown within a day (docs/security.md). The job checks first that its creator may still
import into the organisation.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from sqlalchemy import bindparam, delete, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from app import db
from app.accounts import audit, bulk_setup, pending, tenancy, users
from app.accounts.audit import Actor
from app.accounts.bulk_setup import Action, PasswordLink, SetupPlan, SetupResult
from app.config import Settings
from app.db import utcnow
from app.errors import DomainError, InvalidInputError, NotFoundError
from app.jobs import runner
from app.jobs.runner import JobRun
from app.models import (
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

logger = logging.getLogger(__name__)

KIND: Final = "setup_import"
# a confirmed file of more rows is imported by a job (202 and its progress page); smaller
# files are imported in the request, through the same batched path
JOB_ROWS: Final = 50
# rows written per short transaction: ~2 ms a row on a busy 2-core machine, well inside the
# 200 ms budget (db.WRITE_BATCH_BUDGET_S)
ROWS_PER_BATCH: Final = 40
AUDIT_EVENTS_PER_BATCH: Final = 60
INPUT_FILE: Final = "import.csv"
LINKS_FILE: Final = "set-password-links.json"
# how many of the events kept in LINKS_FILE are appended (a resumed attempt appends the rest)
EVENTS_APPENDED: Final = "audit-events-appended.txt"
SHADOW_SLUG: Final = "import-in-progress-"


class ChangedSincePreviewError(InvalidInputError):
    def __init__(self) -> None:
        super().__init__(
            "The file is not the one that was previewed. Preview it again; nothing was changed."
        )


class ImportClashError(InvalidInputError):
    def __init__(self) -> None:
        super().__init__(
            "A unit or team name, or an e-mail, of this file was taken while it was being "
            "imported. Nothing was changed; preview the file again."
        )


def digest(data: bytes) -> str:
    """What the confirmation carries of the previewed file (a changed file is refused). Line
    ends do not count: a browser sends a form's text back with CRLF."""
    return hashlib.sha256(data.replace(b"\r\n", b"\n")).hexdigest()


@dataclasses.dataclass(frozen=True)
class _Known:
    """Ids in the real organisation that the plan refers to by name."""

    units: dict[str, int]
    teams: dict[str, int]


@dataclasses.dataclass(frozen=True)
class ImportSteps:
    """What the caller learns while the file is written: ``progress(done, total)`` after
    each batch (rows), ``check()`` before each (a job stops there when its time is up)."""

    progress: Callable[[int, int], None] = lambda done, total: None
    check: Callable[[], None] = lambda: None
    # inside the final transaction, with what it made true and the audit events still to
    # append: a job keeps them there, so an attempt that dies just after it still has the
    # links and appends the events (``run_job``)
    published: Callable[[Session, SetupPlan, list[PasswordLink], list[ChangeEvent]], None] = (
        lambda session, plan, links, events: None
    )
    # inside each audit batch's transaction: how many of the events are appended (``append_events``)
    appended: Callable[[Session, int], None] = lambda session, count: None


def _read(sessions: sessionmaker[Session]) -> Session:
    session = sessions()
    session.connection(execution_options={"sqlite_begin": "DEFERRED"})  # only reads
    return session


def _check(
    sessions: sessionmaker[Session], organisation_id: int, data: bytes
) -> tuple[SetupPlan, list[Action], _Known, str]:
    with _read(sessions) as session:
        organisation = session.get(Organisation, organisation_id)
        if organisation is None or organisation.pending:
            raise NotFoundError()
        plan, actions = bulk_setup.plan_changes(session, organisation, bulk_setup.parse(data))
        units = session.exec(
            select(BusinessUnit.name, BusinessUnit.id).where(
                BusinessUnit.organisation_id == organisation_id
            )
        ).all()
        teams = session.exec(
            select(Team.name, Team.id).where(Team.organisation_id == organisation_id)
        ).all()
        known = _Known(
            units={name: unit_id for name, unit_id in units if unit_id is not None},
            teams={name: team_id for name, team_id in teams if team_id is not None},
        )
        name = organisation.name
        session.rollback()
    return plan, actions, known, name


@dataclasses.dataclass
class _Written:
    shadow_id: int
    units: dict[str, int] = dataclasses.field(default_factory=dict)
    teams: dict[str, int] = dataclasses.field(default_factory=dict)


def _shadow(sessions: sessionmaker[Session], timings: db.BatchTimings, slug: str, name: str) -> int:
    _remove_shadow(sessions, timings, slug)  # an earlier attempt's (a job resumed)
    with db.write_batch(sessions, timings, "import: shadow organisation") as session:
        shadow = Organisation(name=f"{name} (import)"[:200], slug=slug, pending=True)
        session.add(shadow)
        session.flush()
        assert shadow.id is not None
        return shadow.id


def _remove_shadow(sessions: sessionmaker[Session], timings: db.BatchTimings, slug: str) -> None:
    with _read(sessions) as session:
        found = session.exec(
            select(Organisation.id).where(
                Organisation.slug == slug,
                col(Organisation.pending) == True,  # noqa: E712
            )
        ).first()
        session.rollback()
    if found is not None:
        pending.remove(sessions=sessions, organisation_id=found, timings=timings)


def _write_shadow(
    sessions: sessionmaker[Session],
    timings: db.BatchTimings,
    actions: Sequence[Action],
    known: _Known,
    written: _Written,
    steps: ImportSteps,
    total: int,
) -> None:
    units = [action for action in actions if action.kind == "unit"]
    teams = [action for action in actions if action.kind == "team"]
    done = 0
    for kind, group in (("units", units), ("teams", teams)):
        for start in range(0, len(group), ROWS_PER_BATCH):
            steps.check()
            chunk = group[start : start + ROWS_PER_BATCH]
            with db.write_batch(sessions, timings, f"import: {len(chunk)} {kind}") as session:
                if kind == "units":
                    rows: list[BusinessUnit | Team] = [
                        BusinessUnit(organisation_id=written.shadow_id, name=action.unit)
                        for action in chunk
                    ]
                else:
                    rows = [
                        Team(
                            organisation_id=written.shadow_id,
                            business_unit_id=_unit_id(action.unit, known, written),
                            name=action.team,
                        )
                        for action in chunk
                    ]
                session.add_all(rows)
                session.flush()
                for row in rows:
                    assert row.id is not None
                    target = written.units if isinstance(row, BusinessUnit) else written.teams
                    target[row.name] = row.id
            done += len(chunk)
            steps.progress(min(done, total), total)


def _unit_id(name: str, known: _Known, written: _Written) -> int | None:
    if not name:
        return None
    return written.units.get(name) or known.units[name]


@dataclasses.dataclass(frozen=True)
class _Published:
    new_users: dict[str, int]  # e-mail -> id of the accounts made
    memberships: list[tuple[int, int]]  # (user id, team id)


def _move_teams(
    session: Session,
    organisation_id: int,
    actions: Sequence[Action],
    known: _Known,
    written: _Written,
) -> None:
    """The file's moves of existing teams between units, in one statement; a team gone from
    the organisation since the check raises."""
    moves = [action for action in actions if action.kind == "move"]
    if not moves:
        return
    moved = session.connection().execute(
        update(Team)
        .where(
            col(Team.id) == bindparam("team_id"),
            col(Team.organisation_id) == organisation_id,
        )
        .values(business_unit_id=bindparam("unit_id")),
        [
            {
                "team_id": known.teams[action.team],
                "unit_id": _unit_id(action.unit, known, written),
            }
            for action in moves
        ],
    )
    if moved.rowcount != len(moves):
        raise ImportClashError()


def _publish(
    session: Session,
    organisation_id: int,
    actions: Sequence[Action],
    known: _Known,
    written: _Written,
) -> _Published:
    """The final transaction: the shadow's rows into the organisation, moves, accounts and
    memberships; the shadow goes. A name or e-mail taken since the check raises."""
    for model in (BusinessUnit, Team):
        session.exec(
            update(model)
            .where(col(model.organisation_id) == written.shadow_id)
            .values(organisation_id=organisation_id)
        )
    _move_teams(session, organisation_id, actions, known, written)
    new_leads = [action for action in actions if action.kind == "new_lead"]
    now = utcnow()
    if new_leads:
        session.connection().execute(
            insert(User),
            [
                {
                    "email": action.email,
                    "display_name": users.check_display_name(action.lead_name),
                    "role": UserRole.team_lead.value,
                    "is_active": True,
                    "created_at": now,
                }
                for action in new_leads
            ],
        )
    made = {
        email: user_id
        for email, user_id in session.exec(
            select(User.email, User.id).where(
                col(User.email).in_([action.email for action in new_leads])
            )
        ).all()
        if user_id is not None
    }
    new_users = {action.email: made[action.email] for action in new_leads}  # the file's order
    memberships: list[tuple[int, int]] = []
    for action in actions:
        if action.kind in ("new_lead", "lead"):
            user_id = new_users.get(action.email) or action.user_id
            team_id = written.teams.get(action.team) or known.teams[action.team]
            memberships.append((user_id, team_id))
    if memberships:
        session.connection().execute(
            insert(Membership),
            [
                {
                    "user_id": user_id,
                    "organisation_id": organisation_id,
                    "team_id": team_id,
                    "role": UserRole.team_lead.value,
                    "created_at": now,
                }
                for user_id, team_id in memberships
            ],
        )
    session.exec(delete(Organisation).where(col(Organisation.id) == written.shadow_id))
    return _Published(new_users=new_users, memberships=memberships)


@dataclasses.dataclass(frozen=True)
class ChangeEvent:
    """One change's audit event, as the organisation services record it; kept as data by a
    job so that a resumed attempt appends the ones still missing (``run_job``)."""

    action: str
    target_type: str
    target_id: int
    details: Mapping[str, object]
    in_organisation: bool = True

    def to_data(self) -> dict[str, object]:
        return dataclasses.asdict(self) | {"details": dict(self.details)}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ChangeEvent:
        return cls(
            action=str(data["action"]),
            target_type=str(data["target_type"]),
            target_id=int(data["target_id"]),
            details=dict(data["details"]),
            in_organisation=bool(data["in_organisation"]),
        )


def _change_events(
    actions: Sequence[Action], known: _Known, written: _Written, published: _Published
) -> list[ChangeEvent]:
    """Each change's audit event, in the order they are appended."""
    events: list[ChangeEvent] = []
    via = {"via": "import"}
    for name, unit_id in written.units.items():
        events.append(
            ChangeEvent("business_unit.created", "business_unit", unit_id, {"name": name})
        )
    for name, team_id in written.teams.items():
        events.append(ChangeEvent("team.created", "team", team_id, {"name": name, **via}))
    for action in actions:
        if action.kind == "move":
            to_unit = _unit_id(action.unit, known, written)
            events.append(
                ChangeEvent(
                    "team.changed", "team", known.teams[action.team], {"to_unit_id": to_unit, **via}
                )
            )
    for user_id in published.new_users.values():
        role = {"role": UserRole.team_lead.value}
        events.append(ChangeEvent("user.created", "user", user_id, role, in_organisation=False))
        events.append(
            ChangeEvent("password.reset_link_issued", "user", user_id, {}, in_organisation=False)
        )
    for user_id, team_id in published.memberships:
        details = {"role": UserRole.team_lead.value, "team_id": team_id}
        events.append(ChangeEvent("assignment.added", "user", user_id, details))
    return events


def append_events(
    *,
    sessions: sessionmaker[Session],
    timings: db.BatchTimings,
    organisation_id: int,
    events: Sequence[ChangeEvent],
    actor: Actor,
    start: int = 0,
    appended: Callable[[Session, int], None] = lambda session, count: None,
) -> None:
    """``events[start:]`` appended in short batches after the final transaction made them
    true; ``appended(session, count)`` inside each batch's transaction, with how many of
    ``events`` are appended once it commits (a job keeps the count, ``run_job``)."""
    for begin in range(start, len(events), AUDIT_EVENTS_PER_BATCH):
        chunk = events[begin : begin + AUDIT_EVENTS_PER_BATCH]
        with db.write_batch(sessions, timings, f"import: {len(chunk)} audit events") as session:
            for event in chunk:
                audit.record(
                    session=session,
                    actor=actor,
                    action=event.action,
                    target_type=event.target_type,
                    target_id=event.target_id,
                    organisation_id=organisation_id if event.in_organisation else None,
                    details=event.details,
                )
            appended(session, begin + len(chunk))


def import_file(
    *,
    sessions: sessionmaker[Session],
    settings: Settings,
    organisation_id: int,
    data: bytes,
    actor: Actor,
    timings: db.BatchTimings,
    previewed: str | None = None,
    steps: ImportSteps | None = None,
    shadow_slug: str | None = None,
) -> SetupResult:
    """Import ``data`` into the organisation, all or nothing, in short transactions (see the
    module). ``previewed``: the digest of the file the preview showed (a different file is
    refused). A line in error raises SetupRefusedError; nothing is written then."""
    steps = steps or ImportSteps()
    if previewed is not None and not secrets.compare_digest(previewed, digest(data)):
        raise ChangedSincePreviewError()
    plan, actions, known, name = _check(sessions, organisation_id, data)
    if not plan.ok:
        raise bulk_setup.SetupRefusedError(plan)
    total = len(plan.rows)
    steps.progress(0, total)
    slug = shadow_slug or f"{SHADOW_SLUG}{secrets.token_hex(8)}"
    if not actions:  # the same file again: nothing to write but the event
        with db.write_batch(sessions, timings, "import: nothing to change") as session:
            _record_import(session, actor, organisation_id, plan)
        steps.progress(total, total)
        return SetupResult(plan=plan, password_links=())
    written = _Written(shadow_id=_shadow(sessions, timings, slug, name))
    try:
        _write_shadow(sessions, timings, actions, known, written, steps, total)
        steps.check()
        with db.write_batch(sessions, timings, "import: publish") as session:
            published = _publish(session, organisation_id, actions, known, written)
            _record_import(session, actor, organisation_id, plan)
            links = _links(session, settings, published)
            events = _change_events(actions, known, written, published)
            steps.published(session, plan, links, events)
    except IntegrityError:
        _remove_shadow(sessions, timings, slug)
        raise ImportClashError() from None
    except BaseException:
        _remove_shadow(sessions, timings, slug)
        raise
    steps.progress(total, total)
    append_events(
        sessions=sessions,
        timings=timings,
        organisation_id=organisation_id,
        events=events,
        actor=actor,
        appended=steps.appended,
    )
    return SetupResult(plan=plan, password_links=tuple(links))


def _record_import(session: Session, actor: Actor, organisation_id: int, plan: SetupPlan) -> None:
    audit.record(
        session=session,
        actor=actor,
        action="setup.imported",
        target_type="organisation",
        target_id=organisation_id,
        organisation_id=organisation_id,
        details={
            "rows": len(plan.rows),
            "units_created": plan.units_created,
            "teams_created": plan.teams_created,
            "teams_moved": plan.teams_moved,
            "leads_created": plan.leads_created,
            "leads_assigned": plan.leads_assigned,
        },
    )


def _links(session: Session, settings: Settings, published: _Published) -> list[PasswordLink]:
    if not published.new_users:
        return []
    accounts = session.exec(
        select(User).where(col(User.id).in_(list(published.new_users.values())))
    ).all()
    links = [
        PasswordLink(
            user.email,
            users.reset_url(
                settings=settings, token=users.make_reset_token(settings=settings, user=user)
            ),
        )
        for user in accounts
    ]
    position = {email: index for index, email in enumerate(published.new_users)}
    return sorted(links, key=lambda link: position[link.email])


# ---------------------------------------------------------------- as a job


def is_a_job(data: bytes) -> bool:
    """Whether a confirmed file is imported by a job rather than in the request (a file
    that cannot be read raises SetupFileError)."""
    return len(bulk_setup.parse(data)) > JOB_ROWS


def start_job(
    *,
    sessions: sessionmaker[Session],
    organisation_id: int,
    user_id: int,
    data: bytes,
    actor: Actor,
    previewed: str | None = None,
) -> ReportJob:
    """Queue the import of ``data`` (committed; the caller then enqueues the job). The file
    is kept as the job's input until the job ends."""
    with sessions() as session:
        job = ReportJob(
            organisation_id=organisation_id,
            created_by_id=user_id,
            kind=KIND,
            params={
                "previewed": previewed or digest(data),
                "request_id": actor.request_id,
                "via": actor.via,
            },
        )
        session.add(job)
        session.flush()
        assert job.id is not None
        session.add(
            JobFile(
                job_id=job.id, name=INPUT_FILE, media_type="text/csv", size=len(data), data=data
            )
        )
        session.commit()
        session.refresh(job)
        session.expunge(job)
    return job


def run_job(run: JobRun) -> None:
    """The queue's handler for ``KIND``: the batched import, with the job's progress, and
    the links kept as its output, shown once to its creator."""
    pieces = dict(run.pieces())
    params = run.job.params
    actor = Actor(
        user_id=run.job.created_by_id,
        request_id=params.get("request_id"),
        via=params.get("via"),
    )
    if LINKS_FILE in pieces:  # an earlier attempt published the import and then stopped
        kept = json.loads(pieces[LINKS_FILE])
        timings = db.BatchTimings()
        append_events(  # those it had not appended yet
            sessions=db.session_factory(run.engine),
            timings=timings,
            organisation_id=run.job.organisation_id,
            events=[ChangeEvent.from_data(event) for event in kept.get("events", [])],
            actor=actor,
            start=int(pieces.get(EVENTS_APPENDED, b"0")),
            appended=functools.partial(_keep_appended, run.job.id),
        )
        logger.info("import job %s, resumed: %s", run.job.id, timings.describe())
        run.finish(
            name=LINKS_FILE,
            media_type=runner.SHOWN_ONCE,
            data=json.dumps(kept["links"]).encode(),
            note=str(kept["summary"]),
        )
        return
    data = pieces.get(INPUT_FILE)
    if data is None:
        raise DomainError("The file to import is no longer there. Upload it again.")
    _check_starter(db.session_factory(run.engine), run.settings, run.job)
    timings = db.BatchTimings()
    result = import_file(
        sessions=db.session_factory(run.engine),
        settings=run.settings,
        organisation_id=run.job.organisation_id,
        data=data,
        actor=actor,
        timings=timings,
        previewed=params.get("previewed"),
        steps=ImportSteps(
            progress=lambda done, total: run.progress(total=total, done=done, failed=0),
            check=run.check,
            published=functools.partial(_keep_links, run.job.id),
            appended=functools.partial(_keep_appended, run.job.id),
        ),
        shadow_slug=f"{SHADOW_SLUG}job-{run.job.id}",
    )
    logger.info("import job %s: %s", run.job.id, timings.describe())
    run.finish(
        name=LINKS_FILE,
        media_type=runner.SHOWN_ONCE,
        data=json.dumps(
            [{"email": link.email, "url": link.url} for link in result.password_links]
        ).encode(),
        note=summary(result.plan),
    )


def _check_starter(sessions: sessionmaker[Session], settings: Settings, job: runner.Job) -> None:
    """The person who started the import may still import into the organisation (an
    assignment removed, an account disabled since: the job imports nothing)."""
    refused = DomainError(
        "The person who started this import may no longer import into this organisation. "
        "Nothing was changed."
    )
    with _read(sessions) as session:
        starter = tenancy.job_starter(
            session=session, user_id=job.created_by_id, organisation_id=job.organisation_id
        )
        session.rollback()
    if starter is None or not bulk_setup.may_import(principal=starter, settings=settings):
        raise refused


def _keep_links(
    job_id: int,
    session: Session,
    plan: SetupPlan,
    links: list[PasswordLink],
    events: list[ChangeEvent],
) -> None:
    """The links, summary and audit events to append, as a piece of the job, in the
    import's final transaction."""
    data = json.dumps(
        {
            "summary": summary(plan),
            "links": [{"email": link.email, "url": link.url} for link in links],
            "events": [event.to_data() for event in events],
        }
    ).encode()
    session.add(
        JobFile(
            job_id=job_id,
            name=LINKS_FILE,
            media_type=runner.SHOWN_ONCE,
            size=len(data),
            data=data,
        )
    )
    session.flush()


def _keep_appended(job_id: int, session: Session, count: int) -> None:
    """How many of the import's audit events are appended, as a piece of the job, in the
    transaction that appends the last of them."""
    session.exec(
        delete(JobFile).where(col(JobFile.job_id) == job_id, col(JobFile.name) == EVENTS_APPENDED)
    )
    data = str(count).encode()
    session.add(
        JobFile(
            job_id=job_id, name=EVENTS_APPENDED, media_type="text/plain", size=len(data), data=data
        )
    )
    session.flush()


def handlers() -> dict[str, runner.Handler]:
    return {KIND: run_job}


def summary(plan: SetupPlan) -> str:
    """One line for people: what the import did (kept on the job's page)."""
    return (
        f"Imported: {plan.units_created} business unit(s) and {plan.teams_created} team(s) "
        f"created, {plan.teams_moved} team(s) moved, {plan.leads_created} new team-lead "
        f"account(s), {plan.leads_assigned} existing lead(s) assigned."
    )


def get_job(*, session: Session, organisation_id: int, job_id: int, user_id: int) -> ReportJob:
    """An import job of the organisation, for the person who started it only (another
    viewer, like another organisation, gets a 404: its page can hold set-password links)."""
    job = session.exec(
        select(ReportJob).where(
            ReportJob.id == job_id,
            ReportJob.organisation_id == organisation_id,
            ReportJob.kind == KIND,
        )
    ).first()
    if job is None or job.created_by_id != user_id:
        raise NotFoundError()
    return job


def take_links(*, sessions: sessionmaker[Session], job: ReportJob) -> list[PasswordLink] | None:
    """The set-password links of a finished import job, deleted as they are read: the first
    call gets them, later ones None (also once the sweeper deleted them after a day)."""
    if job.status != ReportJobStatus.done:
        return None
    with sessions() as session:
        found = session.exec(
            select(JobFile).where(
                JobFile.job_id == job.id, col(JobFile.media_type) == runner.SHOWN_ONCE
            )
        ).first()
        if found is None:
            session.rollback()
            return None
        stored = json.loads(found.data)
        session.exec(delete(JobFile).where(col(JobFile.id) == found.id))
        session.commit()
    return [PasswordLink(str(item["email"]), str(item["url"])) for item in stored]
