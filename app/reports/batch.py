"""Reports from stored results: the organisation report and every team's report, zipped.

Reads ``RoundResult`` rows (the stored results pages and dashboards also show), turns them into
plain data, and renders in the worker pool with a progress bar. Used by
``processlens report --org ID``; the functions that read the database are reusable by routes.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlmodel import Session, col, select

from app import catalog_store, db
from app.config import ConfigurationError, Settings, load_settings
from app.errors import DomainError, NotFoundError
from app.models import (
    AssessmentRound,
    BusinessUnit,
    Organisation,
    Response,
    ResponseStatus,
    RoundResult,
    Team,
)
from app.reports import context, pdf, render
from app.reports.branding import Branding, organisation_branding
from app.reports.cli import (
    EXIT_FAILURE,
    branding_from_file,
    fail,
    progress_bar,
    safe_file_name,
    write_output,
    zip_files,
)
from app.reports.org import StoredTeamResult, latest_per_team, organisation_report
from app.results.reads import previous_shown, result_of
from app.rubric.loader import Catalog

ORIGINAL = "original"


def stored_results(*, session: Session, organisation_id: int) -> list[StoredTeamResult]:
    """Every team's stored original result of every round of the organisation, as plain data."""
    rows = session.exec(
        select(RoundResult, AssessmentRound, Team, BusinessUnit)
        .join(AssessmentRound, col(AssessmentRound.id) == col(RoundResult.round_id))
        .join(Team, col(Team.id) == col(AssessmentRound.team_id))
        .join(BusinessUnit, col(BusinessUnit.id) == col(Team.business_unit_id), isouter=True)
        .where(Team.organisation_id == organisation_id, RoundResult.label == ORIGINAL)
        .order_by(col(Team.id), col(AssessmentRound.created_at))
    ).all()
    return [
        stored_team_result(result, assessment_round, team, unit.name if unit else None)
        for result, assessment_round, team, unit in rows
    ]


def stored_team_result(
    result: RoundResult, assessment_round: AssessmentRound, team: Team, business_unit: str | None
) -> StoredTeamResult:
    """One stored result with its team and round, for the reports."""
    assert team.id is not None
    assert assessment_round.id is not None
    when = assessment_round.closed_at or assessment_round.created_at
    return StoredTeamResult(
        team_id=team.id,
        team=team.name,
        business_unit=business_unit,
        round_id=assessment_round.id,
        date=when.date().isoformat(),
        mode=assessment_round.mode,
        respondents=result.respondent_count,
        # parsed (older shapes upgraded) and handed on as JSON until StoredTeamResult is typed
        data=result_of(result).to_data(),
    )


def previous_of(session: Session, result: StoredTeamResult) -> StoredTeamResult | None:
    """The previous round's stored result of ``result``'s team (``previous_shown``'s rule)."""
    assessment_round = session.get(AssessmentRound, result.round_id)
    team = session.get(Team, result.team_id)
    if assessment_round is None or team is None:
        return None
    shown = previous_shown(session, assessment_round)
    if shown is None:
        return None
    return stored_team_result(shown.row, shown.round, team, result.business_unit)


def round_notes(
    *, session: Session, round_id: int, catalog: Catalog
) -> tuple[context.SharedNote, ...]:
    """The shareable notes of a round's submitted responses."""
    answers = session.exec(
        select(Response.answers).where(
            Response.round_id == round_id, Response.status == ResponseStatus.submitted
        )
    ).all()
    return context.shareable_notes_from_stored(catalog, answers)


def team_report_for_round(
    *,
    session: Session,
    result: StoredTeamResult,
    previous: StoredTeamResult | None,
    organisation: str,
    branding: Branding,
    role_group_minimum: int = 2,
) -> context.TeamReport:
    """The team report of one stored result, with its rubric version, notes, the consultant's
    commentary and the last round."""
    assessment_round = session.get(AssessmentRound, result.round_id)
    if assessment_round is None:
        raise NotFoundError()
    catalog = catalog_store.catalog_for(session=session, versions=assessment_round.rubric_versions)
    return context.team_report(
        data=result.data,
        catalog=catalog,
        team=result.team,
        organisation=organisation,
        date=result.date,
        branding=branding,
        notes=round_notes(session=session, round_id=result.round_id, catalog=catalog),
        previous=previous.data if previous else None,
        role_group_minimum=role_group_minimum,
        commentary=assessment_round.commentary,
    )


def latest_team_reports(
    *,
    session: Session,
    results: list[StoredTeamResult],
    organisation: str,
    branding: Branding,
    role_group_minimum: int = 2,
) -> tuple[list[context.TeamReport], list[str]]:
    """Each team's report of its latest stored result, by team name, and the teams skipped
    (too few responses for a team report). The CLI's ``--all-teams`` and the UI's batch job."""
    latest = sorted(latest_per_team(results), key=lambda r: r.team.lower())
    reports = []
    skipped = []
    for result in latest:
        try:
            reports.append(
                team_report_for_round(
                    session=session,
                    result=result,
                    previous=previous_of(session, result),
                    organisation=organisation,
                    branding=branding,
                    role_group_minimum=role_group_minimum,
                )
            )
        except context.ResultsNotVisibleError:
            skipped.append(result.team)
    return reports, skipped


def zip_entry_names(reports: list[context.TeamReport]) -> list[str]:
    """One distinct, safe file name per report (``team-name.pdf``), in the reports' order."""
    used: set[str] = set()
    names = []
    for index, report in enumerate(reports):
        name = safe_file_name(report.team, f"team-{index + 1}")
        while name in used:
            name += "-"
        used.add(name)
        names.append(f"{name}.pdf")
    return names


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
) -> None:
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
            results = stored_results(session=session, organisation_id=organisation_id)
            if not results:
                fail(f"{organisation.name} has no stored results yet", EXIT_FAILURE)
            if all_teams:
                document = _all_teams(
                    session, results, organisation.name, branding, settings, pool, console
                )
            else:
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
                with console.status(f"Making the organisation report ({len(results)} results)…"):
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
) -> bytes:
    reports, skipped = latest_team_reports(
        session=session,
        results=results,
        organisation=organisation,
        branding=branding,
        role_group_minimum=settings.role_group_min,
    )
    for team in skipped:
        console.print(f"Skipped {team}: too few responses for a team report")
    names = zip_entry_names(reports)
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
