"""The organisation report: the dashboard's aggregates of stored results, anonymity, hidden
names, the PDF."""

from __future__ import annotations

import io
import os
import re
import subprocess
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from app import db, demo
from app.cli import app as cli_app
from app.dashboards import service
from app.models import Organisation, RoundResult
from app.reports import batch, org, pdf, render
from app.reports.branding import default_branding
from app.rubric import anonymity
from app.rubric.answers_file import AnswersFile, assess_file
from app.rubric.loader import Catalog
from app.rubric.output import to_data
from tests import factories
from tests.conftest import make_test_settings
from tests.dashboards import helpers
from tests.reports import published

NAMES = ["Search", "Payments", "Fraud <script>", "Tiny team", "Lead alone"]
# per team: mode, respondents' roles (every dimension answered by at least 3 of them, bar the
# pair); each team closes a round in Q1 at a low level and one in Q2 at a high level
SHAPES: list[tuple[str, tuple[str, ...]]] = [
    ("team_survey", helpers.FULL_TEAM),
    ("team_survey", (*helpers.FULL_TEAM, "software_engineer")),
    ("team_survey", tuple(r for r in helpers.FULL_TEAM if r != "product_manager")),
    ("team_survey", helpers.PAIR),
    ("solo", ("team_lead",)),
]
Q1 = datetime(2026, 3, 10, 12, tzinfo=UTC)
Q2 = datetime(2026, 6, 10, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def data(catalog: Catalog, example: AnswersFile) -> dict[str, Any]:
    return to_data(catalog, assess_file(catalog, example))


def _organisation(session: Session, names: Sequence[str] = NAMES) -> int:
    """An organisation whose teams (of ``names``) closed a round in Q1 and one in Q2."""
    organisation = factories.organisation(session, name="Northwind")
    unit = helpers.unit(session, organisation, "Unit A")
    for name, (mode, roles) in zip(NAMES, SHAPES, strict=True):
        if name not in names:
            continue
        team = helpers.team(session, organisation, name, unit)
        quarters: tuple[tuple[datetime, helpers.Level], ...] = ((Q1, "low"), (Q2, "high"))
        for closed_at, level in quarters:
            helpers.closed_round(
                session,
                team,
                roles=roles,
                closed_at=closed_at,
                level=level,
                mode=mode,
                results_min=2 if len(roles) == 2 else 3,
            )
    assert organisation.id is not None
    return organisation.id


def _report(session: Session, catalog: Catalog, organisation_id: int, **more: Any) -> org.OrgReport:
    return org.organisation_report(
        organisation="Northwind",
        session=session,
        organisation_id=organisation_id,
        catalog=catalog,
        branding=default_branding(),
        **more,
    )


def test_small_teams_and_the_siblings_that_would_reveal_them_are_left_out(
    session: Session, catalog: Catalog
) -> None:
    summary = org.aggregate(
        session=session, organisation_id=_organisation(session), catalog=catalog
    )
    shown = {line.label for line in summary.lines}
    # 2 respondents is below 3; hiding it alone would leave it recoverable from the total,
    # so the smallest sibling (5 respondents) goes too; the solo round is the lead's own
    assert shown == {"Search", "Payments", "Lead alone"}
    assert summary.teams_total == 5
    assert summary.teams_shown == 3
    assert summary.hidden_reason is not None
    assert summary.hidden_reason.startswith("2 teams not shown")
    assert summary.respondents_shown == 6 + 7 + 1
    # hidden teams are in no aggregate either
    assert sum(row.count for row in summary.trajectories) == 3
    assert all(sum(counts) == 3 for _, counts in summary.level_counts)


def test_latest_round_per_team_and_the_trend_by_quarter(session: Session, catalog: Catalog) -> None:
    organisation_id = _organisation(session)
    report = _report(session, catalog, organisation_id)
    summary = report.aggregate
    assert {line.date for line in summary.lines} == {"2026-06-10"}
    assert report.period == "2026-03-10 to 2026-06-10"
    assert summary.trend_periods == ("2026 Q1", "2026 Q2")
    assert summary.trend
    for _, (earlier, later) in summary.trend:
        assert earlier is not None
        assert later is not None
        assert later > earlier
    assert report.trend_chart is not None


def test_the_report_is_the_dashboard_over_every_team(session: Session, catalog: Catalog) -> None:
    """One aggregation path: the report maps the dashboard's own numbers."""
    organisation_id = _organisation(session)
    summary = org.aggregate(session=session, organisation_id=organisation_id, catalog=catalog)
    dashboard = service.build(
        session=session,
        organisation_id=organisation_id,
        filters=service.Filters(),
        catalog=catalog,
        minimum=anonymity.DEFAULT_ORG_CELL_MIN,
    )
    for name in ("dimensions", "means", "band_counts", "level_counts", "trend", "upgrades"):
        assert getattr(summary, name) == getattr(dashboard, name), name
    lines = service.all_lines(session=session, dashboard=dashboard)
    assert [(line.label, line.model) for line in summary.lines] == [
        (line.label, line.model) for line in lines
    ]


def test_a_thin_cell_shows_no_score_in_the_report(session: Session, catalog: Catalog) -> None:
    organisation = factories.organisation(session, name="Thin")
    for name, roles in (("Big", helpers.FULL_TEAM), ("Thin", helpers.THIN_TEAM)):
        team = helpers.team(session, organisation, name, None)
        helpers.closed_round(session, team, roles=roles, closed_at=Q2, level="mid")
    assert organisation.id is not None
    summary = org.aggregate(session=session, organisation_id=organisation.id, catalog=catalog)
    lines = {line.label: line for line in summary.lines}
    assert set(lines) == {"Big", "Thin"}
    titles = [title for _, title in summary.dimensions]
    thin = dict(zip(titles, lines["Thin"].scores, strict=True))
    # the thin team's handoff rests on 2 people: no score, no level
    assert thin["Handoff maturity"] == (None, "not shown")
    assert lines["Thin"].handoff_level is None
    assert thin["Collaboration between data science and engineering"][0] is not None


def test_hidden_names_number_the_teams_by_score(session: Session, catalog: Catalog) -> None:
    report = _report(session, catalog, _organisation(session), hide_names=True)
    labels = [line.label for line in report.aggregate.lines]
    assert labels == ["Team 01", "Team 02", "Team 03"]
    assert all(line.unit == "" for line in report.aggregate.lines)
    html = render.render_html("reports/org.html", report, medium="pdf")
    for name in NAMES:
        assert name not in html
        assert name.replace("<", "&lt;") not in html
    assert "Unit A" not in html


def test_heatmap_rows_match_the_team_lines(session: Session, catalog: Catalog) -> None:
    report = _report(session, catalog, _organisation(session))
    (heatmap,) = report.heatmaps
    (trace,) = heatmap.figure["data"]
    assert trace["z"] == [[score for score, _ in line.scores] for line in report.aggregate.lines]


def test_organisation_pdf(session: Session, catalog: Catalog, render_pool: pdf.RenderPool) -> None:
    report = org.organisation_report(
        organisation="Northwind <b>Payments</b>",
        session=session,
        organisation_id=_organisation(session),
        catalog=catalog,
        branding=default_branding(),
    )
    document = render.report_pdf("reports/org.html", report, pool=render_pool)
    with pikepdf.open(io.BytesIO(document)) as parsed:
        assert str(parsed.Root.Lang) == "en"
        assert "/StructTreeRoot" in parsed.Root
        assert len(parsed.pages) >= 4  # cover, contents and overview, heatmap, team table
    assert b"<b>Payments" not in document


def test_stored_results_are_read_as_plain_data(
    session: Session, catalog: Catalog, data: dict[str, Any]
) -> None:
    organisation = factories.organisation(session)
    team = factories.team(session, organisation, name="Search team")
    assessment_round = factories.assessment_round(session, catalog, team, mode="team_survey")
    assert assessment_round.id is not None
    published.publish(session, assessment_round, 6)
    session.add(
        RoundResult(round_id=assessment_round.id, computed=data, respondent_count=6, final=True)
    )
    session.flush()
    assert organisation.id is not None
    (result,) = batch.stored_results(session=session, organisation_id=organisation.id)
    assert result.team == "Search team"
    assert result.business_unit == "Platform"
    assert result.respondents == 6
    assert result.mode == "team_survey"
    assert result.data["recommendation"] == data["recommendation"]
    report = batch.team_report_for_round(
        session=session,
        result=result,
        previous=None,
        organisation=organisation.name,
        branding=default_branding(),
    )
    assert report.team == "Search team"
    assert report.notes == ()


def test_an_organisation_with_only_small_teams_shows_nothing_about_them(
    session: Session, catalog: Catalog
) -> None:
    report = _report(session, catalog, _organisation(session, ["Tiny team"]))
    assert report.aggregate.teams_shown == 0
    assert report.line_tables == ()
    html = render.render_html("reports/org.html", report, medium="pdf")
    assert "Tiny team" not in html
    assert "No team can be shown yet." in html


@pytest.fixture
def seeded(
    database_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """A SQLite database with a seeded organisation, and the environment pointing at it."""
    url = database_factory.create("sqlite")
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("PROCESSLENS_ENVIRONMENT", "test")
    monkeypatch.setenv("PROCESSLENS_DATA_DIR", str(tmp_path / "data"))
    engine = db.create_db_engine(make_test_settings(url))
    try:
        with Session(engine) as session:
            demo.seed_organisation(session=session, name="Seeded <b>Org</b>", teams=2, rounds=2)
            session.commit()
            organisation = session.exec(select(Organisation)).first()
            assert organisation is not None
            return {"id": organisation.id, "name": organisation.name}
    finally:
        engine.dispose()


def test_the_cli_makes_the_organisation_report_from_stored_results(
    seeded: dict[str, Any], tmp_path: Path
) -> None:
    output = tmp_path / "org.pdf"
    result = CliRunner().invoke(
        cli_app, ["report", "--org", str(seeded["id"]), "-o", str(output), "--hide-names"]
    )
    assert result.exit_code == 0, result.output
    with pikepdf.open(output) as parsed:
        assert len(parsed.pages) >= 4
    missing = CliRunner().invoke(cli_app, ["report", "--org", "999999", "-o", str(output)])
    assert missing.exit_code == 2
    assert "no organisation with id 999999" in missing.output


def test_the_cli_refuses_an_organisation_report_with_nothing_to_show(
    seeded: dict[str, Any], tmp_path: Path
) -> None:
    """An organisation none of whose teams has a stored result: a clear error, no file."""
    engine = db.create_db_engine(make_test_settings(os.environ["DATABASE_URL"]))
    try:
        with Session(engine) as session:
            empty = factories.organisation(session, name="Empty Org")
            factories.team(session, empty, name="Quiet")
            session.commit()
            empty_id = empty.id
    finally:
        engine.dispose()
    output = tmp_path / "empty.pdf"
    refused = CliRunner().invoke(cli_app, ["report", "--org", str(empty_id), "-o", str(output)])
    assert refused.exit_code == 1, refused.output
    assert "Empty Org has no stored results yet" in refused.output
    assert not output.exists()


@pytest.mark.slow
def test_the_cli_zips_every_teams_report(seeded: dict[str, Any], tmp_path: Path) -> None:
    output = tmp_path / "teams.zip"
    result = CliRunner().invoke(
        cli_app, ["report", "--org", str(seeded["id"]), "--all-teams", "-o", str(output)]
    )
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(output) as archive:
        names = archive.namelist()
        assert len(names) == 2
        assert all(archive.read(name).startswith(b"%PDF") for name in names)


def test_organisation_pdf_layout_keeps_headers_apart_and_pages_full(
    session: Session, catalog: Catalog, render_pool: pdf.RenderPool, tmp_path: Path
) -> None:
    """The team table's headers stay apart (each in its own column, wrapped if need be), and
    short chapters share pages instead of leaving most of one empty (page 2 held only the
    contents and the overview)."""
    report = _report(session, catalog, _organisation(session))
    path = tmp_path / "org.pdf"
    path.write_bytes(render.report_pdf("reports/org.html", report, pool=render_pool))
    layout = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    (header,) = [line for line in layout.splitlines() if re.match(r"\s*Team\s+Trajectory", line)]
    columns = re.split(r"\s{2,}", header.strip())
    assert {"Collaboration", "Debt", "Handoff", "Level", "Resp.", "Δ"} <= set(columns), header
    pages = layout.split("\f")
    # the overview's page also holds the next chapter
    assert "Overview" in pages[1]
    assert "Bands and handoff levels" in pages[1]
    with pikepdf.open(path) as parsed:
        assert len(parsed.pages) <= 6  # 8 before: page 2 held only the contents and overview


@pytest.mark.slow
def test_the_cli_zips_every_teams_full_report(seeded: dict[str, Any], tmp_path: Path) -> None:
    """`--all-teams --full`: each team's report with all answers; `--full` alone with `--org`
    (the organisation report has no answers appendix) is refused."""
    output = tmp_path / "teams.zip"
    result = CliRunner().invoke(
        cli_app, ["report", "--org", str(seeded["id"]), "--all-teams", "--full", "-o", str(output)]
    )
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(output) as archive:
        assert len(archive.namelist()) == 2
        for name in archive.namelist():
            path = tmp_path / name
            path.write_bytes(archive.read(name))
            text = subprocess.run(
                ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
            ).stdout
            assert "Answers per question" in text
    refused = CliRunner().invoke(
        cli_app, ["report", "--org", str(seeded["id"]), "--full", "-o", str(output)]
    )
    assert refused.exit_code == 2
    assert "--all-teams" in refused.output
