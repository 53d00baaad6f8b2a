"""The repository check's matchers and its output: file paths and texts in, measures and signal
states out.

Pure: the scanner (app/repository_check/scan.py) walks the tree and hands each file's path, and
the text of the files some measure reads, to a `Tally`; nothing here opens a file. The matcher
kinds are those of app/rubric/repository_signals.py; each is one small class below.
"""

from __future__ import annotations

import configparser
import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.rubric import safe_yaml
from app.rubric.repository_signals import (
    ConfigKeyMeasure,
    FilesMeasure,
    ImportsMeasure,
    Measure,
    RatioMeasure,
    SharedImportsMeasure,
    Signal,
    SignalCatalog,
    TextMeasure,
)

FORMAT: Literal["processlens-repository-signals"] = "processlens-repository-signals"
FORMAT_VERSION: Literal[1] = 1
MAX_EXAMPLES = 5  # paths shown per measure: enough to look at, and the file stays small
MAX_SHOWN_PATH = 200
MAX_LINE_CHARS = 2000  # longer lines (minified code, data) are not searched
MAX_CONFIG_CHARS = 512 * 1024


# --- globs ----------------------------------------------------------------------------------------


def glob_regex(pattern: str) -> str:
    """A path glob as a regular expression over `/`-separated relative paths: `**/` is any
    number of folders, `*` and `?` stay within one name, and a pattern without `/` matches a
    file name in any folder."""
    if "/" not in pattern:
        pattern = "**/" + pattern
    out = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out.append("(?:[^/]*/)*")
            index += 3
        elif pattern.startswith("**", index):
            out.append(".*")
            index += 2
        elif pattern[index] == "*":
            out.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            out.append("[^/]")
            index += 1
        else:
            out.append(re.escape(pattern[index]))
            index += 1
    return "".join(out)


@dataclass(frozen=True)
class PathFilter:
    include: re.Pattern[str]
    exclude: re.Pattern[str] | None

    @classmethod
    def of(cls, include: Iterable[str], exclude: Iterable[str] = ()) -> PathFilter:
        excluded = list(exclude)
        return cls(
            re.compile("(?:" + "|".join(glob_regex(g) for g in include) + r")\Z"),
            re.compile("(?:" + "|".join(glob_regex(g) for g in excluded) + r")\Z")
            if excluded
            else None,
        )

    def matches(self, path: str) -> bool:
        if not self.include.match(path):
            return False
        return self.exclude is None or not self.exclude.match(path)


# --- reading file contents ------------------------------------------------------------------------

_IMPORT = re.compile(r"^\s*(?:from\s+(\.*[\w.]*)\s+import\b|import\s+([\w.,\s]+?)\s*(?:#.*)?$)")


def notebook_code(text: str) -> str | None:
    """The code cells of a Jupyter notebook, one after another; None if it is not one."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, list):
        return None
    parts = []
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            if isinstance(source, list):
                source = "".join(s for s in source if isinstance(s, str))
            if isinstance(source, str):
                parts.append(source)
    return "\n".join(parts)


def imported_modules(code: str) -> set[str]:
    """Module names a Python text imports (read, never run; relative dots dropped)."""
    found = set()
    for line in code.splitlines():
        if len(line) > MAX_LINE_CHARS or "import" not in line:
            continue
        match = _IMPORT.match(line)
        if match is None:
            continue
        if match.group(1) is not None:
            name = match.group(1).lstrip(".")
            if name:
                found.add(name)
            continue
        for part in match.group(2).split(","):
            name = part.strip().split(" ")[0]
            if name:
                found.add(name)
    return found


def _config_data(path: str, text: str) -> Any:
    """A configuration file parsed by its name; None when it cannot be read as one."""
    if len(text) > MAX_CONFIG_CHARS:
        return None
    name = path.rsplit("/", 1)[-1].lower()
    try:
        if name.endswith(".toml"):
            return tomllib.loads(text)
        if name.endswith(".json"):
            return safe_yaml.load_json(text, source=path, max_chars=MAX_CONFIG_CHARS)
        if name.endswith((".yaml", ".yml")):
            return safe_yaml.load_yaml(text, source=path, max_chars=MAX_CONFIG_CHARS)
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.read_string(text)
        return {section: dict(parser[section]) for section in parser.sections()}
    except (tomllib.TOMLDecodeError, safe_yaml.InputFileError, configparser.Error):
        return None


def _has_key(data: Any, dotted: str) -> bool:
    node = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


# --- one counter per matcher kind -----------------------------------------------------------------


@dataclass
class _Counter:
    measure: Measure
    reads_text: bool
    filter: PathFilter
    value: float = 0.0
    examples: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Kinds that compile more than the path filter do it here."""

    def example(self, path: str) -> None:
        if len(self.examples) < MAX_EXAMPLES and path not in self.examples:
            self.examples.append(path[:MAX_SHOWN_PATH])

    def add_path(self, path: str) -> None:
        """A file exists (every file, read or not)."""

    def add_text(self, path: str, text: str, code: str) -> None:
        """A file this counter reads: its text, and its code (a notebook's code cells)."""


