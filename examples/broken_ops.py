"""The ops of custom_ops.py with the small mistakes hand-written VJPs really have. Every one
FAILS `gradcli check examples/broken_ops.py` (exit 1); the comment on each says what is wrong.

examples/conftest.py keeps this file out of pytest's collection (collect_ignore).
"""

import numpy as np

from gradcli import custom_vjp


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@custom_vjp(shapes={"x": (5,)}, domain={"x": (-30, 30)})
def softplus(x):
    """log(1 + exp(x)), stable."""
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


@softplus.defvjp
def softplus_vjp(g, x):
    """Off by a constant 1e-6: sigmoid(x) + 1e-6 instead of sigmoid(x)."""
    return (g * (_sigmoid(x) + 1e-6),)


@custom_vjp(shapes={"x": (5,)}, domain={"x": (-30, 30)})
def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x)."""
    return -(np.maximum(-x, 0.0) + np.log1p(np.exp(-np.abs(x))))


@log_sigmoid.defvjp
def log_sigmoid_vjp(g, x):
    """A sign error: -sigmoid(-x) instead of sigmoid(-x)."""
    return (-g * _sigmoid(-x),)


@custom_vjp(domain={"x": (-2, 2), "eps": (0.01, 1)})
def smooth_abs(x, eps):
    """sqrt(x**2 + eps)."""
    return np.sqrt(x * x + eps)


@smooth_abs.defvjp
def smooth_abs_vjp(g, x, eps):
    """A missing factor of 2 in the second cotangent: g/s instead of g/(2s). The first, x's,
    is right: gradcli reports eps failing and x passing."""
    s = np.sqrt(x * x + eps)
    return (g * x / s, g / s)


@custom_vjp(shapes={"v": (5,)}, domain={"v": (-5, 5)})
def logsumexp(v):
    """log(sum(exp(v))), stable."""
    m = np.max(v)
    return m + np.log(np.sum(np.exp(v - m)))


@logsumexp.defvjp
def logsumexp_vjp(g, v):
    """The normalisation forgotten: exp(v - max(v)) is softmax(v) only after dividing by its
    sum; too large by the factor sum(exp(v - max(v))) >= 1."""
    return (g * np.exp(v - np.max(v)),)


@custom_vjp(shapes={"x": (2, 2), "w": (2, 2), "b": (2,)},
            domain={"x": (-1, 1), "w": (-1, 1), "b": (-1, 1)})
def affine(x, w, b):
    """x @ w + b with a square w, so that a transposition changes no shape."""
    return x @ w + b


@affine.defvjp
def affine_vjp(g, x, w, b):
    """Transposed: g @ w where g @ w.T is right. The shapes agree (w is square), the values do
    not. The cotangents of w and b are right."""
    return (g @ w, x.T @ g, g.sum(axis=0))
