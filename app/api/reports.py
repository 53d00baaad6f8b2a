"""API twins of the reports: the team report and the organisation report as PDF (a job with
its progress and file above PROCESSLENS_ORG_REPORT_JOB_TEAMS teams), and the consultant's
commentary on a round.

The same service as the pages (app.reports.batch, app.reports.commentary), through the same
tenancy loaders: another organisation's round is a 404; a report while results are hidden, or
an organisation report before any team has a stored result, is a 409.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from sqlmodel import Session
from starlette.background import BackgroundTask

from app.accounts import tenancy
from app.accounts.actor import ApiActor
from app.accounts.dependencies import (
    ERROR_RESPONSES,
    ApiOrgViewer,
    ApiPrincipal,
    RoundId,
    TeamId,
    require_api_roles,
    settings_of,
)
from app.accounts.tenancy import Principal
from app.catalog_store import CatalogDep
from app.db import ReadSessionDep, SessionDep
from app.errors import ConflictError
from app.jobs import status as job_status
from app.models import AssessmentRound, ReportJob, UserRole
from app.reports import batch, commentary, jobs
from app.reports.routes import (
    FullReport,
    file_download,
    job_queue,
    pdf_download,
    start_organisation_report_job,
)
from app.results import visibility

router = APIRouter(prefix="/api", tags=["reports"])
HideNames = Annotated[bool, Query(description="Number the teams instead of naming them")]


@router.get(
    "/teams/{team_id}/rounds/{round_id}/report.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The team report"}},
)
def api_team_report_pdf(
    request: Request,
    team_id: int,
    round_id: int,
    principal: ApiPrincipal,
    session: ReadSessionDep,
    full: FullReport = False,
) -> Response:
    """The round's team report as application/pdf (409 while results are not available): the
    concise report, or with ``full=true`` the full one with all answers."""
    settings = settings_of(request)
    report = batch.team_report_for_round_id(
        session=session,
        settings=settings,
        principal=principal,
        team_id=team_id,
        round_id=round_id,
        full=full,
    )
    return pdf_download(*batch.team_pdf(report, settings))


class ReportJobOut(BaseModel):
    """A report job's progress; ``download_url`` is set once its file is ready."""

    id: int
    kind: str = Field(description="team_reports or organisation_report")
    status: str = Field(description="queued, running, done, failed or stopped")
    done: int
    total: int
    failed: int
    message: str | None
    progress_url: str
    download_url: str | None


def _job_out(request: Request, org_id: int, job: ReportJob, ready: bool) -> ReportJobOut:
    assert job.id is not None
    url = f"/api/organisations/{org_id}/report-jobs/{job.id}"
    return ReportJobOut(
        id=job.id,
        kind=job.kind,
        status=job_status.shown_status(job, settings_of(request)),
        done=job.done,
        total=job.total,
        failed=job.failed,
        message=job.error,
        progress_url=url,
        download_url=f"{url}/download" if ready else None,
    )


@router.get(
    "/organisations/{org_id}/report.pdf",
    response_class=Response,
    responses={
        **ERROR_RESPONSES,
        200: {"content": {"application/pdf": {}}, "description": "The organisation report"},
        202: {
            "model": ReportJobOut,
            "description": "More teams than PROCESSLENS_ORG_REPORT_JOB_TEAMS: the report is "
            "made by a job; follow Location (its progress) until download_url is set.",
        },
    },
)
def api_organisation_report_pdf(
    request: Request,
    org_id: int,
    principal: ApiOrgViewer,
    session: ReadSessionDep,
    catalog: CatalogDep,
    hide_names: HideNames = False,
) -> Response:
    """The organisation report as application/pdf (409 while no team has a stored result);
    for a large organisation, 202 and the job that makes it."""
    organisation = tenancy.get_organisation(session=session, principal=principal, org_id=org_id)
    assert organisation.id is not None
    settings = settings_of(request)
    if jobs.organisation_report_is_a_job(
        session=session, organisation_id=organisation.id, settings=settings
    ):
        job = start_organisation_report_job(request, organisation, principal, hide_names)
        body = _job_out(request, org_id, job, ready=False)
        return JSONResponse(
            body.model_dump(),
            status_code=202,
            headers={"Location": body.progress_url},
            background=BackgroundTask(job_queue(request).enqueue, body.id),
        )
    return pdf_download(
        *batch.organisation_pdf(
            session=session,
            settings=settings,
            organisation=organisation,
            catalog=catalog,
            hide_names=hide_names,
            viewer=visibility.SignedIn(user_id=principal.user_id, settings=settings),
        )
    )


