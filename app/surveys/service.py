"""A respondent's survey: load it by resume link, save answers safely, review and submit.

The HTML pages (routes.py) and the JSON API (api.py) call these functions and nothing else, so a
bad answer, a stale tab or a second submit is refused the same way everywhere. Services only
``flush()``: the request's session dependency commits or rolls back (one exception: the common
answer save commits its single statement at once, see ``_save_if_unchanged``).

No lost answers:
- a save from the version it loaded is one ``UPDATE ... WHERE version = ?`` (the write lock
  held for that statement and the commit alone); when the row moved on since, the save
  falls back to the careful path:
- every save names the response version it started from; the row is locked (``FOR UPDATE`` on
  PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises writers) and a save from an older
  version is refused with the answers that differ (``StaleResponseError``), never merged
  silently. A stale save that would change nothing is simply accepted.
- ``Response.version`` is SQLAlchemy's version counter as a second line of defence: an UPDATE
  that raced past the lock matches no row and raises instead of overwriting.
- a submit carries the response's ``submission_key``; a replay of the same submit returns the
  first submission instead of failing or creating another.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Final

from sqlalchemy import Update, bindparam, false, update
from sqlalchemy.orm import sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from app import catalog_store
from app.accounts.tokens import hash_token, same
from app.config import Settings
from app.db import utcnow
from app.errors import ConflictError, DomainError, InvalidInputError, NotFoundError
from app.models import (
    AssessmentRound,
    Organisation,
    Respondent,
    RespondentRole,
    Response,
    ResponseStatus,
    RoundMode,
    RoundStatus,
    Team,
)
from app.results.service import round_settings, store_round_result
from app.rubric.answers import (
    Answer,
    AnswerError,
    AskedQuestion,
    RoundSettings,
    asked_questions,
    parse_answer,
    validate_answer,
    validate_role,
)
from app.rubric.loader import Catalog
from app.rubric.schema import Instrument, Role, Section
from app.rubric.scoring import visible
from app.surveys import paging

logger = logging.getLogger(__name__)

REVIEW: Final = "review"
MAX_ANSWERS_PER_SAVE: Final = 200

# ---------------------------------------------------------------- errors


class ResumeLinkUnavailableError(NotFoundError):
    """No respondent has this resume link (mistyped, or erased): one neutral answer."""

    title: ClassVar[str] = "This link does not work"
    default_message: ClassVar[str] = (
        "We could not open a survey with this link. Check that the whole link was copied; if "
        "it still does not work, ask the person who invited you for a new invitation."
    )


class SurveyClosedError(DomainError):
    status_code: ClassVar[int] = 410
    title: ClassVar[str] = "This survey has closed"
    default_message: ClassVar[str] = (
        "The survey this link belongs to has closed, so answers can no longer be given or "
        "changed. Thank you for your time; ask your team lead about the results."
    )


class AlreadySubmittedError(ConflictError):
    title: ClassVar[str] = "Already submitted"
    default_message: ClassVar[str] = (
        "These answers have been submitted, so they can no longer be changed. Thank you!"
    )


class OutdatedReviewError(ConflictError):
    title: ClassVar[str] = "Your answers changed in the meantime"
    default_message: ClassVar[str] = (
        "Your answers were changed in another tab or on another device after you opened the "
        "review page. Nothing was submitted: open the review page again, check your answers "
        "and submit from there."
    )


class InvalidAnswersError(InvalidInputError):
    """One or more answers do not fit their questions; ``errors`` maps question id to a
    message in plain words. Nothing was saved."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        count = len(self.errors)
        super().__init__(
            "One answer needs another look; nothing was saved."
            if count == 1
            else f"{count} answers need another look; nothing was saved."
        )


class MissingAnswersError(InvalidInputError):
    """A submit with required questions unanswered; ``missing`` lists their ids."""

    def __init__(self, missing: tuple[str, ...]) -> None:
        self.missing = missing
        count = len(missing)
        noun = "question is" if count == 1 else "questions are"
        super().__init__(
            f"{count} required {noun} still unanswered, so nothing was submitted. Answer them "
            '("don\'t know" is a fine answer) and submit again.'
        )


