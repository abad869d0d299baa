"""Options shared by every command, validated in one place.

``--min-cell`` is the privacy floor of every count a command prints or writes; a value of 0 or
less would print exact small counts, so it is checked here for every command and by
``run_study`` (through :func:`validate_min_cell`). Command-line usage errors (an unknown option, a
missing required option, a value of the wrong type) become one ``MiglinkError`` line with exit
code 2 instead of the usage box, through :class:`OneLineCommand`.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand

from miglink.errors import MiglinkError
from miglink.privacy import DEFAULT_MIN_CELL

#: Largest accepted ``--min-cell``. Above a thousand nearly every count of a national database is
#: withheld; a larger value is far more likely a typo (say 10000 for 10) than a policy.
MAX_MIN_CELL = 1000


def validate_min_cell(value: Any) -> int:
    """``value`` as a minimum cell count: a whole number from 1 to :data:`MAX_MIN_CELL`.

    Accepts an int or the text of one (as typed on the command line); refuses 0, negatives,
    fractions, '1e3', booleans and anything else with a one-line error naming ``--min-cell``.
    """
    if isinstance(value, bool):
        raise MiglinkError(
            f"--min-cell must be a whole number from 1 to {MAX_MIN_CELL}, got {value!r}"
        )
    if isinstance(value, int):
        n = value
    else:
        text = str(value).strip()
        if not text.lstrip("-").isdigit() or not text.isascii():
            raise MiglinkError(
                f"--min-cell must be a whole number from 1 to {MAX_MIN_CELL}, got {str(value)!r}"
            )
        n = int(text)
    if not 1 <= n <= MAX_MIN_CELL:
        raise MiglinkError(f"--min-cell must be a whole number from 1 to {MAX_MIN_CELL}, got {n}")
    return n


def min_cell_option(help: str = "Counts below this are shown as '<N'.") -> Any:
    """The ``--min-cell`` option, parsed by :func:`validate_min_cell` (not by the CLI library,
    whose type error is a multi-line usage box)."""
    return typer.Option(
        DEFAULT_MIN_CELL, "--min-cell", help=help, parser=validate_min_cell, metavar="N"
    )


class OneLineCommand(TyperCommand):
    """A command whose usage errors are one line naming the option, exit code 2 (through
    ``miglink.cli.main``), like every other user error."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        from typer._click.exceptions import UsageError

        try:
            return super().parse_args(ctx, spread_multiple(self, args))
        except UsageError as e:
            msg = " ".join(e.format_message().split())
            raise MiglinkError(f"{msg} (see 'miglink {self.name} --help')") from None


def spread_multiple(command: Any, args: list[str]) -> list[str]:
    """``--concept-sets A B`` as ``--concept-sets A --concept-sets B``: the values after a
    repeatable option, up to the next option, each get the flag (the CLI library takes one value
    per flag). Only for commands without positional arguments, where nothing else could be meant.
    """
    if any(not getattr(p, "opts", [""])[0].startswith("-") for p in command.params):
        return args
    multi = {o for p in command.params if getattr(p, "multiple", False) for o in p.opts}
    out: list[str] = []
    flag = None
    for a in args:
        if a == "--":
            flag = None
        elif a.startswith("-"):
            flag = a if a in multi else None
        elif flag is not None and out and out[-1] != flag:
            out.append(flag)
        out.append(a)
    return out
