"""The web app: probes, the home page, error pages that leak nothing, the body limit, logs."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from app import db, home
from app.config import Settings
from app.main import create_app

SECRET_DETAIL = "s3cret-internal-detail"


class Page(HTMLParser):
    """Just enough HTML structure for assertions: tags with attributes, and text per tag."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: dict[str, list[str]] = {}
        self._open: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in {"meta", "link", "br", "img", "input"}:
            self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            while self._open and self._open.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if data.strip():
            for tag in self._open:
                self.text.setdefault(tag, []).append(data.strip())

    def first(self, tag: str) -> dict[str, str | None]:
        return next(attrs for name, attrs in self.tags if name == tag)

    def all_text(self, tag: str) -> str:
        return " ".join(self.text.get(tag, []))


# ---------------------------------------------------------------- probes


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_on_a_migrated_database(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "revision": list(db.head_revisions())}


@pytest.fixture
def unmigrated_client(
    backend: str, database_factory: Any, make_settings: Callable[..., Settings]
) -> Iterator[TestClient]:
    """A client on an empty database (no lifespan: it would refuse to start, by design)."""
    app = create_app(make_settings(database_factory.create(backend, migrated=False)))
    yield TestClient(app)
    app.state.engine.dispose()


def test_readyz_is_unavailable_on_an_unmigrated_database(unmigrated_client: TestClient) -> None:
    response = unmigrated_client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert "processlens migrate" in body["reason"]
    assert body["database_revision"] == []


def test_readyz_is_unavailable_when_the_database_is_unreachable(
    make_settings: Callable[..., Settings],
) -> None:
    url = "postgresql+psycopg://nobody:hunter2@127.0.0.1:9/processlens"
    app = create_app(make_settings(url))
    response = TestClient(app).get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "reason": "the database cannot be reached"}
    assert "hunter2" not in response.text


def test_app_refuses_to_start_on_an_out_of_date_schema_outside_development(
    backend: str, database_factory: Any, make_settings: Callable[..., Settings]
) -> None:
    app = create_app(make_settings(database_factory.create(backend, migrated=False)))
    with pytest.raises(db.SchemaOutOfDateError, match="processlens migrate"), TestClient(app):
        pass
    app.state.engine.dispose()


# ---------------------------------------------------------------- pages


