"""Real job workers and the data their jobs need, for the several-instances and failure tests.

``LiveWorker`` runs ``processlens worker`` in a process group of its own (its render pool
goes with it when it is killed); ``seeded_organisation`` adds an organisation whose teams
have published results with ``processlens seed``, and a consultant of it signed in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from sqlmodel import Session, select

from app import db
from app.config import ROOT_DIR, Settings
from app.models import Organisation, ReportJob, UserRole
from tests.accounts import helpers
from tests.accounts.helpers import SignedIn

START_TIMEOUT_S = 90.0
# fast enough for a test to see a dead worker's job handed on within seconds
QUICK_JOBS = {
    "PROCESSLENS_JOB_HEARTBEAT_SECONDS": "0.5",
    "PROCESSLENS_JOB_SWEEP_SECONDS": "1",
}


def environment(database_url: str, data_dir: Path, extra: Mapping[str, str]) -> dict[str, str]:
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("PROCESSLENS_") and name not in ("DATABASE_URL", "REDIS_URL")
    }
    return inherited | {
        "PROCESSLENS_ENVIRONMENT": "test",
        "PROCESSLENS_DATA_DIR": str(data_dir),
        "PROCESSLENS_LOG_LEVEL": "INFO",
        "DATABASE_URL": database_url,
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


@dataclasses.dataclass
class LiveWorker:
    """``processlens worker`` on ``database_url``; call ``start()`` and, always, ``stop()``."""

    database_url: str
    data_dir: Path
    secret_key: str
    extra_env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    name: str = "worker"
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.data_dir / f"{self.name}.log"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = environment(self.database_url, self.data_dir, self.extra_env)
        env["PROCESSLENS_SECRET_KEY"] = self.secret_key
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "worker"],
                cwd=ROOT_DIR,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(lambda: "Job worker ready" in self.log_text(), START_TIMEOUT_S, self.log_text)

    def kill(self) -> None:
        """SIGKILL the worker and its render processes at once."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=20)
        self.kill()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def wait_for(
    condition: Callable[[], bool], timeout: float, explain: Callable[[], str] = str
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not so after {timeout} s\n{explain()[-3000:]}")
        time.sleep(0.2)


@dataclasses.dataclass(frozen=True)
class Seeded:
    organisation_id: int
    teams: int
    consultant: SignedIn


def seeded_organisation(settings: Settings, *, teams: int, name: str) -> Seeded:
    """An organisation of ``teams`` teams, each with a closed, published round (made by
    ``processlens seed``, as an operator would), and a consultant of it, signed in."""
    env = environment(settings.resolved_database_url, settings.data_dir, {})
    env["PROCESSLENS_SECRET_KEY"] = settings.secret_key.get_secret_value()  # type: ignore[union-attr]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "seed",
            "--teams",
            str(teams),
            "--rounds",
            "1",
            "--organisation",
            name,
        ],
        cwd=ROOT_DIR,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    engine = db.create_db_engine(settings)
    try:
        with Session(engine) as session:
            organisation = session.exec(select(Organisation).where(Organisation.name == name)).one()
            consultant = helpers.user(session, UserRole.consultant)
            helpers.assign(session, consultant, organisation)
            signed_in = helpers.sign_in(session, settings, consultant)
            session.commit()
            assert organisation.id is not None
            return Seeded(organisation_id=organisation.id, teams=teams, consultant=signed_in)
    finally:
        engine.dispose()


def job_row(settings: Settings, job_id: int) -> ReportJob:
    engine = db.create_db_engine(settings)
    try:
        with Session(engine) as session:
            job = session.get(ReportJob, job_id)
            assert job is not None
            return job
    finally:
        engine.dispose()
