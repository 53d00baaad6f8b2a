"""Reports from stored results: team reports, the organisation report and every team's
report, zipped.

Reads ``RoundResult`` rows (the stored results pages and dashboards also show) through the
read rules of app.results and turns them into report contexts and PDFs. The one service behind
the pages and API (app.reports.routes, app.api.reports), the background job
(app.reports.jobs) and ``processlens report --org ID`` (app.reports.cli): nothing here knows
about HTTP or the terminal.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, col, select

from app import catalog_store
from app.accounts import tenancy
from app.accounts.tenancy import Principal
from app.config import QUESTIONNAIRES_DIR, Settings
from app.errors import ConflictError, NotFoundError
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
from app.reports.org import StoredTeamResult, latest_per_team, organisation_report
from app.results import visibility
from app.results.model import parse_stored
from app.results.reads import load_row, previous_shown, result_of
from app.rubric import repository_compare
from app.rubric.loader import Catalog

ORIGINAL = "original"


NO_RESULTS = (
    "No team of this organisation has a stored result yet, so there is no report to make. "
    "Reports appear once a round has enough submitted responses."
)


class NoResultsError(ConflictError):
    title = "No results yet"
    default_message = NO_RESULTS


def safe_file_name(name: str, fallback: str) -> str:
    """``name`` as a file name any system accepts (letters, digits, ``._-``), or ``fallback``."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:60]
    return cleaned or fallback


def zip_files(files: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in files:
            archive.writestr(name, data)
    return buffer.getvalue()


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
    found = []
    for row, assessment_round, team, unit in rows:
        # published, and only the figures the anonymity rule lets show (app.results.visibility)
        result = visibility.shown_row(session, assessment_round, row)
        if result is not None:
            found.append(
                stored_team_result(result, assessment_round, team, unit.name if unit else None)
            )
    return found


def has_stored_result(*, session: Session, organisation_id: int) -> bool:
    """Whether ``stored_results`` would find anything, asked one result at a time and stopped
    at the first shown: the organisation report's check, which must not parse and vet every
    result of a large organisation (most of its job's time and memory) to learn this."""
    candidates = session.exec(
        select(RoundResult.id, AssessmentRound.id)
        .join(AssessmentRound, col(AssessmentRound.id) == col(RoundResult.round_id))
        .join(Team, col(Team.id) == col(AssessmentRound.team_id))
        .where(Team.organisation_id == organisation_id, RoundResult.label == ORIGINAL)
        .order_by(col(Team.id), col(AssessmentRound.created_at))
    ).all()
    for result_id, round_id in candidates:
        row = session.get(RoundResult, result_id)
        assessment_round = session.get(AssessmentRound, round_id)
        if row is None or assessment_round is None:
            continue
        if visibility.shown_row(session, assessment_round, row) is not None:
            return True
    return False


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


def round_answers(*, session: Session, round_id: int) -> list[Mapping[str, Any]]:
    """The stored answers of a round's submitted responses, for what their authors ticked
    "may be shown" (notes and evidence links) and nothing else."""
    return list(
        session.exec(
            select(Response.answers).where(
                Response.round_id == round_id, Response.status == ResponseStatus.submitted
            )
        ).all()
    )


def round_notes(
    *, session: Session, round_id: int, catalog: Catalog
) -> tuple[context.SharedNote, ...]:
    """The shareable notes of a round's submitted responses."""
    answers = context.shared_answers(round_answers(session=session, round_id=round_id))
    return context.shareable_notes(catalog, answers)


def round_links(
    *, session: Session, round_id: int, catalog: Catalog
) -> tuple[context.SharedLink, ...]:
    """The shareable evidence links of a round's submitted responses."""
    answers = context.shared_answers(round_answers(session=session, round_id=round_id))
    return context.shareable_links(catalog, answers)


def team_report_for_round(
    *,
    session: Session,
    result: StoredTeamResult,
    previous: StoredTeamResult | None,
    organisation: str,
    branding: Branding,
    role_group_minimum: int = 2,
    full: bool = False,
) -> context.TeamReport:
    """The team report of one stored result, with its rubric version, notes, the consultant's
    commentary and the last round (``full``: with every answer, else the concise report)."""
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
        links=round_links(session=session, round_id=result.round_id, catalog=catalog),
        previous=previous.data if previous else None,
        role_group_minimum=role_group_minimum,
        full=full,
        commentary=assessment_round.commentary,
        repository=repository_compare.compare_stored(
            catalog=catalog,
            folder=QUESTIONNAIRES_DIR,
            stored=assessment_round.repository_signals,
            spreads=parse_stored(result.data).answers,
        )
        if assessment_round.repository_signals is not None
        else None,
    )


