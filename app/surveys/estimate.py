"""How long a survey takes: the one place every page that states a time gets it from.

The figure follows the questions the person will see (their role, the round's kind, stage,
mode and questionnaires) and how long each kind of question takes to read and answer. The
round form, the lead's round page, the welcome page, the reminder text, the API and the home
page all call these functions, so one round never shows two different times.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Final

from app.rubric.answers import AskedQuestion, Kind, Mode, RoundSettings
from app.rubric.loader import Catalog
from app.rubric.rules import STAGES, Stage
from app.rubric.schema import ROLES, QuestionType, Role
from app.surveys.service import survey_plan

# seconds to read and answer one question of each kind (options to compare, a number to
# look up, a sentence to write)
SECONDS: Final[dict[QuestionType, int]] = {
    "ordinal": 15,
    "single": 15,
    "multi": 25,
    "number": 25,
    "text": 45,
}
MINIMUM_MINUTES: Final = 2
# the stage asking the most questions: a figure given before the stage is chosen
MOST_QUESTIONS_STAGE: Final[Stage] = "operating"


def minutes_of(asked: Iterable[AskedQuestion]) -> int:
    """Whole minutes for these questions (at least two)."""
    seconds = sum(SECONDS.get(item.question.type, 15) for item in asked)
    return max(MINIMUM_MINUTES, math.ceil(seconds / 60))


def minutes_for_role(catalog: Catalog, settings: RoundSettings, role: Role) -> int:
    """What the welcome page tells a respondent in ``role``: their own questions' time."""
    return minutes_of(survey_plan(catalog, settings, role).asked)


def round_minutes(catalog: Catalog, settings: RoundSettings) -> int:
    """A round's time per person: the lead's in a solo round; in a team survey the longest
    any role gets (most roles get every question; some get fewer)."""
    if settings.mode == "solo":
        return minutes_for_role(catalog, settings, "team_lead")
    return max(minutes_for_role(catalog, settings, role) for role in ROLES)


def about(minutes: int) -> str:
    """ "about 6 minutes" """
    return f"about {minutes} minute{'' if minutes == 1 else 's'}"


@dataclasses.dataclass(frozen=True)
class KindEstimate:
    """The round form's time for one kind of round, alone and per person."""

    solo: int
    per_person: int

    def text(self, mode: Mode | None) -> str:
        """ "About 6 minutes." for a solo round; "About 6 minutes per person." for a team
        survey; with no mode chosen both, the second only when it differs."""
        if mode == "solo":
            return f"{about(self.solo).capitalize()}."
        each = f"{about(self.per_person).capitalize()} per person"
        if mode == "team_survey":
            return f"{each}."
        if self.solo == self.per_person:
            return f"{about(self.solo).capitalize()}, alone or per person."
        return f"{each}; {about(self.solo)} if you answer alone."


def kind_estimate(
    catalog: Catalog, *, kind: Kind, stage: Stage | None, instruments: tuple[str, ...]
) -> KindEstimate:
    """The form's estimate before the round exists: the chosen stage (or, with none chosen
    yet, the stage asking the most, so the figure is never too low)."""

    def minutes(mode: Mode) -> int:
        settings = RoundSettings(
            stage=stage or MOST_QUESTIONS_STAGE, kind=kind, mode=mode, instruments=instruments
        )
        return round_minutes(catalog, settings)

    return KindEstimate(solo=minutes("solo"), per_person=minutes("team_survey"))


MODES: Final[tuple[Mode, ...]] = ("solo", "team_survey")


def form_estimates(
    catalog: Catalog, *, kind: Kind, instruments: tuple[str, ...]
) -> dict[str, KindEstimate]:
    """The round form's estimates of one kind for every stage ("" for none chosen yet)."""
    estimates = {"": kind_estimate(catalog, kind=kind, stage=None, instruments=instruments)}
    for stage in STAGES:
        estimates[stage] = kind_estimate(catalog, kind=kind, stage=stage, instruments=instruments)
    return estimates


def form_texts(estimates: dict[str, KindEstimate]) -> dict[str, str]:
    """``form_estimates`` as the texts the form shows, keyed "mode|stage" (for its script)."""
    return {
        f"{mode}|{stage}": each.text(mode) for stage, each in estimates.items() for mode in MODES
    }
