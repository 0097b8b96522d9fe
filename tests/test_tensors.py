"""The functions and operations of arrays against independent references.

The references never ask gradcli for a derivative:

- the functions of arrays (reductions, softmax, losses, ...) are written again here as the
  mathematics they are, generically over a module of numbers: with numpy's float64 functions
  they give the value a gradcli value is compared with, and with mpmath's (arrays of 50-digit
  numbers) they give, through `mpmath.diff`, every first and second partial derivative;
- the operations that only move entries (indexing, slicing, .T, reshape, concat, stack,
  broadcast_to, sum_to) are linear: their exact gradient is J^T W, with J built here by numpy
  from the images of the unit arrays; with integer-valued arrays every sum is exact, so those
  gradients are compared bit for bit;
- broadcasting and matmul are checked against closed forms written with numpy (the sum of the
  broadcast cotangent, einsum for every matmul case).

A scalar output that makes every entry matter is built as sum(W * f(x, ...)) with a random weight
array W, itself a variable: its gradient is f's value, entry by entry.

Generated coverage: every function of arrays in `gradcli.functions.FUNCTIONS` needs a reference
case here (the test fails by name otherwise), and every non-elementwise row of
`gradcli.ops.PRIMITIVES` must appear in the graph (with its gradient) of some reference case.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from dataclasses import dataclass

import mpmath
import numpy as np
import pytest
import scipy.special

import gradcli
from gradcli import highprecision, ops
from gradcli.autodiff import UNCONNECTED, backward
from gradcli.errors import ShapeError
from gradcli.evaluation import evaluate
from gradcli.functions import FUNCTIONS
from gradcli.ops import PRIMITIVES

DPS = 50  # digits of the mpmath references
RTOL = 1e-10  # a gradient against mpmath
VALUE_RTOL = 1e-12  # a float64 value against the numpy closed form
SECOND_RTOL = 1e-9  # a second derivative (reverse over reverse, more roundings) against mpmath

ARRAY_FUNCTIONS = [entry for entry in FUNCTIONS if entry.on_arrays]
# max and min are functions of two numbers (family "piecewise") and reductions of one array
REDUCTIONS_OF_TWO_KINDS = [entry for entry in FUNCTIONS if entry.name in ("max", "min")]
ARRAY_PRIMITIVES = [primitive for primitive in PRIMITIVES if not primitive.elementwise]


# ---------------------------------------------------------------------------------------------
# Two modules of numbers: numpy's float64 functions, and mpmath's applied entry by entry to
# arrays of mpf (numpy's sum, max, prod, cumsum, matmul, ... work on such object arrays as they
# are: they only add, multiply and compare).


def _entrywise(function: Callable) -> Callable:
    vectorized = np.vectorize(function, otypes=[object])
    return lambda x: vectorized(x) if isinstance(x, np.ndarray) else function(x)


NP = types.SimpleNamespace(exp=np.exp, log=np.log, log1p=np.log1p, sqrt=np.sqrt)
MP = types.SimpleNamespace(exp=_entrywise(mpmath.exp), log=_entrywise(mpmath.log),
                           log1p=_entrywise(mpmath.log1p), sqrt=_entrywise(mpmath.sqrt))


def to_mp(value):
    """A float64 number or array as mpmath numbers (exactly: every float64 is an mpf)."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return mpmath.mpf(float(array))
    return np.vectorize(mpmath.mpf, otypes=[object])(array)


def to_float(value) -> np.ndarray:
    return np.asarray(value, dtype=object).astype(np.float64)


def close(got, expected, rtol: float, what: str = "", scale: float | None = None) -> None:
    """Entrywise |got - expected| <= rtol*|expected| + 1e-3*rtol*scale, scale max|expected|
    unless given (the absolute part forgives rounding in entries that cancel to nearly 0, not a
    wrong entry)."""
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert got.shape == expected.shape, f"{what}: shape {got.shape}, expected {expected.shape}"
    if scale is None:
        scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-3 * rtol * scale + 1e-300,
                               err_msg=what)


# ---------------------------------------------------------------------------------------------
# The functions of arrays, written again here (generic over NP and MP)


def _count(x, axis) -> int:
    if axis is None:
        return x.size
    chosen = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([x.shape[k] for k in chosen]))


def r_mean(xp, x, axis=None, keepdims=False):
    return np.sum(x, axis=axis, keepdims=keepdims) / _count(x, axis)


def r_var(xp, x, axis=None, keepdims=False, ddof=0):
    centred = x - np.sum(x, axis=axis, keepdims=True) / _count(x, axis)
    return np.sum(centred * centred, axis=axis, keepdims=keepdims) / (_count(x, axis) - ddof)


def r_std(xp, x, axis=None, keepdims=False, ddof=0):
    return xp.sqrt(r_var(xp, x, axis, keepdims, ddof))


def r_logsumexp(xp, x, axis=None, keepdims=False):
    return xp.log(np.sum(xp.exp(x), axis=axis, keepdims=keepdims))


def r_softmax(xp, x, axis=-1):
    e = xp.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)


def r_log_softmax(xp, x, axis=-1):
    return x - xp.log(np.sum(xp.exp(x), axis=axis, keepdims=True))


def r_norm(xp, x, axis=None, keepdims=False):
    return xp.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))


def r_prod(xp, x, axis=None, keepdims=False):
    return np.prod(x, axis=axis, keepdims=keepdims)


def r_cross_entropy(xp, logits, probabilities):
    """The mean over the examples of -sum(p * log_softmax(logits)) over the classes."""
    per_example = -np.sum(probabilities * r_log_softmax(xp, logits, -1), axis=-1)
    return np.sum(per_example) / max(np.size(per_example), 1)


def r_binary_cross_entropy(xp, p, t):
    terms = -(t * xp.log(p) + (1 - t) * xp.log1p(-p))
    return np.sum(terms) / np.size(terms)


def one_hot(labels, classes: int) -> np.ndarray:
    return np.eye(classes)[np.asarray(labels, dtype=int)]


# ---------------------------------------------------------------------------------------------
# Points: fixed seeds


RNG = np.random.default_rng(20240611)


def normal(*shape):
    return RNG.normal(size=shape)


def uniform(lo, hi, *shape):
    return RNG.uniform(lo, hi, size=shape)


def away_from_zero(*shape):
    """Entries of magnitude 0.6 to 1.4, either sign (products neither vanish nor explode)."""
    return RNG.uniform(0.6, 1.4, size=shape) * RNG.choice([-1.0, 1.0], size=shape)


def probabilities(*shape):
    p = RNG.uniform(0.2, 1.0, size=shape)
    return p / np.sum(p, axis=-1, keepdims=True)


def integers(*shape, low=-4, high=5):
    """Integer-valued float64 (sums of them are exact)."""
    return RNG.integers(low, high, size=shape).astype(np.float64)


# ---------------------------------------------------------------------------------------------
# 1. The functions of arrays: value against numpy, every partial derivative against mpmath


@dataclass(frozen=True)
class Case:
    label: str
    expression: str  # f(x, ...), any shape: checked as sum(W * (f(x, ...)))
    point: dict
    reference: Callable  # reference(xp, **point) -> f's value
    covers: tuple[str, ...]  # the names of FUNCTIONS it exercises


CASES: list[Case] = []


def case(label, expression, reference, covers, **point) -> None:
    CASES.append(Case(label, expression, point, reference, tuple(covers.split())))


# sum
case("sum-1d", "sum(x)", lambda xp, x: np.sum(x), "sum", x=normal(5))
case("sum-2d-axis0", "sum(x, axis=0)", lambda xp, x: np.sum(x, axis=0), "sum", x=normal(3, 4))
case("sum-2d-axis-1-keepdims", "sum(x, axis=-1, keepdims=true)",
     lambda xp, x: np.sum(x, axis=-1, keepdims=True), "sum", x=normal(3, 4))
case("sum-3d-axes02", "sum(x, axis=[0, 2])", lambda xp, x: np.sum(x, axis=(0, 2)), "sum",
     x=normal(2, 3, 2))
case("sum-3d-negative-axes-keepdims", "sum(x, axis=[-1, 0], keepdims=true)",
     lambda xp, x: np.sum(x, axis=(0, 2), keepdims=True), "sum", x=normal(2, 3, 2))
case("sum-2d-all-axes-listed", "sum(x, axis=[1, 0])", lambda xp, x: np.sum(x), "sum",
     x=normal(2, 3))
case("sum-3d-all-keepdims", "sum(x, keepdims=true)", lambda xp, x: np.sum(x, keepdims=True),
     "sum", x=normal(2, 3, 2))
# mean
case("mean-1d", "mean(x)", lambda xp, x: r_mean(xp, x), "mean", x=normal(5))
case("mean-2d-axis1", "mean(x, axis=1)", lambda xp, x: r_mean(xp, x, 1), "mean", x=normal(3, 4))
case("mean-3d-axes01-keepdims", "mean(x, axis=[0, 1], keepdims=true)",
     lambda xp, x: r_mean(xp, x, (0, 1), True), "mean", x=normal(2, 3, 2))
case("mean-3d-axis-2", "mean(x, axis=-2)", lambda xp, x: r_mean(xp, x, 1), "mean",
     x=normal(2, 3, 2))
