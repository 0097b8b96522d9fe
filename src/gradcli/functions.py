"""The functions a user can call by name: the grammar's boundary, where names become ops.

Each entry is a signature, what it builds (a primitive, or a composition of primitives written
as the mathematics it is: `sec(x) = 1/cos(x)`), its aliases and its family. Compositions need no
derivative rule of their own: reverse mode differentiates what they build.

Parameters named in `STATIC` (axis, keepdims, shape, ...) are not differentiable values but
settings: the argument must be a constant (an integer, a list of integers, true or false), and
the build function receives it as a Python value. `*xs` takes any number of arrays.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from gradcli import arrays, ops
from gradcli.graph import Node


class _Marker:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


REQUIRED = _Marker("REQUIRED")  # a parameter with no default
OMITTED = _Marker("OMITTED")  # an optional parameter with no default value (log's base)

CONSTANTS = {"pi": math.pi, "e": math.e, "inf": math.inf, "true": 1.0, "false": 0.0,
             "True": 1.0, "False": 0.0}

STATIC = frozenset({"axis", "axes", "keepdims", "shape", "ddof"})


@dataclass(frozen=True)
class Function:
    name: str
    params: tuple[str, ...]
    defaults: tuple[object, ...]  # per parameter: REQUIRED, OMITTED, a number or a setting
    build: Callable[..., Node]
    family: str
    aliases: tuple[str, ...] = ()
    note: str = ""
    variadic: str | None = None  # the name of a *xs parameter (the first one), if any
    rule: str = ""  # for functions of arrays: the VJP, in words

    @property
    def signature(self) -> str:
        parts = []
        for param, default in zip(self.params, self.defaults, strict=True):
            if param == self.variadic:
                parts.append(f"*{param}")
            elif default is REQUIRED:
                parts.append(param)
            elif default is OMITTED:
                parts.append(f"[{param}]")
            elif isinstance(default, float):
                parts.append(f"{param}={default:g}")
            else:
                parts.append(f"{param}={default}")
        return f"{self.name}({', '.join(parts)})"

    @property
    def required(self) -> int:
        return sum(default is REQUIRED and param != self.variadic
                   for param, default in zip(self.params, self.defaults, strict=True))

    @property
    def static(self) -> frozenset[str]:
        return STATIC.intersection(self.params)

    @property
    def on_arrays(self) -> bool:
        return self.family in ARRAY_FAMILIES


def _default(param: str, text: str) -> object:
    if param in STATIC:
        return {"None": None, "True": True, "False": False}.get(text) if text in (
            "None", "True", "False") else int(text)
    return float(text)


def _function(signature: str, build: Callable[..., Node], family: str, aliases: str = "",
              note: str = "", rule: str = "") -> Function:
    """An entry from a signature such as 'elu(x, alpha=1)', 'log(x, [base])' or
    'concat(*xs, axis=0)'."""
    name, _, rest = signature.partition("(")
    params, defaults, variadic = [], [], None
    for part in filter(None, (p.strip() for p in rest.rstrip(")").split(","))):
        if part.startswith("["):
            params.append(part.strip("[]"))
            defaults.append(OMITTED)
        elif part.startswith("*"):
            variadic = part[1:]
            params.append(variadic)
            defaults.append(REQUIRED)
        elif "=" in part:
            param, value = part.split("=")
            params.append(param)
            defaults.append(_default(param, value))
        else:
            params.append(part)
            defaults.append(REQUIRED)
    return Function(name, tuple(params), tuple(defaults), build, family,
                    tuple(aliases.split()), note, variadic, rule)


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
    _function("max(a, [b], axis=None, keepdims=False)", arrays.extremum(ops.amax, ops.maximum),
              "piecewise", "maximum reduce_max",
              note="max(a, b): the larger, elementwise; max(x): the largest entry (over axis)",
              rule="max(a, b): the larger takes g, a tie splits it; max(x): the largest entries "
                   "share g"),
    _function("min(a, [b], axis=None, keepdims=False)", arrays.extremum(ops.amin, ops.minimum),
              "piecewise", "minimum reduce_min",
              note="min(a, b): the smaller, elementwise; min(x): the smallest entry (over axis)",
              rule="min(a, b): the smaller takes g, a tie splits it; min(x): the smallest entries "
                   "share g"),
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

ARRAY_FAMILIES = ("reductions", "arrays", "linear algebra", "losses")

FUNCTIONS += (
    # reductions
    _function("sum(x, axis=None, keepdims=False)", arrays.total, "reductions", "reduce_sum",
              rule="g repeated over the summed axes"),
    _function("mean(x, axis=None, keepdims=False)", arrays.mean, "reductions", "reduce_mean",
              note="sum/count", rule="g/count repeated over the axes"),
    _function("prod(x, axis=None, keepdims=False)", arrays.prod, "reductions", "reduce_prod",
              note="one axis or all", rule="g times the product of the other entries"),
    _function("logsumexp(x, axis=None, keepdims=False)", arrays.logsumexp, "reductions",
              "reduce_logsumexp", note="log(sum(exp(x))) without overflow",
              rule="g*softmax(x) over the axes"),
    _function("norm(x, axis=None, keepdims=False)", arrays.norm, "reductions",
              note="Euclidean norm, without overflow", rule="g*x/norm(x); 0 at x = 0"),
    _function("var(x, axis=None, keepdims=False, ddof=0)", arrays.var, "reductions",
              "reduce_variance", note="mean squared deviation, divided by count - ddof"),
    _function("std(x, axis=None, keepdims=False, ddof=0)", arrays.std, "reductions",
              "reduce_std", note="sqrt(var(x))"),
    _function("cumsum(x, axis=None)", arrays.cumsum, "reductions",
              note="running sums; without axis, of the flattened array",
              rule="the reversed running sums of g"),
    _function("softmax(x, axis=-1)", arrays.softmax, "reductions",
              note="exp(x)/sum(exp(x)) along one axis, shifted by the maximum",
              rule="s*(g - sum(g*s)) along the axis"),
    _function("log_softmax(x, axis=-1)", arrays.log_softmax, "reductions",
              note="x - logsumexp(x, axis, keepdims=True)"),
    # linear algebra
    _function("matmul(a, b)", arrays.matmul, "linear algebra", note="a @ b (numpy's matmul)",
              rule="g @ b.T and a.T @ g (summed over broadcast stacks)"),
    _function("dot(a, b)", arrays.dot, "linear algebra", note="numpy's dot for vectors and matrices"),
    _function("outer(a, b)", arrays.outer, "linear algebra", note="a[i]*b[j], of the flattened arrays"),
    # arrays
    _function("transpose(x, axes=None)", arrays.transpose, "arrays",
              note="axes permuted (reversed by default; x.T)", rule="g transposed back"),
    _function("reshape(x, shape)", arrays.reshape, "arrays", note="one size may be -1",
              rule="g reshaped back"),
    _function("concat(*xs, axis=0)", arrays.concat, "arrays", "concatenate",
              note="joined along an existing axis", rule="g cut back into the pieces"),
    _function("stack(*xs, axis=0)", arrays.stack, "arrays", note="joined along a new axis",
              rule="g cut back into the pieces"),
    _function("broadcast_to(x, shape)", arrays.broadcast_to, "arrays",
              rule="g summed back to x's shape"),
    _function("sum_to(x, shape)", arrays.sum_to, "arrays",
              note="x summed down to a shape it broadcasts from", rule="g broadcast back"),
    # losses
    _function("mse(pred, target)", arrays.mse, "losses", note="mean((pred - target)**2)"),
    _function("cross_entropy(logits, labels)", arrays.cross_entropy, "losses",
              note="mean softmax cross-entropy; integer class labels or one-hot rows"),
    _function("binary_cross_entropy(probs, targets)", arrays.binary_cross_entropy, "losses",
              note="mean of -(t*log(p) + (1 - t)*log(1 - p))"),
)

BY_NAME: dict[str, Function] = {
    name: entry for entry in FUNCTIONS for name in (entry.name, *entry.aliases)
}
