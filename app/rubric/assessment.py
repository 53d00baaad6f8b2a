"""One call from answers to the whole result: `assess()`, and its plain-data form `to_data()`.

The web pages, the JSON API, the PDF reports and the CLI all call `assess()` and read the same
`to_data()` output, so they can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from app.rubric import aggregate, anonymity
from app.rubric.aggregate import PerceptionGap, Respondent, Spread
from app.rubric.answers import RoundSettings, asked_questions
from app.rubric.categorical import (
    ClassificationResult,
    FindingResult,
    LevelResult,
    classify,
    evaluate_findings,
    evaluate_levels,
)
from app.rubric.loader import Catalog
from app.rubric.recommend import (
    DebtRow,
    Ranking,
    Roadmap,
    Sensitivity,
    build_roadmap,
    debt_register,
    rank_models,
    sensitivity,
)
from app.rubric.rules import DONT_KNOW, NOT_APPLICABLE
from app.rubric.scoring import DimensionScore, ResponseScore, score_response, visible

Targets = Mapping[str, str | int]

# The openings of the consensus warnings (`_consensus_warnings`): pages gather them into one
# notice built from the typed result, so they recognise them by these.
DISPUTED_ANSWER_WARNING = "Disputed answer to "
MOST_SERIOUS_WARNING = ": the most serious answer given counts"
DISPUTED_LEVEL_WARNING = "The handoff level is disputed"


def is_consensus_warning(text: str) -> bool:
    """A warning about a disputed answer, a disputed level or a most-serious answer."""
    return (
        text.startswith((DISPUTED_ANSWER_WARNING, DISPUTED_LEVEL_WARNING))
        or MOST_SERIOUS_WARNING in text
    )


@dataclass(frozen=True, slots=True)
class TargetProgress:
    dimension: str
    target: str | int
    percent: int
    met: bool


@dataclass(frozen=True, slots=True)
class Comparison:
    """Change since the team's previous round."""

    dimensions: Mapping[str, float | None]
    questions: Mapping[str, float]
    adopted_moved: Mapping[str, str]  # practice -> up | same | down | unknown
    # the previous round's rubric ("2026.1") when it differs: then only dimension scores are
    # compared, each as its own rubric computed it
    previous_rubric: str | None = None
    # why nothing is compared ("no comparison: different kind (quick check vs full
    # assessment)"); then every mapping above is empty
    not_compared: str | None = None


@dataclass(frozen=True, slots=True)
class OtherKind:
    """A previous round of another kind (quick or full): it asked other questions, so its
    scores are not compared with this round's; the comparison says why instead."""

    kind: str  # this round's kind: quick | full
    previous_kind: str


KIND_WORDS: Final = {"quick": "quick check", "full": "full assessment"}


def not_compared_note(kind: str, previous_kind: str) -> str:
    """ "no comparison: different kind (quick check vs full assessment)": this round first."""
    return (
        "no comparison: different kind "
        f"({KIND_WORDS.get(kind, kind)} vs {KIND_WORDS.get(previous_kind, previous_kind)})"
    )


@dataclass(frozen=True, slots=True)
class EarlierScores:
    """A previous round scored under another rubric version: its dimension scores as that
    rubric computed them. Its answers are not re-scored into this rubric's levels or fit."""

    dimensions: Mapping[str, float | None]
    rubric: str  # its version names, e.g. "2026.1"


@dataclass(frozen=True)
class Assessment:
    settings: RoundSettings
    respondents: int
    respondent_ids: tuple[str, ...]  # in the order of `response_scores`
    visibility: anonymity.Visibility
    response_scores: tuple[ResponseScore, ...]
    consensus: Mapping[str, Any]
    spreads: Mapping[str, Spread]
    dimensions: Mapping[str, DimensionScore]
    levels: LevelResult | None
    classifications: Mapping[str, ClassificationResult]
    findings: tuple[FindingResult, ...]
    ranking: Ranking
    sensitivity: tuple[Sensitivity, ...]
    roadmap: Roadmap
    debt_register: tuple[DebtRow, ...]
    perception_gaps: tuple[PerceptionGap, ...]
    targets: tuple[TargetProgress, ...]
    evidence_share: float
    warnings: tuple[str, ...]
    comparison: Comparison | None = None
    rubric_versions: Mapping[str, str] = field(default_factory=dict)


