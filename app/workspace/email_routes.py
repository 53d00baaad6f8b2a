"""The round page's e-mail forms: invite respondents by address, remind those who have not
submitted (now, or on a schedule). The lead learns totals only, never who."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.background import BackgroundTask

from app import templating
from app.accounts.actor import PageActor
from app.accounts.dependencies import CurrentPrincipal, ScopedRound, ScopedTeam, settings_of
from app.catalog_store import CatalogDep
from app.db import SessionDep
from app.errors import DomainError, InvalidInputError
from app.forms import FormDep
from app.mail.outgoing import MailQueue
from app.rubric.schema import ROLES
from app.surveys import email_invitations
from app.workspace import round_pages, urls

router = APIRouter(include_in_schema=False)

MAX_ID: Final = 2**31 - 1
TeamId = Annotated[int, Path(ge=1, le=MAX_ID)]
RoundId = Annotated[int, Path(ge=1, le=MAX_ID)]
MAX_FIELD: Final = 40_000
NO_STORE: Final = {"Cache-Control": "no-store"}


def _mail_queue(request: Request) -> MailQueue:
    found: MailQueue = request.app.state.mail_queue
    return found


def _sent_to(request: Request, url: str, notice: str, mail_ids: tuple[int, ...]) -> Response:
    """Post/Redirect/Get; the messages are handed to the queue once the response is out."""
    return RedirectResponse(
        f"{url}?notice={notice}#email",
        status_code=303,
        background=BackgroundTask(_mail_queue(request).enqueue_all, mail_ids),
    )


@router.post("/teams/{team_id}/rounds/{round_id}/email/invite", response_class=HTMLResponse)
def invite_by_email(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    catalog: CatalogDep,
    team_id: TeamId,
    round_id: RoundId,
    team: ScopedTeam,
    assessment_round: ScopedRound,
    form: FormDep,
    actor: PageActor,
) -> Response:
    """Addresses per role; each gets a personal link. A bad address refuses the whole list
    (the page comes back with what was typed, nothing sent)."""
    typed: dict[str, str] = {
        str(role): value[:MAX_FIELD]
        for role in ROLES
        if isinstance(value := form.get(f"addresses_{role}"), str)
    }
    try:
        by_role = {role: email_invitations.parse_addresses(text) for role, text in typed.items()}
        if not any(by_role.values()):
            raise InvalidInputError("Enter at least one e-mail address.")
        invited = email_invitations.invite(
            session=session,
            settings=settings_of(request),
            assessment_round=assessment_round,
            addresses_by_role=by_role,
            actor=actor,
        )
    except DomainError as problem:
        session.rollback()
        page = round_pages.round_page(
            session=session,
            settings=settings_of(request),
            catalog=catalog,
            team=team,
            assessment_round=assessment_round,
            principal=principal,
            error=problem.message,
            typed_addresses=typed,
        )
        return templating.render(
            request,
            "workspace/round.html",
            page,
            status_code=problem.status_code,
            headers=NO_STORE,
        )
    return _sent_to(request, urls.round_url(team_id, round_id), "emailed", invited.mail_ids)


@router.post("/teams/{team_id}/rounds/{round_id}/email/remind")
def remind_by_email(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    team_id: TeamId,
    round_id: RoundId,
    team: ScopedTeam,
    assessment_round: ScopedRound,
    actor: PageActor,
) -> Response:
    reminded = email_invitations.remind(
        session=session,
        settings=settings_of(request),
        assessment_round=assessment_round,
        actor=actor,
    )
    return _sent_to(request, urls.round_url(team_id, round_id), "reminded", reminded.mail_ids)


@router.post("/teams/{team_id}/rounds/{round_id}/email/schedule")
def schedule_reminders(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    team_id: TeamId,
    round_id: RoundId,
    team: ScopedTeam,
    assessment_round: ScopedRound,
    form: FormDep,
    actor: PageActor,
) -> Response:
    raw = form.get("every_days")
    text = raw.strip() if isinstance(raw, str) else ""
    if text not in ("", "0") and not text.isdigit():
        raise InvalidInputError("Enter the number of days between reminders; nothing changed.")
    email_invitations.set_reminder_schedule(
        session=session,
        assessment_round=assessment_round,
        every_days=int(text) if text not in ("", "0") else None,
        actor=actor,
    )
    return _sent_to(request, urls.round_url(team_id, round_id), "reminder_schedule", ())
