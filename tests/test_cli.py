"""The processlens command, run as a user runs it: in a subprocess, with its exit codes."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from app import __version__, cli, db, demo, models
from app.config import Settings

PROCESSLENS = str(Path(sys.executable).with_name("processlens"))


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run processlens with a clean environment (nothing from the shell's PROCESSLENS_*)."""
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PROCESSLENS_") and key not in {"DATABASE_URL", "REDIS_URL", "CI"}
    }
    base["PROCESSLENS_DATA_DIR"] = str(cwd / "data")
    base.update(env or {})
    return subprocess.run(
        [PROCESSLENS, *args],
        cwd=cwd,
        env=base,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert text in lines[0]


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("serve", "migrate", "downgrade", "demo", "seed"):
        assert command in result.stdout
    assert "ML-enabled software" in result.stdout


# in process (each subprocess costs a second of imports): the commands' own help and version
@pytest.mark.parametrize("command", ["serve", "migrate", "downgrade", "demo", "seed"])
def test_each_command_has_help(command: str) -> None:
    result = CliRunner().invoke(cli.app, [command, "--help"], prog_name="processlens")
    assert result.exit_code == 0, result.output
    assert "Usage: processlens" in result.output


def test_version() -> None:
    result = CliRunner().invoke(cli.app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"processlens {__version__}\n"


def test_malformed_database_url_is_one_line_exit_2(tmp_path: Path) -> None:
    result = run("migrate", cwd=tmp_path, env={"DATABASE_URL": "postgresql+nope//x"})
    assert_one_line_error(result, 2, "DATABASE_URL")


def test_unreachable_database_is_one_line_exit_1(tmp_path: Path) -> None:
    result = run(
        "migrate",
        cwd=tmp_path,
        env={"DATABASE_URL": "postgresql+psycopg://lens:hunter2@127.0.0.1:9/lens"},
    )
    assert_one_line_error(result, 1, "cannot use the database")
    assert "hunter2" not in result.stderr


def test_missing_secret_in_production_is_one_line_exit_2(tmp_path: Path) -> None:
    result = run("serve", cwd=tmp_path, env={"PROCESSLENS_ENVIRONMENT": "production"})
    assert_one_line_error(result, 2, "PROCESSLENS_SECRET_KEY is required in production")


def test_production_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    env = {"PROCESSLENS_ENVIRONMENT": "production", "PROCESSLENS_SECRET_KEY": "s" * 40}
    result = run("serve", "--port", "1", cwd=tmp_path, env=env)
    assert_one_line_error(result, 1, "run `processlens migrate`")
    assert not (tmp_path / "data" / "secret_key").exists()


def test_migrate_on_an_empty_sqlite_file_then_check(tmp_path: Path) -> None:
    env = {"PROCESSLENS_ENVIRONMENT": "test"}
    check = run("migrate", "--check", cwd=tmp_path, env=env)
    assert_one_line_error(check, 1, "out of date")
    first = run("migrate", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert "Migrated the database schema from empty to" in first.stdout
    assert (tmp_path / "data" / "processlens.db").exists()
    again = run("migrate", cwd=tmp_path, env=env)
    assert "nothing to do" in again.stdout
    assert run("migrate", "--check", cwd=tmp_path, env=env).returncode == 0
    down = run("downgrade", "base", "--yes", cwd=tmp_path, env=env)
    assert down.returncode == 0, down.stderr
    assert "base (no tables)" in down.stdout


@pytest.mark.postgres
def test_migrate_and_seed_on_postgres(
    postgres_server: str,
    database_factory: Any,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    url = database_factory.create("postgres", migrated=False)
    env = {"PROCESSLENS_ENVIRONMENT": "test", "DATABASE_URL": url}
    migrated = run("migrate", cwd=tmp_path, env=env)
    assert migrated.returncode == 0, migrated.stderr
    seeded = run("seed", "--teams", "12", "--rounds", "2", cwd=tmp_path, env=env)
    assert seeded.returncode == 0, seeded.stderr
    assert "12 teams" in seeded.stdout
    engine = db.create_db_engine(make_settings(url))
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(models.Team)).one() == 12
        assert session.exec(select(func.count()).select_from(models.AssessmentRound)).one() == 24
    engine.dispose()


# ---------------------------------------------------------------- seeding, in process


def test_seed_demo_is_idempotent(session: Session) -> None:
    first = demo.seed_demo(session=session)
    assert first.created
    assert len(first.business_units) == 2
    assert len(first.teams) == 5
    second = demo.seed_demo(session=session)
    assert not second.created
    assert second.organisation_id == first.organisation_id
    assert sorted(second.teams) == sorted(first.teams)


def test_seed_organisation_creates_teams_units_and_dated_rounds(session: Session) -> None:
    summary = demo.seed_organisation(session=session, name="Bench Co", teams=25, rounds=3)
    assert summary.slug == "bench-co"
    assert len(summary.teams) == 25
    assert summary.business_units == ("Unit 1", "Unit 2", "Unit 3")
    assert summary.rounds == 75
    rounds = session.exec(
        select(models.AssessmentRound)
        .join(models.Team)
        .where(models.Team.organisation_id == summary.organisation_id)
    ).all()
    assert len(rounds) == 75
    assert {r.status for r in rounds} == {models.RoundStatus.closed}
    for assessment in rounds:
        assert assessment.opened_at is not None
        assert assessment.closed_at is not None
        assert assessment.opened_at < assessment.closed_at <= db.utcnow()
    again = demo.seed_organisation(session=session, name="Bench Co", teams=1, rounds=0)
    assert again.slug == "bench-co-2"


# ---------------------------------------------------------------- bad input files

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MINI_RUBRIC = Path(__file__).resolve().parent / "rubric" / "mini"
ONE_GIB = 1 << 30


def alias_bomb(top_key: str) -> str:
    """About 1 KB of YAML that expands to 9**9 strings when its aliases are followed."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    lines.append(f"{top_key}: *a9")
    return "\n".join(lines) + "\n"


def run_limited(*args: str, cwd: Path, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    """processlens in a subprocess with 1 GiB of address space, so that a command that reads
    without end fails fast instead of taking the machine's memory."""

    def limit_memory() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (ONE_GIB, ONE_GIB))

    base = {k: v for k, v in os.environ.items() if not k.startswith("PROCESSLENS_")}
    base["PROCESSLENS_DATA_DIR"] = str(cwd / "data")
    return subprocess.run(
        [PROCESSLENS, *args],
        cwd=cwd,
        env=base,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=limit_memory,
    )


def assert_one_line(stderr: str, returncode: int, text: str) -> str:
    """Exit 2 and one short line on stderr naming the problem; never a traceback."""
    assert returncode == 2, stderr[-2000:]
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr[-2000:]
    assert text in lines[0], lines[0][:2000]
    assert len(lines[0]) < 400, lines[0][:2000]
    return lines[0]


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail (rather than hang) an in-process command that would wait or loop for ever."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def invoke(*args: str) -> Any:
    with deadline(15):
        result = CliRunner().invoke(cli.app, list(args))
    assert isinstance(result.exception, SystemExit | None), result.exception
    return result


# in a subprocess with a memory limit: without the fix these take gigabytes
def test_an_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    bomb = tmp_path / "answers.yaml"
    bomb.write_text(alias_bomb("respondents"), encoding="utf-8")
    assert len(bomb.read_bytes()) < 1100
    result = run_limited("score", str(bomb), cwd=tmp_path)
    line = assert_one_line(result.stderr, result.returncode, "anchors and aliases are not allowed")
    assert line == f"error: {bomb}:1: YAML anchors and aliases are not allowed"


def test_a_dev_zero_logo_is_refused_without_reading_it(tmp_path: Path) -> None:
    branding = tmp_path / "branding.yaml"
    branding.write_text("name: Acme\nlogo: /dev/zero\n", encoding="utf-8")
    output = tmp_path / "report.pdf"
    example = str(EXAMPLES / "quick-check.yaml")
    result = run_limited(
        "report", example, "--branding", str(branding), "-o", str(output), cwd=tmp_path
    )
    line = assert_one_line(result.stderr, result.returncode, "not a regular file")
    assert line == f"error: {branding}: logo /dev/zero: not a regular file"
    assert not output.exists()


def test_a_questionnaire_nesting_rules_through_aliases_is_refused_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "rubric"
    shutil.copytree(MINI_RUBRIC, folder)
    rule = "{q: quality.unit_tests, is: all}"
    lines = [f"r0: &r0 {{any: [{rule}, {rule}]}}"]
    lines += [
        f"r{n}: &r{n} {{all: [*r{n - 1}, *r{n - 1}, *r{n - 1}, *r{n - 1}]}}" for n in range(1, 16)
    ]
    quality = folder / "quality.yaml"
    text = quality.read_text(encoding="utf-8")
    text = text.replace("        quick: true\n", "        quick: true\n        show_if: *r15\n", 1)
    quality.write_text("\n".join(lines) + "\n" + text, encoding="utf-8")
    result = invoke("validate", str(folder))
    assert_one_line(
        result.stderr, result.exit_code, "quality.yaml:1: YAML anchors and aliases are not allowed"
    )


@pytest.mark.parametrize("logo", ["fifo", "folder"])
def test_a_branding_logo_that_is_not_a_regular_file_is_refused(tmp_path: Path, logo: str) -> None:
    if logo == "fifo":
        os.mkfifo(tmp_path / "fifo")  # nobody writes to it: reading would wait for ever
    else:
        (tmp_path / "folder").mkdir()
    branding = tmp_path / "branding.yaml"
    branding.write_text(f"name: Acme\nlogo: {logo}\n", encoding="utf-8")
    output = tmp_path / "report.pdf"
    result = invoke(
        "report", str(EXAMPLES / "quick-check.yaml"), "--branding", str(branding), "-o", str(output)
    )
    assert_one_line(result.stderr, result.exit_code, "not a regular file")
    assert not output.exists()


def test_a_questionnaire_folder_holding_a_fifo_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "rubric"
    shutil.copytree(MINI_RUBRIC, folder)
    os.mkfifo(folder / "extra.yaml")
    result = invoke("validate", str(folder))
    assert_one_line(result.stderr, result.exit_code, "extra.yaml:1: not a regular file")


DEEP = "[" * 1000 + "]" * 1000
LONG_NUMBER = "9" * 5000
HUGE_ROLE = "x" * 200_000


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ("round: {instruments: [[trajectory]]}\nrespondents: [{role: team_lead}]", "instruments"),
        ("respondents: [{role: team_lead}]\nadopted: [[model_registry]]", "adopted"),
        ("respondents: [{role: team_lead}]\ntargets: [handoff]", "targets"),
        ("respondents: [{role: team_lead}]\n1: x\nz: y", "unknown key(s)"),
        ("round: {team: [a, b]}\nrespondents: [{role: team_lead}]", "team"),
        (f"round: {DEEP}\nrespondents: [{{role: team_lead}}]", "nested more than"),
        (f'{{"round": {DEEP}, "respondents": []}}', "nested more than"),
        (f"round: {{team: {LONG_NUMBER}}}\nrespondents: [{{role: team_lead}}]", "digits"),
        (f'{{"round": {{"team": {LONG_NUMBER}}}, "respondents": []}}', "digits"),
        (
            f"respondents: [{{role: team_lead, answers: {{trajectory.stakes: {LONG_NUMBER}}}}}]",
            "digits",
        ),
        (f"respondents: [{{role: {HUGE_ROLE}}}]", "unknown role 'xxxx"),
        ("respondents: &r [{role: team_lead}]\nprevious: {respondents: *r}", "aliases"),
    ],
)
def test_a_bad_answers_file_is_one_short_line_and_exit_2(
    tmp_path: Path, answers: str, message: str
) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text(answers, encoding="utf-8")
    result = invoke("score", str(path))
    assert result.stdout == ""
    line = assert_one_line(result.stderr, result.exit_code, message)
    assert line.startswith(f"error: {path}")


