"""API twins of the workspace: rounds, invitation links, results, targets and adopted practices,
and rescoring a whole organisation under the newest rubric (a job).

The same services as the pages (app.workspace), through the same tenancy loaders: another
organisation's team or round is a 404. Results follow the one anonymity rule; while it hides
them, ``visible`` is false and ``result`` is null. ``result`` is the stored result exactly as
the engine made it (``to_data``), the JSON ``processlens score`` prints for the same answers.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from sqlmodel import Session, col, select
from starlette.background import BackgroundTask

from app import catalog_store
from app.accounts import tenancy
from app.accounts.actor import ApiActor
from app.accounts.dependencies import (
    ERROR_RESPONSES,
    ApiOrgViewer,
    ApiPrincipal,
    PracticeId,
    RoundId,
    TeamId,
    settings_of,
)
from app.catalog_store import CatalogDep
from app.config import Settings
from app.db import ReadSessionDep, RequestSessionDep, SessionDep
from app.errors import NotFoundError
from app.jobs import queue
from app.jobs import status as job_status
from app.models import AssessmentRound, Organisation, Team
from app.results import visibility
from app.results.model import TeamResult
from app.results.reads import previous_shown, result_of
from app.results.service import ORIGINAL
from app.rubric.loader import Catalog
from app.surveys.invitations import IssuedInvitation, absolute_url
from app.surveys.service import round_closed
from app.workspace import acting, organisation_rescore, rounds, services
from app.workspace.results import load_results, rubric_upgrade, visibility_of

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES)
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad input; nothing was changed."},
    409: {"description": "Not possible in the round's state (closed, results hidden)."},
}

Role = Literal[
    "data_scientist", "ml_engineer", "software_engineer", "product_manager", "team_lead", "other"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- shapes


class RoundIn(_Strict):
    mode: Literal["solo", "team_survey"]
    kind: Literal["full", "quick"] = "full"
    stage: Literal["exploration", "prototype", "productionising", "operating"]
    instruments: list[Annotated[StrictStr, Field(max_length=80)]] | None = Field(
        default=None, max_length=20, description="Default: every questionnaire available."
    )
    title: Annotated[StrictStr, Field(max_length=200)] = ""
    results_min: StrictInt | None = Field(
        default=None, description="The threshold (3 by default), or 2 for a very small team."
    )
    closes_on: date | None = Field(default=None, description="Team surveys: 14 days by default.")
    respondents_see_results: StrictBool = False
    roles: list[Role] | None = Field(
        default=None, max_length=6, description="Team surveys: the roles to make links for."
    )


class RoundOut(BaseModel):
    id: int
    team_id: int
    title: str
    mode: str
    kind: str
    stage: str
    instruments: list[str]
    status: str
    closed: bool
    results_min: int
    respondents_see_results: bool
    opened_at: datetime | None
    closes_at: datetime | None
    closed_at: datetime | None
    submitted: int
    results_visible: bool


class LinkOut(BaseModel):
    """A new invitation link: the only time its address is shown (only a hash is kept)."""

    role: str
    url: str
    expires_at: datetime
    use_limit: int


class CreatedRoundOut(BaseModel):
    round: RoundOut
    links: list[LinkOut]
    answer_url: str | None = Field(description="A solo round: where the lead answers it.")


class RoleCountOut(BaseModel):
    role: str
    started: int | None = Field(description="None when the role has fewer than k submitted.")
    submitted: int | None = Field(description="None when the role has fewer than k submitted.")
    fewer_than_minimum: bool = Field(
        description="The role has fewer submitted responses than the round's threshold "
        "(results_min), so its counts are not shown."
    )


class LinkStateOut(BaseModel):
    role: str
    status: str
    uses: int
    use_limit: int
    expires_at: datetime


class RoundDetailOut(BaseModel):
    round: RoundOut
    responses: list[RoleCountOut]
    links: list[LinkStateOut]


class ExtendIn(_Strict):
    closes_on: date


class LinksIn(_Strict):
    roles: list[Role] = Field(min_length=1, max_length=6)


class RoleIn(_Strict):
    role: Role


class RenewalOut(BaseModel):
    question: str
    text: str
    reason: str


class UpgradeOut(BaseModel):
    label: str
    rescored: bool
    renew: list[RenewalOut]


class ResultOut(BaseModel):
    visible: bool
    submitted: int
    needed: int
    label: str
    labels: list[str]
    final: bool
    computed_at: datetime | None
    result: dict[str, Any] | None
    upgrade: UpgradeOut | None = Field(description="A newer rubric exists: what rescoring needs.")


class TargetsIn(_Strict):
    targets: dict[
        Annotated[str, Field(max_length=40)], Annotated[str, Field(max_length=40)] | None
    ] = Field(max_length=20, description="Dimension -> band id or level (digits); null removes.")


class AdoptedOut(BaseModel):
    practice: str
    adopted_at: datetime


# ---------------------------------------------------------------- helpers


@dataclasses.dataclass(frozen=True)
class TeamInScope:
    team: Team
    organisation: Organisation


@dataclasses.dataclass(frozen=True)
class RoundInScope:
    team: Team
    organisation: Organisation
    assessment_round: AssessmentRound


def team_scope(team_id: TeamId, principal: ApiPrincipal, session: RequestSessionDep) -> TeamInScope:
    """The path's team through tenancy, as a dependency, so it is loaded before the body is
    validated: another organisation's team is a 404 whatever was sent."""
    team = tenancy.get_team(session=session, principal=principal, team_id=team_id)
    organisation = session.get(Organisation, team.organisation_id)
    if organisation is None:  # pragma: no cover - the foreign key cascades
        raise NotFoundError()
    return TeamInScope(team, organisation)


