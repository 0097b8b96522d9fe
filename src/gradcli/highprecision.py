"""Every primitive again, in mpmath: the forward of the graph in high-precision arithmetic.

This is the reference of `gradcli check --method mpmath`: the function is evaluated at 50
significant digits and differentiated by mpmath itself, independently of gradcli's derivative
rules and of float64 rounding. mpmath is imported only when this method is used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from gradcli import ops
from gradcli.graph import Node, ancestors
from gradcli.ops.core import CONSTANT, VARIABLE, Primitive

DIGITS = 50


def _table(mp) -> dict[Primitive, Callable]:
    """mpmath forward of every primitive, keyed by the primitive itself."""

    def truth(value: bool):
        return mp.mpf(1) if value else mp.mpf(0)

    def real_cbrt(x):
        return mp.sign(x) * mp.cbrt(abs(x))

    return {
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


def derivative(output: Node, point: Mapping[str, float], name: str) -> float:
    """d output / d name at the point, evaluated and differentiated in mpmath, as a float."""
    import mpmath

    mp = mpmath.mp
    forward = table()
    nodes = ancestors([output])

    def f(t):
        values = {}
        for node in nodes:
            if node.op is CONSTANT:
                values[node.index] = mp.mpf(node.attrs[0])
            elif node.op is VARIABLE:
                variable = node.attrs[0]
                values[node.index] = t if variable == name else mp.mpf(point[variable])
            else:
                arguments = [values[i.index] for i in node.inputs]
                values[node.index] = _real(mp, forward[node.op](*arguments))
        return values[output.index]

    with mp.workdps(DIGITS):
        try:
            return float(mp.diff(f, mp.mpf(point[name])))
        except (ValueError, ZeroDivisionError, OverflowError):
            return float("nan")