class _FilesCounter(_Counter):
    def add_path(self, path: str) -> None:
        if self.filter.matches(path):
            self.value += 1
            self.example(path)


class _ConfigKeyCounter(_Counter):
    def add_text(self, path: str, text: str, code: str) -> None:
        assert isinstance(self.measure, ConfigKeyMeasure)
        data = _config_data(path, text)
        if data is not None and any(_has_key(data, key) for key in self.measure.keys):
            self.value += 1
            self.example(path)


class _ImportsCounter(_Counter):
    def add_text(self, path: str, text: str, code: str) -> None:
        assert isinstance(self.measure, ImportsMeasure)
        wanted = self.measure.modules
        modules = imported_modules(code)
        if any(m == w or m.startswith(w + ".") for m in modules for w in wanted):
            self.value += 1
            self.example(path)


class _TextCounter(_Counter):
    def __post_init__(self) -> None:
        assert isinstance(self.measure, TextMeasure)
        self.pattern = re.compile(self.measure.pattern)
        self.per_file = self.measure.count == "files"

    def add_text(self, path: str, text: str, code: str) -> None:
        hits = sum(
            1
            for line in code.splitlines()
            if len(line) <= MAX_LINE_CHARS and self.pattern.search(line)
        )
        if hits:
            self.value += 1 if self.per_file else hits
            self.example(path)


class _SharedImportsCounter(_Counter):
    def __post_init__(self) -> None:
        assert isinstance(self.measure, SharedImportsMeasure)
        self.left = PathFilter.of(self.measure.left, self.measure.exclude)
        self.right = PathFilter.of(self.measure.right, self.measure.exclude)
        self.modules = re.compile(self.measure.modules_matching)
        self.sides: tuple[set[str], set[str]] = (set(), set())

    def add_text(self, path: str, text: str, code: str) -> None:
        names = {m for m in imported_modules(code) if self.modules.search(m)}
        if self.left.matches(path):
            self.sides[0].update(names)
        if self.right.matches(path):
            self.sides[1].update(names)

    def finish(self) -> None:
        shared = sorted(self.sides[0] & self.sides[1])
        self.value = float(len(shared))
        for name in shared:
            self.example(name)


def _counter(measure: Measure) -> _Counter:
    if isinstance(measure, FilesMeasure):
        return _FilesCounter(measure, False, PathFilter.of(measure.paths, measure.exclude))
    if isinstance(measure, ConfigKeyMeasure):
        return _ConfigKeyCounter(measure, True, PathFilter.of(measure.paths, measure.exclude))
    if isinstance(measure, ImportsMeasure):
        return _ImportsCounter(measure, True, PathFilter.of(measure.paths, measure.exclude))
    if isinstance(measure, TextMeasure):
        return _TextCounter(measure, True, PathFilter.of(measure.paths, measure.exclude))
    assert isinstance(measure, SharedImportsMeasure)
    return _SharedImportsCounter(
        measure, True, PathFilter.of((*measure.left, *measure.right), measure.exclude)
    )


# --- the output format ----------------------------------------------------------------------------


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MeasureReading(_Frozen):
    id: str = Field(max_length=60)
    value: float | None
    examples: tuple[str, ...] = Field(default=(), max_length=MAX_EXAMPLES)


SignalState = Literal["found", "absent", "unknown"]


class SignalReading(_Frozen):
    id: str = Field(max_length=60)
    family: str = Field(max_length=60)
    state: SignalState
    shows: str = Field(max_length=2000)


