"""The context of the results page (templates/results/results.html), built from a round's
stored result (the typed ``TeamResult``, app.results).

The wording and labelling come from the team report's context (app.reports.context), so the
page and the PDF say the same things; this module adds what only the page has: every number
with its explanation (answers, option scores and weights), the radar's data as a table, the
forms to act on the results, downloads, and rescoring under a newer rubric.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Final

from markupsafe import Markup
from sqlmodel import Session

from app import charts
from app.charts import ChartSpec
from app.charts.svg import to_svg
from app.config import Settings
from app.models import AssessmentRound, Organisation, RoundMode, RoundResult, Team
from app.reports import batch as report_batch
from app.reports import commentary as report_commentary
from app.reports import context as report_context
from app.reports.branding import organisation_branding
from app.reports.context import TeamReport
from app.results import model
from app.results import service as results_service
from app.results import visibility as anonymity_rule
from app.results.model import TeamResult
from app.results.reads import ORIGINAL, RESCORED_PREFIX, ShownResult, previous_shown, result_of
from app.rubric import labels
from app.rubric.anonymity import Visibility
from app.rubric.labels import humanise
from app.rubric.loader import Catalog
from app.rubric.rules import DONT_KNOW
from app.workspace import acting
from app.workspace.pages import day, round_status
from app.workspace.results import Renewal, RoundResults, RubricUpgrade
from app.workspace.urls import results_url, round_url, team_url

EFFORT_COST: Final = {"S": 1, "M": 2, "L": 3}
GATE_STATUS: Final = {
    "met": "Met",
    "missing": "Missing",
    "unknown": "Not known",
    "not_expected": "Not expected yet",
    "not_applicable": "Not applicable",
}


def number(value: float | None, decimals: int = 0) -> str:
    return "–" if value is None else f"{value:.{decimals}f}"


def signed(value: float | None, decimals: int = 1) -> str:
    return "–" if value is None else f"{value:+.{decimals}f}".replace("-", "−")


def percent(share: float | None) -> str:
    return "–" if share is None else f"{round(100 * share)} %"


# ---------------------------------------------------------------- parts


@dataclasses.dataclass(frozen=True)
class PageChart:
    """A chart: server-made SVG (works without JavaScript) and the Plotly figure that
    static/js/charts.js draws over it."""

    id: str
    title: str
    description: str
    svg: Markup  # made by app.charts.svg, which escapes every text it writes
    figure: Mapping[str, Any]


def page_chart(spec: ChartSpec) -> PageChart:
    return PageChart(
        id=spec.id,
        title=spec.title,
        description=spec.description,
        svg=Markup(to_svg(spec)),
        figure=charts.to_plotly(spec),
    )


@dataclasses.dataclass(frozen=True)
class RadarRow:
    dimension: str
    sub_dimension: str
    score: str
    previous: str | None


@dataclasses.dataclass(frozen=True)
class ExplainRow:
    """One answer's part in a score: 100 · w · s ÷ (4 · A) points of 100 · w ÷ A."""

    question: str
    sub_dimension: str
    answer: str
    option_score: str  # "3 of 4"
    weight: str
    points: str
    max_points: str


@dataclasses.dataclass(frozen=True)
class SubScore:
    id: str
    title: str
    score: str
    coverage: str
    rows: tuple[ExplainRow, ...]


@dataclasses.dataclass(frozen=True)
class BandStep:
    label: str
    from_score: str
    current: bool


@dataclasses.dataclass(frozen=True)
class TargetView:
    label: str  # "Established" or "Level 2"
    percent: int
    met: bool
    formula: str


@dataclasses.dataclass(frozen=True)
class DimensionView:
    id: str
    title: str
    description: str
    score: str
    coverage: str
    coverage_note: str
    kind: str  # band | level
    level_label: str
    level_description: str
    bands: tuple[BandStep, ...]
    target: TargetView | None
    change: str | None
    classification: str | None
    strengths: tuple[report_context.Finding, ...]
    risks: tuple[report_context.Finding, ...]
    sub_scores: tuple[SubScore, ...]
    explanation: tuple[ExplainRow, ...]
    knowledge_gaps: tuple[str, ...]
    later: tuple[str, ...]
    # questions not answered (not asked, "don't know", skipped) that leave this dimension's
    # level or findings open: counted here, in the coverage note and under knowledge gaps
    unsettled: tuple[str, ...] = ()
    # "68.8 — level 0 because “Model versioned” is missing": what holds a level down
    level_reason: str | None = None


