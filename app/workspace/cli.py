"""``processlens rescore``: an organisation's rounds rescored under the newest rubric, in this
process, by the same service as the page's job (app.workspace.organisation_rescore)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from sqlmodel import select

from app import catalog_store, db
from app.accounts.audit import Actor
from app.cli_session import database_session, fail
from app.models import Organisation
from app.workspace import organisation_rescore

console = Console(highlight=False)


def rescore(
    organisation: Annotated[str, typer.Option("--org", help="Short name of the organisation.")],
) -> None:
    """Rescore every round of the organisation that used an older rubric under the newest one.

    Each round whose result is shown gets a separate result under the newest rubric's label
    (its original result stays as it is); rounds already rescored, on the newest rubric, or
    whose results are hidden by the anonymity rule are skipped and counted. Writes in short
    transactions, so a running service keeps answering; running it again stores nothing new.

    Example: processlens rescore --org acme
    """
    with database_session() as (session, settings):
        found = session.exec(select(Organisation).where(Organisation.slug == organisation)).first()
        if found is None or found.id is None or found.pending:
            fail(
                f"no organisation with the short name {organisation!r} (see `processlens org list`)"
            )
        organisation_id, name = found.id, found.name
        session.rollback()  # the rescore reads and writes in short transactions of its own
        newest = catalog_store.load_configured_catalog(settings)
        bind = session.get_bind()
        timings = db.BatchTimings()
        with Progress(console=console, transient=True) as progress_bar:
            task = progress_bar.add_task(f"Rescoring {escape(name)}", total=None)
            outcome = organisation_rescore.rescore_organisation(
                sessions=db.session_factory(bind),
                read_sessions=db.read_session_factory(bind),
                organisation_id=organisation_id,
                newest=newest,
                actor=Actor.cli(),
                timings=timings,
                steps=organisation_rescore.Steps(
                    progress=lambda done, total: progress_bar.update(
                        task, completed=done, total=total
                    )
                ),
            )
    console.print(escape(outcome.summary()), soft_wrap=True)
    console.print(timings.describe(), soft_wrap=True)
