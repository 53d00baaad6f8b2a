"""The workspace pages through the app: contexts, forms, redirects, refusals and tenancy."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from app import catalog_store
from app.config import Settings
from app.db import utcnow
from app.models import (
    AdoptedPractice,
    AssessmentRound,
    AuditEvent,
    Invitation,
    RoundResult,
    Target,
)
from app.workspace import pages, results_page, round_pages
from tests import factories
from tests.workspace import helpers
from tests.workspace.test_results import older_catalog


def page_of(response: Any) -> Any:
    assert response.status_code in (200, 400, 409), response.text[:500]
    return response.context["page"]


def _form(**fields: str | list[str]) -> dict[str, str | list[str]]:
    values: dict[str, str | list[str]] = {
        "form_key": "key-1",
        "mode": "team_survey",
        "kind": "quick",
        "stage": "prototype",
        "instruments": ["trajectory", "collaboration", "handoff", "debt"],
        "roles": ["data_scientist", "ml_engineer"],
        "results_min": "3",
        "closes_on": (utcnow().date() + timedelta(days=10)).isoformat(),
        "title": "Spring check",
    }
    values.update(fields)
    return values


def follow(client: TestClient, response: Any, headers: dict[str, str]) -> Any:
    """The page a Post/Redirect/Get leads to (the session travels in the headers)."""
    assert response.status_code == 303, response.text[:500]
    return client.get(response.headers["location"], headers=headers)


def _rounds(session: Session) -> int:
    return session.exec(select(func.count()).select_from(AssessmentRound)).one()


# ---------------------------------------------------------------- home and team


def test_home_lists_the_teams_with_their_latest_round(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    home = page_of(client.get("/teams", headers=lead.headers))
    assert isinstance(home, pages.HomePage)
    card = home.groups[0].teams[0]
    assert card.name == "Search team"
    assert card.latest is None  # the page says "No round yet — start one"
    assessment_round = helpers.team_round(session, lead.team)
    helpers.submit(session, assessment_round, "data_scientist")
    session.commit()
    client.cookies.clear()
    response = client.get("/teams", headers=lead.headers)
    latest = page_of(response).groups[0].teams[0].latest
    assert latest.waiting == "Waiting for more responses — 1 so far (3 needed)"
    assert latest.headline is None
    assert "No round yet" not in response.text
    # a list of rounds shows a headline anyone who may look could see: three besides any one
    for role in ("ml_engineer", "product_manager", "software_engineer"):
        helpers.submit(session, assessment_round, role)
    session.commit()
    client.cookies.clear()
    latest = page_of(client.get("/teams", headers=lead.headers)).groups[0].teams[0].latest
    assert not latest.visible  # published once, when the round closes
    assert latest.waiting == "4 responses — results are published when the round closes"
    closed = client.post(
        f"{lead.team_url}/rounds/{assessment_round.id}/close",
        headers=lead.headers,
        follow_redirects=False,
    )
    assert closed.status_code == 303
    latest = page_of(client.get("/teams", headers=lead.headers)).groups[0].teams[0].latest
    assert latest.visible
    assert latest.headline is not None
    # read from the stored JSON by path, the same as reading the whole result
    stored = session.exec(
        select(RoundResult).where(RoundResult.round_id == assessment_round.id)
    ).one()
    expected = [
        (
            d["title"],
            f"{d['score']:.0f}",
            (d["band"] or {}).get("label") or f"Level {d.get('level')}",
        )
        for d in stored.computed["dimensions"].values()
    ]
    assert sorted((s.title, s.score, s.level) for s in latest.headline.scores) == sorted(expected)
    top = stored.computed["process_models"][0]
    assert latest.headline.model == (top["name"] if top["fit"] > 0 else None)
    assert latest.headline.trajectory == stored.computed["trajectory"]["label"]


def test_the_team_page_shows_rounds_targets_and_adoptions(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    helpers.team_round(session, lead.team, title="First")
    assert lead.team.id is not None
    session.add(Target(team_id=lead.team.id, dimension="debt", target_level="emerging"))
    session.add(AdoptedPractice(team_id=lead.team.id, practice_id="model_registry"))
    session.commit()
    team = page_of(client.get(lead.team_url, headers=lead.headers))
    assert isinstance(team, pages.TeamPage)
    assert [r.title for r in team.rounds] == ["First"]
    assert {t.dimension: t.current for t in team.targets}["debt"] == "emerging"
    assert [a.id for a in team.adopted] == ["model_registry"]


# ---------------------------------------------------------------- starting a round


def test_a_team_survey_is_started_and_its_links_are_shown_once(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    form = page_of(client.get(f"{lead.team_url}/rounds/new", headers=lead.headers))
    assert isinstance(form, round_pages.NewRoundPage)
    assert [o.value for o in form.modes if o.checked] == ["team_survey"]
    created = client.post(f"{lead.team_url}/rounds", data=_form(), headers=lead.headers)
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    page = page_of(created)
    assert isinstance(page, round_pages.RoundPage)
    assert [link.role for link in page.new_links] == ["data_scientist", "ml_engineer"]
    assert all(link.url.startswith(settings.base_url + "/i/") for link in page.new_links)
    assert page.title == "Spring check"
    # the links are not shown again, and the invitation opens the survey
    again = page_of(client.get(page.url, headers=lead.headers))
    assert again.new_links == ()
    assert [(link.role, link.status) for link in again.links] == [
        ("data_scientist", "active"),
        ("ml_engineer", "active"),
    ]
    link = page.new_links[0].url.removeprefix(settings.base_url)
    client.cookies.clear()
    assert client.get(link).status_code == 200
    actions = session.exec(select(AuditEvent.action)).all()
    assert actions.count("invitation.created") == 2
    assert "round.created" in actions


def test_a_repeated_submit_of_the_same_form_creates_one_round(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    first = client.post(f"{lead.team_url}/rounds", data=_form(), headers=lead.headers)
    assert first.status_code == 200
    again = client.post(
        f"{lead.team_url}/rounds", data=_form(), headers=lead.headers, follow_redirects=False
    )
    assert again.status_code == 303
    assert again.headers["location"].endswith("?notice=exists")
    assert _rounds(session) == 1


def test_a_solo_round_goes_straight_to_the_leads_survey(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    created = client.post(
        f"{lead.team_url}/rounds",
        data=_form(mode="solo", form_key="solo-1"),
        headers=lead.headers,
        follow_redirects=False,
    )
    assert created.status_code == 303
    survey = created.headers["location"]
    assert survey.startswith("/r/")
    assert client.get(survey).status_code == 200
    assessment_round = session.exec(select(AssessmentRound)).one()
    assert assessment_round.mode == "solo"
    assert assessment_round.closes_at is None  # the team-survey fields do not apply
    assert session.exec(select(func.count()).select_from(Invitation)).one() == 0


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"stage": ""}, "stage"),
        ({"mode": "everyone"}, "mode"),
        ({"instruments": []}, "instruments"),
        ({"roles": []}, "roles"),
        ({"closes_on": "someday"}, "closes_on"),
        ({"results_min": "1"}, "results_min"),
    ],
)
def test_bad_form_input_is_shown_next_to_its_field_and_creates_nothing(
    client: TestClient,
    session: Session,
    settings: Settings,
    fields: dict[str, Any],
    field: str,
) -> None:
    lead = helpers.lead(session, settings)
    response = client.post(f"{lead.team_url}/rounds", data=_form(**fields), headers=lead.headers)
    assert response.status_code == 400
    page = page_of(response)
    assert field in page.errors
    assert page.error_message
    assert _rounds(session) == 0
    document = helpers.document(response.text)
    assert document.xpath(f"//*[@id='error-{field}']")


# ---------------------------------------------------------------- managing a round


def _survey(client: TestClient, lead: helpers.Lead) -> round_pages.RoundPage:
    page: round_pages.RoundPage = page_of(
        client.post(f"{lead.team_url}/rounds", data=_form(), headers=lead.headers)
    )
    return page


def test_links_are_revoked_extended_and_replaced(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    page = _survey(client, lead)
    revoked = client.post(
        f"{page.url}/links/revoke",
        data={"role": "ml_engineer"},
        headers=lead.headers,
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    more = client.post(
        f"{page.url}/links/extend",
        data={"role": "data_scientist"},
        headers=lead.headers,
        follow_redirects=False,
    )
    states = {link.role: link for link in page_of(follow(client, more, lead.headers)).links}
    assert states["ml_engineer"].status == "revoked"
    assert states["data_scientist"].uses == "0 of 20 used"
    replaced = page_of(
        client.post(f"{page.url}/links", data={"roles": ["ml_engineer"]}, headers=lead.headers)
    )
    assert [link.role for link in replaced.new_links] == ["ml_engineer"]
    unknown = client.post(f"{page.url}/links", data={"roles": ["boss"]}, headers=lead.headers)
    assert unknown.status_code == 400
    assert page_of(unknown).error
    nothing = client.post(f"{page.url}/links/revoke", data={"role": "boss"}, headers=lead.headers)
    assert nothing.status_code == 400


def test_the_round_is_extended_and_closed(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    page = _survey(client, lead)
    later = (utcnow().date() + timedelta(days=30)).isoformat()
    extended = client.post(
        f"{page.url}/extend",
        data={"closes_on": later},
        headers=lead.headers,
        follow_redirects=False,
    )
    assert page_of(follow(client, extended, lead.headers)).closes_on == later
    before = session.exec(select(AssessmentRound)).one().closes_at
    for bad in ("", "yesterday", "1999-01-01"):
        refused = client.post(f"{page.url}/extend", data={"closes_on": bad}, headers=lead.headers)
        assert refused.status_code == 400
    session.expire_all()
    assert session.exec(select(AssessmentRound)).one().closes_at == before
    closed = client.post(f"{page.url}/close", headers=lead.headers, follow_redirects=False)
    assert page_of(follow(client, closed, lead.headers)).closed
    assert client.post(f"{page.url}/close", headers=lead.headers).status_code == 409


def test_the_lead_answers_too(client: TestClient, session: Session, settings: Settings) -> None:
    lead = helpers.lead(session, settings)
    page = _survey(client, lead)
    answered = client.post(f"{page.url}/answer", headers=lead.headers, follow_redirects=False)
    assert answered.status_code == 303
    assert answered.headers["location"].startswith("/r/")
    again = client.post(f"{page.url}/answer", headers=lead.headers, follow_redirects=False)
    assert again.headers["location"] == answered.headers["location"]
    round_page = page_of(client.get(page.url, headers=lead.headers))
    assert round_page.lead_started
    # one started response in the role: fewer than the threshold, so no count shows
    assert [(c.role, c.fewer_than_minimum) for c in round_page.role_counts] == [("team_lead", True)]


# ---------------------------------------------------------------- results


def test_results_wait_for_the_threshold_then_show_the_stored_result(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    assessment_round = helpers.team_round(session, lead.team)
    helpers.submit(session, assessment_round, "data_scientist", handoff="high")
    helpers.submit(session, assessment_round, "data_scientist", handoff="high")
    session.commit()
    url = f"{lead.team_url}/rounds/{assessment_round.id}"
    waiting = page_of(client.get(f"{url}/results", headers=lead.headers))
    assert isinstance(waiting, results_page.ResultsPage)
    assert not waiting.visible
    assert waiting.data is None
    assert waiting.waiting is not None
    assert "2 responses so far" in waiting.waiting
    # nothing to download yet: the downloads lead to the results page
    early = client.get(f"{url}/roadmap.csv", headers=lead.headers, follow_redirects=False)
    assert early.status_code == 303
    helpers.submit(session, assessment_round, "data_scientist", handoff="high")
    helpers.submit(session, assessment_round, "software_engineer", handoff="low")
    helpers.submit(session, assessment_round, "ml_engineer", handoff="low")
    helpers.submit(session, assessment_round, "ml_engineer", handoff="low")
    session.commit()
    # published once, at close; role groups of three show in the perception gaps
    closed = client.post(f"{url}/close", headers=lead.headers, follow_redirects=False)
    assert closed.status_code == 303
    response = client.get(f"{url}/results", headers=lead.headers)
    shown = page_of(response)
    stored = shown.data
    assert stored is not None
    assert stored["round"]["respondents"] == 6
    assert shown.recommendation.top.reasons
    assert shown.roadmap.now
    gaps = [g for g in shown.perception_gaps if g.dimension == "Handoff maturity"]
    assert {(g.lower_group, g.higher_group) for g in gaps} == {("Engineering", "Data science")}
    # the radar's table holds the chart's numbers, in its order
    figure = shown.radar.figure["data"][0]
    # (Plotly breaks long labels with <br>; the words are the same)
    assert [row.sub_dimension for row in shown.radar_rows] == [
        " ".join(label.replace("<br>", " ").split()) for label in figure["theta"][:-1]
    ]
    assert [row.score for row in shown.radar_rows] == [
        "–" if value is None else f"{value:.0f}" for value in figure["r"][:-1]
    ]
    document = helpers.document(response.text)
    assert document.xpath("//table[@id='perception-gaps']")
    assert document.xpath("//script[@type='application/json' and @id='chart-radar-figure']")
    assert not document.xpath("//script[not(@src) and not(@type='application/json')]")
    # every number opens to its explanation
    assert len(document.xpath("//details[contains(@class,'ws-explain')]")) > 20


def test_downloads_are_csv_and_json_attachments(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    assessment_round = helpers.team_round(session, lead.team, mode="solo")
    helpers.submit(session, assessment_round, "team_lead", other="low", handoff="low")
    session.commit()
    url = f"{lead.team_url}/rounds/{assessment_round.id}"
    roadmap = client.get(f"{url}/roadmap.csv", headers=lead.headers)
    assert roadmap.status_code == 200
    assert roadmap.headers["content-type"].startswith("text/csv")
    assert "attachment" in roadmap.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(roadmap.text)))
    assert rows[0]["bucket"] == "Now"
    assert all(not row[key].startswith(("=", "+", "-", "@")) for row in rows for key in row)
    debt = client.get(f"{url}/debt-register.json", headers=lead.headers)
    assert debt.headers["content-type"].startswith("application/json")
    assert isinstance(json.loads(debt.text), list)
    result = client.get(f"{url}/result.json", headers=lead.headers)
    assert "recommendation" in json.loads(result.text)


def test_marking_adopted_and_setting_a_target_change_the_results(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    assessment_round = helpers.team_round(session, lead.team, mode="solo", status="closed")
    helpers.submit(session, assessment_round, "team_lead", other="low", handoff="low")
    session.commit()
    results = f"{lead.team_url}/rounds/{assessment_round.id}/results"
    before = page_of(client.get(results, headers=lead.headers))
    practice = before.roadmap.now[0].practice.id
    assert before.roadmap.adopted == ()
    assert all(d.target is None for d in before.dimensions)

    adopted = client.post(
        f"{lead.team_url}/practices/{practice}/adopt",
        data={"return_to": results + "#roadmap"},
        headers=lead.headers,
        follow_redirects=False,
    )
    assert adopted.status_code == 303
    assert adopted.headers["location"] == results + "?notice=adopted#roadmap"
    targeted = client.post(
        f"{lead.team_url}/targets",
        data={"target.collaboration": "established", "target.handoff": "2", "return_to": results},
        headers=lead.headers,
        follow_redirects=False,
    )
    assert targeted.status_code == 303
    after = page_of(client.get(results + "?notice=targets", headers=lead.headers))
    assert [item.id for item in after.roadmap.adopted] == [practice]
    assert practice not in [view.practice.id for view in after.roadmap.now]
    targets = {d.id: d.target for d in after.dimensions}
    assert targets["collaboration"] is not None
    assert targets["collaboration"].label == "Established"
    assert 0 <= targets["collaboration"].percent <= 100
    assert targets["handoff"].label == "Level 2"
    assert after.notice
    assert "Targets saved" in after.notice

    undone = client.post(
        f"{lead.team_url}/practices/{practice}/unadopt",
        headers=lead.headers,
        follow_redirects=False,
    )
    assert undone.headers["location"] == f"{lead.team_url}?notice=unadopted"


def test_bad_actions_change_nothing(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    unknown = client.post(f"{lead.team_url}/practices/perpetual_motion/adopt", headers=lead.headers)
    assert unknown.status_code == 400
    bad_target = client.post(
        f"{lead.team_url}/targets", data={"target.debt": "heroic"}, headers=lead.headers
    )
    assert bad_target.status_code == 400
    empty = client.post(f"{lead.team_url}/targets", data={}, headers=lead.headers)
    assert empty.status_code == 400
    assert session.exec(select(func.count()).select_from(Target)).one() == 0
    assert session.exec(select(func.count()).select_from(AdoptedPractice)).one() == 0
    # a return address outside the team is not followed
    elsewhere = client.post(
        f"{lead.team_url}/practices/model_registry/adopt",
        data={"return_to": "https://evil.example/"},
        headers=lead.headers,
        follow_redirects=False,
    )
    assert elsewhere.headers["location"] == f"{lead.team_url}?notice=adopted"


def test_rescoring_from_the_results_page(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    versions = catalog_store.register_catalog(
        session=session, catalog=older_catalog(helpers.catalog())
    )
    assessment_round = helpers.team_round(
        session, lead.team, mode="solo", kind="full", rubric_versions=versions
    )
    helpers.submit(session, assessment_round, "team_lead")
    session.commit()
    url = f"{lead.team_url}/rounds/{assessment_round.id}"
    original = page_of(client.get(f"{url}/results", headers=lead.headers))
    assert original.upgrade is not None
    assert not original.upgrade.rescored
    rescored = client.post(f"{url}/rescore", headers=lead.headers, follow_redirects=False)
    assert rescored.status_code == 303
    location = rescored.headers["location"]
    assert "?result=rescored-" in location
    page = page_of(client.get(location, headers=lead.headers))
    assert page.label.startswith("rescored-")
    assert page.result_title.startswith("Rescored under rubric")
    assert [link.label for link in page.results] == ["original", page.label]
    assert not page.can_act
    assert (
        client.get(f"{url}/results?result=rescored-nope", headers=lead.headers).status_code == 404
    )


def test_another_organisations_team_and_round_are_404(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    other = factories.team(session, factories.organisation(session, "Other Org"), name="Hidden")
    hidden_round = helpers.team_round(session, other, mode="solo")
    helpers.submit(session, hidden_round, "team_lead")
    session.commit()
    base = f"/teams/{other.id}"
    mine = f"/teams/{lead.team.id}/rounds/{hidden_round.id}"
    for path in (base, f"{base}/rounds/new", f"{base}/rounds/{hidden_round.id}/results", mine):
        assert client.get(path, headers=lead.headers).status_code == 404
    for path in (
        f"{base}/rounds/{hidden_round.id}/close",
        f"{base}/targets",
        f"{base}/practices/model_registry/adopt",
        f"{mine}/close",
    ):
        assert client.post(path, headers=lead.headers).status_code == 404
    session.refresh(hidden_round)
    assert hidden_round.status == "open"


def test_a_round_below_its_threshold_never_shows_through_the_next_rounds_chart(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead = helpers.lead(session, settings)
    small = helpers.team_round(session, lead.team, status="closed", title="Too few")
    helpers.submit(session, small, "data_scientist")
    helpers.submit(session, small, "ml_engineer")
    later = helpers.team_round(session, lead.team, mode="solo", title="Later")
    later.created_at = small.created_at + timedelta(days=30)
    session.add(later)
    helpers.submit(session, later, "team_lead")
    session.commit()
    page = page_of(client.get(f"{lead.team_url}/rounds/{later.id}/results", headers=lead.headers))
    assert page.visible
    assert not page.radar_has_previous
    assert len(page.radar.figure["data"]) == 1
