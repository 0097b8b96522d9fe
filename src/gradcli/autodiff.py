"""Reverse mode: adjoints as graph nodes, built by one backward loop over the graph.

The pass walks the nodes from the output down to the first, and for every node that has an
adjoint it applies the VJP rule of each argument that leads to a variable of interest. Where an
argument was broadcast (a bias of shape (20,) added to a (16, 20) matrix), the contribution is
summed back to the argument's shape here, once for every operation. The
contributions are graph nodes, accumulated with `+` where a node fans out, so the gradient is
a graph like any other: it can be evaluated at any point, printed, or differentiated again.

A variable that no contribution reaches is `UNCONNECTED`: there is no path from the output to
it, or every path passes through an operation that carries no gradient (a comparison, sign,
floor). That is kept apart from a gradient that is connected and happens to evaluate to zero,
and resolved to None, 0 or an error only at the edge (TensorFlow's UnconnectedGradients).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from gradcli.graph import Node
from gradcli.ops.core import literal
from gradcli.ops.shape import broadcast_to, sum_to


class Unconnected:
    """No path from the output: not the same thing as a gradient equal to zero."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNCONNECTED"

    def __bool__(self) -> bool:
        return False


UNCONNECTED = Unconnected()


class Step(NamedTuple):
    """One application of the chain rule: `target` receives `contribution` from `source`.

    `adjoint` is the running adjoint of `target` after the step; `accumulated` says it already
    held a contribution (fan-out: the step is a `+=`). A tuple: a large gradient makes tens of
    thousands.
    """

    source: Node
    argument: int
    target: Node
    contribution: Node
    adjoint: Node
    accumulated: bool


@dataclass
class Backward:
    """The result of a reverse pass: the adjoint node of every node reached, and the steps."""

    output: Node
    adjoints: dict[int, Node] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)

    def gradient(self, node: Node | None) -> Node | Unconnected:
        if node is None:
            return UNCONNECTED
        return self.adjoints.get(node.index, UNCONNECTED)


def backward(output: Node, wrt: Sequence[Node], seed: Node | None = None) -> Backward:
    """Adjoints of `output` with respect to the nodes `wrt`, seeded with 1 unless given: for
    an array output, 1 at every entry, so that the adjoints are those of the sum of its
    entries (TensorFlow's gradient of a non-scalar target)."""
    graph = output.graph
    nodes = graph.nodes
    top = output.index
    # Forward sweep: which nodes depend on a node of interest through differentiable edges.
    active = bytearray(top + 1)
    for node in wrt:
        if node.index <= top:
            active[node.index] = 1
    for index in range(top + 1):
        if active[index]:
            continue
        node = nodes[index]
        for arg, rule in zip(node.inputs, node.op.rules(len(node.inputs)), strict=True):
            if rule is not None and active[arg.index]:
                active[index] = 1
                break

    result = Backward(output)
    if not active[top]:
        return result
    adjoints = result.adjoints
    if seed is None:
        seed = literal(graph, 1.0)
        if output.shape:
            seed = broadcast_to(seed, shape=output.shape)
    adjoints[top] = seed
    # Backward sweep, from the output down: every consumer of a node comes after it, so a
    # node's adjoint is complete when the loop reaches it.
    for index in range(top, -1, -1):
        g = adjoints.get(index)
        if g is None:
            continue
        node = nodes[index]
        inputs = node.inputs
        for k, (arg, rule) in enumerate(zip(inputs, node.op.rules(len(inputs)), strict=True)):
            if rule is None or not active[arg.index]:
                continue
            contribution = _cotangent(rule, node, k, g)
            previous = adjoints.get(arg.index)
            running = contribution if previous is None else previous + contribution
            adjoints[arg.index] = running
            result.steps.append(Step(node, k, arg, contribution, running, previous is not None))
    return result


def vjp(node: Node, k: int, g: Node) -> Node:
    """The cotangent that `node`'s argument `k` receives from the cotangent `g` of `node`: the
    argument's VJP rule from the table, summed back to the argument's shape where the argument
    was broadcast. The argument must carry a gradient (its rule is not None)."""
    return _cotangent(node.op.rules(len(node.inputs))[k], node, k, g)


def _cotangent(rule, node: Node, k: int, g: Node) -> Node:
    contribution = _applied(rule, node, k, g)
    shape = node.inputs[k].shape
    if contribution.shape != shape:  # the argument was broadcast: sum it back
        contribution = sum_to(contribution, shape=shape)
    return contribution


def apply_rule(node: Node, k: int, g: Node) -> Node:
    """The VJP rule of `node`'s argument `k` applied to `g`, with the node's static attributes
    (and, for a variadic operation, which argument it is): of the broadcast shape."""
    return _applied(node.op.rules(len(node.inputs))[k], node, k, g)


def _applied(rule, node: Node, k: int, g: Node) -> Node:
    op = node.op
    if not op.params and not op.variadic:
        return rule(g, node, *node.inputs)
    attrs = dict(zip(op.params, node.attrs, strict=True)) if op.params else {}
    if op.variadic:
        attrs["argument"] = k
    return rule(g, node, *node.inputs, **attrs)
