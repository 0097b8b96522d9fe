"""NumPy functions with hand-written VJPs, declared with gradcli's `custom_vjp`.

    gradcli check examples/custom_ops.py          every @custom_vjp below, at 10 sampled points

Each function is checked against its own VJP: the cotangent the VJP returns for each input is
compared, entry by entry, with the numerical derivative of the function (Ridders' method). The
output may be an array: then every output entry is checked through the VJP with a one-hot
cotangent. `shapes` gives each argument's shape when checked (a number otherwise) and `domain`
where to sample it (-2:2 otherwise).

A VJP takes the output's cotangent `g` first, then the inputs, and returns a tuple with one
cotangent per input, each of its input's shape. examples/broken_ops.py has subtly wrong versions
of these, which all fail; examples/rules.grad has the same rules written as a .grad file.
"""

import numpy as np

from gradcli import custom_vjp


def _sigmoid(x):
    """1/(1 + exp(-x)) without overflow: exp of a non-positive number only."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@custom_vjp(shapes={"x": (5,)}, domain={"x": (-30, 30)})
def softplus(x):
    """log(1 + exp(x)), elementwise, stable: max(x, 0) + log1p(exp(-|x|))."""
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


@softplus.defvjp
def softplus_vjp(g, x):
    """d softplus / dx = sigmoid(x), times the cotangent."""
    return (g * _sigmoid(x),)


@custom_vjp(shapes={"x": (5,)}, domain={"x": (-30, 30)})
def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x), finite where sigmoid(x) underflows."""
    return -(np.maximum(-x, 0.0) + np.log1p(np.exp(-np.abs(x))))


@log_sigmoid.defvjp
def log_sigmoid_vjp(g, x):
    """d log_sigmoid / dx = sigmoid(-x) = 1 - sigmoid(x)."""
    return (g * _sigmoid(-x),)


@custom_vjp(domain={"x": (-2, 2), "eps": (0.01, 1)})
def smooth_abs(x, eps):
    """sqrt(x**2 + eps): |x| smoothed at 0; two scalar inputs."""
    return np.sqrt(x * x + eps)


@smooth_abs.defvjp
def smooth_abs_vjp(g, x, eps):
    """One cotangent per input: d/dx = x/s, d/deps = 1/(2s), with s = smooth_abs(x, eps)."""
    s = np.sqrt(x * x + eps)
    return (g * x / s, g / (2.0 * s))


@custom_vjp(shapes={"v": (5,)}, domain={"v": (-5, 5)})
def logsumexp(v):
    """log(sum(exp(v))) of a vector, stable: the largest entry is subtracted first."""
    m = np.max(v)
    return m + np.log(np.sum(np.exp(v - m)))


@logsumexp.defvjp
def logsumexp_vjp(g, v):
    """The gradient is softmax(v) (computed stably too), scaled by the scalar cotangent g."""
    e = np.exp(v - np.max(v))
    return (g * e / np.sum(e),)


@custom_vjp(shapes={"x": (2, 3), "w": (3, 2), "b": (2,)},
            domain={"x": (-1, 1), "w": (-1, 1), "b": (-1, 1)})
def affine(x, w, b):
    """x @ w + b: a batch of 2 rows of 3 features to 2 outputs. Kept small: every output entry
    is checked against every input entry."""
    return x @ w + b


@affine.defvjp
def affine_vjp(g, x, w, b):
    """g has the output's shape (2, 2); the bias was broadcast over the rows, so its cotangent
    sums g over them."""
    return (g @ w.T, x.T @ g, g.sum(axis=0))
