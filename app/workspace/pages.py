"""Typed contexts of the workspace pages (templates/workspace/): home, team, new round, round.

Templates get these frozen dataclasses of plain, already-labelled data, never database
objects; tests read them from ``response.context["page"]``. The results page has its own
module (app.workspace.results_page).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Final

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from app import catalog_store
from app.accounts import organisations
from app.accounts.tenancy import Principal
from app.config import Settings
from app.db import utcnow
from app.models import (
    AssessmentRound,
    Organisation,
    Response,
    ResponseStatus,
    RoundMode,
    RoundStatus,
    Team,
)
from app.results import reads
from app.results.service import round_settings
from app.rubric.anonymity import team_results_visibility
from app.rubric.answers import Kind, Mode, RoundSettings
from app.rubric.labels import KIND_LABELS, MODE_LABELS, ROLE_LABELS, humanise
from app.rubric.loader import Catalog
from app.rubric.schema import ROLES, Role
from app.surveys import invitations
from app.surveys.pages import STAGES, minutes_for
from app.surveys.service import round_closed, survey_plan
from app.workspace import acting, rounds
from app.workspace.results import visibility_of
from app.workspace.rounds import DEFAULT_ROLES, LinkState
from app.workspace.urls import results_url, round_url, team_url

DAY: Final = "%-d %B %Y"
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


def day(value: datetime | date | None) -> str:
    return "" if value is None else f"{value:{DAY}}"


def until(value: datetime | None) -> str:
    """The last day something lasts: a round closes (and a link expires) at the end of it."""
    return "" if value is None else day(value - timedelta(seconds=1))


def role_label(role: str) -> str:
    return ROLE_LABELS.get(role, humanise(role))


def stage_label(stage: str) -> str:
    return STAGES.get(stage, (humanise(stage), ""))[0]


# ---------------------------------------------------------------- a round in a line


@dataclasses.dataclass(frozen=True)
class RoundStatusView:
    key: str  # open | closing_passed | closed
    label: str  # "Open until 5 December 2026"


def round_status(assessment_round: AssessmentRound) -> RoundStatusView:
    if assessment_round.status == RoundStatus.closed:
        return RoundStatusView("closed", f"Closed on {day(assessment_round.closed_at)}".strip())
    if round_closed(assessment_round):
        return RoundStatusView(
            "closing_passed", f"Closing date passed ({until(assessment_round.closes_at)})"
        )
    if assessment_round.closes_at is not None:
        return RoundStatusView("open", f"Open until {until(assessment_round.closes_at)}")
    return RoundStatusView("open", "Open")


@dataclasses.dataclass(frozen=True)
class ScoreLine:
    title: str
    score: str  # "59" or "–"
    level: str  # "Emerging", "Level 1"


@dataclasses.dataclass(frozen=True)
class Headline:
    """The few facts of a result worth showing in a list: the process and the scores."""

    model: str | None  # None when no process model fits (or trajectory was not asked)
    trajectory: str
    scores: tuple[ScoreLine, ...]


def headlines(
    *, session: Session, round_ids: Sequence[int], dimensions: Sequence[str]
) -> dict[int, Headline]:
    """The headline of each round's stored result (``reads.headlines``), labelled."""
    found: dict[int, Headline] = {}
    for round_id, head in reads.headlines(session, round_ids, dimensions).items():
        found[round_id] = Headline(
            model=head.model,
            trajectory=head.trajectory or "Unknown",
            scores=tuple(
                ScoreLine(
                    d.title,
                    f"{d.score:.0f}",
                    f"Level {d.level}" if d.level is not None else d.band or "No band",
                )
                for d in head.dimensions.values()
            ),
        )
    return found


@dataclasses.dataclass(frozen=True)
class RoundLine:
    """One round in a list: what it is, where it stands, and its headline result."""

    id: int
    title: str
    url: str
    results_url: str
    kind: str
    mode: str
    stage: str
    status: RoundStatusView
    started_on: str
    submitted: int
    visible: bool
    waiting: str | None  # "Waiting for more responses — 2 so far"
    headline: Headline | None


def waiting_text(submitted: int, needed: int, solo: bool) -> str:
    if solo:
        return "Waiting for your answers" if submitted == 0 else ""
    return f"Waiting for more responses — {submitted} so far ({needed} needed)"


