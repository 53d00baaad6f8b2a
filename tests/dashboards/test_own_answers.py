"""An organisation leader's own answers, given through a team survey's "answer" route, never
count for them in the organisation views: a team whose latest round rests on fewer than k
responses besides theirs is left out of their dashboard (page and API), their CSV exports and
their organisation report, and counted among the teams not shown. Another leader of the same
organisation, who did not answer there, still sees the team."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.config import Settings
from app.dashboards import queries, service, views
from app.db import utcnow
from app.models import (
    AssessmentRound,
    Organisation,
    Respondent,
    Response,
    ResponseStatus,
    Team,
    User,
    UserRole,
)
from app.reports import jobs
from app.results import visibility
from app.results.service import round_settings, store_round_result
from app.surveys.service import resume_token_hash
from app.workspace import rounds
from tests import factories
from tests.accounts import helpers as account_helpers
from tests.dashboards import helpers
from tests.repository import common as repository_common
from tests.workspace.helpers import answers_for, catalog

OTHERS = ("product_manager", "data_scientist", "ml_engineer")


@dataclass
class Leaders:
    organisation_id: int
    answered: dict[str, str]  # headers of the leader who answered in Kestrel and Lark
    other: dict[str, str]  # headers of a leader who answered nowhere
    answering_id: int


def _round_answered_by(
    session: Session,
    settings: Settings,
    team: Team,
    user_id: int,
    others: tuple[str, ...],
    *,
    results_min: int = 3,
    closed_at: datetime = helpers.Q3,
) -> AssessmentRound:
    """A closed team survey (k = ``results_min``) answered by ``user_id`` through its
    "answer" route and by ``others`` through their invitations, stored like a real round."""
    assessment_round = factories.assessment_round(
        session,
        catalog(),
        team,
        mode="team_survey",
        status="open",
        results_min=results_min,
        created_at=closed_at - timedelta(days=14),
        opened_at=closed_at - timedelta(days=14),
        title=f"{team.name} survey",
    )
    path = rounds.lead_response_path(
        session=session, settings=settings, assessment_round=assessment_round, user_id=user_id
    )
    own = session.exec(
        select(Response).where(
            Response.respondent_id
            == select(Respondent.id)
            .where(
                Respondent.resume_token_hash == resume_token_hash(settings, path.rsplit("/", 1)[-1])
            )
            .scalar_subquery()
        )
    ).one()
    survey = round_settings(assessment_round)
    own.answers = {qid: {"value": value} for qid, value in answers_for(survey, "team_lead").items()}
    own.status = ResponseStatus.submitted
    own.submitted_at = utcnow()
    session.add(own)
    for role in others:
        factories.submitted_response(session, assessment_round, role, answers_for(survey, role))
    assessment_round.status = "closed"
    assessment_round.closed_at = closed_at
    session.add(assessment_round)
    session.flush()
    store_round_result(session=session, assessment_round=assessment_round)
    return assessment_round


@pytest.fixture
def leaders(session: Session, settings: Settings) -> Leaders:
    """Two full teams, two pairs hidden to everyone (so no sibling needs hiding for them),
    Kestrel (3 responses, one of them the answering leader's) and Lark (4, one theirs)."""
    organisation = factories.organisation(session, name="Northwind")
    answering, answering_in = helpers.viewer(session, settings, organisation, UserRole.org_leader)
    _, other_in = helpers.viewer(session, settings, organisation, UserRole.org_leader)
    for name, roles in (
        ("Atlas", helpers.FULL_TEAM),
        ("Beacon", helpers.FULL_TEAM),
        ("Fjord", helpers.PAIR),
        ("Gorse", helpers.PAIR),
    ):
        team = helpers.team(session, organisation, name, None)
        helpers.closed_round(session, team, roles=roles, results_min=2 if len(roles) == 2 else 3)
    assert answering.id is not None
    kestrel = helpers.team(session, organisation, "Kestrel", None)
    _round_answered_by(session, settings, kestrel, answering.id, OTHERS[:2])
    lark = helpers.team(session, organisation, "Lark", None)
    _round_answered_by(session, settings, lark, answering.id, OTHERS)
    session.commit()
    assert organisation.id is not None
    return Leaders(
        organisation.id,
        {**answering_in.headers(), "accept": "text/html"},
        {**other_in.headers(), "accept": "text/html"},
        answering.id,
    )


def _dashboard_teams(client: TestClient, leaders: Leaders, headers: dict[str, str]) -> Any:
    response = client.get(f"/organisations/{leaders.organisation_id}/dashboard", headers=headers)
    assert response.status_code == 200, response.text[:500]
    page: views.DashboardPage = response.context["page"]  # type: ignore[attr-defined]
    teams = next(section for section in page.sections if section.id == "teams")
    return {row[0] for row in teams.table.rows}, page.hidden_reason


def test_the_dashboard_page_leaves_out_a_team_resting_on_the_viewers_own_answer(
    client: TestClient, leaders: Leaders
) -> None:
    seen, hidden = _dashboard_teams(client, leaders, leaders.answered)
    assert "Kestrel" not in seen  # 3 responses: only 2 besides the leader's own
    assert {"Atlas", "Beacon", "Lark"} <= seen  # Lark: 3 besides the leader's own
    assert hidden is not None
    assert hidden.startswith("3 teams not shown")
    other_seen, other_hidden = _dashboard_teams(client, leaders, leaders.other)
    assert {"Atlas", "Beacon", "Kestrel", "Lark"} <= other_seen
    assert other_hidden is not None
    assert other_hidden.startswith("2 teams not shown")
    # the cached dashboard of one leader is never the other's
    assert _dashboard_teams(client, leaders, leaders.answered)[0] == seen


def test_the_api_leaves_it_out_too(client: TestClient, leaders: Leaders) -> None:
    def teams(headers: dict[str, str]) -> tuple[set[str], int]:
        response = client.get(
            f"/api/organisations/{leaders.organisation_id}/dashboard",
            headers={**headers, "accept": "application/json"},
        )
        assert response.status_code == 200, response.text[:500]
        body = response.json()
        return {row[0] for row in body["views"]["teams"]["rows"]}, body["teams_shown"]

    seen, shown = teams(leaders.answered)
    assert "Kestrel" not in seen
    assert "Lark" in seen
    assert shown == 3
    other_seen, other_shown = teams(leaders.other)
    assert {"Kestrel", "Lark"} <= other_seen
    assert other_shown == 4


@pytest.mark.parametrize("dataset", ["scores", "roadmap"])
def test_the_csv_exports_leave_it_out(client: TestClient, leaders: Leaders, dataset: str) -> None:
    def teams(headers: dict[str, str]) -> set[str]:
        response = client.get(
            f"/organisations/{leaders.organisation_id}/exports/{dataset}.csv", headers=headers
        )
        assert response.status_code == 200, response.text[:500]
        return {row["team"] for row in csv.DictReader(io.StringIO(response.text))}

    seen = teams(leaders.answered)
    assert "Kestrel" not in seen
    assert "Lark" in seen
    assert {"Kestrel", "Lark"} <= teams(leaders.other)


@pytest.mark.parametrize("prefix", ["", "/api"])
def test_the_organisation_report_leaves_it_out(
    client: TestClient, leaders: Leaders, tmp_path: Path, prefix: str
) -> None:
    def text(headers: dict[str, str]) -> str:
        response = client.get(
            f"{prefix}/organisations/{leaders.organisation_id}/report.pdf", headers=headers
        )
        assert response.status_code == 200, response.text[:500]
        path = tmp_path / "report.pdf"
        path.write_bytes(response.content)
        return subprocess.run(
            ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
        ).stdout

    seen = text(leaders.answered)
    assert "Kestrel" not in seen
    assert "Lark" in seen
    assert "3 teams not shown" in seen
    other = text(leaders.other)
    assert "Kestrel" in other
    assert "Lark" in other


def test_a_cell_resting_on_the_viewers_own_answer_is_not_shown(
    client: TestClient, leaders: Leaders
) -> None:
    """In Lark, handoff and debt are answered by the lead, the data scientist and the engineer:
    3 respondents, but only 2 besides the answering leader's own."""

    def lark(headers: dict[str, str]) -> list[str]:
        response = client.get(
            f"/api/organisations/{leaders.organisation_id}/dashboard",
            headers={**headers, "accept": "application/json"},
        )
        assert response.status_code == 200, response.text[:500]
        rows = response.json()["views"]["teams"]["rows"]
        return [str(cell) for cell in next(row for row in rows if row[0] == "Lark")]

    assert service.HIDDEN_CELL in lark(leaders.answered)
    assert service.HIDDEN_CELL not in lark(leaders.other)


def test_an_organisation_report_job_is_only_its_creators(
    client: TestClient, session: Session, leaders: Leaders
) -> None:
    """A large organisation's report is made by a job for the viewer who asked (their own
    answers left out): another leader can neither follow nor download it."""
    job = jobs.create_job(
        session=session,
        organisation_id=leaders.organisation_id,
        user_id=leaders.answering_id,
        kind=jobs.ORGANISATION_REPORT,
    )
    session.commit()
    base = f"/organisations/{leaders.organisation_id}/report-exports/{job.id}"
    assert client.get(base, headers=leaders.answered).status_code == 200
    assert client.get(base, headers=leaders.other).status_code == 404
    download = client.get(f"{base}/download", headers=leaders.other, follow_redirects=False)
    assert download.status_code == 404
    api = f"/api/organisations/{leaders.organisation_id}/report-jobs/{job.id}"
    assert (
        client.get(api, headers={**leaders.other, "accept": "application/json"}).status_code == 404
    )


def _organisation_with_two_leaders(
    session: Session, settings: Settings
) -> tuple[int, User, account_helpers.SignedIn, User, account_helpers.SignedIn]:
    organisation = factories.organisation(session, name="Heronsgate")
    answering, answering_in = helpers.viewer(session, settings, organisation, UserRole.org_leader)
    other, other_in = helpers.viewer(session, settings, organisation, UserRole.org_leader)
    assert organisation.id is not None
    return organisation.id, answering, answering_in, other, other_in


def test_the_repository_contradictions_leave_out_a_round_resting_on_the_viewers_own_answer(
    client: TestClient, session: Session, settings: Settings
) -> None:
    """A round of threshold 2 under the organisation minimum of 3: the leader's own answer and
    two invited respondents. An organisation view counts it without the leader's own answer
    (two, fewer than 3), so the leader's count of repository contradictions leaves it out;
    another leader's counts it."""
    org_id, answering, answering_in, _, other_in = _organisation_with_two_leaders(session, settings)
    assert answering.id is not None
    team = helpers.team(session, session.get_one(Organisation, org_id), "Kestrel", None)
    checked = _round_answered_by(session, settings, team, answering.id, OTHERS[:2], results_min=2)
    checked.repository_signals = json.loads(
        (repository_common.GOLDEN / "notebooks_only.signals.json").read_text()
    )
    session.add(checked)
    session.commit()
    url = f"/organisations/{org_id}/repository-contradictions"

    def page(signed_in: account_helpers.SignedIn) -> str:
        response = client.get(url, headers=signed_in.headers())
        assert response.status_code == 200, response.text[:500]
        return " ".join(response.text.split())

    assert "Teams checked: 1." in page(other_in)
    mine = page(answering_in)
    assert "Teams checked: 1." not in mine
    assert "1 team with a signals file is left out" in mine


def test_an_older_round_resting_on_the_viewers_own_answer_leaves_the_trend(
    session: Session, settings: Settings
) -> None:
    """Kestrel's older round (threshold 3) holds the leader's own answer and two invited
    respondents; under an organisation minimum of 2 each of its cells has 2 respondents
    besides the leader's, but the round as a whole rests on fewer than max(3, 2) others: the
    trend over time leaves the whole round out for that leader, as the latest round would
    be. Another leader sees both quarters."""
    org_id, answering, _, other, _ = _organisation_with_two_leaders(session, settings)
    assert answering.id is not None
    assert other.id is not None
    team = helpers.team(session, session.get_one(Organisation, org_id), "Kestrel", None)
    _round_answered_by(
        session, settings, team, answering.id, OTHERS[:2], results_min=3, closed_at=helpers.Q2
    )
    helpers.closed_round(session, team, roles=helpers.FULL_TEAM, closed_at=helpers.Q3)
    session.commit()

    def trend(user_id: int) -> tuple[tuple[str, ...], tuple[service.UnitTrend, ...]]:
        built = service.dashboard(
            session=session,
            organisation_id=org_id,
            filters=service.Filters(),
            catalog=catalog(),
            minimum=2,
            viewer=visibility.SignedIn(user_id=user_id, settings=settings),
        )
        return built.trend_periods, built.unit_trend

    periods, _ = trend(other.id)
    assert periods == ("2026 Q2", "2026 Q3")
    mine, unit_trend = trend(answering.id)
    assert mine == ("2026 Q3",)
    assert all(row.period != "2026 Q2" for row in unit_trend)


def test_another_leader_is_never_shown_an_organisation_report_job_made_for_the_first(
    app: FastAPI, client: TestClient, session: Session, settings: Settings, leaders: Leaders
) -> None:
    """A large organisation's report is made by a job for the viewer who asked: while the
    first leader's is under way, a second leader asking for the report gets a job of their
    own, and nothing they get (the API's answer and its Location, the dashboard, the
    team-reports start) names the first leader's job."""
    app.state.settings = settings.model_copy(update={"org_report_job_teams": 1})
    first = jobs.create_job(
        session=session,
        organisation_id=leaders.organisation_id,
        user_id=leaders.answering_id,
        kind=jobs.ORGANISATION_REPORT,
    )
    session.commit()
    base = f"/organisations/{leaders.organisation_id}"
    second = client.get(
        f"/api{base}/report.pdf", headers={**leaders.other, "accept": "application/json"}
    )
    assert second.status_code == 202, second.text[:500]
    assert second.json()["id"] != first.id
    dashboard = client.get(f"{base}/dashboard", headers=leaders.other)
    started = client.post(f"{base}/report-exports", headers=leaders.other, follow_redirects=False)
    seen = (second.text, second.headers["location"], dashboard.text, started.headers["location"])
    named = (f"/report-jobs/{first.id}", f"/report-exports/{first.id}")
    assert not any(name in text for name in named for text in seen)


def test_a_leader_of_two_organisations_has_their_own_answers_left_out_in_each_one_alone(
    client: TestClient, session: Session, settings: Settings
) -> None:
    """One leader leads Northwind and Southwind and answered Kestrel's survey in Northwind
    and Wren's in Southwind (3 responses each, theirs among them). Each organisation's
    dashboard leaves out the team resting on their answer there, and only that one: Southwind's
    Kestrel, answered by others, still shows to them."""
    northwind = factories.organisation(session, name="Northwind")
    southwind = factories.organisation(session, name="Southwind")
    leader, leader_in = helpers.viewer(session, settings, northwind, UserRole.org_leader)
    account_helpers.assign(session, leader, southwind)
    someone, _ = helpers.viewer(session, settings, southwind, UserRole.org_leader)
    assert leader.id is not None
    assert someone.id is not None
    for organisation in (northwind, southwind):
        for name, roles in (
            ("Atlas", helpers.FULL_TEAM),
            ("Beacon", helpers.FULL_TEAM),
            ("Fjord", helpers.PAIR),
            ("Gorse", helpers.PAIR),
        ):
            team = helpers.team(session, organisation, name, None)
            helpers.closed_round(
                session, team, roles=roles, results_min=2 if len(roles) == 2 else 3
            )
    kestrel_north = helpers.team(session, northwind, "Kestrel", None)
    _round_answered_by(session, settings, kestrel_north, leader.id, OTHERS[:2])
    kestrel_south = helpers.team(session, southwind, "Kestrel", None)
    _round_answered_by(session, settings, kestrel_south, someone.id, OTHERS[:2])
    wren = helpers.team(session, southwind, "Wren", None)
    _round_answered_by(session, settings, wren, leader.id, OTHERS[:2])
    session.commit()
    headers = {**leader_in.headers(), "accept": "application/json"}

    def teams(organisation: Organisation) -> set[str]:
        response = client.get(f"/api/organisations/{organisation.id}/dashboard", headers=headers)
        assert response.status_code == 200, response.text[:500]
        return {row[0] for row in response.json()["views"]["teams"]["rows"]}

    north, south = teams(northwind), teams(southwind)
    assert "Kestrel" not in north
    assert {"Atlas", "Beacon"} <= north
    assert {"Atlas", "Beacon", "Kestrel"} <= south
    assert "Wren" not in south
    # the page and the CSV export of each follow the same rule
    page = client.get(
        f"/organisations/{southwind.id}/dashboard", headers={**headers, "accept": "text/html"}
    )
    assert page.status_code == 200
    shown: views.DashboardPage = page.context["page"]  # type: ignore[attr-defined]
    section = next(item for item in shown.sections if item.id == "teams")
    assert {row[0] for row in section.table.rows} == south
    exported = client.get(f"/organisations/{northwind.id}/exports/scores.csv", headers=headers)
    assert exported.status_code == 200
    assert "Kestrel" not in {row["team"] for row in csv.DictReader(io.StringIO(exported.text))}


def test_the_viewers_own_rounds_are_found_among_more_rounds_than_one_query_holds(
    session: Session, settings: Settings, leaders: Leaders
) -> None:
    """Every dashboard request finds the viewer's own rounds among all the organisation's
    summarised rounds: among 1,200 more round ids than the organisation has (several queries'
    worth on SQLite), the answering leader's two rounds are found, asked again as well (their
    derived links are kept), and none for a leader who answered nowhere; the rounds' rows
    are Kestrel's and Lark's."""
    round_ids = queries.summarised_round_ids(
        session=session, organisation_id=leaders.organisation_id
    )
    assert len(round_ids) == 6  # Atlas, Beacon, Fjord, Gorse, Kestrel and Lark
    asked = [*range(10**6, 10**6 + 1200), *round_ids]
    answered = {
        r.id
        for r in session.exec(select(AssessmentRound).where(col(AssessmentRound.id).in_(round_ids)))
        if r.title in ("Kestrel survey", "Lark survey")
    }
    for _ in range(2):
        found = visibility.own_rounds(session, settings, leaders.answering_id, asked)
        assert found == answered
    assert visibility.own_rounds(session, settings, leaders.answering_id + 1000, asked) == set()
    viewer = visibility.SignedIn(user_id=leaders.answering_id, settings=settings)
    own = service.own_of(session=session, viewer=viewer, organisation_id=leaders.organisation_id)
    assert own.rounds == answered
    assert {r.round_id for r in own.summarised} == answered
    assert len(own.results) == 2
