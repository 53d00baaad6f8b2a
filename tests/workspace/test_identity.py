"""The results page, the API and `processlens score` show the same result for the same
answers: the same ``to_data`` JSON, number for number."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.config import Settings
from app.models import Respondent, Response
from app.workspace import acting, rounds
from tests.workspace import helpers

PROCESSLENS = Path(sys.executable).with_name("processlens")


def _answers_file(session: Session, round_id: int, lead: helpers.Lead, **extra: Any) -> str:
    """The round's submitted answers as an answers file (README, "Answers files")."""
    rows = session.exec(
        select(Respondent, Response)
        .join(Response, col(Response.respondent_id) == col(Respondent.id))
        .where(Respondent.round_id == round_id)
        .order_by(col(Respondent.id))
    ).all()
    return yaml.safe_dump(
        {
            "round": {
                "team": lead.team.name,
                "stage": "productionising",
                "kind": "quick",
                "mode": "team_survey",
                "instruments": ["trajectory", "collaboration", "handoff", "debt"],
                "results_min": 3,
            },
            "respondents": [
                {"id": f"r{respondent.id}", "role": respondent.role, "answers": response.answers}
                for respondent, response in rows
            ],
            **extra,
        },
        allow_unicode=True,
    )


def test_page_api_and_cli_show_the_same_result(
    client: TestClient, session: Session, settings: Settings, tmp_path: Path
) -> None:
    lead = helpers.lead(session, settings)
    assessment_round = helpers.team_round(session, lead.team)
    for role, handoff, other in (
        ("data_scientist", "high", "mid"),
        ("data_scientist", "high", "high"),
        ("software_engineer", "low", "low"),
        ("ml_engineer", "low", "mid"),
        ("product_manager", "mid", "high"),
        # role groups of three: the anonymity rule then withholds no figure from the page
        ("data_scientist", "high", "mid"),
        ("ml_engineer", "low", "low"),
        ("product_manager", "mid", "mid"),
        ("product_manager", "high", "high"),
    ):
        helpers.submit(session, assessment_round, role, handoff=handoff, other=other)  # type: ignore[arg-type]
    acting.set_targets(
        session=session,
        catalog=helpers.catalog(),
        team=lead.team,
        targets={"collaboration": "established", "handoff": "2"},
    )
    acting.adopt(
        session=session,
        catalog=helpers.catalog(),
        team=lead.team,
        practice_id="model_registry",
        user_id=None,
    )
    # a team survey's result is published at close, with the team's targets and adoptions
    rounds.close_round(session=session, assessment_round=assessment_round)
    session.commit()
    url = f"{lead.team_url}/rounds/{assessment_round.id}"

    page = client.get(f"{url}/results", headers=lead.headers).context["page"]  # type: ignore[attr-defined]
    on_the_page = json.loads(json.dumps(page.data))
    downloaded = json.loads(client.get(f"{url}/result.json", headers=lead.headers).text)
    from_the_api = client.get(f"/api{url}/results", headers=lead.headers).json()["result"]

    answers = tmp_path / "answers.yaml"
    answers.write_text(
        _answers_file(
            session,
            assessment_round.id or 0,
            lead,
            targets={"collaboration": "established", "handoff": 2},
            adopted=["model_registry"],
        ),
        encoding="utf-8",
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PROCESSLENS_")}
    scored = subprocess.run(
        [str(PROCESSLENS), "score", str(answers), "--format", "json"],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert scored.returncode == 0, scored.stderr
    from_the_cli = json.loads(scored.stdout)

    assert on_the_page["targets"]  # targets and adoption are part of what is compared
    assert "model_registry" not in [p["practice"] for p in on_the_page["roadmap"]["now"]]
    assert on_the_page == downloaded
    assert on_the_page == from_the_api
    assert on_the_page == from_the_cli
