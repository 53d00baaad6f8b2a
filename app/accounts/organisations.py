"""Organisations, business units, teams and who is assigned to them (admin services).

Deleting a team or an organisation deletes everything under it through the database's
ON DELETE CASCADE (rounds, invitations, respondents, responses, scores, results, targets,
memberships); the audit record of the deletion stays (audit rows hold plain ids).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from sqlalchemy import func
from sqlmodel import Session, col, delete, select

from app.accounts import audit, tenancy
from app.accounts.audit import Actor
from app.accounts.tenancy import Principal
from app.errors import ConflictError, InvalidInputError, NotFoundError
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

NAME_MAX = 200


class NameTakenError(ConflictError):
    default_message = "That name is already used here; choose another."


def check_name(name: str, *, what: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > NAME_MAX:
        article = "an" if what[:1] in ("a", "e", "i", "o", "u") else "a"
        raise InvalidInputError(f"Enter {article} {what} name of 1 to {NAME_MAX} characters.")
    return name


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:60] or "organisation"


def _free_slug(session: Session, base: str) -> str:
    taken = set(
        session.exec(select(Organisation.slug).where(col(Organisation.slug).startswith(base)))
    )
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def create_organisation(*, session: Session, name: str, actor: Actor | None = None) -> Organisation:
    name = check_name(name, what="organisation")
    organisation = Organisation(name=name, slug=_free_slug(session, slugify(name)))
    session.add(organisation)
    session.flush()
    if actor is not None:
        audit.record(
            session=session,
            actor=actor,
            action="organisation.created",
            target_type="organisation",
            target_id=organisation.id,
            organisation_id=organisation.id,
            details={"name": organisation.name},
        )
    return organisation


def may_create_organisations(*, principal: Principal, consultants_may: bool) -> bool:
    """Admins always; consultants when the installation lets them
    (``consultants_create_organisations``)."""
    return principal.is_admin or (principal.role is UserRole.consultant and consultants_may)


def create_client_organisation(
    *, session: Session, principal: Principal, name: str, actor: Actor
) -> Organisation:
    """A new organisation made by an admin or a consultant (the caller's guard has checked
    ``may_create_organisations``). A consultant is assigned to it as its consultant, so it is
    theirs at once; an admin sees every organisation already and is not assigned."""
    organisation = create_organisation(session=session, name=name, actor=actor)
    if principal.role is UserRole.consultant:
        creator = session.get(User, principal.user_id)
        if creator is None:
            raise NotFoundError()
        assign(
            session=session,
            principal=principal,
            organisation=organisation,
            user=creator,
            team_id=None,
            actor=actor,
        )
    return organisation


def visible_organisations(*, session: Session, principal: Principal) -> Sequence[Organisation]:
    return session.exec(
        select(Organisation)
        .where(tenancy.organisation_clause(principal))
        .order_by(col(Organisation.name))
    ).all()


def create_unit(
    *, session: Session, organisation: Organisation, name: str, actor: Actor | None = None
) -> BusinessUnit:
    assert organisation.id is not None
    name = check_name(name, what="business unit")
    taken = session.exec(
        select(BusinessUnit.id).where(
            BusinessUnit.organisation_id == organisation.id, BusinessUnit.name == name
        )
    ).first()
    if taken is not None:
        raise NameTakenError()
    unit = BusinessUnit(organisation_id=organisation.id, name=name)
    session.add(unit)
    session.flush()
    if actor is not None:
        audit.record(
            session=session,
            actor=actor,
            action="business_unit.created",
            target_type="business_unit",
            target_id=unit.id,
            organisation_id=organisation.id,
            details={"name": unit.name},
        )
    return unit


def create_team(
    *,
    session: Session,
    principal: Principal,
    organisation: Organisation,
    name: str,
    unit_id: int | None,
    actor: Actor | None = None,
) -> Team:
    """A team in ``organisation``; a unit id from the form must be a unit of that same
    organisation (loaded through tenancy with the path's organisation)."""
    assert organisation.id is not None
    name = check_name(name, what="team")
    if unit_id is not None:
        tenancy.get_unit(
            session=session, principal=principal, unit_id=unit_id, org_id=organisation.id
        )
    taken = session.exec(
        select(Team.id).where(Team.organisation_id == organisation.id, Team.name == name)
    ).first()
    if taken is not None:
        raise NameTakenError()
    team = Team(organisation_id=organisation.id, business_unit_id=unit_id, name=name)
    session.add(team)
    session.flush()
    if actor is not None:
        audit.record(
            session=session,
            actor=actor,
            action="team.created",
            target_type="team",
            target_id=team.id,
            organisation_id=organisation.id,
            details={"name": team.name, "business_unit_id": team.business_unit_id},
        )
    return team


def units_of(*, session: Session, organisation_id: int) -> Sequence[BusinessUnit]:
    return session.exec(
        select(BusinessUnit)
        .where(BusinessUnit.organisation_id == organisation_id)
        .order_by(col(BusinessUnit.name))
    ).all()


def teams_of(*, session: Session, principal: Principal, organisation_id: int) -> Sequence[Team]:
    return session.exec(
        select(Team)
        .where(Team.organisation_id == organisation_id, tenancy.team_clause(principal))
        .order_by(col(Team.name))
    ).all()


@dataclasses.dataclass(frozen=True)
class VisibleTeam:
    id: int
    name: str
    organisation_id: int
    organisation_name: str
    unit_name: str | None
    rounds: int
    business_unit_id: int | None = None


def visible_teams(*, session: Session, principal: Principal) -> list[VisibleTeam]:
    """Every team the principal may see, with its organisation and unit, for the home page."""
    round_counts = (
        select(AssessmentRound.team_id, func.count().label("rounds"))
        .group_by(col(AssessmentRound.team_id))
        .subquery()
    )
    rows = session.exec(
        select(Team, Organisation.name, BusinessUnit.name, round_counts.c.rounds)
        .join(Organisation, col(Organisation.id) == col(Team.organisation_id))
        .join(BusinessUnit, col(BusinessUnit.id) == col(Team.business_unit_id), isouter=True)
        .join(round_counts, round_counts.c.team_id == col(Team.id), isouter=True)
        .where(tenancy.team_clause(principal))
        .order_by(col(Organisation.name), col(Team.name))
    ).all()
    result = []
    for team, organisation_name, unit_name, rounds in rows:
        assert team.id is not None
        result.append(
            VisibleTeam(
                id=team.id,
                name=team.name,
                organisation_id=team.organisation_id,
                organisation_name=organisation_name,
                unit_name=unit_name,
                rounds=int(rounds or 0),
                business_unit_id=team.business_unit_id,
            )
        )
    return result


# ---------------------------------------------------------------- assignments


ASSIGNABLE = {
    UserRole.consultant: "organisation",
    UserRole.org_leader: "organisation",
    UserRole.team_lead: "team",
}


@dataclasses.dataclass(frozen=True)
class Assignment:
    membership_id: int
    user_id: int
    user_email: str
    user_name: str
    role: str
    team_id: int | None
    team_name: str | None


def assign(
    *,
    session: Session,
    principal: Principal,
    organisation: Organisation,
    user: User,
    team_id: int | None,
    actor: Actor | None = None,
) -> Membership:
    """Give ``user`` access to ``organisation`` (consultant, org leader) or to one of its teams
    (team lead) in their own role. A team id from the form must be a team of the path's
    organisation. Consultants and org leaders may be given several organisations, each its
    own membership (assigned, audited and removed on its own)."""
    membership = _assign(
        session=session, principal=principal, organisation=organisation, user=user, team_id=team_id
    )
    if actor is not None:
        audit.record(
            session=session,
            actor=actor,
            action="assignment.added",
            target_type="user",
            target_id=user.id,
            organisation_id=organisation.id,
            details={"role": membership.role, "team_id": membership.team_id},
        )
    return membership


def _assign(
    *,
    session: Session,
    principal: Principal,
    organisation: Organisation,
    user: User,
    team_id: int | None,
) -> Membership:
    assert organisation.id is not None
    assert user.id is not None
    role = UserRole(user.role)
    scope = ASSIGNABLE.get(role)
    if scope is None:
        raise InvalidInputError("Administrators see everything already; nothing to assign.")
    if not user.is_active:
        raise InvalidInputError("This account is disabled; enable it before assigning it.")
    if scope == "team":
        if team_id is None:
            raise InvalidInputError("Choose the team this team lead leads.")
        tenancy.get_team(
            session=session, principal=principal, team_id=team_id, org_id=organisation.id
        )
    else:
        team_id = None  # consultants and org leaders: any number of organisations
    existing = session.exec(
        select(Membership).where(
            Membership.user_id == user.id,
            Membership.organisation_id == organisation.id,
            Membership.team_id == team_id
            if team_id is not None
            else col(Membership.team_id).is_(None),
        )
    ).first()
    if existing is not None:
        if existing.role != role:
            existing.role = role
            session.add(existing)
            session.flush()
        return existing
    membership = Membership(
        user_id=user.id, organisation_id=organisation.id, team_id=team_id, role=role
    )
    session.add(membership)
    session.flush()
    return membership


def assignments_of(*, session: Session, organisation_id: int) -> list[Assignment]:
    rows = session.exec(
        select(Membership, User, Team.name)
        .join(User, col(User.id) == col(Membership.user_id))
        .join(Team, col(Team.id) == col(Membership.team_id), isouter=True)
        .where(Membership.organisation_id == organisation_id)
        .order_by(col(Membership.role), col(User.email))
    ).all()
    result = []
    for membership, user, team_name in rows:
        assert membership.id is not None
        result.append(
            Assignment(
                membership_id=membership.id,
                user_id=membership.user_id,
                user_email=user.email,
                user_name=user.display_name,
                role=membership.role,
                team_id=membership.team_id,
                team_name=team_name,
            )
        )
    return result


def get_membership(*, session: Session, organisation_id: int, membership_id: int) -> Membership:
    tenancy.check_id(membership_id)
    membership = session.exec(
        select(Membership).where(
            Membership.id == membership_id, Membership.organisation_id == organisation_id
        )
    ).first()
    if membership is None:
        raise NotFoundError()
    return membership


def unassign(*, session: Session, membership: Membership, actor: Actor | None = None) -> None:
    if actor is not None:
        audit.record(
            session=session,
            actor=actor,
            action="assignment.removed",
            target_type="user",
            target_id=membership.user_id,
            organisation_id=membership.organisation_id,
            details={"role": membership.role, "team_id": membership.team_id},
        )
    session.delete(membership)
    session.flush()


def memberships_of_user(
    *, session: Session, user_id: int
) -> list[tuple[Membership, str, str | None]]:
    rows = session.exec(
        select(Membership, Organisation.name, Team.name)
        .join(Organisation, col(Organisation.id) == col(Membership.organisation_id))
        .join(Team, col(Team.id) == col(Membership.team_id), isouter=True)
        .where(Membership.user_id == user_id)
        .order_by(col(Organisation.name))
    ).all()
    return [(membership, org_name, team_name) for membership, org_name, team_name in rows]


# ---------------------------------------------------------------- deletion


@dataclasses.dataclass(frozen=True)
class DeletionCounts:
    teams: int
    rounds: int
    respondents: int


def _counts(session: Session, team_ids: Sequence[int]) -> DeletionCounts:
    if not team_ids:
        return DeletionCounts(teams=0, rounds=0, respondents=0)
    round_ids = session.exec(
        select(AssessmentRound.id).where(col(AssessmentRound.team_id).in_(team_ids))
    ).all()
    respondents = (
        session.exec(
            select(func.count())
            .select_from(Respondent)
            .where(col(Respondent.round_id).in_(round_ids))
        ).one()
        if round_ids
        else 0
    )
    return DeletionCounts(teams=len(team_ids), rounds=len(round_ids), respondents=int(respondents))


def delete_team(*, session: Session, team: Team, actor: Actor | None = None) -> DeletionCounts:
    assert team.id is not None
    team_id, organisation_id = team.id, team.organisation_id
    counts = _counts(session, [team.id])
    session.exec(delete(Team).where(col(Team.id) == team.id))
    session.flush()
    session.expunge(team)
    if actor is not None:
        audit.record(
            session=session,
            actor=actor,
            action="team.deleted",
            target_type="team",
            target_id=team_id,
            organisation_id=organisation_id,
            details=dataclasses.asdict(counts),
        )
    return counts


def delete_organisation(
    *, session: Session, organisation: Organisation, actor: Actor | None = None
) -> DeletionCounts:
    assert organisation.id is not None
    organisation_id = organisation.id
    team_ids = session.exec(select(Team.id).where(Team.organisation_id == organisation.id)).all()
    counts = _counts(session, [team_id for team_id in team_ids if team_id is not None])
    session.exec(delete(Organisation).where(col(Organisation.id) == organisation.id))
    session.flush()
    session.expunge(organisation)
    if actor is not None:
        audit.record(
            session=session,
            actor=actor,
            action="organisation.deleted",
            target_type="organisation",
            target_id=organisation_id,
            organisation_id=organisation_id,
            details=dataclasses.asdict(counts),
        )
    return counts


# ---------------------------------------------------------------- renaming and moving


def rename_organisation(
    *, session: Session, organisation: Organisation, name: str, actor: Actor
) -> Organisation:
    """A new display name; the short name (slug) stays, so links and commands keep working."""
    name = check_name(name, what="organisation")
    before = organisation.name
    if name != before:
        organisation.name = name
        session.add(organisation)
        session.flush()
        audit.record(
            session=session,
            actor=actor,
            action="organisation.renamed",
            target_type="organisation",
            target_id=organisation.id,
            organisation_id=organisation.id,
            details={"from": before, "to": name},
        )
    return organisation


def rename_unit(*, session: Session, unit: BusinessUnit, name: str, actor: Actor) -> BusinessUnit:
    name = check_name(name, what="business unit")
    before = unit.name
    if name == before:
        return unit
    taken = session.exec(
        select(BusinessUnit.id).where(
            BusinessUnit.organisation_id == unit.organisation_id, BusinessUnit.name == name
        )
    ).first()
    if taken is not None:
        raise NameTakenError()
    unit.name = name
    session.add(unit)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="business_unit.renamed",
        target_type="business_unit",
        target_id=unit.id,
        organisation_id=unit.organisation_id,
        details={"from": before, "to": name},
    )
    return unit


