"""Functions in app/ are sized to be read: none is over 80 lines unless a comment says why.

A function that is genuinely long (a flat table of fields, one ordered pipeline the reader
follows top to bottom) carries a ``# long: <why>`` comment on the line directly above its
``def`` (or above its first decorator). Anything else over the limit is split into helpers.
"""

from __future__ import annotations

import ast

from app.config import ROOT_DIR

MAX_LINES = 80
MARKER = "# long:"


def _long_functions(source: str) -> list[tuple[int, str, int]]:
    """(line, name, length) of each function over the limit without a justification."""
    lines = source.splitlines()
    found: list[tuple[int, str, int]] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        length = (node.end_lineno or node.lineno) - node.lineno + 1
        if length <= MAX_LINES:
            continue
        first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
        above = lines[first - 2].strip() if first >= 2 else ""
        if not (above.startswith(MARKER) and above[len(MARKER) :].strip()):
            found.append((node.lineno, node.name, length))
    return found


def test_no_function_in_app_is_over_80_lines_without_a_reason() -> None:
    problems = [
        f"{path.relative_to(ROOT_DIR)}:{line} {name} is {length} lines"
        for path in sorted((ROOT_DIR / "app").rglob("*.py"))
        for line, name, length in _long_functions(path.read_text(encoding="utf-8"))
    ]
    assert not problems, (
        f"Split these into helpers, or say why they are long in a '{MARKER} ...' comment "
        "directly above the def:\n" + "\n".join(problems)
    )


def test_the_check_sees_a_long_function_and_accepts_a_reason() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_LINES))
    bare = f"def table():\n{body}"
    assert _long_functions(bare) == [(1, "table", MAX_LINES + 1)]
    assert _long_functions(f"# long: a flat table of fields\n{bare}") == []
    assert _long_functions(f"# long:\n{bare}") == [(2, "table", MAX_LINES + 1)]
    decorated = f"# long: a flat table\n@staticmethod\ndef table():\n{body}"
    assert _long_functions(decorated) == []
    short = "def short():\n    return 1\n"
    assert _long_functions(short) == []
