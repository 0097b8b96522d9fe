"""The commands that show derivatives beyond the gradient: `diff` (symbolic), `hessian`,
`jacobian`, `jvp`, `hvp` (second order and Jacobians at a point) and `graph` (pictures)."""

from __future__ import annotations

import enum
import sys
from typing import Annotated

import typer

from gradcli.cli_common import (
    DEFAULT_MEMORY,
    AtOption,
    ExpressionArg,
    FormatOption,
    MemoryOption,
    OfOption,
    _at_each_point,
    _emit,
    _errors_to_exit_codes,
    _format,
    _function,
    _names,
    _points,
    is_spec,
)
from gradcli.errors import UsageError

# Help text is Rich markup: a '[' before a letter is escaped (\\[f1, f2]) or it would vanish.


class DiffFormat(str, enum.Enum):
    text = "text"
    latex = "latex"
    json = "json"


class Zero(str, enum.Enum):
    none = "none"
    zero = "zero"


MAX_ENTRIES_DEFAULT = 4096  # derivatives.MAX_ENTRIES (not imported here, to start fast)
EntriesOption = Annotated[int, typer.Option(
    "--max-entries", metavar="N", help="Refuse more than N rows or columns (the result has up "
                                       "to N squared entries, each a pass).")]
WrtOption = Annotated[str | None, typer.Option(
    "--wrt", help="Variables, comma-separated (default: every variable, in order of "
                  "appearance).", show_default=False)]
UnconnectedOption = Annotated[Zero, typer.Option(
    "--unconnected", help="An entry of a variable with no path from the output: None or 0.")]
DirectionOption = Annotated[str, typer.Option(
    "--v", help="The direction, e.g. x=1,y=0 (a variable left out is 0; arrays as in --at).",
    show_default=False)]


@_errors_to_exit_codes
def diff(
    expression: ExpressionArg,
    wrt: WrtOption = None,
    order: Annotated[int, typer.Option("--order", help="Differentiate this many times.")] = 1,
    let: Annotated[bool, typer.Option(
        "--let", help="Print each repeated subexpression once, as 'where u = ...'.")] = False,
    format: Annotated[DiffFormat, typer.Option(  # noqa: A002
        "--format", help="text (gradcli's syntax, which reads back into gradcli and SymPy), "
                         "latex, or json.")] = DiffFormat.text,
) -> None:
    """The derivative of EXPRESSION as an expression, simplified.

    One variable: the derivative alone. Several: one line per variable, d/dx = ...

    Examples: gradcli diff "x**2*sin(x)";  gradcli diff "x**2*sin(x)" --order 2 --format latex
    """
    from gradcli.api import parse
    from gradcli.cli_common import _bytes, _read_expression
    from gradcli.symbolic import derivatives

    if is_spec(expression):
        raise UsageError("diff prints the derivative of an expression; for a model spec "
                         "(FILE.grad) use grad --trace, or graph")
    text = _read_expression(expression, _bytes(DEFAULT_MEMORY))
    result = derivatives(parse(text), _names(wrt), order, let)
    if format is DiffFormat.json:
        print(result.to_json())
    else:
        print(result.to_text(latex=format is DiffFormat.latex))
    unconnected = [n for n, node in zip(result.variables, result.nodes, strict=True) if node is None]
    for name in unconnected:
        print(f"gradcli: warning: the derivative with respect to '{name}' is unconnected (None): "
              "no path from the output leads to it", file=sys.stderr)


def _matrix(expression, at, of, max_memory, fmt, compute) -> None:
    points = _points(at)
    function = _function(expression, points, of, max_memory)
    results = _at_each_point(points, lambda point: compute(function, point))
    _emit(results, _format(fmt), table=lambda render: _matrix_view)


def _matrix_view(results, console) -> None:
    from gradcli.render_trace import matrix_view

    matrix_view(results, console)


