"""Rescoring every round of an organisation under the newest rubric, as a job of the queue.

One path for the page, the API, the job queue and ``processlens rescore``. The rounds are
those whose original result is stored and whose rubric is older than the newest, with no
result under the newest rubric's label yet (``app.workspace.results.rescore_label``). Each is
checked and scored the way a single rescore is (``compute_rescore``: the result page's read
rules, so a round whose result is not shown is skipped and counted, never scored), in a read
transaction that holds no write lock, and stored in one short write (``db.write_batch``,
``store_rescore``). The original result never changes.

A rerun, or a job resumed after its worker was killed, skips the rounds that already have a
result under the label, so nothing is stored twice; the counts are read back from the stored
results (when each was computed), so a resumed job reports the same as one that ran through.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Final

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from app import catalog_store, db
from app.accounts import audit, tenancy
from app.accounts.audit import Actor
from app.config import Settings
from app.db import ReadSession, utcnow
from app.errors import ConflictError, DomainError, NotFoundError
from app.jobs import runner
from app.jobs import status as job_status
from app.jobs.runner import JobRun
from app.models import (
    AssessmentRound,
    Organisation,
    ReportJob,
    RoundMode,
    RoundResult,
    RoundStatus,
    Team,
)
from app.reports.context import ResultsNotVisibleError
from app.results.reads import rescore_label
from app.results.service import ORIGINAL
from app.rubric.loader import Catalog
from app.rubric.versions import release
from app.workspace.results import compute_rescore, store_rescore

logger = logging.getLogger(__name__)

KIND: Final = "organisation_rescore"
SUMMARY_FILE: Final = "rescore-summary.txt"
PROGRESS_EVERY_S: Final = 1.0  # a job's progress row is written at most this often


class NothingToRescoreError(ConflictError):
    title = "Nothing to rescore"
    default_message = (
        "Every round with a stored result already uses the newest rubric or has a result "
        "rescored under it: nothing was started."
    )


@dataclasses.dataclass(frozen=True)
class Outlook:
    """What rescoring the organisation would do now."""

    label: str  # the label of results rescored under the newest rubric
    release: str  # the newest rubric's version names
    to_rescore: int  # rounds under an older rubric, shown, without a result under ``label``
    teams: int  # teams those rounds belong to
    already: int  # rounds under an older rubric that have one
    hidden: int  # rounds under an older rubric whose result is not shown: none to rescore


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What a rescore of the organisation did (counted from the stored results)."""

    release: str
    rescored: int  # rounds rescored since the rescore began (earlier attempts included)
    teams: int
    already: int  # rounds rescored before it began
    hidden: int  # rounds skipped: their result is not shown (the anonymity rule)
    failed: int  # rounds whose answers could not be scored under the newest rubric
    current: int  # rounds that already use the newest rubric (nothing to rescore)

    def summary(self) -> str:
        """One line for people, kept on the finished job's page."""
        line = (
            f"Rescored {self.rescored:,} round{_s(self.rescored)} of {self.teams:,} "
            f"team{_s(self.teams)} under rubric {self.release}; {self.already:,} already "
            f"rescored, {self.hidden:,} not shown (fewer responses than the anonymity rule "
            "needs, or not published)"
        )
        if self.failed:
            line += f", {self.failed:,} could not be scored under the newest rubric"
        if self.current:
            line += f", {self.current:,} already on this rubric"
        return line + "."


def _s(count: int) -> str:
    return "" if count == 1 else "s"


@dataclasses.dataclass(frozen=True)
class Steps:
    """What the caller learns while rounds are rescored: ``progress(done, total)``, and
    ``check()`` before each round (a job stops there when its time is up)."""

    progress: Callable[[int, int], None] = lambda done, total: None
    check: Callable[[], None] = lambda: None


@dataclasses.dataclass(frozen=True)
class _Rounds:
    todo: tuple[tuple[int, int], ...]  # (round id, team id) without a result under the label
    hidden: frozenset[int]  # of those, the rounds whose stored result is plainly not shown
    labelled: tuple[tuple[int, int, datetime], ...]  # (round id, team id, when computed)
    current: int  # rounds with a stored result that already use the newest rubric


