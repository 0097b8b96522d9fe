"""The command line: parse arguments, call the library, render. Only the cli modules import
typer: cli_common (formats, options, emitting results), cli_check (`check`), cli_derive
(`diff`, `hessian`, `jacobian`, `jvp`, `hvp`, `graph`), and this one, which makes the app.

Streams: data on stdout, warnings and errors on stderr. Exit codes: 0 success, 1 a requirement
failed (--unconnected error, a failed check), 2 bad input or usage, 3 an inconclusive check.
"""

from __future__ import annotations

import copy
import enum
import os
import sys
from typing import Annotated

import typer
from typer.main import get_command_name

from gradcli import __version__
from gradcli.cli_check import check
from gradcli.cli_common import (
    BROKEN_PIPE,
    DEFAULT_MEMORY,
    AtOption,
    ExpressionArg,
    ExpressionCommand,
    Format,
    FormatOption,
    MemoryOption,
    OfOption,
    Unconnected,
    _at_each_point,
    _emit,
    _errors_to_exit_codes,
    _format,
    _function,
    _names,
    _points,
    interrupted,
    whole_writes,
)
from gradcli.cli_derive import diff, graph, hessian, hvp, jacobian, jvp
from gradcli.errors import UsageError

app = typer.Typer(
    name="gradcli",
    help="Differentiate expressions and check gradients from the shell.\n\n"
         "Examples:\n\n"
         "  gradcli grad \"x**2*sin(x)\" --at x=2\n\n"
         "  gradcli grad \"log(x1) + x1*x2 - sin(x2)\" --at x1=2,x2=5 --format json\n\n"
         "  gradcli grad \"x + y\" --at x=2,y=4,z=8 --wrt z --unconnected zero\n\n"
         "  gradcli functions",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"gradcli {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool | None, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")] = None,
) -> None:
    """gradcli: value, gradient and gradient checks of expressions."""


class Mode(str, enum.Enum):
    reverse = "reverse"
    forward = "forward"


@app.command(cls=ExpressionCommand, no_args_is_help=True)
@_errors_to_exit_codes
def grad(
    expression: ExpressionArg,
    at: AtOption = None,
    wrt: Annotated[str | None, typer.Option(
        "--wrt", help="Variables to differentiate by, comma-separated (default: every variable "
                      "of the expression, in order of appearance).", show_default=False)] = None,
    unconnected: Annotated[Unconnected, typer.Option(
        "--unconnected", help="An unconnected gradient (no path from the output) is reported as "
                              "None, as 0, or as an error with exit code 1.")] = Unconnected.none,
    trace: Annotated[bool, typer.Option(
        "--trace", help="Show the chain rule node by node: the primal trace, then the adjoint "
                        "trace (or the tangent trace with --mode forward).")] = False,
    mode: Annotated[Mode, typer.Option(
        "--mode", help="The trace of reverse mode (adjoints) or forward mode (tangents).")
    ] = Mode.reverse,
    seed_dir: Annotated[list[str] | None, typer.Option(
        "--seed-dir", help="A direction of the forward trace, e.g. x1=1,x2=0; repeat for more "
                           "columns (default: a unit direction per variable).",
        show_default=False)] = None,
    explain: Annotated[bool, typer.Option(
        "--explain", help="Name the rule of calculus applied at each node, with the "
                          "derivative there and its value.")] = False,
    max_rows: Annotated[int, typer.Option(
        "--max-rows", help="Rows of a trace table before the middle is left out, and steps "
                           "of --explain before the rest is; --format json has them all.")] = 200,
    of: OfOption = None,
    max_memory: MemoryOption = DEFAULT_MEMORY,
    format: FormatOption = None,  # noqa: A002 - the option's name
) -> None:
    """Value and gradient (reverse mode) of EXPRESSION at each --at point.

    EXPRESSION may be a model spec file (FILE.grad): the gradient of its output with respect
    to every param and input.

    Examples: gradcli grad "x**2*sin(x)" --at x=2;  gradcli grad examples/mlp.grad;
    gradcli grad "log(x1) + x1*x2 - sin(x2)" --at x1=2,x2=5 --trace
    """
    if mode is Mode.forward and not trace:
        raise UsageError("--mode chooses the kind of --trace: add --trace")
    if seed_dir and mode is not Mode.forward:
        raise UsageError("--seed-dir gives directions of the forward trace: add --trace "
                         "--mode forward")
    if max_rows < 1:
        raise UsageError(f"--max-rows must be at least 1, not {max_rows}")
    points = _points(at)
    function = _function(expression, points, of, max_memory)
    names = _names(wrt)
    results = _at_each_point(
        points, lambda point: function.grad(point, wrt=names, unconnected=unconnected.value))
    fmt = _format(format)
    if trace or explain:  # JSON has every step: --max-rows is for people reading
        steps = None if fmt is Format.json else max_rows
        _show_the_chain_rule(function, results, names, trace, mode, seed_dir, explain, steps)
    if fmt is Format.plain and (trace or explain):  # each point's lines, then its gradient
        for result in results:
            for key in ("trace", "explain"):
                if key in result.extra:
                    print("\n".join(result.extra[key].lines()))
            _emit([result], fmt)
        return
    _emit(results, fmt, table=(lambda render: _chain_rule_view(max_rows))
          if trace or explain else None)