def _api_job(session: Session, principal: Principal, org_id: int, job_id: int) -> ReportJob:
    organisation = tenancy.get_organisation(session=session, principal=principal, org_id=org_id)
    assert organisation.id is not None
    tenancy.check_id(job_id)
    return jobs.get_job(
        session=session, organisation_id=organisation.id, job_id=job_id, user_id=principal.user_id
    )


@router.get("/organisations/{org_id}/report-jobs/{job_id}", responses=ERROR_RESPONSES)
def api_report_job(
    request: Request,
    org_id: int,
    job_id: int,
    principal: ApiOrgViewer,
    session: ReadSessionDep,
) -> ReportJobOut:
    """A report job's progress (every instance answers the same: it is in the database)."""
    job = _api_job(session, principal, org_id, job_id)
    return _job_out(request, org_id, job, ready=jobs.output(session=session, job=job) is not None)


@router.get(
    "/organisations/{org_id}/report-jobs/{job_id}/download",
    response_class=Response,
    responses={
        **ERROR_RESPONSES,
        200: {"content": {"application/pdf": {}, "application/zip": {}}, "description": "File"},
    },
)
def api_report_job_download(
    org_id: int, job_id: int, principal: ApiOrgViewer, session: ReadSessionDep
) -> Response:
    """The job's finished file (409 while it is not ready)."""
    job = _api_job(session, principal, org_id, job_id)
    file = jobs.output(session=session, job=job)
    if file is None:
        raise JobNotReadyError()
    return file_download(file)


class JobNotReadyError(ConflictError):
    title = "Not ready"
    default_message = (
        "The file is not ready: follow the job's progress_url until download_url is set."
    )


# ---------------------------------------------------------------- the consultant's commentary

ApiCommentaryEditor = Annotated[Principal, Depends(require_api_roles(UserRole.consultant))]


class CommentaryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # the length is checked by ``clean`` after line endings are normalised, as on the page
    commentary: StrictStr = Field(max_length=2 * commentary.MAX_CHARS)


class CommentaryOut(BaseModel):
    round_id: int
    commentary: str | None = Field(description="Plain text; null when there is none.")


@router.get("/teams/{team_id}/rounds/{round_id}/commentary", responses=ERROR_RESPONSES)
def api_commentary(
    session: ReadSessionDep, principal: ApiPrincipal, team_id: TeamId, round_id: RoundId
) -> CommentaryOut:
    """The round's commentary, for everyone who may see the round."""
    assessment_round = tenancy.get_round(
        session=session, principal=principal, round_id=round_id, team_id=team_id
    )
    return CommentaryOut(round_id=round_id, commentary=assessment_round.commentary)


def _api_editable_round(
    team_id: TeamId, round_id: RoundId, principal: ApiCommentaryEditor, session: SessionDep
) -> AssessmentRound:
    """The round, loaded before the body is validated: another tenant's round is a 404
    whatever the body holds."""
    return tenancy.get_round(
        session=session, principal=principal, round_id=round_id, team_id=team_id
    )


@router.put(
    "/teams/{team_id}/rounds/{round_id}/commentary",
    responses={
        **ERROR_RESPONSES,
        422: {"description": "Too long or not text; nothing was changed."},
    },
)
def api_save_commentary(
    session: SessionDep,
    principal: ApiCommentaryEditor,
    actor: ApiActor,
    assessment_round: Annotated[AssessmentRound, Depends(_api_editable_round)],
    body: CommentaryIn,
) -> CommentaryOut:
    """Set the round's commentary (consultants of the organisation and admins); an empty
    text removes it."""
    assert assessment_round.id is not None
    saved = commentary.save_and_audit(
        actor=actor,
        session=session,
        principal=principal,
        team_id=assessment_round.team_id,
        round_id=assessment_round.id,
        text=body.commentary,
    )
    return CommentaryOut(round_id=assessment_round.id, commentary=saved.commentary)