# prod
case("prod-1d", "prod(x)", lambda xp, x: r_prod(xp, x), "prod", x=away_from_zero(5))
case("prod-2d-axis0", "prod(x, axis=0)", lambda xp, x: r_prod(xp, x, 0), "prod",
     x=away_from_zero(3, 4))
case("prod-2d-axis-1-keepdims", "prod(x, axis=-1, keepdims=true)",
     lambda xp, x: r_prod(xp, x, -1, True), "prod", x=away_from_zero(3, 4))
case("prod-2d-all-axes-listed", "prod(x, axis=[0, 1])", lambda xp, x: r_prod(xp, x),
     "prod", x=away_from_zero(2, 3))
case("prod-3d-axis1", "prod(x, axis=1)", lambda xp, x: r_prod(xp, x, 1), "prod",
     x=away_from_zero(2, 3, 2))
case("prod-3d-all-keepdims", "prod(x, keepdims=true)", lambda xp, x: r_prod(xp, x, None, True),
     "prod", x=away_from_zero(2, 3, 2))
# logsumexp
case("logsumexp-1d", "logsumexp(x)", lambda xp, x: r_logsumexp(xp, x), "logsumexp", x=normal(5))
case("logsumexp-2d-axis1", "logsumexp(x, axis=1)", lambda xp, x: r_logsumexp(xp, x, 1),
     "logsumexp", x=normal(3, 4))
case("logsumexp-2d-axis-2-keepdims", "logsumexp(x, axis=-2, keepdims=true)",
     lambda xp, x: r_logsumexp(xp, x, 0, True), "logsumexp", x=normal(3, 4))
case("logsumexp-2d-all-axes-listed-keepdims", "logsumexp(x, axis=[0, 1], keepdims=true)",
     lambda xp, x: r_logsumexp(xp, x, None, True), "logsumexp", x=normal(2, 3))
case("logsumexp-3d-axis-1", "logsumexp(x, axis=-1)", lambda xp, x: r_logsumexp(xp, x, -1),
     "logsumexp", x=normal(2, 3, 2))
case("logsumexp-3d-axes02-keepdims", "logsumexp(x, axis=[0, 2], keepdims=true)",
     lambda xp, x: r_logsumexp(xp, x, (0, 2), True), "logsumexp", x=normal(2, 3, 2))
# norm
case("norm-1d", "norm(x)", lambda xp, x: r_norm(xp, x), "norm", x=normal(5))
case("norm-2d-axis0", "norm(x, axis=0)", lambda xp, x: r_norm(xp, x, 0), "norm", x=normal(3, 4))
case("norm-2d-axis-1-keepdims", "norm(x, axis=-1, keepdims=true)",
     lambda xp, x: r_norm(xp, x, -1, True), "norm", x=normal(3, 4))
case("norm-2d-all", "norm(x)", lambda xp, x: r_norm(xp, x), "norm", x=normal(2, 3))
case("norm-3d-axes12", "norm(x, axis=[1, 2])", lambda xp, x: r_norm(xp, x, (1, 2)), "norm",
     x=normal(2, 3, 2))
# var and std
case("norm-2d-all-axes-listed-keepdims", "norm(x, axis=[-1, -2], keepdims=true)",
     lambda xp, x: r_norm(xp, x, None, True), "norm", x=normal(2, 3))
case("var-1d", "var(x)", lambda xp, x: r_var(xp, x), "var", x=normal(5))
case("var-2d-axis0", "var(x, axis=0)", lambda xp, x: r_var(xp, x, 0), "var", x=normal(3, 4))
case("var-2d-axis-1-ddof1", "var(x, axis=-1, ddof=1)", lambda xp, x: r_var(xp, x, -1, ddof=1),
     "var", x=normal(3, 4))
case("var-3d-axes02-keepdims", "var(x, axis=[0, 2], keepdims=true)",
     lambda xp, x: r_var(xp, x, (0, 2), True), "var", x=normal(2, 3, 2))
case("std-1d-ddof1", "std(x, ddof=1)", lambda xp, x: r_std(xp, x, ddof=1), "std", x=normal(5))
case("std-2d-axis1", "std(x, axis=1)", lambda xp, x: r_std(xp, x, 1), "std", x=normal(3, 4))
case("std-3d-axis-1-keepdims", "std(x, axis=-1, keepdims=true)",
     lambda xp, x: r_std(xp, x, -1, True), "std", x=normal(2, 3, 2))
# cumsum
case("cumsum-1d", "cumsum(x)", lambda xp, x: np.cumsum(x), "cumsum", x=normal(5))
case("cumsum-2d-flattened", "cumsum(x)", lambda xp, x: np.cumsum(x), "cumsum", x=normal(2, 3))
case("cumsum-2d-axis0", "cumsum(x, axis=0)", lambda xp, x: np.cumsum(x, axis=0), "cumsum",
     x=normal(3, 4))
case("cumsum-2d-axis-1", "cumsum(x, axis=-1)", lambda xp, x: np.cumsum(x, axis=1), "cumsum",
     x=normal(3, 4))
case("cumsum-3d-axis1", "cumsum(x, axis=1)", lambda xp, x: np.cumsum(x, axis=1), "cumsum",
     x=normal(2, 3, 2))
# softmax and log_softmax
for _name, _f in (("softmax", r_softmax), ("log_softmax", r_log_softmax)):
    case(f"{_name}-1d", f"{_name}(x)", lambda xp, x, f=_f: f(xp, x), _name, x=normal(5))
    case(f"{_name}-2d-default-axis", f"{_name}(x)", lambda xp, x, f=_f: f(xp, x, -1), _name,
         x=normal(3, 4))
    case(f"{_name}-2d-axis0", f"{_name}(x, axis=0)", lambda xp, x, f=_f: f(xp, x, 0), _name,
         x=normal(3, 4))
    case(f"{_name}-3d-axis1", f"{_name}(x, axis=1)", lambda xp, x, f=_f: f(xp, x, 1), _name,
         x=normal(2, 3, 2))
    case(f"{_name}-3d-axis-3", f"{_name}(x, axis=-3)", lambda xp, x, f=_f: f(xp, x, 0), _name,
         x=normal(2, 3, 2))
case("softmax-times-log", "softmax(v)*log(v)", lambda xp, v: r_softmax(xp, v) * xp.log(v),
     "softmax", v=np.array([0.2, 0.3, 0.5]))
# max and min reductions (no ties at random points)
for _name, _f in (("max", np.max), ("min", np.min)):
    case(f"{_name}-1d", f"{_name}(x)", lambda xp, x, f=_f: f(x), _name, x=normal(5))
    case(f"{_name}-2d-axis0", f"{_name}(x, axis=0)", lambda xp, x, f=_f: f(x, axis=0), _name,
         x=normal(3, 4))
    case(f"{_name}-2d-axis-1-keepdims", f"{_name}(x, axis=-1, keepdims=true)",
         lambda xp, x, f=_f: f(x, axis=-1, keepdims=True), _name, x=normal(3, 4))
    case(f"{_name}-3d-axes02", f"{_name}(x, axis=[0, 2])",
         lambda xp, x, f=_f: f(x, axis=(0, 2)), _name, x=normal(2, 3, 2))
    case(f"{_name}-3d-all-keepdims", f"{_name}(x, keepdims=true)",
         lambda xp, x, f=_f: f(x, keepdims=True), _name, x=normal(2, 3, 2))
    case(f"{_name}-2d-all-axes-listed", f"{_name}(x, axis=[1, 0])", lambda xp, x, f=_f: f(x),
         _name, x=normal(2, 3))
# linear algebra
case("matmul-2d-2d", "matmul(a, b)", lambda xp, a, b: np.matmul(a, b), "matmul",
     a=normal(2, 3), b=normal(3, 2))
case("matmul-1d-batch", "matmul(a, b)", lambda xp, a, b: np.matmul(a, b), "matmul",
     a=normal(3), b=normal(2, 3, 2))
case("matmul-operator-batch-broadcast", "a @ b", lambda xp, a, b: np.matmul(a, b), "matmul",
     a=normal(1, 2, 3), b=normal(2, 3, 1))
case("dot-1d-1d", "dot(a, b)", lambda xp, a, b: np.sum(a * b), "dot", a=normal(4), b=normal(4))
case("dot-2d-1d", "dot(a, b)", lambda xp, a, b: np.matmul(a, b), "dot", a=normal(2, 3),
     b=normal(3))
case("dot-2d-2d", "dot(a, b)", lambda xp, a, b: np.matmul(a, b), "dot", a=normal(2, 3),
     b=normal(3, 2))
case("dot-scalar-2d", "dot(s, b)", lambda xp, s, b: s * b, "dot", s=np.float64(-1.5),
     b=normal(2, 3))
case("outer-1d", "outer(a, b)", lambda xp, a, b: a[:, None] * b[None, :], "outer",
     a=normal(3), b=normal(2))
case("outer-2d-flattened", "outer(a, b)",
     lambda xp, a, b: np.reshape(a, (-1, 1)) * np.reshape(b, (1, -1)), "outer",
     a=normal(2, 2), b=normal(3))
