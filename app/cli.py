"""The `processlens` command line: serve, worker, migrate, downgrade, demo and seed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, NoReturn

import typer
import uvicorn
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table
from sqlmodel import Session

from app import __version__, catalog_store, db, demo, job_queues, migrate, rubric_cli
from app.accounts import cli as accounts_cli
from app.accounts import demo_users
from app.cli_errors import OneLineErrors
from app.config import ConfigurationError, Settings, get_settings
from app.dashboards import cli as dashboards_cli
from app.jobs import queue
from app.logs import configure_logging
from app.mail import transport
from app.reports import cli as reports_cli
from app.reports import pdf as report_pdf
from app.repository_check import cli as repository_check_cli
from app.rubric.loader import RubricError
from app.workspace import cli as workspace_cli

app = typer.Typer(
    name="processlens",
    # bad input from any command (a user's file, the rubric) ends in one line and exit 2
    cls=OneLineErrors,
    help=(
        "ProcessLens assesses how a team building ML-enabled software works and recommends "
        "the process and practice upgrades that fit it.\n\n"
        "Configuration comes from the environment (PROCESSLENS_*, DATABASE_URL, REDIS_URL); "
        "see README.md."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    # expected failures end in one line (below); anything else is a bug and shows plainly
    pretty_exceptions_enable=False,
)
console = Console(highlight=False)

EXIT_FAILURE = 1
EXIT_BAD_CONFIGURATION = 2
WORKER_HEALTHCHECK_TIMEOUT_S = 60


def _fail(message: str, code: int) -> NoReturn:
    # typer.echo rather than rich: rich would wrap a long message over several lines
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def _friendly_errors() -> Iterator[None]:
    """Turn the failures a user can fix into one line and an exit code, never a traceback."""
    try:
        yield
    except ConfigurationError as error:
        _fail(str(error), EXIT_BAD_CONFIGURATION)
    except (db.DatabaseUnavailableError, db.SchemaOutOfDateError) as error:
        _fail(str(error), EXIT_FAILURE)
    except RubricError as error:
        for problem in error.problems[:-1]:
            typer.echo(problem, err=True)
        _fail(f"the rubric has errors; the server does not start: {error.problems[-1]}", 2)


def _settings() -> Settings:
    with _friendly_errors():
        settings = get_settings()
    configure_logging(settings)
    return settings


def _version(value: bool) -> None:
    if value:
        typer.echo(f"processlens {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """ProcessLens command line."""


def _prepare_database(settings: Settings, *, migrate_schema: bool) -> None:
    engine = db.create_db_engine(settings)
    try:
        migrate.prepare_schema(settings, engine, migrate=migrate_schema)
    finally:
        engine.dispose()


def _serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    uvicorn.run(
        # an import string, so that each of several workers builds its own app and engine
        "app.main:create_served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # uvloop + httptools: with several workers the plain asyncio loop adds ~44 ms to
        # every keep-alive request
        loop="uvloop",
        http="httptools",
        log_config=None,  # app.logs configures logging
        access_log=False,  # RequestContextMiddleware writes the access log, with request ids
        server_header=False,
        # X-Forwarded-For/-Proto only from the configured proxies: uvicorn's default trusts
        # 127.0.0.1, so any local client could pick its address and dodge the rate limits
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies),
        # with several workers the supervisor kills a worker that does not answer its ping in
        # time; uvicorn's 5 s default killed every worker still importing the app on a busy
        # two-core machine, again and again, so the server never came up
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_TIMEOUT_S,
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option(help="Worker processes (use PostgreSQL for more than one host).", min=1)
    ] = 1,
    migrate_schema: Annotated[
        bool,
        typer.Option(
            "--migrate",
            help="Apply pending migrations first (always done in development).",
        ),
    ] = False,
) -> None:
    """Serve the web app and API.

    In development an out-of-date database schema is migrated first; in production the
    server refuses to start on one unless --migrate is given, and says so.
    """
    settings = _settings()
    with _friendly_errors():
        catalog_store.load_configured_catalog(settings)
        _prepare_database(settings, migrate_schema=migrate_schema or settings.auto_migrate)
    _serve(settings, host=host, port=port, workers=workers)


@app.command()
def worker(
    threads: Annotated[
        int,
        typer.Option(help="Jobs run at once by this process (each renders in the pool).", min=1),
    ] = 1,
    migrate_schema: Annotated[
        bool,
        typer.Option(
            "--migrate", help="Apply pending migrations first (always done in development)."
        ),
    ] = False,
) -> None:
    """Run the job queue's consumer as a process of its own.

    It makes long reports (every team's report zipped, large organisation reports) and runs
    the sweeper that hands abandoned jobs to another worker. Start one or more beside
    `processlens serve` with the same DATABASE_URL, REDIS_URL and PROCESSLENS_SECRET_KEY, and
    set PROCESSLENS_EMBEDDED_WORKER=false on the web instances so jobs run here. Ctrl+C or
    SIGTERM stops it; a job it was making is resumed by another worker.
    """
    settings = _settings()
    with _friendly_errors():
        catalog = catalog_store.load_configured_catalog(settings)
        _prepare_database(settings, migrate_schema=migrate_schema or settings.auto_migrate)
    engine = db.create_db_engine(settings)
    report_pdf.configure_pool(report_pdf.RenderLimits.from_settings(settings))
    # e-mail (invitations, reminders) is sent by the same consumer
    job_queue = job_queues.build(
        settings=settings, engine=engine, catalog=catalog, role="worker"
    ).jobs
    storage = "Redis" if settings.redis_url else f"SQLite ({queue.queue_file(settings)})"
    console.print(f"Job worker ready: queue on {storage}, {threads} at a time (Ctrl+C stops)")
    try:
        job_queue.consumer(workers=threads).run()
    finally:
        job_queue.stopping.set()  # a job under way ends its attempt before the pool closes
        report_pdf.close_pool()
        engine.dispose()


@app.command("migrate")
def migrate_command(
    revision: Annotated[
        str, typer.Option(help="Revision to upgrade to; the newest by default.")
    ] = "head",
    check: Annotated[
        bool,
        typer.Option("--check", help="Only report whether the schema is current (exit 1 if not)."),
    ] = False,
) -> None:
    """Upgrade the database schema (several workers starting at once migrate only once)."""
    settings = _settings()
    with _friendly_errors():
        if check:
            engine = db.create_db_engine(settings)
            try:
                status = db.schema_status(engine)
            finally:
                engine.dispose()
            if not status.is_current:
                _fail(status.describe(), EXIT_FAILURE)
            console.print(f"The database schema is current ({', '.join(status.head)}).")
            return
        outcome = migrate.upgrade(settings, revision)
    after = ", ".join(outcome.after.current) or "empty"
    if outcome.changed:
        before = ", ".join(outcome.before.current) or "empty"
        console.print(f"Migrated the database schema from {before} to {after}.")
    else:
        console.print(f"The database schema is already at {after}; nothing to do.")


@app.command()
def downgrade(
    revision: Annotated[
        str, typer.Argument(help='Revision to go back to: an id, "-1", or "base" (empty).')
    ],
    yes: Annotated[
        bool, typer.Option("--yes", help="Do not ask; downgrading can delete data.")
    ] = False,
) -> None:
    """Downgrade the database schema, e.g. to undo a release. Can delete data."""
    settings = _settings()
    if not yes:
        typer.confirm(f"Downgrade the database schema to {revision}? Data may be lost", abort=True)
    with _friendly_errors():
        outcome = migrate.downgrade(settings, revision)
    after = ", ".join(outcome.after.current) or "base (no tables)"
    console.print(f"Downgraded the database schema to {after}.")


def _print_summary(summary: demo.SeedSummary) -> None:
    table = Table(title=None, show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    # names are user input: escaped so rich does not read them as markup
    table.add_row("Organisation", escape(summary.organisation_name))
    table.add_row("Slug", escape(summary.slug))
    table.add_row("Business units", escape(", ".join(summary.business_units)))
    teams = ", ".join(summary.teams)
    if len(summary.teams) > 8:
        teams = ", ".join(summary.teams[:8]) + f", ... ({len(summary.teams)} teams)"
    table.add_row("Teams", escape(teams))
    table.add_row("Rounds", str(summary.rounds))
    console.print(table)


@app.command("demo")
def demo_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
) -> None:
    """Create and migrate the database, add the demo organisation, and serve it.

    The demo organisation has two business units and five teams with answered team surveys
    (disagreeing roles, two rounds for some teams, adopted practices) and one user per role,
    whose sign-in details are printed; running demo again reuses it.
    """
    demo.apply_demo_settings()  # e.g. consultants may create client organisations
    settings = _settings()
    with _friendly_errors():
        migrate.upgrade(settings)
        engine = db.create_db_engine(settings)
        try:
            with Session(engine) as session:
                summary = demo.seed_demo(session=session)
                # development-only accounts with printed passwords (never in production)
                accounts = (
                    []
                    if settings.environment.value == "production"
                    else demo_users.seed_demo_accounts(
                        session=session, organisation_id=summary.organisation_id
                    )
                )
                session.commit()
        finally:
            engine.dispose()
    if summary.created:
        console.print("[bold]Created the demo organisation:[/bold]")
    else:
        console.print("[bold]The demo organisation is already there:[/bold]")
    _print_summary(summary)
    if accounts:
        # plain lines, not a table: a narrow terminal must not cut an address or a password
        console.print("\n[bold]Demo accounts[/bold] (development only; sign in at /sign-in):")
        for account in accounts:
            console.print(
                f"  {demo_users.role_label(account.role)}: {account.email} / "
                f"{account.password}  [dim](sees {escape(account.scope)})[/dim]",
                soft_wrap=True,
            )
    if settings.mail_outbox and not settings.smtp_host:
        console.print(
            "\n[bold]E-mail[/bold] is not sent: each message is written, labelled 'not sent', "
            f"to {escape(str(transport.outbox_dir(settings)))} (PROCESSLENS_MAIL_OUTBOX).",
            soft_wrap=True,
        )
    shown_host = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
    console.print(
        f"\nServing ProcessLens on [bold]http://{shown_host}:{port}[/bold] (Ctrl+C stops)"
    )
    _serve(settings, host=host, port=port, workers=1)


@app.command()
def seed(
    teams: Annotated[int, typer.Option(help="Number of teams to create.", min=1)] = 5,
    rounds: Annotated[
        int, typer.Option(help="Closed past rounds per team, a quarter apart.", min=0)
    ] = 0,
    organisation: Annotated[
        str, typer.Option(help="Name of the new organisation.")
    ] = "Seeded organisation",
) -> None:
    """Add an organisation with many teams, e.g. for benchmarks (does not serve).

    Creates one new organisation (a free slug is chosen if the name is taken) with TEAMS teams
    ("Team 0001"...) in business units of ten (at most 20 units), and for each team ROUNDS
    closed team surveys dated a quarter apart, each with 3-6 respondents in different roles
    whose synthetic answers disagree the way data scientists and engineers often do, scored
    and stored like real rounds. The same command always creates the same answers.
    """
    settings = _settings()
    with _friendly_errors():
        _prepare_database(settings, migrate_schema=settings.auto_migrate)
        engine = db.create_db_engine(settings)
        timings = db.BatchTimings()
        try:
            with Progress(console=console, transient=True) as progress_bar:
                task = progress_bar.add_task("Seeding teams", total=teams)
                # short transactions under a hidden organisation: a running service keeps
                # answering while this writes (docs/performance.md, "Writers and respondents")
                summary = demo.seed_in_batches(
                    sessions=db.session_factory(engine),
                    read_sessions=db.read_session_factory(engine),
                    name=organisation,
                    teams=teams,
                    rounds=rounds,
                    progress=lambda done: progress_bar.advance(task, done),
                    timings=timings,
                )
        finally:
            engine.dispose()
    console.print("[bold]Seeded:[/bold]")
    _print_summary(summary)
    console.print(timings.describe(), soft_wrap=True)


# Rubric commands work on files alone (no server, no database): see app/rubric_cli.py.
app.command("validate")(rubric_cli.validate)
app.command("score")(rubric_cli.score)
app.add_typer(rubric_cli.rubric_app, name="rubric")

# The repository check (offline: a checkout in, a signals file out): see app/repository_check/.
app.command("repo-check")(repository_check_cli.repo_check)

# Reports (offline from an answers file, or from stored results): see app/reports/cli.py.
app.command("report")(reports_cli.report)
# an organisation's report branding, beside the other `processlens org` commands
accounts_cli.org_app.command("brand")(reports_cli.brand)

# Admin commands (users, organisations, units, teams, assignments, tokens, audit): see
# app/accounts/cli.py.
accounts_cli.register(app)

# Analysis exports, backup and restore of an organisation: see app/dashboards/cli.py.
dashboards_cli.register(app)

# Rescoring an organisation under the newest rubric: see app/workspace/cli.py.
app.command("rescore")(workspace_cli.rescore)

if __name__ == "__main__":
    app()
