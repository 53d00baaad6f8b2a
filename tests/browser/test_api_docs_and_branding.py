"""In Chromium: the interactive API documentation at /api/docs renders from the app's own files
(Swagger UI vendored, started by a static script) with no request leaving 127.0.0.1 and no CSP
violation; and a consultant sets their client's branding with a logo on its branding page and
sees it on the cover preview. Screenshots go to test-artifacts/."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlsplit

import pytest
from PIL import Image

from app.accounts import users
from app.config import ROOT_DIR
from app.models import Membership, Organisation, UserRole
from tests.workspace.browser_support import (
    DESKTOP,
    PASSWORD,
    backend,  # noqa: F401 - fixture (SQLite)
    browser,  # noqa: F401 - fixture
    no_serious_axe_violations,
    workspace_server,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT_DIR / "test-artifacts"
VIOLATIONS_SCRIPT = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", event => {
  window.cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


def _recording_page(chromium: Any) -> tuple[Any, Any, list[str]]:
    context = chromium.new_context(viewport=DESKTOP)
    context.add_init_script(VIOLATIONS_SCRIPT)
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    return context, context.new_page(), requested


def _off_site(requested: list[str]) -> list[str]:
    return [
        url
        for url in requested
        if not url.startswith("data:") and urlsplit(url).hostname != "127.0.0.1"
    ]


def test_api_docs_render_offline(
    browser: Any,  # noqa: F811
    workspace_server: Any,  # noqa: F811
) -> None:
    context, page, requested = _recording_page(browser)
    try:
        page.goto(workspace_server.url + "/api/docs")
        page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
        assert page.locator(".swagger-ui .opblock").count() > 20  # every endpoint, listed
        page.get_by_text("/api/teams", exact=True).first.wait_for()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "api-docs-desktop.png"))
        assert page.evaluate("window.cspViolations") == []
        assert _off_site(requested) == []
        assert any(
            url.endswith("/static/vendor/swagger-ui/swagger-ui-bundle.js") for url in requested
        )
        assert any(url.endswith("/api/openapi.json") for url in requested)
    finally:
        context.close()


def _logo() -> bytes:
    image = Image.new("RGB", (240, 80), (255, 255, 255))
    for x in range(20, 220):
        for y in range(20, 60):
            image.putpixel((x, y), (26, 68, 128))
    output = io.BytesIO()
    image.save(output, format="PNG")
    return output.getvalue()


def test_a_consultant_brands_a_client_and_previews_the_cover(
    browser: Any,  # noqa: F811
    workspace_server: Any,  # noqa: F811
    tmp_path: Any,
) -> None:
    with workspace_server.session() as session:
        organisation = Organisation(name="Example Retail", slug="example-retail")
        session.add(organisation)
        session.flush()
        consultant = users.create_user(
            session=session,
            email="casey@example.org",
            display_name="Casey Consultant",
            role=UserRole.consultant,
            password=PASSWORD,
        )
        session.add(
            Membership(
                user_id=consultant.id or 0,
                organisation_id=organisation.id or 0,
                role=UserRole.consultant,
            )
        )
        session.commit()
        org_id = organisation.id
    logo = tmp_path / "logo.png"
    logo.write_bytes(_logo())
    context, page, requested = _recording_page(browser)
    try:
        base = workspace_server.url
        page.goto(base + "/sign-in")
        page.get_by_label("E-mail address").fill("casey@example.org")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        page.goto(f"{base}/organisations/{org_id}/branding")
        page.get_by_label("Name on reports").fill("Northwind Advisory")
        page.get_by_label("Consultant").fill("Casey Consultant")
        page.get_by_label("Accent colour").fill("#ffee00")  # too light for white text
        page.get_by_role("button", name="Save branding").click()
        assert "contrast" in page.get_by_role("alert").inner_text()
        assert page.get_by_label("Name on reports").input_value() == "Northwind Advisory"
        page.get_by_label("Accent colour").fill("#1a4480")
        page.get_by_label("Logo").set_input_files(str(logo))
        page.get_by_role("button", name="Save branding").click()
        assert "Branding saved" in page.get_by_role("status").inner_text()
        no_serious_axe_violations(page, "branding")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "branding-page-desktop.png"), full_page=True)
        page.get_by_role("link", name="Open the full cover").click()
        page.wait_for_selector(".cover-logo")
        assert "Casey Consultant, Northwind Advisory" in page.inner_text(".cover-facts")
        page.screenshot(path=str(ARTIFACTS / "branding-cover-preview.png"))
        assert page.evaluate("window.cspViolations") == []
        assert _off_site(requested) == []
    finally:
        context.close()
