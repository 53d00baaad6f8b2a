"""The respondent's pages: invitation welcome, one page per section, conflicts, review, thanks.

Plain forms with Post/Redirect/Get; survey.js only enhances (autosave through the same page
route, asking for JSON). Invitation and resume tokens sit in the path; the access log records
the route template, never the token. Every unsafe request checks a CSRF token derived from the
link's own token, and every page is sent with ``Cache-Control: no-store`` (a shared computer's
back button must not show someone's answers, and a page shown again must carry a fresh version).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response as HTTPResponse

from app import catalog_store, templating
from app.accounts import ratelimit
from app.accounts.csrf import bind_csrf_token, require_csrf
from app.accounts.tokens import hash_token
from app.config import Settings
from app.db import ReadSessionDep, SessionDep, write_session
from app.errors import NotFoundError, wants_json
from app.forms import FormDep
from app.models import AssessmentRound, Team
from app.results import visibility
from app.results.reads import shown_result
from app.results.service import round_settings
from app.results.visibility import Viewer
from app.surveys import closing, email_invitations, forms, invitations, pages, service
from app.surveys.service import (
    REVIEW,
    InvalidAnswersError,
    MissingAnswersError,
    StaleResponseError,
    Survey,
    SurveyClosedError,
)

router = APIRouter(include_in_schema=False)

NO_STORE = {"Cache-Control": "no-store"}
T = TypeVar("T")


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# ---------------------------------------------------------------- dependencies


async def invitation_csrf(request: Request, token: str) -> str:
    """The invitation link's token; its welcome form carries a CSRF token derived from it."""
    bind_csrf_token(request, hash_token(settings_of(request), token, purpose="csrf"))
    await require_csrf(request)
    return token


async def resume_csrf(request: Request, token: str) -> str:
    """The resume link's token: the respondent's session. Its forms carry a CSRF token
    derived from it, checked on every unsafe request."""
    bind_csrf_token(request, hash_token(settings_of(request), token, purpose="csrf"))
    await require_csrf(request)
    return token


# read by tests/test_isolation.py's route walk: whoever holds the link may use these routes
invitation_csrf.access = "public"  # type: ignore[attr-defined]
resume_csrf.access = "public"  # type: ignore[attr-defined]

InvitationToken = Annotated[str, Depends(invitation_csrf)]
ResumeToken = Annotated[str, Depends(resume_csrf)]


# the page of questions: a query parameter, so every path parameter is a link token
PageNumber = Annotated[int, Query(alias="page", ge=1, le=1000)]


def guarded_lookup(
    request: Request, *, scope: str, limit: tuple[str, ...], lookup: Callable[[], T]
) -> T:
    """Look a token up, throttling addresses that keep presenting unknown ones.

    Only failed lookups count, so a whole office behind one address opening the same valid
    link is never throttled, while a guessing loop is (and is refused even a valid token
    while over the limit).
    """
    address = ratelimit.client_address(request)
    ratelimit.check(request, scope=scope, key=address, limit=limit)
    try:
        return lookup()
    except (invitations.InvitationUnavailableError, service.ResumeLinkUnavailableError):
        ratelimit.hit(request, scope=scope, key=address, limit=limit)
        raise


def load(request: Request, session: Session, token: str) -> Survey:
    return guarded_lookup(
        request,
        scope="resume-lookup",
        limit=ratelimit.RESUME_LINK_LOOKUP_PER_ADDRESS,
        lookup=lambda: service.load_survey(
            session=session, settings=settings_of(request), resume_token=token
        ),
    )


def read_survey(request: Request, token: ResumeToken) -> Survey:
    """The survey, read in a short read-only transaction of its own that ends here.

    Everything a page shows is loaded by then, so the objects are detached (not expired) and
    the read transaction is rolled back before the page is built: one trip to the threadpool
    instead of three (the session dependency's start and end were one each), which was a
    measurable part of the answer page's cost.
    """
    survey = _read(request, token)
    if visibility.closes_by_date(survey.assessment_round):
        # the first page read after the closing date closes the round and publishes its
        # result (app.surveys.closing), in a short write transaction of its own
        writers: sessionmaker[Session] = request.app.state.sessions
        with writers() as writer:
            held = writer.get(AssessmentRound, survey.assessment_round.id)
            if held is not None:
                closing.close_if_due(session=writer, assessment_round=held)
            writer.commit()
        survey = _read(request, token)
    return survey


