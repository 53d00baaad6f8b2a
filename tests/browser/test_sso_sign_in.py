"""In Chromium: a person signs in with single sign-on against a real OpenID Connect provider
(tests/oidc) on 127.0.0.1: "Sign in with Test ID" on the sign-in page, the provider's login
form, back signed in; then signs out. Then a person whose account has a password confirms it
once to link it. Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app.config import ROOT_DIR
from tests.accounts import sso_support
from tests.surveys import browser_support
from tests.surveys.browser_support import no_serious_axe_violations

pytestmark = pytest.mark.browser

browser = browser_support.browser
ARTIFACTS = ROOT_DIR / "test-artifacts"


@pytest.fixture
def sso_env(
    database_factory: Any,
    tmp_path: Any,
    unavailable: Callable[[str], None],
) -> Iterator[sso_support.SsoWorld]:
    yield from sso_support.sso_world(database_factory, "sqlite", tmp_path, unavailable)


def test_sign_in_with_the_provider_in_chromium(
    sso_env: sso_support.SsoWorld,
    browser: Any,
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(sso_env.server.url + "/sign-in")
        button = page.get_by_role("link", name="Sign in with Test ID")
        assert button.is_visible()
        assert page.get_by_label("Password").is_visible()  # password sign-in is still on
        no_serious_axe_violations(page, "sign-in with single sign-on")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "sso-sign-in.png"), full_page=True)

        button.click()
        page.wait_for_url(sso_env.provider.url + "/interaction/**")
        page.get_by_label("User name").fill("ada")
        page.get_by_role("button", name="Continue").click()

        page.wait_for_url(sso_env.server.url + "/teams**")
        page.goto(sso_env.server.url + "/account")
        assert "ada@example.org" in page.locator("main").inner_text()
        page.screenshot(path=str(ARTIFACTS / "sso-signed-in.png"), full_page=True)

        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/sign-in?signed_out=1")
        assert "You are signed out." in page.locator("main").inner_text()
        page.goto(sso_env.server.url + "/account")
        assert "/sign-in" in page.url  # the app's session is over

        # a password account (another browser: the provider remembers Ada in this one): the
        # provider's word is not enough the first time
        context.close()
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(sso_env.server.url + "/sign-in")
        page.get_by_role("link", name="Sign in with Test ID").click()
        page.wait_for_url(sso_env.provider.url + "/interaction/**")
        page.get_by_label("User name").fill("pat")
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url(sso_env.server.url + "/sign-in/sso/link")
        assert "pat@example.org" in page.locator("main").inner_text()
        no_serious_axe_violations(page, "confirm the password to link")
        page.screenshot(path=str(ARTIFACTS / "sso-link.png"), full_page=True)
        page.get_by_label("Password of this account").fill(sso_support.PASSWORD)
        page.get_by_role("button", name="Link and sign in").click()
        page.wait_for_url(sso_env.server.url + "/teams**")
    finally:
        context.close()
