"""What a primitive is: one row of the table.

A row holds everything gradcli knows of an operation, side by side: its numpy forward, one
vector-Jacobian product per argument, how it is printed, and the algebraic identities it may
apply while a graph is built. A VJP rule is a function `rule(g, ans, *args)` of nodes (the
cotangent `g` of the output, the output `ans`, the arguments) that returns the cotangent of
its argument as a node, so the gradient is itself a graph that can be differentiated again.
A rule of `None` means the argument carries no gradient (a comparison, `floor`, an index).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gradcli.errors import ShapeError
from gradcli.graph import Graph, Node

# Binding strength for printing, loosest first (one table: printing.py decides brackets with it).
COMPARISON, SUM, PRODUCT, SIGN, POWER, ATOM = range(1, 7)


@dataclass(frozen=True)
class Call:
    """Printed as `name(a, b)`."""

    name: str


@dataclass(frozen=True)
class Infix:
    """Printed as `a symbol b`, bracketing operands that bind more loosely."""

    symbol: str
    precedence: int
    right_associative: bool = False
    spaced: bool = False


@dataclass(frozen=True)
class Postfix:
    """Printed as `a` followed by what `text(attrs)` gives: `x[0, 1:3]`, `x.T`."""

    text: Callable[[tuple], str]


@dataclass(frozen=True)
class Prefix:
    """Printed as `symbol a`."""

    symbol: str
    precedence: int


Rule = Callable[..., Node]

# The arithmetic ufuncs as operators: on numbers (numpy's or Python's) they compute the same
# IEEE results as the ufunc, without the cost of a ufunc call (1.6 us against 0.13 us: most of
# the time of evaluating a large expression at a point); on arrays they are the ufunc. Two
# Python floats divided by zero raise ZeroDivisionError where the ufunc gives inf or nan.
OPERATORS = {np.add: operator.add, np.subtract: operator.sub, np.multiply: operator.mul,
             np.divide: operator.truediv, np.negative: operator.neg}


def broadcast(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """numpy's broadcast of the shapes (the shape of every elementwise operation)."""
    first = shapes[0]
    if len(shapes) == 2 and shapes[1] == first or all(shape == first for shape in shapes[1:]):
        return first
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ShapeError(f"shapes {_and(shapes)} do not broadcast together") from None


def _and(shapes) -> str:
    shapes = [str(tuple(s)) for s in shapes]
    return shapes[0] if len(shapes) == 1 else ", ".join(shapes[:-1]) + " and " + shapes[-1]


@dataclass(frozen=True, eq=False)
class Primitive:
    """One operation: forward, VJP per argument, notation, identities. Compared by identity.

    `params` name the operation's static attributes (an axis, a shape): they are given as
    keywords when the operation is applied, stored in the node's `attrs`, and passed as the
    same keywords to `forward`, to `shape` and to every VJP rule. `shape(*input_shapes,
    **attrs)` gives the output's shape or raises ShapeError; without it the operation is
    elementwise and broadcasts like numpy. A `variadic` operation takes any number of inputs
    and has one rule, told which argument it is for by the keyword `argument`.
    """

    name: str
    forward: Callable[..., np.ndarray]
    vjps: tuple[Rule | None, ...]
    notation: Call | Infix | Prefix | Postfix | None = None
    commutative: bool = False
    folds: bool = False
    simplify: Callable[..., Node | None] | None = None
    analytic: bool = True  # holomorphic, and its forward takes complex numbers (complex step)
    params: tuple[str, ...] = ()
    shape: Callable[..., tuple[int, ...]] | None = None
    variadic: bool = False
    rearranges: bool = False  # every entry of the output is an entry of the (one) input
    passthrough: bool = False  # its value is its last input's (a custom function's body, hidden)
    batches: bool = True  # built for numbers, its forward also takes arrays of points
    fills: bool = False  # not a ufunc, but its forward writes a float64 result into `out=`
    doc: str = field(default="", compare=False)

    @property
    def arity(self) -> int:
        return len(self.vjps)

    @property
    def elementwise(self) -> bool:
        """Whether each entry of the output depends only on the same entry of the inputs."""
        return self.shape is None

    @property
    def printed(self) -> Call | Infix | Prefix | Postfix:
        return self.notation or Call(self.name)

    def rules(self, count: int) -> tuple[Rule | None, ...]:
        """The VJP rule of each of `count` arguments."""
        return self.vjps * count if self.variadic else self.vjps

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    def __call__(self, *args: Node | float, **attrs) -> Node:
        """Build `self(*args)` in the graph of the node arguments (ShapeError if the shapes of
        the arguments do not fit). Applied to numbers and Values only, it computes the number
        (the reverse pass on numbers, gradcli.eager)."""
        # written for speed: a gradient of 10^4 operations calls this some 30,000 times
        inputs = args
        graph = None
        numbers = 0
        for arg in args:
            if type(arg) is not Node:
                numbers += 1
            elif graph is None:
                graph = arg.graph
        if graph is None:  # numbers (and Values): the result is a number, computed now
            return self.compute([arg.value if type(arg) is Value else
                                 np.float64(arg) if type(arg) in (int, float) else arg
                                 for arg in args], attrs)
        if numbers:
            inputs = tuple(arg if type(arg) is Node else literal(graph, arg) for arg in args)
        if self.simplify is not None:
            simpler = self.simplify(*inputs, **attrs)
            if simpler is not None:
                return simpler
        if self.folds and inputs:
            for node in inputs:  # (is_literal, inlined)
                if node.op is not CONSTANT or node.attrs[1] is not None or node.shape:
                    break
            else:  # literal numbers only
                value = _fold(self.forward, [node.attrs[0] for node in inputs])
                # Only a finite, nonzero result is folded: a nan or inf keeps the node so that
                # evaluation can name the subexpression, and a zero keeps the sign it would have.
                if math.isfinite(value) and value != 0.0:
                    return literal(graph, value)
        if self.shape is not None:
            shape = self.shape(*(node.shape for node in inputs), **attrs)
        elif len(inputs) == 1:
            shape = inputs[0].shape
        elif len(inputs) == 2 and inputs[0].shape == inputs[1].shape:
            shape = inputs[0].shape
        else:
            shape = broadcast(*(node.shape for node in inputs)) if inputs else ()
        values = tuple(attrs[param] for param in self.params) if self.params else ()
        return graph.apply(self, inputs, values, shape)

    def compute(self, args, attrs=None):
        """The forward on values, as evaluation computes a node: numbers by the arithmetic
        operators (see OPERATORS), the static attributes as keywords."""
        if attrs:
            return self.forward(*args, **attrs)
        operator_ = OPERATORS.get(self.forward)
        if operator_ is not None:
            try:
                return operator_(*args)
            except ArithmeticError:  # 1.0 / 0.0 of two Python floats
                pass
        return self.forward(*args)


