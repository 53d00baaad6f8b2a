"""Concurrent respondents against a real multi-worker server: nothing lost, nothing doubled.

Each respondent opens a real invitation link, gets a resume link of its own and fills in and
submits a full assessment, half through the HTML forms (as a browser without JavaScript) and
half through the JSON API, all at once, while ``processlens serve`` runs several workers on
SQLite or PostgreSQL. Afterwards every answer of every respondent is stored exactly once and
equals what was sent, and no request got a 5xx.

Rate limits stay as configured: only failed link lookups are counted per address, and saves
are counted per resume link (60 a minute), which one respondent filling in ~15 pages never
reaches; the invitation links allow enough uses for everyone.

The short form (10 respondents, 2 workers) runs in ``make test``; the long form (50
respondents, 3 workers) is marked ``slow`` and runs only when asked for:
``make test PYTEST_ARGS="-m slow"`` (or ``PROCESSLENS_SLOW_TESTS=1``).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from app import db
from app.config import Settings
from app.models import Invitation, Respondent, Response
from app.surveys import service
from tests.live import FILLERS, LiveServer, Outcome
from tests.surveys import helpers

ROLES = ("data_scientist", "ml_engineer", "software_engineer", "product_manager", "team_lead")


def run_respondents(
    database_url: str,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    *,
    respondents: int,
    workers: int,
) -> None:
    server = LiveServer(database_url=database_url, data_dir=tmp_path / "server", workers=workers)
    settings = make_settings(database_url, secret_key=server.secret_key, data_dir=tmp_path)
    engine = db.create_db_engine(settings)
    try:
        with db.session_factory(engine)() as session:
            assessment_round = helpers.team_round(session)
            links = {
                role: helpers.invite(session, settings, assessment_round, role, use_limit=500)
                for role in ROLES
            }
            round_id = assessment_round.id
            session.commit()
        server.start()
        try:
            with ThreadPoolExecutor(max_workers=respondents) as pool:
                futures = [
                    pool.submit(
                        FILLERS["html" if index % 2 == 0 else "api"],
                        server.url,
                        links[ROLES[index % len(ROLES)]],
                        helpers.catalog(),
                        f"respondent-{index}",
                    )
                    for index in range(respondents)
                ]
                outcomes = [future.result(timeout=600) for future in futures]
        finally:
            server.stop()
        log = server.log_text()
        server_errors = [s for o in outcomes for s in o.statuses if s[1] >= 500]
        assert not server_errors, server_errors
        assert "Traceback" not in log, log[-3000:]
        with db.session_factory(engine)() as session:
            check_stored(session, settings, round_id, outcomes)
    finally:
        engine.dispose()


def check_stored(
    session: Session, settings: Settings, round_id: Any, outcomes: list[Outcome]
) -> None:
    """One respondent and one submitted response per outcome, holding exactly its answers."""
    assert all(outcome.submitted for outcome in outcomes)
    tokens = {outcome.resume_token for outcome in outcomes}
    assert len(tokens) == len(outcomes)
    count_respondents = session.exec(
        select(func.count()).select_from(Respondent).where(Respondent.round_id == round_id)
    ).one()
    count_responses = session.exec(
        select(func.count()).select_from(Response).where(Response.round_id == round_id)
    ).one()
    uses = session.exec(
        select(func.sum(col(Invitation.use_count))).where(Invitation.round_id == round_id)
    ).one()
    assert count_respondents == count_responses == uses == len(outcomes)
    for outcome in outcomes:
        survey = service.load_survey(
            session=session, settings=settings, resume_token=outcome.resume_token
        )
        response = survey.response
        assert response.status == "submitted"
        assert response.submitted_at is not None
        stored = {
            qid: {key: answer[key] for key in ("value", "note") if key in answer}
            for qid, answer in response.answers.items()
        }
        assert stored == outcome.sent


def test_ten_respondents_at_once_on_two_workers(
    fresh_database_url: str, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    run_respondents(fresh_database_url, make_settings, tmp_path, respondents=10, workers=2)


@pytest.mark.slow
def test_fifty_respondents_at_once_on_three_workers(
    fresh_database_url: str, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    run_respondents(fresh_database_url, make_settings, tmp_path, respondents=50, workers=3)