def round_scope(
    team_id: TeamId, round_id: RoundId, principal: ApiPrincipal, session: RequestSessionDep
) -> RoundInScope:
    scope = team_scope(team_id, principal, session)
    assessment_round = tenancy.get_round(
        session=session, principal=principal, round_id=round_id, team_id=team_id
    )
    return RoundInScope(scope.team, scope.organisation, assessment_round)


TeamScope = Annotated[TeamInScope, Depends(team_scope)]
InRound = Annotated[RoundInScope, Depends(round_scope)]


def _round_out(session: Session, assessment_round: AssessmentRound) -> RoundOut:
    assert assessment_round.id is not None
    visibility = visibility_of(session=session, assessment_round=assessment_round)
    return RoundOut(
        id=assessment_round.id,
        team_id=assessment_round.team_id,
        title=assessment_round.title,
        mode=assessment_round.mode,
        kind=assessment_round.kind,
        stage=assessment_round.stage,
        instruments=list(assessment_round.instruments),
        status=assessment_round.status,
        closed=round_closed(assessment_round),
        results_min=assessment_round.results_min,
        respondents_see_results=assessment_round.respondents_see_results,
        opened_at=assessment_round.opened_at,
        closes_at=assessment_round.closes_at,
        closed_at=assessment_round.closed_at,
        submitted=visibility.submitted,
        results_visible=visibility.visible,
    )


def _links_out(request: Request, issued: dict[str, IssuedInvitation]) -> list[LinkOut]:
    settings = settings_of(request)
    return [
        LinkOut(
            role=role,
            url=absolute_url(settings, link.path),
            expires_at=link.invitation.expires_at,
            use_limit=link.invitation.use_limit,
        )
        for role, link in issued.items()
    ]


# ---------------------------------------------------------------- rounds


@router.get("/teams/{team_id}/rounds", tags=["workspace"])
def list_rounds(
    team_id: TeamId, principal: ApiPrincipal, session: ReadSessionDep, scope: TeamScope
) -> list[RoundOut]:
    """The team's rounds, newest first."""
    team = scope.team
    found = session.exec(
        select(AssessmentRound)
        .where(AssessmentRound.team_id == team.id)
        .order_by(col(AssessmentRound.created_at).desc(), col(AssessmentRound.id).desc())
    ).all()
    return [_round_out(session, item) for item in found]


