"""Guessing invitation links is throttled per address (the survey's /i/{token} calls the
accounts rate limiter), and a link that does not work looks the same whether it never existed,
was revoked or has expired."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.accounts import ratelimit, tokens
from app.db import utcnow
from app.surveys import invitations
from tests.accounts import helpers


def _neutral(text: str) -> str:
    # request ids and CSRF tokens differ on every page
    return re.sub(r'value="[^"]*"|[0-9a-f]{32}', "", text)


def test_invitation_guessing_loop_is_throttled(
    client: TestClient, session: Session, settings: Any
) -> None:
    tenant = helpers.tenant(session, settings, "Guess")
    issued = invitations.create_invitation(
        session=session, settings=settings, assessment_round=tenant.round, role="data_scientist"
    )
    session.commit()
    allowed = int(ratelimit.INVITATION_LOOKUP_PER_ADDRESS[0].split("/")[0])
    codes = [client.get(f"/i/{tokens.generate_token()}").status_code for _ in range(allowed)]
    assert 429 not in codes
    assert client.get(f"/i/{tokens.generate_token()}").status_code == 429
    # while over the limit even a valid link is refused: guessing cannot probe around it
    assert client.get(f"/i/{issued.token}").status_code == 429


def test_links_that_do_not_work_look_alike(
    client: TestClient, session: Session, settings: Any
) -> None:
    tenant = helpers.tenant(session, settings, "Alike")
    revoked = invitations.create_invitation(
        session=session, settings=settings, assessment_round=tenant.round, role="ml_engineer"
    )
    invitations.revoke_invitation(session=session, invitation=revoked.invitation)
    expired = invitations.create_invitation(
        session=session,
        settings=settings,
        assessment_round=tenant.round,
        role="software_engineer",
        expires_at=utcnow() + timedelta(seconds=1),
    )
    expired.invitation.expires_at = utcnow() - timedelta(days=1)
    session.add(expired.invitation)
    session.commit()
    answers = [
        client.get(f"/i/{token}")
        for token in (tokens.generate_token(), revoked.token, expired.token, "short")
    ]
    assert len({response.status_code for response in answers}) == 1
    assert len({_neutral(response.text) for response in answers}) == 1
