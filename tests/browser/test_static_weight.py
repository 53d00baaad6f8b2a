"""Light pages in Chromium: with a cold cache, the results page and the organisation dashboard
each transfer under 600 KB of HTML, JavaScript and CSS; the charts draw from ProcessLens's own
Plotly bundle under a Content-Security-Policy without 'unsafe-eval', with no CSP violation; a
reload finds the hashed static files in the browser's cache. Screenshots go to test-artifacts/."""

from __future__ import annotations

import contextlib
import dataclasses
import re
from typing import Any

import pytest

from app.accounts import users
from app.config import ROOT_DIR
from app.models import Membership, UserRole
from tests.dashboards import helpers
from tests.workspace.browser_support import (
    DESKTOP,
    PASSWORD,
    PHONE,
    backend,  # noqa: F401 - fixture (SQLite)
    browser,  # noqa: F401 - fixture
    sign_in,
    workspace_server,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT_DIR / "test-artifacts"
LEADER = "olivia@example.org"
BUDGET_BYTES = 600_000
# what the page itself loads; images, fonts and favicons are not part of the budget
WEIGHED_TYPES = ("document", "script", "stylesheet")
TRACE_TYPES = ["bar", "heatmap", "scatter", "scatterpolar"]
# the marker the test page sets when the browser reports a CSP violation
VIOLATIONS_SCRIPT = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", event => {
  window.cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@dataclasses.dataclass
class Weight:
    """What one page load transferred, by resource type (bytes on the wire, headers included)."""

    by_type: dict[str, int]
    uncompressed_scripts: list[str]
    drawn_ms: float  # from navigation start to every chart drawn

    @property
    def total(self) -> int:
        return sum(self.by_type.values())


def _seed(server: Any) -> tuple[str, str]:
    """The dashboard test world and its leader; the paths of a results page and the dashboard."""
    with server.session() as session:
        world = helpers.world(session)
        leader = users.create_user(
            session=session,
            email=LEADER,
            display_name="Olivia Leader",
            role=UserRole.org_leader,
            password=PASSWORD,
        )
        session.add(
            Membership(user_id=leader.id or 0, organisation_id=world.id, role=UserRole.org_leader)
        )
        session.commit()
        atlas = world.teams["Atlas"]
        latest = world.rounds["Atlas"][-1]
        return (
            f"/teams/{atlas.id}/rounds/{latest.id}/results",
            f"/organisations/{world.id}/dashboard",
        )


def _load(page: Any, devtools: Any, url: str) -> Weight:
    """Open ``url`` and wait for every chart; return what the network carried for it, as
    Chromium's DevTools count it (bytes received, headers included; 0 from the cache)."""
    types: dict[str, str] = {}
    encodings: dict[str, str | None] = {}
    received: dict[str, int] = {}

    def response_received(event: dict[str, Any]) -> None:
        types[event["requestId"]] = event["type"].lower()
        headers = {name.lower(): value for name, value in event["response"]["headers"].items()}
        encodings[event["requestId"]] = headers.get("content-encoding")

    def loading_finished(event: dict[str, Any]) -> None:
        received[event["requestId"]] = int(event["encodedDataLength"])

    devtools.on("Network.responseReceived", response_received)
    devtools.on("Network.loadingFinished", loading_finished)
    page.goto(url)
    page.wait_for_function(
        """() => Array.from(document.querySelectorAll("[data-chart]")).every(
            f => f.querySelector(".chart-interactive svg.main-svg"))"""
    )
    drawn_ms = float(page.evaluate("performance.now()"))
    page.wait_for_load_state("load")
    devtools.remove_listener("Network.responseReceived", response_received)
    devtools.remove_listener("Network.loadingFinished", loading_finished)
    by_type: dict[str, int] = {}
    uncompressed: list[str] = []
    for request_id, size in received.items():
        kind = types.get(request_id, "other")
        if kind not in WEIGHED_TYPES:
            continue
        by_type[kind] = by_type.get(kind, 0) + size
        if kind == "script" and size > 0 and encodings.get(request_id) is None:
            uncompressed.append(request_id)
    return Weight(by_type=by_type, uncompressed_scripts=uncompressed, drawn_ms=drawn_ms)


def _screenshots(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for label, size in (("375", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)
        page.wait_for_timeout(300)  # let Plotly resize the charts
        page.screenshot(path=str(ARTIFACTS / f"static-{name}-{label}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def test_results_and_dashboard_are_light_and_draw_under_a_strict_csp(
    workspace_server: Any,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    server = workspace_server
    results_path, dashboard_path = _seed(server)
    for name, path in (("results", results_path), ("dashboard", dashboard_path)):
        # a new context is a cold cache
        context = browser.new_context(viewport=DESKTOP)
        context.add_init_script(VIOLATIONS_SCRIPT)
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda message, seen=console: seen.append(message.text))
        page.on("pageerror", lambda error, seen=console: seen.append(str(error)))
        sign_in(page, server.url, LEADER)
        document = page.request.get(server.url + path)
        policy = document.headers["content-security-policy"]
        script_src = re.search(r"script-src ([^;]*)", policy)
        assert script_src is not None
        assert script_src.group(1).split() == ["'self'"], policy

        devtools = context.new_cdp_session(page)
        devtools.send("Network.enable")
        devtools.send("Network.clearBrowserCache")
        weight = _load(page, devtools, server.url + path)
        print(  # noqa: T201
            f"{name}: {weight.total} bytes transferred {weight.by_type}, "
            f"charts drawn after {weight.drawn_ms:.0f} ms"
        )
        assert weight.total < BUDGET_BYTES, (name, weight)
        assert not weight.uncompressed_scripts, weight.uncompressed_scripts

        # drawn by our bundle, which knows only the trace types the charts use
        traces = page.evaluate("Object.keys(Plotly.PlotSchema.get().traces).sort()")
        assert traces == TRACE_TYPES
        assert page.evaluate("window.cspViolations") == []
        assert not [text for text in console if "Content Security Policy" in text], console
        # the watch works: an inline script is refused and reported (Playwright may raise too)
        with contextlib.suppress(Exception):
            page.add_script_tag(content="window.inlineRan = true;")
        page.wait_for_function("window.cspViolations.length > 0")
        assert page.evaluate("window.inlineRan") is None

        # hashed static files come from the browser's cache on the next visit
        again = _load(page, devtools, server.url + path)
        assert again.by_type.get("script", 0) == 0, again
        assert again.by_type.get("stylesheet", 0) == 0, again
        _screenshots(page, name)
        context.close()
