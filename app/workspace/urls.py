"""The addresses of the workspace pages, built in one place for pages, redirects and links."""

from __future__ import annotations


def team_url(team_id: int) -> str:
    return f"/teams/{team_id}"


def round_url(team_id: int, round_id: int) -> str:
    return f"/teams/{team_id}/rounds/{round_id}"


def results_url(team_id: int, round_id: int) -> str:
    return f"{round_url(team_id, round_id)}/results"
