"""The organisation report: aggregates from stored results, anonymity, hidden names, the PDF."""

from __future__ import annotations

import copy
import io
import zipfile
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from app import db, demo
from app.cli import app as cli_app
from app.models import Organisation, RoundResult
from app.reports import batch, org, pdf, render
from app.reports.branding import default_branding
from app.rubric.answers_file import AnswersFile, assess_file
from app.rubric.loader import Catalog
from app.rubric.output import to_data
from tests import factories
from tests.conftest import make_test_settings

NAMES = ["Search", "Payments", "Fraud <script>", "Tiny team", "Lead alone"]


@pytest.fixture(scope="module")
def data(catalog: Catalog, example: AnswersFile) -> dict[str, Any]:
    return to_data(catalog, assess_file(catalog, example))


def _results(data: dict[str, Any]) -> list[org.StoredTeamResult]:
    results = []
    shapes = [
        ("team_survey", 6),
        ("team_survey", 7),
        ("team_survey", 5),
        ("team_survey", 2),
        ("solo", 1),
    ]
    for team_id, (name, (mode, respondents)) in enumerate(zip(NAMES, shapes, strict=True), 1):
        for round_number, day in enumerate(("2026-03-10", "2026-06-10")):
            result = copy.deepcopy(data)
            for dimension in result["dimensions"].values():
                if dimension["score"] is not None:
                    dimension["score"] = round(
                        dimension["score"] - 10 + team_id + 5 * round_number, 1
                    )
            results.append(
                org.StoredTeamResult(
                    team_id=team_id,
                    team=name,
                    business_unit="Unit A",
                    round_id=team_id * 10 + round_number,
                    date=day,
                    mode=mode,
                    respondents=respondents,
                    data=result,
                )
            )
    return results


def test_small_teams_and_the_siblings_that_would_reveal_them_are_left_out(
    data: dict[str, Any], catalog: Catalog
) -> None:
    summary = org.aggregate(_results(data), catalog=catalog)
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


def test_latest_round_per_team_and_the_trend_by_quarter(
    data: dict[str, Any], catalog: Catalog
) -> None:
    summary = org.aggregate(_results(data), catalog=catalog)
    assert {line.date for line in summary.lines} == {"2026-06-10"}
    assert summary.trend_periods == ("2026 Q1", "2026 Q2")
    for _, values in summary.trend:
        assert values[1] is not None
        assert values[0] is not None
        assert values[1] == pytest.approx(values[0] + 5, abs=0.11)


def test_hidden_names_number_the_teams_by_score(data: dict[str, Any], catalog: Catalog) -> None:
    report = org.organisation_report(
        organisation="Northwind",
        results=_results(data),
        catalog=catalog,
        branding=default_branding(),
        hide_names=True,
    )
    labels = [line.label for line in report.aggregate.lines]
    assert labels == ["Team 01", "Team 02", "Team 03"]
    assert all(line.unit == "" for line in report.aggregate.lines)
    html = render.render_html("reports/org.html", report, medium="pdf")
    for name in NAMES:
        assert name not in html
        assert name.replace("<", "&lt;") not in html
    assert "Unit A" not in html


def test_heatmap_rows_match_the_team_lines(data: dict[str, Any], catalog: Catalog) -> None:
    report = org.organisation_report(
        organisation="Northwind",
        results=_results(data),
        catalog=catalog,
        branding=default_branding(),
    )
    (heatmap,) = report.heatmaps
    (trace,) = heatmap.figure["data"]
    assert trace["z"] == [[score for score, _ in line.scores] for line in report.aggregate.lines]


def test_organisation_pdf(
    data: dict[str, Any], catalog: Catalog, render_pool: pdf.RenderPool
) -> None:
    report = org.organisation_report(
        organisation="Northwind <b>Payments</b>",
        results=_results(data),
        catalog=catalog,
        branding=default_branding(),
    )
    document = render.report_pdf("reports/org.html", report, pool=render_pool)
    with pikepdf.open(io.BytesIO(document)) as parsed:
        assert str(parsed.Root.Lang) == "en"
        assert "/StructTreeRoot" in parsed.Root
        assert len(parsed.pages) >= 6
    assert b"<b>Payments" not in document


def test_stored_results_are_read_as_plain_data(
    session: Session, catalog: Catalog, data: dict[str, Any]
) -> None:
    organisation = factories.organisation(session)
    team = factories.team(session, organisation, name="Search team")
    assessment_round = factories.assessment_round(session, catalog, team, mode="team_survey")
    assert assessment_round.id is not None
    session.add(RoundResult(round_id=assessment_round.id, computed=data, respondent_count=6))
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
    data: dict[str, Any], catalog: Catalog
) -> None:
    small = [r for r in _results(data) if r.team == "Tiny team"]
    report = org.organisation_report(
        organisation="Northwind", results=small, catalog=catalog, branding=default_branding()
    )
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
        assert len(parsed.pages) >= 6
    missing = CliRunner().invoke(cli_app, ["report", "--org", "999999", "-o", str(output)])
    assert missing.exit_code == 2
    assert "no organisation with id 999999" in missing.output


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
