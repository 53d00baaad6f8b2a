"""From respondents to a team: consensus answers, team scores, spreads and perception gaps.

A dimension's team score is the mean of respondents' scores. Categorical results use consensus
answers, by each question's consensus mode: the lower median option of ordinal questions (an
ordinal split is marked disputed, with its range), the most frequent option of nominal ones, or
the most serious option anyone gave for stakes-like questions; a tie, or a majority of "don't
know", gives unknown (docs/scoring.md, "Team aggregation").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import mean
from typing import Any

from app.rubric import anonymity
from app.rubric.answers import Answer
from app.rubric.loader import Catalog
from app.rubric.rules import DONT_KNOW, NOT_APPLICABLE
from app.rubric.schema import ROLE_GROUPS, SCALE_MAX, Question, Role
from app.rubric.scoring import (
    Contribution,
    DimensionScore,
    ResponseScore,
    SubScore,
    band_for,
)

QUESTION_GAP_STEPS = 1.0  # role groups one option step apart on a question
DIMENSION_GAP_POINTS = 20.0  # or 20 points apart on a dimension


@dataclass(frozen=True, slots=True)
class Respondent:
    id: str
    role: Role
    answers: Mapping[str, Answer]


@dataclass(frozen=True, slots=True)
class Spread:
    """How a team answered one question: counts per answer and whether they disagree."""

    question: str
    counts: Mapping[str, int]
    consensus: Any
    disagreement: bool
    disputed: bool = False
    high: Any = None  # the top of a disputed answer's range (`consensus` is its bottom)
    mode: str | None = None  # the question's consensus mode


@dataclass(frozen=True, slots=True)
class PerceptionGap:
    kind: str  # question | dimension
    subject: str  # question id or dimension id
    dimension: str
    groups: tuple[str, str]  # (lower, higher)
    values: tuple[float, float]  # mean option step (question) or mean score (dimension)
    size: float  # on the 0-100 scale, for ranking


def role_group(role: str) -> str | None:
    return next((group for group, roles in ROLE_GROUPS.items() if role in roles), None)


@dataclass(frozen=True, slots=True)
class Consensus:
    """A team's answer to one question.

    `disputed` marks an ordinal split (role groups two or more option steps apart, or no
    majority side); `high` is then the top of the answer's range (`value` is its bottom).
    """

    value: Any
    disagreement: bool
    disputed: bool = False
    high: Any = None
    mode: str | None = None


def consensus_value(question: Question, votes: Sequence[Any]) -> tuple[Any, bool]:
    """The team's answer to one question and whether respondents disagree."""
    result = consensus_of(question, [(None, vote) for vote in votes])
    return result.value, result.disagreement


