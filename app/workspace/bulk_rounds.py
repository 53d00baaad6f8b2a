"""Starting rounds for many teams at once: the same settings for a selection of an
organisation's teams (or every team of a business unit), in one transaction.

Each round goes through app.workspace.services.create_round, so the rules, links and audit
events are those of a single round; a request a round refuses refuses them all (the caller's
transaction rolls back). The links exist only in the answer (a token is never stored), so the
page and the API hand them out once, with a CSV (``links_csv``).
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Sequence
from typing import Final

from sqlmodel import Session, col, select

from app.accounts import audit, tenancy
from app.accounts.audit import Actor
from app.accounts.tenancy import Principal
from app.config import Settings
from app.errors import InvalidInputError
from app.models import Organisation, Team
from app.results import exports
from app.rubric.loader import Catalog
from app.surveys.invitations import absolute_url
from app.workspace import rounds, services

MAX_TEAMS: Final = 200  # teams per action (README); larger selections are split


@dataclasses.dataclass(frozen=True)
class TeamLink:
    role: str
    url: str


@dataclasses.dataclass(frozen=True)
class StartedTeamRound:
    team_id: int
    team_name: str
    round_id: int
    links: tuple[TeamLink, ...]  # team surveys: one per role
    answer_url: str | None  # solo rounds: where the lead answers


def select_teams(
    *,
    session: Session,
    principal: Principal,
    organisation: Organisation,
    team_ids: Sequence[int],
    unit_ids: Sequence[int] = (),
    all_teams: bool = False,
) -> list[Team]:
    """The chosen teams of the organisation: ``team_ids``, every team of ``unit_ids``, and
    with ``all_teams`` every team of the organisation (in a unit or not), each loaded through
    tenancy (another organisation's id is a 404)."""
    assert organisation.id is not None
    chosen: dict[int, Team] = {}
    if all_teams:
        for team in session.exec(
            select(Team).where(
                Team.organisation_id == organisation.id, tenancy.team_clause(principal)
            )
        ).all():
            assert team.id is not None
            chosen[team.id] = team
    for team_id in team_ids:
        team = tenancy.get_team(
            session=session, principal=principal, team_id=team_id, org_id=organisation.id
        )
        assert team.id is not None
        chosen[team.id] = team
    for unit_id in unit_ids:
        unit = tenancy.get_unit(
            session=session, principal=principal, unit_id=unit_id, org_id=organisation.id
        )
        for team in session.exec(
            select(Team)
            .where(Team.business_unit_id == unit.id, tenancy.team_clause(principal))
            .order_by(col(Team.name))
        ).all():
            assert team.id is not None
            chosen[team.id] = team
    if not chosen:
        raise InvalidInputError("Choose at least one team (or a business unit with teams).")
    if len(chosen) > MAX_TEAMS:
        raise InvalidInputError(
            f"Start at most {MAX_TEAMS} rounds at once; choose fewer teams. Nothing was started."
        )
    return sorted(chosen.values(), key=lambda team: team.name)


def start_rounds(
    *,
    session: Session,
    settings: Settings,
    catalog: Catalog,
    organisation: Organisation,
    teams: Sequence[Team],
    request: rounds.RoundRequest,
    actor: Actor,
) -> list[StartedTeamRound]:
    """A round with ``request``'s settings for each team, through the single-round service;
    the first refusal raises and, the caller's transaction rolling back, starts none."""
    started: list[StartedTeamRound] = []
    for team in teams:
        assert team.id is not None
        created = services.create_round(
            session=session,
            settings=settings,
            catalog=catalog,
            team=team,
            organisation=organisation,
            request=request,
            actor=actor,
        )
        assert created.assessment_round.id is not None
        started.append(
            StartedTeamRound(
                team_id=team.id,
                team_name=team.name,
                round_id=created.assessment_round.id,
                links=tuple(
                    TeamLink(role, absolute_url(settings, link.path))
                    for role, link in created.links.items()
                ),
                answer_url=absolute_url(settings, created.lead_path) if created.lead_path else None,
            )
        )
    audit.record(
        session=session,
        actor=actor,
        action="rounds.started_together",
        target_type="organisation",
        target_id=organisation.id,
        organisation_id=organisation.id,
        details={"teams": len(started), "round_ids": [item.round_id for item in started]},
    )
    return started


def links_csv(started: Sequence[StartedTeamRound]) -> str:
    """team,round_id,role,url: one line per link (a solo round's line has role 'lead')."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(("team", "round_id", "role", "url"))
    for item in started:
        if item.answer_url:
            writer.writerow(
                (exports.neutralise(item.team_name), item.round_id, "lead", item.answer_url)
            )
        for link in item.links:
            writer.writerow(
                (exports.neutralise(item.team_name), item.round_id, link.role, link.url)
            )
    return buffer.getvalue()