def _show_the_chain_rule(function, results, names, trace, mode, seed_dir, explain, max_rows
                         ) -> None:
    """Attach a trace and an explanation to each result (they go into every format)."""
    from gradcli.explain import Explanation
    from gradcli.explain import explain as narrate
    from gradcli.points import read_point
    from gradcli.trace import trace as follow

    directions = [read_point(text, option="--seed-dir") for text in seed_dir or []]
    for result in results:
        if trace:
            result.extra["trace"] = follow(function, result.point, names, mode.value, directions)
        if explain:
            result.extra["explain"] = Explanation(
                {name: narrate(function, result.point, name, max_rows)
                 for name in names or function.variables})


def _chain_rule_view(max_rows: int):
    from gradcli.render_trace import explain_view, trace_view

    def draw(results, console) -> None:
        from gradcli.render import results_table

        for result in results:
            if "trace" in result.extra:
                trace_view(result, result.extra["trace"], console, max_rows)
            else:
                results_table([result], console)
            if "explain" in result.extra:
                explain_view(result, result.extra["explain"].trees, console)

    return draw


@app.command("eval", cls=ExpressionCommand, no_args_is_help=True)
@_errors_to_exit_codes
def eval_(expression: ExpressionArg, at: AtOption = None, of: OfOption = None,
          max_memory: MemoryOption = DEFAULT_MEMORY,
          format: FormatOption = None) -> None:  # noqa: A002
    """Value of EXPRESSION (or of a spec file's output) at each --at point.

    Example: gradcli eval "cos(x**3*exp(x))" --at x=1
    """
    points = _points(at)
    function = _function(expression, points, of, max_memory)
    _emit(_at_each_point(points, function.evaluate), _format(format))


@app.command()
@_errors_to_exit_codes
def functions(format: FormatOption = None) -> None:  # noqa: A002
    """Every function, its aliases and its derivative rule."""
    from gradcli.catalog import catalog

    entries = catalog()
    fmt = _format(format)
    if fmt is Format.table:
        from gradcli import render

        render.functions_table(entries, render.console())
    elif fmt is Format.json:
        import json

        for entry in entries:
            print(json.dumps(entry.to_dict(), ensure_ascii=False))
    else:
        for entry in entries:
            rules = "; ".join(f"d/d{p} = {r}" if r is not None else f"d/d{p}: no gradient"
                              for p, r in entry.derivatives.items())
            aliases = f" (aliases: {', '.join(entry.function.aliases)})" if entry.function.aliases else ""
            print(f"{entry.function.signature}{aliases}: {rules}")


app.command(cls=ExpressionCommand, no_args_is_help=True)(check)
for command in (diff, hessian, jacobian, jvp, hvp, graph):
    app.command(cls=ExpressionCommand, no_args_is_help=True)(command)


def run() -> None:
    """The console-script entry point, for a process that ends with the command.

    Two things make a command start and end faster; neither changes what it does:
    - Typer builds a command for every function it has (a third of a cold start for ten): when
      the first argument names a command, only that one is built. Anything else (--help, a
      typo, no argument) gets the whole app.
    - Once the command is done and its output flushed, the process leaves at once
      (os._exit) with the command's exit code: the interpreter's teardown, freeing every
      object of numpy, Lark, Typer and gradcli one by one, cost about as much as the work of a
      small command. Everything gradcli writes is flushed or closed before that.
    """
    sys.stdout = whole_writes(sys.stdout)
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    chosen = [command for command in app.registered_commands
              if (command.name or get_command_name(command.callback.__name__)) == name]
    command = app
    if chosen:
        command = copy.copy(app)
        command.registered_commands = chosen
    try:
        command()
        code = 0
    except SystemExit as leaving:
        code = leaving.code
    except KeyboardInterrupt:  # outside a command (while Typer reads the arguments)
        code = interrupted()
    except BrokenPipeError:
        code = BROKEN_PIPE
    if code is not None and not isinstance(code, int):  # sys.exit("message")
        print(code, file=sys.stderr)
        code = 1
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader is gone: what it did not read is not an error of ours
        code = code or BROKEN_PIPE
    try:
        sys.stderr.flush()
    except OSError:
        pass
    os._exit(code or 0)
