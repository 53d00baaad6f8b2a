"""The survey's JSON API: the same steps as the pages, through the same service functions.

A respondent's resume token is their credential here (in the path, never logged): a script
needs nothing else. A request that sends a cookie is treated as a browser's: its unsafe
requests also send ``X-CSRF-Token`` with the ``csrf_token`` the GET endpoints return, like the
pages' forms, so a browser cannot be made to post here from another site. A request with no
cookie cannot have been forged that way (a browser sends the site's cookies on its own, and
the cross-site check refuses it first), so it needs no CSRF token; one that sends a wrong token
anyway is still refused.

Errors speak of tokens and calls, not of pages (``SURVEY_API_MESSAGES``).

- ``GET  /api/survey/invitations/{token}``: what the welcome page shows
- ``POST /api/survey/invitations/{token}/start``: start (counts one use) -> the resume token
- ``GET  /api/survey/{token}``: the questionnaire for this respondent, their answers, version
- ``PUT  /api/survey/{token}/answers``: save answers made from a version (409 when stale)
- ``PUT  /api/survey/{token}/role``: correct the role
- ``POST /api/survey/{token}/submit``: submit once (a replay returns the same submission)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

from asgi_correlation_id import correlation_id
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr
from starlette.background import BackgroundTask

from app import catalog_store
from app.accounts import ratelimit
from app.accounts.csrf import CSRF_HEADER, CsrfError, bind_csrf_token, require_csrf
from app.accounts.tokens import hash_token
from app.db import ReadSessionDep, SessionDep
from app.errors import DomainError, InvalidInputError
from app.models import Team
from app.results.service import round_settings
from app.rubric.answers import MAX_NOTE_CHARS, MAX_URL_CHARS
from app.rubric.rules import DONT_KNOW, NOT_APPLICABLE
from app.surveys import estimate, invitations, pages, service
from app.surveys.invitations import InvitationUnavailableError
from app.surveys.routes import guarded_lookup, load, load_for_writing, settings_of
from app.surveys.service import (
    AlreadySubmittedError,
    InvalidAnswersError,
    MissingAnswersError,
    ResumeLinkUnavailableError,
    StaleResponseError,
    Survey,
    SurveyClosedError,
)


class DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKeyError(key)
        seen[key] = value
    return seen


async def refuse_duplicate_keys(request: Request) -> None:
    """A JSON object with a key twice is ambiguous (which answer counts?): Python's parser
    would silently keep the last one, so it is refused instead and nothing is saved."""
    if request.method not in ("POST", "PUT") or "json" not in request.headers.get(
        "content-type", ""
    ):
        return
    try:
        json.loads(await request.body(), object_pairs_hook=_object_without_duplicates)
    except DuplicateKeyError as error:
        raise InvalidInputError(
            f"The key {error.key[:80]!r} appears more than once in the request, so nothing was "
            "saved. Send each key once."
        ) from None
    except ValueError:
        return  # not JSON at all: FastAPI has answered that already


SURVEY_CSRF_MESSAGE = (
    "This call sent a cookie, so it is treated as a browser's and needs the X-CSRF-Token "
    "header with the csrf_token that GET /api/survey/{token} (or the invitation's GET) "
    "returns. Nothing was changed. A script can instead send no cookie at all: the token in "
    "the path is enough."
)
# The survey's errors as a script should read them (the pages' speak of links and tabs).
SURVEY_API_MESSAGES: dict[type[DomainError], str] = {
    ResumeLinkUnavailableError: "No survey response has this resume token (mistyped, cut "
    "short or erased). Use the resume_token that the start call returned, whole.",
    InvitationUnavailableError: "This invitation token does not work: it is unknown, expired, "
    "revoked or used up. Ask whoever runs the round for a new invitation link.",
    SurveyClosedError: "The round this resume token belongs to has closed, so answers can no "
    "longer be saved or changed.",
    invitations.RoundClosedError: "The round this invitation token belongs to has closed, so "
    "it can no longer be started.",
    AlreadySubmittedError: "This response has been submitted, so it can no longer be "
    "changed. GET /api/survey/{token} shows what was submitted.",
    StaleResponseError: "Answers were saved from another version since the one this call "
    "started from, so nothing was saved. 'conflicts' lists both values of each; GET the "
    "survey again and send your answers with its version.",
}


class SurveyApiRoute(APIRoute):
    """Rewords the survey's own errors for API callers (only their default messages)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def worded(request: Request) -> Response:
            try:
                return await handler(request)
            except DomainError as error:
                if error.message == error.default_message and type(error) in SURVEY_API_MESSAGES:
                    error.message = SURVEY_API_MESSAGES[type(error)]
                raise

        return worded


