"""`processlens export`, `processlens backup` and `processlens restore`.

The command line acts with the operator's access to the database, so every dataset is
available, respondent-level ones included; each export, backup and restore is recorded in
the audit log with ``"via": "cli"`` (no account: the actor is empty). Errors end in one line
and exit code 1 (2 for bad configuration, and for a backup file that restore refuses).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlmodel import Session

from app import catalog_store, db
from app.accounts import audit
from app.accounts.audit import Actor
from app.cli_session import database_session, fail
from app.dashboards import backup as backups
from app.dashboards import exports
from app.models import Organisation
from app.rubric import safe_yaml
from app.rubric.loader import RubricError

console = Console(highlight=False, stderr=True)
VIA = {"via": "cli"}
# a backup holds an organisation's answers as JSON: a thousand teams' rounds fit in far less;
# the cap keeps a wrong path (a device, a disk image) from being read into memory whole
MAX_BACKUP_BYTES = 512 * 1024 * 1024


def _organisation(session: Session, organisation_id: int) -> Organisation:
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        fail(f"no organisation with id {organisation_id} (see processlens org list)")
    return organisation


def export(
    organisation_id: Annotated[int, typer.Option("--org", help="Id of the organisation.")],
    dataset: Annotated[
        str,
        typer.Option(help=f"One of: {', '.join(exports.DATASET_IDS)}."),
    ] = "scores",
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Write an analysis export of an organisation (CSV or JSON, under the anonymity rules).

    Datasets: scores per team and round, answer distributions, roadmaps, debt registers, and
    respondent-level rows (responses-long, responses-wide) under pseudonymous ids.
    """
    if dataset not in exports.DATASET_IDS:
        fail(f"unknown dataset {dataset!r}; choose one of {', '.join(exports.DATASET_IDS)}", 2)
    if fmt not in exports.FORMATS:
        fail("--format must be csv or json", 2)
    with database_session() as (session, settings):
        organisation = _organisation(session, organisation_id)
        try:
            catalog = catalog_store.load_configured_catalog(settings)
        except RubricError as error:
            fail(f"the rubric has errors: {error.problems[-1]}", 2)
        built = exports.build(
            exports.Context(
                session=session,
                organisation_id=organisation_id,
                organisation=organisation.name,
                catalog=catalog,
                minimum=settings.org_cell_min,
                role_group_minimum=settings.role_group_min,
            ),
            dataset,
        )
        audit.record(
            session=session,
            action="export.downloaded",
            target_type="organisation",
            target_id=organisation_id,
            organisation_id=organisation_id,
            details={"dataset": dataset, "format": fmt, "rows": len(built.rows), **VIA},
        )
        text = built.render(fmt)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"Wrote {output} ({len(built.rows)} rows)")


def backup(
    organisation_id: Annotated[int, typer.Option("--org", help="Id of the organisation.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The backup file to write.")],
) -> None:
    """Back up everything of one organisation, losslessly, to a JSON file (admin only).

    Includes pseudonymous respondent ids, answers, stored results and the rubric versions the
    rounds used. The file holds hashes of resume links and every answer: keep it safe.
    """
    with database_session() as (session, _settings):
        organisation = _organisation(session, organisation_id)
        try:
            document = backups.backup(
                session=session, organisation_id=organisation_id, actor=Actor.cli()
            )
        except backups.BackupError as error:
            fail(str(error))
        output.write_text(backups.dumps(document), encoding="utf-8")
    rows = backups.counts(document)
    console.print(
        f"Backed up {organisation.name} ({sum(rows.values())} rows: "
        f"{rows.get('team', 0)} teams, {rows.get('assessment_round', 0)} rounds, "
        f"{rows.get('respondent', 0)} respondents) to {output}"
    )


def restore(
    source: Annotated[Path, typer.Argument(help="A file made by processlens backup.")],
) -> None:
    """Restore an organisation from a backup file, with every id (admin only).

    Needs a database without this organisation (e.g. an empty one, after processlens
    migrate); refuses and changes nothing otherwise. Trusts nothing in the file: every row
    must belong to the organisation it is of, rubric versions must match their hashes, and
    report jobs are never restored (docs/security.md, "Restore rules"). A file refused as bad
    input exits 2, naming the table, the row and the reason; one that collides with this
    database exits 1.
    """
    try:
        raw = safe_yaml.read_bytes(source, max_bytes=MAX_BACKUP_BYTES)
    except safe_yaml.InputFileError as error:
        fail(str(error), 2)
    timings = db.BatchTimings()
    try:
        document = backups.loads(raw)
        with database_session() as (session, _settings):
            # short transactions under a hidden organisation: a running service keeps
            # answering while this writes (docs/performance.md, "Writers and respondents")
            summary = backups.restore_in_batches(
                sessions=db.session_factory(session.get_bind().engine),
                document=document,
                actor=Actor.cli(),
                timings=timings,
            )
    except backups.BackupFileError as error:
        fail(str(error), 2)
    except backups.BackupError as error:
        fail(str(error))
    for line in summary.skipped:
        console.print(f"Not restored: {line}")
    console.print(
        f"Restored {summary.organisation} (id {summary.organisation_id}, "
        f"{sum(summary.rows.values())} rows)"
    )
    console.print(timings.describe(), soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add export, backup and restore to the `processlens` command."""
    app.command("export")(export)
    app.command("backup")(backup)
    app.command("restore")(restore)
