"""The one place the command line turns bad input into one line on stderr and exit 2.

Commands let `BadInputError` (an answers, branding or other user file that cannot be used) and
`RubricError` (rubric files with problems, one `file:line: message` each) propagate; the
`processlens` group catches them here, so no command repeats the try/except and none can print
a traceback for a user's mistake. Database problems are handled by the commands (exit 1).
"""

from __future__ import annotations

import re
from typing import Any

import typer
from typer._click.core import Context  # the click that typer bundles (typer.core uses it)
from typer.core import TyperGroup

from app.rubric.loader import RubricError
from app.rubric.safe_yaml import BadInputError

EXIT_BAD_INPUT = 2
MAX_LINE_CHARS = 300  # a message quoting a user's value stays one readable line
MAX_PROBLEMS_SHOWN = 50
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def one_line(message: str) -> str:
    """The message on one line (control characters, newlines included, become a space), cut
    to MAX_LINE_CHARS."""
    flat = _CONTROL.sub(" ", message).strip()
    return flat if len(flat) <= MAX_LINE_CHARS else flat[: MAX_LINE_CHARS - 1] + "…"


class OneLineErrors(TyperGroup):
    """The top-level command group: bad input ends in one line per problem and exit 2."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except BadInputError as error:
            typer.echo(f"error: {one_line(str(error))}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except RubricError as error:
            for problem in error.problems[:MAX_PROBLEMS_SHOWN]:
                typer.echo(one_line(problem), err=True)
            hidden = len(error.problems) - MAX_PROBLEMS_SHOWN
            if hidden > 0:
                typer.echo(f"... and {hidden} more problems", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
