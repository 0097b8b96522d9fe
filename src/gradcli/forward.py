"""Forward mode: tangents as graph nodes, from the same table of VJP rules as reverse mode.

The tangent of a node is the sum over its arguments of the argument's tangent pushed through
the node's derivative. For an elementwise operation that is `partial * tangent`, where the
partial is the argument's VJP rule applied to the cotangent 1 (`g * cos(x)` at g = 1 is
`cos(x)`). For any other operation (a matmul, a sum, a softmax) the VJP rule is a linear map
v ↦ Jᵀv, built of graph operations; its transpose J·t is the gradient, with respect to v, of
⟨Jᵀv, t⟩, which reverse mode gives (the transposition trick of Griewank & Walther). So no
operation needs a second, forward rule, and forward over reverse (Hessian-vector products)
comes from the same table too.

A direction is given as a node per input (a variable, or a constant); `tangent_variable` makes
one the user cannot name, so that one tangent graph serves every direction it is evaluated at.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gradcli.autodiff import UNCONNECTED, apply_rule, backward, vjp
from gradcli.graph import Node, ancestors
from gradcli.ops.core import literal, variable
from gradcli.ops.reduction import sum_
from gradcli.ops.shape import broadcast_to

TANGENT = "\x00tangent:"  # no name a user types can start with NUL


def tangent_variable(node: Node) -> Node:
    """The direction of the input `node` as a variable of its shape (evaluated with
    `{tangent_name(name): direction}`)."""
    return variable(node.graph, tangent_name(node.attrs[0]), node.shape)


def tangent_name(name: str) -> str:
    return TANGENT + name


def partial(node: Node, k: int) -> Node:
    """∂node/∂(argument k) of an elementwise operation, entry by entry: the argument's VJP
    rule at the cotangent 1."""
    return apply_rule(node, k, literal(node.graph, 1.0))


def push(node: Node, k: int, tangent: Node) -> Node:
    """J·tangent: the tangent of argument k carried through `node` (of `node`'s shape)."""
    if node.op.elementwise:
        term = partial(node, k) * tangent
    else:
        probe = variable(node.graph, f"{TANGENT}{node.index}:cotangent", node.shape)
        pairing = vjp(node, k, probe) * tangent
        inner = sum_(pairing, axis=None, keepdims=False) if pairing.shape else pairing
        term = backward(inner, [probe]).gradient(probe)
        if term is UNCONNECTED:  # a rule that ignores its cotangent: the map is zero
            term = literal(node.graph, 0.0)
    if term.shape != node.shape:
        term = broadcast_to(term, shape=node.shape)
    return term


def tangents(roots: Sequence[Node], seeds: Mapping[int, Node]) -> dict[int, Node]:
    """The tangent node of every node the roots depend on that a seeded node reaches, keyed by
    index; `seeds` maps the index of an input to its tangent (a node of the input's shape).
    One loop in evaluation order: a node's tangent is complete before any consumer needs it."""
    result: dict[int, Node] = {}
    for node in ancestors(roots):
        seed = seeds.get(node.index)
        if seed is not None:
            result[node.index] = seed
            continue
        rules = node.op.rules(len(node.inputs))
        total = None
        for k, (arg, rule) in enumerate(zip(node.inputs, rules, strict=True)):
            incoming = result.get(arg.index)
            if incoming is None or rule is None:
                continue
            term = push(node, k, incoming)
            total = term if total is None else total + term
        if total is not None:
            result[node.index] = total
    return result
