"""A pending organisation (a seed or restore still writing it) is hidden from everyone, admins
included, with its teams, and its memberships grant nothing, until it is published."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from app.accounts import organisations, tenancy
from app.errors import NotFoundError
from app.models import Membership, Organisation, Team, User, UserRole


def _principal(session: Session, role: UserRole, organisation: Organisation) -> tenancy.Principal:
    user = User(email=f"{role.value}@example.org", display_name=role.value, role=role)
    session.add(user)
    session.flush()
    if role is not UserRole.admin:
        assert organisation.id is not None
        assert user.id is not None
        session.add(Membership(user_id=user.id, organisation_id=organisation.id, role=role))
        session.flush()
    return tenancy.load_principal(session=session, user=user, via="session")


@pytest.mark.parametrize("role", [UserRole.admin, UserRole.org_leader])
def test_a_pending_organisation_is_hidden_until_published(session: Session, role: UserRole) -> None:
    organisation = Organisation(name="Being restored", slug="being-restored", pending=True)
    session.add(organisation)
    session.flush()
    assert organisation.id is not None
    team = Team(organisation_id=organisation.id, name="Half written")
    session.add(team)
    session.flush()
    assert team.id is not None
    principal = _principal(session, role, organisation)
    assert organisation.id not in principal.organisation_ids
    with pytest.raises(NotFoundError):
        tenancy.get_organisation(session=session, principal=principal, org_id=organisation.id)
    with pytest.raises(NotFoundError):
        tenancy.get_team(session=session, principal=principal, team_id=team.id)
    visible = organisations.visible_organisations(session=session, principal=principal)
    assert organisation.id not in {org.id for org in visible}

    organisation.pending = False
    session.add(organisation)
    session.flush()
    user = session.get(User, principal.user_id)
    assert user is not None
    principal = tenancy.load_principal(session=session, user=user, via="session")
    assert tenancy.get_organisation(session=session, principal=principal, org_id=organisation.id)
    assert tenancy.get_team(session=session, principal=principal, team_id=team.id) == team
