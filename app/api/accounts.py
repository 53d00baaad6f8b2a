"""API endpoints of the accounts area: who am I, organisations and teams I may see, my tokens."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel

from app.accounts import api_tokens, organisations, tenancy
from app.accounts.actor import ApiActor
from app.accounts.dependencies import ERROR_RESPONSES, ApiPrincipal
from app.db import SessionDep

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES)


class Me(BaseModel):
    id: int
    email: str
    display_name: str
    role: str
    organisation_ids: list[int]
    team_ids: list[int]


class OrganisationOut(BaseModel):
    id: int
    name: str
    slug: str


class TeamOut(BaseModel):
    id: int
    name: str
    organisation_id: int
    business_unit_id: int | None


class TokenOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


@router.get("/me", tags=["accounts"])
def me(principal: ApiPrincipal) -> Me:
    """The caller and what they may see."""
    return Me(
        id=principal.user_id,
        email=principal.email,
        display_name=principal.display_name,
        role=principal.role.value,
        organisation_ids=sorted(principal.organisation_ids),
        team_ids=sorted(principal.team_ids),
    )


@router.get("/organisations", tags=["organisations"])
def list_organisations(principal: ApiPrincipal, session: SessionDep) -> list[OrganisationOut]:
    """Organisations the caller sees as a whole (admins: all; consultants: assigned ones)."""
    return [
        OrganisationOut(id=org.id or 0, name=org.name, slug=org.slug)
        for org in organisations.visible_organisations(session=session, principal=principal)
    ]


@router.get("/organisations/{org_id}", tags=["organisations"])
def get_organisation(org_id: int, principal: ApiPrincipal, session: SessionDep) -> OrganisationOut:
    org = tenancy.get_organisation(session=session, principal=principal, org_id=org_id)
    return OrganisationOut(id=org.id or 0, name=org.name, slug=org.slug)


@router.get("/organisations/{org_id}/teams", tags=["organisations"])
def organisation_teams(org_id: int, principal: ApiPrincipal, session: SessionDep) -> list[TeamOut]:
    org = tenancy.get_organisation(session=session, principal=principal, org_id=org_id)
    assert org.id is not None
    return [
        TeamOut(
            id=team.id or 0,
            name=team.name,
            organisation_id=team.organisation_id,
            business_unit_id=team.business_unit_id,
        )
        for team in organisations.teams_of(
            session=session, principal=principal, organisation_id=org.id
        )
    ]


@router.get("/teams", tags=["teams"])
def list_teams(principal: ApiPrincipal, session: SessionDep) -> list[TeamOut]:
    """Every team the caller may see, including a team lead's own teams."""
    return [
        TeamOut(
            id=team.id,
            name=team.name,
            organisation_id=team.organisation_id,
            business_unit_id=None,
        )
        for team in organisations.visible_teams(session=session, principal=principal)
    ]


@router.get("/teams/{team_id}", tags=["teams"])
def get_team(team_id: int, principal: ApiPrincipal, session: SessionDep) -> TeamOut:
    team = tenancy.get_team(session=session, principal=principal, team_id=team_id)
    return TeamOut(
        id=team.id or 0,
        name=team.name,
        organisation_id=team.organisation_id,
        business_unit_id=team.business_unit_id,
    )


@router.get("/tokens", tags=["accounts"])
def list_tokens(principal: ApiPrincipal, session: SessionDep) -> list[TokenOut]:
    """The caller's own API tokens (never the secret itself)."""
    return [
        TokenOut(
            id=row.id or 0,
            name=row.name,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked=row.revoked_at is not None,
        )
        for row in api_tokens.list_for_user(session=session, user_id=principal.user_id)
    ]


@router.delete("/tokens/{token_id}", status_code=204, tags=["accounts"])
def revoke_token(
    token_id: int, principal: ApiPrincipal, actor: ApiActor, session: SessionDep
) -> Response:
    """Revoke one of the caller's tokens (the one in use included)."""
    row = api_tokens.get_for_user(session=session, user_id=principal.user_id, token_id=token_id)
    api_tokens.revoke(session=session, row=row, actor=actor)
    return Response(status_code=204)
