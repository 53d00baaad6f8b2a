"""The organisation's "at a glance" figures, computed once for the dashboard's strip, its CSV
and the organisation report (``service.build`` calls these; ``service.at_a_glance`` gathers
them with the most common Now upgrades and perception-gap hot spots).

A *gap* here is a practice area where a team stands at the bottom of the scale: the lowest
band of a banded instrument (collaboration, technical debt), or handoff level 0 for an
artifact (models, code, data). The most common gaps are the areas with the most teams there.
Only cells the anonymity rules let the viewer see are counted (the inputs are the dashboard's
shown counts), so the strip never says more than the views below it.

Teams *furthest from target* compare each shown team's scores with the targets set for it
(or for its organisation), as the team's own results page does
(``app.rubric.assessment.target_progress``); a target whose cell is hidden is not counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from app.natural_sort import natural_key
from app.rubric import assessment
from app.rubric.loader import Catalog

TOP_GAPS: Final = 3
TOP_UPGRADES: Final = 3
TOP_HOT_SPOTS: Final = 3
FAR_TEAMS: Final = 5
OVERALL: Final = "Overall"


@dataclass(frozen=True, slots=True)
class TopGap:
    """A practice area and its weakest state, with how many shown teams are in it."""

    area: str  # "Collaboration", "Handoff of models"
    state: str  # the lowest band's label, or "Level 0"
    teams: int
    of: int  # shown teams with a band or level in this area
    levelled: bool = False  # a handoff artifact's level (else a band)

    @property
    def label(self) -> str:
        return f"{self.area}: {self.state}"

    @property
    def percent(self) -> int:
        return round(100 * self.teams / self.of) if self.of else 0


@dataclass(frozen=True, slots=True)
class TeamScores:
    """What target progress needs of one shown team (hidden cells already None)."""

    label: str
    team_id: int
    round_id: int
    scores: Mapping[str, float | None]  # dimension id -> shown score
    handoff_level: int | None  # None when unknown or hidden


@dataclass(frozen=True, slots=True)
class FarTeam:
    label: str
    team_id: int
    round_id: int
    percent: int  # mean progress towards its targets (100: every target met)
    missed: tuple[str, ...]  # titles of the dimensions whose target is not met


def top_gaps(
    *,
    catalog: Catalog,
    dimensions: Sequence[tuple[str, str]],
    bands: Mapping[str, Mapping[str, int]],
    level_counts: Sequence[tuple[str, Sequence[int]]],
    handoff_title: str = "Handoff",
    limit: int = TOP_GAPS,
) -> tuple[TopGap, ...]:
    """The ``limit`` most common gaps: most teams first, then the larger share, then name."""
    found: list[TopGap] = []
    for dimension_id, title in dimensions:
        instrument = catalog.instruments.get(dimension_id)
        counted = bands.get(dimension_id, {})
        if instrument is None or not instrument.bands or not counted:
            continue
        lowest = min(instrument.bands, key=lambda band: band.min_score).label
        found.append(TopGap(title, lowest, counted.get(lowest, 0), sum(counted.values())))
    for artifact, counts in level_counts:
        if artifact == OVERALL or not counts:
            continue
        found.append(
            TopGap(
                f"{handoff_title} of {artifact.lower()}",
                "Level 0",
                counts[0],
                sum(counts),
                levelled=True,
            )
        )
    ranked = sorted(
        (gap for gap in found if gap.teams),
        key=lambda gap: (-gap.teams, -gap.percent, natural_key(gap.label)),
    )
    return tuple(ranked[:limit])


def _target_value(catalog: Catalog, dimension: str, value: str) -> str | int | None:
    instrument = catalog.instruments.get(dimension)
    if instrument is None:
        return None
    return int(value) if instrument.levels and value.isdigit() else value


def far_teams(
    *,
    catalog: Catalog,
    dimensions: Sequence[tuple[str, str]],
    teams: Sequence[TeamScores],
    targets: Mapping[int | None, Mapping[str, str]],
    limit: int = FAR_TEAMS,
) -> tuple[FarTeam, ...]:
    """The ``limit`` teams furthest from their targets (``targets``: per team id, and under
    None the organisation's, which apply where a team set none of its own). Teams without a
    target, or whose targeted cells are all hidden, are not listed; nor is a team on target."""
    titles = dict(dimensions)
    organisation = targets.get(None, {})
    found: list[FarTeam] = []
    for team in teams:
        chosen = {**organisation, **targets.get(team.team_id, {})}
        percents: list[int] = []
        missed: list[str] = []
        for dimension, raw in sorted(chosen.items()):
            value = _target_value(catalog, dimension, raw)
            if value is None or dimension not in titles:
                continue
            instrument = catalog.instruments[dimension]
            level_target = instrument.levels is not None and isinstance(value, int)
            if (team.handoff_level if level_target else team.scores.get(dimension)) is None:
                continue  # hidden or unknown: never guessed
            try:
                (progress,) = assessment.target_progress(
                    catalog,
                    scores=team.scores,
                    overall_level=team.handoff_level,
                    targets={dimension: value},
                )
            except ValueError:  # a target the catalogue no longer knows
                continue
            percents.append(progress.percent)
            if not progress.met:
                missed.append(titles[dimension])
        if percents and missed:
            found.append(
                FarTeam(
                    team.label,
                    team.team_id,
                    team.round_id,
                    round(sum(percents) / len(percents)),
                    tuple(missed),
                )
            )
    found.sort(key=lambda far: (far.percent, natural_key(far.label)))
    return tuple(found[:limit])
