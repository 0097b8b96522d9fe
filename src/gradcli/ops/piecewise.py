"""Piecewise functions and the activations that need rows of their own for their numerics.

Conventions at kinks (documented in the README, tested in tests/test_kinks.py):
abs'(0) = 0; max and min split the gradient 0.5/0.5 at a tie; sign, floor, ceil and round carry
no gradient at all (their derivative is 0 almost everywhere, and a gradient through them is
reported as unconnected, as TensorFlow does for integer-valued ops); elu at 0 takes the left
branch, like relu.
"""

from __future__ import annotations

import numpy as np

from gradcli.ops.arithmetic import eq, gt, lt, where
from gradcli.ops.core import Primitive
from gradcli.ops.elementary import exp, expm1, sigmoid


def _no_gradient(name: str, forward, doc: str) -> Primitive:
    return Primitive(name, forward, (None,), analytic=False, doc=doc)


abs = Primitive(  # noqa: A001 - the name of the function
    "abs", np.abs, (lambda g, ans, x: g * sign(x),), analytic=False,
    doc="d/dx |x| = sign(x), 0 at 0",
)
sign = _no_gradient("sign", np.sign, "-1, 0 or 1; no gradient")
floor = _no_gradient("floor", np.floor, "no gradient")
ceil = _no_gradient("ceil", np.ceil, "no gradient")
round = _no_gradient("round", np.round, "to the nearest integer, halves to even; no gradient")  # noqa: A001

def _extremum(name: str, forward, wins, doc: str) -> Primitive:
    """max or min: the argument that wins takes the gradient; a tie splits it 0.5/0.5."""
    return Primitive(
        name, forward,
        (lambda g, ans, a, b: g * (wins(a, b) + 0.5 * eq(a, b)),
         lambda g, ans, a, b: g * (wins(b, a) + 0.5 * eq(a, b))),
        commutative=True, analytic=False, doc=doc,
    )


maximum = _extremum("maximum", np.maximum, gt, "the larger of a and b; a tie splits the gradient")
minimum = _extremum("minimum", np.minimum, lt, "the smaller of a and b; a tie splits the gradient")

relu = Primitive(
    "relu", lambda x: np.maximum(x, 0.0), (lambda g, ans, x: g * gt(x, 0.0),), analytic=False,
    doc="max(x, 0); d/dx relu(x) = 1 for x > 0, else 0 (0 at 0)",
)


softplus = Primitive(
    "softplus", lambda x: np.logaddexp(0.0, x), (lambda g, ans, x: g * sigmoid(x),),
    analytic=False, doc="log(1 + exp(x)) without overflow; d/dx = sigmoid(x)",
)
elu = Primitive(
    "elu", lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0))),
    # minimum(x, 0) inside keeps exp finite on the branch not taken, so that no 0*inf
    # turns into nan in this rule or in its own derivative.
    (lambda g, ans, x, alpha: g * where(gt(x, 0.0), 1.0, alpha * exp(minimum(x, 0.0))),
     lambda g, ans, x, alpha: g * where(gt(x, 0.0), 0.0, expm1(minimum(x, 0.0)))),
    analytic=False,
    doc="x for x > 0, alpha*(exp(x) - 1) otherwise; d/dx at 0 takes the left branch (alpha)",
)
