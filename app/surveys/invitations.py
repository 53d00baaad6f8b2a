"""Invitation links: one per role per round, and the respondent each accepted link creates.

A link carries a 256-bit token; only its keyed hash (purpose "invitation") is stored, so the
link is shown once, when it is created. Opening a link changes nothing (GET shows the welcome
page); starting the survey (POST) counts one use and creates a pseudonymous respondent with a
personal resume token (stored as its "resume" hash) and an empty response.

Unknown, expired, revoked and used-up links all get the same neutral answer
(``InvitationUnavailableError``), so a guesser learns nothing; a link of a closed round says
the survey has closed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import ClassVar, Final

from sqlalchemy import false, update
from sqlmodel import Session, col, select

from app.accounts.tokens import generate_token, hash_token
from app.config import Settings
from app.db import utcnow
from app.errors import DomainError, InvalidInputError, NotFoundError
from app.models import (
    AssessmentRound,
    Invitation,
    Organisation,
    Respondent,
    RespondentRole,
    Response,
    RoundStatus,
    Team,
)
from app.rubric.answers import validate_role
from app.surveys.service import round_closed

DEFAULT_USE_LIMIT: Final = 10
DEFAULT_VALID_FOR: Final = timedelta(days=30)
MAX_USE_LIMIT: Final = 500
ALL_ROLES: Final = tuple(RespondentRole)


class InvitationUnavailableError(NotFoundError):
    """The same answer for a link that never existed, expired, was revoked or is used up."""

    title: ClassVar[str] = "This link does not work"
    default_message: ClassVar[str] = (
        "We could not open a survey with this link. It may be incomplete, or no longer in "
        "use. Ask the person who sent it to you for a new link."
    )


class RoundClosedError(DomainError):
    status_code: ClassVar[int] = 410
    title: ClassVar[str] = "This survey has closed"
    default_message: ClassVar[str] = (
        "The survey this link belongs to has closed, so it no longer takes answers. Thank "
        "you for your interest; ask your team lead about the results."
    )


@dataclasses.dataclass(frozen=True)
class IssuedInvitation:
    """A new invitation and its token: the token exists only here, so show it now."""

    invitation: Invitation
    token: str

    @property
    def path(self) -> str:
        return invitation_path(self.token)

    def url(self, settings: Settings) -> str:
        return absolute_url(settings, self.path)


@dataclasses.dataclass(frozen=True)
class StartedRespondent:
    """A new respondent and their resume token (shown to them once, as their link)."""

    respondent: Respondent
    response: Response
    resume_token: str

    @property
    def path(self) -> str:
        return f"/r/{self.resume_token}"

    def url(self, settings: Settings) -> str:
        return absolute_url(settings, self.path)


def invitation_path(token: str) -> str:
    return f"/i/{token}"


def absolute_url(settings: Settings, path: str) -> str:
    return settings.base_url.rstrip("/") + path


def _invitation_hash(settings: Settings, token: str) -> str:
    return hash_token(settings, token, purpose="invitation")


def _check_role(role: str) -> str:
    if role not in set(RespondentRole):
        raise InvalidInputError(f"Unknown role {role!r}: use one of {', '.join(RespondentRole)}.")
    return role


# ---------------------------------------------------------------- for the team lead


def create_invitation(
    *,
    session: Session,
    settings: Settings,
    assessment_round: AssessmentRound,
    role: str,
    use_limit: int = DEFAULT_USE_LIMIT,
    expires_at: datetime | None = None,
    created_by_id: int | None = None,
) -> IssuedInvitation:
    """A new link for ``role`` in the round. One link per role: a link the role already had
    is revoked, so "create" also serves as "replace a leaked or lost link"."""
    assert assessment_round.id is not None
    _check_role(role)
    if round_closed(assessment_round):
        raise InvalidInputError("This round has closed; it takes no new invitations.")
    if not 1 <= use_limit <= MAX_USE_LIMIT:
        raise InvalidInputError(f"A link can be used between 1 and {MAX_USE_LIMIT} times.")
    now = utcnow()
    expires_at = expires_at or assessment_round.closes_at or now + DEFAULT_VALID_FOR
    if expires_at <= now:
        raise InvalidInputError("The link's expiry date must be in the future.")
    session.execute(
        update(Invitation)
        .where(
            col(Invitation.round_id) == assessment_round.id,
            col(Invitation.role) == role,
            col(Invitation.revoked_at).is_(None),
        )
        .values(revoked_at=now)
    )
    token = generate_token()
    invitation = Invitation(
        round_id=assessment_round.id,
        role=validate_role(role),
        token_hash=_invitation_hash(settings, token),
        use_limit=use_limit,
        expires_at=expires_at,
        created_by_id=created_by_id,
    )
    session.add(invitation)
    session.flush()
    return IssuedInvitation(invitation=invitation, token=token)


def create_round_invitations(
    *,
    session: Session,
    settings: Settings,
    assessment_round: AssessmentRound,
    roles: Iterable[str] = ALL_ROLES,
    use_limit: int = DEFAULT_USE_LIMIT,
    expires_at: datetime | None = None,
    created_by_id: int | None = None,
) -> dict[str, IssuedInvitation]:
    """One link per role (every role by default), keyed by role."""
    return {
        role: create_invitation(
            session=session,
            settings=settings,
            assessment_round=assessment_round,
            role=role,
            use_limit=use_limit,
            expires_at=expires_at,
            created_by_id=created_by_id,
        )
        for role in roles
    }


def round_invitations(*, session: Session, assessment_round: AssessmentRound) -> list[Invitation]:
    """The round's links, newest first (revoked ones included, for the lead's overview)."""
    return list(
        session.exec(
            select(Invitation)
            .where(Invitation.round_id == assessment_round.id)
            .order_by(col(Invitation.created_at).desc(), col(Invitation.id).desc())
        ).all()
    )


def revoke_invitation(*, session: Session, invitation: Invitation) -> None:
    """The link stops working at once; respondents who already started keep their links."""
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
        session.add(invitation)
        session.flush()


def extend_invitation(
    *,
    session: Session,
    invitation: Invitation,
    expires_at: datetime | None = None,
    use_limit: int | None = None,
) -> None:
    """A later expiry and/or a higher use limit for a link that is not revoked."""
    if invitation.revoked_at is not None:
        raise InvalidInputError("A revoked link cannot be extended; create a new one.")
    if expires_at is not None:
        if expires_at <= utcnow():
            raise InvalidInputError("The link's expiry date must be in the future.")
        invitation.expires_at = expires_at
    if use_limit is not None:
        if not invitation.use_count <= use_limit <= MAX_USE_LIMIT:
            raise InvalidInputError(
                f"The use limit must be between the uses so far ({invitation.use_count}) and "
                f"{MAX_USE_LIMIT}."
            )
        invitation.use_limit = use_limit
    session.add(invitation)
    session.flush()


# ---------------------------------------------------------------- for the respondent


def open_invitation(
    *, session: Session, settings: Settings, token: str
) -> tuple[Invitation, AssessmentRound]:
    """The invitation behind a link and its round. Changes nothing.

    Raises InvitationUnavailableError for an unknown, expired, revoked or used-up link (and
    for a round that has not opened yet), RoundClosedError when the round has closed.
    """
    if not token or len(token) > 200:
        raise InvitationUnavailableError()
    # a link into an organisation still being restored (pending) works once it is complete,
    # as a resume link does (service.load_survey)
    found = session.exec(
        select(Invitation, AssessmentRound)
        .join(AssessmentRound, col(AssessmentRound.id) == col(Invitation.round_id))
        .join(Team, col(Team.id) == col(AssessmentRound.team_id))
        .join(Organisation, col(Organisation.id) == col(Team.organisation_id))
        .where(
            Invitation.token_hash == _invitation_hash(settings, token),
            col(Organisation.pending) == false(),
        )
    ).first()
    if found is None:
        raise InvitationUnavailableError()
    invitation, assessment_round = found
    if round_closed(assessment_round):
        raise RoundClosedError()
    if (
        assessment_round.status != RoundStatus.open
        or invitation.revoked_at is not None
        or invitation.expires_at <= utcnow()
        or invitation.use_count >= invitation.use_limit
    ):
        raise InvitationUnavailableError()
    return invitation, assessment_round


def start_respondent(
    *,
    session: Session,
    settings: Settings,
    assessment_round: AssessmentRound,
    role: str,
    invitation: Invitation | None = None,
) -> StartedRespondent:
    """A new pseudonymous respondent with an empty response and a personal resume token.

    Invitation links call this through ``accept_invitation``; the team lead's workspace can
    call it directly to let the lead answer (a solo round, or the lead's own response).
    """
    assert assessment_round.id is not None
    _check_role(role)
    if round_closed(assessment_round):
        raise RoundClosedError()
    resume_token = generate_token()
    respondent = Respondent(
        round_id=assessment_round.id,
        invitation_id=invitation.id if invitation is not None else None,
        role=validate_role(role),
        resume_token_hash=hash_token(settings, resume_token, purpose="resume"),
    )
    session.add(respondent)
    session.flush()
    assert respondent.id is not None
    response = Response(respondent_id=respondent.id, round_id=assessment_round.id)
    session.add(response)
    session.flush()
    return StartedRespondent(respondent=respondent, response=response, resume_token=resume_token)


def accept_invitation(
    *, session: Session, settings: Settings, token: str, role: str | None = None
) -> StartedRespondent:
    """Start the survey from a link: count one use and create the respondent.

    ``role`` corrects the role the link was made for. The use is counted with one guarded
    UPDATE, so concurrent starts can never exceed the limit (the table's CHECK agrees).
    """
    invitation, assessment_round = open_invitation(session=session, settings=settings, token=token)
    chosen = _check_role(role) if role else invitation.role
    counted = session.exec(
        update(Invitation)
        .where(
            col(Invitation.id) == invitation.id,
            col(Invitation.use_count) < col(Invitation.use_limit),
        )
        .values(use_count=col(Invitation.use_count) + 1)
    )
    if counted.rowcount != 1:
        raise InvitationUnavailableError()
    session.refresh(invitation)
    return start_respondent(
        session=session,
        settings=settings,
        assessment_round=assessment_round,
        role=chosen,
        invitation=invitation,
    )