@dataclasses.dataclass(frozen=True)
class ArtifactView:
    id: str
    title: str
    level: int
    certain: bool
    next_level: int | None
    missing: tuple[str, ...]  # gates for the next level that do not hold (or are unknown)
    upgrades: tuple[str, ...]  # practices that meet them (the roadmap's level paths)
    gates: tuple[tuple[str, int, str, str], ...]  # title, level, status, status label
    # "Level 0–2, disputed" when the level rests on a disputed answer, else "Level 1" or
    # "Level 1 (not certain)": never a bare, certain-looking level for a range
    label: str = ""


@dataclasses.dataclass(frozen=True)
class ReasonView:
    text: str
    weight: str  # "+3"
    answers: tuple[str, ...]  # "question — team answer"
    certain: bool


@dataclasses.dataclass(frozen=True)
class ModelCard:
    id: str
    name: str
    summary: str
    description: str
    fits_when: str
    avoid_when: str
    fit: str
    fit_formula: str
    fit_words: str  # the fit in words, shown before the formula
    reasons: tuple[ReasonView, ...]
    against: tuple[ReasonView, ...]
    undecided: tuple[ReasonView, ...]
    caveats: tuple[ReasonView, ...]


@dataclasses.dataclass(frozen=True)
class RecommendationView:
    top: ModelCard
    runner_up: ModelCard
    close: bool
    margin: str
    no_recommendation: str | None
    ranked: tuple[tuple[str, str], ...]
    sensitivity: tuple[report_context.SensitivityRow, ...]
    level_sensitivity: tuple[report_context.SensitivityRow, ...]


@dataclasses.dataclass(frozen=True)
class PracticeView:
    practice: report_context.Practice
    gap: str
    priority: str
    formula: str  # how the priority comes about


@dataclasses.dataclass(frozen=True)
class AdoptedItem:
    id: str
    title: str
    adopted_on: str
    moved: str | None  # whether the answers moved since the previous round


@dataclasses.dataclass(frozen=True)
class RoadmapView:
    now: tuple[PracticeView, ...]
    next: tuple[PracticeView, ...]
    later: tuple[PracticeView, ...]
    adopted: tuple[AdoptedItem, ...]
    to_check: tuple[str, ...]
    level_paths: tuple[report_context.LevelPath, ...]


@dataclasses.dataclass(frozen=True)
class KnowledgeGap:
    dimension: str
    questions: tuple[tuple[str, str], ...]  # question, "2 of 5 answered “don't know”"


@dataclasses.dataclass(frozen=True)
class ComparisonView:
    dimensions: tuple[tuple[str, str], ...]  # title, "+4.2" points
    questions_up: int
    questions_down: int
    adopted: tuple[tuple[str, str], ...]  # practice, whether its answers moved
    across_versions: str | None = None  # the label of a comparison across rubric versions


def _comparison(report: TeamReport) -> ComparisonView | None:
    comparison = report.comparison
    if comparison is None:
        return None
    return ComparisonView(
        dimensions=tuple((title, signed(change)) for title, change in comparison.dimensions),
        questions_up=comparison.questions_up,
        questions_down=comparison.questions_down,
        adopted=comparison.adopted,
        across_versions=comparison.across_versions,
    )


@dataclasses.dataclass(frozen=True)
class GapDot:
    group: str
    value: str  # as the report shows it: mean option step (0–4) or score (0–100)
    position: int  # 0–100 along the row: every row of a chart on the same scale


@dataclasses.dataclass(frozen=True)
class GapRow:
    title: str
    dimension: str
    lower: GapDot
    higher: GapDot
    size: int


@dataclasses.dataclass(frozen=True)
class GapChart:
    """A dumbbell chart of perception gaps of one kind: per row the two role groups' dots on
    one 0–100 scale (questions: the mean option step as a share of the question's steps)."""

    title: str
    scale: str
    top: tuple[GapRow, ...]
    rest: tuple[GapRow, ...]  # shown on "show all"


@dataclasses.dataclass(frozen=True)
class GapPicture:
    summary: str  # two sentences in words
    charts: tuple[GapChart, ...]


GAPS_SHOWN: Final = 5


def _gap_row(gap: report_context.PerceptionGap) -> GapRow:
    low, high = float(gap.lower_value), float(gap.higher_value)
    # a question's gap is its mean steps' difference × 100 ÷ (steps − 1): the same factor
    # puts its mean steps on 0–100
    factor = gap.size / (high - low) if gap.kind == "question" and high > low else 1.0
    return GapRow(
        title=gap.title,
        dimension=gap.dimension,
        lower=GapDot(gap.lower_group, gap.lower_value, round(min(100.0, low * factor))),
        higher=GapDot(gap.higher_group, gap.higher_value, round(min(100.0, high * factor))),
        size=round(gap.size),
    )


