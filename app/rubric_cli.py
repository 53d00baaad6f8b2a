"""CLI commands over the rubric: validate files, render the rubric, diff versions, score answers.

None of them needs a server or a database: they run on files, so a consultant can score an
answers file offline. Bad files raise BadInputError or RubricError, which the `processlens`
group turns into one line per problem and exit 2 (app/cli_errors.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from app.config import QUESTIONNAIRES_DIR
from app.rubric import document, repository_compare, repository_signals, safe_yaml, score_text
from app.rubric.answers_file import assess_file, read_answers_file
from app.rubric.changelog import changelog_markdown
from app.rubric.loader import (
    NOT_CATALOG_FILES,
    Catalog,
    RubricError,
    load_catalog,
    load_catalog_from_texts,
    read_rubric_file,
)
from app.rubric.output import to_data
from app.rubric.schema import FILE_KINDS

EXIT_INVALID = 2

rubric_app = typer.Typer(
    help="Show the rubric as Markdown or JSON, export its JSON Schema, or diff two versions.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_INVALID)


def _catalog_from(paths: list[Path]) -> Catalog:
    """Folders are loaded as they are; single files are checked together with the built-in
    rubric (replacing the built-in file of the same name), so a custom instrument can be
    validated on its own. A RubricError (one `file:line: message` per problem) propagates."""
    if not paths:
        return load_catalog(QUESTIONNAIRES_DIR)
    folders = [p for p in paths if p.is_dir()]
    if len(folders) == len(paths) and len(folders) > 1:
        return load_catalog(folders)  # main folder first, then custom folders
    files = [p for p in paths if not p.is_dir() and p.name not in NOT_CATALOG_FILES]
    if not files and not folders:
        return load_catalog(QUESTIONNAIRES_DIR)
    missing = [str(p) for p in files if not p.exists()]
    if missing:
        _fail(f"no such file or folder: {', '.join(missing)}")
    if folders and not files:
        return load_catalog(folders)
    base = folders[0] if folders else QUESTIONNAIRES_DIR
    texts = {
        p.name: read_rubric_file(p)
        for p in sorted(base.glob("*.yaml"))
        if p.name not in NOT_CATALOG_FILES
    }
    for path in files:
        texts[path.name] = read_rubric_file(path)
    custom = frozenset(p.name for p in files if p.name not in _builtin_names())
    return load_catalog_from_texts(texts, custom_files=custom)


def _builtin_names() -> set[str]:
    return {p.name for p in QUESTIONNAIRES_DIR.glob("*.yaml")}


def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Rubric folders, or single files checked together with the built-in rubric. "
            "Default: the built-in questionnaires."
        ),
    ] = None,
) -> None:
    """Check rubric files: every problem is printed as file:line: message (exit 2)."""
    catalog = _catalog_from(list(paths or []))
    signals = _signals_from(list(paths or []), catalog)
    questions = sum(len(i.questions) for i in catalog.instruments.values())
    typer.echo(
        f"ok: {len(catalog.instruments)} instruments, {questions} questions, "
        f"{len(catalog.practices.practices)} practices, "
        f"{len(catalog.process_models.process_models)} process models"
        + (f", {len(signals.signals)} repository signals" if signals else "")
    )


def _signals_from(paths: list[Path], catalog: Catalog) -> repository_signals.SignalCatalog | None:
    """The repository check's signals file among `paths` (a file of that name, or the first
    folder's), else the built-in one; checked against the catalog's questions and sources."""
    name = repository_signals.SIGNALS_FILE
    named = [p for p in paths if p.name == name and not p.is_dir()]
    folders = [p for p in paths if p.is_dir()]
    path = named[0] if named else (folders[0] if folders else QUESTIONNAIRES_DIR) / name
    if not path.exists():
        if named:
            _fail(f"no such file or folder: {path}")
        return None
    text = read_rubric_file(path)
    return repository_signals.parse_signal_catalog(text, catalog, source=name)


def json_schema() -> dict[str, Any]:
    """One JSON Schema for all four kinds of rubric file (for editors)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ProcessLens rubric file",
        "oneOf": [model.model_json_schema() for model in FILE_KINDS.values()],
    }


