"""Evaluation plans: one graph of numbers evaluated at many points at once, block by block.

Evaluated whole, a batch of a million points makes an array of a million numbers per
operation: every cheap operation (a product, a sum) then streams 16 MB through memory, and
fresh arrays cost page faults as much as the arithmetic. A plan evaluates the whole graph on a
block of `CHUNK` points, then the next block: the intermediate values of a block stay in the
processor's cache, in a few buffers made once per run and shared by values whose lives do not
overlap (a buffer is free again after the last reader of its value). Only the roots (the
value and the gradient) get arrays of the batch's size, written block by block. The blocks
are shared out among a few threads, one per processor (GRADCLI_THREADS sets how many): numpy's
ufuncs release the GIL, so the blocks are computed in parallel.

Every operation of such a graph is elementwise, so a block's results are those of the whole
arrays: each ufunc is the one the plain evaluator (gradcli.evaluation) calls, with the same
operands, and the values are the same to the bit. A graph with an operation that is not
elementwise, or that does not take arrays of points, has no plan (`Plan.make` gives None).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from gradcli.evaluation import MissingValue
from gradcli.graph import Node
from gradcli.ops.core import CONSTANT, VARIABLE, constant_value

# batches below this many points are evaluated whole: from about 256 points a plan is as fast
# on a small expression and 2 to 3 times faster on a large one (10^3 operations at 1,024 points:
# 14 ms against 31 ms), whose values evaluated whole would fill memory rather than cache
MIN_SIZE = 1 << 8
CHUNK = 1 << 14  # points per block: 128 KB per buffer, so that the live ones stay in L2 cache


def _fills(op) -> bool:
    """Whether the op's forward writes float64 for float64 operands into `out=`: a ufunc that
    does, or an op that says it does (`fills`); not one with static attributes."""
    if op.params:
        return False
    if op.fills:
        return True
    ufunc = op.forward
    if not isinstance(ufunc, np.ufunc) or ufunc.nout != 1:
        return False
    return "d" * ufunc.nin + "->d" in ufunc.types


class Plan:
    """How to evaluate `nodes` (the ancestors of `roots`, in order) block by block.

    Each computed node is a step `(position, forward, argument positions, attrs, buffer)`:
    its value is written into buffer number `buffer` (a root's own array when it is -1, a
    fresh array when None: the op does not take `out=`)."""

    def __init__(self, roots: Sequence[Node], nodes: Sequence[Node]):
        self.nodes = list(nodes)
        position = {node.index: k for k, node in enumerate(self.nodes)}
        self.roots = list(dict.fromkeys(position[root.index] for root in roots))
        self.variables = [(k, n.attrs[0]) for k, n in enumerate(self.nodes) if n.op is VARIABLE]
        self.constants = [(k, np.float64(constant_value(n)))
                          for k, n in enumerate(self.nodes) if n.op is CONSTANT]
        last_reader = {}
        for k, node in enumerate(self.nodes):
            for arg in node.inputs:
                last_reader[position[arg.index]] = k
        roots_ = set(self.roots)
        free: list[int] = []
        frees_at: dict[int, list[int]] = {}  # step -> buffers free after it
        self.buffers = 0
        self.steps = []
        for k, node in enumerate(self.nodes):
            op = node.op
            if op is CONSTANT or op is VARIABLE:
                continue
            if k in roots_:
                buffer = -1
            elif _fills(op) and k in last_reader:
                if free:
                    buffer = free.pop()
                else:
                    buffer, self.buffers = self.buffers, self.buffers + 1
                frees_at.setdefault(last_reader[k], []).append(buffer)
            else:
                buffer = None
            attrs = dict(zip(op.params, node.attrs, strict=True))
            self.steps.append((k, op.forward, [position[a.index] for a in node.inputs], attrs,
                               buffer, _fills(op)))
            free.extend(frees_at.pop(k, ()))

    @staticmethod
    def make(roots: Sequence[Node], nodes: Sequence[Node]) -> Plan | None:
        """The plan of a graph of elementwise operations, each taking arrays of points."""
        for node in nodes:
            op = node.op
            if op is not CONSTANT and op is not VARIABLE and not (op.elementwise and op.batches
                                                                   and not op.passthrough):
                return None
        return Plan(roots, nodes)

    def run(self, inputs: Mapping[str, object]
            ) -> tuple[dict[int, np.ndarray], set[int], bool]:
        """The values of the roots, by node index; the indices of those whose arrays are the
        plan's own (not an input's, nor a constant): those need no copy to be handed out; and
        whether the roots are known to be finite (each block's sum is, while it is in cache:
        nan and inf carry through a sum; a sum that overflows says "not known").

        The first block is evaluated here, and makes the roots' arrays; the others are shared
        out among `threads()` threads, numpy's ufuncs running in parallel without the GIL.
        Every block is computed alone, so the values are the same whatever the threads."""
        points = _points(inputs, [name for _, name in self.variables])
        shape = np.broadcast_shapes(*(np.shape(v) for v in points.values())) if points else ()
        size = int(np.prod(shape))
        flat = {name: (np.ascontiguousarray(np.broadcast_to(v, shape), np.float64).reshape(-1)
                       if np.ndim(v) else np.float64(v)) for name, v in points.items()}
        chunk = max(1, min(CHUNK, size))
        starts = list(range(0, size, chunk))
        results: dict[int, np.ndarray] = {}
        total = self._blocks(starts[:1], chunk, size, flat, results)
        rest = starts[1:]
        workers = min(threads(), len(rest))
        if workers > 1:
            shares = [rest[k * len(rest) // workers:(k + 1) * len(rest) // workers]
                      for k in range(workers)]
            futures = [_pool().submit(self._blocks, share, chunk, size, flat, results)
                       for share in shares[1:]]
            total += self._blocks(shares[0], chunk, size, flat, results)
            total += sum(future.result() for future in futures)
        elif rest:
            total += self._blocks(rest, chunk, size, flat, results)
        index = [node.index for node in self.nodes]
        out = {index[k]: array.reshape(shape) for k, array in results.items()}
        for k in self.roots:  # a variable or a constant
            if k not in results:
                node = self.nodes[k]
                out[index[k]] = (np.float64(constant_value(node)) if node.op is CONSTANT
                                 else np.broadcast_to(np.asarray(points[node.attrs[0]],
                                                                 np.float64), shape))
        return out, {index[k] for k in results}, bool(np.isfinite(total))

    def _blocks(self, starts: Sequence[int], chunk: int, size: int,
                flat: Mapping[str, np.ndarray], results: dict[int, np.ndarray]) -> np.float64:
        """Evaluate the blocks that begin at `starts`, in buffers of this call's own, writing
        the roots into `results` (made by the first block, of the dtype it gives); the sum of
        the roots' values."""
        buffers = [np.empty(chunk) for _ in range(self.buffers)]
        values: list = [None] * len(self.nodes)
        for k, value in self.constants:
            values[k] = value
        total = np.float64(0.0)
        with np.errstate(all="ignore"):  # (numpy's error state is each thread's own)
            for start in starts:
                stop = min(start + chunk, size)
                views = buffers if stop - start == chunk else [b[:stop - start] for b in buffers]
                for k, name in self.variables:
                    value = flat[name]
                    values[k] = value[start:stop] if value.ndim else value
                for k, forward, args, attrs, buffer, fills in self.steps:
                    operands = [values[a] for a in args]
                    if buffer == -1:
                        out = results.get(k)
                        if out is None and fills:
                            out = results[k] = np.empty(size)
                        if out is not None and fills:
                            values[k] = forward(*operands, out=out[start:stop], **attrs)
                            continue
                        value = forward(*operands, **attrs)
                        if out is None:
                            out = results[k] = np.empty(size, np.result_type(value))
                        out[start:stop] = value
                        values[k] = value
                    elif buffer is not None:
                        values[k] = forward(*operands, out=views[buffer], **attrs)
                    else:
                        values[k] = forward(*operands, **attrs)
                for k in self.roots:
                    total += np.add.reduce(values[k], axis=None)
        return total


def threads() -> int:
    """How many threads evaluate a batch: the processors this process may run on, or
    GRADCLI_THREADS (1: no threads)."""
    import os

    setting = os.environ.get("GRADCLI_THREADS", "").strip()
    if setting.isdigit() and int(setting) > 0:
        return int(setting)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_POOL = None


def _pool():
    """The threads that evaluate blocks besides the calling one (made on first use). A child
    process forked from this one has none of its threads: it makes its own pool."""
    global _POOL
    if _POOL is None:
        import os
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=max(1, threads() - 1),
                                   thread_name_prefix="gradcli-plan")
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_forget_pool)
    return _POOL


def _forget_pool() -> None:
    global _POOL
    _POOL = None


def _points(inputs: Mapping[str, object], names: Sequence[str]) -> dict[str, object]:
    missing = [name for name in names if name not in inputs]
    if missing:
        raise MissingValue(missing[0])
    return {name: inputs[name] for name in names}