def _gap_summary(gaps: Sequence[report_context.PerceptionGap]) -> str:
    questions = [g for g in gaps if g.kind == "question"] or list(gaps)
    pairs = Counter((g.lower_group, g.higher_group) for g in questions)
    (lower, higher), count = pairs.most_common(1)[0]
    dimensions = Counter(
        g.dimension for g in questions if (g.lower_group, g.higher_group) == (lower, higher)
    )
    noun = "question" if questions[0].kind == "question" else "dimension"
    first = (
        f"{lower} sees things as weaker than {higher.lower()} does on {count} {noun}"
        f"{'s' if count != 1 else ''}, mostly in {dimensions.most_common(1)[0][0].lower()}."
    )
    largest = max(gaps, key=lambda g: g.size)
    second = (
        f"The largest gap is on “{largest.title}”: {largest.lower_group} "
        f"{largest.lower_value}, {largest.higher_group} {largest.higher_value}."
    )
    return f"{first} {second}"


def _gap_picture(gaps: Sequence[report_context.PerceptionGap]) -> GapPicture | None:
    """The perception gaps the viewer may see (the report's, within the anonymity rule) as
    two dumbbell charts, dimensions and questions apart, largest first."""
    if not gaps:
        return None
    charts_ = []
    for kind, title, scale in (
        ("dimension", "Per dimension", "Score, 0–100"),
        (
            "question",
            "Per question",
            "Mean answer, from the lowest option (0) to the highest (100)",
        ),
    ):
        rows = [_gap_row(g) for g in sorted(gaps, key=lambda g: -g.size) if g.kind == kind]
        if rows:
            charts_.append(
                GapChart(title, scale, tuple(rows[:GAPS_SHOWN]), tuple(rows[GAPS_SHOWN:]))
            )
    return GapPicture(summary=_gap_summary(gaps), charts=tuple(charts_))


@dataclasses.dataclass(frozen=True)
class Download:
    label: str
    url: str
    kind: str  # CSV, JSON, PDF


@dataclasses.dataclass(frozen=True)
class ResultLink:
    label: str
    title: str
    url: str
    current: bool


@dataclasses.dataclass(frozen=True)
class UpgradeView:
    """A newer rubric exists: what rescoring means, and where to ask for it."""

    action: str
    label: str
    rescored: bool
    rescored_url: str
    renew: tuple[Renewal, ...]
    changes: int


@dataclasses.dataclass(frozen=True)
class ResultsPage:
    """Context of templates/results/results.html."""

    title: str
    team_id: int
    team_name: str
    round_id: int
    round_title: str
    round_url: str
    team_url: str
    url: str
    kind: str
    mode: str
    stage: str
    status: str
    solo: bool
    submitted: int
    needed: int
    visible: bool
    waiting: str | None
    label: str
    result_title: str
    results: tuple[ResultLink, ...]
    computed_on: str
    final: bool
    # the stored result's JSON (to_data): what the API returns and `processlens score` prints
    data: Mapping[str, Any] | None
    report: TeamReport | None
    trajectory: report_context.Trajectory | None
    dimensions: tuple[DimensionView, ...]
    radar: PageChart | None
    radar_rows: tuple[RadarRow, ...]
    radar_has_previous: bool
    handoff_level: int | None
    handoff_certain: bool
    handoff_label: str | None  # "level 1", or "level 0–2, disputed"
    artifacts: tuple[ArtifactView, ...]
    disputes: report_context.Disputes | None  # one notice for every disputed answer
    recommendation: RecommendationView | None
    roadmap: RoadmapView | None
    perception_gaps: tuple[report_context.PerceptionGap, ...]
    gap_picture: GapPicture | None
    # notes their authors marked "may be shown": no author, no role, in question order
    notes: tuple[report_context.SharedNote, ...]
    # evidence links under the same tick, shown beside the notes
    evidence_links: tuple[report_context.SharedLink, ...]
    role_group_minimum: int
    knowledge_gaps: tuple[KnowledgeGap, ...]
    debt_register: tuple[report_context.DebtItem, ...]
    comparison: ComparisonView | None
    # why no change is shown although there is a previous round (another kind of round)
    comparison_note: str | None
    evidence_share: str | None
    warnings: tuple[str, ...]
    targets: tuple[acting.TargetChoice, ...]
    can_act: bool  # actions (adopt, targets) apply to the original result only
    downloads: tuple[Download, ...]
    upgrade: UpgradeView | None
    notice: str | None
    commentary: report_commentary.CommentaryView | None  # templates/results/_commentary.html


# ---------------------------------------------------------------- builders


def _question(catalog: Catalog, qid: str) -> str:
    ref = catalog.questions.get(qid)
    return ref.question.text if ref else qid


def _explain(row: model.Explanation, subs: Mapping[str, str]) -> ExplainRow:
    return ExplainRow(
        question=row.text,
        sub_dimension=subs.get(row.sub_dimension or "", ""),
        answer=row.answer_label,
        option_score=f"{row.score} of 4",
        weight=f"{row.weight:g}",
        points=number(row.points, 1),
        max_points=number(row.max_points, 1),
    )


