"""Forward evaluation with numpy float64, one loop over the graph in evaluation order.

Values are numpy float64 scalars and arrays of the static shapes of the nodes. A graph whose
operations are all elementwise may also be given arrays where it was built for numbers: it is
then evaluated at every point of the arrays in one pass (the batch of the API).

numpy's floating-point warnings are silenced during the loop; when a result is not finite,
`nonfinite_sources` finds the operations that first produced nan or inf from finite operands,
so that a warning can name the subexpression.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from gradcli.errors import PointError
from gradcli.graph import Node, ancestors
from gradcli.ops.core import CONSTANT, VARIABLE, constant_value
from gradcli.printing import apply_text, format_number, short_text


class MissingValue(PointError):
    """A variable of the expression has no value at the point."""

    def __init__(self, name: str):
        super().__init__(f"no value for variable '{name}'")
        self.name = name


def evaluate(roots: Iterable[Node], inputs: Mapping[str, object],
             nodes: Sequence[Node] | None = None) -> dict[int, np.ndarray]:
    """The value of every node the roots depend on, keyed by node index (`nodes`: those
    nodes, `ancestors(roots)`, when the caller has them already).

    Inputs are float64; a complex input stays complex (the checker's complex step gives one
    variable a complex value, and only the operations on its path see complex numbers)."""
    values: dict[int, np.ndarray] = {}
    with np.errstate(all="ignore"):
        for node in nodes if nodes is not None else ancestors(roots):
            op = node.op
            if op is CONSTANT:
                values[node.index] = np.float64(constant_value(node))
            elif op is VARIABLE:
                name = node.attrs[0]
                if name not in inputs:
                    raise MissingValue(name)
                value = np.asarray(inputs[name])
                values[node.index] = value.astype(
                    np.complex128 if value.dtype.kind == "c" else np.float64, copy=False)[()]
            else:
                attrs = dict(zip(op.params, node.attrs, strict=True)) if op.params else None
                values[node.index] = op.compute([values[i.index] for i in node.inputs], attrs)
    return values


def all_finite(value) -> bool:
    if isinstance(value, float):  # a number (numpy's float64 is a float)
        return math.isfinite(value)
    # nan and inf carry through a sum, so a finite sum means finite entries; summing reads an
    # array twice as fast as isfinite. A sum that overflows sends us to look entry by entry.
    if np.size(value) > 64:
        with np.errstate(all="ignore"):
            if np.isfinite(np.sum(value)):
                return True
    return bool(np.all(np.isfinite(value)))


@dataclass(frozen=True)
class NonfiniteSource:
    """An operation that made nan or inf out of finite operands, at `count` of `total` points;
    `result` and `operands` are its numbers at the first such point."""

    node: Node
    count: int
    total: int
    result: float
    operands: tuple[float, ...] | None  # None for an operation on arrays (all finite)


def nonfinite_sources(roots: Sequence[Node], values: Mapping[int, np.ndarray],
                      limit: int = 3) -> list[NonfiniteSource]:
    """The first operations (in evaluation order) the roots depend on that turned finite
    operands into nan or inf."""
    found = []
    for node in ancestors(roots):
        if not node.inputs or all_finite(values[node.index]):
            continue
        if not node.op.elementwise:  # the source only if every operand is finite throughout
            if all(all_finite(values[i.index]) for i in node.inputs):
                result = np.asarray(values[node.index])
                bad = ~np.isfinite(result)
                first = result[np.unravel_index(int(np.flatnonzero(bad)[0]), bad.shape)]
                found.append(NonfiniteSource(node, int(np.count_nonzero(bad)), bad.size,
                                             float(first), None))
        elif isinstance(values[node.index], float):  # numbers: no arrays to make
            operands = tuple(values[i.index] for i in node.inputs)
            if all(isinstance(o, float) and math.isfinite(o) for o in operands):
                found.append(NonfiniteSource(node, 1, 1, float(values[node.index]),
                                             tuple(map(float, operands))))
        else:
            result, *operands = np.broadcast_arrays(values[node.index],
                                                    *(values[i.index] for i in node.inputs))
            bad = ~np.isfinite(result)
            for operand in operands:
                bad &= np.isfinite(operand)
            count = int(np.count_nonzero(bad))
            if count:
                first = np.unravel_index(int(np.flatnonzero(bad)[0]), bad.shape)
                found.append(NonfiniteSource(node, count, bad.size, float(result[first]),
                                             tuple(float(o[first]) for o in operands)))
        if len(found) == limit:
            break
    return found


def nonfinite_warnings(roots: Sequence[Node], values: Mapping[int, np.ndarray], where: str = "",
                       skip: Sequence[str] = (), show: Callable[[Node], str] | None = None
                       ) -> list[str]:
    """Sentences naming the subexpressions that produced nan or inf, when a root is not finite:
    'log(x - 3) is nan: log(-2) = nan'. `where` is said after the kind (' in the gradient');
    `show(node)` writes the subexpression (a spec's shows its line too)."""
    if all(all_finite(values[root.index]) for root in roots):
        return []
    out: list[str] = []
    for source in nonfinite_sources(roots, values):
        kind = format_number(source.result)
        unit = "entries" if source.node.shape else "points"
        at_points = f" at {source.count} of {source.total} {unit}" if source.total > 1 else ""
        shown = show(source.node) if show is not None else short_text(source.node)
        cause = ("its operands are all finite" if source.operands is None
                 else f"{apply_text(source.node, source.operands)} = {kind}")
        sentence = f"{shown} is {kind}{where}{at_points}: {cause}"
        if sentence not in skip:
            out.append(sentence)
    return out
