"""The organisation report of an organisation with more teams than
PROCESSLENS_ORG_REPORT_JOB_TEAMS is made by the job queue: the page answers 202 with the job's
progress page (refreshing to the job's own page), the API 202 with the job, both name the same
job, and the finished PDF downloads from the job. The default install's shape: SQLite, the
consumer embedded in the web process. At or below the count the report answers at once.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app import db
from app.config import Settings
from app.main import create_app
from app.reports import jobs
from tests.jobs.live import Seeded, seeded_organisation

TEAMS = 3


@pytest.fixture
def large(
    database_factory: Any, make_settings: Callable[..., Settings], tmp_path: Path
) -> Iterator[tuple[TestClient, Seeded, Settings]]:
    settings = make_settings(
        database_factory.create("sqlite"),
        data_dir=tmp_path / "data",
        secret_key=secrets.token_urlsafe(48),
        org_report_job_teams=TEAMS - 1,
        render_workers=1,
    )
    seeded = seeded_organisation(settings, teams=TEAMS, name="Large organisation")
    application = create_app(settings)
    with TestClient(application) as client:
        yield client, seeded, settings
    application.state.engine.dispose()


def test_the_team_count_decides(large: tuple[TestClient, Seeded, Settings]) -> None:
    _client, seeded, settings = large
    engine = db.create_db_engine(settings)
    try:
        with Session(engine) as session:
            count = jobs.team_count(session=session, organisation_id=seeded.organisation_id)
            assert count == TEAMS
            for threshold, is_job in ((TEAMS - 1, True), (TEAMS, False), (TEAMS + 1, False)):
                limited = settings.model_copy(update={"org_report_job_teams": threshold})
                assert (
                    jobs.organisation_report_is_a_job(
                        session=session, organisation_id=seeded.organisation_id, settings=limited
                    )
                    is is_job
                )
    finally:
        engine.dispose()


def test_a_large_organisation_report_is_a_job_with_its_progress_page(
    large: tuple[TestClient, Seeded, Settings],
) -> None:
    client, seeded, _settings = large
    headers = seeded.consultant.headers()
    report = f"/organisations/{seeded.organisation_id}/report.pdf"
    answered = client.get(report, headers=headers, follow_redirects=False)
    assert answered.status_code == 202
    page = answered.context["page"]  # type: ignore[attr-defined]
    assert answered.headers["location"] == page.job_url
    assert page.heading == "The organisation report"
    assert page.under_way
    tree = lxml.html.document_fromstring(answered.text)
    assert tree.xpath("//meta[@http-equiv='refresh']/@content") == [f"2; url={page.job_url}"]
    # asking again while it is made leads to the same job, on the page and in the API
    again = client.get(report, headers=headers, follow_redirects=False)
    assert again.headers["location"] == page.job_url
    api = client.get(f"/api{report}", headers=headers)
    assert api.status_code == 202
    assert page.job_url.endswith(f"/{api.json()['id']}")

    deadline = time.monotonic() + 180
    while True:
        progress = client.get(page.job_url, headers=headers)
        assert progress.status_code == 200
        shown = progress.context["page"]  # type: ignore[attr-defined]
        if not shown.under_way:
            break
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.5)
    assert shown.status == "done", shown.message
    assert shown.download_label == "Download the PDF"
    assert shown.download_url is not None
    document = client.get(shown.download_url, headers=headers)
    assert document.status_code == 200
    assert document.headers["content-type"] == "application/pdf"
    assert "organisation-report" in document.headers["content-disposition"]
    assert document.content.startswith(b"%PDF")
    status = client.get(api.json()["progress_url"], headers=headers).json()
    assert status["status"] == "done"
    assert client.get(status["download_url"], headers=headers).content == document.content
    # once made, asking for the report again starts a new job (the data may have changed)
    fresh = client.get(report, headers=headers, follow_redirects=False)
    assert fresh.status_code == 202
    assert fresh.headers["location"] != page.job_url
