"""The repository check on the pages: the results page points to it, a lead uploads a signals
file and reads the comparison; refusals change nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lxml.html
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.models import AssessmentRound
from tests.repository.test_api import signals_body, world

__all__ = ["world"]  # the fixture, shared with the API tests


def page_path(tenant: Any, suffix: str = "repository") -> str:
    return f"/teams/{tenant.team.id}/rounds/{tenant.round.id}/{suffix}"


def upload(client: TestClient, who: Any, tenant: Any, content: bytes, name: str = "s.json") -> Any:
    return client.post(
        page_path(tenant),
        data={"csrf_token": who.csrf_token},
        files={"signals": (name, content, "application/json")},
        headers={"cookie": who.cookie_header},
        follow_redirects=False,
    )


def test_a_lead_uploads_signals_and_sees_the_table(
    client: TestClient, world: dict[str, Any], session: Session, tmp_path: Path
) -> None:
    alpha = world["alpha"]
    lead = world["team_lead"]
    results = client.get(page_path(alpha, "results"), headers=lead.headers())
    assert results.status_code == 200
    links = lxml.html.document_fromstring(results.text).xpath(
        "//section[@id='repository']//a/@href"
    )
    assert links == [page_path(alpha)]

    empty = client.get(page_path(alpha), headers=lead.headers())
    assert empty.status_code == 200
    assert empty.context["page"].comparison is None  # type: ignore[attr-defined]
    form = lxml.html.document_fromstring(empty.text).xpath("//form[@enctype='multipart/form-data']")
    assert form
    assert form[0].xpath(".//input[@name='csrf_token']")

    body = json.dumps(signals_body(tmp_path, "hacks_and_todos")).encode()
    sent = upload(client, lead, alpha, body)
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == page_path(alpha) + "?notice=attached"
    shown = client.get(page_path(alpha), headers=world["org_leader"].headers())
    comparison = shown.context["page"].comparison  # type: ignore[attr-defined]
    assert comparison.count("contradicts") == 5
    tree = lxml.html.document_fromstring(shown.text)
    rows = tree.xpath("//table[@id='repository-comparison']/tbody/tr")
    assert len(rows) == 11
    verdicts = [row.xpath("string(td[3]/strong)") for row in rows]
    assert verdicts.count("contradicts") == 5
    assert not tree.xpath("//form[@enctype='multipart/form-data']")  # org leaders only read

    report = client.get(page_path(alpha, "report.html"), headers=lead.headers())
    assert report.status_code == 200
    (chapter,) = lxml.html.document_fromstring(report.text).xpath("//section[@id='repository']")
    assert len(chapter.xpath(".//tbody/tr")) == 11
    assert "5 contradict" in chapter.text_content()


def test_bad_uploads_and_other_tenants_change_nothing(
    client: TestClient, world: dict[str, Any], session: Session, tmp_path: Path
) -> None:
    alpha = world["alpha"]
    lead = world["team_lead"]
    for content in (b"not json", b"\xff\xfe", b'{"format": "x"}'):
        refused = upload(client, lead, alpha, content)
        assert refused.status_code == 422, content
    without_csrf = client.post(
        page_path(alpha),
        files={
            "signals": (
                "s.json",
                json.dumps(signals_body(tmp_path, "tidy_package")),
                "application/json",
            )
        },
        headers={"cookie": lead.cookie_header},
    )
    assert without_csrf.status_code == 403
    other = upload(client, world["bravo_consultant"], alpha, b"{}")
    assert other.status_code == 404
    assert (
        client.get(page_path(alpha), headers=world["bravo_consultant"].headers()).status_code == 404
    )
    session.expire_all()
    stored = session.get(AssessmentRound, alpha.round.id)
    assert stored is not None
    assert stored.repository_signals is None
