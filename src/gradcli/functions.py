"""The functions a user can call by name: the grammar's boundary, where names become ops.

Each entry is a signature, what it builds (a primitive, or a composition of primitives written
as the mathematics it is: `sec(x) = 1/cos(x)`), its aliases and its family. Compositions need no
derivative rule of their own: reverse mode differentiates what they build.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from gradcli import ops
from gradcli.graph import Node

REQUIRED = object()  # a parameter with no default
OMITTED = None  # an optional parameter with no default value (log's base)

CONSTANTS = {"pi": math.pi, "e": math.e, "inf": math.inf}


@dataclass(frozen=True)
class Function:
    name: str
    params: tuple[str, ...]
    defaults: tuple[object, ...]  # per parameter: REQUIRED, OMITTED or a number
    build: Callable[..., Node]
    family: str
    aliases: tuple[str, ...] = ()
    note: str = ""

    @property
    def signature(self) -> str:
        parts = []
        for param, default in zip(self.params, self.defaults, strict=True):
            if default is REQUIRED:
                parts.append(param)
            elif default is OMITTED:
                parts.append(f"[{param}]")
            else:
                parts.append(f"{param}={default:g}")
        return f"{self.name}({', '.join(parts)})"

    @property
    def required(self) -> int:
        return sum(default is REQUIRED for default in self.defaults)


def _function(signature: str, build: Callable[..., Node], family: str, aliases: str = "",
              note: str = "") -> Function:
    """An entry from a signature such as 'elu(x, alpha=1)' or 'log(x, [base])'."""
    name, _, rest = signature.partition("(")
    params, defaults = [], []
    for part in filter(None, (p.strip() for p in rest.rstrip(")").split(","))):
        if part.startswith("["):
            params.append(part.strip("[]"))
            defaults.append(OMITTED)
        elif "=" in part:
            param, value = part.split("=")
            params.append(param)
            defaults.append(float(value))
        else:
            params.append(part)
            defaults.append(REQUIRED)
    return Function(name, tuple(params), tuple(defaults), build, family,
                    tuple(aliases.split()), note)


def _log(x: Node, base: Node | None = None) -> Node:
    return ops.log(x) if base is None else ops.log(x) / ops.log(base)


def _clip(x: Node, lo: Node, hi: Node) -> Node:
    return ops.where(ops.lt(x, lo), lo, ops.where(ops.gt(x, hi), hi, x))


def _gelu(x: Node) -> Node:
    """x*Phi(x) with Phi(x) = erfc(-x/sqrt(2))/2, which keeps its precision for x << 0."""
    return 0.5 * x * ops.erfc(-x / ops.sqrt(ops.literal(x.graph, 2.0)))


FUNCTIONS: tuple[Function, ...] = (
    # trigonometric
    _function("sin(x)", ops.sin, "trigonometric"),
    _function("cos(x)", ops.cos, "trigonometric"),
    _function("tan(x)", ops.tan, "trigonometric"),
    _function("sec(x)", lambda x: 1 / ops.cos(x), "trigonometric", note="1/cos(x)"),
    _function("csc(x)", lambda x: 1 / ops.sin(x), "trigonometric", note="1/sin(x)"),
    _function("cot(x)", lambda x: ops.cos(x) / ops.sin(x), "trigonometric", note="cos(x)/sin(x)"),
    _function("asin(x)", ops.asin, "trigonometric", "arcsin"),
    _function("acos(x)", ops.acos, "trigonometric", "arccos"),
    _function("atan(x)", ops.atan, "trigonometric", "arctan"),
    _function("atan2(y, x)", ops.atan2, "trigonometric", "arctan2"),
    # hyperbolic
    _function("sinh(x)", ops.sinh, "hyperbolic"),
    _function("cosh(x)", ops.cosh, "hyperbolic"),
    _function("tanh(x)", ops.tanh, "hyperbolic"),
    _function("asinh(x)", ops.asinh, "hyperbolic", "arcsinh"),
    _function("acosh(x)", ops.acosh, "hyperbolic", "arccosh"),
    _function("atanh(x)", ops.atanh, "hyperbolic", "arctanh"),
    # exponential and logarithmic
    _function("exp(x)", ops.exp, "exponential and logarithmic"),
    _function("exp2(x)", ops.exp2, "exponential and logarithmic", note="2**x"),
    _function("expm1(x)", ops.expm1, "exponential and logarithmic", note="exp(x) - 1, accurate near 0"),
    _function("log(x, [base])", _log, "exponential and logarithmic", "ln",
              note="natural logarithm; log(x, base) = log(x)/log(base)"),
    _function("log2(x)", ops.log2, "exponential and logarithmic"),
    _function("log10(x)", ops.log10, "exponential and logarithmic"),
    _function("log1p(x)", ops.log1p, "exponential and logarithmic", note="log(1 + x), accurate near 0"),
    _function("logaddexp(a, b)", ops.logaddexp, "exponential and logarithmic",
              note="log(exp(a) + exp(b))"),
    # powers and roots
    _function("pow(x, y)", ops.pow, "powers and roots", note="x**y"),
    _function("sqrt(x)", ops.sqrt, "powers and roots"),
    _function("cbrt(x)", ops.cbrt, "powers and roots", note="the real cube root"),
    _function("square(x)", lambda x: x**2, "powers and roots", note="x**2"),
    _function("reciprocal(x)", lambda x: 1 / x, "powers and roots", note="1/x"),
    _function("hypot(x, y)", ops.hypot, "powers and roots", note="sqrt(x**2 + y**2)"),
    # piecewise
    _function("abs(x)", ops.abs, "piecewise"),
    _function("sign(x)", ops.sign, "piecewise"),
    _function("floor(x)", ops.floor, "piecewise"),
    _function("ceil(x)", ops.ceil, "piecewise"),
    _function("round(x)", ops.round, "piecewise", note="halves to even"),
    _function("max(a, b)", ops.maximum, "piecewise", "maximum"),
    _function("min(a, b)", ops.minimum, "piecewise", "minimum"),
    _function("clip(x, lo, hi)", _clip, "piecewise", note="x limited to [lo, hi]"),
    _function("where(cond, a, b)", ops.where, "piecewise", note="a where cond is true, else b"),
    _function("relu(x)", ops.relu, "piecewise", note="max(x, 0)"),
    # activations
    _function("sigmoid(x)", ops.sigmoid, "activations", "expit logistic", note="1/(1 + exp(-x))"),
    _function("softplus(x)", ops.softplus, "activations", note="log(1 + exp(x))"),
    _function("log_sigmoid(x)", lambda x: -ops.softplus(-x), "activations",
              note="log(sigmoid(x)) = -softplus(-x)"),
    _function("silu(x)", lambda x: x * ops.sigmoid(x), "activations", "swish", note="x*sigmoid(x)"),
    _function("gelu(x)", _gelu, "activations", note="x*Phi(x), the exact (erf) form"),
    _function("elu(x, alpha=1)", ops.elu, "activations", note="x if x > 0 else alpha*(exp(x) - 1)"),
    _function("leaky_relu(x, slope=0.01)",
              lambda x, slope: ops.where(ops.gt(x, 0.0), x, slope * x), "activations",
              note="x if x > 0 else slope*x"),
    # special
    _function("erf(x)", ops.erf, "special"),
    _function("erfc(x)", ops.erfc, "special", note="1 - erf(x)"),
    _function("gamma(x)", ops.gamma, "special"),
    _function("lgamma(x)", ops.lgamma, "special", "gammaln", note="log|gamma(x)|"),
    _function("digamma(x)", ops.digamma, "special", "psi"),
    _function("polygamma(n, x)", ops.polygamma, "special",
              note="n-th derivative of digamma, n = 0, 1, 2, ..."),
)

BY_NAME: dict[str, Function] = {
    name: entry for entry in FUNCTIONS for name in (entry.name, *entry.aliases)
}
