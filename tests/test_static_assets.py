"""Static files: pages link them by content-hashed names that browsers keep for a year; they are
sent compressed (brotli, else gzip) while HTML pages never are (BREACH); the Plotly bundle's
pre-compressed copies hold exactly the bundle, which needs no eval."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import brotli
import pytest
from fastapi.testclient import TestClient

from app import static_assets, templating
from app.config import STATIC_DIR

HASHED_STYLESHEET = re.compile(
    r'(?<=<link rel="stylesheet" href=")/static/css/app\.[0-9a-f]{12}\.css(?=")'
)
BUNDLE = STATIC_DIR / "vendor" / "plotly" / "plotly-processlens.min.js"
APP_CSS = (STATIC_DIR / "css" / "app.css").read_bytes()


def _stylesheet_link(client: TestClient) -> str:
    page = client.get("/sign-in", headers={"accept-encoding": "br, gzip"})
    assert page.status_code == 200
    # a page carries a CSRF token: never compressed, never stored
    assert "content-encoding" not in page.headers
    assert page.headers["cache-control"] == "no-store"
    found = HASHED_STYLESHEET.search(page.text)
    assert found is not None, "the page links its stylesheet by a hashed name"
    return found.group(0)


def test_pages_link_hashed_static_files_kept_for_a_year_and_sent_with_brotli(
    client: TestClient,
) -> None:
    href = _stylesheet_link(client)
    response = client.get(href, headers={"accept-encoding": "gzip, deflate, br"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "br"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["content-type"].startswith("text/css")
    # the client decoded it: the stylesheet itself, smaller on the wire
    assert response.content == APP_CSS
    assert int(response.headers["content-length"]) < len(APP_CSS) / 3
    # the security headers still apply to static files
    assert "script-src 'self'" in response.headers["content-security-policy"]


def test_gzip_for_clients_without_brotli_and_plain_bytes_for_those_without_either(
    client: TestClient,
) -> None:
    href = _stylesheet_link(client)
    gzipped = client.get(href, headers={"accept-encoding": "br;q=0, gzip"})
    assert gzipped.headers["content-encoding"] == "gzip"
    assert gzipped.content == APP_CSS
    plain = client.get(href, headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == APP_CSS
    assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_a_conditional_request_is_answered_not_modified(client: TestClient) -> None:
    href = _stylesheet_link(client)
    first = client.get(href, headers={"accept-encoding": "br"})
    again = client.get(
        href, headers={"accept-encoding": "br", "if-none-match": first.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""
    plain = client.get("/static/css/app.css", headers={"accept-encoding": "identity"})
    plain_again = client.get(
        "/static/css/app.css",
        headers={"accept-encoding": "identity", "if-none-match": plain.headers["etag"]},
    )
    assert plain_again.status_code == 304


def test_unhashed_and_outdated_names_are_served_but_revalidated(client: TestClient) -> None:
    # an old page (before a deploy) may still name the previous version: it gets the current
    # file, which the browser must not keep under that name
    for path in ("/static/css/app.css", "/static/css/app.0123456789ab.css"):
        response = client.get(path, headers={"accept-encoding": "br"})
        assert response.status_code == 200, path
        assert response.content == APP_CSS, path
        assert response.headers["cache-control"] == "no-cache", path


def test_head_gives_the_compressed_length_without_a_body(client: TestClient) -> None:
    href = _stylesheet_link(client)
    got = client.get(href, headers={"accept-encoding": "br"})
    head = client.head(href, headers={"accept-encoding": "br"})
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == got.headers["content-length"]


def test_fonts_and_missing_files_are_not_compressed_or_invented(client: TestClient) -> None:
    font = client.get("/static/fonts/IBMPlexSans-Regular.ttf", headers={"accept-encoding": "br"})
    assert font.status_code == 200
    assert "content-encoding" not in font.headers
    for path in (
        "/static/css/nothing.css",
        "/static/css/nothing.0123456789ab.css",
        "/static/css",
        # the Plotly bundle's build inputs are not served
        "/static/src/package.json",
        "/static/src",
    ):
        assert client.get(path).status_code == 404, path
    assert client.post("/static/css/app.css").status_code in (403, 405)


def test_the_plotly_bundle_is_served_from_its_precompressed_copy(client: TestClient) -> None:
    assets = static_assets.static_assets()
    path = assets.url_path("vendor/plotly/plotly-processlens.min.js")
    response = client.get("/static/" + path, headers={"accept-encoding": "br"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["content-length"] == str(BUNDLE.with_suffix(".js.br").stat().st_size)


def test_the_bundles_compressed_copies_hold_exactly_the_bundle_and_it_needs_no_eval() -> None:
    bundle = BUNDLE.read_bytes()
    assert brotli.decompress(BUNDLE.with_suffix(".js.br").read_bytes()) == bundle
    assert gzip.decompress(BUNDLE.with_suffix(".js.gz").read_bytes()) == bundle
    text = bundle.decode()
    # the pages' CSP has no 'unsafe-eval' (tests/browser/test_static_weight.py draws with it)
    assert not re.search(r"new Function\s*\(|\beval\s*\(", text)
    assert len(bundle) < 1_500_000  # the full strict bundle was 5.16 MB


def test_a_stale_precompressed_copy_is_never_sent(tmp_path: Path) -> None:
    (tmp_path / "app.js").write_text("console.log('new');\n")
    (tmp_path / "app.js.br").write_bytes(brotli.compress(b"console.log('old');\n"))
    assets = static_assets.StaticAssets(tmp_path)
    asset = assets.asset("app.js")
    assert asset is not None
    assert brotli.decompress(assets.compressed(asset, "br")) == b"console.log('new');\n"


def test_an_edited_file_gets_a_new_name(tmp_path: Path) -> None:
    file = tmp_path / "site.css"
    file.write_text("a { color: red }\n")
    assets = static_assets.StaticAssets(tmp_path)
    before = assets.url_path("site.css")
    file.write_text("a { color: blue; }\n")
    after = assets.url_path("site.css")
    assert before != after
    assert re.fullmatch(r"site\.[0-9a-f]{12}\.css", after)
    assert assets.lookup(after) == (assets.asset("site.css"), True)
    assert assets.lookup(before) == (assets.asset("site.css"), False)


@pytest.mark.parametrize("path", ["../config.py", "css/../../config.py", "/etc/passwd", "css"])
def test_nothing_outside_the_static_folder_is_an_asset(path: str) -> None:
    assert static_assets.static_assets().asset(path) is None
    with pytest.raises(FileNotFoundError):
        static_assets.static_assets().url_path(path)


def test_a_file_edited_while_being_served_never_poisons_the_old_name(tmp_path: Path) -> None:
    file = tmp_path / "site.css"
    file.write_text("a { color: red }\n")
    assets = static_assets.StaticAssets(tmp_path)
    old = assets.asset("site.css")
    assert old is not None
    file.write_text("a { color: blue; }\n")
    assert brotli.decompress(assets.compressed(old, "br")) == b"a { color: blue; }\n"
    new = assets.asset("site.css")
    assert new is not None
    assert new.digest != old.digest
    assert brotli.decompress(assets.compressed(new, "br")) == b"a { color: blue; }\n"


def test_static_url_names_a_file_by_content_and_a_missing_one_fails_outside_production() -> None:
    strict = templating.new_environment(strict=True, auto_reload=False)
    digest = static_assets.static_assets().asset("css/app.css")
    assert digest is not None
    assert (
        strict.from_string("{{ static_url('css/app.css') }}").render()
        == f"/static/css/app.{digest.digest}.css"
    )
    with pytest.raises(FileNotFoundError):
        strict.from_string("{{ static_url('css/nothing.css') }}").render()
    # production renders the page all the same, with the plain path
    lenient = templating.new_environment(strict=False, auto_reload=False)
    assert (
        lenient.from_string("{{ static_url('css/nothing.css') }}").render()
        == "/static/css/nothing.css"
    )