def test_home_page_explains_the_product(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.context["page"]  # type: ignore[attr-defined]
    assert isinstance(page, home.HomePage)
    assert [i.name for i in page.instruments] == [
        "Trajectory",
        "Collaboration",
        "Handoff maturity",
        "Technical debt",
    ]
    html = Page(response.text)
    assert html.first("html")["lang"] == "en"
    skip = html.first("a")
    assert skip["href"] == "#main"
    assert "Skip to main content" in html.all_text("a")
    assert html.first("main")["id"] == "main"
    assert html.all_text("h1") == page.title
    assert html.all_text("title").startswith("ProcessLens")
    # no script at all, nothing loaded from elsewhere: works without JavaScript and offline
    assert not any(tag == "script" for tag, _ in html.tags)
    stylesheet = html.first("link")
    # a path, not a URL built from the request's Host header (tests/accounts/test_trust.py)
    assert re.fullmatch(r"/static/css/app\.[0-9a-f]{12}\.css", stylesheet["href"] or "")


def test_stylesheet_is_served(client: TestClient) -> None:
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert ":focus-visible" in response.text


def test_not_found_page_leaks_nothing(client: TestClient) -> None:
    response = client.get(f"/no/such/page/{SECRET_DETAIL}")
    assert response.status_code == 404
    html = Page(response.text)
    assert html.all_text("h1") == "Page not found"
    assert SECRET_DETAIL not in response.text
    assert "Traceback" not in response.text
    assert response.headers["x-request-id"] in response.text  # the reference to quote


def test_api_errors_are_json(client: TestClient) -> None:
    response = client.get("/api/no-such-thing")
    assert response.status_code == 404
    body = response.json()
    assert body["status"] == 404
    assert body["request_id"] == response.headers["x-request-id"]


def test_json_clients_get_json_errors_outside_the_api(client: TestClient) -> None:
    response = client.get("/missing", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_method_not_allowed_keeps_the_allow_header(client: TestClient) -> None:
    response = client.delete("/healthz")
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]


def _add_crashing_route(app: FastAPI) -> None:
    @app.get("/test/crash")
    def crash() -> None:
        raise RuntimeError(SECRET_DETAIL)


def test_server_error_page_leaks_nothing_and_is_logged_once(
    app: FastAPI, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    _add_crashing_route(app)
    with caplog.at_level(logging.ERROR):
        response = client.get("/test/crash")
    assert response.status_code == 500
    assert SECRET_DETAIL not in response.text
    assert "RuntimeError" not in response.text
    assert "Traceback" not in response.text
    assert Page(response.text).all_text("h1") == "Something went wrong"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is not None


def test_server_error_in_the_api_is_json_without_details(app: FastAPI, client: TestClient) -> None:
    @app.get("/api/test/crash")
    def crash() -> None:
        raise RuntimeError(SECRET_DETAIL)

    response = client.get("/api/test/crash")
    assert response.status_code == 500
    assert SECRET_DETAIL not in response.text
    assert response.json()["status"] == 500


def test_request_id_is_echoed_and_generated(client: TestClient) -> None:
    generated = client.get("/healthz").headers["x-request-id"]
    assert len(generated) == 32
    given = "6f1c7a0e4b2d4c1f9a8b7c6d5e4f3a2b"
    assert client.get("/healthz", headers={"X-Request-ID": given}).headers["x-request-id"] == given


def test_access_log_names_the_route_template_not_the_raw_path(
    app: FastAPI, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/test/resume/{token}")
    def resume(token: str) -> dict[str, int]:
        return {"length": len(token)}

    with caplog.at_level(logging.INFO, logger="app.access"):
        client.get("/test/resume/tok-very-secret")
        client.get("/unknown/tok-also-secret")
    lines = [r.getMessage() for r in caplog.records if r.name == "app.access"]
    assert "GET /test/resume/{token} 200" in lines
    assert "GET /unknown/... 404" in lines
    assert not any("secret" in line for line in lines)


# ---------------------------------------------------------------- request body limit


def _add_echo_route(app: FastAPI) -> None:
    @app.post("/test/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}


@pytest.fixture
def small_limit_client(
    database_url: str, make_settings: Callable[..., Settings], tmp_path: Any
) -> Iterator[TestClient]:
    app = create_app(make_settings(database_url, max_body_bytes=2048, data_dir=tmp_path))
    _add_echo_route(app)
    yield TestClient(app)
    app.state.engine.dispose()


def test_body_within_the_limit_is_accepted(small_limit_client: TestClient) -> None:
    response = small_limit_client.post("/test/echo", content=b"x" * 2048)
    assert response.status_code == 200
    assert response.json() == {"received": 2048}


def test_declared_oversized_body_gets_413(small_limit_client: TestClient) -> None:
    response = small_limit_client.post("/test/echo", content=b"x" * 4096)
    assert response.status_code == 413
    assert "Too much data" in response.text


def test_streamed_oversized_body_gets_413(small_limit_client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(8):
            yield b"y" * 1024

    # a generator body is sent chunked, without Content-Length: counted as it arrives
    response = small_limit_client.post("/test/echo", content=chunks())
    assert response.status_code == 413
    assert "Too much data" in response.text


def test_oversized_json_body_to_a_validated_route_gets_413(
    database_url: str, make_settings: Callable[..., Settings], tmp_path: Any
) -> None:
    app = create_app(make_settings(database_url, max_body_bytes=2048, data_dir=tmp_path))

    @app.post("/api/test/items")
    def create_item(item: dict[str, str]) -> dict[str, int]:
        return {"keys": len(item)}

    def chunks() -> Iterator[bytes]:
        yield b'{"a": "'
        for _ in range(8):
            yield b"z" * 1024
        yield b'"}'

    response = TestClient(app).post(
        "/api/test/items", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["status"] == 413
    app.state.engine.dispose()


# ---------------------------------------------------------------- structured logs


def test_json_logs_carry_the_request_id(
    database_url: str, make_settings: Callable[..., Settings], tmp_path: Any
) -> None:
    app = create_app(make_settings(database_url, log_format="json", data_dir=tmp_path))
    handler = next(h for h in logging.getLogger().handlers if type(h).__name__.startswith("_Proc"))
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        response = TestClient(app).get("/", headers={"X-Request-ID": "0" * 32})
    finally:
        handler.setStream(previous)
        app.state.engine.dispose()
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]
    access = next(line for line in lines if line.get("logger") == "app.access")
    assert access["event"] == "GET / 200"
    assert access["request_id"] == response.headers["x-request-id"] == "0" * 32
    assert access["status"] == 200
    assert access["level"] == "info"
    assert "timestamp" in access


def test_uvicorn_access_log_is_replaced_by_ours(app: FastAPI) -> None:
    # uvicorn's access line would log raw paths, tokens included
    access = logging.getLogger("uvicorn.access")
    assert access.propagate is False
    # (pytest's own capture handlers may be attached; uvicorn's StreamHandler must not be)
    assert not [h for h in access.handlers if type(h) is logging.StreamHandler]
