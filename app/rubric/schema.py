"""Frozen models of the rubric files: instruments, practices, process models and sources.

These models check the shape of one file at a time. Checks that need more than one file
(references between files, citations against the bibliography) live in `loader.py`.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from app.rubric.rules import SPECIAL_VALUES, STAGES, Rule, Stage, parse_rule

Role = Literal[
    "data_scientist", "ml_engineer", "software_engineer", "product_manager", "team_lead", "other"
]
ROLES: tuple[Role, ...] = (
    "data_scientist",
    "ml_engineer",
    "software_engineer",
    "product_manager",
    "team_lead",
    "other",
)
ROLE_GROUPS: dict[str, tuple[Role, ...]] = {
    "data_science": ("data_scientist",),
    "engineering": ("ml_engineer", "software_engineer"),
    "product_and_lead": ("product_manager", "team_lead"),
}
SCALE_MAX = 4  # the one ordinal answer scale runs from 0 to 4

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]
Text = Annotated[str, Field(min_length=1, max_length=2000)]

_RULE_JSON_SCHEMA: dict[str, Any] = {
    "description": (
        "A rule: {all: [rules]}, {any: [rules]}, {not: rule}, {stage: [stages]} or a predicate "
        "{q: question, equals|in|includes|at_least|at_most|answered|unknown: value}"
    ),
    "type": "object",
}
RuleField = Annotated[Rule, BeforeValidator(parse_rule), WithJsonSchema(_RULE_JSON_SCHEMA)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceRef(_Frozen):
    """A citation: a bibliography id, a section heading of that document, and the idea taken."""

    doc: Identifier
    section: Text
    note: Text


Sources = Annotated[tuple[SourceRef, ...], Field(min_length=1)]


# --- bibliography -----------------------------------------------------------------------------


class SourceDocument(_Frozen):
    id: Identifier
    file: str
    short: Text
    citation: Text
    licence: str | None = None
    sections: tuple[str, ...] = Field(min_length=1)


class Bibliography(_Frozen):
    kind: Literal["bibliography"] = "bibliography"
    version: str
    sources: tuple[SourceDocument, ...] = Field(min_length=1)


# --- instruments ------------------------------------------------------------------------------

QuestionType = Literal["ordinal", "single", "multi", "number", "text"]
ConsensusMode = Literal["lower_median", "most_frequent", "most_serious"]
"""How a team's answers become one answer (docs/scoring.md, "Team aggregation"): the lower
median option (ordinal, number), the most frequent option (single choice), or the most serious
option any respondent gave, options being listed from least to most serious."""


class Option(_Frozen):
    id: Identifier
    label: Text
    score: int | None = Field(default=None, ge=0, le=SCALE_MAX)

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in SPECIAL_VALUES:
            raise ValueError(f"option id {value!r} is reserved for the built-in answer")
        return value


class Question(_Frozen):
    id: Identifier
    text: Text
    help: Text
    type: QuestionType
    options: tuple[Option, ...] = ()
    weight: float = 1.0
    sub_dimension: Identifier | None = None
    quick: bool = False
    roles: tuple[Role, ...] | None = None
    optional_roles: tuple[Role, ...] = ()
    stages: tuple[Stage, ...] = STAGES
    show_if: RuleField | None = None
    consensus: ConsensusMode | None = None  # None: lower_median for ordinal, else most_frequent
    allow_na: bool = False
    allow_dont_know: bool = True
    evidence: bool = False
    minimum: float | None = None
    maximum: float | None = None
    unit: str | None = None
    sources: Sources

    @model_validator(mode="after")
    def _consistent(self) -> Question:
        if self.weight <= 0:
            raise ValueError(f"weight must be greater than 0, got {self.weight}")
        if self.type in ("ordinal", "single", "multi"):
            if len(self.options) < 2:
                raise ValueError(f"a {self.type} question needs at least two options")
            ids = [option.id for option in self.options]
            duplicates = sorted({oid for oid in ids if ids.count(oid) > 1})
            if duplicates:
                raise ValueError(f"duplicate option id(s) {duplicates}")
        elif self.options:
            raise ValueError(f"a {self.type} question has no options")
        if self.type == "ordinal":
            missing = [option.id for option in self.options if option.score is None]
            if missing:
                raise ValueError(f"ordinal options need a score on the 0-4 scale: {missing}")
            if self.sub_dimension is None:
                raise ValueError("an ordinal question needs a sub_dimension")
        elif any(option.score is not None for option in self.options):
            raise ValueError(f"only ordinal options carry scores, not {self.type} options")
        if not self.stages:
            raise ValueError("stages must list at least one stage")
        if self.consensus == "lower_median" and self.type not in ("ordinal", "number"):
            raise ValueError(f"consensus lower_median needs an ordered answer, not {self.type}")
        if self.consensus in ("most_frequent", "most_serious") and self.type not in (
            "ordinal",
            "single",
        ):
            raise ValueError(f"consensus {self.consensus} needs options to choose one from")
        return self

    @property
    def consensus_mode(self) -> ConsensusMode | None:
        """The consensus mode in force: the declared one, or the type's default."""
        if self.consensus is not None:
            return self.consensus
        if self.type in ("ordinal", "number"):
            return "lower_median"
        return "most_frequent" if self.type == "single" else None

    @property
    def scored(self) -> bool:
        return self.type == "ordinal"

    @cached_property
    def option_ids(self) -> tuple[str, ...]:
        return tuple(option.id for option in self.options)

    @cached_property
    def _options_by_id(self) -> dict[str, Option]:
        return {option.id: option for option in self.options}

    def option(self, option_id: str) -> Option | None:
        return self._options_by_id.get(option_id)


