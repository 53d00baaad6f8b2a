"""Disputed answers on the results page and in the team report (Rubric 2026.2, class 4): a
level resting on a disputed answer shows its range and is never "certain", aggregates use the
lower bound and say so, every disputed question is listed in one notice, and all of it shows
only within the anonymity rule (dispute marks are role-group figures)."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.config import Settings
from app.db import utcnow
from app.models import AssessmentRound, Invitation, Respondent
from app.workspace import results_page, rounds
from tests.workspace import helpers

RANGE = re.compile(r"level \d–\d, disputed")


def split_round(
    session: Session, lead: helpers.Lead, *, engineers: int, results_min: int = 3
) -> AssessmentRound:
    """Data scientists who answer every handoff question at the top, engineers at the bottom."""
    assessment_round = helpers.team_round(session, lead.team, kind="full", results_min=results_min)
    people = [("data_scientist", "high")] * 3 + [("ml_engineer", "low")] * engineers
    links: dict[str, int] = {}
    for role, level in people:
        response = helpers.submit(session, assessment_round, role, handoff=level, store=False)  # type: ignore[arg-type]
        # answered through an invitation link: a respondent who does not see the results
        respondent = session.get(Respondent, response.respondent_id)
        assert respondent is not None
        respondent.invitation_id = links.get(role) or invitation(session, assessment_round, role)
        links[role] = respondent.invitation_id
        session.add(respondent)
    rounds.close_round(session=session, assessment_round=assessment_round)
    session.commit()
    return assessment_round


def invitation(session: Session, assessment_round: AssessmentRound, role: str) -> int:
    assert assessment_round.id is not None
    link = Invitation(
        round_id=assessment_round.id,
        role=role,  # type: ignore[arg-type]
        token_hash=secrets.token_hex(32),
        expires_at=utcnow() + timedelta(days=7),
    )
    session.add(link)
    session.flush()
    assert link.id is not None
    return link.id


def get(
    client: TestClient, lead: helpers.Lead, assessment_round: AssessmentRound, path: str
) -> Any:
    response = client.get(
        f"{lead.team_url}/rounds/{assessment_round.id}/{path}", headers=lead.headers
    )
    assert response.status_code == 200, response.text[:500]
    return response


def test_a_split_team_sees_level_ranges_and_one_notice_of_disputed_answers(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    assessment_round = split_round(session, lead, engineers=3)
    response = get(client, lead, assessment_round, "results")
    page = response.context["page"]
    assert isinstance(page, results_page.ResultsPage)
    assert page.disputes is not None
    assert len(page.disputes.answers) >= 2
    assert page.handoff_label is not None
    assert RANGE.fullmatch(page.handoff_label)
    assert page.disputes.level is not None
    assert "lower bound" in page.disputes.level
    ranged = [a for a in page.artifacts if "disputed" in a.label]
    assert ranged
    assert not any(a.certain for a in ranged)
    html = response.text
    # one compact notice, the details a click away; no box per disputed question
    assert len(helpers.document(html).xpath("//*[contains(@class, 'ws-disputes')]")) == 1
    assert "Disputed answer to" not in html
    boxes = helpers.document(html).xpath("//div[contains(@class, 'alert')]")
    assert len(boxes) <= 1 + len([w for w in page.warnings])
    summary = " ".join(helpers.texts(html, "//section[@id='summary']"))
    assert RANGE.search(summary)
    assert "lower bound" in summary

    # the full report (with all answers): the concise one has no Appendix A
    report = get(client, lead, assessment_round, "report.html?full=1").text
    text = " ".join(helpers.texts(report, "//body"))
    assert RANGE.search(text), "the report shows the overall range"
    assert "Where the team’s answers differ" in text
    assert "lower bound" in text
    # Appendix A marks each disputed answer with both ends of its range
    marked = helpers.document(report).xpath("//td/span[@class='flag'][text()='disputed']")
    assert len(marked) == len(page.disputes.answers)


def test_ranges_and_dispute_marks_stay_hidden_when_a_role_group_is_withheld(
    client: TestClient, session: Session, settings: Settings
) -> None:
    """Two engineers are too few to be a role group: their answers must not be readable from a
    range or a dispute mark, on the page or in the report."""
    lead = helpers.lead(session, settings)
    assessment_round = split_round(session, lead, engineers=2, results_min=2)
    response = get(client, lead, assessment_round, "results")
    page = response.context["page"]
    assert page.visible
    assert page.disputes is None or not page.disputes.answers
    assert page.handoff_label is not None
    assert "disputed" not in page.handoff_label
    assert not any("disputed" in a.label for a in page.artifacts)
    for html in (response.text, get(client, lead, assessment_round, "report.html").text):
        text = " ".join(helpers.texts(html, "//body"))
        assert not re.search(r"\d–\d, disputed", text)
        assert "disputed between role groups" not in text
        assert "Where the team" not in text
        assert not helpers.document(html).xpath("//td/span[@class='flag'][text()='disputed']")


def test_a_respondent_who_may_see_results_sees_the_same_range(
    session: Session, settings: Settings
) -> None:
    """The respondents' own results page (when the lead lets them see results) reads the level
    through the same rule: a range where role groups may be shown, the bottom alone where not."""
    from sqlmodel import select

    from app.models import Response
    from app.results.reads import shown_result
    from app.results.visibility import Viewer
    from app.surveys import pages as survey_pages

    lead = helpers.lead(session, settings)
    # the viewer is an engineer: their group, less their own answer, must still hold 3
    for engineers, ranged in ((4, True), (2, False)):
        assessment_round = split_round(session, lead, engineers=engineers, results_min=2)
        own = session.exec(
            select(Response.id)
            .join(Respondent)
            .where(Respondent.round_id == assessment_round.id)
            .order_by(Response.id.desc())  # type: ignore[union-attr]
        ).first()
        result = shown_result(session, assessment_round, viewer=Viewer(own))
        page = survey_pages.results_page(survey=None, result=result, base_url="/r/x")  # type: ignore[arg-type]
        assert page.handoff_level is not None
        assert bool(re.fullmatch(r"Level \d–\d, disputed", page.handoff_level)) is ranged, (
            page.handoff_level
        )
        if not ranged:
            assert re.fullmatch(r"Level \d", page.handoff_level)
