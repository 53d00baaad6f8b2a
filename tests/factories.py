"""Factories for test data: small functions that add one object (and what it needs) and flush."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from sqlmodel import Session

from app import catalog_store
from app.models import (
    AssessmentRound,
    BusinessUnit,
    Organisation,
    Respondent,
    Response,
    ResponseStatus,
    Team,
)
from app.rubric.answers import validate_role
from app.rubric.loader import Catalog


def organisation(session: Session, name: str = "Acme Analytics") -> Organisation:
    org = Organisation(name=name, slug=f"org-{uuid.uuid4().hex[:10]}")
    session.add(org)
    session.flush()
    return org


def team(session: Session, org: Organisation | None = None, name: str = "Search team") -> Team:
    org = org or organisation(session)
    assert org.id is not None
    unit = BusinessUnit(organisation_id=org.id, name="Platform")
    session.add(unit)
    session.flush()
    item = Team(organisation_id=org.id, business_unit_id=unit.id, name=name)
    session.add(item)
    session.flush()
    return item


def assessment_round(
    session: Session, catalog: Catalog, team_: Team | None = None, **fields: Any
) -> AssessmentRound:
    team_ = team_ or team(session)
    assert team_.id is not None
    versions = catalog_store.register_catalog(session=session, catalog=catalog)
    values: dict[str, Any] = {
        "stage": "productionising",
        "mode": "solo",
        "kind": "full",
        "status": "open",
        "instruments": list(catalog.instruments),
        "rubric_versions": versions,
    } | fields
    item = AssessmentRound(team_id=team_.id, **values)
    session.add(item)
    session.flush()
    return item


def submitted_response(
    session: Session, round_: AssessmentRound, role: str, answers: dict[str, Any]
) -> Response:
    assert round_.id is not None
    respondent = Respondent(
        round_id=round_.id, role=validate_role(role), resume_token_hash=secrets.token_hex(32)
    )
    session.add(respondent)
    session.flush()
    assert respondent.id is not None
    response = Response(
        respondent_id=respondent.id,
        round_id=round_.id,
        answers={
            qid: value if isinstance(value, dict) else {"value": value}
            for qid, value in answers.items()
        },
        status=ResponseStatus.submitted,
    )
    session.add(response)
    session.flush()
    return response
