"""The rubric is written in our own words: no run of 12+ words is copied from a source document.

Section headings and the bibliography's citations are quoted on purpose and are not checked
(see `tests/rubric/originality.py`). Skipped when the documents in `../shared/seeds/` are absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import originality
from .originality import RUN_LENGTH, copied_runs, shingles, words

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"


def test_shingles_are_runs_of_twelve_words() -> None:
    text = "One two three four five six seven eight nine ten eleven twelve thirteen."
    runs = shingles(words(text))
    assert RUN_LENGTH == 12
    assert len(runs) == 2
    assert ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
            "eleven", "twelve") in runs  # fmt: skip
    assert shingles(words("Only eleven words are in this short sentence right here now.")) == set()


def test_words_ignore_case_punctuation_and_curly_apostrophes() -> None:
    assert words("Let\u2019s TALK, about: process!") == ["let's", "talk", "about", "process"]


def test_a_copied_run_is_found_and_headings_and_citations_are_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    passage = "the quick brown fox jumps over the lazy dog while the farmer sleeps in the barn"
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "000_seed.txt").write_text(f"# A Heading\n\nIt is said that {passage}.\n")
    rubric = tmp_path / "questionnaires"
    rubric.mkdir()
    (rubric / "sources.yaml").write_text(f"kind: bibliography\ncitation: {passage}\n")
    (rubric / "quiz.yaml").write_text(
        "kind: instrument\n"
        f"help: As the source says, {passage.upper()}!\n"
        f"sources: [{{doc: d, section: {passage}, note: In our own words.}}]\n"
    )
    monkeypatch.setattr(originality, "QUESTIONNAIRES", rubric)
    ((where, run),) = copied_runs(seeds)  # one line per copying text
    assert where == "quiz.yaml:help"
    assert len(run.split()) == RUN_LENGTH
    assert run in passage


@pytest.mark.skipif(
    not any(SEEDS.glob("0*.txt")),
    reason=f"the source documents are not present ({SEEDS} is missing or empty)",
)
def test_no_rubric_text_copies_a_run_of_twelve_words_from_a_source() -> None:
    found = copied_runs(SEEDS)
    listing = "\n".join(f"  {where}: copies '{run}'" for where, run in found)
    assert not found, (
        f"{len(found)} rubric text(s) copy {RUN_LENGTH}+ words from a source document; "
        f"say it in our own words:\n{listing}"
    )