# long: the engine's steps in the order docs/scoring.md describes them
def assess(
    catalog: Catalog,
    settings: RoundSettings,
    respondents: Sequence[Respondent],
    *,
    thresholds: anonymity.Thresholds | None = None,
    results_min: int | None = None,
    targets: Targets | None = None,
    adopted: Iterable[str] = (),
    previous: Assessment | EarlierScores | OtherKind | None = None,
) -> Assessment:
    """Score every respondent, aggregate the team and derive every categorical result."""
    thresholds = thresholds or anonymity.Thresholds()
    # Respondents are ordered by id so the result does not depend on submission order.
    ordered = sorted(respondents, key=lambda r: r.id)
    scores = [score_response(catalog, settings, r.role, r.answers) for r in ordered]
    values, spreads = aggregate.consensus_answers(catalog, ordered, scores)
    everyone = asked_questions(catalog, replace(settings, mode="solo"), "team_lead")
    hidden = visible(catalog, settings, everyone, values)
    lookup = catalog.lookup(values, stage=settings.stage, hidden=hidden)
    dimensions = {}
    for instrument_id in settings.instrument_ids(catalog):
        if catalog.instruments[instrument_id].scored:
            team = aggregate.team_dimension(catalog, instrument_id, scores)
            if team is not None:
                dimensions[instrument_id] = team
    levelled = [i for i in settings.instrument_ids(catalog) if catalog.instruments[i].levels]
    later = frozenset(
        qid for qid, ref in catalog.questions.items() if settings.stage not in ref.question.stages
    )
    levels = evaluate_levels(catalog.instruments[levelled[0]], lookup, later) if levelled else None
    rubric_classifications = {
        f"{instrument_id}.{c.id}": c
        for instrument_id in settings.instrument_ids(catalog)
        for c in catalog.instruments[instrument_id].classifications
    }
    classifications = {key: classify(c, lookup) for key, c in rubric_classifications.items()}
    disputed = {qid: spread for qid, spread in spreads.items() if spread.disputed}
    if disputed:
        # A disputed answer is a range: the level and the classifications are evaluated again
        # at its top. The reported level stays the bottom, which every aggregate uses.
        high_values = {**values, **{qid: spread.high for qid, spread in disputed.items()}}
        high_lookup = catalog.lookup(high_values, stage=settings.stage, hidden=hidden)
        top = (
            evaluate_levels(catalog.instruments[levelled[0]], high_lookup, later)
            if levelled
            else None
        )
        if levels is not None and top is not None:
            levels = _with_range(levels, top)
        classifications = {
            key: _with_alternative(result, classify(rubric_classifications[key], high_lookup))
            for key, result in classifications.items()
        }
    findings = tuple(
        finding
        for instrument_id in settings.instrument_ids(catalog)
        for finding in evaluate_findings(
            instrument_id, catalog.instruments[instrument_id].findings, lookup
        )
    )
    quadrant = next(
        (c.outcome for key, c in classifications.items() if key.endswith(".quadrant")), None
    )
    real = sum(score.real_answers for score in scores)
    backed = sum(score.evidence_backed for score in scores)
    mode_threshold = results_min if results_min is not None else thresholds.team_results
    ranking = rank_models(catalog, lookup)
    warnings = _warnings(catalog, settings, dimensions, classifications)
    warnings.extend(_consensus_warnings(catalog, spreads, levels))
    if ranking.top.fit == 0:
        warnings.insert(
            0,
            "No process model fits the answers given: answer the trajectory questions (or "
            'replace their "don\'t know" answers) before reading the recommendation.',
        )
    result = Assessment(
        settings=settings,
        respondents=len(ordered),
        respondent_ids=tuple(r.id for r in ordered),
        visibility=anonymity.team_results_visibility(
            mode=settings.mode, submitted=len(ordered), threshold=mode_threshold
        ),
        response_scores=tuple(scores),
        consensus=values,
        spreads=spreads,
        dimensions=dimensions,
        levels=levels,
        classifications=classifications,
        findings=findings,
        ranking=ranking,
        sensitivity=tuple(
            sensitivity(catalog, values, stage=settings.stage, hidden=hidden, levels=levels)
        ),
        roadmap=build_roadmap(
            catalog, lookup, stage=settings.stage, adopted=adopted, levels=levels
        ),
        debt_register=tuple(debt_register(catalog, lookup, team_quadrant=quadrant)),
        perception_gaps=tuple(
            aggregate.perception_gaps(
                catalog, ordered, scores, role_group_min=thresholds.role_group
            )
            if settings.mode == "team_survey"
            else ()
        ),
        targets=tuple(_targets(catalog, dimensions, levels, targets or {})),
        evidence_share=backed / real if real else 0.0,
        warnings=tuple(warnings),
        rubric_versions=dict(catalog.versions),
    )
    if isinstance(previous, OtherKind):
        result = replace(
            result,
            comparison=Comparison(
                dimensions={},
                questions={},
                adopted_moved={},
                not_compared=not_compared_note(previous.kind, previous.previous_kind),
            ),
        )
    elif isinstance(previous, EarlierScores):
        result = _with_scores_compared(result, previous)
    elif previous is not None:
        result = _with_comparison(catalog, result, previous, adopted)
    return result