@dataclasses.dataclass(frozen=True)
class _Row:
    round_id: int
    team_id: int
    older: bool  # the round used an older rubric than the newest
    plainly_hidden: bool  # see _plainly_hidden


def _plainly_hidden(mode: str, status: str, results_min: int, respondents: int) -> bool:
    """A team survey not closed, or with fewer responses than its minimum, shows no result:
    the cheap part of the anonymity rule, so that counting what to rescore reads no more than
    a row per round (the job applies the whole rule, ``compute_rescore``, to every round)."""
    if mode == RoundMode.solo:
        return False
    return status != RoundStatus.closed or respondents < results_min


def _originals(session: Session, organisation_id: int, newest: Catalog) -> list[_Row]:
    """The organisation's rounds whose original result is stored, one row each."""
    newest_versions = dict(newest.versions)
    rows: list[_Row] = []
    for assessment_round, respondents in session.exec(
        select(AssessmentRound, RoundResult.respondent_count)
        .join(Team, col(Team.id) == col(AssessmentRound.team_id))
        .join(RoundResult, col(RoundResult.round_id) == col(AssessmentRound.id))
        .where(Team.organisation_id == organisation_id, RoundResult.label == ORIGINAL)
        .order_by(col(AssessmentRound.id))
    ).all():
        assert assessment_round.id is not None
        rows.append(
            _Row(
                round_id=assessment_round.id,
                team_id=assessment_round.team_id,
                older=dict(assessment_round.rubric_versions) != newest_versions,
                plainly_hidden=_plainly_hidden(
                    assessment_round.mode,
                    assessment_round.status,
                    assessment_round.results_min,
                    respondents,
                ),
            )
        )
    return rows


def _rounds(session: Session, organisation_id: int, newest: Catalog) -> _Rounds:
    """The organisation's rounds with a stored original under an older rubric, split by
    whether a result under the newest rubric's label is stored."""
    found = _originals(session, organisation_id, newest)
    older = [row for row in found if row.older]
    stored = dict(
        session.exec(
            select(RoundResult.round_id, RoundResult.computed_at)
            .join(AssessmentRound, col(AssessmentRound.id) == col(RoundResult.round_id))
            .join(Team, col(Team.id) == col(AssessmentRound.team_id))
            .where(
                Team.organisation_id == organisation_id,
                RoundResult.label == rescore_label(newest),
            )
        ).all()
    )
    todo = [row for row in older if row.round_id not in stored]
    return _Rounds(
        todo=tuple((row.round_id, row.team_id) for row in todo),
        hidden=frozenset(row.round_id for row in todo if row.plainly_hidden),
        labelled=tuple(
            (row.round_id, row.team_id, stored[row.round_id])
            for row in older
            if row.round_id in stored
        ),
        current=len(found) - len(older),
    )


def outlook(*, session: Session, organisation_id: int, newest: Catalog) -> Outlook:
    """How many rounds a rescore would score now (reads only)."""
    rounds = _rounds(session, organisation_id, newest)
    shown = [
        (round_id, team_id) for round_id, team_id in rounds.todo if round_id not in rounds.hidden
    ]
    return Outlook(
        label=rescore_label(newest),
        release=release(newest),
        to_rescore=len(shown),
        teams=len({team_id for _, team_id in shown}),
        already=len(rounds.labelled),
        hidden=len(rounds.hidden),
    )


def _read(
    read_sessions: sessionmaker[ReadSession], organisation_id: int, newest: Catalog
) -> _Rounds:
    with read_sessions() as session:
        if session.get(Organisation, organisation_id) is None:
            raise NotFoundError()
        rounds = _rounds(session, organisation_id, newest)
        session.rollback()
    return rounds


