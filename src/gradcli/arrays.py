"""The functions of arrays a user calls by name, built from the rows of the primitive table.

Here the static arguments are resolved against the shapes of the operands, which every node
knows: a negative axis becomes a positive one, -1 in a shape becomes a size, an axis that covers
every axis becomes None. Compositions (mean, var, log_softmax, the losses) need no derivative
rule of their own: reverse mode differentiates what they build.
"""

from __future__ import annotations

import numpy as np

from gradcli import ops
from gradcli.errors import ShapeError
from gradcli.graph import Node


def axes(x: Node, axis) -> tuple[int, ...] | None:
    """`axis` (None, an int or a tuple) as sorted non-negative axes, None for all of them."""
    if axis is None:
        return None
    chosen = (axis,) if isinstance(axis, int) else tuple(axis)
    normalized = tuple(sorted(ops.normalize_axis(k, x.ndim) for k in chosen))
    if len(set(normalized)) != len(normalized):
        raise ShapeError(f"axis {list(chosen)} names an axis twice")
    return None if len(normalized) == x.ndim else normalized


def one_axis(x: Node, axis) -> int:
    if not isinstance(axis, int):
        raise ShapeError(f"this operation takes one axis, not {list(axis)}")
    return ops.normalize_axis(axis, x.ndim)


def _reduce(op, x: Node, axis, keepdims) -> Node:
    if x.ndim == 0:
        return x
    return op(x, axis=axes(x, axis), keepdims=bool(keepdims))


def total(x: Node, axis=None, keepdims=False) -> Node:
    return _reduce(ops.sum_, x, axis, keepdims)


def mean(x: Node, axis=None, keepdims=False) -> Node:
    summed = total(x, axis, keepdims)
    count = x.size // max(summed.size, 1) if x.size else 0
    return summed if count == 1 else summed / float(count)


def var(x: Node, axis=None, keepdims=False, ddof=0) -> Node:
    centred = x - mean(x, axis, keepdims=True)
    summed = total(centred * centred, axis, keepdims)
    count = x.size // max(summed.size, 1)
    if count - ddof <= 0:
        raise ShapeError(f"var with ddof={ddof} needs more than {ddof} entries, got {count}")
    return summed / float(count - ddof)


def std(x: Node, axis=None, keepdims=False, ddof=0) -> Node:
    return ops.sqrt(var(x, axis, keepdims, ddof))


def extremum(reduction, elementwise):
    """max or min: of two arguments elementwise (max(a, b)), of one along axes (max(x, axis=0))."""

    def build(a: Node, b: Node | None = None, axis=None, keepdims=False) -> Node:
        if b is not None:
            if axis is not None or keepdims:
                raise ShapeError("axis and keepdims belong to the one-argument form, max(x, axis=0)")
            return elementwise(a, b)
        return _reduce(reduction, a, axis, keepdims)

    return build


def prod(x: Node, axis=None, keepdims=False) -> Node:
    if x.ndim == 0:
        return x
    chosen = axes(x, axis)
    if chosen is None:
        flat = ops.prod(ops.reshape(x, shape=(x.size,)), axis=(0,), keepdims=keepdims)
        return ops.reshape(flat, shape=(1,) * x.ndim) if keepdims else flat
    if len(chosen) > 1:
        raise ShapeError("prod reduces one axis or all of them")
    return ops.prod(x, axis=chosen, keepdims=bool(keepdims))


def cumsum(x: Node, axis=None) -> Node:
    if axis is None:
        x = ops.reshape(x, shape=(x.size,)) if x.ndim != 1 else x
        return ops.cumsum(x, axis=0)
    return ops.cumsum(x, axis=one_axis(x, axis))


def logsumexp(x: Node, axis=None, keepdims=False) -> Node:
    return _reduce(ops.logsumexp, x, axis, keepdims)


def softmax(x: Node, axis=-1) -> Node:
    if x.ndim == 0:
        raise ShapeError("softmax of a scalar is the constant 1: it needs an axis")
    return ops.softmax(x, axis=one_axis(x, axis))


def log_softmax(x: Node, axis=-1) -> Node:
    if x.ndim == 0:
        raise ShapeError("log_softmax of a scalar is the constant 0: it needs an axis")
    return x - ops.logsumexp(x, axis=(one_axis(x, axis),), keepdims=True)


