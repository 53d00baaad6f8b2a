"""schemathesis against the JSON API's OpenAPI schema (/api/openapi.json): no 5xx, for an
administrator's bearer token and for no token at all."""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from sqlmodel import Session

from app.accounts import api_tokens
from app.models import UserRole
from tests.accounts import helpers


def test_api_never_answers_5xx(app: FastAPI, session: Session, settings: Any) -> None:
    admin = helpers.user(session, UserRole.admin, email="fuzz@example.org")
    helpers.tenant(session, settings, "Fuzz")
    token = api_tokens.create(session=session, settings=settings, user=admin, name="fuzz")
    session.commit()
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    failures: list[str] = []
    seen: dict[str, bool] = {}
    operations = 0
    for result in schema.get_all_operations():
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
            variants = (
                ({"authorization": f"Bearer {token.token}"}, {})
                if anonymous
                else ({"authorization": f"Bearer {token.token}"},)
            )
            for headers in variants:
                app.state.rate_limiter.storage.reset()
                response = case.call(headers=headers)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path}: {response.status_code} "
                        f"{response.text[:200]}"
                    )

        run()
    assert operations >= 7
    assert not failures, "\n".join(sorted(set(failures)))
