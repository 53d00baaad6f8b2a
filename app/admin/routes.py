"""Administration pages (admins only; anyone else gets 404): organisations, business units,
teams, users and their assignments, one-time password-reset links, API tokens, the audit log,
and a respondent's data (export and erasure).

Changes are POSTs that redirect back with a fixed message code (Post/Redirect/Get); a secret
shown once (a new API token, a reset link) is rendered on the POST's own response instead, so
it is never stored anywhere to be shown again.

Each area is its own module; this one combines their routers so the application includes one.
"""

from __future__ import annotations

from fastapi import APIRouter

from app.admin import (
    audit_log,
    branding,
    bulk_rounds,
    imports,
    new_organisation,
    organisations,
    respondents,
    users,
)

router = APIRouter()
for area in (
    organisations,
    new_organisation,
    branding,
    imports,
    bulk_rounds,
    users,
    audit_log,
    respondents,
):
    router.include_router(area.router)
