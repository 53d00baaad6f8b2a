"""Admin commands: everything the admin pages do, from the command line.

`processlens user|org|unit|team|token|audit ...` and `processlens assign|unassign`. Passwords
are never taken as arguments (they would end up in shell history): they are typed at a
hidden prompt or read from standard input with --password-stdin. Every change is recorded in
the audit log with ``"via": "cli"``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlmodel import Session, col, select

from app import db
from app.accounts import api_tokens, audit, bulk_setup, organisations, setup_import, sso, users
from app.accounts.tenancy import MAX_ID, ROLE_LABELS, Principal
from app.cli_session import database_session, fail
from app.models import ApiToken, Organisation, Team, User, UserRole

console = Console(highlight=False)

user_app = typer.Typer(
    help="User accounts: create, list, passwords, roles, disable.", no_args_is_help=True
)
org_app = typer.Typer(help="Organisations: create, list, delete.", no_args_is_help=True)
unit_app = typer.Typer(help="Business units of an organisation.", no_args_is_help=True)
team_app = typer.Typer(help="Teams of an organisation: create, list, delete.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens: create, list, revoke.", no_args_is_help=True)

# The command line acts as an administrator; audit entries say it came from here.
CLI_PRINCIPAL = Principal(
    user_id=0,
    email="command line",
    display_name="command line",
    role=UserRole.admin,
    organisation_ids=frozenset(),
    team_ids=frozenset(),
    via="api",
)
VIA = {"via": "cli"}
# Services record their own events; this actor adds ``"via": "cli"`` to each.
CLI_ACTOR = audit.Actor.cli()


def _user(session: Session, email: str) -> User:
    user = users.find_by_email(session=session, email=email)
    if user is None:
        fail(f"no account with the e-mail address {email}")
    return user


def _organisation(session: Session, slug: str) -> Organisation:
    found = session.exec(select(Organisation).where(Organisation.slug == slug)).first()
    if found is None:
        found = session.exec(select(Organisation).where(Organisation.name == slug)).first()
    if found is None:
        fail(f"no organisation with the short name {slug!r} (see `processlens org list`)")
    return found


def _team(session: Session, organisation: Organisation, name: str) -> Team:
    found = session.exec(
        select(Team).where(Team.organisation_id == organisation.id, Team.name == name)
    ).first()
    if found is None:
        fail(f"no team {name!r} in {organisation.slug} (see `processlens team list`)")
    return found


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    password: str = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    return password


# ---------------------------------------------------------------- users


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Argument(help="E-mail address (the sign-in name).")],
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    role: Annotated[
        UserRole, typer.Option("--role", help="Role of the account.")
    ] = UserRole.team_lead,
    set_password: Annotated[
        bool, typer.Option("--set-password", help="Type a password now (hidden prompt).")
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create an account. Without a password, prints a one-time link to choose one."""
    password = _read_password(password_stdin) if (set_password or password_stdin) else None
    with database_session() as (session, settings):
        user = users.create_user(
            session=session,
            email=email,
            display_name=name,
            role=role,
            password=password,
            actor=CLI_ACTOR,
        )
        link = (
            None
            if password
            else users.reset_url(
                settings=settings, token=users.make_reset_token(settings=settings, user=user)
            )
        )
    console.print(f"Created {escape(user.email)} ({ROLE_LABELS[role]}).")
    if link:
        console.print("One-time link to choose a password (valid 24 hours):")
        typer.echo(link)


@user_app.command("list")
def user_list() -> None:
    """List every account."""
    with database_session() as (session, _settings):
        rows = users.list_users(session=session)
        table = Table("id", "e-mail", "name", "role", "state")
        for user in rows:
            state = (
                "disabled"
                if not user.is_active
                else ("active" if user.password_hash else "no password")
            )
            table.add_row(
                str(user.id), escape(user.email), escape(user.display_name), user.role, state
            )
    if rows:
        console.print(table)
    else:
        console.print("No accounts yet. Create one with `processlens user create`.")


