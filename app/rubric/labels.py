"""Words for the ids people see: roles, role groups, stages, kinds and modes of a round, effort,
process-model fit, how answers moved; ``humanise`` for any other id.

The one label module: the team report, the results page, the workspace pages, the dashboards
and the exports all label from here, so a role reads the same everywhere. Pure (no imports).
"""

from __future__ import annotations

from typing import Final

ROLE_LABELS: Final[dict[str, str]] = {
    "data_scientist": "Data scientist",
    "ml_engineer": "ML engineer",
    "software_engineer": "Software engineer",
    "product_manager": "Product manager",
    "team_lead": "Team lead",
    "other": "Other",
}
GROUP_LABELS: Final[dict[str, str]] = {
    "data_science": "Data science",
    "engineering": "Engineering",
    "product_and_lead": "Product and lead",
}
EFFORT_LABELS: Final[dict[str, str]] = {"S": "Small", "M": "Medium", "L": "Large"}
STAGE_LABELS: Final[dict[str, str]] = {
    "exploration": "Exploration",
    "prototype": "Prototype",
    "productionising": "Productionising",
    "operating": "Operating",
}
KIND_LABELS: Final[dict[str, str]] = {"full": "Full assessment", "quick": "Quick check"}
MODE_LABELS: Final[dict[str, str]] = {
    "solo": "Answered by the team lead",
    "team_survey": "Team survey",
}
MOVED_LABELS: Final[dict[str, str]] = {
    "up": "Answers moved up",
    "same": "No change in the answers",
    "down": "Answers moved down",
    "unknown": "Not known (not answered in both rounds)",
}
FIT_LABELS: Final[dict[str, str]] = {
    "good": "Good fit",
    "warnings": "Fit warnings",
    "unknown": "Fit not yet known",
}


def humanise(identifier: str) -> str:
    """An id as words: ``ml_engineer`` -> ``Ml engineer`` (for ids without a label)."""
    text = identifier.replace("_", " ").strip()
    return text[:1].upper() + text[1:]
