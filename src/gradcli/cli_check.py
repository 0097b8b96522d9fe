"""`gradcli check`: the gradient against a numerical reference, at points or sampled ones."""

from __future__ import annotations

import enum
import re
import sys
from typing import Annotated

import typer

from gradcli.cli_common import (
    BROKEN_PIPE,
    DEFAULT_MEMORY,
    EXPRESSION_HELP,
    AtOption,
    Format,
    MemoryOption,
    OfOption,
    _at_each_point,
    _bytes,
    _emit,
    _errors_to_exit_codes,
    _format,
    _function,
    _names,
    _points,
    is_spec,
)
from gradcli.errors import GradcliError, UsageError

MAX_POINTS = 100_000  # --points: each is a check of its own, with a report line


class CheckFormat(str, enum.Enum):
    table = "table"
    json = "json"
    plain = "plain"
    github = "github"


class Mode(str, enum.Enum):
    entries = "entries"
    probes = "probes"


class Method(str, enum.Enum):
    ridders = "ridders"
    central = "central"
    complex = "complex"
    mpmath = "mpmath"


@_errors_to_exit_codes
def check(
    expressions: Annotated[list[str], typer.Argument(
        help=EXPRESSION_HELP + " Several rule files (FILE.grad with rules) or Python files may "
                               "be given at once (as pre-commit does).", show_default=False,
        metavar="EXPRESSION")],
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
    max_points: Annotated[int, typer.Option(
        "--max-points", help="Refuse --points above this many.", metavar="N")] = MAX_POINTS,
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
    mode: Annotated[Mode, typer.Option(
        "--mode", help="entries: every derivative (entry of an array) checked on its own. "
                       "probes: the whole gradient along --probes random directions through "
                       "every variable at once, one central difference each: 2K+1 evaluations "
                       "and one backward pass in all (`evaluations` in JSON); a failing "
                       "direction does not say which entry is wrong.")] = Mode.entries,
    probes: Annotated[int, typer.Option(
        "--probes", help="How many random directions: those of an array above --full-limit (a "
                         "failing one is bisected down to the wrong entries), or K of --mode "
                         "probes. Seeded by --seed.")] = 8,
    junit: Annotated[str | None, typer.Option(
        "--junit", help="Also write a JUnit XML report to FILE, one test case per point and "
                        "variable.", show_default=False, metavar="FILE")] = None,
    rules_only: Annotated[bool, typer.Option(
        "--rules-only", help="Check only rules and check statements: a spec without any is "
                             "skipped, as are several files given at once (pre-commit).")] = False,
    of: OfOption = None,
    max_memory: MemoryOption = DEFAULT_MEMORY,
    format: Annotated[CheckFormat | None, typer.Option(  # noqa: A002
        "--format", help="Output format: table (default on a terminal), json (one object per "
                         "point, or per rule, per line), plain (default otherwise), or github "
                         "(GitHub Actions annotations on the failing lines).",
        show_default=False)] = None,
) -> None:
    """Check the gradient of EXPRESSION at each --at point against a numerical reference.

    Verdicts: pass, fail, inconclusive (the reference cannot decide), kink (a valid subgradient
    passes), unconnected (confirmed 0). Exit code 0 all pass, 1 any fail, 3 inconclusive, 2
    bad input.

    EXPRESSION may be a model spec file (FILE.grad): every entry of every param is checked
    (up to --full-limit per param; random directions above it). A spec with derivative rules
    (grad, vjp) or check statements has those checked instead: each rule against its def at
    --points points (default 10) sampled from its domain.

    EXPRESSION may be a Python file (path/to/ops.py) or module (pkg.ops): every function it
    defines with @custom_vjp is checked against its VJP. Importing it runs its code, as pytest
    does: check only code you trust.

    Examples: gradcli check "x**2*sin(x)" --at x=2 --grad x=1.9726;  gradcli check
    examples/mlp.grad;  gradcli check examples/rules.grad --format github
    """
    from gradcli.checking import Options, check_function, work
    from gradcli.points import read_point

    if points is not None and not 1 <= points <= max_points:
        raise UsageError(f"--points takes 1 to {max_points:,} points, not {points:,}"
                         + (" (raise the limit with --max-points)" if points > max_points else ""))

    options = Options(method.value, rtol, atol, eps, strict, order, sweep, full_limit, probes,
                      seed, mode.value)
    fmt = format if format is not None else CheckFormat(_format(None).value)
    # the options of an expression's or a model's check, which rules do not take
    given = [name for name, value in (("--at", at), ("--wrt", wrt), ("--grad", grad_),
                                      ("--domain", domain), ("--of", of), ("--sweep", sweep))
             if value] + (["--order 2"] if order != 1 else []) + \
        (["--mode probes"] if mode is Mode.probes else [])
    if len(expressions) > 1 or rules_only:
        _check_files(expressions, options, points, seed, max_memory, fmt, junit, strict, given)
    expression = expressions[0]
    mode, spec = _mode(expression, _bytes(max_memory))
    if mode is not None:
        if given:
            where = ("domain and check statements" if mode == "rules"
                     else "custom_vjp(shapes=..., domain=...)")
            also = (f"; to check the model's gradient, add a statement such as `check "
                    f"NAME at x=1` to {expression}" if mode == "rules" else "")
            raise UsageError(f"{given[0]} is not for checking rules: their points come from "
                             f"their {where}{also}")
        reports = _rules(expression, mode, spec, options, points, seed, max_memory)
        _emit_checks(reports, fmt, junit, strict, tables="rule_tables")
        return
    at_points = _points(at if points is None or not at else at[:1])
    function = _function(expression, at_points, of, max_memory, spec)
    claimed = read_point(grad_, option="--grad") if grad_ is not None else None
    names = _names(wrt)
    options = options.resolved()
    progress = None
    if fmt is CheckFormat.table and sys.stderr.isatty():
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
    _emit_checks(reports, fmt, junit, strict, tables="check_tables")


