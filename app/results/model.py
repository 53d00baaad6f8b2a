"""The stored team result as one typed, frozen, versioned model: ``TeamResult``.

The engine's plain-data form (``app.rubric.output.to_data``) is what the CLI prints and the API
returns; ``TeamResult`` is that same shape, typed (``SCHEMA_VERSION`` is written with it). A
round's result is written with ``TeamResult.from_assessment`` and read back with
``parse_stored`` exactly once, on load; every page, report and export reads attributes, never
string keys.

Older stored shapes are upgraded here, at parse time, in one place (``_upgrade``); stored rows
are never rewritten. ``TeamResult.to_data()`` gives back the JSON, number for number what the
engine's ``to_data`` wrote, so the page, API, CLI and PDF keep showing the same result.

Its mappings come back in the order the engine wrote them on every database
(``_in_written_order``): PostgreSQL's JSONB keeps an object's keys sorted by length, then bytes,
not in the order written. The engine sorts most mappings, so those are sorted again; the ones in
the rubric's order are stored with their order recorded as lists (``KEY_ORDER``). A result
stored before that record existed keeps those as the database gives them back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

from app.rubric.answers import Kind, Mode
from app.rubric.assessment import Assessment, not_compared_note
from app.rubric.loader import Catalog
from app.rubric.output import SCHEMA_VERSION, to_data
from app.rubric.rules import Stage

Number = int | float  # the engine's rounded figures: kept as written so JSON stays identical
AnswerValue = str | int | float | list[str] | None  # a consensus answer as the engine holds it
Outcome = str | int | float | None  # a sensitivity's before/after: a model id or a level

GateStatus = Literal["met", "missing", "unknown", "not_expected", "not_applicable"]
RuleStatus = Literal["holds", "unknown"]
Fit = Literal["good", "warnings", "unknown"]
Moved = Literal["up", "same", "down", "unknown"]

KEY_ORDER = "key_order"
"""The stored form's record of the mappings in the rubric's order (each dimension's
sub-dimensions, the handoff's artifacts, the trajectory's type), as lists, whose order every
database keeps; ``parse_stored`` reads it and the typed result does not carry it."""


class _Frozen(BaseModel):
    # extra keys are ignored: an old stored row with a key since dropped still loads
    model_config = ConfigDict(frozen=True, extra="ignore")


class RoundInfo(_Frozen):
    stage: Stage
    kind: Kind
    mode: Mode
    instruments: tuple[str, ...]
    respondents: int
    results_visible: bool
    responses_needed: int
    rubric_versions: dict[str, str]


class Band(_Frozen):
    id: str
    label: str


class SubDimension(_Frozen):
    title: str
    score: Number | None
    coverage: Number | None


class Explanation(_Frozen):
    question: str
    text: str
    sub_dimension: str
    answer: AnswerValue
    answer_label: str
    score: Number
    weight: Number
    points: Number
    max_points: Number


class Dimension(_Frozen):
    title: str
    score: Number | None
    coverage: Number | None
    band: Band | None
    sub_dimensions: dict[str, SubDimension]
    explanation: tuple[Explanation, ...]
    knowledge_gaps: tuple[str, ...]
    later: tuple[str, ...]
    unanswered: tuple[str, ...]
    not_applicable: tuple[str, ...]
    level: int | None = None  # only the levelled instrument's entry carries it

    @model_serializer(mode="wrap")
    def _without_absent_level(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict) and data.get("level") is None:
            data.pop("level", None)
        return data


class TrajectoryWarning(_Frozen):
    id: str
    title: str
    text: str
    status: RuleStatus


class Trajectory(_Frozen):
    type: dict[str, str | None]
    label: str
    fit: Fit
    warnings: tuple[TrajectoryWarning, ...]


class Gate(_Frozen):
    id: str
    title: str
    level: int
    status: GateStatus
    unknown_because: tuple[str, ...]


class Artifact(_Frozen):
    title: str
    level: int
    certain: bool
    next_level: int | None
    gates: tuple[Gate, ...]
    # 2026.2: [bottom, top] (equal unless a disputed answer makes it a range); whether the
    # next level's gates all wait for a later stage. Older results read a one-value range.
    range: tuple[int, int] | None = None
    not_expected: bool = False


class Handoff(_Frozen):
    level: int  # the lower bound of `range`: what aggregates count
    certain: bool
    artifacts: dict[str, Artifact]
    process: Artifact | None
    range: tuple[int, int] | None = None
    disputed: bool = False
    label: str | None = None  # "level 1", or "level 0–2, disputed"
    nothing_missing: bool = False
    note: str | None = None  # "Nothing expected at this stage is missing: ..."


class Classification(_Frozen):
    title: str
    outcome: str | None
    label: str | None
    unknown_because: tuple[str, ...]
    # 2026.2: the outcome at the top of a disputed answer's range, when it differs
    disputed: bool = False
    alternative: str | None = None


class Finding(_Frozen):
    id: str
    kind: str
    title: str
    text: str
    status: RuleStatus
    unknown_because: tuple[str, ...]


class Recommendation(_Frozen):
    recommended: bool  # False: no model's conditions hold, the top-ranked is no recommendation
    top: str
    runner_up: str
    close: bool
    margin: Number

    @property
    def model_id(self) -> str | None:
        """The recommended model's id, or None when no model fits."""
        return self.top if self.recommended else None