def latest_team_reports(
    *,
    session: Session,
    results: list[StoredTeamResult],
    organisation: str,
    branding: Branding,
    role_group_minimum: int = 2,
    full: bool = False,
) -> tuple[list[context.TeamReport], list[str]]:
    """Each team's report of its latest stored result, by team name, and the teams skipped
    (too few responses for a team report). The CLI's ``--all-teams`` and the UI's batch job
    (``full``: every report with all answers)."""
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
                    full=full,
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


def team_report_for_round_id(
    *,
    session: Session,
    settings: Settings,
    principal: Principal,
    team_id: int,
    round_id: int,
    full: bool = False,
) -> context.TeamReport:
    """The team report of a round the principal may see, from its stored result (``full``: with
    every answer, Appendix A; else the concise report).

    Raises NotFoundError for a round outside the principal's tenancy (or of another team) and
    ResultsNotVisibleError while the round has no result to show.
    """
    assessment_round = tenancy.get_round(
        session=session, principal=principal, round_id=round_id, team_id=team_id
    )
    team = session.get(Team, assessment_round.team_id)
    if team is None:
        raise NotFoundError()
    organisation = session.get(Organisation, team.organisation_id)
    if organisation is None:
        raise NotFoundError()
    # published, and only the figures the anonymity rule lets this viewer see
    viewer = visibility.viewer_of_user(session, settings, assessment_round, principal.user_id)
    result = visibility.shown_row(session, assessment_round, load_row(session, round_id), viewer)
    if result is None:
        raise context.ResultsNotVisibleError()
    stored = stored_team_result(result, assessment_round, team, None)
    return team_report_for_round(
        session=session,
        result=stored,
        previous=previous_of(session, stored),
        organisation=organisation.name,
        branding=organisation_branding(organisation, settings),
        role_group_minimum=settings.role_group_min,
        full=full,
    )


def team_pdf(report: context.TeamReport, settings: Settings) -> tuple[bytes, str]:
    """The team report's PDF (from the cache or the render pool) and its file name."""
    cache = pdf.PdfCache(settings.data_dir / "report-cache")
    document = render.team_pdf(report, cache=cache)
    suffix = "-report-full.pdf" if report.full else "-report.pdf"
    return document, safe_file_name(report.team, "team") + suffix


def organisation_pdf(
    *,
    session: Session,
    settings: Settings,
    organisation: Organisation,
    catalog: Catalog,
    hide_names: bool,
    viewer: visibility.SignedIn | None,
    pool: pdf.RenderPool | None = None,
) -> tuple[bytes, str]:
    """The organisation report's PDF and its file name (``hide_names``: teams numbered;
    ``pool``: a job's own render pool, whose limit is the job's; ``viewer``: whose own
    answers do not count).

    Raises NoResultsError while no team has a stored result.
    """
    assert organisation.id is not None
    if not has_stored_result(session=session, organisation_id=organisation.id):
        raise NoResultsError()
    report = organisation_report(
        organisation=organisation.name,
        session=session,
        organisation_id=organisation.id,
        catalog=catalog,
        branding=organisation_branding(organisation, settings),
        hide_names=hide_names,
        cell_minimum=settings.org_cell_min,
        viewer=viewer,
    )
    cache = pdf.PdfCache(settings.data_dir / "report-cache")
    document = render.report_pdf("reports/org.html", report, cache=cache, pool=pool)
    stem = safe_file_name(organisation.slug, "organisation")
    return document, f"{stem}-organisation-report{'-anonymised' if hide_names else ''}.pdf"
