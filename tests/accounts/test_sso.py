"""Single sign-on against a real OpenID Connect provider (tests/oidc, `oidc-provider` on
Node.js) and a live server, both on 127.0.0.1: no mock of the protocol anywhere.

One provider and one server (on SQLite: what is tested here is the protocol and the pages;
the matching rules run on both databases in the last test) serve the whole module; each test
uses its own person of the provider (tests/accounts/sso_support.PEOPLE), so the order does
not matter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import lxml.html
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from app import cli, cli_session, db
from app.accounts import sso, sso_routes, users
from app.accounts.routes import PASSWORD_SIGN_IN_OFF
from app.main import create_app
from app.models import AuditEvent, SsoIdentity, User, UserRole
from tests.accounts import helpers, sso_support
from tests.accounts.sso_support import PASSWORD, SsoWorld, csrf_of, walk_to_callback
from tests.conftest import make_test_settings


@pytest.fixture(scope="module")
def sso_env(
    database_factory: Any,
    tmp_path_factory: pytest.TempPathFactory,
    unavailable: Callable[[str], None],
) -> Iterator[SsoWorld]:
    yield from sso_support.sso_world(
        database_factory, "sqlite", tmp_path_factory.mktemp("sso"), unavailable
    )


def _client() -> httpx.Client:
    return httpx.Client(timeout=30, follow_redirects=False)


def _with_param(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = [(k, value if k == name else v) for k, v in parse_qsl(parts.query)]
    assert any(k == name for k, _ in query), f"{name} not in {url}"
    return urlunsplit(parts._replace(query=urlencode(query)))


def _database(world: SsoWorld) -> Iterator[Session]:
    engine = db.create_db_engine(world.settings())
    try:
        with db.session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def _user(world: SsoWorld, email: str) -> tuple[User | None, list[SsoIdentity], list[str]]:
    """The account, its provider links and the actions audited about it."""
    for session in _database(world):
        user = session.exec(select(User).where(User.email == email)).first()
        if user is None:
            return None, [], []
        links = list(session.exec(select(SsoIdentity).where(SsoIdentity.user_id == user.id)))
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.target_id == str(user.id))
            .order_by(col(AuditEvent.id))
        ).all()
        return user, links, [f"{e.action}:{(e.details or {}).get('reason', '')}" for e in events]
    raise AssertionError("no session")


def _signed_in_name(client: httpx.Client, world: SsoWorld) -> str | None:
    page = client.get(f"{world.server.url}/account")
    if page.status_code != 200:
        return None
    return page.text


def test_sign_in_round_trip_then_sign_out(sso_env: SsoWorld) -> None:
    with _client() as client:
        sign_in = client.get(f"{sso_env.server.url}/sign-in")
        assert "Sign in with Test ID" in sign_in.text
        callback = walk_to_callback(client, sso_env, "ada", next_path="/account")
        arrived = client.get(callback)
        assert arrived.status_code == 303, arrived.text[:1000]
        assert arrived.headers["location"] == "/account"
        account = _signed_in_name(client, sso_env)
        assert account is not None
        assert "ada@example.org" in account

        user, links, actions = _user(sso_env, "ada@example.org")
        assert user is not None
        assert user.password_hash is None
        assert [(link.issuer, link.subject) for link in links] == [
            (sso_env.provider.url, "sub-ada")
        ]
        assert "sso.linked:" in actions
        assert "sign_in.succeeded:" in actions

        signed_out = client.post(
            f"{sso_env.server.url}/sign-out", data={"csrf_token": csrf_of(account)}
        )
        assert signed_out.status_code == 303
        assert _signed_in_name(client, sso_env) is None

        # the provider still knows the browser; the app asks again and signs it in again
        again = client.get(walk_to_callback(client, sso_env, "ada"))
        assert again.status_code == 303
        assert again.headers["location"] == "/teams"
        assert _signed_in_name(client, sso_env) is not None
    assert len(_user(sso_env, "ada@example.org")[1]) == 1  # matched by the link: no second one


def test_a_tampered_state_is_refused(sso_env: SsoWorld) -> None:
    with _client() as client:
        callback = walk_to_callback(client, sso_env, "ada")
        refused = client.get(_with_param(callback, "state", "forged-state-value"))
        assert refused.status_code == 403
        assert sso.PROTOCOL_FAILED in refused.text.replace("&#39;", "'")
        assert _signed_in_name(client, sso_env) is None
        # the browser's flow is over: the real state does not work afterwards either
        assert client.get(callback).status_code == 403
        assert _signed_in_name(client, sso_env) is None


def test_a_tampered_nonce_is_refused(sso_env: SsoWorld) -> None:
    with _client() as client:
        callback = walk_to_callback(
            client,
            sso_env,
            "ada",
            change_request=lambda url: _with_param(url, "nonce", "a-nonce-of-the-attacker"),
        )
        refused = client.get(callback)
        assert refused.status_code == 403
        assert _signed_in_name(client, sso_env) is None


def test_a_replayed_callback_is_refused(sso_env: SsoWorld) -> None:
    with _client() as client:
        callback = walk_to_callback(client, sso_env, "ada")
        before = dict(client.cookies.items())  # the flow cookie as it was
        assert client.get(callback).status_code == 303
    # another browser holding a copy of the first one's cookies and the same callback
    with _client() as thief:
        for name, value in before.items():
            thief.cookies.set(name, value, domain="127.0.0.1")
        replayed = thief.get(callback)
        assert replayed.status_code == 403
        assert _signed_in_name(thief, sso_env) is None


@pytest.mark.parametrize(
    ("login", "email", "message", "reason"),
    [
        ("unv", "unv@example.org", sso.UNVERIFIED, "sso_email_not_verified"),
        ("dis", "dis@example.org", sso.DISABLED, "sso_account_disabled"),
        ("out", "out@elsewhere.test", sso.OUTSIDE_DOMAINS, "sso_domain_not_allowed"),
        ("nobody", "nobody@example.org", sso.NO_ACCOUNT, "sso_no_account"),
    ],
)
def test_who_is_refused(
    sso_env: SsoWorld, login: str, email: str, message: str, reason: str
) -> None:
    with _client() as client:
        refused = client.get(walk_to_callback(client, sso_env, login))
        assert refused.status_code == 403
        assert message in refused.text.replace("&#39;", "'")
        assert _signed_in_name(client, sso_env) is None
    user, links, actions = _user(sso_env, email)
    assert links == []  # nothing linked
    if login == "nobody":
        assert user is None  # no account is ever made by signing in
    if login == "dis":
        assert f"sign_in.failed:{reason}" in actions


def test_a_password_account_is_linked_only_after_its_password(sso_env: SsoWorld) -> None:
    with _client() as client:
        pending = client.get(walk_to_callback(client, sso_env, "pat"))
        assert pending.status_code == 303
        assert pending.headers["location"] == "/sign-in/sso/link"
        assert _signed_in_name(client, sso_env) is None  # not signed in yet
        form = client.get(f"{sso_env.server.url}/sign-in/sso/link")
        assert form.status_code == 200
        assert "pat@example.org" in form.text
        wrong = client.post(
            f"{sso_env.server.url}/sign-in/sso/link",
            data={"password": "not the password at all", "csrf_token": csrf_of(form.text)},
        )
        assert wrong.status_code == 400
        assert "That password is not right." in wrong.text
        assert _user(sso_env, "pat@example.org")[1] == []
        assert _signed_in_name(client, sso_env) is None

        right = client.post(
            f"{sso_env.server.url}/sign-in/sso/link",
            data={"password": PASSWORD, "csrf_token": csrf_of(wrong.text)},
        )
        assert right.status_code == 303
        assert right.headers["location"] == "/teams"
        assert _signed_in_name(client, sso_env) is not None
    _user_row, links, actions = _user(sso_env, "pat@example.org")
    assert [link.subject for link in links] == ["sub-pat"]
    assert "sso.linked:" in actions
    # a new browser: the provider alone is enough now
    with _client() as other:
        arrived = other.get(walk_to_callback(other, sso_env, "pat"))
        assert arrived.status_code == 303
        assert arrived.headers["location"] == "/teams"


def test_with_password_sign_in_off_the_form_is_gone_and_refused(
    database_url: str, tmp_path: Any
) -> None:
    settings = make_test_settings(
        database_url,
        data_dir=tmp_path / "data",
        oidc_issuer="http://127.0.0.1:9",
        oidc_client_id="client",
        oidc_client_secret="secret",
        oidc_provider_name="Contoso ID",
        password_sign_in=False,
    )
    with TestClient(create_app(settings)) as client:
        page = client.get("/sign-in")
        assert "Sign in with Contoso ID" in page.text
        assert 'type="password"' not in page.text
        assert 'action="/sign-in"' not in page.text
        cookie, token = helpers.anonymous_csrf(client, settings)
        refused = client.post(
            "/sign-in",
            data={"email": "ada@example.org", "password": PASSWORD, "csrf_token": token},
            headers={"cookie": cookie},
        )
        assert refused.status_code == 403
        assert PASSWORD_SIGN_IN_OFF in refused.text
        # nothing listens on the issuer's port: the page says so instead of failing
        down = client.get("/sign-in/sso", follow_redirects=False)
        assert down.status_code == 502
        assert sso_routes.UNREACHABLE in down.text
        assert "processlens_session" not in refused.headers.get("set-cookie", "")


def test_matching_rules_on_the_database(session: Session) -> None:
    """The rules of app.accounts.sso.resolve on each database: a password account waits for
    its password, a link then wins over the e-mail, and one account has one identity."""
    config = sso.SsoConfig("https://id.example.org", "c", "s", "ID", ("example.org",))
    sso_support_user = users.create_user(
        session=session,
        email="lin@example.org",
        display_name="Lin",
        role=UserRole.team_lead,
        password=PASSWORD,
    )
    identity = sso.Identity(config.issuer, "sub-lin", "lin@example.org", email_verified=True)
    first = sso.resolve(session=session, config=config, identity=identity)
    assert first.user.id == sso_support_user.id
    assert first.needs_password
    sso.link(session=session, user=first.user, issuer=identity.issuer, subject=identity.subject)
    # the provider's e-mail changed; the subject still finds the account
    moved = dataclasses.replace(identity, email="lin.new@example.org")
    again = sso.resolve(session=session, config=config, identity=moved)
    assert again.user.id == sso_support_user.id
    assert not again.needs_password
    assert not again.new_link
    # another subject claiming the same e-mail is refused: the account has its identity
    other = dataclasses.replace(identity, subject="sub-someone-else")
    with pytest.raises(sso.SsoRefusedError) as refused:
        sso.resolve(session=session, config=config, identity=other)
    assert refused.value.reason == "sso_other_identity"


def test_the_route_walk_covers_the_single_sign_on_routes(app: Any) -> None:
    """tests/test_isolation.py walks every route; these are public (PreSessionCsrf) there."""
    from tests import test_isolation

    walked = {(e.method, e.path): e.access for e in test_isolation.endpoints(app)}
    for route in (
        ("GET", "/sign-in/sso"),
        ("GET", "/sign-in/sso/callback"),
        ("GET", "/sign-in/sso/link"),
        ("POST", "/sign-in/sso/link"),
    ):
        assert walked[route] == "public", route


def test_an_admin_unlinks_an_identity_with_the_cli(
    fresh_database_url: str,
    make_settings: Callable[..., Any],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings(fresh_database_url, data_dir=tmp_path / "data")
    monkeypatch.setattr(cli_session, "get_settings", lambda: settings)
    engine = db.create_db_engine(settings)
    try:
        with db.session_factory(engine)() as own:
            user = users.create_user(
                session=own, email="kim@example.org", display_name="Kim", role=UserRole.admin
            )
            sso.link(session=own, user=user, issuer="https://id.example.org", subject="sub-kim")
            own.commit()
        result = CliRunner().invoke(cli.app, ["user", "unlink-sso", "kim@example.org"])
        assert result.exit_code == 0, result.output
        assert "Unlinked single sign-on from kim@example.org" in result.output
        with db.session_factory(engine)() as own:
            assert own.exec(select(SsoIdentity)).all() == []
            event = own.exec(select(AuditEvent).where(AuditEvent.action == "sso.unlinked")).one()
            assert (event.details or {}).get("via") == "cli"
    finally:
        engine.dispose()


def test_the_account_and_admin_pages_show_the_link_and_an_admin_unlinks_it(
    fresh_database_url: str, make_settings: Callable[..., Any], tmp_path: Any
) -> None:
    settings = make_settings(
        fresh_database_url,
        data_dir=tmp_path / "data",
        oidc_issuer="http://127.0.0.1:9",
        oidc_client_id="client",
        oidc_client_secret="secret",
        oidc_provider_name="Contoso ID",
    )
    application = create_app(settings)
    with TestClient(application) as client, db.session_factory(application.state.engine)() as own:
        admin = helpers.user(own, UserRole.admin, name="Ada Admin")
        kim = helpers.user(own, UserRole.consultant, name="Kim", email="kim@example.org")
        lee = helpers.user(own, UserRole.consultant, name="Lee", email="lee@example.org")
        sso.link(session=own, user=kim, issuer="http://127.0.0.1:9", subject="sub-kim")
        signed = {
            who.display_name: helpers.sign_in(own, settings, who) for who in (admin, kim, lee)
        }
        own.commit()
        today = db.utcnow().strftime("%Y-%m-%d")

        def facts(path: str, who: str) -> dict[str, str]:
            page = lxml.html.document_fromstring(
                client.get(path, headers=signed[who].headers()).text
            )
            return dict(
                zip(
                    (dt.text_content() for dt in page.xpath("//dl[@class='facts']/dt")),
                    (dd.text_content() for dd in page.xpath("//dl[@class='facts']/dd")),
                    strict=True,
                )
            )

        linked = f"Linked to Contoso ID since {today}"
        assert facts("/account", "Kim")["Single sign-on"] == linked
        not_linked = "Not linked: the first sign-in with Contoso ID links it"
        assert facts("/account", "Lee")["Single sign-on"] == not_linked
        kim_page = f"/admin/users/{kim.id}"
        assert facts(kim_page, "Ada Admin")["Single sign-on"] == linked
        unlink = f"{kim_page}/sso-unlink"
        assert (
            f'action="{unlink}"' in client.get(kim_page, headers=signed["Ada Admin"].headers()).text
        )
        assert (
            'sso-unlink"'
            not in client.get(f"/admin/users/{lee.id}", headers=signed["Ada Admin"].headers()).text
        )

        # not an administrator, or no CSRF token: nothing changes
        assert client.post(unlink, headers=signed["Kim"].headers()).status_code == 404
        no_token = client.post(unlink, headers=signed["Ada Admin"].headers(csrf=False))
        assert no_token.status_code == 403
        assert len(own.exec(select(SsoIdentity)).all()) == 1
        own.rollback()  # a write session holds SQLite's write lock until it ends

        done = client.post(unlink, headers=signed["Ada Admin"].headers(), follow_redirects=False)
        assert (done.status_code, done.headers["location"]) == (
            303,
            f"{kim_page}?done=sso-unlinked",
        )
        done = client.get(done.headers["location"], headers=signed["Ada Admin"].headers())
        shown = lxml.html.document_fromstring(done.text).text_content()
        assert "Single sign-on unlinked; the account's sessions have ended." in shown
        own.expire_all()
        assert own.exec(select(SsoIdentity)).all() == []
        event = own.exec(select(AuditEvent).where(AuditEvent.action == "sso.unlinked")).one()
        assert (event.target_id, event.actor_id) == (str(kim.id), admin.id)
        own.rollback()
        # Kim's session has ended; signed in again, her page says the link is gone
        ended = client.get("/account", headers=signed["Kim"].headers(), follow_redirects=False)
        assert ended.status_code == 303
        assert ended.headers["location"].startswith("/sign-in")
        signed["Kim"] = helpers.sign_in(own, settings, kim)
        own.commit()
        assert facts("/account", "Kim")["Single sign-on"] == not_linked
    application.state.engine.dispose()


def test_without_single_sign_on_the_account_page_says_only_an_old_link(
    client: TestClient, session: Session, settings: Any
) -> None:
    member = helpers.user(session, UserRole.consultant)
    signed = helpers.sign_in(session, settings, member)
    session.commit()
    page = client.get("/account", headers=signed.headers())
    assert page.status_code == 200
    assert "Single sign-on" not in page.text
    # linked while single sign-on was on: the page says so, and that it is off now
    sso.link(session=session, user=member, issuer="https://id.example.org", subject="sub-x")
    session.commit()
    page = client.get("/account", headers=signed.headers())
    assert "single sign-on is off here now" in page.text
