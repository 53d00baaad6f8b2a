"""The PDF renderer fetches nothing, embeds nothing, and survives pathological documents."""

from __future__ import annotations

import io
import re
import subprocess
from typing import Any

import pikepdf
import pytest
import yaml
from PIL import Image

from app.reports import branding, pdf, render
from app.reports.cli import team_report_from_file
from app.rubric.answers_file import parse_answers_data
from app.rubric.loader import Catalog

from .conftest import EXAMPLE, Canary


def _payloads(canary: Canary) -> list[str]:
    return [
        f'<img src="{canary.url("img")}">',
        '<link rel=attachment href="file:///etc/hostname">',
        f"<style>@import url({canary.url('import')});</style>",
        f'<svg xmlns="http://www.w3.org/2000/svg"><image href="{canary.url("svg")}"/></svg>',
        '<img src="file:///etc/hostname">',
        f'<link rel="stylesheet" href="{canary.url("css")}">',
        f'<div style="background: url({canary.url("bg")})">x</div>',
    ]


def _assert_inert(document: bytes, canary: Canary) -> None:
    assert document.startswith(b"%PDF")
    assert canary.requests == []
    with pikepdf.open(io.BytesIO(document)) as parsed:
        assert not parsed.attachments
        assert "/EmbeddedFiles" not in parsed.Root.get("/Names", {})
    assert b"/EmbeddedFile" not in document


def test_user_text_in_a_report_makes_no_request_and_embeds_nothing(
    catalog: Catalog, canary: Canary, render_pool: pdf.RenderPool, tmp_path: Any
) -> None:
    hostile = " ".join(_payloads(canary)) + " file:///etc/hostname"
    raw = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    raw["round"]["team"] = hostile
    raw["round"]["organisation"] = hostile
    raw["commentary"] = hostile + "\n\n" + hostile
    first = raw["respondents"][0]["answers"]
    first["collaboration.coaching"] = {
        "value": first["collaboration.coaching"],
        "note": hostile[:1900],
        "note_shareable": True,
    }
    answers = parse_answers_data(raw, catalog)
    report = team_report_from_file(answers, catalog, branding.default_branding())
    html = render.team_html(report, medium="pdf")
    assert "<img src=" not in html  # escaped by Jinja: the payloads are text
    assert "&lt;img src=" in html
    document = render.team_pdf(report, pool=render_pool)
    _assert_inert(document, canary)
    path = tmp_path / "hostile.pdf"
    path.write_bytes(document)
    text = subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "<link rel=attachment" in re.sub(r"\s+", " ", text)  # shown as written


@pytest.mark.parametrize("index", range(7))
def test_the_fetcher_refuses_everything_but_data_and_static_files(
    canary: Canary, index: int
) -> None:
    """Even markup that escaped the template (a bug) can fetch nothing."""
    payload = _payloads(canary)[index]
    html = (
        '<!doctype html><html lang="en"><head><title>t</title></head><body>'
        f"{payload}<p>text</p></body></html>"
    )
    fetcher = pdf.SafeURLFetcher()
    _assert_inert(pdf.html_to_pdf(html, fetcher=fetcher), canary)
    assert fetcher.blocked, payload


def test_static_files_and_data_urls_still_load() -> None:
    fetcher = pdf.SafeURLFetcher()
    font = (pdf.BASE_DIR.parent / "fonts" / "IBMPlexSans-Regular.ttf").as_uri()
    assert fetcher.fetch(font).read()[:4] == b"\x00\x01\x00\x00"
    assert fetcher.fetch("data:text/plain,hello").read() == b"hello"
    for refused in (
        "file:///etc/hostname",
        (pdf.BASE_DIR / ".." / ".." / "config.py").as_uri(),  # outside static, via ..
        "http://127.0.0.1:9/x",
        "ftp://127.0.0.1/x",
        "file://remote-host/etc/hostname",
    ):
        with pytest.raises(ValueError, match="refused"):
            fetcher.fetch(refused)


def _image(kind: str, size: tuple[int, int] = (40, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "#336699").save(out, format=kind)
    return out.getvalue()


def test_logos_are_png_or_jpeg_re_encoded() -> None:
    for kind in ("PNG", "JPEG"):
        logo = branding.prepare_logo(_image(kind))
        with Image.open(io.BytesIO(logo)) as image:
            assert image.format == "PNG"
            assert image.size == (40, 20)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><image href="file:///etc/hostname"/></svg>',
            "SVG",
        ),
        (b'<?xml version="1.0"?><svg/>', "SVG"),
        (b"GIF89a" + b"\0" * 20, "not a readable"),
        (b"", "empty"),
        (b"\x89PNG" + b"\0" * (branding.MAX_LOGO_BYTES + 1), "limit is 512 KB"),
    ],
)
def test_other_logos_are_refused_with_a_clear_message(data: bytes, message: str) -> None:
    with pytest.raises(branding.LogoError, match=message):
        branding.prepare_logo(data)


def test_huge_logo_dimensions_are_refused() -> None:
    out = io.BytesIO()
    Image.new("1", (5000, 5000)).save(out, format="PNG")  # small file, many pixels
    with pytest.raises(branding.LogoError, match="2000 x 2000"):
        branding.prepare_logo(out.getvalue())


def test_gif_is_refused_by_content() -> None:
    with pytest.raises(branding.LogoError, match="GIF images are not accepted"):
        branding.prepare_logo(_image("GIF"))


def _doc(body: str) -> str:
    return f'<!doctype html><html lang="en"><head><title>t</title></head><body>{body}</body></html>'


PATHOLOGICAL = {
    "huge table": "<table>"
    + "".join(f"<tr><td>{i}</td><td>cell {i} " + "word " * 30 + "</td></tr>" for i in range(20000))
    + "</table>",
    "giant font": '<p style="font-size: 2000px">' + "W " * 5000 + "</p>",
}


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological_documents_are_stopped_and_the_pool_keeps_serving(name: str) -> None:
    pool = pdf.RenderPool(pdf.RenderLimits(workers=1, seconds=3, grace_seconds=5))
    try:
        html = (
            '<!doctype html><html lang="en"><head><title>t</title></head><body>'
            f"{PATHOLOGICAL[name]}</body></html>"
        )
        with pytest.raises(pdf.RenderLimitError, match="stopped because it needed more than"):
            pool.render(html)
        ok = pool.render(_doc("<p>fine</p>"))
        assert ok.startswith(b"%PDF")
    finally:
        pool.close()


def test_memory_limit_stops_a_render() -> None:
    pool = pdf.RenderPool(pdf.RenderLimits(workers=1, seconds=30, memory_mb=450))
    try:
        big = "<p>" + "lorem ipsum " * 1_500_000 + "</p>"
        with pytest.raises(pdf.RenderLimitError, match="450 MB of memory"):
            pool.render(_doc(big))
        assert pool.render(_doc("ok")).startswith(b"%PDF")
    finally:
        pool.close()
