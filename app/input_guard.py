"""Text and numbers the database cannot store, found before any route sees the request.

PostgreSQL text and JSONB cannot hold a NUL character (U+0000): a NUL in any field that
reaches a query is a 500 there, while SQLite stores it and every later page carries it. A lone
surrogate (half of a UTF-16 pair, e.g. the JSON escape ``"\\ud800"``) is not Unicode at all:
it cannot be encoded to UTF-8 for either database or for the page that shows it. NaN and
Infinity are not JSON numbers, but Python's parser accepts them (and reads ``1e999`` as
infinity); they cannot be stored in JSONB nor sent back as JSON.

Why one check in front of the app, and not a string type on every form model: the routes read
their input in several ways -- FastAPI ``Form()`` parameters, pydantic JSON models, forms read
whole with ``request.form()`` whose field names are themselves data (``a.<question id>``), and
JSON read with ``request.body()``. A shared annotated type would cover only the first two and
only where someone remembers to use it; a new route would be unprotected by default. The
middleware (``errors.BadInputMiddleware``) buffers the body of every request that can change
something, parses it here exactly as the app will (Starlette's own form parsers, so the same
charset and escaping rules apply), and refuses the whole request if any field name or text
value, any JSON key or string, the query string or the path holds such text, or any JSON
number is not finite. The refusal is a 422 naming the field, before any session, lock or write.

File uploads are bytes, not text: their contents are left alone. A body that does not parse
at all is let through untouched: the route refuses it as it always has.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import FormData, Headers, UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
MULTIPART_MEDIA_TYPE = "multipart/form-data"
# the same limits as Request.form(): past them the app refuses the form itself
MAX_FIELDS = 1000
MAX_PART_BYTES = 1024 * 1024
# how much of a field's name the message repeats (names can be data: a.<question id>)
MAX_NAME_CHARS = 80


class Problem(enum.Enum):
    nul = "nul"
    surrogate = "surrogate"
    not_finite = "not_finite"


@dataclasses.dataclass(frozen=True)
class UnstorableInput:
    """Where the bad input is (already safe to show) and what is wrong with it."""

    where: str  # e.g. 'The field "email"', "The address"
    problem: Problem

    @property
    def message(self) -> str:
        if self.problem is Problem.nul:
            return (
                f"{self.where} contains a NUL character (a zero byte), which is not text and "
                "cannot be stored, so nothing was changed. Remove it and send again."
            )
        if self.problem is Problem.surrogate:
            return (
                f"{self.where} contains a broken character (half of a UTF-16 surrogate pair, "
                "which is not valid Unicode), so nothing was changed. Remove it and send again."
            )
        return (
            f"{self.where} is NaN or Infinity, which is not a number this service accepts, so "
            "nothing was changed. Send a finite number."
        )


def text_problem(text: str) -> Problem | None:
    """Why ``text`` cannot be stored, or None."""
    if "\x00" in text:
        return Problem.nul
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return Problem.surrogate
    return None


def safe_name(name: str, limit: int = MAX_NAME_CHARS) -> str:
    """``name`` shortened, with NULs and surrogates spelled as escapes: safe to show and send."""
    shown = name.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _field(name: str) -> str:
    return f'The field "{safe_name(name)}"'


def _field_name(name: str) -> str:
    return f'The name of the field "{safe_name(name)}"'


# ---------------------------------------------------------------- JSON


class _NotFinite:
    """Stands in for NaN, Infinity and overflowing numbers while the body is parsed."""


_NOT_FINITE = _NotFinite()


def _parse_float(text: str) -> float | _NotFinite:
    value = float(text)
    return value if math.isfinite(value) else _NOT_FINITE


def _parse_constant(_name: str) -> _NotFinite:
    return _NOT_FINITE


def check_json(body: bytes) -> UnstorableInput | None:
    """The first unstorable key, string or number of a JSON body; None for a body that is
    fine or is not JSON at all (the route refuses that)."""
    try:
        document = json.loads(body, parse_float=_parse_float, parse_constant=_parse_constant)
    except (ValueError, RecursionError):
        return None
    # iterative, so the walk itself can never run out of stack
    pending: list[tuple[str, Any]] = [("", document)]
    while pending:
        path, value = pending.pop()
        if value is _NOT_FINITE:
            return UnstorableInput(_field(path or "(the body)"), Problem.not_finite)
        if isinstance(value, str):
            problem = text_problem(value)
            if problem is not None:
                return UnstorableInput(_field(path or "(the body)"), problem)
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else key
                problem = text_problem(key)
                if problem is not None:
                    return UnstorableInput(_field_name(child), problem)
                pending.append((child, item))
        elif isinstance(value, list):
            pending.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
    return None


# ---------------------------------------------------------------- forms and the address


def check_form(form: FormData) -> UnstorableInput | None:
    for name, value in form.multi_items():
        problem = text_problem(name)
        if problem is not None:
            return UnstorableInput(_field_name(name), problem)
        if isinstance(value, UploadFile):
            continue  # a file's bytes are not text
        problem = text_problem(value)
        if problem is not None:
            return UnstorableInput(_field(name), problem)
    return None


async def _once(body: bytes) -> AsyncGenerator[bytes, None]:
    yield body


async def parse_form(headers: Headers, body: bytes, media_type: str) -> FormData | None:
    """The form as the app will read it (Starlette's parsers), or None if it does not parse."""
    try:
        if media_type == MULTIPART_MEDIA_TYPE:
            return await MultiPartParser(
                headers, _once(body), max_fields=MAX_FIELDS, max_part_size=MAX_PART_BYTES
            ).parse()
        return await FormParser(
            headers, _once(body), max_fields=MAX_FIELDS, max_part_size=MAX_PART_BYTES
        ).parse()
    except (MultiPartException, ValueError, LookupError):
        return None


def check_address(path: str, query_string: bytes) -> UnstorableInput | None:
    """The path (already percent-decoded) and the query string, decoded as Starlette does."""
    problem = text_problem(path)
    if problem is not None:
        return UnstorableInput("The address", problem)
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        problem = text_problem(name)
        if problem is not None:
            return UnstorableInput(f'The name of the query parameter "{safe_name(name)}"', problem)
        problem = text_problem(value)
        if problem is not None:
            return UnstorableInput(f'The query parameter "{safe_name(name)}"', problem)
    return None


async def check_body(headers: Headers, body: bytes) -> UnstorableInput | None:
    """The first unstorable field of a form or JSON body, or None."""
    if not body:
        return None
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type in (FORM_MEDIA_TYPE, MULTIPART_MEDIA_TYPE):
        form = await parse_form(headers, body, media_type)
        if form is None:
            return None
        try:
            return check_form(form)
        finally:
            await form.close()
    # JSON, declared or not: a route may read the body as JSON whatever its type says
    return check_json(body)
