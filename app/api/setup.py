"""API twins of the bulk set-up: import (and preview, and export) an organisation's units,
teams and team leads as CSV, and start rounds for many of its teams at once.

Admins, and consultants for the organisations they are assigned to; another organisation's id
is a 404. The services are app.accounts.bulk_setup and app.workspace.bulk_rounds, as for the
pages and ``processlens import``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, StrictInt
from starlette.background import BackgroundTask

from app import db
from app.accounts import bulk_setup, setup_import, tenancy
from app.accounts.actor import ApiActor
from app.accounts.dependencies import ERROR_RESPONSES, MAX_ID, require_api_roles, settings_of
from app.accounts.tenancy import Principal
from app.api.workspace import RoundIn, round_request
from app.catalog_store import CatalogDep
from app.db import ReadSessionDep, RequestSessionDep, SessionDep
from app.errors import NotFoundError
from app.jobs import status as job_status
from app.models import Organisation, UserRole
from app.workspace import bulk_rounds

router = APIRouter(prefix="/api/organisations", responses=ERROR_RESPONSES, tags=["set-up"])

ApiSetupEditor = Annotated[Principal, Depends(require_api_roles(UserRole.consultant))]
OrgId = Annotated[int, Path(ge=1, le=MAX_ID)]


def setup_organisation(
    org_id: OrgId, principal: ApiSetupEditor, session: RequestSessionDep
) -> Organisation:
    """The path's organisation through tenancy, as a dependency, so it is loaded before the
    body is validated: another organisation's id is a 404 whatever was sent."""
    return tenancy.get_organisation(session=session, principal=principal, org_id=org_id)


def import_organisation(
    request: Request,
    organisation: Annotated[Organisation, Depends(setup_organisation)],
    principal: ApiSetupEditor,
) -> Organisation:
    """The organisation, for those who may import into it (app.accounts.bulk_setup)."""
    if not bulk_setup.may_import(principal=principal, settings=settings_of(request)):
        raise NotFoundError()
    return organisation


ImportInto = Annotated[Organisation, Depends(import_organisation)]


InOrganisation = Annotated[Organisation, Depends(setup_organisation)]
CsvBody = Annotated[
    bytes,
    Body(
        media_type="text/csv",
        description=f"UTF-8 CSV with the header unit,team,lead_email,lead_name; at most "
        f"{bulk_setup.MAX_ROWS} rows.",
    ),
]
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The file cannot be read, or a line has an error; nothing changed."},
    413: {"description": "The body is over the installation's size limit."},
}


class RowOut(BaseModel):
    line: int
    unit: str
    team: str
    lead_email: str
    outcome: str
    error: str | None


class PlanOut(BaseModel):
    ok: bool = Field(description="False: at least one line has an error and import refuses it.")
    rows: list[RowOut]
    units_created: int
    teams_created: int
    teams_moved: int
    leads_created: int
    leads_assigned: int


class PasswordLinkOut(BaseModel):
    email: str
    url: str = Field(description="One-time set-password link; shown only in this answer.")


class ImportOut(BaseModel):
    plan: PlanOut
    password_links: list[PasswordLinkOut]


def _plan_out(plan: bulk_setup.SetupPlan) -> PlanOut:
    return PlanOut(
        ok=plan.ok,
        rows=[
            RowOut(
                line=row.line,
                unit=row.unit,
                team=row.team,
                lead_email=row.lead_email,
                outcome=row.outcome,
                error=row.error,
            )
            for row in plan.rows
        ],
        units_created=plan.units_created,
        teams_created=plan.teams_created,
        teams_moved=plan.teams_moved,
        leads_created=plan.leads_created,
        leads_assigned=plan.leads_assigned,
    )


@router.post("/{org_id}/import/preview", responses=ERRORS)
def preview_import(
    org_id: OrgId,
    data: CsvBody,
    principal: ApiSetupEditor,
    organisation: ImportInto,
    session: ReadSessionDep,
) -> PlanOut:
    """What importing the CSV would do, line by line (``error`` on a refused line); nothing
    is written."""
    return _plan_out(bulk_setup.preview(session=session, organisation=organisation, data=data))


class ImportJobOut(BaseModel):
    id: int
    status: str = Field(description="queued, running, done, failed or stopped (no worker).")
    done: int = Field(description="Lines written so far.")
    total: int
    message: str | None = Field(description="The summary when done; what failed otherwise.")
    progress_url: str
    password_links: list[PasswordLinkOut] | None = Field(
        default=None,
        description="When done: the new leads' one-time set-password links, in the first "
        "answer only (then deleted; also after 24 hours if never fetched).",
    )


def _job_out(
    org_id: int,
    job: job_status.JobView,
    links: list[bulk_setup.PasswordLink] | None = None,
) -> ImportJobOut:
    return ImportJobOut(
        id=job.id,
        status=job.status,
        done=job.done,
        total=job.total,
        message=job.message,
        progress_url=f"/api/organisations/{org_id}/import/jobs/{job.id}",
        password_links=None
        if links is None
        else [PasswordLinkOut(email=link.email, url=link.url) for link in links],
    )


