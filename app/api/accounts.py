"""API endpoints of the accounts area: who am I, organisations and teams I may see, an
organisation's report branding, my tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from app.accounts import api_tokens, organisations, tenancy
from app.accounts.actor import ApiActor
from app.accounts.dependencies import (
    ERROR_RESPONSES,
    MAX_ID,
    ApiPrincipal,
    require_api_roles,
    settings_of,
)
from app.accounts.tenancy import Principal
from app.db import ReadSessionDep, SessionDep
from app.errors import InvalidInputError
from app.models import Organisation, UserRole
from app.reports import branding_service
from app.reports.branding import MAX_LOGO_BYTES

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
def list_organisations(principal: ApiPrincipal, session: ReadSessionDep) -> list[OrganisationOut]:
    """Organisations the caller sees as a whole (admins: all; consultants: assigned ones)."""
    return [
        OrganisationOut(id=org.id or 0, name=org.name, slug=org.slug)
        for org in organisations.visible_organisations(session=session, principal=principal)
    ]


@router.get("/organisations/{org_id}", tags=["organisations"])
def get_organisation(
    org_id: int, principal: ApiPrincipal, session: ReadSessionDep
) -> OrganisationOut:
    org = tenancy.get_organisation(session=session, principal=principal, org_id=org_id)
    return OrganisationOut(id=org.id or 0, name=org.name, slug=org.slug)


@router.get("/organisations/{org_id}/teams", tags=["organisations"])
def organisation_teams(
    org_id: int, principal: ApiPrincipal, session: ReadSessionDep
) -> list[TeamOut]:
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
def list_teams(principal: ApiPrincipal, session: ReadSessionDep) -> list[TeamOut]:
    """Every team the caller may see, including a team lead's own teams."""
    return [
        TeamOut(
            id=team.id,
            name=team.name,
            organisation_id=team.organisation_id,
            business_unit_id=team.business_unit_id,
        )
        for team in organisations.visible_teams(session=session, principal=principal)
    ]


@router.get("/teams/{team_id}", tags=["teams"])
def get_team(team_id: int, principal: ApiPrincipal, session: ReadSessionDep) -> TeamOut:
    team = tenancy.get_team(session=session, principal=principal, team_id=team_id)
    return TeamOut(
        id=team.id or 0,
        name=team.name,
        organisation_id=team.organisation_id,
        business_unit_id=team.business_unit_id,
    )


@router.get("/tokens", tags=["accounts"])
def list_tokens(principal: ApiPrincipal, session: ReadSessionDep) -> list[TokenOut]:
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


# ---------------------------------------------------------------- an organisation's branding

OrgId = Annotated[int, Path(ge=1, le=MAX_ID)]
# admins always; consultants for the organisations they are assigned to (tenancy)
ApiBrandingEditor = Annotated[Principal, Depends(require_api_roles(UserRole.consultant))]
LOGO_TYPES = ("image/png", "image/jpeg")
BRANDING_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A field or the logo cannot be used; nothing was changed."},
    413: {"description": "The upload is larger than the service accepts."},
}


class BrandingIn(BaseModel):
    """The branding's text fields, replaced as a whole; null or "" uses the installation's."""

    model_config = ConfigDict(extra="forbid")

    display_name: Annotated[StrictStr, Field(max_length=400)] | None = Field(
        default=None, description="The firm or brand name on the cover and in the footer."
    )
    consultant: Annotated[StrictStr, Field(max_length=400)] | None = Field(
        default=None, description="Shown as 'Prepared by' on the cover."
    )
    colour: Annotated[StrictStr, Field(max_length=40)] | None = Field(
        default=None,
        description="Accent colour, #rrggbb; white text on it needs a contrast of 4.5:1.",
    )


class EffectiveBrandingOut(BaseModel):
    name: str
    colour: str
    consultant: str | None
    has_logo: bool


class BrandingOut(BaseModel):
    organisation_id: int
    display_name: str | None
    consultant: str | None
    colour: str | None
    has_logo: bool
    logo_url: str | None
    effective: EffectiveBrandingOut = Field(description="What the reports show.")


