"""The organisation's count of repository contradictions: per question across teams, only
teams whose result the viewer may see, never another tenant's."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.models import RoundResult, RoundStatus
from app.rubric.output import to_data
from tests import factories
from tests.repository import common
from tests.repository.test_api import world
from tests.surveys import helpers as survey_helpers

__all__ = ["world"]  # the fixture, shared with the API tests

TIDY = json.loads((common.GOLDEN / "tidy_package.signals.json").read_text())
NOTEBOOKS = json.loads((common.GOLDEN / "notebooks_only.signals.json").read_text())


def _rows(html: str) -> dict[str, list[str]]:
    document = survey_helpers.document(html)
    return {
        row.get("data-question"): [cell.text_content() for cell in row.xpath("./td")]
        for row in document.xpath("//tr[@data-question]")
    }


def test_the_dashboard_counts_contradictions_of_visible_teams_only(
    client: TestClient, world: dict[str, Any], session: Session
) -> None:
    alpha, bravo = world["alpha"], world["bravo"]
    url = f"/organisations/{alpha.team.organisation_id}/repository-contradictions"
    consultant = world["consultant"].headers()
    empty = client.get(url, headers=consultant)
    assert empty.status_code == 200
    assert "No team whose results you may see" in empty.text

    for tenant in (alpha, bravo):
        # the notebooks-only repository contradicts four of the team's answers (its golden table)
        tenant.round.repository_signals = NOTEBOOKS
        tenant.round.status = RoundStatus.closed
        session.add(tenant.round)
    # a second Alpha team, surveyed but without enough responses: its result never shows,
    # so its repository check stays out of the counts
    hidden = factories.assessment_round(
        session, common.catalog(), alpha.other_team, mode="team_survey", status="closed"
    )
    hidden.repository_signals = TIDY
    assert hidden.id is not None
    session.add(
        RoundResult(
            round_id=hidden.id,
            computed=to_data(common.catalog(), common.assessment()),
            respondent_count=1,
            rubric_versions=hidden.rubric_versions,
            final=True,
        )
    )
    session.commit()
    shown = client.get(url, headers=consultant)
    assert shown.status_code == 200
    rows = _rows(shown.text)
    assert rows, shown.text[:2000]
    # one team checked: each question it speaks to counts once, in one verdict
    assert all(sum(int(n) for n in counts) == 1 for counts in rows.values())
    table = json.loads((common.GOLDEN / "notebooks_only.table.json").read_text())
    contradicted = sorted(qid for qid, verdict, _ in table if verdict == "contradicts")
    assert len(contradicted) == 4
    assert sorted(qid for qid, counts in rows.items() if counts[0] == "1") == contradicted
    assert sorted(list(rows)[:4]) == contradicted  # most contradicted first
    assert "Teams checked: 1." in shown.text
    assert "1 team with a signals file is left out" in " ".join(shown.text.split())
    dashboard = client.get(
        f"/organisations/{alpha.team.organisation_id}/dashboard", headers=consultant
    )
    assert "/repository-contradictions" in dashboard.text

    # another tenant's consultant gets a 404, not Alpha's counts
    other = client.get(url, headers=world["bravo_consultant"].headers())
    assert other.status_code == 404
