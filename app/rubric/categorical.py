"""Categorical results from the rubric's rules: levels, classifications, findings, debt items.

All of them are evaluated on one set of answers — a solo respondent's, or a team's consensus
answers — and report unknown results as unknown, with the questions that would decide them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from app.rubric.rules import (
    NOT_APPLICABLE,
    AllRule,
    AnswerLookup,
    AnyRule,
    NotRule,
    Predicate,
    Rule,
    Verdict,
    evaluate,
    referenced_questions,
)
from app.rubric.schema import Classification, DebtItem, Finding, Gate, Instrument


@dataclass(frozen=True, slots=True)
class GateResult:
    id: str
    title: str
    level: int
    status: str  # met | missing | unknown | not_expected | not_applicable
    unknown_because: tuple[str, ...] = ()


LEFT_OUT = frozenset({"not_expected", "not_applicable"})
"""Gate statuses that leave the gate out of the level: every question it reads is not expected
at the round's stage, or does not apply (answered "not applicable", or hidden)."""


@dataclass(frozen=True, slots=True)
class ArtifactLevel:
    """The level an artifact has proven, and what stands between it and the next one."""

    artifact: str
    title: str
    level: int
    certain: bool  # False when the next level's gates are undecided ("don't know" answers)
    next_level: int | None
    gates: tuple[GateResult, ...]  # the next level's gates; empty at the top level
    # True when the next level's gates are all not expected at the round's stage yet
    not_expected: bool = False
    high: int | None = None  # the top of the level's range when it rests on a disputed answer

    @property
    def missing(self) -> tuple[GateResult, ...]:
        return tuple(gate for gate in self.gates if gate.status == "missing")

    @property
    def unknown(self) -> tuple[GateResult, ...]:
        return tuple(gate for gate in self.gates if gate.status == "unknown")


@dataclass(frozen=True, slots=True)
class LevelResult:
    instrument: str
    overall: int
    certain: bool
    artifacts: tuple[ArtifactLevel, ...]
    process: ArtifactLevel | None  # the `overall` gates, when the rubric has any
    # no gate expected at the round's stage is missing or undecided, and some wait for later
    nothing_missing: bool = False
    high: int | None = None  # the top of the overall level's range when it is disputed
    disputed: bool = False  # the level rests on a disputed answer (high > overall)


@dataclass(frozen=True, slots=True)
class ClassificationResult:
    id: str
    title: str
    outcome: str | None  # None: unknown, or no outcome matched
    label: str | None
    unknown_because: tuple[str, ...] = ()
    # the outcome at the top of a disputed answer's range, when it differs from `outcome`
    alternative: str | None = None

    @property
    def disputed(self) -> bool:
        return self.alternative is not None


@dataclass(frozen=True, slots=True)
class FindingResult:
    id: str
    kind: str
    title: str
    text: str
    status: str  # holds | unknown
    unknown_because: tuple[str, ...] = ()


def _gate_result(gate: Gate, lookup: AnswerLookup, not_expected: Collection[str]) -> GateResult:
    """A gate's status, decided by the parts of its rule that apply (docs/scoring.md,
    "Handoff levels"): a part reading a question not expected at the round's stage, answered
    "not applicable" or hidden is left out; a gate with no part left is left out itself."""
    questions = referenced_questions(gate.rule)
    later = frozenset(qid for qid in questions if qid in not_expected)
    absent = frozenset(
        qid
        for qid in questions
        if qid in lookup.hidden or lookup.answers.get(qid) == NOT_APPLICABLE
    )
    rule = applicable_part(gate.rule, later | absent)
    if rule is None:
        status = "not_expected" if later else "not_applicable"
        return GateResult(id=gate.id, title=gate.title, level=gate.level, status=status)
    verdict = evaluate(rule, lookup)
    status = "met" if verdict.is_true else "missing" if verdict.is_false else "unknown"
    return GateResult(
        id=gate.id,
        title=gate.title,
        level=gate.level,
        status=status,
        unknown_because=tuple(sorted(verdict.unknown_because)),
    )


def applicable_part(rule: Rule, left_out: Collection[str]) -> Rule | None:
    """``rule`` without its predicates on the ``left_out`` questions, or None when nothing is
    left: an `all` or `any` keeps the parts that remain, a `not` goes with its part."""
    if not left_out:
        return rule
    if isinstance(rule, Predicate):
        return None if rule.q in left_out else rule
    if isinstance(rule, AllRule | AnyRule):
        parts = rule.all_ if isinstance(rule, AllRule) else rule.any_
        kept = tuple(p for p in (applicable_part(part, left_out) for part in parts) if p)
        if not kept:
            return None
        if len(kept) == len(parts):
            return rule
        return AllRule(all_=kept) if isinstance(rule, AllRule) else AnyRule(any_=kept)
    if isinstance(rule, NotRule):
        inner = applicable_part(rule.not_, left_out)
        return None if inner is None else NotRule(not_=inner)
    return rule  # a stage test always applies