@_errors_to_exit_codes
def hessian(expression: ExpressionArg, at: AtOption = None, wrt: WrtOption = None,
            unconnected: UnconnectedOption = Zero.none, of: OfOption = None,
            max_memory: MemoryOption = DEFAULT_MEMORY, max_entries: EntriesOption = MAX_ENTRIES_DEFAULT,
            format: FormatOption = None) -> None:  # noqa: A002
    """The Hessian of EXPRESSION at each --at point (forward over reverse mode, exact to
    rounding). JSON: "hessian" as nested lists in the order of "variables".

    Example: gradcli hessian "log(x1) + x1*x2 - sin(x2)" --at x1=2,x2=5
    """
    from gradcli import derivatives

    names = _names(wrt)
    _matrix(expression, at, of, max_memory, format,
            lambda f, p: derivatives.hessian(f, p, names, unconnected.value, max_entries))


@_errors_to_exit_codes
def jacobian(expression: ExpressionArg, at: AtOption = None, wrt: WrtOption = None,
             unconnected: UnconnectedOption = Zero.none, of: OfOption = None,
             max_memory: MemoryOption = DEFAULT_MEMORY, max_entries: EntriesOption = MAX_ENTRIES_DEFAULT,
             format: FormatOption = None) -> None:  # noqa: A002
    """The Jacobian of a vector-valued EXPRESSION, written \\[f1, f2, ...], at each --at point:
    a row per output entry, a column per variable (reverse mode, a pass per row).

    Example: gradcli jacobian "\\[x*y, sin(x), x + y]" --at x=1,y=2
    """
    from gradcli import derivatives

    names = _names(wrt)
    _matrix(expression, at, of, max_memory, format,
            lambda f, p: derivatives.jacobian(f, p, names, unconnected.value, max_entries))


def _direction(text: str) -> dict:
    from gradcli.points import read_point

    return read_point(text, option="--v")


@_errors_to_exit_codes
def jvp(expression: ExpressionArg, v: DirectionOption, at: AtOption = None,
        of: OfOption = None, max_memory: MemoryOption = DEFAULT_MEMORY,
        format: FormatOption = None) -> None:  # noqa: A002
    """The Jacobian-vector product J·v of EXPRESSION at each --at point (forward mode).

    Example: gradcli jvp "\\[x*y, sin(x)]" --at x=1,y=2 --v x=1
    """
    from gradcli import derivatives

    direction = _direction(v)
    _matrix(expression, at, of, max_memory, format,
            lambda f, p: derivatives.jvp(f, p, direction))


@_errors_to_exit_codes
def hvp(expression: ExpressionArg, v: DirectionOption, at: AtOption = None,
        of: OfOption = None, max_memory: MemoryOption = DEFAULT_MEMORY,
        format: FormatOption = None) -> None:  # noqa: A002
    """The Hessian-vector product H·v of EXPRESSION at each --at point (forward over reverse
    mode: no Hessian is formed).

    Example: gradcli hvp "x**2*y + y**3" --at x=1,y=2 --v x=1,y=0
    """
    from gradcli import derivatives

    direction = _direction(v)
    _matrix(expression, at, of, max_memory, format,
            lambda f, p: derivatives.hvp(f, p, direction))


class Picture(str, enum.Enum):
    dot = "dot"
    mermaid = "mermaid"
    svg = "svg"


@_errors_to_exit_codes
def graph(expression: ExpressionArg, at: Annotated[str | None, typer.Option(
              "--at", help="A point: nodes then show values and adjoints, edges the value of "
                           "their partial.", show_default=False)] = None,
          of: OfOption = None, max_memory: MemoryOption = DEFAULT_MEMORY,
          format: Annotated[Picture, typer.Option(  # noqa: A002
              "--format", help="dot (Graphviz), mermaid (renders on GitHub), or svg (needs "
                               "Graphviz's dot program).")] = Picture.dot) -> None:
    """The graph of EXPRESSION: nodes with their operation (and value), edges with the local
    partial derivative (and its value), to stdout.

    Example: gradcli graph "x**2*sin(x)" --at x=2 --format dot > g.dot
    """
    from gradcli.pictures import picture

    points = _points([at] if at is not None else None)
    function = _function(expression, points, of, max_memory)
    point = points[0][0] if at is not None else None
    if point is None and function.path and set(function.variables) <= set(function.defaults):
        point = {}  # a spec with no inputs: its params have values
    text = picture(function, point, format.value)
    if format is Picture.svg and sys.stdout.isatty():
        raise UsageError("--format svg writes SVG to stdout: redirect it to a file "
                         "(gradcli graph ... --format svg > graph.svg)")
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
