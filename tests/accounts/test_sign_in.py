"""Sign-in, sign-out and sessions: rotation, replay after sign-out, disabled users, timeouts,
throttling, password rehashing, reset links and safe redirects."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlmodel import Session, select

from app.accounts import passwords, sessions, users
from app.db import utcnow
from app.models import AuditEvent, User, UserRole, UserSession
from tests.accounts import helpers
from tests.rendered import page_of

PASSWORD = "correct horse battery staple"


@pytest.fixture
def member(session: Session) -> User:
    user = helpers.user(
        session,
        UserRole.team_lead,
        email="lee@example.org",
        password_hash=passwords.hash_password(PASSWORD),
    )
    session.commit()
    return user


def _form_token(client: TestClient, path: str = "/sign-in") -> str:
    page = client.get(path)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None, page.text[:500]
    return found[1]


def _sign_in(client: TestClient, email: str, password: str, **extra: str) -> Any:
    token = _form_token(client)
    return client.post(
        "/sign-in",
        data={"email": email, "password": password, "csrf_token": token, **extra},
        follow_redirects=False,
    )


def _cookie_value(response: Any, name: str) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(name + "="):
            return str(header.split(";")[0].split("=", 1)[1])
    return None


def test_sign_in_rotates_and_sign_out_ends_the_session(
    client: TestClient, member: User, settings: Any, session: Session
) -> None:
    # an earlier session (e.g. planted by an attacker: session fixation) is replaced
    planted = helpers.sign_in(session, settings, member)
    session.commit()
    csrf_cookie, token = helpers.anonymous_csrf(client, settings)
    client.cookies.clear()
    response = client.post(
        "/sign-in",
        data={"email": "LEE@example.org ", "password": PASSWORD, "csrf_token": token},
        headers={"cookie": f"{csrf_cookie}; {planted.cookie_header}"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/teams"
    cookie = response.headers.get_list("set-cookie")[0]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/" in cookie
    new_token = _cookie_value(response, sessions.session_cookie_name(settings))
    assert new_token
    assert new_token != planted.token
    assert len(new_token) >= 22  # >= 128 bits in URL-safe base64
    # the planted session is gone
    assert sessions.resolve(session=session, settings=settings, token=planted.token) is None
    client.cookies.clear()
    session_cookie = f"{sessions.session_cookie_name(settings)}={new_token}"
    teams = client.get("/teams", headers={"cookie": session_cookie})
    assert teams.status_code == 200
    assert teams.context["page"].viewer_name == member.display_name  # type: ignore[attr-defined]
    # sign out, then replay the old cookie: refused
    csrf_token = re.search(r'name="csrf_token" value="([^"]+)"', teams.text)
    assert csrf_token is not None
    out = client.post(
        "/sign-out",
        data={"csrf_token": csrf_token[1]},
        headers={"cookie": session_cookie},
        follow_redirects=False,
    )
    assert out.status_code == 303
    client.cookies.clear()
    replay = client.get(
        "/teams",
        headers={"cookie": f"{sessions.session_cookie_name(settings)}={new_token}"},
        follow_redirects=False,
    )
    assert replay.status_code == 303
    assert replay.headers["location"].startswith("/sign-in")
    assert session.exec(select(UserSession).where(UserSession.user_id == member.id)).all() == []
    actions = [e.action for e in session.exec(select(AuditEvent)).all()]
    assert "sign_in.succeeded" in actions
    assert "sign_out" in actions


def test_disabling_a_user_ends_their_sessions(
    client: TestClient, member: User, settings: Any, session: Session
) -> None:
    signed_in = helpers.sign_in(session, settings, member)
    session.commit()
    assert client.get("/teams", headers=signed_in.headers(csrf=False)).status_code == 200
    users.set_active(session=session, user=member, active=False)
    session.commit()
    client.cookies.clear()
    response = client.get("/teams", headers=signed_in.headers(csrf=False), follow_redirects=False)
    assert response.status_code == 303
    # and a disabled user cannot sign in again
    client.cookies.clear()
    assert _sign_in(client, member.email, PASSWORD).status_code == 400


def test_disabled_via_admin_page_ends_sessions(
    client: TestClient, member: User, settings: Any, session: Session
) -> None:
    admin = helpers.sign_in(session, settings, helpers.user(session, UserRole.admin))
    victim = helpers.sign_in(session, settings, member)
    session.commit()
    client.cookies.clear()
    client.post(f"/admin/users/{member.id}/active", data={"active": "no"}, headers=admin.headers())
    client.cookies.clear()
    assert client.get("/api/me", headers=victim.headers()).status_code == 401


@pytest.mark.parametrize(
    ("field", "age"),
    [
        ("last_seen_at", sessions.IDLE_TIMEOUT + timedelta(minutes=1)),
        ("created_at", sessions.ABSOLUTE_TIMEOUT + timedelta(minutes=1)),
    ],
)
def test_idle_and_absolute_timeouts(
    client: TestClient, member: User, settings: Any, session: Session, field: str, age: timedelta
) -> None:
    signed_in = helpers.sign_in(session, settings, member)
    row = session.exec(select(UserSession).where(UserSession.user_id == member.id)).one()
    past = utcnow() - age
    if field == "created_at":
        row.expires_at = past + sessions.ABSOLUTE_TIMEOUT  # the absolute limit has passed
    else:
        row.last_seen_at = past
    session.add(row)
    session.commit()
    response = client.get("/teams", headers=signed_in.headers(csrf=False), follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in")


def test_eleventh_failed_sign_in_within_a_minute_is_throttled(
    client: TestClient, member: User, session: Session
) -> None:
    codes = [_sign_in(client, member.email, f"wrong password {i}").status_code for i in range(10)]
    assert codes == [400] * 10
    throttled = _sign_in(client, member.email, PASSWORD)
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) >= 1
    # failures are audited without the typed password or e-mail
    failed = session.exec(select(AuditEvent).where(AuditEvent.action == "sign_in.failed")).all()
    assert len(failed) == 10
    assert all("wrong" not in str(event.details) for event in failed)


def test_guessing_across_accounts_is_throttled_per_address(client: TestClient) -> None:
    codes = [
        _sign_in(client, f"person{i}@example.org", "some wrong password").status_code
        for i in range(21)
    ]
    assert codes[:20] == [400] * 20
    assert codes[20] == 429


def test_unknown_and_wrong_password_answer_alike(client: TestClient, member: User) -> None:
    unknown = _sign_in(client, "nobody@example.org", "some wrong password")
    wrong = _sign_in(client, member.email, "some wrong password")
    assert unknown.status_code == wrong.status_code == 400
    assert page_of(unknown).error == page_of(wrong).error


def test_outdated_hash_is_rehashed_on_sign_in(client: TestClient, session: Session) -> None:
    weak = Argon2Hasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    user = helpers.user(session, email="old@example.org", password_hash=weak)
    session.commit()
    assert _sign_in(client, "old@example.org", PASSWORD).status_code == 303
    session.refresh(user)
    assert user.password_hash != weak
    assert user.password_hash is not None
    assert user.password_hash.startswith("$argon2id$")


def test_production_parameters_are_argon2id_defaults() -> None:
    real = passwords.PasswordHash((passwords.Argon2Hasher(),)).hash(PASSWORD)
    assert real.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"]
)
def test_next_never_leaves_the_site(client: TestClient, member: User, target: str) -> None:
    response = _sign_in(client, member.email, PASSWORD, next=target)
    assert response.status_code == 303
    assert response.headers["location"] == "/teams"


def test_next_keeps_a_local_path(client: TestClient, member: User) -> None:
    first = client.get("/account", follow_redirects=False)
    assert first.headers["location"] == "/sign-in?next=%2Faccount"
    response = _sign_in(client, member.email, PASSWORD, next="/account")
    assert response.headers["location"] == "/account"


def test_reset_link_is_one_time_and_ends_sessions(
    client: TestClient, member: User, settings: Any, session: Session
) -> None:
    old_session = helpers.sign_in(session, settings, member)
    token = users.make_reset_token(settings=settings, user=member)
    session.commit()
    path = f"/reset/{token}"
    csrf_token = _form_token(client, path)
    new_password = "a different long passphrase"
    mismatch = client.post(
        path, data={"password": new_password, "confirm": "other", "csrf_token": csrf_token}
    )
    assert mismatch.status_code == 400
    weak = client.post(
        path, data={"password": "short", "confirm": "short", "csrf_token": csrf_token}
    )
    assert weak.status_code == 400
    done = client.post(
        path, data={"password": new_password, "confirm": new_password, "csrf_token": csrf_token}
    )
    assert done.status_code == 200
    assert page_of(done).done
    again = client.get(path)
    assert again.status_code == 404
    client.cookies.clear()
    assert (
        client.get("/teams", headers=old_session.headers(), follow_redirects=False).status_code
        == 303
    )
    assert _sign_in(client, member.email, new_password).status_code == 303


def test_invalid_reset_links_look_alike(client: TestClient, member: User, settings: Any) -> None:
    valid = users.make_reset_token(settings=settings, user=member)
    user_id, expires, signature = valid.split(".")
    expired = users.make_reset_token(settings=settings, user=member, now=0)
    variants = [
        "nonsense",
        f"{user_id}.{expires}.{signature[:-2]}xx",
        f"{int(user_id) + 1000}.{expires}.{signature}",
        expired,
    ]
    bodies = set()
    for token in variants:
        response = client.get(f"/reset/{token}")
        assert response.status_code == 404
        bodies.add(re.sub(r'value="[^"]+"|[0-9a-f]{32}', "", response.text))
    assert len(bodies) == 1


def test_security_headers_on_every_kind_of_response(client: TestClient) -> None:
    for path in ("/", "/sign-in", "/no-such-page", "/api/me", "/static/css/app.css"):
        response = client.get(path, follow_redirects=False)
        policy = response.headers["content-security-policy"]
        script_src = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
        assert "unsafe-inline" not in script_src
        assert "unsafe-eval" not in script_src
        for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
            assert directive in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    assert client.get("/sign-in").headers["cache-control"] == "no-store"


def test_https_base_url_uses_host_prefix_and_secure(make_settings: Any, database_url: str) -> None:
    secure = make_settings(database_url, base_url="https://processlens.example")
    assert sessions.session_cookie_name(secure) == "__Host-processlens_session"
    header = sessions.cookie_header(secure, sessions.session_cookie_name(secure), "v", max_age=5)
    assert "Secure" in header
    assert "Path=/" in header
    assert "Domain" not in header
    plain = make_settings(database_url)
    assert sessions.session_cookie_name(plain) == "processlens_session"
    assert "Secure" not in sessions.cookie_header(plain, "processlens_session", "v", max_age=5)