def delete_unit(*, session: Session, unit: BusinessUnit, actor: Actor) -> int:
    """Delete a business unit; its teams stay, without a unit. Returns how many it had."""
    unit_id, organisation_id = unit.id, unit.organisation_id
    teams = session.exec(select(Team).where(Team.business_unit_id == unit_id)).all()
    for team in teams:
        team.business_unit_id = None
        session.add(team)
    session.flush()
    session.exec(delete(BusinessUnit).where(col(BusinessUnit.id) == unit_id))
    session.flush()
    session.expunge(unit)
    audit.record(
        session=session,
        actor=actor,
        action="business_unit.deleted",
        target_type="business_unit",
        target_id=unit_id,
        organisation_id=organisation_id,
        details={"teams_kept": len(teams)},
    )
    return len(teams)


def change_team(
    *,
    session: Session,
    principal: Principal,
    team: Team,
    name: str | None,
    unit_id: int | None,
    move: bool,
    actor: Actor,
) -> Team:
    """Rename a team (``name``) and/or move it (``move``: to ``unit_id``, a unit of its own
    organisation, or out of any unit with None). Everything is checked before anything
    changes; one event records what did."""
    new_name = check_name(name, what="team") if name is not None else team.name
    if move and unit_id is not None:
        tenancy.get_unit(
            session=session, principal=principal, unit_id=unit_id, org_id=team.organisation_id
        )
    if new_name != team.name:
        taken = session.exec(
            select(Team.id).where(
                Team.organisation_id == team.organisation_id, Team.name == new_name
            )
        ).first()
        if taken is not None:
            raise NameTakenError()
    details: dict[str, object] = {}
    if new_name != team.name:
        details.update({"from": team.name, "to": new_name})
        team.name = new_name
    if move and unit_id != team.business_unit_id:
        details.update({"from_unit_id": team.business_unit_id, "to_unit_id": unit_id})
        team.business_unit_id = unit_id
    if details:
        session.add(team)
        session.flush()
        audit.record(
            session=session,
            actor=actor,
            action="team.changed",
            target_type="team",
            target_id=team.id,
            organisation_id=team.organisation_id,
            details=details,
        )
    return team
