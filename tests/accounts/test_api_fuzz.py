"""schemathesis against the JSON API's OpenAPI schema (/api/openapi.json): no 5xx, for an
administrator's bearer token, a consultant's, an organisation leader's and a team lead's, and
for no token at all; and every API operation of the route
table sent NUL, lone surrogates, NaN and infinities: 422, nothing stored."""

from __future__ import annotations

import re
from typing import Any

import schemathesis
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from pydantic import BaseModel
from schemathesis.core.result import Err
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlmodel import Session, SQLModel

from app.accounts import api_tokens
from app.accounts.tokens import hash_token
from app.models import UserRole
from tests.accounts import helpers


def test_api_never_answers_5xx(app: FastAPI, session: Session, settings: Any) -> None:
    admin = helpers.user(session, UserRole.admin, email="fuzz@example.org")
    fuzz = helpers.tenant(session, settings, "Fuzz")
    token = api_tokens.create(session=session, settings=settings, user=admin, name="fuzz")
    # each example also goes out as one of the other roles in turn: their guards and tenancy
    # take other paths than an administrator's
    role_tokens = [
        api_tokens.create(session=session, settings=settings, user=member, name="fuzz").token
        for member in (fuzz.consultant, fuzz.org_leader, fuzz.team_lead)
    ]
    session.commit()
    examples = [0]
    role_statuses: set[int] = set()
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    failures: list[str] = []
    seen: dict[str, bool] = {}
    operations = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # an operation schemathesis cannot read fails the test
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=4,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: Any) -> None:
            # an anonymous call on the first example only: those all stop at the guard
            label = f"{case.method} {case.path}"
            anonymous = not seen.get(label)
            seen[label] = True
            examples[0] += 1
            role_token = role_tokens[examples[0] % len(role_tokens)]
            variants: tuple[dict[str, str], ...] = (
                {"authorization": f"Bearer {token.token}"},
                {"authorization": f"Bearer {role_token}"},
                *(({},) if anonymous else ()),
            )
            for headers in variants:
                app.state.rate_limiter.storage.reset()
                response = case.call(headers=headers)
                if headers.get("authorization", "").endswith(role_token):
                    role_statuses.add(response.status_code)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path}: {response.status_code} "
                        f"{response.text[:200]}"
                    )

        run()
    assert operations >= 7
    assert not failures, "\n".join(sorted(set(failures)))
    # the other roles' tokens were let in: some calls answered, others met a guard (404)
    assert {200, 404} <= role_statuses, role_statuses


# JSON bodies schemathesis does not send: text the database cannot store and numbers JSON does
# not have, in every field the operation declares (and in a key), with a bearer token.
UNSTORABLE_BODIES = {
    "NUL": '"before\\u0000after"',
    "lone surrogate": '"half \\ud800 a character"',
    "NaN": "NaN",
    "Infinity": "-Infinity",
    "1e999": "1e999",
}


def _declared_fields(context: Any) -> list[str]:
    dependant = getattr(context, "dependant", None)
    fields: list[str] = []
    for param in dependant.body_params if dependant is not None else ():
        annotation = param.field_info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields.extend(annotation.model_fields)
    return fields or ["value"]


def test_api_refuses_unstorable_json_and_changes_nothing(
    app: FastAPI, session: Session, settings: Any, db_connection: Connection
) -> None:
    admin = helpers.user(session, UserRole.admin, email="fuzz@example.org")
    tenant = helpers.tenant(session, settings, "Fuzz")
    token = api_tokens.create(session=session, settings=settings, user=admin, name="fuzz")
    session.commit()
    ids = {
        "team_id": str(tenant.team.id),
        "round_id": str(tenant.round.id),
        "org_id": str(tenant.org.id),
        "token_id": str(token.row.id),
        "token": tenant.resume_token,
        "practice_id": "unknown-practice",
    }
    before = audit_and_counts(db_connection)
    failures: list[str] = []
    operations = 0
    with TestClient(app) as client:
        for context in iter_route_contexts(app.routes):
            path = getattr(context, "path", "")
            if not path.startswith("/api/"):
                continue
            for method in sorted((context.methods or set()) - {"GET", "HEAD", "OPTIONS"}):
                operations += 1
                url = re.sub(r"{(\w+)(:[^}]+)?}", lambda m: ids.get(m.group(1), "1"), path)
                fields = _declared_fields(context)
                headers = {
                    "authorization": f"Bearer {token.token}",
                    "content-type": "application/json",
                    # the survey API's credential is the respondent's link, with its CSRF token
                    "x-csrf-token": hash_token(settings, tenant.resume_token, purpose="csrf"),
                }
                for label, value in UNSTORABLE_BODIES.items():
                    for body in (
                        "{" + ", ".join(f'"{name}": {value}' for name in fields) + "}",
                        "{" + f'"key {value[1:-1]}": 1' + "}" if value.startswith('"') else "",
                    ):
                        if not body:
                            continue
                        app.state.rate_limiter.storage.reset()
                        response = client.request(
                            method,
                            url,
                            content=body.encode(),
                            headers=headers,
                        )
                        if response.status_code != 422 or "detail" not in response.json():
                            failures.append(
                                f"{label} to {method} {path}: {response.status_code} "
                                f"{response.text[:200]}"
                            )
    assert operations >= 7
    assert not failures, "\n".join(failures)
    assert audit_and_counts(db_connection) == before


def audit_and_counts(connection: Connection) -> dict[str, int]:
    """The number of rows of every table (the audit log among them)."""
    return {
        table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
        for table in SQLModel.metadata.sorted_tables
    }
