"""Answers as the engine sees them, and their validation against a questionnaire version.

Every caller that stores or scores answers (survey pages, API, CLI) validates them here, so a
bad answer is refused with the same message everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from app.rubric.loader import Catalog
from app.rubric.rules import DONT_KNOW, NOT_APPLICABLE, STAGES, Stage
from app.rubric.schema import ROLES, Instrument, Question, Role

MAX_NOTE_CHARS = 2000
MAX_TEXT_CHARS = 4000
MAX_URL_CHARS = 500

ANSWER_FIELDS = frozenset({"value", "note", "evidence", "evidence_backed", "note_shareable"})

Kind = Literal["full", "quick"]
Mode = Literal["solo", "team_survey"]


class AnswerError(ValueError):
    """An answer that does not fit its question; `question` names it (or is None)."""

    def __init__(self, question: str | None, message: str) -> None:
        self.question = question
        self.message = message
        super().__init__(f"{question}: {message}" if question else message)


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer: the value plus the respondent's optional note and evidence."""

    value: Any
    note: str | None = None
    evidence: str | None = None
    evidence_backed: bool = False
    # the author's "may be shown" tick: covers the note and the evidence link
    note_shareable: bool = False

    @property
    def is_real(self) -> bool:
        return self.value not in (DONT_KNOW, NOT_APPLICABLE)

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"value": self.value}
        if self.note:
            data["note"] = self.note
        if self.note or self.evidence:
            # "may be shown" covers the note and the evidence link alike
            data["note_shareable"] = self.note_shareable
        if self.evidence:
            data["evidence"] = self.evidence
        if self.evidence_backed:
            data["evidence_backed"] = True
        return data


@dataclass(frozen=True, slots=True)
class RoundSettings:
    """What a round fixes for everyone: the stage, full or quick, solo or team, instruments."""

    stage: Stage
    kind: Kind = "full"
    mode: Mode = "solo"
    instruments: tuple[str, ...] = ()  # empty: every built-in instrument of the catalog

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise AnswerError(
                None, f"unknown stage {self.stage!r} (use one of {', '.join(STAGES)})"
            )
        if self.kind not in ("full", "quick"):
            raise AnswerError(None, f"unknown kind {self.kind!r} (use full or quick)")
        if self.mode not in ("solo", "team_survey"):
            raise AnswerError(None, f"unknown mode {self.mode!r} (use solo or team_survey)")

    def instrument_ids(self, catalog: Catalog) -> tuple[str, ...]:
        if self.instruments:
            return self.instruments
        return tuple(i for i in catalog.instruments if i not in catalog.custom_instruments)


def parse_answer(raw: Any) -> Answer:
    """An answer from its stored or file form: a bare value, or a mapping with `value`."""
    if type(raw) is dict or isinstance(raw, Mapping):
        if not raw.keys() <= ANSWER_FIELDS:
            unknown = set(raw) - ANSWER_FIELDS
            raise AnswerError(None, f"unknown answer field(s) {sorted(unknown)}")
        if "value" not in raw:
            raise AnswerError(None, "an answer with a note or evidence still needs a 'value'")
        if len(raw) == 1:
            return Answer(value=raw["value"])
        return Answer(
            value=raw["value"],
            note=raw.get("note") or None,
            evidence=raw.get("evidence") or None,
            evidence_backed=bool(raw.get("evidence_backed", False)),
            note_shareable=bool(raw.get("note_shareable", False)),
        )
    if isinstance(raw, Answer):
        return raw
    return Answer(value=raw)


@dataclass(frozen=True, slots=True)
class AskedQuestion:
    instrument: Instrument
    question: Question
    required: bool  # False for roles that may answer but need not
    qid: str


