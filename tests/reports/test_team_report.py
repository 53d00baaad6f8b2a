"""The team report: the CLI writes a PDF with the content, fonts, tags and metadata expected."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lxml.html
import pikepdf
import pytest
from typer.testing import CliRunner

from app.cli import app as cli_app
from app.reports import context, pdf, render
from app.reports.branding import Branding, default_branding
from app.reports.cli import team_report_from_file
from app.rubric.answers import Answer
from app.rubric.answers_file import AnswersFile, assess_file, parse_answers_data
from app.rubric.loader import Catalog
from app.rubric.output import to_data

from .conftest import EXAMPLE

runner = CliRunner()


def _text(pdf_path: Path) -> str:
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf_path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Mapping[str, Any]:
    """The example rendered once through the CLI: the PDF, its text and the HTML page."""
    folder = tmp_path_factory.mktemp("report")
    output, page = folder / "report.pdf", folder / "report.html"
    result = runner.invoke(
        cli_app, ["report", str(EXAMPLE), "-o", str(output), "--html", str(page)]
    )
    assert result.exit_code == 0, result.output
    return {"pdf": output, "text": _text(output), "html": page.read_text(encoding="utf-8")}


@pytest.fixture(scope="module")
def data(catalog: Catalog, example: AnswersFile) -> dict[str, Any]:
    return to_data(catalog, assess_file(catalog, example))


def test_pdf_names_the_model_every_score_and_every_now_upgrade(
    rendered: Mapping[str, Any], data: dict[str, Any]
) -> None:
    text = rendered["text"]
    top = next(m for m in data["process_models"] if m["id"] == data["recommendation"]["top"])
    assert top["name"] in text
    for dimension in data["dimensions"].values():
        if dimension["score"] is not None:
            assert f"{dimension['score']:.1f}" in text, dimension["title"]
    assert data["roadmap"]["now"]
    for practice in data["roadmap"]["now"]:
        assert practice["title"] in text


def _pages(pdf_path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf_path)], check=True, capture_output=True, text=True)
    return int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))  # type: ignore[union-attr]


def test_the_default_report_is_concise_without_the_answers_appendix(
    rendered: Mapping[str, Any],
) -> None:
    """A typical full team survey (the example: 6 respondents, every instrument, commentary
    and notes) gives a report of 10 to 14 pages, not the 37 of the full one."""
    assert 10 <= _pages(rendered["pdf"]) <= 14
    text = rendered["text"]
    assert "Answers per question" not in text
    assert "Answers (count)".upper() not in text
    assert "include all answers" in text  # the contents page says how to get the rest
    assert "include all answers" in rendered["html"]
    assert 'id="answers"' not in rendered["html"]


@pytest.mark.slow
def test_the_full_option_adds_every_answer(tmp_path: Path, rendered: Mapping[str, Any]) -> None:
    """`processlens report --full`: Appendix A with every question's answer counts, and the
    full "why this score" tables; the concise report's appendices follow it as B to D."""
    output = tmp_path / "full.pdf"
    result = runner.invoke(cli_app, ["report", str(EXAMPLE), "--full", "-o", str(output)])
    assert result.exit_code == 0, result.output
    text = _text(output)
    for heading in (
        "Appendix A · Answers per question",
        "Appendix B · Notes and evidence from respondents",
        "Appendix C · Method and formulas",
        "Appendix D · Rubric version and sources",
    ):
        assert heading in text
    assert _pages(output) > _pages(rendered["pdf"]) + 10