# arrays (moved entries; exact checks of their own are in section 4)
case("transpose-2d", "transpose(x)", lambda xp, x: np.transpose(x), "transpose", x=normal(2, 3))
case("transpose-3d-axes", "transpose(x, [1, 0, 2])", lambda xp, x: np.transpose(x, (1, 0, 2)),
     "transpose", x=normal(2, 3, 2))
case("transpose-3d-negative-axes", "transpose(x, [-1, 0, 1])",
     lambda xp, x: np.transpose(x, (2, 0, 1)), "transpose", x=normal(2, 3, 2))
case("reshape-minus-one", "reshape(x, [2, -1])", lambda xp, x: np.reshape(x, (2, -1)),
     "reshape", x=normal(3, 2))
case("reshape-3d", "reshape(x, [3, -1, 2])", lambda xp, x: np.reshape(x, (3, 2, 2)), "reshape",
     x=normal(2, 6))
case("concat-axis0", "concat(a, b)", lambda xp, a, b: np.concatenate([a, b]), "concat",
     a=normal(2, 3), b=normal(1, 3))
case("concat-three-axis-1", "concat(a, b, c, axis=-1)",
     lambda xp, a, b, c: np.concatenate([a, b, c], axis=-1), "concat",
     a=normal(2, 1), b=normal(2, 2), c=normal(2, 3))
case("stack-axis0", "stack(a, b)", lambda xp, a, b: np.stack([a, b]), "stack",
     a=normal(3), b=normal(3))
case("stack-three-axis-1", "stack(a, b, c, axis=-1)",
     lambda xp, a, b, c: np.stack([a, b, c], axis=-1), "stack",
     a=normal(2, 2), b=normal(2, 2), c=normal(2, 2))
case("broadcast_to-row", "broadcast_to(x, [2, 3])", lambda xp, x: np.broadcast_to(x, (2, 3)),
     "broadcast_to", x=normal(3))
case("broadcast_to-column-3d", "broadcast_to(x, [2, 2, 3])",
     lambda xp, x: np.broadcast_to(x, (2, 2, 3)), "broadcast_to", x=normal(2, 1))
case("sum_to-row", "sum_to(x, [3])", lambda xp, x: np.sum(x, axis=0), "sum_to", x=normal(2, 3))
case("sum_to-kept-axes", "sum_to(x, [1, 3])", lambda xp, x: np.sum(x, axis=(0, 1))[None, :],
     "sum_to", x=normal(2, 2, 3))
# losses
case("mse-1d", "mse(p, t)", lambda xp, p, t: r_mean(xp, (p - t) * (p - t)), "mse",
     p=normal(4), t=normal(4))
case("mse-2d-broadcast-target", "mse(p, t)", lambda xp, p, t: r_mean(xp, (p - t) * (p - t)),
     "mse", p=normal(2, 3), t=normal(3))
case("cross_entropy-integer-labels", "cross_entropy(z, [0, 2])",
     lambda xp, z: r_cross_entropy(xp, z, one_hot([0, 2], 3)), "cross_entropy", z=normal(2, 3))
case("cross_entropy-integer-labels-3d", "cross_entropy(z, [[1, 0], [2, 1]])",
     lambda xp, z: r_cross_entropy(xp, z, one_hot([[1, 0], [2, 1]], 3)), "cross_entropy",
     z=normal(2, 2, 3))
case("cross_entropy-one-label", "cross_entropy(z, 1)",
     lambda xp, z: r_cross_entropy(xp, z, one_hot(1, 4)), "cross_entropy", z=normal(4))
case("cross_entropy-one-hot", "cross_entropy(z, [[0, 1, 0], [1, 0, 0]])",
     lambda xp, z: r_cross_entropy(xp, z, np.array([[0, 1, 0], [1, 0, 0]])), "cross_entropy",
     z=normal(2, 3))
case("cross_entropy-probabilities", "cross_entropy(z, y)",
     lambda xp, z, y: r_cross_entropy(xp, z, y), "cross_entropy", z=normal(2, 3),
     y=probabilities(2, 3))
case("binary_cross_entropy-1d", "binary_cross_entropy(p, t)",
     lambda xp, p, t: r_binary_cross_entropy(xp, p, t), "binary_cross_entropy",
     p=uniform(0.1, 0.9, 4), t=uniform(0.0, 1.0, 4))
case("binary_cross_entropy-2d-constant-targets", "binary_cross_entropy(p, [[0, 1, 1], [1, 0, 0]])",
     lambda xp, p: r_binary_cross_entropy(xp, p, np.array([[0, 1, 1], [1, 0, 0]])),
     "binary_cross_entropy", p=uniform(0.1, 0.9, 2, 3))

CASE_BY_LABEL = {c.label: c for c in CASES}
assert len(CASE_BY_LABEL) == len(CASES), "case labels are unique"


def shapes_of(point: dict) -> dict:
    return {name: np.shape(value) for name, value in point.items()}


@functools.cache
def weighted(label: str):
    """(sum(W * (f)), its point with W): W random, of f's shape, a variable of its own."""
    c = CASE_BY_LABEL[label]
    inner = gradcli.parse(c.expression, shapes=shapes_of(c.point))
    seed = sum(map(ord, label))
    weights = np.random.default_rng(seed).normal(size=inner.output.shape)
    point = {**c.point, "W": weights}
    f = gradcli.parse(f"sum(W * ({c.expression}))", shapes=shapes_of(point))
    return f, point


def mp_partials(function: Callable, point: dict, name: str) -> np.ndarray:
    """d function(MP, **point) / d point[name][entry], every entry, by mpmath.diff at 50 digits."""
    shape = np.shape(point[name])
    out = np.empty(shape)
    with mpmath.workdps(DPS):
        at = {k: to_mp(v) for k, v in point.items()}
        base = at[name]
        for entry in np.ndindex(shape):
            def moved(t, entry=entry):
                if not shape:
                    return function(MP, **{**at, name: t})
                value = base.copy()
                value[entry] = t
                return function(MP, **{**at, name: value})

            out[entry] = float(mpmath.diff(moved, base[entry] if shape else base))
    return out


def mp_total(c: Case) -> Callable:
    return lambda xp, W, **point: np.sum(W * c.reference(xp, **point))


@pytest.mark.parametrize("label", list(CASE_BY_LABEL))
def test_array_function_value(label):
    """f's value (any shape) against the numpy closed form."""
    c = CASE_BY_LABEL[label]
    f = gradcli.parse(c.expression, shapes=shapes_of(c.point))
    got = np.asarray(f(c.point))
    expected = np.asarray(c.reference(NP, **c.point), dtype=np.float64)
    close(got, expected, VALUE_RTOL, f"{c.expression}: value")


@pytest.mark.parametrize("label", list(CASE_BY_LABEL))
def test_array_function_gradient(label):
    """Every entry of the gradient of sum(W * f) against mpmath: the derivatives with respect
    to the arguments by mpmath.diff, and the one with respect to W (f's value) at 50 digits."""
    c = CASE_BY_LABEL[label]
    f, point = weighted(label)
    result = f.grad(point)
    total = mp_total(c)
    close(result.value, total(NP, **point), VALUE_RTOL, f"{f.text}: value")
    assert set(result.gradient) == set(point)
    with mpmath.workdps(DPS):
        exact_f = to_float(c.reference(MP, **{k: to_mp(v) for k, v in c.point.items()}))
    close(result.gradient["W"], np.reshape(exact_f, np.shape(point["W"])), RTOL, f"{f.text}: d/dW")
    for name in c.point:
        got = result.gradient[name]
        assert got is not None, f"{f.text}: d/d{name} is unconnected"
        close(got, mp_partials(total, point, name), RTOL, f"{f.text}: d/d{name}")


@pytest.mark.parametrize("entry", ARRAY_FUNCTIONS + REDUCTIONS_OF_TWO_KINDS,
                         ids=[e.name for e in ARRAY_FUNCTIONS + REDUCTIONS_OF_TWO_KINDS])
def test_array_function_has_reference(entry):
    """Generated from the table: a function of arrays without a reference case fails, by name."""
    covered = {name for c in CASES for name in c.covers}
    assert entry.name in covered, (
        f"function of arrays '{entry.name}' ({entry.signature}) has no reference case: add one "
        f"to CASES in tests/test_tensors.py")


ALIASES = [(entry, alias) for entry in ARRAY_FUNCTIONS + REDUCTIONS_OF_TWO_KINDS
           for alias in entry.aliases]


@pytest.mark.parametrize("entry, alias", ALIASES, ids=[alias for _, alias in ALIASES])
def test_array_alias(entry, alias):
    """An alias builds the same function: the same value and gradient, bit for bit."""
    cases = [c for c in CASES if c.expression.startswith(f"{entry.name}(")]
    assert cases, f"no reference case calls {entry.name}(...)"
    for c in cases:
        f, point = weighted(c.label)
        other = gradcli.parse(f"sum(W * ({alias}{c.expression[len(entry.name):]}))",
                              shapes=shapes_of(point))
        a, b = f.grad(point), other.grad(point)
        assert a.value == b.value
        for name in point:
            np.testing.assert_array_equal(a.gradient[name], b.gradient[name])