def _target_view(
    dimension: str, result: TeamResult, catalog: Catalog, *, ranged: bool = False
) -> TargetView | None:
    raw = next((t for t in result.targets if t.dimension == dimension), None)
    if raw is None:
        return None
    instrument = catalog.instruments[dimension]
    value = raw.target
    if isinstance(value, int):
        label = f"Level {value}"
        formula = f"Percent to target = min(100, 100 × current level ÷ {value})."
        if ranged:
            formula += " The level is disputed: its range's lower bound counts."
    else:
        band = next((b for b in instrument.bands if b.id == value), None)
        label = band.label if band else humanise(str(value))
        start = f"{band.min_score:g}" if band else "?"
        formula = (
            f"Percent to target = min(100, 100 × score ÷ {start}, the score where {label} begins)."
        )
    return TargetView(label=label, percent=raw.percent, met=raw.met, formula=formula)


def _unsettled(result: TeamResult, dimension_id: str) -> tuple[str, ...]:
    """Question ids without an option answer that leave the dimension's level (its gates)
    or findings open: the one count of what is not known, wherever the page says it."""
    because: list[str] = []
    for finding in result.findings:
        if finding.id.startswith(dimension_id + ".") and finding.status == "unknown":
            because.extend(finding.unknown_because)
    if dimension_id == "handoff" and result.handoff is not None:
        parts = [*result.handoff.artifacts.values(), result.handoff.process]
        for part in parts:
            for gate in part.gates if part is not None else ():
                if gate.status == "unknown":
                    because.extend(gate.unknown_because)
    return tuple(dict.fromkeys(because))


def _coverage_note(gaps: Sequence[str], unsettled: Sequence[str]) -> str:
    note = "Coverage is the share of the asked questions' weight the team answered with an option."
    if gaps:
        note += (
            f" {len(gaps)} question{'s' if len(gaps) != 1 else ''} answered “don't know” "
            "(or left unanswered) lower it."
        )
    if unsettled:
        note += (
            f" {len(unsettled)} question{'s' if len(unsettled) != 1 else ''} whose answers are "
            "not known (not asked in this round, or not answered) leave the level or some "
            "findings not certain: see Knowledge gaps."
        )
    if not gaps and not unsettled:
        note += " Every expected question was answered."
    return note


def _level_reason(dimension: DimensionView, artifacts: Sequence[ArtifactView]) -> str | None:
    """'68.8 — level 0 because “…” is missing': the gates that hold the lowest artifact down."""
    if dimension.kind != "level" or not artifacts:
        return None
    lowest = min(artifacts, key=lambda a: a.level)
    if not lowest.missing:
        return None
    named = [
        f"“{gate.removesuffix(' (not known)')}” is "
        + ("not known" if gate.endswith(" (not known)") else "missing")
        for gate in lowest.missing[:1]
    ]
    more = len(lowest.missing) - len(named)
    reason = " and ".join(named) + (f" (and {more} more)" if more else "")
    return f"{dimension.score} — level {lowest.level} because {reason} ({lowest.title.lower()})"


def _dimensions(
    result: TeamResult, catalog: Catalog, report: TeamReport
) -> tuple[DimensionView, ...]:
    sections = {section.id: section for section in report.dimensions}
    comparison = result.comparison.dimensions if result.comparison else {}
    views = []
    for dimension_id in report_context.scored_dimensions(result):
        raw = result.dimensions[dimension_id]
        instrument = catalog.instruments[dimension_id]
        section = sections.get(dimension_id)
        subs = {sub_id: sub.title for sub_id, sub in raw.sub_dimensions.items()}
        rows = [(r.sub_dimension or "", _explain(r, subs)) for r in raw.explanation]
        level = raw.level
        band = raw.band
        if level is not None and instrument.levels is not None:
            # the report card's label: the disputed range when there is one
            kind, label = "level", section.card.label if section else f"Level {level}"
            definition = next((d for d in instrument.levels.definitions if d.level == level), None)
            description = f"{definition.label}: {definition.description}" if definition else ""
            steps: tuple[BandStep, ...] = ()
        else:
            kind = "band"
            label = band.label if band else "No band"
            current = next((b for b in instrument.bands if band and b.id == band.id), None)
            description = current.description if current else ""
            steps = tuple(
                BandStep(b.label, f"{b.min_score:g}", bool(band and b.id == band.id))
                for b in instrument.bands
            )
        gaps = raw.knowledge_gaps
        unsettled = _unsettled(result, dimension_id)
        change = comparison.get(dimension_id)
        views.append(
            DimensionView(
                id=dimension_id,
                title=raw.title,
                description=instrument.description,
                score=number(raw.score, 1),
                coverage=percent(raw.coverage),
                coverage_note=_coverage_note(gaps, unsettled),
                kind=kind,
                level_label=label,
                level_description=description,
                bands=steps,
                target=_target_view(dimension_id, result, catalog, ranged=", disputed" in label),
                change=None if change is None else signed(change),
                classification=section.classification if section else None,
                strengths=section.strengths if section else (),
                risks=section.gaps if section else (),
                sub_scores=tuple(
                    SubScore(
                        id=sub_id,
                        title=sub.title,
                        score=number(sub.score),
                        coverage=percent(sub.coverage),
                        rows=tuple(row for key, row in rows if key == sub_id),
                    )
                    for sub_id, sub in raw.sub_dimensions.items()
                ),
                explanation=tuple(row for _, row in rows),
                knowledge_gaps=tuple(_question(catalog, q) for q in gaps),
                later=tuple(_question(catalog, q) for q in raw.later),
                unsettled=tuple(_question(catalog, q) for q in unsettled),
            )
        )
    return tuple(views)


