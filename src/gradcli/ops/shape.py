"""Operations that move entries without computing with them: reshape, transpose, indexing,
concatenation, broadcasting, and summing a broadcast back to a shape.

Each VJP is the operation that moves the entries back: the cotangent of a reshape is reshaped
back, of an index it is scattered into zeros, of a broadcast it is summed (`sum_to`). The static
attributes (the new shape, the axes, the index) are resolved while the graph is built, where
every shape is known: `-1` in a shape and negative axes never reach a node.
"""

from __future__ import annotations

import numpy as np

from gradcli.errors import ShapeError
from gradcli.graph import Node
from gradcli.ops.core import Call, Postfix, Primitive, broadcast


def normalize_axis(axis: int, ndim: int) -> int:
    """A non-negative axis of an array of `ndim` dimensions (ShapeError if out of range)."""
    if not -ndim <= axis < ndim:
        raise ShapeError(f"axis {axis} is out of range for {ndim} dimension"
                         f"{'s' if ndim != 1 else ''}")
    return axis % ndim


# ---------------------------------------------------------------------------------------------
# broadcast_to and sum_to: each the other's VJP


def _sum_to(x, shape):
    x = np.asarray(x)
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + k for k, n in enumerate(shape)
                                      if n == 1 and x.shape[lead + k] != 1)
    return np.sum(x, axis=axes).reshape(shape)


def _sum_to_shape(x, shape):
    if broadcast(x, shape) != x:
        raise ShapeError(f"{x} cannot be summed down to {shape}")
    return shape


def _broadcast_to_shape(x, shape):
    if broadcast(x, shape) != shape:
        raise ShapeError(f"{x} does not broadcast to {shape}")
    return shape


def _same_shape(x: Node, shape) -> Node | None:
    return x if x.shape == tuple(shape) else None


sum_to = Primitive(
    "sum_to", _sum_to, (lambda g, ans, x, shape: broadcast_to(g, shape=x.shape),),
    params=("shape",), shape=_sum_to_shape, simplify=_same_shape,
    doc="x summed over the axes a broadcast to x's shape from `shape` would add or stretch",
)
broadcast_to = Primitive(
    "broadcast_to", lambda x, shape: np.broadcast_to(x, shape),
    (lambda g, ans, x, shape: sum_to(g, shape=x.shape),),
    params=("shape",), shape=_broadcast_to_shape, simplify=_same_shape,
    rearranges=True,
    doc="x repeated along new and length-1 axes to `shape`",
)


# ---------------------------------------------------------------------------------------------
# reshape and transpose


def _reshape_shape(x, shape):
    if int(np.prod(x)) != int(np.prod(shape)):
        raise ShapeError(f"cannot reshape {x} ({int(np.prod(x))} entries) to {shape}")
    return shape


def _simplify_reshape(x: Node, shape) -> Node | None:
    """A reshape to the same shape is x; a reshape of a reshape is one reshape."""
    if x.shape == tuple(shape):
        return x
    if x.op is reshape:
        return reshape(x.inputs[0], shape=shape)
    return None


def _simplify_transpose(x: Node, axes) -> Node | None:
    """Two transposes are one (or none)."""
    if tuple(axes) == tuple(range(x.ndim)):
        return x
    if x.op is transpose:
        return transpose(x.inputs[0], axes=tuple(x.attrs[0][k] for k in axes))
    return None


reshape = Primitive(
    "reshape", lambda x, shape: np.reshape(x, shape),
    (lambda g, ans, x, shape: reshape(g, shape=x.shape),),
    params=("shape",), shape=_reshape_shape, simplify=_simplify_reshape,
    rearranges=True,
    doc="the same entries, in row-major order, as `shape`",
)


def _transpose_shape(x, axes):
    if sorted(axes) != list(range(len(x))):
        raise ShapeError(f"axes {list(axes)} are not a permutation of the {len(x)} axes of {x}")
    return tuple(x[k] for k in axes)


transpose = Primitive(
    "transpose", lambda x, axes: np.transpose(x, axes),
    (lambda g, ans, x, axes: transpose(g, axes=tuple(int(k) for k in np.argsort(axes))),),
    params=("axes",), shape=_transpose_shape, simplify=_simplify_transpose,
    rearranges=True,
    doc="the axes of x permuted",
)


