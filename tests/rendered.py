"""What a page route rendered, read from a test client's response.

Starlette's test client records the template's context on the response object as an extra
attribute, which the response type does not declare; ``page_of`` reads it in one place.
"""

from __future__ import annotations

from typing import Any


def page_of(response: object) -> Any:
    """The ``page`` view model the response's template was rendered with."""
    recorded = vars(response)
    assert "context" in recorded, "the response was not rendered from a template"
    return recorded["context"]["page"]