def _radar(
    data: Mapping[str, Any], previous: Mapping[str, Any] | None
) -> tuple[PageChart | None, tuple[RadarRow, ...], bool]:
    """The radar chart and its data as table rows: both from the one chart spec."""
    spec = charts.radar_chart(data, previous)
    if spec is None:
        return None, (), False
    current = spec.series[0].values
    earlier = spec.series[1].values if len(spec.series) > 1 else None
    rows = tuple(
        RadarRow(
            dimension=spec.groups[index],
            sub_dimension=category,
            score=spec.format(current[index]),
            previous=spec.format(earlier[index]) if earlier is not None else None,
        )
        for index, category in enumerate(spec.categories)
    )
    return page_chart(spec), rows, earlier is not None


def _artifacts(report: TeamReport) -> tuple[ArtifactView, ...]:
    """The report's artifact levels (ranges already within the anonymity rule), with what
    each still misses for its next level and the upgrades that get there."""
    paths = {path.title: path.practices for path in report.level_paths}
    views = []
    for part in report.artifacts:
        next_level = part.next_level
        missing = tuple(
            gate.title + ("" if gate.status == "missing" else " (not known)")
            for gate in part.gates
            if next_level is not None
            and gate.level == next_level
            and gate.status in ("missing", "unknown")  # not "not expected yet" or n/a
        )
        if part.range_label:
            label = f"Level {part.range_label}"
        else:
            label = f"Level {part.level}" + ("" if part.certain else " (not certain)")
        views.append(
            ArtifactView(
                id=part.id,
                title=part.title,
                level=part.level,
                certain=part.certain,
                next_level=next_level,
                missing=missing,
                upgrades=paths.get(part.title, ()),
                gates=tuple(
                    (g.title, g.level, g.status, GATE_STATUS.get(g.status, g.status))
                    for g in part.gates
                ),
                label=label,
            )
        )
    return tuple(views)


def _reason(raw: model.FitReason, catalog: Catalog) -> ReasonView:
    return ReasonView(
        text=raw.reason,
        weight=f"{raw.weight:+d}".replace("-", "−"),
        answers=tuple(f"{_question(catalog, a.question)} — {a.answer_label}" for a in raw.answers),
        certain=raw.status == "holds",
    )


def _model(raw: model.ProcessModel, catalog: Catalog) -> ModelCard:
    source = next((m for m in catalog.process_models.process_models if m.id == raw.id), None)
    positive = sum(rule.weight for rule in source.fit if rule.weight > 0) if source else 0
    holding = sum(r.weight for r in (*raw.reasons, *raw.against))
    return ModelCard(
        id=raw.id,
        name=raw.name,
        summary=raw.summary,
        description=source.description if source else "",
        fits_when=source.fits_when if source else "",
        avoid_when=source.avoid_when if source else "",
        fit=number(raw.fit),
        fit_words=(
            f"The conditions that hold for it weigh {max(0, holding)} of the {positive} points "
            f"its favourable conditions could give, so it fits {number(raw.fit)} of 100."
            if positive
            else ""
        ),
        fit_formula=(
            f"Fit = 100 × max(0, {holding:+d}) ÷ {positive} = {number(raw.fit)}: the weights "
            "of the conditions that hold, over the weights of all its favourable conditions."
            if positive
            else ""
        ),
        reasons=tuple(_reason(r, catalog) for r in raw.reasons),
        against=tuple(_reason(r, catalog) for r in raw.against),
        undecided=tuple(_reason(r, catalog) for r in raw.undecided),
        caveats=tuple(
            ReasonView(
                text=c.text,
                weight="",
                answers=tuple(_question(catalog, q) for q in c.questions),
                certain=c.status == "holds",
            )
            for c in raw.caveats
        ),
    )


