"""Report downloads: a round's team report as a page and as a PDF, and the API twin.

Routes are thin: tenancy loads the round (another tenant's id is a 404), the service builds
the typed context from the stored result, the PDF comes from the cache or the render pool.
WeasyPrint never runs in the event loop: the routes are sync (FastAPI's thread pool) and the
render itself happens in a worker process.

Register with ``app.include_router(app.reports.routes.router)`` in ``app.main.create_app``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select

from app.accounts import tenancy
from app.accounts.dependencies import ApiPrincipal, CurrentPrincipal, settings_of
from app.accounts.tenancy import Principal
from app.db import ReadSessionDep
from app.errors import NotFoundError
from app.models import AssessmentRound, Organisation, RoundResult, Team
from app.reports import batch, context, pdf, render
from app.reports.branding import organisation_branding
from app.reports.cli import safe_file_name
from app.reports.org import StoredTeamResult

router = APIRouter(tags=["reports"])
PDF_HEADERS = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}


def _stored(result: RoundResult, assessment_round: AssessmentRound, team: Team) -> StoredTeamResult:
    assert team.id is not None
    assert assessment_round.id is not None
    when = assessment_round.closed_at or assessment_round.created_at
    return StoredTeamResult(
        team_id=team.id,
        team=team.name,
        business_unit=None,
        round_id=assessment_round.id,
        date=when.date().isoformat(),
        mode=assessment_round.mode,
        respondents=result.respondent_count,
        data=result.computed,
    )


def _original_result(session: Session, round_id: int) -> RoundResult | None:
    return session.exec(
        select(RoundResult).where(RoundResult.round_id == round_id, RoundResult.label == "original")
    ).first()


def team_report_for_round_id(
    *, request: Request, session: Session, principal: Principal, team_id: int, round_id: int
) -> context.TeamReport:
    """The team report of a round the principal may see, from its stored result.

    Raises NotFoundError for a round outside the principal's tenancy (or of another team) and
    ResultsNotVisibleError while the round has no result to show.
    """
    assessment_round = tenancy.get_round(
        session=session, principal=principal, round_id=round_id, team_id=team_id
    )
    team = session.get(Team, assessment_round.team_id)
    if team is None:
        raise NotFoundError()
    organisation = session.get(Organisation, team.organisation_id)
    if organisation is None:
        raise NotFoundError()
    result = _original_result(session, round_id)
    if result is None:
        raise context.ResultsNotVisibleError()
    earlier = session.exec(
        select(AssessmentRound, RoundResult)
        .join(RoundResult, col(RoundResult.round_id) == col(AssessmentRound.id))
        .where(
            AssessmentRound.team_id == team.id,
            col(AssessmentRound.created_at) < assessment_round.created_at,
            RoundResult.label == "original",
        )
        .order_by(col(AssessmentRound.created_at).desc())
        .limit(1)
    ).first()
    settings = settings_of(request)
    return batch.team_report_for_round(
        session=session,
        result=_stored(result, assessment_round, team),
        previous=_stored(earlier[1], earlier[0], team) if earlier else None,
        organisation=organisation.name,
        branding=organisation_branding(organisation, settings),
        role_group_minimum=settings.role_group_min,
    )


def _pdf_response(request: Request, report: context.TeamReport) -> Response:
    cache = pdf.PdfCache(settings_of(request).data_dir / "report-cache")
    document = render.team_pdf(report, cache=cache)
    name = safe_file_name(report.team, "team") + "-report.pdf"
    return Response(
        content=document,
        media_type="application/pdf",
        headers={**PDF_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/teams/{team_id}/rounds/{round_id}/report.pdf", response_class=Response)
def team_report_pdf(
    request: Request,
    team_id: int,
    round_id: int,
    principal: CurrentPrincipal,
    session: ReadSessionDep,
) -> Response:
    """The round's team report as a PDF download."""
    report = team_report_for_round_id(
        request=request, session=session, principal=principal, team_id=team_id, round_id=round_id
    )
    return _pdf_response(request, report)


@router.get("/teams/{team_id}/rounds/{round_id}/report.html", response_class=HTMLResponse)
def team_report_page(
    request: Request,
    team_id: int,
    round_id: int,
    principal: CurrentPrincipal,
    session: ReadSessionDep,
) -> HTMLResponse:
    """The round's team report as a page (interactive charts; prints like the PDF)."""
    report = team_report_for_round_id(
        request=request, session=session, principal=principal, team_id=team_id, round_id=round_id
    )
    return HTMLResponse(render.team_html(report, medium="web"))


@router.get(
    "/api/teams/{team_id}/rounds/{round_id}/report.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The team report"}},
)
def api_team_report_pdf(
    request: Request,
    team_id: int,
    round_id: int,
    principal: ApiPrincipal,
    session: ReadSessionDep,
) -> Response:
    """The round's team report as application/pdf (409 while results are not available)."""
    report = team_report_for_round_id(
        request=request, session=session, principal=principal, team_id=team_id, round_id=round_id
    )
    return _pdf_response(request, report)
