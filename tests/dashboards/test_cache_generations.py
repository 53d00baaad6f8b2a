"""Dashboard caches of several instances: a change made through one instance is never served
stale by another's cache (each keeps its own cache; a generation counter in the database,
bumped in the writer's own transaction, tells them all)."""

from __future__ import annotations

from sqlmodel import Session, col, select, update

from app.dashboards import service
from app.models import BusinessUnit, Team
from app.rubric import anonymity
from tests.dashboards import helpers
from tests.workspace.helpers import catalog

MIN = anonymity.DEFAULT_ORG_CELL_MIN


def _on(session: Session, cache: service.DashboardCache, organisation_id: int) -> service.Dashboard:
    return service.dashboard(
        session=session,
        organisation_id=organisation_id,
        filters=service.Filters(),
        catalog=catalog(),
        minimum=MIN,
        cache=cache,
    )


def _names(dashboard: service.Dashboard) -> dict[str, str]:
    """Team name -> business unit name, as the dashboard's team table shows them."""
    return {line.label: line.unit for line in dashboard.lines}


def test_a_change_through_one_instance_is_not_served_stale_by_another(session: Session) -> None:
    world = helpers.world(session)
    other_org = helpers.world(session, name="Unrelated Ltd")
    first, second = service.DashboardCache(), service.DashboardCache()
    seen = _on(session, second, world.id)
    unrelated = _on(session, second, other_org.id)
    assert _on(session, second, world.id) is seen  # the cache answers while nothing changed
    assert "Atlas" in _names(seen)

    # instance one renames a team (through its own cache's view of the data)
    _on(session, first, world.id)
    atlas = world.teams["Atlas"]
    atlas.name = "Atlas Renamed"
    session.add(atlas)
    session.commit()
    after_rename = _on(session, second, world.id)
    assert "Atlas Renamed" in _names(after_rename)
    assert "Atlas" not in _names(after_rename)
    # another organisation's entry is still good
    assert _on(session, second, other_org.id) is unrelated

    # a team moved to another unit, and a unit renamed
    beacon = world.teams["Beacon"]
    south = session.exec(
        select(BusinessUnit).where(
            BusinessUnit.organisation_id == world.id, BusinessUnit.name == "South"
        )
    ).one()
    beacon.business_unit_id = south.id
    session.add(beacon)
    session.commit()
    assert _names(_on(session, second, world.id))["Beacon"] == "South"
    south.name = "Southern Region"
    session.add(south)
    session.commit()
    assert _names(_on(session, second, world.id))["Beacon"] == "Southern Region"

    # a bulk update (no objects loaded) reaches it too
    cached = _on(session, second, world.id)
    comet = world.teams["Comet"].id
    session.exec(update(Team).where(col(Team.id) == comet).values(name="Comet Two"))
    session.commit()
    assert "Comet" in _names(cached)
    assert "Comet Two" in _names(_on(session, second, world.id))
