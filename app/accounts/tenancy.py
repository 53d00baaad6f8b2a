"""Tenant isolation in one place: who may see which organisation, unit, team and round.

Every query for tenant data goes through the functions here: the ``*_clause`` helpers scope a
query to what a principal may see, and the ``get_*`` loaders fetch one object by id through
that scope. An object outside the scope is answered exactly like a missing one (NotFoundError,
404): never 403, never a hint that it exists. Ids taken from a request body are loaded through
the same functions, and checked to belong to the organisation in the path.

Who sees what:
- admin: everything;
- consultant: the organisations they are assigned to (membership without a team);
- org_leader: the organisations they lead (one membership without a team each; one or
  several), all their teams;
- team_lead: their teams (memberships with a team), not the organisation as a whole.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final, Literal

from sqlalchemy import ColumnElement, false, or_, true
from sqlmodel import Session, col, select

from app.errors import NotFoundError
from app.models import (
    AssessmentRound,
    BusinessUnit,
    Membership,
    Organisation,
    Respondent,
    Team,
    User,
    UserRole,
)


@dataclasses.dataclass(frozen=True)
class Principal:
    """The signed-in user (or API token owner) and the tenants they may see."""

    user_id: int
    email: str
    display_name: str
    role: UserRole
    organisation_ids: frozenset[int]  # organisation-wide access
    team_ids: frozenset[int]  # team-lead access to single teams
    via: Literal["session", "api"]
    session_id: int | None = None
    api_token_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is UserRole.admin

    @property
    def sees_organisations(self) -> bool:
        """May see an organisation as a whole (its dashboards, reports and rescore)."""
        return self.is_admin or self.role in ORGANISATION_VIEWERS

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]


ROLE_LABELS = {
    UserRole.admin: "Administrator",
    UserRole.consultant: "Consultant",
    UserRole.org_leader: "Organisation leader",
    UserRole.team_lead: "Team lead",
}


def load_principal(
    *,
    session: Session,
    user: User,
    via: Literal["session", "api"],
    session_id: int | None = None,
    api_token_id: int | None = None,
) -> Principal:
    """The user's access, from their memberships. A membership whose role differs from the
    user's role grants nothing: changing a role never leaves stale access behind."""
    assert user.id is not None
    role = UserRole(user.role)
    organisation_ids: set[int] = set()
    team_ids: set[int] = set()
    if role is not UserRole.admin:
        memberships = session.exec(
            select(Membership).where(
                Membership.user_id == user.id,
                Membership.role == role,
                _outside_pending(Membership.organisation_id),
            )
        ).all()
        for membership in memberships:
            if role is UserRole.team_lead:
                if membership.team_id is not None:
                    team_ids.add(membership.team_id)
            elif membership.team_id is None:
                organisation_ids.add(membership.organisation_id)
    return Principal(
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=role,
        organisation_ids=frozenset(organisation_ids),
        team_ids=frozenset(team_ids),
        via=via,
        session_id=session_id,
        api_token_id=api_token_id,
    )


# the roles that may see an organisation as a whole (admins always: Principal.sees_organisations)
ORGANISATION_VIEWERS: Final = frozenset({UserRole.consultant, UserRole.org_leader})


def job_starter(*, session: Session, user_id: int | None, organisation_id: int) -> Principal | None:
    """The person who started a job, with the access they have now, if their account is
    still active and the organisation still theirs to see; None otherwise. A queued job runs
    after the request that started it, so what it may do is checked again when it runs."""
    user = session.get(User, user_id) if user_id is not None else None
    if user is None or not user.is_active:
        return None
    principal = load_principal(session=session, user=user, via="session")
    try:
        get_organisation(session=session, principal=principal, org_id=organisation_id)
    except NotFoundError:
        return None
    return principal


# ---------------------------------------------------------------- query scopes


def _outside_pending(organisation_id: Any) -> ColumnElement[bool]:
    """Not in an organisation a long writer is still adding (seed, restore): nobody sees
    those until they are complete (app.accounts.pending)."""
    pending = select(Organisation.id).where(col(Organisation.pending) == true())
    return col(organisation_id).not_in(pending)


def organisation_clause(principal: Principal) -> ColumnElement[bool]:
    """Organisations the principal sees as a whole."""
    if principal.is_admin:
        return col(Organisation.pending) == false()
    if not principal.organisation_ids:
        return false()
    return col(Organisation.id).in_(principal.organisation_ids)