def _recommendation(result: TeamResult, catalog: Catalog, report: TeamReport) -> RecommendationView:
    models = {m.id: m for m in result.process_models}
    top = models[result.recommendation.top]
    return RecommendationView(
        top=_model(top, catalog),
        runner_up=_model(models[result.recommendation.runner_up], catalog),
        close=result.recommendation.close,
        margin=number(result.recommendation.margin),
        # the report's wording: page and report say the same
        no_recommendation=report.no_recommendation,
        ranked=tuple((m.name, number(m.fit)) for m in result.process_models),
        sensitivity=report.sensitivity,
        level_sensitivity=report.level_sensitivity,
    )


def _roadmap(
    result: TeamResult,
    catalog: Catalog,
    report: TeamReport,
    adopted: Mapping[str, str],
) -> RoadmapView:
    roadmap = result.roadmap
    raw = {
        item.practice: item
        for items in (roadmap.now, roadmap.next, roadmap.later, roadmap.adopted)
        for item in items
    }

    def view(practice: report_context.Practice) -> PracticeView:
        item = raw[practice.id]
        effort = item.effort
        cost = EFFORT_COST.get(effort, 1)
        return PracticeView(
            practice=practice,
            gap=number(item.gap, 2),
            priority=number(item.priority, 2),
            formula=(
                f"Priority = gap {item.gap:.2f} × impact {item.impact} ÷ effort "
                f"{effort} ({cost}) = {item.priority:.2f}. The gap is how far the answers "
                "this practice addresses are from the top of the scale."
            ),
        )

    titles = {p.id: p.title for p in catalog.practices.practices}
    moved = result.comparison.adopted_moved if result.comparison else {}
    return RoadmapView(
        # practices the team has adopted since the result was published leave the buckets
        # (the published roadmap itself never changes)
        now=tuple(view(p) for p in report.now if p.id not in adopted),
        next=tuple(view(p) for p in report.next if p.id not in adopted),
        later=tuple(view(p) for p in report.later if p.id not in adopted),
        adopted=tuple(
            AdoptedItem(
                id=practice_id,
                title=titles.get(practice_id, humanise(practice_id)),
                adopted_on=when,
                moved=labels.MOVED_LABELS.get(moved[practice_id]) if practice_id in moved else None,
            )
            for practice_id, when in adopted.items()
        ),
        to_check=report.to_check,
        level_paths=report.level_paths,
    )


def _knowledge_gaps(result: TeamResult, catalog: Catalog) -> tuple[KnowledgeGap, ...]:
    """Per questionnaire, the questions someone answered "don't know" (for the scored ones,
    the engine's knowledge gaps, which also hold required questions left unanswered)."""

    def how_many(qid: str) -> str:
        spread = result.answers.get(qid)
        counts = spread.counts if spread else {}
        unknown = counts.get(DONT_KNOW, 0)
        if spread is None:
            return "not asked in this round: the level or a finding depends on it"
        if not unknown:
            return "not answered"
        return f"{unknown} of {sum(counts.values())} answered “don't know”"

    gaps = []
    for instrument_id in result.round.instruments:
        instrument = catalog.instruments.get(instrument_id)
        if instrument is None:
            continue
        raw = result.dimensions.get(instrument_id)
        if raw is not None:
            # "don't know" and the questions that leave a level or finding open, once each
            qids = list(dict.fromkeys((*raw.knowledge_gaps, *_unsettled(result, instrument_id))))
        else:
            qids = [
                qid
                for qid, spread in result.answers.items()
                if qid.startswith(instrument_id + ".") and spread.counts.get(DONT_KNOW)
            ]
        if qids:
            gaps.append(
                KnowledgeGap(
                    raw.title if raw is not None else instrument.title,
                    tuple((_question(catalog, q), how_many(q)) for q in qids),
                )
            )
    return tuple(gaps)


def _downloads(base: str, report_links: Sequence[Download]) -> tuple[Download, ...]:
    return (
        Download("Roadmap", f"{base}/roadmap.csv", "CSV"),
        Download("Roadmap", f"{base}/roadmap.json", "JSON"),
        Download("Debt register", f"{base}/debt-register.csv", "CSV"),
        Download("Debt register", f"{base}/debt-register.json", "JSON"),
        *report_links,
        Download("The whole result", f"{base}/result.json", "JSON"),
    )


def result_title(label: str) -> str:
    if label == ORIGINAL:
        return "Original result"
    if label.startswith(RESCORED_PREFIX):
        return f"Rescored under rubric {label.removeprefix(RESCORED_PREFIX)}"
    return humanise(label)


def _result_links(results: RoundResults, url: str) -> tuple[ResultLink, ...]:
    """The round's stored results (the original, then each rescoring), the shown one marked."""
    return tuple(
        ResultLink(
            label=label,
            title=result_title(label),
            url=url if label == ORIGINAL else f"{url}?result={label}",
            current=label == results.label,
        )
        for label in results.labels
    )


