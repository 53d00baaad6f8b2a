"""The survey's JSON API: the same steps as the pages, the same refusals, the same rules."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.config import Settings
from app.models import Response
from tests.surveys import helpers


def started(
    client: TestClient, session: Session, settings: Settings, **round_fields: Any
) -> tuple[str, dict[str, Any]]:
    """Start through the API; returns the resume token and the questionnaire."""
    assessment_round = helpers.team_round(session, **round_fields)
    token = helpers.invite(session, settings, assessment_round, "software_engineer")
    welcome = client.get(f"/api/survey/invitations/{token}")
    assert welcome.status_code == 200, welcome.text
    body = welcome.json()
    assert body["role"] == "software_engineer"
    assert body["round"]["team"] == "Search team"
    start = client.post(
        f"/api/survey/invitations/{token}/start",
        json={},
        headers={"x-csrf-token": body["csrf_token"]},
    )
    assert start.status_code == 201, start.text
    resume = start.json()["resume_token"]
    survey = client.get(f"/api/survey/{resume}")
    assert survey.status_code == 200
    return resume, survey.json()


def put_answers(
    client: TestClient,
    resume: str,
    survey: dict[str, Any],
    answers: Any,
    version: int | None = None,
) -> Any:
    return client.put(
        f"/api/survey/{resume}/answers",
        json={"version": version or survey["version"], "answers": answers},
        headers={"x-csrf-token": survey["csrf_token"]},
    )


def test_the_questionnaire_follows_role_kind_and_instrument_order(
    session: Session, settings: Settings, survey_client: TestClient
) -> None:
    _, survey = started(survey_client, session, settings, kind="quick")
    assert survey["status"] == "draft"
    assert survey["version"] == 1
    assert next(p["instrument"] for p in survey["pages"]) == "trajectory"
    questions = [q for p in survey["pages"] for q in p["questions"]]
    assert len(questions) == helpers.quick_questions("software_engineer")
    assert len(questions) == survey["progress"]["total"]
    assert all(q["sources"] for q in questions)
    assert survey["round"]["team"] is None  # names stay on the invitation


def test_answers_are_saved_from_a_version_and_stale_ones_conflict(
    session: Session, settings: Settings, survey_client: TestClient
) -> None:
    resume, survey = started(survey_client, session, settings, kind="quick")
    saved = put_answers(
        survey_client,
        resume,
        survey,
        {
            "collaboration.team_structure": "cross_functional",
            "collaboration.rewrite": {
                "value": "dont_know",
                "note": "ask Ana",
                "note_shareable": True,
            },
        },
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 2
    assert saved.json()["progress"]["answered"] == 2
    stale = put_answers(
        survey_client, resume, survey, {"collaboration.team_structure": "over_the_wall"}
    )
    assert stale.status_code == 409
    body = stale.json()
    assert body["version"] == 2
    assert body["conflicts"] == [
        {
            "question": "collaboration.team_structure",
            "yours": {"value": "over_the_wall"},
            "saved": {"value": "cross_functional"},
        }
    ]
    cleared = put_answers(survey_client, resume, survey, {"collaboration.rewrite": None}, version=2)
    assert cleared.status_code == 200
    response = session.exec(select(Response)).one()
    session.refresh(response)
    assert response.answers == {"collaboration.team_structure": {"value": "cross_functional"}}


def test_bad_answers_are_refused_with_a_message_per_question(
    session: Session, settings: Settings, survey_client: TestClient
) -> None:
    resume, survey = started(
        survey_client, session, settings, kind="quick", instruments=["trajectory", "collaboration"]
    )
    refused = put_answers(
        survey_client,
        resume,
        survey,
        {
            "collaboration.team_structure": "cross_functional",  # fine, but not saved either
            "collaboration.rewrite": "sometimes",
            "handoff.registry": "dont_know",  # another instrument, not in this round
            "collaboration.no_such_question": "dont_know",  # another version's question
            "collaboration.shared_goals": "dont_know",  # not part of the quick check
            "trajectory.stakes": {"value": "dont_know", "note": "x" * 2001},
        },
    )
    assert refused.status_code == 400
    errors = refused.json()["errors"]
    assert errors == {
        "collaboration.rewrite": errors["collaboration.rewrite"],
        "handoff.registry": (
            "This question belongs to 'Handoff maturity', which this survey does not include."
        ),
        "collaboration.no_such_question": (
            "There is no such question in this survey's version of the questionnaire."
        ),
        "collaboration.shared_goals": "This question is not part of the quick check.",
        "trajectory.stakes": "The note is longer than 2000 characters.",
    }
    assert "'sometimes' is not an option" in errors["collaboration.rewrite"]
    response = session.exec(select(Response)).one()
    session.refresh(response)
    assert response.answers == {}
    assert response.version == 1
    # wrong types are refused by the schema, also without changing anything
    typed = put_answers(survey_client, resume, survey, {"trajectory.stakes": {"value": True}})
    assert typed.status_code == 422


def test_unsafe_requests_need_the_csrf_header(
    session: Session, settings: Settings, survey_client: TestClient
) -> None:
    """A request that sends a cookie is a browser's and needs the header; a script sends no
    cookie and needs none (tests/accounts/test_api_wording.py)."""
    resume, _survey = started(survey_client, session, settings)
    refused = survey_client.put(
        f"/api/survey/{resume}/answers",
        json={"version": 1, "answers": {}},
        headers={"cookie": "processlens_csrf=from-a-browser"},
    )
    assert refused.status_code == 403


def test_submit_is_idempotent_and_final(
    session: Session, settings: Settings, survey_client: TestClient
) -> None:
    resume, survey = started(survey_client, session, settings, kind="quick")
    headers = {"x-csrf-token": survey["csrf_token"]}
    body = {"submission_key": survey["submission_key"]}
    missing = survey_client.post(f"/api/survey/{resume}/submit", json=body, headers=headers)
    assert missing.status_code == 400
    assert len(missing.json()["missing"]) == helpers.quick_questions(
        "software_engineer", required=True
    )
    answers = {q["id"]: "dont_know" for p in survey["pages"] for q in p["questions"]}
    assert put_answers(survey_client, resume, survey, answers).status_code == 200
    first = survey_client.post(f"/api/survey/{resume}/submit", json=body, headers=headers)
    assert first.status_code == 200
    assert first.json()["first_time"] is True
    again = survey_client.post(f"/api/survey/{resume}/submit", json=body, headers=headers)
    assert again.status_code == 200
    assert again.json()["first_time"] is False
    assert again.json()["submitted_at"] == first.json()["submitted_at"]
    edit = put_answers(survey_client, resume, survey, {"trajectory.stakes": "high"}, version=2)
    assert edit.status_code == 409
    assert "can no longer be changed" in edit.json()["detail"]
    other = survey_client.post(
        f"/api/survey/{resume}/submit", json={"submission_key": "f" * 32}, headers=headers
    )
    assert other.status_code == 409
    assert survey_client.get(f"/api/survey/{resume}").json()["status"] == "submitted"
