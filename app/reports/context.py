"""The team report's context: typed, plain data built from a stored result (``TeamResult``) and
the rubric texts, so the template never touches the engine or the database.

One context serves both media: the HTML page (Plotly charts) and the PDF (the same charts as
SVG). Everything in it is already labelled for people: ids become titles, roles and categories
become words, numbers are rounded as the engine rounded them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app import charts
from app.charts.svg import to_svg
from app.errors import DomainError
from app.reports.branding import Branding
from app.results import model
from app.results.model import TeamResult, parse_stored
from app.rubric.anonymity import DEFAULT_ROLE_GROUP_MIN
from app.rubric.answers import Answer
from app.rubric.assessment import is_consensus_warning
from app.rubric.labels import (
    EFFORT_LABELS,
    FIT_LABELS,
    GROUP_LABELS,
    KIND_LABELS,
    MODE_LABELS,
    MOVED_LABELS,
    ROLE_LABELS,
    STAGE_LABELS,
    humanise,
)
from app.rubric.loader import Catalog
from app.rubric.output import SPECIAL_LABELS
from app.rubric.repository_compare import RepositoryComparison

# rows of a long table the concise team report shows (the full report shows them all)
CONCISE_ROWS = 3


class ResultsNotVisibleError(DomainError):
    status_code = 409
    title = "Results are not available yet"
    default_message = (
        "This round does not have enough submitted responses for team results yet. "
        "Ask more of the team to answer, then try again."
    )


# ---------------------------------------------------------------- the parts


@dataclass(frozen=True, slots=True)
class Chart:
    """One chart in both renderings: SVG for print, Plotly JSON for the page."""

    id: str
    title: str
    description: str
    svg: str  # made by app.charts.svg from escaped text: safe to insert as markup
    figure: dict[str, Any]

    @property
    def figure_json(self) -> str:
        return json.dumps(self.figure, separators=(",", ":"))


def chart(spec: charts.ChartSpec | None) -> Chart | None:
    if spec is None:
        return None
    return Chart(
        id=spec.id,
        title=spec.title,
        description=spec.description,
        svg=to_svg(spec),
        figure=charts.to_plotly(spec),
    )


@dataclass(frozen=True, slots=True)
class ScoreCard:
    id: str
    title: str
    score: float | None
    coverage: int  # percent
    kind: str  # band | level
    label: str  # "Emerging" or "Level 1"
    description: str  # what the band or level means
    target: str | None  # "Established (85 %)"
    target_met: bool
    change: float | None  # points since the previous round


@dataclass(frozen=True, slots=True)
class AnsweredReason:
    text: str
    answers: tuple[str, ...]  # "question — answer" lines
    certain: bool = True


@dataclass(frozen=True, slots=True)
class ModelView:
    id: str
    name: str
    summary: str
    fit: float
    description: str
    fits_when: str
    avoid_when: str
    reasons: tuple[AnsweredReason, ...]
    against: tuple[AnsweredReason, ...]
    undecided: tuple[AnsweredReason, ...]
    caveats: tuple[AnsweredReason, ...]


@dataclass(frozen=True, slots=True)
class SensitivityRow:
    question: str
    current: str
    alternative: str
    outcome: str


@dataclass(frozen=True, slots=True)
class Gate:
    title: str
    level: int
    status: str  # met | missing | unknown


@dataclass(frozen=True, slots=True)
class ArtifactLevel:
    id: str
    title: str
    level: int
    certain: bool
    next_level: int | None
    gates: tuple[Gate, ...]
    # "0–2, disputed" when the level rests on a disputed answer (shown within the anonymity
    # rule only); `level` is then the range's lower bound
    range_label: str | None = None

    @property
    def label(self) -> str:
        """ "1", "1?" (not certain) or "0–2, disputed": never a bare level for a range."""
        if self.range_label:
            return self.range_label
        return f"{self.level}{'' if self.certain else '?'}"


@dataclass(frozen=True, slots=True)
class DisputedAnswer:
    question: str
    low: str  # the bottom of the range: what the team's answer counts as
    high: str


@dataclass(frozen=True, slots=True)
class Disputes:
    """Where the team's answer is a range or the most serious of several, as one notice
    (shown only within the anonymity rule: dispute marks are role-group figures)."""

    summary: str
    answers: tuple[DisputedAnswer, ...]
    most_serious: tuple[str, ...]  # "question: “serious” counts; others answered “moderate”"
    level: str | None  # the disputed handoff level, and that aggregates use its lower bound


@dataclass(frozen=True, slots=True)
class Practice:
    id: str
    title: str
    dimension: str
    summary: str
    why: str
    steps: tuple[str, ...]
    owners: str
    effort: str
    impact: int
    priority: float
    reason: str
    unlocks: str | None
    # "Remedy for the team's defining problem: ...", or None when it answers none
    remedies: str | None = None
    remedies_problem: str | None = None  # that problem's id (over_the_wall, ...)


@dataclass(frozen=True, slots=True)
class LevelPath:
    title: str
    level: int
    gates: tuple[str, ...]
    practices: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Finding:
    title: str
    text: str
    certain: bool


@dataclass(frozen=True, slots=True)
class Explanation:
    question: str
    sub_dimension: str
    answer: str
    points: float
    max_points: float


@dataclass(frozen=True, slots=True)
class DimensionSection:
    id: str
    title: str
    description: str
    card: ScoreCard
    chart: Chart | None
    sub_scores: tuple[tuple[str, float | None, int], ...]  # title, score, coverage %
    classification: str | None  # e.g. "Collaboration pattern: Separate teams ..."
    strengths: tuple[Finding, ...]
    gaps: tuple[Finding, ...]
    artifacts: tuple[ArtifactLevel, ...]  # handoff only
    explanation: tuple[Explanation, ...]
    knowledge_gaps: tuple[str, ...]
    later: tuple[str, ...]
    not_applicable: tuple[str, ...]

    @property
    def largest_losses(self) -> tuple[Explanation, ...]:
        """The concise report's "why this score": the answers that cost the most points."""
        losing = [row for row in self.explanation if row.max_points - row.points > 0.05]
        losing.sort(key=lambda row: row.points - row.max_points)
        return tuple(losing[:CONCISE_ROWS])


