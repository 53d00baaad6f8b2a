"""Trust at the edges of a session: HSTS, caching of signed-in pages, links that never follow
a forged Host header, API tokens that end with a password or role change, and the sign-in
lockout rule (failures lock an account for strangers, not for a browser it knows)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Connection
from sqlmodel import Session

from app import db
from app.accounts import api_tokens, passwords, ratelimit, sessions, users
from app.config import ConfigurationError, Settings
from app.main import create_app
from app.models import User, UserRole
from tests.accounts import helpers

PASSWORD = "correct horse battery staple"


@pytest.fixture
def admin(session: Session) -> User:
    user = helpers.user(
        session,
        UserRole.admin,
        email="admin@example.org",
        password_hash=passwords.hash_password(PASSWORD),
    )
    session.commit()
    return user


def _app(settings: Settings, db_connection: Connection) -> FastAPI:
    application = create_app(settings)
    application.state.sessions = db.session_factory(db_connection)
    application.state.read_sessions = db.session_factory(db_connection)
    return application


def _form_token(client: TestClient, **headers: str) -> str:
    page = client.get("/sign-in", headers=headers)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None, page.text[:500]
    return found[1]


def _sign_in(client: TestClient, email: str, password: str) -> Any:
    return client.post(
        "/sign-in",
        data={"email": email, "password": password, "csrf_token": _form_token(client)},
        follow_redirects=False,
    )


# ---------------------------------------------------------------- HSTS


def test_https_base_url_sends_hsts_on_every_response(
    make_settings: Callable[..., Settings], database_url: str, db_connection: Connection
) -> None:
    secure = make_settings(database_url, base_url="https://processlens.example")
    with TestClient(_app(secure, db_connection), base_url="https://processlens.example") as client:
        for path in ("/", "/sign-in", "/no-such-page", "/api/me", "/static/css/app.css"):
            response = client.get(path, follow_redirects=False)
            assert (
                response.headers.get("strict-transport-security")
                == "max-age=31536000; includeSubDomains"
            ), path


def test_plain_http_base_url_sends_no_hsts(client: TestClient) -> None:
    # a browser would remember it for a year: never on a plain-http installation
    assert "strict-transport-security" not in client.get("/").headers


# ---------------------------------------------------------------- no-store on signed-in pages


def test_every_signed_in_page_is_no_store(
    client: TestClient, session: Session, settings: Settings
) -> None:
    alpha = helpers.tenant(session, settings, "Alpha")
    signed_in = helpers.sign_in(session, settings, alpha.consultant)
    session.commit()
    team, round_ = alpha.team.id, alpha.round.id
    pages = (
        "/",
        "/teams",
        f"/teams/{team}",
        f"/teams/{team}/rounds/{round_}",
        f"/teams/{team}/rounds/{round_}/results",
        "/dashboards",
        f"/organisations/{alpha.org.id}/dashboard",
        "/no-such-page",
    )
    for path in pages:
        response = client.get(path, headers=signed_in.headers(csrf=False), follow_redirects=False)
        assert response.status_code in (200, 404), (path, response.status_code)
        assert "no-store" in response.headers.get("cache-control", ""), path
        # one Cache-Control header, not a route's and the middleware's side by side
        assert len(response.headers.get_list("cache-control")) == 1, path
    # static files stay cacheable
    static = client.get("/static/css/app.css", headers=signed_in.headers(csrf=False))
    assert "no-store" not in static.headers.get("cache-control", "")


# ---------------------------------------------------------------- links and the Host header


def test_a_forged_host_header_never_reaches_a_page(
    client: TestClient, session: Session, settings: Settings
) -> None:
    alpha = helpers.tenant(session, settings, "Alpha")
    signed_in = helpers.sign_in(session, settings, alpha.team_lead)
    session.commit()
    forged = {"host": "evil.example"}
    for path in ("/", "/sign-in", "/no-such-page", f"/r/{alpha.resume_token}"):
        response = client.get(path, headers=forged, follow_redirects=False)
        assert "evil.example" not in response.text, path
        assert "evil.example" not in response.headers.get("location", ""), path
        if response.status_code != 303:
            assert 'href="/static/css/app.' in response.text, path
    team_page = client.get(
        f"/teams/{alpha.team.id}", headers={**forged, **signed_in.headers(csrf=False)}
    )
    assert team_page.status_code == 200
    assert "evil.example" not in team_page.text


def test_links_follow_the_base_url_path(
    make_settings: Callable[..., Settings], database_url: str, db_connection: Connection
) -> None:
    # behind a proxy that serves the app under a prefix, links carry the prefix
    prefixed = make_settings(database_url, base_url="https://example.org/lens/")
    with TestClient(_app(prefixed, db_connection)) as client:
        page = client.get("/", headers={"host": "evil.example"})
    assert 'href="/lens/static/css/app.' in page.text
    assert "evil.example" not in page.text


# ---------------------------------------------------------------- API tokens end with trust


def _token_works(client: TestClient, token: str) -> int:
    return client.get("/api/me", headers={"authorization": f"Bearer {token}"}).status_code


@pytest.mark.parametrize("change", ["password", "role", "disable"])
def test_password_role_or_disable_revokes_api_tokens(
    client: TestClient, session: Session, settings: Settings, admin: User, change: str
) -> None:
    member = helpers.user(session, UserRole.consultant)
    created = api_tokens.create(session=session, settings=settings, user=member, name="ci")
    session.commit()
    assert _token_works(client, created.token) == 200
    if change == "password":
        users.set_password(session=session, user=member, password="a new long passphrase")
    elif change == "role":
        users.set_role(session=session, user=member, role=UserRole.org_leader)
    else:
        users.set_active(session=session, user=member, active=False)
        session.commit()
        users.set_active(session=session, user=member, active=True)
    session.commit()
    assert _token_works(client, created.token) == 401
    session.refresh(created.row)
    assert created.row.revoked_at is not None


def test_reset_link_revokes_api_tokens(
    client: TestClient, session: Session, settings: Settings, admin: User
) -> None:
    created = api_tokens.create(session=session, settings=settings, user=admin, name="ci")
    reset_token = users.make_reset_token(settings=settings, user=admin)
    session.commit()
    assert _token_works(client, created.token) == 200
    page = client.get(f"/reset/{reset_token}")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    new_password = "another long passphrase"
    done = client.post(
        f"/reset/{reset_token}",
        data={"password": new_password, "confirm": new_password, "csrf_token": csrf[1]},
    )
    assert done.status_code == 200
    assert _token_works(client, created.token) == 401


# ---------------------------------------------------------------- the sign-in lockout rule


def _attacker_burns_failures(app: FastAPI, email: str, count: int) -> list[int]:
    """Wrong passwords for ``email``, each from a different address (a botnet)."""
    codes = []
    for index in range(count):
        attacker = TestClient(app, client=(f"203.0.113.{index + 1}", 50000))
        codes.append(_sign_in(attacker, email, f"guess {index}").status_code)
    return codes


def test_failures_lock_strangers_out_but_not_a_known_browser(
    app: FastAPI, admin: User, settings: Settings
) -> None:
    # the admin signed in from this browser before: it holds a device cookie for the account
    with TestClient(app, client=("198.51.100.7", 50000)) as browser:
        assert _sign_in(browser, admin.email, PASSWORD).status_code == 303
        device_cookie = sessions.device_cookie_name(settings)
        assert browser.cookies.get(device_cookie)

        codes = _attacker_burns_failures(app, admin.email, 12)
        # ten failures a minute per account, then refused before the password is checked
        assert codes[:10] == [400] * 10
        assert codes[10:] == [429, 429]

        # a stranger with the right password is still refused: no oracle for the attacker
        with TestClient(app, client=("192.0.2.99", 50000)) as stranger:
            assert _sign_in(stranger, admin.email, PASSWORD).status_code == 429

        # the admin's own browser (another address now) signs in with the right password
        browser.cookies.delete(sessions.session_cookie_name(settings))
        with TestClient(app, client=("192.0.2.200", 50000)) as moved:
            moved.cookies.set(device_cookie, browser.cookies[device_cookie])
            assert _sign_in(moved, admin.email, PASSWORD).status_code == 303


def test_a_device_cookie_is_bound_to_its_account(
    app: FastAPI, admin: User, session: Session, settings: Settings
) -> None:
    other = helpers.user(
        session,
        UserRole.consultant,
        email="attacker@example.org",
        password_hash=passwords.hash_password(PASSWORD),
    )
    session.commit()
    with TestClient(app) as attacker:
        # the attacker's own account gives them a device cookie ...
        assert _sign_in(attacker, other.email, PASSWORD).status_code == 303
        assert attacker.cookies.get(sessions.device_cookie_name(settings))
        _attacker_burns_failures(app, admin.email, 10)
        # ... which counts for nothing on the admin's account
        assert _sign_in(attacker, admin.email, "one more guess").status_code == 429


def test_a_known_browser_has_its_own_failure_limit(
    app: FastAPI, admin: User, settings: Settings
) -> None:
    with TestClient(app) as browser:
        assert _sign_in(browser, admin.email, PASSWORD).status_code == 303
        codes = [_sign_in(browser, admin.email, f"typo {i}").status_code for i in range(11)]
        assert codes == [400] * 10 + [429]


def test_only_failures_count_against_the_account(app: FastAPI, admin: User) -> None:
    # signing in and out a dozen times a minute (a script, a shared kiosk) never locks it
    for index in range(12):
        with TestClient(app, client=(f"198.51.100.{index + 1}", 50000)) as browser:
            assert _sign_in(browser, admin.email, PASSWORD).status_code == 303


def test_the_address_limit_counts_every_attempt(app: FastAPI, admin: User) -> None:
    with TestClient(app) as client:
        codes = [_sign_in(client, admin.email, PASSWORD).status_code for _ in range(21)]
    assert codes == [303] * 20 + [429]


def test_repeated_failures_slow_down(
    make_settings: Callable[..., Settings],
    database_url: str,
    db_connection: Connection,
    admin: User,
    tmp_path: Any,
) -> None:
    slow = make_settings(database_url, sign_in_max_delay=0.5, data_dir=tmp_path / "data")
    app = _app(slow, db_connection)
    timings = []
    with TestClient(app) as client:
        for index in range(5):
            token = _form_token(client)
            started = time.monotonic()
            response = client.post(
                "/sign-in",
                data={"email": admin.email, "password": f"guess {index}", "csrf_token": token},
            )
            timings.append(time.monotonic() - started)
            assert response.status_code == 400
    # the pause grows by a tenth of the longest with each failure in the last minute
    assert timings[0] >= 0.05
    assert timings[4] >= 0.25
    assert timings[4] > timings[0] + 0.15


# ---------------------------------------------------------------- the trusted-proxy setting


def test_trusted_proxies_are_addresses_or_networks(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    settings = make_settings(database_url, trusted_proxies="10.0.0.5, 172.18.0.0/16")
    assert settings.trusted_proxies == ["10.0.0.5", "172.18.0.0/16"]
    assert make_settings(database_url).trusted_proxies == []
    for bad in ("*", "proxy.internal", "10.0.0.300"):
        with pytest.raises(ConfigurationError, match="PROCESSLENS_TRUSTED_PROXIES"):
            make_settings(database_url, trusted_proxies=bad)


def test_the_rate_limit_key_ignores_forwarded_headers(app: FastAPI) -> None:
    # in-process there is no proxy middleware: the header must not be read by the app itself
    with TestClient(app) as client:
        codes = []
        for index in range(21):
            token = _form_token(client)
            codes.append(
                client.post(
                    "/sign-in",
                    data={
                        "email": f"p{index}@example.org",
                        "password": "wrong password",
                        "csrf_token": token,
                    },
                    headers={"x-forwarded-for": f"198.51.100.{index + 1}"},
                ).status_code
            )
    assert codes == [400] * 20 + [429]


def test_an_ignored_forwarded_header_is_logged_once(
    app: FastAPI, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an operator behind an unconfigured proxy learns what to set
    monkeypatch.setattr(ratelimit, "_forwarded_ignored_logged", False)
    with TestClient(app, client=("127.0.0.1", 50000)) as client, caplog.at_level("WARNING"):
        for _ in range(2):
            token = _form_token(client)
            client.post(
                "/sign-in",
                data={"email": "a@example.org", "password": "wrong password", "csrf_token": token},
                headers={"x-forwarded-for": "198.51.100.1"},
            )
    warnings = [r.getMessage() for r in caplog.records if "X-Forwarded-For" in r.getMessage()]
    assert len(warnings) == 1
    assert "127.0.0.1" in warnings[0]
    assert "PROCESSLENS_TRUSTED_PROXIES" in warnings[0]
    assert "198.51.100.1" not in warnings[0]
