"""The repository check's signals file (questionnaires/repository.yaml): what to look for in a
checkout, and which answers each finding supports or contradicts.

The file is versioned on its own, so changing a signal never changes an instrument's version.
Signals are data: each one names measures (a small set of matcher kinds, implemented in
app/rubric/repository_match.py) and thresholds, and Python never branches on a signal's id.
Loading goes through the rubric loader's guarded YAML reader, with `file:line` problems.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from app.rubric import loader, safe_yaml
from app.rubric.schema import Identifier, SourceRef, Text

SIGNALS_FILE = "repository.yaml"
FAMILIES = (
    "ci",
    "tests",
    "code_checks",
    "notebooks",
    "environment",
    "model_registry",
    "data_validation",
    "shared_features",
    "monitoring",
    "debt_markers",
    "magic_constants",
    "other_language",
    "deployment",
    "documentation",
)
Family = Literal[
    "ci",
    "tests",
    "code_checks",
    "notebooks",
    "environment",
    "model_registry",
    "data_validation",
    "shared_features",
    "monitoring",
    "debt_markers",
    "magic_constants",
    "other_language",
    "deployment",
    "documentation",
]
Glob = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s/][^\s]*$")]
Globs = Annotated[tuple[Glob, ...], Field(min_length=1)]
QuestionId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as error:
        raise ValueError(f"not a valid regular expression: {error}") from None
    return pattern


Pattern = Annotated[str, Field(min_length=1, max_length=400)]


# --- measures: the matcher kinds ------------------------------------------------------------------


class _Measure(_Frozen):
    id: Identifier
    title: Text


class FilesMeasure(_Measure):
    """How many files match `paths` (and none of `exclude`)."""

    kind: Literal["files"]
    paths: Globs
    exclude: tuple[Glob, ...] = ()


class ConfigKeyMeasure(_Measure):
    """How many TOML / YAML / JSON / INI files among `paths` define any of `keys` (dotted)."""

    kind: Literal["config_key"]
    paths: Globs
    exclude: tuple[Glob, ...] = ()
    keys: Annotated[
        tuple[Annotated[str, Field(min_length=1, max_length=100)], ...], Field(min_length=1)
    ]


class ImportsMeasure(_Measure):
    """How many Python files or notebooks among `paths` import any of `modules` (or a submodule)."""

    kind: Literal["imports"]
    paths: Globs
    exclude: tuple[Glob, ...] = ()
    modules: Annotated[
        tuple[Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*$")], ...], Field(min_length=1)
    ]


class TextMeasure(_Measure):
    """How many lines (or files) among `paths` match `pattern`; notebooks are read as their code
    cells."""

    kind: Literal["text"]
    paths: Globs
    exclude: tuple[Glob, ...] = ()
    pattern: Pattern
    count: Literal["lines", "files"] = "lines"

    _check_pattern = field_validator("pattern")(_compiles)


class SharedImportsMeasure(_Measure):
    """How many module names matching `modules_matching` are imported both by files among `left`
    and by files among `right` (e.g. training and serving code sharing feature code)."""

    kind: Literal["shared_imports"]
    left: Globs
    right: Globs
    exclude: tuple[Glob, ...] = ()
    modules_matching: Pattern

    _check_pattern = field_validator("modules_matching")(_compiles)


class RatioMeasure(_Measure):
    """One measure divided by another; unknown when the denominator is 0."""

    kind: Literal["ratio"]
    numerator: Identifier
    denominator: Identifier


Measure = Annotated[
    FilesMeasure
    | ConfigKeyMeasure
    | ImportsMeasure
    | TextMeasure
    | SharedImportsMeasure
    | RatioMeasure,
    Field(discriminator="kind"),
]
MATCHER_KINDS = ("files", "config_key", "imports", "text", "shared_imports", "ratio")


# --- signals --------------------------------------------------------------------------------------


class Condition(_Frozen):
    measure: Identifier
    at_least: float | None = None
    at_most: float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> Condition:
        if (self.at_least is None) == (self.at_most is None):
            raise ValueError("a condition needs exactly one of at_least and at_most")
        return self


class Evidence(_Frozen):
    """What a signal's state says about one question: options it supports and contradicts."""

    question: QuestionId
    supports: tuple[Identifier, ...] = ()
    contradicts: tuple[Identifier, ...] = ()

    @model_validator(mode="after")
    def _says_something(self) -> Evidence:
        if not self.supports and not self.contradicts:
            raise ValueError("evidence needs options it supports or contradicts")
        both = set(self.supports) & set(self.contradicts)
        if both:
            raise ValueError(f"options both supported and contradicted: {', '.join(sorted(both))}")
        return self


