"""Helpers for the workspace tests: a signed-in team lead with a team, rounds with submitted
responses whose answers are chosen per role, and reading pages."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Literal

import lxml.html
from sqlmodel import Session

from app.config import QUESTIONNAIRES_DIR, Settings
from app.models import AssessmentRound, Organisation, Response, Team, User, UserRole
from app.results.service import round_settings, store_round_result
from app.rubric.answers import RoundSettings, asked_questions
from app.rubric.loader import Catalog, load_catalog
from app.rubric.schema import Question
from tests import factories
from tests.accounts import helpers as account_helpers

Level = Literal["low", "mid", "high"]


@functools.cache
def catalog() -> Catalog:
    return load_catalog(QUESTIONNAIRES_DIR)


def pick(question: Question, level: Level) -> Any:
    """An answer to ``question``: for ordered options the lowest, middle or highest score;
    the first option of unordered ones (so a team's nominal answers agree)."""
    if question.type == "ordinal":
        scored = sorted(
            (o for o in question.options if o.score is not None), key=lambda o: o.score or 0
        )
        index = {"low": 0, "mid": len(scored) // 2, "high": len(scored) - 1}[level]
        return scored[index].id
    if question.type == "single":
        return question.options[0].id
    if question.type == "multi":
        return [question.options[0].id]
    if question.type == "number":
        return question.minimum if question.minimum is not None else 1
    return "Written answer"


def answers_for(
    settings: RoundSettings, role: str, *, handoff: Level = "mid", other: Level = "mid"
) -> dict[str, Any]:
    """Answers to every question ``role`` is asked (optional ones too): handoff questions at
    ``handoff``, the others at ``other``."""
    return {
        item.qid: pick(item.question, handoff if item.instrument.id == "handoff" else other)
        for item in asked_questions(catalog(), settings, role)  # type: ignore[arg-type]
    }


@dataclasses.dataclass
class Lead:
    """A team lead of one team, signed in; ``headers`` carry the session and CSRF token."""

    user: User
    organisation: Organisation
    team: Team
    signed_in: account_helpers.SignedIn

    @property
    def headers(self) -> dict[str, str]:
        return self.signed_in.headers()

    @property
    def team_url(self) -> str:
        return f"/teams/{self.team.id}"


def lead(session: Session, settings: Settings, *, name: str = "Search team") -> Lead:
    organisation = factories.organisation(session, name=f"{name} Org")
    team = factories.team(session, organisation, name=name)
    user = account_helpers.user(session, UserRole.team_lead, name="Tess Lead")
    account_helpers.assign(session, user, organisation, team)
    signed_in = account_helpers.sign_in(session, settings, user)
    session.commit()
    return Lead(user=user, organisation=organisation, team=team, signed_in=signed_in)


def team_round(session: Session, team: Team, **fields: Any) -> AssessmentRound:
    values: dict[str, Any] = {
        "mode": "team_survey",
        "kind": "quick",
        "stage": "productionising",
        "instruments": ["trajectory", "collaboration", "handoff", "debt"],
        "title": "Round 1",
    } | fields
    return factories.assessment_round(session, catalog(), team, **values)


def submit(
    session: Session,
    assessment_round: AssessmentRound,
    role: str,
    *,
    handoff: Level = "mid",
    other: Level = "mid",
    store: bool = True,
) -> Response:
    """A submitted response of ``role`` with chosen answers; the stored result follows."""
    answers = answers_for(round_settings(assessment_round), role, handoff=handoff, other=other)
    response = factories.submitted_response(session, assessment_round, role, answers)
    if store:
        store_round_result(session=session, assessment_round=assessment_round)
    return response


def document(html: str) -> Any:
    return lxml.html.fromstring(html)


def texts(html: str, xpath: str) -> list[str]:
    return [" ".join(node.text_content().split()) for node in document(html).xpath(xpath)]
