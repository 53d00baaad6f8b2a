"""Analysis exports: the anonymity rules on every cell (property-tested), no cell a
spreadsheet would run, respondent-level rows without tokens, timestamps or private notes."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from app.dashboards import exports
from app.models import Respondent
from app.rubric import anonymity
from tests.dashboards import helpers
from tests.workspace.helpers import catalog

MIN = anonymity.DEFAULT_ORG_CELL_MIN
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
SPREADSHEET_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def runs_in_a_spreadsheet(cell: str) -> bool:
    """What Excel, LibreOffice and Google Sheets would read as a formula."""
    stripped = cell.lstrip(" ")
    # a (negative) decimal number is read as a number; anything else after a formula start, even
    # what Python's float() accepts ("-inf", "-INFINITY", "-1_0"), is read as a formula
    return stripped.startswith(FORMULA_STARTS) and not SPREADSHEET_NUMBER.fullmatch(stripped)


def export(session: Session, organisation_id: int, dataset: str) -> exports.Export:
    return exports.build(
        exports.Context(
            session=session,
            organisation_id=organisation_id,
            organisation="Contoso",
            catalog=catalog(),
            minimum=MIN,
            role_group_minimum=2,
        ),
        dataset,
    )


# ---------------------------------------------------------------- properties


counts_strategy = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d", "dont_know", "not_applicable"]),
    st.integers(min_value=0, max_value=12),
    max_size=6,
)


@settings(max_examples=400, deadline=None)
@given(counts=counts_strategy, extra=st.integers(0, 6), minimum=st.integers(2, 5))
def test_no_answer_group_below_the_minimum_and_none_by_subtraction(
    counts: dict[str, int], extra: int, minimum: int
) -> None:
    total = sum(counts.values()) + extra  # some respondents did not answer
    shown = exports.distribution(counts, total=total, minimum=minimum)
    assert all(count >= minimum for count in shown.values())
    # whatever is not shown, taken together (the total minus what is shown), is no group
    # below the minimum either; with nothing shown, the total is not shown either
    hidden = total - sum(shown.values())
    if shown:
        assert hidden == 0 or hidden >= minimum
        assert total >= minimum
    assert all(shown[answer] == counts.get(answer, shown[answer]) for answer in shown)


@settings(max_examples=300, deadline=None)
@given(counts=counts_strategy, extra=st.integers(0, 6), minimum=st.integers(2, 5))
def test_several_answers_per_person_hide_small_choosers_and_small_abstainers(
    counts: dict[str, int], extra: int, minimum: int
) -> None:
    total = max(counts.values(), default=0) + extra
    shown = exports.distribution(counts, total=total, minimum=minimum, multiple=True)
    for count in shown.values():
        assert count >= minimum
        assert total - count == 0 or total - count >= minimum


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cells=st.lists(
        st.one_of(
            st.text(max_size=12),
            st.sampled_from(["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\t=x", "\r=x", " =1", "-3.5"]),
            st.integers(-5, 5),
            st.floats(allow_nan=False, allow_infinity=False, width=32),
            st.none(),
            st.booleans(),
        ),
        min_size=1,
        max_size=6,
    )
)
@example(cells=["-INFINITY", "-inf", "-1e-05", "-.5", "+1"])  # float() reads these
def test_no_csv_cell_runs_as_a_formula(cells: list[Any]) -> None:
    text = exports.csv_text([f"c{i}" for i in range(len(cells))], [cells])
    rows = list(csv.reader(io.StringIO(text)))
    for cell in rows[1]:
        assert not runs_in_a_spreadsheet(cell), cell
    # numbers stay numbers, text stays readable (only an apostrophe in front)
    for raw, written in zip(cells, rows[1], strict=True):
        if isinstance(raw, str) and not runs_in_a_spreadsheet(raw):
            assert written == raw


def test_headers_are_neutralised_too() -> None:
    text = exports.csv_text(['=HYPERLINK("x")', "ok"], [])
    header = next(csv.reader(io.StringIO(text)))
    assert header == ['\'=HYPERLINK("x")', "ok"]


# ---------------------------------------------------------------- the datasets


def test_scores_per_team_and_round_follow_the_rules(session: Session) -> None:
    world = helpers.world(session)
    built = export(session, world.id, "scores")
    rows = [dict(zip(built.columns, row, strict=True)) for row in built.rows]
    teams = {row["team"] for row in rows}
    assert "Fjord" not in teams  # 2 responses: no row at all
    assert {"Atlas", "Beacon", "Comet", "Delta", "Gale", "Halo", "Ember"} <= teams
    assert len([row for row in rows if row["team"] == "Atlas"]) == 2
    assert len([row for row in rows if row["team"] == "Delta"]) == 1
    for row in rows:
        respondents = row["respondents"]
        assert row["mode"] == "solo" or (isinstance(respondents, int) and respondents >= MIN)
        assert row["closed_on"] in (helpers.Q2.date().isoformat(), helpers.Q3.date().isoformat())
    halo = next(row for row in rows if row["team"] == "Halo")
    assert halo["handoff_score"] is None
    assert halo["handoff_band_or_level"] == "not shown"
    assert halo["handoff_level"] is None
    assert halo["collaboration_score"] is not None
    assert all(
        not runs_in_a_spreadsheet(cell)
        for row in csv.reader(io.StringIO(built.csv()))
        for cell in row
    )
    document = json.loads(built.json())
    assert document["dataset"] == "scores"
    assert len(document["rows"]) == len(rows)


def test_answer_distributions_hide_small_groups(session: Session) -> None:
    world = helpers.world(session)
    built = export(session, world.id, "answers")
    assert built.rows
    by_question: dict[str, list[dict[str, Any]]] = {}
    for values in built.rows:
        row = dict(zip(built.columns, values, strict=True))
        by_question.setdefault(str(row["question"]), []).append(row)
        respondents = row["respondents"]
        assert isinstance(respondents, int)
        assert respondents >= MIN
    for rows in by_question.values():
        total = rows[0]["of_respondents"]
        hidden = total - sum(row["respondents"] for row in rows)
        assert hidden == 0 or hidden >= MIN


def test_roadmaps_and_debt_registers_per_shown_team(session: Session) -> None:
    world = helpers.world(session)
    roadmap = export(session, world.id, "roadmap")
    teams = {row[0] for row in roadmap.rows}
    assert "Fjord" not in teams
    assert "Atlas" in teams
    assert "bucket" in roadmap.columns
    assert "steps" in roadmap.columns
    debt = export(session, world.id, "debt-register")
    assert debt.columns[:4] == ("team", "business_unit", "round_id", "closed_on")


def test_respondent_rows_are_pseudonymous_dated_by_round_and_keep_private_notes_out(
    session: Session,
) -> None:
    organisation = helpers.factories.organisation(session, name="Notes")
    shared_team = helpers.team(session, organisation, "Shared", None)
    private_team = helpers.team(session, organisation, "Private", None)
    helpers.closed_round(
        session, shared_team, notes={"note": "=We pair on releases", "note_shareable": True}
    )
    helpers.closed_round(
        session, private_team, notes={"note": "Alice says no", "note_shareable": False}
    )
    small_team = helpers.team(session, organisation, "Small", None)
    helpers.closed_round(session, small_team, roles=helpers.PAIR, results_min=2)
    assert organisation.id is not None
    long = export(session, organisation.id, "responses-long")
    rows = [dict(zip(long.columns, row, strict=True)) for row in long.rows]
    assert {row["team"] for row in rows} == {"Shared", "Private"}  # not the 2-person round
    respondents = session.exec(select(Respondent)).all()
    ids = {f"r{r.id}" for r in respondents}
    assert {row["respondent"] for row in rows} <= ids
    notes = {row["note"] for row in rows if row["note"]}
    assert notes == {"=We pair on releases"}
    text = long.csv()
    assert "Alice says no" not in text
    assert "'=We pair on releases" in text
    for respondent in respondents:
        assert respondent.resume_token_hash not in text
    assert all(row["round_date"] == helpers.Q3.date().isoformat() for row in rows)
    assert "T" not in {str(row["round_date"])[10:11] for row in rows}
    # a role group shows only with at least 2 people in it (here: 2 data scientists)
    assert {row["role_group"] for row in rows} <= {
        "data_science",
        "engineering",
        "product_and_lead",
    }
    wide = export(session, organisation.id, "responses-wide")
    assert len(wide.rows) == len({row["respondent"] for row in rows})
    assert wide.columns[:6] == (
        "respondent",
        "team",
        "business_unit",
        "round_id",
        "round_date",
        "role_group",
    )


@pytest.mark.parametrize("dataset", exports.DATASET_IDS)
def test_every_dataset_of_an_empty_organisation_is_just_its_header(
    session: Session, dataset: str
) -> None:
    organisation = helpers.factories.organisation(session, name="Empty")
    assert organisation.id is not None
    built = export(session, organisation.id, dataset)
    assert built.rows == ()
    assert built.csv().count("\r\n") == 1
