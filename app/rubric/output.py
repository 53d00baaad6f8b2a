"""The plain-data form of an assessment: JSON-ready, labelled, deterministic.

This is the one shape that the CLI prints, the API returns and the pages and PDFs render.
Numbers are rounded once here so every medium shows the same figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.rubric.assessment import Assessment
from app.rubric.categorical import ArtifactLevel, GateResult
from app.rubric.loader import Catalog
from app.rubric.rules import DONT_KNOW, NOT_APPLICABLE

SCHEMA_VERSION = 2
"""The shape's version, written with it: 1 is every result stored before the field existed
(some without ``recommendation.recommended``); app.results.model upgrades those as they load."""
NO_RECOMMENDATION = "No recommendation"  # what teams without a fitting model are counted as
SPECIAL_LABELS = {DONT_KNOW: "Don't know", NOT_APPLICABLE: "Not applicable"}


def _r(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def answer_label(catalog: Catalog, qid: str, value: Any) -> str:
    if isinstance(value, str) and value in SPECIAL_LABELS:
        return SPECIAL_LABELS[value]
    question = catalog.questions[qid].question
    if isinstance(value, list):
        return "; ".join(answer_label(catalog, qid, item) for item in value) or "None of these"
    option = question.option(value) if isinstance(value, str) else None
    if option is not None:
        return option.label
    if question.unit and value is not None:
        return f"{value:g} {question.unit}" if isinstance(value, int | float) else str(value)
    return str(value)


def recommended_model(data: Mapping[str, Any]) -> str | None:
    """The recommended process model's id in a result's data, or None when no model fits.

    Results stored before "recommended" existed carry the fits, so the rule is applied again.
    """
    recommendation = data["recommendation"]
    if "recommended" in recommendation:
        return recommendation["top"] if recommendation["recommended"] else None
    fits = {m["id"]: m.get("fit") or 0 for m in data.get("process_models", ())}
    return recommendation["top"] if fits.get(recommendation["top"], 0) > 0 else None


# long: a flat table: the stored result's fields in the order of its schema
def to_data(catalog: Catalog, assessment: Assessment) -> dict[str, Any]:
    settings = assessment.settings
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "round": {
            "stage": settings.stage,
            "kind": settings.kind,
            "mode": settings.mode,
            "instruments": list(settings.instrument_ids(catalog)),
            "respondents": assessment.respondents,
            "results_visible": assessment.visibility.visible,
            "responses_needed": assessment.visibility.needed,
            "rubric_versions": dict(sorted(assessment.rubric_versions.items())),
        },
        "dimensions": _dimensions(catalog, assessment),
        "trajectory": _trajectory(catalog, assessment),
        "handoff": _levels(assessment),
        "classifications": {
            key: {
                "title": result.title,
                "outcome": result.outcome,
                "label": result.label,
                "unknown_because": list(result.unknown_because),
                "disputed": result.disputed,
                "alternative": result.alternative,
            }
            for key, result in sorted(assessment.classifications.items())
        },
        "findings": [
            {
                "id": f.id,
                "kind": f.kind,
                "title": f.title,
                "text": f.text,
                "status": f.status,
                "unknown_because": list(f.unknown_because),
            }
            for f in assessment.findings
        ],
        "recommendation": {
            # the top-ranked model is only a recommendation when some of its conditions hold
            "recommended": assessment.ranking.top.fit > 0,
            "top": assessment.ranking.top.id,
            "runner_up": assessment.ranking.runner_up.id,
            "close": assessment.ranking.close,
            "margin": assessment.ranking.margin,
        },
        "process_models": [_model(catalog, assessment, m) for m in assessment.ranking.models],
        "sensitivity": [
            {
                "question": s.question,
                "text": catalog.questions[s.question].question.text,
                "current": s.current,
                "current_label": answer_label(catalog, s.question, s.current),
                "alternative": s.alternative,
                "alternative_label": answer_label(catalog, s.question, s.alternative),
                "effect": s.effect,
                "subject": s.subject,
                "before": s.before,
                "after": s.after,
            }
            for s in assessment.sensitivity
        ],
        "roadmap": _roadmap(assessment),
        "debt_register": [
            {
                "id": row.id,
                "title": row.title,
                "category": row.category,
                "quadrant": row.quadrant,
                "description": row.description,
                "practice": row.practice,
                "source": row.source,
            }
            for row in assessment.debt_register
        ],
        "perception_gaps": [
            {
                "kind": gap.kind,
                "subject": gap.subject,
                "title": (
                    catalog.questions[gap.subject].question.text
                    if gap.kind == "question"
                    else catalog.instruments[gap.subject].title
                ),
                "dimension": gap.dimension,
                "lower_group": gap.groups[0],
                "higher_group": gap.groups[1],
                "lower_value": gap.values[0],
                "higher_value": gap.values[1],
                "size": gap.size,
            }
            for gap in assessment.perception_gaps
        ],
        "answers": {
            qid: {
                "consensus": spread.consensus,
                "consensus_label": answer_label(catalog, qid, spread.consensus),
                "counts": dict(spread.counts),
                "disagreement": spread.disagreement,
                "disputed": spread.disputed,
                "high": spread.high,
                "mode": spread.mode,
            }
            for qid, spread in sorted(assessment.spreads.items())
        },
        "targets": [
            {"dimension": t.dimension, "target": t.target, "percent": t.percent, "met": t.met}
            for t in assessment.targets
        ],
        "confidence": {"evidence_share": _r(assessment.evidence_share, 3)},
        "comparison": (
            None
            if assessment.comparison is None
            else {
                "dimensions": dict(sorted(assessment.comparison.dimensions.items())),
                "questions": dict(sorted(assessment.comparison.questions.items())),
                "adopted_moved": dict(sorted(assessment.comparison.adopted_moved.items())),
                "previous_rubric": assessment.comparison.previous_rubric,
                "not_compared": assessment.comparison.not_compared,
            }
        ),
        "warnings": list(assessment.warnings),
    }
    return data


def _dimensions(catalog: Catalog, assessment: Assessment) -> dict[str, Any]:
    dimensions = {}
    for dimension, result in sorted(assessment.dimensions.items()):
        instrument = catalog.instruments[dimension]
        band = next((b for b in instrument.bands if b.id == result.band), None)
        entry: dict[str, Any] = {
            "title": instrument.title,
            "score": _r(result.score),
            "coverage": _r(result.coverage, 3),
            "band": {"id": band.id, "label": band.label} if band else None,
            "sub_dimensions": {
                sub.id: {
                    "title": sub.title,
                    "score": _r(result.sub_dimensions[sub.id].score),
                    "coverage": _r(result.sub_dimensions[sub.id].coverage, 3),
                }
                for sub in instrument.sub_dimensions
                if sub.id in result.sub_dimensions
            },
            "explanation": [
                {
                    "question": c.question,
                    "text": catalog.questions[c.question].question.text,
                    "sub_dimension": c.sub_dimension,
                    "answer": assessment.consensus.get(c.question, c.answer),
                    "answer_label": answer_label(
                        catalog, c.question, assessment.consensus.get(c.question, c.answer)
                    ),
                    "score": c.score,
                    "weight": c.weight,
                    "points": _r(c.points, 2),
                    "max_points": _r(c.max_points, 2),
                }
                for c in sorted(result.contributions, key=lambda c: (-c.points, c.question))
            ],
            "knowledge_gaps": list(result.knowledge_gaps),
            "later": list(result.later),
            "unanswered": list(result.unanswered),
            "not_applicable": list(result.not_applicable),
        }
        if assessment.levels is not None and assessment.levels.instrument == dimension:
            entry["level"] = assessment.levels.overall
        dimensions[dimension] = entry
    return dimensions


def _trajectory(catalog: Catalog, assessment: Assessment) -> dict[str, Any]:
    unscored = [
        i for i in assessment.settings.instrument_ids(catalog) if not catalog.instruments[i].scored
    ]
    parts = {  # in file order: "Goal-driven, model-first" reads as the sources name it
        c.id: assessment.classifications[f"{instrument_id}.{c.id}"]
        for instrument_id in unscored
        for c in catalog.instruments[instrument_id].classifications
    }
    warnings = [f for f in assessment.findings if f.kind == "fit_warning"]
    holding = [f for f in warnings if f.status == "holds"]
    fit = "warnings" if holding else "unknown" if warnings else "good"
    labels = [result.label for result in parts.values() if result.label]
    return {
        "type": {key: result.outcome for key, result in parts.items()},
        "label": ", ".join(labels) if len(labels) == len(parts) and parts else "Unknown",
        "fit": fit,
        "warnings": [
            {"id": f.id, "title": f.title, "text": f.text, "status": f.status} for f in warnings
        ],
    }


def _gate(gate: GateResult) -> dict[str, Any]:
    return {
        "id": gate.id,
        "title": gate.title,
        "level": gate.level,
        "status": gate.status,
        "unknown_because": list(gate.unknown_because),
    }


def _artifact(part: ArtifactLevel) -> dict[str, Any]:
    return {
        "title": part.title,
        "level": part.level,
        "certain": part.certain,
        "next_level": part.next_level,
        "gates": [_gate(g) for g in part.gates],
        "range": [part.level, part.high if part.high is not None else part.level],
        "not_expected": part.not_expected,
    }


NOTHING_MISSING = (
    "Nothing expected at this stage is missing: the gates still open are expected at a later "
    "stage and are shown as not expected yet."
)


def level_text(level: int, high: int | None) -> str:
    """ "level 1", or "level 0–2, disputed" when the level rests on a disputed answer."""
    if high is None or high == level:
        return f"level {level}"
    return f"level {level}–{high}, disputed"


def _levels(assessment: Assessment) -> dict[str, Any] | None:
    levels = assessment.levels
    if levels is None:
        return None
    return {
        "level": levels.overall,  # the lower bound when disputed: every aggregate uses it
        "certain": levels.certain,
        "artifacts": {part.artifact: _artifact(part) for part in levels.artifacts},
        "process": _artifact(levels.process) if levels.process else None,
        "range": [levels.overall, levels.high if levels.high is not None else levels.overall],
        "disputed": levels.disputed,
        "label": level_text(levels.overall, levels.high),
        "nothing_missing": levels.nothing_missing,
        "note": NOTHING_MISSING if levels.nothing_missing else None,
    }


def _model(catalog: Catalog, assessment: Assessment, model: Any) -> dict[str, Any]:
    def reason(r: Any) -> dict[str, Any]:
        return {
            "reason": r.reason,
            "weight": r.weight,
            "status": r.status,
            "answers": [
                {
                    "question": qid,
                    "answer": assessment.consensus.get(qid),
                    "answer_label": answer_label(
                        catalog, qid, assessment.consensus.get(qid, DONT_KNOW)
                    ),
                }
                for qid in r.questions
            ],
        }

    return {
        "id": model.id,
        "name": model.name,
        "summary": model.summary,
        "fit": model.fit,
        "reasons": [reason(r) for r in model.reasons_for],
        "against": [reason(r) for r in model.reasons_against],
        "undecided": [reason(r) for r in model.undecided],
        "caveats": [
            {"id": c.id, "text": c.text, "status": c.status, "questions": list(c.questions)}
            for c in model.caveats
        ],
    }


def _roadmap(assessment: Assessment) -> dict[str, Any]:
    roadmap = assessment.roadmap

    def items(entries: Any) -> list[dict[str, Any]]:
        return [
            {
                "practice": e.practice,
                "title": e.title,
                "dimension": e.dimension,
                "priority": e.priority,
                "gap": e.gap,
                "impact": e.impact,
                "effort": e.effort,
                "owners": list(e.owners),
                "steps": list(e.steps),
                "reason": e.reason,
                "unlocks": e.unlocks,
                "remedies": (
                    None
                    if e.remedies is None
                    else {
                        "problem": e.remedies.problem,
                        "title": e.remedies.title,
                        "needed_first": e.remedies.needed_first,
                    }
                ),
            }
            for e in entries
        ]

    return {
        "now": items(roadmap.now),
        "next": items(roadmap.next),
        "later": items(roadmap.later),
        "adopted": items(roadmap.adopted),
        "to_check": list(roadmap.to_check),
        "level_paths": [
            {
                "artifact": p.artifact,
                "title": p.title,
                "level": p.target_level,
                "gates": list(p.gates),
                "practices": list(p.practices),
            }
            for p in roadmap.level_paths
        ],
    }