def test_an_answers_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text("commentary: " + "x" * (1024 * 1024), encoding="utf-8")
    result = invoke("score", str(path))
    assert_one_line(result.stderr, result.exit_code, "larger than 1 MiB")


@pytest.mark.parametrize(
    ("branding", "message"),
    [
        ("colour: &c '#112233'\ncolor: *c", "anchors and aliases are not allowed"),
        ("- name\n- colour", "mapping"),
        ("name: [Acme, Inc]", "name"),
        (f"name: {DEEP}", "nested more than"),
        (f"name: {LONG_NUMBER}", "digits"),
        (f"colour: '{'#' * 100_000}'", "colour must look like #1f5f5b"),
        ("logo: [a.png]", "logo"),
    ],
)
def test_a_bad_branding_file_is_one_short_line_and_exit_2(
    tmp_path: Path, branding: str, message: str
) -> None:
    path = tmp_path / "branding.yaml"
    path.write_text(branding, encoding="utf-8")
    output = tmp_path / "report.pdf"
    result = invoke(
        "report", str(EXAMPLES / "quick-check.yaml"), "--branding", str(path), "-o", str(output)
    )
    line = assert_one_line(result.stderr, result.exit_code, message)
    assert line.startswith(f"error: {path}")
    assert not output.exists()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("kind: [instrument]", "'kind' must be one of"),
        (f"kind: instrument\nweight_note: {DEEP}", "nested more than"),
        (f"kind: instrument\nweight_note: {LONG_NUMBER}", "digits"),
        ("kind: &k instrument\nextra: *k", "anchors and aliases are not allowed"),
    ],
)
def test_a_bad_questionnaire_file_is_refused_with_its_line(
    tmp_path: Path, edit: str, message: str
) -> None:
    folder = tmp_path / "rubric"
    shutil.copytree(MINI_RUBRIC, folder)
    quality = folder / "quality.yaml"
    quality.write_text(
        quality.read_text(encoding="utf-8").replace("kind: instrument", edit, 1), encoding="utf-8"
    )
    for command in (["validate", str(folder)], ["rubric", "--path", str(folder)]):
        result = invoke(*command)
        line = assert_one_line(result.stderr, result.exit_code, message)
        assert line.startswith("quality.yaml:")


def test_the_served_app_leaves_its_long_lived_objects_out_of_full_collections(
    tmp_path: Path,
) -> None:
    """`processlens serve` serves ``create_served_app``: the objects the app holds for its
    life are frozen, so the garbage collector's full runs no longer walk them (a pause of
    100-200 ms every few thousand requests, the answer save's p99: docs/performance.md)."""
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PROCESSLENS_") and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    base |= {"PROCESSLENS_ENVIRONMENT": "test", "PROCESSLENS_DATA_DIR": str(tmp_path)}
    code = (
        "import gc, app.main as main\n"
        "served = main.create_served_app()\n"
        "print(gc.get_freeze_count(), len(gc.get_objects()))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[1],
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    frozen, still_tracked = (int(n) for n in result.stdout.split()[-2:])
    assert frozen > 100_000
    assert still_tracked < frozen // 20
    assert '"app.main:create_served_app"' in Path(cli.__file__).read_text()