def asked_questions(
    catalog: Catalog, settings: RoundSettings, role: Role, *, all_stages: bool = False
) -> tuple[AskedQuestion, ...]:
    """The questions a respondent in `role` is asked, in survey order, each with whether it is
    required of them. A question not expected at the round's stage is not asked (scoring
    passes `all_stages` to list such questions as "later"). Display conditions are applied
    separately. Cached per catalog: the answer depends only on the round's settings and the
    role."""
    stage = None if all_stages else settings.stage
    key = (settings.instrument_ids(catalog), settings.kind, settings.mode, role, stage)
    cached = catalog.cache.get(("asked", key))
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    asked = []
    for instrument_id in key[0]:
        instrument = catalog.instruments[instrument_id]
        for question in instrument.questions:
            qid = f"{instrument.id}.{question.id}"
            if settings.kind == "quick" and not question.quick:
                continue
            if stage is not None and stage not in question.stages:
                continue
            if settings.mode == "solo":
                asked.append(AskedQuestion(instrument, question, True, qid))
                continue
            required_roles = question.roles or instrument.roles
            optional_roles = question.optional_roles or instrument.optional_roles
            if role in required_roles:
                asked.append(AskedQuestion(instrument, question, True, qid))
            elif role in optional_roles:
                asked.append(AskedQuestion(instrument, question, False, qid))
    result = tuple(asked)
    catalog.cache[("asked", key)] = result
    return result


def validate_role(role: Any) -> Role:
    if role not in ROLES:
        raise AnswerError(None, f"unknown role {role!r} (use one of {', '.join(ROLES)})")
    return role  # type: ignore[no-any-return]


def validate_answers(
    catalog: Catalog, raw_answers: Mapping[str, Any], *, instruments: tuple[str, ...] = ()
) -> dict[str, Answer]:
    """Check every answer against its question; the first problem raises AnswerError."""
    answers: dict[str, Answer] = {}
    for qid, raw in raw_answers.items():
        ref = catalog.questions.get(qid) if isinstance(qid, str) else None
        if ref is None:
            raise AnswerError(str(qid), "unknown question id (use 'instrument.question')")
        if instruments and ref.instrument.id not in instruments:
            raise AnswerError(qid, f"instrument {ref.instrument.id!r} is not part of this round")
        try:
            answer = parse_answer(raw)
        except AnswerError as error:
            raise AnswerError(qid, error.message) from None
        answers[qid] = validate_answer(ref.question, answer, qid=qid)
    return answers


def validate_answer(question: Question, answer: Answer, *, qid: str) -> Answer:
    value = answer.value
    if value == DONT_KNOW:
        if not question.allow_dont_know:
            raise AnswerError(qid, "'don't know' is not offered for this question")
    elif value == NOT_APPLICABLE:
        if not question.allow_na:
            raise AnswerError(qid, "'not applicable' is not offered for this question")
    elif question.type in ("ordinal", "single"):
        if not isinstance(value, str) or value not in question.option_ids:
            raise AnswerError(
                qid, f"{value!r} is not an option (options: {', '.join(question.option_ids)})"
            )
    elif question.type == "multi":
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise AnswerError(qid, "a multiple-choice answer must be a list of option ids")
        unknown = [v for v in value if v not in question.option_ids]
        if unknown:
            raise AnswerError(qid, f"{unknown[0]!r} is not an option")
        if len(set(value)) != len(value):
            raise AnswerError(qid, "an option is chosen twice")
        answer = Answer(
            value=[o for o in question.option_ids if o in value],
            note=answer.note,
            evidence=answer.evidence,
            evidence_backed=answer.evidence_backed,
            note_shareable=answer.note_shareable,
        )
    elif question.type == "number":
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise AnswerError(qid, f"{value!r} is not a number")
        if question.minimum is not None and value < question.minimum:
            raise AnswerError(qid, f"{value} is below the minimum {question.minimum:g}")
        if question.maximum is not None and value > question.maximum:
            raise AnswerError(qid, f"{value} is above the maximum {question.maximum:g}")
    elif question.type == "text":
        if not isinstance(value, str):
            raise AnswerError(qid, "a comment must be text")
        if len(value) > MAX_TEXT_CHARS:
            raise AnswerError(qid, f"the comment is longer than {MAX_TEXT_CHARS} characters")
    if answer.note is not None:
        if not isinstance(answer.note, str):
            raise AnswerError(qid, "a note must be text")
        if len(answer.note) > MAX_NOTE_CHARS:
            raise AnswerError(qid, f"the note is longer than {MAX_NOTE_CHARS} characters")
    if answer.evidence is not None:
        _check_evidence_url(qid, answer.evidence)
    return answer


def _check_evidence_url(qid: str, url: Any) -> None:
    if not isinstance(url, str) or len(url) > MAX_URL_CHARS:
        raise AnswerError(
            qid, f"the evidence link must be a web address of at most {MAX_URL_CHARS} characters"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise AnswerError(qid, "the evidence link must start with http:// or https://")
