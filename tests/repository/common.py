"""What the repository-check tests share: the built-in rubric, its signals and an answers file."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from app.config import QUESTIONNAIRES_DIR, ROOT_DIR
from app.rubric import loader, repository_signals
from app.rubric.answers_file import assess_file, read_answers_file
from app.rubric.assessment import Assessment

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
ANSWERS = ROOT_DIR / "examples" / "full-assessment.yaml"


@cache
def catalog() -> loader.Catalog:
    return loader.load_catalog(QUESTIONNAIRES_DIR)


@cache
def signals() -> tuple[repository_signals.SignalCatalog, str]:
    return repository_signals.load_signal_catalog(QUESTIONNAIRES_DIR, catalog())


@cache
def assessment() -> Assessment:
    return assess_file(catalog(), read_answers_file(ANSWERS, catalog()))