router = APIRouter(
    prefix="/api/survey",
    tags=["survey"],
    dependencies=[Depends(refuse_duplicate_keys)],
    route_class=SurveyApiRoute,
)

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "Bad input; nothing was changed. ``errors`` maps question ids to messages."
    },
    403: {"description": "A cookie was sent without X-CSRF-Token (send no cookie, or it)."},
    404: {"description": "The token does not work (unknown, expired, revoked or used up)."},
    409: {"description": "Stale version, or already submitted; nothing was changed."},
    410: {"description": "The survey has closed."},
    429: {"description": "Too many requests; see Retry-After."},
}


# ---------------------------------------------------------------- shapes


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


AnswerValue = StrictStr | StrictInt | StrictFloat | list[StrictStr]


class AnswerIn(_Strict):
    """One answer: an option id ("dont_know" and "not_applicable" where offered), a list of
    option ids, a number or text, with an optional note and evidence link."""

    value: AnswerValue
    note: Annotated[StrictStr, Field(max_length=MAX_NOTE_CHARS * 2)] | None = None
    evidence: Annotated[StrictStr, Field(max_length=MAX_URL_CHARS * 2)] | None = None
    evidence_backed: StrictBool = False
    note_shareable: StrictBool = False


class SaveIn(_Strict):
    version: StrictInt = Field(ge=1, description="The response version the answers start from.")
    answers: dict[str, AnswerIn | AnswerValue | None] = Field(
        max_length=service.MAX_ANSWERS_PER_SAVE,
        description="Question id -> an answer object, or just its value; null clears it.",
    )


class RoleIn(_Strict):
    role: StrictStr


class StartIn(_Strict):
    role: StrictStr | None = Field(default=None, description="Correct the link's role.")


class SubmitIn(_Strict):
    submission_key: StrictStr = Field(max_length=64)
    version: StrictInt | None = Field(default=None, ge=1)


class OptionOut(BaseModel):
    id: str
    label: str


class SourceOut(BaseModel):
    source: str
    section: str


class QuestionOut(BaseModel):
    id: str
    number: int
    text: str
    help: str
    type: str
    options: list[OptionOut]
    allow_dont_know: bool
    allow_na: bool
    evidence_invited: bool
    required: bool
    hidden: bool
    unit: str | None
    minimum: float | None
    maximum: float | None
    sources: list[SourceOut]


class PageOut(BaseModel):
    index: int
    key: str
    instrument: str
    instrument_title: str
    title: str
    intro: str | None
    questions: list[QuestionOut]


class ProgressOut(BaseModel):
    answered: int
    total: int
    required_missing: list[str]
    optional_missing: list[str]


class RoundOut(BaseModel):
    team: str | None = Field(description="The team's name (on the invitation only).")
    title: str | None = Field(description="The round's title (on the invitation only).")
    mode: str
    kind: str
    stage: str
    stage_label: str
    results_min: int
    closes_at: datetime | None


class WelcomeOut(BaseModel):
    round: RoundOut
    role: str
    roles: list[str]
    minutes: int
    questions: int
    optional_questions: int
    csrf_token: str


class StartedOut(BaseModel):
    resume_token: str
    resume_url: str
    api_url: str


class SurveyOut(BaseModel):
    status: str
    role: str
    version: int
    submission_key: str
    csrf_token: str
    special_values: list[str]
    round: RoundOut
    pages: list[PageOut]
    answers: dict[str, Any]
    progress: ProgressOut
    submitted_at: datetime | None


class SavedOut(BaseModel):
    version: int
    hidden: list[str]
    progress: ProgressOut


class SubmittedOut(BaseModel):
    status: str
    submitted_at: datetime | None
    first_time: bool


# ---------------------------------------------------------------- dependencies


async def _token_csrf(request: Request, token: str) -> str:
    bind_csrf_token(request, hash_token(settings_of(request), token, purpose="csrf"))
    # a browser's request (see the module docstring), or one that sends a token: a wrong one
    # is refused rather than ignored
    if "cookie" in request.headers or CSRF_HEADER in request.headers:
        try:
            await require_csrf(request)
        except CsrfError:
            raise CsrfError(SURVEY_CSRF_MESSAGE) from None
    return token


