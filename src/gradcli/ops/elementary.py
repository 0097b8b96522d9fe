"""Trigonometric, hyperbolic, exponential and logarithmic functions (with sigmoid), roots.

Each rule is the textbook derivative, written where it matters in the form that stays accurate
in floating point: 1 - x**2 as (1 - x)*(1 + x) near |x| = 1, sqrt(x**2 + 1) as hypot(x, 1).
"""

from __future__ import annotations

import numpy as np

from gradcli.graph import Node
from gradcli.ops.core import Primitive, constant_like


def _log_of(like: Node, base: float) -> Node:
    """log(base) beside `like`: in a graph, printed as log(2), not as 0.693..."""
    return log(constant_like(like, base))


def _unary(name: str, forward, rule, doc: str, analytic: bool = True) -> Primitive:
    return Primitive(name, forward, (rule,), analytic=analytic, doc=doc)


# trigonometric
sin = _unary("sin", np.sin, lambda g, ans, x: g * cos(x), "d/dx sin(x) = cos(x)")
cos = _unary("cos", np.cos, lambda g, ans, x: g * -sin(x), "d/dx cos(x) = -sin(x)")
tan = _unary("tan", np.tan, lambda g, ans, x: g * (1 + ans**2), "d/dx tan(x) = 1 + tan(x)**2")
asin = _unary("asin", np.arcsin, lambda g, ans, x: g / sqrt((1 - x) * (1 + x)),
              "d/dx asin(x) = 1/sqrt(1 - x**2)")
acos = _unary("acos", np.arccos, lambda g, ans, x: -g / sqrt((1 - x) * (1 + x)),
              "d/dx acos(x) = -1/sqrt(1 - x**2)")
atan = _unary("atan", np.arctan, lambda g, ans, x: g / (1 + x**2), "d/dx atan(x) = 1/(1 + x**2)")
atan2 = Primitive(
    "atan2", np.arctan2,
    (lambda g, ans, y, x: g * x / (x**2 + y**2),
     lambda g, ans, y, x: -g * y / (x**2 + y**2)),
    analytic=False,
    doc="d/dy atan2(y, x) = x/(x**2 + y**2), d/dx atan2(y, x) = -y/(x**2 + y**2)",
)

# hyperbolic
sinh = _unary("sinh", np.sinh, lambda g, ans, x: g * cosh(x), "d/dx sinh(x) = cosh(x)")
cosh = _unary("cosh", np.cosh, lambda g, ans, x: g * sinh(x), "d/dx cosh(x) = sinh(x)")
tanh = _unary("tanh", np.tanh, lambda g, ans, x: g * (1 - ans**2), "d/dx tanh(x) = 1 - tanh(x)**2")
asinh = _unary("asinh", np.arcsinh, lambda g, ans, x: g / hypot(x, 1),
               "d/dx asinh(x) = 1/sqrt(x**2 + 1)")
acosh = _unary("acosh", np.arccosh, lambda g, ans, x: g / sqrt((x - 1) * (x + 1)),
               "d/dx acosh(x) = 1/sqrt(x**2 - 1)")
atanh = _unary("atanh", np.arctanh, lambda g, ans, x: g / ((1 - x) * (1 + x)),
               "d/dx atanh(x) = 1/(1 - x**2)")

# exponential and logarithmic
exp = _unary("exp", np.exp, lambda g, ans, x: g * ans, "d/dx exp(x) = exp(x)")
exp2 = _unary("exp2", np.exp2, lambda g, ans, x: g * ans * _log_of(x, 2.0), "d/dx 2**x = 2**x * log(2)")
expm1 = _unary("expm1", np.expm1, lambda g, ans, x: g * exp(x), "d/dx (exp(x) - 1) = exp(x)")
log = _unary("log", np.log, lambda g, ans, x: g / x, "d/dx log(x) = 1/x")
log2 = _unary("log2", np.log2, lambda g, ans, x: g / (x * _log_of(x, 2.0)), "d/dx log2(x) = 1/(x*log(2))")
log10 = _unary("log10", np.log10, lambda g, ans, x: g / (x * _log_of(x, 10.0)),
               "d/dx log10(x) = 1/(x*log(10))")
log1p = _unary("log1p", np.log1p, lambda g, ans, x: g / (1 + x), "d/dx log(1 + x) = 1/(1 + x)")
logaddexp = Primitive(
    "logaddexp", np.logaddexp,
    # d/da = exp(a)/(exp(a) + exp(b)) = sigmoid(a - b): no overflow, and its own derivative
    # (through sigmoid's rule) keeps full precision where the weights are near 0 or 1
    (lambda g, ans, a, b: g * sigmoid(a - b),
     lambda g, ans, a, b: g * sigmoid(b - a)),
    commutative=True, analytic=False,
    doc="log(exp(a) + exp(b)); d/da = sigmoid(a - b)",
)


def _sigmoid(x):
    """1/(1 + exp(-x)), evaluated on the side where exp cannot overflow."""
    x = np.asarray(x, dtype=np.float64)
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))[()]


sigmoid = Primitive(
    # sigmoid(-x), not 1 - sigmoid(x): the latter is all rounding once sigmoid(x) is near 1
    "sigmoid", _sigmoid, (lambda g, ans, x: g * ans * sigmoid(-x),),
    analytic=False,  # the stable forward branches on the sign of x: not for complex arguments
    doc="1/(1 + exp(-x)); d/dx = sigmoid(x)*sigmoid(-x)",
)

# roots
sqrt = _unary("sqrt", np.sqrt, lambda g, ans, x: g / (2 * ans),
              "d/dx sqrt(x) = 1/(2*sqrt(x)); infinite at 0")
cbrt = _unary("cbrt", np.cbrt, lambda g, ans, x: g / (3 * ans**2),
              "the real cube root; d/dx cbrt(x) = 1/(3*cbrt(x)**2), infinite at 0", analytic=False)
hypot = Primitive(
    "hypot", np.hypot,
    (lambda g, ans, x, y: g * x / ans,
     lambda g, ans, x, y: g * y / ans),
    commutative=True, analytic=False,
    doc="sqrt(x**2 + y**2) without overflow; d/dx hypot(x, y) = x/hypot(x, y)",
)