@dataclass(frozen=True, slots=True)
class PerceptionGap:
    title: str
    dimension: str
    kind: str  # question | dimension
    lower_group: str
    lower_value: str
    higher_group: str
    higher_value: str
    size: float


@dataclass(frozen=True, slots=True)
class DebtItem:
    title: str
    category: str
    quadrant: str
    description: str
    practice: str | None
    source: str


@dataclass(frozen=True, slots=True)
class Comparison:
    dimensions: tuple[tuple[str, float | None], ...]  # title, change in points
    questions_up: int
    questions_down: int
    adopted: tuple[tuple[str, str], ...]  # practice title, "moved up" / ...
    # across rubric versions: what is compared and why no more ("The previous round used
    # rubric 2026.1: ..."); None when both rounds used the same rubric
    across_versions: str | None = None
    # why nothing is compared ("no comparison: different kind (quick check vs full
    # assessment)"); then ``dimensions`` and ``adopted`` are empty
    not_compared: str | None = None


def across_versions_note(previous_rubric: str | None) -> str | None:
    if previous_rubric is None:
        return None
    return (
        f"The previous round used rubric {previous_rubric}, another version: only dimension "
        "scores are compared, each as its own rubric computed it. Its answers are not "
        "re-scored into this rubric's levels, types or fit."
    )


@dataclass(frozen=True, slots=True)
class Distribution:
    question: str
    dimension: str
    counts: tuple[tuple[str, int], ...]
    consensus: str
    disagreement: bool
    # the top of a disputed answer's range (the consensus is its bottom), within the
    # anonymity rule only
    disputed_high: str | None = None


@dataclass(frozen=True, slots=True)
class SharedNote:
    """A respondent's note that its author allowed others to see (no author, no role)."""

    question_id: str
    question: str
    text: str


@dataclass(frozen=True, slots=True)
class SharedLink:
    """An evidence link whose author ticked "may be shown" (the tick covers the note and the
    link): no author, no role, like the notes."""

    question: str
    url: str


@dataclass(frozen=True, slots=True)
class Source:
    short: str
    citation: str


