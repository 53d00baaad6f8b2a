"""Setting up organisations through the API: create, rename and delete organisations,
business units and teams, move teams between units, and assign people.

Admins may do everything, like the admin pages. When the installation lets consultants set up
client organisations (PROCESSLENS_CONSULTANTS_CREATE_ORGANISATIONS, the rule of the import
page), a consultant may create organisations (and is assigned to what they create) and create,
rename, move and delete the units and teams of the organisations they are assigned to; renaming
or deleting an organisation and assignments stay with admins.

Thin: each endpoint calls the same app.accounts.organisations service as the admin pages and
the CLI, which checks, changes and records the audit event. Ids in the path and in the body
are loaded through tenancy with the path's organisation: a unit, team or membership of another
organisation is a 404, never a change.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from app.accounts import organisations, tenancy, users
from app.accounts.actor import ApiActor
from app.accounts.dependencies import (
    ERROR_RESPONSES,
    MAX_ID,
    ApiOrganisationCreator,
    require_api_roles,
    settings_of,
)
from app.accounts.tenancy import Principal
from app.api.accounts import OrganisationOut, TeamOut
from app.db import SessionDep
from app.errors import InvalidInputError, NotFoundError
from app.models import BusinessUnit, Organisation, Team, UserRole

ApiAdmin = Annotated[Principal, Depends(require_api_roles())]
# admins; consultants too, then only with the installation setting and in their organisations
ApiSetupEditor = Annotated[Principal, Depends(require_api_roles(UserRole.consultant))]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
Name = Annotated[StrictStr, Field(max_length=400)]
ERRORS: dict[int | str, dict[str, object]] = {
    400: {"description": "A name or an id cannot be used; nothing was changed."},
    409: {"description": "The name is already used in this organisation; nothing was changed."},
}

router = APIRouter(prefix="/api", responses={**ERROR_RESPONSES, **ERRORS}, tags=["set-up"])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NameIn(_Strict):
    name: Name


class TeamIn(_Strict):
    name: Name
    business_unit_id: Id | None = None


class TeamChangeIn(_Strict):
    """Send ``name`` to rename, ``business_unit_id`` to move (null: out of any unit)."""

    name: Name | None = None
    business_unit_id: Id | None = None


class AssignmentIn(_Strict):
    user_id: Id
    team_id: Id | None = Field(default=None, description="For a team lead: their team.")


class UnitOut(BaseModel):
    id: int
    name: str
    organisation_id: int


class AssignmentOut(BaseModel):
    membership_id: int
    user_id: int
    role: str
    team_id: int | None


def _organisation_out(org: Organisation) -> OrganisationOut:
    return OrganisationOut(id=org.id or 0, name=org.name, slug=org.slug)


def _unit_out(unit: BusinessUnit) -> UnitOut:
    return UnitOut(id=unit.id or 0, name=unit.name, organisation_id=unit.organisation_id)


def _team_out(team: Team) -> TeamOut:
    return TeamOut(
        id=team.id or 0,
        name=team.name,
        organisation_id=team.organisation_id,
        business_unit_id=team.business_unit_id,
    )


def path_organisation(org_id: PathId, principal: ApiAdmin, session: SessionDep) -> Organisation:
    """The path's organisation, checked before any body is read."""
    return tenancy.get_organisation(session=session, principal=principal, org_id=org_id)


PathOrganisation = Annotated[Organisation, Depends(path_organisation)]


def setup_organisation(
    request: Request, org_id: PathId, principal: ApiSetupEditor, session: SessionDep
) -> Organisation:
    """The path's organisation for changing its units and teams: admins, and consultants
    assigned to it when the installation lets consultants set up client organisations
    (otherwise, and for another organisation's id, 404)."""
    consultants_may = settings_of(request).consultants_create_organisations
    if not organisations.may_create_organisations(
        principal=principal, consultants_may=consultants_may
    ):
        raise NotFoundError()
    return tenancy.get_organisation(session=session, principal=principal, org_id=org_id)


SetupOrganisation = Annotated[Organisation, Depends(setup_organisation)]


# ---------------------------------------------------------------- organisations


@router.post("/organisations", status_code=201)
def create_organisation(
    body: NameIn, principal: ApiOrganisationCreator, actor: ApiActor, session: SessionDep
) -> OrganisationOut:
    """A new organisation; its short name (slug) is made from the name. Admins always; a
    consultant when the installation allows it (PROCESSLENS_CONSULTANTS_CREATE_ORGANISATIONS),
    and is then assigned to it as its consultant."""
    org = organisations.create_client_organisation(
        session=session, principal=principal, name=body.name, actor=actor
    )
    return _organisation_out(org)


@router.patch("/organisations/{org_id}")
def rename_organisation(
    org: PathOrganisation, body: NameIn, actor: ApiActor, session: SessionDep
) -> OrganisationOut:
    """Rename; the short name stays."""
    organisations.rename_organisation(
        session=session, organisation=org, name=body.name, actor=actor
    )
    return _organisation_out(org)


