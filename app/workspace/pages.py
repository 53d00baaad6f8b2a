"""Typed contexts of the workspace pages (templates/workspace/): home and team.

Templates get these frozen dataclasses of plain, already-labelled data, never database
objects; tests read them from ``response.context["page"]``. The results page has its own
module (app.workspace.results_page).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Final
from urllib.parse import urlencode

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from app.accounts import organisations
from app.accounts.tenancy import Principal
from app.models import (
    AssessmentRound,
    Organisation,
    Response,
    ResponseStatus,
    RoundMode,
    RoundStatus,
    Team,
)
from app.natural_sort import natural_key
from app.results import reads
from app.results import visibility as visibility_rule
from app.rubric.anonymity import team_results_visibility
from app.rubric.labels import KIND_LABELS, MODE_LABELS, ROLE_LABELS, humanise
from app.rubric.loader import Catalog
from app.surveys.pages import STAGES
from app.surveys.service import round_closed
from app.workspace import acting
from app.workspace.urls import results_url, round_url, team_url

DAY: Final = "%-d %B %Y"


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
    if submitted < needed:
        return f"Waiting for more responses — {submitted} so far ({needed} needed)"
    # a team survey publishes once, at close (app.results.visibility)
    return f"{submitted} responses — results are published when the round closes"


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
        # published, and shown to anyone who may look (app.results.visibility)
        visible[item.id] = visibility_rule.headline_shown(
            session, item, submitted=int(counts.get(item.id, 0))
        )
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
                visible=visible[item.id],
                waiting=None
                if visible[item.id]
                else waiting_text(submitted, visibility.needed, item.mode == RoundMode.solo),
                headline=shown.get(item.id) if visible[item.id] else None,
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


HOME_PAGE_SIZE: Final = 50  # teams per page of the signed-in home
HOME_SEARCH_FROM: Final = 12  # teams from which the home offers search and unit filter
HOME_SEARCH_MAX: Final = 80


@dataclasses.dataclass(frozen=True)
class HomeQuery:
    """What the home's search form asks (query string: q, unit, page)."""

    search: str = ""
    unit_id: int | None = None
    page: int = 1

    @classmethod
    def parse(cls, search: str, unit: str, page: str) -> HomeQuery:
        """Malformed values are ignored (a page past the end shows the last)."""
        return cls(
            search=" ".join(search.split())[:HOME_SEARCH_MAX],
            unit_id=int(unit) if unit.isdigit() and len(unit) <= 12 else None,
            page=int(page) if page.isdigit() and len(page) <= 6 and int(page) > 0 else 1,
        )

    def url(self, **changes: object) -> str:
        chosen = dataclasses.replace(self, **changes)  # type: ignore[arg-type]
        params = []
        if chosen.search:
            params.append(("q", chosen.search))
        if chosen.unit_id is not None:
            params.append(("unit", str(chosen.unit_id)))
        if chosen.page != 1:
            params.append(("page", str(chosen.page)))
        return "/teams" + ("?" + urlencode(params) if params else "")


@dataclasses.dataclass(frozen=True)
class UnitChoice:
    value: str
    label: str  # "Unit 2" or, across organisations, "Unit 2 (Contoso)"
    selected: bool


@dataclasses.dataclass(frozen=True)
class HomeSearch:
    """The home's search form and pages (only with many teams, or a search under way)."""

    search: str
    units: tuple[UnitChoice, ...]
    total: int  # teams the viewer may see
    matching: int  # of those, teams matching the search
    first: int  # 1-based number of the first team on this page
    last: int
    page: int
    pages: int
    previous_url: str | None
    next_url: str | None
    clear_url: str | None


@dataclasses.dataclass(frozen=True)
class HomePage:
    """Context of templates/workspace/home.html: the signed-in home ("Your teams")."""

    title: str
    viewer_name: str
    role_label: str
    is_admin: bool
    groups: tuple[OrganisationGroup, ...]
    empty_organisations: tuple[tuple[int, str], ...]
    search: HomeSearch | None = None


def _home_search(
    visible: Sequence[organisations.VisibleTeam], matching: int, query: HomeQuery, pages: int
) -> HomeSearch | None:
    narrowed = bool(query.search or query.unit_id is not None)
    if len(visible) < HOME_SEARCH_FROM and not narrowed:
        return None
    several = len({t.organisation_id for t in visible}) > 1
    units = {
        (t.business_unit_id, t.unit_name, t.organisation_name)
        for t in visible
        if t.business_unit_id is not None and t.unit_name
    }
    choices = tuple(
        UnitChoice(
            str(unit_id),
            f"{name} ({organisation})" if several else name,
            unit_id == query.unit_id,
        )
        for unit_id, name, organisation in sorted(
            units, key=lambda u: (natural_key(u[2]), natural_key(u[1]), u[0])
        )
    )
    first = (query.page - 1) * HOME_PAGE_SIZE + 1 if matching else 0
    return HomeSearch(
        search=query.search,
        units=choices,
        total=len(visible),
        matching=matching,
        first=first,
        last=min(matching, query.page * HOME_PAGE_SIZE),
        page=query.page,
        pages=pages,
        previous_url=query.url(page=query.page - 1) if query.page > 1 else None,
        next_url=query.url(page=query.page + 1) if query.page < pages else None,
        clear_url=HomeQuery().url() if narrowed else None,
    )


def home_page(
    *, session: Session, catalog: Catalog, principal: Principal, query: HomeQuery | None = None
) -> HomePage:
    """The teams the principal may see, in natural order of organisation and name, a page at
    a time (``HOME_PAGE_SIZE``), narrowed by ``query`` (part of the name, business unit);
    only the page's teams have their latest round read."""
    query = query or HomeQuery()
    every = sorted(
        organisations.visible_teams(session=session, principal=principal),
        key=lambda t: (natural_key(t.organisation_name), natural_key(t.name), t.id),
    )
    words = query.search.casefold()
    matches = [
        t
        for t in every
        if (not words or words in t.name.casefold())
        and (query.unit_id is None or t.business_unit_id == query.unit_id)
    ]
    pages = max(1, -(-len(matches) // HOME_PAGE_SIZE))
    query = dataclasses.replace(query, page=min(query.page, pages))
    start = (query.page - 1) * HOME_PAGE_SIZE
    visible = matches[start : start + HOME_PAGE_SIZE]
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
            (org.id, org.name)
            for org in whole
            if org.id is not None
            and org.id not in {t.organisation_id for t in every}  # no team at all
            and not (query.search or query.unit_id is not None)
        ),
        search=_home_search(every, len(matches), query, pages),
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
