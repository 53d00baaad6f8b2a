"""Test helpers for accounts: users of each role, signed-in clients, two-tenant worlds."""

from __future__ import annotations

import dataclasses
import functools
import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.accounts import sessions, tokens
from app.config import QUESTIONNAIRES_DIR, Settings
from app.models import (
    AssessmentRound,
    BusinessUnit,
    Membership,
    Organisation,
    Respondent,
    Response,
    Team,
    User,
    UserRole,
)
from app.rubric.loader import Catalog, load_catalog
from tests import factories


def user(
    session: Session,
    role: UserRole = UserRole.team_lead,
    *,
    email: str | None = None,
    name: str = "Test User",
    password_hash: str | None = None,
) -> User:
    item = User(
        email=email or f"{role.value}-{uuid.uuid4().hex[:8]}@example.org",
        display_name=name,
        role=role,
        password_hash=password_hash,
    )
    session.add(item)
    session.flush()
    return item


def assign(session: Session, member: User, org: Organisation, team: Team | None = None) -> None:
    assert member.id is not None
    assert org.id is not None
    session.add(
        Membership(
            user_id=member.id,
            organisation_id=org.id,
            team_id=team.id if team else None,
            role=member.role,
        )
    )
    session.flush()


@dataclasses.dataclass(frozen=True)
class SignedIn:
    cookie_name: str
    token: str
    csrf_token: str

    @property
    def cookie_header(self) -> str:
        return f"{self.cookie_name}={self.token}"

    def headers(self, *, csrf: bool = True) -> dict[str, str]:
        values = {"cookie": self.cookie_header}
        if csrf:
            values["x-csrf-token"] = self.csrf_token
        return values


def sign_in(session: Session, settings: Settings, member: User) -> SignedIn:
    """A session for ``member`` made directly (no password hashing: fast)."""
    new = sessions.create(session=session, settings=settings, user=member)
    return SignedIn(
        cookie_name=sessions.session_cookie_name(settings),
        token=new.token,
        csrf_token=new.row.csrf_token,
    )


def anonymous_csrf(client: TestClient, settings: Settings) -> tuple[str, str]:
    """(cookie header, token) of the pre-session CSRF pair, made the way the server does."""
    value = tokens.generate_token()
    return (
        f"{sessions.csrf_cookie_name(settings)}={value}",
        tokens.hash_token(settings, value, purpose="csrf"),
    )


@dataclasses.dataclass
class Tenant:
    """One organisation with a unit, two teams, a round with a respondent, and its people."""

    marker: str
    org: Organisation
    unit: BusinessUnit
    team: Team
    other_team: Team
    round: AssessmentRound
    respondent: Respondent
    resume_token: str
    consultant: User
    org_leader: User
    team_lead: User

    @property
    def texts(self) -> tuple[str, ...]:
        """Strings that identify this tenant; none may appear in another tenant's pages."""
        return (
            self.marker,
            self.consultant.email,
            self.org_leader.email,
            self.team_lead.email,
        )


@functools.cache
def catalog() -> Catalog:
    return load_catalog(QUESTIONNAIRES_DIR)


def tenant(session: Session, settings: Settings, marker: str) -> Tenant:
    org = Organisation(
        name=f"{marker} Organisation", slug=f"{marker.lower()}-{uuid.uuid4().hex[:6]}"
    )
    session.add(org)
    session.flush()
    assert org.id is not None
    unit = BusinessUnit(organisation_id=org.id, name=f"{marker} Unit")
    session.add(unit)
    session.flush()
    team = Team(organisation_id=org.id, business_unit_id=unit.id, name=f"{marker} Team")
    other = Team(organisation_id=org.id, business_unit_id=None, name=f"{marker} Second Team")
    session.add_all([team, other])
    session.flush()
    assert team.id is not None
    round_ = factories.assessment_round(
        session, catalog(), team, title=f"{marker} Round", mode="team_survey"
    )
    assert round_.id is not None
    resume_token = tokens.generate_token()
    respondent = Respondent(
        round_id=round_.id,
        role="data_scientist",
        resume_token_hash=tokens.hash_token(settings, resume_token, purpose="resume"),
    )
    session.add(respondent)
    session.flush()
    assert respondent.id is not None
    session.add(Response(respondent_id=respondent.id, round_id=round_.id, answers={}))
    session.flush()
    consultant = user(session, UserRole.consultant, name=f"{marker} Consultant")
    org_leader = user(session, UserRole.org_leader, name=f"{marker} Leader")
    team_lead = user(session, UserRole.team_lead, name=f"{marker} Lead")
    assign(session, consultant, org)
    assign(session, org_leader, org)
    assign(session, team_lead, org, team)
    return Tenant(
        marker=marker,
        org=org,
        unit=unit,
        team=team,
        other_team=other,
        round=round_,
        respondent=respondent,
        resume_token=resume_token,
        consultant=consultant,
        org_leader=org_leader,
        team_lead=team_lead,
    )


def settings_of(client: TestClient) -> Settings:
    app: Any = client.app
    settings: Settings = app.state.settings
    return settings
