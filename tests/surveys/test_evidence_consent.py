"""The survey's "may be shown" tick covers the evidence link as well as the note: its words say
so, and a link ticked without a note keeps the tick (a note alone kept it before)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.surveys import helpers
from tests.surveys.test_answers import page_html, quick_round, resume, save, stored

__all__ = ["quick_round", "resume"]  # fixtures


def test_the_tick_covers_the_evidence_link(
    session: Session, survey_client: TestClient, resume: str
) -> None:
    qid = "collaboration.rewrite"  # invites evidence
    number = next(
        n
        for n in range(1, 10)
        if qid in helpers.page_questions(page_html(survey_client, resume, n))
    )
    html = page_html(survey_client, resume, number)
    tick = helpers.document(html).xpath(f"//input[@name='ns.{qid}']/ancestor::label")[0]
    words = " ".join(tick.text_content().split())
    assert words.startswith("My note and evidence may be shown to the team"), words

    link = "https://wiki.example.org/handover"
    result = save(
        survey_client,
        resume,
        number,
        {qid: "not_applicable"},
        html=html,
        **{f"ns.{qid}": "1", f"e.{qid}": link},
    )
    assert result.status_code == 303
    assert stored(session).answers[qid] == {
        "value": "not_applicable",
        "note_shareable": True,
        "evidence": link,
    }
