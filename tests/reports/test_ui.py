"""Reports in the product: the routes registered by create_app, the results page's buttons,
the organisation report (with names hidden), background jobs zipping every team's report,
and the consultant's commentary (who may edit it, limits, escaping in the report).

Renders share one pool and one PDF cache for the module (a report renders once, then comes
from the cache); the job test runs on a database of its own, because its thread commits.
"""

from __future__ import annotations

import io
import subprocess
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.config import ROOT_DIR, Settings
from app.main import create_app
from app.models import (
    AssessmentRound,
    AuditEvent,
    ReportJob,
    Response,
    ResponseStatus,
    RoundResult,
    Team,
)
from app.reports import commentary, pdf
from app.results import summaries
from app.rubric.answers_file import assess_file, read_answers_file
from app.rubric.loader import Catalog
from app.rubric.output import to_data
from tests import test_isolation as walk
from tests.accounts import helpers
from tests.reports import published


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> pdf.PdfCache:
    return pdf.PdfCache(tmp_path_factory.mktemp("report-cache"))


@pytest.fixture(scope="module")
def quick_data(catalog: Catalog) -> dict[str, Any]:
    """A stored result: the quick check's (its report is the shortest to render)."""
    answers = read_answers_file(ROOT_DIR / "examples" / "quick-check.yaml", catalog)
    return to_data(catalog, assess_file(catalog, answers))


@pytest.fixture
def shared_rendering(
    render_pool: pdf.RenderPool, shared_cache: pdf.PdfCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pdf, "get_pool", lambda limits=None: render_pool)
    monkeypatch.setattr(pdf, "PdfCache", lambda directory, **_: shared_cache)


@pytest.fixture
def world(
    session: Session, settings: Settings, quick_data: dict[str, Any], shared_rendering: None
) -> dict[str, Any]:
    alpha = helpers.tenant(session, settings, "Alpha")
    bravo = helpers.tenant(session, settings, "Bravo")
    for tenant in (alpha, bravo):
        assert tenant.round.id is not None
        published.publish(session, tenant.round, 4)
        session.add(
            RoundResult(
                round_id=tenant.round.id,
                computed=quick_data,
                respondent_count=4,
                rubric_versions=tenant.round.rubric_versions,
                final=True,
            )
        )
    people = {
        "consultant": helpers.sign_in(session, settings, alpha.consultant),
        "org_leader": helpers.sign_in(session, settings, alpha.org_leader),
        "team_lead": helpers.sign_in(session, settings, alpha.team_lead),
        "bravo_consultant": helpers.sign_in(session, settings, bravo.consultant),
    }
    session.commit()
    return {"alpha": alpha, "bravo": bravo, **people}


def pdf_text(document: bytes, tmp_path: Path) -> str:
    path = tmp_path / "out.pdf"
    path.write_bytes(document)
    done = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True)
    return done.stdout


def _round_path(tenant: Any, suffix: str) -> str:
    return f"/teams/{tenant.team.id}/rounds/{tenant.round.id}/{suffix}"


# ---------------------------------------------------------------- team report


def test_create_app_registers_the_report_routes(app: FastAPI) -> None:
    paths = {endpoint.path for endpoint in walk.endpoints(app)}
    assert {
        "/teams/{team_id}/rounds/{round_id}/report.pdf",
        "/teams/{team_id}/rounds/{round_id}/report.html",
        "/api/teams/{team_id}/rounds/{round_id}/report.pdf",
        "/organisations/{org_id}/report.pdf",
        "/api/organisations/{org_id}/report.pdf",
        "/organisations/{org_id}/report-exports",
        "/organisations/{org_id}/report-exports/{job_id}",
        "/organisations/{org_id}/report-exports/{job_id}/download",
        "/teams/{team_id}/rounds/{round_id}/commentary",
    } <= paths


