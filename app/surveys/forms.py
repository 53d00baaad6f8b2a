"""The survey's HTML forms: field names, and form data turned into answers for the service.

Field names per question (``qid`` is "instrument.question"):
- ``a.<qid>``: the answer: an option id, "dont_know" or "not_applicable" (radio buttons);
  several option ids for a multiple-choice question (checkboxes); the typed value of a number
  or text question, whose "don't know" / "not applicable" come as ``s.<qid>``
- ``n.<qid>``: an optional note; ``ns.<qid>``: the note may be shown to the team
- ``e.<qid>``: an optional evidence link; ``eb.<qid>``: "we can show evidence"

A page form also carries ``version`` (the response version it was rendered from), ``base``
(the page's answers as rendered, JSON, for the conflict page) and ``action``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from typing import Any, Final

from starlette.datastructures import FormData

from app.errors import InvalidInputError
from app.rubric.answers import Answer, AnswerError, validate_answer
from app.rubric.rules import DONT_KNOW, NOT_APPLICABLE, SPECIAL_VALUES
from app.surveys.service import SurveyPage, sentence

ANSWER: Final = "a."
SPECIAL: Final = "s."
NOTE: Final = "n."
NOTE_SHAREABLE: Final = "ns."
EVIDENCE: Final = "e."
EVIDENCE_BACKED: Final = "eb."
PREFIXES: Final = (ANSWER, SPECIAL, NOTE, NOTE_SHAREABLE, EVIDENCE, EVIDENCE_BACKED)
ACTIONS: Final = frozenset({"next", "back", "save", "autosave", "finish_later"})
MAX_BASE_CHARS: Final = 100_000


@dataclasses.dataclass(frozen=True)
class FieldValues:
    """What the form held for one question, as typed: re-shown when the page has errors."""

    choices: tuple[str, ...] = ()
    text: str = ""
    note: str = ""
    note_shareable: bool = False
    evidence: str = ""
    evidence_backed: bool = False

    @classmethod
    def from_stored(cls, raw: Mapping[str, Any] | None) -> FieldValues:
        if not raw:
            return cls()
        value = raw.get("value")
        if isinstance(value, list):
            choices: tuple[str, ...] = tuple(str(v) for v in value)
            text = ""
        elif isinstance(value, str) and value in SPECIAL_VALUES:
            choices, text = (value,), ""
        elif isinstance(value, int | float) and not isinstance(value, bool):
            choices, text = (), f"{value:g}"
        else:
            choices, text = (str(value),) if value is not None else (), str(value or "")
        return cls(
            choices=choices,
            text=text,
            note=str(raw.get("note") or ""),
            note_shareable=bool(raw.get("note_shareable")),
            evidence=str(raw.get("evidence") or ""),
            evidence_backed=bool(raw.get("evidence_backed")),
        )


@dataclasses.dataclass(frozen=True)
class PageSubmission:
    """A page form read: the answers to save (None clears), what was typed, and problems."""

    version: int
    action: str
    changes: Mapping[str, Answer | None]
    values: Mapping[str, FieldValues]
    errors: Mapping[str, str]
    base: Mapping[str, Any] | None


def _single(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def read_version(form: FormData) -> int:
    raw = _single(form, "version")
    if not raw.isdigit():
        raise InvalidInputError(
            "This form is missing its version number. Reload the page and try again."
        )
    return int(raw)


def read_base(form: FormData) -> dict[str, Any] | None:
    raw = form.get("base")
    if not isinstance(raw, str) or not raw or len(raw) > MAX_BASE_CHARS:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _number(text: str) -> float | int | None:
    cleaned = text.replace(",", ".").replace(" ", "")
    try:
        number = float(cleaned)
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() else number


def _read_question(form: FormData, item: Any) -> tuple[FieldValues, Answer | None, str | None]:
    """One question's fields -> (what was typed, the answer or None, a problem or None)."""
    qid: str = item.qid
    question = item.question
    raw_choices = tuple(v for v in form.getlist(ANSWER + qid) if isinstance(v, str))
    specials = tuple(v for v in form.getlist(SPECIAL + qid) if isinstance(v, str))
    note = _single(form, NOTE + qid)
    evidence = _single(form, EVIDENCE + qid)
    values = FieldValues(
        choices=raw_choices if question.type in ("ordinal", "single", "multi") else specials,
        text=raw_choices[0] if question.type in ("number", "text") and raw_choices else "",
        note=note,
        note_shareable=bool(form.get(NOTE_SHAREABLE + qid)),
        evidence=evidence,
        evidence_backed=bool(form.get(EVIDENCE_BACKED + qid)),
    )
    value: Any = None
    if question.type in ("ordinal", "single"):
        if len(raw_choices) > 1:
            return values, None, "Choose one answer."
        value = raw_choices[0] if raw_choices else None
    elif question.type == "multi":
        chosen_specials = [v for v in raw_choices if v in SPECIAL_VALUES]
        options = [v for v in raw_choices if v not in SPECIAL_VALUES]
        if chosen_specials and options:
            return values, None, 'Choose options, or "don\'t know", but not both.'
        if len(chosen_specials) > 1:
            return values, None, 'Choose one of "don\'t know" and "not applicable".'
        value = chosen_specials[0] if chosen_specials else (options or None)
    else:
        text = values.text.strip()
        if specials:
            if text:
                return values, None, 'Give an answer, or tick "don\'t know", but not both.'
            if len(specials) > 1:
                return values, None, 'Tick one of "don\'t know" and "not applicable".'
            value = specials[0]
        elif text:
            if question.type == "number":
                value = _number(text)
                if value is None:
                    return values, None, "Enter a number, for example 12 or 3.5."
            else:
                value = values.text
    if value is None:
        if note or evidence or values.evidence_backed:
            return (
                values,
                None,
                'Choose an answer ("don\'t know" is fine) to go with your note or evidence.',
            )
        return values, None, None
    answer = Answer(
        value=value,
        note=note or None,
        evidence=evidence or None,
        evidence_backed=values.evidence_backed,
        # the one "may be shown" tick covers the note and the evidence link
        note_shareable=values.note_shareable and bool(note or evidence),
    )
    try:
        return values, validate_answer(question, answer, qid=qid), None
    except AnswerError as error:
        return values, None, sentence(error.message)


