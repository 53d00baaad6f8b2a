"""Stage-proportional asking (Rubric 2026.2, class 5): a question not expected at the round's
stage is not asked, and a quick check at any stage still asks where the handoff stands."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.config import Settings
from tests.surveys.test_api import started


@pytest.mark.parametrize("kind", ["full", "quick"])
def test_an_exploring_team_is_not_asked_production_questions(
    session: Session, settings: Settings, survey_client: TestClient, kind: str
) -> None:
    _, early = started(survey_client, session, settings, stage="exploration", kind=kind)
    _, late = started(survey_client, session, settings, stage="operating", kind=kind)
    early_ids = {q["id"] for p in early["pages"] for q in p["questions"]}
    late_ids = {q["id"] for p in late["pages"] for q in p["questions"]}
    assert "handoff.registry" in late_ids
    assert "handoff.registry" not in early_ids  # expected only from productionising
    assert early_ids < late_ids
    assert early["progress"]["total"] == len(early_ids)  # progress counts only what is asked
    assert "handoff.handoff_process" in early_ids  # where the handoff stands, at any stage