def unit_clause(principal: Principal) -> ColumnElement[bool]:
    if principal.is_admin:
        return _outside_pending(BusinessUnit.organisation_id)
    if not principal.organisation_ids:
        return false()
    return col(BusinessUnit.organisation_id).in_(principal.organisation_ids)


def team_clause(principal: Principal) -> ColumnElement[bool]:
    if principal.is_admin:
        return _outside_pending(Team.organisation_id)
    conditions = []
    if principal.organisation_ids:
        conditions.append(col(Team.organisation_id).in_(principal.organisation_ids))
    if principal.team_ids:
        conditions.append(col(Team.id).in_(principal.team_ids))
    return or_(*conditions) if conditions else false()


def can_see_organisation(principal: Principal, organisation_id: int) -> bool:
    return principal.is_admin or organisation_id in principal.organisation_ids


def can_see_team(principal: Principal, team: Team) -> bool:
    return (
        principal.is_admin
        or team.organisation_id in principal.organisation_ids
        or team.id in principal.team_ids
    )


# ---------------------------------------------------------------- loaders (404 outside scope)

# Primary keys are 32-bit on PostgreSQL: a larger id from a URL would make the driver raise
# (a 500) instead of finding nothing, so it is answered as missing before any query.
MAX_ID = 2**31 - 1


def check_id(value: int) -> int:
    """``value`` if it can be an id; NotFoundError otherwise (same answer as a missing row)."""
    if not 1 <= value <= MAX_ID:
        raise NotFoundError()
    return value


# The largest id the tables can hold (INTEGER keys on PostgreSQL). A larger id in a path is
# answered like a missing object, before the database refuses it with an error.
MAX_ID = 2**31 - 1


def require_id(*ids: int | None) -> None:
    if any(value is not None and not 0 < value <= MAX_ID for value in ids):
        raise NotFoundError()


def get_organisation(*, session: Session, principal: Principal, org_id: int) -> Organisation:
    check_id(org_id)
    require_id(org_id)
    found = session.exec(
        select(Organisation).where(Organisation.id == org_id, organisation_clause(principal))
    ).first()
    if found is None:
        raise NotFoundError()
    return found


def get_unit(
    *, session: Session, principal: Principal, unit_id: int, org_id: int | None = None
) -> BusinessUnit:
    """A business unit; with ``org_id`` (from the path) it must also belong to that one."""
    check_id(unit_id)
    require_id(unit_id, org_id)
    query = select(BusinessUnit).where(BusinessUnit.id == unit_id, unit_clause(principal))
    if org_id is not None:
        query = query.where(BusinessUnit.organisation_id == org_id)
    found = session.exec(query).first()
    if found is None:
        raise NotFoundError()
    return found


def get_team(
    *, session: Session, principal: Principal, team_id: int, org_id: int | None = None
) -> Team:
    require_id(team_id, org_id)
    check_id(team_id)
    query = select(Team).where(Team.id == team_id, team_clause(principal))
    if org_id is not None:
        query = query.where(Team.organisation_id == org_id)
    found = session.exec(query).first()
    if found is None:
        raise NotFoundError()
    return found


def get_round(
    *, session: Session, principal: Principal, round_id: int, team_id: int | None = None
) -> AssessmentRound:
    require_id(round_id, team_id)
    check_id(round_id)
    query = (
        select(AssessmentRound)
        .join(Team, col(Team.id) == col(AssessmentRound.team_id))
        .where(AssessmentRound.id == round_id, team_clause(principal))
    )
    if team_id is not None:
        query = query.where(AssessmentRound.team_id == team_id)
    found = session.exec(query).first()
    if found is None:
        raise NotFoundError()
    return found


def get_respondent(*, session: Session, principal: Principal, respondent_id: int) -> Respondent:
    """Respondent-level data is for admins (and, later, consultants) only (PRODUCT.md 6)."""
    check_id(respondent_id)
    require_id(respondent_id)
    query = (
        select(Respondent)
        .join(AssessmentRound, col(AssessmentRound.id) == col(Respondent.round_id))
        .join(Team, col(Team.id) == col(AssessmentRound.team_id))
        .where(Respondent.id == respondent_id)
    )
    if not principal.is_admin:
        if principal.role is not UserRole.consultant or not principal.organisation_ids:
            raise NotFoundError()
        query = query.where(col(Team.organisation_id).in_(principal.organisation_ids))
    found = session.exec(query).first()
    if found is None:
        raise NotFoundError()
    return found


def organisation_of_team(*, session: Session, team_id: int) -> int | None:
    return session.exec(select(Team.organisation_id).where(Team.id == team_id)).first()
