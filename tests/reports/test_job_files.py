"""A report job's output is served from the database (``job_file``), never from a file named
by the row: a stored file name that leads anywhere (``../``, an absolute path, a file that is
there) serves nothing, whatever the row says (a restored or edited row must not open files)."""

from __future__ import annotations

import zipfile
from io import BytesIO
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.config import Settings
from app.errors import NotFoundError
from app.files import inside
from app.models import JobFile, ReportJob, ReportJobStatus
from tests.accounts import helpers

SECRET = b"not for the browser"


def test_inside_keeps_names_in_their_folder(tmp_path: Path) -> None:
    folder = tmp_path / "jobs"
    folder.mkdir()
    (folder / "job-1.zip").write_bytes(b"zip")
    (tmp_path / "secret").write_bytes(SECRET)
    (folder / "link.zip").symlink_to(tmp_path / "secret")
    assert inside(folder, "job-1.zip") == (folder / "job-1.zip").resolve()
    for name in ("../secret", "/etc/passwd", "sub/job-1.zip", "..", ".", "", "a\\b", "link.zip"):
        with pytest.raises(NotFoundError):
            inside(folder, name)


def test_a_job_serves_its_stored_output_and_never_a_file_its_row_names(
    client: TestClient, session: Session, settings: Settings
) -> None:
    alpha = helpers.tenant(session, settings, "Alpha")
    assert alpha.org.id is not None
    signed_in = helpers.sign_in(session, settings, alpha.consultant)
    (settings.data_dir / "outside.txt").parent.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "outside.txt").write_bytes(SECRET)
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("team.pdf", b"%PDF-1.7 placeholder")
    names = ("../outside.txt", "/etc/passwd", str(settings.data_dir / "outside.txt"))
    made = {}
    for name in names:
        job = ReportJob(organisation_id=alpha.org.id, status=ReportJobStatus.done, total=1, done=1)
        job.file_name = name
        session.add(job)
        session.flush()
        made[name] = job.id
    stored = ReportJob(organisation_id=alpha.org.id, status=ReportJobStatus.done, total=1, done=1)
    session.add(stored)
    session.flush()
    assert stored.id is not None
    session.add(
        JobFile(
            job_id=stored.id,
            name="alpha-team-reports.zip",
            final=True,
            media_type="application/zip",
            size=len(buffer.getvalue()),
            data=buffer.getvalue(),
        )
    )
    session.commit()
    base = f"/organisations/{alpha.org.id}/report-exports"
    for name, job_id in made.items():
        response = client.get(
            f"{base}/{job_id}/download", headers=signed_in.headers(), follow_redirects=False
        )
        # no output stored: back to the job's page, which says the file is gone
        assert response.status_code == 303, name
        assert SECRET not in response.content, name
        assert b"root:" not in response.content, name
    served = client.get(f"{base}/{stored.id}/download", headers=signed_in.headers())
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/zip"
    assert "alpha-team-reports.zip" in served.headers["content-disposition"]
    assert served.content == buffer.getvalue()


def test_the_report_job_pages_show_report_jobs_only(
    client: TestClient, session: Session, settings: Settings
) -> None:
    """An import's or a rescore's job id is not a report job: its page and its download are
    a 404 there (the import's page can hold set-password links, shown only to its starter)."""
    alpha = helpers.tenant(session, settings, "Alpha")
    assert alpha.org.id is not None
    signed_in = helpers.sign_in(session, settings, alpha.consultant)
    ids = {}
    for kind in ("setup_import", "organisation_rescore", "team_reports"):
        job = ReportJob(
            organisation_id=alpha.org.id,
            created_by_id=alpha.consultant.id,
            kind=kind,
            status=ReportJobStatus.done,
            total=1,
            done=1,
        )
        session.add(job)
        session.flush()
        ids[kind] = job.id
    session.commit()
    base = f"/organisations/{alpha.org.id}/report-exports"
    headers = signed_in.headers()
    assert client.get(f"{base}/{ids['team_reports']}", headers=headers).status_code == 200
    for kind in ("setup_import", "organisation_rescore"):
        assert client.get(f"{base}/{ids[kind]}", headers=headers).status_code == 404, kind
        download = client.get(f"{base}/{ids[kind]}/download", headers=headers)
        assert download.status_code == 404, kind
        api = client.get(
            f"/api/organisations/{alpha.org.id}/report-jobs/{ids[kind]}", headers=headers
        )
        assert api.status_code == 404, kind