def _upgrade_view(upgrade: RubricUpgrade | None, *, base: str, url: str) -> UpgradeView | None:
    """The offer to score the round under a newer rubric, if there is one."""
    return (
        UpgradeView(
            action=f"{base}/rescore",
            label=upgrade.label,
            rescored=upgrade.rescored,
            rescored_url=f"{url}?result={upgrade.label}",
            renew=upgrade.renew,
            changes=len(upgrade.changes),
        )
        if upgrade is not None
        else None
    )


def _waiting_page(
    common: Mapping[str, Any],
    *,
    session: Session,
    assessment_round: AssessmentRound,
    visibility: Visibility,
    solo: bool,
) -> ResultsPage:
    """The page while the anonymity rule (or a solo round's missing answers) hides the result."""
    waiting = (
        "Waiting for your answers: results appear as soon as you submit them."
        if solo
        else anonymity_rule.waiting_message(
            session,
            assessment_round,
            submitted=visibility.submitted,
            needed=visibility.needed,
        )
    )
    return ResultsPage(
        **common,
        waiting=waiting,
        computed_on="",
        final=False,
        data=None,
        report=None,
        trajectory=None,
        dimensions=(),
        radar=None,
        radar_rows=(),
        radar_has_previous=False,
        handoff_level=None,
        handoff_certain=False,
        handoff_label=None,
        artifacts=(),
        disputes=None,
        recommendation=None,
        roadmap=None,
        perception_gaps=(),
        gap_picture=None,
        notes=(),
        evidence_links=(),
        knowledge_gaps=(),
        debt_register=(),
        comparison=None,
        comparison_note=None,
        evidence_share=None,
        warnings=(),
        downloads=(),
    )


def _dimension_cards(
    result: TeamResult,
    catalog: Catalog,
    report: TeamReport,
    artifacts: Sequence[ArtifactView],
    *,
    compared: bool,
) -> tuple[DimensionView, ...]:
    """The dimensions with what holds a level down, and changes only when ``compared``."""
    return tuple(
        dataclasses.replace(
            d, level_reason=_level_reason(d, artifacts), change=d.change if compared else None
        )
        for d in _dimensions(result, catalog, report)
    )


def _other_kind_note(previous: ShownResult | None, assessment_round: AssessmentRound) -> str | None:
    """Why no change is shown: the previous round was of another kind (quick or full). A
    quick check asks fewer questions than a full assessment, so their scores differ by what
    was asked, not by what changed."""
    if previous is None or previous.round.kind == assessment_round.kind:
        return None

    def kind(assessment_round: AssessmentRound) -> str:
        return (
            labels.KIND_LABELS.get(assessment_round.kind, assessment_round.kind).lower()
            + f" ({labels.MODE_LABELS.get(assessment_round.mode, assessment_round.mode).lower()})"
        )

    return (
        f"No change is shown: the previous round was a {kind(previous.round)} and this one "
        f"a {kind(assessment_round)}. "
        "They ask different questions, so their scores are not comparable; changes are "
        "shown between rounds of the same kind."
    )


def _with_current_targets(
    session: Session, stored: RoundResult, catalog: Catalog, assessment_round: AssessmentRound
) -> TeamResult:
    return results_service.with_current_targets(
        session, result_of(stored), catalog, assessment_round.team_id
    )


def _previous_compared(
    session: Session, assessment_round: AssessmentRound, results: RoundResults
) -> tuple[TeamResult | None, str | None]:
    """The previous round this original result is compared with (of its kind only), and the
    note saying why there is no comparison when the previous round is of another kind."""
    previous = previous_shown(session, assessment_round)
    comparison_note = _other_kind_note(previous, assessment_round)
    if previous is None or results.label != ORIGINAL or comparison_note is not None:
        return None, comparison_note
    return previous.result, None


def _previous_profile(result: TeamResult, previous: TeamResult | None) -> Mapping[str, Any] | None:
    """The previous profile for the radar, only under the same rubric (the report's rule:
    app.reports.context)."""
    if previous is None:
        return None
    if dict(previous.round.rubric_versions) != dict(result.round.rubric_versions):
        return None
    return previous.to_data()


