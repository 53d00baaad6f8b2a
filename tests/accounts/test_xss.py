"""XSS: payloads in every user-editable text the accounts area shows (organisation, unit,
team and user names, e-mail addresses, API token names, audit details), in a round's
consultant commentary and in an answer note shared with the team (the team report's appendix)
are inert in every HTML page, the results page and the team report page included; the pages
are parsed, not searched for strings."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import lxml.html
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.accounts import api_tokens, audit
from app.models import Response, ResponseStatus, RoundResult, UserRole
from tests import test_isolation as walk
from tests.accounts import helpers

PAYLOADS = (
    "<script>alert('x1')</script>",
    '"><img src=x onerror=alert(2)>',
    "javascript:alert(3)",
    "{{7*7}}",
    "' onmouseover='alert(4)",
)
COMBINED = "".join(PAYLOADS)


@pytest.fixture
def world(session: Session, settings: Any) -> walk.World:
    built: walk.World = walk.world.__wrapped__(session, settings)  # type: ignore[attr-defined]
    for side, tenant in built.tenants.items():
        tenant.org.name = f"{side} org {COMBINED}"
        tenant.unit.name = f"{side} unit {COMBINED}"
        tenant.team.name = f"{side} team {COMBINED}"
        tenant.other_team.name = f"{side} second {COMBINED}"
        for person in (tenant.consultant, tenant.org_leader, tenant.team_lead):
            person.display_name = f"{side} {person.role} {COMBINED}"
        session.add_all([tenant.org, tenant.unit, tenant.team, tenant.other_team])
        session.add_all([tenant.consultant, tenant.org_leader, tenant.team_lead])
        api_tokens.create(
            session=session, settings=settings, user=tenant.team_lead, name=f"token {COMBINED}"
        )
        # the consultant's commentary and a note its author shared: both reach the team
        # report (and the commentary the results page)
        tenant.round.commentary = f"{side} commentary {COMBINED}\n\n{COMBINED}"
        tenant.round.mode = "solo"  # its one submitted response shows the results page
        session.add(tenant.round)
        # the walk's round is published with several responses: the first carries the note
        response = session.exec(
            select(Response).where(Response.round_id == tenant.round.id).order_by(col(Response.id))
        ).first()
        assert response is not None
        question = next(iter(helpers.catalog().questions))
        response.answers = {
            question: {"value": None, "note": f"note {COMBINED}", "note_shareable": True}
        }
        response.status = ResponseStatus.submitted
        session.add(response)
        result = session.exec(
            select(RoundResult).where(RoundResult.round_id == tenant.round.id)
        ).one()
        # as many as submitted: the stored result stays current
        result.respondent_count = len(
            session.exec(
                select(Response.id).where(
                    Response.round_id == tenant.round.id,
                    Response.status == ResponseStatus.submitted,
                )
            ).all()
        )
        session.add(result)
        audit.record(
            session=session,
            action=f"test.{COMBINED}",
            target_type="team",
            target_id=COMBINED,
            organisation_id=tenant.org.id,
            details={"name": COMBINED, "nested": {"x": COMBINED}},
        )
    # an e-mail address that passes validation yet carries markup
    helpers.user(
        session, UserRole.team_lead, email='"><svg/onload=alert(5)>@example.org', name=COMBINED
    )
    session.commit()
    return built


def _assert_inert(html: str, where: str) -> list[str]:
    problems: list[str] = []
    document = lxml.html.document_fromstring(html)
    for element in document.iter():
        if not isinstance(element.tag, str):
            continue
        tag = element.tag.lower()
        if tag == "script":
            source = urlsplit(element.get("src") or "")
            ours = source.netloc in ("", "testserver") and source.path.startswith("/static/")
            if element.get("type") != "application/json" and not ours:
                problems.append(f"{where}: a <script> element that is not ours")
            if "alert" in (element.text or ""):
                problems.append(f"{where}: payload inside a script element")
        if tag in {"img", "svg", "iframe", "object", "embed"} and (
            element.get("src") == "x" or element.get("onload")
        ):
            problems.append(f"{where}: injected <{tag}>")
        for name, value in element.attrib.items():
            if name.lower().startswith("on"):
                problems.append(f"{where}: event handler attribute {name}={value!r}")
            if name.lower() in {"href", "src", "action", "formaction"} and re.match(
                r"\s*javascript:", value, re.IGNORECASE
            ):
                problems.append(f"{where}: javascript: URL in {name}")
    text = document.text_content()
    if "49" in text and "{{7*7}}" not in text and COMBINED[:10] in html:
        problems.append(f"{where}: template expression evaluated")
    return problems


def test_payloads_are_inert_on_every_html_page(
    app: FastAPI, client: TestClient, session: Session, world: walk.World
) -> None:
    alpha = world.tenants[walk.ALPHA]
    viewers = {
        "admin": helpers.sign_in(session, world.settings, world.admin),
        "consultant": helpers.sign_in(session, world.settings, alpha.consultant),
        "team lead": helpers.sign_in(session, world.settings, alpha.team_lead),
    }
    session.commit()
    problems: list[str] = []
    shown = 0
    for endpoint in walk.endpoints(app):
        if endpoint.method != "GET":
            continue
        path = endpoint.path
        for name in endpoint.parameters:
            value = walk.PATH_PARAMETERS[name].value(world, walk.ALPHA)
            path = re.sub(r"{" + name + r"(:[^}]+)?}", value, path)
        for label, viewer in viewers.items():
            client.cookies.clear()
            response = client.get(path, headers={"cookie": viewer.cookie_header})
            if "text/html" not in response.headers.get("content-type", ""):
                continue
            where = f"GET {endpoint.path} as {label}"
            problems.extend(_assert_inert(response.text, where))
            if "{{7*7}}" in lxml.html.document_fromstring(response.text).text_content():
                shown += 1
    assert not problems, "\n".join(problems)
    # the payloads were really on the pages (as text), not just absent
    assert shown >= 8
    report = lxml.html.document_fromstring(
        client.get(
            f"/teams/{alpha.team.id}/rounds/{alpha.round.id}/report.html",
            headers={"cookie": viewers["team lead"].cookie_header},
        ).text
    )
    results = lxml.html.document_fromstring(
        client.get(
            f"/teams/{alpha.team.id}/rounds/{alpha.round.id}/results",
            headers={"cookie": viewers["consultant"].cookie_header},
        ).text
    )
    (shown_commentary,) = results.xpath("//section[@id='commentary']")
    assert COMBINED in shown_commentary.text_content()
    assert COMBINED in shown_commentary.xpath(".//textarea")[0].text_content()
    for section in ("commentary", "notes"):
        (element,) = report.xpath(f"//*[@id='{section}']")
        assert COMBINED in element.text_content(), section


def test_the_checker_catches_live_markup() -> None:
    live = '<html><body><img src=x onerror="alert(1)"><a href="javascript:x">a</a></body></html>'
    assert len(_assert_inert(live, "sample")) >= 3
