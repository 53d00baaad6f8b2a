"""A report job's zip is served only from the jobs folder: a stored file name that leads
anywhere else (``../``, an absolute path, a sub-folder, a link out of the folder) answers 404
and serves nothing, whatever the row says (a restored or edited row must not open files)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.config import Settings
from app.errors import NotFoundError
from app.files import inside
from app.models import ReportJob, ReportJobStatus
from app.reports import jobs
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


def test_a_job_whose_file_name_leaves_the_folder_is_not_found(
    client: TestClient, session: Session, settings: Settings
) -> None:
    alpha = helpers.tenant(session, settings, "Alpha")
    assert alpha.org.id is not None
    signed_in = helpers.sign_in(session, settings, alpha.consultant)
    folder = jobs.jobs_dir(settings)
    (folder / "nested").mkdir(parents=True)
    (settings.data_dir / "outside.txt").write_bytes(SECRET)
    (folder / "nested" / "job.zip").write_bytes(SECRET)
    with zipfile.ZipFile(folder / "job-good.zip", "w") as archive:
        archive.writestr("team.pdf", b"%PDF-1.7 placeholder")
    names = {
        "job-good.zip": 200,
        "../outside.txt": 404,
        "/etc/passwd": 404,
        str(settings.data_dir / "outside.txt"): 404,
        "nested/job.zip": 404,
        "nested/../../outside.txt": 404,
    }
    made = {}
    for name in names:
        job = ReportJob(
            organisation_id=alpha.org.id,
            status=ReportJobStatus.done,
            total=1,
            done=1,
            file_name=name,
        )
        session.add(job)
        session.flush()
        made[name] = job.id
    session.commit()
    base = f"/organisations/{alpha.org.id}/report-exports"
    for name, status in names.items():
        response = client.get(
            f"{base}/{made[name]}/download", headers=signed_in.headers(), follow_redirects=False
        )
        assert response.status_code == status, name
        assert SECRET not in response.content, name
        assert b"root:" not in response.content, name
