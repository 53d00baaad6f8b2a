"""Acting on results: a target band or level per dimension, and practices marked adopted.

Both belong to the team, not to a round: after a change the team's stored results are
recomputed (app.workspace.results.refresh_team_results), so every page, report and export shows
the percent-to-target and the adopted practices the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime

from sqlmodel import Session, col, delete, select

from app.errors import InvalidInputError
from app.models import AdoptedPractice, Target, Team
from app.rubric.loader import Catalog
from app.rubric.schema import Instrument, Practice


@dataclasses.dataclass(frozen=True)
class TargetOption:
    value: str  # a band id, or a level as digits
    label: str


@dataclasses.dataclass(frozen=True)
class TargetChoice:
    """One dimension a target can be set for, its possible targets and the current one."""

    dimension: str
    title: str
    kind: str  # band | level
    options: tuple[TargetOption, ...]
    current: str | None


def _options(instrument: Instrument) -> tuple[str, tuple[TargetOption, ...]]:
    if instrument.levels is not None:
        return "level", tuple(
            TargetOption(str(d.level), f"Level {d.level}: {d.label}")
            for d in instrument.levels.definitions
            if d.level > 0
        )
    return "band", tuple(TargetOption(b.id, b.label) for b in instrument.bands)


def targetable(catalog: Catalog) -> dict[str, Instrument]:
    """Dimensions that can have a target: scored instruments with bands or levels."""
    return {
        instrument_id: instrument
        for instrument_id, instrument in catalog.instruments.items()
        if instrument.scored and (instrument.bands or instrument.levels is not None)
    }


def team_targets(*, session: Session, team_id: int) -> dict[str, str]:
    rows = session.exec(select(Target).where(Target.team_id == team_id)).all()
    return {row.dimension: row.target_level for row in rows}


def target_choices(*, session: Session, catalog: Catalog, team_id: int) -> tuple[TargetChoice, ...]:
    current = team_targets(session=session, team_id=team_id)
    choices = []
    for dimension, instrument in targetable(catalog).items():
        kind, options = _options(instrument)
        choices.append(
            TargetChoice(dimension, instrument.title, kind, options, current.get(dimension))
        )
    return tuple(choices)


def set_targets(
    *, session: Session, catalog: Catalog, team: Team, targets: Mapping[str, str | None]
) -> dict[str, str]:
    """Set (or, with None or "", remove) the team's target per dimension; every value is
    checked first, so a bad one changes nothing. Returns the team's targets afterwards."""
    assert team.id is not None
    allowed = targetable(catalog)
    errors = []
    wanted: dict[str, str | None] = {}
    for dimension, value in targets.items():
        instrument = allowed.get(dimension)
        if instrument is None:
            errors.append(f"{dimension!r} cannot have a target")
            continue
        value = (value or "").strip() or None
        options = {option.value for option in _options(instrument)[1]}
        if value is not None and value not in options:
            errors.append(f"{value!r} is not a target for {instrument.title}")
            continue
        wanted[dimension] = value
    if errors:
        raise InvalidInputError("Nothing was changed: " + "; ".join(errors) + ".")
    current = {
        row.dimension: row
        for row in session.exec(select(Target).where(Target.team_id == team.id)).all()
    }
    for dimension, value in wanted.items():
        row = current.get(dimension)
        if value is None:
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(Target(team_id=team.id, dimension=dimension, target_level=value))
        elif row.target_level != value:
            row.target_level = value
            session.add(row)
    session.flush()
    return team_targets(session=session, team_id=team.id)


# ---------------------------------------------------------------- adopted practices


def practice(catalog: Catalog, practice_id: str) -> Practice:
    found = next((p for p in catalog.practices.practices if p.id == practice_id), None)
    if found is None:
        raise InvalidInputError("There is no such practice in the catalogue; nothing was changed.")
    return found


def adopted_practices(*, session: Session, team_id: int) -> dict[str, datetime]:
    rows = session.exec(
        select(AdoptedPractice)
        .where(AdoptedPractice.team_id == team_id)
        .order_by(col(AdoptedPractice.adopted_at))
    ).all()
    return {row.practice_id: row.adopted_at for row in rows}


def adopt(
    *, session: Session, catalog: Catalog, team: Team, practice_id: str, user_id: int | None
) -> bool:
    """Mark a practice adopted; False if it already was (nothing changes)."""
    assert team.id is not None
    practice(catalog, practice_id)
    exists = session.exec(
        select(AdoptedPractice.id).where(
            AdoptedPractice.team_id == team.id, AdoptedPractice.practice_id == practice_id
        )
    ).first()
    if exists is not None:
        return False
    session.add(AdoptedPractice(team_id=team.id, practice_id=practice_id, adopted_by_id=user_id))
    session.flush()
    return True


def unadopt(*, session: Session, catalog: Catalog, team: Team, practice_id: str) -> bool:
    """Undo an adoption; False if the practice was not marked adopted."""
    assert team.id is not None
    practice(catalog, practice_id)
    removed = session.exec(
        delete(AdoptedPractice).where(
            col(AdoptedPractice.team_id) == team.id,
            col(AdoptedPractice.practice_id) == practice_id,
        )
    )
    session.flush()
    return bool(removed.rowcount)
