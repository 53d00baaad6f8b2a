"""Stored rubric versions: every file served is kept by content hash, and a round is scored
against the exact versions it started with, even after the files on disk have changed."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.config import QUESTIONNAIRES_DIR, Settings
from app.models import Organisation, RubricFileVersion
from app.rubric.loader import Catalog, load_catalog, load_catalog_from_texts

_CACHE_SIZE = 16
_cache: OrderedDict[frozenset[tuple[str, str]], Catalog] = OrderedDict()
_cache_lock = threading.Lock()


class RubricVersionMissingError(LookupError):
    """A round refers to a rubric version the database does not hold."""


def register_catalog(*, session: Session, catalog: Catalog) -> dict[str, str]:
    """Store every file of `catalog` not stored yet; returns file name -> content hash."""
    hashes = dict(catalog.versions)
    known = set(
        session.exec(
            select(RubricFileVersion.content_hash).where(
                col(RubricFileVersion.content_hash).in_(list(hashes.values()))
            )
        )
    )
    for name, digest in sorted(hashes.items()):
        if digest in known:
            continue
        instrument = catalog.instrument_for_file(name)
        kind = "instrument" if instrument is not None else _kind_of(catalog, name)
        session.add(
            RubricFileVersion(
                kind=kind, file_name=name, content_hash=digest, content=catalog.texts[name]
            )
        )
        known.add(digest)
    session.flush()
    _remember(hashes, catalog)
    return hashes


def _kind_of(catalog: Catalog, name: str) -> str:
    for kind, text in (("bibliography", "bibliography"), ("practices", "practices")):
        if f"kind: {text}" in catalog.texts[name]:
            return kind
    return "process_models"


def catalog_for(*, session: Session, versions: Mapping[str, str]) -> Catalog:
    """The catalog made of exactly these stored file versions (cached: versions never change)."""
    key = frozenset(versions.items())
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached
    rows = session.exec(
        select(RubricFileVersion).where(
            col(RubricFileVersion.content_hash).in_(list(versions.values()))
        )
    ).all()
    by_hash = {row.content_hash: row.content for row in rows}
    missing = [name for name, digest in versions.items() if digest not in by_hash]
    if missing:
        raise RubricVersionMissingError(
            f"the stored rubric lacks {', '.join(sorted(missing))} in the version this round used"
        )
    catalog = load_catalog_from_texts({name: by_hash[digest] for name, digest in versions.items()})
    _remember(dict(versions), catalog)
    return catalog


def _remember(versions: Mapping[str, str], catalog: Catalog) -> None:
    with _cache_lock:
        _cache[frozenset(versions.items())] = catalog
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)


def load_configured_catalog(settings: Settings) -> Catalog:
    """The newest rubric: the built-in questionnaires plus any configured custom folders.
    Raises RubricError (every problem as file:line) so the app refuses to start on a bad file."""
    return load_catalog([QUESTIONNAIRES_DIR, *settings.questionnaire_dirs])


def register_at_startup(sessions: Callable[[], Session], catalog: Catalog) -> None:
    """Store the served versions once; several workers starting together may race to insert
    the same hash, and the loser simply finds it stored."""
    with sessions() as session:
        try:
            register_catalog(session=session, catalog=catalog)
            session.commit()
        except IntegrityError:
            session.rollback()


def current_catalog(request: Request) -> Catalog:
    """Dependency: the newest rubric, loaded when the app started."""
    catalog: Catalog = request.app.state.catalog
    return catalog


CatalogDep = Annotated[Catalog, Depends(current_catalog)]


class UnknownInstrumentError(LookupError):
    """An instrument id that is not a custom instrument of the loaded rubric."""


def round_instruments(catalog: Catalog, organisation: Organisation) -> list[str]:
    """The instruments a new round of this organisation includes: every built-in one, then
    the custom ones it enabled that the server still provides."""
    built_in = [i for i in catalog.instruments if i not in catalog.custom_instruments]
    enabled = [i for i in organisation.custom_instruments if i in catalog.custom_instruments]
    return built_in + enabled


def set_custom_instrument(
    *, catalog: Catalog, organisation: Organisation, instrument_id: str, enabled: bool
) -> list[str]:
    """Enable or disable a custom instrument for an organisation's future rounds."""
    if instrument_id not in catalog.custom_instruments:
        available = ", ".join(sorted(catalog.custom_instruments)) or "none configured"
        raise UnknownInstrumentError(
            f"{instrument_id!r} is not a custom instrument (available: {available})"
        )
    current = [i for i in organisation.custom_instruments if i != instrument_id]
    # a new list, never an in-place edit: SQLAlchemy does not see in-place JSON changes
    organisation.custom_instruments = [*current, instrument_id] if enabled else current
    return organisation.custom_instruments
