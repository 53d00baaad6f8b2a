"""Rounds from the team lead's side: start, close and extend a round, its invitation links per
role, response counts per role (never names), and the lead's own answers.

The survey area owns invitations, respondents and answers (app.surveys); these functions call
its services and add what a lead needs around them. Services only ``flush()``: the request's
session dependency commits or rolls back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from sqlalchemy import func
from sqlmodel import Session, col, select

from app import catalog_store
from app.accounts.tokens import hash_token, lead_token
from app.config import Settings
from app.db import utcnow
from app.errors import ConflictError, InvalidInputError
from app.models import (
    AssessmentRound,
    Invitation,
    Organisation,
    ProjectStage,
    Respondent,
    RespondentRole,
    Response,
    ResponseStatus,
    RoundKind,
    RoundMode,
    RoundStatus,
    Team,
)
from app.results import visibility
from app.rubric.anonymity import LOWEST_TEAM_RESULTS_MIN
from app.rubric.loader import Catalog
from app.rubric.rules import STAGES
from app.surveys import closing, email_invitations, invitations
from app.surveys.service import round_closed

# roles invited by default: both sides of the data-science / engineering divide, and product
DEFAULT_ROLES: Final = ("data_scientist", "ml_engineer", "software_engineer", "product_manager")
DEFAULT_SURVEY_DAYS: Final = 14
MAX_ROUND_DAYS: Final = 366
MAX_TITLE: Final = 200
EXTRA_USES: Final = 10
LEAD_ROLE: Final = "team_lead"


class RoundFormError(InvalidInputError):
    """The new-round form has problems; ``errors`` maps a field to a message. Nothing was
    created."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        count = len(self.errors)
        super().__init__(
            "One field needs another look; no round was created."
            if count == 1
            else f"{count} fields need another look; no round was created."
        )


class RoundClosedError(ConflictError):
    title = "This round has closed"
    default_message = (
        "This round has closed, so it no longer changes. Start a new round to ask the team again."
    )


# ---------------------------------------------------------------- starting a round


@dataclasses.dataclass(frozen=True)
class RoundRequest:
    """What the lead chose for a new round (already parsed from the form or the API)."""

    mode: str
    kind: str
    stage: str
    instruments: tuple[str, ...]
    title: str = ""
    results_min: int = 3
    closes_on: date | None = None
    respondents_see_results: bool = False
    roles: tuple[str, ...] = DEFAULT_ROLES


@dataclasses.dataclass(frozen=True)
class StartedRound:
    """A new round, and the invitation links made with it (their tokens exist only here)."""

    assessment_round: AssessmentRound
    links: Mapping[str, invitations.IssuedInvitation]
    lead_path: str | None  # a solo round: where the lead starts answering


def results_threshold(settings: Settings, organisation: Organisation) -> int:
    """The organisation's (or installation's) threshold; a team may lower its own to 2."""
    return max(LOWEST_TEAM_RESULTS_MIN, organisation.team_results_min or settings.team_results_min)


def previous_round(*, session: Session, team_id: int) -> AssessmentRound | None:
    return session.exec(
        select(AssessmentRound)
        .where(AssessmentRound.team_id == team_id)
        .order_by(col(AssessmentRound.created_at).desc(), col(AssessmentRound.id).desc())
        .limit(1)
    ).first()


def check_request(
    request: RoundRequest,
    *,
    available_instruments: Sequence[str],
    threshold: int,
    today: date,
) -> RoundRequest:
    """The request with its title trimmed, or RoundFormError naming every problem."""
    errors: dict[str, str] = {}
    if request.mode not in set(RoundMode):
        errors["mode"] = "Choose who answers: you alone, or the team by invitation links."
    if request.kind not in set(RoundKind):
        errors["kind"] = "Choose the full assessment or the quick check."
    if request.stage not in set(ProjectStage):
        errors["stage"] = "Choose the stage the project is at; practices are judged by it."
    if not request.instruments:
        errors["instruments"] = "Choose at least one questionnaire."
    elif unknown := [i for i in request.instruments if i not in available_instruments]:
        errors["instruments"] = f"Unknown questionnaire: {', '.join(unknown)}."
    if request.results_min not in (threshold, LOWEST_TEAM_RESULTS_MIN):
        errors["results_min"] = (
            f"Show results after {threshold} responses, or lower it to {LOWEST_TEAM_RESULTS_MIN}."
        )
    title = " ".join(request.title.split())
    if len(title) > MAX_TITLE:
        errors["title"] = f"Keep the title under {MAX_TITLE} characters."
    if request.closes_on is not None and not (
        today <= request.closes_on <= today + timedelta(days=MAX_ROUND_DAYS)
    ):
        errors["closes_on"] = "Choose a closing date between today and a year from now."
    if request.mode == RoundMode.team_survey:
        if not request.roles:
            errors["roles"] = "Choose at least one role to invite (you can add more later)."
        elif unknown := [r for r in request.roles if r not in set(RespondentRole)]:
            errors["roles"] = f"Unknown role: {', '.join(unknown)}."
    if errors:
        raise RoundFormError(errors)
    ordered = tuple(i for i in available_instruments if i in request.instruments)
    return dataclasses.replace(request, title=title, instruments=ordered)