def norm(x: Node, axis=None, keepdims=False) -> Node:
    if x.ndim == 0:
        return ops.abs(x)
    return ops.norm(x, axis=axes(x, axis), keepdims=bool(keepdims))


def matmul(a: Node, b: Node) -> Node:
    return ops.matmul(a, b)


def dot(a: Node, b: Node) -> Node:
    """numpy's dot for scalars, vectors and matrices (where it is matmul, or a product)."""
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.ndim > 2 or b.ndim > 2:
        raise ShapeError("dot takes vectors and matrices; for stacks of matrices use @ (matmul)")
    return ops.matmul(a, b)


def outer(a: Node, b: Node) -> Node:
    return ops.reshape(a, shape=(a.size, 1)) * ops.reshape(b, shape=(1, b.size))


def transpose(x: Node, axes=None) -> Node:
    if axes is None:
        order = tuple(reversed(range(x.ndim)))
    else:
        order = tuple(ops.normalize_axis(k, x.ndim) for k in
                      ((axes,) if isinstance(axes, int) else axes))
    if order == tuple(range(x.ndim)) and len(order) == x.ndim:
        return x
    return ops.transpose(x, axes=order)


def reshape(x: Node, shape) -> Node:
    shape = ops.resolve_shape((shape,) if isinstance(shape, int) else shape, x.size)
    return x if shape == x.shape else ops.reshape(x, shape=shape)


def broadcast_to(x: Node, shape) -> Node:
    shape = tuple((shape,) if isinstance(shape, int) else shape)
    return x if shape == x.shape else ops.broadcast_to(x, shape=shape)


def sum_to(x: Node, shape) -> Node:
    shape = tuple((shape,) if isinstance(shape, int) else shape)
    return x if shape == x.shape else ops.sum_to(x, shape=shape)


def concat(*xs: Node, axis=0) -> Node:
    if not xs:
        raise ShapeError("concat needs at least one array")
    if any(x.ndim == 0 for x in xs):
        raise ShapeError("concat joins arrays along an axis; scalars have none (use stack)")
    if len(xs) == 1:
        return xs[0]
    return ops.concat(*xs, axis=ops.normalize_axis(axis, xs[0].ndim))


def stack(*xs: Node, axis=0) -> Node:
    if not xs:
        raise ShapeError("stack needs at least one array")
    shapes = {x.shape for x in xs}
    if len(shapes) > 1:
        raise ShapeError(f"stack needs arrays of one shape, got {', '.join(map(str, shapes))}")
    k = ops.normalize_axis(axis, xs[0].ndim + 1)
    expanded = [ops.expand(x, k) for x in xs]
    return expanded[0] if len(xs) == 1 else ops.concat(*expanded, axis=k)


# ---------------------------------------------------------------------------------------------
# losses (each the mean over the examples, as Keras and TensorFlow's loss classes reduce)


def mse(pred: Node, target: Node) -> Node:
    difference = pred - target
    return mean(difference * difference)


def cross_entropy(logits: Node, labels: Node) -> Node:
    """The softmax cross-entropy of logits (..., classes) against integer class labels (...)
    or against probabilities or one-hot rows of the logits' shape."""
    if logits.ndim == 0:
        raise ShapeError("cross_entropy needs logits with a class axis")
    if labels.shape == logits.shape[:-1]:
        labels = _one_hot(labels, logits.shape[-1])
    elif labels.shape != logits.shape:
        raise ShapeError(f"labels of shape {labels.shape} fit neither integer labels "
                         f"{logits.shape[:-1]} nor one-hot rows {logits.shape} of the logits")
    return mean(-total(labels * log_softmax(logits), axis=-1))


def _one_hot(labels: Node, classes: int) -> Node:
    if not ops.is_constant(labels):
        raise ShapeError("integer class labels must be data (a constant), not a variable")
    values = np.asarray(ops.constant_value(labels))
    if not np.all((values == np.round(values)) & (values >= 0) & (values < classes)):
        raise ShapeError(f"class labels must be integers from 0 to {classes - 1}")
    return ops.literal(labels.graph, np.eye(classes)[values.astype(int)])


def binary_cross_entropy(probs: Node, targets: Node) -> Node:
    """-(t log p + (1 - t) log(1 - p)), averaged; p must lie in (0, 1)."""
    return mean(-(targets * ops.log(probs) + (1 - targets) * ops.log1p(-probs)))
