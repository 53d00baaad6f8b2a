"""Nothing outside app/results/ reads stored results or responses for display on its own: round
results are read through app.results.visibility (``shown``, ``shown_row``, ``shown_result``,
``previous_shown``), which take the viewer and apply the anonymity rule (issue 17).

A new direct read fails this test; the few reads listed below are known, each with its reason.
"""

from __future__ import annotations

import re
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"

# what reads a stored result's JSON or a response's answers without the rule
DIRECT = re.compile(
    r"load_row\(|load_result\(|stored_column\(|parse_column\(|\.computed\b|select\(RoundResult[,)]"
    r"|Response\.answers|reads\.headlines\("
)

# (module, the reading line's text) -> why it may read directly
KNOWN: dict[tuple[str, str], str] = {
    (
        "app/reports/batch.py",
        "result = visibility.shown_row(session, assessment_round, load_row(session, round_id), viewer)",  # noqa: E501
    ): "the row goes straight through the rule",
    ("app/reports/batch.py", "select(RoundResult, AssessmentRound, Team, BusinessUnit)"): (
        "the batch's rows, each handed on only through visibility.shown_row"
    ),
    ("app/reports/batch.py", "select(Response.answers).where("): (
        "shared notes: outside the rule (ticked 'may be shown', shown after close, shuffled)"
    ),
    ("app/workspace/results.py", "select(Response.answers).where("): (
        "rescoring: which questions a newer rubric needs answered again, never the answers"
    ),
    (
        "app/workspace/results.py",
        "select(RoundResult).where(RoundResult.round_id == round_id, RoundResult.label == label)",
    ): ("the lifecycle's own row; load_results hands it on only through shown_row"),
    ("app/dashboards/exports.py", "stored_column(),"): (
        "organisation exports: teams chosen by the organisation minimum (app.rubric.anonymity);"
        " role-group figures not yet through the rule (issue 17, remaining)"
    ),
    ("app/dashboards/exports.py", "data=parse_column(data),"): "the same export rows",
    (
        "app/dashboards/exports.py",
        "select(Respondent.id, Respondent.round_id, Respondent.role, Response.answers)  # type: ignore[call-overload]",  # noqa: E501
    ): "respondent-level analysis exports: pseudonymous, consultants and admins only (outside the rule)",  # noqa: E501
    (
        "app/workspace/pages.py",
        "for round_id, head in reads.headlines(session, round_ids, dimensions).items():",
    ): "the team list's headlines, of rounds visibility.headline_shown lets show",
    (
        "app/dashboards/backup.py",
        "session.execute(select(RoundResult).where(col(RoundResult.id).in_(chunk))).scalars()",
    ): "restore: rebuilding the dashboard summaries of restored results, nothing is shown",
    ("app/dashboards/repository_counts.py", "row = reads.load_row(session, assessment_round.id)"): (
        "only the respondent count, for the organisation views' team rule (anonymity.shown_teams);"
        " each team's comparison is read through the rule"
    ),
}


def _direct_reads() -> set[tuple[str, str]]:
    found = set()
    for path in sorted(APP.rglob("*.py")):
        relative = path.relative_to(APP.parent).as_posix()
        if relative.startswith("app/results/") or relative == "app/models.py":
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            text = line.strip()
            if text.startswith("#") or text.startswith('"""') or not DIRECT.search(text):
                continue
            if "``" in text:  # a docstring naming a read, not making one
                continue
            found.add((relative, text))
    return found


def test_stored_results_and_responses_are_read_through_the_rule() -> None:
    unknown = _direct_reads() - set(KNOWN)
    assert not unknown, (
        "Read round results through app.results.visibility (shown_row, shown_result) so the "
        f"anonymity rule applies, or add the read with its reason to KNOWN: {sorted(unknown)}"
    )