def _rescore_one(
    sessions: sessionmaker[Session],
    read_sessions: sessionmaker[ReadSession],
    timings: db.BatchTimings,
    round_id: int,
    newest: Catalog,
) -> str:
    """One round: scored in a read transaction, stored in a short write. Returns what
    happened: "rescored", "hidden", "failed" or "already" (stored meanwhile by another)."""
    with read_sessions() as session:
        assessment_round = session.get(AssessmentRound, round_id)
        if assessment_round is None:  # deleted since the rounds were read
            return "failed"
        try:
            computed = compute_rescore(
                session=session, assessment_round=assessment_round, newest=newest
            )
        except ResultsNotVisibleError:
            return "hidden"
        except (ValueError, db.ReadOnlySessionError):
            # a target or answer the newest rubric cannot take, or a solo round whose original
            # is out of date (its page recomputes it first): the round is left as it is
            logger.warning(
                "round %s could not be rescored under the newest rubric", round_id, exc_info=True
            )
            return "failed"
        finally:
            session.rollback()
    label = rescore_label(newest)
    with db.write_batch(sessions, timings, "rescore: one round") as session:
        held = session.get(AssessmentRound, round_id)
        if held is None:
            return "failed"
        if session.exec(
            select(RoundResult.id).where(
                RoundResult.round_id == round_id, RoundResult.label == label
            )
        ).first():
            return "already"
        store_rescore(session=session, assessment_round=held, newest=newest, computed=computed)
    return "rescored"


def rescore_organisation(
    *,
    sessions: sessionmaker[Session],
    read_sessions: sessionmaker[ReadSession],
    organisation_id: int,
    newest: Catalog,
    actor: Actor,
    timings: db.BatchTimings,
    since: datetime | None = None,
    steps: Steps | None = None,
) -> Outcome:
    """Rescore the organisation's rounds under ``newest`` (see the module), then record one
    ``organisation.rescored`` event. ``since``: when the rescore began (a job's creation, so
    that a resumed job counts what its earlier attempts stored as its own)."""
    steps = steps or Steps()
    since = since or utcnow()
    with db.write_batch(sessions, timings, "rescore: rubric files") as session:
        catalog_store.register_catalog(session=session, catalog=newest)
    rounds = _read(read_sessions, organisation_id, newest)
    earlier = sum(1 for _, _, computed_at in rounds.labelled if computed_at >= since)
    total = earlier + len(rounds.todo)
    steps.progress(earlier, total)
    tally = {"rescored": 0, "hidden": 0, "failed": 0, "already": 0}
    for position, (round_id, _) in enumerate(rounds.todo, start=1):
        steps.check()
        tally[_rescore_one(sessions, read_sessions, timings, round_id, newest)] += 1
        steps.progress(earlier + position, total)
    final = _read(read_sessions, organisation_id, newest)
    mine = [(round_id, team_id) for round_id, team_id, at in final.labelled if at >= since]
    outcome = Outcome(
        release=release(newest),
        rescored=len(mine),
        teams=len({team_id for _, team_id in mine}),
        already=len(final.labelled) - len(mine),
        hidden=tally["hidden"],
        failed=tally["failed"],
        current=final.current,
    )
    with db.write_batch(sessions, timings, "rescore: audit event") as session:
        audit.record(
            session=session,
            actor=actor,
            action="organisation.rescored",
            target_type="organisation",
            target_id=organisation_id,
            organisation_id=organisation_id,
            details={
                "label": rescore_label(newest),
                "rescored": outcome.rescored,
                "teams": outcome.teams,
                "already": outcome.already,
                "hidden": outcome.hidden,
                "failed": outcome.failed,
                "current": outcome.current,
            },
        )
    return outcome


# ---------------------------------------------------------------- as a job


def active_job(*, session: Session, organisation_id: int, settings: Settings) -> ReportJob | None:
    """The organisation's rescore under way, if any (one no worker has touched for long
    does not count: it is shown as stopped and may be started again)."""
    jobs = session.exec(
        select(ReportJob)
        .where(
            ReportJob.organisation_id == organisation_id,
            ReportJob.kind == KIND,
            col(ReportJob.status).in_([status.value for status in job_status.ACTIVE]),
        )
        .order_by(col(ReportJob.created_at).desc())
    ).all()
    return next((job for job in jobs if not job_status.is_stopped(job, settings)), None)