@dataclasses.dataclass(frozen=True)
class AnswerConflict:
    """One answer a stale save would have changed: this tab's version and the stored one.

    ``base`` is what the stale tab showed before the respondent edited it, when the tab sent
    it: it tells which side changed (``None`` for "unanswered", ``UNKNOWN_BASE`` if not sent).
    """

    qid: str
    yours: Mapping[str, Any] | None
    saved: Mapping[str, Any] | None
    base: object  # Mapping[str, Any] | None, or UNKNOWN_BASE

    @property
    def changed_here(self) -> bool:
        """True unless the tab is known to have left this answer as it found it."""
        return self.base is UNKNOWN_BASE or self.base != self.yours


UNKNOWN_BASE: Final = object()


class StaleResponseError(ConflictError):
    """The save started from an older version of the response and would change answers that
    were saved since: nothing is saved; ``conflicts`` holds both versions of each."""

    title: ClassVar[str] = "Your answers were changed in another tab"
    default_message: ClassVar[str] = (
        "Some of these answers were saved from another tab or device while this page was "
        "open. Nothing was overwritten: choose which version of each answer to keep."
    )

    def __init__(self, *, version: int | None, conflicts: tuple[AnswerConflict, ...]) -> None:
        super().__init__()
        self.version = version
        self.conflicts = conflicts


# ---------------------------------------------------------------- the survey's shape


@dataclasses.dataclass(frozen=True)
class PagePart:
    """One section's questions on a page (a page may join several sections)."""

    key: str  # "instrument.section" ("instrument.section~2" for a long section's next part)
    section: Section
    questions: tuple[AskedQuestion, ...]


@dataclasses.dataclass(frozen=True)
class SurveyPage:
    """One page of the survey: one or more neighbouring sections of one instrument, grouped
    by app.surveys.paging (never by changing the rubric files)."""

    index: int  # 1-based position in the plan (the page's address)
    key: str  # its first part's key, stable across role changes
    instrument: Instrument
    parts: tuple[PagePart, ...]

    @property
    def section(self) -> Section:
        """The page's first section."""
        return self.parts[0].section

    @property
    def questions(self) -> tuple[AskedQuestion, ...]:
        return tuple(item for part in self.parts for item in part.questions)

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(part.key for part in self.parts)


@dataclasses.dataclass(frozen=True)
class SurveyPlan:
    """What one role is asked in one round, page by page, in the round's instrument order."""

    settings: RoundSettings
    role: str
    pages: tuple[SurveyPage, ...]
    asked: tuple[AskedQuestion, ...]
    by_qid: Mapping[str, AskedQuestion]
    page_of: Mapping[str, SurveyPage]

    def page(self, index: int) -> SurveyPage:
        if not 1 <= index <= len(self.pages):
            raise NotFoundError("This survey has no such page. Go back to the survey's start.")
        return self.pages[index - 1]

    def page_by_key(self, key: str | None) -> SurveyPage | None:
        """The page showing the section ``key`` names (a page's own key, or one of the
        sections it joined: a resume position recorded before pages were grouped)."""
        return next((page for page in self.pages if key in page.keys), None)


def _pages(catalog: Catalog, asked: tuple[AskedQuestion, ...]) -> tuple[SurveyPage, ...]:
    """The asked questions as pages: by instrument, sections joined by app.surveys.paging."""
    by_instrument: dict[str, dict[str, list[AskedQuestion]]] = {}
    sections: dict[tuple[str, str], Section] = {}
    for item in asked:
        section = next(s for s in item.instrument.sections if item.question in s.questions)
        by_instrument.setdefault(item.instrument.id, {}).setdefault(section.id, []).append(item)
        sections[(item.instrument.id, section.id)] = section
    pages: list[SurveyPage] = []
    seen: dict[str, int] = {}  # parts per section so far (a long section is split)
    for instrument_id, grouped in by_instrument.items():
        section_of = {item.qid: s for s, items in grouped.items() for item in items}
        for runs in paging.group_sections(list(grouped.values())):
            parts: list[PagePart] = []
            for run in runs:
                section_id = section_of[run[0].qid]
                key = f"{instrument_id}.{section_id}"
                seen[key] = seen.get(key, 0) + 1
                parts.append(
                    PagePart(
                        key=key if seen[key] == 1 else f"{key}~{seen[key]}",
                        section=sections[(instrument_id, section_id)],
                        questions=run,
                    )
                )
            pages.append(
                SurveyPage(
                    index=len(pages) + 1,
                    key=parts[0].key,
                    instrument=catalog.instruments[instrument_id],
                    parts=tuple(parts),
                )
            )
    return tuple(pages)


