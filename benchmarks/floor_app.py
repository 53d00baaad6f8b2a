"""The floor for the survey benchmark: the least a FastAPI page and save can cost here.

A bare FastAPI app on the same server stack (uvicorn, uvloop, httptools, the same number of
workers), the same database with the same durability settings, and nothing of ProcessLens:

- ``GET /floor/{token}/questions?page=N``: one primary-key lookup with SQLAlchemy Core, then
  a Jinja template (autoescaped) rendered to a page of the same size as the survey's answer
  page, from plain data built at start-up.
- ``POST /floor/{token}/questions?page=N``: the form parsed, one row inserted with
  SQLAlchemy Core in its own transaction (``BEGIN IMMEDIATE``, WAL, ``synchronous=FULL`` on
  SQLite, as the app does), and a small JSON answer.

Configured by environment variables, because uvicorn's workers each import it:
``FLOOR_DATABASE_URL`` (required), ``FLOOR_PAGE_BYTES`` (default 20000), ``FLOOR_POOL_SIZE``
and ``FLOOR_MAX_OVERFLOW`` (default 20 each, like the app). The tables come from
``create_tables`` (benchmarks/survey.py calls it before starting the server).

Run: ``uvicorn --factory benchmarks.floor_app:create_app`` from the repository root.
"""

from __future__ import annotations

import json
import os
from typing import Any

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry
from starlette.concurrency import run_in_threadpool

metadata = MetaData()
floor_respondent = Table(
    "floor_respondent",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token", String(64), nullable=False, unique=True),
)
floor_save = Table(
    "floor_save",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("respondent_id", Integer, nullable=False),
    Column("page", Integer, nullable=False),
    Column("payload", Text, nullable=False),
)

PAGE_TEMPLATE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{{ title }}</title>
<link rel="stylesheet" href="/static/css/app.css"></head>
<body><main>
<h1>{{ title }}</h1>
<form method="post" action="{{ action }}">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
{% for question in questions %}
<fieldset class="question" id="q-{{ question.id }}">
<legend>{{ question.number }}. {{ question.text }}</legend>
<p class="help">{{ question.help }}</p>
{% for option in question.options %}
<label><input type="radio" name="a.{{ question.id }}" value="{{ option.id }}"
{% if option.checked %} checked{% endif %}> {{ option.label }}</label>
{% endfor %}
</fieldset>
{% endfor %}
<button name="action" value="next">Save and continue</button>
</form>
</main></body>
</html>
"""


def _question(number: int) -> dict[str, Any]:
    return {
        "id": f"instrument.question_{number}",
        "number": number,
        "text": "How does the team hand a trained model over to the people who run it? " * 2,
        "help": "Think of the last three releases & what happened to them <in practice>.",
        "options": [
            {"id": f"option_{index}", "label": f"Option {index}: a plausible answer", "checked": 0}
            for index in range(6)
        ],
    }


def page_context(target_bytes: int) -> dict[str, Any]:
    """Plain data that renders to about ``target_bytes`` (grown a question at a time)."""
    environment = _environment()
    template = environment.from_string(PAGE_TEMPLATE)
    context: dict[str, Any] = {
        "title": "Handoff: models",
        "action": "/floor/token/questions?page=1",
        "csrf": "0" * 64,
        "questions": [],
    }
    while len(template.render(context).encode()) < target_bytes:
        context["questions"].append(_question(len(context["questions"]) + 1))
    return context


def _environment() -> jinja2.Environment:
    return jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)


def create_db_engine(url: str, *, pool_size: int = 20, max_overflow: int = 20) -> Engine:
    """An engine set up like the app's: WAL, busy timeout, synchronous=FULL, BEGIN IMMEDIATE."""
    if not url.startswith("sqlite"):
        return create_engine(
            url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True
        )
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False},
        pool_size=pool_size,
        max_overflow=max_overflow,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def create_tables(engine: Engine, tokens: list[str]) -> None:
    """The floor's two tables, with one row per respondent token."""
    metadata.drop_all(engine)
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(floor_respondent), [{"token": token} for token in tokens])


def create_app() -> FastAPI:
    engine = create_db_engine(
        os.environ["FLOOR_DATABASE_URL"],
        pool_size=int(os.environ.get("FLOOR_POOL_SIZE", "20")),
        max_overflow=int(os.environ.get("FLOOR_MAX_OVERFLOW", "20")),
    )
    reader = engine.execution_options(sqlite_begin="DEFERRED")
    template = _environment().from_string(PAGE_TEMPLATE)
    context = page_context(int(os.environ.get("FLOOR_PAGE_BYTES", "20000")))
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/floor/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/floor/{token}/questions", response_class=HTMLResponse)
    def question_page(token: str, page: int = 1) -> HTMLResponse:
        with reader.connect() as connection:
            row = connection.execute(
                select(floor_respondent.c.id).where(floor_respondent.c.token == token)
            ).first()
            connection.rollback()
        if row is None:
            return HTMLResponse("not found", status_code=404)
        return HTMLResponse(template.render(context, csrf=token))

    @app.post("/floor/{token}/questions")
    async def save(request: Request, token: str, page: int = 1) -> JSONResponse:
        form = await request.form()
        payload = json.dumps({name: form.getlist(name) for name in form})
        # the write runs on the threadpool, as the app's sync routes do
        return await run_in_threadpool(_insert, engine, token, page, payload)

    return app


def _insert(engine: Engine, token: str, page: int, payload: str) -> JSONResponse:
    with engine.begin() as connection:
        respondent = connection.execute(
            select(floor_respondent.c.id).where(floor_respondent.c.token == token)
        ).scalar_one_or_none()
        if respondent is None:
            return JSONResponse({"saved": False}, status_code=404)
        saved = connection.execute(
            insert(floor_save)
            .values(respondent_id=respondent, page=page, payload=payload)
            .returning(floor_save.c.id)
        ).scalar_one()
    return JSONResponse({"saved": True, "version": saved})
