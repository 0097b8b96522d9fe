"""Evaluation traces: the chain rule node by node, as in the tables of Baydin et al. (2018).

The primal trace numbers the nodes as the textbooks do: the n inputs v₁₋ₙ … v₀ (in the order the
variables appear), then every operation v₁, v₂, … in evaluation order; constants stay inline.
Each row gives the node's operation, its definition in terms of earlier nodes and its value.

The adjoint trace lists the steps of the reverse pass (gradcli.autodiff's `Step`s), from the
output down: the adjoint updated, the local partial ∂vᵢ/∂vⱼ as a formula and a number, the
contribution v̄ᵢ·∂vᵢ/∂vⱼ, and the running adjoint; a second contribution to the same adjoint is
a `+=` (fan-out). The partial is the argument's VJP rule at the cotangent 1; for an operation
that is not elementwise (a matmul, a softmax) it is a Jacobian, and the trace gives the VJP
instead, as a formula in v̄ᵢ. The tangent trace (forward mode) gives v̇ᵢ for each node, as a
formula in earlier tangents and as a number along each direction.

Everything comes from the function's one graph and the primitive table: the formulas are the
nodes the rules build, printed, and the numbers are those nodes evaluated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from gradcli.api import Function
from gradcli.autodiff import UNCONNECTED, vjp
from gradcli.derivatives import direction_inputs
from gradcli.errors import UsageError
from gradcli.forward import TANGENT, partial, tangent_variable, tangents
from gradcli.graph import Node, ancestors
from gradcli.ops.core import CONSTANT, VARIABLE, variable
from gradcli.printing import to_text
from gradcli.report import jsonable, number_or_array

SUBSCRIPTS = str.maketrans("-0123456789", "₋₀₁₂₃₄₅₆₇₈₉")
BAR, DOT = "\u0304", "\u0307"  # combining macron (adjoint) and dot above (tangent)


def subscript(k: int) -> str:
    return str(k).translate(SUBSCRIPTS)


@dataclass
class PrimalStep:
    node: str  # v₋₁, v₀, v₁, ...
    index: int  # its number: -1, 0, 1, ...
    op: str
    definition: str
    value: object

    def to_dict(self, notes: list[str]) -> dict:
        return {"node": self.node, "index": self.index, "op": self.op,
                "definition": self.definition, "value": jsonable(self.value, self.node, notes)}


@dataclass
class AdjointStep:
    node: str  # the node whose adjoint is updated
    source: str  # the node the contribution comes from
    op: str  # the source's operation
    definition: str  # 'v̄₀ += v̄₂ · ∂v₂/∂v₀'
    value: object  # the node's value
    adjoint: str
    partial_formula: str  # 'cos(v₀)'; for an operation that is not elementwise, the VJP in v̄
    partial: object  # None where the partial is a Jacobian (not elementwise)
    contribution: object
    running: object
    accumulated: bool

    def to_dict(self, notes: list[str]) -> dict:
        where = f"{self.adjoint} from {self.source}"
        return {"node": self.node, "op": self.op, "definition": self.definition,
                "value": jsonable(self.value, self.node, notes), "adjoint": self.adjoint,
                "source": self.source, "partial_formula": self.partial_formula,
                "partial": jsonable(self.partial, f"partial of {where}", notes),
                "contribution": jsonable(self.contribution, f"contribution to {where}", notes),
                "running": jsonable(self.running, self.adjoint, notes),
                "accumulated": self.accumulated}


@dataclass
class TangentStep:
    node: str
    op: str
    definition: str  # of the primal node
    value: object
    tangent: str  # v̇₁
    tangent_formula: str  # 'v̇₋₁/v₋₁'
    tangents: list  # one value per direction

    def to_dict(self, notes: list[str]) -> dict:
        return {"node": self.node, "op": self.op, "definition": self.definition,
                "value": jsonable(self.value, self.node, notes), "tangent": self.tangent,
                "tangent_formula": self.tangent_formula,
                "tangents": [jsonable(t, self.tangent, notes) for t in self.tangents]}


@dataclass
class Unreached:
    """An input the output's gradient does not reach, and why."""

    variable: str
    node: str | None  # None for a name the expression does not have
    reason: str

    def to_dict(self, notes: list[str]) -> dict:
        return {"variable": self.variable, "node": self.node, "reason": self.reason}


