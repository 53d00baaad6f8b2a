"""One time estimate from one function (app.surveys.estimate): the round form, the lead's
round page and the welcome page state the same figure for the same round, and the form names
one figure for the chosen mode (no more "15 minutes per person (15 if you answer alone)")."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.config import Settings
from app.models import AssessmentRound
from app.rubric.answers import RoundSettings
from app.surveys import estimate
from app.workspace import round_pages
from tests.workspace import helpers
from tests.workspace.test_routes import _form, page_of


def _minutes(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"[Aa]bout (\d+) minutes", text)]


@pytest.mark.parametrize(("mode", "stage"), [("solo", "operating"), ("team_survey", "exploration")])
def test_the_round_form_the_round_page_and_the_welcome_page_state_the_same_time(
    client: TestClient, session: Session, settings: Settings, mode: str, stage: str
) -> None:
    lead = helpers.lead(session, settings)
    fields = {"mode": mode, "stage": stage, "kind": "quick", "title": "x" * 300}
    # the form as shown for these choices (sent back: the title is too long)
    form = page_of(
        client.post(f"{lead.team_url}/rounds", data=_form(**fields), headers=lead.headers)
    )
    assert isinstance(form, round_pages.NewRoundPage)
    (quick,) = [option for option in form.kinds if option.value == "quick"]
    (on_form,) = _minutes(quick.hint)
    assert ("per person" in quick.hint) == (mode == "team_survey")
    assert "if you answer alone" not in quick.hint  # the mode is chosen: one figure

    fields["title"] = "Check"
    created = client.post(f"{lead.team_url}/rounds", data=_form(**fields), headers=lead.headers)
    assessment_round = session.exec(select(AssessmentRound)).one()
    round_page = page_of(
        client.get(f"{lead.team_url}/rounds/{assessment_round.id}", headers=lead.headers)
    )
    assert isinstance(round_page, round_pages.RoundPage)
    assert round_page.minutes == on_form
    assert set(_minutes(client.get(round_page.url, headers=lead.headers).text)) == {on_form}

    if mode == "solo":
        welcome = client.get(created.url, headers=lead.headers)  # the lead's own survey
    else:
        link = page_of(created).new_links[0].url.removeprefix(settings.base_url)
        client.cookies.clear()
        welcome = client.get(link)
    assert welcome.status_code == 200
    assert welcome.context["page"].minutes == on_form  # type: ignore[attr-defined]
    assert _minutes(welcome.text) == [on_form]


def test_the_wording_names_both_figures_only_when_they_differ() -> None:
    same = estimate.KindEstimate(solo=5, per_person=5)
    assert same.text("solo") == "About 5 minutes."
    assert same.text("team_survey") == "About 5 minutes per person."
    assert same.text(None) == "About 5 minutes, alone or per person."
    differ = estimate.KindEstimate(solo=7, per_person=6)
    assert differ.text(None) == "About 6 minutes per person; about 7 minutes if you answer alone."


def test_the_quick_check_and_the_full_assessment_take_what_the_product_brief_says() -> None:
    catalog = helpers.catalog()
    quick = RoundSettings(stage="operating", kind="quick", mode="team_survey")
    full = RoundSettings(stage="operating", kind="full", mode="team_survey")
    assert estimate.round_minutes(catalog, quick) == 5
    assert estimate.round_minutes(catalog, full) == 15


def test_the_home_page_states_the_same_times(client: TestClient) -> None:
    text = " ".join(client.get("/").text.split())
    assert "The full assessment takes about 15 minutes; the quick check about 5." in text