class Value:
    """A node of a graph together with its value at a point: what a VJP rule is given in the
    reverse pass on numbers (gradcli.eager). A rule reads the node's structure from it
    (`is_literal(y)`, `x.shape`) and computes with its value: arithmetic on a Value, or a
    primitive applied to it, gives a number, not a node."""

    __slots__ = ("node", "value")
    # numpy defers to a Value's operators (installed by ops.arithmetic): g * x, g a number
    __array_ufunc__ = None

    def __init__(self, node: Node, value):
        self.node = node
        self.value = value

    op = property(lambda self: self.node.op)
    attrs = property(lambda self: self.node.attrs)
    inputs = property(lambda self: self.node.inputs)
    shape = property(lambda self: self.node.shape)
    ndim = property(lambda self: len(self.node.shape))

    def __repr__(self) -> str:
        return f"Value({self.node!r}, {self.value!r})"


def constant_like(like, value: float, name: str | None = None):
    """The number `value` beside `like`: a constant node of its graph (printed as `name` when
    given), or, in the reverse pass on numbers, the float64 itself."""
    if type(like) is not Node:
        return np.float64(value)
    return named_constant(like.graph, name, value) if name else literal(like.graph, value)


def _fold(forward, numbers: list[float]) -> float:
    """The value of an operation on literal numbers."""
    operator_ = OPERATORS.get(forward)
    if operator_ is not None:
        try:
            return float(operator_(*numbers))
        except ArithmeticError:  # a division by zero: numpy's inf or nan
            pass
    with np.errstate(all="ignore"):
        return float(forward(*numbers))


def _no_forward(*args):  # pragma: no cover - leaves are read by the evaluator, never called
    raise TypeError("leaves have no forward function")


CONSTANT = Primitive("constant", _no_forward, (), notation=None)
"""A number or an array. attrs = (value, name): name is None for a literal, 'pi' for a named
constant, 'X' for data of a spec; an array value is held in a `Frozen`."""

VARIABLE = Primitive("variable", _no_forward, (), notation=None)
"""An input. attrs = (name,); the node's shape is the shape the graph was built for."""


class Frozen:
    """A read-only float64 array that can stand in a node's attrs: hashed and compared by
    shape and content, so that equal array literals are one node."""

    __slots__ = ("array", "_hash")

    def __init__(self, array):
        array = np.array(array, dtype=np.float64)
        array.flags.writeable = False
        self.array = array
        self._hash = hash((array.shape, array.tobytes()))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other) -> bool:
        return (isinstance(other, Frozen) and self._hash == other._hash
                and self.array.shape == other.array.shape
                and bool(np.array_equal(self.array, other.array, equal_nan=True)))

    def __repr__(self) -> str:
        return f"Frozen(shape={self.array.shape})"


def literal(graph: Graph, value) -> Node:
    """A number, or an array (held as a `Frozen`)."""
    if isinstance(value, (Frozen, np.ndarray)) and np.ndim(getattr(value, "array", value)):
        frozen = value if isinstance(value, Frozen) else Frozen(value)
        return graph.apply(CONSTANT, (), (frozen, None), frozen.array.shape)
    return graph.apply(CONSTANT, (), (float(value), None))


def named_constant(graph: Graph, name: str, value) -> Node:
    """A constant under a name (pi, or a spec's data); an array may come as a `Frozen`."""
    if isinstance(value, Frozen) or np.ndim(value):
        frozen = value if isinstance(value, Frozen) else Frozen(value)
        return graph.apply(CONSTANT, (), (frozen, name), frozen.array.shape)
    return graph.apply(CONSTANT, (), (float(value), name))


def variable(graph: Graph, name: str, shape: tuple[int, ...] = ()) -> Node:
    return graph.apply(VARIABLE, (), (name,), tuple(shape))


def constant_value(node: Node):
    """The value of a constant node: a float, or a read-only array."""
    value = node.attrs[0]
    return value.array if isinstance(value, Frozen) else value


def is_literal(node: Node, value: float | None = None) -> bool:
    """Whether `node` is a literal number (equal to `value`, when given); arrays are not."""
    if node.op is not CONSTANT or node.attrs[1] is not None or node.shape:
        return False
    return value is None or node.attrs[0] == value


def uniform_value(node: Node) -> float | None:
    """The number every entry of `node` equals, when `node` is a literal number or an
    arrangement of one (a broadcast, a reshape): `broadcast_to(1, shape=[3])` is all 1."""
    while node.op.rearranges:
        node = node.inputs[0]
    return node.attrs[0] if is_literal(node) else None


def is_constant(node: Node) -> bool:
    return node.op is CONSTANT