def test_one_function_rebuilt_for_each_point_shape():
    """A Function parsed without shapes is rebuilt for the shapes of each point it is given."""
    f = gradcli.parse("logsumexp(v) * sum(v ** 2)")
    for v in (np.float64(0.7), normal(3), normal(2, 4), normal(2, 2, 3)):
        lse, squares = scipy.special.logsumexp(v), np.sum(v**2)
        result = f.grad(v=v)
        close(result.value, lse * squares, VALUE_RTOL, "value")
        expected = np.exp(v - lse) * squares + lse * 2 * v
        close(result.gradient["v"], expected, VALUE_RTOL, "gradient")
    X, w = normal(5, 3), normal(3)
    result = gradcli.grad("sum(X @ w)", at={"X": X, "w": w})
    close(result.value, np.sum(X @ w), VALUE_RTOL, "value")
    close(result.gradient["X"], np.broadcast_to(w, (5, 3)), VALUE_RTOL, "d/dX")
    close(result.gradient["w"], X.sum(axis=0), VALUE_RTOL, "d/dw")


def test_api_docstring_example():
    """gradcli.api's example: grad() builds for the point's shapes; parse() without shapes
    builds for numbers and, where that cannot be, says how to give the shapes."""
    v = np.array([0.2, 0.3, 0.5])
    s = scipy.special.softmax(v)
    weights = np.log(v)
    expected = s * (weights - np.sum(s * weights)) + s / v
    result = gradcli.grad("sum(softmax(v)*log(v))", at={"v": v})
    close(result.gradient["v"], expected, VALUE_RTOL, "gradient")
    result = gradcli.parse("sum(softmax(v)*log(v))", shapes={"v": (3,)}).grad(v=v)
    close(result.gradient["v"], expected, VALUE_RTOL, "gradient")
    with pytest.raises(ShapeError, match=r"shapes=\{'v': \(3,\)\}"):
        gradcli.parse("sum(softmax(v)*log(v))")


# ---------------------------------------------------------------------------------------------
# 2. Broadcasting of the binary elementwise operations: closed-form partials times W, summed
# back to each input's shape


def unbroadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """g summed over the axes a broadcast from `shape` added (leading) or stretched (length 1)."""
    g = np.asarray(g, dtype=np.float64)
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for k, n in enumerate(shape):
        if n == 1 and g.shape[k] != 1:
            g = g.sum(axis=k, keepdims=True)
    return g


def _atan2_partials(a, b):
    r2 = a * a + b * b
    return b / r2, -a / r2


BINARY = {
    # label: (expression, numpy value, (d/da, d/db) of numpy arrays, points of a, points of b)
    "add": ("a + b", np.add, lambda a, b: (1.0, 1.0), normal, normal),
    "sub": ("a - b", np.subtract, lambda a, b: (1.0, -1.0), normal, normal),
    "mul": ("a * b", np.multiply, lambda a, b: (b, a), normal, normal),
    "div": ("a / b", np.divide, lambda a, b: (1 / b, -a / b**2), normal, away_from_zero),
    "pow": ("a ** b", np.power, lambda a, b: (b * a ** (b - 1), a**b * np.log(a)),
            lambda *s: uniform(0.5, 2.0, *s), normal),
    "pow-caret": ("a ^ b", np.power, lambda a, b: (b * a ** (b - 1), a**b * np.log(a)),
                  lambda *s: uniform(0.5, 2.0, *s), normal),
    "maximum": ("maximum(a, b)", np.maximum, lambda a, b: (a > b, b > a), normal, normal),
    "max-two": ("max(a, b)", np.maximum, lambda a, b: (a > b, b > a), normal, normal),
    "minimum": ("minimum(a, b)", np.minimum, lambda a, b: (a < b, b < a), normal, normal),
    "min-two": ("min(a, b)", np.minimum, lambda a, b: (a < b, b < a), normal, normal),
    "atan2": ("atan2(a, b)", np.arctan2, _atan2_partials, normal, normal),
    "hypot": ("hypot(a, b)", np.hypot, lambda a, b: (a / np.hypot(a, b), b / np.hypot(a, b)),
              normal, normal),
}

SHAPE_PAIRS = [((3,), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((1, 3), (2, 1)),
               ((), (2, 3)), ((2, 3), ()), ((2, 1, 3), (4, 1))]
PAIR_IDS = [f"{a}-{b}".replace(" ", "") for a, b in SHAPE_PAIRS]


def _full(value, shape):
    return np.broadcast_to(np.asarray(value, dtype=np.float64), shape)


@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=PAIR_IDS)
@pytest.mark.parametrize("label", list(BINARY))
def test_broadcast_binary(label, shapes):
    expression, value, partials, make_a, make_b = BINARY[label]
    rng_state = sum(map(ord, label + str(shapes)))
    rng = np.random.default_rng(rng_state)
    a, b = make_a(*shapes[0]), make_b(*shapes[1])
    out_shape = np.broadcast_shapes(shapes[0], shapes[1])
    weights = rng.normal(size=out_shape)
    point = {"a": a, "b": b, "W": weights}
    f = gradcli.parse(f"sum(W * ({expression}))", shapes=shapes_of(point))
    result = f.grad(point)
    close(result.value, np.sum(weights * value(a, b)), VALUE_RTOL, f"{f.text}: value")
    close(result.gradient["W"], value(a, b), VALUE_RTOL, f"{f.text}: d/dW")
    da, db = partials(np.asarray(a), np.asarray(b))
    for name, partial, shape in (("a", da, shapes[0]), ("b", db, shapes[1])):
        expected = unbroadcast(weights * _full(partial, out_shape), shape)
        got = np.asarray(result.gradient[name])
        assert got.shape == shape, f"{f.text}: d/d{name} has shape {got.shape}, not {shape}"
        close(got, expected, VALUE_RTOL, f"{f.text}: d/d{name}")


@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=PAIR_IDS)
def test_broadcast_where(shapes):
    """where(c, a, b): a takes the cotangent where c holds, b elsewhere; c has no gradient."""
    rng = np.random.default_rng(sum(shapes[0]) * 7 + sum(shapes[1]))
    a, b = normal(*shapes[0]), normal(*shapes[1])
    out_shape = np.broadcast_shapes(shapes[0], shapes[1])
    cond = rng.integers(0, 2, size=out_shape).astype(np.float64)
    cond.flat[0], cond.flat[-1] = 1.0, 0.0
    weights = rng.normal(size=out_shape)
    point = {"c": cond, "a": a, "b": b, "W": weights}
    f = gradcli.parse("sum(W * where(c, a, b))", shapes=shapes_of(point))
    result = f.grad(point)
    expected_value = np.where(cond != 0, a, b)
    close(result.value, np.sum(weights * expected_value), VALUE_RTOL, "value")
    assert result.gradient["c"] is None
    np.testing.assert_array_equal(result.gradient["W"], expected_value)
    close(result.gradient["a"], unbroadcast(weights * (cond != 0), shapes[0]), VALUE_RTOL, "d/da")
    close(result.gradient["b"], unbroadcast(weights * (cond == 0), shapes[1]), VALUE_RTOL, "d/db")


COMPARISONS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
               "==": np.equal, "!=": np.not_equal}


@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=PAIR_IDS)
@pytest.mark.parametrize("symbol", list(COMPARISONS))
def test_broadcast_comparison(symbol, shapes):
    """A comparison broadcasts like any elementwise operation and carries no gradient."""
    a, b = integers(*shapes[0], low=-1, high=2), integers(*shapes[1], low=-1, high=2)
    out_shape = np.broadcast_shapes(shapes[0], shapes[1])
    weights = normal(*out_shape)
    point = {"a": a, "b": b, "W": weights}
    f = gradcli.parse(f"sum(W * (a {symbol} b))", shapes=shapes_of(point))
    result = f.grad(point)
    truth = COMPARISONS[symbol](a, b).astype(np.float64)
    np.testing.assert_array_equal(result.gradient["W"], truth)
    assert result.gradient["a"] is None and result.gradient["b"] is None
    # times a: only the multiplication carries a gradient to a
    g = gradcli.parse(f"sum(W * (a {symbol} b) * a)", shapes=shapes_of(point)).grad(point)
    close(g.gradient["a"], unbroadcast(weights * truth, shapes[0]), VALUE_RTOL, "d/da")
    assert g.gradient["b"] is None


# ---------------------------------------------------------------------------------------------
# 3. matmul with numpy's semantics: closed forms written with einsum, for L = sum(W * (A @ B))


