"""The database layer: SQLite pragmas, BEGIN IMMEDIATE, optimistic locking, constraints."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, text
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, select

from app import db, models
from app.config import Settings
from app.errors import ConflictError


def _round_with_response(session: Session) -> models.Response:
    """An organisation with one unit, team, round, invitation, respondent, response, score."""
    organisation = models.Organisation(name="Acme", slug=f"acme-{time.monotonic_ns()}")
    session.add(organisation)
    session.flush()
    assert organisation.id is not None
    unit = models.BusinessUnit(organisation_id=organisation.id, name="Products")
    session.add(unit)
    session.flush()
    team = models.Team(organisation_id=organisation.id, business_unit_id=unit.id, name="Search")
    session.add(team)
    session.flush()
    assert team.id is not None
    assessment = models.AssessmentRound(
        team_id=team.id, stage="prototype", instruments=["trajectory"]
    )
    session.add(assessment)
    session.flush()
    assert assessment.id is not None
    invitation = models.Invitation(
        round_id=assessment.id,
        role="data_scientist",
        token_hash=f"inv-{time.monotonic_ns()}",
        expires_at=db.utcnow() + timedelta(days=7),
    )
    session.add(invitation)
    session.flush()
    respondent = models.Respondent(
        round_id=assessment.id,
        invitation_id=invitation.id,
        role="data_scientist",
        resume_token_hash=f"res-{time.monotonic_ns()}",
    )
    session.add(respondent)
    session.flush()
    assert respondent.id is not None
    response = models.Response(
        respondent_id=respondent.id,
        round_id=assessment.id,
        answers={"trajectory.start": {"value": "goal", "note": None}},
    )
    session.add(response)
    session.flush()
    assert response.id is not None
    session.add(
        models.ResponseScore(
            response_id=response.id, round_id=assessment.id, dimension="collaboration", score=50
        )
    )
    session.add(models.RoundResult(round_id=assessment.id, computed={"ok": True}))
    session.flush()
    return response


def _count(session: Session, model: Any) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


# ---------------------------------------------------------------- SQLite configuration


@pytest.fixture
def sqlite_engine(database_factory: Any, make_settings: Callable[..., Settings]) -> Any:
    url = database_factory.create("sqlite")
    engine = db.create_db_engine(make_settings(url))
    yield engine
    engine.dispose()


def test_sqlite_pragmas_are_set_on_every_connection(sqlite_engine: Engine) -> None:
    # two connections open at once, so they are two pooled DBAPI connections; DEFERRED so the
    # second does not queue behind the first one's write lock
    reader = db.read_only(sqlite_engine)
    with reader.connect() as first, reader.connect() as second:
        for connection in (first, second):
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert (pragma("PRAGMA busy_timeout").scalar() or 0) >= 5000
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA synchronous").scalar() == 2  # FULL


def test_migration_engine_turns_foreign_keys_off(
    database_factory: Any, make_settings: Callable[..., Settings]
) -> None:
    engine = db.create_db_engine(
        make_settings(database_factory.create("sqlite")), for_migrations=True
    )
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 0
    engine.dispose()


def _increment_use_count_concurrently(engine: Engine, invitation_id: int) -> list[BaseException]:
    """Two threads each read use_count, pause, then write use_count + 1."""
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker() -> None:
        try:
            start.wait(timeout=5)
            with Session(engine) as session:
                invitation = session.get(models.Invitation, invitation_id)
                assert invitation is not None
                seen = invitation.use_count
                time.sleep(0.2)  # the other thread reads meanwhile (if it may)
                invitation.use_count = seen + 1
                session.commit()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors


def _invitation_id(engine: Engine) -> int:
    with Session(engine) as session:
        response = _round_with_response(session)
        session.commit()
        invitation = session.exec(
            select(models.Invitation).where(models.Invitation.round_id == response.round_id)
        ).one()
        assert invitation.id is not None
        return invitation.id


def test_begin_immediate_prevents_lost_updates_on_sqlite(sqlite_engine: Engine) -> None:
    invitation_id = _invitation_id(sqlite_engine)
    errors = _increment_use_count_concurrently(sqlite_engine, invitation_id)
    assert errors == []  # in particular no "database is locked"
    with Session(sqlite_engine) as session:
        invitation = session.get(models.Invitation, invitation_id)
        assert invitation is not None
        assert invitation.use_count == 2  # both increments kept


def test_plain_begin_would_lose_an_update_on_sqlite(sqlite_engine: Engine) -> None:
    """The control: the same race with a deferred BEGIN fails (what BEGIN IMMEDIATE avoids)."""
    invitation_id = _invitation_id(sqlite_engine)
    errors = _increment_use_count_concurrently(db.read_only(sqlite_engine), invitation_id)
    assert len(errors) == 1
    assert isinstance(errors[0], OperationalError)
    assert "locked" in str(errors[0])


# ---------------------------------------------------------------- both databases


def test_stale_response_update_raises_stale_data_error(
    session: Session, db_connection: Any
) -> None:
    response = _round_with_response(session)
    session.commit()
    assert response.version == 1
    # a second tab: another session that loaded the same response
    with db.session_factory(db_connection)() as other_tab:
        stale = other_tab.get(models.Response, response.id)
        assert stale is not None
        response.answers = {**response.answers, "trajectory.size": {"value": "small"}}
        session.commit()
        assert response.version == 2
        stale.answers = {"trajectory.start": {"value": "data"}}
        with pytest.raises(StaleDataError):
            other_tab.flush()


def test_submission_key_is_generated_and_unique(session: Session) -> None:
    first = _round_with_response(session)
    second = _round_with_response(session)
    assert first.submission_key
    assert first.submission_key != second.submission_key
    second.submission_key = first.submission_key
    with pytest.raises(IntegrityError):
        session.flush()


def test_submission_key_cannot_be_null(session: Session) -> None:
    response = _round_with_response(session)
    with pytest.raises(IntegrityError):
        session.connection().execute(
            text("UPDATE response SET submission_key = NULL WHERE id = :id"), {"id": response.id}
        )


def test_deleting_an_organisation_deletes_everything_under_it(session: Session) -> None:
    response = _round_with_response(session)
    assessment = session.get(models.AssessmentRound, response.round_id)
    assert assessment is not None
    team = session.get(models.Team, assessment.team_id)
    assert team is not None
    organisation = session.get(models.Organisation, team.organisation_id)
    before = {
        model: _count(session, model)
        for model in (
            models.BusinessUnit,
            models.Team,
            models.AssessmentRound,
            models.Invitation,
            models.Respondent,
            models.Response,
            models.ResponseScore,
            models.RoundResult,
        )
    }
    session.delete(organisation)
    session.flush()
    session.expunge_all()
    for model, count in before.items():
        assert _count(session, model) == count - 1, model.__name__


def test_deleting_a_business_unit_keeps_its_teams(session: Session) -> None:
    response = _round_with_response(session)
    assessment = session.get(models.AssessmentRound, response.round_id)
    assert assessment is not None
    team = session.get(models.Team, assessment.team_id)
    assert team is not None
    unit = session.get(models.BusinessUnit, team.business_unit_id)
    session.delete(unit)
    session.flush()
    session.expire_all()
    kept = session.get(models.Team, team.id)
    assert kept is not None
    assert kept.business_unit_id is None
    assert session.get(models.Response, response.id) is not None


def test_deleting_a_user_keeps_the_audit_trail(session: Session) -> None:
    user = models.User(email=f"a{time.monotonic_ns()}@example.org", display_name="Ada")
    session.add(user)
    session.flush()
    event = models.AuditEvent(actor_id=user.id, action="user.sign_in", details={"ok": True})
    session.add(event)
    session.flush()
    session.delete(user)
    session.flush()
    session.expire_all()
    kept = session.get(models.AuditEvent, event.id)
    assert kept is not None
    assert kept.actor_id is None
    assert kept.details == {"ok": True}


def test_check_constraints_refuse_values_outside_their_set(session: Session) -> None:
    response = _round_with_response(session)
    response.status = "finished"
    with pytest.raises(IntegrityError):
        session.flush()


def test_invitation_use_count_cannot_pass_its_limit(session: Session) -> None:
    response = _round_with_response(session)
    invitation = session.exec(
        select(models.Invitation).where(models.Invitation.round_id == response.round_id)
    ).one()
    invitation.use_count = invitation.use_limit + 1
    with pytest.raises(IntegrityError):
        session.flush()


def test_datetimes_come_back_timezone_aware_utc(session: Session) -> None:
    opened = datetime(2026, 3, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    response = _round_with_response(session)
    assessment = session.get(models.AssessmentRound, response.round_id)
    assert assessment is not None
    assessment.opened_at = opened
    session.flush()
    session.expire_all()
    reloaded = session.get(models.AssessmentRound, response.round_id)
    assert reloaded is not None
    assert reloaded.opened_at == opened
    assert reloaded.opened_at is not None
    assert reloaded.opened_at.tzinfo is not None
    assert reloaded.opened_at.utcoffset() == timedelta(0)
    assert reloaded.created_at.tzinfo is not None


def test_naive_datetimes_are_refused(session: Session) -> None:
    organisation = models.Organisation(
        name="Naive", slug="naive", created_at=datetime(2026, 1, 1, tzinfo=None)
    )
    session.add(organisation)
    with pytest.raises(StatementError, match="naive datetime"):
        session.flush()


def test_json_answers_round_trip(session: Session) -> None:
    answers = {
        "handoff.registry": {
            "value": 3,
            "note": "MLflow, since 2025 — ünïcode",
            "evidence": "https://wiki.example.org/registry",
            "evidence_backed": True,
            "note_shareable": False,
        }
    }
    response = _round_with_response(session)
    response.answers = answers
    session.flush()
    session.expire_all()
    reloaded = session.get(models.Response, response.id)
    assert reloaded is not None
    assert reloaded.answers == answers


# ---------------------------------------------------------------- the request session


def _app_with_writer(app: FastAPI) -> None:
    @app.post("/test/organisations/{slug}")
    def create_organisation(
        slug: str, session: db.SessionDep, fail: bool = False
    ) -> dict[str, str]:
        session.add(models.Organisation(name=slug, slug=slug))
        session.flush()
        if fail:
            raise ConflictError()
        return {"slug": slug}


def test_session_dependency_commits_when_the_route_succeeds(
    app: FastAPI, client: TestClient, session: Session
) -> None:
    _app_with_writer(app)
    assert client.post("/test/organisations/kept").status_code == 200
    kept = session.exec(select(models.Organisation).where(models.Organisation.slug == "kept"))
    assert kept.one_or_none() is not None


def test_session_dependency_rolls_back_when_the_route_raises(
    app: FastAPI, client: TestClient, session: Session
) -> None:
    _app_with_writer(app)
    response = client.post("/test/organisations/dropped?fail=true")
    assert response.status_code == 409
    dropped = session.exec(select(models.Organisation).where(models.Organisation.slug == "dropped"))
    assert dropped.one_or_none() is None


def test_utcnow_is_aware() -> None:
    assert db.utcnow().tzinfo is UTC


def test_read_session_sees_data_and_never_commits(
    app: FastAPI, client: TestClient, session: Session
) -> None:
    session.add(models.Organisation(name="Visible", slug="visible"))
    session.commit()

    @app.get("/test/organisations")
    def list_organisations(session: db.ReadSessionDep) -> list[str]:
        return list(session.exec(select(models.Organisation.slug)))

    @app.get("/test/organisations/write")
    def write_in_a_read(session: db.ReadSessionDep) -> list[str]:
        # a read session refuses to write: a route that changes data must take SessionDep
        session.add(models.Organisation(name="Dropped", slug="dropped-read"))
        session.flush()
        return []

    assert "visible" in client.get("/test/organisations").json()
    assert client.get("/test/organisations/write").status_code == 500
    session.expire_all()
    slugs = set(session.exec(select(models.Organisation.slug)))
    assert "visible" in slugs
    assert "dropped-read" not in slugs
