"""PostgreSQL stopped and started again under a running app: clear 503s while it is down, and
service comes back by itself, with every acknowledged save still there.

Uses a throwaway cluster of its own (pg_createcluster on a free port, dropped at the end), so
the shared cluster on 5432 is never stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import lxml.html
import pytest

from app import migrate
from app.config import Settings
from tests.failure.conftest import Cluster
from tests.live import LiveServer, start_respondents

pytestmark = pytest.mark.postgres


def test_postgres_restart_is_survived_without_restarting_the_app(
    throwaway_cluster: Cluster, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    url = throwaway_cluster.create_database("processlens")
    server = LiveServer(database_url=url, data_dir=tmp_path / "server", workers=2)
    settings = make_settings(url, secret_key=server.secret_key, data_dir=tmp_path)
    migrate.upgrade(settings)
    token = start_respondents(settings, 1)[0]
    try:
        server.start()
        with httpx.Client(base_url=server.url, timeout=30) as client:
            survey = client.get(f"/api/survey/{token}").json()
            headers = {"x-csrf-token": survey["csrf_token"]}
            qid = survey["pages"][0]["questions"][0]["id"]
            saved = client.put(
                f"/api/survey/{token}/answers",
                json={"version": 1, "answers": {qid: "dont_know"}},
                headers=headers,
            )
            assert saved.status_code == 200, saved.text

            throwaway_cluster.ctl("stop")
            page = client.get(f"/r/{token}/questions?page=1")
            assert page.status_code == 503, page.text
            title = lxml.html.fromstring(page.text).xpath("string(//h1)").strip()
            assert title == "Temporarily unavailable"
            refused = client.put(
                f"/api/survey/{token}/answers",
                json={"version": 2, "answers": {qid: None}},
                headers=headers,
            )
            assert refused.status_code == 503, refused.text
            assert client.get("/readyz").status_code == 503
            assert client.get("/healthz").status_code == 200

            throwaway_cluster.ctl("start")
            deadline = time.monotonic() + 30
            while client.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, "the app did not come back"
                time.sleep(0.2)
            again = client.get(f"/api/survey/{token}")
            assert again.status_code == 200
            assert again.json()["version"] == 2
            assert again.json()["answers"] == {qid: {"value": "dont_know"}}
            # the workers' pooled connections all died with the server: every request works
            for _ in range(10):
                assert client.get(f"/r/{token}/questions?page=1").status_code == 200
            saved = client.put(
                f"/api/survey/{token}/answers",
                json={"version": 2, "answers": {qid: None}},
                headers=headers,
            )
            assert saved.status_code == 200, saved.text
    finally:
        server.stop()
    log = server.log_text()
    assert "Traceback" not in log, log[-3000:]
    assert "database unavailable" in log
