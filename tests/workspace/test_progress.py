"""Progress of an open team survey (issue 17): submitted counts in total, and per role only
where a role has at least k submitted responses; otherwise "fewer than k", on the page and in
the API alike."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.accounts import api_tokens
from app.config import Settings
from app.surveys import invitations
from tests.workspace import helpers


def _round_with_a_small_role(session: Session, settings: Settings) -> tuple[helpers.Lead, int]:
    """Three data scientists and one ML engineer submitted, one product manager started."""
    lead = helpers.lead(session, settings)
    assessment_round = helpers.team_round(session, lead.team)
    for role in ("data_scientist", "data_scientist", "data_scientist", "ml_engineer"):
        helpers.submit(session, assessment_round, role, store=False)
    invitations.start_respondent(
        session=session,
        settings=settings,
        assessment_round=assessment_round,
        role="product_manager",
    )
    session.commit()
    assert assessment_round.id is not None
    return lead, assessment_round.id


def test_the_round_page_counts_a_role_only_from_k(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead, round_id = _round_with_a_small_role(session, settings)
    got = client.get(f"{lead.team_url}/rounds/{round_id}", headers=lead.headers)
    assert got.status_code == 200
    page = got.context["page"]  # type: ignore[attr-defined]

    assert page.submitted == 4
    assert [(c.role, c.started, c.submitted, c.fewer_than_minimum) for c in page.role_counts] == [
        ("data_scientist", 0, 3, False),
        ("ml_engineer", None, None, True),
        ("product_manager", None, None, True),
    ]
    table = helpers.document(got.text).xpath("//section[@aria-labelledby='responses-title']//tbody")
    rows = [" ".join(cell.text_content().strip() for cell in row) for row in table[0]]
    assert rows == [
        "Data scientist 0 3",
        "ML engineer fewer than 3",
        "Product manager fewer than 3",
    ]
    assert "4 submitted" in " ".join(
        helpers.texts(got.text, "//section[@aria-labelledby='responses-title']//p")
    )


def test_the_api_counts_a_role_only_from_k(
    client: TestClient, session: Session, settings: Settings
) -> None:
    lead, round_id = _round_with_a_small_role(session, settings)
    token = api_tokens.create(session=session, settings=settings, user=lead.user, name="progress")
    session.commit()
    got = client.get(
        f"/api{lead.team_url}/rounds/{round_id}",
        headers={"authorization": f"Bearer {token.token}"},
    )
    assert got.status_code == 200, got.text
    body = got.json()

    assert body["round"]["submitted"] == 4
    assert body["responses"] == [
        {"role": "data_scientist", "started": 0, "submitted": 3, "fewer_than_minimum": False},
        {"role": "ml_engineer", "started": None, "submitted": None, "fewer_than_minimum": True},
        {
            "role": "product_manager",
            "started": None,
            "submitted": None,
            "fewer_than_minimum": True,
        },
    ]