async def invitation_api_csrf(request: Request, token: str) -> str:
    return await _token_csrf(request, token)


async def resume_api_csrf(request: Request, token: str) -> str:
    return await _token_csrf(request, token)


# read by tests/test_isolation.py: whoever holds the link may use these endpoints
invitation_api_csrf.access = "public"  # type: ignore[attr-defined]
resume_api_csrf.access = "public"  # type: ignore[attr-defined]

InvitationToken = Annotated[str, Depends(invitation_api_csrf)]
ResumeToken = Annotated[str, Depends(resume_api_csrf)]


def read_survey(request: Request, session: ReadSessionDep, token: ResumeToken) -> Survey:
    return load(request, session, token)


def write_survey(request: Request, session: SessionDep, token: ResumeToken) -> Survey:
    return load_for_writing(request, session, token)


# ---------------------------------------------------------------- building the output


def _round_out(session: Any, assessment_round: Any, *, with_team: bool) -> RoundOut:
    team = session.get(Team, assessment_round.team_id) if with_team else None
    return RoundOut(
        team=team.name if team is not None else None,
        title=assessment_round.title if with_team else None,
        mode=assessment_round.mode,
        kind=assessment_round.kind,
        stage=assessment_round.stage,
        stage_label=pages.STAGES.get(assessment_round.stage, (assessment_round.stage, ""))[0],
        results_min=assessment_round.results_min,
        closes_at=assessment_round.closes_at,
    )


def _progress_out(progress: service.Progress) -> ProgressOut:
    return ProgressOut(
        answered=progress.answered,
        total=progress.total,
        required_missing=list(progress.required_missing),
        optional_missing=list(progress.optional_missing),
    )


def _pages_out(survey: Survey, hidden: frozenset[str]) -> list[PageOut]:
    numbers = {item.qid: n for n, item in enumerate(survey.plan.asked, 1)}
    return [
        PageOut(
            index=page.index,
            key=page.key,
            instrument=page.instrument.id,
            instrument_title=page.instrument.title,
            title=pages.page_heading(page),
            intro=page.section.intro if len(page.parts) == 1 else None,
            questions=[
                QuestionOut(
                    id=item.qid,
                    number=numbers[item.qid],
                    text=item.question.text,
                    help=item.question.help,
                    type=item.question.type,
                    options=[OptionOut(id=o.id, label=o.label) for o in item.question.options],
                    allow_dont_know=item.question.allow_dont_know,
                    allow_na=item.question.allow_na,
                    evidence_invited=item.question.evidence,
                    required=item.required,
                    hidden=item.qid in hidden,
                    unit=item.question.unit,
                    minimum=item.question.minimum,
                    maximum=item.question.maximum,
                    sources=[
                        SourceOut(source=c.source, section=c.section)
                        for c in pages.citations(survey.catalog, item.question.sources)
                    ],
                )
                for item in page.questions
            ],
        )
        for page in survey.plan.pages
    ]


def _error(status: int, detail: str, **extra: Any) -> JSONResponse:
    """An API error shaped like every other (detail, status, request_id), plus specifics."""
    body = {"detail": detail, "status": status, "request_id": correlation_id.get(), **extra}
    return JSONResponse(body, status_code=status)


# ---------------------------------------------------------------- endpoints


@router.get("/invitations/{token}", response_model=WelcomeOut, responses=ERRORS)
def invitation(request: Request, session: ReadSessionDep, token: InvitationToken) -> WelcomeOut:
    """What the welcome page shows for an invitation link (changes nothing)."""
    settings = settings_of(request)
    found, assessment_round = guarded_lookup(
        request,
        scope="invitation-lookup",
        limit=ratelimit.INVITATION_LOOKUP_PER_ADDRESS,
        lookup=lambda: invitations.open_invitation(session=session, settings=settings, token=token),
    )
    catalog = catalog_store.catalog_for(session=session, versions=assessment_round.rubric_versions)
    plan = service.survey_plan(catalog, round_settings(assessment_round), found.role)
    return WelcomeOut(
        round=_round_out(session, assessment_round, with_team=True),
        role=found.role,
        roles=list(pages.ROLE_LABELS),
        minutes=estimate.minutes_of(plan.asked),
        questions=len(plan.asked),
        optional_questions=sum(1 for item in plan.asked if not item.required),
        csrf_token=request.state.csrf_token,
    )


