"""The append-only audit log: who did what, when, under which request id; never secrets.

Other areas record their security-relevant actions here, e.g. the survey code:
``audit.record(session=session, request=request, action="invitation.created",
target_type="invitation", target_id=invitation.id, organisation_id=org_id,
details={"round_id": round_id, "role": "data_scientist"})``.

A service that owns a use case takes an ``Actor`` (who acts, under which request) instead of
the request: the page and the API build it once per request (app.accounts.actor), the CLI
with ``Actor.cli()``, and the service records the event itself, so every edge records the
same one.

Append-only: this module only inserts and reads; nothing in the app updates or deletes an
audit row (a test checks no code path does), and deleting an organisation keeps its records
because the organisation and target are plain values, not foreign keys.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from asgi_correlation_id import correlation_id
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.models import AuditEvent, User

logger = logging.getLogger(__name__)

# Keys that must never be written to the log, whatever a caller passes. Answers and notes are
# personal data; secrets are secrets. Values under these keys are dropped, not masked.
FORBIDDEN_DETAIL_KEYS = frozenset(
    {
        "password",
        "password_hash",
        "token",
        "token_hash",
        "secret",
        "csrf_token",
        "answers",
        "answer",
        "note",
        "notes",
        "email",
        "link",
        "url",
    }
)
MAX_DETAIL_TEXT = 200


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who acts, for the audit log: a user (None for the CLI acting as nobody in particular),
    the request id that ties the event to the request's log lines (None outside one), and the
    edge it came through when the event says so (``"cli"``: every CLI event carries
    ``"via": "cli"`` in its details; the pages and the API leave it out)."""

    user_id: int | None
    request_id: str | None = None
    via: str | None = None

    @classmethod
    def cli(cls, user_id: int | None = None) -> Actor:
        return cls(user_id=user_id, request_id=None, via="cli")


def _clean(details: Mapping[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in details.items():
        if key.lower() in FORBIDDEN_DETAIL_KEYS:
            continue
        if isinstance(value, str):
            value = value[:MAX_DETAIL_TEXT]
        elif isinstance(value, Mapping):
            value = _clean(value)
        elif not isinstance(value, int | float | bool | type(None) | list):
            value = str(value)[:MAX_DETAIL_TEXT]
        cleaned[str(key)[:60]] = value
    return cleaned


def record(
    *,
    session: Session,
    request: Any = None,
    actor: Actor | None = None,
    action: str,
    actor_id: int | None = None,
    target_type: str | None = None,
    target_id: int | str | None = None,
    organisation_id: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event (flushed with the request's transaction).

    ``actor_id`` defaults to the signed-in user of ``request`` (if a principal was resolved);
    ``request`` may be None for the CLI. Services pass ``actor`` instead of ``request``.
    ``details`` are plain values; keys that could hold secrets or answers (password, token,
    answers, note, email, ...) are dropped.
    """
    request_id = (correlation_id.get() or None) if request is not None else None
    if actor is not None:
        actor_id = actor_id if actor_id is not None else actor.user_id
        request_id = actor.request_id
        if actor.via is not None:
            details = {**(details or {}), "via": actor.via}
    elif actor_id is None and request is not None:
        principal = getattr(request.state, "principal", None)
        actor_id = getattr(principal, "user_id", None)
    event = AuditEvent(
        actor_id=actor_id,
        organisation_id=organisation_id,
        action=action[:80],
        target_type=target_type[:40] if target_type else None,
        target_id=str(target_id)[:80] if target_id is not None else None,
        request_id=request_id[:64] if request_id else None,
        details=_clean(details or {}),
    )
    session.add(event)
    session.flush()
    logger.debug("audit %s", event.action, extra={"audit_action": event.action})
    return event


@dataclasses.dataclass(frozen=True)
class AuditRow:
    at: datetime
    action: str
    actor: str
    organisation_id: int | None
    target: str
    request_id: str
    details: tuple[tuple[str, str], ...]


@dataclasses.dataclass(frozen=True)
class AuditPage:
    rows: tuple[AuditRow, ...]
    total: int
    offset: int
    limit: int


def recent(
    *, session: Session, offset: int = 0, limit: int = 50, action: str | None = None
) -> AuditPage:
    """The newest events first, as plain rows for the admin page."""
    query = select(AuditEvent, User).join(
        User, col(User.id) == col(AuditEvent.actor_id), isouter=True
    )
    count_query = select(func.count()).select_from(AuditEvent)
    if action:
        query = query.where(col(AuditEvent.action).startswith(action))
        count_query = count_query.where(col(AuditEvent.action).startswith(action))
    total = session.exec(count_query).one()
    rows: Sequence[tuple[AuditEvent, User | None]] = session.exec(
        query.order_by(col(AuditEvent.id).desc()).offset(offset).limit(limit)
    ).all()
    return AuditPage(
        rows=tuple(
            AuditRow(
                at=event.at,
                action=event.action,
                actor=user.email if user is not None else "—",
                organisation_id=event.organisation_id,
                target=f"{event.target_type} {event.target_id}" if event.target_type else "",
                request_id=event.request_id or "",
                details=tuple((str(k), str(v)) for k, v in sorted(event.details.items())),
            )
            for event, user in rows
        ),
        total=int(total),
        offset=offset,
        limit=limit,
    )
