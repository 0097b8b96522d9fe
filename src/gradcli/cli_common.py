"""What every command shares: the output formats, the options, reading points and functions,
the error-to-exit-code wrapper, and emitting results (data on stdout, warnings on stderr)."""

from __future__ import annotations

import enum
import io
import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Annotated

import typer
from typer.core import TyperCommand, TyperOption

from gradcli.errors import GradcliError, UsageError


class Format(str, enum.Enum):
    table = "table"
    json = "json"
    plain = "plain"


class Unconnected(str, enum.Enum):
    none = "none"
    zero = "zero"
    error = "error"


class ExpressionCommand(TyperCommand):
    """A command whose argument is an expression that may start with a minus sign.

    `gradcli grad "-x**2" --at x=1` must not read "-x**2" as options: any word that starts with a
    single '-' and is not an option's value is moved behind '--', where it is taken as the
    expression. gradcli defines no short options, so no such word can be one.
    """

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        takes_value = {
            name for param in self.params if isinstance(param, TyperOption) and not param.is_flag
            for name in param.opts
        }
        kept: list[str] = []
        moved: list[str] = []
        index = 0
        while index < len(args):
            word = args[index]
            if word == "--":
                kept.extend(args[index:])
                break
            if word in takes_value:
                kept.extend(args[index:index + 2])
                index += 2
                continue
            if word.startswith("-") and not word.startswith("--") and word != "-":
                moved.append(word)
            else:
                kept.append(word)
            index += 1
        if moved:
            kept = kept + ["--", *moved] if "--" not in kept else kept + moved
        return super().parse_args(ctx, kept)


INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a process stopped by Ctrl-C
BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports `cat big | head -1`


class _WholeWrites(io.RawIOBase):
    """A file descriptor written whole: every write loops until all of it is written, or raises
    (BrokenPipeError once the reader of a pipe is gone). Python's own stdout, given one write
    larger than a pipe holds (a table of 20,000 rows), writes what the pipe takes, and when the
    reader then leaves (`| head -c 100`) drops the rest without an error: the command would
    end with 0 as though its whole output had been read."""

    def __init__(self, fd: int):
        super().__init__()
        self.fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return os.isatty(self.fd)

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            done += os.write(self.fd, view[done:])
        return done


def whole_writes(stream: io.TextIOWrapper) -> io.TextIOWrapper:
    """`stream` (stdout) again, written through `_WholeWrites`, with its encoding and errors;
    as it is when it has no file descriptor (a test's capture, no console)."""
    try:
        stream.flush()
        raw = _WholeWrites(stream.fileno())
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both of the last
        return stream
    return io.TextIOWrapper(io.BufferedWriter(raw), encoding=stream.encoding, errors=stream.errors,
                            line_buffering=stream.line_buffering)


def interrupted() -> int:
    """Ctrl-C: one line on stderr, and the exit code to leave with."""
    try:
        print("gradcli: interrupted", file=sys.stderr, flush=True)
    except OSError:
        pass
    return INTERRUPTED


def _errors_to_exit_codes(command: Callable) -> Callable:
    """Report a GradcliError as one paragraph on stderr and leave with its exit code; leave
    quietly when stdout is a pipe closed by its reader (`gradcli ... | head -1`); Ctrl-C in one
    line."""

    @wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except GradcliError as error:
            print(f"gradcli: error: {error}", file=sys.stderr)
            raise typer.Exit(error.exit_code) from None
        except BrokenPipeError:
            raise typer.Exit(BROKEN_PIPE) from None
        except KeyboardInterrupt:
            raise typer.Exit(interrupted()) from None
        except MemoryError:
            print("gradcli: error: out of memory: this machine cannot hold the arrays this needs; "
                  "make them smaller (--max-memory refuses such work before it starts)",
                  file=sys.stderr)
            raise typer.Exit(2) from None

    return run


EXPRESSION_HELP = ("The expression, e.g. \"x**2*sin(x)\", or a model spec file (FILE.grad); '-' "
                   "reads the expression from standard input. See README for the language, "
                   "`gradcli functions` for the functions.")
AT_HELP = ("A point, e.g. x=2,y=pi/4 (values may be constant expressions), v=[1, 2, 3] (an "
           "array), X=@data.npy (an array from a .npy, .csv or .txt file). Repeat --at for "
           "more points. For a spec: its inputs, and params to set other than their initial "
           "values.")
FORMAT_HELP = "Output format: table (default on a terminal), json (one object per point per "\
              "line) or plain (default otherwise)."

ExpressionArg = Annotated[str, typer.Argument(help=EXPRESSION_HELP, show_default=False,
                                              metavar="EXPRESSION")]
AtOption = Annotated[list[str] | None, typer.Option("--at", help=AT_HELP,
                                                        show_default=False)]
FormatOption = Annotated[Format | None, typer.Option("--format", help=FORMAT_HELP,
                                                         show_default=False)]


