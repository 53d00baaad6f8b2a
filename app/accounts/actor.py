"""The acting user of a request, as the ``Actor`` services take (app.accounts.audit.Actor).

Edges build it once per request from the principal that guards the route, and pass it to the
service, which records its own audit event: ``PageActor`` for the signed-in pages,
``ApiActor`` for the JSON API, ``AnonymousActor`` for a respondent's own pages (no user).
The CLI uses ``Actor.cli()``.
"""

from __future__ import annotations

from typing import Annotated

from asgi_correlation_id import correlation_id
from fastapi import Depends

from app.accounts.audit import Actor
from app.accounts.dependencies import ApiPrincipal, CurrentPrincipal
from app.accounts.tenancy import Principal


def _actor(principal: Principal) -> Actor:
    # async dependencies run in the request's context, where the middleware set the id
    return Actor(user_id=principal.user_id, request_id=correlation_id.get() or None)


async def page_actor(principal: CurrentPrincipal) -> Actor:
    return _actor(principal)


async def api_actor(principal: ApiPrincipal) -> Actor:
    return _actor(principal)


async def anonymous_actor() -> Actor:
    return Actor(user_id=None, request_id=correlation_id.get() or None)


PageActor = Annotated[Actor, Depends(page_actor)]
AnonymousActor = Annotated[Actor, Depends(anonymous_actor)]
ApiActor = Annotated[Actor, Depends(api_actor)]
