"""The audit log page (admins only): recent events, newest first, filtered by action."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app import templating
from app.accounts import audit
from app.accounts.dependencies import AdminPrincipal
from app.admin.common import PREFIX
from app.db import ReadSessionDep

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@dataclasses.dataclass(frozen=True)
class AuditLogPage:
    """Context of templates/admin/audit.html."""

    title: str
    log: audit.AuditPage
    action: str
    previous_offset: int | None
    next_offset: int | None


@router.get("/audit", response_class=HTMLResponse)
def audit_log(
    request: Request,
    session: ReadSessionDep,
    _admin: AdminPrincipal,
    offset: int = 0,
    action: str = "",
) -> HTMLResponse:
    offset = max(0, min(offset, 10_000_000))
    action = action.strip()[:80]
    log = audit.recent(session=session, offset=offset, limit=50, action=action or None)
    page = AuditLogPage(
        title="Audit log",
        log=log,
        action=action,
        previous_offset=max(0, offset - log.limit) if offset > 0 else None,
        next_offset=offset + log.limit if offset + log.limit < log.total else None,
    )
    return templating.render(request, "admin/audit.html", page)
