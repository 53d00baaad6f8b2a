"""Saving, validating and submitting answers through the pages: bad input gets a clear
message next to its question and changes nothing; stale tabs get a conflict page; a submit
happens once."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.config import Settings
from app.models import AssessmentRound, Response, RoundResult
from app.rubric.answers import MAX_NOTE_CHARS
from app.surveys.pages import ConflictPage, QuestionPage, ReviewPage
from tests.rendered import page_of
from tests.surveys import helpers


@pytest.fixture
def quick_round(session: Session) -> AssessmentRound:
    return helpers.team_round(session, kind="quick")


@pytest.fixture
def resume(
    session: Session, settings: Settings, survey_client: TestClient, quick_round: AssessmentRound
) -> str:
    token = helpers.invite(session, settings, quick_round, "data_scientist")
    return helpers.start(survey_client, token)


def stored(session: Session) -> Response:
    response = session.exec(select(Response)).one()
    session.refresh(response)
    return response


def page_html(client: TestClient, resume: str, number: int) -> str:
    response = client.get(f"/r/{resume}/questions?page={number}")
    assert response.status_code == 200, response.text
    return str(response.text)


def save(
    client: TestClient,
    resume: str,
    number: int,
    answers: dict[str, Any],
    *,
    html: str | None = None,
    action: str = "next",
    **fields: str,
) -> Any:
    html = html or page_html(client, resume, number)
    data = helpers.with_answers(helpers.form_values(html), answers, action=action, **fields)
    return helpers.post_form(
        client, f"/r/{resume}/questions?page={number}", data, follow_redirects=False
    )


def answer_everything(client: TestClient, resume: str, value: str = "dont_know") -> None:
    number = 1
    while True:
        html = page_html(client, resume, number)
        qids = helpers.page_questions(html)
        result = save(client, resume, number, dict.fromkeys(qids, value), html=html)
        assert result.status_code == 303, result.text
        if result.headers["location"].endswith("/review"):
            return
        number += 1


def test_next_saves_and_moves_on_and_the_resume_link_returns_there(
    session: Session, survey_client: TestClient, resume: str
) -> None:
    html = page_html(survey_client, resume, 1)
    qids = helpers.page_questions(html)
    result = save(
        survey_client, resume, 1, {qids[0]: "goal_driven", qids[1]: "dont_know"}, html=html
    )
    assert result.status_code == 303
    assert result.headers["location"] == f"/r/{resume}/questions?page=2"
    response = stored(session)
    assert response.answers[qids[0]] == {"value": "goal_driven"}
    assert response.answers[qids[1]] == {"value": "dont_know"}
    assert response.version == 2
    assert response.resume_at == "collaboration.structure"  # page 2: the next instrument
    back = survey_client.get(f"/r/{resume}", follow_redirects=False)
    assert back.status_code == 303
    assert back.headers["location"] == f"/r/{resume}/questions?page=2"
    # every answer is in place when the page is opened again
    again = survey_client.get(f"/r/{resume}/questions?page=1")
    page = page_of(again)
    assert isinstance(page, QuestionPage)
    checked = {
        q.qid: [o.value for o in q.options + q.specials if o.checked] for q in page.questions
    }
    assert checked[qids[0]] == ["goal_driven"]
    assert checked[qids[1]] == ["dont_know"]


def test_notes_evidence_and_ticks_are_saved(
    session: Session, survey_client: TestClient, resume: str
) -> None:
    qid = "collaboration.rewrite"  # invites evidence, allows "not applicable"
    number = next(
        n
        for n in range(1, 10)
        if qid in helpers.page_questions(page_html(survey_client, resume, n))
    )
    result = save(
        survey_client,
        resume,
        number,
        {qid: "not_applicable"},
        **{
            f"n.{qid}": "We have no production yet.",
            f"ns.{qid}": "1",
            f"e.{qid}": "https://wiki.example.org/handover",
            f"eb.{qid}": "1",
        },
    )
    assert result.status_code == 303
    assert stored(session).answers[qid] == {
        "value": "not_applicable",
        "note": "We have no production yet.",
        "note_shareable": True,
        "evidence": "https://wiki.example.org/handover",
        "evidence_backed": True,
    }
    page = page_of(survey_client.get(f"/r/{resume}/questions?page={number}"))
    view = next(q for q in page.questions if q.qid == qid)
    assert view.note_shareable
    assert view.evidence_backed
    assert view.extras_open


def test_a_note_is_private_unless_ticked(
    session: Session, survey_client: TestClient, resume: str
) -> None:
    html = page_html(survey_client, resume, 1)
    qid = helpers.page_questions(html)[0]
    save(survey_client, resume, 1, {qid: "data_driven"}, html=html, **{f"n.{qid}": "A note"})
    assert stored(session).answers[qid] == {
        "value": "data_driven",
        "note": "A note",
        "note_shareable": False,
    }


def _unchanged(session: Session, before: Response) -> None:
    after = stored(session)
    assert after.answers == before.answers
    assert after.version == before.version


def test_an_option_that_is_not_in_the_question_is_refused_next_to_it(
    session: Session, survey_client: TestClient, resume: str
) -> None:
    html = page_html(survey_client, resume, 1)
    first, second = helpers.page_questions(html)[:2]
    before = stored(session)
    result = save(
        survey_client, resume, 1, {first: "goal_driven", second: "quantum_first"}, html=html
    )
    assert result.status_code == 400
    _unchanged(session, before)
    page = result.context["page"]
    assert isinstance(page, QuestionPage)
    errors = {q.qid: q.error for q in page.questions if q.error}
    assert list(errors) == [second]
    assert "'quantum_first' is not an option" in errors[second]
    # the rest of the page's answers are kept in the form
    assert [o.value for o in page.questions[0].options if o.checked] == ["goal_driven"]
    # the message sits next to the question, is announced, and the summary links to it
    doc = helpers.document(result.text)
    view = next(q for q in page.questions if q.qid == second)
    fieldset = doc.xpath(f"//*[@id='{view.dom_id}']//fieldset")[0]
    assert f"{view.dom_id}-error" in fieldset.get("aria-describedby").split()
    error = doc.xpath(f"//*[@id='{view.dom_id}-error']")[0]
    assert error.get("hidden") is None
    assert "not an option" in error.text_content()
    summary = doc.xpath("//*[@id='survey-errors']")[0]
    assert summary.get("role") == "alert"
    assert summary.xpath(".//a/@href") == [f"#{view.dom_id}"]
    assert doc.xpath("//title")[0].text_content().startswith("Error:")


def test_an_oversized_note_is_refused_and_the_page_is_kept(
    session: Session, survey_client: TestClient, resume: str
) -> None:
    html = page_html(survey_client, resume, 1)
    first, second = helpers.page_questions(html)[:2]
    before = stored(session)
    long_note = "x" * (MAX_NOTE_CHARS + 1)
    result = save(
        survey_client,
        resume,
        1,
        {first: "goal_driven", second: "model_first"},
        html=html,
        **{f"n.{second}": long_note},
    )
    assert result.status_code == 400
    _unchanged(session, before)
    page = result.context["page"]
    view = next(q for q in page.questions if q.qid == second)
    assert view.error == f"The note is longer than {MAX_NOTE_CHARS} characters."
    assert view.note == long_note
    assert [o.value for o in view.options if o.checked] == ["model_first"]


def test_a_bad_evidence_link_is_refused(
    session: Session, survey_client: TestClient, resume: str
) -> None:
    html = page_html(survey_client, resume, 1)
    qid = helpers.page_questions(html)[0]
    result = save(
        survey_client,
        resume,
        1,
        {qid: "goal_driven"},
        html=html,
        **{f"e.{qid}": "javascript:alert(1)"},
    )
    assert result.status_code == 400
    assert "http://" in result.context["page"].questions[0].error
    assert stored(session).answers == {}


def test_a_note_without_an_answer_asks_for_one(
    session: Session, survey_client: TestClient, resume: str
) -> None:
    html = page_html(survey_client, resume, 1)
    qid = helpers.page_questions(html)[0]
    result = save(survey_client, resume, 1, {}, html=html, **{f"n.{qid}": "a thought"})
    assert result.status_code == 400
    assert "to go with your note" in result.context["page"].questions[0].error


def test_an_answer_to_a_question_from_another_instrument_changes_nothing(
    session: Session, settings: Settings, survey_client: TestClient
) -> None:
    assessment_round = helpers.team_round(session, instruments=["trajectory", "collaboration"])
    resume = helpers.start(
        survey_client, helpers.invite(session, settings, assessment_round, "ml_engineer")
    )
    before = stored(session)
    html = page_html(survey_client, resume, 1)
    # a field for the handoff questionnaire, which this round does not include
    result = save(survey_client, resume, 1, {"handoff.registry": "registry_gate"}, html=html)
    assert result.status_code == 400
    assert "not on this page" in result.text
    # and one for a question of another page of the same survey
    result = save(survey_client, resume, 1, {"collaboration.rewrite": "dont_know"}, html=html)
    assert result.status_code == 400
    _unchanged(session, before)


def test_required_answers_missing_blocks_the_submit_with_a_list(
    session: Session, survey_client: TestClient, resume: str
) -> None:
    review = survey_client.get(f"/r/{resume}/review")
    page = page_of(review)
    assert isinstance(page, ReviewPage)
    required = helpers.quick_questions("data_scientist", required=True)
    assert len(page.required_missing) == required
    assert len(page.optional_missing) == helpers.quick_questions("data_scientist", required=False)
    assert page.required_missing[0].href.startswith(f"/r/{resume}/questions?page=")
    fields = helpers.form_values(review.text, form="//form[@class='survey-submit']")
    result = helpers.post_form(survey_client, f"/r/{resume}/submit", fields, follow_redirects=False)
    assert result.status_code == 400
    assert f"{required} required questions are still unanswered" in result.text
    assert stored(session).status == "draft"


def test_submit_once_then_read_only(
    session: Session, survey_client: TestClient, resume: str, quick_round: AssessmentRound
) -> None:
    answer_everything(survey_client, resume)
    review = survey_client.get(f"/r/{resume}/review")
    assert page_of(review).required_missing == ()
    fields = helpers.form_values(review.text, form="//form[@class='survey-submit']")
    first = helpers.post_form(survey_client, f"/r/{resume}/submit", fields, follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == f"/r/{resume}/done"
    submitted = stored(session)
    assert submitted.status == "submitted"
    assert submitted.submitted_at is not None
    # a team survey publishes its result once, at close: a submission stores no result
    # (one more submission must not change anything an insider can see)
    assert (
        session.exec(select(RoundResult).where(RoundResult.round_id == quick_round.id)).all() == []
    )
    # a double click, a resubmitted form, a replayed request: the same single submission
    for _ in range(3):
        again = helpers.post_form(
            survey_client, f"/r/{resume}/submit", fields, follow_redirects=False
        )
        assert again.status_code == 303
        assert again.headers["location"] == f"/r/{resume}/done"
    replayed = stored(session)
    assert replayed.submitted_at == submitted.submitted_at
    assert replayed.version == submitted.version
    # read-only: pages lead to the thank-you page, and an edit is refused
    assert (
        survey_client.get(f"/r/{resume}/questions?page=1", follow_redirects=False).headers[
            "location"
        ]
        == f"/r/{resume}/done"
    )
    done = survey_client.get(f"/r/{resume}/done")
    assert done.status_code == 200
    assert "your answers are in" in done.text
    edit = helpers.post_form(
        survey_client,
        f"/r/{resume}/questions?page=1",
        [
            ("csrf_token", helpers.csrf_of(review.text)),
            ("version", str(replayed.version)),
            ("a.trajectory.starting_point", "goal_driven"),
            ("action", "next"),
        ],
        follow_redirects=False,
    )
    assert edit.status_code == 409
    assert "can no longer be changed" in edit.text
    assert stored(session).answers == replayed.answers
    # a submit with another key after the submission is refused too
    other = [(n, "0" * 32 if n == "submission_key" else v) for n, v in fields]
    refused = helpers.post_form(survey_client, f"/r/{resume}/submit", other, follow_redirects=False)
    assert refused.status_code == 409


def test_a_stale_tab_gets_a_conflict_page_and_loses_nothing(
    session: Session, survey_client: TestClient, resume: str
) -> None:
    tab_a = page_html(survey_client, resume, 1)
    tab_b = page_html(survey_client, resume, 1)
    first, second = helpers.page_questions(tab_a)[:2]
    assert save(survey_client, resume, 1, {first: "goal_driven"}, html=tab_a).status_code == 303
    saved = stored(session)
    conflict = save(survey_client, resume, 1, {second: "parallel"}, html=tab_b)
    assert conflict.status_code == 409
    page = conflict.context["page"]
    assert isinstance(page, ConflictPage)
    by_qid = {c.qid: c for c in page.conflicts}
    assert set(by_qid) == {first, second}
    assert by_qid[first].saved.startswith("With a product goal")
    assert by_qid[first].yours == "No answer"
    assert not by_qid[first].keep_yours  # this tab did not touch it: keep the saved one
    assert by_qid[second].yours.startswith("Both at once")
    assert by_qid[second].keep_yours
    assert page.version == saved.version
    _unchanged(session, saved)
    # keep the proposed choices: both answers survive
    fields = helpers.form_values(conflict.text, form="//form[contains(@action, '/resolve')]")
    resolved = helpers.post_form(survey_client, page.form_action, fields, follow_redirects=False)
    assert resolved.status_code == 303
    answers = stored(session).answers
    assert answers[first] == {"value": "goal_driven"}
    assert answers[second] == {"value": "parallel"}


def test_a_stale_save_that_changes_nothing_is_accepted(
    session: Session, survey_client: TestClient, resume: str
) -> None:
    tab_a = page_html(survey_client, resume, 1)
    tab_b = page_html(survey_client, resume, 1)
    first = helpers.page_questions(tab_a)[0]
    save(survey_client, resume, 1, {first: "goal_driven"}, html=tab_a)
    same = save(survey_client, resume, 1, {first: "goal_driven"}, html=tab_b)
    assert same.status_code == 303


def test_autosave_answers_json_with_the_new_version(
    session: Session, survey_client: TestClient, resume: str
) -> None:
    html = page_html(survey_client, resume, 1)
    first, second = helpers.page_questions(html)[:2]
    fields = helpers.with_answers(
        helpers.form_values(html), {first: "data_driven"}, action="autosave"
    )
    saved = helpers.post_form(
        survey_client,
        f"/r/{resume}/questions?page=1",
        fields,
        headers={"accept": "application/json"},
    )
    assert saved.status_code == 200
    body = saved.json()
    assert body["saved"] is True
    assert body["version"] == 2
    assert body["answered"] == 1
    assert body["base"][first] == {"value": "data_driven"}
    assert stored(session).resume_at == "trajectory.origins"
    bad = helpers.with_answers(
        helpers.form_values(html), {second: "nope"}, action="autosave", version="2"
    )
    refused = helpers.post_form(survey_client, f"/r/{resume}/questions?page=1", bad)
    assert refused.status_code == 400
    assert list(refused.json()["errors"]) == [second]
    stale = helpers.post_form(
        survey_client,
        f"/r/{resume}/questions?page=1",
        helpers.with_answers(helpers.form_values(html), {second: "parallel"}, action="autosave"),
    )
    assert stale.status_code == 409
    assert stale.json()["conflict"] is True


def test_saving_needs_the_csrf_token(
    session: Session, survey_client: TestClient, resume: str
) -> None:
    html = page_html(survey_client, resume, 1)
    fields = [(n, v) for n, v in helpers.form_values(html) if n != "csrf_token"]
    assert (
        helpers.post_form(survey_client, f"/r/{resume}/questions?page=1", fields).status_code == 403
    )
    other = [*fields, ("csrf_token", "f" * 64)]
    assert (
        helpers.post_form(survey_client, f"/r/{resume}/questions?page=1", other).status_code == 403
    )


def test_the_role_can_be_corrected_and_the_questions_follow(
    session: Session, survey_client: TestClient, resume: str
) -> None:
    welcome = survey_client.get(f"/r/{resume}/welcome")
    before = page_of(welcome).questions
    changed = survey_client.post(
        f"/r/{resume}/role",
        data={"csrf_token": helpers.csrf_of(welcome.text), "role": "product_manager"},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    after = page_of(survey_client.get(f"/r/{resume}/welcome"))
    assert after.role == "product_manager"
    assert after.questions == helpers.quick_questions("product_manager") != before
    bad = survey_client.post(
        f"/r/{resume}/role", data={"csrf_token": helpers.csrf_of(welcome.text), "role": "ceo"}
    )
    assert bad.status_code == 400


def test_the_round_result_is_visible_to_respondents_only_when_allowed(
    session: Session,
    settings: Settings,
    survey_client: TestClient,
    quick_round: AssessmentRound,
    resume: str,
) -> None:
    answer_everything(survey_client, resume, value="dont_know")
    review = survey_client.get(f"/r/{resume}/review")
    fields = helpers.form_values(review.text, form="//form[@class='survey-submit']")
    helpers.post_form(survey_client, f"/r/{resume}/submit", fields)
    assert survey_client.get(f"/r/{resume}/results").status_code == 404
    assert page_of(survey_client.get(f"/r/{resume}/done")).results_url is None
    quick_round.respondents_see_results = True
    session.add(quick_round)
    session.flush()
    assert page_of(survey_client.get(f"/r/{resume}/done")).results_url == f"/r/{resume}/results"
    waiting = survey_client.get(f"/r/{resume}/results")
    assert waiting.status_code == 200
    assert not page_of(waiting).visible
    # nothing is published while the survey is open, and the respondent's own answers never
    # count for them: three more people besides them
    assert page_of(waiting).responses_needed == 3


def test_saving_is_throttled_per_resume_link(
    session: Session, settings: Settings, survey_client: TestClient, quick_round: AssessmentRound
) -> None:
    """Many respondents behind one address are counted apart: the limit is per link."""
    other = helpers.start(survey_client, helpers.invite(session, settings, quick_round, "other"))
    mine = page_html(survey_client, other, 1)
    fields = helpers.with_answers(helpers.form_values(mine), {}, action="autosave")
    statuses = [
        helpers.post_form(survey_client, f"/r/{other}/questions?page=1", fields).status_code
        for _ in range(61)
    ]
    assert statuses[:60] == [200] * 60
    assert statuses[60] == 429
    # another respondent on the same address saves as usual
    theirs = helpers.start(
        survey_client, helpers.invite(session, settings, quick_round, "ml_engineer")
    )
    html = page_html(survey_client, theirs, 1)
    fields = helpers.with_answers(helpers.form_values(html), {}, action="autosave")
    assert (
        helpers.post_form(survey_client, f"/r/{theirs}/questions?page=1", fields).status_code == 200
    )


def test_a_role_without_questions_is_told_so_and_cannot_submit(
    session: Session, settings: Settings, survey_client: TestClient
) -> None:
    # the handoff questionnaire asks data scientists and engineers (team leads optionally)
    assessment_round = helpers.team_round(session, instruments=["handoff"])
    resume = helpers.start(
        survey_client, helpers.invite(session, settings, assessment_round, "other")
    )
    welcome = survey_client.get(f"/r/{resume}")
    assert welcome.status_code == 200
    page = page_of(welcome)
    assert page.questions == 0
    assert page.continue_url is None
    assert "no questions for the role" in welcome.text
    review = survey_client.get(f"/r/{resume}/review")
    fields = helpers.form_values(review.text, form="//form[@class='survey-submit']")
    refused = helpers.post_form(survey_client, f"/r/{resume}/submit", fields)
    assert refused.status_code == 400
    assert stored(session).status == "draft"