OfOption = Annotated[str | None, typer.Option(
    "--of", help="For a spec: the name whose value is the output (default: the last "
                 "assignment).", show_default=False)]
MemoryOption = Annotated[str, typer.Option(
    "--max-memory", help="Refuse, before allocating, work whose values need more memory than "
                         "this, e.g. 512MiB, 4GiB.", metavar="SIZE")]
DEFAULT_MEMORY = "1GiB"


def is_spec(argument: str) -> bool:
    """Whether a command's argument names a spec file (FILE.grad) rather than being an
    expression."""
    return argument.endswith(".grad") and "\n" not in argument


def _read_expression(text: str, limit: float | None = None) -> str:
    """The expression, or standard input for '-' (without its final newline); refused beyond
    what `limit` (--max-memory) allows, and standard input not read further than that."""
    from gradcli.initializers import BYTES_PER_CHARACTER, refuse_long_text

    if text == "-":
        most = None if limit is None else int(limit // BYTES_PER_CHARACTER) + 1
        text = sys.stdin.read() if most is None else sys.stdin.read(most)
        refuse_long_text(len(text), "the expression on standard input", limit,
                         more=most is not None and len(text) == most)
        return text.strip()
    refuse_long_text(len(text), "the expression", limit)
    return text


def _bytes(text: str) -> float:
    """'1GiB' -> 2**30; KiB, MiB, GiB, TiB and K, M, G, T are powers of 1024, KB, MB, GB, TB
    powers of 1000; a plain number is bytes."""
    import re

    match = re.fullmatch(r"\s*((?:\d+\.?\d*|\.\d+)(?:e\d+)?)\s*([KMGT]?)(i?B?)\s*", text,
                         re.IGNORECASE)
    if match is None:
        raise UsageError(f"--max-memory takes a size such as 512MiB or 4GiB, not {text!r}")
    number, prefix, suffix = float(match.group(1)), match.group(2).upper(), match.group(3)
    power = "KMGT".index(prefix) + 1 if prefix else 0
    base = 1000 if suffix.upper() == "B" and prefix else 1024
    return number * base**power


def _points(texts: list[str] | None) -> list[tuple[dict, list[str]]]:
    """Each --at point with the warnings of its own values (one empty point if none given)."""
    from gradcli.points import read_point

    points = []
    for text in texts or [None]:
        notes: list[str] = []
        points.append((read_point(text, notes) if text is not None else {}, notes))
    return points


def _function(argument: str, points: list[tuple[dict, list[str]]], of: str | None,
              max_memory: str, spec=None):
    """The Function of an expression or of a spec file, built for the shapes of the first
    point (a later point of other shapes gets its own build). `spec`: the file read already,
    for inputs that are numbers, used rather than read again."""
    import numpy as np

    shapes = {name: np.shape(value) for name, value in points[0][0].items()}
    limit = _bytes(max_memory)
    if is_spec(argument):
        from gradcli.spec import function_of, spec_function

        if spec is not None and all(shape == () for shape in shapes.values()):
            return function_of(spec, of, limit, shapes)
        return spec_function(argument, of, shapes, limit)
    if of is not None:
        raise UsageError("--of names the output of a spec file (FILE.grad)")
    from gradcli.api import parse

    function = parse(_read_expression(argument, limit), shapes)
    function.max_memory = limit
    return function


def _at_each_point(points: list[tuple[dict, list[str]]], compute: Callable,
                   tick: Callable[[], None] | None = None) -> list:
    """compute(point) at each point, with the warnings of the point's own values put first
    among the result's warnings; `tick` is called after each point (a progress bar)."""
    results = []
    for point, notes in points:
        result = compute(point)
        result.warnings[:0] = notes
        results.append(result)
        if tick is not None:
            tick()
    return results


def _names(wrt: str | None) -> list[str] | None:
    """--wrt x,y -> ['x', 'y']; None when not given."""
    return [n.strip() for n in wrt.split(",") if n.strip()] if wrt is not None else None


def _format(chosen: Format | None) -> Format:
    if chosen is not None:
        return chosen
    return Format.table if sys.stdout.isatty() else Format.plain


def _emit(results: list, fmt: Format, table: Callable | None = None) -> None:
    """Results to stdout in the chosen format; their warnings to stderr (in JSON, also in the
    objects, with the notes on non-finite numbers written as strings). `table(render)` picks
    the renderer of the table format (default: values and gradients)."""
    if fmt is Format.json:
        objects = [result.to_dict() for result in results]
        warnings = [w for obj in objects for w in obj.get("warnings", [])]
    else:
        warnings = [w for result in results for w in result.warnings]
    for warning in warnings:
        print(f"gradcli: warning: {warning}", file=sys.stderr)
    if fmt is Format.table:
        from gradcli import render

        draw = table(render) if table is not None else render.results_table
        draw(results, render.console())
    elif fmt is Format.json:
        from gradcli.report import json_text

        for obj in objects:
            print(json_text(obj))
    else:
        for result in results:
            print(result.to_plain())

