"""Typed contexts of the round pages (templates/workspace/): the new-round form and a round
with its links, counts and the lead's own answers.

Like app.workspace.pages (home and team), templates get frozen dataclasses of plain,
already-labelled data; tests read them from ``response.context["page"]``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Final

from sqlmodel import Session, func, select

from app import catalog_store
from app.accounts.tenancy import Principal
from app.config import Settings
from app.db import utcnow
from app.models import (
    AssessmentRound,
    Organisation,
    RoundMode,
    RoundStatus,
    Team,
)
from app.results.service import round_settings
from app.rubric.answers import Kind, Mode, RoundSettings
from app.rubric.labels import KIND_LABELS, MODE_LABELS, humanise
from app.rubric.loader import Catalog
from app.rubric.schema import ROLES
from app.surveys import email_invitations, estimate, invitations
from app.surveys.pages import STAGES
from app.surveys.service import round_closed
from app.workspace import rounds
from app.workspace.pages import (
    NOTICES,
    RoundStatusView,
    role_label,
    round_status,
    stage_label,
    until,
    waiting_text,
)
from app.workspace.results import visibility_of
from app.workspace.rounds import DEFAULT_ROLES, LinkState
from app.workspace.urls import results_url, round_url, team_url

LINK_STATUS: Final = {
    "active": "Working",
    "revoked": "Revoked",
    "expired": "Expired",
    "used_up": "Used up",
}


# who a role's link is for, as a phrase: "Link for data scientists"
ROLE_GROUPS: Final = {
    "data_scientist": "data scientists",
    "ml_engineer": "ML engineers",
    "software_engineer": "software engineers",
    "product_manager": "product managers",
    "team_lead": "team leads",
    "other": "other roles",
}

# ---------------------------------------------------------------- the new-round form


@dataclasses.dataclass(frozen=True)
class Option:
    value: str
    label: str
    hint: str
    checked: bool
    extra: str = ""  # a second hint sentence, kept when the script rewrites ``hint``
    estimates: str = ""  # JSON "mode|stage" -> time text (the kinds of round only)


@dataclasses.dataclass(frozen=True)
class NewRoundPage:
    """Context of templates/workspace/new_round.html."""

    title: str
    team_id: int
    team_name: str
    action: str
    cancel_url: str
    form_key: str
    modes: tuple[Option, ...]
    kinds: tuple[Option, ...]
    stages: tuple[Option, ...]
    stage_from_previous: str | None  # "Pre-filled from Round 2"
    instruments: tuple[Option, ...]
    roles: tuple[Option, ...]
    thresholds: tuple[Option, ...]
    title_value: str
    title_placeholder: str
    closes_on: str  # yyyy-mm-dd
    min_date: str
    max_date: str
    respondents_see_results: bool
    errors: Mapping[str, str]
    error_message: str | None


@dataclasses.dataclass(frozen=True)
class RoundFormValues:
    """What the form shows: the lead's choices so far (or the defaults)."""

    mode: str
    kind: str
    stage: str
    instruments: tuple[str, ...]
    roles: tuple[str, ...]
    results_min: int
    title: str
    closes_on: str
    respondents_see_results: bool


def default_values(
    *,
    session: Session,
    settings: Settings,
    catalog: Catalog,
    team: Team,
    organisation: Organisation,
) -> tuple[RoundFormValues, str | None]:
    """The form's defaults: a team survey, full, every instrument, the previous round's stage."""
    assert team.id is not None
    previous = rounds.previous_round(session=session, team_id=team.id)
    return (
        RoundFormValues(
            mode=RoundMode.team_survey,
            kind="full",
            stage=previous.stage if previous else "",
            instruments=tuple(catalog_store.round_instruments(catalog, organisation)),
            roles=DEFAULT_ROLES,
            results_min=rounds.results_threshold(settings, organisation),
            title="",
            closes_on=(utcnow().date() + timedelta(days=rounds.DEFAULT_SURVEY_DAYS)).isoformat(),
            respondents_see_results=False,
        ),
        f"Pre-filled from {previous.title or 'the previous round'}" if previous else None,
    )