def _read(request: Request, token: str) -> Survey:
    factory: sessionmaker[Session] = request.app.state.read_sessions
    with factory() as session:
        try:
            survey = load(request, session, token)
            session.expunge_all()  # detached as loaded: the rollback must not expire them
        finally:
            session.rollback()
    return survey


def write_survey(request: Request, session: SessionDep, token: ResumeToken) -> Survey:
    return load_for_writing(request, session, token)


def load_for_writing(request: Request, session: Session, token: str) -> Survey:
    """The survey, read (on SQLite) in a transaction of its own that ends before anything is
    written.

    The services lock the response row again before they change it, so nothing here needs
    the write lock; on SQLite, taking it now (BEGIN IMMEDIATE at the first query) would hold
    it while the survey loads and the answers are checked, and queue every other writer
    behind that work (under load, past the busy timeout: a 503).
    """
    connection = session.connection(execution_options={"sqlite_begin": "DEFERRED"})
    survey = load(request, session, token)
    if connection.dialect.name == "sqlite":
        # the read transaction ends before a save's BEGIN IMMEDIATE; on PostgreSQL there is no
        # write lock to queue for, so the read and the save share one transaction (one pool
        # check-out with its ping, one BEGIN and one COMMIT fewer per save)
        session.commit()
    if closing.close_if_due(session=session, assessment_round=survey.assessment_round):
        session.commit()  # closed by date: the round (and its published result) first
    return survey


ReadSurvey = Annotated[Survey, Depends(read_survey)]
WriteSurvey = Annotated[Survey, Depends(write_survey)]


def limit_saving(request: Request, survey: Survey) -> None:
    ratelimit.limit_answer_saving(request, resume_key=f"respondent:{survey.respondent.id}")


# ---------------------------------------------------------------- helpers


def base_of(token: str) -> str:
    return f"/r/{token}"


def resume_url(request: Request, token: str) -> str:
    return invitations.absolute_url(settings_of(request), base_of(token))


def render(
    request: Request, template: str, page: object, *, status_code: int = 200
) -> HTMLResponse:
    return templating.render(request, template, page, status_code=status_code, headers=NO_STORE)


def redirect(url: str, *, background: BackgroundTask | None = None) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=NO_STORE, background=background)


def require_open(survey: Survey) -> None:
    """A page that edits answers: closed rounds say so; submitted responses are read-only."""
    if survey.closed and not survey.submitted:
        raise SurveyClosedError()


def team_of(session: Session, survey_round: Any) -> Team | None:
    return session.get(Team, survey_round.team_id)


def welcome_for_respondent(
    request: Request, survey: Survey, token: str, *, notice: str | None = None
) -> HTMLResponse:
    target = service.resume_target(survey)
    base = base_of(token)
    continue_url: str | None
    if target == REVIEW:
        continue_url, label = f"{base}/review", "Continue where you stopped"
    elif isinstance(target, service.SurveyPage):
        continue_url, label = pages.page_url(base, target.index), "Continue where you stopped"
    else:
        first = survey.plan.pages[0] if survey.plan.pages else None
        continue_url = pages.page_url(base, first.index) if first is not None else None
        label = "Begin"
    page = pages.welcome_page(
        settings=settings_of(request),
        catalog=survey.catalog,
        plan=survey.plan,
        # the team's and round's names are on the invitation's welcome page; the pages behind
        # a resume link show nothing about the organisation that answering does not need
        team=None,
        assessment_round=survey.assessment_round,
        title="Your personal survey link" if target is None else "About this survey",
        role_action=f"{base}/role",
        resume_url=resume_url(request, token),
        continue_url=continue_url,
        continue_label=label,
        notice=notice,
    )
    return render(request, "survey/welcome.html", page)


# ---------------------------------------------------------------- invitation


