"""Results that never contradict themselves (issue: results that read at a glance): what is
not known is counted the same way in coverage, knowledge gaps and certainty; a level says in
words which gate holds it down; changes are shown only between rounds of the same kind; a
"why?" says it in words before the formula."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.config import Settings
from app.db import utcnow
from app.models import AssessmentRound, Respondent
from app.results.reads import previous_shown
from app.results.service import round_settings, store_round_result
from app.surveys.service import resume_token_hash
from app.workspace import results_page, rounds
from tests import factories
from tests.workspace import helpers
from tests.workspace.test_disputed_results import invitation, split_round


def page_of(
    client: TestClient, lead: helpers.Lead, assessment_round: AssessmentRound
) -> tuple[results_page.ResultsPage, Any]:
    response: Any = client.get(
        f"{lead.team_url}/rounds/{assessment_round.id}/results", headers=lead.headers
    )
    assert response.status_code == 200, response.text[:500]
    page = response.context["page"]
    assert isinstance(page, results_page.ResultsPage)
    return page, helpers.document(response.text)


def quick_solo_round(session: Session, lead: helpers.Lead, **fields: Any) -> AssessmentRound:
    assessment_round = helpers.team_round(session, lead.team, mode="solo", kind="quick", **fields)
    helpers.submit(session, assessment_round, "team_lead", handoff="high")
    session.commit()
    return assessment_round


def text(node: Any) -> str:
    return " ".join(node.text_content().split())


def test_what_is_not_known_is_counted_the_same_way_everywhere(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    page, html = page_of(client, lead, quick_solo_round(session, lead))
    uncertain = [
        d
        for d in page.dimensions
        if "not certain" in d.level_label or any(not f.certain for f in (*d.strengths, *d.risks))
    ]
    assert uncertain, "a quick check leaves some level or finding not certain"
    knowledge = text(html.xpath("//section[@id='knowledge']")[0])
    assert "None" not in knowledge
    for dimension in uncertain:
        # the questions that leave it open are named, and the coverage says so
        assert dimension.unsettled, dimension.id
        assert str(len(dimension.unsettled)) in dimension.coverage_note
        assert "Every expected question was answered" not in dimension.coverage_note
        assert dimension.title in knowledge
        card = html.xpath(f"//section[@id='summary']//li[@data-dimension='{dimension.id}']")[0]
        assert "not known" in text(card)


def test_a_level_says_which_gate_holds_it_down(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    page, html = page_of(client, lead, quick_solo_round(session, lead))
    handoff = next(d for d in page.dimensions if d.id == "handoff")
    lowest = min(page.artifacts, key=lambda a: a.level)
    assert lowest.missing
    assert handoff.level_reason is not None
    assert handoff.level_reason.startswith(f"{handoff.score} — level {lowest.level} because")
    assert any(gate.removesuffix(" (not known)") in handoff.level_reason for gate in lowest.missing)
    card = html.xpath("//section[@id='summary']//li[@data-dimension='handoff']")[0]
    assert handoff.level_reason in text(card)


def test_a_quick_solo_round_is_never_compared_with_a_full_team_survey(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    survey = helpers.team_round(
        session, lead.team, kind="full", created_at=utcnow() - timedelta(days=30)
    )
    for role in ("data_scientist", "ml_engineer", "product_manager"):
        response = helpers.submit(session, survey, role, handoff="low", store=False)
        # answered through invitation links: respondents whose answers the lead may see
        respondent = session.get(Respondent, response.respondent_id)
        assert respondent is not None
        respondent.invitation_id = invitation(session, survey, role)
        session.add(respondent)
    rounds.close_round(session=session, assessment_round=survey)
    session.commit()
    quick = quick_solo_round(session, lead)
    assert previous_shown(session, quick) is not None
    page, html = page_of(client, lead, quick)
    assert page.comparison is None
    assert all(d.change is None for d in page.dimensions)
    assert page.comparison_note is not None
    assert "full assessment" in page.comparison_note
    assert "quick check" in page.comparison_note
    assert page.comparison_note in text(html.xpath("//section[@id='summary']")[0])
    assert "since the previous round" not in text(html.xpath("//section[@id='summary']")[0])


def test_explanations_say_it_in_words_before_the_formula(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    page, html = page_of(client, lead, quick_solo_round(session, lead))
    assert page.recommendation is not None
    top = page.recommendation.top
    assert top.fit_words
    assert "=" not in top.fit_words
    for body in html.xpath("//section[@id='summary']//div[@class='ws-explain__body']"):
        first = body.xpath("./p")[0]
        assert "=" not in text(first), text(first)


def test_perception_gaps_read_as_a_picture_within_the_anonymity_rule(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    page, html = page_of(client, lead, split_round(session, lead, engineers=3))
    picture = page.gap_picture
    assert picture is not None
    # two sentences in words: who sees it weaker than whom, on how many, mostly where
    assert picture.summary.count(". ") == 1
    assert picture.summary.endswith(".")
    assert "Engineering sees things as weaker than data science does on" in picture.summary
    assert "mostly in handoff" in picture.summary
    kinds = {chart.title for chart in picture.charts}
    assert kinds == {"Per dimension", "Per question"}
    for chart in picture.charts:
        rows = (*chart.top, *chart.rest)
        assert len(chart.top) <= results_page.GAPS_SHOWN
        assert all(0 <= r.lower.position <= r.higher.position <= 100 for r in rows)
    questions = next(c for c in picture.charts if c.title == "Per question")
    assert questions.rest, "more gaps than the top few: the rest behind 'show all'"
    shown = html.xpath("//section[@id='gaps']//figure[contains(@class, 'ws-dumbbell')]")
    assert len(shown) == 2
    assert text(html.xpath("//p[@id='gap-summary']")[0]) == picture.summary
    assert html.xpath("//section[@id='gaps']//details/summary[starts-with(., 'Show all')]")

    # a role group below the anonymity rule's minimum: no picture, no group named
    other = helpers.lead(session, settings, name="Other team")
    page, html = page_of(client, other, split_round(session, other, engineers=2))
    assert page.gap_picture is None
    assert not html.xpath("//figure[contains(@class, 'ws-dumbbell')]")


def test_a_solo_round_ends_on_its_results(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    assessment_round = quick_solo_round(session, lead)
    lead_answers = session.exec(
        select(Respondent).where(Respondent.round_id == assessment_round.id)
    ).one()
    token = secrets.token_urlsafe(16)
    lead_answers.resume_token_hash = resume_token_hash(settings, token)
    session.add(lead_answers)
    session.commit()
    done = client.get(f"/r/{token}/done", headers=lead.headers)
    assert done.status_code == 200
    results = f"{lead.team_url}/rounds/{assessment_round.id}/results"
    links = helpers.document(done.text).xpath("//a[@class='button']")
    assert [(link.get("href"), text(link)) for link in links] == [(results, "See the results")]
    assert "your team lead finds them" not in done.text
    assert client.get(results, headers=lead.headers).status_code == 200


def test_notes_marked_may_be_shown_appear_without_author_or_role(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    assessment_round = helpers.team_round(session, lead.team, mode="solo", kind="quick")
    answers: dict[str, Any] = helpers.answers_for(
        round_settings(assessment_round), "team_lead", handoff="high"
    )
    first, second = list(answers)[:2]
    answers[first] = {"value": answers[first], "note": "We deploy by hand.", "note_shareable": True}
    answers[second] = {"value": answers[second], "note": "Private remark.", "note_shareable": False}
    factories.submitted_response(session, assessment_round, "team_lead", answers)
    store_round_result(session=session, assessment_round=assessment_round)
    session.commit()
    page, html = page_of(client, lead, assessment_round)
    assert [note.text for note in page.notes] == ["We deploy by hand."]
    section = text(html.xpath("//section[@id='notes']")[0])
    assert "We deploy by hand." in section
    assert "Private remark." not in html.text_content()
    assert "Team lead" not in section
