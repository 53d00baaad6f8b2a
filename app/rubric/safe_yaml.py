"""Reading the files users hand us (answers, branding, rubric files) without letting one of them
take the machine: the one place those files are opened and parsed.

- Only regular files are read, and never more than a cap: a FIFO, a device such as /dev/zero or
  a huge file is refused before (or instead of) reading it.
- YAML anchors and aliases are refused by the parser: none of our files needs them, and a
  kilobyte of nested aliases expands to gigabytes (the "billion laughs").
- Nesting is limited (deep nesting overflows the recursive parser and everything after it), and
  so are the digits of an integer (Python refuses to print one past 4300 digits).

Every problem is an `InputFileError` (a `BadInputError`) whose message is one line,
`file:line: problem`. Nothing here imports the database or the web framework: the rubric core
stays pure.
"""

from __future__ import annotations

import json
import os
import reprlib
import stat
from pathlib import Path
from typing import Any

import yaml

MAX_DEPTH = 50  # our deepest file nests 11 levels (rules in rules in rules...)
MAX_INT_DIGITS = 100  # far beyond any count, weight or score; far below Python's 4300
ALIASES_REFUSED = "YAML anchors and aliases are not allowed"
TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"
TOO_MANY_DIGITS = f"a number with more than {MAX_INT_DIGITS} digits"


class BadInputError(ValueError):
    """Input from the user that cannot be used. Its message is one line that names the place
    and the problem; the command line prints it and exits 2 (app/cli_errors.py)."""


class InputFileError(BadInputError):
    """A file from the user cannot be used; the message is one line: `source[:line]: problem`."""

    def __init__(self, source: str, problem: str, line: int | None = None) -> None:
        self.source = source
        self.problem = problem
        self.line = line
        where = source if line is None else f"{source}:{line}"
        super().__init__(f"{where}: {problem}")


# --- reading ----------------------------------------------------------------------------------


def size_label(max_bytes: int) -> str:
    if max_bytes % (1024 * 1024) == 0:
        return f"{max_bytes // (1024 * 1024)} MiB"
    if max_bytes % 1024 == 0:
        return f"{max_bytes // 1024} KB"
    return f"{max_bytes} bytes"


def read_bytes(path: Path, *, max_bytes: int) -> bytes:
    """The content of a regular file of at most `max_bytes`, read without waiting on a FIFO
    and without reading past the cap (a device or a growing file ends at the cap)."""
    try:
        # O_NONBLOCK: opening a FIFO nobody writes to returns at once instead of waiting
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        raise InputFileError(str(path), f"cannot read it ({error.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise InputFileError(str(path), "not a regular file")
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:
            chunk = os.read(descriptor, max_bytes + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as error:
        raise InputFileError(str(path), f"cannot read it ({error.strerror})") from None
    finally:
        os.close(descriptor)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise InputFileError(str(path), f"larger than {size_label(max_bytes)}")
    return data


def read_text(path: Path, *, max_bytes: int) -> str:
    """`read_bytes`, decoded as UTF-8 (anything else is refused)."""
    try:
        return read_bytes(path, max_bytes=max_bytes).decode("utf-8")
    except UnicodeDecodeError:
        raise InputFileError(str(path), "not UTF-8 text") from None


# --- parsing ----------------------------------------------------------------------------------


class _Refused(yaml.MarkedYAMLError):
    """A guard's refusal, raised inside the parser so that it carries the line."""

    def __init__(self, problem: str, mark: yaml.Mark) -> None:
        super().__init__(problem=problem, problem_mark=mark)


class GuardedLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses anchors and aliases, deep nesting and long integers
    while composing, before any value is built (subclass it to build other types)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Refused(ALIASES_REFUSED, event.start_mark)
        if self._depth >= MAX_DEPTH:
            raise _Refused(TOO_DEEP, event.start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        # checked on the text: int() refuses 4300 digits, and sexagesimal 1:2:3... is quadratic
        if sum(char.isalnum() for char in str(node.value)) > MAX_INT_DIGITS:
            raise _Refused(TOO_MANY_DIGITS, node.start_mark)
        return super().construct_yaml_int(node)


GuardedLoader.add_constructor("tag:yaml.org,2002:int", GuardedLoader.construct_yaml_int)


def _line(error: yaml.YAMLError) -> int:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    return mark.line + 1 if mark is not None else 1


def load_yaml(
    text: str,
    *,
    source: str,
    max_chars: int,
    loader: type[GuardedLoader] = GuardedLoader,
    invalid: str = "invalid YAML",
) -> Any:
    """One YAML document through the guards. Refusals read `source:line: problem`; syntax
    errors `source:line: <invalid>: problem`."""
    if len(text) > max_chars:
        raise InputFileError(source, f"larger than {size_label(max_chars)}")
    parser = loader(text)
    try:
        return parser.get_single_data()
    except _Refused as error:
        raise InputFileError(source, str(error.problem), _line(error)) from None
    except yaml.YAMLError as error:
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise InputFileError(source, f"{invalid}: {problem}", _line(error)) from None
    except RecursionError:  # cannot happen within MAX_DEPTH; kept so that it never escapes
        raise InputFileError(source, TOO_DEEP) from None
    finally:
        parser.dispose()


def _refuse_long_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(TOO_MANY_DIGITS)
    return int(digits)


def load_json(text: str, *, source: str, max_chars: int, invalid: str = "invalid JSON") -> Any:
    """A JSON document with the same limits as YAML (nesting, digits, size)."""
    if len(text) > max_chars:
        raise InputFileError(source, f"larger than {size_label(max_chars)}")
    try:
        data = json.loads(text, parse_int=_refuse_long_int)
    except json.JSONDecodeError as error:
        raise InputFileError(source, f"{invalid}: {error.msg}", error.lineno) from None
    except ValueError:  # from _refuse_long_int
        raise InputFileError(source, TOO_MANY_DIGITS) from None
    except RecursionError:
        raise InputFileError(source, TOO_DEEP) from None
    if depth_exceeds(data, MAX_DEPTH):
        raise InputFileError(source, TOO_DEEP)
    return data


def depth_exceeds(data: Any, limit: int) -> bool:
    """Whether lists and mappings nest deeper than `limit` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth >= limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return False


# --- showing a user's value in a message -------------------------------------------------------

MAX_SHOWN_CHARS = 80
_SHORT = reprlib.Repr()
_SHORT.maxstring = 60
_SHORT.maxother = 60
_SHORT.maxlist = _SHORT.maxdict = _SHORT.maxset = _SHORT.maxtuple = 5
_SHORT.maxlevel = 2


def shorten(value: Any) -> str:
    """`repr(value)`, cut to a few dozen characters: user values go into one-line messages."""
    try:
        text = _SHORT.repr(value)
    except ValueError:  # an integer too long to print (Python refuses past 4300 digits)
        return "<a number too long to show>"
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 3] + "..."
