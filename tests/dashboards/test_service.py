"""The dashboard's data: anonymity on every cell, filters, hidden names, the cache, and the
same numbers as the organisation report (one set of definitions)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlmodel import Session, col, delete, select

from app.dashboards import queries, service
from app.models import (
    AssessmentRound,
    ResultDimension,
    ResultSummary,
    RoundResult,
)
from app.reports import org
from app.results import summaries
from app.results.service import store_round_result
from app.rubric import anonymity
from tests.dashboards import helpers
from tests.workspace.helpers import catalog

MIN = anonymity.DEFAULT_ORG_CELL_MIN


def build(session: Session, organisation_id: int, **filters: Any) -> service.Dashboard:
    return service.dashboard(
        session=session,
        organisation_id=organisation_id,
        filters=service.Filters(**filters),
        catalog=catalog(),
        minimum=MIN,
    )


def every_line(session: Session, dashboard: service.Dashboard) -> dict[str, service.Line]:
    return {line.label: line for line in service.all_lines(session=session, dashboard=dashboard)}


def test_small_teams_their_revealing_siblings_and_thin_cells_are_hidden_everywhere(
    session: Session,
) -> None:
    world = helpers.world(session)
    dashboard = build(session, world.id)
    lines = every_line(session, dashboard)
    # Fjord (2 responses) is hidden, and so is one 3-person team, or subtracting the others
    # from the total would reveal Fjord; the solo round is the lead's own and is shown
    assert "Fjord" not in lines
    assert len({"Ember", "Halo"} & set(lines)) == 1
    assert {"Atlas", "Beacon", "Comet", "Delta", "Gale"} <= set(lines)
    assert dashboard.teams_total == 8
    assert dashboard.teams_shown == dashboard.teams_matching == 6
    assert dashboard.hidden_reason is not None
    assert dashboard.hidden_reason.startswith("2 teams not shown")
    thin = lines["Ember"] if "Ember" in lines else lines["Halo"]
    titles = [title for _, title in dashboard.dimensions]
    by_title = dict(zip(titles, thin.cells, strict=True))
    # the thin team's handoff and debt rest on 2 people: hidden, with the handoff level
    assert not by_title["Handoff maturity"].shown
    assert by_title["Handoff maturity"].score is None
    assert by_title["Technical-debt practices"].label == service.HIDDEN_CELL
    assert by_title["Collaboration between data science and engineering"].shown
    assert thin.handoff_level is None

    # every aggregate is built from shown cells only, so nothing hidden is in a total
    shown_respondents = sum(line.respondents for line in lines.values())
    assert dashboard.respondents_shown == shown_respondents
    assert sum(row.count for row in dashboard.trajectories) == 6
    assert sum(row.count for row in dashboard.models) == 6
    for i, (title, mean) in enumerate(dashboard.means):
        scores = [s for line in lines.values() if (s := line.cells[i].score) is not None]
        assert mean == pytest.approx(round(math.fsum(scores) / len(scores), 1), abs=0.051)
        teams_with_band = sum(
            1 for line in lines.values() if line.cells[i].shown and line.cells[i].score is not None
        )
        bands = dict(dashboard.band_counts).get(title)
        if bands is not None:
            assert sum(bands) == teams_with_band
    levels = dict(dashboard.level_counts)
    assert sum(levels["Overall"]) == 5  # the thin team's levels rest on 2 people
    assert sum(row.teams for row in dashboard.units) == 6


def test_the_rule_for_one_cell_is_the_engines(session: Session) -> None:
    for respondents in range(8):
        expected = bool(anonymity.shown_cells(respondents, {"x": respondents}, minimum=MIN))
        assert (
            anonymity.cell_shown(mode="team_survey", respondents=respondents, minimum=MIN)
            is expected
        )
        assert (respondents >= service.visible_from(MIN)) is expected
    assert anonymity.cell_shown(mode="solo", respondents=1, minimum=MIN)


def test_filters_narrow_only_what_may_be_shown(session: Session) -> None:
    world = helpers.world(session)
    north = build(session, world.id, unit_id=world.units["North"].id)
    names = set(every_line(session, north))
    assert names <= {"Atlas", "Beacon", "Halo", "Fjord"}
    assert {"Atlas", "Beacon"} <= names
    assert "Fjord" not in names
    assert all(row.unit == "North" for row in north.units)

    # the earlier quarter: the rounds of the teams that had one there
    earlier = build(session, world.id, period_from="2026 Q2", period_to="2026 Q2")
    assert earlier.trend_periods == ("2026 Q2",)
    earlier_lines = service.all_lines(session=session, dashboard=earlier)
    assert {line.label for line in earlier_lines} == set(helpers.EARLIER)
    assert {line.date for line in earlier_lines} == {helpers.Q2.date().isoformat()}

    # a process model: only shown teams are matched, and the hidden ones are not counted
    everyone = build(session, world.id)
    model_id, model_name = everyone.options.models[0]
    by_model = build(session, world.id, model=model_id)
    assert by_model.teams_matching == dict((row.label, row.count) for row in everyone.models).get(
        model_name
    )
    assert by_model.hidden_reason == everyone.hidden_reason
    assert by_model.options.models == everyone.options.models

    # a band: only teams whose shown cell has it
    dimension_id, _, label = everyone.options.bands[0]
    by_band = build(session, world.id, band=(dimension_id, label))
    index = [d for d, _ in everyone.dimensions].index(dimension_id)
    matched = service.all_lines(session=session, dashboard=by_band)
    assert matched
    assert all(line.cells[index].label == label and line.cells[index].shown for line in matched)


def test_hidden_names_number_teams_by_score_and_leave_units_out(session: Session) -> None:
    world = helpers.world(session)
    dashboard = build(session, world.id, hide_names=True)
    lines = service.all_lines(session=session, dashboard=dashboard)
    assert [line.label for line in lines] == [f"Team {i:02d}" for i in range(1, len(lines) + 1)]
    assert all(line.unit == "" for line in lines)
    assert not dashboard.units
    assert not dashboard.unit_trend
    means = [
        math.fsum(s) / len(s)
        for line in lines
        if (s := [c.score for c in line.cells if c.score is not None])
    ]
    assert means == sorted(means, reverse=True)
    names = {team.name for team in world.teams.values()}
    assert not any(name in repr(dashboard) for name in names)


def test_the_dashboard_agrees_with_the_organisation_report(session: Session) -> None:
    """The organisation report reads the dashboard's own aggregates (one path), so they
    match; this guards the report's mapping of them into its view model."""
    organisation = helpers.factories.organisation(session, name="Parity")
    area = helpers.unit(session, organisation, "Area")
    levels: list[helpers.Level] = ["low", "mid", "high", "mid", "high"]
    for number, level in enumerate(levels):
        team = helpers.team(session, organisation, f"Team {number}", area)
        helpers.closed_round(session, team, closed_at=helpers.Q2, level="low")
        helpers.closed_round(session, team, closed_at=helpers.Q3, level=level, handoff="mid")
    assert organisation.id is not None
    dashboard = build(session, organisation.id)
    report = org.aggregate(
        session=session, organisation_id=organisation.id, catalog=catalog(), cell_minimum=MIN
    )
    assert dashboard.dimensions == report.dimensions
    assert (dashboard.teams_total, dashboard.teams_shown) == (
        report.teams_total,
        report.teams_shown,
    )
    assert dashboard.respondents_shown == report.respondents_shown
    for (title, mine), (theirs_title, theirs) in zip(dashboard.means, report.means, strict=True):
        assert title == theirs_title
        assert mine == pytest.approx(theirs, abs=0.11)
    assert dashboard.band_parts == report.band_parts
    assert dashboard.band_counts == report.band_counts
    assert dashboard.level_counts == report.level_counts
    assert dict((r.label, r.count) for r in dashboard.trajectories) == dict(
        (r.label, r.count) for r in report.trajectories
    )
    assert dict((r.label, r.count) for r in dashboard.models) == dict(
        (r.label, r.count) for r in report.models
    )
    assert {t: dict(m) for t, m in dashboard.mix} == {t: dict(m) for t, m in report.mix}
    _same_top(dashboard.upgrades, report.upgrades)
    _same_top(dashboard.hot_spots, report.hot_spots)
    assert dashboard.trend_periods == report.trend_periods
    for (title, mine_values), (_, theirs_values) in zip(dashboard.trend, report.trend, strict=True):
        assert mine_values == pytest.approx(theirs_values, abs=0.11), title
    lines = service.all_lines(session=session, dashboard=dashboard)
    assert [line.label for line in lines] == [line.label for line in report.lines]
    for mine_line, their_line in zip(lines, report.lines, strict=True):
        assert [c.label for c in mine_line.cells] == [label for _, label in their_line.scores]
        assert [c.score for c in mine_line.cells] == pytest.approx(
            [score for score, _ in their_line.scores], abs=0.051
        )
        assert (mine_line.trajectory, mine_line.model) == (their_line.trajectory, their_line.model)
        assert mine_line.handoff_level == their_line.handoff_level
        assert mine_line.change == their_line.change


