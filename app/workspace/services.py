"""The workspace's use cases, each assembled once: the change, what follows from it (the team's
stored results recomputed), and its audit event.

The pages (app.workspace.routes), the API (app.api.workspace) and any command call these with
an ``Actor`` (who acts, under which request) and never record a workspace event themselves,
so every edge leaves the same trace. The building blocks stay where they were:
app.workspace.acting (targets, adopted practices), app.workspace.rounds (rounds and links),
app.workspace.results (stored results). Like them, these only ``flush()``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Final

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.accounts import audit
from app.accounts.audit import Actor
from app.config import Settings
from app.errors import InvalidInputError
from app.models import (
    AssessmentRound,
    Invitation,
    Organisation,
    RoundCreationKey,
    RoundMode,
    RoundResult,
    Team,
)
from app.rubric.loader import Catalog
from app.surveys.invitations import IssuedInvitation
from app.workspace import acting, rounds
from app.workspace.results import refresh_team_results, rescore

MAX_KEY: Final = 128


# ---------------------------------------------------------------- adopted practices and targets


def _team_event(
    session: Session, actor: Actor, team: Team, action: str, details: Mapping[str, object]
) -> None:
    audit.record(
        session=session,
        actor=actor,
        action=action,
        target_type="team",
        target_id=team.id,
        organisation_id=team.organisation_id,
        details=details,
    )


def adopt_practice(
    *, session: Session, catalog: Catalog, team: Team, practice_id: str, actor: Actor
) -> bool:
    """Mark a practice adopted and recompute the team's results; False (and no event) if it
    already was."""
    assert team.id is not None
    changed = acting.adopt(
        session=session,
        catalog=catalog,
        team=team,
        practice_id=practice_id,
        user_id=actor.user_id,
    )
    if changed:
        refresh_team_results(session=session, team_id=team.id)
        _team_event(session, actor, team, "practice.adopted", {"practice": practice_id})
    return changed


def unadopt_practice(
    *, session: Session, catalog: Catalog, team: Team, practice_id: str, actor: Actor
) -> bool:
    """Undo an adoption and recompute the team's results; False (and no event) if the
    practice was not marked adopted."""
    assert team.id is not None
    changed = acting.unadopt(session=session, catalog=catalog, team=team, practice_id=practice_id)
    if changed:
        refresh_team_results(session=session, team_id=team.id)
        _team_event(session, actor, team, "practice.unadopted", {"practice": practice_id})
    return changed


def set_targets(
    *,
    session: Session,
    catalog: Catalog,
    team: Team,
    targets: Mapping[str, str | None],
    actor: Actor,
) -> dict[str, str]:
    """Set or (with None or "") remove targets, recompute the team's results and record the
    targets afterwards. A bad value changes nothing. Returns the team's targets."""
    assert team.id is not None
    current = acting.set_targets(session=session, catalog=catalog, team=team, targets=targets)
    refresh_team_results(session=session, team_id=team.id)
    _team_event(session, actor, team, "targets.set", {"targets": current})
    return current


# ---------------------------------------------------------------- starting a round


@dataclasses.dataclass(frozen=True)
class CreatedRound:
    """A round started by a request, or found again for a repeat of it (``repeated``).

    A repeat has no ``links``: a link's token exists only in the answer that made it."""

    assessment_round: AssessmentRound
    links: Mapping[str, IssuedInvitation]
    lead_path: str | None  # a solo round: where the lead answers it
    repeated: bool


def check_key(key: str | None) -> str | None:
    """A client's idempotency key: 1 to 128 visible ASCII characters (a UUID, a form token)."""
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY or not all("!" <= ch <= "~" for ch in key):
        raise InvalidInputError(
            f"The idempotency key must be 1 to {MAX_KEY} visible ASCII characters (no spaces); "
            "no round was created."
        )
    return key


def _keyed_round(session: Session, team_id: int, key: str) -> AssessmentRound | None:
    return session.exec(
        select(AssessmentRound)
        .join(RoundCreationKey, col(RoundCreationKey.round_id) == col(AssessmentRound.id))
        .where(RoundCreationKey.team_id == team_id, RoundCreationKey.key == key)
    ).first()


def _again(session: Session, settings: Settings, assessment_round: AssessmentRound) -> CreatedRound:
    lead_path = None
    if assessment_round.mode == RoundMode.solo:
        # closed since and its response erased: there is nothing left to answer
        with contextlib.suppress(rounds.RoundClosedError):
            lead_path = rounds.lead_response_path(
                session=session, settings=settings, assessment_round=assessment_round, user_id=None
            )
    return CreatedRound(assessment_round, links={}, lead_path=lead_path, repeated=True)


def _audit_links(
    session: Session,
    actor: Actor,
    team: Team,
    round_id: int,
    issued: Mapping[str, IssuedInvitation],
) -> None:
    for role, link in issued.items():
        audit.record(
            session=session,
            actor=actor,
            action="invitation.created",
            target_type="invitation",
            target_id=link.invitation.id,
            organisation_id=team.organisation_id,
            details={"round_id": round_id, "role": role},
        )


