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

from app.rubric.answers import Answer, AskedQuestion, RoundSettings, asked_questions
from app.rubric.loader import Catalog
from app.rubric.rules import DONT_KNOW, NOT_APPLICABLE, evaluate
from app.rubric.schema import SCALE_MAX, Instrument, Question, Role


@dataclass(slots=True)
class Contribution:
    """How much one answer adds to a dimension score (`points` of at most `max_points`).

    Treat it as immutable, like the other results here. It is not declared frozen only for
    speed: scoring makes one per scored answer (~40 per full response, thousands of
    responses a second), and a frozen dataclass's ``__init__`` (``object.__setattr__`` per
    field) costs about 2 us against 0.55 us, which was a fifth of the scoring benchmark.
    """

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
    questions: tuple[AskedQuestion, ...],
    values: Mapping[str, Any],
) -> frozenset[str]:
    """Questions hidden by their display condition. An unknown condition shows the question."""
    hidden: set[str] = set()
    lookup = catalog.lookup(values, stage=settings.stage)
    for asked in questions:
        if asked.question.show_if is not None and evaluate(asked.question.show_if, lookup).is_false:
            hidden.add(asked.qid)
    return frozenset(hidden)


def score_response(
    catalog: Catalog, settings: RoundSettings, role: Role, answers: Mapping[str, Answer]
) -> ResponseScore:
    """Score one respondent's answers against the catalog version they answered."""
    # every stage's questions, so those not expected at this one are listed as "later"
    questions = asked_questions(catalog, settings, role, all_stages=True)
    values = {qid: answer.value for qid, answer in answers.items()}
    hidden = visible(catalog, settings, questions, values)
    by_instrument: dict[str, list[tuple[Question, bool]]] = {}
    for asked in questions:
        if asked.qid not in hidden:
            by_instrument.setdefault(asked.instrument.id, []).append(
                (asked.question, asked.required)
            )
    dimensions = {}
    for instrument_id, asked_here in by_instrument.items():
        instrument = catalog.instruments[instrument_id]
        if instrument.scored:
            dimensions[instrument_id] = score_dimension(
                instrument, asked_here, answers, stage=settings.stage
            )
    real = [answer for qid, answer in answers.items() if qid not in hidden and answer.is_real]
    return ResponseScore(
        role=role,
        dimensions=dimensions,
        # answers a file or the API gave to questions not expected yet still reach the rules
        asked=tuple(asked.qid for asked in questions if asked.qid not in hidden),
        hidden=hidden,
        real_answers=len(real),
        evidence_backed=sum(1 for answer in real if answer.evidence_backed),
        answers=answers,
    )


# long: one lean pass over the questions, run for every stored response
def score_dimension(
    instrument: Instrument,
    asked: list[tuple[Question, bool]],
    answers: Mapping[str, Answer],
    *,
    stage: str,
) -> DimensionScore:
    # One pass over the questions: this runs for every stored response, so it stays lean.
    expected_weight = answered_weight = weighted_sum = 0.0
    scored: list[tuple[Question, str, int]] = []
    gaps, later, unanswered, not_applicable = [], [], [], []
    sub_expected: dict[str, float] = {}
    sub_answered: dict[str, float] = {}
    sub_sum: dict[str, float] = {}
    prefix = instrument.id + "."
    for question, required in asked:
        if question.type != "ordinal":
            continue
        qid = prefix + question.id
        if stage not in question.stages:
            later.append(qid)
            continue
        answer = answers.get(qid)
        weight = question.weight
        sub = question.sub_dimension or ""
        if answer is None:
            if required:
                unanswered.append(qid)
                expected_weight += weight
                sub_expected[sub] = sub_expected.get(sub, 0.0) + weight
            continue
        value = answer.value
        if value == NOT_APPLICABLE:
            not_applicable.append(qid)
            continue
        expected_weight += weight
        sub_expected[sub] = sub_expected.get(sub, 0.0) + weight
        if value == DONT_KNOW:
            gaps.append(qid)
            continue
        option = question.option(value)
        if option is None or option.score is None:
            continue  # validated earlier; a stale option counts as unanswered
        scored.append((question, option.id, option.score))
        answered_weight += weight
        weighted_sum += weight * option.score
        sub_answered[sub] = sub_answered.get(sub, 0.0) + weight
        sub_sum[sub] = sub_sum.get(sub, 0.0) + weight * option.score
    if scored:
        scale = 100 / (SCALE_MAX * answered_weight)
        contributions = tuple(
            Contribution(
                question=prefix + question.id,
                sub_dimension=question.sub_dimension or "",
                answer=option_id,
                score=score,
                weight=question.weight,
                points=scale * question.weight * score,
                max_points=scale * SCALE_MAX * question.weight,
            )
            for question, option_id, score in scored
        )
        score_value: float | None = scale * weighted_sum
    else:
        contributions, score_value = (), None
    subs = {
        sub.id: SubScore(
            score=(
                100 * sub_sum[sub.id] / (SCALE_MAX * sub_answered[sub.id])
                if sub_answered.get(sub.id)
                else None
            ),
            coverage=(
                sub_answered.get(sub.id, 0.0) / sub_expected[sub.id]
                if sub_expected.get(sub.id)
                else 0.0
            ),
        )
        for sub in instrument.sub_dimensions
    }
    return DimensionScore(
        dimension=instrument.id,
        score=score_value,
        coverage=answered_weight / expected_weight if expected_weight else 0.0,
        band=band_for(instrument, score_value),
        sub_dimensions=subs,
        contributions=contributions,
        knowledge_gaps=tuple(gaps),
        later=tuple(later),
        unanswered=tuple(unanswered),
        not_applicable=tuple(not_applicable),
    )


def band_for(instrument: Instrument, score: float | None) -> str | None:
    """The named band whose threshold the score reaches (bands ascend from 0)."""
    if score is None or not instrument.bands:
        return None
    band = instrument.bands[0].id
    for candidate in instrument.bands:
        if score + 1e-9 >= candidate.min_score:
            band = candidate.id
    return band