def round_request(
    body: RoundIn, *, settings: Settings, catalog: Catalog, organisation: Organisation
) -> rounds.RoundRequest:
    """The API's round settings with the organisation's defaults filled in (one round, or the
    same for many: app.api.setup)."""
    available = tuple(catalog_store.round_instruments(catalog, organisation))
    return rounds.RoundRequest(
        mode=body.mode,
        kind=body.kind,
        stage=body.stage,
        instruments=tuple(body.instruments) if body.instruments is not None else available,
        title=body.title,
        results_min=body.results_min
        if body.results_min is not None
        else rounds.results_threshold(settings, organisation),
        closes_on=body.closes_on,
        respondents_see_results=body.respondents_see_results,
        roles=tuple(body.roles) if body.roles is not None else rounds.DEFAULT_ROLES,
    )


REPEATED: dict[int | str, dict[str, Any]] = {
    200: {
        "model": CreatedRoundOut,
        "description": "A repeat with the same Idempotency-Key: the round the first call "
        "started, without links (a link is shown only once).",
    }
}


@router.post(
    "/teams/{team_id}/rounds",
    status_code=201,
    tags=["workspace"],
    responses={**ERRORS, **REPEATED},
)
def create_round(
    team_id: TeamId,
    body: RoundIn,
    request: Request,
    response: Response,
    principal: ApiPrincipal,
    actor: ApiActor,
    scope: TeamScope,
    session: SessionDep,
    catalog: CatalogDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            description="Any unique string (a UUID) of up to 128 visible characters: a retry "
            "with the same key returns the first round instead of starting another."
        ),
    ] = None,
) -> CreatedRoundOut:
    """Start a round under the newest rubric. A team survey answers with one invitation link
    per role (shown only here); a solo round with the address where the lead answers it."""
    team, organisation = scope.team, scope.organisation
    settings = settings_of(request)
    started = services.create_round(
        session=session,
        settings=settings,
        catalog=catalog,
        team=team,
        organisation=organisation,
        request=round_request(body, settings=settings, catalog=catalog, organisation=organisation),
        actor=actor,
        idempotency_key=idempotency_key,
    )
    assessment_round = started.assessment_round
    if started.repeated:
        response.status_code = 200
    return CreatedRoundOut(
        round=_round_out(session, assessment_round),
        links=_links_out(request, dict(started.links)),
        answer_url=absolute_url(settings, started.lead_path) if started.lead_path else None,
    )


@router.get("/teams/{team_id}/rounds/{round_id}", tags=["workspace"])
def get_round(
    team_id: TeamId,
    round_id: RoundId,
    principal: ApiPrincipal,
    session: ReadSessionDep,
    scope: InRound,
) -> RoundDetailOut:
    """The round, its responses per role (counts only) and the state of its links."""
    assessment_round = scope.assessment_round
    return RoundDetailOut(
        round=_round_out(session, assessment_round),
        responses=[
            RoleCountOut(
                role=c.role,
                started=c.started,
                submitted=c.submitted,
                fewer_than_minimum=c.fewer_than_minimum,
            )
            for c in rounds.role_counts(session=session, assessment_round=assessment_round)
        ],
        links=[
            LinkStateOut(
                role=s.role,
                status=s.status,
                uses=s.uses,
                use_limit=s.use_limit,
                expires_at=s.expires_at,
            )
            for s in rounds.link_states(session=session, assessment_round=assessment_round)
        ],
    )


@router.post("/teams/{team_id}/rounds/{round_id}/close", tags=["workspace"], responses=ERRORS)
def close_round(
    team_id: TeamId,
    round_id: RoundId,
    principal: ApiPrincipal,
    actor: ApiActor,
    scope: InRound,
    session: SessionDep,
) -> RoundOut:
    """Close the round: links stop working and the result becomes final."""
    team, assessment_round = scope.team, scope.assessment_round
    services.close_round(session=session, team=team, assessment_round=assessment_round, actor=actor)
    return _round_out(session, assessment_round)