@dataclass(frozen=True, slots=True)
class Trajectory:
    label: str
    fit: str
    fit_label: str
    warnings: tuple[Finding, ...]
    classifications: tuple[tuple[str, str], ...]
    # the trajectory types resting on a disputed answer, with both ends ("..., disputed")
    pattern_notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TeamReport:
    """Context of templates/reports/team.html."""

    title: str
    lang: str
    team: str
    organisation: str | None
    date: str | None
    stage: str
    kind: str
    mode: str
    respondents: int
    branding: Branding
    # executive summary
    top_model: ModelView
    runner_up: ModelView
    # why no process model is recommended (no trajectory answers, or no model fits), or None
    no_recommendation: str | None
    close: bool
    margin: float
    trajectory: Trajectory
    cards: tuple[ScoreCard, ...]
    handoff_level: int | None
    handoff_certain: bool
    # "level 1", "level 1 (not certain)" or "level 0–2, disputed"
    handoff_label: str | None
    artifacts: tuple[ArtifactLevel, ...]
    disputes: Disputes | None
    top_now: tuple[Practice, ...]
    evidence_share: int | None
    warnings: tuple[str, ...]
    # charts
    radar: Chart | None
    scores_chart: Chart | None
    # body
    dimensions: tuple[DimensionSection, ...]
    models: tuple[tuple[str, float], ...]  # every model, ranked
    sensitivity: tuple[SensitivityRow, ...]
    level_sensitivity: tuple[SensitivityRow, ...]
    now: tuple[Practice, ...]
    next: tuple[Practice, ...]
    later: tuple[Practice, ...]
    adopted: tuple[Practice, ...]
    to_check: tuple[str, ...]
    level_paths: tuple[LevelPath, ...]
    perception_gaps: tuple[PerceptionGap, ...]
    role_group_minimum: int
    debt_register: tuple[DebtItem, ...]
    comparison: Comparison | None
    commentary: tuple[tuple[str, ...], ...]  # paragraphs, each a tuple of lines
    # appendix
    distributions: tuple[Distribution, ...]
    notes: tuple[SharedNote, ...]
    links: tuple[SharedLink, ...]  # evidence links shared like the notes
    rubric_versions: tuple[tuple[str, str], ...]
    sources: tuple[Source, ...]
    # the repository check (templates/reports/_repository.html), when a signals file is attached
    repository: RepositoryComparison | None = None
    # the full report: every "why this score" and sensitivity row, and Appendix A with every
    # question's answers (about 30 pages); the default is the concise report (10-14 pages)
    full: bool = False


# ---------------------------------------------------------------- building


def _question_text(catalog: Catalog, qid: str) -> str:
    ref = catalog.questions.get(qid)
    return ref.question.text if ref else qid


def _answer_label(catalog: Catalog, qid: str, value: Any) -> str:
    if isinstance(value, str) and value in SPECIAL_LABELS:
        return SPECIAL_LABELS[value]
    ref = catalog.questions.get(qid)
    if ref is None:
        return str(value)
    option = ref.question.option(value) if isinstance(value, str) else None
    return option.label if option else humanise(str(value))


def _reason(raw: model.FitReason, catalog: Catalog) -> AnsweredReason:
    return AnsweredReason(
        text=raw.reason,
        answers=tuple(
            f"{_question_text(catalog, a.question)} — {a.answer_label}" for a in raw.answers
        ),
        certain=raw.status == "holds",
    )


def _model(raw: model.ProcessModel, catalog: Catalog) -> ModelView:
    source = next((m for m in catalog.process_models.process_models if m.id == raw.id), None)
    return ModelView(
        id=raw.id,
        name=raw.name,
        summary=raw.summary,
        fit=raw.fit,
        description=source.description if source else "",
        fits_when=source.fits_when if source else "",
        avoid_when=source.avoid_when if source else "",
        reasons=tuple(_reason(r, catalog) for r in raw.reasons),
        against=tuple(_reason(r, catalog) for r in raw.against),
        undecided=tuple(_reason(r, catalog) for r in raw.undecided),
        caveats=tuple(
            AnsweredReason(text=c.text, answers=(), certain=c.status == "holds")
            for c in raw.caveats
        ),
    )


def _outcome_label(catalog: Catalog, outcome: str | None) -> str:
    if not outcome:
        return "Unknown"
    for instrument in catalog.instruments.values():
        for classification in instrument.classifications:
            for candidate in classification.outcomes:
                if candidate.id == outcome:
                    return candidate.label
    return humanise(outcome)


def _practice(raw: model.RoadmapItem, catalog: Catalog, dimensions: Mapping[str, str]) -> Practice:
    source = next((p for p in catalog.practices.practices if p.id == raw.practice), None)
    return Practice(
        id=raw.practice,
        title=raw.title,
        dimension=dimensions.get(raw.dimension, humanise(raw.dimension)),
        summary=source.summary if source else "",
        why=source.why if source else "",
        steps=tuple(raw.steps),
        owners=", ".join(ROLE_LABELS.get(o, humanise(o)) for o in raw.owners),
        effort=EFFORT_LABELS.get(raw.effort, raw.effort),
        impact=raw.impact,
        priority=raw.priority,
        reason=raw.reason,
        unlocks=_unlocks(raw.unlocks),
        remedies=remedy_label(raw.remedies),
        remedies_problem=raw.remedies.problem if raw.remedies else None,
    )


