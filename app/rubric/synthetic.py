"""Plausible synthetic answers, for the demo organisation, `processlens seed` and benchmarks.

A respondent is drawn from a team profile: a maturity between 0 and 1 sets where ordinal answers
centre, a role bias lets data scientists and engineers see the team differently (the
disagreement ProcessLens exists to show), and a small share of answers is "don't know".
Everything is driven by the caller's `random.Random`, so a seed reproduces the same data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from app.rubric.answers import RoundSettings, asked_questions
from app.rubric.loader import Catalog
from app.rubric.rules import DONT_KNOW, NOT_APPLICABLE, evaluate
from app.rubric.schema import SCALE_MAX, Question, Role

ROLE_BIAS: dict[str, float] = {
    # Engineers tend to rate handoff and debt practices lower than data scientists do.
    "data_scientist": 0.12,
    "ml_engineer": -0.08,
    "software_engineer": -0.12,
    "product_manager": 0.05,
    "team_lead": 0.08,
    "other": 0.0,
}


@dataclass(frozen=True)
class TeamProfile:
    """How a synthetic team tends to answer."""

    maturity: float  # 0..1
    nominal: dict[str, str] = field(default_factory=dict)  # fixed answers to nominal questions
    dont_know_rate: float = 0.05
    spread: float = 0.18  # how far individuals stray from the team's maturity


def random_profile(catalog: Catalog, rng: random.Random) -> TeamProfile:
    """A team with its own maturity and a consistent set of nominal (trajectory) answers."""
    nominal = {}
    for qid, ref in catalog.questions.items():
        if ref.question.type == "single":
            nominal[qid] = rng.choice(ref.question.option_ids)
    return TeamProfile(
        maturity=rng.betavariate(2.2, 2.2),
        nominal=nominal,
        dont_know_rate=rng.choice([0.0, 0.03, 0.06, 0.1]),
    )


def synthetic_answers(
    catalog: Catalog,
    settings: RoundSettings,
    role: Role,
    profile: TeamProfile,
    rng: random.Random,
    *,
    with_notes: bool = False,
) -> dict[str, dict[str, Any]]:
    """One respondent's answers in stored form ({qid: {"value": ...}}), display conditions
    applied in survey order so hidden questions stay unanswered."""
    values: dict[str, Any] = {}
    stored: dict[str, dict[str, Any]] = {}
    personal = min(
        1.0, max(0.0, rng.gauss(profile.maturity + ROLE_BIAS.get(role, 0.0), profile.spread))
    )
    for asked in asked_questions(catalog, settings, role):
        question, qid = asked.question, asked.qid
        if question.show_if is not None:
            lookup = catalog.lookup(values, stage=settings.stage)
            if evaluate(question.show_if, lookup).is_false:
                continue
        if not asked.required and rng.random() < 0.5:
            continue
        value = _answer(question, qid, personal, profile, rng)
        if value is None:
            continue
        values[qid] = value
        entry: dict[str, Any] = {"value": value}
        if question.evidence and value not in (DONT_KNOW, NOT_APPLICABLE) and rng.random() < 0.25:
            entry["evidence_backed"] = True
        if with_notes and rng.random() < 0.04:
            entry["note"] = rng.choice(NOTES)
            entry["note_shareable"] = rng.random() < 0.5
        stored[qid] = entry
    return stored


def _answer(
    question: Question, qid: str, maturity: float, profile: TeamProfile, rng: random.Random
) -> Any:
    if question.allow_dont_know and rng.random() < profile.dont_know_rate:
        return DONT_KNOW
    if question.type == "ordinal":
        if question.allow_na and rng.random() < 0.03:
            return NOT_APPLICABLE
        target = SCALE_MAX * min(1.0, max(0.0, rng.gauss(maturity, 0.15)))
        return min(question.options, key=lambda o: (abs((o.score or 0) - target), rng.random())).id
    if question.type == "single":
        fixed = profile.nominal.get(qid)
        if fixed is not None and rng.random() < 0.85:
            return fixed
        return rng.choice(question.option_ids)
    if question.type == "multi":
        chosen = [o for o in question.option_ids if rng.random() < 0.4]
        return chosen
    if question.type == "number":
        low = question.minimum if question.minimum is not None else 0.0
        high = question.maximum if question.maximum is not None else low + 100
        return round(rng.uniform(low, min(high, low + 50)))
    return None  # free-text comments stay empty in synthetic data


NOTES = (
    "We discussed this in the last retro; opinions differ.",
    "Depends on the project - the recommender is better than the forecasting work.",
    "Our CI runs this, see the pipeline config.",
    "Not sure the whole team knows about this.",
)
