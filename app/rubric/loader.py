"""Load rubric files into a validated Catalog, with file:line errors and content hashes.

The loader works on file texts, so a round can be re-read from the exact versions stored in
the database as easily as from `questionnaires/`. Run `python -m app.rubric.loader [DIR...]`
to check files by hand; `processlens validate` does the same. Files are read and parsed through
app/rubric/safe_yaml.py: regular files under a size cap, no anchors or aliases, limited nesting.
"""

from __future__ import annotations

import hashlib
import itertools
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from app.rubric import safe_yaml
from app.rubric.rules import (
    DONT_KNOW,
    STAGES,
    AllRule,
    AnswerLookup,
    AnyRule,
    NotRule,
    Predicate,
    Rule,
    StageRule,
    evaluate,
    iter_predicates,
)
from app.rubric.schema import (
    FILE_KINDS,
    SCALE_MAX,
    Bibliography,
    Instrument,
    PracticeCatalog,
    ProcessModelCatalog,
    Question,
    SourceRef,
)

RULE_KEYS = frozenset({"show_if", "rule", "when", "trigger"})
# the largest built-in file is about 80 KB; the cap only stops a file that would take the parser
# (and start-up, for a configured folder) for ever
MAX_RUBRIC_FILE_BYTES = 1024 * 1024
# Files in a rubric folder that are not part of the catalog: the repository check's signals are
# versioned on their own (app/rubric/repository_signals.py), so a round's versions do not change.
NOT_CATALOG_FILES = frozenset({"repository.yaml"})
REQUIRED_FILES = {
    "bibliography": "sources.yaml",
    "practices": "practices.yaml",
    "process_models": "process_models.yaml",
}


class RubricError(Exception):
    """One or more problems in rubric files, each as `file:line: message`."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


# --- YAML with line numbers -------------------------------------------------------------------


class _LocatedDict(dict[str, Any]):
    line: int = 0
    key_lines: dict[str, int]


class _LocatedList(list[Any]):
    line: int = 0
    item_lines: list[int]


class _LineLoader(safe_yaml.GuardedLoader):
    """The guarded safe YAML loader (no aliases, limited nesting and digits), remembering the
    line of every mapping, key and list item."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = _LocatedDict()
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {}
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {safe_yaml.shorten(key)}", key_node.start_mark
                )
            seen.add(key)
            mapping[key] = self.construct_object(value_node, deep=True)
            mapping.key_lines[key] = key_node.start_mark.line + 1
        return mapping

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> list[Any]:
        sequence = _LocatedList(self.construct_object(child, deep=True) for child in node.value)
        sequence.line = node.start_mark.line + 1
        sequence.item_lines = [child.start_mark.line + 1 for child in node.value]
        return sequence


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _LineLoader.construct_mapping
)
_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _LineLoader.construct_sequence
)


def _line_of(raw: Any, loc: Iterable[Any]) -> int:
    """The line of the deepest node on a pydantic error location that we can find."""
    line = getattr(raw, "line", 1)
    node = raw
    for part in loc:
        if isinstance(node, _LocatedDict) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, _LocatedList) and isinstance(part, int) and part < len(node):
            line = node.item_lines[part]
            node = node[part]
        else:
            break
        line = getattr(node, "line", line)
    return line


# --- the catalog ------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionRef:
    """A question with the instrument it belongs to."""

    instrument: Instrument
    question: Question

    @property
    def qid(self) -> str:
        return f"{self.instrument.id}.{self.question.id}"