MATMUL = {
    # label: (shape of A, shape of B, A @ B, dL/dA, dL/dB) as functions of numpy arrays
    "2d@2d": ((2, 3), (3, 4), lambda A, B: np.einsum("ij,jk->ik", A, B),
              lambda A, B, W: np.einsum("ik,jk->ij", W, B),
              lambda A, B, W: np.einsum("ij,ik->jk", A, W)),
    "1d@2d": ((3,), (3, 4), lambda A, B: np.einsum("j,jk->k", A, B),
              lambda A, B, W: np.einsum("k,jk->j", W, B),
              lambda A, B, W: np.einsum("j,k->jk", A, W)),
    "2d@1d": ((2, 3), (3,), lambda A, B: np.einsum("ij,j->i", A, B),
              lambda A, B, W: np.einsum("i,j->ij", W, B),
              lambda A, B, W: np.einsum("ij,i->j", A, W)),
    "1d@1d": ((3,), (3,), lambda A, B: np.einsum("j,j->", A, B),
              lambda A, B, W: W * B, lambda A, B, W: W * A),
    "batch@2d": ((4, 2, 3), (3, 5), lambda A, B: np.einsum("bij,jk->bik", A, B),
                 lambda A, B, W: np.einsum("bik,jk->bij", W, B),
                 lambda A, B, W: np.einsum("bij,bik->jk", A, W)),
    "batch@batch": ((4, 2, 3), (4, 3, 5), lambda A, B: np.einsum("bij,bjk->bik", A, B),
                    lambda A, B, W: np.einsum("bik,bjk->bij", W, B),
                    lambda A, B, W: np.einsum("bij,bik->bjk", A, W)),
    "broadcast-batch": ((1, 2, 3), (4, 3, 5), lambda A, B: np.einsum("ij,bjk->bik", A[0], B),
                        lambda A, B, W: np.einsum("bik,bjk->ij", W, B)[None],
                        lambda A, B, W: np.einsum("ij,bik->bjk", A[0], W)),
    "batch@broadcast-batch": ((4, 2, 3), (1, 3, 5),
                              lambda A, B: np.einsum("bij,jk->bik", A, B[0]),
                              lambda A, B, W: np.einsum("bik,jk->bij", W, B[0]),
                              lambda A, B, W: np.einsum("bij,bik->jk", A, W)[None]),
    "2d@batch": ((2, 3), (4, 3, 5), lambda A, B: np.einsum("ij,bjk->bik", A, B),
                 lambda A, B, W: np.einsum("bik,bjk->ij", W, B),
                 lambda A, B, W: np.einsum("ij,bik->bjk", A, W)),
    "1d@batch": ((3,), (4, 3, 5), lambda A, B: np.einsum("j,bjk->bk", A, B),
                 lambda A, B, W: np.einsum("bk,bjk->j", W, B),
                 lambda A, B, W: np.einsum("j,bk->bjk", A, W)),
    "batch@1d": ((4, 2, 3), (3,), lambda A, B: np.einsum("bij,j->bi", A, B),
                 lambda A, B, W: np.einsum("bi,j->bij", W, B),
                 lambda A, B, W: np.einsum("bij,bi->j", A, W)),
    "4d-both-broadcast": ((2, 1, 2, 3), (3, 3, 4),
                          lambda A, B: np.einsum("xij,yjk->xyik", A[:, 0], B),
                          lambda A, B, W: np.einsum("xyik,yjk->xij", W, B)[:, None],
                          lambda A, B, W: np.einsum("xij,xyik->yjk", A[:, 0], W)),
}


@pytest.mark.parametrize("label", list(MATMUL))
def test_matmul(label):
    shape_a, shape_b, product, grad_a, grad_b = MATMUL[label]
    rng = np.random.default_rng(sum(map(ord, label)))
    A, B = rng.normal(size=shape_a), rng.normal(size=shape_b)
    expected = product(A, B)
    np.testing.assert_allclose(np.matmul(A, B), expected, rtol=1e-13)  # the einsum is numpy's
    W = rng.normal(size=expected.shape)
    point = {"A": A, "B": B, "W": W}
    value = gradcli.parse("A @ B", shapes=shapes_of(point))(point)
    close(value, expected, VALUE_RTOL, f"{label}: A @ B")
    f = gradcli.parse("sum(W * (A @ B))", shapes=shapes_of(point))
    result = f.grad(point)
    close(result.value, np.sum(W * expected), VALUE_RTOL, f"{label}: value")
    close(result.gradient["A"], grad_a(A, B, W), VALUE_RTOL, f"{label}: d/dA")
    close(result.gradient["B"], grad_b(A, B, W), VALUE_RTOL, f"{label}: d/dB")
    close(result.gradient["W"], expected, VALUE_RTOL, f"{label}: d/dW")


# ---------------------------------------------------------------------------------------------
# 4. Operations that move entries: exact. The expected gradient of sum(W * f(x, ...)) with
# respect to x is J^T W, J the (0/1) Jacobian of the linear f, built by numpy from f's images of
# the unit arrays; integer-valued arrays keep every sum exact.


MOVES = {
    # label: (expression, shapes, numpy f)
    "index-0": ("x[0]", {"x": (3, 4)}, lambda x: x[0]),
    "index-negative": ("x[-1]", {"x": (3, 4)}, lambda x: x[-1]),
    "index-entry": ("x[1, 2]", {"x": (3, 4)}, lambda x: x[1, 2]),
    "index-negative-entry": ("x[-2, -1]", {"x": (3, 4)}, lambda x: x[-2, -1]),
    "index-chained": ("x[0][1]", {"x": (3, 4)}, lambda x: x[0][1]),
    "slice": ("x[1:3]", {"x": (4, 3)}, lambda x: x[1:3]),
    "slice-step": ("x[::2]", {"x": (5, 2)}, lambda x: x[::2]),
    "slice-reversed": ("x[::-1]", {"x": (3, 4)}, lambda x: x[::-1]),
    "slice-negative-bounds": ("x[-3:-1]", {"x": (4,)}, lambda x: x[-3:-1]),
    "slice-negative-step-bounds": ("x[5:1:-1]", {"x": (3, 2)}, lambda x: x[5:1:-1]),
    "slice-from-end-backwards": ("x[-1::-2]", {"x": (5,)}, lambda x: x[-1::-2]),
    "slice-past-the-end": ("x[1:100]", {"x": (3, 2)}, lambda x: x[1:100]),
    "column": ("x[:, 1]", {"x": (3, 4)}, lambda x: x[:, 1]),
    "column-negative": ("x[:, -2]", {"x": (3, 4)}, lambda x: x[:, -2]),
    "two-slices": ("x[1:, ::2]", {"x": (3, 5)}, lambda x: x[1:, ::2]),
    "slices-with-steps": ("x[-3:-1, 1:4:2]", {"x": (4, 5)}, lambda x: x[-3:-1, 1:4:2]),
    "3d-int-slice-int": ("x[1, :, 2]", {"x": (2, 3, 4)}, lambda x: x[1, :, 2]),
    "3d-slices": ("x[:, 1:3, ::-2]", {"x": (2, 3, 4)}, lambda x: x[:, 1:3, ::-2]),
    "overlapping-slices": ("x[1:] + x[:-1]", {"x": (4, 2)}, lambda x: x[1:] + x[:-1]),
    "same-entry-twice": ("x[0] * 2 + x[0]", {"x": (2, 3)}, lambda x: x[0] * 2 + x[0]),
    "T-2d": ("x.T", {"x": (2, 3)}, lambda x: x.T),
    "T-3d": ("x.T", {"x": (2, 3, 4)}, lambda x: x.T),
    "transpose-axes": ("transpose(x, [1, 0, 2])", {"x": (2, 3, 4)},
                       lambda x: np.transpose(x, (1, 0, 2))),
    "transpose-negative-axes": ("transpose(x, [-1, -3, -2])", {"x": (2, 3, 4)},
                                lambda x: np.transpose(x, (2, 0, 1))),
    "reshape-minus-one": ("reshape(x, [2, -1])", {"x": (3, 4)}, lambda x: x.reshape(2, -1)),
    "reshape-flat": ("reshape(x, [-1])", {"x": (2, 3, 2)}, lambda x: x.reshape(-1)),
    "reshape-3d": ("reshape(x, [3, -1, 2])", {"x": (4, 3)}, lambda x: x.reshape(3, -1, 2)),
    "reshape-int": ("reshape(x, 6)", {"x": (2, 3)}, lambda x: x.reshape(6)),
    "reshape-then-index": ("reshape(x, [2, -1])[1, 1:]", {"x": (6,)},
                           lambda x: x.reshape(2, -1)[1, 1:]),
    "concat-axis0": ("concat(a, b)", {"a": (2, 3), "b": (1, 3)},
                     lambda a, b: np.concatenate([a, b])),
    "concat-axis1": ("concat(a, b, axis=1)", {"a": (2, 3), "b": (2, 1)},
                     lambda a, b: np.concatenate([a, b], axis=1)),
    "concat-three-3d-negative-axis": ("concat(a, b, c, axis=-1)",
                                      {"a": (2, 2, 1), "b": (2, 2, 3), "c": (2, 2, 2)},
                                      lambda a, b, c: np.concatenate([a, b, c], axis=-1)),
    "concat-same-twice": ("concatenate(a, a, axis=0)", {"a": (2, 2)},
                          lambda a: np.concatenate([a, a])),
    "stack-axis0": ("stack(a, b)", {"a": (3,), "b": (3,)}, lambda a, b: np.stack([a, b])),
    "stack-axis1": ("stack(a, b, axis=1)", {"a": (2, 3), "b": (2, 3)},
                    lambda a, b: np.stack([a, b], axis=1)),
    "stack-three-negative-axis": ("stack(a, b, c, axis=-1)",
                                  {"a": (2, 2), "b": (2, 2), "c": (2, 2)},
                                  lambda a, b, c: np.stack([a, b, c], axis=-1)),
    "broadcast_to-row": ("broadcast_to(x, [2, 3])", {"x": (3,)},
                         lambda x: np.broadcast_to(x, (2, 3))),
    "broadcast_to-column": ("broadcast_to(x, [2, 3])", {"x": (2, 1)},
                            lambda x: np.broadcast_to(x, (2, 3))),
    "broadcast_to-3d": ("broadcast_to(x, [4, 2, 3])", {"x": (1, 3)},
                        lambda x: np.broadcast_to(x, (4, 2, 3))),
    "broadcast_to-scalar": ("broadcast_to(x, [2, 3])", {"x": ()},
                            lambda x: np.broadcast_to(x, (2, 3))),
    "sum_to-row": ("sum_to(x, [3])", {"x": (2, 3)}, lambda x: x.sum(axis=0)),
    "sum_to-column": ("sum_to(x, [2, 1])", {"x": (2, 3)}, lambda x: x.sum(axis=1, keepdims=True)),
    "sum_to-3d": ("sum_to(x, [1, 3])", {"x": (4, 2, 3)}, lambda x: x.sum(axis=(0, 1))[None]),
    "sum_to-one-entry": ("sum_to(x, 1)", {"x": (2, 3)}, lambda x: x.sum().reshape(1)),
    "array-literal-of-entries": ("[x[2], x[0], x[2]]", {"x": (3,)}, lambda x: x[[2, 0, 2]]),
    "array-literal-of-arrays": ("[v, v * 2, s * 3]", {"v": (2,), "s": (2,)},
                                lambda v, s: np.stack([v, v * 2, s * 3])),
}