@dataclasses.dataclass(frozen=True)
class Started:
    """The job a start request leads to, and whether it was already under way."""

    job: ReportJob
    new: bool


def start_job(
    *,
    sessions: sessionmaker[Session],
    read_sessions: sessionmaker[ReadSession],
    settings: Settings,
    organisation_id: int,
    newest: Catalog,
    actor: Actor,
) -> Started:
    """The rescore under way, or a new one (committed; the caller then enqueues it). Raises
    NothingToRescoreError, starting nothing, when no round needs it. Counting the rounds
    only reads; only the job's row is a (short) write."""
    with read_sessions() as session:
        running = active_job(session=session, organisation_id=organisation_id, settings=settings)
        if (
            running is None
            and not outlook(
                session=session, organisation_id=organisation_id, newest=newest
            ).to_rescore
        ):
            raise NothingToRescoreError()
        if running is not None:
            session.expunge(running)  # kept as read (a rollback expires what the session holds)
        session.rollback()
    if running is not None:
        return Started(job=running, new=False)
    with sessions() as session:
        running = active_job(session=session, organisation_id=organisation_id, settings=settings)
        if running is not None:  # started by someone else meanwhile
            session.expunge(running)
            session.rollback()
            return Started(job=running, new=False)
        job = ReportJob(
            organisation_id=organisation_id,
            created_by_id=actor.user_id,
            kind=KIND,
            params={"request_id": actor.request_id, "via": actor.via},
        )
        session.add(job)
        session.commit()
        session.refresh(job)
        session.expunge(job)
    return Started(job=job, new=True)


def get_job(*, session: Session, organisation_id: int, job_id: int) -> ReportJob:
    """A rescore job of the organisation (loaded through tenancy); anything else is a 404."""
    job = session.exec(
        select(ReportJob).where(
            ReportJob.id == job_id,
            ReportJob.organisation_id == organisation_id,
            ReportJob.kind == KIND,
        )
    ).first()
    if job is None:
        raise NotFoundError()
    return job


def run_job(run: JobRun, *, catalog: Catalog) -> None:
    """The queue's handler for ``KIND``: the organisation rescored under ``catalog`` (the
    newest rubric), with the job's progress; the summary is kept on the finished job."""
    sessions = db.session_factory(run.engine)
    read_sessions = db.read_session_factory(run.engine)
    with read_sessions() as session:
        row = session.get(ReportJob, run.job.id)
        if row is None:  # pragma: no cover - the runner has just claimed it
            raise DomainError("The job no longer exists.")
        since = row.created_at
        starter = tenancy.job_starter(
            session=session, user_id=run.job.created_by_id, organisation_id=run.job.organisation_id
        )
        session.rollback()
    if starter is None or not starter.sees_organisations:
        # unassigned or disabled since the job was started: it rescores nothing
        raise DomainError(
            "The person who started this rescore may no longer see this organisation. "
            "Nothing was rescored."
        )
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if done in (0, total) or now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            run.progress(total=total, done=done, failed=0)

    timings = db.BatchTimings()
    outcome = rescore_organisation(
        sessions=sessions,
        read_sessions=read_sessions,
        organisation_id=run.job.organisation_id,
        newest=catalog,
        actor=Actor(
            user_id=run.job.created_by_id,
            request_id=run.job.params.get("request_id"),
            via=run.job.params.get("via"),
        ),
        timings=timings,
        since=since,
        steps=Steps(progress=progress, check=run.check),
    )
    logger.info("rescore job %s: %s", run.job.id, timings.describe())
    line = outcome.summary()
    run.finish(name=SUMMARY_FILE, media_type="text/plain", data=line.encode(), note=line)


def handlers(catalog: Catalog) -> dict[str, runner.Handler]:
    """What a rescore job does, for the queue (``catalog``: the newest rubric)."""
    return {KIND: functools.partial(run_job, catalog=catalog)}