@dataclass(frozen=True)
class Catalog:
    """Every rubric file of one version set, validated and cross-checked."""

    bibliography: Bibliography
    instruments: Mapping[str, Instrument]
    practices: PracticeCatalog
    process_models: ProcessModelCatalog
    versions: Mapping[str, str]  # file name -> sha256 of its content
    texts: Mapping[str, str] = field(repr=False)
    custom_instruments: frozenset[str] = frozenset()
    questions: Mapping[str, QuestionRef] = field(init=False, repr=False)
    option_order: Mapping[str, Mapping[str, float]] = field(init=False, repr=False)
    # derived data that depends only on the catalog (e.g. the questions a role is asked)
    cache: dict[Any, Any] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        questions = {
            f"{instrument.id}.{question.id}": QuestionRef(instrument, question)
            for instrument in self.instruments.values()
            for question in instrument.questions
        }
        object.__setattr__(self, "questions", questions)
        object.__setattr__(self, "option_order", _option_order(questions.values()))

    def instrument_for_file(self, file_name: str) -> Instrument | None:
        return next(
            (i for i in self.instruments.values() if f"{i.id}.yaml" == file_name),
            None,
        )

    def lookup(
        self,
        answers: Mapping[str, Any],
        *,
        stage: str | None = None,
        hidden: frozenset[str] = frozenset(),
    ) -> AnswerLookup:
        return AnswerLookup(answers=answers, order=self.option_order, stage=stage, hidden=hidden)


def _option_order(refs: Iterable[QuestionRef]) -> dict[str, dict[str, float]]:
    return {ref.qid: _ranks(ref.question) for ref in refs if ref.question.options}


def _ranks(question: Question) -> dict[str, float]:
    """Each option's rank for `at_least` / `at_most`: its score, or else its position."""
    if question.type == "ordinal":
        return {option.id: float(option.score or 0) for option in question.options}
    return {option.id: float(index) for index, option in enumerate(question.options)}


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_rubric_texts(folders: Sequence[Path]) -> tuple[dict[str, str], frozenset[str]]:
    """The YAML texts of a rubric: the first folder is the main one, the rest hold custom
    instruments. Returns the texts by file name and the names of the custom files."""
    texts: dict[str, str] = {}
    custom: set[str] = set()
    problems: list[str] = []
    for index, folder in enumerate(folders):
        if not folder.is_dir():
            raise RubricError([f"{folder}: not a folder"])
        for path in sorted(folder.glob("*.yaml")):
            if path.name in NOT_CATALOG_FILES:
                continue
            if path.name in texts:
                raise RubricError([f"{path}:1: a file named {path.name} is already loaded"])
            try:
                texts[path.name] = read_rubric_file(path)
            except RubricError as error:
                problems.extend(error.problems)
            if index > 0:
                custom.add(path.name)
    if problems:
        raise RubricError(problems)
    return texts, frozenset(custom)


def read_rubric_file(path: Path) -> str:
    """One rubric file's text: a regular UTF-8 file of at most MAX_RUBRIC_FILE_BYTES."""
    try:
        return safe_yaml.read_text(path, max_bytes=MAX_RUBRIC_FILE_BYTES)
    except safe_yaml.InputFileError as error:
        raise RubricError([f"{path.name}:1: {error.problem}"]) from None


def load_catalog(folders: Sequence[Path] | Path) -> Catalog:
    """Load and cross-check the rubric in `folders` (main folder first)."""
    folder_list = [folders] if isinstance(folders, Path) else list(folders)
    texts, custom = read_rubric_texts(folder_list)
    return load_catalog_from_texts(texts, custom_files=custom)