def artifact_level(
    artifact: str,
    title: str,
    gates: list[Gate],
    top: int,
    lookup: AnswerLookup,
    not_expected: Collection[str] = (),
) -> ArtifactLevel:
    """Climb level by level while every gate that applies holds; stop at the first level that
    fails. Gates that do not apply are left out; a level all of whose gates wait for a later
    stage stops the climb as "not expected yet", while one whose gates do not apply at all
    (the same people on both sides) is passed."""
    level = 0
    for candidate in range(1, top + 1):
        results = [_gate_result(g, lookup, not_expected) for g in gates if g.level == candidate]
        applying = [result for result in results if result.status not in LEFT_OUT]
        if not applying and any(result.status == "not_expected" for result in results):
            return ArtifactLevel(
                artifact, title, level, True, candidate, tuple(results), not_expected=True
            )
        if all(result.status == "met" for result in applying):
            level = candidate
            continue
        certain = not any(result.status == "unknown" for result in applying) or any(
            result.status == "missing" for result in applying
        )
        return ArtifactLevel(artifact, title, level, certain, candidate, tuple(results))
    return ArtifactLevel(artifact, title, level, True, None, ())


def evaluate_levels(
    instrument: Instrument, lookup: AnswerLookup, not_expected: Collection[str] = ()
) -> LevelResult | None:
    """Levels per artifact and overall. `not_expected` lists the questions not expected at
    the round's stage: gates reading only those wait for later."""
    levels = instrument.levels
    if levels is None:
        return None
    top = max(definition.level for definition in levels.definitions)
    artifacts = tuple(
        artifact_level(
            artifact.id,
            artifact.title,
            [gate for gate in levels.gates if gate.artifact == artifact.id],
            top,
            lookup,
            not_expected,
        )
        for artifact in levels.artifacts
    )
    process_gates = [gate for gate in levels.gates if gate.artifact == "overall"]
    process = (
        artifact_level("overall", "Whole handoff process", process_gates, top, lookup, not_expected)
        if process_gates
        else None
    )
    parts = [*artifacts, *([process] if process else [])]
    # A part whose next level is not expected yet does not hold the overall level down: it
    # has everything its stage asks for.
    assessed = [part for part in parts if not part.not_expected] or parts
    overall = min(part.level for part in assessed)
    # The overall level is certain when a part that sits at the minimum is certain.
    certain = any(part.level == overall and part.certain for part in assessed)
    nothing_missing = any(part.not_expected for part in parts) and all(
        part.not_expected or part.next_level is None for part in parts
    )
    return LevelResult(
        instrument.id, overall, certain, artifacts, process, nothing_missing=nothing_missing
    )


def classify(classification: Classification, lookup: AnswerLookup) -> ClassificationResult:
    """The first outcome whose rule holds; unknown if an earlier rule is undecided."""
    for outcome in classification.outcomes:
        verdict = Verdict(True) if outcome.when is None else evaluate(outcome.when, lookup)
        if verdict.is_true:
            return ClassificationResult(
                classification.id, classification.title, outcome.id, outcome.label
            )
        if verdict.is_unknown:
            return ClassificationResult(
                classification.id,
                classification.title,
                None,
                None,
                tuple(sorted(verdict.unknown_because)),
            )
    return ClassificationResult(classification.id, classification.title, None, None)


def evaluate_findings(
    instrument_id: str, findings: tuple[Finding, ...], lookup: AnswerLookup
) -> list[FindingResult]:
    """Findings that hold, then those that might (their rule is unknown). Ids are qualified
    by instrument, as two instruments may name a finding alike."""
    results = []
    for finding in findings:
        verdict = evaluate(finding.when, lookup)
        if verdict.is_false:
            continue
        results.append(
            FindingResult(
                id=f"{instrument_id}.{finding.id}",
                kind=finding.kind,
                title=finding.title,
                text=finding.text,
                status="holds" if verdict.is_true else "unknown",
                unknown_because=tuple(sorted(verdict.unknown_because)),
            )
        )
    return sorted(results, key=lambda r: r.status != "holds")


def triggered_debt_items(items: tuple[DebtItem, ...], lookup: AnswerLookup) -> list[DebtItem]:
    return [item for item in items if evaluate(item.when, lookup).is_true]
