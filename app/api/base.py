"""The /api router and the response shapes shared by every API endpoint."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel


class ApiError(BaseModel):
    """Every API error: what went wrong (for a person), the status and the request id."""

    detail: str
    status: int
    request_id: str | None


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ApiError, "description": "No valid API token or session."},
    404: {"model": ApiError, "description": "Not found, or not yours to see."},
    429: {"model": ApiError, "description": "Too many requests; see Retry-After."},
}

api_router = APIRouter(prefix="/api", responses=ERROR_RESPONSES)
