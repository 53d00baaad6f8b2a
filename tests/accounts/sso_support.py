"""A real OpenID Connect provider (tests/oidc/provider.mjs, the `oidc-provider` package on
Node.js) and a live ProcessLens server configured to use it, both on 127.0.0.1.

``make test`` installs the provider's packages (``npm ci --prefix tests/oidc``); without them
the tests are skipped, or fail when CI=true. ``walk_to_callback`` is a browser without
JavaScript going through the provider: it returns the callback URL the provider sends the
browser back to, so a test can tamper with it (or with the authorisation request) first.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

from app import db
from app.accounts import users
from app.config import ROOT_DIR
from app.models import UserRole
from tests.conftest import make_test_settings
from tests.live import LiveServer, free_port

OIDC_DIR = ROOT_DIR / "tests" / "oidc"
CLIENT_ID = "processlens-test"
CLIENT_SECRET = "test-client-secret-not-a-real-one-0123456789"
PROVIDER_NAME = "Test ID"
PASSWORD = "correct horse battery staple"

# the provider's people: login -> (e-mail, verified by the provider?)
PEOPLE = {
    "ada": ("ada@example.org", True),  # an account without a password: linked at once
    "pat": ("pat@example.org", True),  # an account with a password: linked after it is typed
    "dis": ("dis@example.org", True),  # a disabled account
    "unv": ("unv@example.org", False),  # an account, but the provider has not verified it
    "out": ("out@elsewhere.test", True),  # an account outside the allowed domains
    "nobody": ("nobody@example.org", True),  # no account at all
}


@dataclasses.dataclass
class Provider:
    url: str
    process: subprocess.Popen[bytes]


def start_provider(port: int, redirect_uri: str, log: Path) -> Provider:
    node = shutil.which("node")
    accounts = [
        {"login": login, "email": email, "email_verified": verified, "name": login.title()}
        for login, (email, verified) in PEOPLE.items()
    ]
    env = {
        "PATH": str(Path(node).parent) if node else "",
        "PORT": str(port),
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "REDIRECT_URI": redirect_uri,
        "ACCOUNTS": json.dumps(accounts),
    }
    with log.open("ab") as output:
        process = subprocess.Popen(
            [node or "node", str(OIDC_DIR / "provider.mjs")],
            cwd=OIDC_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    provider = Provider(url=f"http://127.0.0.1:{port}", process=process)
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the OpenID provider exited:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{provider.url}/.well-known/openid-configuration").status_code == 200:
                return provider
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop_provider(provider)
            raise RuntimeError("the OpenID provider did not start in 30 s")
        time.sleep(0.1)


def stop_provider(provider: Provider) -> None:
    if provider.process.poll() is None:
        provider.process.terminate()
        try:
            provider.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            provider.process.kill()
            provider.process.wait(timeout=10)


@dataclasses.dataclass
class SsoWorld:
    server: LiveServer
    provider: Provider

    def settings(self) -> Any:
        return make_test_settings(self.server.database_url, data_dir=self.server.data_dir)


def seed_accounts(database_url: str) -> None:
    settings = make_test_settings(database_url)
    engine = db.create_db_engine(settings)
    try:
        with db.session_factory(engine)() as session:
            for login, (email, _verified) in PEOPLE.items():
                if login == "nobody":
                    continue
                user = users.create_user(
                    session=session,
                    email=email,
                    display_name=f"{login.title()} Example",
                    role=UserRole.team_lead,
                    password=PASSWORD if login == "pat" else None,
                )
                if login == "dis":
                    users.set_active(session=session, user=user, active=False)
            session.commit()
    finally:
        engine.dispose()


def sso_world(
    database_factory: Any, backend: str, tmp_dir: Path, unavailable: Callable[[str], None]
) -> Iterator[SsoWorld]:
    """A provider and a server using it (allowed domain example.org), stopped afterwards."""
    if shutil.which("node") is None or not (OIDC_DIR / "node_modules" / "oidc-provider").exists():
        unavailable(
            "the test OpenID provider is not installed; run `make test` (or "
            "`npm ci --prefix tests/oidc`) with Node.js 20 or newer"
        )
    provider_port = free_port()
    server = LiveServer(
        database_url=database_factory.create(backend),
        data_dir=tmp_dir / "server",
        workers=1,
    )
    issuer = f"http://127.0.0.1:{provider_port}"
    server.extra_env = {
        "PROCESSLENS_BASE_URL": server.url,
        "PROCESSLENS_OIDC_ISSUER": issuer,
        "PROCESSLENS_OIDC_CLIENT_ID": CLIENT_ID,
        "PROCESSLENS_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "PROCESSLENS_OIDC_PROVIDER_NAME": PROVIDER_NAME,
        "PROCESSLENS_OIDC_ALLOWED_DOMAINS": "example.org",
        "PROCESSLENS_SIGN_IN_MAX_DELAY": "0",
        "PROCESSLENS_EMBEDDED_WORKER": "false",
    }
    seed_accounts(server.database_url)
    server.data_dir.mkdir(parents=True, exist_ok=True)
    provider = start_provider(
        provider_port, f"{server.url}/sign-in/sso/callback", server.data_dir / "provider.log"
    )
    try:
        server.start()
        yield SsoWorld(server=server, provider=provider)
    finally:
        server.stop()
        stop_provider(provider)


def _follow(client: httpx.Client, response: httpx.Response, stop: str) -> httpx.Response:
    """Follow redirects until one points at a URL starting with ``stop`` (not followed)."""
    for _ in range(20):
        location = response.headers.get("location")
        if response.status_code not in (302, 303) or location is None:
            return response
        target = urljoin(str(response.url), location)
        if target.startswith(stop):
            return response
        response = client.get(target)
    raise AssertionError("too many redirects")


def walk_to_callback(
    client: httpx.Client,
    world: SsoWorld,
    login: str,
    *,
    next_path: str = "/teams",
    change_request: Callable[[str], str] | None = None,
) -> str:
    """Start single sign-on on the server, sign in at the provider as ``login``, and return
    the callback URL the provider redirects to (not yet requested)."""
    callback = f"{world.server.url}/sign-in/sso/callback"
    started = client.get(f"{world.server.url}/sign-in/sso", params={"next": next_path})
    assert started.status_code == 302, started.text[:1000]
    authorize = started.headers["location"]
    assert authorize.startswith(world.provider.url), authorize
    if change_request is not None:
        authorize = change_request(authorize)
    response = _follow(client, client.get(authorize), callback)
    if response.status_code == 200 and 'name="login"' in response.text:
        found = re.search(r'action="([^"]+)"', response.text)
        assert found is not None
        posted = client.post(urljoin(str(response.url), found[1]), data={"login": login})
        response = _follow(client, posted, callback)
    location = response.headers.get("location", "")
    assert location.startswith(callback), (response.status_code, response.text[:1000])
    return location


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, html[:1000]
    return found[1]