def _same_top(mine: tuple[service.CountRow, ...], theirs: tuple[service.CountRow, ...]) -> None:
    """Equal counts, allowing another order (or cut) among ties at the same count."""
    assert [row.count for row in mine] == [row.count for row in theirs]
    cut = mine[-1].count if mine else 0
    assert {(r.label, r.count, r.detail) for r in mine if r.count > cut} == {
        (r.label, r.count, r.detail) for r in theirs if r.count > cut
    }


def test_the_cache_answers_until_a_result_changes(session: Session) -> None:
    world = helpers.world(session)
    cache = service.DashboardCache()

    def cached() -> service.Dashboard:
        return service.dashboard(
            session=session,
            organisation_id=world.id,
            filters=service.Filters(),
            catalog=catalog(),
            minimum=MIN,
            cache=cache,
        )

    first = cached()
    assert cached() is first
    # a new closed round (the submissions of a round that then closed) invalidates it
    helpers.closed_round(session, world.teams["Atlas"], closed_at=helpers.Q3, level="low")
    second = cached()
    assert second is not first
    assert second.data_version != first.data_version
    assert cached() is second


def test_summaries_are_written_with_their_results(session: Session) -> None:
    world = helpers.world(session)
    latest = world.rounds["Atlas"][-1]
    # stored with the result, before anyone opens a dashboard
    summary = session.exec(select(ResultSummary).where(ResultSummary.round_id == latest.id)).one()
    assert summary.latest
    assert summary.latest_in_period
    earlier = session.exec(
        select(ResultSummary).where(ResultSummary.round_id == world.rounds["Atlas"][0].id)
    ).one()
    assert not earlier.latest
    assert summaries.rebuild(session=session, organisation_id=world.id) == 0
    # a result computed again (as after erasing a respondent) is summarised again at once
    session.exec(delete(RoundResult).where(col(RoundResult.round_id) == latest.id))
    session.flush()
    store_round_result(session=session, assessment_round=latest)
    assert summaries.rebuild(session=session, organisation_id=world.id) == 0
    assert every_line(session, build(session, world.id))["Atlas"].round_id == latest.id


