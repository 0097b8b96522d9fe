"""Nodes and the append-only graph.

Every node has a static shape: () for a number, (16, 3) for a matrix. A graph is built for one
assignment of shapes to its variables (the shapes of the point it is evaluated at), so that a
shape mismatch is found while the graph is built, at the operation that causes it.

A graph is a list of nodes in evaluation order: a node's inputs always stand before it, so
every pass over the graph is a loop over `graph.nodes` (forwards) or over it reversed
(backwards), never a recursion. Identical subexpressions are one node: `apply` looks the
operation up by (op, inputs, attrs) before it appends, so `sin(x)*sin(x)` has one `sin`, and
the gradient shares every node it has in common with the expression it came from.
"""

from __future__ import annotations

import gc
from collections.abc import Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any


class Node:
    """One operation applied to earlier nodes. `index` is its place in evaluation order.

    Nodes are compared by identity: within one graph, equal structure means the same node.
    Arithmetic on nodes (`a * b`, `g / (1 + x**2)`) builds new nodes; the operators are
    installed by `gradcli.ops`, so derivative rules read as the mathematics they state.
    """

    __slots__ = ("graph", "index", "op", "inputs", "attrs", "shape")

    def __init__(self, graph: Graph, index: int, op: Any, inputs: tuple[Node, ...], attrs: tuple,
                 shape: tuple[int, ...] = ()):
        self.graph = graph
        self.index = index
        self.op = op
        self.inputs = inputs
        self.attrs = attrs
        self.shape = shape

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        size = 1
        for n in self.shape:
            size *= n
        return size

    def __repr__(self) -> str:
        args = ", ".join(f"%{i.index}" for i in self.inputs)
        attrs = f" {self.attrs!r}" if self.attrs else ""
        return f"%{self.index} = {self.op.name}({args}){attrs}"


class Graph:
    """An append-only DAG of nodes with structural sharing."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self._lookup: dict[Hashable, Node] = {}

    def __len__(self) -> int:
        return len(self.nodes)

    def apply(self, op: Any, inputs: Sequence[Node] = (), attrs: tuple = (),
              shape: tuple[int, ...] = ()) -> Node:
        """The node for `op(*inputs)` of the given (static) shape, reusing an identical one when
        the graph has it.

        For a commutative op the order of the inputs does not matter to the lookup: `x*y` and
        `y*x` are one node (IEEE addition and multiplication are commutative, so the value is
        the same either way); the node keeps the order it was first built with.
        """
        if len(inputs) == 2:  # most operations: no list, no sort
            a, b = inputs[0].index, inputs[1].index
            key = (op, (b, a) if op.commutative and b < a else (a, b), attrs)
        elif not inputs:  # a number, a variable
            key = (op, (), attrs)
        else:
            ids = tuple([node.index for node in inputs])
            key = (op, tuple(sorted(ids)) if op.commutative else ids, attrs)
        node = self._lookup.get(key)
        if node is None:
            node = Node(self, len(self.nodes), op, tuple(inputs), attrs, shape)
            self.nodes.append(node)
            self._lookup[key] = node
        return node

    def find(self, op: Any, attrs: tuple) -> Node | None:
        """The input-free node `op` with `attrs` (a variable, a constant), if the graph has it."""
        return self._lookup.get((op, (), attrs))


def ancestors(roots: Iterable[Node]) -> list[Node]:
    """Every node the roots depend on, themselves included, in evaluation order.

    One sweep from the highest index down: a node is needed when a needed node uses it.
    """
    roots = list(roots)
    if not roots:
        return []
    nodes = roots[0].graph.nodes
    top = max(root.index for root in roots)
    needed = bytearray(top + 1)
    for root in roots:
        needed[root.index] = 1
    for index in range(top, -1, -1):
        if needed[index]:
            for node in nodes[index].inputs:
                needed[node.index] = 1
    return [nodes[index] for index in range(top + 1) if needed[index]]


@contextmanager
def collector_paused() -> Iterator[None]:
    """A large graph is built, and evaluated, with Python's cyclic garbage collector paused.
    Every node refers to its graph, which refers to every node, so each collection would walk
    the whole graph again: a third of the time of parsing and differentiating 10^5 operations,
    and evaluating makes a value per node. The cycles are collected as usual once the
    collector runs again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
