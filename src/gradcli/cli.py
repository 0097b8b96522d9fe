"""The command line: parse arguments, call the library, render. The only module importing typer.

Streams: data on stdout, warnings and errors on stderr. Exit codes: 0 success, 1 a requirement
failed (--unconnected error), 2 bad input or usage.
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Annotated

import typer
from typer.core import TyperCommand, TyperOption

from gradcli import __version__
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


def _errors_to_exit_codes(command: Callable) -> Callable:
    """Report a GradcliError as one paragraph on stderr and leave with its exit code."""

    @wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except GradcliError as error:
            print(f"gradcli: error: {error}", file=sys.stderr)
            raise typer.Exit(error.exit_code) from None
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


def _read_expression(text: str) -> str:
    """The expression, or standard input for '-' (without its final newline)."""
    return sys.stdin.read().strip() if text == "-" else text


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
              max_memory: str):
    """The Function of an expression or of a spec file, built for the shapes of the first
    point (a later point of other shapes gets its own build)."""
    import numpy as np

    from gradcli.spec import is_spec, spec_function

    shapes = {name: np.shape(value) for name, value in points[0][0].items()}
    limit = _bytes(max_memory)
    if is_spec(argument):
        return spec_function(argument, of, shapes, limit)
    if of is not None:
        raise UsageError("--of names the output of a spec file (FILE.grad)")
    from gradcli.api import parse

    function = parse(_read_expression(argument), shapes)
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
        for obj in objects:
            print(json.dumps(obj, ensure_ascii=False, allow_nan=False))
    else:
        for result in results:
            print(result.to_plain())


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
    of: OfOption = None,
    max_memory: MemoryOption = DEFAULT_MEMORY,
    format: FormatOption = None,  # noqa: A002 - the option's name
) -> None:
    """Value and gradient (reverse mode) of EXPRESSION at each --at point.

    EXPRESSION may be a model spec file (FILE.grad): the gradient of its output with respect
    to every param and input.

    Examples: gradcli grad "x**2*sin(x)" --at x=2;  gradcli grad examples/mlp.grad
    """
    points = _points(at)
    function = _function(expression, points, of, max_memory)
    names = _names(wrt)
    results = _at_each_point(
        points, lambda point: function.grad(point, wrt=names, unconnected=unconnected.value))
    _emit(results, _format(format))


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


class Method(str, enum.Enum):
    ridders = "ridders"
    central = "central"
    complex = "complex"
    mpmath = "mpmath"


@app.command(cls=ExpressionCommand, no_args_is_help=True)
@_errors_to_exit_codes
def check(
    expression: ExpressionArg,
    at: AtOption = None,
    wrt: Annotated[str | None, typer.Option(
        "--wrt", help="Variables to check, comma-separated (default: those of --grad, else "
                      "every variable).", show_default=False)] = None,
    method: Annotated[Method, typer.Option(
        "--method", help="The reference: ridders (extrapolated central differences, with an "
                         "error estimate), central (one central difference), complex (the "
                         "complex step, for analytic functions), mpmath (the function in 50-digit "
                         "arithmetic, differentiated by mpmath).")] = Method.ridders,
    rtol: Annotated[float | None, typer.Option(
        "--rtol", help="Relative tolerance (default per method: ridders 1e-9, central 1e-7, "
                       "complex 1e-12, mpmath 1e-11).", show_default=False)] = None,
    atol: Annotated[float | None, typer.Option(
        "--atol", help="Absolute tolerance (default per method: ridders 1e-12, central 1e-10, "
                       "complex 1e-15, mpmath 1e-14).", show_default=False)] = None,
    eps: Annotated[float | None, typer.Option(
        "--eps", help="The step of --method central (default cbrt(eps)*max(1, |x|)).",
        show_default=False)] = None,
    grad_: Annotated[str | None, typer.Option(
        "--grad", help="A claimed gradient to check instead of gradcli's own, e.g. "
                       "x=1.9726,y=0.5.", show_default=False)] = None,
    strict: Annotated[bool, typer.Option(
        "--strict", help="A kink fails even where the analytic value is a valid "
                         "subgradient.")] = False,
    points: Annotated[int | None, typer.Option(
        "--points", help="Check at N random points (reproducible with --seed) drawn from "
                         "--domain; --at then fixes the variables it names.",
        show_default=False)] = None,
    seed: Annotated[int, typer.Option("--seed", help="The seed of --points.")] = 0,
    domain: Annotated[str | None, typer.Option(
        "--domain", help="Where --points samples each variable, e.g. x=-3:3,a=0.1:2 "
                         "(default -2:2).", show_default=False)] = None,
    order: Annotated[int, typer.Option(
        "--order", help="2 also checks every second derivative and the Hessian's "
                        "symmetry.")] = 1,
    sweep: Annotated[bool, typer.Option(
        "--sweep", help="Also show the error of the central difference against the step h, "
                        "decade by decade (in the table, and under 'sweep' in JSON).")] = False,
    full_limit: Annotated[int, typer.Option(
        "--full-limit", help="An array variable of up to this many entries is checked entry "
                             "by entry; a larger one along --probes random directions.")] = 2000,
    probes: Annotated[int, typer.Option(
        "--probes", help="How many random directions check an array above --full-limit (a "
                         "failing one is bisected down to the wrong entries; seeded by "
                         "--seed).")] = 8,
    junit: Annotated[str | None, typer.Option(
        "--junit", help="Also write a JUnit XML report to FILE, one test case per point and "
                        "variable.", show_default=False, metavar="FILE")] = None,
    of: OfOption = None,
    max_memory: MemoryOption = DEFAULT_MEMORY,
    format: FormatOption = None,  # noqa: A002
) -> None:
    """Check the gradient of EXPRESSION at each --at point against a numerical reference.

    Verdicts: pass, fail, inconclusive (the reference cannot decide), kink (a valid subgradient
    passes), unconnected (confirmed 0). Exit code 0 all pass, 1 any fail, 3 inconclusive.

    EXPRESSION may be a model spec file (FILE.grad): every entry of every param is checked
    (up to --full-limit per param; random directions above it).

    Examples: gradcli check "x**2*sin(x)" --at x=2 --grad x=1.9726;  gradcli check
    examples/mlp.grad
    """
    from gradcli.checking import Options, check_function, work
    from gradcli.points import read_point

    at_points = _points(at if points is None or not at else at[:1])
    function = _function(expression, at_points, of, max_memory)
    claimed = read_point(grad_) if grad_ is not None else None
    names = _names(wrt)
    options = Options(method.value, rtol, atol, eps, strict, order, sweep, full_limit, probes,
                      seed).resolved()
    fmt = _format(format)
    progress = None
    if fmt is Format.table and sys.stderr.isatty():
        from gradcli import render

        total = points or sum(work(function, point, names, options) for point, _ in at_points)
        progress = render.DelayedProgress(total, "checking")
    tick = progress.advance if progress is not None else None
    try:
        if points is None:
            reports = _at_each_point(at_points, lambda point: check_function(
                function, point, options, claimed, names, tick), tick)
        else:
            reports = _sampled(function, options, claimed, names, at, points, seed, domain, tick)
    finally:
        if progress is not None:
            progress.close()
    _emit(reports, fmt, table=lambda render: render.check_tables)
    if junit is not None:
        from gradcli.junit import write_junit

        try:
            write_junit(junit, reports, strict)
        except OSError as error:
            raise UsageError(f"cannot write the JUnit report to {junit}: {error.strerror}") \
                from None
    codes = {report.exit_code for report in reports}
    raise typer.Exit(1 if 1 in codes else 3 if 3 in codes else 0)


def _sampled(function, options, claimed, names, at, count, seed, domain_text, progress) -> list:
    """Checks at `count` random points; how many were skipped as not finite, on stderr."""
    from gradcli.checking import check_random
    from gradcli.points import read_domain, read_point

    if at and len(at) > 1:
        raise UsageError("with --points, give at most one --at (the variables it fixes)")
    fixed = read_point(at[0]) if at else {}
    domain = read_domain(domain_text) if domain_text else {}
    reports, skipped = check_random(function, count, seed, domain, fixed, options, claimed, names,
                                    progress)
    if skipped:
        print(f"gradcli: warning: skipped {skipped} of {count} points where the value or the "
              "gradient is not finite", file=sys.stderr)
    return reports


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
        for entry in entries:
            print(json.dumps(entry.to_dict(), ensure_ascii=False))
    else:
        for entry in entries:
            rules = "; ".join(f"d/d{p} = {r}" if r is not None else f"d/d{p}: no gradient"
                              for p, r in entry.derivatives.items())
            aliases = f" (aliases: {', '.join(entry.function.aliases)})" if entry.function.aliases else ""
            print(f"{entry.function.signature}{aliases}: {rules}")


def run() -> None:
    """The console-script entry point."""
    app()
