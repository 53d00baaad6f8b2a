"""A respondent's data (admins only): found by resume link, exported, or erased."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from app import templating
from app.accounts import privacy, tenancy
from app.accounts.actor import PageActor
from app.accounts.dependencies import AdminPrincipal, settings_of
from app.admin.common import PREFIX, done_message, redirect_done
from app.db import ReadSessionDep, SessionDep

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@dataclasses.dataclass(frozen=True)
class RespondentPage:
    """Context of templates/admin/respondent.html."""

    title: str
    respondent_id: int | None
    round_id: int | None
    role: str | None
    searched: bool
    message: str | None
    error: str | None = None


@router.get("/respondents", response_class=HTMLResponse)
def find_respondent(
    request: Request,
    session: ReadSessionDep,
    _admin: AdminPrincipal,
    done: str | None = None,
) -> HTMLResponse:
    page = RespondentPage(
        title="A respondent's data",
        respondent_id=None,
        round_id=None,
        role=None,
        searched=False,
        message=done_message(done),
    )
    return templating.render(request, "admin/respondent.html", page)


@router.post("/respondents", response_class=HTMLResponse)
def lookup_respondent(
    request: Request,
    session: SessionDep,
    _admin: AdminPrincipal,
    link: Annotated[str, Form(max_length=500)] = "",
) -> HTMLResponse:
    # a POST, so the resume link travels in the body and never in an address or a log
    respondent = privacy.find_by_resume_token(
        session=session, settings=settings_of(request), token=link
    )
    page = RespondentPage(
        title="A respondent's data",
        respondent_id=respondent.id if respondent else None,
        round_id=respondent.round_id if respondent else None,
        role=respondent.role if respondent else None,
        searched=True,
        message=None,
    )
    return templating.render(request, "admin/respondent.html", page)


@router.get("/respondents/{respondent_id}/export")
def export_respondent(
    session: SessionDep, principal: AdminPrincipal, actor: PageActor, respondent_id: int
) -> Response:
    respondent = tenancy.get_respondent(
        session=session, principal=principal, respondent_id=respondent_id
    )
    data = privacy.export_respondent(
        session=session, respondent=respondent, actor=actor, by="admin"
    )
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={"content-disposition": f'attachment; filename="respondent-{respondent.id}.json"'},
    )


@router.post("/respondents/{respondent_id}/erase")
def erase_respondent(
    session: SessionDep, principal: AdminPrincipal, actor: PageActor, respondent_id: int
) -> Response:
    respondent = tenancy.get_respondent(
        session=session, principal=principal, respondent_id=respondent_id
    )
    privacy.erase_respondent(session=session, respondent=respondent, actor=actor, by="admin")
    return redirect_done("/admin/respondents", "respondent-erased")
