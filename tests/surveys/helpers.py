"""Helpers for survey tests: rounds with invitation links, and reading the survey's forms."""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import urlencode

import lxml.html
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.config import QUESTIONNAIRES_DIR, Settings
from app.models import AssessmentRound
from app.rubric.answers import RoundSettings, asked_questions
from app.rubric.loader import Catalog, load_catalog
from app.surveys import invitations
from tests import factories

INSTRUMENT_ORDER = ["trajectory", "collaboration", "handoff", "debt"]


@functools.cache
def catalog() -> Catalog:
    return load_catalog(QUESTIONNAIRES_DIR)


def team_round(session: Session, **fields: Any) -> AssessmentRound:
    """An open team-survey round over the four instruments (trajectory first)."""
    values: dict[str, Any] = {
        "mode": "team_survey",
        "kind": "full",
        # every question is expected in operation, so every page and question is there
        "stage": "operating",
        "instruments": INSTRUMENT_ORDER,
    } | fields
    return factories.assessment_round(session, catalog(), **values)


def quick_questions(role: str, *, required: bool | None = None) -> int:
    """How many questions a quick team survey of `team_round` asks of `role` (all of them, or
    only the required or optional ones), read from the rubric so the tests follow it."""
    settings = RoundSettings(stage="operating", kind="quick", mode="team_survey")
    asked = asked_questions(catalog(), settings, role)  # type: ignore[arg-type]
    return len([q for q in asked if required is None or q.required == required])


def invite(
    session: Session, settings: Settings, assessment_round: AssessmentRound, role: str, **kw: Any
) -> str:
    return invitations.create_invitation(
        session=session, settings=settings, assessment_round=assessment_round, role=role, **kw
    ).token


def document(html: str) -> Any:
    return lxml.html.fromstring(html)


def csrf_of(html: str) -> str:
    values = document(html).xpath("//input[@name='csrf_token']/@value")
    assert values, "the page has no CSRF field"
    return str(values[0])


def form_values(html: str, *, form: str = "//form[@data-autosave]") -> list[tuple[str, str]]:
    """What a browser would send for the form as rendered (no button pressed)."""
    node = document(html).xpath(form)[0]
    fields: list[tuple[str, str]] = []
    for element in node.xpath(".//input|.//textarea|.//select"):
        name = element.get("name")
        if not name:
            continue
        kind = (element.get("type") or "text").lower()
        if element.tag == "textarea":
            fields.append((name, element.text or ""))
        elif element.tag == "select":
            chosen = element.xpath(".//option[@selected]/@value") or element.xpath(
                ".//option/@value"
            )
            fields.append((name, chosen[0]))
        elif kind in ("radio", "checkbox"):
            if element.get("checked") is not None:
                fields.append((name, element.get("value", "on")))
        elif kind not in ("submit", "button"):
            fields.append((name, element.get("value", "")))
    return fields


def with_answers(
    fields: list[tuple[str, str]], answers: dict[str, str | list[str]], **extra: str
) -> list[tuple[str, str]]:
    """``fields`` with the answers of some questions (``a.<qid>``) replaced."""
    names = {f"a.{qid}" for qid in answers}
    kept = [(n, v) for n, v in fields if n not in names and n not in extra]
    for qid, value in answers.items():
        for item in [value] if isinstance(value, str) else value:
            kept.append((f"a.{qid}", item))
    kept.extend(extra.items())
    return kept


def start(client: TestClient, invitation_token: str, role: str | None = None) -> str:
    """Open an invitation link and press Start; returns the new resume token."""
    welcome = client.get(f"/i/{invitation_token}")
    assert welcome.status_code == 200, welcome.text
    data = {"csrf_token": csrf_of(welcome.text)}
    if role:
        data["role"] = role
    started = client.post(f"/i/{invitation_token}", data=data, follow_redirects=False)
    assert started.status_code == 303, started.text
    match = re.fullmatch(r"/r/([A-Za-z0-9_-]+)", started.headers["location"])
    assert match, started.headers["location"]
    return match.group(1)


def page_questions(html: str) -> list[str]:
    return [str(q) for q in document(html).xpath("//*[@data-qid]/@data-qid")]


def post_form(client: TestClient, url: str, fields: list[tuple[str, str]], **kwargs: Any) -> Any:
    """POST a form with repeated field names (checkboxes), as a browser sends it."""
    headers = {"content-type": "application/x-www-form-urlencoded"} | kwargs.pop("headers", {})
    return client.post(url, content=urlencode(fields), headers=headers, **kwargs)
