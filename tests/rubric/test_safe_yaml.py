"""The guarded reading and parsing of users' files (app/rubric/safe_yaml.py), in isolation."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.rubric import safe_yaml
from app.rubric.safe_yaml import InputFileError
from tests.test_cli import alias_bomb

LIMIT = 1024 * 1024


def refusal(text: str) -> InputFileError:
    with pytest.raises(InputFileError) as caught:
        safe_yaml.load_yaml(text, source="f.yaml", max_chars=LIMIT)
    return caught.value


def test_an_alias_bomb_is_refused_before_anything_is_built() -> None:
    started = time.monotonic()
    error = refusal(alias_bomb("x"))
    assert time.monotonic() - started < 0.5
    assert str(error) == "f.yaml:1: YAML anchors and aliases are not allowed"


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("a: 1\nb: &b 2\n", 2, "YAML anchors and aliases are not allowed"),  # an unused anchor
        ("a: 1\nb: [1, {c: *x}]\n", 2, "YAML anchors and aliases are not allowed"),
        ("a:\n  <<: *base\n", 2, "YAML anchors and aliases are not allowed"),
        ("a: " + "[" * 50 + "]" * 50, 1, "nested more than 50 levels deep"),
        ("a:\n  b: " + "1" * 101, 2, "a number with more than 100 digits"),
        ("a: 0x" + "f" * 200, 1, "a number with more than 100 digits"),
        ("a: " + ":".join(["59"] * 200), 1, "a number with more than 100 digits"),
        ("a: [", 1, "invalid YAML"),
    ],
)
def test_refusals_name_the_line(text: str, line: int, problem: str) -> None:
    error = refusal(text)
    assert (error.line, error.problem.split(":")[0]) == (line, problem)


def test_what_our_files_use_still_loads() -> None:
    text = "a: " + "[" * 49 + "]" * 49 + "\nb: " + "9" * 100 + "\nc: 2026-11-02\nd: 1.5e3\n"
    data = safe_yaml.load_yaml(text, source="f.yaml", max_chars=LIMIT)
    assert data["b"] == int("9" * 100)
    assert safe_yaml.depth_exceeds(data, 50) is False  # the mapping and 49 lists


def test_json_has_the_same_limits() -> None:
    for text, problem in [
        ('{"a": ' + "[" * 51 + "]" * 51 + "}", "nested more than 50 levels deep"),
        ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested more than 50 levels deep"),
        ('{"a": -' + "1" * 5000 + "}", "a number with more than 100 digits"),
        ('{"a": ', "invalid JSON"),
    ]:
        with pytest.raises(InputFileError) as caught:
            safe_yaml.load_json(text, source="f.json", max_chars=LIMIT)
        assert caught.value.problem.startswith(problem)
    with pytest.raises(InputFileError, match="larger than 1 KB"):
        safe_yaml.load_json("[" + "1," * 1000 + "1]", source="f.json", max_chars=1024)


def test_only_regular_files_within_the_cap_are_read(tmp_path: Path) -> None:
    small = tmp_path / "small.yaml"
    small.write_bytes(b"a" * 1024)
    assert safe_yaml.read_bytes(small, max_bytes=1024) == b"a" * 1024
    with pytest.raises(InputFileError, match="larger than 1023 bytes"):
        safe_yaml.read_bytes(small, max_bytes=1023)
    for path, problem in [
        (Path("/dev/zero"), "not a regular file"),
        (tmp_path, "not a regular file"),
        (tmp_path / "missing", "cannot read it (No such file or directory)"),
    ]:
        with pytest.raises(InputFileError) as caught:
            safe_yaml.read_bytes(path, max_bytes=1024)
        assert caught.value.problem == problem
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("café".encode("latin-1"))
    with pytest.raises(InputFileError, match="not UTF-8 text"):
        safe_yaml.read_text(latin, max_bytes=1024)


def test_shorten_keeps_messages_short() -> None:
    assert safe_yaml.shorten("x" * 10_000).startswith("'xxx")
    assert len(safe_yaml.shorten("x" * 10_000)) < 80
    assert len(safe_yaml.shorten([["a" * 1000] * 1000] * 1000)) <= 80
    assert safe_yaml.shorten(10**5000) == "<a number too long to show>"
