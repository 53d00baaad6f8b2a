"""Differences between two rubric versions: what changed, and which answers must be given again.

Stored results never change when a file changes; rescoring an old round under a newer rubric
is an explicit action, and these functions tell the user what that action involves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.rubric.loader import Catalog
from app.rubric.rules import SPECIAL_VALUES
from app.rubric.schema import Question


@dataclass(frozen=True, slots=True)
class QuestionChange:
    kind: str  # added | removed | changed
    question: str
    detail: str


def _question_differences(old: Question, new: Question) -> list[str]:
    details = []
    if old.type != new.type:
        details.append(f"type {old.type} -> {new.type}")
    if old.text != new.text:
        details.append("text reworded")
    old_options = {o.id: o for o in old.options}
    new_options = {o.id: o for o in new.options}
    added = [o for o in new_options if o not in old_options]
    removed = [o for o in old_options if o not in new_options]
    if added:
        details.append(f"options added: {', '.join(added)}")
    if removed:
        details.append(f"options removed: {', '.join(removed)}")
    rescored = [
        o for o in new_options if o in old_options and old_options[o].score != new_options[o].score
    ]
    if rescored:
        details.append(f"scores changed: {', '.join(rescored)}")
    for attribute in ("weight", "sub_dimension", "quick", "roles", "stages", "allow_na"):
        if getattr(old, attribute) != getattr(new, attribute):
            details.append(f"{attribute.replace('_', ' ')} changed")
    if old.show_if != new.show_if:
        details.append("display condition changed")
    return details


def diff_catalogs(old: Catalog, new: Catalog) -> list[QuestionChange]:
    """Questions added, removed and changed from `old` to `new`, in a stable order."""
    changes = []
    for qid in sorted(set(old.questions) | set(new.questions)):
        if qid not in old.questions:
            changes.append(QuestionChange("added", qid, new.questions[qid].question.text))
        elif qid not in new.questions:
            changes.append(QuestionChange("removed", qid, old.questions[qid].question.text))
        else:
            details = _question_differences(
                old.questions[qid].question, new.questions[qid].question
            )
            if details:
                changes.append(QuestionChange("changed", qid, "; ".join(details)))
    return changes


def answers_to_renew(new: Catalog, answers: Mapping[str, Any]) -> dict[str, str]:
    """For answers given under an older version: those the new version cannot use, and why.
    (Questions new in this version are listed by the caller from the questions asked.)"""
    renew = {}
    for qid, value in answers.items():
        ref = new.questions.get(qid)
        if ref is None:
            renew[qid] = "the question no longer exists"
            continue
        question = ref.question
        if value in SPECIAL_VALUES:
            continue
        if question.type in ("ordinal", "single") and value not in question.option_ids:
            renew[qid] = "the chosen option no longer exists"
        elif question.type == "multi" and (
            not isinstance(value, list) or any(v not in question.option_ids for v in value)
        ):
            renew[qid] = "a chosen option no longer exists"
    return renew


def release(catalog: Catalog) -> str:
    """The rubric's version names ("2026.2"), as its files declare them: what a person reads
    where two rubric versions meet (file hashes identify them exactly)."""
    names = {
        *(instrument.version for instrument in catalog.instruments.values()),
        catalog.practices.version,
        catalog.process_models.version,
    }
    return ", ".join(sorted(names))