def test_a_rebuild_follows_changes_made_around_stored_results(session: Session) -> None:
    world = helpers.world(session)
    latest = world.rounds["Atlas"][-1]
    # a reopened round leaves the dashboard; its team's earlier round becomes the latest
    latest.status = "open"
    session.add(latest)
    session.flush()
    summaries.rebuild(session=session, organisation_id=world.id)
    line = every_line(session, build(session, world.id))["Atlas"]
    assert line.round_id == world.rounds["Atlas"][0].id
    # a team moved to another unit is counted there
    atlas = world.teams["Atlas"]
    atlas.business_unit_id = world.units["South"].id
    session.add(atlas)
    session.flush()
    summaries.rebuild(session=session, organisation_id=world.id)
    moved = build(session, world.id, unit_id=world.units["South"].id)
    assert "Atlas" in every_line(session, moved)


def test_a_dashboard_view_writes_nothing(session: Session) -> None:
    world = helpers.world(session)
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(str(args[2]).lstrip().split(None, 1)[0].upper())

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", record)
    try:
        dashboard = build(session, world.id)
        service.all_lines(session=session, dashboard=dashboard)
        build(session, world.id, hide_names=True, period_from="2026 Q2")
    finally:
        event.remove(connection, "before_cursor_execute", record)
    assert dashboard.teams_shown == 6
    assert statements
    assert not {"INSERT", "UPDATE", "DELETE"} & set(statements)


def test_summaries_missing_from_before_are_built_at_startup(session: Session, app: Any) -> None:
    world = helpers.world(session)
    # a database from before summaries were written with results
    session.exec(delete(ResultSummary).where(col(ResultSummary.organisation_id) == world.id))
    session.commit()
    assert build(session, world.id).empty
    with TestClient(app):
        pass
    dashboard = build(session, world.id)
    assert dashboard.teams_shown == 6
    assert summaries.rebuild(session=session, organisation_id=world.id) == 0


def test_an_unreadable_stored_result_costs_only_its_own_summary(session: Session) -> None:
    world = helpers.world(session)
    latest = world.rounds["Atlas"][-1]
    stored = session.exec(select(RoundResult).where(RoundResult.round_id == latest.id)).one()
    stored.computed = {"written by": "something else"}
    session.add(stored)
    session.exec(delete(ResultSummary).where(col(ResultSummary.organisation_id) == world.id))
    session.flush()
    assert summaries.backfill(session=session) == 10  # 11 results, one unreadable
    lines = every_line(session, build(session, world.id))
    assert lines["Atlas"].round_id == world.rounds["Atlas"][0].id
    assert "Beacon" in lines


def test_the_stored_cells_are_the_means_of_the_response_scores(session: Session) -> None:
    world = helpers.world(session)
    build(session, world.id)
    atlas_round = world.rounds["Atlas"][-1]
    result = session.exec(select(RoundResult).where(RoundResult.round_id == atlas_round.id)).one()
    cells = session.exec(
        select(ResultDimension).where(ResultDimension.result_id == result.id)
    ).all()
    assert cells
    for cell in cells:
        stored = result.computed["dimensions"][cell.dimension]
        assert cell.score == pytest.approx(stored["score"], abs=0.051)
        assert cell.coverage == pytest.approx(stored["coverage"], abs=0.0006)
        assert cell.respondents == (6 if cell.dimension == "collaboration" else 5)


def test_an_organisation_without_closed_rounds_is_empty(session: Session) -> None:
    organisation = helpers.factories.organisation(session, name="Newcomer")
    team = helpers.team(session, organisation, "Only team", None)
    helpers.factories.assessment_round(session, catalog(), team, status="open")
    assert organisation.id is not None
    dashboard = build(session, organisation.id)
    assert dashboard.empty
    assert dashboard.teams_total == 0
    assert dashboard.lines == ()
    assert session.exec(select(AssessmentRound)).first() is not None
    assert queries.periods(session=session, organisation_id=organisation.id) == []
