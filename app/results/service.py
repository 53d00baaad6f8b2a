"""Compute and store a round's team result and per-response scores.

The stored result is what pages, PDFs, the API and dashboards read, so they always agree. It is
computed with the rubric versions the round started with; a rescore under a newer rubric is
stored beside it under its own label, never over it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, col, delete, select

from app import catalog_store
from app.models import (
    AdoptedPractice,
    AssessmentRound,
    Respondent,
    Response,
    ResponseScore,
    ResponseStatus,
    RoundResult,
    Target,
)
from app.results import model, summaries
from app.results.model import TeamResult
from app.results.reads import ORIGINAL, previous_shown, write
from app.rubric import aggregate
from app.rubric.answers import Answer, RoundSettings, parse_answer
from app.rubric.assessment import (
    Assessment,
    EarlierScores,
    OtherKind,
    assess,
    target_progress,
)
from app.rubric.loader import Catalog
from app.rubric.versions import answers_to_renew, release

__all__ = [
    "ORIGINAL",
    "ComputedRoundResult",
    "assess_round",
    "compute_round_result",
    "round_settings",
    "save_round_result",
    "store_round_result",
]


def round_settings(assessment_round: AssessmentRound) -> RoundSettings:
    return RoundSettings(
        stage=assessment_round.stage,
        kind=assessment_round.kind,
        mode=assessment_round.mode,
        instruments=tuple(assessment_round.instruments),
    )


def _respondents(
    session: Session, round_id: int, catalog: Catalog
) -> tuple[list[aggregate.Respondent], list[Response]]:
    rows = session.exec(
        select(Response, Respondent)
        .join(Respondent, col(Respondent.id) == col(Response.respondent_id))
        .where(Response.round_id == round_id, Response.status == ResponseStatus.submitted)
        .order_by(col(Response.id))
    ).all()
    respondents, responses = [], []
    for response, respondent in rows:
        unusable = answers_to_renew(
            catalog, {q: a.get("value") for q, a in response.answers.items()}
        )
        answers: dict[str, Answer] = {
            qid: parse_answer(raw) for qid, raw in response.answers.items() if qid not in unusable
        }
        respondents.append(
            aggregate.Respondent(id=f"r{respondent.id}", role=respondent.role, answers=answers)
        )
        responses.append(response)
    return respondents, responses


def assess_round(
    *, session: Session, assessment_round: AssessmentRound, catalog: Catalog | None = None
) -> tuple[Assessment, list[Response], Catalog]:
    """The round's assessment from its submitted responses, with targets and adoptions."""
    assert assessment_round.id is not None
    catalog = catalog or catalog_store.catalog_for(
        session=session, versions=assessment_round.rubric_versions
    )
    respondents, responses = _respondents(session, assessment_round.id, catalog)
    adopted = session.exec(
        select(AdoptedPractice.practice_id).where(
            AdoptedPractice.team_id == assessment_round.team_id
        )
    ).all()
    targets = team_targets(session, assessment_round.team_id, catalog)
    assessment = assess(
        catalog,
        round_settings(assessment_round),
        respondents,
        results_min=assessment_round.results_min,
        targets=targets,
        adopted=list(adopted),
        previous=_previous(session, assessment_round, catalog),
    )
    return assessment, responses, catalog


def team_targets(session: Session, team_id: int, catalog: Catalog) -> dict[str, str | int]:
    targets: dict[str, str | int] = {}
    for target in session.exec(select(Target).where(Target.team_id == team_id)).all():
        instrument = catalog.instruments.get(target.dimension)
        if instrument is None:
            continue
        value = target.target_level
        targets[target.dimension] = int(value) if instrument.levels and value.isdigit() else value
    return targets


def _previous(
    session: Session, assessment_round: AssessmentRound, catalog: Catalog
) -> Assessment | EarlierScores | OtherKind | None:
    """The previous round (``previous_shown``'s) to compare with (of another kind, quick or
    full, only the reason it is not compared): assessed again under
    ``catalog`` when it used the same rubric; under another rubric version only its dimension
    scores, as its own stored result has them (its answers are not re-scored into this
    rubric's levels or fit)."""
    shown = previous_shown(session, assessment_round)
    if shown is None or shown.round.id is None:
        return None
    if shown.round.kind != assessment_round.kind:
        return OtherKind(kind=assessment_round.kind, previous_kind=shown.round.kind)
    versions = dict(shown.row.rubric_versions or shown.round.rubric_versions)
    if versions != dict(catalog.versions):
        earlier = catalog_store.catalog_for(session=session, versions=versions)
        return EarlierScores(
            dimensions={d: part.score for d, part in shown.result.dimensions.items()},
            rubric=release(earlier),
        )
    respondents, _ = _respondents(session, shown.round.id, catalog)
    if not respondents:
        return None
    return assess(catalog, round_settings(shown.round), respondents)