def _rounds_of(
    session: Session, team_ids: Sequence[int], *, latest_only: bool
) -> list[AssessmentRound]:
    """The teams' rounds, newest first; with ``latest_only`` one per team."""
    query = select(AssessmentRound).where(col(AssessmentRound.team_id).in_(team_ids))
    if latest_only:
        newest = (
            sa_select(
                col(AssessmentRound.team_id).label("team_id"),
                func.max(AssessmentRound.created_at).label("created_at"),
            )
            .where(col(AssessmentRound.team_id).in_(team_ids))
            .group_by(col(AssessmentRound.team_id))
            .subquery()
        )
        query = query.join(
            newest,
            (col(AssessmentRound.team_id) == newest.c.team_id)
            & (col(AssessmentRound.created_at) == newest.c.created_at),
        )
    found = session.exec(
        query.order_by(col(AssessmentRound.created_at).desc(), col(AssessmentRound.id).desc())
    ).all()
    chosen: list[AssessmentRound] = []
    seen: set[int] = set()
    for item in found:
        if latest_only and item.team_id in seen:
            continue  # two rounds started in the same instant: the later id
        seen.add(item.team_id)
        chosen.append(item)
    return chosen


def round_lines(
    *, session: Session, catalog: Catalog, team_ids: Sequence[int], latest_only: bool
) -> dict[int, list[RoundLine]]:
    """Rounds per team, newest first (only the newest with ``latest_only``), with headlines
    from the stored results that the anonymity rule lets show."""
    if not team_ids:
        return {}
    chosen = _rounds_of(session, team_ids, latest_only=latest_only)
    round_ids = [r.id for r in chosen if r.id is not None]
    counts = dict(
        session.exec(
            select(Response.round_id, func.count())
            .where(
                col(Response.round_id).in_(round_ids),
                Response.status == ResponseStatus.submitted,
            )
            .group_by(col(Response.round_id))
        ).all()
    )
    visible: dict[int, bool] = {}
    for item in chosen:
        assert item.id is not None
        visible[item.id] = team_results_visibility(
            mode=item.mode, submitted=int(counts.get(item.id, 0)), threshold=item.results_min
        ).visible
    shown = headlines(
        session=session,
        round_ids=[round_id for round_id, ok in visible.items() if ok],
        dimensions=[i for i, instrument in catalog.instruments.items() if instrument.scored],
    )
    lines: dict[int, list[RoundLine]] = {}
    for item in chosen:
        assert item.id is not None
        submitted = int(counts.get(item.id, 0))
        visibility = team_results_visibility(
            mode=item.mode, submitted=submitted, threshold=item.results_min
        )
        lines.setdefault(item.team_id, []).append(
            RoundLine(
                id=item.id,
                title=item.title or "Round",
                url=round_url(item.team_id, item.id),
                results_url=results_url(item.team_id, item.id),
                kind=KIND_LABELS.get(item.kind, humanise(item.kind)),
                mode=MODE_LABELS.get(item.mode, humanise(item.mode)),
                stage=stage_label(item.stage),
                status=round_status(item),
                started_on=day(item.opened_at or item.created_at),
                submitted=submitted,
                visible=visibility.visible,
                waiting=None
                if visibility.visible
                else waiting_text(submitted, visibility.needed, item.mode == RoundMode.solo),
                headline=shown.get(item.id) if visibility.visible else None,
            )
        )
    return lines


# ---------------------------------------------------------------- home


@dataclasses.dataclass(frozen=True)
class TeamCard:
    id: int
    name: str
    url: str
    new_round_url: str
    unit_name: str | None
    rounds: int
    latest: RoundLine | None


@dataclasses.dataclass(frozen=True)
class OrganisationGroup:
    id: int
    name: str
    can_open: bool
    teams: tuple[TeamCard, ...]


@dataclasses.dataclass(frozen=True)
class HomePage:
    """Context of templates/workspace/home.html: the signed-in home ("Your teams")."""

    title: str
    viewer_name: str
    role_label: str
    is_admin: bool
    groups: tuple[OrganisationGroup, ...]
    empty_organisations: tuple[tuple[int, str], ...]


def home_page(*, session: Session, catalog: Catalog, principal: Principal) -> HomePage:
    visible = organisations.visible_teams(session=session, principal=principal)
    latest = round_lines(
        session=session, catalog=catalog, team_ids=[t.id for t in visible], latest_only=True
    )
    grouped: dict[int, list[TeamCard]] = {}
    names: dict[int, str] = {}
    for team in visible:
        lines = latest.get(team.id, [])
        grouped.setdefault(team.organisation_id, []).append(
            TeamCard(
                id=team.id,
                name=team.name,
                url=team_url(team.id),
                new_round_url=f"{team_url(team.id)}/rounds/new",
                unit_name=team.unit_name,
                rounds=team.rounds,
                latest=lines[0] if lines else None,
            )
        )
        names[team.organisation_id] = team.organisation_name
    whole = organisations.visible_organisations(session=session, principal=principal)
    return HomePage(
        title="Your teams",
        viewer_name=principal.display_name,
        role_label=principal.role_label,
        is_admin=principal.is_admin,
        groups=tuple(
            OrganisationGroup(
                id=org_id,
                name=names[org_id],
                can_open=principal.is_admin or org_id in principal.organisation_ids,
                teams=tuple(cards),
            )
            for org_id, cards in grouped.items()
        ),
        empty_organisations=tuple(
            (org.id, org.name) for org in whole if org.id is not None and org.id not in grouped
        ),
    )