@dataclass
class Trace:
    mode: str  # 'reverse' or 'forward'
    parsed: str  # the expression with every grouping bracketed
    primal: list[PrimalStep] = field(default_factory=list)
    adjoint: list[AdjointStep] = field(default_factory=list)
    tangent: list[TangentStep] = field(default_factory=list)
    directions: list[dict] = field(default_factory=list)
    unconnected: list[Unreached] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The trace as plain text, a line per step, numbers in full."""
        out = [f"parsed as {self.parsed}"]
        out += [f"{s.node} = {s.definition} = {summary(s.value)}" for s in self.primal]
        for s in self.adjoint:
            partial = (f"∂{s.source}/∂{s.node} = {s.partial_formula} = {summary(s.partial)}"
                       if s.partial is not None else f"VJP {s.partial_formula}")
            out.append(f"{s.definition}; {partial}; contribution {summary(s.contribution)};"
                       f" {s.adjoint} = {summary(s.running)}")
        for s in self.tangent:
            values = ", ".join(summary(t) for t in s.tangents)
            out.append(f"{s.tangent} = {s.tangent_formula} = {values}")
        out += [f"{u.variable}: unconnected, {u.reason}" for u in self.unconnected]
        return out

    def to_dict(self, notes: list[str]) -> dict:
        out: dict = {"mode": self.mode, "parsed": self.parsed,
                     "primal": [step.to_dict(notes) for step in self.primal]}
        if self.mode == "reverse":
            out["adjoint"] = [step.to_dict(notes) for step in self.adjoint]
        else:
            out["directions"] = [{k: jsonable(v, k, notes) for k, v in d.items()}
                                 for d in self.directions]
            out["tangent"] = [step.to_dict(notes) for step in self.tangent]
        out["unconnected"] = [u.to_dict(notes) for u in self.unconnected]
        return out


def summary(value, digits: int | None = None) -> str:
    """A number with `digits` significant digits (all of them by default); an array as its
    shape, its norm and its first entries: '(3,) ‖0.62‖ [0.2, 0.3, 0.5]'."""
    if value is None:
        return "None"
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return repr(float(array)) if digits is None else f"{float(array):.{digits}g}"
    first = ", ".join(f"{x:.4g}" for x in array.ravel()[:3]) + (", …" if array.size > 3 else "")
    return f"{array.shape} ‖{np.linalg.norm(array.ravel()):.6g}‖ [{first}]"


def numbering(f: Function) -> dict[int, int]:
    """The textbook number of every non-constant node the output depends on, by node index."""
    nodes = ancestors([f.output])
    order = {name: k for k, name in enumerate(f.variables)}
    inputs = sorted((n for n in nodes if n.op is VARIABLE), key=lambda n: order.get(n.attrs[0], 0))
    numbers = {node.index: k - len(inputs) + 1 for k, node in enumerate(inputs)}
    operations = [n for n in nodes if n.op is not VARIABLE and n.op is not CONSTANT]
    numbers.update({node.index: k + 1 for k, node in enumerate(operations)})
    return numbers


def trace(f: Function, point: Mapping[str, object], wrt: Sequence[str] | None = None,
          mode: str = "reverse", directions: Sequence[Mapping[str, object]] | None = None
          ) -> Trace:
    """The trace of `f` at `point`, in reverse or forward mode. Forward mode follows each of
    `directions` (default: a unit direction per variable that is a number, a direction of ones
    per array variable)."""
    if mode not in ("reverse", "forward"):
        raise UsageError(f"the mode of a trace is reverse or forward, not {mode!r}")
    f, _, point, _ = f._prepare(point, False)
    numbers = numbering(f)
    names = {index: "v" + subscript(k) for index, k in numbers.items()}
    nodes = f.graph.nodes
    result = Trace(mode, to_text(f.output, explicit=True))
    asked = list(f.variables if wrt is None else wrt)
    if mode == "reverse":
        backward = f.backward()
        partials = _partials(backward, names)
        extra = [n for step in backward.steps for n in (step.contribution, step.adjoint)]
        values = f._run([f.output, *extra, *(p for p, _ in partials if p is not None)], point)
        _primal(result, nodes, numbers, names, values)
        for step, (partial_node, formula) in zip(backward.steps, partials, strict=True):
            k = numbers[step.target.index]
            bar = "v" + BAR + subscript(k)
            source = names[step.source.index]
            sign = "+=" if step.accumulated else "="
            result.adjoint.append(AdjointStep(
                names[step.target.index], source, step.source.op.name,
                f"{bar} {sign} v{BAR}{subscript(numbers[step.source.index])} · "
                f"∂{source}/∂{names[step.target.index]}",
                values[step.target.index], bar, formula,
                number_or_array(values[partial_node.index]) if partial_node is not None else None,
                number_or_array(values[step.contribution.index]), number_or_array(values[step.adjoint.index]),
                step.accumulated))
    else:
        seeds = {node.index: tangent_variable(node) for name in f.variables
                 if (node := f.variable_node(name)) is not None}
        found = tangents([f.output], seeds)
        dot_names = dict(names)
        for index, k in numbers.items():
            if index in found:
                dot_names.setdefault(found[index].index, "v" + DOT + subscript(k))
        chosen = list(directions) if directions else _unit_directions(f)
        result.directions = [dict(d) for d in chosen]
        runs = [f._run([f.output, *found.values()],
                       {**point, **direction_inputs(f, f.variables, d)}) for d in chosen]
        values = runs[0] if runs else f._run([f.output], point)
        _primal(result, nodes, numbers, names, values)
        index_of = {k: index for index, k in numbers.items()}
        for step in result.primal:
            tangent = found.get(index_of[step.index])
            if tangent is None:
                continue
            own = "v" + DOT + subscript(step.index)
            if step.op == "input":  # the seed: ẋ1 for x1
                formula = step.definition[0] + DOT + step.definition[1:]
            else:
                formula = _formula(tangent, dot_names, own)
            result.tangent.append(TangentStep(step.node, step.op, step.definition, step.value, own,
                                              formula, [number_or_array(r[tangent.index]) for r in runs]))
    connected = {name for name in asked if f.gradient_node(name) is not UNCONNECTED}
    for name in asked:
        if name not in connected:
            result.unconnected.append(_unreached(f, name, names))
    return result


# ---------------------------------------------------------------------------------------------


def _primal(result: Trace, nodes, numbers, names, values) -> None:
    for index, k in sorted(numbers.items(), key=lambda item: item[1]):
        node = nodes[index]
        definition = node.attrs[0] if node.op is VARIABLE else to_text(node, names)
        result.primal.append(PrimalStep(names[index], k, node.op.name if node.inputs else "input",
                                        definition, number_or_array(values[index])))


def _partials(backward, names) -> list[tuple[Node | None, str]]:
    """Per step: the node of the local partial (None where it is a Jacobian) and its formula."""
    out = []
    for step in backward.steps:
        node = step.source
        if node.op.elementwise:
            p = partial(node, step.argument)
            out.append((p, _formula(p, names, None)))
            continue
        probe = variable(node.graph, f"{TANGENT}{node.index}:adjoint", node.shape)
        bar = "v" + BAR + names[node.index][1:]
        out.append((None, _formula(vjp(node, step.argument, probe), {**names, probe.index: bar},
                                   None)))
    return out


def _formula(node: Node, names: Mapping[int, str], own: str | None) -> str:
    """The formula of `node` in the named nodes; its own name if another node has it."""
    name = names.get(node.index)
    if name is not None and name != own:
        return name
    return to_text(node, names)


def _unit_directions(f: Function) -> list[dict]:
    out = []
    for name in f.variables:
        node = f.variable_node(name)
        if node is None:
            continue
        if node.shape:
            out.append({name: np.ones(node.shape)})
        else:
            out.append({name: 1.0})
    return out


def _unreached(f: Function, name: str, names: Mapping[int, str]) -> Unreached:
    node = f.variable_node(name)
    if node is None or node.index not in names:
        return Unreached(name, None, "no path from the output: the expression does not use it")
    # every path goes through an operation whose rule for that argument is None
    nodes = ancestors([f.output])
    reached = {node.index}
    blockers: list[str] = []
    for n in nodes:
        rules = n.op.rules(len(n.inputs))
        for arg, rule in zip(n.inputs, rules, strict=True):
            if arg.index in reached:
                if rule is None:
                    if n.op.name not in blockers:
                        blockers.append(n.op.name)
                else:
                    reached.add(n.index)
    return Unreached(name, names[node.index],
                     f"no path from the output that carries a gradient: every path passes "
                     f"through {', '.join(blockers)}, which has no gradient")

