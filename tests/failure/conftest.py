"""Failure tests: real servers killed, databases made read-only, PostgreSQL restarted."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from tests.live import free_port, slow_requested


@pytest.fixture(autouse=True)
def _slow_only_when_asked(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("slow") and not slow_requested(request.config):
        pytest.skip('long form: run with PYTEST_ARGS="-m slow" or PROCESSLENS_SLOW_TESTS=1')


@dataclasses.dataclass
class Cluster:
    """A throwaway PostgreSQL cluster of the test's own (Debian's pg_createcluster)."""

    version: str
    name: str
    port: int

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, action: str) -> None:
        command = ["pg_ctlcluster", self.version, self.name, action]
        if action == "stop":
            command += ["--", "-m", "fast"]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def create_database(self, name: str) -> str:
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"


def _postgres_version() -> str | None:
    versions = sorted(
        (path.name for path in Path("/usr/lib/postgresql").glob("*") if path.name.isdigit()),
        key=int,
    )
    return versions[-1] if versions else None


@pytest.fixture
def throwaway_cluster(unavailable: Callable[[str], None]) -> Iterator[Cluster]:
    """A new cluster on a free port (trust authentication on loopback), started; dropped at
    the end. Never the shared cluster on 5432: initdb refuses to run as root, so Debian's
    pg_createcluster makes it as the postgres user."""
    version = _postgres_version()
    if shutil.which("pg_createcluster") is None or version is None:
        unavailable(
            "pg_createcluster is missing; install Debian's postgresql (postgresql-common) to "
            "run the PostgreSQL restart test"
        )
    assert version is not None
    cluster = Cluster(version=version, name=f"pltest_{uuid.uuid4().hex[:8]}", port=free_port())
    try:
        subprocess.run(
            # options after "--" go to initdb: trust on loopback, for this throwaway only
            [
                *("pg_createcluster", version, cluster.name, "--port", str(cluster.port)),
                *("--", "--auth=trust"),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        cluster.ctl("start")
        yield cluster
    finally:
        subprocess.run(
            ["pg_dropcluster", "--stop", version, cluster.name],
            capture_output=True,
            timeout=120,
        )