@router.get("/i/{token}", response_class=HTMLResponse, name="survey_invitation")
def invitation_welcome(
    request: Request, session: ReadSessionDep, token: InvitationToken
) -> HTMLResponse:
    settings = settings_of(request)
    invitation, assessment_round = guarded_lookup(
        request,
        scope="invitation-lookup",
        limit=ratelimit.INVITATION_LOOKUP_PER_ADDRESS,
        lookup=lambda: invitations.open_invitation(session=session, settings=settings, token=token),
    )
    catalog = catalog_store.catalog_for(session=session, versions=assessment_round.rubric_versions)
    page = pages.welcome_page(
        settings=settings,
        catalog=catalog,
        plan=service.survey_plan(catalog, round_settings(assessment_round), invitation.role),
        team=team_of(session, assessment_round),
        assessment_round=assessment_round,
        start_action=invitations.invitation_path(token),
    )
    return render(request, "survey/welcome.html", page)


@router.post("/i/{token}", name="survey_start")
def start_survey(
    request: Request, session: SessionDep, token: InvitationToken, form: FormDep
) -> RedirectResponse:
    settings = settings_of(request)
    role = form.get("role")
    started = guarded_lookup(
        request,
        scope="invitation-lookup",
        limit=ratelimit.INVITATION_LOOKUP_PER_ADDRESS,
        lookup=lambda: invitations.accept_invitation(
            session=session,
            settings=settings,
            token=token,
            role=role if isinstance(role, str) and role else None,
        ),
    )
    return redirect(started.path)


# ---------------------------------------------------------------- the respondent's start page


@router.get("/r/{token}", response_class=HTMLResponse, name="survey_resume")
def resume(request: Request, survey: ReadSurvey, token: ResumeToken) -> HTTPResponse:
    """The resume link: back to where the respondent stopped (or the start page)."""
    if survey.submitted:
        return redirect(f"{base_of(token)}/done")
    require_open(survey)
    target = service.resume_target(survey)
    if target == REVIEW:
        return redirect(f"{base_of(token)}/review")
    if isinstance(target, service.SurveyPage):
        return redirect(pages.page_url(base_of(token), target.index))
    return welcome_for_respondent(request, survey, token)


@router.get("/r/{token}/welcome", response_class=HTMLResponse, name="survey_welcome")
def welcome(request: Request, survey: ReadSurvey, token: ResumeToken) -> HTTPResponse:
    if survey.submitted:
        return redirect(f"{base_of(token)}/done")
    require_open(survey)
    notices = {
        "saved": "Your answers are saved. Come back any time with your personal link.",
        "role": "Your role is updated: the questions now match it.",
    }
    notice = notices.get(request.query_params.get("notice", ""))
    return welcome_for_respondent(request, survey, token, notice=notice)


@router.post("/r/{token}/role", name="survey_role")
def change_role(
    request: Request, session: SessionDep, survey: WriteSurvey, token: ResumeToken, form: FormDep
) -> RedirectResponse:
    role = form.get("role")
    service.change_role(session=session, survey=survey, role=role if isinstance(role, str) else "")
    return redirect(f"{base_of(token)}/welcome?notice=role")


# ---------------------------------------------------------------- questions


@dataclasses.dataclass(frozen=True)
class UnsubscribePage:
    """Context of templates/survey/unsubscribe.html (the reminders' List-Unsubscribe link)."""

    action: str
    survey_url: str
    stopped: bool


@router.get("/r/{token}/unsubscribe", response_class=HTMLResponse, name="survey_unsubscribe")
def unsubscribe_page(
    request: Request, survey: ReadSurvey, token: ResumeToken, stopped: bool = False
) -> HTMLResponse:
    base = base_of(token)
    page = UnsubscribePage(f"{base}/unsubscribe", base, stopped)
    return templating.render(request, "survey/unsubscribe.html", page)


@router.post("/r/{token}/unsubscribe")
def unsubscribe(
    request: Request, session: SessionDep, survey: WriteSurvey, token: ResumeToken
) -> RedirectResponse:
    email_invitations.stop_reminders(
        session=session, settings=settings_of(request), resume_token=token
    )
    return redirect(f"{base_of(token)}/unsubscribe?stopped=true")