def create_round(
    *,
    session: Session,
    settings: Settings,
    catalog: Catalog,
    team: Team,
    organisation: Organisation,
    request: rounds.RoundRequest,
    actor: Actor,
    idempotency_key: str | None = None,
) -> CreatedRound:
    """Start a round (app.workspace.rounds.start_round) and record it and its links.

    With a key, a repeat of the request (a double-clicked form, a retried call) returns the
    first round instead of starting another: the key is stored under a unique constraint per
    team, so two requests racing with one key still make one round. A bad request raises
    RoundFormError and creates nothing.
    """
    assert team.id is not None
    key = check_key(idempotency_key)
    if key is not None and (earlier := _keyed_round(session, team.id, key)) is not None:
        return _again(session, settings, earlier)
    try:
        # a savepoint, so losing the race for the key undoes only this round
        with session.begin_nested():
            started = rounds.start_round(
                session=session,
                settings=settings,
                catalog=catalog,
                team=team,
                organisation=organisation,
                request=request,
                created_by_id=actor.user_id,
            )
            assessment_round = started.assessment_round
            assert assessment_round.id is not None
            if key is not None:
                session.add(
                    RoundCreationKey(team_id=team.id, key=key, round_id=assessment_round.id)
                )
                session.flush()
    except IntegrityError:
        earlier = _keyed_round(session, team.id, key) if key is not None else None
        if earlier is None:
            raise
        return _again(session, settings, earlier)
    audit.record(
        session=session,
        actor=actor,
        action="round.created",
        target_type="round",
        target_id=assessment_round.id,
        organisation_id=team.organisation_id,
        details={"team_id": team.id, "mode": assessment_round.mode, "kind": assessment_round.kind},
    )
    _audit_links(session, actor, team, assessment_round.id, started.links)
    return CreatedRound(
        assessment_round, links=started.links, lead_path=started.lead_path, repeated=False
    )


# ---------------------------------------------------------------- a round and its links


def _round_event(
    session: Session,
    actor: Actor,
    team: Team,
    assessment_round: AssessmentRound,
    action: str,
    details: Mapping[str, object] | None = None,
) -> None:
    audit.record(
        session=session,
        actor=actor,
        action=action,
        target_type="round",
        target_id=assessment_round.id,
        organisation_id=team.organisation_id,
        details=details,
    )


def _link_event(
    session: Session,
    actor: Actor,
    team: Team,
    assessment_round: AssessmentRound,
    action: str,
    invitation: Invitation,
) -> None:
    audit.record(
        session=session,
        actor=actor,
        action=action,
        target_type="invitation",
        target_id=invitation.id,
        organisation_id=team.organisation_id,
        details={"round_id": assessment_round.id, "role": invitation.role},
    )


def close_round(
    *, session: Session, team: Team, assessment_round: AssessmentRound, actor: Actor
) -> None:
    """Close the round (its result becomes final) and record it."""
    rounds.close_round(session=session, assessment_round=assessment_round)
    _round_event(session, actor, team, assessment_round, "round.closed")


def extend_round(
    *,
    session: Session,
    team: Team,
    assessment_round: AssessmentRound,
    closes_on: date,
    actor: Actor,
) -> None:
    """A later closing date, recorded."""
    rounds.extend_round(session=session, assessment_round=assessment_round, closes_on=closes_on)
    _round_event(
        session,
        actor,
        team,
        assessment_round,
        "round.extended",
        {"closes_on": closes_on.isoformat()},
    )


def rescore_round(
    *,
    session: Session,
    team: Team,
    assessment_round: AssessmentRound,
    newest: Catalog,
    actor: Actor,
) -> RoundResult:
    """The round's answers scored under the newest rubric, stored beside the original."""
    stored = rescore(session=session, assessment_round=assessment_round, newest=newest)
    _round_event(session, actor, team, assessment_round, "round.rescored", {"label": stored.label})
    return stored


def issue_links(
    *,
    session: Session,
    settings: Settings,
    team: Team,
    assessment_round: AssessmentRound,
    roles: Sequence[str],
    actor: Actor,
) -> dict[str, IssuedInvitation]:
    """New links for ``roles`` (a role's previous link stops working), each recorded."""
    assert assessment_round.id is not None
    issued = rounds.issue_links(
        session=session,
        settings=settings,
        assessment_round=assessment_round,
        roles=roles,
        created_by_id=actor.user_id,
    )
    _audit_links(session, actor, team, assessment_round.id, issued)
    return issued


def revoke_link(
    *, session: Session, team: Team, assessment_round: AssessmentRound, role: str, actor: Actor
) -> Invitation:
    """The role's link stops working, recorded."""
    invitation = rounds.revoke_link(session=session, assessment_round=assessment_round, role=role)
    _link_event(session, actor, team, assessment_round, "invitation.revoked", invitation)
    return invitation


def extend_link(
    *, session: Session, team: Team, assessment_round: AssessmentRound, role: str, actor: Actor
) -> Invitation:
    """More uses and a later expiry for the role's link, recorded."""
    invitation = rounds.extend_link(session=session, assessment_round=assessment_round, role=role)
    _link_event(session, actor, team, assessment_round, "invitation.extended", invitation)
    return invitation
