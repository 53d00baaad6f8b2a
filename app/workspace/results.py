"""A round's results as the workspace shows them: visibility (the one anonymity rule), the
stored result kept current while answers arrive, rescoring under a newer rubric, and
recomputing a team's results when its targets or adopted practices change.

The stored result (read as the typed ``TeamResult`` through app.results.reads) stays the one
source for the page, the API, the PDF and the dashboards; nothing here computes a number of its
own.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping

from sqlmodel import Session, col, select

from app import cache_generations, catalog_store
from app.errors import InvalidInputError, NotFoundError
from app.models import (
    AssessmentRound,
    Response,
    ResponseStatus,
    RoundKind,
    RoundMode,
    RoundResult,
    RoundStatus,
    Team,
)
from app.reports.context import ResultsNotVisibleError
from app.results import visibility as results_visibility
from app.results.reads import rescore_label
from app.results.service import (
    ORIGINAL,
    ComputedRoundResult,
    compute_round_result,
    save_round_result,
    store_round_result,
)
from app.rubric.anonymity import Visibility, team_results_visibility
from app.rubric.loader import Catalog
from app.rubric.versions import QuestionChange, answers_to_renew, diff_catalogs
from app.workspace.rounds import close_if_due, submitted_count

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class RoundResults:
    """What may be shown of a round: the visibility rule's verdict and, if visible, the
    stored result under ``label``."""

    visibility: Visibility
    label: str
    result: RoundResult | None  # None while hidden, or when no result has this label
    labels: tuple[str, ...]  # every stored label of the round, the original first


def visibility_of(
    *,
    session: Session,
    assessment_round: AssessmentRound,
    viewer: results_visibility.Viewer = results_visibility.ANYONE,
) -> Visibility:
    """The anonymity rule applied to the round's submitted responses: a team survey's result
    shows only once published at close, and when app.results.visibility lets anyone see it."""
    counted = team_results_visibility(
        mode=assessment_round.mode,
        submitted=submitted_count(session=session, round_id=assessment_round.id or 0),
        threshold=assessment_round.results_min,
    )
    if assessment_round.mode == RoundMode.solo or not counted.visible:
        return counted
    published = assessment_round.status == RoundStatus.closed and _stored(
        session, assessment_round.id or 0, ORIGINAL
    )
    verdict = results_visibility.decide(
        results_visibility.members_of(session, assessment_round),
        k=assessment_round.results_min,
        viewer=viewer,
    )
    return dataclasses.replace(counted, visible=bool(published) and verdict.team)


def stored_labels(*, session: Session, round_id: int) -> tuple[str, ...]:
    labels = session.exec(select(RoundResult.label).where(RoundResult.round_id == round_id)).all()
    return tuple(sorted(labels, key=lambda label: (label != ORIGINAL, label)))


def _stored(session: Session, round_id: int, label: str) -> RoundResult | None:
    return session.exec(
        select(RoundResult).where(RoundResult.round_id == round_id, RoundResult.label == label)
    ).first()


def _stale(result: RoundResult | None, submitted: int) -> bool:
    """Responses were submitted since the result was stored (a final one never changes)."""
    if not submitted:
        return False
    return result is None or (not result.final and result.respondent_count != submitted)


def load_results(
    *,
    session: Session,
    assessment_round: AssessmentRound,
    label: str = ORIGINAL,
    viewer: results_visibility.Viewer = results_visibility.ANYONE,
) -> RoundResults:
    """The round's results under ``label`` as the anonymity rule lets anyone see them
    (app.results.visibility: figures of withheld role groups taken out).

    A team survey's result is published once, when the round closes (a round whose date has
    passed is closed here first), and never changes; while it is open only progress shows. A
    solo round's result is recomputed when the lead's answers were submitted since it was
    stored.
    """
    assert assessment_round.id is not None
    close_if_due(session=session, assessment_round=assessment_round)  # closed by date
    visibility = visibility_of(session=session, assessment_round=assessment_round, viewer=viewer)
    result = _stored(session, assessment_round.id, label)
    solo = assessment_round.mode == RoundMode.solo  # a team survey's is published at close
    if solo and label == ORIGINAL and _stale(result, visibility.submitted):
        # the round row locked first, as the survey's recomputation does, so two pages (or a
        # page and a submission) recompute one after the other, never insert twice
        session.exec(
            select(AssessmentRound)
            .where(AssessmentRound.id == assessment_round.id)
            .with_for_update()
        ).one()
        result = _stored(session, assessment_round.id, label)
        if _stale(result, visibility.submitted):
            result = store_round_result(session=session, assessment_round=assessment_round)
    labels = stored_labels(session=session, round_id=assessment_round.id)
    if label != ORIGINAL and label not in labels:
        raise NotFoundError("This round has no result with that label.")
    return RoundResults(
        visibility=visibility,
        label=label,
        result=results_visibility.shown_row(session, assessment_round, result, viewer)
        if visibility.visible
        else None,
        labels=labels,
    )


def require_visible(results: RoundResults) -> RoundResult:
    if results.result is None:
        raise ResultsNotVisibleError(
            f"Team results appear once {results.visibility.needed} responses are submitted; "
            f"{results.visibility.submitted} so far."
        )
    return results.result


# ---------------------------------------------------------------- rubric upgrades


@dataclasses.dataclass(frozen=True)
class Renewal:
    """A question whose answer the newest rubric needs again, and why."""

    question: str
    text: str
    reason: str


@dataclasses.dataclass(frozen=True)
class RubricUpgrade:
    """What rescoring a round under the newest rubric involves."""

    label: str
    renew: tuple[Renewal, ...]  # questions that must be answered (again)
    changes: tuple[QuestionChange, ...]  # every change between the two versions
    rescored: bool  # a result under this label is already stored


def rubric_upgrade(
    *, session: Session, assessment_round: AssessmentRound, newest: Catalog
) -> RubricUpgrade | None:
    """None when the round already uses the newest rubric; else the questions it would need
    answered again: questions new in the newest version that the round asks, and answers
    the new version can no longer use."""
    assert assessment_round.id is not None
    if dict(assessment_round.rubric_versions) == dict(newest.versions):
        return None
    old = catalog_store.catalog_for(session=session, versions=assessment_round.rubric_versions)
    changes = tuple(diff_catalogs(old, newest))
    renew: dict[str, Renewal] = {}
    for change in changes:
        ref = newest.questions.get(change.question)
        if change.kind != "added" or ref is None:
            continue
        if ref.instrument.id not in assessment_round.instruments:
            continue
        if assessment_round.kind == RoundKind.quick and not ref.question.quick:
            continue
        renew[change.question] = Renewal(
            change.question, ref.question.text, "new in the newest rubric"
        )
    answers = session.exec(
        select(Response.answers).where(
            Response.round_id == assessment_round.id,
            Response.status == ResponseStatus.submitted,
        )
    ).all()
    for stored in answers:
        values = {qid: raw.get("value") for qid, raw in stored.items() if isinstance(raw, Mapping)}
        for qid, reason in answers_to_renew(newest, values).items():
            ref = newest.questions.get(qid)
            text = ref.question.text if ref else old.questions[qid].question.text
            renew.setdefault(qid, Renewal(qid, text, reason))
    label = rescore_label(newest)
    return RubricUpgrade(
        label=label,
        renew=tuple(renew[q] for q in sorted(renew)),
        changes=changes,
        rescored=_stored(session, assessment_round.id, label) is not None,
    )


def compute_rescore(
    *, session: Session, assessment_round: AssessmentRound, newest: Catalog
) -> ComputedRoundResult:
    """Rescoring's reading half: the round's answers scored under the newest rubric, not
    stored (a long writer calls it in a read transaction). A round whose result is not shown
    raises ResultsNotVisibleError; one already on the newest rubric, InvalidInputError."""
    assert assessment_round.id is not None
    require_visible(load_results(session=session, assessment_round=assessment_round))
    if dict(assessment_round.rubric_versions) == dict(newest.versions):
        raise InvalidInputError("This round already uses the newest rubric: nothing to rescore.")
    return compute_round_result(session=session, assessment_round=assessment_round, catalog=newest)


def store_rescore(
    *,
    session: Session,
    assessment_round: AssessmentRound,
    newest: Catalog,
    computed: ComputedRoundResult,
) -> RoundResult:
    """Rescoring's writing half: ``computed`` stored under the newest rubric's label (whose
    files the caller has registered); a final result under that label stays as it is."""
    assert assessment_round.id is not None
    label = rescore_label(newest)
    existing = _stored(session, assessment_round.id, label)
    if existing is not None and existing.final:
        return existing
    stored = save_round_result(
        session=session,
        assessment_round=assessment_round,
        computed=computed,
        label=label,
        existing=existing,
    )
    # the dashboards count the rescored rounds (their summaries are the originals')
    team = session.get_one(Team, assessment_round.team_id)
    cache_generations.bump(
        session.connection(), [cache_generations.organisation_scope(team.organisation_id)]
    )
    return stored


def rescore(*, session: Session, assessment_round: AssessmentRound, newest: Catalog) -> RoundResult:
    """Score the round's answers under the newest rubric and store the result beside the
    original, under its own label. The original result stays as it is."""
    computed = compute_rescore(session=session, assessment_round=assessment_round, newest=newest)
    catalog_store.register_catalog(session=session, catalog=newest)
    return store_rescore(
        session=session, assessment_round=assessment_round, newest=newest, computed=computed
    )


# ---------------------------------------------------------------- targets and adoption


def refresh_team_results(*, session: Session, team_id: int) -> int:
    """Recompute the original result of every solo round of the team that has one.

    Targets and adopted practices are the team's, not a round's answers, so a solo round's
    result (the lead's own answers, outside the anonymity rule) follows them: its answers,
    rubric and previous round stay fixed, and only the percent-to-target, the adopted
    practices and whether their answers moved change. A team survey's result is published
    once, at close, and never changes afterwards (PRODUCT.md section 6): a result saved at
    close and saved again after a recomputation must be the same, so it is left as it is.
    """
    rounds = session.exec(
        select(AssessmentRound)
        .join(RoundResult, col(RoundResult.round_id) == col(AssessmentRound.id))
        .where(
            AssessmentRound.team_id == team_id,
            AssessmentRound.mode == RoundMode.solo,
            RoundResult.label == ORIGINAL,
        )
        .order_by(col(AssessmentRound.created_at))
    ).all()
    refreshed = 0
    for assessment_round in rounds:
        assert assessment_round.id is not None
        stored = _stored(session, assessment_round.id, ORIGINAL)
        if stored is None:  # pragma: no cover - joined above
            continue
        final = stored.final
        stored.final = False  # recomputed in place, and final again if the round is closed
        session.add(stored)
        try:
            store_round_result(session=session, assessment_round=assessment_round)
        except ValueError:
            # a target the round's older rubric does not know (e.g. a band renamed since):
            # that round keeps its stored result
            logger.warning(
                "round %s kept its result: a target does not fit its rubric", assessment_round.id
            )
            stored.final = final
            session.add(stored)
            continue
        refreshed += 1
    return refreshed
