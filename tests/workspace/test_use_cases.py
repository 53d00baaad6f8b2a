"""Each workspace use case is assembled once (app.workspace.services): the page, the API and a
direct call of the service record the same audit event, and starting a round twice with the
same key (a double-clicked form, a retried API call) makes one round."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from app import catalog_store, db
from app.accounts import api_tokens
from app.accounts.audit import Actor
from app.config import Settings
from app.db import utcnow
from app.models import AssessmentRound, AuditEvent, Organisation, RoundCreationKey, Team
from app.workspace import rounds, services
from tests import factories
from tests.workspace import helpers

PRACTICE = "model_registry"


@pytest.fixture
def lead(session: Session, settings: Settings) -> helpers.Lead:
    return helpers.lead(session, settings)


@pytest.fixture
def bearer(session: Session, settings: Settings, lead: helpers.Lead) -> dict[str, str]:
    created = api_tokens.create(session=session, settings=settings, user=lead.user, name="script")
    session.commit()
    return {"authorization": f"Bearer {created.token}"}


def _events(session: Session, action: str) -> list[AuditEvent]:
    return list(
        session.exec(
            select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
        ).all()
    )


def _shape(event: AuditEvent) -> tuple[Any, ...]:
    """What an event says, apart from when and under which request."""
    return (
        event.action,
        event.actor_id,
        event.organisation_id,
        event.target_type,
        event.target_id,
        event.details,
    )


def _rounds(session: Session) -> int:
    return session.exec(select(func.count()).select_from(AssessmentRound)).one()


def _with_result(session: Session, lead: helpers.Lead) -> None:
    assessment_round = helpers.team_round(session, lead.team, mode="solo")
    helpers.submit(session, assessment_round, "team_lead")
    session.commit()


# ---------------------------------------------------------------- adopted practices


def test_adopting_from_the_page_the_api_and_the_service_records_one_event(
    client: TestClient,
    session: Session,
    settings: Settings,
    lead: helpers.Lead,
    bearer: dict[str, str],
) -> None:
    _with_result(session, lead)
    page = f"{lead.team_url}/practices/{PRACTICE}"
    api = f"/api{lead.team_url}/adopted/{PRACTICE}"
    actor = Actor(user_id=lead.user.id)

    for step in ("adopt", "unadopt"):
        done = client.post(f"{page}/{step}", headers=lead.headers, follow_redirects=False)
        assert done.status_code == 303
    assert client.put(api, headers=bearer).status_code == 200
    assert client.delete(api, headers=bearer).status_code == 204
    arguments: dict[str, Any] = {
        "session": session,
        "catalog": helpers.catalog(),
        "team": lead.team,
        "practice_id": PRACTICE,
        "actor": actor,
    }
    assert services.adopt_practice(**arguments) is True
    assert services.adopt_practice(**arguments) is False  # already adopted: no event
    assert services.unadopt_practice(**arguments) is True
    assert services.unadopt_practice(**arguments) is False

    for action in ("practice.adopted", "practice.unadopted"):
        events = _events(session, action)
        assert len(events) == 3, action
        assert [_shape(e) for e in events] == 3 * [
            (
                action,
                lead.user.id,
                lead.organisation.id,
                "team",
                str(lead.team.id),
                {"practice": PRACTICE},
            )
        ]
        # the page and the API name their request; a direct call has none
        assert [e.request_id is not None for e in events] == [True, True, False]


# ---------------------------------------------------------------- targets


def test_setting_targets_from_the_page_the_api_and_the_service_records_one_event(
    client: TestClient,
    session: Session,
    settings: Settings,
    lead: helpers.Lead,
    bearer: dict[str, str],
) -> None:
    _with_result(session, lead)
    page = client.post(
        f"{lead.team_url}/targets",
        data={"target.collaboration": "established", "target.handoff": "2"},
        headers=lead.headers,
        follow_redirects=False,
    )
    assert page.status_code == 303
    api = client.put(
        f"/api{lead.team_url}/targets",
        json={"targets": {"collaboration": "established", "handoff": "2"}},
        headers=bearer,
    )
    assert api.status_code == 200
    assert services.set_targets(
        session=session,
        catalog=helpers.catalog(),
        team=lead.team,
        targets={"collaboration": "established", "handoff": "2"},
        actor=Actor(user_id=lead.user.id),
    ) == {"collaboration": "established", "handoff": "2"}
    events = _events(session, "targets.set")
    assert len(events) == 3
    assert [_shape(e) for e in events] == 3 * [
        (
            "targets.set",
            lead.user.id,
            lead.organisation.id,
            "team",
            str(lead.team.id),
            {"targets": {"collaboration": "established", "handoff": "2"}},
        )
    ]


# ---------------------------------------------------------------- starting a round


def _form(form_key: str) -> dict[str, str | list[str]]:
    return {
        "form_key": form_key,
        "mode": "team_survey",
        "kind": "quick",
        "stage": "prototype",
        "instruments": ["trajectory", "collaboration", "handoff", "debt"],
        "roles": ["data_scientist", "ml_engineer"],
        "results_min": "3",
        "closes_on": (utcnow().date() + timedelta(days=10)).isoformat(),
    }


def _api_round(
    client: TestClient, lead: helpers.Lead, headers: dict[str, str], key: str | None = None
) -> Any:
    return client.post(
        f"/api{lead.team_url}/rounds",
        json={
            "mode": "team_survey",
            "kind": "quick",
            "stage": "prototype",
            "roles": ["data_scientist", "ml_engineer"],
        },
        headers=headers | ({"idempotency-key": key} if key is not None else {}),
    )


def test_starting_a_round_from_the_page_and_the_api_records_one_event_shape(
    client: TestClient,
    session: Session,
    settings: Settings,
    lead: helpers.Lead,
    bearer: dict[str, str],
) -> None:
    page = client.post(f"{lead.team_url}/rounds", data=_form("page-1"), headers=lead.headers)
    assert page.status_code == 200
    assert _api_round(client, lead, bearer).status_code == 201
    created = _events(session, "round.created")
    assert len(created) == 2
    ids = [int(e.target_id or 0) for e in created]
    assert ids == sorted(
        int(round_id or 0) for round_id in session.exec(select(AssessmentRound.id))
    )
    for event, round_id in zip(created, ids, strict=True):
        assert _shape(event) == (
            "round.created",
            lead.user.id,
            lead.organisation.id,
            "round",
            str(round_id),
            {"team_id": lead.team.id, "mode": "team_survey", "kind": "quick"},
        )
        assert event.request_id is not None
    links = _events(session, "invitation.created")
    assert sorted((e.details["round_id"], e.details["role"]) for e in links) == sorted(
        (round_id, role) for round_id in ids for role in ("data_scientist", "ml_engineer")
    )
    assert {e.actor_id for e in links} == {lead.user.id}


def test_a_repeated_page_submit_makes_one_round(
    client: TestClient, session: Session, settings: Settings, lead: helpers.Lead
) -> None:
    first = client.post(f"{lead.team_url}/rounds", data=_form("form-1"), headers=lead.headers)
    assert first.status_code == 200
    again = client.post(
        f"{lead.team_url}/rounds",
        data=_form("form-1"),
        headers=lead.headers,
        follow_redirects=False,
    )
    assert again.status_code == 303
    round_id = session.exec(select(AssessmentRound.id)).one()
    assert again.headers["location"] == f"{lead.team_url}/rounds/{round_id}?notice=exists"
    assert _rounds(session) == 1
    assert len(_events(session, "round.created")) == 1
    assert len(_events(session, "invitation.created")) == 2
    # another form is another round
    other = client.post(f"{lead.team_url}/rounds", data=_form("form-2"), headers=lead.headers)
    assert other.status_code == 200
    assert _rounds(session) == 2


def test_a_repeated_api_call_with_the_same_idempotency_key_returns_the_first_round(
    client: TestClient,
    session: Session,
    settings: Settings,
    lead: helpers.Lead,
    bearer: dict[str, str],
) -> None:
    first = _api_round(client, lead, bearer, key="retry-7f3a")
    assert first.status_code == 201, first.text
    assert len(first.json()["links"]) == 2
    again = _api_round(client, lead, bearer, key="retry-7f3a")
    assert again.status_code == 200, again.text
    assert again.json()["round"] == first.json()["round"]
    assert again.json()["links"] == []  # links are shown once; the first answer had them
    assert _rounds(session) == 1
    assert len(_events(session, "round.created")) == 1
    assert len(_events(session, "invitation.created")) == 2
    # without a key, or with another one, each call is a new round
    assert _api_round(client, lead, bearer).status_code == 201
    assert _api_round(client, lead, bearer, key="retry-8b21").status_code == 201
    assert _rounds(session) == 3


def test_a_repeated_solo_round_answers_with_the_same_survey(
    client: TestClient,
    session: Session,
    settings: Settings,
    lead: helpers.Lead,
    bearer: dict[str, str],
) -> None:
    body = {"mode": "solo", "stage": "prototype"}
    url = f"/api{lead.team_url}/rounds"
    first = client.post(url, json=body, headers=bearer | {"idempotency-key": "solo-1"})
    again = client.post(url, json=body, headers=bearer | {"idempotency-key": "solo-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["answer_url"] == first.json()["answer_url"]
    assert _rounds(session) == 1


@pytest.mark.parametrize("key", ["", " ", "x" * 129, "tab\there"])
def test_a_bad_idempotency_key_is_refused_and_creates_nothing(
    client: TestClient,
    session: Session,
    settings: Settings,
    lead: helpers.Lead,
    bearer: dict[str, str],
    key: str,
) -> None:
    response = _api_round(client, lead, bearer, key=key)
    assert response.status_code in (400, 422), response.text
    assert response.json()["detail"]
    assert _rounds(session) == 0
    assert _events(session, "round.created") == []


def test_the_same_key_for_another_team_is_another_round(
    client: TestClient,
    session: Session,
    settings: Settings,
    lead: helpers.Lead,
    bearer: dict[str, str],
) -> None:
    other = helpers.lead(session, settings, name="Ranking team")
    assert _api_round(client, lead, bearer, key="shared").status_code == 201
    created = api_tokens.create(session=session, settings=settings, user=other.user, name="s")
    session.commit()
    theirs = _api_round(client, other, {"authorization": f"Bearer {created.token}"}, key="shared")
    assert theirs.status_code == 201
    assert _rounds(session) == 2


def test_the_database_refuses_a_second_round_under_one_key(
    session: Session, settings: Settings, lead: helpers.Lead
) -> None:
    """The key's uniqueness is a constraint, not a search: a race cannot make two rounds."""
    first = helpers.team_round(session, lead.team, title="First")
    second = helpers.team_round(session, lead.team, title="Second")
    assert lead.team.id is not None
    assert first.id is not None
    assert second.id is not None
    session.add(RoundCreationKey(team_id=lead.team.id, key="k-1", round_id=first.id))
    session.flush()
    with session.begin_nested():
        session.add(RoundCreationKey(team_id=lead.team.id, key="k-1", round_id=second.id))
        with pytest.raises(IntegrityError):
            session.flush()