def _mode_options(values: RoundFormValues) -> tuple[Option, ...]:
    return (
        Option(
            "team_survey",
            "Team survey",
            "Colleagues in each role answer through an invitation link. Results appear "
            "once enough of them have answered, and show where roles disagree.",
            values.mode == "team_survey",
        ),
        Option(
            "solo",
            "Just me",
            "You answer for the team on your own. Results appear as soon as you submit.",
            values.mode == "solo",
        ),
    )


KIND_HINTS: Final[Mapping[Kind, tuple[str, str]]] = {
    "full": ("Full assessment", ""),
    "quick": ("Quick check", "The same results from fewer questions, with lower coverage."),
}


def _kind_options(
    catalog: Catalog, available: tuple[str, ...], values: RoundFormValues
) -> tuple[Option, ...]:
    """Full or quick, each with its time (app.surveys.estimate) for the chosen mode and stage;
    ``estimates`` holds the time for every mode and stage, for the page's script to follow
    the form as the lead changes it."""
    mode: Mode = "solo" if values.mode == "solo" else "team_survey"
    stage = values.stage if values.stage in STAGES else ""
    options = []
    for kind, (label, extra) in KIND_HINTS.items():
        by_stage = estimate.form_estimates(catalog, kind=kind, instruments=available)
        table = estimate.form_texts(by_stage)
        options.append(
            Option(
                kind,
                label,
                by_stage[stage].text(mode),
                values.kind == kind,
                extra=extra,
                estimates=json.dumps(table, sort_keys=True),
            )
        )
    return tuple(options)


def _threshold_options(threshold: int, values: RoundFormValues) -> tuple[Option, ...]:
    """When results appear: the organisation's threshold, or 2 for a very small team."""
    if threshold == 2:
        return (Option("2", "After 2 responses", "", True),)
    return (
        Option(
            str(threshold),
            f"After {threshold} responses",
            "Recommended: no one's answers can be worked out from the team result.",
            values.results_min == threshold,
        ),
        Option(
            "2",
            "After 2 responses",
            "For a very small team. Respondents are told on the survey's first page.",
            values.results_min == 2,
        ),
    )


def new_round_page(
    *,
    session: Session,
    settings: Settings,
    catalog: Catalog,
    team: Team,
    organisation: Organisation,
    form_key: str,
    values: RoundFormValues | None = None,
    errors: Mapping[str, str] | None = None,
    error_message: str | None = None,
) -> NewRoundPage:
    assert team.id is not None
    defaults, from_previous = default_values(
        session=session, settings=settings, catalog=catalog, team=team, organisation=organisation
    )
    values = values or defaults
    available = tuple(catalog_store.round_instruments(catalog, organisation))
    threshold = rounds.results_threshold(settings, organisation)
    today = utcnow().date()
    count = session.exec(
        select(func.count()).select_from(AssessmentRound).where(AssessmentRound.team_id == team.id)
    ).one()
    return NewRoundPage(
        title="Start a round",
        team_id=team.id,
        team_name=team.name,
        action=f"{team_url(team.id)}/rounds",
        cancel_url=team_url(team.id),
        form_key=form_key,
        modes=_mode_options(values),
        kinds=_kind_options(catalog, available, values),
        stages=tuple(
            Option(stage, label, description, values.stage == stage)
            for stage, (label, description) in STAGES.items()
        ),
        stage_from_previous=from_previous if values.stage == defaults.stage else None,
        instruments=tuple(
            Option(
                instrument_id,
                catalog.instruments[instrument_id].title,
                "Needed for a process recommendation." if instrument_id == "trajectory" else "",
                instrument_id in values.instruments,
            )
            for instrument_id in available
        ),
        roles=tuple(Option(role, role_label(role), "", role in values.roles) for role in ROLES),
        thresholds=_threshold_options(threshold, values),
        title_value=values.title,
        title_placeholder=f"Round {count + 1}",
        closes_on=values.closes_on,
        min_date=today.isoformat(),
        max_date=(today + timedelta(days=rounds.MAX_ROUND_DAYS)).isoformat(),
        respondents_see_results=values.respondents_see_results,
        errors=dict(errors or {}),
        error_message=error_message,
    )


