"""Liveness and readiness probes for load balancers, Docker and Kubernetes."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

from app import db

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up and serving; says nothing about the database."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Ready for traffic: the database answers and its schema is the one the code expects.

    "degraded" (still 200), with the reason, while a request has waited for a lock longer
    than db.WRITE_LOCK_WAIT_BUDGET_S (a long writer holding it, say): on SQLite a request of
    this process queuing for the write lock, on PostgreSQL a statement of any instance
    waiting on a row or table lock, on both a request of this process waiting for a
    connection of the pool (then the database is not asked: that would wait too)."""
    starved = db.connection_waits()
    if starved.over_budget:
        # asking the database would wait for a connection too: say so at once
        return JSONResponse({"status": "degraded", "reason": starved.describe()})
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
    try:
        waits = db.lock_waits(request.app.state.engine)
    except DBAPIError as error:  # the schema answered a moment ago: report it, stay ready
        logger.warning("readiness: lock waits unknown: %s", error)
        waits = None
    if waits is not None and waits.over_budget:
        # still ready (200): requests are answered, only slowly; a load balancer should not
        # take the instance out, an operator should look (docs/performance.md)
        return JSONResponse(
            {"status": "degraded", "reason": waits.describe(), "revision": list(status.head)}
        )
    return JSONResponse({"status": "ready", "revision": list(status.head)})
