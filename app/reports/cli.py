"""`processlens report`: team reports from an answers file (offline), and organisation reports
and batches of team reports from stored results (database, through app.reports.batch)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlmodel import Session, select

from app import catalog_store, cli_session, db
from app.accounts.audit import Actor
from app.config import QUESTIONNAIRES_DIR, ConfigurationError, Settings, load_settings
from app.errors import DomainError
from app.models import Organisation
from app.reports import batch, branding_service, context, pdf, render
from app.reports.batch import zip_files
from app.reports.branding import (
    MAX_LOGO_BYTES,
    Branding,
    default_branding,
    load_branding_file,
    organisation_branding,
)
from app.reports.org import StoredTeamResult, organisation_report
from app.rubric import safe_yaml
from app.rubric.answers_file import AnswersFile, assess_file, read_answers_file
from app.rubric.loader import Catalog, load_catalog
from app.rubric.output import to_data

EXIT_FAILURE = 1
EXIT_INVALID = 2
console = Console(highlight=False, stderr=True)


def fail(message: str, code: int = EXIT_INVALID) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _catalog(rubric_path: Path | None) -> Catalog:
    # a RubricError reaches the processlens group: one line per problem, exit 2
    return load_catalog(rubric_path or QUESTIONNAIRES_DIR)


def _installation_branding() -> Branding:
    """PROCESSLENS_BRAND_NAME / _COLOUR when set; read without the secret-key set-up that
    load_settings does, so the offline command writes nothing but its output."""
    try:
        return default_branding(Settings())
    except ValidationError:
        return default_branding()


def team_report_from_file(
    answers: AnswersFile, catalog: Catalog, branding: Branding, *, full: bool = False
) -> context.TeamReport:
    """The team report for an answers file (its previous round, commentary and notes;
    ``full``: with all answers)."""
    data = to_data(catalog, assess_file(catalog, answers))
    previous = (
        to_data(catalog, assess_file(catalog, answers.previous)) if answers.previous else None
    )
    return context.team_report(
        data=data,
        catalog=catalog,
        team=answers.team,
        organisation=answers.organisation,
        date=answers.date,
        branding=branding,
        commentary=answers.commentary,
        notes=context.shareable_notes(catalog, [r.answers for r in answers.respondents]),
        links=context.shareable_links(catalog, [r.answers for r in answers.respondents]),
        previous=previous,
        full=full,
    )


def write_output(path: Path, data: bytes | str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
    except OSError as error:
        fail(f"cannot write {path} ({error.strerror})", EXIT_FAILURE)


def branding_from_file(path: Path | None, base: Branding) -> Branding:
    """`base` with what the --branding file sets; a bad file raises BadInputError, which the
    processlens group prints as one line (exit 2)."""
    if path is None:
        return base
    return load_branding_file(path, base=base)


def report(
    answers_file: Annotated[
        Path | None,
        typer.Argument(help="Answers file (YAML or JSON) for a team report; omit with --org."),
    ] = None,
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Where to write the PDF (or .zip with --all-teams)."),
    ] = Path("report.pdf"),
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write the report as an HTML page.")
    ] = None,
    branding_file: Annotated[
        Path | None,
        typer.Option(
            "--branding", help="YAML with name, colour (#rrggbb), logo (PNG/JPEG path), consultant."
        ),
    ] = None,
    rubric_path: Annotated[
        Path | None, typer.Option("--rubric", help="Rubric folder (default: built-in).")
    ] = None,
    organisation_id: Annotated[
        int | None,
        typer.Option("--org", help="Organisation id: report on its stored results (database)."),
    ] = None,
    all_teams: Annotated[
        bool,
        typer.Option(
            "--all-teams", help="With --org: every team's report, zipped, not the org report."
        ),
    ] = False,
    hide_names: Annotated[
        bool, typer.Option("--hide-names", help="With --org: show teams as Team 01, Team 02, ...")
    ] = False,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="The full team report, including all answers (Appendix A: every question's "
            "answers; about 30 pages). Default: the concise report (about 10-14 pages). "
            "Also with --org --all-teams.",
        ),
    ] = False,
) -> None:
    """Make a PDF report.

    `processlens report ANSWERS_FILE -o report.pdf` needs no server or database: the answers
    file may carry targets, commentary and a previous round. The team report is concise
    (summary, dimensions, process, roadmap, gaps, debt register, method); `--full` adds every
    answer. `--org ID` reads the latest stored result of each team instead: the organisation
    report, or with `--all-teams` every team's report in a zip file.
    """
    if organisation_id is not None:
        if answers_file is not None:
            fail("give either an answers file or --org, not both")
        organisation_command(
            organisation_id=organisation_id,
            output=output,
            all_teams=all_teams,
            hide_names=hide_names,
            branding_file=branding_file,
            console=console,
            full=full,
        )
        return
    if answers_file is None:
        fail("give an answers file, or --org ID for stored results")
    if all_teams or hide_names:
        fail("--all-teams and --hide-names need --org")
    _file_report(
        answers_file,
        output=output,
        html=html,
        branding_file=branding_file,
        rubric_path=rubric_path,
        full=full,
    )


def _file_report(
    answers_file: Path,
    *,
    output: Path,
    html: Path | None,
    branding_file: Path | None,
    rubric_path: Path | None,
    full: bool,
) -> None:
    """The team report of an answers file, with no server or database."""
    catalog = _catalog(rubric_path)
    # bad files raise BadInputError: the processlens group prints one line and exits 2
    answers = read_answers_file(answers_file, catalog)
    branding = branding_from_file(branding_file, _installation_branding())
    try:
        team_report = team_report_from_file(answers, catalog, branding, full=full)
    except DomainError as error:
        fail(error.message)
    if html is not None:
        write_output(html, render.team_html(team_report, medium="web"))
    pool = pdf.RenderPool(pdf.RenderLimits(workers=1))
    try:
        with console.status("Making the PDF…"):
            document = render.team_pdf(team_report, pool=pool)
    except pdf.ReportRenderError as error:
        fail(error.message, EXIT_FAILURE)
    finally:
        pool.close()
    write_output(output, document)
    console.print(f"Wrote {output} ({len(document) // 1024} KB)" + (f" and {html}" if html else ""))


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as error:
        fail(str(error))


def organisation_command(
    *,
    organisation_id: int,
    output: Path,
    all_teams: bool,
    hide_names: bool,
    branding_file: Path | None,
    console: Console,
    full: bool = False,
) -> None:
    if full and not all_teams:
        fail("--full is for team reports: with --org, give --all-teams too")
    settings = _settings()
    engine = db.create_db_engine(settings)
    pool = pdf.RenderPool(pdf.RenderLimits.from_settings(settings))
    try:
        with Session(engine) as session:
            organisation = session.get(Organisation, organisation_id)
            if organisation is None:
                fail(f"no organisation with id {organisation_id}")
            branding = branding_from_file(
                branding_file, organisation_branding(organisation, settings)
            )
            if all_teams:
                results = batch.stored_results(session=session, organisation_id=organisation_id)
                if not results:
                    fail(f"{organisation.name} has no stored results yet", EXIT_FAILURE)
                document = _all_teams(
                    session, results, organisation.name, branding, settings, pool, console, full
                )
            else:
                # the report reads the results itself: parsing them all here only to learn
                # whether there are any took most of a minute for 1,000 teams
                if not batch.has_stored_result(session=session, organisation_id=organisation_id):
                    fail(f"{organisation.name} has no stored results yet", EXIT_FAILURE)
                catalog = catalog_store.load_configured_catalog(settings)
                report = organisation_report(
                    organisation=organisation.name,
                    session=session,
                    organisation_id=organisation_id,
                    catalog=catalog,
                    branding=branding,
                    hide_names=hide_names,
                    cell_minimum=settings.org_cell_min,
                )
                with console.status("Making the organisation report…"):
                    document = render.report_pdf("reports/org.html", report, pool=pool)
    except db.DatabaseUnavailableError as error:
        fail(str(error), EXIT_FAILURE)
    except DomainError as error:
        fail(error.message, EXIT_FAILURE)
    finally:
        pool.close()
        engine.dispose()
    write_output(output, document)
    console.print(f"Wrote {output} ({len(document) // 1024} KB)")


def _all_teams(
    session: Session,
    results: list[StoredTeamResult],
    organisation: str,
    branding: Branding,
    settings: Settings,
    pool: pdf.RenderPool,
    console: Console,
    full: bool = False,
) -> bytes:
    reports, skipped = batch.latest_team_reports(
        session=session,
        results=results,
        organisation=organisation,
        branding=branding,
        role_group_minimum=settings.role_group_min,
        full=full,
    )
    for team in skipped:
        console.print(f"Skipped {team}: too few responses for a team report")
    names = batch.zip_entry_names(reports)
    files: list[tuple[str, bytes]] = []
    failures: list[str] = []
    with progress_bar() as progress:
        task = progress.add_task("Team reports", total=len(reports))

        def done(index: int, outcome: Any) -> None:
            report = reports[index]
            if isinstance(outcome, bytes):
                files.append((names[index], outcome))
            else:
                failures.append(f"{report.team}: {outcome.message}")
            progress.advance(task)

        pool.render_many(
            [functools.partial(render.team_html, report, medium="pdf") for report in reports],
            on_done=done,
        )
    for failure in failures:
        console.print(f"Not made: {failure}")
    return zip_files(sorted(files))


def brand(
    organisation: Annotated[str, typer.Argument(help="The organisation's short name.")],
    name: Annotated[
        str | None, typer.Option("--name", help="Name on reports (your firm); '' for the default.")
    ] = None,
    consultant: Annotated[
        str | None, typer.Option("--consultant", help="Shown as 'Prepared by'; '' for none.")
    ] = None,
    colour: Annotated[
        str | None, typer.Option("--colour", help="Accent colour #rrggbb; '' for the default.")
    ] = None,
    logo: Annotated[
        Path | None, typer.Option("--logo", help="A PNG or JPEG file (re-encoded and stored).")
    ] = None,
    remove_logo: Annotated[bool, typer.Option("--remove-logo", help="Drop the logo.")] = False,
) -> None:
    """Set an organisation's report branding (what is not given stays as it is); with no
    option, show it. The same checks and audit event as the branding page (via=cli)."""
    data = None
    if logo is not None:
        try:
            # one byte past the cap, so the logo check names the size instead of a cut file
            data = safe_yaml.read_bytes(logo, max_bytes=MAX_LOGO_BYTES + 1)
        except safe_yaml.InputFileError as error:
            fail(f"logo {error}")
    with cli_session.database_session() as (session, settings):
        found = session.exec(select(Organisation).where(Organisation.slug == organisation)).first()
        if found is None:
            fail(
                f"no organisation with the short name {organisation!r} (see `processlens org list`)"
            )
        if (name, consultant, colour, data, remove_logo) == (None, None, None, None, False):
            _print_branding(branding_service.current(organisation=found, settings=settings))
            return
        change = branding_service.BrandingChange(
            display_name=found.brand_name or "" if name is None else name,
            consultant=found.consultant_name or "" if consultant is None else consultant,
            colour=found.brand_colour or "" if colour is None else colour,
            logo=data,
            remove_logo=remove_logo,
        )
        saved = branding_service.update(
            session=session, settings=settings, organisation=found, change=change, actor=Actor.cli()
        )
        _print_branding(saved)


def _print_branding(shown: branding_service.BrandingSettings) -> None:
    effective = shown.effective
    typer.echo(f"name on reports: {effective.name}")
    typer.echo(f"consultant: {effective.consultant or '-'}")
    typer.echo(f"colour: {effective.colour}")
    typer.echo(f"logo: {'yes' if shown.has_logo else 'no'}")