def remedy_label(remedies: model.RemedyOf | None) -> str | None:
    """What a roadmap item does for the team's defining problem, in words."""
    if remedies is None:
        return None
    if remedies.needed_first:
        return f"Needed first by the remedy for this team's defining problem: {remedies.title}"
    return f"Remedy for this team's defining problem: {remedies.title}"


def _unlocks(unlocks: str | None) -> str | None:
    if not unlocks:
        return None
    artifact, _, level = unlocks.rpartition(" level ")
    if artifact and level:
        return f"Helps reach handoff level {level} for {artifact}"
    return unlocks


def scored_dimensions(result: TeamResult) -> list[str]:
    """Ids of the practice instruments with a score (trajectory is a type, never a score)."""
    return [
        dimension_id
        for dimension_id, dimension in result.dimensions.items()
        if dimension.sub_dimensions and dimension.score is not None
    ]


def _card(
    dimension_id: str,
    raw: model.Dimension,
    catalog: Catalog,
    targets: Mapping[str, model.TargetProgress],
    comparison: model.Comparison | None,
    level_range: str | None = None,
) -> ScoreCard:
    """A dimension's card; ``level_range`` is the levelled dimension's disputed range
    ("0–2, disputed"), shown instead of its lower bound alone."""
    instrument = catalog.instruments[dimension_id]
    level = raw.level
    if raw.band:
        kind, label = "band", raw.band.label
        band = next((b for b in instrument.bands if b.id == raw.band.id), None)
        description = band.description if band else ""
    elif level is not None:
        kind, label = "level", f"Level {level_range or level}"
        definition = (
            next((d for d in instrument.levels.definitions if d.level == level), None)
            if instrument.levels
            else None
        )
        description = f"{definition.label}: {definition.description}" if definition else ""
    else:
        kind, label, description = "band", "No band", ""
    target = targets.get(dimension_id)
    target_text = None
    if target:
        value = target.target
        name = (
            f"Level {value}"
            if isinstance(value, int)
            else next((b.label for b in instrument.bands if b.id == value), humanise(str(value)))
        )
        target_text = f"{name} ({target.percent} % there)"
        if level_range and isinstance(value, int):
            target_text = f"{name} ({target.percent} % there, from the range's lower bound)"
    change = comparison.dimensions.get(dimension_id) if comparison else None
    return ScoreCard(
        id=dimension_id,
        title=raw.title,
        score=raw.score,
        coverage=round(100 * (raw.coverage or 0)),
        kind=kind,
        label=label,
        description=description,
        target=target_text,
        target_met=bool(target and target.met),
        change=change,
    )


def disputes_shown(result: TeamResult) -> bool:
    """Whether dispute marks and the ranges resting on them may show: the anonymity rule
    (app.results.visibility) takes every dispute mark out when a role group is withheld, so a
    range shows only while some answer still carries its mark."""
    return any(spread.disputed for spread in result.answers.values())


def _range_label(part: model.Artifact | model.Handoff, shown: bool) -> str | None:
    if not shown or part.range is None or part.range[0] == part.range[1]:
        return None
    return f"{part.range[0]}–{part.range[1]}, disputed"


def handoff_label(result: TeamResult) -> str | None:
    """The overall handoff level in words: never "certain" when it is a range."""
    handoff = result.handoff
    if handoff is None:
        return None
    ranged = _range_label(handoff, disputes_shown(result))
    if ranged:
        return f"level {ranged}"
    return f"level {handoff.level}" + ("" if handoff.certain else " (not certain)")


def artifact_levels(result: TeamResult) -> tuple[ArtifactLevel, ...]:
    """The handoff artifacts' levels (and the overall process gates last), labelled."""
    handoff = result.handoff
    if not handoff:
        return ()
    shown = disputes_shown(result)
    parts = list(handoff.artifacts.items())
    if handoff.process:
        parts.append(("overall", handoff.process))
    return tuple(
        ArtifactLevel(
            id=artifact_id,
            title=part.title,
            level=part.level,
            certain=part.certain,
            next_level=part.next_level,
            gates=tuple(Gate(g.title, g.level, g.status) for g in part.gates),
            range_label=_range_label(part, shown),
        )
        for artifact_id, part in parts
    )