# async: everything it reads is loaded by ReadSurvey (on the threadpool), so building and
# rendering the page here saves the answer page a second trip to the threadpool
@router.get("/r/{token}/questions", response_class=HTMLResponse, name="survey_page")
async def survey_page(
    request: Request, survey: ReadSurvey, token: ResumeToken, number: PageNumber = 1
) -> HTTPResponse:
    if survey.submitted:
        return redirect(f"{base_of(token)}/done")
    require_open(survey)
    page = survey.plan.page(number)
    notice = (
        "Saved. Your choices are in place."
        if request.query_params.get("notice") == "resolved"
        else None
    )
    context = pages.question_page(
        survey=survey,
        page=page,
        base_url=base_of(token),
        resume_url=resume_url(request, token),
        notice=notice,
    )
    return render(request, "survey/page.html", context)


def _destination(
    survey: Survey, page: service.SurveyPage, action: str, hidden: frozenset[str], token: str
) -> tuple[str, str]:
    """Where a page's button leads: (URL, the resume position to record)."""
    base = base_of(token)
    before, after = pages.neighbours(survey.plan, hidden, page)
    if action == "next":
        if after is None:
            return f"{base}/review", REVIEW
        return pages.page_url(base, after.index), after.key
    if action == "back":
        if before is None:
            return f"{base}/welcome", page.key
        return pages.page_url(base, before.index), before.key
    if action == "finish_later":
        return f"{base}/welcome?notice=saved", page.key
    return pages.page_url(base, page.index), page.key


@router.post("/r/{token}/questions", name="survey_save")
async def save_page(
    request: Request, token: ResumeToken, form: FormDep, number: PageNumber = 1
) -> HTTPResponse:
    """Save one page (a button, or survey.js autosaving: then the answer is JSON).

    The survey's hottest request runs its session, survey and save in one call on the
    threadpool: as dependencies they took four trips (the write session's start and end,
    the survey, the route), a measurable part of a save's cost (docs/performance.md)."""
    return await run_in_threadpool(_save_page, request, token, form, number)


def _save_page(request: Request, token: str, form: FormData, number: int) -> HTTPResponse:
    with write_session(request) as session:
        survey = load_for_writing(request, session, token)
        return _save(request, session, survey, token, form, number)


# long: a save's outcomes in the order they are decided: refused, conflicting, saved and moved on
def _save(
    request: Request, session: Session, survey: Survey, token: str, form: FormData, number: int
) -> HTTPResponse:
    page = survey.plan.page(number)
    if survey.submitted:
        raise service.AlreadySubmittedError()
    require_open(survey)
    limit_saving(request, survey)
    submitted = forms.read_page(form, page)
    as_json = submitted.action == "autosave" or wants_json(request)

    def refused(errors: dict[str, str], message: str, status: int = 400) -> HTTPResponse:
        if as_json:
            return JSONResponse(
                {"saved": False, "detail": message, "errors": errors},
                status_code=status,
                headers=NO_STORE,
            )
        valid = {q: a for q, a in submitted.changes.items() if q not in errors}
        context = pages.question_page(
            survey=survey,
            page=page,
            base_url=base_of(token),
            resume_url=resume_url(request, token),
            values=submitted.values,
            errors=errors,
            error_message=message,
            version=submitted.version,
            base=submitted.base,
            overlay=service.preview_answers(survey, valid),
        )
        return render(request, "survey/page.html", context, status_code=status)

    if submitted.errors:
        count = len(submitted.errors)
        return refused(
            dict(submitted.errors),
            "One answer needs another look; nothing was saved."
            if count == 1
            else f"{count} answers need another look; nothing was saved.",
        )
    try:
        # checked, and where the answers lead, before the save takes the write lock
        prepared = service.prepare_save(survey=survey, changes=submitted.changes)
    except InvalidAnswersError as error:
        return refused(error.errors, error.message)
    url, position = _destination(survey, page, submitted.action, prepared.progress.hidden, token)
    try:
        result = service.save_answers(
            session=session,
            survey=survey,
            version=submitted.version,
            changes=prepared,
            resume_at=position,
            base=submitted.base,
        )
    except InvalidAnswersError as error:
        return refused(error.errors, error.message)
    except StaleResponseError as error:
        if as_json:
            return JSONResponse(
                {"saved": False, "detail": error.message, "conflict": True},
                status_code=409,
                headers=NO_STORE,
            )
        context = pages.conflict_page(
            survey=survey,
            page=page,
            base_url=base_of(token),
            conflicts=error.conflicts,
            version=survey.version,
        )
        return render(request, "survey/conflict.html", context, status_code=409)
    if as_json:
        answers = result.answers
        return JSONResponse(
            {
                "saved": True,
                "version": result.version,
                "hidden": sorted(result.progress.hidden),
                "answered": result.progress.answered,
                "total": result.progress.total,
                "base": {item.qid: answers.get(item.qid) for item in page.questions},
            },
            headers=NO_STORE,
        )
    return redirect(url)