def survey_plan(catalog: Catalog, settings: RoundSettings, role: Role) -> SurveyPlan:
    """The pages a respondent in ``role`` sees (cached on the catalog, which never changes)."""
    key = (
        "survey-plan",
        settings.instrument_ids(catalog),
        settings.kind,
        settings.mode,
        settings.stage,  # questions not expected at the stage are not asked
        role,
    )
    cached = catalog.cache.get(key)
    if isinstance(cached, SurveyPlan):
        return cached
    asked = asked_questions(catalog, settings, role)
    pages = _pages(catalog, asked)
    plan = SurveyPlan(
        settings=settings,
        role=role,
        pages=pages,
        asked=asked,
        by_qid={item.qid: item for item in asked},
        page_of={item.qid: page for page in pages for item in page.questions},
    )
    catalog.cache[key] = plan
    return plan


@dataclasses.dataclass(frozen=True)
class Progress:
    """How far a respondent is: questions shown to them, answered, and still missing."""

    answered: int
    total: int
    required_missing: tuple[str, ...]
    optional_missing: tuple[str, ...]
    hidden: frozenset[str]

    @property
    def complete(self) -> bool:
        return not self.required_missing


def answer_values(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Stored answers as the rule language sees them: question id -> value."""
    return {
        qid: raw.get("value") if isinstance(raw, Mapping) else raw for qid, raw in answers.items()
    }


def progress_of(catalog: Catalog, plan: SurveyPlan, answers: Mapping[str, Any]) -> Progress:
    hidden = visible(catalog, plan.settings, plan.asked, answer_values(answers))
    shown = [item for item in plan.asked if item.qid not in hidden]
    missing = [item for item in shown if item.qid not in answers]
    return Progress(
        answered=len(shown) - len(missing),
        total=len(shown),
        required_missing=tuple(item.qid for item in missing if item.required),
        optional_missing=tuple(item.qid for item in missing if not item.required),
        hidden=hidden,
    )


# ---------------------------------------------------------------- loading a survey


@dataclasses.dataclass
class Survey:
    """Everything a resume link opens: the respondent, their response, round and rubric."""

    respondent: Respondent
    response: Response
    assessment_round: AssessmentRound
    catalog: Catalog

    @property
    def plan(self) -> SurveyPlan:
        return survey_plan(
            self.catalog, round_settings(self.assessment_round), self.respondent.role
        )

    @property
    def submitted(self) -> bool:
        return self.response.status == ResponseStatus.submitted

    @property
    def closed(self) -> bool:
        return round_closed(self.assessment_round)

    @property
    def editable(self) -> bool:
        return not self.submitted and not self.closed

    @property
    def version(self) -> int:
        return self.response.version or 1

    def progress(self) -> Progress:
        return progress_of(self.catalog, self.plan, self.response.answers)


def round_closed(assessment_round: AssessmentRound, *, now: datetime | None = None) -> bool:
    """Closed by the lead, or past its closing date."""
    if assessment_round.status == RoundStatus.closed:
        return True
    closes_at = assessment_round.closes_at
    return closes_at is not None and closes_at <= (now or utcnow())


def resume_token_hash(settings: Settings, resume_token: str) -> str:
    return hash_token(settings, resume_token, purpose="resume")


@functools.cache
def _survey_by_resume_link() -> Select[Respondent, Response, AssessmentRound]:
    """Respondent, response and round in one query (every survey request starts here), built
    once: building it per request was a quarter of loading a survey. A link into an
    organisation still being restored (pending) works once it is complete."""
    return (
        select(Respondent, Response, AssessmentRound)
        .join(Response, col(Response.respondent_id) == col(Respondent.id))
        .join(AssessmentRound, col(AssessmentRound.id) == col(Respondent.round_id))
        .join(Team, col(Team.id) == col(AssessmentRound.team_id))
        .join(Organisation, col(Organisation.id) == col(Team.organisation_id))
        .where(
            col(Respondent.resume_token_hash) == bindparam("token_hash"),
            col(Organisation.pending) == false(),
        )
    )


def load_survey(*, session: Session, settings: Settings, resume_token: str) -> Survey:
    """The survey behind a resume link, or ResumeLinkUnavailableError (404, neutral)."""
    if not resume_token or len(resume_token) > 200:
        raise ResumeLinkUnavailableError()
    found = session.exec(
        _survey_by_resume_link(),
        params={"token_hash": resume_token_hash(settings, resume_token)},
    ).first()
    if found is None:
        raise ResumeLinkUnavailableError()
    respondent, response, assessment_round = found
    catalog = catalog_store.catalog_for(session=session, versions=assessment_round.rubric_versions)
    return Survey(
        respondent=respondent,
        response=response,
        assessment_round=assessment_round,
        catalog=catalog,
    )


def _lock_response(session: Session, survey: Survey) -> Response:
    """Re-read the response under a row lock, so the version compared is the latest."""
    locked = session.exec(
        select(Response)
        .where(Response.id == survey.response.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    survey.response = locked
    return locked


def _require_editable(survey: Survey) -> None:
    if survey.submitted:
        raise AlreadySubmittedError()
    if survey.closed:
        raise SurveyClosedError()


def resume_target(survey: Survey) -> SurveyPage | str | None:
    """Where the resume link returns to: the page last moved to, the review page, or None
    (not started: the welcome page)."""
    plan = survey.plan
    resume_at = survey.response.resume_at
    if resume_at == REVIEW:
        return REVIEW
    page = plan.page_by_key(resume_at)
    if page is not None:
        return page
    if not survey.response.answers:
        return None
    # the role changed and the page is gone: the first page with something missing
    progress = survey.progress()
    for qid in progress.required_missing + progress.optional_missing:
        return plan.page_of[qid]
    return REVIEW


# ---------------------------------------------------------------- checking answers


def sentence(message: str) -> str:
    """An engine message as a sentence: capital first letter, full stop."""
    text = message.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    # no full stop after punctuation or an address ("... http:// or https://")
    return text if not text[-1].isalnum() and text[-1] not in ")'\"" else text + "."


def _asked_problem(survey: Survey, qid: str) -> str | None:
    """Why this respondent may not answer ``qid``, or None if they may."""
    plan = survey.plan
    if qid in plan.by_qid:
        return None
    ref = survey.catalog.questions.get(qid)
    if ref is None:
        return "There is no such question in this survey's version of the questionnaire."
    if ref.instrument.id not in plan.settings.instrument_ids(survey.catalog):
        return (
            f"This question belongs to '{ref.instrument.title}', which this survey does not "
            "include."
        )
    if plan.settings.kind == "quick" and not ref.question.quick:
        return "This question is not part of the quick check."
    return "This question is not asked of your role in this survey."


def parse_answers(raw_answers: Mapping[str, Any]) -> dict[str, Answer | None]:
    """Answers in their JSON form (a value, or ``{"value", "note", ...}``; null clears one)."""
    if len(raw_answers) > MAX_ANSWERS_PER_SAVE:
        raise InvalidInputError(f"Send at most {MAX_ANSWERS_PER_SAVE} answers at once.")
    parsed: dict[str, Answer | None] = {}
    errors: dict[str, str] = {}
    for qid, raw in raw_answers.items():
        try:
            parsed[qid] = None if raw is None else parse_answer(raw)
        except AnswerError as error:
            errors[qid] = sentence(error.message)
    if errors:
        raise InvalidAnswersError(errors)
    return parsed


def check_answers(
    *, survey: Survey, changes: Mapping[str, Answer | None]
) -> dict[str, Answer | None]:
    """Every change checked against its question; raises InvalidAnswersError with every
    problem (not only the first), so a page can show each message next to its question."""
    checked: dict[str, Answer | None] = {}
    errors: dict[str, str] = {}
    for qid, answer in changes.items():
        problem = _asked_problem(survey, qid)
        if problem is not None:
            errors[qid] = problem
            continue
        if answer is None:
            checked[qid] = None
            continue
        try:
            checked[qid] = validate_answer(survey.plan.by_qid[qid].question, answer, qid=qid)
        except AnswerError as error:
            errors[qid] = sentence(error.message)
    if errors:
        raise InvalidAnswersError(errors)
    return checked


# ---------------------------------------------------------------- saving


@dataclasses.dataclass(frozen=True)
class SaveResult:
    version: int
    progress: Progress
    answers: Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class PreparedSave:
    """A save's answers checked, and their outcome worked out, before anything is locked.

    ``answers`` are the response's answers as loaded with the changes applied, ``progress``
    is theirs and ``version`` the response version they were loaded at: when the locked row
    still has that version, the save stores exactly ``answers``, so the display conditions
    are not evaluated again while the write lock is held (on SQLite every writer waits).
    """

    changes: Mapping[str, Answer | None]
    answers: Mapping[str, Any]
    progress: Progress
    version: int


def prepare_save(*, survey: Survey, changes: Mapping[str, Answer | None]) -> PreparedSave:
    """Check ``changes`` (InvalidAnswersError: nothing saved) and work out where they lead."""
    _require_editable(survey)
    checked = check_answers(survey=survey, changes=changes)
    answers = preview_answers(survey, checked)
    return PreparedSave(
        changes=checked,
        answers=answers,
        progress=progress_of(survey.catalog, survey.plan, answers),
        version=survey.version,
    )


def save_answers(
    *,
    session: Session,
    survey: Survey,
    version: int,
    changes: Mapping[str, Answer | None] | PreparedSave,
    resume_at: str | None = None,
    base: Mapping[str, Any] | None = None,
) -> SaveResult:
    """Save ``changes`` (question id -> answer, or None to clear it; or ``prepare_save``'s
    result for them) made from ``version``.

    Raises InvalidAnswersError (nothing saved), StaleResponseError when another save came in
    since ``version`` and the answers differ, AlreadySubmittedError or SurveyClosedError.
    ``resume_at`` records the page the respondent moves to; ``base`` (question id -> the
    answer the page showed) only helps the conflict page say which side changed what.
    """
    prepared = (
        changes
        if isinstance(changes, PreparedSave)
        else prepare_save(survey=survey, changes=changes)
    )
    if version == survey.version == prepared.version:
        saved = _save_if_unchanged(session, survey, prepared, resume_at)
        if saved is not None:
            return saved
    response = _lock_response(session, survey)
    _require_editable(survey)  # a submit may have landed while we waited for the lock
    # unchanged since it was loaded: what this save stores is exactly ``prepared.answers``
    as_prepared = survey.version == prepared.version
    stored: dict[str, Any] = dict(response.answers)
    wanted = {qid: None if a is None else a.to_data() for qid, a in prepared.changes.items()}
    differs = [qid for qid, data in wanted.items() if data != stored.get(qid)]
    if version != survey.version and differs:
        raise StaleResponseError(
            version=survey.version,
            conflicts=tuple(
                AnswerConflict(
                    qid=qid,
                    yours=wanted[qid],
                    saved=stored.get(qid),
                    base=UNKNOWN_BASE if base is None else base.get(qid),
                )
                for qid in differs
            ),
        )
    if differs:
        merged = dict(stored)
        for qid in differs:
            data = wanted[qid]
            if data is None:
                merged.pop(qid, None)
            else:
                merged[qid] = data
        response.answers = merged  # replaced, never mutated in place
    if resume_at is not None and resume_at != response.resume_at:
        response.resume_at = resume_at
    try:
        session.flush()
    except StaleDataError:  # pragma: no cover - the row lock makes this a last resort
        raise StaleResponseError(version=None, conflicts=()) from None
    return SaveResult(
        version=survey.version,
        progress=prepared.progress if as_prepared else survey.progress(),
        answers=dict(response.answers),
    )


@functools.cache
def _update_if_unchanged() -> Update:
    """The common save's UPDATE, built once, in SQLAlchemy Core with bind parameters: built
    per save and run through the ORM's bulk-update path, it was a third of a save's CPU time
    (no ORM event needs it: responses are not in a cache's watched tables)."""
    table = Response.__table__  # type: ignore[attr-defined]
    return (
        update(table)
        .where(
            table.c.id == bindparam("row_id"),
            table.c.version == bindparam("loaded_version"),
            table.c.status == bindparam("draft", type_=table.c.status.type),
        )
        .values(
            answers=bindparam("new_answers", type_=table.c.answers.type),
            resume_at=bindparam("new_resume_at", type_=table.c.resume_at.type),
            updated_at=bindparam("new_updated_at", type_=table.c.updated_at.type),
            version=bindparam("new_version"),
        )
    )


def _save_if_unchanged(
    session: Session, survey: Survey, prepared: PreparedSave, resume_at: str | None
) -> SaveResult | None:
    """The common save in one statement: ``UPDATE ... WHERE version = <loaded version>``.

    Everything was worked out from the response as loaded, before any lock; when no other
    save or submit came in since, this single UPDATE stores it and is committed at once, so
    the write lock is held for that statement and the commit alone. None (nothing written)
    when the row moved on: the caller then re-reads it under the lock and compares answer by
    answer.
    """
    response = survey.response
    answers = dict(prepared.answers)
    new_resume_at = response.resume_at if resume_at is None else resume_at
    if answers == response.answers and new_resume_at == response.resume_at:
        return SaveResult(version=survey.version, progress=prepared.progress, answers=answers)
    now = utcnow()
    result = session.connection().execute(
        _update_if_unchanged(),
        {
            "row_id": response.id,
            "loaded_version": prepared.version,
            "draft": ResponseStatus.draft,
            "new_answers": answers,
            "new_resume_at": new_resume_at,
            "new_updated_at": now,
            "new_version": prepared.version + 1,
        },
    )
    if result.rowcount != 1:
        return None
    # The save is this one statement: commit it now, so that the write lock (on SQLite every
    # other writer waits for it) is not held while the response is built and the request's
    # session dependency gets to its commit. The exception to "services only flush", for the
    # survey's hottest write; the callers write nothing after a save.
    session.commit()
    # the loaded object now matches the row; set as committed so no second UPDATE follows
    for name, value in (
        ("answers", answers),
        ("resume_at", new_resume_at),
        ("updated_at", now),
        ("version", prepared.version + 1),
    ):
        set_committed_value(response, name, value)
    return SaveResult(version=survey.version, progress=prepared.progress, answers=answers)


def preview_answers(survey: Survey, changes: Mapping[str, Answer | None]) -> dict[str, Any]:
    """The stored answers with ``changes`` applied (nothing saved): to work out, before a
    save, which questions its answers will show or hide."""
    merged = dict(survey.response.answers)
    for qid, answer in changes.items():
        if answer is None:
            merged.pop(qid, None)
        else:
            merged[qid] = answer.to_data()
    return merged


def change_role(*, session: Session, survey: Survey, role: str) -> None:
    """Correct the respondent's role (the link pre-sets it). Answers stay; the questions
    shown follow the new role, and answers to questions it is not asked are dropped when the
    response is submitted."""
    _require_editable(survey)
    if role not in set(RespondentRole):
        raise InvalidInputError("Choose one of the roles in the list.")
    if survey.respondent.role != role:
        survey.respondent.role = validate_role(role)
        session.add(survey.respondent)
        session.flush()


# ---------------------------------------------------------------- submitting


@dataclasses.dataclass(frozen=True)
class Submission:
    response: Response
    first_time: bool  # False for a replay of the same submit


def submit_response(
    *, session: Session, survey: Survey, submission_key: str, version: int | None = None
) -> Submission:
    """Submit the response once. The same ``submission_key`` again (a double click, a
    resubmitted form, a replayed request) returns the first submission unchanged."""
    response = _lock_response(session, survey)
    if response.status == ResponseStatus.submitted:
        if submission_key and same(submission_key, response.submission_key):
            return Submission(response=response, first_time=False)
        raise AlreadySubmittedError()
    if survey.closed:
        raise SurveyClosedError()
    if not submission_key or not same(submission_key, response.submission_key):
        raise InvalidInputError(
            "This submit button belongs to an old copy of the page. Open the review page "
            "again and submit from there."
        )
    if version is not None and version != survey.version:
        raise OutdatedReviewError()
    plan = survey.plan
    if not plan.asked:
        raise InvalidInputError(
            "This survey has no questions for your role, so there is nothing to submit. "
            "Choose your role on the survey's welcome page."
        )
    progress = survey.progress()
    if progress.required_missing:
        raise MissingAnswersError(progress.required_missing)
    # a submission holds answers to the questions this role was asked, nothing else
    kept = {qid: data for qid, data in response.answers.items() if qid in plan.by_qid}
    if kept != response.answers:
        response.answers = kept
    response.status = ResponseStatus.submitted
    response.submitted_at = utcnow()
    response.resume_at = None
    try:
        session.flush()
    except StaleDataError:  # pragma: no cover - the row lock makes this a last resort
        raise OutdatedReviewError() from None
    return Submission(response=response, first_time=True)


def refresh_round_result(sessions: sessionmaker[Session], round_id: int) -> None:
    """Recompute a solo round's stored result in a short transaction of its own.

    Runs after a submission's response has been sent (a background task), so the
    respondent never waits for scoring and the submit's write transaction stays short. The
    round row is locked first, so two submissions recompute one after the other. A team
    survey's result is published once, when the round closes, never after each submission:
    comparing the results before and after one submission would give that respondent's
    answers.
    """
    with sessions() as session:
        try:
            assessment_round = session.exec(
                select(AssessmentRound).where(AssessmentRound.id == round_id).with_for_update()
            ).first()
            if assessment_round is not None and assessment_round.mode == RoundMode.solo:
                store_round_result(session=session, assessment_round=assessment_round)
            session.commit()
        except Exception:
            session.rollback()
            # the next submission (or the results page) recomputes; the answers are safe
            logger.exception("could not recompute the result of round %s", round_id)
