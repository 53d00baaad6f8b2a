"""Liveness and readiness probes for load balancers, Docker and Kubernetes."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app import db

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up and serving; says nothing about the database."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Ready for traffic: the database answers and its schema is the one the code expects."""
    try:
        status = db.schema_status(request.app.state.engine)
    except db.DatabaseUnavailableError as error:
        # the reason for operators goes to the log; the probe's answer names no host or user
        logger.warning("readiness: %s", error)
        return JSONResponse(
            {"status": "unavailable", "reason": "the database cannot be reached"},
            status_code=503,
        )
    if not status.is_current:
        return JSONResponse(
            {
                "status": "unavailable",
                "reason": status.describe(),
                "database_revision": list(status.current),
                "code_revision": list(status.head),
            },
            status_code=503,
        )
    return JSONResponse({"status": "ready", "revision": list(status.head)})
