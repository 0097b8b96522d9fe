"""Reverse mode on numbers: the gradient at one point, without building a gradient graph.

`autodiff.backward` builds the gradient as a graph, so that it can be printed, traced and
differentiated again. A gradient wanted at one point only (`gradcli grad`, most checks) would
build that graph to evaluate it once, and building costs five times what evaluating does. This
pass applies the same VJP rules, from the same table, to the values of the forward pass, as
HIPS autograd does: each rule is given its node and arguments as `Value`s (a node with its
value), so that it still reads their structure (`is_literal(y)`, `x.shape`) while every
primitive it applies computes a number at once instead of appending a node.

The numbers are those the graph would give, bit for bit: the identities applied while a graph
is built keep values exactly (x*1 is x), literals are float64 in both, and the arithmetic is
the evaluator's (`Primitive.compute`). tests/test_eager.py holds the two to it over the whole
function table and the benchmark's random expressions.

Only for the table's own primitives: a function a spec defines reads its rule's text into a
graph (`supports` says whether a graph qualifies).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from gradcli.graph import Node
from gradcli.ops import CONSTANT, PRIMITIVES, VARIABLE
from gradcli.ops.core import Value
from gradcli.ops.shape import sum_to

_TABLE = frozenset(PRIMITIVES) | {CONSTANT, VARIABLE}


def supports(nodes: Sequence[Node]) -> bool:
    """Whether every operation among `nodes` is a row of the table (not a spec's function)."""
    return all(node.op in _TABLE for node in nodes)


def gradient(output: Node, wrt: Sequence[Node], values: Mapping[int, object]) -> dict[int, object]:
    """The value of the adjoint of each node of `wrt` that the number `output` depends on through
    edges with a gradient, keyed by node index (a node the gradient does not reach is absent:
    unconnected). `values` holds the value of every node the output depends on."""
    nodes = output.graph.nodes
    top = output.index
    wanted = {node.index for node in wrt}
    found: dict[int, object] = {}
    adjoints: dict[int, object] = {top: np.float64(1.0)}
    given: list[Value | None] = [None] * (top + 1)  # each node as rules see it, made once
    with np.errstate(all="ignore"):
        for index in range(top, -1, -1):
            g = adjoints.pop(index, None)
            if g is None:
                continue
            node = nodes[index]
            inputs = node.inputs
            if not inputs:
                if index in wanted:
                    found[index] = g
                continue
            op = node.op
            attrs = (dict(zip(op.params, node.attrs, strict=True)) if op.params
                     else {} if op.variadic else None)
            rules = op.vjps * len(inputs) if op.variadic else op.vjps
            ans = given[index] or Value(node, values[index])
            args = []
            for arg in inputs:
                value = given[arg.index]
                if value is None:
                    value = given[arg.index] = Value(arg, values[arg.index])
                args.append(value)
            for k, arg in enumerate(inputs):
                rule = rules[k]
                # an argument with no gradient, or a leaf not asked for (a constant), gets none
                if rule is None or not arg.inputs and arg.index not in wanted:
                    continue
                if attrs is None:
                    contribution = rule(g, ans, *args)
                else:
                    if op.variadic:
                        attrs["argument"] = k
                    contribution = rule(g, ans, *args, **attrs)
                if type(contribution) is Value:  # a rule that hands back an argument
                    contribution = contribution.value
                if getattr(contribution, "shape", ()) != arg.shape:  # the argument was broadcast
                    contribution = sum_to.compute([contribution], {"shape": arg.shape})
                previous = adjoints.get(arg.index)
                adjoints[arg.index] = (contribution if previous is None
                                       else previous + contribution)
    return found
