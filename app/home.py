"""The public home page: what ProcessLens is, who it is for, and what it will tell a team."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app import catalog_store, templating
from app.surveys import estimate

router = APIRouter(include_in_schema=False)


@dataclasses.dataclass(frozen=True)
class Instrument:
    name: str
    question: str


@dataclasses.dataclass(frozen=True)
class HomePage:
    """Context of templates/home.html."""

    title: str
    instruments: tuple[Instrument, ...]
    full_minutes: int  # per person, app.surveys.estimate (the stage asking the most)
    quick_minutes: int


INSTRUMENTS = (
    Instrument(
        "Trajectory",
        "What kind of project is this: goal- or data-driven, model-first or system-first?",
    ),
    Instrument(
        "Collaboration",
        "How do data scientists and engineers work together, and where does it break down?",
    ),
    Instrument(
        "Handoff maturity",
        "How do models, code and data move from exploration into production?",
    ),
    Instrument(
        "Technical debt",
        "Which kinds of debt does the team take on, and does it pay them down on purpose?",
    ),
)


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    catalog = catalog_store.current_catalog(request)
    instruments = tuple(i for i in catalog.instruments if i not in catalog.custom_instruments)
    full = estimate.kind_estimate(catalog, kind="full", stage=None, instruments=instruments)
    quick = estimate.kind_estimate(catalog, kind="quick", stage=None, instruments=instruments)
    page = HomePage(
        title="Find the process that fits your ML team",
        instruments=INSTRUMENTS,
        full_minutes=full.per_person,
        quick_minutes=quick.per_person,
    )
    return templating.render(request, "home.html", page)
