"""The swap test through the database and every view (issue 17): for fixed rounds, what the
lead obtains — the API's result JSON, the results page's typed context data, the roadmap and
debt-register CSV exports and the rendered report's text — is collected for the round as
answered and for the round with two responses' answers swapped; every response must have at
least k-1 others (none the viewer's own) it can be swapped with unnoticed.

The hypothesis test (tests/results/test_swap.py) covers many rounds over the rule's functions;
this one checks, on both databases, that the views add nothing those functions do not show.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.accounts import api_tokens
from app.config import Settings
from app.results.service import round_settings
from app.workspace import rounds
from tests import factories
from tests.workspace import helpers

Level = helpers.Level
VOLATILE = re.compile(
    r"\b(?:\d{4}-\d{2}-\d{2}[T ][\d:.+Z-]*|/teams/\d+(?:/rounds/\d+)?|round-\d+|Round \d+)"
)
# the per-response moments and ids of a stored result differ between any two rounds
VOLATILE_KEYS = frozenset({"computed_at", "rubric_versions", "id", "round_id", "team_id"})


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list | tuple):
        return [_stable(v) for v in value]
    if isinstance(value, str):
        return VOLATILE.sub("*", value)
    return value


def _obtained(
    client: TestClient,
    session: Session,
    settings: Settings,
    roles: tuple[str, ...],
    answers: tuple[dict[str, Any], ...],
    k: int,
) -> Any:
    """Everything a lead who did not answer obtains of a closed round answered so."""
    lead = helpers.lead(session, settings)
    assessment_round = helpers.team_round(session, lead.team, results_min=k)
    for role, given in zip(roles, answers, strict=True):
        factories.submitted_response(session, assessment_round, role, dict(given))
    rounds.close_round(session=session, assessment_round=assessment_round)
    created = api_tokens.create(session=session, settings=settings, user=lead.user, name="swap")
    session.commit()
    url = f"{lead.team_url}/rounds/{assessment_round.id}"
    bearer = {"authorization": f"Bearer {created.token}"}
    api = client.get(f"/api{url}/results", headers=bearer).json()
    page = client.get(f"{url}/results", headers=lead.headers)
    report = client.get(f"{url}/report.html", headers=lead.headers)
    exports = [
        client.get(f"{url}/{name}", headers=lead.headers).text
        for name in ("roadmap.csv", "debt-register.csv")
    ]
    assert page.status_code == report.status_code == 200
    return _stable(
        {
            "api": api["result"],
            "page": page.context["page"].data,  # type: ignore[attr-defined]
            "report": " ".join(helpers.document(report.text).text_content().split()),
            "exports": exports,
        }
    )


CASES = {
    # three per group but product and lead: no role group withheld beyond the pair
    "groups of three, a pair": (
        (
            ("data_scientist", "low"),
            ("data_scientist", "high"),
            ("data_scientist", "mid"),
            ("ml_engineer", "high"),
            ("software_engineer", "low"),
            ("ml_engineer", "mid"),
            ("product_manager", "low"),
            ("product_manager", "high"),
        ),
        3,
    ),
    # a lowered threshold: every role group withheld, team figures only
    "small team, k=2": (
        (
            ("data_scientist", "low"),
            ("ml_engineer", "high"),
            ("product_manager", "mid"),
        ),
        2,
    ),
}


@pytest.mark.parametrize(("responses", "k"), list(CASES.values()), ids=list(CASES))
def test_no_view_tells_a_response_from_k_minus_one_others(
    client: TestClient,
    session: Session,
    settings: Settings,
    responses: tuple[tuple[str, Level], ...],
    k: int,
) -> None:
    roles = tuple(role for role, _ in responses)
    plan = round_settings(helpers.team_round(session, helpers.lead(session, settings).team))
    answers = tuple(
        helpers.answers_for(plan, role, handoff=level, other=level) for role, level in responses
    )
    seen = _obtained(client, session, settings, roles, answers, k)
    assert seen["api"] is not None  # published: there is something to single out from

    cache: dict[frozenset[int], Any] = {}

    def swapped(a: int, b: int) -> Any:
        pair = frozenset((a, b))
        if pair not in cache:
            cache[pair] = _exchanged(a, b)
        return cache[pair]

    def _exchanged(a: int, b: int) -> Any:
        """The round with a and b exchanging their answers to the questions both were asked
        (handoff and debt questions are not asked of product managers)."""
        first, second = answers[a], answers[b]
        common = first.keys() & second.keys()
        changed = list(answers)
        changed[a] = {**first, **{q: second[q] for q in common}}
        changed[b] = {**second, **{q: first[q] for q in common}}
        return _obtained(client, session, settings, roles, tuple(changed), k)

    for r in range(len(responses)):
        alike = [s for s in range(len(responses)) if s != r and swapped(r, s) == seen]
        assert len(alike) >= k - 1, (r, alike)