def _page_texts(pdf_path: Path) -> list[str]:
    text = subprocess.run(
        ["pdftotext", str(pdf_path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return [re.sub(r"\s+", " ", page) for page in text.split("\f")]


@pytest.mark.parametrize("full", [False, True], ids=["concise", "full"])
def test_the_executive_summary_keeps_to_one_page(
    tmp_path: Path, rendered: Mapping[str, Any], full: bool
) -> None:
    """The summary, "start now" and its footnote included, is one page; the practice profile
    starts the next (the full report's summary once ran onto a second page)."""
    output = rendered["pdf"]
    if full:
        output = tmp_path / "full.pdf"
        done = runner.invoke(cli_app, ["report", str(EXAMPLE), "--full", "-o", str(output)])
        assert done.exit_code == 0, done.output
    pages = _page_texts(output)
    summary = next(i for i, text in enumerate(pages) if "RECOMMENDED PROCESS MODEL" in text)
    assert "Start now: the top three upgrades" in pages[summary]
    assert "marked as backed by evidence" in pages[summary]
    assert "Practice profile" in pages[summary + 1][:200]


def test_the_cli_help_names_the_full_option() -> None:
    result = runner.invoke(cli_app, ["report", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--full" in result.output
    assert "including all answers" in result.output


def test_pdf_has_the_sections_and_the_running_page_numbers(rendered: Mapping[str, Any]) -> None:
    text = rendered["text"]
    for heading in (
        "Executive summary",
        "Consultant’s commentary",
        "How to read this report",
        "Practice profile",
        "Recommended process",
        "What would change this recommendation",
        "Roadmap of practice upgrades",
        "Where roles see things differently",
        "Debt register",
        "Appendix A · Notes and evidence from respondents",
        "Appendix B · Method and formulas",
        "Appendix C · Rubric version and sources",
    ):
        assert heading in text
    pages = len(pikepdf.open(rendered["pdf"]).pages)
    assert f"Page 2 of {pages}" in text
    assert "The team asked for this assessment after two difficult model releases." in text


def test_only_shareable_notes_are_shown(
    rendered: Mapping[str, Any], example: AnswersFile, catalog: Catalog
) -> None:
    shared = {a.note for r in example.respondents for a in r.answers.values() if a.note_shareable}
    assert shared
    for note in shared:
        assert note in rendered["text"]
    answers = {
        "collaboration.coaching": Answer("coaching_on_request", note="PRIVATE words"),
        "collaboration.rewrite": Answer("paired", note="Shared words", note_shareable=True),
    }
    notes = context.shareable_notes(catalog, [answers])
    assert [(n.question_id, n.text) for n in notes] == [("collaboration.rewrite", "Shared words")]
    stored = [{q: a.to_data() for q, a in answers.items()}]
    assert context.shareable_notes(catalog, context.shared_answers(stored)) == notes


def test_the_notes_appendix_follows_the_rubrics_order(
    rendered: Mapping[str, Any], example: AnswersFile, catalog: Catalog
) -> None:
    """One block per question, in the rubric's order (not sorted by the question's text)."""
    notes = context.shareable_notes(catalog, [r.answers for r in example.respondents])
    in_rubric_order = list(dict.fromkeys(note.question for note in notes))
    assert in_rubric_order != sorted(in_rubric_order)  # the example tells the two apart
    section = lxml.html.document_fromstring(rendered["html"]).xpath("//section[@id='notes']")[0]
    shown = [p.text_content() for p in section.xpath(".//p[@class='note-question']")]
    assert shown == in_rubric_order


def test_only_shareable_evidence_links_are_in_the_notes_appendix(
    example: AnswersFile, catalog: Catalog
) -> None:
    """The appendix lists the evidence links whose authors ticked "may be shown" (the tick
    covers note and link), under their question, as links; never a private one."""
    shared = "https://git.example.org/fraud/pipeline/-/blob/main/checks/transformations.py"
    private = "https://wiki.example.org/private/retro-notes"
    first, second, *others = example.respondents
    added = (
        (
            "handoff.same_transformations",
            Answer("shared_code_checked", evidence=shared, note_shareable=True),
        ),
        ("handoff.lineage", Answer("manual_records", evidence=private)),
    )
    answers = dataclasses.replace(
        example,
        respondents=(
            *(
                dataclasses.replace(respondent, answers={**respondent.answers, qid: answer})
                for respondent, (qid, answer) in zip((first, second), added, strict=True)
            ),
            *others,
        ),
    )
    report = team_report_from_file(answers, catalog, default_branding())
    page = render.team_html(report)
    stored = [{q: a.to_data() for q, a in r.answers.items()} for r in answers.respondents]
    assert [link.url for link in report.links] == [shared]
    assert report.links == context.shareable_links(catalog, context.shared_answers(stored))
    appendix = lxml.html.fragment_fromstring(page, create_parent=True).xpath(
        "//section[@id='notes']"
    )[0]
    assert appendix.xpath(f"//a[@href='{shared}']/text()") == [shared]
    question = catalog.questions["handoff.same_transformations"].question.text
    assert question in appendix.text_content()
    assert private not in page


def test_fonts_are_embedded_and_the_pdf_is_tagged(rendered: Mapping[str, Any]) -> None:
    fonts = subprocess.run(
        ["pdffonts", str(rendered["pdf"])], check=True, capture_output=True, text=True
    ).stdout.splitlines()[2:]
    assert fonts
    assert all(line.split()[-5] == "yes" for line in fonts), fonts  # the "emb" column
    assert any("IBM-Plex-Sans" in line for line in fonts)
    with pikepdf.open(rendered["pdf"]) as document:
        root = document.Root
        assert str(root.Lang) == "en"
        assert "/StructTreeRoot" in root
        assert str(document.docinfo.Title) == "Fraud detection — ProcessLens team report"
        assert "/EmbeddedFiles" not in root.get("/Names", {})
        assert not document.attachments


def test_html_page_carries_the_figures_for_charts_js(rendered: Mapping[str, Any]) -> None:
    page = rendered["html"]
    assert '<script src="/static/js/charts.js" defer></script>' in page
    assert 'type="application/json" id="chart-radar-figure"' in page
    # no inline script: every <script> either has a src or is a JSON data block
    for tag in re.findall(r"<script[^>]*>", page):
        assert "src=" in tag or 'type="application/json"' in tag


def test_results_that_are_not_visible_give_no_report(
    catalog: Catalog, data: dict[str, Any]
) -> None:
    hidden = {**data, "round": {**data["round"], "results_visible": False, "responses_needed": 3}}
    with pytest.raises(context.ResultsNotVisibleError, match="3 submitted responses"):
        context.team_report(data=hidden, catalog=catalog, team="T", branding=default_branding())


def test_cache_key_changes_with_anything_that_changes_the_pdf(
    catalog: Catalog, data: dict[str, Any]
) -> None:
    def key(**changes: Any) -> str:
        values: dict[str, Any] = {"team": "T", "branding": default_branding()} | changes
        report = context.team_report(data=data, catalog=catalog, **values)
        return render.report_key(report)

    base = key()
    assert key() == base
    assert key(team="U") != base
    assert key(branding=Branding(name="Other", colour="#000000")) != base
    assert key(branding=Branding(name="ProcessLens", colour="#1f5f5b", logo=b"x")) != base
    assert key(commentary="New words") != base
    assert key(full=True) != base


class CountingPool:
    """Stands in for the render pool: counts renders, returns a fixed PDF."""

    def __init__(self) -> None:
        self.renders = 0

    def render(self, html: str) -> bytes:
        self.renders += 1
        return b"%PDF-1.7 " + str(len(html)).encode()


def test_pdfs_come_from_the_cache_until_something_changes(
    catalog: Catalog, data: dict[str, Any], tmp_path: Path
) -> None:
    cache = pdf.PdfCache(tmp_path / "cache", max_files=2)
    pool: Any = CountingPool()

    def make(**changes: Any) -> bytes:
        values: dict[str, Any] = {"team": "T", "branding": default_branding()} | changes
        report = context.team_report(data=data, catalog=catalog, **values)
        return render.team_pdf(report, pool=pool, cache=cache)

    first = make()
    assert make() == first
    assert pool.renders == 1
    make(commentary="Changed")
    assert pool.renders == 2
    make(team="U")
    assert pool.renders == 3
    assert len(list((tmp_path / "cache").glob("*.pdf"))) == 2  # the oldest was removed


def test_no_recommendation_without_trajectory_answers(catalog: Catalog) -> None:
    answers = parse_answers_data(
        {
            "round": {"stage": "prototype", "instruments": ["handoff"], "mode": "solo"},
            "respondents": [{"role": "team_lead", "answers": {"handoff.environment": "pinned"}}],
        },
        catalog,
    )
    report = team_report_from_file(answers, catalog, default_branding())
    assert report.no_recommendation is not None
    assert "trajectory questions" in report.no_recommendation
    html = render.team_html(report, medium="pdf")
    assert "No recommendation yet" in html


def test_the_offline_report_states_the_role_group_minimum_of_three(
    rendered: Mapping[str, Any],
) -> None:
    """`processlens report FILE` compares role groups of at least 3, as the anonymity rule
    does everywhere, and says so."""
    text = re.sub(r"\s+", " ", rendered["html"])
    assert "Only groups with at least 3 respondents are compared" in text
    assert "at least 2 respondents" not in text
    assert "at least 2 respondents" not in rendered["text"]
