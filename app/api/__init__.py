"""The JSON API under ``/api``: one module per area, each with its own ``router``, all mounted
by ``install`` (called once by app.main.create_app).

- app.api.accounts: who am I, organisations and teams I may see, branding, my tokens
- app.api.organisations: setting organisations up (organisations, units, teams, assignments)
- app.api.setup: bulk set-up (CSV import, preview and export) and many rounds at once
- app.api.surveys: a respondent's survey (``/api/survey/...``; the resume token is the key)
- app.api.workspace: rounds, invitation links, results, targets and adopted practices
- app.api.dashboards: the dashboard's tables and the analysis exports
- app.api.reports: team and organisation reports as PDF, the consultant's commentary
- app.api.repository: a round's repository check (signals file and comparison)
- app.api.docs: the interactive documentation at ``/api/docs`` (Swagger UI, served offline)

A new endpoint goes into its area's module (a new area: a new module, added to ``ROUTERS``).
Endpoints are thin: they call the same services as the pages, load everything by id through
app.accounts.tenancy (another tenant's id is a 404), and depend on the API guards of
app.accounts.dependencies (``ApiPrincipal``, ``require_api_roles``, ``ApiOrgViewer``), whose
``ERROR_RESPONSES`` and id path types (``TeamId``, ``RoundId``) they share. Callers
authenticate with ``Authorization: Bearer <token>`` (tokens are created on the account page or
with ``processlens token create``), or with the browser's session cookie, in which case unsafe
methods need the CSRF token too (header ``X-CSRF-Token``). docs/architecture.md has the rules.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from app.api import (
    accounts,
    dashboards,
    docs,
    organisations,
    reports,
    repository,
    setup,
    surveys,
    workspace,
)

__all__ = ["ROUTERS", "install"]

# the order only decides the order of the OpenAPI document's paths: no two share a route
ROUTERS: tuple[APIRouter, ...] = (
    surveys.router,
    dashboards.router,
    reports.router,
    repository.router,
    accounts.router,
    organisations.router,
    setup.router,
    workspace.router,
    docs.router,
)


def install(app: FastAPI) -> None:
    """Mount every API router on ``app``."""
    for router in ROUTERS:
        app.include_router(router)
