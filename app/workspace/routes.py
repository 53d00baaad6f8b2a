"""The workspace pages: home ("Your teams"), a team, starting a round, a round with its links,
the results page, downloads, and the forms that act on results.

Routes are thin: tenancy loads the team and round from the path (another organisation's id is
a 404), a service does the work, a typed context is rendered. Forms Post/Redirect/Get, except
where a new invitation link must be shown once (its token is never stored).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Final

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import iter_route_contexts
from sqlmodel import Session
from starlette.datastructures import FormData

from app import catalog_store, templating
from app.accounts.actor import PageActor
from app.accounts.dependencies import CurrentPrincipal, ScopedRound, ScopedTeam, settings_of
from app.accounts.tenancy import Principal
from app.catalog_store import CatalogDep
from app.db import ReadSessionDep, SessionDep
from app.errors import DomainError, InvalidInputError, NotFoundError
from app.forms import FormDep
from app.models import AssessmentRound, Organisation, Team
from app.reports import commentary as report_commentary
from app.results import exports, visibility
from app.results.model import TeamResult
from app.results.reads import result_of
from app.results.service import ORIGINAL
from app.rubric.loader import Catalog
from app.surveys.invitations import IssuedInvitation
from app.workspace import acting, pages, results_page, round_pages, rounds, services, urls
from app.workspace.results import load_results, require_visible, rubric_upgrade

router = APIRouter(include_in_schema=False)

MAX_ID: Final = 2**31 - 1
TeamId = Annotated[int, Path(ge=1, le=MAX_ID)]
RoundId = Annotated[int, Path(ge=1, le=MAX_ID)]
PracticeId = Annotated[str, Path(min_length=1, max_length=80)]
DOWNLOAD_HEADERS: Final = {
    "Cache-Control": "private, no-store",
    "X-Content-Type-Options": "nosniff",
}
NO_STORE: Final = {"Cache-Control": "no-store"}


def _text(form: FormData, name: str, limit: int = 200) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _texts(form: FormData, name: str) -> tuple[str, ...]:
    return tuple(v.strip()[:80] for v in form.getlist(name) if isinstance(v, str) and v.strip())


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# ---------------------------------------------------------------- loading through tenancy


def _organisation(session: Session, team: Team) -> Organisation:
    """The organisation of a team loaded through tenancy (``ScopedTeam``)."""
    organisation = session.get(Organisation, team.organisation_id)
    if organisation is None:  # pragma: no cover - the foreign key cascades
        raise NotFoundError()
    return organisation


def _return_to(form: FormData, team_id: int) -> str:
    """Where a form on a team's pages returns to: only a page of that same team."""
    value = _text(form, "return_to", 300)
    prefix = urls.team_url(team_id)
    if (
        (
            value == prefix
            or value.startswith(prefix + "/")
            or value.startswith(prefix + "?")
            or value.startswith(prefix + "#")
        )
        and all(ord(ch) >= 32 for ch in value)
        and "\\" not in value
        and "//" not in value
    ):
        return value
    return prefix


def _with_notice(url: str, notice: str) -> str:
    path, _, fragment = url.partition("#")
    joined = f"{path}{'&' if '?' in path else '?'}notice={notice}"
    return f"{joined}#{fragment}" if fragment else joined


# ---------------------------------------------------------------- home and team


