"""The JSON API: one router under /api that every area adds its endpoints to.

Usage in another area::

    from app.api import ApiPrincipal, api_router

    @api_router.get("/teams/{team_id}/results")
    def team_results(team_id: int, principal: ApiPrincipal, session: SessionDep) -> ...:
        team = tenancy.get_team(session=session, principal=principal, team_id=team_id)

Callers authenticate with ``Authorization: Bearer <token>`` (tokens are created on the
account page or with ``processlens token create``), or with the browser's session cookie, in
which case unsafe methods need the CSRF token too (header ``X-CSRF-Token``). Everything an
endpoint loads by id goes through app.accounts.tenancy, so another tenant's id is a 404.
"""

from __future__ import annotations

import importlib

from fastapi import FastAPI

from app.accounts.dependencies import ApiPrincipal
from app.api.base import api_router

__all__ = ["ApiPrincipal", "api_router", "install"]

# Modules that add endpoints to api_router; they must be imported before the router is
# included (FastAPI copies the routes at that moment). Add yours here.
ENDPOINT_MODULES = ("app.api.accounts", "app.api.workspace")


def install(app: FastAPI) -> None:
    for module in ENDPOINT_MODULES:
        importlib.import_module(module)
    app.include_router(api_router)