def _show_results(session: Session, tenant: Any) -> None:
    """Make the results page show the stored result: a solo round with its one response
    submitted (a team survey would need its threshold of responses)."""
    tenant.round.mode = "solo"
    response = session.exec(
        select(Response).where(Response.round_id == tenant.round.id).order_by(col(Response.id))
    ).first()  # the tenant's own response (the world published others beside it)
    assert response is not None
    response.status = ResponseStatus.submitted
    result = session.exec(select(RoundResult).where(RoundResult.round_id == tenant.round.id)).one()
    result.respondent_count = 1
    session.add_all([tenant.round, response, result])
    session.commit()


def test_the_results_page_offers_the_team_report_and_it_downloads(
    client: TestClient, world: dict[str, Any], session: Session, tmp_path: Path
) -> None:
    alpha = world["alpha"]
    _show_results(session, alpha)
    headers = world["team_lead"].headers()
    page = client.get(_round_path(alpha, "results"), headers=headers)
    assert page.status_code == 200
    assert page.context["page"].visible  # type: ignore[attr-defined]
    downloads = {d.label: d.url for d in page.context["page"].downloads}  # type: ignore[attr-defined]
    assert downloads["Team report"] == _round_path(alpha, "report.pdf")
    # the concise report by default; the full one, with all answers, beside it
    assert downloads["Team report, including all answers"] == _round_path(
        alpha, "report.pdf?full=1"
    )
    links = lxml.html.document_fromstring(page.text).xpath("//section[@id='downloads']//a/@href")
    assert _round_path(alpha, "report.pdf") in links
    assert _round_path(alpha, "report.html") in links
    document = client.get(_round_path(alpha, "report.pdf"), headers=headers)
    assert document.status_code == 200
    assert document.headers["content-type"] == "application/pdf"
    assert document.content.startswith(b"%PDF")
    assert "Alpha Team" in pdf_text(document.content, tmp_path)


def test_a_round_without_a_result_answers_409_with_a_message(
    client: TestClient, world: dict[str, Any], session: Session
) -> None:
    alpha = world["alpha"]
    session.delete(
        session.exec(select(RoundResult).where(RoundResult.round_id == alpha.round.id)).one()
    )
    session.commit()
    response = client.get(_round_path(alpha, "report.pdf"), headers=world["team_lead"].headers())
    assert response.status_code == 409
    assert "not have enough submitted responses" in response.text


def test_other_tenants_reports_and_jobs_are_not_found(
    client: TestClient, world: dict[str, Any], session: Session, settings: Settings
) -> None:
    bravo = world["bravo"]
    assert bravo.org.id is not None
    job = ReportJob(organisation_id=bravo.org.id)
    session.add(job)
    session.commit()
    for who in ("consultant", "org_leader", "team_lead"):
        headers = world[who].headers()
        for path in (
            _round_path(bravo, "report.pdf"),
            _round_path(bravo, "report.html"),
            f"/organisations/{bravo.org.id}/report.pdf",
            f"/organisations/{bravo.org.id}/report.pdf?hide_names=1",
            f"/api/organisations/{bravo.org.id}/report.pdf",
            f"/organisations/{bravo.org.id}/report-exports/{job.id}",
            f"/organisations/{bravo.org.id}/report-exports/{job.id}/download",
        ):
            assert client.get(path, headers=headers).status_code == 404, (who, path)
        started = client.post(
            f"/organisations/{bravo.org.id}/report-exports", headers=headers, follow_redirects=False
        )
        assert started.status_code == 404
    # Alpha's organisation, Bravo's job: still not found
    alpha = world["alpha"]
    mixed = f"/organisations/{alpha.org.id}/report-exports/{job.id}"
    assert client.get(mixed, headers=world["consultant"].headers()).status_code == 404
    assert session.exec(select(ReportJob)).all() == [job]


# ---------------------------------------------------------------- organisation report


