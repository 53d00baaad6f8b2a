"""What the organisation report reads: its "is there any result?" check stops at the first one.

The report itself is made from the dashboard's summaries; before it is made, the organisation
must have a stored result someone may see (else NoResultsError). That check parsed and vetted
every stored result of every round (1,000 teams x 4 rounds: about a minute and 2 GB in the web
process running the job, benchmarks/org_report_job.py), to learn what the first one tells.
"""

from __future__ import annotations

import io
from typing import Any

import pikepdf
import pytest
from sqlalchemy import event
from sqlmodel import Session

from app import demo
from app.config import Settings
from app.models import Organisation, RoundResult
from app.reports import batch, pdf
from app.rubric.loader import Catalog
from tests import factories


def _organisation(session: Session, *, teams: int, rounds: int) -> Organisation:
    summary = demo.seed_organisation(
        session=session, name="Many rounds", teams=teams, rounds=rounds
    )
    organisation = session.get(Organisation, summary.organisation_id)
    assert organisation is not None
    return organisation


def _loaded_results(session: Session, make: Any) -> tuple[Any, list[int]]:
    """What ``make()`` returns, and the stored results it read from the database."""
    # a clean identity map: every row read from now on is loaded, and counted
    session.expunge_all()
    loaded: list[int] = []

    def count(target: RoundResult, _context: Any) -> None:
        assert target.id is not None
        loaded.append(target.id)

    event.listen(RoundResult, "load", count)
    try:
        return make(), loaded
    finally:
        event.remove(RoundResult, "load", count)


def test_the_report_reads_one_stored_result_to_know_there_is_one(
    session: Session, settings: Settings, catalog: Catalog, render_pool: pdf.RenderPool
) -> None:
    organisation = _organisation(session, teams=3, rounds=3)
    (document, name), loaded = _loaded_results(
        session,
        lambda: batch.organisation_pdf(
            session=session,
            settings=settings,
            organisation=organisation,
            catalog=catalog,
            hide_names=False,
            viewer=None,
            pool=render_pool,
        ),
    )
    assert name.endswith("-organisation-report.pdf")
    with pikepdf.open(io.BytesIO(document)) as parsed:
        assert len(parsed.pages) >= 4
    assert len(loaded) == 1  # not each of the 9 stored results


def test_an_organisation_without_a_result_still_has_no_report(
    session: Session, settings: Settings, catalog: Catalog, render_pool: pdf.RenderPool
) -> None:
    organisation = factories.organisation(session)
    factories.team(session, organisation, name="No rounds yet")
    with pytest.raises(batch.NoResultsError):
        batch.organisation_pdf(
            session=session,
            settings=settings,
            organisation=organisation,
            catalog=catalog,
            hide_names=False,
            viewer=None,
            pool=render_pool,
        )