def _targets(
    catalog: Catalog,
    dimensions: Mapping[str, DimensionScore],
    levels: LevelResult | None,
    targets: Targets,
) -> list[TargetProgress]:
    return target_progress(
        catalog,
        scores={dimension: score.score for dimension, score in dimensions.items()},
        overall_level=levels.overall if levels else None,
        targets=targets,
    )


def target_progress(
    catalog: Catalog,
    *,
    scores: Mapping[str, float | None],
    overall_level: int | None,
    targets: Targets,
) -> list[TargetProgress]:
    """How far the team is from each target: the current level over the target level, or the
    score over the score where the target band begins. Raises ValueError for a target the
    catalogue does not know."""
    progress = []
    for dimension, target in sorted(targets.items()):
        instrument = catalog.instruments.get(dimension)
        if instrument is None:
            raise ValueError(f"target for unknown dimension {dimension!r}")
        if instrument.levels is not None and isinstance(target, int):
            top = max(d.level for d in instrument.levels.definitions)
            if not 0 <= target <= top:
                raise ValueError(f"target level for {dimension} must be 0-{top}, got {target}")
            current = overall_level or 0
            percent = 100 if target == 0 else min(100, round(100 * current / target))
            progress.append(TargetProgress(dimension, target, percent, current >= target))
            continue
        band = next((b for b in instrument.bands if b.id == target), None)
        if band is None:
            names = ", ".join(b.id for b in instrument.bands) or "a level number"
            raise ValueError(f"target for {dimension} must be one of {names}, got {target!r}")
        current_score = scores.get(dimension) or 0.0
        percent = (
            100 if band.min_score == 0 else min(100, round(100 * current_score / band.min_score))
        )
        progress.append(
            TargetProgress(dimension, target, percent, current_score + 1e-9 >= band.min_score)
        )
    return progress


def _warnings(
    catalog: Catalog,
    settings: RoundSettings,
    dimensions: Mapping[str, DimensionScore],
    classifications: Mapping[str, ClassificationResult],
) -> list[str]:
    warnings = []
    if settings.kind == "quick":
        warnings.append(
            "Quick check: fewer questions, so scores rest on less evidence; compare with full "
            "assessments through coverage."
        )
    for dimension, result in sorted(dimensions.items()):
        title = catalog.instruments[dimension].title
        if result.score is None:
            warnings.append(f"{title}: no scored answers yet, so there is no score.")
        elif result.coverage < 0.6:
            warnings.append(
                f"{title}: only {round(100 * result.coverage)}% of the expected questions were "
                "answered; read the score with care."
            )
    for _key, classified in sorted(classifications.items()):
        if classified.outcome is None and classified.unknown_because:
            warnings.append(
                f"{classified.title} is unknown: it needs answers to "
                + ", ".join(classified.unknown_because)
                + "."
            )
    return warnings


def _with_range(low: LevelResult, high: LevelResult) -> LevelResult:
    """The level at the bottom of a disputed answer's range, carrying the top; a level whose
    range is wider than one value is never certain."""
    artifacts = tuple(
        replace(part, high=top.level, certain=part.certain and top.level == part.level)
        if top.level != part.level
        else part
        for part, top in zip(low.artifacts, high.artifacts, strict=True)
    )
    process = low.process
    if process is not None and high.process is not None and high.process.level != process.level:
        process = replace(process, high=high.process.level, certain=False)
    if high.overall == low.overall:
        return replace(low, artifacts=artifacts, process=process)
    return replace(
        low,
        artifacts=artifacts,
        process=process,
        high=high.overall,
        disputed=True,
        certain=False,
        nothing_missing=False,
    )