def test_the_organisation_report_downloads_with_and_without_team_names(
    client: TestClient, world: dict[str, Any], session: Session, tmp_path: Path
) -> None:
    alpha = world["alpha"]
    # the organisation report counts closed rounds, as the dashboard does (the result was
    # stored directly, so its summary is built here)
    alpha.round.status = "closed"
    alpha.round.closed_at = alpha.round.created_at
    session.add(alpha.round)
    session.flush()
    summaries.rebuild(session=session, organisation_id=alpha.org.id)
    session.commit()
    headers = world["org_leader"].headers()
    dashboard = client.get(f"/organisations/{alpha.org.id}/dashboard", headers=headers)
    assert dashboard.status_code == 200
    tree = lxml.html.document_fromstring(dashboard.text)
    hrefs = tree.xpath("//a/@href")
    assert f"/organisations/{alpha.org.id}/report.pdf" in hrefs
    assert f"/organisations/{alpha.org.id}/report.pdf?hide_names=1" in hrefs
    assert tree.xpath(f"//form[@action='/organisations/{alpha.org.id}/report-exports']")
    # every team's report, concise unless "include all answers" is ticked
    assert tree.xpath(
        f"//form[@action='/organisations/{alpha.org.id}/report-exports']"
        "//label[contains(., 'include all answers')]/input[@type='checkbox'][@name='full']"
    )

    named = client.get(f"/organisations/{alpha.org.id}/report.pdf", headers=headers)
    assert named.status_code == 200
    assert named.headers["content-type"] == "application/pdf"
    assert "Alpha Team" in pdf_text(named.content, tmp_path)
    hidden = client.get(f"/organisations/{alpha.org.id}/report.pdf?hide_names=1", headers=headers)
    assert hidden.status_code == 200
    assert "anonymised" in hidden.headers["content-disposition"]
    text = pdf_text(hidden.content, tmp_path)
    assert "Alpha Organisation" in text
    for name in ("Alpha Team", "Alpha Second Team", "Alpha Unit"):
        assert name not in text
    # the API twin, and a team lead (no organisation-wide view) is not let in
    api = client.get(f"/api/organisations/{alpha.org.id}/report.pdf", headers=headers)
    assert api.status_code == 200
    assert api.content.startswith(b"%PDF")
    lead = world["team_lead"].headers()
    assert client.get(f"/organisations/{alpha.org.id}/report.pdf", headers=lead).status_code == 404
    # an organisation without results says so
    session.delete(
        session.exec(select(RoundResult).where(RoundResult.round_id == alpha.round.id)).one()
    )
    session.commit()
    empty = client.get(f"/api/organisations/{alpha.org.id}/report.pdf", headers=headers)
    assert empty.status_code == 409
    assert "No team of this organisation has a stored result" in empty.json()["detail"]


# ---------------------------------------------------------------- every team's report, zipped


@pytest.fixture
def own_app(
    fresh_database_url: str,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    shared_rendering: None,
) -> Iterator[tuple[FastAPI, TestClient]]:
    """The real app on a database of its own: the job's thread commits from its own
    connections, as it does in production."""
    application = create_app(make_settings(fresh_database_url, data_dir=tmp_path / "data"))
    with TestClient(application) as client:
        yield application, client
    application.state.engine.dispose()