# long: the catalogue's files parsed, then cross-checked, in the order they depend on each other
def load_catalog_from_texts(
    texts: Mapping[str, str], *, custom_files: frozenset[str] = frozenset()
) -> Catalog:
    problems: list[str] = []
    parsed: dict[str, tuple[BaseModel, Any]] = {}
    for name, text in sorted(texts.items()):
        result = _parse_file(name, text, problems)
        if result is not None:
            parsed[name] = result
    by_kind: dict[str, list[tuple[str, BaseModel, Any]]] = {kind: [] for kind in FILE_KINDS}
    for name, (model, raw) in parsed.items():
        by_kind[raw["kind"]].append((name, model, raw))
    # Custom folders may bring their own practices for their instruments; they are checked and
    # merged after the main catalogue's.
    extra_practices = [item for item in by_kind["practices"] if item[0] in custom_files]
    by_kind["practices"] = [item for item in by_kind["practices"] if item[0] not in custom_files]
    for kind, default_name in REQUIRED_FILES.items():
        if not by_kind[kind] and default_name not in problem_files(problems):
            problems.append(f"{default_name}:1: missing: a rubric needs one {kind} file")
        if len(by_kind[kind]) > 1:
            names = ", ".join(name for name, _, _ in by_kind[kind])
            problems.append(f"{by_kind[kind][1][0]}:1: only one {kind} file is allowed ({names})")
    if not by_kind["instrument"]:
        problems.append("questionnaires:1: no instrument files found")
    if problems:
        raise RubricError(problems)

    instruments: dict[str, Instrument] = {}
    raws: dict[str, tuple[str, Any]] = {}
    for name, model, raw in by_kind["instrument"]:
        assert isinstance(model, Instrument)
        if model.id in instruments:
            problems.append(
                f"{name}:{raw.key_lines.get('id', 1)}: duplicate instrument id {model.id!r}"
            )
            continue
        instruments[model.id] = model
        raws[model.id] = (name, raw)
    bibliography = by_kind["bibliography"][0][1]
    main_practices = by_kind["practices"][0][1]
    process_models = by_kind["process_models"][0][1]
    assert isinstance(bibliography, Bibliography)
    assert isinstance(main_practices, PracticeCatalog)
    assert isinstance(process_models, ProcessModelCatalog)
    practices = PracticeCatalog(
        version=main_practices.version,
        practices=main_practices.practices
        + tuple(p for _, extra, _ in extra_practices for p in extra.practices),  # type: ignore[attr-defined]
        defining_problems=main_practices.defining_problems,
    )

    # instruments in their declared order (then by id), the order respondents meet them
    instruments = dict(sorted(instruments.items(), key=lambda item: (item[1].position, item[0])))
    checker = _CrossChecker(
        instruments=instruments,
        bibliography=bibliography,
        practices=practices,
        practice_files=[
            (name, raw, model)  # type: ignore[misc]
            for name, model, raw in [by_kind["practices"][0], *extra_practices]
        ],
        process_models=process_models,
        process_model_file=(by_kind["process_models"][0][0], by_kind["process_models"][0][2]),
        instrument_files=raws,
    )
    problems.extend(checker.run())
    if problems:
        raise RubricError(problems)
    return Catalog(
        bibliography=bibliography,
        instruments=instruments,
        practices=practices,
        process_models=process_models,
        versions={name: content_hash(text) for name, text in texts.items()},
        texts=dict(texts),
        custom_instruments=frozenset(
            model.id
            for name, model, _ in by_kind["instrument"]
            if name in custom_files and isinstance(model, Instrument)
        ),
    )


def problem_files(problems: Iterable[str]) -> set[str]:
    return {problem.split(":", 1)[0] for problem in problems}


def _parse_file(name: str, text: str, problems: list[str]) -> tuple[BaseModel, Any] | None:
    try:
        raw = safe_yaml.load_yaml(
            text, source=name, max_chars=MAX_RUBRIC_FILE_BYTES, loader=_LineLoader
        )
    except safe_yaml.InputFileError as error:
        problems.append(f"{name}:{error.line or 1}: {error.problem}")
        return None
    if not isinstance(raw, dict):
        problems.append(f"{name}:1: the file must be a mapping with a 'kind' key")
        return None
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in FILE_KINDS:
        line = raw.key_lines.get("kind", 1) if isinstance(raw, _LocatedDict) else 1
        problems.append(
            f"{name}:{line}: 'kind' must be one of {', '.join(FILE_KINDS)}, "
            f"got {safe_yaml.shorten(kind)}"
        )
        return None
    if kind == "instrument" and isinstance(raw.get("id"), str):
        _qualify_rules(raw, raw["id"])
    try:
        model = FILE_KINDS[kind].model_validate(raw)
    except ValidationError as error:
        details = error.errors()
        locations = [tuple(detail["loc"]) for detail in details]
        for detail in details:
            loc = detail["loc"]
            if detail["type"] == "too_short" and any(
                other != tuple(loc) and other[: len(loc)] == tuple(loc) for other in locations
            ):
                continue  # a container emptied by a bad item: the item's own error says it
            where = ".".join(str(part) for part in loc)
            message = detail["msg"].removeprefix("Value error, ")
            problems.append(f"{name}:{_line_of(raw, loc)}: {where}: {message}")
        return None
    return model, raw