def move_point(label: str) -> dict:
    _, shapes, _ = MOVES[label]
    rng = np.random.default_rng(sum(map(ord, label)))
    return {name: rng.integers(-9, 10, size=shape).astype(np.float64)
            for name, shape in shapes.items()}


def jacobian_transpose_times(function, point: dict, name: str, weights) -> np.ndarray:
    """J^T W for the linear `function`, from its images of the unit arrays of `name`."""
    shape = np.shape(point[name])
    zeros = {k: np.zeros(np.shape(v)) for k, v in point.items()}
    out = np.zeros(shape)
    for entry in np.ndindex(shape):
        unit = np.zeros(shape)
        unit[entry] = 1.0
        out[entry] = np.sum(weights * function(**{**zeros, name: unit}))
    return out


@pytest.mark.parametrize("label", list(MOVES))
def test_moved_entries_exact(label):
    expression, shapes, function = MOVES[label]
    point = move_point(label)
    expected_value = np.asarray(function(**point))
    inner = gradcli.parse(expression, shapes=shapes)
    np.testing.assert_array_equal(np.asarray(inner(point)), expected_value)
    weights = np.random.default_rng(len(label)).integers(-5, 6, size=expected_value.shape)
    weights = weights.astype(np.float64)
    full = {**point, "W": weights}
    result = gradcli.parse(f"sum(W * ({expression}))", shapes=shapes_of(full)).grad(full)
    assert result.value == float(np.sum(weights * expected_value))
    np.testing.assert_array_equal(result.gradient["W"], expected_value)
    for name in point:
        got = np.asarray(result.gradient[name])
        expected = jacobian_transpose_times(function, point, name, weights)
        assert got.shape == np.shape(point[name])
        np.testing.assert_array_equal(got, expected, err_msg=f"{expression}: d/d{name}")


# ---------------------------------------------------------------------------------------------
# 5. Second order: the Hessian, row by row (the gradient node indexed, differentiated again by
# gradcli.autodiff.backward), against mpmath's second partials of the reference definition


SECOND = {
    # label: (expression, point, reference(xp, **point), the variable of the Hessian)
    "softmax-squared": ("sum(softmax(v)**2)", {"v": normal(4)},
                        lambda xp, v: np.sum(r_softmax(xp, v) ** 2), "v"),
    "logsumexp": ("logsumexp(v)", {"v": normal(4)}, lambda xp, v: r_logsumexp(xp, v), "v"),
    "norm-squared": ("norm(v)**2", {"v": normal(4)}, lambda xp, v: r_norm(xp, v) ** 2, "v"),
    "norm": ("norm(v)", {"v": normal(4)}, lambda xp, v: r_norm(xp, v), "v"),
    "matmul-squared": ("sum((A @ x)**2)", {"A": normal(2, 3), "x": normal(3)},
                       lambda xp, A, x: np.sum(np.matmul(A, x) ** 2), "x"),
    "matmul-squared-wrt-matrix": ("sum((A @ x)**2)", {"A": normal(2, 3), "x": normal(3)},
                                  lambda xp, A, x: np.sum(np.matmul(A, x) ** 2), "A"),
    "log_softmax-2d": ("sum(W * log_softmax(X, axis=0))", {"X": normal(2, 3), "W": normal(2, 3)},
                       lambda xp, X, W: np.sum(W * r_log_softmax(xp, X, 0)), "X"),
    "prod": ("prod(v)", {"v": away_from_zero(4)}, lambda xp, v: np.prod(v), "v"),
    "prod-axis": ("sum(W * prod(X, axis=1))", {"X": away_from_zero(2, 3), "W": normal(2)},
                  lambda xp, X, W: np.sum(W * np.prod(X, axis=1)), "X"),
    "var-std": ("var(v) + std(v, ddof=1)", {"v": normal(5)},
                lambda xp, v: r_var(xp, v) + r_std(xp, v, ddof=1), "v"),
    "cumsum-cubed": ("sum(cumsum(v)**3)", {"v": normal(4)},
                     lambda xp, v: np.sum(np.cumsum(v) ** 3), "v"),
    "max-times-square": ("max(v) * sum(v**2)", {"v": normal(4)},
                         lambda xp, v: np.max(v) * np.sum(v * v), "v"),
    "normalized-rows": ("sum(W * (X / norm(X, axis=1, keepdims=true)))",
                        {"X": normal(2, 3), "W": normal(2, 3)},
                        lambda xp, X, W: np.sum(W * X / r_norm(xp, X, 1, True)), "X"),
    "cross_entropy": ("cross_entropy(z, [2, 0])", {"z": normal(2, 3)},
                      lambda xp, z: r_cross_entropy(xp, z, one_hot([2, 0], 3)), "z"),
}


def mp_hessian(function: Callable, point: dict, name: str) -> np.ndarray:
    shape = np.shape(point[name])
    n = int(np.prod(shape))
    hessian = np.empty((n, n))
    with mpmath.workdps(DPS):
        at = {k: to_mp(v) for k, v in point.items()}
        flat = list(np.ravel(at[name]))

        def of_entries(*entries):
            value = np.array(entries, dtype=object).reshape(shape)
            return function(MP, **{**at, name: value})

        for i in range(n):
            for j in range(i, n):
                orders = [0] * n
                orders[i] += 1
                orders[j] += 1
                hessian[i, j] = hessian[j, i] = float(mpmath.diff(of_entries, flat, orders))
    return hessian


def gradcli_hessian(expression: str, point: dict, name: str) -> np.ndarray:
    """Row k: the entry k of the gradient node, differentiated again with respect to `name`."""
    f = gradcli.parse(expression, shapes=shapes_of(point))
    variable = f.variable_node(name)
    gradient = f.gradient_node(name)
    assert gradient is not UNCONNECTED
    shape = np.shape(point[name])
    rows = []
    for entry in np.ndindex(shape):
        component = ops.index(gradient, key=entry) if shape else gradient
        row = backward(component, [variable]).gradient(variable)
        if row is UNCONNECTED:
            rows.append(np.zeros(shape))
        else:
            rows.append(np.broadcast_to(evaluate([row], point)[row.index], shape))
    n = int(np.prod(shape))
    return np.reshape(np.array(rows, dtype=np.float64), (n, n))


@pytest.mark.parametrize("label", list(SECOND))
def test_hessian(label):
    expression, point, reference, name = SECOND[label]
    got = gradcli_hessian(expression, point, name)
    expected = mp_hessian(reference, point, name)
    close(got, expected, SECOND_RTOL, f"{expression}: Hessian in {name}")


@pytest.mark.parametrize("label", list(SECOND))
def test_derivative_of_array_valued_derivative(label):
    """f.derivative(v) is array-valued. Its own .derivative(v) is either the gradient of the sum
    of its entries (the Hessian's column sums: what reverse mode seeded with ones gives, and what
    gradcli returns where it builds it), or refused as grad() refuses an array output: a
    ShapeError that says a number is needed and names the output's shape."""
    expression, point, reference, name = SECOND[label]
    f = gradcli.parse(expression, shapes=shapes_of(point))
    first = f.derivative(name)
    try:
        second = first.derivative(name)
    except ShapeError as error:
        shape = str(np.shape(point[name]))
        assert "number" in str(error) and shape in str(error), f"{expression}: {error}"
        return
    hessian = mp_hessian(reference, point, name)
    expected = hessian.sum(axis=0).reshape(np.shape(point[name]))
    got = np.zeros(np.shape(point[name])) if second is None else np.asarray(second(point))
    close(got, expected, SECOND_RTOL, f"{expression}: d/d{name} sum(d/d{name})",
          scale=float(np.max(np.abs(hessian))))