def _with_alternative(
    low: ClassificationResult, high: ClassificationResult
) -> ClassificationResult:
    if high.outcome == low.outcome:
        return low
    return replace(low, alternative=high.outcome or "unknown")


def _consensus_warnings(
    catalog: Catalog, spreads: Mapping[str, Spread], levels: LevelResult | None
) -> list[str]:
    """Say where the team's answer is a range or the most serious of several answers."""
    warnings = []
    for qid, spread in sorted(spreads.items()):
        question = catalog.questions[qid].question
        if spread.disputed:
            low, high = _label(question, spread.consensus), _label(question, spread.high)
            # the range runs from the team's answer up; when the team's answer is already the
            # top, the dispute is a smaller role group answering two or more steps lower
            spread_text = (
                f"role groups answered from {low!r} to {high!r}; results resting on it show "
                "the range."
                if low != high
                else f"the team's answer is {low!r}, but a role group answered two or more "
                "steps lower; results resting on it are marked disputed."
            )
            warnings.append(f"{DISPUTED_ANSWER_WARNING}“{question.text}”: {spread_text}")
        elif spread.mode == "most_serious" and spread.disagreement:
            others = sorted(str(key) for key in spread.counts if key != spread.consensus)
            warnings.append(
                f"“{question.text}”{MOST_SERIOUS_WARNING} "
                f"({_label(question, spread.consensus)!r}); others answered "
                f"{', '.join(repr(_label(question, key)) for key in others)}."
            )
    if levels is not None and levels.disputed:
        warnings.append(
            f"{DISPUTED_LEVEL_WARNING}: level {levels.overall}–{levels.high}. The overall "
            "level, dashboard counts, progress to target and sensitivity use the lower bound, "
            f"level {levels.overall}."
        )
    return warnings


def _label(question: Any, value: Any) -> str:
    option = question.option(value) if isinstance(value, str) else None
    return option.label if option is not None else str(value)


def _with_scores_compared(current: Assessment, earlier: EarlierScores) -> Assessment:
    """Across rubric versions: dimension scores only, each under its own rubric, labelled."""
    dimensions = {}
    for dimension, result in current.dimensions.items():
        before = earlier.dimensions.get(dimension)
        dimensions[dimension] = (
            round(result.score - before, 1)
            if before is not None and result.score is not None
            else None
        )
    comparison = Comparison(
        dimensions=dimensions, questions={}, adopted_moved={}, previous_rubric=earlier.rubric
    )
    return replace(current, comparison=comparison)


def _with_comparison(
    catalog: Catalog, current: Assessment, previous: Assessment, adopted: Iterable[str]
) -> Assessment:
    dimensions = {}
    for dimension, result in current.dimensions.items():
        before = previous.dimensions.get(dimension)
        dimensions[dimension] = (
            round(result.score - before.score, 1)
            if before and before.score is not None and result.score is not None
            else None
        )
    questions = {}
    for qid, value in current.consensus.items():
        question = catalog.questions[qid].question
        now = aggregate.question_score(question, value)
        then = aggregate.question_score(question, previous.consensus.get(qid))
        if now is not None and then is not None and now != then:
            questions[qid] = round(now - then, 1)
    moved = {}
    practices = {p.id: p for p in catalog.practices.practices}
    for practice_id in sorted(set(adopted)):
        practice = practices.get(practice_id)
        if practice is None:
            continue
        deltas = [
            questions.get(qid, 0.0)
            for qid in practice.addresses
            if qid in current.consensus
            and qid in previous.consensus
            and current.consensus[qid] not in (DONT_KNOW, NOT_APPLICABLE)
        ]
        if not deltas:
            moved[practice_id] = "unknown"
        else:
            total = sum(deltas)
            moved[practice_id] = "up" if total > 0 else "down" if total < 0 else "same"
    comparison = Comparison(dimensions=dimensions, questions=questions, adopted_moved=moved)
    return replace(current, comparison=comparison)