def disputes(result: TeamResult, catalog: Catalog) -> Disputes | None:
    """The one notice about disputed and most-serious answers, or None when there is none."""
    shown = disputes_shown(result)
    answers = tuple(
        DisputedAnswer(
            question=_question_text(catalog, qid),
            low=spread.consensus_label,
            high=_answer_label(catalog, qid, spread.high),
        )
        for qid, spread in result.answers.items()
        if shown and spread.disputed
    )
    most_serious = tuple(
        f"{_question_text(catalog, qid)}: “{spread.consensus_label}” counts; others answered "
        + ", ".join(
            f"“{_answer_label(catalog, qid, value)}”"
            for value in sorted(spread.counts)
            if value != spread.consensus
        )
        for qid, spread in result.answers.items()
        if spread.mode == "most_serious" and spread.disagreement
    )
    handoff = result.handoff
    level = None
    if shown and handoff is not None and _range_label(handoff, shown):
        assert handoff.range is not None
        level = (
            f"The handoff level is disputed: level {handoff.range[0]}–{handoff.range[1]}. "
            f"Aggregates (the overall level on dashboards, progress to a target, sensitivity) "
            f"use the lower bound, level {handoff.level}."
        )
    if not answers and not most_serious:
        return None
    parts = []
    if answers:
        count = len(answers)
        parts.append(
            f"{count} answer{'s' if count != 1 else ''} {'are' if count != 1 else 'is'} "
            "disputed between role groups: results resting on them show a range, and the "
            "team's answer counts as the range's lower end"
        )
    if most_serious:
        parts.append("for stakes-like questions the most serious answer given counts")
    summary = "; ".join(parts) + "."
    return Disputes(
        summary=summary[0].upper() + summary[1:],
        answers=answers,
        most_serious=most_serious,
        level=level,
    )


def classification_text(result: TeamResult, key: str, catalog: Catalog) -> str:
    """ "Collaboration pattern: Over the wall", or with the outcome at the top of a disputed
    answer's range: "...: Over the wall or Separate teams, disputed" (never one certain
    pattern when it rests on a disputed answer)."""
    item = result.classifications[key]
    text = f"{item.title}: {item.label or 'unknown'}"
    if item.alternative and disputes_shown(result):
        text += f" or {_outcome_label(catalog, item.alternative)}, disputed"
    return text


def _findings(raw: Iterable[model.Finding], prefix: str, kinds: set[str]) -> tuple[Finding, ...]:
    return tuple(
        Finding(title=f.title, text=f.text, certain=f.status == "holds")
        for f in raw
        if f.id.startswith(prefix + ".") and f.kind in kinds
    )


def _sections(
    result: TeamResult,
    data: Mapping[str, Any],
    catalog: Catalog,
    cards: Mapping[str, ScoreCard],
) -> tuple[DimensionSection, ...]:
    sections = []
    for dimension_id in scored_dimensions(result):
        raw = result.dimensions[dimension_id]
        instrument = catalog.instruments[dimension_id]
        subs = {sub_id: sub.title for sub_id, sub in raw.sub_dimensions.items()}
        classification = next(
            (
                classification_text(result, key, catalog)
                for key in result.classifications
                if key.startswith(dimension_id + ".")
            ),
            None,
        )
        sections.append(
            DimensionSection(
                id=dimension_id,
                title=raw.title,
                description=instrument.description,
                card=cards[dimension_id],
                chart=chart(charts.sub_dimension_chart(data, dimension_id)),
                sub_scores=tuple(
                    (sub.title, sub.score, round(100 * (sub.coverage or 0)))
                    for sub in raw.sub_dimensions.values()
                ),
                classification=classification,
                strengths=_findings(result.findings, dimension_id, {"strength"}),
                gaps=_findings(result.findings, dimension_id, {"risk", "gap", "pattern"}),
                artifacts=artifact_levels(result) if raw.level is not None else (),
                explanation=tuple(
                    Explanation(
                        question=row.text,
                        sub_dimension=subs.get(row.sub_dimension or "", ""),
                        answer=row.answer_label,
                        points=row.points,
                        max_points=row.max_points,
                    )
                    for row in raw.explanation
                ),
                knowledge_gaps=tuple(_question_text(catalog, q) for q in raw.knowledge_gaps),
                later=tuple(_question_text(catalog, q) for q in raw.later),
                not_applicable=tuple(_question_text(catalog, q) for q in raw.not_applicable),
            )
        )
    return tuple(sections)