@router.post("/teams/{team_id}/rounds/{round_id}/extend", tags=["workspace"], responses=ERRORS)
def extend_round(
    team_id: TeamId,
    round_id: RoundId,
    body: ExtendIn,
    principal: ApiPrincipal,
    actor: ApiActor,
    scope: InRound,
    session: SessionDep,
) -> RoundOut:
    """A later closing date; links that would expire earlier are extended to it."""
    team, assessment_round = scope.team, scope.assessment_round
    services.extend_round(
        session=session,
        team=team,
        assessment_round=assessment_round,
        closes_on=body.closes_on,
        actor=actor,
    )
    return _round_out(session, assessment_round)


# ---------------------------------------------------------------- invitation links


@router.post(
    "/teams/{team_id}/rounds/{round_id}/invitations",
    status_code=201,
    tags=["workspace"],
    responses=ERRORS,
)
def create_links(
    team_id: TeamId,
    round_id: RoundId,
    body: LinksIn,
    request: Request,
    principal: ApiPrincipal,
    actor: ApiActor,
    scope: InRound,
    session: SessionDep,
) -> list[LinkOut]:
    """New links for the roles (shown only here); a role's previous link stops working."""
    team, assessment_round = scope.team, scope.assessment_round
    issued = services.issue_links(
        session=session,
        settings=settings_of(request),
        team=team,
        assessment_round=assessment_round,
        roles=body.roles,
        actor=actor,
    )
    return _links_out(request, issued)


@router.post(
    "/teams/{team_id}/rounds/{round_id}/invitations/revoke",
    status_code=204,
    tags=["workspace"],
    responses=ERRORS,
)
def revoke_link(
    team_id: TeamId,
    round_id: RoundId,
    body: RoleIn,
    principal: ApiPrincipal,
    actor: ApiActor,
    scope: InRound,
    session: SessionDep,
) -> Response:
    """The role's link stops working; people who started keep their personal links."""
    team, assessment_round = scope.team, scope.assessment_round
    services.revoke_link(
        session=session, team=team, assessment_round=assessment_round, role=body.role, actor=actor
    )
    return Response(status_code=204)


@router.post(
    "/teams/{team_id}/rounds/{round_id}/invitations/extend", tags=["workspace"], responses=ERRORS
)
def extend_link(
    team_id: TeamId,
    round_id: RoundId,
    body: RoleIn,
    principal: ApiPrincipal,
    actor: ApiActor,
    scope: InRound,
    session: SessionDep,
) -> LinkStateOut:
    """Ten more uses for the role's link, valid until the round closes."""
    team, assessment_round = scope.team, scope.assessment_round
    services.extend_link(
        session=session, team=team, assessment_round=assessment_round, role=body.role, actor=actor
    )
    state = next(
        s
        for s in rounds.link_states(session=session, assessment_round=assessment_round)
        if s.role == body.role
    )
    return LinkStateOut(
        role=state.role,
        status=state.status,
        uses=state.uses,
        use_limit=state.use_limit,
        expires_at=state.expires_at,
    )


# ---------------------------------------------------------------- results


def _result_out(
    session: Session,
    assessment_round: AssessmentRound,
    catalog: Catalog,
    label: str,
    viewer: visibility.Viewer = visibility.ANYONE,
) -> ResultOut:
    loaded = load_results(
        session=session, assessment_round=assessment_round, label=label, viewer=viewer
    )
    stored = loaded.result
    upgrade = (
        rubric_upgrade(session=session, assessment_round=assessment_round, newest=catalog)
        if stored is not None
        else None
    )
    return ResultOut(
        visible=stored is not None,
        submitted=loaded.visibility.submitted,
        needed=loaded.visibility.needed,
        label=loaded.label,
        labels=list(loaded.labels),
        final=bool(stored and stored.final),
        computed_at=stored.computed_at if stored else None,
        result=_within_kind(session, assessment_round, result_of(stored)).to_data()
        if stored
        else None,
        upgrade=UpgradeOut(
            label=upgrade.label,
            rescored=upgrade.rescored,
            renew=[
                RenewalOut(question=r.question, text=r.text, reason=r.reason) for r in upgrade.renew
            ],
        )
        if upgrade is not None
        else None,
    )