# ---------------------------------------------------------------------------------------------
# 6. Numerical stability and the documented conventions


@pytest.mark.parametrize("v", [[1000.0, 0.0, -1000.0], [1000.0, 1001.0, 998.0],
                               [-1000.0, -1001.5, -999.0]])
def test_softmax_large_inputs(v):
    v = np.array(v)
    weights = np.array([0.5, -1.25, 2.0])
    s = scipy.special.softmax(v)
    result = gradcli.grad("sum(W * softmax(v))", at={"v": v, "W": weights})
    assert np.isfinite(result.value) and np.all(np.isfinite(result.gradient["v"]))
    close(result.gradient["W"], s, 1e-13, "softmax")
    close(result.gradient["v"], s * (weights - np.sum(weights * s)), 1e-12, "d softmax")


@pytest.mark.parametrize("v", [[1000.0, 1000.0, -1000.0], [-1000.0, -1001.0, -1002.0],
                               [1e3, 0.0, 1e3 - 2.0]])
def test_logsumexp_and_log_softmax_large_inputs(v):
    v = np.array(v)
    result = gradcli.grad("logsumexp(v)", at={"v": v})
    close(result.value, scipy.special.logsumexp(v), 1e-15, "logsumexp")
    close(result.gradient["v"], scipy.special.softmax(v), 1e-13, "d logsumexp")
    # log_softmax is x - logsumexp(x): its entries (and the softmax of its gradient) are exact
    # to a few units in the last place of the inputs (1.1e-13 at 1e3), not of the results
    weights = np.array([1.5, -0.5, 2.0])
    result = gradcli.grad("sum(W * log_softmax(v))", at={"v": v, "W": weights})
    ulp = np.spacing(np.max(np.abs(v)))
    assert np.all(np.isfinite(result.gradient["W"])) and np.all(np.isfinite(result.gradient["v"]))
    np.testing.assert_allclose(result.gradient["W"], scipy.special.log_softmax(v), rtol=1e-15,
                               atol=4 * ulp)
    np.testing.assert_allclose(result.gradient["v"],
                               weights - scipy.special.softmax(v) * weights.sum(), rtol=1e-15,
                               atol=4 * ulp * np.sum(np.abs(weights)))


def test_logsumexp_large_inputs_along_axis():
    X = np.array([[-1000.0, -1001.0], [1000.0, 999.0], [0.0, 1000.0]])
    result = gradcli.grad("sum(logsumexp(X, axis=1))", at={"X": X})
    close(result.value, np.sum(scipy.special.logsumexp(X, axis=1)), 1e-15, "value")
    close(result.gradient["X"], scipy.special.softmax(X, axis=1), 1e-13, "gradient")


def test_cross_entropy_large_logits():
    z = np.array([[1000.0, -1000.0, 0.0], [-500.0, 500.0, 499.0]])
    result = gradcli.grad("cross_entropy(z, [1, 2])", at={"z": z})
    targets = one_hot([1, 2], 3)
    expected = -np.mean(np.sum(targets * scipy.special.log_softmax(z, axis=1), axis=1))
    close(result.value, expected, 1e-13, "value")
    close(result.gradient["z"], (scipy.special.softmax(z, axis=1) - targets) / 2, 1e-12, "dz")


@pytest.mark.parametrize("scale", [1e200, 1e-200, 1.0])
def test_norm_without_overflow_or_underflow(scale):
    v = np.array([1.0, 1.0]) * scale
    result = gradcli.grad("norm(v)", at={"v": v})
    close(result.value, np.sqrt(2.0) * scale, 1e-15, "norm")
    close(result.gradient["v"], np.full(2, 1 / np.sqrt(2.0)), 1e-15, "d norm")
    X = np.array([[3.0, 4.0], [6.0, -8.0]]) * scale
    result = gradcli.grad("sum(norm(X, axis=1))", at={"X": X})
    close(result.value, 15.0 * scale, 1e-15, "norm rows")
    close(result.gradient["X"], np.array([[0.6, 0.8], [0.6, -0.8]]), 1e-15, "d norm rows")


def test_norm_gradient_at_zero_is_zero():
    result = gradcli.grad("norm(v)", at={"v": np.zeros(3)})
    assert result.value == 0.0
    np.testing.assert_array_equal(result.gradient["v"], np.zeros(3))
    assert not result.warnings
    X = np.array([[0.0, 0.0], [3.0, -4.0]])
    result = gradcli.grad("sum(norm(X, axis=-1, keepdims=true))", at={"X": X})
    assert result.value == 5.0
    np.testing.assert_array_equal(result.gradient["X"], np.array([[0.0, 0.0], [0.6, -0.8]]))


def _product_of_others(x: np.ndarray, axis: int) -> np.ndarray:
    """Along `axis`, every entry replaced by the product of the others (np.delete: no division)."""
    moved = np.moveaxis(x, axis, -1)
    out = np.empty_like(moved)
    for index in np.ndindex(moved.shape[:-1]):
        row = moved[index]
        out[index] = [np.prod(np.delete(row, k)) for k in range(row.size)]
    return np.moveaxis(out, -1, axis)


@pytest.mark.parametrize("v", [[2.0, 0.0, 3.0, 4.0], [2.0, 0.0, 3.0, 0.0], [0.0, 0.0, 0.0],
                               [-1.5, 2.0, 0.5, 4.0], [0.0]])
def test_prod_gradient_with_zero_entries(v):
    v = np.array(v)
    result = gradcli.grad("prod(v)", at={"v": v})
    assert result.value == np.prod(v)
    np.testing.assert_array_equal(result.gradient["v"], _product_of_others(v, 0))
    assert not result.warnings


def test_prod_gradient_with_zero_entries_along_axes():
    X = np.array([[2.0, 0.0, 1.5], [0.0, 0.0, 4.0], [3.0, 5.0, -2.0]])
    W = np.array([1.0, -2.0, 0.5])
    result = gradcli.grad("sum(W * prod(X, axis=0))", at={"X": X, "W": W})
    np.testing.assert_array_equal(result.gradient["X"], W * _product_of_others(X, 0))
    result = gradcli.grad("sum(W * prod(X, axis=-1))", at={"X": X, "W": W})
    np.testing.assert_array_equal(result.gradient["X"], W[:, None] * _product_of_others(X, 1))
    result = gradcli.grad("prod(X)", at={"X": X[::2]})
    flat = _product_of_others(X[::2].ravel(), 0).reshape(2, 3)
    np.testing.assert_array_equal(result.gradient["X"], flat)


@pytest.mark.parametrize("expression, x, expected", [
    ("max(v)", [1.0, 3.0, 3.0, 2.0], [0.0, 0.5, 0.5, 0.0]),
    ("min(v)", [2.0, -1.0, 5.0, -1.0, -1.0], [0.0, 1 / 3, 0.0, 1 / 3, 1 / 3]),
    ("max(v)", [4.0, 4.0, 4.0, 4.0], [0.25, 0.25, 0.25, 0.25]),
    ("max(v, keepdims=true)[0]", [1.0, 7.0, 7.0], [0.0, 0.5, 0.5]),
    ("reduce_min(v, axis=0)", [0.5, 0.5], [0.5, 0.5]),
])
def test_extremum_ties_share_the_gradient(expression, x, expected):
    result = gradcli.grad(expression, at={"v": np.array(x)})
    np.testing.assert_allclose(result.gradient["v"], expected, rtol=1e-15, atol=0)


def test_extremum_ties_along_axes():
    X = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, 2.0], [3.0, -1.0, 2.0]])
    W = np.array([2.0, -1.0, 3.0])
    result = gradcli.grad("sum(W * max(X, axis=0))", at={"X": X, "W": W})
    expected = np.array([[0.0, -0.5, 1.0], [1.0, -0.5, 1.0], [1.0, 0.0, 1.0]])
    np.testing.assert_allclose(result.gradient["X"], expected, rtol=1e-15, atol=0)
    result = gradcli.grad("sum(W * min(X, axis=-1, keepdims=true))", at={"X": X, "W": W[:, None]})
    expected = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 3.0, 0.0]])
    np.testing.assert_allclose(result.gradient["X"], expected, rtol=1e-15, atol=0)
    result = gradcli.grad("max(X)", at={"X": X})
    expected = np.zeros((3, 3))
    expected[0, 1] = expected[1, 1] = 0.5
    np.testing.assert_allclose(result.gradient["X"], expected, rtol=1e-15, atol=0)


def test_elementwise_max_min_tie_splits():
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([1.0, 5.0, 3.0])
    result = gradcli.grad("sum(max(a, b))", at={"a": a, "b": b})
    np.testing.assert_array_equal(result.gradient["a"], [0.5, 0.0, 0.5])
    np.testing.assert_array_equal(result.gradient["b"], [0.5, 1.0, 0.5])
    result = gradcli.grad("sum(min(a, b))", at={"a": a, "b": b})
    np.testing.assert_array_equal(result.gradient["a"], [0.5, 1.0, 0.5])
    np.testing.assert_array_equal(result.gradient["b"], [0.5, 0.0, 0.5])