def closing_time(closes_on: date) -> datetime:
    """A round closes at the end of its closing day (UTC)."""
    return datetime.combine(closes_on + timedelta(days=1), time.min, tzinfo=UTC)


def start_round(
    *,
    session: Session,
    settings: Settings,
    catalog: Catalog,
    team: Team,
    organisation: Organisation,
    request: RoundRequest,
    created_by_id: int | None,
) -> StartedRound:
    """Open a new round under the newest rubric. A team survey gets one invitation link per
    chosen role; a solo round gets the lead's own response, ready to answer."""
    assert team.id is not None
    now = utcnow()
    if request.mode == RoundMode.solo:
        # the team-survey settings (closing date, links, threshold) do not apply to a solo
        # round, whatever the form still carried
        request = dataclasses.replace(
            request, closes_on=None, roles=(), respondents_see_results=False
        )
    request = check_request(
        request,
        available_instruments=catalog_store.round_instruments(catalog, organisation),
        threshold=results_threshold(settings, organisation),
        today=now.date(),
    )
    versions = catalog_store.register_catalog(session=session, catalog=catalog)
    count = session.exec(
        select(func.count()).select_from(AssessmentRound).where(AssessmentRound.team_id == team.id)
    ).one()
    solo = request.mode == RoundMode.solo
    closes_on = request.closes_on
    if closes_on is None and not solo:
        closes_on = now.date() + timedelta(days=DEFAULT_SURVEY_DAYS)
    assessment_round = AssessmentRound(
        team_id=team.id,
        title=request.title or f"Round {count + 1}",
        # check_request allowed only these values; spelt out so the columns get their types
        mode="solo" if solo else "team_survey",
        kind="quick" if request.kind == RoundKind.quick else "full",
        stage=next(stage for stage in STAGES if stage == request.stage),
        instruments=list(request.instruments),
        rubric_versions=versions,
        results_min=LOWEST_TEAM_RESULTS_MIN if solo else request.results_min,
        respondents_see_results=request.respondents_see_results and not solo,
        status=RoundStatus.open,
        created_by_id=created_by_id,
        created_at=now,
        opened_at=now,
        closes_at=closing_time(closes_on) if closes_on else None,
    )
    session.add(assessment_round)
    session.flush()
    links: dict[str, invitations.IssuedInvitation] = {}
    lead_path = None
    if solo:
        lead_path = lead_response_path(
            session=session, settings=settings, assessment_round=assessment_round, user_id=None
        )
    else:
        links = invitations.create_round_invitations(
            session=session,
            settings=settings,
            assessment_round=assessment_round,
            roles=request.roles,
            created_by_id=created_by_id,
        )
    return StartedRound(assessment_round=assessment_round, links=links, lead_path=lead_path)


# ---------------------------------------------------------------- closing and extending


def require_open(assessment_round: AssessmentRound) -> None:
    if assessment_round.status == RoundStatus.closed:
        raise RoundClosedError()


def close_round(
    *, session: Session, assessment_round: AssessmentRound, at: datetime | None = None
) -> None:
    """Close the round: links stop working, answers can no longer change, and the result is
    published, once (``app.surveys.closing``)."""
    require_open(assessment_round)
    closing.close(session=session, assessment_round=assessment_round, at=at)


close_if_due = closing.close_if_due  # closing by date: the first read after the date closes


def extend_round(*, session: Session, assessment_round: AssessmentRound, closes_on: date) -> None:
    """A later closing date for an open round; links that would expire earlier are extended
    to it. A round whose date has passed is closed and never reopens (its result may already
    be published): start a new round instead."""
    require_open(assessment_round)
    if round_closed(assessment_round):
        raise RoundClosedError()
    today = utcnow().date()
    if not today <= closes_on <= today + timedelta(days=MAX_ROUND_DAYS):
        raise InvalidInputError("Choose a closing date between today and a year from now.")
    closes_at = closing_time(closes_on)
    assessment_round.closes_at = closes_at
    session.add(assessment_round)
    for invitation in active_invitations(session=session, assessment_round=assessment_round):
        if invitation.expires_at < closes_at:
            invitations.extend_invitation(
                session=session, invitation=invitation, expires_at=closes_at
            )
    session.flush()