def _qualify_rules(node: Any, instrument_id: str) -> None:
    """Rewrite unqualified question ids in an instrument's rules to `instrument.question`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in RULE_KEYS:
                _qualify_rule(value, instrument_id)
            else:
                _qualify_rules(value, instrument_id)
    elif isinstance(node, list):
        for item in node:
            _qualify_rules(item, instrument_id)


def _qualify_rule(node: Any, instrument_id: str) -> None:
    if isinstance(node, dict):
        question = node.get("q")
        if isinstance(question, str) and "." not in question:
            node["q"] = f"{instrument_id}.{question}"
        for value in node.values():
            _qualify_rule(value, instrument_id)
    elif isinstance(node, list):
        for item in node:
            _qualify_rule(item, instrument_id)


# --- cross-file checks ------------------------------------------------------------------------


class _CrossChecker:
    """Checks that need more than one file: references, citations, coverage of the quick check."""

    def __init__(
        self,
        *,
        instruments: dict[str, Instrument],
        bibliography: Bibliography,
        practices: PracticeCatalog,
        practice_files: list[tuple[str, Any, PracticeCatalog]],
        process_models: ProcessModelCatalog,
        process_model_file: tuple[str, Any],
        instrument_files: dict[str, tuple[str, Any]],
    ) -> None:
        self.instruments = instruments
        self.bibliography = bibliography
        self.practices = practices
        self.practice_files = practice_files
        self.process_models = process_models
        self.process_model_file = process_model_file
        self.instrument_files = instrument_files
        self.questions = {
            f"{instrument.id}.{question.id}": question
            for instrument in instruments.values()
            for question in instrument.questions
        }
        self.problems: list[str] = []

    def run(self) -> list[str]:
        for instrument in self.instruments.values():
            self._check_instrument(instrument)
        self._check_practices()
        self._check_process_models()
        return self.problems

    # helpers

    def _report(self, file_and_raw: tuple[str, Any], loc: Sequence[Any], message: str) -> None:
        name, raw = file_and_raw
        self.problems.append(f"{name}:{_line_of(raw, loc)}: {message}")

    def _duplicates(
        self, where: tuple[str, Any], loc: Sequence[Any], ids: list[str], what: str
    ) -> None:
        seen: set[str] = set()
        for index, item_id in enumerate(ids):
            if item_id in seen:
                self._report(where, [*loc, index], f"duplicate {what} id {item_id!r}")
            seen.add(item_id)

    def _check_sources(
        self, where: tuple[str, Any], loc: Sequence[Any], sources: Iterable[SourceRef]
    ) -> None:
        documents = {doc.id: doc for doc in self.bibliography.sources}
        for index, source in enumerate(sources):
            document = documents.get(source.doc)
            if document is None:
                self._report(
                    where,
                    [*loc, "sources", index, "doc"],
                    f"source {source.doc!r} is not in the bibliography "
                    f"(known: {', '.join(documents)})",
                )
            elif source.section not in document.sections:
                self._report(
                    where,
                    [*loc, "sources", index, "section"],
                    f"section {source.section!r} is not a listed heading of {source.doc!r}",
                )

    def _check_rule(self, where: tuple[str, Any], loc: Sequence[Any], rule: Rule) -> None:
        for predicate in iter_predicates(rule):
            problem = self._predicate_problem(predicate)
            if problem:
                self._report(where, loc, problem)

    def _predicate_problem(self, predicate: Predicate) -> str | None:
        qid = predicate.q
        if "." not in qid:
            return f"question {qid!r} must be qualified as 'instrument.question' here"
        question = self.questions.get(qid)
        if question is None:
            return f"rule refers to unknown question {qid!r}"
        test = predicate.test
        if test in ("answered", "unknown"):
            return None
        values: list[Any]
        values = list(predicate.in_ or ()) if test == "in" else [getattr(predicate, test)]
        if test == "includes" and question.type != "multi":
            return f"'includes' needs a multiple-choice question; {qid} is {question.type}"
        if question.type == "multi" and test != "includes":
            return f"rule on multiple-choice {qid} must use 'includes', not '{test}'"
        if question.type == "text":
            return f"rules cannot test the free text of {qid}"
        for value in values:
            if isinstance(value, bool):
                return f"rule on {qid} compares with yes/no {value!r}: quote option ids"
            if isinstance(value, str):
                if value not in question.option_ids:
                    return (
                        f"rule on {qid} uses unknown option {value!r} "
                        f"(options: {', '.join(question.option_ids) or 'none'})"
                    )
            elif question.type == "ordinal" and test in ("at_least", "at_most"):
                if not 0 <= value <= SCALE_MAX:
                    return f"rule on {qid} compares with score {value}, outside 0-{SCALE_MAX}"
            elif question.type != "number":
                return f"rule on {qid} compares a {question.type} question with number {value}"
        return None

    # instruments

    def _check_instrument(self, instrument: Instrument) -> None:
        where = self.instrument_files[instrument.id]
        self._check_sources(where, [], instrument.sources)
        sub_ids = [sub.id for sub in instrument.sub_dimensions]
        self._duplicates(where, ["sub_dimensions"], sub_ids, "sub-dimension")
        self._duplicates(where, ["sections"], [s.id for s in instrument.sections], "section")
        question_ids: set[str] = set()
        for s_index, section in enumerate(instrument.sections):
            for q_index, question in enumerate(section.questions):
                loc = ["sections", s_index, "questions", q_index]
                if question.id in question_ids:
                    self._report(where, [*loc, "id"], f"duplicate question id {question.id!r}")
                question_ids.add(question.id)
                self._check_sources(where, loc, question.sources)
                if question.sub_dimension and question.sub_dimension not in sub_ids:
                    self._report(
                        where,
                        [*loc, "sub_dimension"],
                        f"unknown sub-dimension {question.sub_dimension!r} "
                        f"(declared: {', '.join(sub_ids) or 'none'})",
                    )
                if question.show_if is not None:
                    self._check_rule(where, [*loc, "show_if"], question.show_if)
                if question.type == "ordinal" and not instrument.scored:
                    self._report(where, loc, "ordinal questions need a scored instrument")
        if instrument.scored and not any(q.type == "ordinal" for q in instrument.questions):
            self._report(where, ["scored"], "a scored instrument needs ordinal questions")
        self._check_quick(instrument, where)
        self._check_bands(instrument, where)
        self._check_levels(instrument, where)
        self._duplicates(
            where, ["classifications"], [c.id for c in instrument.classifications], "classification"
        )
        for c_index, classification in enumerate(instrument.classifications):
            loc = ["classifications", c_index]
            self._check_sources(where, loc, classification.sources)
            self._duplicates(
                where, [*loc, "outcomes"], [o.id for o in classification.outcomes], "outcome"
            )
            for o_index, outcome in enumerate(classification.outcomes):
                if outcome.when is not None:
                    self._check_rule(where, [*loc, "outcomes", o_index, "when"], outcome.when)
        self._duplicates(where, ["findings"], [f.id for f in instrument.findings], "finding")
        for f_index, finding in enumerate(instrument.findings):
            self._check_sources(where, ["findings", f_index], finding.sources)
            self._check_rule(where, ["findings", f_index, "when"], finding.when)
        self._duplicates(where, ["debt_items"], [d.id for d in instrument.debt_items], "debt item")
        practice_ids = {practice.id for practice in self.practices.practices}
        for d_index, item in enumerate(instrument.debt_items):
            self._check_sources(where, ["debt_items", d_index], item.sources)
            self._check_rule(where, ["debt_items", d_index, "when"], item.when)
            if item.practice and item.practice not in practice_ids:
                self._report(
                    where,
                    ["debt_items", d_index, "practice"],
                    f"unknown practice {item.practice!r}",
                )

    def _check_quick(self, instrument: Instrument, where: tuple[str, Any]) -> None:
        if not any(question.quick for question in instrument.questions):
            self._report(
                where, ["sections"], "no question is marked quick: the quick check needs some"
            )
            return
        for sub in instrument.sub_dimensions:
            scored_here = [q for q in instrument.questions if q.sub_dimension == sub.id]
            if scored_here and not any(q.quick for q in scored_here):
                index = [s.id for s in instrument.sub_dimensions].index(sub.id)
                self._report(
                    where,
                    ["sub_dimensions", index],
                    f"the quick check has no question in sub-dimension {sub.id!r}",
                )

    def _check_bands(self, instrument: Instrument, where: tuple[str, Any]) -> None:
        bands = instrument.bands
        if not bands:
            if instrument.scored and instrument.levels is None:
                self._report(where, ["scored"], "a scored instrument needs bands or levels")
            return
        self._duplicates(where, ["bands"], [band.id for band in bands], "band")
        if bands[0].min_score != 0:
            self._report(where, ["bands", 0, "min_score"], "the first band must start at 0")
        for index, (lower, upper) in enumerate(itertools.pairwise(bands), start=1):
            if upper.min_score <= lower.min_score:
                self._report(
                    where,
                    ["bands", index, "min_score"],
                    f"bands must ascend: {upper.id!r} starts at {upper.min_score}, "
                    f"not above {lower.id!r} at {lower.min_score}",
                )
        for index, band in enumerate(bands):
            self._check_sources(where, ["bands", index], band.sources)

    def _check_levels(self, instrument: Instrument, where: tuple[str, Any]) -> None:
        levels = instrument.levels
        if levels is None:
            return
        self._check_sources(where, ["levels"], levels.sources)
        defined = sorted(d.level for d in levels.definitions)
        if defined != list(range(len(defined))):
            self._report(where, ["levels", "definitions"], "levels must be numbered 0, 1, 2, ...")
        artifacts = {a.id for a in levels.artifacts} | {"overall"}
        self._duplicates(where, ["levels", "gates"], [g.id for g in levels.gates], "gate")
        for index, gate in enumerate(levels.gates):
            loc = ["levels", "gates", index]
            if gate.artifact not in artifacts:
                self._report(
                    where,
                    [*loc, "artifact"],
                    f"unknown artifact {gate.artifact!r} (known: {', '.join(sorted(artifacts))})",
                )
            if gate.level > max(defined):
                self._report(where, [*loc, "level"], f"level {gate.level} is not defined")
            self._check_sources(where, loc, gate.sources)
            self._check_rule(where, [*loc, "rule"], gate.rule)
        # Without a gate at some level an artifact would climb it for free.
        for index, artifact in enumerate(levels.artifacts):
            for level in defined[1:]:
                if not any(g.artifact == artifact.id and g.level == level for g in levels.gates):
                    self._report(
                        where,
                        ["levels", "artifacts", index],
                        f"artifact {artifact.id!r} has no gate for level {level}",
                    )

    # practices

    def _check_practices(self) -> None:
        known = {practice.id for practice in self.practices.practices}
        seen: set[str] = set()
        for name, raw, catalog in self.practice_files:
            where = (name, raw)
            for index, practice in enumerate(catalog.practices):
                if practice.id in seen:
                    self._report(
                        where, ["practices", index, "id"], f"duplicate practice id {practice.id!r}"
                    )
                seen.add(practice.id)
            self._check_practice_file(where, catalog, known)
            self._check_defining_problems(where, catalog)

    def _check_practice_file(
        self, where: tuple[str, Any], catalog: PracticeCatalog, known: set[str]
    ) -> None:
        for index, practice in enumerate(catalog.practices):
            loc = ["practices", index]
            self._check_sources(where, loc, practice.sources)
            instrument = self.instruments.get(practice.dimension)
            if instrument is None:
                self._report(
                    where, [*loc, "dimension"], f"unknown dimension {practice.dimension!r}"
                )
            elif practice.sub_dimension and practice.sub_dimension not in {
                sub.id for sub in instrument.sub_dimensions
            }:
                self._report(
                    where,
                    [*loc, "sub_dimension"],
                    f"unknown sub-dimension {practice.sub_dimension!r} of {practice.dimension}",
                )
            for p_index, prerequisite in enumerate(practice.prerequisites):
                if prerequisite not in known:
                    self._report(
                        where,
                        [*loc, "prerequisites", p_index],
                        f"unknown prerequisite practice {prerequisite!r}",
                    )
                elif prerequisite == practice.id:
                    self._report(
                        where, [*loc, "prerequisites", p_index], "a practice cannot require itself"
                    )
            for a_index, qid in enumerate(practice.addresses):
                if qid not in self.questions:
                    self._report(where, [*loc, "addresses", a_index], f"unknown question {qid!r}")
            self._check_rule(where, [*loc, "trigger"], practice.trigger)
            if not any(
                self._predicate_problem(p) for p in iter_predicates(practice.trigger)
            ) and not _satisfiable(practice.trigger, self.questions):
                self._report(
                    where, [*loc, "trigger"], f"no answers can trigger practice {practice.id!r}"
                )
            for p_index, prerequisite in enumerate(practice.prerequisites):
                required = next((p for p in catalog.practices if p.id == prerequisite), None)
                if required is not None and not set(practice.stages) <= set(required.stages):
                    # a prerequisite must be expected whenever its dependant is, or the
                    # roadmap would have to put the dependant before what it needs
                    self._report(
                        where,
                        [*loc, "prerequisites", p_index],
                        f"prerequisite {prerequisite!r} is not expected at every stage "
                        f"{practice.id!r} is",
                    )
            if practice.unlocks is not None:
                self._check_unlocks(
                    where,
                    loc,
                    practice.unlocks.instrument,
                    practice.unlocks.artifact,
                    practice.unlocks.level,
                )

    def _check_defining_problems(self, where: tuple[str, Any], catalog: PracticeCatalog) -> None:
        known = {practice.id for practice in catalog.practices}
        for index, problem in enumerate(catalog.defining_problems):
            loc = ["defining_problems", index]
            self._check_sources(where, loc, problem.sources)
            for r_index, remedy in enumerate(problem.remedies):
                if remedy not in known:
                    self._report(where, [*loc, "remedies", r_index], f"unknown practice {remedy!r}")
            if problem.when is not None:
                self._check_rule(where, [*loc, "when"], problem.when)
            if problem.classification is not None:
                instrument_id, _, class_id = problem.classification.partition(".")
                instrument = self.instruments.get(instrument_id)
                found = (
                    next((c for c in instrument.classifications if c.id == class_id), None)
                    if instrument
                    else None
                )
                if found is None:
                    self._report(
                        where,
                        [*loc, "classification"],
                        f"unknown classification {problem.classification!r}",
                    )
                else:
                    outcomes = {outcome.id for outcome in found.outcomes}
                    for o_index, outcome in enumerate(problem.outcomes):
                        if outcome not in outcomes:
                            self._report(
                                where,
                                [*loc, "outcomes", o_index],
                                f"{problem.classification} has no outcome {outcome!r}",
                            )

    def _check_unlocks(
        self, where: tuple[str, Any], loc: list[Any], instrument_id: str, artifact: str, level: int
    ) -> None:
        instrument = self.instruments.get(instrument_id)
        if instrument is None or instrument.levels is None:
            self._report(where, [*loc, "unlocks"], f"{instrument_id!r} has no levels to unlock")
            return
        artifacts = {a.id for a in instrument.levels.artifacts} | {"overall"}
        if artifact not in artifacts:
            self._report(where, [*loc, "unlocks"], f"unknown artifact {artifact!r}")
        if level > max(d.level for d in instrument.levels.definitions):
            self._report(where, [*loc, "unlocks"], f"level {level} is not defined")

    # process models

    def _check_process_models(self) -> None:
        where = self.process_model_file
        models = self.process_models.process_models
        self._duplicates(where, ["process_models"], [m.id for m in models], "process model")
        fit_questions: dict[str, list[Any]] = {}
        for index, model in enumerate(models):
            loc = ["process_models", index]
            self._check_sources(where, loc, model.sources)
            for r_index, fit_rule in enumerate(model.fit):
                self._check_rule(where, [*loc, "fit", r_index, "when"], fit_rule.when)
                for predicate in iter_predicates(fit_rule.when):
                    fit_questions.setdefault(predicate.q, [*loc, "fit", r_index, "when"])
            self._duplicates(where, [*loc, "caveats"], [c.id for c in model.caveats], "caveat")
            for c_index, caveat in enumerate(model.caveats):
                self._check_sources(where, [*loc, "caveats", c_index], caveat.sources)
                self._check_rule(where, [*loc, "caveats", c_index, "when"], caveat.when)
        # Fit reads the project's type (unscored instruments), never how good its practices
        # are: those add caveats. A question outside the quick check may refine the ranking.
        for qid, first_use in sorted(fit_questions.items()):
            instrument = self.instruments.get(qid.partition(".")[0])
            if qid in self.questions and instrument is not None and instrument.scored:
                self._report(
                    where,
                    first_use,
                    f"process-model fit rules use {qid}, a scored practice question: fit reads "
                    "only the project's type (caveats may read practices)",
                )
        # The quick check must still be able to rank process models.
        for index, model in enumerate(self.process_models.process_models):
            quick_rule = any(
                rule.weight > 0
                and all(
                    (q := self.questions.get(p.q)) is None or q.quick
                    for p in iter_predicates(rule.when)
                )
                for rule in model.fit
            )
            if not quick_rule:
                self._report(
                    where,
                    ["process_models", index, "fit"],
                    f"{model.id} has no positive fit rule on quick-check questions",
                )


def _satisfiable(rule: Rule, questions: Mapping[str, Question], limit: int = 20000) -> bool:
    """Whether some combination of answers makes the rule true (searched exhaustively while
    small; larger rules are assumed satisfiable)."""
    qids = sorted({p.q for p in iter_predicates(rule)})
    choices: list[list[Any]] = []
    for qid in qids:
        question = questions[qid]
        if question.type == "multi":
            ids = question.option_ids
            options: list[Any] = [
                [o for bit, o in enumerate(ids) if mask >> bit & 1]
                for mask in range(2 ** min(len(ids), 10))
            ]
        elif question.type == "number":
            bounds = [question.minimum or 0.0, question.maximum or 1e6]
            numbers = {
                float(v)
                for p in iter_predicates(rule)
                if p.q == qid
                for v in (p.equals, p.at_least, p.at_most, *(p.in_ or ()))
                if isinstance(v, int | float)
            }
            options = sorted(numbers | set(bounds))
        else:
            options = list(question.option_ids)
        choices.append([*options, DONT_KNOW])
    total = 1
    for options in choices:
        total *= len(options)
    if total > limit:
        return True
    order = {qid: _ranks(questions[qid]) for qid in qids}
    stages = STAGES if any(isinstance(r, StageRule) for r in _iter_nodes(rule)) else (None,)
    for stage in stages:
        for combination in itertools.product(*choices):
            answers = dict(zip(qids, combination, strict=True))
            lookup = AnswerLookup(answers=answers, order=order, stage=stage)
            if evaluate(rule, lookup).is_true:
                return True
    return False


def _iter_nodes(rule: Rule) -> Iterator[Rule]:
    yield rule
    if isinstance(rule, AllRule | AnyRule):
        for part in rule.all_ if isinstance(rule, AllRule) else rule.any_:
            yield from _iter_nodes(part)
    elif isinstance(rule, NotRule):
        yield from _iter_nodes(rule.not_)


def main(argv: Sequence[str]) -> int:
    folders = [Path(arg) for arg in argv] or [
        Path(__file__).resolve().parents[2] / "questionnaires"
    ]
    try:
        catalog = load_catalog(folders)
    except RubricError as error:
        for problem in error.problems:
            sys.stderr.write(problem + "\n")
        return 2
    questions = sum(len(i.questions) for i in catalog.instruments.values())
    sys.stdout.write(
        f"ok: {len(catalog.instruments)} instruments, {questions} questions, "
        f"{len(catalog.practices.practices)} practices, "
        f"{len(catalog.process_models.process_models)} process models\n"
    )
    return 0


def iter_rules(catalog: Catalog) -> Iterator[Rule]:
    """Every rule in the catalog (for tools that analyse rules)."""
    for instrument in catalog.instruments.values():
        for question in instrument.questions:
            if question.show_if is not None:
                yield question.show_if
        if instrument.levels:
            yield from (gate.rule for gate in instrument.levels.gates)
        for classification in instrument.classifications:
            yield from (o.when for o in classification.outcomes if o.when is not None)
        yield from (finding.when for finding in instrument.findings)
        yield from (item.when for item in instrument.debt_items)
    yield from (practice.trigger for practice in catalog.practices.practices)
    for model in catalog.process_models.process_models:
        yield from (fit.when for fit in model.fit)
        yield from (caveat.when for caveat in model.caveats)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
