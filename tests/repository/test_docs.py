"""docs/repository-check.md lists the signals exactly as questionnaires/repository.yaml has them."""

from __future__ import annotations

import os

from app.config import ROOT_DIR
from app.rubric.repository_signals import signals_markdown
from tests.repository import common

DOC = ROOT_DIR / "docs" / "repository-check.md"
START, END = "<!-- signals:start -->\n", "<!-- signals:end -->\n"


def test_the_signals_table_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    signal_catalog, _ = common.signals()
    expected = f"{head}{START}{signals_markdown(signal_catalog, common.catalog())}{END}{tail}"
    if os.environ.get("PROCESSLENS_UPDATE_GOLDEN") == "1":
        DOC.write_text(expected, encoding="utf-8")
    assert text == expected or os.environ.get("PROCESSLENS_UPDATE_GOLDEN") == "1", (
        "docs/repository-check.md is out of date: run with PROCESSLENS_UPDATE_GOLDEN=1"
    )