def set_sharing(
    *, session: Session, assessment_round: AssessmentRound, respondents_see_results: bool
) -> None:
    """Whether respondents may see the team's headline results once the threshold is met."""
    if assessment_round.mode == RoundMode.solo:
        raise InvalidInputError("A solo round has no respondents to share results with.")
    assessment_round.respondents_see_results = respondents_see_results
    session.add(assessment_round)
    session.flush()


# ---------------------------------------------------------------- responses


@dataclasses.dataclass(frozen=True)
class RoleCount:
    """One role's progress. A role with fewer than k submitted responses shows no counts,
    only ``fewer_than_minimum`` (the anonymity rule's progress: PRODUCT.md section 6)."""

    role: str
    started: int | None  # opened the survey, not submitted (invited by e-mail: once it saved)
    submitted: int | None
    fewer_than_minimum: bool


submitted_count = closing.submitted_count


def role_counts(*, session: Session, assessment_round: AssessmentRound) -> tuple[RoleCount, ...]:
    """Responses per role, in the order of the roles list: counts only, never who, and only
    for roles with at least the round's threshold of submitted responses."""
    assert assessment_round.id is not None
    rows = session.exec(
        select(Respondent.role, Response.status, func.count())
        .join(Response, col(Response.respondent_id) == col(Respondent.id))
        .where(
            Respondent.round_id == assessment_round.id,
            # invited by e-mail is not in progress until something is saved (a total instead)
            col(Respondent.resume_token_hash).not_in(
                email_invitations.not_started(assessment_round.id)
            ),
        )
        .group_by(col(Respondent.role), col(Response.status))
    ).all()
    started: dict[str, int] = {}
    submitted: dict[str, int] = {}
    for role, status, count in rows:
        target = submitted if status == ResponseStatus.submitted else started
        target[role] = target.get(role, 0) + int(count)
    counts = []
    for role in RespondentRole:
        if role not in started and role not in submitted:
            continue
        if visibility.role_progress_shown(submitted.get(role, 0), assessment_round.results_min):
            counts.append(RoleCount(role.value, started.get(role, 0), submitted[role], False))
        else:
            counts.append(RoleCount(role.value, None, None, True))
    return tuple(counts)


# ---------------------------------------------------------------- invitation links


@dataclasses.dataclass(frozen=True)
class LinkState:
    """The current link of one role, for the lead's overview (never the link itself)."""

    role: str
    status: str  # active | revoked | expired | used_up
    uses: int
    use_limit: int
    expires_at: datetime
    created_at: datetime


def _status(invitation: Invitation, now: datetime) -> str:
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= now:
        return "expired"
    if invitation.use_count >= invitation.use_limit:
        return "used_up"
    return "active"


def link_states(*, session: Session, assessment_round: AssessmentRound) -> tuple[LinkState, ...]:
    """The newest link of each role that ever had one, in the order of the roles list."""
    now = utcnow()
    newest: dict[str, Invitation] = {}
    for invitation in invitations.round_invitations(
        session=session, assessment_round=assessment_round
    ):
        newest.setdefault(invitation.role, invitation)
    return tuple(
        LinkState(
            role=item.role,
            status=_status(item, now),
            uses=item.use_count,
            use_limit=item.use_limit,
            expires_at=item.expires_at,
            created_at=item.created_at,
        )
        for item in (newest[role] for role in RespondentRole if role in newest)
    )


def active_invitations(*, session: Session, assessment_round: AssessmentRound) -> list[Invitation]:
    return [
        invitation
        for invitation in invitations.round_invitations(
            session=session, assessment_round=assessment_round
        )
        if invitation.revoked_at is None
    ]


def _check_roles(roles: Sequence[str]) -> tuple[str, ...]:
    if not roles:
        raise InvalidInputError("Choose at least one role.")
    unknown = [r for r in roles if r not in set(RespondentRole)]
    if unknown:
        raise InvalidInputError(f"Unknown role: {', '.join(unknown)}.")
    return tuple(dict.fromkeys(roles))


