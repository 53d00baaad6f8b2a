"""The rule language: `all` / `any` / `not` over answer predicates, with three-valued results.

Rules are data in the rubric files. A rule that depends on a "don't know" answer (or on a
question nobody answered) evaluates to *unknown* rather than false, and the result carries the
question ids that made it so, so callers can say why a level or a recommendation is uncertain.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DONT_KNOW = "dont_know"
NOT_APPLICABLE = "not_applicable"
SPECIAL_VALUES = frozenset({DONT_KNOW, NOT_APPLICABLE})

Stage = Literal["exploration", "prototype", "productionising", "operating"]
STAGES: tuple[Stage, ...] = ("exploration", "prototype", "productionising", "operating")

Scalar = str | int | float


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class AllRule(_Node):
    """True when every part is true; false when any part is false; otherwise unknown."""

    all_: tuple[Rule, ...] = Field(alias="all", min_length=1)


class AnyRule(_Node):
    """True when some part is true; false when every part is false; otherwise unknown."""

    any_: tuple[Rule, ...] = Field(alias="any", min_length=1)


class NotRule(_Node):
    """The negation of its part; unknown stays unknown."""

    not_: Rule = Field(alias="not")


class StageRule(_Node):
    """True when the round's project stage is one of the listed stages (never unknown)."""

    stage: tuple[Stage, ...] = Field(min_length=1)


class Predicate(_Node):
    """A test on one question's answer. Exactly one test key besides `q` must be given.

    `q` is a question id: unqualified within its own instrument file, `instrument.question`
    elsewhere. The loader rewrites every reference to its qualified form.
    """

    q: str
    equals: Scalar | None = None
    in_: tuple[Scalar, ...] | None = Field(default=None, alias="in")
    includes: str | None = None
    at_least: Scalar | None = None
    at_most: Scalar | None = None
    answered: bool | None = None
    unknown: bool | None = None

    @property
    def test(self) -> str:
        """The name of the single test this predicate performs."""
        return next(iter(self.tests()))

    def tests(self) -> Iterator[str]:
        for name in ("equals", "in_", "includes", "at_least", "at_most", "answered", "unknown"):
            if getattr(self, name) is not None:
                yield name.rstrip("_")


Rule = AllRule | AnyRule | NotRule | StageRule | Predicate

_RULE_KEYS = {"all": AllRule, "any": AnyRule, "not": NotRule, "stage": StageRule}
_PREDICATE_TESTS = ("equals", "in", "includes", "at_least", "at_most", "answered", "unknown")


def parse_rule(raw: Any) -> Rule:
    """Build a rule from its YAML form, with an error message an author can act on."""
    if isinstance(raw, Rule):
        return raw
    if not isinstance(raw, Mapping):
        kind = "a list" if isinstance(raw, list) else type(raw).__name__
        raise ValueError(f"a rule must be a mapping, got {kind}")
    keys = set(raw)
    combinators = keys & set(_RULE_KEYS)
    if combinators:
        if len(keys) != 1:
            raise ValueError(
                f"a rule with {sorted(combinators)[0]!r} must have no other keys, "
                f"got {sorted(keys)}"
            )
        key = next(iter(keys))
        value = raw[key]
        if key in ("all", "any"):
            if not isinstance(value, list) or not value:
                raise ValueError(f"'{key}' needs a non-empty list of rules")
            parts = [parse_rule(part) for part in value]
            if key == "all":
                return AllRule.model_validate({"all": parts})
            return AnyRule.model_validate({"any": parts})
        if key == "not":
            return NotRule.model_validate({"not": parse_rule(value)})
        stages = value if isinstance(value, list) else [value]
        return StageRule.model_validate({"stage": stages})
    if "q" not in keys:
        raise ValueError(
            "a rule needs 'all', 'any', 'not', 'stage' or a predicate on a question ('q'), "
            f"got keys {sorted(keys)}"
        )
    for key in _PREDICATE_TESTS:
        value = raw.get(key)
        if isinstance(value, bool) and key not in ("answered", "unknown"):
            raise ValueError(
                f"predicate on {raw['q']!r} compares with yes/no {value!r}: quote option ids "
                "(YAML reads yes, no, on and off as true/false)"
            )
    tests = [key for key in keys if key in _PREDICATE_TESTS and raw[key] is not None]
    unexpected = keys - {"q", *_PREDICATE_TESTS}
    if unexpected:
        raise ValueError(f"unknown key(s) {sorted(unexpected)} in predicate on {raw['q']!r}")
    if len(tests) != 1:
        raise ValueError(
            f"a predicate on {raw['q']!r} needs exactly one of {', '.join(_PREDICATE_TESTS)}; "
            f"got {sorted(tests) or 'none'}"
        )
    return Predicate.model_validate(dict(raw))


AllRule.model_rebuild()
AnyRule.model_rebuild()
NotRule.model_rebuild()