@rubric_app.callback()
def rubric(
    ctx: typer.Context,
    output_format: Annotated[
        str, typer.Option("--format", help="md (a readable document) or json.")
    ] = "md",
    schema: Annotated[
        bool, typer.Option("--schema", help="Print the JSON Schema of the rubric files instead.")
    ] = False,
    path: Annotated[
        Path | None, typer.Option("--path", help="Rubric folder (default: built-in).")
    ] = None,
) -> None:
    """Print the whole rubric: `md` is the document in docs/rubric.md; `json` a summary."""
    if ctx.invoked_subcommand is not None:
        return
    if schema:
        sys.stdout.write(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")
        return
    catalog = _catalog_from([path] if path else [])
    if output_format == "md":
        sys.stdout.write(document.rubric_markdown(catalog))
    elif output_format == "json":
        sys.stdout.write(
            json.dumps(document.rubric_json(catalog), indent=2, ensure_ascii=False) + "\n"
        )
    else:
        _fail(f"unknown format {output_format!r}: use md or json")


@rubric_app.command("diff")
def diff(
    old: Annotated[Path, typer.Argument(help="The older rubric folder (or instrument file).")],
    new: Annotated[Path, typer.Argument(help="The newer rubric folder (or instrument file).")],
) -> None:
    """A changelog from the older rubric to the newer, as Markdown grouped by file and kind:
    questions added, removed and reworded (old → new, shortened), options, roles by name,
    "not applicable", display conditions and every rule in words, gates, findings,
    practices, fit rules and caveats (docs/rubric-changes-2026.2.md is one)."""
    sys.stdout.write(changelog_markdown(_catalog_from([old]), _catalog_from([new])))


def score(
    answers_file: Annotated[Path, typer.Argument(help="Answers file (YAML or JSON).")],
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="json (complete, deterministic) or text (the same, in readable sections).",
        ),
    ] = "json",
    rubric_path: Annotated[
        Path | None, typer.Option("--rubric", help="Rubric folder (default: built-in).")
    ] = None,
    repo_signals: Annotated[
        Path | None,
        typer.Option(
            "--repo-signals",
            help="A signals file from `processlens repo-check`: shows, per question, what the "
            "team says against what its repository shows (scores do not change).",
        ),
    ] = None,
) -> None:
    """Score an answers file offline: scores, levels, process models, roadmap, debt register."""
    if output_format not in ("json", "text"):
        _fail(f"unknown format {output_format!r}: use json or text")
    catalog = _catalog_from([rubric_path] if rubric_path else [])
    result = assess_file(catalog, read_answers_file(answers_file, catalog))
    data = to_data(catalog, result)
    comparison = None
    if repo_signals is not None:
        comparison = _repository_comparison(repo_signals, rubric_path, catalog, result.spreads)
        data["repository"] = repository_compare.comparison_data(comparison)
    if output_format == "json":
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(score_text.render(data))
        if comparison is not None:
            sys.stdout.write(repository_compare.comparison_text(comparison))


def _repository_comparison(
    signals_file: Path, rubric_path: Path | None, catalog: Catalog, spreads: Any
) -> repository_compare.RepositoryComparison:
    signals = _signals_from([rubric_path] if rubric_path else [], catalog)
    if signals is None:
        raise RubricError([f"{repository_signals.SIGNALS_FILE}:1: missing from the rubric folder"])
    text = safe_yaml.read_text(signals_file, max_bytes=repository_compare.MAX_SIGNALS_FILE_BYTES)
    readings = repository_compare.parse_signals_file(
        text, source=str(signals_file), signals=signals
    )
    return repository_compare.compare(
        catalog=catalog, signals=signals, readings=readings, spreads=spreads
    )


def _set_custom_instrument(organisation_slug: str, instrument_id: str, *, enabled: bool) -> None:
    # imported here: the other rubric commands run without a database
    from sqlmodel import Session, select

    from app import catalog_store, db
    from app.accounts import audit
    from app.config import ConfigurationError, get_settings
    from app.models import Organisation

    try:
        settings = get_settings()
    except ConfigurationError as error:
        _fail(str(error))
    catalog = _catalog_from([QUESTIONNAIRES_DIR, *settings.questionnaire_dirs])
    engine = db.create_db_engine(settings)
    try:
        with Session(engine) as session:
            organisation = session.exec(
                select(Organisation).where(Organisation.slug == organisation_slug)
            ).first()
            if organisation is None:
                _fail(f"no organisation with the slug {organisation_slug!r}")
            try:
                now = catalog_store.set_custom_instrument(
                    catalog=catalog,
                    organisation=organisation,
                    instrument_id=instrument_id,
                    enabled=enabled,
                )
            except catalog_store.UnknownInstrumentError as error:
                _fail(str(error))
            session.add(organisation)
            audit.record(
                session=session,
                action="organisation.custom_instrument." + ("enabled" if enabled else "disabled"),
                target_type="organisation",
                target_id=organisation.id,
                organisation_id=organisation.id,
                details={"instrument": instrument_id},
            )
            session.commit()
    finally:
        engine.dispose()
    typer.echo(f"{organisation_slug}: new rounds include {', '.join(now) or 'built-in only'}")


@rubric_app.command("enable")
def enable(
    organisation: Annotated[str, typer.Argument(help="The organisation's slug.")],
    instrument: Annotated[str, typer.Argument(help="A custom instrument's id.")],
) -> None:
    """Include a custom instrument (from a configured extra folder) in an organisation's new
    rounds. Existing rounds keep the instruments they started with."""
    _set_custom_instrument(organisation, instrument, enabled=True)


@rubric_app.command("disable")
def disable(
    organisation: Annotated[str, typer.Argument(help="The organisation's slug.")],
    instrument: Annotated[str, typer.Argument(help="A custom instrument's id.")],
) -> None:
    """Stop including a custom instrument in an organisation's new rounds."""
    _set_custom_instrument(organisation, instrument, enabled=False)
