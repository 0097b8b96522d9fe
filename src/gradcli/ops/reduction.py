"""Reductions and the operations along an axis: sum, max, min, prod, cumsum, logsumexp, softmax,
norm; and matmul.

`axis` is a tuple of non-negative axes (resolved while the graph is built) or None for every
axis; `keepdims` keeps the reduced axes with length 1. Every VJP first puts the cotangent back
into the input's rank (`_kept`, a reshape), then broadcasts it over the reduced axes.
"""

from __future__ import annotations

import numpy as np

from gradcli.errors import ShapeError
from gradcli.graph import Node
from gradcli.ops.arithmetic import eq, where
from gradcli.ops.core import PRODUCT, Infix, Primitive, broadcast
from gradcli.ops.elementary import exp
from gradcli.ops.shape import broadcast_to, expand, reshape, squeeze, swap_last


def _axes(axis, ndim: int) -> tuple[int, ...]:
    return tuple(range(ndim)) if axis is None else axis


def _reduced_shape(x, axis, keepdims):
    axes = _axes(axis, len(x))
    if keepdims:
        return tuple(1 if k in axes else n for k, n in enumerate(x))
    return tuple(n for k, n in enumerate(x) if k not in axes)


def _over_entries(name: str, shape):
    """`shape`, refusing an axis of length 0 among those reduced: the largest entry, or a
    softmax, of no entries is not a number (numpy would raise ValueError)."""

    def checked(x, axis, **rest):
        axes = range(len(x)) if axis is None else (axis,) if isinstance(axis, int) else axis
        if any(x[k] == 0 for k in axes):
            raise ShapeError(f"{name} of an array with no entries along the axes it reduces "
                             f"(shape {tuple(x)})")
        return shape(x, axis, **rest)

    return checked


def _kept(node: Node, x: Node, axis, keepdims) -> Node:
    """A reduction's output (or its cotangent) with the reduced axes back, as length 1."""
    return node if keepdims else reshape(node, shape=_reduced_shape(x.shape, axis, True))


def _spread(g: Node, x: Node, axis, keepdims) -> Node:
    """The cotangent of a reduction, repeated over the axes it reduced: x's shape."""
    return broadcast_to(_kept(g, x, axis, keepdims), shape=x.shape)


sum_ = Primitive(
    "sum", lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims),
    (lambda g, ans, x, axis, keepdims: _spread(g, x, axis, keepdims),),
    params=("axis", "keepdims"), shape=_reduced_shape, doc="the sum of the entries over `axis`",
)


def _extremum_vjp(g, ans, x, axis, keepdims):
    """The entries equal to the extremum share the gradient equally (a tie splits it)."""
    hits = eq(x, broadcast_to(_kept(ans, x, axis, keepdims), shape=x.shape))
    count = broadcast_to(sum_(hits, axis=axis, keepdims=True), shape=x.shape)
    return _spread(g, x, axis, keepdims) * hits / count


amax = Primitive(
    "max", lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims), (_extremum_vjp,),
    params=("axis", "keepdims"), shape=_over_entries("max", _reduced_shape), analytic=False,
    doc="the largest entry over `axis`; tied entries share the gradient",
)
amin = Primitive(
    "min", lambda x, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims), (_extremum_vjp,),
    params=("axis", "keepdims"), shape=_over_entries("min", _reduced_shape), analytic=False,
    doc="the smallest entry over `axis`; tied entries share the gradient",
)


def _prod_except(x, axis):
    """Along `axis`, the product of all the other entries: exclusive cumulative products from
    both ends, so that a zero entry needs no division."""
    x = np.asarray(x)
    ones = np.ones_like(np.take(x, [0], axis=axis))
    left = np.cumprod(np.concatenate([ones, np.take(x, range(x.shape[axis] - 1), axis=axis)],
                                     axis=axis), axis=axis)
    reverse = np.flip(x, axis=axis)
    right = np.cumprod(np.concatenate([ones, np.take(reverse, range(x.shape[axis] - 1),
                                                     axis=axis)], axis=axis), axis=axis)
    return left * np.flip(right, axis=axis)


prod_except = Primitive(
    "prod_except", _prod_except,
    # d/dx_j of sum_i g_i prod_{k != i} x_k = sum_{i != j} g_i prod_{k != i, j} x_k, written
    # as (S - g_j P_j)/x_j: exact where x_j is not 0 (a 0 gives nan, and a warning says where)
    (lambda g, ans, x, axis: (broadcast_to(sum_(g * ans, axis=(axis,), keepdims=True),
                                           shape=x.shape) - g * ans) / x,),
    params=("axis",), shape=lambda x, axis: x,
    doc="along `axis`, each entry replaced by the product of the others",
)
prod = Primitive(
    "prod", lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims),
    (lambda g, ans, x, axis, keepdims: _spread(g, x, axis, keepdims) * prod_except(x, axis=axis[0]),),
    params=("axis", "keepdims"), shape=_reduced_shape, doc="the product of the entries along one axis",
)

