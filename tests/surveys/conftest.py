"""Fixtures for survey tests: a client for the test's app, rounds, started respondents."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient


@pytest.fixture
def survey_client(app: FastAPI) -> Iterator[TestClient]:
    """A client for the test's app without the start-up hook: the database is migrated
    already and the tests register the rubric versions they use themselves."""
    client = TestClient(app)
    yield client
    client.close()