def consensus_of(question: Question, votes: Sequence[tuple[str | None, Any]]) -> Consensus:
    """The team's answer from (role group, answer) votes, by the question's consensus mode."""
    mode = question.consensus_mode
    if not votes:
        return Consensus(None, False, mode=mode)
    values = [vote for _group, vote in votes]
    counts = Counter(_key(vote) for vote in values)
    real = [(group, v) for group, v in votes if v not in (DONT_KNOW, NOT_APPLICABLE)]
    if mode == "most_serious" and real:
        # the most serious answer any respondent gave counts; the others are shown beside it
        position = {option_id: index for index, option_id in enumerate(question.option_ids)}
        answers = {v for _group, v in real}
        worst = max(answers, key=lambda v: position[v])
        return Consensus(worst, len(answers) > 1 or len(real) < len(votes), mode=mode)
    if counts[DONT_KNOW] * 2 > len(values):
        return Consensus(DONT_KNOW, False, mode=mode)
    if counts[NOT_APPLICABLE] * 2 > len(values):
        return Consensus(NOT_APPLICABLE, False, mode=mode)
    if not real:
        return Consensus(DONT_KNOW if counts[DONT_KNOW] else NOT_APPLICABLE, False, mode=mode)
    plain = [v for _group, v in real]
    if question.type == "ordinal" and mode == "lower_median":
        return _ordinal_consensus(question, real)
    if question.type == "number":
        ordered_numbers = sorted(plain)
        middle = ordered_numbers[(len(ordered_numbers) - 1) // 2]
        return Consensus(middle, len(set(plain)) > 1, mode=mode)
    if question.type == "multi":
        chosen = Counter(option for vote in plain for option in vote)
        majority = [o for o in question.option_ids if chosen[o] * 2 > len(plain)]
        split = any(0 < chosen[o] < len(plain) for o in question.option_ids)
        return Consensus(majority, split, mode=mode)
    if question.type in ("single", "ordinal"):
        ranked = Counter(plain).most_common()
        if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
            return Consensus(DONT_KNOW, True, mode=mode)  # a tie is unknown, never a coin toss
        return Consensus(ranked[0][0], len(ranked) > 1, mode=mode)
    return Consensus(None, False, mode=mode)


def _ordinal_consensus(question: Question, real: Sequence[tuple[str | None, Any]]) -> Consensus:
    """The lower median option, marked disputed when the team is split: role groups whose own
    lower medians are two or more steps apart, or as many answers above the median as at or
    below it (no majority side)."""
    steps = _steps(question)
    scores = {option.id: option.score or 0 for option in question.options}
    rank = {option_id: (scores[option_id], index) for index, option_id in enumerate(steps)}
    ordered = sorted((v for _group, v in real), key=lambda v: rank[v])
    n = len(ordered)
    low = ordered[(n - 1) // 2]
    high = ordered[n // 2]
    spread = steps[ordered[-1]] - steps[ordered[0]]
    by_group: dict[str, list[Any]] = {}
    for group, value in real:
        if group is not None:
            by_group.setdefault(group, []).append(value)
    medians = [
        sorted(vals, key=lambda v: rank[v])[(len(vals) - 1) // 2] for vals in by_group.values()
    ]
    groups_apart = bool(medians) and (
        max(steps[m] for m in medians) - min(steps[m] for m in medians) >= 2
    )
    at_or_below = sum(1 for v in ordered if steps[v] <= steps[low])
    no_majority = steps[high] != steps[low] and at_or_below * 2 == n
    disputed = groups_apart or no_majority
    if not disputed:
        return Consensus(low, spread >= 2, mode="lower_median", high=low)
    top = max([high, *medians], key=lambda v: rank[v])
    return Consensus(low, True, disputed=True, high=top, mode="lower_median")


def _key(vote: Any) -> Any:
    return tuple(vote) if isinstance(vote, list) else vote


def _steps(question: Question) -> dict[str, int]:
    """Each ordinal option's step: its rank among the distinct scores of the question."""
    distinct = sorted({option.score or 0 for option in question.options})
    return {option.id: distinct.index(option.score or 0) for option in question.options}


def consensus_answers(
    catalog: Catalog, respondents: Sequence[Respondent], scores: Sequence[ResponseScore]
) -> tuple[dict[str, Any], dict[str, Spread]]:
    """Consensus values for every question anyone was asked, with the spread of answers."""
    votes: dict[str, list[tuple[str | None, Any]]] = {}
    for respondent, score in zip(respondents, scores, strict=True):
        group = role_group(respondent.role)
        for qid in score.asked:
            answer = respondent.answers.get(qid)
            if answer is not None:
                votes.setdefault(qid, []).append((group, answer.value))
    values: dict[str, Any] = {}
    spreads: dict[str, Spread] = {}
    for qid in sorted(votes):
        question = catalog.questions[qid].question
        if question.type == "text":
            continue
        result = consensus_of(question, votes[qid])
        value = result.value
        if value is None:
            continue
        values[qid] = value
        counts = Counter(
            option
            for _group, vote in votes[qid]
            for option in (vote if isinstance(vote, list) else [vote])
        )
        spreads[qid] = Spread(
            question=qid,
            counts={str(key): counts[key] for key in sorted(counts, key=str)},
            consensus=value,
            disagreement=result.disagreement,
            disputed=result.disputed,
            high=result.high if result.disputed else None,
            mode=result.mode,
        )
    return values, spreads


def team_dimension(
    catalog: Catalog, dimension: str, scores: Sequence[ResponseScore]
) -> DimensionScore | None:
    """The mean of respondents' scores; each answer's contribution is its mean contribution."""
    parts = [s.dimensions[dimension] for s in scores if dimension in s.dimensions]
    if not parts:
        return None
    instrument = catalog.instruments[dimension]
    scored = [part for part in parts if part.score is not None]
    n = len(scored)
    team_score = mean(part.score for part in scored if part.score is not None) if scored else None
    merged: dict[str, list[Contribution]] = {}
    for part in scored:
        for contribution in part.contributions:
            merged.setdefault(contribution.question, []).append(contribution)
    contributions = tuple(
        Contribution(
            question=qid,
            sub_dimension=items[0].sub_dimension,
            answer=",".join(sorted({c.answer for c in items})),
            score=round(mean(c.score for c in items)),
            weight=items[0].weight,
            points=sum(c.points for c in items) / n,
            max_points=sum(c.max_points for c in items) / n,
        )
        for qid, items in merged.items()
    )
    subs = {}
    for sub in instrument.sub_dimensions:
        values = [p.sub_dimensions[sub.id] for p in parts if sub.id in p.sub_dimensions]
        known = [v.score for v in values if v.score is not None]
        subs[sub.id] = SubScore(
            score=mean(known) if known else None,
            coverage=mean(v.coverage for v in values) if values else 0.0,
        )
    return DimensionScore(
        dimension=dimension,
        score=team_score,
        coverage=mean(part.coverage for part in parts),
        band=band_for(instrument, team_score),
        sub_dimensions=subs,
        contributions=tuple(sorted(contributions, key=lambda c: -c.points)),
        knowledge_gaps=_union(part.knowledge_gaps for part in parts),
        later=_union(part.later for part in parts),
        unanswered=_union(part.unanswered for part in parts),
        not_applicable=_union(part.not_applicable for part in parts),
    )


def _union(groups: Any) -> tuple[str, ...]:
    return tuple(sorted({item for group in groups for item in group}))


def perception_gaps(
    catalog: Catalog,
    respondents: Sequence[Respondent],
    scores: Sequence[ResponseScore],
    *,
    role_group_min: int,
) -> list[PerceptionGap]:
    """Role groups that differ by an option step on a question or 20 points on a dimension,
    largest first; groups below the minimum size never appear."""
    members: dict[str, list[int]] = {}
    for index, respondent in enumerate(respondents):
        group = role_group(respondent.role)
        if group:
            members.setdefault(group, []).append(index)
    counts = {group: len(indexes) for group, indexes in members.items()}
    groups = sorted(anonymity.shown_role_groups(counts, minimum=role_group_min))
    gaps: list[PerceptionGap] = []
    for position, first in enumerate(groups):
        for second in groups[position + 1 :]:
            gaps.extend(
                _pair_gaps(catalog, respondents, scores, (first, second), members, role_group_min)
            )
    return sorted(gaps, key=lambda gap: (-gap.size, gap.kind, gap.subject, gap.groups))


def _pair_gaps(
    catalog: Catalog,
    respondents: Sequence[Respondent],
    scores: Sequence[ResponseScore],
    pair: tuple[str, str],
    members: Mapping[str, list[int]],
    role_group_min: int,
) -> list[PerceptionGap]:
    gaps = []
    dimensions = sorted({d for s in scores for d in s.dimensions})
    for dimension in dimensions:
        means: list[float | None] = []
        for group in pair:
            values = [
                scores[i].dimensions[dimension].score
                for i in members[group]
                if dimension in scores[i].dimensions
                and scores[i].dimensions[dimension].score is not None
            ]
            means.append(mean(v for v in values if v is not None) if values else None)
        gap = _gap("dimension", dimension, dimension, pair, means, DIMENSION_GAP_POINTS, 1.0)
        if gap:
            gaps.append(gap)
    for qid, ref in catalog.questions.items():
        question = ref.question
        if question.type != "ordinal":
            continue
        steps = _steps(question)
        means = []
        for group in pair:
            given = [
                steps[respondents[i].answers[qid].value]
                for i in members[group]
                if qid in scores[i].asked
                and qid in respondents[i].answers
                and respondents[i].answers[qid].value in steps
            ]
            # a group's answer is shown only when enough of its members gave one
            means.append(mean(given) if len(given) >= role_group_min else None)
        top_step = max(steps.values()) or 1
        gap = _gap(
            "question", qid, ref.instrument.id, pair, means, QUESTION_GAP_STEPS, 100 / top_step
        )
        if gap:
            gaps.append(gap)
    return gaps


def _gap(
    kind: str,
    subject: str,
    dimension: str,
    pair: tuple[str, str],
    means: list[float | None],
    threshold: float,
    scale: float,
) -> PerceptionGap | None:
    first, second = means
    if first is None or second is None or abs(first - second) < threshold - 1e-9:
        return None
    ordered = sorted(zip(pair, (first, second), strict=True), key=lambda item: item[1])
    return PerceptionGap(
        kind=kind,
        subject=subject,
        dimension=dimension,
        groups=(ordered[0][0], ordered[1][0]),
        values=(round(ordered[0][1], 2), round(ordered[1][1], 2)),
        size=round(abs(first - second) * scale, 1),
    )


def question_score(question: Question, value: Any) -> float | None:
    """A consensus answer on the 0-100 scale (for round-over-round deltas)."""
    option = question.option(value) if isinstance(value, str) else None
    if option is None or option.score is None:
        return None
    return 100 * option.score / SCALE_MAX