class SkipNote(_Frozen):
    reason: str = Field(max_length=300)
    count: int = Field(ge=0)
    examples: tuple[str, ...] = Field(default=(), max_length=MAX_EXAMPLES)


class ScanSummary(_Frozen):
    files_seen: int = Field(ge=0)
    files_read: int = Field(ge=0)
    bytes_read: int = Field(ge=0)
    complete: bool  # False when a budget stopped the scan


class RepositorySignals(_Frozen):
    """What `processlens repo-check` found in one checkout: a versioned, deterministic file
    (no absolute paths, no times) that a round can carry."""

    format: Literal["processlens-repository-signals"] = FORMAT
    format_version: Literal[1] = FORMAT_VERSION
    signals_version: str = Field(max_length=40)
    signals_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    repository: str = Field(max_length=200)  # the folder's name only
    scan: ScanSummary
    skipped: tuple[SkipNote, ...] = Field(default=(), max_length=50)
    notes: tuple[str, ...] = Field(default=(), max_length=50)
    measures: tuple[MeasureReading, ...] = Field(max_length=500)
    signals: tuple[SignalReading, ...] = Field(max_length=500)

    def state(self, signal_id: str) -> SignalState | None:
        return next((s.state for s in self.signals if s.id == signal_id), None)


# --- the tally ------------------------------------------------------------------------------------


class Tally:
    """Counts for every measure of a signals catalog, fed one file at a time."""

    def __init__(self, signals: SignalCatalog) -> None:
        self.signals = signals
        self.counters = [_counter(m) for m in signals.measures if not isinstance(m, RatioMeasure)]
        self.readers = [c for c in self.counters if c.reads_text]
        self.ignored_dirs = frozenset(signals.ignore_dirs)

    def add_path(self, path: str) -> None:
        for counter in self.counters:
            counter.add_path(path)

    def wants_text(self, path: str) -> bool:
        return any(counter.filter.matches(path) for counter in self.readers)

    def add_text(self, path: str, text: str) -> bool:
        """Feeds a read file to the measures that read it; False if a notebook is not valid
        JSON (it is then searched as plain text)."""
        code: str | None = text
        valid = True
        if path.endswith(".ipynb"):
            code = notebook_code(text)
            valid = code is not None
        for counter in self.readers:
            if counter.filter.matches(path):
                counter.add_text(path, text, code if code is not None else text)
        return valid

    def readings(self) -> tuple[tuple[MeasureReading, ...], tuple[SignalReading, ...]]:
        for counter in self.counters:
            if isinstance(counter, _SharedImportsCounter):
                counter.finish()
        values: dict[str, float | None] = {c.measure.id: c.value for c in self.counters}
        examples = {c.measure.id: tuple(c.examples) for c in self.counters}
        for measure in self.signals.measures:
            if isinstance(measure, RatioMeasure):
                top, bottom = values[measure.numerator], values[measure.denominator]
                values[measure.id] = round(top / bottom, 4) if top is not None and bottom else None
        measures = tuple(
            MeasureReading(id=m.id, value=values[m.id], examples=examples.get(m.id, ()))
            for m in self.signals.measures
        )
        return measures, tuple(signal_reading(s, values) for s in self.signals.signals)


def signal_state(signal: Signal, values: Mapping[str, float | None]) -> SignalState:
    """found when the signal's conditions hold (all, or any), absent when they do not, unknown
    when a measure it needs could not be computed (a ratio over nothing)."""
    results: list[bool | None] = []
    for condition in signal.when:
        value = values.get(condition.measure)
        if value is None:
            results.append(None)
        elif condition.at_least is not None:
            results.append(value >= condition.at_least)
        else:
            results.append(condition.at_most is not None and value <= condition.at_most)
    if signal.match == "any":
        if any(r is True for r in results):
            return "found"
        return "unknown" if any(r is None for r in results) else "absent"
    if any(r is False for r in results):
        return "absent"
    return "unknown" if any(r is None for r in results) else "found"


def signal_reading(signal: Signal, values: Mapping[str, float | None]) -> SignalReading:
    state = signal_state(signal, values)
    shows = {"found": signal.found, "absent": signal.absent, "unknown": "not measurable"}[state]
    return SignalReading(id=signal.id, family=signal.family, state=state, shows=shows)