def read_page(form: FormData, page: SurveyPage) -> PageSubmission:
    """Read a page's form. Fields of questions that are not on the page refuse the whole
    form (InvalidInputError): a page never changes another page's answers."""
    on_page = {item.qid for item in page.questions}
    for name in form:
        prefix = next((p for p in PREFIXES if name.startswith(p)), None)
        if prefix is not None and name[len(prefix) :] not in on_page:
            raise InvalidInputError(
                "The form contained an answer to a question that is not on this page, so "
                "nothing was saved. Reload the page and try again."
            )
    action = _single(form, "action") or "save"
    if action not in ACTIONS:
        action = "save"
    changes: dict[str, Answer | None] = {}
    values: dict[str, FieldValues] = {}
    errors: dict[str, str] = {}
    for item in page.questions:
        typed, answer, problem = _read_question(form, item)
        values[item.qid] = typed
        if problem is not None:
            errors[item.qid] = problem
        else:
            changes[item.qid] = answer
    return PageSubmission(
        version=read_version(form),
        action=action,
        changes=changes,
        values=values,
        errors=errors,
        base=read_base(form),
    )


def special_values(question: Any) -> tuple[str, ...]:
    """The built-in answers a question offers, in display order."""
    offered = []
    if question.allow_dont_know:
        offered.append(DONT_KNOW)
    if question.allow_na:
        offered.append(NOT_APPLICABLE)
    return tuple(offered)


def read_choices(form: FormData, qids: tuple[str, ...]) -> dict[str, str]:
    """The conflict page's choices: question id -> "yours" or "saved"."""
    choices: dict[str, str] = {}
    for qid in qids:
        choice = _single(form, "keep." + qid)
        if choice not in ("yours", "saved"):
            raise InvalidInputError("Choose which version to keep for every answer listed.")
        choices[qid] = choice
    return choices


def read_kept_answers(form: FormData) -> dict[str, Any]:
    """The stale tab's answers the conflict page carried (JSON per question)."""
    carried: dict[str, Any] = {}
    for name in form:
        if name.startswith("yours."):
            raw = form.get(name)
            if not isinstance(raw, str) or len(raw) > MAX_BASE_CHARS:
                raise InvalidInputError("The form was damaged; reload the page and try again.")
            try:
                carried[name[len("yours.") :]] = json.loads(raw)
            except ValueError:
                raise InvalidInputError(
                    "The form was damaged; reload the page and try again."
                ) from None
    return carried