@router.get("/teams", response_class=HTMLResponse)
def home(
    request: Request,
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    catalog: CatalogDep,
    q: Annotated[str, Query(max_length=200)] = "",
    unit: Annotated[str, Query(max_length=20)] = "",
    page: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    """The signed-in home: the teams the user may see, a page at a time (search by name and
    business unit), each with its latest round and result."""
    query = pages.HomeQuery.parse(q, unit, page)
    home = pages.home_page(session=session, catalog=catalog, principal=principal, query=query)
    return templating.render(request, "workspace/home.html", home)


@router.get("/teams/{team_id}", response_class=HTMLResponse)
def team_overview(
    request: Request,
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    catalog: CatalogDep,
    team_id: TeamId,
    team: ScopedTeam,
    notice: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    organisation = _organisation(session, team)
    page = pages.team_page(
        session=session, catalog=catalog, team=team, organisation=organisation, notice=notice
    )
    return templating.render(request, "workspace/team.html", page)


# ---------------------------------------------------------------- starting a round


@router.get("/teams/{team_id}/rounds/new", response_class=HTMLResponse)
def new_round_form(
    request: Request,
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    catalog: CatalogDep,
    team_id: TeamId,
    team: ScopedTeam,
) -> HTMLResponse:
    organisation = _organisation(session, team)
    page = round_pages.new_round_page(
        session=session,
        settings=settings_of(request),
        catalog=catalog,
        team=team,
        organisation=organisation,
        form_key=secrets.token_hex(16),
    )
    return templating.render(request, "workspace/new_round.html", page)


def _parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _round_values(
    form: FormData, defaults: round_pages.RoundFormValues
) -> round_pages.RoundFormValues:
    """What the form carried. A round answered alone has no links, threshold, closing date or
    sharing: whatever the form still sent for them (the fields stay in a page without
    JavaScript) is ignored, never refused, and not shown again."""
    mode = _text(form, "mode", 20)
    if mode == "solo":
        return round_pages.RoundFormValues(
            mode=mode,
            kind=_text(form, "kind", 20),
            stage=_text(form, "stage", 20),
            instruments=_texts(form, "instruments"),
            roles=(),
            results_min=defaults.results_min,
            title=_text(form, "title", 300),
            closes_on=defaults.closes_on,
            respondents_see_results=False,
        )
    results_min = _text(form, "results_min", 2)
    return round_pages.RoundFormValues(
        mode=mode,
        kind=_text(form, "kind", 20),
        stage=_text(form, "stage", 20),
        instruments=_texts(form, "instruments"),
        roles=_texts(form, "roles"),
        results_min=int(results_min) if results_min.isdigit() else defaults.results_min,
        title=_text(form, "title", 300),
        closes_on=_text(form, "closes_on", 20),
        respondents_see_results=_text(form, "respondents_see_results", 10) == "yes",
    )


@router.post("/teams/{team_id}/rounds", response_class=HTMLResponse)
def create_round(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    catalog: CatalogDep,
    team_id: TeamId,
    team: ScopedTeam,
    form: FormDep,
    actor: PageActor,
) -> Response:
    """Start a round. A team survey answers with its links (shown once); a solo round goes
    straight to the lead's own survey. A repeated submit of the same form (its ``form_key``)
    goes to the round the first one started."""
    organisation = _organisation(session, team)
    settings = settings_of(request)
    form_key = _text(form, "form_key", 64)
    defaults, _ = round_pages.default_values(
        session=session, settings=settings, catalog=catalog, team=team, organisation=organisation
    )
    values = _round_values(form, defaults)
    closes_on = _parse_date(values.closes_on)
    request_data = rounds.RoundRequest(
        mode=values.mode,
        kind=values.kind,
        stage=values.stage,
        instruments=values.instruments,
        title=values.title,
        results_min=values.results_min,
        closes_on=closes_on,
        respondents_see_results=values.respondents_see_results,
        roles=values.roles,
    )
    try:
        if values.closes_on and closes_on is None:
            raise rounds.RoundFormError({"closes_on": "Enter the closing date as a date."})
        started = services.create_round(
            session=session,
            settings=settings,
            catalog=catalog,
            team=team,
            organisation=organisation,
            request=request_data,
            actor=actor,
            idempotency_key=form_key or None,
        )
    except rounds.RoundFormError as problem:
        page = round_pages.new_round_page(
            session=session,
            settings=settings,
            catalog=catalog,
            team=team,
            organisation=organisation,
            form_key=form_key or secrets.token_hex(16),
            values=values,
            errors=problem.errors,
            error_message=problem.message,
        )
        return templating.render(request, "workspace/new_round.html", page, status_code=400)
    assessment_round = started.assessment_round
    assert assessment_round.id is not None
    if started.repeated:
        return _redirect(_with_notice(urls.round_url(team_id, assessment_round.id), "exists"))
    if started.lead_path is not None:
        return _redirect(started.lead_path)
    return _round_page(
        request, session, principal, catalog, team, assessment_round, new_links=started.links
    )


# ---------------------------------------------------------------- a round


def _round_page(
    request: Request,
    session: Session,
    principal: Principal,
    catalog: Catalog,
    team: Team,
    assessment_round: AssessmentRound,
    *,
    new_links: Mapping[str, IssuedInvitation] | None = None,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    page = round_pages.round_page(
        session=session,
        settings=settings_of(request),
        catalog=catalog,
        team=team,
        assessment_round=assessment_round,
        principal=principal,
        new_links=new_links,
        notice=notice,
        error=error,
    )
    # a page with new links must not be kept in a cache (they are shown this once)
    return templating.render(
        request, "workspace/round.html", page, status_code=status_code, headers=NO_STORE
    )


@router.get("/teams/{team_id}/rounds/{round_id}", response_class=HTMLResponse)
def round_overview(
    request: Request,
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    catalog: CatalogDep,
    team_id: TeamId,
    round_id: RoundId,
    team: ScopedTeam,
    assessment_round: ScopedRound,
    notice: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    return _round_page(request, session, principal, catalog, team, assessment_round, notice=notice)


@router.post("/teams/{team_id}/rounds/{round_id}/links", response_class=HTMLResponse)
def create_links(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    catalog: CatalogDep,
    team_id: TeamId,
    round_id: RoundId,
    team: ScopedTeam,
    assessment_round: ScopedRound,
    form: FormDep,
    actor: PageActor,
) -> HTMLResponse:
    """New links for the chosen roles, shown once on this response."""
    try:
        issued = services.issue_links(
            session=session,
            settings=settings_of(request),
            team=team,
            assessment_round=assessment_round,
            roles=_texts(form, "roles"),
            actor=actor,
        )
    except DomainError as problem:
        return _round_page(
            request,
            session,
            principal,
            catalog,
            team,
            assessment_round,
            error=problem.message,
            status_code=problem.status_code,
        )
    return _round_page(
        request, session, principal, catalog, team, assessment_round, new_links=issued
    )


@router.post("/teams/{team_id}/rounds/{round_id}/links/revoke")
def revoke_link(
    session: SessionDep,
    principal: CurrentPrincipal,
    team_id: TeamId,
    round_id: RoundId,
    team: ScopedTeam,
    assessment_round: ScopedRound,
    form: FormDep,
    actor: PageActor,
) -> Response:
    services.revoke_link(
        session=session,
        team=team,
        assessment_round=assessment_round,
        role=_text(form, "role", 40),
        actor=actor,
    )
    return _redirect(_with_notice(urls.round_url(team_id, round_id), "revoked") + "#links")


@router.post("/teams/{team_id}/rounds/{round_id}/links/extend")
def extend_link(
    session: SessionDep,
    principal: CurrentPrincipal,
    team_id: TeamId,
    round_id: RoundId,
    team: ScopedTeam,
    assessment_round: ScopedRound,
    form: FormDep,
    actor: PageActor,
) -> Response:
    services.extend_link(
        session=session,
        team=team,
        assessment_round=assessment_round,
        role=_text(form, "role", 40),
        actor=actor,
    )
    return _redirect(_with_notice(urls.round_url(team_id, round_id), "link_extended") + "#links")


@router.post("/teams/{team_id}/rounds/{round_id}/extend")
def extend_round(
    session: SessionDep,
    principal: CurrentPrincipal,
    team_id: TeamId,
    round_id: RoundId,
    team: ScopedTeam,
    assessment_round: ScopedRound,
    form: FormDep,
    actor: PageActor,
) -> Response:
    closes_on = _parse_date(_text(form, "closes_on", 20))
    if closes_on is None:
        raise InvalidInputError("Enter the new closing date as a date; nothing was changed.")
    services.extend_round(
        session=session,
        team=team,
        assessment_round=assessment_round,
        closes_on=closes_on,
        actor=actor,
    )
    return _redirect(_with_notice(urls.round_url(team_id, round_id), "extended"))


@router.post("/teams/{team_id}/rounds/{round_id}/close")
def close_round(
    session: SessionDep,
    principal: CurrentPrincipal,
    team_id: TeamId,
    round_id: RoundId,
    team: ScopedTeam,
    assessment_round: ScopedRound,
    actor: PageActor,
) -> Response:
    services.close_round(session=session, team=team, assessment_round=assessment_round, actor=actor)
    return _redirect(_with_notice(urls.round_url(team_id, round_id), "closed"))


@router.post("/teams/{team_id}/rounds/{round_id}/sharing")
def share_results(
    session: SessionDep,
    principal: CurrentPrincipal,
    team_id: TeamId,
    round_id: RoundId,
    assessment_round: ScopedRound,
    form: FormDep,
) -> Response:
    rounds.set_sharing(
        session=session,
        assessment_round=assessment_round,
        respondents_see_results=_text(form, "respondents_see_results", 10) == "yes",
    )
    return _redirect(_with_notice(urls.round_url(team_id, round_id), "sharing"))


@router.post("/teams/{team_id}/rounds/{round_id}/answer")
def answer_yourself(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    team_id: TeamId,
    round_id: RoundId,
    assessment_round: ScopedRound,
) -> Response:
    """The lead's own answers: into the survey with the lead's personal link."""
    path = rounds.lead_response_path(
        session=session,
        settings=settings_of(request),
        assessment_round=assessment_round,
        user_id=principal.user_id,
    )
    return _redirect(path)


# ---------------------------------------------------------------- results


def _report_links(request: Request, team_id: int, round_id: int) -> list[results_page.Download]:
    """The team report's downloads, when the reports area's routes are registered."""
    # included routers keep their routes nested in app.routes: walk them all
    registered = {context.path for context in iter_route_contexts(request.app.routes)}
    base = urls.round_url(team_id, round_id)
    links = []
    if "/teams/{team_id}/rounds/{round_id}/report.pdf" in registered:
        links.append(results_page.Download("Team report", f"{base}/report.pdf", "PDF"))
        links.append(
            results_page.Download(
                "Team report, including all answers", f"{base}/report.pdf?full=1", "PDF"
            )
        )
    if "/teams/{team_id}/rounds/{round_id}/report.html" in registered:
        links.append(
            results_page.Download("Team report, printable page", f"{base}/report.html", "HTML")
        )
    return links


@router.get("/teams/{team_id}/rounds/{round_id}/results", response_class=HTMLResponse)
def results(
    request: Request,
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    catalog: CatalogDep,
    team_id: TeamId,
    round_id: RoundId,
    team: ScopedTeam,
    assessment_round: ScopedRound,
    result: Annotated[str, Query(max_length=80)] = ORIGINAL,
    notice: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    """The round's results: at once for a solo round, from the threshold on for a survey."""
    organisation = _organisation(session, team)
    viewer = visibility.viewer_of_user(
        session, settings_of(request), assessment_round, principal.user_id
    )
    loaded = load_results(
        session=session, assessment_round=assessment_round, label=result, viewer=viewer
    )
    used = (
        catalog_store.catalog_for(session=session, versions=loaded.result.rubric_versions)
        if loaded.result is not None
        else catalog
    )
    page = results_page.results_page(
        session=session,
        settings=settings_of(request),
        catalog=used,
        newest=catalog,
        team=team,
        organisation=organisation,
        assessment_round=assessment_round,
        results=loaded,
        adopted={
            practice_id: pages.day(when)
            for practice_id, when in acting.adopted_practices(
                session=session, team_id=team_id
            ).items()
        },
        upgrade=rubric_upgrade(session=session, assessment_round=assessment_round, newest=catalog)
        if loaded.result is not None
        else None,
        report_links=_report_links(request, team_id, round_id),
        notice=pages.NOTICES.get(notice),
        commentary=report_commentary.view(
            assessment_round=assessment_round,
            principal=principal,
            action=f"{urls.round_url(team_id, round_id)}/commentary",
        ),
    )
    return templating.render(request, "results/results.html", page)


@router.post("/teams/{team_id}/rounds/{round_id}/rescore")
def rescore_round(
    session: SessionDep,
    principal: CurrentPrincipal,
    catalog: CatalogDep,
    team_id: TeamId,
    round_id: RoundId,
    team: ScopedTeam,
    assessment_round: ScopedRound,
    actor: PageActor,
) -> Response:
    """Score the round's answers under the newest rubric, stored beside the original."""
    stored = services.rescore_round(
        session=session, team=team, assessment_round=assessment_round, newest=catalog, actor=actor
    )
    url = urls.results_url(team_id, round_id)
    return _redirect(f"{url}?result={stored.label}&notice=rescored")


def _visible_data(
    session: Session,
    assessment_round: AssessmentRound,
    viewer: visibility.Viewer = visibility.ANYONE,
) -> TeamResult | None:
    loaded = load_results(session=session, assessment_round=assessment_round, viewer=viewer)
    if loaded.result is None:
        return None
    return result_of(require_visible(loaded))


def _download(content: str, *, media_type: str, name: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={**DOWNLOAD_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )


def _export(
    session: Session,
    assessment_round: AssessmentRound,
    team_id: int,
    round_id: int,
    what: str,
    fmt: str,
) -> Response:
    data = _visible_data(session, assessment_round)
    if data is None:
        # nothing to download yet: the results page says why
        return _redirect(urls.results_url(team_id, round_id))
    catalog = catalog_store.catalog_for(session=session, versions=assessment_round.rubric_versions)
    columns: tuple[str, ...]
    if what == "roadmap":
        rows, columns = exports.roadmap_rows(data, catalog), exports.ROADMAP_COLUMNS
    else:
        rows, columns = exports.debt_rows(data, catalog), exports.DEBT_COLUMNS
    name = f"{what}-round-{round_id}.{fmt}"
    if fmt == "csv":
        return _download(exports.to_csv(rows, columns), media_type="text/csv", name=name)
    return _download(exports.to_json(rows), media_type="application/json", name=name)


@router.get("/teams/{team_id}/rounds/{round_id}/roadmap.csv")
def roadmap_csv(
    session: ReadSessionDep, assessment_round: ScopedRound, team_id: TeamId, round_id: RoundId
) -> Response:
    return _export(session, assessment_round, team_id, round_id, "roadmap", "csv")


@router.get("/teams/{team_id}/rounds/{round_id}/roadmap.json")
def roadmap_json(
    session: ReadSessionDep, assessment_round: ScopedRound, team_id: TeamId, round_id: RoundId
) -> Response:
    return _export(session, assessment_round, team_id, round_id, "roadmap", "json")


@router.get("/teams/{team_id}/rounds/{round_id}/debt-register.csv")
def debt_csv(
    session: ReadSessionDep, assessment_round: ScopedRound, team_id: TeamId, round_id: RoundId
) -> Response:
    return _export(session, assessment_round, team_id, round_id, "debt-register", "csv")


@router.get("/teams/{team_id}/rounds/{round_id}/debt-register.json")
def debt_json(
    session: ReadSessionDep, assessment_round: ScopedRound, team_id: TeamId, round_id: RoundId
) -> Response:
    return _export(session, assessment_round, team_id, round_id, "debt-register", "json")


@router.get("/teams/{team_id}/rounds/{round_id}/result.json")
def result_json(
    request: Request,
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    assessment_round: ScopedRound,
    team_id: TeamId,
    round_id: RoundId,
) -> Response:
    """The stored result as the engine made it (the same JSON as `processlens score`), less
    what the anonymity rule withholds from this viewer."""
    viewer = visibility.viewer_of_user(
        session, settings_of(request), assessment_round, principal.user_id
    )
    data = _visible_data(session, assessment_round, viewer)
    if data is None:
        return _redirect(urls.results_url(team_id, round_id))
    return _download(
        json.dumps(data.to_data(), indent=2, sort_keys=True, ensure_ascii=False),
        media_type="application/json",
        name=f"result-round-{round_id}.json",
    )


# ---------------------------------------------------------------- acting on results


@router.post("/teams/{team_id}/targets")
def set_targets(
    session: SessionDep,
    principal: CurrentPrincipal,
    catalog: CatalogDep,
    team_id: TeamId,
    team: ScopedTeam,
    form: FormDep,
    actor: PageActor,
) -> Response:
    wanted = {
        dimension: _text(form, f"target.{dimension}", 40)
        for dimension in acting.targetable(catalog)
        if f"target.{dimension}" in form
    }
    if not wanted:
        raise InvalidInputError("Choose a target for at least one dimension; nothing was changed.")
    services.set_targets(session=session, catalog=catalog, team=team, targets=wanted, actor=actor)
    return _redirect(_with_notice(_return_to(form, team_id), "targets"))


@router.post("/teams/{team_id}/practices/{practice_id}/adopt")
def adopt_practice(
    session: SessionDep,
    principal: CurrentPrincipal,
    catalog: CatalogDep,
    team_id: TeamId,
    team: ScopedTeam,
    practice_id: PracticeId,
    form: FormDep,
    actor: PageActor,
) -> Response:
    services.adopt_practice(
        session=session, catalog=catalog, team=team, practice_id=practice_id, actor=actor
    )
    return _redirect(_with_notice(_return_to(form, team_id), "adopted"))


@router.post("/teams/{team_id}/practices/{practice_id}/unadopt")
def unadopt_practice(
    session: SessionDep,
    principal: CurrentPrincipal,
    catalog: CatalogDep,
    team_id: TeamId,
    team: ScopedTeam,
    practice_id: PracticeId,
    form: FormDep,
    actor: PageActor,
) -> Response:
    services.unadopt_practice(
        session=session, catalog=catalog, team=team, practice_id=practice_id, actor=actor
    )
    return _redirect(_with_notice(_return_to(form, team_id), "unadopted"))
