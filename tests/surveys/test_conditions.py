"""Display conditions: a question whose condition is false is hidden on its page, left out of
progress, review and the submit check, and the autosave tells the script what to hide."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.config import QUESTIONNAIRES_DIR, Settings
from app.rubric.loader import Catalog, load_catalog_from_texts, read_rubric_texts
from tests import factories
from tests.rendered import page_of
from tests.surveys import helpers

CONDITION = (
    "      - id: rewrite\n"
    "        show_if: {q: team_structure, in: [separate_collaborating, over_the_wall]}\n"
)


@pytest.fixture(scope="module")
def conditional_catalog() -> Catalog:
    """The rubric with one display condition: "rewrite" only for teams that are split."""
    texts, _ = read_rubric_texts([Path(QUESTIONNAIRES_DIR)])
    original = texts["collaboration.yaml"]
    assert original.count("      - id: rewrite\n") == 1
    texts["collaboration.yaml"] = original.replace("      - id: rewrite\n", CONDITION)
    return load_catalog_from_texts(texts)


def test_a_false_condition_hides_the_question_everywhere(
    session: Session, settings: Settings, survey_client: TestClient, conditional_catalog: Catalog
) -> None:
    assessment_round = factories.assessment_round(
        session,
        conditional_catalog,
        mode="team_survey",
        kind="quick",
        stage="operating",  # every question expected, so none is left unasked
        instruments=["collaboration"],
    )
    resume = helpers.start(
        survey_client, helpers.invite(session, settings, assessment_round, "ml_engineer")
    )
    url = f"/r/{resume}/questions?page=1"
    first = survey_client.get(url)
    page = page_of(first)
    views = {q.qid: q for q in page.questions}
    # unanswered, the condition is unknown: the question is shown
    assert not views["collaboration.rewrite"].hidden
    assert page.progress.total == 5
    # the autosave says what the answer hides, for the script to hide it at once
    fields = helpers.with_answers(
        helpers.form_values(first.text),
        {"collaboration.team_structure": "cross_functional"},
        action="autosave",
    )
    saved = helpers.post_form(survey_client, url, fields).json()
    assert saved["hidden"] == ["collaboration.rewrite"]
    assert saved["total"] == 4
    # server-side, on the next rendering of the page
    again = survey_client.get(url)
    views = {q.qid: q for q in page_of(again).questions}
    assert views["collaboration.rewrite"].hidden
    node = helpers.document(again.text).xpath("//*[@data-qid='collaboration.rewrite']")[0]
    assert node.get("hidden") is not None
    review = page_of(survey_client.get(f"/r/{resume}/review"))
    listed = [row.text for group in review.groups for s in group.sections for row in s.answers]
    assert not any("the data scientists wrote" in text for text in listed)
    assert review.total == 4
    # split teams are asked again
    fields = helpers.with_answers(
        helpers.form_values(again.text),
        {"collaboration.team_structure": "over_the_wall"},
        action="autosave",
        version="2",
    )
    assert helpers.post_form(survey_client, url, fields).json()["hidden"] == []
