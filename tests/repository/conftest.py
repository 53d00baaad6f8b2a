"""Repository-check tests: the long form (100,000 files, marked ``slow``) runs only when asked."""

from __future__ import annotations

import pytest

from tests.live import slow_requested


@pytest.fixture(autouse=True)
def _slow_only_when_asked(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("slow") and not slow_requested(request.config):
        pytest.skip('long form: run with PYTEST_ARGS="-m slow" or PROCESSLENS_SLOW_TESTS=1')
