"""Demo accounts for `processlens demo`: one of each role for the demo organisation.

Their passwords are public (printed by the command and written here) and only for trying the
service on a development machine: the accounts are never created in production.
"""

from __future__ import annotations

import dataclasses

from sqlmodel import Session, select

from app.accounts import organisations, passwords, users
from app.accounts.tenancy import ROLE_LABELS, Principal
from app.models import Membership, Organisation, Team, User, UserRole


@dataclasses.dataclass(frozen=True)
class DemoAccount:
    email: str
    password: str
    name: str
    role: UserRole
    scope: str  # what the account sees, for the printed table


DEMO_ACCOUNTS = (
    ("admin@example.com", "demo-admin-password", "Ada Admin", UserRole.admin),
    (
        "consultant@example.com",
        "demo-consultant-password",
        "Cole Consultant",
        UserRole.consultant,
    ),
    ("leader@example.com", "demo-leader-password", "Lena Leader", UserRole.org_leader),
    ("lead@example.com", "demo-lead-password", "Theo Teamlead", UserRole.team_lead),
)


def seed_demo_accounts(*, session: Session, organisation_id: int) -> list[DemoAccount]:
    """Create (or refresh) the demo accounts; idempotent. The team lead leads the first team."""
    organisation = session.get(Organisation, organisation_id)
    assert organisation is not None
    first_team = session.exec(
        select(Team).where(Team.organisation_id == organisation_id).order_by(Team.name)
    ).first()
    accounts = []
    for email, password, name, role in DEMO_ACCOUNTS:
        user = users.find_by_email(session=session, email=email)
        if user is None:
            user = users.create_user(
                session=session, email=email, display_name=name, role=role, password=password
            )
        elif not user.password_hash or not passwords.verify(password, user.password_hash)[0]:
            user.password_hash = passwords.hash_password(password)
            user.is_active = True
            session.add(user)
        scope = "everything"
        if role in (UserRole.consultant, UserRole.org_leader):
            _assign(session, user, organisation, team=None)
            scope = organisation.name
        elif role is UserRole.team_lead and first_team is not None:
            _assign(session, user, organisation, team=first_team)
            scope = f"{first_team.name} ({organisation.name})"
        accounts.append(DemoAccount(email, password, name, role, scope))
    session.flush()
    return accounts


def _assign(session: Session, user: User, organisation: Organisation, team: Team | None) -> None:
    exists = session.exec(
        select(Membership).where(
            Membership.user_id == user.id,
            Membership.organisation_id == organisation.id,
            Membership.role == user.role,
        )
    ).first()
    if exists is None:
        organisations.assign(
            session=session,
            principal=_SYSTEM,
            organisation=organisation,
            user=user,
            team_id=team.id if team else None,
        )


def role_label(role: UserRole) -> str:
    return ROLE_LABELS[role]


_SYSTEM = Principal(
    user_id=0,
    email="demo",
    display_name="demo",
    role=UserRole.admin,
    organisation_ids=frozenset(),
    team_ids=frozenset(),
    via="api",
)