@router.delete("/organisations/{org_id}", status_code=204)
def delete_organisation(
    org: PathOrganisation,
    actor: ApiActor,
    session: SessionDep,
    confirm: Annotated[str, Query(max_length=200, description="The short name, again.")] = "",
) -> Response:
    """Delete the organisation with everything in it; ``confirm`` must repeat its short name,
    as on the admin page."""
    if confirm != org.slug:
        raise InvalidInputError(
            f"Nothing was deleted. To delete this organisation and everything in it, send "
            f"confirm={org.slug} (its short name)."
        )
    organisations.delete_organisation(session=session, organisation=org, actor=actor)
    return Response(status_code=204)


# ---------------------------------------------------------------- business units


@router.get("/organisations/{org_id}/units")
def list_units(org: SetupOrganisation, session: SessionDep) -> list[UnitOut]:
    assert org.id is not None
    return [
        _unit_out(unit) for unit in organisations.units_of(session=session, organisation_id=org.id)
    ]


@router.post("/organisations/{org_id}/units", status_code=201)
def create_unit(
    org: SetupOrganisation, body: NameIn, actor: ApiActor, session: SessionDep
) -> UnitOut:
    unit = organisations.create_unit(session=session, organisation=org, name=body.name, actor=actor)
    return _unit_out(unit)


def path_unit(
    org: SetupOrganisation, unit_id: PathId, principal: ApiSetupEditor, session: SessionDep
) -> BusinessUnit:
    return tenancy.get_unit(session=session, principal=principal, unit_id=unit_id, org_id=org.id)


PathUnit = Annotated[BusinessUnit, Depends(path_unit)]


@router.patch("/organisations/{org_id}/units/{unit_id}")
def rename_unit(unit: PathUnit, body: NameIn, actor: ApiActor, session: SessionDep) -> UnitOut:
    organisations.rename_unit(session=session, unit=unit, name=body.name, actor=actor)
    return _unit_out(unit)


@router.delete("/organisations/{org_id}/units/{unit_id}", status_code=204)
def delete_unit(unit: PathUnit, actor: ApiActor, session: SessionDep) -> Response:
    """Delete the unit; its teams stay, without a unit."""
    organisations.delete_unit(session=session, unit=unit, actor=actor)
    return Response(status_code=204)


# ---------------------------------------------------------------- teams


@router.post("/organisations/{org_id}/teams", status_code=201)
def create_team(
    org: SetupOrganisation,
    body: TeamIn,
    principal: ApiSetupEditor,
    actor: ApiActor,
    session: SessionDep,
) -> TeamOut:
    team = organisations.create_team(
        session=session,
        principal=principal,
        organisation=org,
        name=body.name,
        unit_id=body.business_unit_id,
        actor=actor,
    )
    return _team_out(team)


def path_team(
    org: SetupOrganisation, team_id: PathId, principal: ApiSetupEditor, session: SessionDep
) -> Team:
    return tenancy.get_team(session=session, principal=principal, team_id=team_id, org_id=org.id)


PathTeam = Annotated[Team, Depends(path_team)]


@router.patch("/organisations/{org_id}/teams/{team_id}")
def change_team(
    team: PathTeam,
    body: TeamChangeIn,
    principal: ApiSetupEditor,
    actor: ApiActor,
    session: SessionDep,
) -> TeamOut:
    """Rename the team and/or move it to another unit of its organisation."""
    organisations.change_team(
        session=session,
        principal=principal,
        team=team,
        name=body.name,
        unit_id=body.business_unit_id,
        move="business_unit_id" in body.model_fields_set,
        actor=actor,
    )
    return _team_out(team)


@router.delete("/organisations/{org_id}/teams/{team_id}", status_code=204)
def delete_team(team: PathTeam, actor: ApiActor, session: SessionDep) -> Response:
    """Delete the team with its rounds and answers."""
    organisations.delete_team(session=session, team=team, actor=actor)
    return Response(status_code=204)


# ---------------------------------------------------------------- assignments


@router.get("/organisations/{org_id}/assignments")
def list_assignments(org: PathOrganisation, session: SessionDep) -> list[AssignmentOut]:
    assert org.id is not None
    return [
        AssignmentOut(
            membership_id=item.membership_id,
            user_id=item.user_id,
            role=item.role,
            team_id=item.team_id,
        )
        for item in organisations.assignments_of(session=session, organisation_id=org.id)
    ]


@router.post("/organisations/{org_id}/assignments", status_code=201)
def assign(
    org: PathOrganisation,
    body: AssignmentIn,
    principal: ApiAdmin,
    actor: ApiActor,
    session: SessionDep,
) -> AssignmentOut:
    """Give a consultant or org leader the organisation, or a team lead one of its teams, in
    their own role (the same rules as the admin page)."""
    user = users.get_user(session=session, user_id=body.user_id)
    membership = organisations.assign(
        session=session,
        principal=principal,
        organisation=org,
        user=user,
        team_id=body.team_id,
        actor=actor,
    )
    return AssignmentOut(
        membership_id=membership.id or 0,
        user_id=membership.user_id,
        role=membership.role,
        team_id=membership.team_id,
    )


@router.delete("/organisations/{org_id}/assignments/{membership_id}", status_code=204)
def unassign(
    org: PathOrganisation, membership_id: PathId, actor: ApiActor, session: SessionDep
) -> Response:
    assert org.id is not None
    membership = organisations.get_membership(
        session=session, organisation_id=org.id, membership_id=membership_id
    )
    organisations.unassign(session=session, membership=membership, actor=actor)
    return Response(status_code=204)