cumsum = Primitive(
    "cumsum", lambda x, axis: np.cumsum(x, axis=axis),
    # the reversed cumulative sum: sum_{i >= j} g_i = total - cumsum(g) + g
    (lambda g, ans, x, axis: broadcast_to(sum_(g, axis=(axis,), keepdims=True), shape=x.shape)
     - cumsum(g, axis=axis) + g,),
    params=("axis",), shape=lambda x, axis: x, doc="running sums along `axis`",
)


def _logsumexp(x, axis, keepdims):
    x = np.asarray(x)
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    out = np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top
    return out if keepdims else np.squeeze(out, axis=axis)


logsumexp = Primitive(
    "logsumexp", _logsumexp,
    (lambda g, ans, x, axis, keepdims:
        _spread(g, x, axis, keepdims) * exp(x - broadcast_to(_kept(ans, x, axis, keepdims),
                                                             shape=x.shape)),),
    params=("axis", "keepdims"), shape=_over_entries("logsumexp", _reduced_shape),
    doc="log(sum(exp(x))) over `axis`, shifted by the maximum so that nothing overflows",
)


def _softmax(x, axis):
    x = np.asarray(x)
    top = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - np.where(np.isfinite(top), top, 0.0))
    return e / np.sum(e, axis=axis, keepdims=True)


softmax = Primitive(
    "softmax", _softmax,
    # J = diag(s) - s s^T along the axis: g J = s * (g - sum(g * s))
    (lambda g, ans, x, axis: ans * (g - broadcast_to(sum_(g * ans, axis=(axis,), keepdims=True),
                                                     shape=x.shape)),),
    params=("axis",), shape=_over_entries("softmax", lambda x, axis: x),
    doc="exp(x)/sum(exp(x)) along `axis`, shifted by the maximum",
)


def _norm(x, axis, keepdims):
    x = np.asarray(x)
    scale = np.max(np.abs(x), axis=axis, keepdims=True)
    scale = np.where(scale > 0, scale, 1.0)
    out = scale * np.sqrt(np.sum((x / scale) ** 2, axis=axis, keepdims=True))
    return out if keepdims else np.reshape(out, _reduced_shape(x.shape, axis, False))


def _norm_vjp(g, ans, x, axis, keepdims):
    """x/|x|, and 0 at x = 0 (a subgradient, where x/|x| is 0/0)."""
    n = broadcast_to(_kept(ans, x, axis, keepdims), shape=x.shape)
    return _spread(g, x, axis, keepdims) * x / where(eq(n, 0.0), 1.0, n)


norm = Primitive(
    "norm", _norm, (_norm_vjp,), params=("axis", "keepdims"),
    shape=_over_entries("norm", _reduced_shape),
    analytic=False, doc="the Euclidean norm over `axis`, without overflow; d/dx = x/norm(x)",
)


# ---------------------------------------------------------------------------------------------
# matmul, with numpy's rules for 1-D operands (a vector is a row on the left, a column on the
# right) and for stacks of matrices (the leading axes broadcast; the cotangent is summed back
# to each operand's shape by the reverse pass)


def _matmul_shape(a, b):
    if not a or not b:
        raise ShapeError("matmul needs arrays of at least one dimension, not scalars (use *)")
    inner_a = a[-1]
    inner_b = b[-2] if len(b) > 1 else b[0]
    if inner_a != inner_b:
        raise ShapeError(f"shapes {a} and {b} do not match: {inner_a} columns against "
                         f"{inner_b} rows")
    batch = broadcast(a[:-2], b[:-2])
    return batch + a[-2:-1] + b[-1:] if len(b) > 1 else batch + a[-2:-1]


def _matmul_vjp_a(g, ans, a, b):
    if a.ndim == 1 and b.ndim == 1:
        return g * b
    if a.ndim == 1:  # (k,) @ (..., k, m): da_k = sum_m g_m b_km
        return squeeze(matmul(b, expand(g, -1)), -1)
    if b.ndim == 1:  # (..., n, k) @ (k,): da_nk = g_n b_k
        return expand(g, -1) * b
    return matmul(g, swap_last(b))


def _matmul_vjp_b(g, ans, a, b):
    if a.ndim == 1 and b.ndim == 1:
        return g * a
    if b.ndim == 1:  # (..., n, k) @ (k,): db_k = sum_n g_n a_nk
        return squeeze(matmul(swap_last(a), expand(g, -1)), -1)
    if a.ndim == 1:  # (k,) @ (..., k, m): db_km = a_k g_m
        return expand(a, -1) * expand(g, -2)
    return matmul(swap_last(a), g)


matmul = Primitive(
    "matmul", np.matmul, (_matmul_vjp_a, _matmul_vjp_b),
    notation=Infix("@", PRODUCT, spaced=True), shape=_matmul_shape,
    doc="the matrix product a @ b, numpy's semantics for vectors and stacks",
)