@router.post("/r/{token}/resolve", name="survey_resolve")
def resolve_conflict(
    request: Request,
    session: SessionDep,
    survey: WriteSurvey,
    token: ResumeToken,
    form: FormDep,
    number: PageNumber = 1,
) -> HTTPResponse:
    """The conflict page's choices: keep the saved version or this tab's, per answer."""
    page = survey.plan.page(number)
    if survey.submitted:
        raise service.AlreadySubmittedError()
    require_open(survey)
    limit_saving(request, survey)
    version = forms.read_version(form)
    carried = forms.read_kept_answers(form)
    choices = forms.read_choices(form, tuple(carried))
    wanted = {qid: carried[qid] for qid, choice in choices.items() if choice == "yours"}
    try:
        changes = service.parse_answers(wanted)
        service.save_answers(
            session=session, survey=survey, version=version, changes=changes, resume_at=page.key
        )
    except StaleResponseError as error:
        context = pages.conflict_page(
            survey=survey,
            page=page,
            base_url=base_of(token),
            conflicts=error.conflicts,
            version=survey.version,
        )
        return render(request, "survey/conflict.html", context, status_code=409)
    return redirect(pages.page_url(base_of(token), page.index) + "&notice=resolved")


# ---------------------------------------------------------------- review and submit


@router.get("/r/{token}/review", response_class=HTMLResponse, name="survey_review")
def review(request: Request, survey: ReadSurvey, token: ResumeToken) -> HTTPResponse:
    if survey.submitted:
        return redirect(f"{base_of(token)}/done")
    require_open(survey)
    context = pages.review_page(
        survey=survey, base_url=base_of(token), resume_url=resume_url(request, token)
    )
    return render(request, "survey/review.html", context)


@router.post("/r/{token}/submit", name="survey_submit")
def submit(
    request: Request, session: SessionDep, survey: WriteSurvey, token: ResumeToken, form: FormDep
) -> HTTPResponse:
    key = form.get("submission_key")
    raw_version = form.get("version")
    version = int(raw_version) if isinstance(raw_version, str) and raw_version.isdigit() else None
    try:
        submission = service.submit_response(
            session=session,
            survey=survey,
            submission_key=key if isinstance(key, str) else "",
            version=version,
        )
    except MissingAnswersError as error:
        context = pages.review_page(
            survey=survey,
            base_url=base_of(token),
            resume_url=resume_url(request, token),
            error_message=error.message,
        )
        return render(request, "survey/review.html", context, status_code=400)
    background = None
    if submission.first_time:
        assert survey.assessment_round.id is not None
        background = BackgroundTask(
            service.refresh_round_result, request.app.state.sessions, survey.assessment_round.id
        )
    return redirect(f"{base_of(token)}/done", background=background)


@router.get("/r/{token}/done", response_class=HTMLResponse, name="survey_done")
def done(request: Request, survey: ReadSurvey, token: ResumeToken) -> HTTPResponse:
    if not survey.submitted:
        return redirect(base_of(token))
    context = pages.done_page(
        survey=survey, base_url=base_of(token), resume_url=resume_url(request, token)
    )
    return render(request, "survey/done.html", context)


@router.get("/r/{token}/results", response_class=HTMLResponse, name="survey_results")
def results(
    request: Request, session: ReadSessionDep, survey: ReadSurvey, token: ResumeToken
) -> HTTPResponse:
    """The team's headline results, for respondents who submitted, when the lead allows."""
    if not survey.assessment_round.respondents_see_results:
        raise NotFoundError()
    if not survey.submitted:
        return redirect(base_of(token))
    # the respondent is a viewer with their own response in the round (app.results.visibility)
    result = shown_result(session, survey.assessment_round, viewer=Viewer(survey.response.id))
    context = pages.results_page(survey=survey, result=result, base_url=base_of(token))
    return render(request, "survey/results.html", context)
