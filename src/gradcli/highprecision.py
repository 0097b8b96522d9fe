"""Every primitive again, in mpmath: the forward of the graph in high-precision arithmetic.

This is the reference of `gradcli check --method mpmath`: the function is evaluated at 50
significant digits and differentiated by mpmath itself, independently of gradcli's derivative
rules and of float64 rounding. mpmath is imported only when this method is used.

Arrays are numpy arrays of mpmath numbers (dtype object): the operations that only move or add
entries (reshape, index, sum, matmul, ...) are numpy's own on them; every function of numbers
is applied entry by entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from gradcli import ops
from gradcli.graph import Node, ancestors
from gradcli.ops.core import CONSTANT, VARIABLE, Primitive, constant_value

DIGITS = 50


def _entrywise(function: Callable) -> Callable:
    """`function` of numbers, applied entry by entry where an argument is an array."""
    vectorized = np.vectorize(function, otypes=[object])

    def apply(*args):
        if any(isinstance(a, np.ndarray) for a in args):
            return vectorized(*args)
        return function(*args)

    return apply


def _array_table(mp) -> dict[Primitive, Callable]:
    """The operations on arrays; numpy's own forward where it only moves and adds entries."""
    exp, log, sqrt = (_entrywise(f) for f in (mp.exp, mp.log, mp.sqrt))

    def logsumexp(x, axis, keepdims):
        return log(np.sum(exp(x), axis=axis, keepdims=keepdims))

    def softmax(x, axis):
        e = exp(x)
        return e / np.sum(e, axis=axis, keepdims=True)

    def norm(x, axis, keepdims):
        return sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))

    def scatter(g, key, shape):
        out = np.full(shape, mp.mpf(0), dtype=object)
        out[ops.python_key(key)] = g
        return out

    moved = (ops.sum_to, ops.broadcast_to, ops.reshape, ops.transpose, ops.index, ops.concat,
             ops.sum_, ops.amax, ops.amin, ops.prod, ops.prod_except, ops.cumsum, ops.matmul)
    table = {op: op.forward for op in moved}
    table.update({ops.logsumexp: logsumexp, ops.softmax: softmax, ops.norm: norm,
                  ops.scatter: scatter})
    return table


def _table(mp) -> dict[Primitive, Callable]:
    """mpmath forward of every primitive, keyed by the primitive itself."""

    def truth(value: bool):
        return mp.mpf(1) if value else mp.mpf(0)

    def real_cbrt(x):
        return mp.sign(x) * mp.cbrt(abs(x))

    scalar = {
        ops.add: lambda a, b: a + b, ops.sub: lambda a, b: a - b, ops.mul: lambda a, b: a * b,
        ops.div: lambda a, b: a / b, ops.neg: lambda a: -a, ops.pow: lambda a, b: mp.power(a, b),
        ops.lt: lambda a, b: truth(a < b), ops.le: lambda a, b: truth(a <= b),
        ops.gt: lambda a, b: truth(a > b), ops.ge: lambda a, b: truth(a >= b),
        ops.eq: lambda a, b: truth(a == b), ops.ne: lambda a, b: truth(a != b),
        ops.where: lambda c, a, b: a if c else b,
        ops.sin: mp.sin, ops.cos: mp.cos, ops.tan: mp.tan, ops.asin: mp.asin,
        ops.acos: mp.acos, ops.atan: mp.atan, ops.atan2: mp.atan2,
        ops.sinh: mp.sinh, ops.cosh: mp.cosh, ops.tanh: mp.tanh, ops.asinh: mp.asinh,
        ops.acosh: mp.acosh, ops.atanh: mp.atanh,
        ops.exp: mp.exp, ops.exp2: lambda x: mp.power(2, x), ops.expm1: mp.expm1,
        ops.log: mp.log, ops.log2: lambda x: mp.log(x, 2), ops.log10: mp.log10,
        ops.log1p: mp.log1p, ops.logaddexp: lambda a, b: mp.log(mp.exp(a) + mp.exp(b)),
        ops.sigmoid: lambda x: 1 / (1 + mp.exp(-x)),
        ops.sqrt: mp.sqrt, ops.cbrt: real_cbrt, ops.hypot: mp.hypot,
        ops.abs: abs, ops.sign: mp.sign, ops.floor: mp.floor, ops.ceil: mp.ceil,
        ops.round: mp.nint, ops.maximum: max, ops.minimum: min,
        ops.relu: lambda x: max(x, mp.mpf(0)),
        ops.softplus: lambda x: mp.log(1 + mp.exp(x)),
        ops.elu: lambda x, alpha: x if x > 0 else alpha * mp.expm1(x),
        ops.erf: mp.erf, ops.erfc: mp.erfc, ops.gamma: mp.gamma,
        ops.lgamma: lambda x: mp.log(abs(mp.gamma(x))), ops.digamma: mp.digamma,
        ops.polygamma: lambda n, x: mp.polygamma(int(n), x),
    }
    return {**{op: _entrywise(f) for op, f in scalar.items()}, **_array_table(mp)}


_TABLE: dict[Primitive, Callable] | None = None


def table() -> dict[Primitive, Callable]:
    global _TABLE
    if _TABLE is None:
        import mpmath

        _TABLE = _table(mpmath.mp)
    return _TABLE


def _real(mp, value):
    """A real result, or nan where the real function is undefined (mpmath went complex)."""
    if isinstance(value, mp.mpc):
        return value.real if abs(value.imag) <= abs(value) * mp.mpf(10) ** (-DIGITS + 5) \
            else mp.nan
    return mp.mpf(value)


def _mp(mp, value):
    """A number or an array as mpmath numbers."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return mp.mpf(float(array))
    return np.vectorize(mp.mpf, otypes=[object])(array)


def derivative(output: Node, point: Mapping[str, object], name: str,
               entry: tuple[int, ...] = ()) -> float:
    """d output / d name[entry] at the point (a number output), evaluated and differentiated
    in mpmath, as a float."""
    import mpmath

    mp = mpmath.mp
    forward = table()
    real = _entrywise(lambda v: _real(mp, v))
    nodes = ancestors([output])

    with mp.workdps(DIGITS):
        inputs = {variable: _mp(mp, value) for variable, value in point.items()}

        def f(t):
            values = {}
            for node in nodes:
                if node.op is CONSTANT:
                    values[node.index] = _mp(mp, constant_value(node))
                elif node.op is VARIABLE:
                    value = inputs[node.attrs[0]]
                    if node.attrs[0] == name:
                        if entry:
                            value = value.copy()
                            value[entry] = t
                        else:
                            value = t
                    values[node.index] = value
                elif node.op.passthrough:  # a custom function: the value of its body
                    values[node.index] = values[node.inputs[-1].index]
                else:
                    arguments = [values[i.index] for i in node.inputs]
                    attrs = dict(zip(node.op.params, node.attrs, strict=True))
                    values[node.index] = real(forward[node.op](*arguments, **attrs))
            return values[output.index]

        start = inputs[name][entry] if entry else inputs[name]
        try:
            return float(mp.diff(f, start))
        except (ValueError, ZeroDivisionError, OverflowError, TypeError):
            return float("nan")
