"""A withheld role group takes every warning about disputes with it (issue 17).

The engine words a split between role groups in three ways: a disputed answer, a disputed
handoff level, and a stakes-like answer where the most serious one counts. When a role group is
too small to be shown, none of them may reach the viewer — the result JSON a lead downloads
included — since each says that some group answered differently.
"""

from __future__ import annotations

from typing import Literal

from app.results.model import TeamResult
from app.results.visibility import Member, Viewer, decide, filtered, role_group
from app.rubric import aggregate
from app.rubric.answers import RoundSettings, parse_answer
from app.rubric.assessment import assess, is_consensus_warning
from tests.workspace import helpers

ROUND = RoundSettings(
    stage="productionising",
    kind="quick",
    mode="team_survey",
    instruments=("trajectory", "collaboration", "handoff"),
)
# three data scientists who see a mature handoff, two engineers who see none: the engineers'
# group is below the role-group minimum and must not be told apart
SPLIT: tuple[tuple[str, Literal["low", "mid", "high"]], ...] = (
    ("data_scientist", "high"),
    ("data_scientist", "high"),
    ("data_scientist", "high"),
    ("ml_engineer", "low"),
    ("ml_engineer", "low"),
)


def _result() -> TeamResult:
    catalog = helpers.catalog()
    respondents = [
        aggregate.Respondent(
            id=f"r{index}",
            role=role,  # type: ignore[arg-type]
            answers={
                qid: parse_answer({"value": value})
                for qid, value in helpers.answers_for(
                    ROUND,
                    role,
                    handoff=level,
                    other=level,
                ).items()
            },
        )
        for index, (role, level) in enumerate(SPLIT)
    ]
    return TeamResult.from_assessment(catalog, assess(catalog, ROUND, respondents, results_min=3))


def test_the_engine_words_the_split_before_the_rule_applies() -> None:
    assert any(is_consensus_warning(warning) for warning in _result().warnings)


def test_a_withheld_group_leaves_no_warning_about_disputes() -> None:
    members = tuple(
        Member(index, role_group(role), may_view=False) for index, (role, _) in enumerate(SPLIT)
    )
    verdict = decide(members, k=3, viewer=Viewer(own_response_id=None))
    shown = filtered(_result(), verdict)
    assert not [warning for warning in shown.warnings if is_consensus_warning(warning)]
    assert not any("disputed" in warning.lower() for warning in shown.to_data()["warnings"])


def test_a_dispute_whose_team_answer_is_the_top_is_not_worded_as_a_range_of_one() -> None:
    disputes = [w for w in _result().warnings if is_consensus_warning(w)]
    assert disputes
    for warning in disputes:
        assert "a role group answered two or more steps lower" in warning, warning
