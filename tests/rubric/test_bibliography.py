"""The bibliography (`questionnaires/sources.yaml`) against the source documents themselves.

The documents live outside the repository, in `../shared/seeds/`; without them these tests are
skipped (the loader still checks every citation against the headings listed here).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from app.rubric.schema import Bibliography, SourceDocument

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO.parent / "shared" / "seeds"
BIBLIOGRAPHY = Bibliography.model_validate(
    yaml.safe_load((REPO / "questionnaires" / "sources.yaml").read_text(encoding="utf-8"))
)

pytestmark = pytest.mark.skipif(
    not SEEDS.is_dir(), reason=f"the source documents are not present ({SEEDS} is missing)"
)

# Markdown decoration around a heading line: list bullets, '#' marks, emphasis, quote marks.
_DECORATION = re.compile(r"^(?:[-*>]\s+)*#*\s*[*_]*|[*_]*\s*$")


def heading_text(line: str) -> str:
    return " ".join(_DECORATION.sub("", line.strip()).split())


def headings(document: str) -> set[str]:
    """Every line of the document as a heading would read: '## Maturity levels', '- ## X' and
    '**X**' all give their bare text."""
    return {heading_text(line) for line in document.splitlines() if line.strip()}


def test_heading_text_strips_markdown() -> None:
    assert heading_text("## Data-Science Process") == "Data-Science Process"
    assert heading_text("- ## Challenge: Different needs") == "Challenge: Different needs"
    assert heading_text("### Handoff, 1): Productionizing models  ") == (
        "Handoff, 1): Productionizing models"
    )
    assert heading_text("**Must-haves**") == "Must-haves"


def test_ids_and_files_are_unique() -> None:
    ids = [doc.id for doc in BIBLIOGRAPHY.sources]
    files = [doc.file for doc in BIBLIOGRAPHY.sources]
    assert len(set(ids)) == len(ids)
    assert len(set(files)) == len(files)


def test_every_source_document_is_in_the_bibliography() -> None:
    listed = {doc.file for doc in BIBLIOGRAPHY.sources}
    present = {path.name for path in SEEDS.glob("0*.txt")}
    assert present <= listed, f"documents without a bibliography entry: {sorted(present - listed)}"


@pytest.mark.parametrize("doc", BIBLIOGRAPHY.sources, ids=lambda doc: doc.id)
def test_every_listed_section_heading_occurs_in_its_document(doc: SourceDocument) -> None:
    path = SEEDS / doc.file
    assert path.is_file(), f"{doc.file} is listed in sources.yaml but not in {SEEDS}"
    text = path.read_text(encoding="utf-8")
    found = headings(text)
    missing = [section for section in doc.sections if section not in found]
    in_text_only = [section for section in missing if section in text]
    hint = f" (these occur, but inside other text: {in_text_only})" if in_text_only else ""
    assert not missing, f"{doc.file}: headings not found as a line of the document: {missing}{hint}"


def _readme_citations() -> dict[str, str]:
    """The 'Bibliography' table of the seeds README: file name -> citation, Markdown removed."""
    readme = (SEEDS / "README.md").read_text(encoding="utf-8")
    _, _, table = readme.partition("## Bibliography")
    rows = re.findall(r"^\| `([^`]+)` \| (.+) \|\s*$", table, flags=re.MULTILINE)
    return {file: " ".join(citation.replace("*", "").split()) for file, citation in rows}


@pytest.mark.skipif(
    not (SEEDS / "README.md").is_file(), reason="the seeds README with the citations is missing"
)
@pytest.mark.parametrize("doc", BIBLIOGRAPHY.sources, ids=lambda doc: doc.id)
def test_citations_are_the_ones_in_the_seeds_readme(doc: SourceDocument) -> None:
    readme = _readme_citations()
    assert doc.file in readme, f"{doc.file} has no row in the README's bibliography"
    citation = " ".join(doc.citation.split())
    # the README adds the licence after the citation; sources.yaml keeps it in `licence`
    assert readme[doc.file].startswith(citation), f"{readme[doc.file]!r} != {citation!r}"
