"""Rule narration: which rule of calculus gives the derivative at each node, and its value.

For a variable x, every node the output depends on through x gets its derivative d/dx as a
formula (the node's tangent in forward mode along x, simplified) and as a number at the point,
with the rule that combines the derivatives of its arguments: the sum, product, quotient and
power rules for the arithmetic rows of the table, the chain rule (with "let u = ...") for a
function of a compound argument. The tree starts at the output and ends at the variable; a
subexpression met twice is explained once. Nothing here differentiates on its own: the
formulas are the nodes forward mode builds from the primitive table, and the local rule of a
function is its VJP rule at the cotangent 1, printed in u.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from gradcli.api import Function
from gradcli.errors import UsageError
from gradcli.forward import partial, tangents
from gradcli.graph import Node
from gradcli.ops import add, div, mul, neg, sub
from gradcli.ops import pow as power
from gradcli.ops.core import Call, literal
from gradcli.printing import to_text
from gradcli.report import jsonable
from gradcli.simplify import simplify

# The laws of the arithmetic rows, by which arguments depend on x: (first, second, both).
LAWS = {
    add: ("constant term: (u + c)' = u'", "constant term: (c + v)' = v'",
          "sum rule: (u + v)' = u' + v'"),
    sub: ("constant term: (u - c)' = u'", "difference rule: (c - v)' = -v'",
          "difference rule: (u - v)' = u' - v'"),
    mul: ("constant factor: (u*c)' = u'*c", "constant factor: (c*v)' = c*v'",
          "product rule: (u*v)' = u'*v + u*v'"),
    div: ("constant divisor: (u/c)' = u'/c", "reciprocal rule: (c/v)' = -c*v'/v**2",
          "quotient rule: (u/v)' = (u'*v - u*v')/v**2"),
    power: ("power rule: (u**n)' = n*u**(n - 1)*u'", "exponential rule: (a**v)' = a**v*log(a)*v'",
          "general power rule: (u**v)' = u**v*(v'*log(u) + v*u'/u)"),
}


@dataclass
class Step:
    formula: str  # the subexpression
    derivative: str  # its derivative, simplified
    value: float | None
    rule: str
    repeat: bool = False  # explained above already
    children: list[Step] = field(default_factory=list)

    def to_dict(self, notes: list[str]) -> dict:
        """Nested dicts, built with a stack (a tree as deep as the expression)."""
        out = self._flat(notes)
        stack = [(self, out)]
        while stack:
            step, target = stack.pop()
            for child in step.children:
                entry = child._flat(notes)
                target["children"].append(entry)
                stack.append((child, entry))
        return out

    def lines(self, name: str) -> list[str]:
        """The tree as indented plain text, two spaces a level."""
        out: list[str] = []
        stack = [(self, 0)]
        while stack:
            step, depth = stack.pop()
            pad = "  " * depth
            if step.formula == "…":
                out.append(f"{pad}{step.rule}")
            else:
                value = f" = {step.value!r}" if step.value is not None else ""
                out.append(f"{pad}d/d{name} [{step.formula}] = {step.derivative}{value}"
                           f"    ({step.rule})")
            stack.extend((child, depth + 1) for child in reversed(step.children))
        return out

    def _flat(self, notes: list[str]) -> dict:
        value = jsonable(self.value, f"the derivative of {self.formula}", notes)
        return {"formula": self.formula, "derivative": self.derivative, "value": value,
                "rule": self.rule, "repeat": self.repeat, "children": []}


@dataclass
class Explanation:
    """The tree of each variable, by name (the JSON key `explain`)."""

    trees: dict[str, Step]

    def to_dict(self, notes: list[str]) -> dict:
        return {name: step.to_dict(notes) for name, step in self.trees.items()}

    def lines(self) -> list[str]:
        return [line for name, step in self.trees.items() for line in step.lines(name)]


def explain(f: Function, point: Mapping[str, object], name: str, limit: int | None = None
            ) -> Step:
    """The tree of rules for d/d`name` of `f` at `point`, of at most `limit` steps (None: all)."""
    f, _, point, _ = f._prepare(point, False)
    variable = f.variable_node(name)
    if any(f.shapes.values()):
        raise UsageError("--explain narrates derivatives of functions of numbers; for arrays, "
                         "use --trace")
    if variable is None:
        return Step(name, "None", None, "no path from the output: the expression does not use it")
    found = tangents([f.output], {variable.index: literal(f.graph, 1.0)})
    if f.output.index not in found:
        return Step(to_text(f.output), "None", None,
                    "no path from the output carries a gradient to this variable")
    order = [index for index in found if index != variable.index]
    simple = dict(zip(order, simplify([found[i] for i in order]), strict=True))
    values = f._run([f.output, *(found[i] for i in order)], point)
    nodes = f.graph.nodes
    root = _step(nodes[f.output.index], found, simple, values, variable)
    stack, seen, count = [(f.output.index, root)], {f.output.index}, 1
    while stack:
        index, step = stack.pop()
        node = nodes[index]
        for arg, rule in zip(node.inputs, node.op.rules(len(node.inputs)), strict=True):
            if rule is None or arg.index not in found or arg.index == variable.index:
                continue  # a custom function's rule stands for its body: not explained
            if limit is not None and count >= limit:
                step.children.append(Step("…", "", None, f"more steps left out (limit {limit})"))
                stack.clear()
                break
            child = _step(arg, found, simple, values, variable)
            count += 1
            if arg.index in seen:
                child.repeat, child.rule = True, "explained above"
            else:
                seen.add(arg.index)
                stack.append((arg.index, child))
            step.children.append(child)
    return root


def _step(node: Node, found, simple, values, variable: Node) -> Step:
    value = values.get(found[node.index].index)
    number = float(np.asarray(value)) if value is not None and not np.ndim(value) else None
    return Step(to_text(node), to_text(simple[node.index]), number,
                _rule(node, found, variable))


def _rule(node: Node, found, variable: Node) -> str:
    connected = [arg.index in found and rule is not None
                 for arg, rule in zip(node.inputs, node.op.rules(len(node.inputs)), strict=True)]
    laws = LAWS.get(node.op)
    if laws is not None:
        return laws[2] if all(connected) else laws[0] if connected[0] else laws[1]
    if node.op is neg:
        return "sign rule: (-u)' = -u'"
    if isinstance(node.op.printed, Call) and len(node.inputs) == 1 and node.op.elementwise:
        arg = node.inputs[0]
        outer = to_text(partial(node, 0), {arg.index: "u"})
        name = node.op.printed.name
        if arg is variable:
            return f"derivative of {name}: d/du {name}(u) = {outer}"
        return f"chain rule: let u = {to_text(arg)}; ({name}(u))' = {outer}*u'"
    if node.op.passthrough:  # a function of the spec (gradcli.custom)
        if connected[-1]:
            return f"through the definition of {node.op.name}"
        return (f"chain rule through {node.op.name}, by its own rule: the derivatives of its "
                "arguments, each times the rule's partial derivative")
    return (f"chain rule through {node.op.name}: the derivatives of its arguments, each "
            f"times its partial derivative")

