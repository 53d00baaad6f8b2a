"""Answers files: one or more respondents' answers, in YAML or JSON, scored without a server.

The format is documented in the README ("Answers files"). Every problem is reported as one line
that names the place and the problem, so `processlens score` can print it and exit 2. Files are
read and parsed through app/rubric/safe_yaml.py (size cap, no aliases, limited nesting), and
every value is type-checked before use: a list where text belongs is a message, not a crash.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.rubric import safe_yaml
from app.rubric.aggregate import Respondent
from app.rubric.answers import AnswerError, RoundSettings, validate_answers, validate_role
from app.rubric.assessment import Assessment, assess
from app.rubric.loader import Catalog

TOP_LEVEL_KEYS = {
    "round",
    "respondents",
    "targets",
    "adopted",
    "commentary",
    "previous",
    "expected",
}
ROUND_KEYS = {
    "team",
    "organisation",
    "stage",
    "kind",
    "mode",
    "instruments",
    "versions",
    "results_min",
    "date",
}
MAX_FILE_BYTES = 1024 * 1024  # the examples are 3-16 KB
NOT_VALID = "not valid YAML or JSON"


class AnswersFileError(safe_yaml.BadInputError):
    """A problem in an answers file, as one line."""


@dataclass(frozen=True)
class AnswersFile:
    settings: RoundSettings
    team: str
    organisation: str | None
    date: str | None
    results_min: int | None
    respondents: tuple[Respondent, ...]
    targets: Mapping[str, str | int]
    adopted: tuple[str, ...]
    commentary: str | None
    previous: AnswersFile | None


def read_answers_file(path: Path, catalog: Catalog) -> AnswersFile:
    """Raises safe_yaml.InputFileError for an unreadable or unparsable file, AnswersFileError
    for one that does not fit the format (both BadInputError)."""
    text = safe_yaml.read_text(path, max_bytes=MAX_FILE_BYTES)
    return parse_answers(text, catalog, source=str(path))


def parse_answers(text: str, catalog: Catalog, *, source: str = "answers") -> AnswersFile:
    load = safe_yaml.load_json if text.lstrip().startswith("{") else safe_yaml.load_yaml
    data = load(text, source=source, max_chars=MAX_FILE_BYTES, invalid=NOT_VALID)
    return parse_answers_data(data, catalog, source=source)


def _keys(values: Iterable[Any]) -> str:
    """Unknown keys for a message: shortened, sorted, at most ten (keys may be of any type)."""
    shown = sorted(safe_yaml.shorten(value) for value in values)
    more = f", ... ({len(shown)} in all)" if len(shown) > 10 else ""
    return "[" + ", ".join(shown[:10]) + more + "]"


def _text(value: Any, where: str, *, default: str | None = None) -> str | None:
    """A scalar that is shown as text (a team name, a date, an id); containers are refused."""
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, str | int | float | datetime.date):
        raise AnswersFileError(f"{where} must be text, not {safe_yaml.shorten(value)}")
    return str(value)


def _ids(value: Any, where: str, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise AnswersFileError(f"{where} must be a list of {what}, not {safe_yaml.shorten(value)}")
    return tuple(value)


def parse_answers_data(data: Any, catalog: Catalog, *, source: str = "answers") -> AnswersFile:
    if not isinstance(data, Mapping):
        raise AnswersFileError(
            f"{source}: the file must be a mapping with 'round' and 'respondents'"
        )
    unknown = set(data) - TOP_LEVEL_KEYS
    if unknown:
        raise AnswersFileError(f"{source}: unknown key(s) {_keys(unknown)}")
    round_data = data.get("round") or {}
    if not isinstance(round_data, Mapping):
        raise AnswersFileError(f"{source}: 'round' must be a mapping")
    unknown = set(round_data) - ROUND_KEYS
    if unknown:
        raise AnswersFileError(f"{source}: round: unknown key(s) {_keys(unknown)}")
    _check_versions(round_data.get("versions") or {}, catalog, source)
    instruments = _ids(round_data.get("instruments"), f"{source}: round: instruments", "ids")
    for instrument_id in instruments:
        if instrument_id not in catalog.instruments:
            raise AnswersFileError(
                f"{source}: round: unknown instrument {safe_yaml.shorten(instrument_id)}"
            )
    # text of any value here: RoundSettings says which values are allowed
    stage: Any = _text(round_data.get("stage"), f"{source}: round: stage", default="prototype")
    kind: Any = _text(round_data.get("kind"), f"{source}: round: kind", default="full")
    mode: Any = _text(round_data.get("mode"), f"{source}: round: mode", default="solo")
    try:
        settings = RoundSettings(stage=stage, kind=kind, mode=mode, instruments=instruments)
    except AnswerError as error:
        raise AnswersFileError(f"{source}: round: {error.message}") from None
    respondents = _respondents(data.get("respondents"), catalog, settings, source)
    results_min = round_data.get("results_min")
    if results_min is not None and (not isinstance(results_min, int) or results_min not in (2, 3)):
        raise AnswersFileError(f"{source}: round: results_min must be 2 or 3")
    targets = data.get("targets") or {}
    if not isinstance(targets, Mapping) or not all(
        isinstance(key, str) and isinstance(value, str | int) and not isinstance(value, bool)
        for key, value in targets.items()
    ):
        raise AnswersFileError(f"{source}: 'targets' must map dimensions to a band or level")
    adopted = _ids(data.get("adopted"), f"{source}: adopted", "practice ids")
    known_practices = {p.id for p in catalog.practices.practices}
    bad = [p for p in adopted if p not in known_practices]
    if bad:
        raise AnswersFileError(f"{source}: adopted: unknown practice(s) {_keys(bad)}")
    commentary = data.get("commentary")
    if commentary is not None and not isinstance(commentary, str):
        raise AnswersFileError(f"{source}: 'commentary' must be text")
    previous = data.get("previous")
    return AnswersFile(
        settings=settings,
        team=_text(round_data.get("team"), f"{source}: round: team", default="Team") or "Team",
        organisation=_text(round_data.get("organisation"), f"{source}: round: organisation"),
        date=_text(round_data.get("date"), f"{source}: round: date"),
        results_min=results_min,
        respondents=respondents,
        targets=dict(targets),
        adopted=tuple(adopted),
        commentary=commentary,
        previous=(
            parse_answers_data(previous, catalog, source=f"{source}: previous")
            if previous is not None
            else None
        ),
    )


def _check_versions(versions: Any, catalog: Catalog, source: str) -> None:
    if not isinstance(versions, Mapping):
        raise AnswersFileError(f"{source}: round: 'versions' must map instruments to versions")
    for instrument_id, version in versions.items():
        instrument = catalog.instruments.get(instrument_id)
        if instrument is None:
            raise AnswersFileError(
                f"{source}: round: versions: unknown instrument {safe_yaml.shorten(instrument_id)}"
            )
        known = {instrument.version, catalog.versions.get(f"{instrument_id}.yaml", "")}
        if not isinstance(version, str | int | float) or str(version) not in known:
            raise AnswersFileError(
                f"{source}: round: {instrument_id} version {safe_yaml.shorten(version)} does not "
                f"exist (this rubric has {instrument.version})"
            )


def _respondents(
    raw: Any, catalog: Catalog, settings: RoundSettings, source: str
) -> tuple[Respondent, ...]:
    if not isinstance(raw, list) or not raw:
        raise AnswersFileError(f"{source}: 'respondents' must be a non-empty list")
    respondents = []
    seen: set[str] = set()
    for index, entry in enumerate(raw):
        where = f"{source}: respondents[{index}]"
        if not isinstance(entry, Mapping):
            raise AnswersFileError(f"{where}: must be a mapping with role and answers")
        unknown = set(entry) - {"id", "role", "answers"}
        if unknown:
            raise AnswersFileError(f"{where}: unknown key(s) {_keys(unknown)}")
        respondent_id = _text(entry.get("id"), f"{where}: id", default=f"r{index + 1}")
        assert respondent_id is not None
        if respondent_id in seen:
            raise AnswersFileError(
                f"{where}: duplicate respondent id {safe_yaml.shorten(respondent_id)}"
            )
        seen.add(respondent_id)
        try:
            role = validate_role(entry.get("role"))
            answers_raw = entry.get("answers") or {}
            if not isinstance(answers_raw, Mapping):
                raise AnswerError(None, "'answers' must map question ids to answers")
            answers = validate_answers(
                catalog, answers_raw, instruments=settings.instrument_ids(catalog)
            )
        except AnswerError as error:
            raise AnswersFileError(f"{where}: {error}") from None
        respondents.append(Respondent(id=respondent_id, role=role, answers=answers))
    return tuple(respondents)


def assess_file(catalog: Catalog, answers_file: AnswersFile) -> Assessment:
    previous = assess_file(catalog, answers_file.previous) if answers_file.previous else None
    try:
        return assess(
            catalog,
            answers_file.settings,
            answers_file.respondents,
            results_min=answers_file.results_min,
            targets=answers_file.targets,
            adopted=answers_file.adopted,
            previous=previous,
        )
    except ValueError as error:
        raise AnswersFileError(str(error)) from None