class Signal(_Frozen):
    id: Identifier
    family: Family
    title: Text
    when: Annotated[tuple[Condition, ...], Field(min_length=1)]
    match: Literal["all", "any"] = "all"
    found: Text  # what the repository shows when the conditions hold
    absent: Text  # ... and when they do not
    if_found: tuple[Evidence, ...] = ()
    if_absent: tuple[Evidence, ...] = ()
    why: Annotated[tuple[SourceRef, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _has_evidence(self) -> Signal:
        if not self.if_found and not self.if_absent:
            raise ValueError("a signal needs evidence (if_found or if_absent)")
        return self


class SignalCatalog(_Frozen):
    kind: Literal["repository_signals"]
    version: str = Field(min_length=1, max_length=40)
    rubric: str = Field(min_length=1, max_length=40)  # the version of the question ids it names
    ignore_dirs: tuple[Annotated[str, Field(min_length=1, max_length=100)], ...] = ()
    measures: Annotated[tuple[Measure, ...], Field(min_length=1)]
    signals: Annotated[tuple[Signal, ...], Field(min_length=1)]

    def measure(self, measure_id: str) -> Measure:
        return next(m for m in self.measures if m.id == measure_id)


# --- loading --------------------------------------------------------------------------------------


def load_signal_catalog(folder: Path, catalog: loader.Catalog) -> tuple[SignalCatalog, str]:
    """The signals file in a rubric folder, checked against the catalog; with its sha256."""
    path = folder / SIGNALS_FILE
    text = loader.read_rubric_file(path)
    return parse_signal_catalog(text, catalog, source=SIGNALS_FILE), loader.content_hash(text)


def parse_signal_catalog(text: str, catalog: loader.Catalog, *, source: str) -> SignalCatalog:
    """Raises loader.RubricError with one `file:line: problem` per problem."""
    try:
        raw = safe_yaml.load_yaml(
            text, source=source, max_chars=loader.MAX_RUBRIC_FILE_BYTES, loader=loader._LineLoader
        )
    except safe_yaml.InputFileError as error:
        raise loader.RubricError([f"{source}:{error.line or 1}: {error.problem}"]) from None
    if not isinstance(raw, dict) or raw.get("kind") != "repository_signals":
        raise loader.RubricError(
            [f"{source}:1: the file must be a mapping with kind: repository_signals"]
        )
    try:
        signals = SignalCatalog.model_validate(raw)
    except ValidationError as error:
        problems = []
        for detail in error.errors():
            loc = detail["loc"]
            where = ".".join(str(part) for part in loc)
            message = detail["msg"].removeprefix("Value error, ")
            problems.append(f"{source}:{loader._line_of(raw, loc)}: {where}: {message}")
        raise loader.RubricError(problems) from None
    problems = list(_cross_check(signals, catalog, raw, source))
    if problems:
        raise loader.RubricError(problems)
    return signals


def _cross_check(
    signals: SignalCatalog, catalog: loader.Catalog, raw: Any, source: str
) -> Iterable[str]:
    def at(loc: list[Any], message: str) -> str:
        return f"{source}:{loader._line_of(raw, loc)}: {message}"

    measures: dict[str, Measure] = {}
    for index, measure in enumerate(signals.measures):
        if measure.id in measures:
            yield at(["measures", index, "id"], f"duplicate measure id {measure.id!r}")
        measures[measure.id] = measure
    for index, measure in enumerate(signals.measures):
        if isinstance(measure, RatioMeasure):
            for part in ("numerator", "denominator"):
                target = measures.get(getattr(measure, part))
                if target is None:
                    yield at(
                        ["measures", index, part], f"unknown measure {getattr(measure, part)!r}"
                    )
                elif isinstance(target, RatioMeasure):
                    yield at(["measures", index, part], "a ratio cannot divide another ratio")
    seen: set[str] = set()
    documents = {doc.id: doc for doc in catalog.bibliography.sources}
    for s_index, signal in enumerate(signals.signals):
        loc: list[Any] = ["signals", s_index]
        if signal.id in seen:
            yield at([*loc, "id"], f"duplicate signal id {signal.id!r}")
        seen.add(signal.id)
        for c_index, condition in enumerate(signal.when):
            if condition.measure not in measures:
                yield at(
                    [*loc, "when", c_index, "measure"], f"unknown measure {condition.measure!r}"
                )
        for key in ("if_found", "if_absent"):
            for e_index, evidence in enumerate(getattr(signal, key)):
                yield from (
                    at([*loc, key, e_index], problem)
                    for problem in _evidence_problems(evidence, catalog.questions)
                )
        for w_index, ref in enumerate(signal.why):
            document = documents.get(ref.doc)
            if document is None:
                yield at(
                    [*loc, "why", w_index, "doc"], f"source {ref.doc!r} is not in the bibliography"
                )
            elif ref.section not in document.sections:
                yield at(
                    [*loc, "why", w_index, "section"],
                    f"section {ref.section!r} is not a listed heading of {ref.doc!r}",
                )


def _evidence_problems(
    evidence: Evidence, questions: Mapping[str, loader.QuestionRef]
) -> Iterable[str]:
    ref = questions.get(evidence.question)
    if ref is None:
        yield f"unknown question {evidence.question!r}"
        return
    known = ref.question.option_ids
    for option in (*evidence.supports, *evidence.contradicts):
        if option not in known:
            yield (
                f"{evidence.question} has no option {option!r} "
                f"(options: {', '.join(known) or 'none'})"
            )


# --- documentation --------------------------------------------------------------------------------


def _condition_text(condition: Condition) -> str:
    bound = (
        f"≥ {condition.at_least:g}"
        if condition.at_least is not None
        else f"≤ {condition.at_most:g}"
    )
    return f"`{condition.measure}` {bound}"


def signals_markdown(signals: SignalCatalog, catalog: loader.Catalog) -> str:
    """The signals as a Markdown table for docs/repository-check.md (a test keeps it current)."""
    documents = {doc.id: doc.short for doc in catalog.bibliography.sources}
    lines = [
        f"Signals version {signals.version}, for the questions of rubric {signals.rubric}.",
        "",
        "| family | signal | found when | what it says | why |",
        "|---|---|---|---|---|",
    ]
    for signal in signals.signals:
        joiner = " and " if signal.match == "all" else " or "
        says = []
        for state, evidence_list in (("found", signal.if_found), ("absent", signal.if_absent)):
            for evidence in evidence_list:
                parts = []
                if evidence.supports:
                    parts.append("supports " + ", ".join(evidence.supports))
                if evidence.contradicts:
                    parts.append("contradicts " + ", ".join(evidence.contradicts))
                says.append(f"{state}: `{evidence.question}` {'; '.join(parts)}")
        why = "; ".join(f"{documents.get(ref.doc, ref.doc)}, “{ref.section}”" for ref in signal.why)
        lines.append(
            f"| {signal.family} | **{signal.id}**: {signal.title} | "
            f"{joiner.join(_condition_text(c) for c in signal.when)} | "
            f"{'<br>'.join(says)} | {why} |"
        )
    lines.append("")
    lines.append("| measure | kind | what it counts |")
    lines.append("|---|---|---|")
    for measure in signals.measures:
        lines.append(f"| `{measure.id}` | {measure.kind} | {measure.title} |")
    return "\n".join(lines) + "\n"
