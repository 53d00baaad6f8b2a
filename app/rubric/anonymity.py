"""The one rule set that decides what may be shown about respondents.

Pages, PDFs, the API and exports all call these functions, so a breakdown cannot be shown in
one place and hidden in another (PRODUCT.md section 6).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

DEFAULT_TEAM_RESULTS_MIN = 3
LOWEST_TEAM_RESULTS_MIN = 2
DEFAULT_ROLE_GROUP_MIN = 3  # a role group's figures show from 3 responses (PRODUCT.md section 6)
DEFAULT_ORG_CELL_MIN = 3


@dataclass(frozen=True, slots=True)
class Thresholds:
    team_results: int = DEFAULT_TEAM_RESULTS_MIN
    role_group: int = DEFAULT_ROLE_GROUP_MIN
    org_cell: int = DEFAULT_ORG_CELL_MIN

    def __post_init__(self) -> None:
        if self.team_results < LOWEST_TEAM_RESULTS_MIN:
            raise ValueError(f"team results need at least {LOWEST_TEAM_RESULTS_MIN} responses")
        if self.role_group < 2 or self.org_cell < 2:
            raise ValueError("role-group and organisation-cell minimums must be at least 2")


@dataclass(frozen=True, slots=True)
class Visibility:
    visible: bool
    submitted: int
    needed: int

    @property
    def waiting_for(self) -> int:
        return max(0, self.needed - self.submitted)


def team_results_visibility(*, mode: str, submitted: int, threshold: int) -> Visibility:
    """Solo rounds show results at once; team surveys once `threshold` responses are in."""
    if mode == "solo":
        return Visibility(visible=submitted >= 1, submitted=submitted, needed=1)
    needed = max(threshold, LOWEST_TEAM_RESULTS_MIN)
    return Visibility(visible=submitted >= needed, submitted=submitted, needed=needed)


def shown_role_groups(counts: Mapping[str, int], *, minimum: int) -> frozenset[str]:
    """Role groups with enough respondents to appear in a perception gap."""
    return frozenset(group for group, count in counts.items() if count >= minimum)


def shown_cells(total: int, children: Mapping[str, int], *, minimum: int) -> frozenset[str]:
    """Children of a total that may be shown without exposing a small group.

    A child below `minimum` is hidden. Because the parent total is shown, hiding a single small
    child is not enough — subtracting its siblings from the total would reveal it — so the
    smallest visible siblings are hidden too until the hidden children together reach the
    minimum. If the total itself is below the minimum, nothing is shown.
    """
    if total < minimum:
        return frozenset()
    hidden = {name for name, count in children.items() if 0 < count < minimum}
    shown = {name for name, count in children.items() if count >= minimum}
    while hidden and shown and 0 < sum(children[name] for name in hidden) < minimum:
        smallest = min(shown, key=lambda name: (children[name], name))
        shown.remove(smallest)
        hidden.add(smallest)
    return frozenset(shown | {name for name, count in children.items() if count == 0})


SOLO = "solo"


@dataclass(frozen=True, slots=True)
class TeamCount:
    """A team's latest result in an organisation view: how it was answered, and by how many."""

    team_id: int
    mode: str  # solo | team_survey
    respondents: int


def shown_teams(teams: Iterable[TeamCount], *, minimum: int) -> frozenset[int]:
    """Teams whose results may appear in organisation views (dashboard and report alike).

    A team-survey result counts as a cell built from its respondents, so teams are shown as
    ``shown_cells`` allows (at least ``minimum``, and no small team recoverable by subtracting
    the others from the total). A solo round is the team lead answering for the team, not a
    group of pseudonymous respondents, so it is shown.
    """
    chosen = list(teams)
    surveyed = {str(t.team_id): t.respondents for t in chosen if t.mode != SOLO}
    visible = shown_cells(sum(surveyed.values()), surveyed, minimum=minimum)
    return frozenset(t.team_id for t in chosen if t.mode == SOLO or str(t.team_id) in visible)


def cell_shown(*, mode: str, respondents: int, minimum: int) -> bool:
    """May one team's cell (a dimension) built from ``respondents`` people appear in an
    organisation view? ``shown_cells`` for the cell on its own; a solo round is shown."""
    if mode == SOLO:
        return True
    return "cell" in shown_cells(respondents, {"cell": respondents}, minimum=minimum)
