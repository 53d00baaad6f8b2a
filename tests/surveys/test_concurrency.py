"""Concurrent saves and submits on a real database (SQLite and PostgreSQL): stale saves are
refused, never merged; a double submit makes one submission; respondents saving at the same
time never block each other into an error."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from app import db
from app.config import Settings
from app.models import Response
from app.rubric.answers import Answer
from app.surveys import invitations, service
from tests.surveys import helpers

WORKERS = 6


@pytest.fixture
def world(
    fresh_database_url: str, make_settings: Callable[..., Settings], tmp_path: Any
) -> Iterator[tuple[Settings, Engine, list[str]]]:
    """A fresh database with an open quick-check round and WORKERS respondents."""
    settings = make_settings(fresh_database_url, data_dir=tmp_path / "data")
    engine = db.create_db_engine(settings)
    with db.session_factory(engine)() as session:
        assessment_round = helpers.team_round(session, kind="quick")
        tokens = [
            invitations.start_respondent(
                session=session,
                settings=settings,
                assessment_round=assessment_round,
                role="ml_engineer",
            ).resume_token
            for _ in range(WORKERS)
        ]
        session.commit()
    yield settings, engine, tokens
    engine.dispose()


def _run_together(count: int, work: Callable[[int], str]) -> list[str]:
    barrier = threading.Barrier(count)

    def start(index: int) -> str:
        barrier.wait()
        return work(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(start, range(count)))


def test_saves_from_the_same_version_keep_one_and_refuse_the_others(
    world: tuple[Settings, Engine, list[str]],
) -> None:
    settings, engine, tokens = world
    sessions = db.session_factory(engine)
    survey_qids = [item.qid for item in helpers_plan(engine, settings, tokens[0])]

    def save(index: int) -> str:
        with sessions() as session:
            survey = service.load_survey(session=session, settings=settings, resume_token=tokens[0])
            try:
                service.save_answers(
                    session=session,
                    survey=survey,
                    version=1,
                    changes={survey_qids[index]: Answer(value="dont_know")},
                )
                session.commit()
                return "saved"
            except service.StaleResponseError:
                session.rollback()
                return "conflict"

    outcomes = _run_together(WORKERS, save)
    assert sorted(outcomes) == ["conflict"] * (WORKERS - 1) + ["saved"]
    with sessions() as session:
        survey = service.load_survey(session=session, settings=settings, resume_token=tokens[0])
        assert len(survey.response.answers) == 1  # one save, nothing merged behind its back
        assert survey.response.version == 2


def helpers_plan(engine: Engine, settings: Settings, token: str) -> Any:
    with Session(engine) as session:
        return service.load_survey(
            session=session, settings=settings, resume_token=token
        ).plan.asked


def test_a_double_submit_makes_one_submission(
    world: tuple[Settings, Engine, list[str]],
) -> None:
    settings, engine, tokens = world
    sessions = db.session_factory(engine)
    with sessions() as session:
        survey = service.load_survey(session=session, settings=settings, resume_token=tokens[0])
        everything = {item.qid: Answer(value="dont_know") for item in survey.plan.asked}
        service.save_answers(session=session, survey=survey, version=1, changes=everything)
        key = survey.response.submission_key
        session.commit()

    def submit(_index: int) -> str:
        with sessions() as session:
            survey = service.load_survey(session=session, settings=settings, resume_token=tokens[0])
            submission = service.submit_response(session=session, survey=survey, submission_key=key)
            session.commit()
            return "first" if submission.first_time else "replay"

    outcomes = _run_together(WORKERS, submit)
    assert sorted(outcomes) == ["first"] + ["replay"] * (WORKERS - 1)
    with sessions() as session:
        response = session.get(Response, survey.response.id)
        assert response is not None
        assert response.status == "submitted"
        assert response.version == 3  # one save, one submit


def test_respondents_saving_at_the_same_time_all_succeed(
    world: tuple[Settings, Engine, list[str]],
) -> None:
    settings, engine, tokens = world
    sessions = db.session_factory(engine)

    def save(index: int) -> str:
        with sessions() as session:
            survey = service.load_survey(
                session=session, settings=settings, resume_token=tokens[index]
            )
            changes = {item.qid: Answer(value="dont_know") for item in survey.plan.asked}
            service.save_answers(session=session, survey=survey, version=1, changes=changes)
            session.commit()
            return "saved"

    assert _run_together(WORKERS, save) == ["saved"] * WORKERS
    with sessions() as session:
        for token in tokens:
            survey = service.load_survey(session=session, settings=settings, resume_token=token)
            assert len(survey.response.answers) == len(survey.plan.asked)