def _sensitivity(
    result: TeamResult, names: Mapping[str, str], artifacts: Mapping[str, str]
) -> tuple[tuple[SensitivityRow, ...], tuple[SensitivityRow, ...]]:
    models, levels = [], []
    for row in result.sensitivity:
        if row.effect == "top_model":
            outcome = f"{names.get(str(row.after), humanise(str(row.after)))} would be recommended"
            models.append(
                SensitivityRow(row.text, row.current_label, row.alternative_label, outcome)
            )
        else:
            subject = artifacts.get(row.subject, humanise(str(row.subject)))
            direction = "rise" if _level(row.after) > _level(row.before) else "fall"
            outcome = f"{subject} would {direction} from level {row.before} to {row.after}"
            levels.append(
                SensitivityRow(row.text, row.current_label, row.alternative_label, outcome)
            )
    return tuple(models), tuple(levels)


def _level(value: model.Outcome) -> float:
    return value if isinstance(value, int | float) else 0


def _gap_value(kind: str, value: float) -> str:
    return f"{value:.1f}" if kind == "question" else f"{value:.0f}"


def _distributions(
    result: TeamResult, catalog: Catalog, dimensions: Mapping[str, str]
) -> tuple[Distribution, ...]:
    shown = disputes_shown(result)
    rows = []
    # rubric order (instrument, then question), not alphabetical order
    for qid, ref in catalog.questions.items():
        spread = result.answers.get(qid)
        if spread is None or not spread.counts:
            continue
        order = {option.id: i for i, option in enumerate(ref.question.options)}
        counts = sorted(
            spread.counts.items(),
            key=lambda item: (order.get(item[0], len(order)), item[0]),
        )
        rows.append(
            Distribution(
                question=ref.question.text,
                dimension=dimensions.get(ref.instrument.id, ref.instrument.title),
                counts=tuple(
                    (_answer_label(catalog, qid, value), count) for value, count in counts
                ),
                consensus=spread.consensus_label,
                disagreement=spread.disagreement,
                disputed_high=(
                    _answer_label(catalog, qid, spread.high) if shown and spread.disputed else None
                ),
            )
        )
    return tuple(rows)


def no_recommendation(result: TeamResult) -> str | None:
    """Why no process model is recommended, or None when one is: the one wording of the results
    page and the team report."""
    if result.recommendation.recommended:
        return None
    if "trajectory" not in result.round.instruments:
        return (
            "This round did not include the trajectory questions, so no process model can be "
            "recommended. Include them in the next round to get a recommendation."
        )
    return (
        "No process model's conditions hold for these answers (every fit is 0), often because "
        "key trajectory questions were answered “don’t know”. Settle those answers and assess "
        "again before choosing a process."
    )


def commentary_paragraphs(text: str | None) -> tuple[tuple[str, ...], ...]:
    """Free text as paragraphs of lines; the template escapes every line."""
    if not text:
        return ()
    paragraphs = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        lines = tuple(line.strip() for line in block.split("\n") if line.strip())
        if lines:
            paragraphs.append(lines)
    return tuple(paragraphs)


