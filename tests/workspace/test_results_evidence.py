"""Evidence links under the notes' consent (issue: results that read at a glance): a link
whose author ticked "may be shown" (the tick covers the note and the evidence link) shows on
the results page beside the notes, without author or role; an unticked one never shows."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.config import Settings
from app.results.service import round_settings, store_round_result
from tests import factories
from tests.workspace import helpers
from tests.workspace.test_results_consistency import page_of, text

SHOWN = "https://wiki.example.org/deploys"
PRIVATE = "https://private.example.org/incident-42"
WITH_NOTE = "https://ci.example.org/pipelines/7"


def test_evidence_links_show_only_under_the_may_be_shown_tick(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    assessment_round = helpers.team_round(session, lead.team, mode="solo", kind="quick")
    answers: dict[str, Any] = helpers.answers_for(
        round_settings(assessment_round), "team_lead", handoff="high"
    )
    first, second, third = list(answers)[:3]
    answers[first] = {"value": answers[first], "evidence": SHOWN, "note_shareable": True}
    answers[second] = {"value": answers[second], "evidence": PRIVATE, "note_shareable": False}
    answers[third] = {
        "value": answers[third],
        "note": "Every release runs this pipeline.",
        "evidence": WITH_NOTE,
        "note_shareable": True,
    }
    factories.submitted_response(session, assessment_round, "team_lead", answers)
    store_round_result(session=session, assessment_round=assessment_round)
    session.commit()

    page, html = page_of(client, lead, assessment_round)
    assert sorted(link.url for link in page.evidence_links) == sorted([SHOWN, WITH_NOTE])
    section = html.xpath("//section[@id='notes']")[0]
    hrefs = [a.get("href") for a in section.xpath(".//a[@rel]")]
    assert sorted(hrefs) == sorted([SHOWN, WITH_NOTE])
    assert all(a.get("rel") == "noopener noreferrer nofollow" for a in section.xpath(".//a[@rel]"))
    assert "Every release runs this pipeline." in text(section)
    assert PRIVATE not in html.text_content()
    assert not html.xpath(f"//a[@href='{PRIVATE}']")
    assert "Team lead" not in text(section)


def test_no_evidence_link_shows_without_the_tick(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    assessment_round = helpers.team_round(session, lead.team, mode="solo", kind="quick")
    answers: dict[str, Any] = helpers.answers_for(
        round_settings(assessment_round), "team_lead", handoff="high"
    )
    first = next(iter(answers))
    # an older stored answer: a link, and no tick at all
    answers[first] = {"value": answers[first], "evidence": PRIVATE}
    factories.submitted_response(session, assessment_round, "team_lead", answers)
    store_round_result(session=session, assessment_round=assessment_round)
    session.commit()
    page, html = page_of(client, lead, assessment_round)
    assert page.evidence_links == ()
    assert not html.xpath("//section[@id='notes']")
    assert PRIVATE not in html.text_content()
