"""A resume or invitation link into an organisation a long writer is still adding (a restore
in progress) answers like an unknown link until the organisation is published, then works."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from app.config import Settings
from app.models import Organisation, Team
from app.surveys import invitations, service
from tests.surveys import helpers


def _set_pending(session: Session, team_id: int, pending: bool) -> None:
    team = session.get(Team, team_id)
    assert team is not None
    organisation = session.get(Organisation, team.organisation_id)
    assert organisation is not None
    organisation.pending = pending
    session.add(organisation)
    session.flush()


def test_a_pending_organisations_invitation_link_starts_nobody_until_published(
    session: Session, settings: Settings
) -> None:
    assessment_round = helpers.team_round(session)
    issued = invitations.create_invitation(
        session=session, settings=settings, assessment_round=assessment_round, role="ml_engineer"
    )
    _set_pending(session, assessment_round.team_id, True)
    with pytest.raises(invitations.InvitationUnavailableError):
        invitations.open_invitation(session=session, settings=settings, token=issued.token)
    with pytest.raises(invitations.InvitationUnavailableError):
        invitations.accept_invitation(session=session, settings=settings, token=issued.token)
    session.refresh(issued.invitation)
    assert issued.invitation.use_count == 0  # nothing counted, nobody started
    _set_pending(session, assessment_round.team_id, False)
    started = invitations.accept_invitation(session=session, settings=settings, token=issued.token)
    assert started.respondent.role == "ml_engineer"
    assert issued.invitation.use_count == 1


def test_a_pending_organisations_resume_link_works_only_once_published(
    session: Session, settings: Settings
) -> None:
    assessment_round = helpers.team_round(session)
    token = invitations.start_respondent(
        session=session,
        settings=settings,
        assessment_round=assessment_round,
        role="data_scientist",
    ).resume_token
    team = session.get(Team, assessment_round.team_id)
    assert team is not None
    organisation = session.get(Organisation, team.organisation_id)
    assert organisation is not None
    organisation.pending = True
    session.add(organisation)
    session.flush()
    with pytest.raises(service.ResumeLinkUnavailableError):
        service.load_survey(session=session, settings=settings, resume_token=token)
    organisation.pending = False
    session.add(organisation)
    session.flush()
    survey = service.load_survey(session=session, settings=settings, resume_token=token)
    assert survey.respondent.role == "data_scientist"
