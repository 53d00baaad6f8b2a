"""Report downloads: signed-in, tenant-scoped, application/pdf, and the API twin.

The router is mounted here on the test's app; app.main registers it for the service.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.accounts import api_tokens
from app.config import Settings
from app.models import RoundResult
from app.reports import pdf, routes
from app.rubric.answers_file import AnswersFile, assess_file
from app.rubric.loader import Catalog
from app.rubric.output import to_data
from tests.accounts import helpers
from tests.reports import published


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> pdf.PdfCache:
    """One PDF cache for the module: the same report is rendered once, then served from it
    (rendering itself is tested in test_team_report.py)."""
    return pdf.PdfCache(tmp_path_factory.mktemp("report-cache"))


@pytest.fixture
def world(
    app: FastAPI,
    session: Session,
    settings: Settings,
    catalog: Catalog,
    example: AnswersFile,
    render_pool: pdf.RenderPool,
    shared_cache: pdf.PdfCache,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, Any]:
    if not any(
        getattr(r, "path", "") == "/api/teams/{team_id}/rounds/{round_id}/report.pdf"
        for r in app.routes
    ):
        app.include_router(routes.router)
    monkeypatch.setattr(pdf, "get_pool", lambda limits=None: render_pool)
    monkeypatch.setattr(pdf, "PdfCache", lambda directory: shared_cache)
    alpha = helpers.tenant(session, settings, "Alpha")
    bravo = helpers.tenant(session, settings, "Bravo")
    assert alpha.round.id is not None
    data = to_data(catalog, assess_file(catalog, example))
    published.publish(session, alpha.round, 6)
    session.add(RoundResult(round_id=alpha.round.id, computed=data, respondent_count=6, final=True))
    signed_in = helpers.sign_in(session, settings, alpha.team_lead)
    token = api_tokens.create(session=session, settings=settings, user=alpha.team_lead, name="t")
    session.commit()
    return {"alpha": alpha, "bravo": bravo, "signed_in": signed_in, "token": token.token}


def _path(tenant: Any, suffix: str, api: bool = False) -> str:
    prefix = "/api" if api else ""
    return f"{prefix}/teams/{tenant.team.id}/rounds/{tenant.round.id}/report.{suffix}"


def test_a_team_lead_downloads_the_pdf_and_the_page(
    client: TestClient, world: dict[str, Any]
) -> None:
    headers = world["signed_in"].headers()
    response = client.get(_path(world["alpha"], "pdf"), headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert "attachment" in response.headers["content-disposition"]
    page = client.get(_path(world["alpha"], "html"), headers=headers)
    assert page.status_code == 200
    assert "Alpha Team" in page.text
    assert "/static/js/charts.js" in page.text


def test_the_api_twin_answers_application_pdf(client: TestClient, world: dict[str, Any]) -> None:
    response = client.get(
        _path(world["alpha"], "pdf", api=True),
        headers={"authorization": f"Bearer {world['token']}"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"


def test_other_tenants_and_mismatched_ids_are_not_found(
    client: TestClient, world: dict[str, Any]
) -> None:
    headers = world["signed_in"].headers()
    alpha, bravo = world["alpha"], world["bravo"]
    assert client.get(_path(bravo, "pdf"), headers=headers).status_code == 404
    assert client.get(_path(bravo, "html"), headers=headers).status_code == 404
    mixed = f"/teams/{alpha.other_team.id}/rounds/{alpha.round.id}/report.pdf"
    assert client.get(mixed, headers=headers).status_code == 404
    api = client.get(
        _path(bravo, "pdf", api=True), headers={"authorization": f"Bearer {world['token']}"}
    )
    assert api.status_code == 404


def test_sign_in_is_required(client: TestClient, world: dict[str, Any]) -> None:
    page = client.get(_path(world["alpha"], "pdf"), follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/sign-in")
    assert client.get(_path(world["alpha"], "pdf", api=True)).status_code == 401


def test_a_round_without_results_says_so(
    client: TestClient, world: dict[str, Any], session: Session
) -> None:
    alpha = world["alpha"]
    result = session.exec(select(RoundResult)).first()
    assert result is not None
    session.delete(result)
    session.commit()
    response = client.get(
        _path(alpha, "pdf", api=True), headers={"authorization": f"Bearer {world['token']}"}
    )
    assert response.status_code == 409
    assert "not have enough submitted responses" in response.json()["detail"]


def _pdf_text(content: bytes, tmp_path: Any) -> str:
    import subprocess

    path = tmp_path / "report.pdf"
    path.write_bytes(content)
    done = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True)
    return done.stdout


def test_the_report_is_concise_unless_all_answers_are_asked_for(
    client: TestClient, world: dict[str, Any], tmp_path: Any
) -> None:
    """The page and the API give the concise report by default; ``full=1`` (the results page's
    "including all answers" link) adds Appendix A with every question's answers."""
    headers = world["signed_in"].headers()
    alpha = world["alpha"]
    concise = client.get(_path(alpha, "html"), headers=headers)
    assert concise.status_code == 200
    assert "Answers per question" not in concise.text
    assert "include all answers" in concise.text
    assert f'href="{_path(alpha, "html")}?full=1">Include all answers</a>' in concise.text
    assert f'href="{_path(alpha, "pdf")}?full=1">PDF including all answers</a>' in concise.text
    full = client.get(_path(alpha, "html") + "?full=1", headers=headers)
    assert "Appendix A · Answers per question" in full.text
    assert "Show the concise report" in full.text
    api = client.get(
        _path(alpha, "pdf", api=True), headers={"authorization": f"Bearer {world['token']}"}
    )
    assert api.status_code == 200
    text = _pdf_text(api.content, tmp_path)
    assert "Answers per question" not in text
    assert "Rubric version and sources" in text
    assert 'filename="Alpha-Team-report.pdf"' in api.headers["content-disposition"]


def test_the_api_documents_the_full_option(app: FastAPI) -> None:
    schema = app.openapi()
    operation = schema["paths"]["/api/teams/{team_id}/rounds/{round_id}/report.pdf"]["get"]
    (full,) = [p for p in operation["parameters"] if p["name"] == "full"]
    assert full["in"] == "query"
    assert full["schema"]["default"] is False
    assert "all answers" in full["description"]


@pytest.mark.slow
def test_the_api_gives_the_full_report_with_every_answer(
    client: TestClient, world: dict[str, Any], tmp_path: Any
) -> None:
    response = client.get(
        _path(world["alpha"], "pdf", api=True) + "?full=true",
        headers={"authorization": f"Bearer {world['token']}"},
    )
    assert response.status_code == 200
    assert "-report-full.pdf" in response.headers["content-disposition"]
    assert "Appendix A · Answers per question" in _pdf_text(response.content, tmp_path)
    page = client.get(
        _path(world["alpha"], "pdf") + "?full=1", headers=world["signed_in"].headers()
    )
    assert page.status_code == 200
    assert page.content == response.content  # one render, from the cache