@user_app.command("set-password")
def user_set_password(
    email: Annotated[str, typer.Argument(help="E-mail address of the account.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Set a password (hidden prompt); ends the account's sessions."""
    password = _read_password(password_stdin)
    with database_session() as (session, _settings):
        user = _user(session, email)
        users.set_password(session=session, user=user, password=password)
        audit.record(
            session=session,
            action="password.set",
            target_type="user",
            target_id=user.id,
            details=VIA,
        )
    console.print(f"Password set for {escape(user.email)}; their sessions have ended.")


@user_app.command("reset-link")
def user_reset_link(
    email: Annotated[str, typer.Argument(help="E-mail address of the account.")],
) -> None:
    """Print a one-time link to choose a new password (valid 24 hours)."""
    with database_session() as (session, settings):
        user = _user(session, email)
        if not user.is_active:
            fail("the account is disabled; enable it first")
        link = users.issue_reset_link(
            session=session, settings=settings, user=user, actor=CLI_ACTOR
        )
    typer.echo(link)


@user_app.command("unlink-sso")
def user_unlink_sso(
    email: Annotated[str, typer.Argument(help="E-mail address of the account.")],
) -> None:
    """Forget the account's single sign-on identity and end its sessions; the next single
    sign-on links again (after the account's password, if it has one)."""
    with database_session() as (session, _settings):
        user = _user(session, email)
        removed = sso.unlink(session=session, user=user, actor=CLI_ACTOR)
    if removed:
        console.print(f"Unlinked single sign-on from {escape(user.email)}; sessions ended.")
    else:
        console.print(f"{escape(user.email)} had no single sign-on identity.")


def _set_active(email: str, active: bool) -> None:
    with database_session() as (session, _settings):
        user = _user(session, email)
        users.set_active(session=session, user=user, active=active, actor=CLI_ACTOR)
    console.print(f"{'Enabled' if active else 'Disabled'} {escape(email)}.")


@user_app.command("disable")
def user_disable(
    email: Annotated[str, typer.Argument(help="E-mail address of the account.")],
) -> None:
    """Disable an account and end its sessions at once."""
    _set_active(email, False)


@user_app.command("enable")
def user_enable(
    email: Annotated[str, typer.Argument(help="E-mail address of the account.")],
) -> None:
    """Enable a disabled account."""
    _set_active(email, True)


@user_app.command("set-role")
def user_set_role(
    email: Annotated[str, typer.Argument(help="E-mail address of the account.")],
    role: Annotated[UserRole, typer.Argument(help="The new role.")],
) -> None:
    """Change an account's role (its assignments are removed)."""
    with database_session() as (session, _settings):
        user = _user(session, email)
        users.set_role(session=session, user=user, role=role, actor=CLI_ACTOR)
    console.print(f"{escape(email)} is now {ROLE_LABELS[role]}.")


# ---------------------------------------------------------------- organisations, units, teams


@org_app.command("create")
def org_create(name: Annotated[str, typer.Argument(help="Name of the organisation.")]) -> None:
    """Create an organisation; prints its short name (used by the other commands)."""
    with database_session() as (session, _settings):
        org = organisations.create_organisation(session=session, name=name, actor=CLI_ACTOR)
    console.print(f"Created {escape(org.name)} (short name: {escape(org.slug)}).")


@org_app.command("list")
def org_list() -> None:
    """List organisations with their units and teams counts."""
    with database_session() as (session, _settings):
        rows = organisations.visible_organisations(session=session, principal=CLI_PRINCIPAL)
        table = Table("id", "short name", "name", "units", "teams")
        for org in rows:
            assert org.id is not None
            units = organisations.units_of(session=session, organisation_id=org.id)
            teams = organisations.teams_of(
                session=session, principal=CLI_PRINCIPAL, organisation_id=org.id
            )
            table.add_row(
                str(org.id), escape(org.slug), escape(org.name), str(len(units)), str(len(teams))
            )
    if rows:
        console.print(table)
    else:
        console.print("No organisations yet. Create one with `processlens org create NAME`.")


@org_app.command("delete")
def org_delete(
    slug: Annotated[str, typer.Argument(help="Short name of the organisation.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Delete an organisation with everything in it (teams, rounds, answers, results)."""
    if not yes:
        typer.confirm(f"Delete {slug} and everything in it? This cannot be undone", abort=True)
    with database_session() as (session, _settings):
        org = _organisation(session, slug)
        counts = organisations.delete_organisation(
            session=session, organisation=org, actor=CLI_ACTOR
        )
    console.print(
        f"Deleted {escape(slug)}: {counts.teams} teams, {counts.rounds} rounds, "
        f"{counts.respondents} respondents."
    )


@unit_app.command("create")
def unit_create(
    organisation: Annotated[str, typer.Argument(help="Short name of the organisation.")],
    name: Annotated[str, typer.Argument(help="Name of the business unit.")],
) -> None:
    """Add a business unit to an organisation."""
    with database_session() as (session, _settings):
        org = _organisation(session, organisation)
        unit = organisations.create_unit(
            session=session, organisation=org, name=name, actor=CLI_ACTOR
        )
    console.print(f"Added the business unit {escape(unit.name)} to {escape(org.name)}.")


@team_app.command("create")
def team_create(
    organisation: Annotated[str, typer.Argument(help="Short name of the organisation.")],
    name: Annotated[str, typer.Argument(help="Name of the team.")],
    unit: Annotated[str | None, typer.Option("--unit", help="Business unit name.")] = None,
) -> None:
    """Add a team to an organisation, optionally in a business unit."""
    with database_session() as (session, _settings):
        org = _organisation(session, organisation)
        assert org.id is not None
        unit_id = None
        if unit is not None:
            match = [
                u
                for u in organisations.units_of(session=session, organisation_id=org.id)
                if u.name == unit
            ]
            if not match:
                fail(f"no business unit {unit!r} in {org.slug}")
            unit_id = match[0].id
        team = organisations.create_team(
            session=session,
            principal=CLI_PRINCIPAL,
            organisation=org,
            name=name,
            unit_id=unit_id,
            actor=CLI_ACTOR,
        )
    console.print(f"Added the team {escape(team.name)} to {escape(org.name)}.")


@team_app.command("list")
def team_list(
    organisation: Annotated[str, typer.Argument(help="Short name of the organisation.")],
) -> None:
    """List an organisation's teams."""
    with database_session() as (session, _settings):
        org = _organisation(session, organisation)
        assert org.id is not None
        teams = organisations.teams_of(
            session=session, principal=CLI_PRINCIPAL, organisation_id=org.id
        )
        for team in teams:
            typer.echo(f"{team.id}\t{team.name}")
    if not teams:
        console.print("No teams yet. Add one with `processlens team create`.")


@team_app.command("delete")
def team_delete(
    organisation: Annotated[str, typer.Argument(help="Short name of the organisation.")],
    name: Annotated[str, typer.Argument(help="Name of the team.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Delete a team with its rounds, answers and results."""
    if not yes:
        typer.confirm(f"Delete the team {name} and everything in it?", abort=True)
    with database_session() as (session, _settings):
        org = _organisation(session, organisation)
        team = _team(session, org, name)
        organisations.delete_team(session=session, team=team, actor=CLI_ACTOR)
    console.print(f"Deleted the team {escape(name)}.")


# ---------------------------------------------------------------- assignments


def assign(
    email: Annotated[str, typer.Argument(help="E-mail address of the account.")],
    organisation: Annotated[str, typer.Argument(help="Short name of the organisation.")],
    team: Annotated[str | None, typer.Option("--team", help="Team name (team leads).")] = None,
) -> None:
    """Assign a consultant or org leader to an organisation, or a team lead to a team."""
    with database_session() as (session, _settings):
        user = _user(session, email)
        org = _organisation(session, organisation)
        team_id = _team(session, org, team).id if team else None
        organisations.assign(
            session=session,
            principal=CLI_PRINCIPAL,
            organisation=org,
            user=user,
            team_id=team_id,
            actor=CLI_ACTOR,
        )
    where = f"the team {team} of {org.name}" if team else org.name
    console.print(f"Assigned {escape(email)} to {escape(where)}.")


def unassign(
    email: Annotated[str, typer.Argument(help="E-mail address of the account.")],
    organisation: Annotated[str, typer.Argument(help="Short name of the organisation.")],
    team: Annotated[str | None, typer.Option("--team", help="Team name (team leads).")] = None,
) -> None:
    """Remove an assignment."""
    with database_session() as (session, _settings):
        user = _user(session, email)
        org = _organisation(session, organisation)
        assert org.id is not None
        team_id = _team(session, org, team).id if team else None
        found = [
            a
            for a in organisations.assignments_of(session=session, organisation_id=org.id)
            if a.user_id == user.id and a.team_id == team_id
        ]
        if not found:
            fail("no such assignment")
        membership = organisations.get_membership(
            session=session, organisation_id=org.id, membership_id=found[0].membership_id
        )
        organisations.unassign(session=session, membership=membership, actor=CLI_ACTOR)
    console.print(f"Removed the assignment of {escape(email)}.")


# ---------------------------------------------------------------- API tokens


@token_app.command("create")
def token_create(
    email: Annotated[str, typer.Argument(help="E-mail address of the token's owner.")],
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. 'nightly export'.")],
) -> None:
    """Create an API token for an account; it is printed once and never stored in clear."""
    with database_session() as (session, settings):
        user = _user(session, email)
        created = api_tokens.create(
            session=session, settings=settings, user=user, name=name, actor=CLI_ACTOR
        )
    console.print(f"Token {created.row.id} for {escape(email)} (shown only now):", style="bold")
    typer.echo(created.token)


@token_app.command("list")
def token_list(email: Annotated[str, typer.Argument(help="E-mail address of the owner.")]) -> None:
    """List an account's tokens (never the secrets)."""
    with database_session() as (session, _settings):
        user = _user(session, email)
        assert user.id is not None
        rows = api_tokens.list_for_user(session=session, user_id=user.id)
        for row in rows:
            state = "revoked" if row.revoked_at else "active"
            typer.echo(f"{row.id}\t{row.name}\t{state}")
    if not rows:
        console.print("No tokens.")


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="Id of the token (see token list).")],
) -> None:
    """Revoke an API token."""
    with database_session() as (session, _settings):
        row = (
            session.exec(select(ApiToken).where(col(ApiToken.id) == token_id)).first()
            if 1 <= token_id <= MAX_ID
            else None
        )
        if row is None:
            fail(f"no API token {token_id}")
        api_tokens.revoke(session=session, row=row, actor=CLI_ACTOR)
    console.print(f"Token {token_id} is revoked.")


# ---------------------------------------------------------------- audit log


def audit_command(
    limit: Annotated[int, typer.Option(help="How many events.", min=1, max=1000)] = 50,
    action: Annotated[str | None, typer.Option(help="Only actions starting with this.")] = None,
) -> None:
    """Show the newest audit events."""
    with database_session() as (session, _settings):
        log = audit.recent(session=session, limit=limit, action=action)
    table = Table("when (UTC)", "action", "who", "target", "details")
    for row in log.rows:
        table.add_row(
            row.at.strftime("%Y-%m-%d %H:%M:%S"),
            escape(row.action),
            escape(row.actor),
            escape(row.target),
            escape(", ".join(f"{k}={v}" for k, v in row.details)),
        )
    console.print(table)


# ---------------------------------------------------------------- bulk set-up


def _print_plan(plan: bulk_setup.SetupPlan) -> None:
    table = Table("line", "unit", "team", "lead", "outcome")
    for row in plan.rows:
        table.add_row(
            str(row.line),
            escape(row.unit),
            escape(row.team),
            escape(row.lead_email),
            f"[red]{escape(row.error)}[/red]" if row.error else escape(row.outcome),
        )
    console.print(table)


def import_command(
    organisation: Annotated[str, typer.Argument(help="Short name of the organisation.")],
    file: Annotated[
        str, typer.Argument(help="The CSV file ('-' for standard input; with --export, output).")
    ],
    preview: Annotated[
        bool, typer.Option("--preview", help="Show what each line would do; write nothing.")
    ] = False,
    export: Annotated[
        bool,
        typer.Option(
            "--export", help="Write the organisation's units, teams and leads to FILE instead."
        ),
    ] = False,
) -> None:
    """Import business units, teams and team leads from a CSV file, all or nothing.

    The file is UTF-8 CSV with the header unit,team,lead_email,lead_name (at most 5,000 rows).
    A line with a unit and no team declares the unit; a line with a team puts it in its unit,
    with an optional team lead. Units and teams are matched by name, so importing the same
    file again changes nothing, and what a later file leaves out is never deleted. A new
    e-mail gets a team-lead account and a one-time set-password link, printed once; an
    existing account is only assigned to the team if it is a team lead's. Any line with an
    error refuses the whole file (exit 1, nothing written).

    Example: processlens import acme teams.csv --preview, then processlens import acme teams.csv
    """
    with database_session() as (session, settings):
        org = _organisation(session, organisation)
        if export:
            text = bulk_setup.export_csv(session=session, organisation=org)
            if file == "-":
                sys.stdout.write(text)
            else:
                with open(file, "w", encoding="utf-8", newline="") as out:
                    out.write(text)
                console.print(f"Wrote the set-up of {escape(org.name)} to {escape(file)}.")
            return
        try:
            data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
        except OSError as problem:
            fail(f"cannot read {file}: {problem.strerror}")
        if preview:
            plan = bulk_setup.preview(session=session, organisation=org, data=data)
            _print_plan(plan)
            if not plan.ok:
                count = len(plan.errors)
                fail(
                    f"{count} {'line' if count == 1 else 'lines'} with an error; "
                    "importing would change nothing"
                )
            return
        org_id = org.id
        assert org_id is not None
        session.rollback()  # the import writes in short transactions of its own
        timings = db.BatchTimings()
        try:
            result = setup_import.import_file(
                sessions=db.session_factory(session.get_bind()),
                settings=settings,
                organisation_id=org_id,
                data=data,
                actor=CLI_ACTOR,
                timings=timings,
            )
        except bulk_setup.SetupRefusedError as refused:
            _print_plan(refused.plan)
            fail(refused.message)
    _print_plan(result.plan)
    for link in result.password_links:
        console.print(f"set-password link for {escape(link.email)} (shown once): {link.url}")
    console.print(timings.describe())


def register(app: typer.Typer) -> None:
    """Add the admin commands to the `processlens` command."""
    app.add_typer(user_app, name="user")
    app.add_typer(org_app, name="org")
    app.add_typer(unit_app, name="unit")
    app.add_typer(team_app, name="team")
    app.add_typer(token_app, name="token")
    app.command("assign")(assign)
    app.command("unassign")(unassign)
    app.command("audit")(audit_command)
    app.command("import")(import_command)
