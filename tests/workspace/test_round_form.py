"""The new-round form asks only what the chosen mode needs: a round answered alone ignores
the team-survey fields (links, threshold, closing date, sharing), whatever the form carried."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from app.config import Settings
from app.models import AssessmentRound, Invitation
from tests.workspace import helpers
from tests.workspace.test_routes import _form


@pytest.mark.parametrize(
    "team_only",
    [
        {"results_min": "1"},
        {"closes_on": "someday"},
        {"roles": ["nobody"]},
        {"respondents_see_results": "yes"},
    ],
)
def test_a_solo_round_ignores_the_team_survey_fields(
    client: TestClient, session: Session, settings: Settings, team_only: dict[str, Any]
) -> None:
    lead = helpers.lead(session, settings)
    created = client.post(
        f"{lead.team_url}/rounds",
        data=_form(mode="solo", **team_only),
        headers=lead.headers,
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text[:300]
    assert created.headers["location"].startswith("/r/")  # straight to the lead's survey
    assessment_round = session.exec(select(AssessmentRound)).one()
    assert assessment_round.mode == "solo"
    assert assessment_round.closes_at is None
    assert not assessment_round.respondents_see_results
    assert session.exec(select(func.count()).select_from(Invitation)).one() == 0


def test_the_team_survey_fields_are_labelled_as_such_and_hidden_after_just_me(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    # a solo form sent back for another reason (the title is too long)
    refused = client.post(
        f"{lead.team_url}/rounds", data=_form(mode="solo", title="x" * 300), headers=lead.headers
    )
    assert refused.status_code == 400
    document = helpers.document(refused.text)
    (survey_only,) = document.xpath("//fieldset[@data-survey-only]")
    assert survey_only.xpath("string(legend)").strip() == "Only for a team survey"
    # hidden while "Just me" is chosen, with or without JavaScript: app.css and workspace.js
    # (tests/browser/test_round_form.py)
    assert not survey_only.xpath(".//input[@name='roles'][@checked]")  # nothing pre-ticked
    # a team survey shows them, with the usual roles ticked
    form = client.get(f"{lead.team_url}/rounds/new", headers=lead.headers)
    (survey_only,) = helpers.document(form.text).xpath("//fieldset[@data-survey-only]")
    assert survey_only.xpath(".//input[@name='roles'][@checked]")