class ReasonAnswer(_Frozen):
    question: str
    answer: AnswerValue
    answer_label: str


class FitReason(_Frozen):
    reason: str
    weight: Number
    status: RuleStatus
    answers: tuple[ReasonAnswer, ...]


class Caveat(_Frozen):
    id: str
    text: str
    status: RuleStatus
    questions: tuple[str, ...]


class ProcessModel(_Frozen):
    id: str
    name: str
    summary: str
    fit: Number
    reasons: tuple[FitReason, ...]
    against: tuple[FitReason, ...]
    undecided: tuple[FitReason, ...]
    caveats: tuple[Caveat, ...]


class Sensitivity(_Frozen):
    question: str
    text: str
    current: AnswerValue
    current_label: str
    alternative: AnswerValue
    alternative_label: str
    effect: Literal["top_model", "level"]
    subject: str
    before: Outcome
    after: Outcome


class RemedyOf(_Frozen):
    """The team's defining problem a roadmap item answers (2026.2)."""

    problem: str  # over_the_wall | reckless_debt | survival_mode | manual_deployment_in_production
    title: str
    needed_first: bool = False  # needed first by a remedy, not a remedy itself


class RoadmapItem(_Frozen):
    practice: str
    title: str
    dimension: str
    priority: Number
    gap: Number
    impact: int
    effort: str
    owners: tuple[str, ...]
    steps: tuple[str, ...]
    reason: str
    unlocks: str | None
    # 2026.2: the defining problem (over the wall, reckless debt, ...) it is in Now for
    remedies: RemedyOf | None = None


class LevelPath(_Frozen):
    artifact: str
    title: str
    level: int
    gates: tuple[str, ...]
    practices: tuple[str, ...]


class Roadmap(_Frozen):
    now: tuple[RoadmapItem, ...]
    next: tuple[RoadmapItem, ...]
    later: tuple[RoadmapItem, ...]
    adopted: tuple[RoadmapItem, ...]
    to_check: tuple[str, ...]
    level_paths: tuple[LevelPath, ...]


class DebtRow(_Frozen):
    id: str
    title: str
    category: str
    quadrant: str | None
    description: str
    practice: str | None
    source: str


class PerceptionGap(_Frozen):
    kind: Literal["question", "dimension"]
    subject: str
    title: str
    dimension: str
    lower_group: str
    higher_group: str
    lower_value: Number
    higher_value: Number
    size: Number


class AnswerSpread(_Frozen):
    consensus: AnswerValue
    consensus_label: str
    counts: dict[str, int]
    disagreement: bool
    # 2026.2: an ordinal split (role groups two or more steps apart, or no majority side) is
    # disputed, `consensus` its bottom and `high` its top; `mode` is the consensus mode used
    disputed: bool = False
    high: AnswerValue = None
    mode: str | None = None


class TargetProgress(_Frozen):
    dimension: str
    target: str | int
    percent: int
    met: bool


class Confidence(_Frozen):
    evidence_share: Number | None


class Comparison(_Frozen):
    dimensions: dict[str, Number | None]
    questions: dict[str, Number]
    adopted_moved: dict[str, Moved]
    # 2026.2: the previous round's rubric ("2026.1") when it was another version; then only
    # dimension scores are compared, each as its own rubric computed it
    previous_rubric: str | None = None
    # why nothing is compared: "no comparison: different kind (quick check vs full
    # assessment)" when the previous round was of another kind; the mappings are then empty
    not_compared: str | None = None