def test_a_job_zips_every_teams_latest_report_with_progress(
    own_app: tuple[FastAPI, TestClient],
    quick_data: dict[str, Any],
    catalog: Catalog,
    tmp_path: Path,
) -> None:
    application, client = own_app
    settings: Settings = application.state.settings
    with Session(application.state.engine) as session:
        alpha = helpers.tenant(session, settings, "Alpha")
        assert alpha.round.id is not None
        assert alpha.other_team.id is not None
        published.publish(session, alpha.round, 4)
        session.add(
            RoundResult(
                round_id=alpha.round.id, computed=quick_data, respondent_count=4, final=True
            )
        )
        second = AssessmentRound(
            team_id=alpha.other_team.id,
            stage="prototype",
            rubric_versions=alpha.round.rubric_versions,
        )
        session.add(second)
        session.flush()
        assert second.id is not None
        session.add(RoundResult(round_id=second.id, computed=quick_data, respondent_count=1))
        consultant = helpers.sign_in(session, settings, alpha.consultant)
        team_lead = helpers.sign_in(session, settings, alpha.team_lead)
        session.commit()
        org_id = alpha.org.id
    base = f"/organisations/{org_id}/report-exports"
    # a team lead may not start one
    refused = client.post(base, headers=team_lead.headers(), follow_redirects=False)
    assert refused.status_code == 404

    started = client.post(base, headers=consultant.headers(), follow_redirects=False)
    assert started.status_code == 303
    job_url = started.headers["location"]
    assert job_url.startswith(base + "/")
    seen_running = False
    deadline = time.monotonic() + 180
    while True:
        page = client.get(job_url, headers=consultant.headers())
        assert page.status_code == 200
        context = page.context["page"]  # type: ignore[attr-defined]
        tree = lxml.html.document_fromstring(page.text)
        assert tree.xpath("//progress")
        refresh = tree.xpath("//meta[@http-equiv='refresh']")
        if context.under_way:
            seen_running = True
            assert refresh
            assert refresh[0].get("content") == "2"
            # starting again while it runs leads to the same job
            again = client.post(base, headers=consultant.headers(), follow_redirects=False)
            if again.headers["location"] != job_url:
                # only because the first finished between the page and the post
                first_finished_before_second_started(
                    application, job_url, again.headers["location"]
                )
        else:
            break
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.5)
    assert seen_running
    assert context.status == "done", context.message
    assert not refresh
    assert (context.done, context.total, context.failed) == (2, 2, 0)
    assert context.download_url == job_url + "/download"
    assert tree.xpath(f"//a[@href='{context.download_url}']")

    download = client.get(context.download_url, headers=consultant.headers())
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        names = sorted(archive.namelist())
        assert names == ["Alpha-Second-Team.pdf", "Alpha-Team.pdf"]
        for name in names:
            document = archive.read(name)
            assert document.startswith(b"%PDF")
            assert name.removesuffix(".pdf").replace("-", " ") in pdf_text(document, tmp_path)
    with Session(application.state.engine) as session:
        actions = session.exec(
            select(AuditEvent.action).where(AuditEvent.organisation_id == org_id)
        ).all()
        assert "export.team_reports_started" in actions
        assert "export.team_reports_downloaded" in actions
        job = session.get_one(ReportJob, int(job_url.rsplit("/", 1)[1]))
        assert job.status == "done"
        assert job.finished_at is not None


def first_finished_before_second_started(
    application: FastAPI, first_url: str, second_url: str
) -> None:
    """A second job for the same export is legitimate only once the first is finished."""
    with Session(application.state.engine) as session:
        first_job = session.get_one(ReportJob, int(first_url.rsplit("/", 1)[1]))
        second_job = session.get_one(ReportJob, int(second_url.rsplit("/", 1)[1]))
        assert first_job.finished_at is not None, "a second job started beside a running one"
        assert first_job.finished_at <= second_job.created_at


def test_a_job_with_all_answers_zips_the_full_reports(
    own_app: tuple[FastAPI, TestClient], quick_data: dict[str, Any], tmp_path: Path
) -> None:
    """ "Include all answers" ticked on the dashboard: the job carries it, each report in the
    zip has Appendix A, and a concise job started meanwhile is another job."""
    application, client = own_app
    settings: Settings = application.state.settings
    with Session(application.state.engine) as session:
        alpha = helpers.tenant(session, settings, "Alpha")
        assert alpha.round.id is not None
        published.publish(session, alpha.round, 4)
        session.add(
            RoundResult(
                round_id=alpha.round.id, computed=quick_data, respondent_count=4, final=True
            )
        )
        consultant = helpers.sign_in(session, settings, alpha.consultant)
        session.commit()
        org_id = alpha.org.id
    base = f"/organisations/{org_id}/report-exports"
    started = client.post(
        base, data={"full": "true"}, headers=consultant.headers(), follow_redirects=False
    )
    job_url = started.headers["location"]
    deadline = time.monotonic() + 180
    while (
        (page := client.get(job_url, headers=consultant.headers()))
        .context[  # type: ignore[attr-defined]
            "page"
        ]
        .under_way
    ):
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.5)
    context = page.context["page"]  # type: ignore[attr-defined]
    assert context.status == "done", context.message
    assert context.full
    assert "with all answers" in page.text
    # "make them again" keeps the option
    tree = lxml.html.document_fromstring(page.text)
    assert tree.xpath(f"//form[@action='{base}']//input[@name='full'][@value='true']")
    download = client.get(context.download_url, headers=consultant.headers())
    assert "-team-reports-full.zip" in download.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        (name,) = archive.namelist()
        assert "Answers per question" in pdf_text(archive.read(name), tmp_path)
    concise = client.post(base, headers=consultant.headers(), follow_redirects=False)
    assert concise.headers["location"] != job_url
    with Session(application.state.engine) as session:
        jobs = session.exec(select(ReportJob).order_by(col(ReportJob.id))).all()
        assert [bool(job.params.get("full")) for job in jobs] == [True, False]