# ---------------------------------------------------------------- a round


@dataclasses.dataclass(frozen=True)
class RoleCountView:
    role: str
    label: str
    started: int | None  # None with ``fewer_than_minimum``: the role's counts do not show
    submitted: int | None
    fewer_than_minimum: bool


@dataclasses.dataclass(frozen=True)
class LinkView:
    role: str
    label: str
    for_whom: str  # "data scientists"
    status: str
    status_label: str
    uses: str  # "3 of 10 used"
    expires: str
    active: bool


@dataclasses.dataclass(frozen=True)
class NewLink:
    """A link just made: shown on this response only (only its hash is stored)."""

    role: str
    label: str  # "Link for data scientists"
    url: str
    input_id: str
    expires: str


# what the e-mail forms report (totals only: the page never says who)
MAIL_NOTICES: Final = {
    "emailed": "The invitations are being sent. Each address gets its own link.",
    "reminded": "Reminders are being sent to those invited who have not submitted.",
    "reminder_schedule": "Saved how often reminders are sent.",
}


@dataclasses.dataclass(frozen=True)
class EmailForm:
    """The invitation-by-e-mail form: totals, and what was typed when a list was refused."""

    summary: email_invitations.MailingSummary
    roles: tuple[Option, ...]
    typed: Mapping[str, str]


@dataclasses.dataclass(frozen=True)
class RoundPage:
    """Context of templates/workspace/round.html."""

    title: str
    team_id: int
    team_name: str
    round_id: int
    url: str
    team_url: str
    results_url: str
    solo: bool
    kind: str
    mode: str
    stage: str
    instruments: tuple[str, ...]
    status: RoundStatusView
    open: bool  # the round takes answers and changes
    closed: bool  # closed by the lead (final)
    minutes: int
    results_min: int
    respondents_see_results: bool
    submitted: int
    needed: int
    visible: bool
    waiting: str | None
    role_counts: tuple[RoleCountView, ...]
    links: tuple[LinkView, ...]
    new_links: tuple[NewLink, ...]
    missing_roles: tuple[Option, ...]  # roles without a working link, for "add links"
    reminder: str
    lead_started: bool
    lead_submitted: bool
    lead_answered: int
    closes_on: str  # yyyy-mm-dd, for the extend form
    min_date: str
    max_date: str
    notice: str | None
    error: str | None
    email: EmailForm


def reminder_text(*, team: Team, assessment_round: AssessmentRound, minutes: int) -> str:
    closes = assessment_round.closes_at
    when = f" It closes on {until(closes)}." if closes else ""
    return (
        f"A reminder about our team survey for {team.name} ({assessment_round.title}).{when} "
        f"It takes about {minutes} minutes. If you have not started yet, open the invitation "
        "link I sent you. If you started, your personal link takes you back to where you "
        "stopped. Your answers are pseudonymous: I only see results for the team as a whole."
    )


def _instrument_titles(catalog: Catalog, settings: RoundSettings) -> tuple[str, ...]:
    return tuple(catalog.instruments[i].title for i in settings.instrument_ids(catalog))


def _link_view(state: LinkState) -> LinkView:
    return LinkView(
        role=state.role,
        label=role_label(state.role),
        for_whom=ROLE_GROUPS.get(state.role, state.role),
        status=state.status,
        status_label=LINK_STATUS[state.status],
        uses=f"{state.uses} of {state.use_limit} used",
        expires=until(state.expires_at),
        active=state.status == "active",
    )


def _new_link(role: str, issued: invitations.IssuedInvitation, settings: Settings) -> NewLink:
    """A link just issued, shown this once (its token is not stored)."""
    return NewLink(
        role=role,
        label=f"Link for {ROLE_GROUPS.get(role, role)}",
        url=issued.url(settings),
        input_id=f"link-{role}",
        expires=until(issued.invitation.expires_at),
    )


