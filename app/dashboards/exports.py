"""Analysis exports of an organisation (CSV and JSON), under the anonymity rules.

Datasets (``DATASETS``):

- ``scores``: one row per team and closed round: respondents, trajectory, recommended
  process, handoff level, and per practice dimension the score, coverage and band or level;
- ``answers``: answer distributions over the organisation: per question and answer, how many
  respondents chose it, over each shown team's latest closed round;
- ``roadmap`` and ``debt-register``: each shown team's latest roadmap and debt items;
- ``responses-long`` and ``responses-wide`` (consultants and admins only): one row per
  respondent and question, or per respondent, under a pseudonymous id ("r123"), with the
  round's date instead of any timestamp, the role group only where the round had enough
  people in it, notes only where their author allowed them to be shown, and no tokens.

Anonymity follows the dashboard (``app.dashboards.service``): a round appears only with the
organisation minimum of respondents (or as a solo round), a score cell only with that many
respondents behind it, and the answer distribution hides every count below the minimum
together with the smallest others of its question until nothing can be worked out by
subtraction (``app.rubric.anonymity.shown_cells``).

CSV cells a spreadsheet would run as a formula (text starting with ``=``, ``+``, ``-``, ``@``,
a tab, a carriage return or a line feed) get a leading apostrophe; numbers are written as
numbers. JSON carries the values as they are: it is data for programs, not a spreadsheet.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import func, select
from sqlmodel import Session

from app import catalog_store
from app.dashboards import queries, service
from app.models import (
    AssessmentRound,
    BusinessUnit,
    Respondent,
    Response,
    ResponseStatus,
    ResultDimension,
    ResultSummary,
    RoundResult,
    Team,
)
from app.results import exports as team_exports
from app.results import visibility
from app.results.model import TeamResult
from app.results.reads import parse_column, stored_column
from app.rubric import anonymity
from app.rubric.labels import FIT_LABELS, humanise
from app.rubric.loader import Catalog
from app.rubric.output import answer_label
from app.rubric.rules import DONT_KNOW, NOT_APPLICABLE
from app.rubric.schema import ROLE_GROUPS

FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r", "\n")
PLAIN_NUMBER: Final = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")  # read as a number
NOT_ANSWERED: Final = "(not asked or not answered)"
ORIGINAL: Final = "original"

_summary = ResultSummary.__table__  # type: ignore[attr-defined]
_dimension = ResultDimension.__table__  # type: ignore[attr-defined]
_team = Team.__table__  # type: ignore[attr-defined]
_unit = BusinessUnit.__table__  # type: ignore[attr-defined]
_round = AssessmentRound.__table__  # type: ignore[attr-defined]
_result = RoundResult.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Dataset:
    id: str
    title: str
    description: str
    respondent_level: bool = False


DATASETS: Final = (
    Dataset(
        "scores",
        "Scores per team and round",
        "Every closed round of every team: respondents, trajectory, recommended process, and "
        "per practice dimension the score, coverage and band or level.",
    ),
    Dataset(
        "answers",
        "Answer distributions",
        "How many respondents chose each answer, over each team's latest closed round, for "
        "the whole organisation.",
    ),
    Dataset(
        "roadmap",
        "Roadmaps",
        "Each team's latest roadmap: Now, Next, Later and adopted practices with steps, "
        "owners and effort.",
    ),
    Dataset(
        "debt-register",
        "Debt registers",
        "Each team's latest debt items with their category and quadrant.",
    ),
    Dataset(
        "responses-long",
        "Responses, one row per answer",
        "One row per respondent and question, under pseudonymous ids, dated by round.",
        respondent_level=True,
    ),
    Dataset(
        "responses-wide",
        "Responses, one row per respondent",
        "One row per respondent with a column per question, under pseudonymous ids.",
        respondent_level=True,
    ),
)
DATASET_IDS: Final = tuple(dataset.id for dataset in DATASETS)
FORMATS: Final = ("csv", "json")


def dataset(dataset_id: str) -> Dataset:
    return next(d for d in DATASETS if d.id == dataset_id)


# ---------------------------------------------------------------- writing


Value = str | int | float | bool | None


def neutralise(text: str) -> str:
    """Text a spreadsheet shows as written and never runs as a formula."""
    stripped = text.lstrip(" ")
    if stripped.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(stripped):
        return "'" + text
    return text


def csv_cell(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)  # a number is never run as a formula
    return neutralise(value)


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[Value]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(column) for column in columns])
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class Export:
    dataset: Dataset
    organisation: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Value, ...], ...]

    def csv(self) -> str:
        return csv_text(self.columns, self.rows)

    def json(self) -> str:
        return json.dumps(
            {
                "dataset": self.dataset.id,
                "title": self.dataset.title,
                "organisation": self.organisation,
                "columns": list(self.columns),
                "rows": [dict(zip(self.columns, row, strict=True)) for row in self.rows],
            },
            indent=2,
            ensure_ascii=False,
        )

    def render(self, fmt: str) -> str:
        return self.csv() if fmt == "csv" else self.json()

    def file_name(self, fmt: str) -> str:
        return f"{self.dataset.id}.{fmt}"


# ---------------------------------------------------------------- anonymity of exports


def round_shown(*, mode: str, respondents: int, minimum: int) -> bool:
    return service.cell_shown(mode=mode, respondents=respondents, minimum=minimum)


def distribution(
    counts: Mapping[str, int], *, total: int, minimum: int, multiple: bool = False
) -> dict[str, int]:
    """The answers of one question that may be shown, with their counts.

    ``total`` respondents were in the teams counted. For a single answer per person the
    answers split them into groups, and those who did not answer form a group of their own
    ("not asked or not answered"), so that subtracting the shown answers from the total
    reveals no group below the minimum either. With several answers per person
    (``multiple``), each answer splits them into those who chose it and those who did not.
    """
    children = {answer: count for answer, count in counts.items() if count > 0}
    if multiple:
        return {
            answer: count
            for answer, count in children.items()
            if answer
            in anonymity.shown_cells(
                total, {answer: count, NOT_ANSWERED: total - count}, minimum=minimum
            )
        }
    rest = total - sum(children.values())
    if rest > 0:
        children[NOT_ANSWERED] = rest
    shown = anonymity.shown_cells(total, children, minimum=minimum)
    return {answer: children[answer] for answer in children if answer in shown}


def role_groups_shown(roles: Sequence[str], *, minimum: int) -> frozenset[str]:
    counts = Counter(_group(role) for role in roles)
    return anonymity.shown_role_groups(
        {group: n for group, n in counts.items() if group}, minimum=minimum
    )


def _group(role: str) -> str:
    return next((group for group, roles in ROLE_GROUPS.items() if role in roles), "")


# ---------------------------------------------------------------- datasets


@dataclass(frozen=True, slots=True)
class Context:
    session: Session
    organisation_id: int
    organisation: str
    catalog: Catalog
    minimum: int
    role_group_minimum: int
    viewer: visibility.SignedIn | None = None  # None: no one in particular (the CLI)


def build(context: Context, dataset_id: str) -> Export:
    """One dataset of the organisation (reads only: summaries are written with results)."""
    builder = _BUILDERS[dataset_id]
    columns, rows = builder(context)
    return Export(dataset(dataset_id), context.organisation, tuple(columns), tuple(rows))


# long: a flat table: the export's columns, selected and written in the same order
def _scores(context: Context) -> tuple[list[str], list[tuple[Value, ...]]]:
    session = context.session
    rows: Sequence[Any] = session.execute(
        select(
            _summary.c.result_id,
            _team.c.name,
            _unit.c.name,
            _summary.c.round_id,
            _round.c.title,
            _summary.c.closed_at,
            _summary.c.period,
            _summary.c.mode,
            _summary.c.kind,
            _round.c.stage,
            _summary.c.respondents,
            _summary.c.trajectory,
            _summary.c.fit,
            _summary.c.model_name,
            _summary.c.handoff_level,
            _round.c.results_min,
        )
        .join(_team, _team.c.id == _summary.c.team_id)
        .outerjoin(_unit, _unit.c.id == _team.c.business_unit_id)
        .join(_round, _round.c.id == _summary.c.round_id)
        .where(_summary.c.organisation_id == context.organisation_id)
        .order_by(func.lower(_team.c.name), _team.c.id, _summary.c.closed_at, _summary.c.round_id)
    ).all()
    # every closed round, each counted for the viewer without their own response
    counted = visibility.counted(
        session,
        context.viewer,
        [visibility.OrgRound(r.round_id, r.mode, r.respondents, r.results_min) for r in rows],
        minimum=context.minimum,
    )
    shown = [
        row
        for row in rows
        if row.round_id not in counted.left_out
        and round_shown(
            mode=row.mode, respondents=counted.others[row.round_id], minimum=context.minimum
        )
    ]
    cells: dict[int, dict[str, Any]] = defaultdict(dict)
    titles: dict[str, tuple[int, str]] = {}
    if shown:
        for found in session.execute(
            select(_dimension).where(
                _dimension.c.result_id.in_(
                    select(_summary.c.result_id).where(
                        _summary.c.organisation_id == context.organisation_id
                    )
                )
            )
        ).all():
            cells[found.result_id][found.dimension] = found
            titles.setdefault(found.dimension, (found.position, found.title))
    dimension_ids = [d for d, _ in sorted(titles.items(), key=lambda item: item[1])]
    columns = [
        "team",
        "business_unit",
        "round_id",
        "round",
        "closed_on",
        "quarter",
        "mode",
        "kind",
        "stage",
        "respondents",
        "trajectory",
        "trajectory_fit",
        "recommended_process",
        "handoff_level",
    ]
    for d in dimension_ids:
        columns += [f"{d}_score", f"{d}_coverage", f"{d}_band_or_level"]
    out: list[tuple[Value, ...]] = []
    for row in shown:
        level_hidden = False
        values: list[Value] = []
        for d in dimension_ids:
            value = cells[row.result_id].get(d)
            if value is None:
                values += [None, None, ""]
            elif not service.cell_shown(
                mode=row.mode,
                respondents=value.respondents - (row.round_id in counted.own),
                minimum=context.minimum,
            ):
                values += [None, None, service.HIDDEN_CELL]
                level_hidden = level_hidden or value.label.startswith("Level ")
            else:
                values += [
                    None if value.score is None else round(value.score, 1),
                    round(value.coverage, 3),
                    value.label,
                ]
        out.append(
            (
                row[1],
                row[2] or "",
                row.round_id,
                row.title,
                row.closed_at.date().isoformat(),
                row.period,
                row.mode,
                row.kind,
                row.stage,
                row.respondents,
                row.trajectory,
                FIT_LABELS.get(row.fit, row.fit),
                row.model_name,
                None if level_hidden else row.handoff_level,
                *values,
            )
        )
    return columns, out


@dataclass(frozen=True, slots=True)
class LatestResult:
    team: str
    unit: str
    round_id: int
    closed_on: str
    respondents: int
    rubric_versions: Mapping[str, str]
    data: TeamResult


def _latest_results(context: Context) -> list[LatestResult]:
    """Each shown team's latest closed round with its stored result (the dashboard's rule)."""
    session = context.session
    scope, _, _ = service.scope_of(
        session=session,
        organisation_id=context.organisation_id,
        filters=service.Filters(),
        minimum=context.minimum,
        viewer=context.viewer,
    )
    shown = queries.scoped(scope)
    rows: Sequence[Any] = session.execute(
        select(
            _team.c.name,
            _unit.c.name,
            _summary.c.round_id,
            _summary.c.closed_at,
            _summary.c.respondents,
            _result.c.rubric_versions,
            stored_column(),
        )
        .select_from(shown)
        .join(_summary, _summary.c.result_id == shown.c.result_id)
        .join(_result, _result.c.id == _summary.c.result_id)
        .join(_team, _team.c.id == _summary.c.team_id)
        .outerjoin(_unit, _unit.c.id == _team.c.business_unit_id)
        .order_by(func.lower(_team.c.name), _team.c.id)
    ).all()
    return [
        LatestResult(
            team=name,
            unit=unit or "",
            round_id=round_id,
            closed_on=closed_at.date().isoformat(),
            respondents=respondents,
            rubric_versions=versions,
            data=parse_column(data),
        )
        for name, unit, round_id, closed_at, respondents, versions, data in rows
    ]


def _catalog(context: Context, versions: Mapping[str, str]) -> Catalog:
    try:
        return catalog_store.catalog_for(session=context.session, versions=versions)
    except catalog_store.RubricVersionMissingError:
        return context.catalog


def _question_text(catalog: Catalog, qid: str) -> str:
    ref = catalog.questions.get(qid)
    return ref.question.text if ref is not None else humanise(qid)


def _answer_text(catalog: Catalog, qid: str, value: Any) -> str:
    if qid not in catalog.questions and value not in (DONT_KNOW, NOT_APPLICABLE):
        return str(value)
    try:
        return answer_label(catalog, qid, value)
    except (KeyError, AttributeError, ValueError):
        return str(value)


def _answers(context: Context) -> tuple[list[str], list[tuple[Value, ...]]]:
    latest = _latest_results(context)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    totals: Counter[str] = Counter()
    teams: Counter[str] = Counter()
    order: dict[str, int] = {qid: i for i, qid in enumerate(context.catalog.questions)}
    for result in latest:
        for qid, spread in result.data.answers.items():
            counts[qid].update(spread.counts)
            totals[qid] += result.respondents
            teams[qid] += 1
    columns = [
        "question",
        "question_text",
        "answer",
        "answer_label",
        "respondents",
        "of_respondents",
        "teams",
    ]
    rows: list[tuple[Value, ...]] = []
    for qid in sorted(counts, key=lambda q: (order.get(q, len(order)), q)):
        ref = context.catalog.questions.get(qid)
        kind = ref.question.type if ref is not None else "single"
        if kind == "text":
            continue  # free text is not a distribution (and could name people)
        shown = distribution(
            counts[qid], total=totals[qid], minimum=context.minimum, multiple=kind == "multi"
        )
        for answer, count in shown.items():
            rows.append(
                (
                    qid,
                    _question_text(context.catalog, qid),
                    answer,
                    answer
                    if answer == NOT_ANSWERED
                    else _answer_text(context.catalog, qid, answer),
                    count,
                    totals[qid],
                    teams[qid],
                )
            )
    return columns, rows


def _team_rows(
    context: Context,
    columns: Sequence[str],
    rows_of: Any,
) -> tuple[list[str], list[tuple[Value, ...]]]:
    out: list[tuple[Value, ...]] = []
    for result in _latest_results(context):
        catalog = _catalog(context, result.rubric_versions)
        for item in rows_of(result.data, catalog):
            out.append(
                (
                    result.team,
                    result.unit,
                    result.round_id,
                    result.closed_on,
                    *(_flat(item.get(column)) for column in columns),
                )
            )
    return ["team", "business_unit", "round_id", "closed_on", *columns], out


def _flat(value: Any) -> Value:
    if isinstance(value, list | tuple):
        return " | ".join(str(v) for v in value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _roadmap(context: Context) -> tuple[list[str], list[tuple[Value, ...]]]:
    return _team_rows(context, team_exports.ROADMAP_COLUMNS, team_exports.roadmap_rows)


def _debt(context: Context) -> tuple[list[str], list[tuple[Value, ...]]]:
    return _team_rows(context, team_exports.DEBT_COLUMNS, team_exports.debt_rows)


@dataclass(frozen=True, slots=True)
class RespondentAnswers:
    respondent: str  # pseudonymous: "r" and the respondent's number, as in stored results
    team: str
    unit: str
    round_id: int
    round_date: str
    role_group: str
    catalog: Catalog
    answers: Mapping[str, Any]


def _respondents(context: Context) -> list[RespondentAnswers]:
    """Submitted responses of every shown closed round, oldest round first."""
    session = context.session
    rounds: Sequence[Any] = session.execute(
        select(
            _summary.c.round_id,
            _summary.c.mode,
            _summary.c.respondents,
            _summary.c.closed_at,
            _team.c.name,
            _unit.c.name,
            _result.c.rubric_versions,
        )
        .join(_team, _team.c.id == _summary.c.team_id)
        .outerjoin(_unit, _unit.c.id == _team.c.business_unit_id)
        .join(_result, _result.c.id == _summary.c.result_id)
        .where(_summary.c.organisation_id == context.organisation_id)
        .order_by(_summary.c.closed_at, _summary.c.round_id)
    ).all()
    shown = {
        row.round_id: row
        for row in rounds
        if round_shown(mode=row.mode, respondents=row.respondents, minimum=context.minimum)
    }
    if not shown:
        return []
    responses: Sequence[Any] = session.execute(
        select(Respondent.id, Respondent.round_id, Respondent.role, Response.answers)  # type: ignore[call-overload]
        .join(Response, Response.respondent_id == Respondent.id)
        .where(
            Response.status == ResponseStatus.submitted,
            Respondent.round_id.in_(list(shown)),  # type: ignore[attr-defined]
        )
        .order_by(Respondent.round_id, Respondent.id)
    ).all()
    roles_by_round: dict[int, list[str]] = defaultdict(list)
    for _, round_id, role, _ in responses:
        roles_by_round[round_id].append(role)
    groups_shown = {
        round_id: role_groups_shown(roles, minimum=context.role_group_minimum)
        for round_id, roles in roles_by_round.items()
    }
    result = []
    for respondent_id, round_id, role, answers in responses:
        info = shown[round_id]
        group = _group(role)
        result.append(
            RespondentAnswers(
                respondent=f"r{respondent_id}",
                team=info[4],
                unit=info[5] or "",
                round_id=round_id,
                round_date=info.closed_at.date().isoformat(),
                role_group=group if group in groups_shown[round_id] else "",
                catalog=_catalog(context, info.rubric_versions),
                answers=answers,
            )
        )
    return result


def _value(raw: Any) -> Value:
    if isinstance(raw, list):
        return ";".join(str(v) for v in raw)
    if isinstance(raw, str | int | float | bool) or raw is None:
        return raw
    return str(raw)


def _responses_long(context: Context) -> tuple[list[str], list[tuple[Value, ...]]]:
    columns = [
        "respondent",
        "team",
        "business_unit",
        "round_id",
        "round_date",
        "role_group",
        "question",
        "answer",
        "answer_label",
        "evidence_backed",
        "note",
    ]
    rows: list[tuple[Value, ...]] = []
    for person in _respondents(context):
        for qid in sorted(person.answers):
            answer = person.answers[qid]
            value = answer.get("value") if isinstance(answer, Mapping) else answer
            shareable = isinstance(answer, Mapping) and answer.get("note_shareable") is True
            rows.append(
                (
                    person.respondent,
                    person.team,
                    person.unit,
                    person.round_id,
                    person.round_date,
                    person.role_group,
                    qid,
                    _value(value),
                    _answer_text(person.catalog, qid, value) if value is not None else "",
                    bool(isinstance(answer, Mapping) and answer.get("evidence_backed")),
                    (answer.get("note") or "") if shareable else "",
                )
            )
    return columns, rows


def _responses_wide(context: Context) -> tuple[list[str], list[tuple[Value, ...]]]:
    people = _respondents(context)
    order: dict[str, int] = {qid: i for i, qid in enumerate(context.catalog.questions)}
    questions = sorted(
        {qid for person in people for qid in person.answers},
        key=lambda q: (order.get(q, len(order)), q),
    )
    columns = ["respondent", "team", "business_unit", "round_id", "round_date", "role_group"]
    rows: list[tuple[Value, ...]] = []
    for person in people:
        values = []
        for qid in questions:
            answer = person.answers.get(qid)
            raw = answer.get("value") if isinstance(answer, Mapping) else answer
            values.append(_value(raw))
        rows.append(
            (
                person.respondent,
                person.team,
                person.unit,
                person.round_id,
                person.round_date,
                person.role_group,
                *values,
            )
        )
    return columns + questions, rows


_BUILDERS: Final = {
    "scores": _scores,
    "answers": _answers,
    "roadmap": _roadmap,
    "debt-register": _debt,
    "responses-long": _responses_long,
    "responses-wide": _responses_wide,
}