def resolve_shape(shape: tuple[int, ...], size: int) -> tuple[int, ...]:
    """A requested shape with its one -1 (if any) replaced by what the size leaves for it."""
    shape = tuple(int(n) for n in shape)
    unknown = [k for k, n in enumerate(shape) if n == -1]
    if len(unknown) > 1 or any(n < -1 for n in shape):
        raise ShapeError(f"invalid shape {shape}: sizes are positive, with at most one -1")
    if unknown:
        known = int(np.prod([n for n in shape if n != -1]))
        if known == 0 or size % known:
            raise ShapeError(f"cannot reshape {size} entries to {shape}")
        shape = tuple(size // known if n == -1 else n for n in shape)
    return shape


def expand(x: Node, axis: int) -> Node:
    """x with a new axis of length 1 at `axis` (negative counts from the new end)."""
    axis = axis % (x.ndim + 1)
    return reshape(x, shape=x.shape[:axis] + (1,) + x.shape[axis:])


def squeeze(x: Node, axis: int) -> Node:
    """x without its axis `axis` of length 1."""
    axis = axis % x.ndim
    return reshape(x, shape=x.shape[:axis] + x.shape[axis + 1:])


def swap_last(x: Node) -> Node:
    """The matrix transpose of the last two axes."""
    axes = list(range(x.ndim))
    axes[-2], axes[-1] = axes[-1], axes[-2]
    return transpose(x, axes=tuple(axes))


# ---------------------------------------------------------------------------------------------
# indexing: x[0], x[:, 1], x[1:3]. A key is a tuple of ints and slices; a slice is stored as the
# tuple (start, stop, step) (slices are not hashable before Python 3.12).


def python_key(key: tuple) -> tuple:
    return tuple(slice(*item) if isinstance(item, tuple) else item for item in key)


def key_text(key: tuple) -> str:
    def one(item) -> str:
        if not isinstance(item, tuple):
            return str(item)
        start, stop, step = ("" if v is None else str(v) for v in item)
        return f"{start}:{stop}" + (f":{step}" if step else "")

    return "[" + ", ".join(one(item) for item in key) + "]"


def _index_shape(x, key):
    if not x:
        raise ShapeError("a number has no entries to index (an array is given as [1, 2, 3])")
    if len(key) > len(x):
        raise ShapeError(f"too many indices ({len(key)}) for {len(x)} dimension"
                         f"{'s' if len(x) != 1 else ''}")
    for axis, item in enumerate(key):
        if not isinstance(item, tuple) and not -x[axis] <= item < x[axis]:
            raise ShapeError(f"index {item} is out of range for axis {axis} of length {x[axis]}")
        if isinstance(item, tuple) and item[2] == 0:
            raise ShapeError("a slice step cannot be zero")
    return np.broadcast_to(np.empty(()), x)[python_key(key)].shape


def _scatter(g, key, shape):
    out = np.zeros(shape, dtype=np.result_type(g, np.float64))
    out[python_key(key)] = g
    return out


index = Primitive(
    "index", lambda x, key: np.asarray(x)[python_key(key)],
    (lambda g, ans, x, key: scatter(g, key=key, shape=x.shape),),
    notation=Postfix(lambda attrs: key_text(attrs[0])), params=("key",), shape=_index_shape,
    rearranges=True, doc="entries of x picked by integers and slices",
)
scatter = Primitive(
    "scatter", _scatter, (lambda g, ans, x, key, shape: index(g, key=key),),
    notation=Call("scatter"), params=("key", "shape"),
    shape=lambda x, key, shape: shape, doc="zeros of `shape` with x placed at `key`",
)


# ---------------------------------------------------------------------------------------------
# concatenation


def _concat_shape(*shapes, axis):
    first = shapes[0]
    for shape in shapes[1:]:
        if len(shape) != len(first) or any(a != b for k, (a, b) in enumerate(zip(shape, first, strict=True))
                                           if k != axis):
            raise ShapeError(f"shapes {', '.join(map(str, shapes))} differ outside axis {axis}")
    return first[:axis] + (sum(shape[axis] for shape in shapes),) + first[axis + 1:]


def _concat_vjp(g, ans, *xs, axis, argument):
    start = sum(x.shape[axis] for x in xs[:argument])
    stop = start + xs[argument].shape[axis]
    key = (*((None, None, None),) * axis, (start, stop, None))
    return index(g, key=key)


concat = Primitive(
    "concat", lambda *xs, axis: np.concatenate(xs, axis=axis), (_concat_vjp,),
    params=("axis",), shape=_concat_shape, variadic=True,
    doc="the arguments joined along an existing axis",
)
