"""Bulk set-up of an organisation from a CSV file: business units, teams and team leads.

One use case for the page (app.admin.imports), the API (app.api.setup) and ``processlens
import``: ``preview`` reads the file and says what every row would do without writing;
``plan_changes`` is the same check with the changes it implies, which app.accounts.setup_import
writes (all or nothing, in short batches that readers do not see until the end). The same
format comes out of ``export_csv``, so a file can be exported, edited and imported again.

The format (a header row, columns in any order, names matched without regard to case):

    unit,team,lead_email,lead_name

- a row with a unit and no team declares the business unit;
- a row with a team puts the team in its unit (a unit that exists or is declared in the file);
  with a ``lead_email`` the person leads the team (``lead_name`` names a new account).

Idempotent: units and teams are keyed by name within the organisation; a second upload of the
same file changes nothing, and what a later file leaves out is never deleted. A new team-lead
account gets a one-time set-password link (app.accounts.users reset links). An e-mail that
already has an account is only assigned to the team if it is a team lead's; any other account
(an administrator's, a consultant's, an organisation leader's, a disabled one) is left exactly
as it is and the row says so: no link, no role, no membership is ever given to it.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import io
from collections.abc import Iterator, Sequence
from typing import Final

from sqlmodel import Session, col, select

from app.accounts import organisations, users
from app.accounts.tenancy import Principal
from app.config import Settings
from app.errors import DomainError, InvalidInputError
from app.models import BusinessUnit, Membership, Organisation, Team, User, UserRole

# Rows per file (README); a larger set-up is split into files. The file is written in short
# batches under a hidden organisation and moved into the real one in one short transaction
# (app.accounts.setup_import), so the cap is about what a preview page can show, not the
# write lock.
MAX_ROWS: Final = 5000
COLUMNS: Final = ("unit", "team", "lead_email", "lead_name")
# the characters a spreadsheet would run as a formula: an export prefixes such a cell with an
# apostrophe (the rule of app.results.exports.neutralise, a layer above) and an import removes it
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


class SetupFileError(InvalidInputError):
    """The file as a whole cannot be read (encoding, header, size); nothing was changed."""


@dataclasses.dataclass(frozen=True)
class SetupRow:
    line: int
    unit: str
    team: str
    lead_email: str
    lead_name: str


@dataclasses.dataclass(frozen=True)
class RowOutcome:
    """What one line does (or would do); ``error`` set means the file cannot be imported."""

    line: int
    unit: str
    team: str
    lead_email: str
    outcome: str
    error: str | None = None


@dataclasses.dataclass(frozen=True)
class SetupPlan:
    rows: tuple[RowOutcome, ...]
    units_created: int
    teams_created: int
    teams_moved: int
    leads_created: int
    leads_assigned: int

    @property
    def errors(self) -> tuple[RowOutcome, ...]:
        return tuple(row for row in self.rows if row.error is not None)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclasses.dataclass(frozen=True)
class PasswordLink:
    email: str
    url: str


@dataclasses.dataclass(frozen=True)
class SetupResult:
    plan: SetupPlan
    password_links: tuple[PasswordLink, ...]  # shown once (a job's: app.accounts.setup_import)


def may_import(*, principal: Principal, settings: Settings) -> bool:
    """Admins always; consultants when the installation lets them set up client organisations
    (``consultants_create_organisations``), and then only into the organisations they are
    assigned to (tenancy loads the organisation)."""
    return principal.is_admin or (
        principal.role is UserRole.consultant and settings.consultants_create_organisations
    )


# ---------------------------------------------------------------- reading the file


def _unneutralise(cell: str) -> str:
    cell = cell.strip()
    if cell.startswith("'") and cell[1:2] and cell[1:].startswith(FORMULA_STARTS):
        return cell[1:]
    return cell


def _neutralise(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SetupFileError(
            "The file is not UTF-8 text. Save it as 'CSV UTF-8' and upload it again; "
            "nothing was changed."
        ) from None


def _header(reader: Iterator[list[str]]) -> dict[str, int]:
    first = next(reader, None)
    columns = [cell.strip().lower() for cell in first or []]
    unknown = [name for name in columns if name and name not in COLUMNS]
    if not first or unknown or "team" not in columns or len(set(columns)) != len(columns):
        raise SetupFileError(
            "The first line must name the columns: "
            + ",".join(COLUMNS)
            + " (team is required"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            + "). Nothing was changed."
        )
    return {name: index for index, name in enumerate(columns) if name}


def _cells(line: int, cells: list[str], index: dict[str, int]) -> SetupRow:
    def cell(name: str) -> str:
        position = index.get(name)
        if position is None or position >= len(cells):
            return ""
        return _unneutralise(cells[position])

    return SetupRow(line, cell("unit"), cell("team"), cell("lead_email"), cell("lead_name"))


def parse(data: bytes) -> list[SetupRow]:
    """The file's rows with their line numbers; a file that cannot be read as a whole raises
    SetupFileError (blank lines are skipped)."""
    if b"\x00" in data:
        raise SetupFileError("This is not a CSV text file; nothing was changed.")
    reader = csv.reader(io.StringIO(_text(data), newline=""))
    rows: list[SetupRow] = []
    try:
        index = _header(reader)
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) == MAX_ROWS:
                raise SetupFileError(
                    f"The file has more than {MAX_ROWS} rows; split it into files of at most "
                    f"{MAX_ROWS} rows. Nothing was changed."
                )
            rows.append(_cells(reader.line_num, cells, index))
    except csv.Error as problem:
        raise SetupFileError(
            f"line {reader.line_num}: the CSV cannot be read ({problem}); nothing was changed."
        ) from None
    return rows


# ---------------------------------------------------------------- what each row does


@dataclasses.dataclass(frozen=True)
class Action:
    """One change the plan makes when applied; names, not ids, for what the file creates."""

    kind: str  # unit | team | move | new_lead | lead
    unit: str = ""
    team: str = ""
    email: str = ""
    lead_name: str = ""
    user_id: int = 0


@dataclasses.dataclass
class _State:
    """The organisation as it would be after the rows read so far."""

    units: set[str]
    declared_units: set[str]
    team_units: dict[str, str]  # team name -> its unit name ("" none), existing or planned
    team_lines: dict[str, int]  # teams named in the file -> first line
    accounts: dict[str, User]
    leads: set[tuple[str, str]]  # (e-mail, team name) led already or by an earlier row
    new_accounts: set[str]


def _suggest(name: str, known: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f" — did you mean '{close[0]}'?" if close else ""


def _load_state(session: Session, organisation_id: int, rows: Sequence[SetupRow]) -> _State:
    unit_names = {
        unit.id: unit.name
        for unit in session.exec(
            select(BusinessUnit).where(BusinessUnit.organisation_id == organisation_id)
        ).all()
    }
    teams = session.exec(select(Team).where(Team.organisation_id == organisation_id)).all()
    emails = {users.normalise_email(row.lead_email) for row in rows if row.lead_email}
    accounts = (
        {user.email: user for user in session.exec(select(User).where(col(User.email).in_(emails)))}
        if emails
        else {}
    )
    leads = session.exec(
        select(User.email, Team.name)
        .join(Membership, col(Membership.user_id) == col(User.id))
        .join(Team, col(Team.id) == col(Membership.team_id))
        .where(Membership.organisation_id == organisation_id, col(User.email).in_(emails))
    ).all()
    return _State(
        units=set(unit_names.values()),
        declared_units=set(),
        team_units={
            team.name: unit_names.get(team.business_unit_id, "") if team.business_unit_id else ""
            for team in teams
        },
        team_lines={},
        accounts=accounts,
        leads={(email, team) for email, team in leads},
        new_accounts=set(),
    )


def _check_names(row: SetupRow) -> str | None:
    try:
        if row.unit:
            organisations.check_name(row.unit, what="business unit")
        if row.team:
            organisations.check_name(row.team, what="team")
        if row.lead_email:
            users.check_email(row.lead_email)
        if row.lead_name:
            users.check_display_name(row.lead_name)
    except DomainError as problem:
        return problem.message
    if not row.team and (row.lead_email or row.lead_name):
        return "a team lead needs a team on the same line."
    if not row.team and not row.unit:
        return "the line names neither a unit nor a team."
    return None


def _unit_row(row: SetupRow, state: _State) -> tuple[str, list[Action]]:
    if row.unit in state.units:
        state.declared_units.add(row.unit)
        return f"unit '{row.unit}' exists; unchanged", []
    state.units.add(row.unit)
    state.declared_units.add(row.unit)
    return f"unit '{row.unit}' will be created", [Action("unit", unit=row.unit)]


def _team_part(row: SetupRow, state: _State) -> tuple[str, list[Action]]:
    if row.unit and row.unit not in state.units:
        raise InvalidInputError(
            f"unit '{row.unit}' does not exist{_suggest(row.unit, state.units)} "
            "(declare it on a line of its own, with no team)"
        )
    earlier = state.team_lines.get(row.team)
    if earlier is not None:
        if state.team_units[row.team] != row.unit:
            where = (
                f"unit '{state.team_units[row.team]}'" if state.team_units[row.team] else "no unit"
            )
            raise InvalidInputError(f"team '{row.team}' is in {where} on line {earlier}")
        return f"team '{row.team}' as on line {earlier}", []
    state.team_lines[row.team] = row.line
    if row.team not in state.team_units:
        state.team_units[row.team] = row.unit
        return f"team '{row.team}' will be created", [Action("team", unit=row.unit, team=row.team)]
    if state.team_units[row.team] != row.unit:
        state.team_units[row.team] = row.unit
        target = f"unit '{row.unit}'" if row.unit else "no unit"
        return f"team '{row.team}' exists; will move to {target}", [
            Action("move", unit=row.unit, team=row.team)
        ]
    return f"team '{row.team}' exists; unchanged", []


def _lead_part(row: SetupRow, state: _State) -> tuple[str, list[Action]]:
    email = users.normalise_email(row.lead_email)
    if (email, row.team) in state.leads:
        return f"{email} leads it already", []
    state.leads.add((email, row.team))
    account = state.accounts.get(email)
    if account is None:
        if email in state.new_accounts:
            return f"{email} (new, above) will lead it", [
                Action("lead", team=row.team, email=email)
            ]
        state.new_accounts.add(email)
        name = row.lead_name or email.split("@", 1)[0]
        return f"new team-lead account {email} with a one-time set-password link", [
            Action("new_lead", team=row.team, email=email, lead_name=name)
        ]
    if account.role != UserRole.team_lead or not account.is_active:
        # the same words whatever the account is, so a consultant's preview does not tell
        # which role (or state) another organisation's person has
        return (
            f"{email} already has an account that is not an active team lead's: left "
            "unchanged and not assigned"
        ), []
    assert account.id is not None
    return f"existing team lead {email} will lead it (no new link)", [
        Action("lead", team=row.team, email=email, user_id=account.id)
    ]


def _row(row: SetupRow, state: _State) -> tuple[RowOutcome, list[Action]]:
    def outcome(text: str, error: str | None = None) -> RowOutcome:
        return RowOutcome(row.line, row.unit, row.team, row.lead_email, text, error)

    problem = _check_names(row)
    if problem is not None:
        return outcome("refused", f"line {row.line}: {problem}"), []
    if not row.team:
        text, actions = _unit_row(row, state)
        return outcome(text), actions
    try:
        text, actions = _team_part(row, state)
        if row.lead_email:
            lead_text, lead_actions = _lead_part(row, state)
            text, actions = f"{text}; {lead_text}", actions + lead_actions
    except InvalidInputError as error:
        return outcome("refused", f"line {row.line}: {error.message}"), []
    return outcome(text), actions


def _normalised(row: SetupRow) -> SetupRow:
    return dataclasses.replace(
        row, unit=" ".join(row.unit.split()), team=" ".join(row.team.split())
    )


def plan_changes(
    session: Session, organisation: Organisation, rows: Sequence[SetupRow]
) -> tuple[SetupPlan, list[Action]]:
    assert organisation.id is not None
    rows = [_normalised(row) for row in rows]
    state = _load_state(session, organisation.id, rows)
    outcomes: list[RowOutcome] = []
    actions: list[Action] = []
    for row in rows:
        outcome, row_actions = _row(row, state)
        outcomes.append(outcome)
        actions.extend(row_actions)

    def count(kind: str) -> int:
        return sum(1 for action in actions if action.kind == kind)

    plan = SetupPlan(
        rows=tuple(outcomes),
        units_created=count("unit"),
        teams_created=count("team"),
        teams_moved=count("move"),
        leads_created=count("new_lead"),
        leads_assigned=count("lead"),
    )
    return plan, actions


def preview(*, session: Session, organisation: Organisation, data: bytes) -> SetupPlan:
    """What importing ``data`` would do, row by row; writes nothing. A file that cannot be
    read raises SetupFileError."""
    plan, _actions = plan_changes(session, organisation, parse(data))
    return plan


# ---------------------------------------------------------------- writing


class SetupRefusedError(InvalidInputError):
    """A line has an error: nothing was written (the plan says which lines)."""

    def __init__(self, plan: SetupPlan) -> None:
        first = plan.errors[0].error or ""
        more = len(plan.errors) - 1
        super().__init__(
            first
            + (f" (and {more} more line{'s' if more > 1 else ''})" if more else "")
            + ". Nothing was changed; correct the file and upload it again."
        )
        self.plan = plan


# ---------------------------------------------------------------- the same format out


def export_csv(*, session: Session, organisation: Organisation) -> str:
    """The organisation's units, teams and team leads in the import format (cells a
    spreadsheet would run as formulas are prefixed with an apostrophe, removed on import)."""
    assert organisation.id is not None
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for unit in organisations.units_of(session=session, organisation_id=organisation.id):
        writer.writerow([_neutralise(unit.name), "", "", ""])
    rows = session.exec(
        select(Team, BusinessUnit.name, User.email, User.display_name)
        .join(BusinessUnit, col(BusinessUnit.id) == col(Team.business_unit_id), isouter=True)
        .join(
            Membership,
            (col(Membership.team_id) == col(Team.id)) & (Membership.role == UserRole.team_lead),
            isouter=True,
        )
        .join(User, col(User.id) == col(Membership.user_id), isouter=True)
        .where(Team.organisation_id == organisation.id)
        .order_by(col(Team.name), col(User.email))
    ).all()
    for team, unit_name, email, display_name in rows:
        writer.writerow(
            [
                _neutralise(unit_name or ""),
                _neutralise(team.name),
                email or "",
                _neutralise(display_name or ""),
            ]
        )
    return buffer.getvalue()