def _check_files(targets: list[str], options, points, seed, max_memory: str, fmt, junit,
                 strict: bool, given: list[str]) -> None:
    """Several rule files or Python files (or --rules-only): each checked on its own, a file
    with nothing to check skipped and a file with an error reported, and the others checked
    all the same; the exit code is the worst, 2 (an error) over 1 over 3 over 0."""
    if given:
        raise UsageError(f"{given[0]} is not for checking several files or rules")
    reports, failed = [], False
    for target in targets:
        try:
            mode, spec = _mode(target, _bytes(max_memory))
            if mode is None:
                if not is_spec(target):
                    raise UsageError(f"{target!r} is not a spec (FILE.grad) or a Python file: "
                                     "several arguments are checked as files of rules")
                print(f"gradcli: {target}: no rules or check statements, skipped",
                      file=sys.stderr)
                continue
            reports += _rules(target, mode, spec, options, points, seed, max_memory)
        except GradcliError as error:
            print(f"gradcli: error: {error}", file=sys.stderr)
            failed = True
    if reports:
        try:
            _emit_checks(reports, fmt, junit, strict, tables="rule_tables")
        except typer.Exit as done:
            raise typer.Exit(2 if failed else done.exit_code) from None
    raise typer.Exit(2 if failed else 0)


def _emit_checks(reports: list, fmt: CheckFormat, junit: str | None, strict: bool,
                 tables: str) -> None:
    """The reports in the format, the JUnit file, and the exit code of the worst verdict: that
    code and the JUnit file even when the reader of stdout has left before the end."""
    codes = {report.exit_code for report in reports}
    code = 1 if 1 in codes else 3 if 3 in codes else 0
    try:
        if fmt is CheckFormat.github:
            from gradcli.annotations import github_lines

            for warning in (w for report in reports for w in report.warnings):
                print(f"gradcli: warning: {warning}", file=sys.stderr)
            print("\n".join(github_lines(reports)))
        else:
            _emit(reports, Format(fmt.value), table=lambda render: getattr(render, tables))
    except BrokenPipeError:
        code = code or BROKEN_PIPE
    if junit is not None:
        from gradcli.junit import write_junit

        try:
            write_junit(junit, reports, strict)
        except OSError as error:
            raise UsageError(f"cannot write the JUnit report to {junit}: {error.strerror}") \
                from None
    raise typer.Exit(code)


_MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")


def _mode(argument: str, max_memory: float):
    """('rules' for a spec with rules or check statements, 'python' for a Python file or
    module (pkg.ops, a dotted name that is no transpose x.T), None otherwise; and the spec,
    read once here for whoever checks it, or None)."""
    if is_spec(argument):
        from gradcli.rule_files import has_rules
        from gradcli.spec import read_spec

        spec = read_spec(argument, max_memory=max_memory)
        return ("rules" if has_rules(spec) else None), spec
    if argument.endswith(".py") and "\n" not in argument:
        return "python", None
    if _MODULE.fullmatch(argument) and not argument.endswith(".T"):
        return "python", None
    return None, None


def _rules(target: str, mode: str, spec, options, count: int | None, seed: int,
           max_memory: str) -> list:
    """The reports of every rule of a spec, or of every custom_vjp of a Python module."""
    from gradcli.rules import DEFAULT_POINTS, check_target

    count = DEFAULT_POINTS if count is None else count
    if mode == "rules":
        from gradcli.rule_files import check_file

        return check_file(target, options, count, seed, _bytes(max_memory), spec)
    from gradcli.python_rules import load

    _, functions = load(target)
    if options.method == "mpmath":
        raise UsageError("--method mpmath evaluates a definition written in a spec; a Python "
                         "function runs in float64 (use ridders, central or complex)")
    return [check_target(function.target(), options, count, seed) for function in functions]


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