@router.post(
    "/{org_id}/import",
    status_code=201,
    response_model=ImportOut,
    responses={
        **ERRORS,
        202: {
            "model": ImportJobOut,
            "description": f"More than {setup_import.JOB_ROWS} lines: imported by a job; "
            "follow Location (its progress) until status is done (or failed).",
        },
    },
)
def run_import(
    org_id: OrgId,
    data: CsvBody,
    request: Request,
    principal: ApiSetupEditor,
    organisation: ImportInto,
    actor: ApiActor,
    session: ReadSessionDep,
) -> ImportOut | JSONResponse:
    """Import the CSV, all or nothing: any line in error is a 400 naming it and nothing is
    written. Running the same file again changes nothing; rows left out are never deleted.
    More than JOB_ROWS lines: 202 and the job that imports them (the links come with its
    first finished answer)."""
    assert organisation.id is not None
    sessions = request.app.state.sessions
    session.commit()  # ends the read (nothing expires): the import writes on its own
    if setup_import.is_a_job(data):
        job = setup_import.start_job(
            sessions=sessions,
            organisation_id=organisation.id,
            user_id=principal.user_id,
            data=data,
            actor=actor,
        )
        assert job.id is not None
        body = _job_out(org_id, job_status.view(job, settings_of(request)))
        return JSONResponse(
            body.model_dump(),
            status_code=202,
            headers={"Location": body.progress_url},
            background=BackgroundTask(request.app.state.job_queue.enqueue, job.id),
        )
    result = setup_import.import_file(
        sessions=sessions,
        settings=settings_of(request),
        organisation_id=organisation.id,
        data=data,
        actor=actor,
        timings=db.BatchTimings(),
    )
    return ImportOut(
        plan=_plan_out(result.plan),
        password_links=[PasswordLinkOut(email=i.email, url=i.url) for i in result.password_links],
    )


@router.get("/{org_id}/import/jobs/{import_job_id}")
def import_job(
    org_id: OrgId,
    import_job_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    request: Request,
    principal: ApiSetupEditor,
    organisation: ImportInto,
    session: ReadSessionDep,
) -> ImportJobOut:
    """An import job's progress; done: its summary and, in this first answer only, the new
    leads' set-password links. Only whoever started it sees it (anyone else: 404)."""
    assert organisation.id is not None
    job = setup_import.get_job(
        session=session,
        organisation_id=organisation.id,
        job_id=import_job_id,
        user_id=principal.user_id,
    )
    session.commit()  # ends the read (nothing expires): taking the links writes on its own
    links = setup_import.take_links(sessions=request.app.state.sessions, job=job)
    return _job_out(org_id, job_status.view(job, settings_of(request)), links)


@router.get(
    "/{org_id}/import.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The import format."}},
)
def export_setup(
    org_id: OrgId,
    principal: ApiSetupEditor,
    organisation: ImportInto,
    session: ReadSessionDep,
) -> Response:
    """The organisation's units, teams and team leads in the import format."""
    text = bulk_setup.export_csv(session=session, organisation=organisation)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{organisation.slug}-setup.csv"'},
    )


# ---------------------------------------------------------------- many rounds at once


class ManyRoundsIn(RoundIn):
    team_ids: list[Annotated[StrictInt, Field(ge=1, le=MAX_ID)]] = Field(
        default_factory=list, max_length=bulk_rounds.MAX_TEAMS
    )
    unit_id: Annotated[StrictInt, Field(ge=1, le=MAX_ID)] | None = Field(
        default=None, description="Every team of this business unit (with or beside team_ids)."
    )


class TeamLinkOut(BaseModel):
    role: str
    url: str


class StartedRoundOut(BaseModel):
    team_id: int
    team_name: str
    round_id: int
    links: list[TeamLinkOut]
    answer_url: str | None


class ManyRoundsOut(BaseModel):
    rounds: list[StartedRoundOut]
    links_csv: str = Field(description="team,round_id,role,url: the links as CSV, shown once.")


@router.post("/{org_id}/rounds", status_code=201, responses=ERRORS)
def start_many_rounds(
    org_id: OrgId,
    body: ManyRoundsIn,
    request: Request,
    principal: ApiSetupEditor,
    organisation: InOrganisation,
    actor: ApiActor,
    session: SessionDep,
    catalog: CatalogDep,
) -> ManyRoundsOut:
    """Start a round with the same settings for each chosen team (``team_ids`` and/or every
    team of ``unit_id``), all or none. The links are only in this answer."""
    settings = settings_of(request)
    teams = bulk_rounds.select_teams(
        session=session,
        principal=principal,
        organisation=organisation,
        team_ids=body.team_ids,
        unit_ids=[body.unit_id] if body.unit_id is not None else [],
    )
    started = bulk_rounds.start_rounds(
        session=session,
        settings=settings,
        catalog=catalog,
        organisation=organisation,
        teams=teams,
        request=round_request(body, settings=settings, catalog=catalog, organisation=organisation),
        actor=actor,
    )
    return ManyRoundsOut(
        rounds=[
            StartedRoundOut(
                team_id=item.team_id,
                team_name=item.team_name,
                round_id=item.round_id,
                links=[TeamLinkOut(role=link.role, url=link.url) for link in item.links],
                answer_url=item.answer_url,
            )
            for item in started
        ],
        links_csv=bulk_rounds.links_csv(started),
    )
