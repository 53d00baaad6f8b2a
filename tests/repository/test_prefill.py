"""A solo round's lead may take the repository's suggestions as pre-filled answers: each is marked
"suggested by the repository" and is no answer until the lead saves its page; a team survey
never shows one."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.config import Settings
from app.models import AssessmentRound, Respondent, Response
from app.repository_check import service
from app.rubric import repository_compare
from app.rubric.repository_match import RepositorySignals
from app.surveys import pages
from app.surveys.service import Survey
from tests.repository import common
from tests.surveys import helpers as survey_helpers
from tests.workspace import helpers
from tests.workspace.test_routes import _form

TIDY = json.loads((common.GOLDEN / "tidy_package.signals.json").read_text())


def test_the_pure_core_suggests_only_where_the_signals_point_to_one_option() -> None:
    signals, _ = common.signals()
    found = repository_compare.suggestions(
        catalog=common.catalog(), signals=signals, readings=RepositorySignals.model_validate(TIDY)
    )
    assert {qid: s.option for qid, s in found.items()} == {
        "handoff.environment": "containers",
        "handoff.registry": "registry_promotion",
    }
    # CI found speaks to "engineering basics" but backs two options: no suggestion
    assert "debt.engineering_basics" not in found


def _start(client: TestClient, session: Session, settings: Settings, mode: str) -> str:
    """A round started by its lead on the team page, with the signals file uploaded on its
    repository page before any answer; the address the lead is sent to."""
    lead = helpers.lead(session, settings)
    created = client.post(
        f"{lead.team_url}/rounds",
        data=_form(mode=mode, form_key=f"{mode}-1", kind="full", stage="operating"),
        headers=lead.headers,
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text[:300]
    assessment_round = session.exec(select(AssessmentRound)).one()
    repository = f"{lead.team_url}/rounds/{assessment_round.id}/repository"
    attached = client.post(
        repository,
        data={"csrf_token": lead.signed_in.csrf_token},
        files={"signals": ("tidy.json", json.dumps(TIDY).encode(), "application/json")},
        headers={"cookie": lead.signed_in.cookie_header},
        follow_redirects=False,
    )
    assert attached.status_code == 303, attached.text[:500]
    if mode == "solo":
        page = client.get(repository, headers=lead.headers)
        note = survey_helpers.document(page.text).xpath("//*[@data-prefills]/@data-prefills")
        assert note == ["2"]
    return str(created.headers["location"])


def _registry_page(client: TestClient, base: str) -> tuple[str, Any]:
    """The page of questions holding handoff.registry, as the lead sees it."""
    for index in range(1, 40):
        url = pages.page_url(base.rstrip("/"), index)
        shown = client.get(url)
        if shown.status_code != 200:
            break
        if 'data-qid="handoff.registry"' in shown.text:
            return url, shown
    raise AssertionError("no page asks handoff.registry")


def _mark(html: str, qid: str) -> list[str]:
    node = survey_helpers.document(html).xpath(f'//*[@data-qid="{qid}"]')[0]
    return [" ".join(p.text_content().split()) for p in node.xpath(".//*[@data-suggested]")]


def test_a_solo_round_shows_suggestions_marked_and_counts_them_only_once_saved(
    client: TestClient, session: Session, settings: Settings
) -> None:
    survey_url = _start(client, session, settings, "solo")
    base = survey_url.split("?")[0].removesuffix("/welcome").removesuffix("/questions")
    url, shown = _registry_page(client, base)
    mark = _mark(shown.text, "handoff.registry")
    assert len(mark) == 1
    assert mark[0].startswith("Suggested by the repository")
    assert "code promotes registered model versions" in mark[0]
    document = survey_helpers.document(shown.text)
    checked = document.xpath('//*[@data-qid="handoff.registry"]//input[@checked]/@value')
    assert checked == ["registry_promotion"]
    # not an answer yet: nothing stored, nothing counted, and the review has none
    response = session.exec(select(Response)).one()
    session.refresh(response)
    assert "handoff.registry" not in (response.answers or {})
    assert shown.context["page"].progress.answered == 0
    review: Any = client.get(f"{base}/review")
    assert review.context["page"].answered == 0

    # the lead saves the page: the suggestion becomes the lead's answer and the mark goes
    fields = survey_helpers.with_answers(survey_helpers.form_values(shown.text), {}, action="next")
    saved = survey_helpers.post_form(client, url, fields, follow_redirects=False)
    assert saved.status_code == 303, saved.text[:500]
    session.refresh(response)
    assert response.answers["handoff.registry"]["value"] == "registry_promotion"
    again = client.get(url)
    assert _mark(again.text, "handoff.registry") == []


def test_a_changed_suggestion_is_saved_as_the_leads_choice(
    client: TestClient, session: Session, settings: Settings
) -> None:
    survey_url = _start(client, session, settings, "solo")
    base = survey_url.split("?")[0].removesuffix("/welcome").removesuffix("/questions")
    url, shown = _registry_page(client, base)
    fields = survey_helpers.with_answers(
        survey_helpers.form_values(shown.text), {"handoff.registry": "shared_drive"}, action="next"
    )
    saved = survey_helpers.post_form(client, url, fields, follow_redirects=False)
    assert saved.status_code == 303, saved.text[:500]
    response = session.exec(select(Response)).one()
    session.refresh(response)
    assert response.answers["handoff.registry"]["value"] == "shared_drive"


def test_a_team_survey_never_shows_the_repositorys_suggestions(
    session: Session, settings: Settings
) -> None:
    assessment_round = survey_helpers.team_round(session, repository_signals=TIDY)
    survey = _survey(session, settings, assessment_round)
    catalog = survey_helpers.catalog()
    assert pages.repository_suggestions(survey) == {}
    assert service.solo_prefills(catalog=catalog, assessment_round=assessment_round) is None
    assessment_round.mode = "solo"
    assert set(pages.repository_suggestions(survey)) == {"handoff.environment", "handoff.registry"}
    assert service.solo_prefills(catalog=catalog, assessment_round=assessment_round) == 2


def _survey(session: Session, settings: Settings, assessment_round: AssessmentRound) -> Any:
    """What a resume link opens (only the round and rubric matter to the suggestions)."""
    return Survey(
        respondent=Respondent(round_id=0, role="ml_engineer", resume_token_hash="-"),
        response=Response(round_id=0, respondent_id=0),
        assessment_round=assessment_round,
        catalog=survey_helpers.catalog(),
    )
