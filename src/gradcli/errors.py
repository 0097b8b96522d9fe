"""The exception family of gradcli.

The library raises only these; the command line maps each to a message on stderr and an exit
code in one place (`exit_code`): 2 for bad input or usage, 1 for a requirement that failed.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GradcliError(Exception):
    """Base class: a message meant for the person at the terminal."""

    exit_code = 2


class InputError(GradcliError):
    """Bad input with a place in some text: a message, and a caret under the column.

    `line` and `column` are 1-based; a column one past the end of the line points at the end
    of the input.
    """

    def __init__(self, message: str, text: str | None = None, line: int = 1, column: int | None = None,
                 source: str = "expression", path: str | None = None):
        super().__init__(message)
        self.message = message
        self.text = text
        self.line = line
        self.column = column
        self.source = source
        self.path = path  # the file the text is from: the place is then written file:line:column

    def __str__(self) -> str:
        if self.text is None or self.column is None:
            return self.message
        where = {"point": "in --at, ", "domain": "in --domain, "}.get(self.source, "")
        if self.source.startswith("--"):  # the option the text was given with
            where = f"in {self.source}, "
        return f"{self.message}\n{caret_excerpt(self.text, self.line, self.column, where, path=self.path)}"

    def in_file(self, text: str, line: int, path: str) -> InputError:
        """This error, raised for one line of a file, placed in the whole file."""
        error = type(self)(self.message, text, line, self.column, "spec", path)
        return error


class ParseError(InputError):
    """The text does not follow the grammar."""


class NameResolutionError(InputError):
    """An unknown function, a function used as a value, a constant given a value, ..."""


class ArityError(InputError):
    """A function called with the wrong arguments."""


class PointError(InputError):
    """A malformed --at point, or a variable with no value."""


class ShapeError(InputError):
    """Operands whose shapes do not fit the operation: (16, 3) @ (4, 20), an index out of range.

    Raised by the shape rules of the primitive table with the operation alone; whoever builds
    the graph from text (the parser, a spec) adds the place, and `formula`, the operation as
    written, is put in front of the message.
    """

    def located(self, formula: str, text: str | None, line: int, column: int | None,
                source: str = "expression") -> ShapeError:
        return ShapeError(f"{formula}: {self.message}", text, line, column, source)


class MemoryLimitError(InputError):
    """More memory asked for than --max-memory allows; nothing was allocated."""


class UsageError(GradcliError):
    """Options that do not fit together."""


class UnconnectedError(GradcliError):
    """A gradient asked for with --unconnected error has no path from the output."""

    exit_code = 1


def suggest(name: str, candidates: Iterable[str]) -> str:
    """`; did you mean 'sin'?` for a close match among candidates, else an empty string."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{matches[0]}'?" if matches else ""


def caret_excerpt(text: str, line: int, column: int, where: str = "", width: int = 72,
                  path: str | None = None) -> str:
    """The line of `text` with a caret under `column`, windowed around it when the line is long;
    `where` names the text when it is not the expression ('in --at, '); `path` names the file
    (the place is then written file:line:column)."""
    lines = text.split("\n") or [""]
    row = lines[min(max(line, 1), len(lines)) - 1]
    col = max(column, 1) - 1
    start = 0
    if len(row) > width:
        start = max(0, min(col - width // 2, len(row) - width))
    # one character per column, so that the caret stays under its column
    shown = "".join(c if c.isprintable() else " " if c == "\t" else "?"
                    for c in row[start:start + width])
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + width < len(row) else ""
    place = f"line {line}, column {column}" if len(lines) > 1 else f"column {column}"
    header = f"  {path}:{line}:{column}:" if path is not None else f"  {where}at {place}:"
    pad = " " * (len(prefix) + col - start)
    return f"{header}\n    {prefix}{shown}{suffix}\n    {pad}^"
