"""Fixtures for report tests: one render pool for the module, the example's data, a canary."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from app.config import QUESTIONNAIRES_DIR, ROOT_DIR
from app.reports import pdf
from app.rubric.answers_file import AnswersFile, read_answers_file
from app.rubric.loader import Catalog, load_catalog

EXAMPLE = ROOT_DIR / "examples" / "full-assessment.yaml"


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(QUESTIONNAIRES_DIR)


@pytest.fixture(scope="session")
def example(catalog: Catalog) -> AnswersFile:
    return read_answers_file(EXAMPLE, catalog)


@pytest.fixture(scope="session")
def render_pool() -> Iterator[pdf.RenderPool]:
    pool = pdf.RenderPool(pdf.RenderLimits(workers=1, seconds=60))
    yield pool
    pool.close()


class Canary:
    """A local HTTP server that counts every request made to it."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        canary = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                canary.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "x") -> str:
        return f"http://127.0.0.1:{self.port}/{path}"


@pytest.fixture
def canary() -> Iterator[Canary]:
    server = Canary()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