def _within_kind(
    session: Session, assessment_round: AssessmentRound, result: TeamResult
) -> TeamResult:
    """No change against a previous round of another kind (quick or full), even in a result
    stored before the engine said so itself."""
    previous = previous_shown(session, assessment_round)
    return result.within_kind(previous.round.kind if previous is not None else None)


@router.get("/teams/{team_id}/rounds/{round_id}/results", tags=["workspace"])
def get_results(
    request: Request,
    team_id: TeamId,
    round_id: RoundId,
    principal: ApiPrincipal,
    scope: InRound,
    session: ReadSessionDep,
    catalog: CatalogDep,
    label: Annotated[str, Query(max_length=80)] = ORIGINAL,
) -> ResultOut:
    """The round's stored result (``to_data``) under ``label``, once the anonymity rule
    allows it (``visible``); ``submitted`` and ``needed`` say how far it is."""
    assessment_round = scope.assessment_round
    viewer = visibility.viewer_of_user(
        session, settings_of(request), assessment_round, principal.user_id
    )
    return _result_out(session, assessment_round, catalog, label, viewer)


@router.post(
    "/teams/{team_id}/rounds/{round_id}/rescore",
    status_code=201,
    tags=["workspace"],
    responses=ERRORS,
)
def rescore_round(
    team_id: TeamId,
    round_id: RoundId,
    principal: ApiPrincipal,
    actor: ApiActor,
    scope: InRound,
    session: SessionDep,
    catalog: CatalogDep,
) -> ResultOut:
    """Score the round's answers under the newest rubric, stored beside the original under
    its own label; ``upgrade.renew`` lists the questions that need new answers."""
    team, assessment_round = scope.team, scope.assessment_round
    stored = services.rescore_round(
        session=session, team=team, assessment_round=assessment_round, newest=catalog, actor=actor
    )
    return _result_out(session, assessment_round, catalog, stored.label)


# ---------------------------------------------------------------- targets and adoption


@router.get("/teams/{team_id}/targets", tags=["workspace"])
def get_targets(
    team_id: TeamId, principal: ApiPrincipal, session: ReadSessionDep, scope: TeamScope
) -> dict[str, str]:
    """The team's target per dimension: a band id, or a handoff level as digits."""
    team = scope.team
    assert team.id is not None
    return acting.team_targets(session=session, team_id=team.id)


@router.put("/teams/{team_id}/targets", tags=["workspace"], responses=ERRORS)
def put_targets(
    team_id: TeamId,
    body: TargetsIn,
    principal: ApiPrincipal,
    actor: ApiActor,
    scope: TeamScope,
    session: SessionDep,
    catalog: CatalogDep,
) -> dict[str, str]:
    """Set targets (null removes one); dimensions not named keep theirs. Results are
    recomputed, so they show the percent to each target."""
    return services.set_targets(
        session=session, catalog=catalog, team=scope.team, targets=body.targets, actor=actor
    )


@router.get("/teams/{team_id}/adopted", tags=["workspace"])
def list_adopted(
    team_id: TeamId, principal: ApiPrincipal, session: ReadSessionDep, scope: TeamScope
) -> list[AdoptedOut]:
    """Practices the team marked adopted."""
    return _adopted_out(session, scope.team)


def _adopted_out(session: Session, team: Team) -> list[AdoptedOut]:
    assert team.id is not None
    return [
        AdoptedOut(practice=practice_id, adopted_at=when)
        for practice_id, when in acting.adopted_practices(session=session, team_id=team.id).items()
    ]