@router.post(
    "/invitations/{token}/start", response_model=StartedOut, status_code=201, responses=ERRORS
)
def start(
    request: Request, session: SessionDep, token: InvitationToken, body: StartIn
) -> StartedOut:
    """Start the survey from an invitation link: one use of the link, a new resume token."""
    settings = settings_of(request)
    started = guarded_lookup(
        request,
        scope="invitation-lookup",
        limit=ratelimit.INVITATION_LOOKUP_PER_ADDRESS,
        lookup=lambda: invitations.accept_invitation(
            session=session, settings=settings, token=token, role=body.role
        ),
    )
    return StartedOut(
        resume_token=started.resume_token,
        resume_url=started.url(settings),
        api_url=invitations.absolute_url(settings, f"/api/survey/{started.resume_token}"),
    )


@router.get("/{token}", response_model=SurveyOut, responses=ERRORS)
def questionnaire(
    request: Request, session: ReadSessionDep, survey: Annotated[Survey, Depends(read_survey)]
) -> SurveyOut:
    """The questionnaire this respondent sees (pages in order, display conditions applied to
    the stored answers), their answers, the version to save from, and the submission key."""
    progress = survey.progress()
    response = survey.response
    return SurveyOut(
        status=response.status,
        role=survey.respondent.role,
        version=survey.version,
        submission_key=response.submission_key,
        csrf_token=request.state.csrf_token,
        special_values=[DONT_KNOW, NOT_APPLICABLE],
        round=_round_out(session, survey.assessment_round, with_team=False),
        pages=_pages_out(survey, progress.hidden),
        answers=dict(response.answers),
        progress=_progress_out(progress),
        submitted_at=response.submitted_at,
    )


@router.put("/{token}/answers", response_model=SavedOut, responses=ERRORS)
def save(
    request: Request,
    session: SessionDep,
    survey: Annotated[Survey, Depends(write_survey)],
    body: SaveIn,
) -> SavedOut | JSONResponse:
    """Save answers made from ``version``. A stale version whose answers differ from what
    was saved since answers 409 with both versions of each; nothing is overwritten."""
    if survey.submitted:
        raise service.AlreadySubmittedError()
    ratelimit.limit_answer_saving(request, resume_key=f"respondent:{survey.respondent.id}")
    raw = {
        qid: answer.model_dump(exclude_defaults=True) if isinstance(answer, AnswerIn) else answer
        for qid, answer in body.answers.items()
    }
    try:
        result = service.save_answers(
            session=session,
            survey=survey,
            version=body.version,
            changes=service.parse_answers(raw),
        )
    except InvalidAnswersError as error:
        return _error(400, error.message, errors=error.errors)
    except StaleResponseError as error:
        return _error(
            409,
            SURVEY_API_MESSAGES[StaleResponseError],
            version=error.version,
            conflicts=[
                {"question": c.qid, "yours": c.yours, "saved": c.saved} for c in error.conflicts
            ],
        )
    return SavedOut(
        version=result.version,
        hidden=sorted(result.progress.hidden),
        progress=_progress_out(result.progress),
    )


@router.put("/{token}/role", response_model=SavedOut, responses=ERRORS)
def role(
    session: SessionDep, survey: Annotated[Survey, Depends(write_survey)], body: RoleIn
) -> SavedOut:
    """Correct the respondent's role; the questions follow it."""
    service.change_role(session=session, survey=survey, role=body.role)
    progress = survey.progress()
    return SavedOut(
        version=survey.version, hidden=sorted(progress.hidden), progress=_progress_out(progress)
    )


@router.post("/{token}/submit", response_model=SubmittedOut, responses=ERRORS)
def submit(
    request: Request,
    session: SessionDep,
    survey: Annotated[Survey, Depends(write_survey)],
    body: SubmitIn,
) -> SubmittedOut | JSONResponse:
    """Submit once; the same submission key again returns the same submission."""
    try:
        submission = service.submit_response(
            session=session, survey=survey, submission_key=body.submission_key, version=body.version
        )
    except MissingAnswersError as error:
        return _error(400, error.message, missing=list(error.missing))
    background = None
    if submission.first_time:
        assert survey.assessment_round.id is not None
        background = BackgroundTask(
            service.refresh_round_result, request.app.state.sessions, survey.assessment_round.id
        )
    payload = SubmittedOut(
        status=submission.response.status,
        submitted_at=submission.response.submitted_at,
        first_time=submission.first_time,
    )
    return JSONResponse(payload.model_dump(mode="json"), background=background)