def store_round_result(
    *,
    session: Session,
    assessment_round: AssessmentRound,
    catalog: Catalog | None = None,
    label: str = ORIGINAL,
) -> RoundResult:
    """Compute the round's result and store it (and, for the original, per-response scores).

    A final result (the round has closed) is never recomputed under the same label.
    """
    assert assessment_round.id is not None
    existing = session.exec(
        select(RoundResult).where(
            RoundResult.round_id == assessment_round.id, RoundResult.label == label
        )
    ).first()
    if existing is not None and existing.final:
        return existing
    computed = compute_round_result(
        session=session, assessment_round=assessment_round, catalog=catalog
    )
    return save_round_result(
        session=session,
        assessment_round=assessment_round,
        computed=computed,
        label=label,
        existing=existing,
    )


@dataclasses.dataclass(frozen=True)
class ComputedRoundResult:
    """A round's result worked out from what was read, not yet stored: a long writer computes
    it in a read transaction and stores it in a short write (the scoring is the slow part)."""

    assessment: Assessment
    result: TeamResult
    versions: Mapping[str, str]
    response_ids: Mapping[str, int]  # the assessment's respondent id -> response id


def compute_round_result(
    *, session: Session, assessment_round: AssessmentRound, catalog: Catalog | None = None
) -> ComputedRoundResult:
    """The round's result from its submitted responses; reads only."""
    assessment, responses, used = assess_round(
        session=session, assessment_round=assessment_round, catalog=catalog
    )
    return ComputedRoundResult(
        assessment=assessment,
        result=TeamResult.from_assessment(used, assessment),
        versions=dict(used.versions),
        response_ids={f"r{response.respondent_id}": response.id or 0 for response in responses},
    )


def save_round_result(
    *,
    session: Session,
    assessment_round: AssessmentRound,
    computed: ComputedRoundResult,
    label: str = ORIGINAL,
    existing: RoundResult | None = None,
) -> RoundResult:
    """Store ``computed`` as the round's result under ``label`` (and its dashboard rows)."""
    assert assessment_round.id is not None
    if label == ORIGINAL:
        _store_response_scores(
            session, assessment_round.id, computed.assessment, computed.response_ids
        )
    result = existing or RoundResult(round_id=assessment_round.id, label=label)
    write(result, computed.result)
    result.rubric_versions = dict(computed.versions)
    result.respondent_count = computed.assessment.respondents
    result.final = assessment_round.status == "closed"
    session.add(result)
    session.flush()
    summaries.store(session=session, result=result)  # the dashboards' rows, in this transaction
    return result


def _store_response_scores(
    session: Session, round_id: int, assessment: Assessment, response_ids: Mapping[str, int]
) -> None:
    session.exec(delete(ResponseScore).where(col(ResponseScore.round_id) == round_id))
    rows: list[dict[str, Any]] = []
    for respondent_id, score in zip(
        assessment.respondent_ids, assessment.response_scores, strict=True
    ):
        response_id = response_ids[respondent_id]
        for dimension, result in score.dimensions.items():
            rows.append(
                {
                    "response_id": response_id,
                    "round_id": round_id,
                    "dimension": dimension,
                    "sub_dimension": "",
                    "score": result.score,
                    "coverage": result.coverage,
                    "level": result.band,
                }
            )
            for sub_id, sub in result.sub_dimensions.items():
                rows.append(
                    {
                        "response_id": response_id,
                        "round_id": round_id,
                        "dimension": dimension,
                        "sub_dimension": sub_id,
                        "score": sub.score,
                        "coverage": sub.coverage,
                        "level": None,
                    }
                )
    if rows:
        session.execute(ResponseScore.__table__.insert(), rows)  # type: ignore[attr-defined]


def with_current_targets(
    session: Session, result: TeamResult, catalog: Catalog, team_id: int
) -> TeamResult:
    """The published result beside the team's targets as they are now.

    Targets are the team's plans, not anyone's answers: a result published at close keeps its
    figures, and only how far it is from today's targets is worked out again, from its own
    scores and the lower bound of its handoff level. A target the result's rubric does not know
    (a band renamed since) leaves the targets stored with the result."""
    try:
        progress = target_progress(
            catalog,
            scores={dimension: item.score for dimension, item in result.dimensions.items()},
            overall_level=result.handoff.level if result.handoff is not None else None,
            targets=team_targets(session, team_id, catalog),
        )
    except ValueError:
        return result
    return result.model_copy(
        update={
            "targets": tuple(
                model.TargetProgress(
                    dimension=p.dimension, target=p.target, percent=p.percent, met=p.met
                )
                for p in progress
            )
        }
    )