def test_the_service_returns_the_first_round_for_a_repeated_key(
    session: Session, settings: Settings, lead: helpers.Lead
) -> None:
    """The CLI-style call: an actor without a request, the same key twice."""
    request = rounds.RoundRequest(
        mode="solo", kind="quick", stage="prototype", instruments=("collaboration",)
    )
    arguments: dict[str, Any] = {
        "session": session,
        "settings": settings,
        "catalog": helpers.catalog(),
        "team": lead.team,
        "organisation": lead.organisation,
        "request": request,
        "actor": Actor(user_id=None),
        "idempotency_key": "cli-1",
    }
    first = services.create_round(**arguments)
    again = services.create_round(**arguments)
    assert (first.repeated, again.repeated) == (False, True)
    assert again.assessment_round.id == first.assessment_round.id
    assert again.lead_path == first.lead_path
    assert _rounds(session) == 1
    [event] = _events(session, "round.created")
    assert (event.actor_id, event.request_id) == (None, None)


def test_two_requests_racing_with_one_key_make_one_round(
    fresh_database_url: str, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """Real commits on a database of the test's own: the first request holds its round
    uncommitted while the second starts with the same key; the second gets the first round."""
    settings = make_settings(fresh_database_url, data_dir=tmp_path / "data")
    engine = db.create_db_engine(settings)
    sessions = db.session_factory(engine)
    try:
        with sessions() as session:
            organisation = factories.organisation(session, name="Race Org")
            team = factories.team(session, organisation, name="Race team")
            # the rubric is stored already, so the two requests race only for the key
            catalog_store.register_catalog(session=session, catalog=helpers.catalog())
            session.commit()
        request = rounds.RoundRequest(
            mode="solo", kind="quick", stage="prototype", instruments=("collaboration",)
        )

        def start(session: Session) -> services.CreatedRound:
            found_team = session.get(Team, team.id)
            found_organisation = session.get(Organisation, organisation.id)
            assert found_team is not None
            assert found_organisation is not None
            return services.create_round(
                session=session,
                settings=settings,
                catalog=helpers.catalog(),
                team=found_team,
                organisation=found_organisation,
                request=request,
                actor=Actor.cli(),
                idempotency_key="race-1",
            )

        def second() -> tuple[int | None, bool]:
            with sessions() as session:
                created = start(session)
                session.commit()
                return created.assessment_round.id, created.repeated

        with sessions() as session, ThreadPoolExecutor(max_workers=1) as pool:
            first = start(session)
            racing = pool.submit(second)
            time.sleep(0.5)  # the second request is now waiting on the first one's key
            session.commit()
            assert racing.result(timeout=30) == (first.assessment_round.id, True)
        with sessions() as session:
            assert _rounds(session) == 1
            assert len(_events(session, "round.created")) == 1
    finally:
        engine.dispose()


def test_round_and_link_actions_record_the_same_events_from_the_page_and_the_api(
    client: TestClient,
    session: Session,
    settings: Settings,
    lead: helpers.Lead,
    bearer: dict[str, str],
) -> None:
    by_page = helpers.team_round(session, lead.team, title="By page")
    by_api = helpers.team_round(session, lead.team, title="By API")
    session.commit()
    later = (utcnow().date() + timedelta(days=20)).isoformat()
    role = {"role": "ml_engineer"}
    page = f"{lead.team_url}/rounds/{by_page.id}"
    for path, data in [
        ("links", {"roles": "ml_engineer"}),
        ("links/extend", role),
        ("links/revoke", role),
        ("extend", {"closes_on": later}),
        ("close", {}),
    ]:
        done = client.post(
            f"{page}/{path}", data=data, headers=lead.headers, follow_redirects=False
        )
        assert done.status_code in (200, 303), (path, done.text[:300])
    api = f"/api{lead.team_url}/rounds/{by_api.id}"
    for path, body in [
        ("invitations", {"roles": ["ml_engineer"]}),
        ("invitations/extend", role),
        ("invitations/revoke", role),
        ("extend", {"closes_on": later}),
        ("close", None),
    ]:
        done = client.post(f"{api}/{path}", json=body, headers=bearer)
        assert done.status_code in (200, 201, 204), (path, done.text[:300])

    def said(event: AuditEvent, assessment_round: AssessmentRound) -> tuple[Any, ...]:
        # the same event for either round, once its own round is taken out
        details = dict(event.details)
        if details.get("round_id") == assessment_round.id:
            details["round_id"] = "this round"
        target = "this round" if event.target_id == str(assessment_round.id) else event.target_type
        return event.action, event.actor_id, event.organisation_id, target, details

    for action in (
        "invitation.created",
        "invitation.extended",
        "invitation.revoked",
        "round.extended",
        "round.closed",
    ):
        from_page, from_api = _events(session, action)
        assert said(from_page, by_page) == said(from_api, by_api), action
        assert from_page.actor_id == lead.user.id
        assert None not in (from_page.request_id, from_api.request_id)
