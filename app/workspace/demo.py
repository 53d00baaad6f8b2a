"""Demo content for the workspace: the demo team lead's team gets targets and an open team
survey with invitation links and a few answers, so its pages show every state at once.

Called by app.demo.seed_demo after the closed rounds are seeded (`processlens demo`).
"""

from __future__ import annotations

import random
import secrets
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from app import catalog_store, models
from app.db import utcnow
from app.results.service import store_round_result
from app.rubric.answers import RoundSettings, validate_role
from app.rubric.loader import Catalog
from app.rubric.schema import Role
from app.rubric.synthetic import random_profile, synthetic_answers
from app.workspace import acting
from app.workspace.results import refresh_team_results
from app.workspace.rounds import DEFAULT_ROLES, DEFAULT_SURVEY_DAYS, closing_time

# the demo team lead leads the first team by name (app.accounts.demo_users)
DEMO_TARGETS = {"collaboration": "established", "handoff": "2", "debt": "established"}
OPEN_ROUND_ROLES: tuple[Role, ...] = ("data_scientist", "ml_engineer")


# long: a flat script of demo data: targets, an open round, its links and two answers
def add_demo_extras(
    *,
    session: Session,
    catalog: Catalog,
    organisation_id: int,
    now: datetime | None = None,
    seed: int = 20261122,
) -> None:
    """Targets for the first team, and an open team survey with links and two answers
    (below the threshold of three, so its results page shows the waiting state).

    The demo's links, like its respondents' resume links, are hashes of nothing anyone
    holds: they show on the round page as working links, and the lead makes new ones to try
    the survey."""
    now = now or utcnow()
    team = session.exec(
        select(models.Team)
        .where(models.Team.organisation_id == organisation_id)
        .order_by(col(models.Team.name))
    ).first()
    organisation = session.get(models.Organisation, organisation_id)
    if team is None or team.id is None or organisation is None:
        return
    acting.set_targets(session=session, catalog=catalog, team=team, targets=DEMO_TARGETS)
    refresh_team_results(session=session, team_id=team.id)
    previous = session.exec(
        select(models.AssessmentRound)
        .where(models.AssessmentRound.team_id == team.id)
        .order_by(col(models.AssessmentRound.created_at).desc())
    ).first()
    versions = catalog_store.register_catalog(session=session, catalog=catalog)
    opened_at = now - timedelta(days=2)
    assessment_round = models.AssessmentRound(
        team_id=team.id,
        title="Round 3",
        mode="team_survey",
        kind="quick",
        stage=previous.stage if previous else "productionising",
        instruments=catalog_store.round_instruments(catalog, organisation),
        rubric_versions=versions,
        status=models.RoundStatus.open,
        created_at=opened_at,
        opened_at=opened_at,
        closes_at=closing_time(opened_at.date() + timedelta(days=DEFAULT_SURVEY_DAYS)),
    )
    session.add(assessment_round)
    session.flush()
    assert assessment_round.id is not None
    links = {
        role: models.Invitation(
            round_id=assessment_round.id,
            role=validate_role(role),
            token_hash=secrets.token_hex(32),
            use_count=1 if role in OPEN_ROUND_ROLES else 0,
            created_at=opened_at,
            expires_at=assessment_round.closes_at or now + timedelta(days=DEFAULT_SURVEY_DAYS),
        )
        for role in DEFAULT_ROLES
    }
    session.add_all(links.values())
    session.flush()
    rng = random.Random(seed)
    profile = random_profile(catalog, rng)
    round_settings = RoundSettings(
        stage=assessment_round.stage,
        kind="quick",
        mode="team_survey",
        instruments=tuple(assessment_round.instruments),
    )
    for number, role in enumerate(OPEN_ROUND_ROLES):
        answered_at = opened_at + timedelta(hours=3 + 5 * number)
        invitation = links[role]
        respondent = models.Respondent(
            round_id=assessment_round.id,
            invitation_id=invitation.id,
            role=role,
            # demo respondents get no usable resume link: the hash of nothing anyone holds
            resume_token_hash=secrets.token_hex(32),
            created_at=answered_at,
        )
        session.add(respondent)
        session.flush()
        assert respondent.id is not None
        session.add(
            models.Response(
                respondent_id=respondent.id,
                round_id=assessment_round.id,
                answers=synthetic_answers(
                    catalog, round_settings, validate_role(role), profile, rng
                ),
                status=models.ResponseStatus.submitted,
                created_at=answered_at,
                updated_at=answered_at,
                submitted_at=answered_at,
            )
        )
    session.flush()
    store_round_result(session=session, assessment_round=assessment_round)