class Section(_Frozen):
    id: Identifier
    title: Text
    intro: str | None = None
    questions: tuple[Question, ...] = Field(min_length=1)


class SubDimension(_Frozen):
    id: Identifier
    title: Text
    description: Text


class Band(_Frozen):
    """A named band: a threshold on the dimension score, so it never contradicts the score."""

    id: Identifier
    label: Text
    min_score: float = Field(ge=0, le=100)
    description: Text
    rationale: Text
    sources: Sources


class Gate(_Frozen):
    """One condition a team must meet to reach `level` for an artifact (or overall)."""

    id: Identifier
    artifact: Identifier
    level: int = Field(ge=1)
    title: Text
    rule: RuleField
    rationale: Text
    sources: Sources


class LevelDefinition(_Frozen):
    level: int = Field(ge=0)
    label: Text
    description: Text


class Artifact(_Frozen):
    id: Identifier
    title: Text


class Levels(_Frozen):
    """Maturity levels reached by gates: per artifact, with the overall level the lowest."""

    definitions: tuple[LevelDefinition, ...] = Field(min_length=2)
    artifacts: tuple[Artifact, ...] = Field(min_length=1)
    gates: tuple[Gate, ...] = Field(min_length=1)
    rationale: Text
    sources: Sources


class Outcome(_Frozen):
    id: Identifier
    label: Text
    description: Text
    when: RuleField | None = None


class Classification(_Frozen):
    """A categorical result: the first outcome whose rule holds (in file order).

    An outcome without `when` is the fallback and must come last. If an earlier outcome's
    rule is unknown, the classification is unknown: it is never guessed.
    """

    id: Identifier
    title: Text
    rationale: Text
    sources: Sources
    outcomes: tuple[Outcome, ...] = Field(min_length=2)

    @model_validator(mode="after")
    def _fallback_last(self) -> Classification:
        for outcome in self.outcomes[:-1]:
            if outcome.when is None:
                raise ValueError(f"only the last outcome may omit 'when' (see {outcome.id!r})")
        return self


FindingKind = Literal["fit_warning", "risk", "strength"]


class Finding(_Frozen):
    """A statement shown when its rule holds, e.g. a trajectory fit warning."""

    id: Identifier
    kind: FindingKind
    title: Text
    when: RuleField
    text: Text
    sources: Sources


DebtCategory = Literal[
    "entanglement",
    "unstable_data_dependencies",
    "feedback_loops",
    "dead_experimental_code",
    "magic_constants",
    "untested_infrastructure",
    "manual_deployment",
    "data_drift",
    "undocumented_architecture",
    "notebook_code",
    "missing_basics",
    "unmanaged_debt",
]
Quadrant = Literal[
    "deliberate_prudent", "deliberate_reckless", "inadvertent_prudent", "inadvertent_reckless"
]


class DebtItem(_Frozen):
    id: Identifier
    title: Text
    category: DebtCategory
    quadrant: Quadrant | None = None
    when: RuleField
    description: Text
    practice: Identifier | None = None
    sources: Sources


