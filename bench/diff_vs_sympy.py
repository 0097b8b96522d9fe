#!/usr/bin/env python3
"""How do `gradcli diff`'s derivatives compare with SymPy's, in time and in size?

Run from the repository root (gradcli installed, e.g. `pip install -e '.[test]'`, which brings
SymPy):

    python bench/diff_vs_sympy.py                       # the default table, about a minute
    python bench/diff_vs_sympy.py --sizes 5,10,20 --repeats 5
    python bench/diff_vs_sympy.py --json > diff.json

Three families of expressions of one variable x, each at sizes n (default 5 ... 160):

- product:      sin(1*x)*sin(2*x)*...*sin(n*x)            n distinct factors
- composition:  sin(cos(sin(...(x)...)))                   nesting depth n
- products of compositions: sin(cos(1*x))*...*sin(cos(n*x))

For each, the first derivative d/dx is computed

- by gradcli: `parse` + `symbolic.derivatives` + the text (what `gradcli diff` prints), and again
  with `let=True` (`gradcli diff --let`: each repeated subexpression printed once);
- by SymPy: the expression built from SymPy objects (no parsing: Python's parser caps nesting
  near 200) + `sympy.diff` + `str()` of the result, and `sympy.cse` of the result (SymPy's
  counterpart of --let).

Times are medians of --repeats runs in this one process (one run when a run takes over a second);
SymPy's cache is cleared before each of its runs. Sizes: characters of the text (with --let /
cse: the bindings included), gradcli's distinct nodes (`ancestors` of the derivative) and SymPy's
`count_ops`. A case of a tool that takes more than --cap seconds is the last size that tool runs
for that family; an exception (SymPy's RecursionError on deep nesting) is shown in the table and
ends that family for SymPy. Both derivatives are evaluated at x = 0.3 and compared (relative
1e-9), so that the table compares the same derivative.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import gradcli
from gradcli.api import parse
from gradcli.graph import ancestors
from gradcli.symbolic import derivatives

POINT = 0.3


# ---------------------------------------------------------------------------------------------
# The families: gradcli text, and the same expression built from SymPy objects


def product_text(n: int) -> str:
    return "*".join(f"sin({k}*x)" for k in range(1, n + 1))


def composition_text(n: int) -> str:
    text = "x"
    for k in range(n):
        text = f"{'sin' if k % 2 == 0 else 'cos'}({text})"
    return text


def product_of_compositions_text(n: int) -> str:
    return "*".join(f"sin(cos({k}*x))" for k in range(1, n + 1))


def product_sympy(sp, x, n: int):
    return sp.Mul(*(sp.sin(k * x) for k in range(1, n + 1)))


def composition_sympy(sp, x, n: int):
    expr = x
    for k in range(n):
        expr = (sp.sin if k % 2 == 0 else sp.cos)(expr)
    return expr


def product_of_compositions_sympy(sp, x, n: int):
    return sp.Mul(*(sp.sin(sp.cos(k * x)) for k in range(1, n + 1)))


FAMILIES: dict[str, tuple[Callable, Callable]] = {
    "product": (product_text, product_sympy),
    "composition": (composition_text, composition_sympy),
    "product of compositions": (product_of_compositions_text, product_of_compositions_sympy),
}


# ---------------------------------------------------------------------------------------------
# Measuring


@dataclass
class Measure:
    seconds: float | None = None
    chars: int | None = None
    size: int | None = None  # gradcli: distinct nodes; SymPy: count_ops
    value: float | None = None
    error: str | None = None


def timed(run: Callable[[], object], repeats: int, before: Callable[[], None] = lambda: None):
    """(median seconds, last result) of `repeats` runs; one run when it takes over a second."""
    times, result = [], None
    for _ in range(repeats):
        before()
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
        if times[-1] > 1.0:
            break
    return statistics.median(times), result


def measure_gradcli(text: str, let: bool, repeats: int) -> Measure:
    def run():
        result = derivatives(parse(text), let=let)
        return result, result.to_text()

    seconds, (result, shown) = timed(run, repeats)
    (node,) = result.nodes
    size = len(ancestors([node]))
    value = None
    if not let:
        value = float(parse(shown)(x=POINT))
    return Measure(seconds, len(shown), size, value)


def measure_sympy(sp, build: Callable, n: int, repeats: int, cse: bool) -> Measure:
    from sympy.core.cache import clear_cache

    x = sp.Symbol("x")

    def run():
        derivative = sp.diff(build(sp, x, n), x)
        if cse:
            replacements, reduced = sp.cse(derivative)
            shown = "\n".join([*(f"{name} = {value}" for name, value in replacements),
                               *(str(expr) for expr in reduced)])
        else:
            shown = str(derivative)
        return derivative, shown

    try:
        seconds, (derivative, shown) = timed(run, repeats, clear_cache)
    except RecursionError:
        return Measure(error="RecursionError")
    size = None if cse else int(sp.count_ops(derivative))
    value = None if cse else float(derivative.evalf(20, subs={x: POINT}))
    return Measure(seconds, len(shown), size, value)


@dataclass
class Row:
    family: str
    n: int
    gradcli: Measure
    gradcli_let: Measure
    sympy: Measure | None
    sympy_cse: Measure | None
    agree: bool | None


def run(sizes: list[int], repeats: int, cap: float, cse: bool, families: list[str],
        progress: bool) -> list[Row]:
    import sympy as sp

    rows = []
    for family in families:
        make_text, build = FAMILIES[family]
        gradcli_on, sympy_on = True, True
        for n in sizes:
            if not (gradcli_on or sympy_on):
                break
            text = make_text(n)
            plain = measure_gradcli(text, False, repeats) if gradcli_on else Measure(error="skipped")
            let = measure_gradcli(text, True, repeats) if gradcli_on else Measure(error="skipped")
            theirs = measure_sympy(sp, build, n, repeats, False) if sympy_on else None
            theirs_cse = (measure_sympy(sp, build, n, repeats, True)
                          if sympy_on and cse and theirs.error is None else None)
            agree = None
            if plain.value is not None and theirs is not None and theirs.value is not None:
                agree = math.isclose(plain.value, theirs.value, rel_tol=1e-9, abs_tol=1e-300)
            rows.append(Row(family, n, plain, let, theirs, theirs_cse, agree))
            if progress:
                print(f"  {family} n={n} done", file=sys.stderr, flush=True)
            gradcli_on = gradcli_on and max(plain.seconds or 0, let.seconds or 0) <= cap
            sympy_on = sympy_on and theirs is not None and theirs.error is None and \
                max(theirs.seconds or 0, theirs_cse.seconds if theirs_cse else 0) <= cap
    return rows


# ---------------------------------------------------------------------------------------------
# The table


def _ms(m: Measure | None) -> str:
    if m is None:
        return "-"
    if m.error:
        return m.error
    return f"{m.seconds * 1e3:.1f}"


def _int(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2g}"


def table(rows: list[Row]) -> str:
    head = ["family", "n", "gradcli ms", "--let ms", "SymPy ms", "cse ms", "time ratio",
            "gradcli chars", "--let chars", "SymPy chars", "cse chars", "chars ratio",
            "let/cse chars", "gradcli nodes", "SymPy ops", "agree"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 3) + ":---:|"]
    for row in rows:
        ours, let, theirs, cse = row.gradcli, row.gradcli_let, row.sympy, row.sympy_cse
        ok = lambda m: m is not None and m.error is None  # noqa: E731
        cells = [
            row.family, str(row.n), _ms(ours), _ms(let), _ms(theirs), _ms(cse),
            _ratio(ours.seconds, theirs.seconds) if ok(theirs) else "-",
            _int(ours.chars), _int(let.chars),
            _int(theirs.chars) if ok(theirs) else "-", _int(cse.chars) if ok(cse) else "-",
            _ratio(ours.chars, theirs.chars) if ok(theirs) else "-",
            _ratio(let.chars, cse.chars) if ok(cse) else "-",
            _int(ours.size), _int(theirs.size) if ok(theirs) else "-",
            {True: "yes", False: "**NO**", None: "-"}[row.agree],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="5,10,20,40,80,160",
                        help="comma-separated n (default: 5,10,20,40,80,160)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per case; the median is shown")
    parser.add_argument("--cap", type=float, default=10.0,
                        help="seconds: a tool slower than this on a case skips the larger n")
    parser.add_argument("--no-cse", action="store_true", help="leave out sympy.cse")
    parser.add_argument("--families", default=",".join(FAMILIES),
                        help=f"comma-separated, of: {', '.join(FAMILIES)}")
    parser.add_argument("--json", action="store_true", help="every number as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    try:
        import sympy
    except ImportError:
        print("this benchmark needs SymPy: python3 -m pip install sympy", file=sys.stderr)
        return 2
    sizes = [int(n) for n in args.sizes.split(",")]
    families = [name.strip() for name in args.families.split(",")]
    unknown = [name for name in families if name not in FAMILIES]
    if unknown:
        parser.error(f"unknown families {unknown}; choose from {list(FAMILIES)}")
    start = time.perf_counter()
    rows = run(sizes, args.repeats, args.cap, not args.no_cse, families, not args.quiet)
    elapsed = time.perf_counter() - start
    if args.json:
        print(json.dumps({"gradcli": gradcli.__version__, "sympy": sympy.__version__,
                          "python": platform.python_version(),
                          "rows": [asdict(row) for row in rows]}))
    else:
        print(f"gradcli {gradcli.__version__}, SymPy {sympy.__version__}, "
              f"Python {platform.python_version()}; d/dx at sizes {args.sizes}, median of "
              f"{args.repeats} runs, cap {args.cap:g} s")
        print()
        print(table(rows))
        print()
        print("ratios are gradcli / SymPy (time: gradcli text vs SymPy str; chars: the same; "
              "let/cse chars: --let text vs cse text)")
        print(f"time: {elapsed:.1f} s")
    return 1 if any(row.agree is False for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