def _branding_out(found: branding_service.BrandingSettings) -> BrandingOut:
    url = f"/api/organisations/{found.organisation_id}/branding/logo"
    return BrandingOut(
        organisation_id=found.organisation_id,
        display_name=found.display_name,
        consultant=found.consultant,
        colour=found.colour,
        has_logo=found.has_logo,
        logo_url=url if found.has_logo else None,
        effective=EffectiveBrandingOut(
            name=found.effective.name,
            colour=found.effective.colour,
            consultant=found.effective.consultant,
            has_logo=found.effective.logo is not None,
        ),
    )


def branding_organisation(
    org_id: OrgId, principal: ApiBrandingEditor, session: SessionDep
) -> Organisation:
    """The path's organisation, for its editors only: checked before the body is read, so
    another organisation's id is a 404 whatever was sent."""
    return tenancy.get_organisation(session=session, principal=principal, org_id=org_id)


BrandingOrganisation = Annotated[Organisation, Depends(branding_organisation)]


@router.get("/organisations/{org_id}/branding", tags=["organisations"])
def get_branding(request: Request, org: BrandingOrganisation) -> BrandingOut:
    """The organisation's report branding: its own fields and what its reports show."""
    return _branding_out(branding_service.current(organisation=org, settings=settings_of(request)))


@router.put("/organisations/{org_id}/branding", tags=["organisations"], responses=BRANDING_ERRORS)
def put_branding(
    request: Request,
    org: BrandingOrganisation,
    body: BrandingIn,
    actor: ApiActor,
    session: SessionDep,
) -> BrandingOut:
    """Set the name, consultant and colour (the logo is kept); a bad field changes nothing."""
    change = branding_service.BrandingChange(
        display_name=body.display_name or "",
        consultant=body.consultant or "",
        colour=body.colour or "",
    )
    saved = branding_service.update(
        session=session, settings=settings_of(request), organisation=org, change=change, actor=actor
    )
    return _branding_out(saved)


async def logo_upload(request: Request) -> bytes:
    """The request body as the logo: a PNG or JPEG sent as is (not as a form)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in LOGO_TYPES:
        raise InvalidInputError(
            "Send the logo as the request body with Content-Type image/png or image/jpeg "
            "(SVG is not accepted); nothing was changed."
        )
    return await request.body()


LOGO_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": f"The PNG or JPEG file itself, at most {MAX_LOGO_BYTES // 1024} KB.",
        "content": {
            kind: {"schema": {"type": "string", "format": "binary"}} for kind in LOGO_TYPES
        },
    }
}


@router.put(
    "/organisations/{org_id}/branding/logo",
    tags=["organisations"],
    responses=BRANDING_ERRORS,
    openapi_extra=LOGO_BODY,
)
def put_logo(
    request: Request,
    org: BrandingOrganisation,  # first: the guard runs before the body is read
    data: Annotated[bytes, Depends(logo_upload)],
    actor: ApiActor,
    session: SessionDep,
) -> BrandingOut:
    """Upload the logo (re-encoded and stored with the organisation); a bad file changes
    nothing."""
    saved = branding_service.set_logo(
        session=session, settings=settings_of(request), organisation=org, data=data, actor=actor
    )
    return _branding_out(saved)


@router.get(
    "/organisations/{org_id}/branding/logo",
    tags=["organisations"],
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "The stored logo (PNG)."},
        204: {"description": "No logo: the reports show the name instead."},
    },
)
def get_logo(org: BrandingOrganisation) -> Response:
    if org.logo is None:
        return Response(status_code=204)
    return Response(content=org.logo, media_type="image/png")


@router.delete("/organisations/{org_id}/branding/logo", status_code=204, tags=["organisations"])
def delete_logo(
    request: Request, org: BrandingOrganisation, actor: ApiActor, session: SessionDep
) -> Response:
    """Remove the logo; the reports show the name instead."""
    branding_service.remove_logo(
        session=session, settings=settings_of(request), organisation=org, actor=actor
    )
    return Response(status_code=204)
