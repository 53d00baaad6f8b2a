"""From answers to advice: ranked process models, sensitivity, the roadmap, the debt register.

Fit of a process model (docs/scoring.md): 100 · max(0, Σ weights of the fit rules that hold) /
Σ positive weights. Unknown rules add nothing and are listed. Practice priority:
gap × impact / effort cost (S=1, M=2, L=3), gap = 1 − mean(score/4) of the answered questions
the practice addresses (1 when none is answered), doubled for a production control from
productionising on and halved for a refinement; the remedies of a team's defining problems go
to Now first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.rubric.categorical import LevelResult, classify, evaluate_levels
from app.rubric.loader import Catalog
from app.rubric.rules import STAGES, AnswerLookup, evaluate, referenced_questions
from app.rubric.schema import EFFORT_COST, SCALE_MAX, DefiningProblem, Practice, ProcessModel

NOW_LIMIT = 5
NEXT_LIMIT = 10  # a roadmap is read, not searched: lower priorities wait under Later


@dataclass(frozen=True, slots=True)
class FitReason:
    reason: str
    weight: int
    status: str  # holds | unknown
    questions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CaveatResult:
    id: str
    text: str
    status: str  # holds | unknown
    questions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ModelFit:
    id: str
    name: str
    summary: str
    fit: float
    reasons_for: tuple[FitReason, ...]
    reasons_against: tuple[FitReason, ...]
    undecided: tuple[FitReason, ...]
    caveats: tuple[CaveatResult, ...]


@dataclass(frozen=True, slots=True)
class Sensitivity:
    """A single answer change that would change the top pick or a level."""

    question: str
    current: Any
    alternative: Any
    effect: str  # top_model | level
    subject: str  # the artifact (for levels) or "process_model"
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class Ranking:
    models: tuple[ModelFit, ...]
    close: bool
    margin: float

    @property
    def top(self) -> ModelFit:
        return self.models[0]

    @property
    def runner_up(self) -> ModelFit:
        return self.models[1]


def _fit_value(model: ProcessModel, lookup: AnswerLookup) -> float:
    positive = sum(rule.weight for rule in model.fit if rule.weight > 0)
    total = sum(rule.weight for rule in model.fit if evaluate(rule.when, lookup).is_true)
    return round(100 * max(0, total) / positive, 1)


def rank_models(catalog: Catalog, lookup: AnswerLookup) -> Ranking:
    fits = []
    for model in catalog.process_models.process_models:
        reasons_for: list[FitReason] = []
        reasons_against: list[FitReason] = []
        undecided: list[FitReason] = []
        for rule in model.fit:
            verdict = evaluate(rule.when, lookup)
            questions = tuple(sorted(referenced_questions(rule.when)))
            if verdict.is_true:
                target = reasons_for if rule.weight > 0 else reasons_against
                target.append(FitReason(rule.reason, rule.weight, "holds", questions))
            elif verdict.is_unknown:
                undecided.append(
                    FitReason(
                        rule.reason, rule.weight, "unknown", tuple(sorted(verdict.unknown_because))
                    )
                )
        caveats = []
        for caveat in model.caveats:
            verdict = evaluate(caveat.when, lookup)
            if not verdict.is_false:
                caveats.append(
                    CaveatResult(
                        caveat.id,
                        caveat.text,
                        "holds" if verdict.is_true else "unknown",
                        tuple(sorted(verdict.unknown_because or referenced_questions(caveat.when))),
                    )
                )
        fits.append(
            ModelFit(
                id=model.id,
                name=model.name,
                summary=model.summary,
                fit=_fit_value(model, lookup),
                reasons_for=tuple(sorted(reasons_for, key=lambda r: -r.weight)),
                reasons_against=tuple(sorted(reasons_against, key=lambda r: r.weight)),
                undecided=tuple(undecided),
                caveats=tuple(sorted(caveats, key=lambda c: c.status != "holds")),
            )
        )
    order = {model.id: index for index, model in enumerate(catalog.process_models.process_models)}
    ranked = tuple(sorted(fits, key=lambda fit: (-fit.fit, order[fit.id])))
    margin = catalog.process_models.close_margin
    return Ranking(ranked, close=ranked[0].fit - ranked[1].fit <= margin, margin=margin)


def _top_model(catalog: Catalog, lookup: AnswerLookup) -> str:
    order = catalog.process_models.process_models
    return max(order, key=lambda m: (_fit_value(m, lookup), -order.index(m))).id


def sensitivity(
    catalog: Catalog,
    values: Mapping[str, Any],
    *,
    stage: str,
    hidden: frozenset[str],
    levels: LevelResult | None,
) -> list[Sensitivity]:
    """Answers whose single change would change the top process model or a handoff level."""
    changes: list[Sensitivity] = []
    base = catalog.lookup(values, stage=stage, hidden=hidden)
    top = _top_model(catalog, base)
    fit_questions = sorted(
        {
            q
            for m in catalog.process_models.process_models
            for r in m.fit
            for q in referenced_questions(r.when)
        }
    )
    for qid in fit_questions:
        for alternative in _alternatives(catalog, qid, values.get(qid)):
            changed = catalog.lookup({**values, qid: alternative}, stage=stage, hidden=hidden)
            new_top = _top_model(catalog, changed)
            if new_top != top:
                changes.append(
                    Sensitivity(
                        qid,
                        values.get(qid),
                        alternative,
                        "top_model",
                        "process_model",
                        top,
                        new_top,
                    )
                )
    if levels is not None:
        instrument = catalog.instruments[levels.instrument]
        assert instrument.levels is not None
        gate_questions = sorted(
            {q for g in instrument.levels.gates for q in referenced_questions(g.rule)}
        )
        before = {a.artifact: a.level for a in levels.artifacts} | {"overall": levels.overall}
        # gates whose questions are not expected at the stage are left out, as in the levels
        later = frozenset(
            q for q, ref in catalog.questions.items() if stage not in ref.question.stages
        )
        for qid in gate_questions:
            for alternative in _alternatives(catalog, qid, values.get(qid)):
                changed = catalog.lookup({**values, qid: alternative}, stage=stage, hidden=hidden)
                result = evaluate_levels(instrument, changed, later)
                assert result is not None
                after = {a.artifact: a.level for a in result.artifacts} | {
                    "overall": result.overall
                }
                for subject in before:
                    if after[subject] != before[subject]:
                        changes.append(
                            Sensitivity(
                                qid,
                                values.get(qid),
                                alternative,
                                "level",
                                subject,
                                before[subject],
                                after[subject],
                            )
                        )
    return changes


def _alternatives(catalog: Catalog, qid: str, current: Any) -> list[Any]:
    question = catalog.questions[qid].question
    if question.type not in ("ordinal", "single"):
        return []
    return [option for option in question.option_ids if option != current]


# --- roadmap ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RemedyOf:
    """The defining problem a Now item is there for: its remedy, or needed first by one."""

    problem: str  # the defining problem's id: over_the_wall, reckless_debt, ...
    title: str
    needed_first: bool = False  # a prerequisite of a remedy rather than a remedy itself


@dataclass(frozen=True, slots=True)
class RoadmapItem:
    practice: str
    title: str
    dimension: str
    bucket: str  # now | next | later | adopted
    priority: float
    gap: float
    impact: int
    effort: str
    owners: tuple[str, ...]
    steps: tuple[str, ...]
    reason: str  # why it sits in its bucket
    unlocks: str | None
    remedies: RemedyOf | None = None  # the team's defining problem it answers, if any


@dataclass(frozen=True, slots=True)
class LevelPath:
    """What a team still needs to reach the next level of one artifact."""

    artifact: str
    title: str
    target_level: int
    gates: tuple[str, ...]  # titles of gates not yet met (or unknown)
    practices: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Roadmap:
    now: tuple[RoadmapItem, ...]
    next: tuple[RoadmapItem, ...]
    later: tuple[RoadmapItem, ...]
    adopted: tuple[RoadmapItem, ...]
    to_check: tuple[str, ...]  # practices whose trigger depends on "don't know" answers
    level_paths: tuple[LevelPath, ...]


def practice_gap(catalog: Catalog, practice: Practice, values: Mapping[str, Any]) -> float:
    scores = []
    for qid in practice.addresses:
        question = catalog.questions[qid].question
        value = values.get(qid)
        option = (
            question.option(value)
            if isinstance(value, str) and question.type == "ordinal"
            else None
        )
        if option is not None and option.score is not None:
            scores.append(option.score / SCALE_MAX)
    return round(1 - sum(scores) / len(scores), 3) if scores else 1.0


PRODUCTION_STAGES = ("productionising", "operating")
PRODUCTION_CONTROL_WEIGHT = 2  # production controls count double once a model goes live
REFINEMENT_WEIGHT = 0.5  # a refinement improves something that must already work
_BUCKETS = ("now", "next", "later")


def practice_priority(practice: Practice, gap: float, stage: str) -> float:
    """gap x impact / effort (the base term), weighted by stage and by foundation vs refinement."""
    priority = gap * practice.impact / EFFORT_COST[practice.effort]
    if practice.production_control and stage in PRODUCTION_STAGES:
        priority *= PRODUCTION_CONTROL_WEIGHT
    if practice.refinement:
        priority *= REFINEMENT_WEIGHT
    return round(priority, 3)


def defining_problems(catalog: Catalog, lookup: AnswerLookup) -> list[DefiningProblem]:
    """The team's defining problems that hold (not those that might: a remedy is only pinned to
    Now on the answers given)."""
    held = []
    for problem in catalog.practices.defining_problems:
        if problem.when is not None:
            if evaluate(problem.when, lookup).is_true:
                held.append(problem)
            continue
        instrument_id, _, class_id = (problem.classification or "").partition(".")
        instrument = catalog.instruments.get(instrument_id)
        classification = (
            next((c for c in instrument.classifications if c.id == class_id), None)
            if instrument
            else None
        )
        if classification is None:
            continue
        if classify(classification, lookup).outcome in problem.outcomes:
            held.append(problem)
    return held


def findings_answered(catalog: Catalog, practice: Practice, lookup: AnswerLookup) -> int:
    """How many risks, fit warnings and debt items that hold rest on an answer the practice
    addresses (or name the practice): the second tie-breaker after impact."""
    addressed = set(practice.addresses)
    count = 0
    for instrument in catalog.instruments.values():
        for finding in instrument.findings:
            if finding.kind == "strength" or not addressed & referenced_questions(finding.when):
                continue
            count += evaluate(finding.when, lookup).is_true
        for item in instrument.debt_items:
            if item.practice == practice.id or addressed & referenced_questions(item.when):
                count += evaluate(item.when, lookup).is_true
    return count


# long: the roadmap's ordering rules (docs/scoring.md, Roadmap) applied in sequence
def build_roadmap(
    catalog: Catalog,
    lookup: AnswerLookup,
    *,
    stage: str,
    adopted: Iterable[str],
    levels: LevelResult | None,
) -> Roadmap:
    """Practices whose trigger holds, in Now / Next / Later (docs/scoring.md, "Roadmap").

    Order: remedies of the team's defining problems first (with whatever they need first),
    then priority, impact, findings answered and catalogue order. A practice is placed only
    after its open prerequisites, never in an earlier bucket than they are."""
    adopted_ids = set(adopted)
    practices = {p.id: p for p in catalog.practices.practices}
    order = {p.id: i for i, p in enumerate(catalog.practices.practices)}
    to_check = []
    scored: dict[str, tuple[float, float, int]] = {}  # gap, priority, findings answered
    for practice in catalog.practices.practices:
        verdict = evaluate(practice.trigger, lookup)
        if verdict.is_unknown and practice.id not in adopted_ids:
            to_check.append(practice.id)
        if not verdict.is_true and practice.id not in adopted_ids:
            continue
        gap = practice_gap(catalog, practice, lookup.answers)
        scored[practice.id] = (
            gap,
            practice_priority(practice, gap, stage),
            findings_answered(catalog, practice, lookup),
        )
    open_ids = {pid for pid in scored if pid not in adopted_ids}

    # Remedies of the defining problems, and the open prerequisites they need, go to Now.
    pinned: dict[str, str] = {}  # practice -> why it is pinned
    remedy_of: dict[str, RemedyOf] = {}
    for problem in defining_problems(catalog, lookup):
        for remedy in problem.remedies:
            if remedy in open_ids and stage in practices[remedy].stages:
                pinned.setdefault(
                    remedy, f"remedy for this team's defining problem: {problem.title}"
                )
                remedy_of.setdefault(remedy, RemedyOf(problem.id, problem.title))
    for remedy in list(pinned):
        for needed in _open_prerequisites(practices, remedy, open_ids):
            pinned.setdefault(needed, f"needed first for {practices[remedy].title}")
            source = remedy_of[remedy]
            remedy_of.setdefault(needed, RemedyOf(source.problem, source.title, True))

    def rank(pid: str) -> tuple[bool, float, int, int, int]:
        _, priority, findings = scored[pid]
        return (pid not in pinned, -priority, -practices[pid].impact, -findings, order[pid])

    placed: dict[str, str] = {}
    reasons: dict[str, str] = {}
    counts = {"now": 0, "next": 0}

    def place(pid: str, visiting: frozenset[str] = frozenset()) -> None:
        if pid in placed or pid in visiting:
            return
        practice = practices[pid]
        waiting = [p for p in practice.prerequisites if p in open_ids]
        for needed in sorted(waiting, key=rank):
            place(needed, visiting | {pid})
        floor = max((_BUCKETS.index(placed.get(p, "later")) for p in waiting), default=0)
        if pid in adopted_ids:
            bucket, reason = "adopted", "marked as adopted"
        elif stage not in practice.stages:
            bucket = "later"
            reason = f"expected from the {_first_stage_after(practice.stages, stage)} stage on"
        elif pid in pinned and floor == 0:
            bucket, reason = "now", pinned[pid]
        elif waiting:
            after = "after " + ", ".join(waiting)
            if floor <= 1 and counts["next"] < NEXT_LIMIT:
                bucket, reason = "next", after
            else:
                bucket, reason = "later", after
        elif counts["now"] < NOW_LIMIT:
            bucket, reason = "now", "highest priority among the practices you can start now"
        elif counts["next"] < NEXT_LIMIT:
            bucket, reason = "next", "queued behind the Now items"
        else:
            bucket, reason = "later", "lower priority: revisit once the Next items are under way"
        if bucket in counts:
            counts[bucket] += 1
        placed[pid] = bucket
        reasons[pid] = reason

    for pid in sorted(scored, key=rank):
        place(pid)

    buckets: dict[str, list[RoadmapItem]] = {"now": [], "next": [], "later": [], "adopted": []}
    for pid in sorted(scored, key=rank):
        practice = practices[pid]
        gap, priority, _ = scored[pid]
        buckets[placed[pid]].append(
            RoadmapItem(
                practice=practice.id,
                title=practice.title,
                dimension=practice.dimension,
                bucket=placed[pid],
                priority=priority,
                gap=gap,
                impact=practice.impact,
                effort=practice.effort,
                owners=practice.owners,
                steps=practice.steps,
                reason=reasons[pid],
                unlocks=(
                    f"{practice.unlocks.artifact} level {practice.unlocks.level}"
                    if practice.unlocks
                    else None
                ),
                remedies=remedy_of.get(pid) if placed[pid] == "now" else None,
            )
        )
    return Roadmap(
        now=tuple(buckets["now"]),
        next=tuple(buckets["next"]),
        later=tuple(buckets["later"]),
        adopted=tuple(buckets["adopted"]),
        to_check=tuple(to_check),
        level_paths=tuple(_level_paths(catalog, levels)),
    )


def _open_prerequisites(
    practices: Mapping[str, Practice], pid: str, open_ids: set[str]
) -> list[str]:
    """Every open practice `pid` waits for, directly or through another one."""
    found: list[str] = []
    stack = [p for p in practices[pid].prerequisites if p in open_ids]
    while stack:
        needed = stack.pop()
        if needed in found:
            continue
        found.append(needed)
        stack.extend(p for p in practices[needed].prerequisites if p in open_ids)
    return found


def _first_stage_after(stages: Sequence[str], current: str) -> str:
    position = STAGES.index(current) if current in STAGES else -1
    later = [stage for stage in STAGES[position + 1 :] if stage in stages]
    return later[0] if later else stages[0]


def _level_paths(catalog: Catalog, levels: LevelResult | None) -> list[LevelPath]:
    if levels is None:
        return []
    paths = []
    for part in [*levels.artifacts, *([levels.process] if levels.process else [])]:
        if part.next_level is None:
            continue
        practices = tuple(
            p.id
            for p in catalog.practices.practices
            if p.unlocks
            and p.unlocks.instrument == levels.instrument
            and p.unlocks.artifact == part.artifact
            and p.unlocks.level == part.next_level
        )
        gates = tuple(g.title for g in part.gates if g.status != "met")
        paths.append(LevelPath(part.artifact, part.title, part.next_level, gates, practices))
    return paths


# --- debt register ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DebtRow:
    id: str
    title: str
    category: str
    quadrant: str | None
    description: str
    practice: str | None
    source: str


def debt_register(
    catalog: Catalog, lookup: AnswerLookup, *, team_quadrant: str | None
) -> list[DebtRow]:
    documents = {doc.id: doc.short for doc in catalog.bibliography.sources}
    rows = []
    for instrument in catalog.instruments.values():
        for item in instrument.debt_items:
            if not evaluate(item.when, lookup).is_true:
                continue
            source = item.sources[0]
            rows.append(
                DebtRow(
                    id=item.id,
                    title=item.title,
                    category=item.category,
                    quadrant=item.quadrant or team_quadrant,
                    description=item.description,
                    practice=item.practice,
                    source=f'{documents[source.doc]}, "{source.section}"',
                )
            )
    return rows