def iter_predicates(rule: Rule) -> Iterator[Predicate]:
    """Every predicate inside a rule, depth first."""
    if isinstance(rule, Predicate):
        yield rule
    elif isinstance(rule, AllRule):
        for part in rule.all_:
            yield from iter_predicates(part)
    elif isinstance(rule, AnyRule):
        for part in rule.any_:
            yield from iter_predicates(part)
    elif isinstance(rule, NotRule):
        yield from iter_predicates(rule.not_)


def referenced_questions(rule: Rule) -> frozenset[str]:
    return frozenset(predicate.q for predicate in iter_predicates(rule))


def rule_to_data(rule: Rule) -> Any:
    """The rule in its YAML form (for documentation and JSON output)."""
    return rule.model_dump(mode="json", by_alias=True, exclude_none=True)


# --- evaluation -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verdict:
    """A three-valued result: `value` is True, False or None (unknown).

    `unknown_because` names the questions whose "don't know" (or missing) answers left the
    result undecided; it is empty unless `value` is None.
    """

    value: bool | None
    unknown_because: frozenset[str] = frozenset()

    @property
    def is_true(self) -> bool:
        return self.value is True

    @property
    def is_false(self) -> bool:
        return self.value is False

    @property
    def is_unknown(self) -> bool:
        return self.value is None


TRUE = Verdict(True)
FALSE = Verdict(False)


class AnswerLookup:
    """What the evaluator needs to know about answers, questions and the round.

    `answers` maps qualified question ids to a value: an option id, a list of option ids, a
    number, text, or one of the special values "dont_know" / "not_applicable". A question that
    is absent from `answers` counts as unanswered (unknown). `hidden` lists questions whose
    display condition is false: they count as not applicable. `order` gives, per question,
    the rank of each option (its score for ordinal questions, its position otherwise).
    """

    __slots__ = ("answers", "hidden", "order", "stage")

    def __init__(
        self,
        *,
        answers: Mapping[str, Any],
        order: Mapping[str, Mapping[str, float]],
        stage: str | None = None,
        hidden: frozenset[str] = frozenset(),
    ) -> None:
        self.answers = answers
        self.order = order
        self.stage = stage
        self.hidden = hidden


def evaluate(rule: Rule, lookup: AnswerLookup) -> Verdict:
    """Evaluate a rule with Kleene's three-valued logic."""
    if isinstance(rule, Predicate):
        return _evaluate_predicate(rule, lookup)
    if isinstance(rule, AllRule):
        return _combine([evaluate(part, lookup) for part in rule.all_], short_circuit=False)
    if isinstance(rule, AnyRule):
        return _combine([evaluate(part, lookup) for part in rule.any_], short_circuit=True)
    if isinstance(rule, NotRule):
        inner = evaluate(rule.not_, lookup)
        return inner if inner.value is None else Verdict(not inner.value)
    return Verdict(lookup.stage in rule.stage)


def _combine(verdicts: list[Verdict], *, short_circuit: bool) -> Verdict:
    # `all` is decided by any False; `any` by any True. Otherwise unknown wins over the rest.
    if any(verdict.value is short_circuit for verdict in verdicts):
        return Verdict(short_circuit)
    unknown = [verdict for verdict in verdicts if verdict.value is None]
    if unknown:
        return Verdict(None, frozenset().union(*(verdict.unknown_because for verdict in unknown)))
    return Verdict(not short_circuit)


def _evaluate_predicate(predicate: Predicate, lookup: AnswerLookup) -> Verdict:
    qid = predicate.q
    if qid in lookup.hidden:
        value: Any = NOT_APPLICABLE
    elif qid in lookup.answers:
        value = lookup.answers[qid]
    else:
        value = None
    test = predicate.test
    if test == "answered":
        is_answered = value is not None and value not in (DONT_KNOW, NOT_APPLICABLE)
        return Verdict(is_answered == predicate.answered)
    if test == "unknown":
        is_unknown = value is None or value == DONT_KNOW
        return Verdict(is_unknown == predicate.unknown)
    if value is None or value == DONT_KNOW:
        return Verdict(None, frozenset({qid}))
    if value == NOT_APPLICABLE:
        return FALSE
    if test == "equals":
        return Verdict(value == predicate.equals)
    if test == "in":
        assert predicate.in_ is not None
        return Verdict(value in predicate.in_)
    if test == "includes":
        return Verdict(isinstance(value, list | tuple) and predicate.includes in value)
    rank = _rank(qid, value, lookup)
    if test == "at_least":
        assert predicate.at_least is not None
        return Verdict(rank >= _rank(qid, predicate.at_least, lookup))
    assert predicate.at_most is not None
    return Verdict(rank <= _rank(qid, predicate.at_most, lookup))


def _rank(qid: str, value: Any, lookup: AnswerLookup) -> float:
    """An option's rank (its score or position), or a number compared as it is."""
    if isinstance(value, bool):
        raise TypeError(f"cannot compare a yes/no value on {qid}")
    if isinstance(value, int | float):
        return float(value)
    ranks = lookup.order.get(qid, {})
    if value in ranks:
        return ranks[value]
    raise ValueError(f"{value!r} is not an option of {qid}")