class TeamResult(_Frozen):
    """A round's team result, as stored in ``RoundResult.computed``."""

    schema_version: int = SCHEMA_VERSION
    round: RoundInfo
    dimensions: dict[str, Dimension]
    trajectory: Trajectory
    handoff: Handoff | None
    classifications: dict[str, Classification]
    findings: tuple[Finding, ...]
    recommendation: Recommendation
    process_models: tuple[ProcessModel, ...]
    sensitivity: tuple[Sensitivity, ...]
    roadmap: Roadmap
    debt_register: tuple[DebtRow, ...]
    perception_gaps: tuple[PerceptionGap, ...]
    answers: dict[str, AnswerSpread]
    targets: tuple[TargetProgress, ...]
    confidence: Confidence
    comparison: Comparison | None
    warnings: tuple[str, ...]

    @classmethod
    def from_assessment(cls, catalog: Catalog, assessment: Assessment) -> TeamResult:
        return cls.model_validate(to_data(catalog, assessment))

    def within_kind(self, previous_kind: str | None) -> TeamResult:
        """This result, its change since the previous round said to be no comparison when that
        round (``previous_kind``: quick or full) was of another kind. The engine says so itself
        since it learnt the rule; this keeps a result stored before then from showing changes
        between a quick check and a full assessment."""
        comparison = self.comparison
        if (
            previous_kind is None
            or previous_kind == self.round.kind
            or comparison is None
            or comparison.not_compared is not None
        ):
            return self
        return self.model_copy(
            update={
                "comparison": Comparison(
                    dimensions={},
                    questions={},
                    adopted_moved={},
                    not_compared=not_compared_note(self.round.kind, previous_kind),
                )
            }
        )

    def to_data(self) -> dict[str, Any]:
        """The JSON form: what is stored, what the API returns and ``processlens score``
        prints (an older stored result comes back upgraded)."""
        return self.model_dump(mode="json")

    def to_stored(self) -> dict[str, Any]:
        """What a ``RoundResult`` stores: ``to_data()`` and, beside it, the order of the
        mappings in the rubric's order (``KEY_ORDER``), for the databases that do not keep it."""
        data = self.to_data()
        data[KEY_ORDER] = {
            "sub_dimensions": {d: list(raw.sub_dimensions) for d, raw in self.dimensions.items()},
            "artifacts": [] if self.handoff is None else list(self.handoff.artifacts),
            "trajectory_type": list(self.trajectory.type),
        }
        return data

    @property
    def visible(self) -> bool:
        """Whether the anonymity rule lets the team result show."""
        return self.round.results_visible

    @property
    def recommended_model(self) -> ProcessModel | None:
        """The recommended process model, or None when no model fits."""
        top = self.recommendation.model_id
        return next((m for m in self.process_models if m.id == top), None)

    def process_model(self, model_id: str) -> ProcessModel | None:
        return next((m for m in self.process_models if m.id == model_id), None)


def _upgrade(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A stored result of any earlier shape in the current one (the row is not rewritten)."""
    data = dict(raw)
    version = data.get("schema_version", 1)
    if version < 2:
        recommendation = dict(data["recommendation"])
        if "recommended" not in recommendation:
            # stored before "recommended" existed: the rule (some condition of the top model
            # holds) is applied again to the stored fits
            fits = {m["id"]: m.get("fit") or 0 for m in data.get("process_models", ())}
            recommendation["recommended"] = fits.get(recommendation["top"], 0) > 0
        data["recommendation"] = recommendation
    data["schema_version"] = SCHEMA_VERSION
    return data


def _sorted(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return dict(sorted(mapping.items()))


def _as_recorded(order: Any) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """A mapping's keys in the recorded ``order`` (any others after them); as stored when
    nothing was recorded (a result stored before the record existed)."""
    first = [key for key in order if isinstance(key, str)] if isinstance(order, list) else []

    def reorder(mapping: Mapping[str, Any]) -> dict[str, Any]:
        keys = [key for key in first if key in mapping]
        return {key: mapping[key] for key in [*keys, *(k for k in mapping if k not in keys)]}

    return reorder


def _with(data: Any, key: str, change: Callable[[Mapping[str, Any]], dict[str, Any]]) -> Any:
    """``data`` copied (never changed: it may be a stored row's JSON) with the mapping under
    ``key`` changed; a value of another shape is left as it is, for validation to refuse."""
    if not isinstance(data, Mapping) or not isinstance(data.get(key), Mapping):
        return data
    return {**data, key: change(data[key])}


def _in_written_order(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with every mapping in the order the engine wrote it: the mappings it sorts
    sorted again, those in the rubric's order as ``KEY_ORDER`` recorded them."""
    recorded = data.get(KEY_ORDER)
    recorded = recorded if isinstance(recorded, Mapping) else {}
    subs = recorded.get("sub_dimensions")
    subs = subs if isinstance(subs, Mapping) else {}
    changes: dict[str, Callable[[Mapping[str, Any]], Any]] = {
        "round": lambda info: _with(info, "rubric_versions", _sorted),
        "dimensions": lambda dimensions: {
            key: _with(raw, "sub_dimensions", _as_recorded(subs.get(key)))
            for key, raw in _sorted(dimensions).items()
        },
        "trajectory": lambda trajectory: _with(
            trajectory, "type", _as_recorded(recorded.get("trajectory_type"))
        ),
        "handoff": lambda handoff: _with(
            handoff, "artifacts", _as_recorded(recorded.get("artifacts"))
        ),
        "classifications": _sorted,
        "answers": lambda answers: {
            key: _with(spread, "counts", _sorted) for key, spread in _sorted(answers).items()
        },
        "comparison": lambda comparison: _with(
            _with(_with(comparison, "dimensions", _sorted), "questions", _sorted),
            "adopted_moved",
            _sorted,
        ),
    }
    return {
        key: changes[key](value) if key in changes and isinstance(value, Mapping) else value
        for key, value in data.items()
        if key != KEY_ORDER
    }


def parse_stored(raw: Mapping[str, Any]) -> TeamResult:
    """The typed result of a stored ``RoundResult.computed`` (or a ``to_data`` dict), its
    mappings in the order the engine wrote them whichever database stored it."""
    return TeamResult.model_validate(_in_written_order(_upgrade(raw)))