def _last_day(assessment_round: AssessmentRound, today: date) -> date:
    """The round's last day, or the default one for the extend form of a round without it."""
    if assessment_round.closes_at:
        return (assessment_round.closes_at - timedelta(seconds=1)).date()
    return today + timedelta(days=rounds.DEFAULT_SURVEY_DAYS)


# long: one flat, typed context for the whole page, built in one place
def round_page(
    *,
    session: Session,
    settings: Settings,
    catalog: Catalog,
    team: Team,
    assessment_round: AssessmentRound,
    principal: Principal,
    new_links: Mapping[str, invitations.IssuedInvitation] | None = None,
    notice: str | None = None,
    error: str | None = None,
    typed_addresses: Mapping[str, str] | None = None,
) -> RoundPage:
    assert team.id is not None
    assert assessment_round.id is not None
    solo = assessment_round.mode == RoundMode.solo
    round_catalog = catalog_store.catalog_for(
        session=session, versions=assessment_round.rubric_versions
    )
    settings_of_round = round_settings(assessment_round)
    visibility = visibility_of(session=session, assessment_round=assessment_round)
    states: Sequence[LinkState] = rounds.link_states(
        session=session, assessment_round=assessment_round
    )
    lead = rounds.lead_response(
        session=session,
        settings=settings,
        assessment_round=assessment_round,
        user_id=principal.user_id,
    )
    working = {state.role for state in states if state.status == "active"}
    today = utcnow().date()
    closes_on = _last_day(assessment_round, today)
    minutes = estimate.round_minutes(round_catalog, settings_of_round)
    return RoundPage(
        title=assessment_round.title or "Round",
        team_id=team.id,
        team_name=team.name,
        round_id=assessment_round.id,
        url=round_url(team.id, assessment_round.id),
        team_url=team_url(team.id),
        results_url=results_url(team.id, assessment_round.id),
        solo=solo,
        kind=KIND_LABELS.get(assessment_round.kind, humanise(assessment_round.kind)),
        mode=MODE_LABELS.get(assessment_round.mode, humanise(assessment_round.mode)),
        stage=stage_label(assessment_round.stage),
        instruments=_instrument_titles(round_catalog, settings_of_round),
        status=round_status(assessment_round),
        open=not round_closed(assessment_round),
        closed=assessment_round.status == RoundStatus.closed,
        minutes=minutes,
        results_min=assessment_round.results_min,
        respondents_see_results=assessment_round.respondents_see_results,
        submitted=visibility.submitted,
        needed=visibility.needed,
        visible=visibility.visible,
        waiting=None
        if visibility.visible
        else waiting_text(visibility.submitted, visibility.needed, solo),
        role_counts=tuple(
            RoleCountView(c.role, role_label(c.role), c.started, c.submitted, c.fewer_than_minimum)
            for c in rounds.role_counts(session=session, assessment_round=assessment_round)
        ),
        links=tuple(_link_view(state) for state in states),
        new_links=tuple(
            _new_link(role, issued, settings) for role, issued in (new_links or {}).items()
        ),
        missing_roles=tuple(
            Option(role, role_label(role), "", False) for role in ROLES if role not in working
        ),
        reminder=reminder_text(team=team, assessment_round=assessment_round, minutes=minutes),
        lead_started=lead.started,
        lead_submitted=lead.submitted,
        lead_answered=lead.answered,
        closes_on=closes_on.isoformat(),
        min_date=today.isoformat(),
        max_date=(today + timedelta(days=rounds.MAX_ROUND_DAYS)).isoformat(),
        notice=NOTICES.get(notice or "") or MAIL_NOTICES.get(notice or ""),
        error=error,
        email=EmailForm(
            summary=email_invitations.summary(
                session=session, settings=settings, round_id=assessment_round.id
            ),
            roles=tuple(Option(role, role_label(role), "", False) for role in ROLES),
            typed=typed_addresses or {},
        ),
    )
