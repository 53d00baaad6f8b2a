"""Questions about a situation the team does not have are not asked: a team that uses an
off-the-shelf model as it is (for example one it prompts at a provider) is not asked how it
hands over trained models, training code, training features or their lineage (Rubric 2026.2,
class 6; the handoff notes, "What exactly needs to be handed off?")."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.config import QUESTIONNAIRES_DIR, Settings
from app.rubric.loader import Catalog, load_catalog
from tests import factories
from tests.rendered import page_of
from tests.surveys import helpers

NOT_TRAINED_HERE = {
    "handoff.registry",
    "handoff.notebook_to_pipeline",
    "handoff.same_transformations",
    "handoff.feature_store",
    "handoff.lineage",
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(QUESTIONNAIRES_DIR)


def test_an_off_the_shelf_model_hides_the_questions_about_handing_over_a_trained_one(
    session: Session, settings: Settings, survey_client: TestClient, catalog: Catalog
) -> None:
    assessment_round = factories.assessment_round(
        session,
        catalog,
        mode="team_survey",
        kind="full",
        stage="operating",
        instruments=["trajectory", "handoff"],
    )
    resume = helpers.start(
        survey_client, helpers.invite(session, settings, assessment_round, "team_lead")
    )
    page_number, url, html = 0, "", ""
    for number in range(1, 10):
        url = f"/r/{resume}/questions?page={number}"
        response = survey_client.get(url)
        qids = {q.qid for q in page_of(response).questions}
        if "trajectory.model_source" in qids:
            page_number, html = number, response.text
            break
    assert page_number, "the model-source question is on no page"

    fields = helpers.with_answers(
        helpers.form_values(html), {"trajectory.model_source": "off_the_shelf"}, action="autosave"
    )
    hidden = set(helpers.post_form(survey_client, url, fields).json()["hidden"])
    assert hidden >= NOT_TRAINED_HERE
    # the team's own environment and its contracts are still asked, with "not applicable"
    assert not hidden & {"handoff.environment", "handoff.contracts_enforced"}

    fields = helpers.with_answers(
        helpers.form_values(survey_client.get(url).text),
        {"trajectory.model_source": "in_house"},
        action="autosave",
        version="2",
    )
    hidden = set(helpers.post_form(survey_client, url, fields).json()["hidden"])
    assert not hidden & NOT_TRAINED_HERE