def _require_survey(assessment_round: AssessmentRound) -> None:
    if assessment_round.mode != RoundMode.team_survey:
        raise InvalidInputError("A solo round has no invitation links: you answer it yourself.")
    if round_closed(assessment_round):
        raise RoundClosedError(
            "This round has closed, so it takes no new links. Extend it first, or start a "
            "new round."
        )


def issue_links(
    *,
    session: Session,
    settings: Settings,
    assessment_round: AssessmentRound,
    roles: Sequence[str],
    created_by_id: int | None,
) -> dict[str, invitations.IssuedInvitation]:
    """New links for ``roles``; a role's previous link stops working (one link per role)."""
    _require_survey(assessment_round)
    return invitations.create_round_invitations(
        session=session,
        settings=settings,
        assessment_round=assessment_round,
        roles=_check_roles(roles),
        created_by_id=created_by_id,
    )


def _active_link(session: Session, assessment_round: AssessmentRound, role: str) -> Invitation:
    _check_roles([role])
    found = next(
        (
            i
            for i in active_invitations(session=session, assessment_round=assessment_round)
            if i.role == role
        ),
        None,
    )
    if found is None:
        raise InvalidInputError("That role has no working link; create a new one instead.")
    return found


def revoke_link(*, session: Session, assessment_round: AssessmentRound, role: str) -> Invitation:
    """The role's link stops working at once; people who already started keep their own
    personal links."""
    require_open(assessment_round)
    invitation = _active_link(session, assessment_round, role)
    invitations.revoke_invitation(session=session, invitation=invitation)
    return invitation


def extend_link(
    *,
    session: Session,
    assessment_round: AssessmentRound,
    role: str,
    expires_at: datetime | None = None,
    use_limit: int | None = None,
) -> Invitation:
    """More uses (by default ten more) and/or a later expiry (by default the round's closing
    time) for a role's link."""
    _require_survey(assessment_round)
    invitation = _active_link(session, assessment_round, role)
    if expires_at is None and use_limit is None:
        use_limit = min(invitations.MAX_USE_LIMIT, invitation.use_limit + EXTRA_USES)
        closes_at = assessment_round.closes_at
        if closes_at is not None and closes_at > invitation.expires_at:
            expires_at = closes_at
    invitations.extend_invitation(
        session=session, invitation=invitation, expires_at=expires_at, use_limit=use_limit
    )
    return invitation


# ---------------------------------------------------------------- the lead's own answers


@dataclasses.dataclass(frozen=True)
class LeadResponse:
    started: bool
    submitted: bool
    answered: int


def _lead_user(assessment_round: AssessmentRound, user_id: int) -> int | None:
    return None if assessment_round.mode == RoundMode.solo else user_id


def lead_response(
    *, session: Session, settings: Settings, assessment_round: AssessmentRound, user_id: int
) -> LeadResponse:
    """Whether the lead (or, in a solo round, anyone for the team) has started answering."""
    assert assessment_round.id is not None
    token = lead_token(
        settings,
        round_id=assessment_round.id,
        user_id=_lead_user(assessment_round, user_id),
    )
    found = session.exec(
        select(Response)
        .join(Respondent, col(Respondent.id) == col(Response.respondent_id))
        .where(Respondent.resume_token_hash == hash_token(settings, token, purpose="resume"))
    ).first()
    if found is None:
        return LeadResponse(started=False, submitted=False, answered=0)
    return LeadResponse(
        started=True,
        submitted=found.status == ResponseStatus.submitted,
        answered=len(found.answers),
    )


def lead_response_path(
    *,
    session: Session,
    settings: Settings,
    assessment_round: AssessmentRound,
    user_id: int | None,
) -> str:
    """The survey address of the lead's own response, creating the response if needed.

    In a team survey the lead answers as one more respondent (role "team lead", which they can
    correct on the survey's first page); in a solo round this is the team's one response.
    """
    assert assessment_round.id is not None
    who = None if user_id is None else _lead_user(assessment_round, user_id)
    token = lead_token(settings, round_id=assessment_round.id, user_id=who)
    token_hash = hash_token(settings, token, purpose="resume")
    exists = session.exec(
        select(Respondent.id).where(Respondent.resume_token_hash == token_hash)
    ).first()
    if exists is None:
        if round_closed(assessment_round):
            raise RoundClosedError()
        started = invitations.start_respondent(
            session=session, settings=settings, assessment_round=assessment_round, role=LEAD_ROLE
        )
        # the survey made a random personal link; the lead's is the derived one above
        started.respondent.resume_token_hash = token_hash
        session.add(started.respondent)
        session.flush()
    return f"/r/{token}"
