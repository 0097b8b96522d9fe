"""Arithmetic, comparisons and selection: the rows every other rule is written with.

This module also gives nodes their operators (`a + b`, `g * x`, `x ** 2`), so the rules here and
in the other families read as the mathematics they state.
"""

from __future__ import annotations

import numpy as np

from gradcli.graph import Node
from gradcli.ops.core import (
    COMPARISON,
    POWER,
    PRODUCT,
    SIGN,
    SUM,
    Infix,
    Prefix,
    Primitive,
    Value,
    broadcast,
    is_constant,
    is_literal,
    literal,
    uniform_value,
)

# Identities applied while a graph is built. Each keeps the value bit for bit: x*1 is x,
# a + (-b) is a - b, (-a)*b is -(a*b) in IEEE arithmetic too.


def _simplify_add(a: Node, b: Node) -> Node | None:
    if b.op is neg:
        return sub(a, b.inputs[0])
    if a.op is neg:
        return sub(b, a.inputs[0])
    return None


def _simplify_sub(a: Node, b: Node) -> Node | None:
    if b.op is neg:
        return add(a, b.inputs[0])
    return None


def _simplify_mul(a: Node, b: Node) -> Node | None:
    # a factor of ones (a literal 1, or one broadcast to a shape) goes when the other factor
    # has the product's shape already
    for one, other in (a, b), (b, a):
        if one.inputs and not one.op.rearranges:  # most factors: not a constant (a leaf)
            continue
        unit = uniform_value(one)
        if unit in (1.0, -1.0) and broadcast(one.shape, other.shape) == other.shape:
            return other if unit == 1.0 else neg(other)
    if a.op is neg and b.op is neg:
        return mul(a.inputs[0], b.inputs[0])
    if a.op is neg:
        return neg(mul(a.inputs[0], b))
    if b.op is neg:
        return neg(mul(a, b.inputs[0]))
    return None


def _simplify_div(a: Node, b: Node) -> Node | None:
    if ((b.op.rearranges or not b.inputs) and uniform_value(b) == 1.0
            and broadcast(a.shape, b.shape) == a.shape):
        return a
    if a.op is neg and b.op is neg:
        return div(a.inputs[0], b.inputs[0])
    if a.op is neg:
        return neg(div(a.inputs[0], b))
    return None


def _simplify_neg(a: Node) -> Node | None:
    return a.inputs[0] if a.op is neg else None


def _simplify_pow(base: Node, exponent: Node) -> Node | None:
    if is_literal(exponent, 1.0):
        return base
    if base.op is neg and is_literal(exponent) and exponent.attrs[0] % 2 == 0:
        return pow(base.inputs[0], exponent)  # (-a)**2 is a**2, to the bit
    return None


def _power(x, y, out=None):
    """x ** y: numpy's power, except for the small integer exponents of a number, which are
    products as JAX's integer_pow computes them: x*x, x*x*x, (x*x)*(x*x), 1/x, 1/(x*x). On
    arrays a product is 2 to 20 times faster than pow(); x*x and 1/x are rounded once, as
    pow's results are, and the others differ from pow's by at most an ulp or two."""
    steps = _PRODUCTS.get(y.item() if isinstance(y, np.ndarray) else y) if np.ndim(y) == 0 \
        else None
    if steps is None:
        return np.power(x, y, out=out)
    square, twice, invert = steps
    result = np.multiply(x, x, out=out) if square else x
    if twice:
        result = (np.multiply(result, result, out=out) if twice == "square"
                  else np.multiply(result, x, out=out))
    return np.divide(1.0, result, out=out) if invert else result


# exponent: (x*x first, then square it or times x, then 1/...)
_PRODUCTS = {2.0: (True, None, False), 3.0: (True, "times", False),
             4.0: (True, "square", False), -1.0: (False, None, True),
             -2.0: (True, None, True)}


def _pow_vjp_base(g: Node, ans: Node, x: Node, y: Node) -> Node:
    """d/dx x**y = y * x**(y - 1); for the constant exponent 0 it is a (connected) 0."""
    if is_literal(y, 0.0):
        return g * 0.0
    return g * y * x ** (y - 1)


def _pow_vjp_exponent(g: Node, ans: Node, x: Node, y: Node) -> Node:
    """d/dy x**y = x**y * log(x), taken as 0 at x = 0 (where x**y is 0 for y > 0).

    The inner where keeps log away from 0, so that the second derivative is finite there too.
    """
    from gradcli.ops.elementary import log  # a family beside this one, which builds on it

    return g * ans * log(where(eq(x, 0.0), 1.0, x))