def _shown_page(
    common: Mapping[str, Any],
    *,
    session: Session,
    settings: Settings,
    catalog: Catalog,
    organisation: Organisation,
    team: Team,
    assessment_round: AssessmentRound,
    results: RoundResults,
    stored: RoundResult,
    adopted: Mapping[str, str],
    base: str,
    report_links: Sequence[Download],
) -> ResultsPage:
    """A result the viewer may see; the original beside a previous round of its kind."""
    result = _with_current_targets(session, stored, catalog, assessment_round)
    previous_result, comparison_note = _previous_compared(session, assessment_round, results)
    report = report_context.team_report(
        data=result,
        catalog=catalog,
        team=team.name,
        organisation=organisation.name,
        date=day(assessment_round.closed_at or assessment_round.created_at),
        branding=organisation_branding(organisation, settings),
        previous=previous_result,
        role_group_minimum=settings.role_group_min,
    )
    data = result.to_data()
    radar, radar_rows, radar_has_previous = _radar(data, _previous_profile(result, previous_result))
    handoff = result.handoff
    evidence = result.confidence.evidence_share
    artifacts = _artifacts(report)
    dimensions = _dimension_cards(
        result, catalog, report, artifacts, compared=comparison_note is None
    )
    return ResultsPage(
        **common,
        waiting=None,
        computed_on=day(stored.computed_at),
        final=stored.final,
        data=data,
        report=report,
        trajectory=report.trajectory,
        dimensions=dimensions,
        radar=radar,
        radar_rows=radar_rows,
        radar_has_previous=radar_has_previous,
        handoff_level=handoff.level if handoff else None,
        handoff_certain=bool(handoff and handoff.certain),
        handoff_label=report.handoff_label,
        artifacts=artifacts,
        disputes=report.disputes,
        recommendation=_recommendation(result, catalog, report),
        roadmap=_roadmap(result, catalog, report, adopted),
        perception_gaps=report.perception_gaps,
        gap_picture=_gap_picture(report.perception_gaps),
        # the team report's appendix rule: only once the result may be seen at all
        notes=report_batch.round_notes(session=session, round_id=stored.round_id, catalog=catalog),
        evidence_links=report_batch.round_links(
            session=session, round_id=stored.round_id, catalog=catalog
        ),
        knowledge_gaps=_knowledge_gaps(result, catalog),
        debt_register=report.debt_register,
        comparison=None if comparison_note else _comparison(report),
        comparison_note=comparison_note,
        evidence_share=None if evidence is None else percent(evidence),
        # the consensus warnings are gathered in `disputes`, within the anonymity rule
        warnings=report.warnings,
        downloads=_downloads(base, report_links),
    )


def results_page(
    *,
    session: Session,
    settings: Settings,
    catalog: Catalog,
    newest: Catalog,
    team: Team,
    organisation: Organisation,
    assessment_round: AssessmentRound,
    results: RoundResults,
    adopted: Mapping[str, str],
    upgrade: RubricUpgrade | None,
    report_links: Sequence[Download] = (),
    notice: str | None = None,
    commentary: report_commentary.CommentaryView | None = None,
) -> ResultsPage:
    """The page for ``results`` of the round: its result under the chosen label, or the
    waiting state while the anonymity rule hides it. ``catalog`` is the rubric the result was
    computed with; ``newest`` is the one targets and practices are chosen from."""
    assert team.id is not None
    assert assessment_round.id is not None
    base = round_url(team.id, assessment_round.id)
    url = results_url(team.id, assessment_round.id)
    visibility = results.visibility
    solo = assessment_round.mode == RoundMode.solo
    stored = results.result
    links = _result_links(results, url)
    upgrade_view = _upgrade_view(upgrade, base=base, url=url)
    common: dict[str, Any] = {
        "title": f"Results: {team.name}",
        "team_id": team.id,
        "team_name": team.name,
        "round_id": assessment_round.id,
        "round_title": assessment_round.title or "Round",
        "round_url": base,
        "team_url": team_url(team.id),
        "url": url,
        "kind": labels.KIND_LABELS.get(assessment_round.kind, assessment_round.kind),
        "mode": labels.MODE_LABELS.get(assessment_round.mode, assessment_round.mode),
        "stage": labels.STAGE_LABELS.get(assessment_round.stage, assessment_round.stage),
        "status": round_status(assessment_round).label,
        "solo": solo,
        "submitted": visibility.submitted,
        "needed": visibility.needed,
        "visible": stored is not None,
        "label": results.label,
        "result_title": result_title(results.label),
        "results": links,
        "role_group_minimum": settings.role_group_min,
        "targets": acting.target_choices(session=session, catalog=newest, team_id=team.id),
        "can_act": results.label == ORIGINAL,
        "upgrade": upgrade_view,
        "notice": notice,
        "commentary": commentary,
    }
    if stored is None:
        return _waiting_page(
            common,
            session=session,
            assessment_round=assessment_round,
            visibility=visibility,
            solo=solo,
        )
    return _shown_page(
        common,
        session=session,
        settings=settings,
        catalog=catalog,
        organisation=organisation,
        team=team,
        assessment_round=assessment_round,
        results=results,
        stored=stored,
        adopted=adopted,
        base=base,
        report_links=report_links,
    )