# ---------------------------------------------------------------- commentary


HOSTILE = "Strong start.\n\n<script>alert('c1')</script> <img src=x onerror=alert(2)> & more"


def _save(client: TestClient, who: Any, tenant: Any, text: str) -> Any:
    return client.post(
        _round_path(tenant, "commentary"),
        data={"commentary": text, "csrf_token": who.csrf_token},
        headers={"cookie": who.cookie_header},
        follow_redirects=False,
    )


def test_a_consultant_saves_commentary_and_the_report_shows_it_inert(
    client: TestClient, world: dict[str, Any], session: Session
) -> None:
    alpha = world["alpha"]
    _show_results(session, alpha)
    page = client.get(_round_path(alpha, "results"), headers=world["consultant"].headers())
    form = lxml.html.document_fromstring(page.text).xpath("//section[@id='commentary']//form")
    assert form
    assert form[0].get("action") == _round_path(alpha, "commentary")
    assert form[0].xpath(".//input[@name='csrf_token']")

    saved = _save(client, world["consultant"], alpha, HOSTILE)
    assert saved.status_code == 303
    assert saved.headers["location"].endswith("notice=commentary#commentary")
    session.expire_all()
    stored = session.get(AssessmentRound, alpha.round.id)
    assert stored is not None
    assert stored.commentary == HOSTILE
    event = session.exec(
        select(AuditEvent).where(AuditEvent.action == "round.commentary_saved")
    ).one()
    assert event.organisation_id == alpha.org.id

    # read-only for the team lead, as text; and in the team report, as text
    lead = world["team_lead"].headers()
    results = client.get(_round_path(alpha, "results"), headers=lead)
    tree = lxml.html.document_fromstring(results.text)
    section = tree.xpath("//section[@id='commentary']")[0]
    assert "<script>alert('c1')</script>" in section.text_content()
    assert not section.xpath(".//form | .//script | .//img")
    report = client.get(_round_path(alpha, "report.html"), headers=lead)
    assert report.status_code == 200
    tree = lxml.html.document_fromstring(report.text)
    (chapter,) = tree.xpath("//section[@id='commentary']")
    assert "<script>alert('c1')</script>" in chapter.text_content()
    assert "Strong start." in chapter.text_content()
    assert not chapter.xpath(".//script | .//img")
    assert not [s for s in tree.xpath("//script") if "alert" in (s.text or "")]


def test_only_consultants_and_admins_edit_commentary(
    client: TestClient, world: dict[str, Any], session: Session
) -> None:
    alpha = world["alpha"]
    for who in ("team_lead", "org_leader", "bravo_consultant"):
        refused = _save(client, world[who], alpha, "Not mine to write")
        assert refused.status_code == 404, who
    _show_results(session, alpha)
    page = client.get(_round_path(alpha, "results"), headers=world["team_lead"].headers())
    assert page.context["page"].visible  # type: ignore[attr-defined]
    assert not lxml.html.document_fromstring(page.text).xpath("//section[@id='commentary']//form")
    session.expire_all()
    stored = session.get(AssessmentRound, alpha.round.id)
    assert stored is not None
    assert stored.commentary is None