def _in_rubric_order(catalog: Catalog, items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(question id, text) pairs in the rubric's question order, then by id and text."""
    order = {qid: index for index, qid in enumerate(catalog.questions)}
    return sorted(items, key=lambda item: (order.get(item[0], len(order)), *item))


def shareable_notes(
    catalog: Catalog, answer_sets: Iterable[Mapping[str, Answer]]
) -> tuple[SharedNote, ...]:
    """Notes whose authors ticked "may be shown", in rubric order; never the others.

    Sorted by question and text, so the order does not reveal which respondent wrote which.
    """
    notes = {
        (qid, answer.note.strip())
        for answers in answer_sets
        for qid, answer in answers.items()
        if answer.note and answer.note.strip() and answer.note_shareable is True
    }
    return tuple(
        SharedNote(question_id=qid, question=_question_text(catalog, qid), text=text)
        for qid, text in _in_rubric_order(catalog, notes)
    )


def shareable_links(
    catalog: Catalog, answer_sets: Iterable[Mapping[str, Answer]]
) -> tuple[SharedLink, ...]:
    """Evidence links whose authors ticked "may be shown" (never the others), only as web
    addresses; sorted by question and address, like the notes, so the order does not tell
    which respondent gave which."""
    links = {
        (qid, answer.evidence)
        for answers in answer_sets
        for qid, answer in answers.items()
        if answer.note_shareable is True
        and answer.evidence
        and answer.evidence.startswith(("https://", "http://"))
    }
    return tuple(
        SharedLink(question=_question_text(catalog, qid), url=url)
        for qid, url in _in_rubric_order(catalog, links)
    )


def shared_answers(stored_answers: Iterable[Mapping[str, Any]]) -> list[dict[str, Answer]]:
    """Stored responses' JSON (``Response.answers``) read for what may be shared: each
    answer's note, evidence link and "may be shown" tick (stored answers were checked on
    saving; anything of another type is left out)."""
    answer_sets = []
    for answers in stored_answers:
        parsed = {}
        for qid, raw in answers.items():
            if isinstance(raw, Mapping):
                note, evidence = raw.get("note"), raw.get("evidence")
                parsed[qid] = Answer(
                    value=raw.get("value"),
                    note=note if isinstance(note, str) else None,
                    evidence=evidence if isinstance(evidence, str) else None,
                    note_shareable=raw.get("note_shareable") is True,
                )
        answer_sets.append(parsed)
    return answer_sets


# long: a flat mapping of one result onto the report's typed context, field by field
def team_report(
    *,
    data: TeamResult | Mapping[str, Any],
    catalog: Catalog,
    team: str,
    organisation: str | None = None,
    date: str | None = None,
    branding: Branding,
    commentary: str | None = None,
    repository: RepositoryComparison | None = None,
    notes: Sequence[SharedNote] = (),
    links: Sequence[SharedLink] = (),
    previous: TeamResult | Mapping[str, Any] | None = None,
    role_group_minimum: int = DEFAULT_ROLE_GROUP_MIN,
    lang: str = "en",
    full: bool = False,
) -> TeamReport:
    """The team report for one stored result (a ``TeamResult``, or its JSON: parsed here once).

    ``previous`` is the previous round's result, for the radar and the comparison;
    ``notes`` come from ``shareable_notes``; ``commentary`` is the consultant's free text;
    ``full``: the full report with every answer (Appendix A), not the concise one.
    Raises ResultsNotVisibleError when the round has too few responses to show results.
    """
    result = data if isinstance(data, TeamResult) else parse_stored(data)
    earlier = (
        previous if previous is None or isinstance(previous, TeamResult) else parse_stored(previous)
    )
    # no change against a round of another kind, even in a result stored before that rule
    result = result.within_kind(earlier.round.kind if earlier is not None else None)
    round_info = result.round
    if not round_info.results_visible:
        raise ResultsNotVisibleError(
            f"This round needs {round_info.responses_needed} submitted responses before team "
            "results, and so a report, can be shown. Ask more of the team to answer, then try "
            "again."
        )
    # the charts draw from the JSON form
    chart_data = result.to_data()
    # the previous round's profile is drawn only under the same rubric: across versions the
    # sub-dimensions may differ, and only dimension scores are compared (in `comparison`)
    same_rubric = earlier is not None and dict(earlier.round.rubric_versions) == dict(
        round_info.rubric_versions
    )
    # nor beside a round of another kind (a quick check asks other questions than a full one)
    same_kind = earlier is not None and earlier.round.kind == round_info.kind
    chart_previous = (
        earlier.to_data() if earlier is not None and same_rubric and same_kind else None
    )
    dimension_titles = {d: raw.title for d, raw in result.dimensions.items()}
    targets = {t.dimension: t for t in result.targets}
    shown_range = _range_label(result.handoff, disputes_shown(result)) if result.handoff else None
    cards = {
        d: _card(d, result.dimensions[d], catalog, targets, result.comparison, shown_range)
        for d in scored_dimensions(result)
    }
    models_by_id = {m.id: m for m in result.process_models}
    top = _model(models_by_id[result.recommendation.top], catalog)
    runner = _model(models_by_id[result.recommendation.runner_up], catalog)
    artifacts = artifact_levels(result)
    roadmap = result.roadmap

    def practices(items: Iterable[model.RoadmapItem]) -> tuple[Practice, ...]:
        return tuple(_practice(p, catalog, dimension_titles) for p in items)

    trajectory = result.trajectory
    model_names = {m.id: m.name for m in result.process_models}
    sensitivity, level_sensitivity = _sensitivity(
        result, model_names, {a.id: a.title for a in artifacts}
    )
    comparison = result.comparison
    practice_titles = {p.id: p.title for p in catalog.practices.practices}
    handoff = result.handoff
    evidence = result.confidence.evidence_share
    return TeamReport(
        title=f"{team} — ProcessLens team report",
        lang=lang,
        team=team,
        organisation=organisation,
        date=date,
        stage=STAGE_LABELS.get(round_info.stage, humanise(round_info.stage)),
        kind=KIND_LABELS.get(round_info.kind, humanise(round_info.kind)),
        mode=MODE_LABELS.get(round_info.mode, humanise(round_info.mode)),
        respondents=round_info.respondents,
        branding=branding,
        top_model=top,
        no_recommendation=no_recommendation(result),
        runner_up=runner,
        close=result.recommendation.close,
        margin=float(result.recommendation.margin or 0),
        trajectory=Trajectory(
            label=trajectory.label,
            fit=trajectory.fit,
            fit_label=FIT_LABELS.get(trajectory.fit, humanise(trajectory.fit)),
            warnings=tuple(
                Finding(w.title, w.text, w.status == "holds") for w in trajectory.warnings
            ),
            classifications=tuple(
                (c.title, c.label or "Unknown")
                for key, c in result.classifications.items()
                if key.startswith("trajectory.")
            ),
            pattern_notes=tuple(
                classification_text(result, key, catalog)
                for key, c in result.classifications.items()
                if key.startswith("trajectory.") and c.alternative
            )
            if disputes_shown(result)
            else (),
        ),
        cards=tuple(cards.values()),
        handoff_level=handoff.level if handoff else None,
        handoff_certain=bool(handoff and handoff.certain),
        handoff_label=handoff_label(result),
        artifacts=artifacts,
        disputes=disputes(result, catalog),
        top_now=practices(roadmap.now)[:3],
        evidence_share=None if evidence is None else round(100 * evidence),
        warnings=tuple(w for w in result.warnings if not is_consensus_warning(w)),
        radar=chart(charts.radar_chart(chart_data, chart_previous)),
        scores_chart=chart(charts.dimension_chart(chart_data, chart_previous)),
        dimensions=_sections(result, chart_data, catalog, cards),
        models=tuple((m.name, m.fit) for m in result.process_models),
        sensitivity=sensitivity,
        level_sensitivity=level_sensitivity,
        now=practices(roadmap.now),
        next=practices(roadmap.next),
        later=practices(roadmap.later),
        adopted=practices(roadmap.adopted),
        to_check=tuple(practice_titles.get(p, humanise(p)) for p in roadmap.to_check),
        level_paths=tuple(
            LevelPath(
                title=p.title,
                level=p.level,
                gates=tuple(p.gates),
                practices=tuple(practice_titles.get(x, humanise(x)) for x in p.practices),
            )
            for p in roadmap.level_paths
        ),
        perception_gaps=tuple(
            PerceptionGap(
                title=g.title,
                dimension=dimension_titles.get(g.dimension, humanise(g.dimension)),
                kind=g.kind,
                lower_group=GROUP_LABELS.get(g.lower_group, humanise(g.lower_group)),
                lower_value=_gap_value(g.kind, g.lower_value),
                higher_group=GROUP_LABELS.get(g.higher_group, humanise(g.higher_group)),
                higher_value=_gap_value(g.kind, g.higher_value),
                size=g.size,
            )
            for g in result.perception_gaps
        ),
        role_group_minimum=role_group_minimum,
        debt_register=tuple(
            DebtItem(
                title=item.title,
                category=humanise(item.category),
                quadrant=_outcome_label(catalog, item.quadrant),
                description=item.description,
                practice=practice_titles.get(item.practice) if item.practice else None,
                source=item.source,
            )
            for item in result.debt_register
        ),
        comparison=(
            None
            if not comparison
            else Comparison(
                dimensions=tuple(
                    (dimension_titles.get(d, humanise(d)), change)
                    for d, change in comparison.dimensions.items()
                ),
                questions_up=sum(1 for v in comparison.questions.values() if v and v > 0),
                questions_down=sum(1 for v in comparison.questions.values() if v and v < 0),
                adopted=tuple(
                    (practice_titles.get(p, humanise(p)), MOVED_LABELS.get(moved, humanise(moved)))
                    for p, moved in comparison.adopted_moved.items()
                ),
                across_versions=across_versions_note(comparison.previous_rubric),
                not_compared=comparison.not_compared,
            )
        ),
        commentary=commentary_paragraphs(commentary),
        distributions=_distributions(result, catalog, dimension_titles),
        notes=tuple(notes),
        links=tuple(links),
        rubric_versions=tuple(sorted(round_info.rubric_versions.items())),
        sources=tuple(Source(s.short, s.citation) for s in catalog.bibliography.sources),
        repository=repository,
        full=full,
    )