@router.put("/teams/{team_id}/adopted/{practice_id}", tags=["workspace"], responses=ERRORS)
def adopt(
    team_id: TeamId,
    practice_id: PracticeId,
    principal: ApiPrincipal,
    actor: ApiActor,
    scope: TeamScope,
    session: SessionDep,
    catalog: CatalogDep,
) -> list[AdoptedOut]:
    """Mark a practice adopted (again: no change); the next round shows if answers moved."""
    team = scope.team
    services.adopt_practice(
        session=session, catalog=catalog, team=team, practice_id=practice_id, actor=actor
    )
    return _adopted_out(session, team)


@router.delete(
    "/teams/{team_id}/adopted/{practice_id}", status_code=204, tags=["workspace"], responses=ERRORS
)
def unadopt(
    team_id: TeamId,
    practice_id: PracticeId,
    principal: ApiPrincipal,
    actor: ApiActor,
    scope: TeamScope,
    session: SessionDep,
    catalog: CatalogDep,
) -> Response:
    """Undo an adoption (no change if it was not adopted)."""
    services.unadopt_practice(
        session=session, catalog=catalog, team=scope.team, practice_id=practice_id, actor=actor
    )
    return Response(status_code=204)


# ---------------------------------------------------------------- rescoring an organisation


class OrganisationRescoreOut(BaseModel):
    """A rescore of the organisation's rounds under the newest rubric, made by a job."""

    id: int
    status: str = Field(description="queued, running, done, failed or stopped")
    done: int = Field(description="Rounds rescored (or skipped) so far")
    total: int = Field(description="Rounds to rescore (0 until the job has started)")
    message: str | None = Field(
        description="When done, the one-line summary (rounds rescored, already rescored, not "
        "shown); when failed, what went wrong."
    )
    progress_url: str


def _rescore_out(org_id: int, job: job_status.JobView) -> OrganisationRescoreOut:
    return OrganisationRescoreOut(
        id=job.id,
        status=job.status,
        done=job.done,
        total=job.total,
        message=job.message,
        progress_url=f"/api/organisations/{org_id}/rescore/jobs/{job.id}",
    )


@router.post(
    "/organisations/{org_id}/rescore",
    status_code=202,
    response_model=OrganisationRescoreOut,
    tags=["workspace"],
    responses={409: {"description": "Nothing to rescore: no job was started."}},
)
def rescore_organisation(
    request: Request,
    org_id: int,
    principal: ApiOrgViewer,
    actor: ApiActor,
    session: ReadSessionDep,
    catalog: CatalogDep,
) -> JSONResponse:
    """Rescore every round of the organisation that used an older rubric under the newest
    one, by a job: 202 and the job (the one under way, if any); follow ``progress_url``. Each
    round gets a separate result under its own label; the original stays as it is. Rounds
    whose results are hidden by the anonymity rule are skipped and counted."""
    organisation = tenancy.get_organisation(session=session, principal=principal, org_id=org_id)
    assert organisation.id is not None
    settings = settings_of(request)
    started = organisation_rescore.start_job(
        sessions=request.app.state.sessions,
        read_sessions=request.app.state.read_sessions,
        settings=settings,
        organisation_id=organisation.id,
        newest=catalog,
        actor=actor,
    )
    body = _rescore_out(org_id, job_status.view(started.job, settings))
    job_queue: queue.JobQueue = request.app.state.job_queue
    return JSONResponse(
        body.model_dump(),
        status_code=202,
        headers={"Location": body.progress_url},
        background=BackgroundTask(job_queue.enqueue, body.id) if started.new else None,
    )


@router.get("/organisations/{org_id}/rescore/jobs/{rescore_job_id}", tags=["workspace"])
def organisation_rescore_job(
    request: Request,
    org_id: int,
    rescore_job_id: int,
    principal: ApiOrgViewer,
    session: ReadSessionDep,
) -> OrganisationRescoreOut:
    """A rescore job's progress, and its summary once done."""
    organisation = tenancy.get_organisation(session=session, principal=principal, org_id=org_id)
    assert organisation.id is not None
    tenancy.check_id(rescore_job_id)
    job = organisation_rescore.get_job(
        session=session, organisation_id=organisation.id, job_id=rescore_job_id
    )
    return _rescore_out(org_id, job_status.view(job, settings_of(request)))