add = Primitive(
    "add", np.add,
    (lambda g, ans, a, b: g,
     lambda g, ans, a, b: g),
    notation=Infix("+", SUM, spaced=True), commutative=True, folds=True, simplify=_simplify_add,
    doc="a + b",
)
sub = Primitive(
    "sub", np.subtract,
    (lambda g, ans, a, b: g,
     lambda g, ans, a, b: -g),
    notation=Infix("-", SUM, spaced=True), folds=True, simplify=_simplify_sub,
    doc="a - b",
)
mul = Primitive(
    "mul", np.multiply,
    (lambda g, ans, a, b: g * b,
     lambda g, ans, a, b: g * a),
    notation=Infix("*", PRODUCT), commutative=True, folds=True, simplify=_simplify_mul,
    doc="a * b",
)
div = Primitive(
    "div", np.divide,
    (lambda g, ans, a, b: g / b,
     lambda g, ans, a, b: -(g * ans) / b),  # -a/b**2, as (a/b)/b so that b**2 cannot overflow
    notation=Infix("/", PRODUCT), folds=True, simplify=_simplify_div,
    doc="a / b",
)
neg = Primitive(
    "neg", np.negative,
    (lambda g, ans, a: -g,),
    notation=Prefix("-", SIGN), folds=True, simplify=_simplify_neg,
    doc="-a",
)
pow = Primitive(  # noqa: A001 - the name of the operation
    "pow", _power,
    (_pow_vjp_base, _pow_vjp_exponent),
    notation=Infix("**", POWER, right_associative=True), folds=True, simplify=_simplify_pow,
    fills=True,
    doc="x ** y",
)


def _comparison(name: str, symbol: str, test) -> Primitive:
    """A comparison gives 1.0 or 0.0 and carries no gradient to either side. Of two literal
    numbers it is a literal (0.0 too: a comparison's zero has no sign to keep)."""

    def fold(a: Node, b: Node) -> Node | None:
        numbers = [node.attrs[0] for node in (a, b) if is_constant(node) and not node.shape]
        if len(numbers) == 2:  # literals or named constants (pi, e)
            return literal(a.graph, float(test(*numbers)))
        return None

    return Primitive(
        name, lambda a, b: test(a, b) * 1.0, (None, None), simplify=fold,
        notation=Infix(symbol, COMPARISON, spaced=True), folds=True, analytic=False,
        commutative=name in ("eq", "ne"), doc=f"a {symbol} b: 1 where true, 0 where false",
    )


lt = _comparison("lt", "<", np.less)
le = _comparison("le", "<=", np.less_equal)
gt = _comparison("gt", ">", np.greater)
ge = _comparison("ge", ">=", np.greater_equal)
eq = _comparison("eq", "==", np.equal)
ne = _comparison("ne", "!=", np.not_equal)

COMPARISONS = {op.printed.symbol: op for op in (lt, le, gt, ge, eq, ne)}

def _simplify_where(c: Node, a: Node, b: Node) -> Node | None:
    """A literal condition picks its branch (when that branch has the result's shape)."""
    if is_literal(c):
        chosen = a if c.attrs[0] != 0.0 else b
        if chosen.shape == broadcast(c.shape, a.shape, b.shape):
            return chosen
    return None


where = Primitive(
    "where", lambda c, a, b: np.where(c, a, b),
    (None,
     lambda g, ans, c, a, b: where(c, g, 0.0),
     lambda g, ans, c, a, b: where(c, 0.0, g)),
    simplify=_simplify_where, analytic=False,
    doc="a where c is nonzero, else b; the gradient follows the branch taken",
)

# Sugar on nodes, so rules are written as formulas. Comparisons stay functions (lt, eq, ...):
# nodes are compared by identity.
Node.__add__ = lambda a, b: add(a, b)
Node.__radd__ = lambda a, b: add(b, a)
Node.__sub__ = lambda a, b: sub(a, b)
Node.__rsub__ = lambda a, b: sub(b, a)
Node.__mul__ = lambda a, b: mul(a, b)
Node.__rmul__ = lambda a, b: mul(b, a)
Node.__truediv__ = lambda a, b: div(a, b)
Node.__rtruediv__ = lambda a, b: div(b, a)
Node.__pow__ = lambda a, b: pow(a, b)
Node.__rpow__ = lambda a, b: pow(b, a)
Node.__neg__ = lambda a: neg(a)
Node.__pos__ = lambda a: a


# The same on Values, where the same rules compute numbers (gradcli.eager): the operation's
# forward on the values, as evaluation would apply it to the nodes' values.
def _computed(op: Primitive, swap: bool = False):
    def operator(a: Value, b):
        b = b.value if type(b) is Value else np.float64(b) if type(b) in (int, float) else b
        return op.compute([b, a.value] if swap else [a.value, b])
    return operator


Value.__add__, Value.__radd__ = _computed(add), _computed(add, swap=True)
Value.__sub__, Value.__rsub__ = _computed(sub), _computed(sub, swap=True)
Value.__mul__, Value.__rmul__ = _computed(mul), _computed(mul, swap=True)
Value.__truediv__, Value.__rtruediv__ = _computed(div), _computed(div, swap=True)
Value.__pow__, Value.__rpow__ = _computed(pow), _computed(pow, swap=True)
Value.__neg__ = lambda a: neg.compute([a.value])
Value.__pos__ = lambda a: a.value