class Instrument(_Frozen):
    kind: Literal["instrument"] = "instrument"
    id: Identifier
    title: Text
    version: str
    description: Text
    position: int = 100  # order of instruments in the survey, documents and reports
    scored: bool = True
    roles: tuple[Role, ...] = Field(min_length=1)
    optional_roles: tuple[Role, ...] = ()
    sub_dimensions: tuple[SubDimension, ...] = ()
    sections: tuple[Section, ...] = Field(min_length=1)
    bands: tuple[Band, ...] = ()
    levels: Levels | None = None
    classifications: tuple[Classification, ...] = ()
    findings: tuple[Finding, ...] = ()
    debt_items: tuple[DebtItem, ...] = ()
    sources: Sources

    @cached_property
    def questions(self) -> tuple[Question, ...]:
        return tuple(question for section in self.sections for question in section.questions)

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)


# --- practices and process models -------------------------------------------------------------

Effort = Literal["S", "M", "L"]
EFFORT_COST: dict[str, int] = {"S": 1, "M": 2, "L": 3}


class Unlocks(_Frozen):
    instrument: Identifier
    artifact: Identifier
    level: int = Field(ge=1)


class Practice(_Frozen):
    id: Identifier
    title: Text
    dimension: Identifier
    sub_dimension: Identifier | None = None
    summary: Text
    steps: tuple[Text, ...] = Field(min_length=1)
    why: Text
    sources: Sources
    impact: int = Field(ge=1, le=3)
    effort: Effort
    owners: tuple[Role, ...] = Field(min_length=1)
    prerequisites: tuple[Identifier, ...] = ()
    stages: tuple[Stage, ...] = Field(min_length=1)
    trigger: RuleField
    addresses: tuple[str, ...] = Field(min_length=1)
    unlocks: Unlocks | None = None
    # Roadmap weights (docs/scoring.md, "Roadmap"): a production control counts double from
    # productionising on; a refinement of something that must already work counts half.
    production_control: bool = False
    refinement: bool = False


class DefiningProblem(_Frozen):
    """A pattern that defines a team's situation; its triggered remedies go to Now whatever
    their effort. It holds when the named classification has one of `outcomes`, or `when`."""

    id: Identifier
    title: Text
    classification: str | None = None  # "instrument.classification"
    outcomes: tuple[Identifier, ...] = ()
    when: RuleField | None = None
    remedies: tuple[Identifier, ...] = Field(min_length=1)
    why: Text
    sources: Sources

    @model_validator(mode="after")
    def _one_test(self) -> DefiningProblem:
        if (self.classification is None) == (self.when is None):
            raise ValueError("a defining problem needs either 'classification' or 'when'")
        if self.classification is not None and not self.outcomes:
            raise ValueError("a defining problem read from a classification needs 'outcomes'")
        return self


class PracticeCatalog(_Frozen):
    kind: Literal["practices"] = "practices"
    version: str
    practices: tuple[Practice, ...] = Field(min_length=1)
    defining_problems: tuple[DefiningProblem, ...] = ()


class FitRule(_Frozen):
    """Pushes a process model's fit up (positive weight) or down (negative) when it holds."""

    when: RuleField
    weight: int = Field(ge=-5, le=5)
    reason: Text

    @field_validator("weight")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("a fit rule's weight must not be 0")
        return value


class Caveat(_Frozen):
    id: Identifier
    when: RuleField
    text: Text
    sources: Sources


class ProcessModel(_Frozen):
    id: Identifier
    name: Text
    summary: Text
    description: Text
    fits_when: Text
    avoid_when: Text
    sources: Sources
    fit: tuple[FitRule, ...] = Field(min_length=1)
    caveats: tuple[Caveat, ...] = ()

    @model_validator(mode="after")
    def _has_positive_rule(self) -> ProcessModel:
        if not any(rule.weight > 0 for rule in self.fit):
            raise ValueError("a process model needs at least one fit rule with positive weight")
        return self


class ProcessModelCatalog(_Frozen):
    kind: Literal["process_models"] = "process_models"
    version: str
    close_margin: float = Field(default=10, ge=0, le=100)
    process_models: tuple[ProcessModel, ...] = Field(min_length=2)


RubricFile = Instrument | PracticeCatalog | ProcessModelCatalog | Bibliography
FILE_KINDS: dict[str, type[BaseModel]] = {
    "instrument": Instrument,
    "practices": PracticeCatalog,
    "process_models": ProcessModelCatalog,
    "bibliography": Bibliography,
}
