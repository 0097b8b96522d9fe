"""Every function and every primitive row against an independent reference.

The reference is mpmath at 50 significant digits: each function is written there as the
mathematics it is (never as gradcli's rule), and its derivatives are mpmath's own numerical
derivatives (`mpmath.diff`) of that definition. gradcli's value, every first partial derivative
and every second partial (mixed ones in both orders) are compared with it at several points of
the function's domain, away from kinks and singularities.

The tests are generated from the tables they check:

- `test_function` runs once per entry of `gradcli.functions.FUNCTIONS`, so a new function
  without an entry in `REFERENCES` fails, by name;
- `test_primitive_is_covered` runs once per row of `gradcli.ops.PRIMITIVES`, and fails for a
  row that no reference expression (nor any of their first or second derivatives) uses;
- the operators (+ - * / ** unary minus, comparisons) have references of their own in
  `OPERATOR_REFERENCES`.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import mpmath
import pytest

import gradcli
from gradcli.functions import FUNCTIONS as ALL_FUNCTIONS
from gradcli.functions import REQUIRED
from gradcli.ops import PRIMITIVES as ALL_PRIMITIVES

# Functions of numbers and the elementwise rows; the functions and operations along the axes of
# arrays are checked in tests/test_tensors.py (against mpmath over arrays of several shapes).
FUNCTIONS = [entry for entry in ALL_FUNCTIONS if not entry.on_arrays]
PRIMITIVES = [primitive for primitive in ALL_PRIMITIVES if primitive.elementwise]

DPS = 50  # working precision of the reference: 50 digits, far beyond float64's 16

# Tolerance: |gradcli - reference| <= RTOL*|reference| + ATOL.
#
# The reference is exact to far more digits than float64 has, so the whole difference is
# gradcli's own rounding: a few units in the last place (2.2e-16) per operation, times the
# condition number of the function at the point. 1e-12 leaves several thousand ulps of slack,
# which the points below (away from singularities) do not approach, while a wrong rule (a wrong
# factor, sign, branch or argument) is off by far more. (Measured: below 1e-14 for almost every
# row, scipy's special functions included.) One row is given the 1e-9, with the reason
# beside it.
#
# ATOL = 1e-40 absorbs the reference's own noise where the true derivative is 0 (mpmath.diff at
# 50 digits returns such a zero as ~1e-60) and references too small for float64 to hold
# (exp(-800) is 0.0 in float64); it is 18 orders below the smallest value at the points of the
# tables (softplus''(50) = 1.9e-22), so it forgives no wrong number there. The special cases at
# the end, whose values can be tiny, use a smaller one.
RTOL = 1e-12
ATOL = 1e-40


@dataclass(frozen=True)
class Reference:
    """One function of the table, as mpmath computes it.

    `function` takes the parameters in the order of the signature; an optional parameter has a
    Python default that states the documented default independently of gradcli (log's base
    defaults to None, meaning the natural logarithm). Each point gives every parameter.
    `no_gradient` names the parameters that carry no gradient (derivative() must be None).
    """

    function: Callable[..., mpmath.mpf]
    points: tuple[tuple[float, ...], ...]
    no_gradient: tuple[str, ...] = ()
    rtol: float = RTOL


def ref(function, *points, no_gradient=(), rtol=RTOL) -> Reference:
    """A reference; a point given as a bare number is the point of a one-argument function."""
    points = tuple(p if isinstance(p, tuple) else (p,) for p in points)
    return Reference(function, points, tuple(no_gradient), rtol)


M = mpmath  # the functions of the references are all mpmath's


def _log(x, base=None):
    return M.log(x) if base is None else M.log(x, base)


def _cbrt(x):
    """The real cube root (mpmath's cbrt is the principal, complex, root for x < 0)."""
    return M.sign(x) * M.cbrt(abs(x))


def _elu(x, alpha=1):
    return x if x > 0 else alpha * M.expm1(x)


def _leaky_relu(x, slope=0.01):
    return x if x > 0 else slope * x


REFERENCES: dict[str, Reference] = {
    # trigonometric
    "sin": ref(M.sin, -2.5, -0.4, 0.3, 1.2, 10.0),
    "cos": ref(M.cos, -2.5, -0.4, 0.3, 1.2, 10.0),
    "tan": ref(M.tan, -1.2, -0.4, 0.3, 1.4, 4.0),
    "sec": ref(M.sec, -1.2, 0.3, 2.0, 4.0),
    "csc": ref(M.csc, -2.0, 0.3, 1.2, 3.0),
    "cot": ref(M.cot, -2.0, 0.3, 1.2, 3.0),
    "asin": ref(M.asin, -0.9, -0.3, 0.2, 0.7, 0.99),
    "acos": ref(M.acos, -0.9, -0.3, 0.2, 0.7, 0.99),
    "atan": ref(M.atan, -5.0, -0.5, 0.3, 3.0),
    "atan2": ref(M.atan2, (1.0, 2.0), (1.0, -2.0), (-1.0, -2.0), (-0.5, 0.3), (2.0, 0.0)),
    # hyperbolic
    "sinh": ref(M.sinh, -3.0, -0.5, 0.7, 4.0),
    "cosh": ref(M.cosh, -3.0, -0.5, 0.7, 4.0),
    "tanh": ref(M.tanh, -3.0, -0.5, 0.7, 4.0),
    "asinh": ref(M.asinh, -10.0, -0.5, 0.3, 5.0),
    "acosh": ref(M.acosh, 1.1, 2.0, 10.0, 1e3),
    "atanh": ref(M.atanh, -0.9, -0.2, 0.5, 0.95),
    # exponential and logarithmic
    "exp": ref(M.exp, -3.0, 0.5, 2.0, 10.0, 100.0),
    "exp2": ref(lambda x: M.power(2, x), -3.0, 0.5, 2.0, 10.0),
    "expm1": ref(M.expm1, -2.0, -0.01, 0.5, 3.0),
    "log": ref(_log, (0.1, 2.0), (1.5, 10.0), (7.0, 0.5), (100.0, 3.0)),
    "log2": ref(lambda x: M.log(x, 2), 0.1, 1.5, 7.0, 1e3),
    "log10": ref(M.log10, 0.1, 1.5, 7.0, 1e3),
    "log1p": ref(M.log1p, -0.5, 0.01, 2.0, 50.0),
    "logaddexp": ref(lambda a, b: M.log(M.exp(a) + M.exp(b)),
                     (0.0, 0.0), (1.0, -2.0), (-3.0, 5.0), (100.0, 101.0), (-800.0, -801.0)),
    # powers and roots
    "pow": ref(M.power, (2.0, 3.0), (0.5, -1.5), (3.0, 0.5), (1.5, 2.2), (10.0, -0.5)),
    "sqrt": ref(M.sqrt, 0.01, 1.0, 2.0, 100.0),
    "cbrt": ref(_cbrt, -8.0, -0.3, 0.5, 27.0),
    "square": ref(lambda x: x * x, -3.0, -0.5, 0.7, 2.0),
    "reciprocal": ref(lambda x: 1 / x, -3.0, -0.5, 0.7, 2.0),
    # d2/dy2 hypot = x**2/h**3 is built by reverse mode as 1/h - y**2/h**3, which cancels when
    # |x| << |y|: relative error ~ 1e-16*(y/x)**2, 1.2e-10 at (1e-3, -2). Hence the 1e-9.
    "hypot": ref(M.hypot, (3.0, 4.0), (-1.0, 0.5), (1e-3, -2.0), (0.0, 1.0), rtol=1e-9),
    # piecewise
    "abs": ref(M.fabs, -2.0, -0.3, 0.4, 5.0),
    "sign": ref(M.sign, -2.0, 0.0, 3.0, no_gradient=("x",)),
    "floor": ref(M.floor, -2.5, -0.3, 0.7, 3.2, 4.0, no_gradient=("x",)),
    "ceil": ref(M.ceil, -2.5, -0.3, 0.7, 3.2, 4.0, no_gradient=("x",)),
    "round": ref(M.nint, -2.5, -0.3, 0.5, 1.5, 2.7, no_gradient=("x",)),  # nint: halves to even
    # max(a) of a number is a itself (the reduction over no axis)
    "max": ref(lambda a, b=None: a if b is None else max(a, b), (1.0, 2.0), (3.0, -1.0),
               (-0.5, -0.7)),
    "min": ref(lambda a, b=None: a if b is None else min(a, b), (1.0, 2.0), (3.0, -1.0),
               (-0.5, -0.7)),
    "clip": ref(lambda x, lo, hi: min(max(x, lo), hi),
                (0.5, 0.0, 1.0), (-2.0, -1.0, 1.0), (3.0, -1.0, 2.0), (0.2, -0.5, 0.5)),
    "where": ref(lambda cond, a, b: a if cond != 0 else b,
                 (1.0, 2.0, 3.0), (0.0, 2.0, 3.0), (-0.5, -1.0, 4.0), (2.0, 0.3, -0.7),
                 no_gradient=("cond",)),
    "relu": ref(lambda x: max(x, 0), -2.0, -0.1, 0.3, 5.0),
    # activations
    "sigmoid": ref(lambda x: 1 / (1 + M.exp(-x)), -30.0, -5.0, -0.5, 0.8, 6.0, 30.0),
    "softplus": ref(lambda x: M.log1p(M.exp(x)), -30.0, -0.5, 0.5, 10.0, 50.0),
    "log_sigmoid": ref(lambda x: M.log(1 / (1 + M.exp(-x))), -50.0, -10.0, -0.5, 0.5, 30.0),
    "silu": ref(lambda x: x / (1 + M.exp(-x)), -20.0, -2.0, -0.3, 0.5, 4.0),
    "gelu": ref(lambda x: x * M.ncdf(x), -6.0, -0.5, 0.7, 3.0),
    "elu": ref(_elu, (-2.0, 1.5), (-0.3, 0.5), (0.4, 2.0), (3.0, 1.0)),
    "leaky_relu": ref(_leaky_relu, (-2.0, 0.2), (-0.3, 0.05), (0.4, 0.3), (3.0, 0.1)),
    # special
    "erf": ref(M.erf, -2.0, -0.3, 0.5, 1.5, 4.0),
    "erfc": ref(M.erfc, -2.0, -0.3, 0.5, 1.5, 4.0, 10.0),
    "gamma": ref(M.gamma, -1.5, 0.5, 1.7, 4.5, 10.0),
    "lgamma": ref(lambda x: M.log(abs(M.gamma(x))), -2.5, 0.3, 2.5, 30.0),
    "digamma": ref(M.digamma, -1.5, 0.5, 2.0, 10.0),
    "polygamma": ref(lambda n, x: M.psi(int(n), x),
                     (0.0, 0.5), (1.0, 2.0), (2.0, 3.5), (3.0, 0.7), (1.0, -1.5),
                     no_gradient=("n",)),
}


# ---------------------------------------------------------------------------------------------
# Cases: an expression, its variables, its reference and its points


@dataclass(frozen=True)
class Case:
    expression: str
    variables: tuple[str, ...]
    reference: Callable[..., mpmath.mpf]
    points: tuple[tuple[float, ...], ...]
    no_gradient: frozenset[str] = field(default_factory=frozenset)
    rtol: float = RTOL
    atol: float = ATOL
    dps: int = DPS


def case(expression, variables, reference, *points, no_gradient=(), rtol=RTOL, atol=ATOL,
         dps=DPS):
    points = tuple(p if isinstance(p, tuple) else (p,) for p in points)
    return Case(expression, tuple(variables.split()), reference, points,
                frozenset(no_gradient), rtol, atol, dps)


def function_cases(entry) -> list[Case]:
    """The forms of a function's call that are checked, built from its signature.

    With every parameter given (optional ones by keyword: `elu(x, alpha=alpha)`), and, when the
    function has optional parameters, with the required ones only (`elu(x)`), which checks the
    defaults against the reference's own.
    """
    reference = REFERENCES[entry.name]
    params = [(p, d) for p, d in zip(entry.params, entry.defaults, strict=True)
              if p not in entry.static]  # settings (axis=...) are tested with arrays
    required = [p for p, d in params if d is REQUIRED]
    optional = [p for p, d in params if d is not REQUIRED]
    assert [p for p, _ in params[:len(required)]] == required, "required parameters come first"
    arguments = required + [f"{p}={p}" for p in optional]
    common = dict(reference=reference.function, rtol=reference.rtol)
    cases = [Case(f"{entry.name}({', '.join(arguments)})", tuple(required + optional),
                  points=reference.points, no_gradient=frozenset(reference.no_gradient),
                  **common)]
    if optional:
        points = tuple(dict.fromkeys(p[:len(required)] for p in reference.points))
        cases.append(Case(f"{entry.name}({', '.join(required)})", tuple(required), points=points,
                          no_gradient=frozenset(reference.no_gradient) & set(required), **common))
    return cases


XY = ((1.5, -2.25), (-0.7, 0.3), (1e3, 3e-3), (-4.0, -8.0))
XY_POSITIVE = ((2.0, 3.0), (0.5, -1.5), (3.0, 0.5), (1.5, 2.2), (10.0, -0.5))
COMPARED = ((1.0, 2.0), (2.0, 1.0), (1.5, 1.5), (-0.5, 3.0))

OPERATOR_REFERENCES: dict[str, Case] = {
    "add": case("x + y", "x y", lambda x, y: x + y, *XY),
    "sub": case("x - y", "x y", lambda x, y: x - y, *XY),
    "mul": case("x * y", "x y", lambda x, y: x * y, *XY),
    "div": case("x / y", "x y", lambda x, y: x / y, *XY),
    "neg": case("-x", "x", lambda x: -x, -2.0, 0.5, 3.0),
    "pow": case("x ** y", "x y", M.power, *XY_POSITIVE),
    "pow-caret": case("x ^ y", "x y", M.power, *XY_POSITIVE),
    "pow-integer-exponent": case("x ** 3", "x", lambda x: x**3, -1.5, 0.5, 2.0),
    "pow-negative-exponent": case("x ** -2", "x", lambda x: x**-2, -1.5, 0.5, 2.0),
    "lt": case("x < y", "x y", lambda x, y: M.mpf(x < y), *COMPARED, no_gradient=("x", "y")),
    "le": case("x <= y", "x y", lambda x, y: M.mpf(x <= y), *COMPARED, no_gradient=("x", "y")),
    "gt": case("x > y", "x y", lambda x, y: M.mpf(x > y), *COMPARED, no_gradient=("x", "y")),
    "ge": case("x >= y", "x y", lambda x, y: M.mpf(x >= y), *COMPARED, no_gradient=("x", "y")),
    "eq": case("x == y", "x y", lambda x, y: M.mpf(x == y), *COMPARED, no_gradient=("x", "y")),
    "ne": case("x != y", "x y", lambda x, y: M.mpf(x != y), *COMPARED, no_gradient=("x", "y")),
    "where-of-comparison": case("where(x < y, x * y, y / x)", "x y",
                                lambda x, y: x * y if x < y else y / x,
                                (1.0, 2.0), (2.0, 1.0), (-0.5, 3.0), (3.0, -0.5)),
    "named-constants": case("pi * x + e", "x", lambda x: M.pi * x + M.e, -1.0, 2.5),
}


# ---------------------------------------------------------------------------------------------
# The check


@functools.cache
def built(expression: str):
    """The parsed function, its first partials and its second partials (both orders)."""
    f = gradcli.parse(expression)
    first = {v: f.derivative(v) for v in f.variables}
    second = {(v, w): (first[v].derivative(w) if first[v] is not None else None)
              for v in f.variables for w in f.variables}
    return f, first, second


def reference_value(case: Case, point: tuple[float, ...], path: tuple[str, ...]) -> mpmath.mpf:
    """The value (path ()) or the partial derivative along `path` of the reference, by mpmath.

    Only the parameters that carry a gradient are differentiated; the others stay fixed.
    """
    with mpmath.workdps(case.dps):
        at = [mpmath.mpf(v) for v in point]  # exact: every float64 is an mpf
        if not path:
            return case.reference(*at)
        free = [v for v in case.variables if v not in case.no_gradient]
        index = [case.variables.index(v) for v in free]

        def of_free(*values):
            args = list(at)
            for i, value in zip(index, values, strict=True):
                args[i] = value
            return case.reference(*args)

        orders = [path.count(v) for v in free]
        return mpmath.diff(of_free, [at[i] for i in index], orders)


def _close(got: float, expected: mpmath.mpf, rtol: float, atol: float) -> bool:
    with mpmath.workdps(DPS):
        return abs(mpmath.mpf(got) - expected) <= rtol * abs(expected) + atol


def _describe(path: tuple[str, ...]) -> str:
    if not path:
        return "value"
    return "d" + ("" if len(path) == 1 else str(len(path))) + "/" + "".join(f"d{v}" for v in path)


def check(case: Case) -> list[str]:
    """Every mismatch between gradcli and the reference, as lines of a failure message."""
    f, first, second = built(case.expression)
    assert set(f.variables) == set(case.variables), \
        f"{case.expression}: variables {f.variables}, expected {case.variables}"
    functions = {(): f, **{(v,): d for v, d in first.items()}, **second}
    problems = []
    for point in case.points:
        at = dict(zip(case.variables, point, strict=True))
        shown = ", ".join(f"{v}={x!r}" for v, x in at.items())
        for path, function in functions.items():
            where = f"{case.expression}: {_describe(path)} at {shown}"
            if case.no_gradient & set(path):
                if function is not None:
                    problems.append(f"{where}: expected no gradient (None), "
                                    f"got the function {function}")
                continue
            # None (unconnected) is a derivative that is zero everywhere: relu'' = 0.
            got = 0.0 if function is None else function(**at)
            expected = reference_value(case, point, path)
            if not _close(got, expected, case.rtol, case.atol):
                error = abs(mpmath.mpf(got) - expected) / abs(expected) if expected else None
                relative = f" (relative error {float(error):.2g})" if error is not None else ""
                problems.append(f"{where}: gradcli {got!r}, mpmath {float(expected)!r}"
                                f"{relative}")
    return problems


def assert_matches(case: Case) -> None:
    problems = check(case)
    assert not problems, f"{len(problems)} mismatch(es):\n" + "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# Tests generated from the tables


@pytest.mark.parametrize("entry", FUNCTIONS, ids=[entry.name for entry in FUNCTIONS])
def test_function(entry):
    """Value, first and second partials of every function, against mpmath."""
    assert entry.name in REFERENCES, (
        f"function '{entry.name}' ({entry.signature}) has no reference: add it to REFERENCES "
        f"in tests/test_primitives.py (an mpmath definition and points in its domain)")
    problems = [line for case in function_cases(entry) for line in check(case)]
    assert not problems, f"{len(problems)} mismatch(es):\n" + "\n".join(problems)


def test_references_name_functions():
    """No stale reference: every key of REFERENCES is a function of the table."""
    names = {entry.name for entry in FUNCTIONS}
    assert set(REFERENCES) <= names, f"references of unknown functions: {set(REFERENCES) - names}"


def test_references_cover_every_parameter():
    """Each reference point gives every parameter, so each parameter is differentiated."""
    for entry in FUNCTIONS:
        if entry.name in REFERENCES:
            dynamic = [p for p in entry.params if p not in entry.static]
            for point in REFERENCES[entry.name].points:
                assert len(point) == len(dynamic), f"{entry.signature}: point {point}"


@pytest.mark.parametrize("label", OPERATOR_REFERENCES)
def test_operator(label):
    """The operators, which are rows of the table but no named function, against mpmath."""
    assert_matches(OPERATOR_REFERENCES[label])


ALIASES = [(entry, alias) for entry in FUNCTIONS for alias in entry.aliases]


@pytest.mark.parametrize("entry, alias", ALIASES, ids=[alias for _, alias in ALIASES])
def test_alias(entry, alias):
    """An alias is the same function: same value, same first and second derivatives."""
    assert entry.name in REFERENCES, f"function '{entry.name}' has no reference points"
    for main in function_cases(entry):
        other = alias + main.expression[len(entry.name):]
        f, first, second = built(main.expression)
        g, first_g, second_g = built(other)
        pairs = [(f, g), *zip(first.values(), first_g.values(), strict=True),
                 *zip(second.values(), second_g.values(), strict=True)]
        assert list(first) == list(first_g) and list(second) == list(second_g)
        for point in main.points:
            at = dict(zip(main.variables, point, strict=True))
            for a, b in pairs:
                assert (a is None) == (b is None), f"{other} vs {main.expression}"
                if a is not None:
                    assert a(**at) == b(**at), f"{other} vs {main.expression} at {at}: {a} vs {b}"


def all_cases() -> list[Case]:
    cases = [c for entry in FUNCTIONS if entry.name in REFERENCES for c in function_cases(entry)]
    return cases + list(OPERATOR_REFERENCES.values())


@functools.cache
def covered_ops() -> frozenset:
    """The ops of every node of the reference expressions' graphs and their derivatives'."""
    ops = set()
    for c in all_cases():
        f, _, _ = built(c.expression)  # builds the first and second derivatives in f.graph
        ops.update(node.op for node in f.graph.nodes)
    return frozenset(ops)


@pytest.mark.parametrize("primitive", PRIMITIVES, ids=[p.name for p in PRIMITIVES])
def test_primitive_is_covered(primitive):
    """Each row of the primitive table is exercised by an expression checked against mpmath."""
    assert primitive in covered_ops(), (
        f"primitive '{primitive.name}' is not used by any reference expression nor by their "
        f"derivatives: add a function or operator reference that exercises it")


# ---------------------------------------------------------------------------------------------
# Numerically hard places, against mpmath. Values and derivatives here can be tiny (gelu(-30) is
# -1.5e-196), so the absolute tolerance is the smallest normal float64: it forgives a reference
# that float64 cannot hold (exp(-800)), and no number that it can. For the reference to resolve
# such numbers next to values of order 1 (sigmoid(700) = 1 - 1e-304), it works with 400 digits.


def special(expression, variables, reference, *points):
    return case(expression, variables, reference, *points, atol=sys.float_info.min, dps=400)


NEAR_ONE = (1 - 1e-10, -(1 - 1e-10), 1 - 2.0**-40, 1 - 2.0**-52, -(1 - 2.0**-53))

SPECIAL_CASES: dict[str, Case] = {
    "softplus-large-abs-x": special("softplus(x)", "x", lambda x: M.log1p(M.exp(x)),
                                    -800.0, -40.0, 40.0, 800.0),
    "log_sigmoid-large-abs-x": special("log_sigmoid(x)", "x", lambda x: -M.log1p(M.exp(-x)),
                                       -800.0, -40.0, 40.0, 800.0),
    "sigmoid-large-abs-x": special("sigmoid(x)", "x", lambda x: 1 / (1 + M.exp(-x)),
                                   -800.0, -700.0, 700.0, 800.0),
    "gelu-far-left": special("gelu(x)", "x", lambda x: x * M.ncdf(x), -30.0, -25.0, -10.0),
    "elu-large-abs-x": special("elu(x, alpha=alpha)", "x alpha", _elu,
                               (800.0, 1.5), (1e4, 0.5), (-800.0, 2.0)),
    "elu-default-large-x": special("elu(x)", "x", _elu, 710.0, 800.0, 1e5),
    "expm1-near-0": special("expm1(x)", "x", M.expm1, 1e-10, -1e-12, 2.0**-30, 1e-300),
    "log1p-near-0": special("log1p(x)", "x", M.log1p, 1e-10, -1e-12, -(2.0**-30), 1e-300),
    "atanh-near-1": special("atanh(x)", "x", M.atanh, *NEAR_ONE),
    "asin-near-1": special("asin(x)", "x", M.asin, *NEAR_ONE),
    "acos-near-1": special("acos(x)", "x", M.acos, *NEAR_ONE),
    "acosh-near-1": special("acosh(x)", "x", M.acosh, 1 + 1e-10, 1 + 2.0**-40, 1 + 2.0**-52),
    "erfc-far-right": special("erfc(x)", "x", M.erfc, 5.0, 10.0, 26.0),
    "logaddexp-far-apart": special("logaddexp(a, b)", "a b",
                                   lambda a, b: M.log(M.exp(a) + M.exp(b)),
                                   (800.0, 0.0), (-800.0, 0.0), (1000.0, 1000.0), (0.0, 40.0)),
}


@pytest.mark.parametrize("label", SPECIAL_CASES)
def test_special_case(label):
    assert_matches(SPECIAL_CASES[label])


@pytest.mark.parametrize("y", [0.5, 2.0, 3.0])
def test_pow_exponent_gradient_at_zero_base(y):
    """d/dy x**y = x**y*log(x) is 0 at x = 0 for y > 0 (the limit), and so is d2/dy2."""
    f, first, second = built("x ** y")
    assert f(x=0.0, y=y) == 0.0
    assert first["y"](x=0.0, y=y) == 0.0
    assert second["y", "y"](x=0.0, y=y) == 0.0


@pytest.mark.parametrize("y, dx, dxx", [(2.0, 0.0, 2.0), (3.0, 0.0, 0.0)])
def test_pow_base_derivatives_at_zero_base(y, dx, dxx):
    """d/dx x**y = y*x**(y-1) and d2/dx2 = y*(y-1)*x**(y-2) at x = 0, closed forms."""
    f, first, second = built("x ** y")
    assert first["x"](x=0.0, y=y) == dx
    assert second["x", "x"](x=0.0, y=y) == dxx


@pytest.mark.parametrize("x", [0.0, 2.0, -3.0])
def test_pow_constant_exponent_zero(x):
    """x**0 is 1 and its derivative is a connected 0 (not None), at x = 0 as elsewhere."""
    f, first, _ = built("x ** 0")
    assert f(x=x) == 1.0
    assert first["x"] is not None, "d/dx x**0 is 0, not unconnected"
    assert first["x"](x=x) == 0.0
