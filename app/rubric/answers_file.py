"""Answers files: one or more respondents' answers, in YAML or JSON, scored without a server.

The format is documented in the README ("Answers files"). Every problem is reported as one line
that names the place and the problem, so `processlens score` can print it and exit 2.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

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
MAX_FILE_BYTES = 5 * 1024 * 1024


class AnswersFileError(ValueError):
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
    try:
        raw_bytes = path.read_bytes()
    except OSError as error:
        raise AnswersFileError(f"{path}: cannot read the file ({error.strerror})") from None
    if len(raw_bytes) > MAX_FILE_BYTES:
        raise AnswersFileError(
            f"{path}: the file is larger than {MAX_FILE_BYTES // 1024 // 1024} MiB"
        )
    try:
        text = raw_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise AnswersFileError(f"{path}: the file is not UTF-8 text") from None
    return parse_answers(text, catalog, source=str(path))


def parse_answers(text: str, catalog: Catalog, *, source: str = "answers") -> AnswersFile:
    try:
        data = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        first_line = str(error).splitlines()[0]
        raise AnswersFileError(f"{source}: not valid YAML or JSON ({first_line})") from None
    return parse_answers_data(data, catalog, source=source)


def parse_answers_data(data: Any, catalog: Catalog, *, source: str = "answers") -> AnswersFile:
    if not isinstance(data, Mapping):
        raise AnswersFileError(
            f"{source}: the file must be a mapping with 'round' and 'respondents'"
        )
    unknown = set(data) - TOP_LEVEL_KEYS
    if unknown:
        raise AnswersFileError(f"{source}: unknown key(s) {sorted(unknown)}")
    round_data = data.get("round") or {}
    if not isinstance(round_data, Mapping):
        raise AnswersFileError(f"{source}: 'round' must be a mapping")
    unknown = set(round_data) - ROUND_KEYS
    if unknown:
        raise AnswersFileError(f"{source}: round: unknown key(s) {sorted(unknown)}")
    _check_versions(round_data.get("versions") or {}, catalog, source)
    instruments = tuple(round_data.get("instruments") or ())
    for instrument_id in instruments:
        if instrument_id not in catalog.instruments:
            raise AnswersFileError(f"{source}: round: unknown instrument {instrument_id!r}")
    try:
        settings = RoundSettings(
            stage=round_data.get("stage", "prototype"),
            kind=round_data.get("kind", "full"),
            mode=round_data.get("mode", "solo"),
            instruments=instruments,
        )
    except AnswerError as error:
        raise AnswersFileError(f"{source}: round: {error.message}") from None
    respondents = _respondents(data.get("respondents"), catalog, settings, source)
    results_min = round_data.get("results_min")
    if results_min is not None and (not isinstance(results_min, int) or results_min not in (2, 3)):
        raise AnswersFileError(f"{source}: round: results_min must be 2 or 3")
    targets = data.get("targets") or {}
    if not isinstance(targets, Mapping):
        raise AnswersFileError(f"{source}: 'targets' must map dimensions to a band or level")
    adopted = data.get("adopted") or []
    known_practices = {p.id for p in catalog.practices.practices}
    if not isinstance(adopted, list) or any(p not in known_practices for p in adopted):
        bad = (
            [p for p in adopted if p not in known_practices]
            if isinstance(adopted, list)
            else adopted
        )
        raise AnswersFileError(f"{source}: adopted: unknown practice(s) {bad}")
    commentary = data.get("commentary")
    if commentary is not None and not isinstance(commentary, str):
        raise AnswersFileError(f"{source}: 'commentary' must be text")
    previous = data.get("previous")
    return AnswersFile(
        settings=settings,
        team=str(round_data.get("team") or "Team"),
        organisation=round_data.get("organisation"),
        date=str(round_data["date"]) if round_data.get("date") else None,
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
                f"{source}: round: versions: unknown instrument {instrument_id!r}"
            )
        known = {instrument.version, catalog.versions.get(f"{instrument_id}.yaml", "")}
        if str(version) not in known:
            raise AnswersFileError(
                f"{source}: round: {instrument_id} version {version!r} does not exist "
                f"(this rubric has {instrument.version})"
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
            raise AnswersFileError(f"{where}: unknown key(s) {sorted(unknown)}")
        respondent_id = str(entry.get("id") or f"r{index + 1}")
        if respondent_id in seen:
            raise AnswersFileError(f"{where}: duplicate respondent id {respondent_id!r}")
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