# ---------------------------------------------------------------------------------------------
# 7. The high-precision forward of every operation on arrays against numpy's forward


def _key(*items):
    return tuple(items)


FORWARDS = {
    # name: (inputs, attrs)
    "sum_to": ((normal(2, 3, 4),), {"shape": (3, 1)}),
    "broadcast_to": ((normal(3, 1),), {"shape": (2, 3, 4)}),
    "reshape": ((normal(2, 6),), {"shape": (3, 2, 2)}),
    "transpose": ((normal(2, 3, 4),), {"axes": (2, 0, 1)}),
    "index": ((normal(3, 4, 5),), {"key": _key(1, (None, None, -2), (1, 4, None))}),
    "scatter": ((normal(2, 3),), {"key": _key((0, 4, 2), 1), "shape": (4, 2, 3)}),
    "concat": ((normal(2, 1), normal(2, 3), normal(2, 2)), {"axis": 1}),
    "sum": ((normal(2, 3, 4),), {"axis": (0, 2), "keepdims": True}),
    "max": ((normal(3, 4),), {"axis": (1,), "keepdims": False}),
    "min": ((normal(2, 3, 2),), {"axis": None, "keepdims": False}),
    "prod_except": ((away_from_zero(3, 4),), {"axis": 1}),
    "prod": ((away_from_zero(3, 4),), {"axis": (0,), "keepdims": True}),
    "cumsum": ((normal(3, 4),), {"axis": 0}),
    "logsumexp": ((normal(2, 3, 4),), {"axis": (1, 2), "keepdims": False}),
    "softmax": ((normal(3, 4),), {"axis": 0}),
    "norm": ((normal(2, 3, 4),), {"axis": (0, 2), "keepdims": True}),
    "matmul": ((normal(2, 2, 3), normal(3, 4)), {}),
}


@pytest.mark.parametrize("primitive", ARRAY_PRIMITIVES, ids=[p.name for p in ARRAY_PRIMITIVES])
def test_high_precision_forward(primitive):
    assert primitive.name in FORWARDS, (
        f"operation on arrays '{primitive.name}' has no case in FORWARDS (tests/test_tensors.py)")
    inputs, attrs = FORWARDS[primitive.name]
    expected = np.asarray(primitive.forward(*inputs, **attrs), dtype=np.float64)
    forward = highprecision.table()[primitive]
    with mpmath.workdps(DPS):
        got = to_float(forward(*(to_mp(x) for x in inputs), **attrs))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)


def test_high_precision_derivative_of_array_expression():
    """gradcli.highprecision.derivative on an array graph agrees with the reference here."""
    c = CASE_BY_LABEL["logsumexp-3d-axes02-keepdims"]
    f, point = weighted(c.label)
    expected = mp_partials(mp_total(c), point, "x")
    for entry in [(0, 0, 0), (1, 2, 1), (0, 1, 1)]:
        got = highprecision.derivative(f.output, point, "x", entry)
        assert abs(got - expected[entry]) <= 1e-14 * abs(expected[entry])


# ---------------------------------------------------------------------------------------------
# 8. Coverage of the primitive table by the reference cases


@functools.cache
def covered_ops() -> frozenset:
    """The ops of the graphs (gradients included) of every reference case of this file."""
    graphs = []
    for c in CASES:
        f, _ = weighted(c.label)
        f.backward()
        graphs.append(f.graph)
    for label, (expression, _, _) in MOVES.items():
        f = gradcli.parse(f"sum(W * ({expression}))",
                          shapes=shapes_of({**move_point(label),
                                            "W": np.empty(np.shape(MOVES[label][2](
                                                **move_point(label))))}))
        f.backward()
        graphs.append(f.graph)
    for shape_a, shape_b, product, _, _ in MATMUL.values():
        out = np.shape(product(np.zeros(shape_a), np.zeros(shape_b)))
        f = gradcli.parse("sum(W * (A @ B))", shapes={"A": shape_a, "B": shape_b, "W": out})
        f.backward()
        graphs.append(f.graph)
    for expression, point, _, name in SECOND.values():
        f = gradcli.parse(expression, shapes=shapes_of(point))
        variable, gradient = f.variable_node(name), f.gradient_node(name)
        backward(ops.index(gradient, key=(0,) * variable.ndim), [variable])
        graphs.append(f.graph)
    return frozenset(node.op for graph in graphs for node in graph.nodes)


@pytest.mark.parametrize("primitive", ARRAY_PRIMITIVES, ids=[p.name for p in ARRAY_PRIMITIVES])
def test_array_primitive_is_covered(primitive):
    assert primitive in covered_ops(), (
        f"operation on arrays '{primitive.name}' is in no reference case's graph nor in its "
        f"gradient's: add a case to tests/test_tensors.py that exercises it")


def test_every_array_primitive_is_listed():
    """The list the brief names: a new row on arrays shows up here (and in the tests above)."""
    names = {p.name for p in ARRAY_PRIMITIVES}
    assert names >= {"sum_to", "broadcast_to", "reshape", "transpose", "index", "scatter", "concat",
                     "sum", "max", "min", "prod_except", "prod", "cumsum", "logsumexp", "softmax",
                     "norm", "matmul"}


# ---------------------------------------------------------------------------------------------
# 9. Unconnected variables, per variable


def test_unconnected_array_variable_is_none():
    result = gradcli.grad("sum(a)", at={"a": [1.0, 2.0], "b": [3.0, 4.0]}, wrt=["a", "b"])
    np.testing.assert_array_equal(result.gradient["a"], [1.0, 1.0])
    assert result.gradient["b"] is None


def test_unconnected_array_variable_as_zeros_of_its_shape():
    at = {"a": [1.0, 2.0], "b": [[3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]}
    result = gradcli.grad("sum(a)", at=at, wrt=["a", "b"], unconnected="zero")
    np.testing.assert_array_equal(result.gradient["a"], [1.0, 1.0])
    assert np.shape(result.gradient["b"]) == (2, 3)
    np.testing.assert_array_equal(result.gradient["b"], np.zeros((2, 3)))


def test_variable_behind_a_comparison_is_unconnected():
    result = gradcli.grad("sum(where(b > 0, a, 0))", at={"a": [1.0, 2.0], "b": [1.0, -1.0]})
    np.testing.assert_array_equal(result.gradient["a"], [1.0, 0.0])
    assert result.gradient["b"] is None


# ---------------------------------------------------------------------------------------------
# 10. Shape errors


def test_matmul_shape_error_names_the_expression_and_shapes():
    with pytest.raises(ShapeError) as error:
        gradcli.parse("X @ w", shapes={"X": (16, 3), "w": (4, 20)})
    text = str(error.value)
    assert "X @ w" in text and "(16, 3)" in text and "(4, 20)" in text


@pytest.mark.parametrize("expression, shapes", [
    ("softmax(x)", {"x": ()}),
    ("log_softmax(x)", {"x": ()}),
    ("x[3]", {"x": (3,)}),
    ("x[0, -3]", {"x": (2, 2)}),
    ("x[0, 0, 0]", {"x": (2, 2)}),
    ("x[0]", {"x": ()}),
    ("reshape(x, [4, 2])", {"x": (2, 3)}),
    ("reshape(x, [4, -1])", {"x": (2, 3)}),
    ("concat(a, b)", {"a": (2, 3), "b": (2, 4)}),
    ("concat(a, b, axis=1)", {"a": (2, 3), "b": (3, 3)}),
    ("stack(a, b)", {"a": (2,), "b": (3,)}),
    ("sum(x, axis=2)", {"x": (2, 3)}),
    ("mean(x, axis=-3)", {"x": (2, 3)}),
    ("softmax(x, axis=1)", {"x": (3,)}),
    ("sum(x, axis=[0, 0])", {"x": (2, 3)}),
    ("prod(x, axis=[0, 1])", {"x": (2, 3, 4)}),
    ("a + b", {"a": (2, 3), "b": (4,)}),
    ("a @ b", {"a": (), "b": (3,)}),
    ("a @ b", {"a": (2, 2, 3), "b": (3, 3, 2)}),
    ("broadcast_to(x, [2, 2])", {"x": (3,)}),
    ("sum_to(x, [4])", {"x": (2, 3)}),
    ("transpose(x, [0, 0])", {"x": (2, 3)}),
    ("var(x, ddof=3)", {"x": (3,)}),
    ("cross_entropy(z, [0, 1, 2])", {"z": (2, 3)}),
    ("cross_entropy(z, [0, 3])", {"z": (2, 3)}),
    ("cross_entropy(z, y)", {"z": (2, 3), "y": (2,)}),
])
def test_shape_errors(expression, shapes):
    with pytest.raises(ShapeError):
        gradcli.parse(expression, shapes=shapes)


def test_gradient_of_an_array_output_is_a_shape_error():
    with pytest.raises(ShapeError):
        gradcli.grad("v * 2", at={"v": [1.0, 2.0]})
    f = gradcli.parse("softmax(v)", shapes={"v": (3,)})
    np.testing.assert_allclose(f(v=[0.0, 0.0, 0.0]), np.full(3, 1 / 3), rtol=1e-15)
    with pytest.raises(ShapeError):
        f.grad(v=[0.0, 0.0, 0.0])
