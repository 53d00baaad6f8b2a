"""How often the repository contradicts what teams say, question by question, across an
organisation's teams.

Each team counts once, with its newest closed round that has a signals file, and only where
that round's result is visible to the viewer under the anonymity rule (read through
app.results.reads, as the team's own repository page does) and the organisation views' rule
lets the team appear to them: counted without the viewer's own response, as the dashboard
counts it (``visibility.counted``). The counts read team consensus
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
    session: Session,
    rounds: list[AssessmentRound],
    *,
    minimum: int,
    viewer: visibility.SignedIn | None,
) -> frozenset[int]:
    """The teams the organisation views' rule lets appear to ``viewer`` (as the dashboard and
    the organisation report): ``anonymity.shown_teams`` over the responses that count for the
    viewer (``visibility.counted``: never their own), less the rounds left out for them (their
    own response and fewer than the larger of k and ``minimum`` others)."""
    found = []
    for assessment_round in rounds:
        assert assessment_round.id is not None
        row = reads.load_row(session, assessment_round.id)
        respondents = row.respondent_count if isinstance(row, RoundResult) else 0
        found.append(
            visibility.OrgRound(
                assessment_round.id,
                assessment_round.mode,
                respondents,
                assessment_round.results_min,
            )
        )
    counted = visibility.counted(session, viewer, found, minimum=minimum)
    teams = {r.id: r.team_id for r in rounds}
    allowed = anonymity.shown_teams(
        (anonymity.TeamCount(teams[r.round_id], r.mode, counted.others[r.round_id]) for r in found),
        minimum=minimum,
    )
    return allowed - {teams[round_id] for round_id in counted.left_out}


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
    viewing = None if user_id is None else visibility.SignedIn(user_id=user_id, settings=settings)
    allowed = _shown_in_organisation_views(
        session, rounds, minimum=settings.org_cell_min, viewer=viewing
    )
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
