"""Score one respondent: per-dimension and per-sub-dimension scores with coverage and reasons.

Formulas (docs/scoring.md): a question answered with an option of score s (0-4) and weight w
adds 100·w·s / (4·W) points to its dimension, where W is the total weight of the answered,
expected questions of that dimension. Coverage is W over the weight of every expected question
asked (not-applicable answers excluded). "Don't know" is left out of the score, lowers coverage
and is listed as a knowledge gap; questions not expected at the round's stage are "later".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.rubric.answers import Answer, RoundSettings, asked_questions
from app.rubric.loader import Catalog
from app.rubric.rules import DONT_KNOW, NOT_APPLICABLE, evaluate
from app.rubric.schema import SCALE_MAX, Instrument, Question, Role


@dataclass(frozen=True, slots=True)
class Contribution:
    """How much one answer adds to a dimension score (`points` of at most `max_points`)."""

    question: str
    sub_dimension: str
    answer: str
    score: int
    weight: float
    points: float
    max_points: float


@dataclass(frozen=True, slots=True)
class SubScore:
    score: float | None
    coverage: float


@dataclass(frozen=True, slots=True)
class DimensionScore:
    """One respondent's (or a team's) score on one scored instrument."""

    dimension: str
    score: float | None
    coverage: float
    band: str | None
    sub_dimensions: Mapping[str, SubScore]
    contributions: tuple[Contribution, ...]
    knowledge_gaps: tuple[str, ...] = ()
    later: tuple[str, ...] = ()
    unanswered: tuple[str, ...] = ()
    not_applicable: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ResponseScore:
    """Everything scored from one respondent's own answers."""

    role: Role
    dimensions: Mapping[str, DimensionScore]
    asked: tuple[str, ...]
    hidden: frozenset[str]
    real_answers: int
    evidence_backed: int
    answers: Mapping[str, Answer] = field(repr=False)


def visible(
    catalog: Catalog,
    settings: RoundSettings,
    questions: list[tuple[Instrument, Question, bool]],
    values: Mapping[str, Any],
) -> frozenset[str]:
    """Questions hidden by their display condition. An unknown condition shows the question."""
    hidden: set[str] = set()
    lookup = catalog.lookup(values, stage=settings.stage)
    for instrument, question, _required in questions:
        if question.show_if is not None:
            qid = f"{instrument.id}.{question.id}"
            if evaluate(question.show_if, lookup).is_false:
                hidden.add(qid)
    return frozenset(hidden)


def score_response(
    catalog: Catalog, settings: RoundSettings, role: Role, answers: Mapping[str, Answer]
) -> ResponseScore:
    """Score one respondent's answers against the catalog version they answered."""
    questions = asked_questions(catalog, settings, role)
    values = {qid: answer.value for qid, answer in answers.items()}
    hidden = visible(catalog, settings, questions, values)
    by_instrument: dict[str, list[tuple[Question, bool]]] = {}
    for instrument, question, required in questions:
        if f"{instrument.id}.{question.id}" not in hidden:
            by_instrument.setdefault(instrument.id, []).append((question, required))
    dimensions = {}
    for instrument_id, asked in by_instrument.items():
        instrument = catalog.instruments[instrument_id]
        if instrument.scored:
            dimensions[instrument_id] = score_dimension(
                instrument, asked, answers, stage=settings.stage
            )
    real = [answer for qid, answer in answers.items() if qid not in hidden and answer.is_real]
    return ResponseScore(
        role=role,
        dimensions=dimensions,
        asked=tuple(
            f"{i.id}.{q.id}" for i, q, _ in questions if f"{i.id}.{q.id}" not in hidden
        ),
        hidden=hidden,
        real_answers=len(real),
        evidence_backed=sum(1 for answer in real if answer.evidence_backed),
        answers=answers,
    )


def score_dimension(
    instrument: Instrument,
    asked: list[tuple[Question, bool]],
    answers: Mapping[str, Answer],
    *,
    stage: str,
) -> DimensionScore:
    expected_weight = 0.0
    scored: list[tuple[Question, str, int]] = []
    gaps, later, unanswered, not_applicable = [], [], [], []
    sub_expected: dict[str, float] = {}
    for question, required in asked:
        if question.type != "ordinal":
            continue
        qid = f"{instrument.id}.{question.id}"
        answer = answers.get(qid)
        if stage not in question.stages:
            later.append(qid)
            continue
        if answer is None:
            if required:
                unanswered.append(qid)
                expected_weight += question.weight
                _add(sub_expected, question, question.weight)
            continue
        if answer.value == NOT_APPLICABLE:
            not_applicable.append(qid)
            continue
        expected_weight += question.weight
        _add(sub_expected, question, question.weight)
        if answer.value == DONT_KNOW:
            gaps.append(qid)
            continue
        option = question.option(answer.value)
        if option is None or option.score is None:
            continue  # validated earlier; a stale option counts as unanswered
        scored.append((question, option.id, option.score))
    answered_weight = sum(question.weight for question, _, _ in scored)
    contributions = tuple(
        Contribution(
            question=f"{instrument.id}.{question.id}",
            sub_dimension=question.sub_dimension or "",
            answer=option_id,
            score=score,
            weight=question.weight,
            points=100 * question.weight * score / (SCALE_MAX * answered_weight),
            max_points=100 * question.weight / answered_weight,
        )
        for question, option_id, score in scored
    )
    score = sum(c.points for c in contributions) if contributions else None
    subs = {}
    for sub in instrument.sub_dimensions:
        parts = [c for c in contributions if c.sub_dimension == sub.id]
        weight = sum(c.weight for c in parts)
        subs[sub.id] = SubScore(
            score=(
                100 * sum(c.weight * c.score for c in parts) / (SCALE_MAX * weight)
                if parts
                else None
            ),
            coverage=weight / sub_expected[sub.id] if sub_expected.get(sub.id) else 0.0,
        )
    return DimensionScore(
        dimension=instrument.id,
        score=score,
        coverage=answered_weight / expected_weight if expected_weight else 0.0,
        band=band_for(instrument, score),
        sub_dimensions=subs,
        contributions=contributions,
        knowledge_gaps=tuple(gaps),
        later=tuple(later),
        unanswered=tuple(unanswered),
        not_applicable=tuple(not_applicable),
    )


def _add(totals: dict[str, float], question: Question, weight: float) -> None:
    key = question.sub_dimension or ""
    totals[key] = totals.get(key, 0.0) + weight


def band_for(instrument: Instrument, score: float | None) -> str | None:
    """The named band whose threshold the score reaches (bands ascend from 0)."""
    if score is None or not instrument.bands:
        return None
    band = instrument.bands[0].id
    for candidate in instrument.bands:
        if score + 1e-9 >= candidate.min_score:
            band = candidate.id
    return band
