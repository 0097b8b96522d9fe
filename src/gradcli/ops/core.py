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
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

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
class Prefix:
    """Printed as `symbol a`."""

    symbol: str
    precedence: int


Rule = Callable[..., Node]


@dataclass(frozen=True, eq=False)
class Primitive:
    """One operation: forward, VJP per argument, notation, identities. Compared by identity."""

    name: str
    forward: Callable[..., np.ndarray]
    vjps: tuple[Rule | None, ...]
    notation: Call | Infix | Prefix | None = None
    commutative: bool = False
    folds: bool = False
    simplify: Callable[..., Node | None] | None = None
    analytic: bool = True  # holomorphic, and its forward takes complex numbers (complex step)
    doc: str = field(default="", compare=False)

    @property
    def arity(self) -> int:
        return len(self.vjps)

    @property
    def printed(self) -> Call | Infix | Prefix:
        return self.notation or Call(self.name)

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    def __call__(self, *args: Node | float) -> Node:
        """Build `self(*args)` in the graph of the node arguments."""
        graph = next(arg.graph for arg in args if isinstance(arg, Node))
        inputs = [arg if isinstance(arg, Node) else literal(graph, arg) for arg in args]
        if self.simplify is not None:
            simpler = self.simplify(*inputs)
            if simpler is not None:
                return simpler
        if self.folds and all(is_literal(node) for node in inputs):
            with np.errstate(all="ignore"):
                value = float(self.forward(*(node.attrs[0] for node in inputs)))
            # Only a finite, nonzero result is folded: a nan or inf keeps the node so that
            # evaluation can name the subexpression, and a zero keeps the sign it would have.
            if math.isfinite(value) and value != 0.0:
                return literal(graph, value)
        return graph.apply(self, inputs)


def _no_forward(*args):  # pragma: no cover - leaves are read by the evaluator, never called
    raise TypeError("leaves have no forward function")


CONSTANT = Primitive("constant", _no_forward, (), notation=None)
"""A number. attrs = (value, name): name is None for a literal, 'pi' for a named constant."""

VARIABLE = Primitive("variable", _no_forward, (), notation=None)
"""An input. attrs = (name,)."""


def literal(graph: Graph, value: float) -> Node:
    return graph.apply(CONSTANT, (), (float(value), None))


def named_constant(graph: Graph, name: str, value: float) -> Node:
    return graph.apply(CONSTANT, (), (float(value), name))


def variable(graph: Graph, name: str) -> Node:
    return graph.apply(VARIABLE, (), (name,))


def is_literal(node: Node, value: float | None = None) -> bool:
    """Whether `node` is a literal number (equal to `value`, when given)."""
    if node.op is not CONSTANT or node.attrs[1] is not None:
        return False
    return value is None or node.attrs[0] == value


def is_constant(node: Node) -> bool:
    return node.op is CONSTANT