# ---------------------------------------------------------------- a team


@dataclasses.dataclass(frozen=True)
class AdoptedView:
    id: str
    title: str
    adopted_on: str


@dataclasses.dataclass(frozen=True)
class TeamPage:
    """Context of templates/workspace/team.html: a team's rounds, targets and adoptions."""

    title: str
    team_id: int
    organisation: str
    url: str
    new_round_url: str
    rounds: tuple[RoundLine, ...]
    targets: tuple[acting.TargetChoice, ...]
    adopted: tuple[AdoptedView, ...]
    notice: str | None


NOTICES: Final = {
    "targets": "Targets saved. Results now show how far the team is from them.",
    "adopted": "Marked as adopted. The next round shows whether the answers moved.",
    "unadopted": "No longer marked as adopted.",
    "closed": "The round is closed: its links no longer work and its result is final.",
    "extended": "The closing date is changed; links that expired earlier now last until it.",
    "revoked": "The link no longer works. People who already started keep their own links.",
    "link_extended": "The link allows ten more people to start, until the round closes.",
    "sharing": "Saved who sees the results.",
    "rescored": "Rescored under the newest rubric. The original result is unchanged.",
    "commentary": "Commentary saved. The team report shows it.",
    "exists": (
        "This round was already created. Its links were shown once, when it was created; "
        "make new ones below if you need them."
    ),
}


def adopted_views(*, session: Session, catalog: Catalog, team_id: int) -> tuple[AdoptedView, ...]:
    titles = {p.id: p.title for p in catalog.practices.practices}
    return tuple(
        AdoptedView(practice_id, titles.get(practice_id, humanise(practice_id)), day(when))
        for practice_id, when in acting.adopted_practices(session=session, team_id=team_id).items()
    )


def team_page(
    *,
    session: Session,
    catalog: Catalog,
    team: Team,
    organisation: Organisation,
    notice: str | None,
) -> TeamPage:
    assert team.id is not None
    return TeamPage(
        title=team.name,
        team_id=team.id,
        organisation=organisation.name,
        url=team_url(team.id),
        new_round_url=f"{team_url(team.id)}/rounds/new",
        rounds=tuple(
            round_lines(
                session=session, catalog=catalog, team_ids=[team.id], latest_only=False
            ).get(team.id, [])
        ),
        targets=acting.target_choices(session=session, catalog=catalog, team_id=team.id),
        adopted=adopted_views(session=session, catalog=catalog, team_id=team.id),
        notice=NOTICES.get(notice or ""),
    )


# ---------------------------------------------------------------- the new-round form


@dataclasses.dataclass(frozen=True)
class Option:
    value: str
    label: str
    hint: str
    checked: bool


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


def _minutes(
    catalog: Catalog, kind: Kind, mode: Mode, role: Role, instruments: tuple[str, ...]
) -> int:
    plan = survey_plan(
        catalog,
        RoundSettings(stage="prototype", kind=kind, mode=mode, instruments=instruments),
        role,
    )
    return minutes_for(len(plan.asked))


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


def _kind_options(
    catalog: Catalog, available: tuple[str, ...], values: RoundFormValues
) -> tuple[Option, ...]:
    """Full or quick, each with the minutes it takes a respondent (and a lead alone)."""
    solo_quick = _minutes(catalog, "quick", "solo", "team_lead", available)
    solo_full = _minutes(catalog, "full", "solo", "team_lead", available)
    each_quick = _minutes(catalog, "quick", "team_survey", "data_scientist", available)
    each_full = _minutes(catalog, "full", "team_survey", "data_scientist", available)
    return (
        Option(
            "full",
            "Full assessment",
            f"About {each_full} minutes per person ({solo_full} if you answer alone).",
            values.kind == "full",
        ),
        Option(
            "quick",
            "Quick check",
            f"About {each_quick} minutes per person ({solo_quick} if you answer alone): "
            "the same results from fewer questions, with lower coverage.",
            values.kind == "quick",
        ),
    )


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
    started: int
    submitted: int


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
) -> RoundPage:
    assert team.id is not None
    assert assessment_round.id is not None
    solo = assessment_round.mode == RoundMode.solo
    round_catalog = catalog_store.catalog_for(
        session=session, versions=assessment_round.rubric_versions
    )
    settings_of_round = round_settings(assessment_round)
    plan = survey_plan(round_catalog, settings_of_round, "team_lead" if solo else "data_scientist")
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
    minutes = minutes_for(len(plan.asked))
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
            RoleCountView(c.role, role_label(c.role), c.started, c.submitted)
            for c in rounds.role_counts(session=session, round_id=assessment_round.id)
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
        notice=NOTICES.get(notice or ""),
        error=error,
    )
