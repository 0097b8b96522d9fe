"""Evaluation plans: one graph evaluated at many points at once, its arrays' memory reused.

Evaluating a graph of a million points allocates an array of a million numbers per operation;
fresh memory of that size costs the operating system page faults at every allocation, as much
as the arithmetic itself. A plan is made once per set of roots: for every node, the step after
which no one reads its value any more. At that step the value's array goes back to a pool, and
the next operation of the same shape writes its result into it (numpy's `out=`), so a gradient
takes about as many fresh arrays as it has results.

Only the operations whose forward is a numpy ufunc taking and giving float64 write into pooled
arrays, and only an array that nothing but such operations reads is given back: a view of an
array (a reshape, an index, a custom function's value) keeps it alive. The ufuncs are the ones
the plain evaluator calls (gradcli.evaluation), with the same operands, so the values are the
same to the bit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from gradcli.evaluation import MissingValue
from gradcli.graph import Node
from gradcli.ops.core import CONSTANT, VARIABLE, constant_value

MIN_SIZE = 1 << 14  # arrays below this many entries are not worth pooling


def _writes_float(op) -> bool:
    """Whether the op's forward is a ufunc that gives float64 for float64 operands."""
    ufunc = op.forward
    if not isinstance(ufunc, np.ufunc) or op.params or op.passthrough:
        return False
    signature = "d" * ufunc.nin + "->" + "d" * ufunc.nout
    return ufunc.nout == 1 and signature in ufunc.types


class Plan:
    """How to evaluate `nodes` (the ancestors of `roots`, in order) reusing memory."""

    def __init__(self, roots: Sequence[Node], nodes: Sequence[Node]):
        self.nodes = list(nodes)
        self.roots = {root.index for root in roots}
        self.pooled = [_writes_float(node.op) for node in self.nodes]
        readers: dict[int, list[int]] = {}
        for step, node in enumerate(self.nodes):
            for arg in node.inputs:
                readers.setdefault(arg.index, []).append(step)
        # after step k, the values whose last reader is k and whose every reader is a pooled op
        self.frees: list[list[int]] = [[] for _ in self.nodes]
        for step, node in enumerate(self.nodes):
            steps = readers.get(node.index)
            if (not steps or node.index in self.roots or not self.pooled[step]
                    or not all(self.pooled[s] for s in steps)):
                continue
            self.frees[max(steps)].append(node.index)

    def run(self, inputs: Mapping[str, object]) -> tuple[dict[int, np.ndarray], set[int]]:
        """The value of every node, and the indices of the roots whose arrays are the plan's
        own (fresh, not shared with an input): those need no copy to be handed out."""
        values: dict[int, np.ndarray] = {}
        owned: set[int] = set()
        pool: dict[tuple[int, ...], list[np.ndarray]] = {}
        with np.errstate(all="ignore"):
            for step, node in enumerate(self.nodes):
                op = node.op
                index = node.index
                if op is CONSTANT:
                    values[index] = np.float64(constant_value(node))
                elif op is VARIABLE:
                    name = node.attrs[0]
                    if name not in inputs:
                        raise MissingValue(name)
                    values[index] = np.asarray(inputs[name], dtype=np.float64)[()]
                elif self.pooled[step]:
                    args = [values[i.index] for i in node.inputs]
                    shape = np.broadcast_shapes(*(np.shape(a) for a in args))
                    if len(shape) and _size(shape) >= MIN_SIZE:
                        free = pool.get(shape)
                        out = free.pop() if free else np.empty(shape)
                        values[index] = op.forward(*args, out=out)
                        owned.add(index)
                    else:
                        values[index] = op.forward(*args)
                elif op.params:
                    attrs = dict(zip(op.params, node.attrs, strict=True))
                    values[index] = op.forward(*(values[i.index] for i in node.inputs), **attrs)
                else:
                    values[index] = op.forward(*(values[i.index] for i in node.inputs))
                for freed in self.frees[step]:
                    if freed in owned:
                        array = values.pop(freed)
                        owned.discard(freed)
                        pool.setdefault(array.shape, []).append(array)
        return values, {index for index in owned if index in self.roots}


def _size(shape: tuple[int, ...]) -> int:
    size = 1
    for n in shape:
        size *= n
    return size
