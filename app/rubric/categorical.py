"""Categorical results from the rubric's rules: levels, classifications, findings, debt items.

All of them are evaluated on one set of answers — a solo respondent's, or a team's consensus
answers — and report unknown results as unknown, with the questions that would decide them.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.rubric.rules import AnswerLookup, Verdict, evaluate
from app.rubric.schema import Classification, DebtItem, Finding, Gate, Instrument


@dataclass(frozen=True, slots=True)
class GateResult:
    id: str
    title: str
    level: int
    status: str  # met | missing | unknown
    unknown_because: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ArtifactLevel:
    """The level an artifact has proven, and what stands between it and the next one."""

    artifact: str
    title: str
    level: int
    certain: bool  # False when the next level's gates are undecided ("don't know" answers)
    next_level: int | None
    gates: tuple[GateResult, ...]  # the next level's gates; empty at the top level

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


@dataclass(frozen=True, slots=True)
class ClassificationResult:
    id: str
    title: str
    outcome: str | None  # None: unknown, or no outcome matched
    label: str | None
    unknown_because: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FindingResult:
    id: str
    kind: str
    title: str
    text: str
    status: str  # holds | unknown
    unknown_because: tuple[str, ...] = ()


def _gate_result(gate: Gate, verdict: Verdict) -> GateResult:
    status = "met" if verdict.is_true else "missing" if verdict.is_false else "unknown"
    return GateResult(
        id=gate.id,
        title=gate.title,
        level=gate.level,
        status=status,
        unknown_because=tuple(sorted(verdict.unknown_because)),
    )


def artifact_level(
    artifact: str, title: str, gates: list[Gate], top: int, lookup: AnswerLookup
) -> ArtifactLevel:
    """Climb level by level while every gate holds; stop at the first level that fails."""
    level = 0
    for candidate in range(1, top + 1):
        results = [_gate_result(g, evaluate(g.rule, lookup)) for g in gates if g.level == candidate]
        if all(result.status == "met" for result in results):
            level = candidate
            continue
        certain = not any(result.status == "unknown" for result in results) or any(
            result.status == "missing" for result in results
        )
        return ArtifactLevel(artifact, title, level, certain, candidate, tuple(results))
    return ArtifactLevel(artifact, title, level, True, None, ())


def evaluate_levels(instrument: Instrument, lookup: AnswerLookup) -> LevelResult | None:
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
        )
        for artifact in levels.artifacts
    )
    process_gates = [gate for gate in levels.gates if gate.artifact == "overall"]
    process = (
        artifact_level("overall", "Whole handoff process", process_gates, top, lookup)
        if process_gates
        else None
    )
    parts = [*artifacts, *([process] if process else [])]
    overall = min(part.level for part in parts)
    # The overall level is certain when a part that sits at the minimum is certain.
    certain = any(part.level == overall and part.certain for part in parts)
    return LevelResult(instrument.id, overall, certain, artifacts, process)


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
