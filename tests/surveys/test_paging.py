"""Pages of the survey: questions grouped in code (app.surveys.paging), not by the rubric files.

A quick check used to take one page per rubric section (21 questions on 14 pages) and its
first page offered "Save and go back" to nowhere.
"""

from __future__ import annotations

import itertools

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.config import Settings
from app.rubric.answers import RoundSettings
from app.rubric.schema import ROLES
from app.surveys.paging import MAX_QUESTIONS_PER_PAGE, group_sections
from app.surveys.service import SurveyPlan, survey_plan
from tests.surveys import helpers

STAGES = ("exploration", "prototype", "productionising", "operating")


def plan(kind: str, mode: str, stage: str, role: str) -> SurveyPlan:
    settings = RoundSettings(
        stage=stage,  # type: ignore[arg-type]
        kind=kind,  # type: ignore[arg-type]
        mode=mode,  # type: ignore[arg-type]
        instruments=tuple(helpers.INSTRUMENT_ORDER),
    )
    return survey_plan(helpers.catalog(), settings, role)  # type: ignore[arg-type]


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize(("mode", "role"), [("solo", "team_lead"), ("team_survey", "ml_engineer")])
def test_a_quick_check_of_every_instrument_takes_four_to_six_pages(
    stage: str, mode: str, role: str
) -> None:
    pages = plan("quick", mode, stage, role).pages
    assert 4 <= len(pages) <= 6, [(p.key, len(p.questions)) for p in pages]


@pytest.mark.parametrize(
    ("kind", "stage", "role"),
    list(itertools.product(("quick", "full"), STAGES, ROLES)),
)
def test_every_question_is_on_one_page_in_order_one_instrument_per_page(
    kind: str, stage: str, role: str
) -> None:
    survey = plan(kind, "team_survey", stage, role)
    on_pages = [item.qid for page in survey.pages for item in page.questions]
    assert on_pages == [item.qid for item in survey.asked]
    for page in survey.pages:
        assert {item.instrument.id for item in page.questions} == {page.instrument.id}
        assert 1 <= len(page.questions) <= MAX_QUESTIONS_PER_PAGE
    assert [page.index for page in survey.pages] == list(range(1, len(survey.pages) + 1))
    assert len({page.key for page in survey.pages}) == len(survey.pages)


def test_a_full_survey_gets_fewer_pages_than_sections_but_none_overlong() -> None:
    survey = plan("full", "team_survey", "operating", "data_scientist")
    sections = {
        (item.instrument.id, part.section.id)
        for p in survey.pages
        for part in p.parts
        for item in part.questions
    }
    assert len(survey.asked) == 59
    assert len(sections) == 15
    # 59 questions: 8 pages of 6 to 9 questions, two per instrument
    assert len(survey.pages) == 8
    assert all(6 <= len(page.questions) <= MAX_QUESTIONS_PER_PAGE for page in survey.pages)


def test_a_long_section_is_split_fairly_and_short_ones_joined() -> None:
    pages = group_sections([list(range(23)), [100, 101]])
    assert [[len(run) for run in page] for page in pages] == [[8], [8], [7, 2]]
    assert group_sections([[1, 2, 3], [4], [5, 6]]) == [[(1, 2, 3), (4,), (5, 6)]]


def test_a_resume_position_recorded_per_section_finds_the_page_that_now_holds_it() -> None:
    survey = plan("full", "team_survey", "operating", "data_scientist")
    # trajectory.model_uncertainty was page 2 of its own; it is now on page 1
    page = survey.page_by_key("trajectory.model_uncertainty")
    assert page is not None
    assert page.index == 1


def test_the_first_page_does_not_offer_to_go_back_and_the_second_does(
    session: Session, settings: Settings, survey_client: TestClient
) -> None:
    assessment_round = helpers.team_round(session, kind="quick")
    resume = helpers.start(
        survey_client, helpers.invite(session, settings, assessment_round, "data_scientist")
    )
    first = survey_client.get(f"/r/{resume}/questions?page=1")
    assert "Page 1 of 4" in first.text
    assert "Save and go back" not in first.text
    assert "Save and continue" in first.text
    second = survey_client.get(f"/r/{resume}/questions?page=2")
    assert "Page 2 of 4" in second.text
    assert "Save and go back" in second.text
