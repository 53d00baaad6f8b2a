"""How often the repository contradicts what teams say, question by question, across an
organisation's teams.

Each team counts once, with its newest closed round that has a signals file, and only where
that round's result is visible to the viewer under the anonymity rule (read through
app.results.reads, as the team's own repository page does). The counts read team consensus
only, so they reveal no respondent's answer.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from sqlmodel import Session, col, select

from app.config import QUESTIONNAIRES_DIR, Settings
from app.models import AssessmentRound, RoundResult, RoundStatus, Team
from app.results import reads, visibility
from app.rubric import anonymity, repository_compare
from app.rubric.loader import Catalog
from app.rubric.repository_match import RepositorySignals


@dataclasses.dataclass(frozen=True)
class QuestionCount:
    question: str
    text: str
    contradicts: int  # teams whose answer the repository contradicts
    agrees: int
    silent: int

    @property
    def checked(self) -> int:
        return self.contradicts + self.agrees + self.silent


@dataclasses.dataclass(frozen=True)
class ContradictionCounts:
    teams_checked: int  # teams whose checked round's result the viewer may see
    teams_hidden: int  # teams with a signals file whose result does not show to the viewer
    questions: tuple[QuestionCount, ...]  # most contradicted first


def _newest_checked_rounds(session: Session, organisation_id: int) -> list[AssessmentRound]:
    rounds = session.exec(
        select(AssessmentRound)
        .join(Team, col(Team.id) == col(AssessmentRound.team_id))
        .where(
            Team.organisation_id == organisation_id,
            AssessmentRound.status == RoundStatus.closed,
            col(AssessmentRound.repository_signals).is_not(None),
        )
        .order_by(col(AssessmentRound.created_at).desc(), col(AssessmentRound.id).desc())
    ).all()
    newest: dict[int, AssessmentRound] = {}
    for assessment_round in rounds:
        newest.setdefault(assessment_round.team_id, assessment_round)
    return list(newest.values())


def _shown_in_organisation_views(
    session: Session, rounds: list[AssessmentRound], *, minimum: int
) -> frozenset[int]:
    """The teams the organisation views' rule lets appear (`anonymity.shown_teams`, as the
    dashboard and the organisation report): a team survey with too few respondents stays out."""
    counts = []
    for assessment_round in rounds:
        assert assessment_round.id is not None
        row = reads.load_row(session, assessment_round.id)
        respondents = row.respondent_count if isinstance(row, RoundResult) else 0
        counts.append(
            anonymity.TeamCount(assessment_round.team_id, assessment_round.mode, respondents)
        )
    return anonymity.shown_teams(counts, minimum=minimum)


def contradiction_counts(
    *,
    session: Session,
    settings: Settings,
    catalog: Catalog,
    organisation_id: int,
    user_id: int | None,
) -> ContradictionCounts:
    """Per question the repository check speaks to, how many teams it contradicts, agrees
    with or is silent on."""
    verdicts: Counter[tuple[str, repository_compare.Verdict]] = Counter()
    checked = hidden = 0
    signals = repository_compare.signals_for(catalog, QUESTIONNAIRES_DIR)
    rounds = _newest_checked_rounds(session, organisation_id)
    allowed = _shown_in_organisation_views(session, rounds, minimum=settings.org_cell_min)
    for assessment_round in rounds:
        viewer = visibility.viewer_of_user(session, settings, assessment_round, user_id)
        result = reads.shown_result(session, assessment_round, viewer=viewer)
        if (
            signals is None
            or result is None
            or assessment_round.repository_signals is None
            or assessment_round.team_id not in allowed
        ):
            hidden += 1
            continue
        checked += 1
        comparison = repository_compare.compare(
            catalog=catalog,
            signals=signals,
            readings=RepositorySignals.model_validate(assessment_round.repository_signals),
            spreads=result.answers,
        )
        verdicts.update((check.question, check.verdict) for check in comparison.checks)
    order = list(catalog.questions)
    questions = sorted({qid for qid, _ in verdicts}, key=order.index)
    rows = [
        QuestionCount(
            question=qid,
            text=catalog.questions[qid].question.text,
            contradicts=verdicts[qid, "contradicts"],
            agrees=verdicts[qid, "agrees"],
            silent=verdicts[qid, "silent"],
        )
        for qid in questions
    ]
    rows.sort(key=lambda row: -row.contradicts)  # stable: rubric order among equals
    return ContradictionCounts(teams_checked=checked, teams_hidden=hidden, questions=tuple(rows))