def test_bad_commentary_is_refused_and_nothing_changes(
    client: TestClient, world: dict[str, Any], session: Session
) -> None:
    alpha = world["alpha"]
    assert _save(client, world["consultant"], alpha, "Kept").status_code == 303
    too_long = _save(client, world["consultant"], alpha, "x" * (commentary.MAX_CHARS + 1))
    assert too_long.status_code == 422
    assert "at most 20,000 characters" in too_long.text
    not_text = _save(client, world["consultant"], alpha, "a\x00b")
    assert not_text.status_code == 422
    assert "not text" in not_text.text
    as_file = client.post(
        _round_path(alpha, "commentary"),
        data={"csrf_token": world["consultant"].csrf_token},
        files={"commentary": ("c.txt", b"file", "text/plain")},
        headers={"cookie": world["consultant"].cookie_header},
    )
    assert 400 <= as_file.status_code < 500
    session.expire_all()
    stored = session.get(AssessmentRound, alpha.round.id)
    assert stored is not None
    assert stored.commentary == "Kept"
    # an empty commentary clears it
    assert _save(client, world["consultant"], alpha, "  \r\n ").status_code == 303
    session.expire_all()
    cleared = session.get(AssessmentRound, alpha.round.id)
    assert cleared is not None
    assert cleared.commentary is None


def test_the_api_reads_and_writes_commentary_like_the_page(
    client: TestClient, world: dict[str, Any], session: Session
) -> None:
    alpha, bravo = world["alpha"], world["bravo"]
    path = "/api" + _round_path(alpha, "commentary")
    consultant = world["consultant"].headers()
    saved = client.put(
        path, json={"commentary": " Start with the registry.\r\n"}, headers=consultant
    )
    assert saved.status_code == 200, saved.text
    assert saved.json() == {"round_id": alpha.round.id, "commentary": "Start with the registry."}
    # everyone who may see the round reads it; only consultants and admins write it
    lead = world["team_lead"].headers()
    assert client.get(path, headers=lead).json()["commentary"] == "Start with the registry."
    assert client.put(path, json={"commentary": "Mine"}, headers=lead).status_code == 404
    other = world["bravo_consultant"].headers()
    assert client.get(path, headers=other).status_code == 404
    assert client.put(path, json={"commentary": "Theirs"}, headers=other).status_code == 404
    # bad bodies: a clear 4xx, nothing changed
    for body in (
        {"commentary": "x" * (commentary.MAX_CHARS + 1)},
        {"commentary": "a\x00b"},
        {"commentary": 42},
        {"commentary": "ok", "extra": 1},
        {},
    ):
        refused = client.put(path, json=body, headers=consultant)
        assert refused.status_code == 422, body
        assert refused.json()["detail"]
    session.expire_all()
    stored = session.get(AssessmentRound, alpha.round.id)
    assert stored is not None
    assert stored.commentary == "Start with the registry."
    untouched = session.get(AssessmentRound, bravo.round.id)
    assert untouched is not None
    assert untouched.commentary is None


def test_commentary_reaches_every_teams_report_in_a_batch(
    session: Session, world: dict[str, Any], settings: Settings
) -> None:
    """The batch (CLI and job) builds team reports with the round's commentary."""
    from app.reports import batch
    from app.reports.branding import organisation_branding

    alpha = world["alpha"]
    alpha.round.commentary = "First paragraph\n\nSecond <b>one</b>"
    session.add(alpha.round)
    session.flush()
    assert alpha.org.id is not None
    results = batch.stored_results(session=session, organisation_id=alpha.org.id)
    reports, skipped = batch.latest_team_reports(
        session=session,
        results=results,
        organisation=alpha.org.name,
        branding=organisation_branding(alpha.org, settings),
    )
    assert skipped == []
    (report,) = reports
    assert report.commentary == (("First paragraph",), ("Second <b>one</b>",))
    team = session.get(Team, alpha.team.id)
    assert team is not None
    assert report.team == team.name
