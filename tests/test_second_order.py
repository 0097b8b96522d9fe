"""Hessians, Jacobians, JVPs and HVPs (gradcli.derivatives) and forward mode (gradcli.forward).

The references never ask gradcli for a derivative:

- VALUES.md's exact numbers (Baydin et al.'s Hessian, the second derivative of x**2*sin(x));
- mpmath at 50 digits: every corpus expression is written again here as an mpmath function (not
  parsed by gradcli), and its second partial derivatives are mpmath's own numerical derivatives
  (`mpmath.diff`);
- closed forms worked out by hand and written with numpy (softmax's Jacobian diag(s) - s sᵀ, the
  Hessian of a quadratic form, ...).

Between gradcli's own routes only agreement is asked: the Hessian (forward over reverse), the
derivative of the derivative (reverse over reverse) and HVPs along unit directions must give the
same matrix, and JVP/HVP products must equal J·v and H·v of the full matrices.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass

import mpmath
import numpy as np
import pytest

from gradcli.api import parse
from gradcli.derivatives import hessian, hvp, jacobian, jvp
from gradcli.errors import PointError, ShapeError
from gradcli.evaluation import evaluate
from gradcli.forward import partial, push, tangent_name, tangent_variable, tangents

DPS = 50  # digits of the mpmath references
RTOL = 1e-9  # a second derivative against mpmath
ROUTE_RTOL = 1e-12  # two of gradcli's routes (same rules, different roundings) against each other
BAYDIN = "log(x1) + x1*x2 - sin(x2)"

M = mpmath.mp


def close(got, expected, rtol: float, what: str = "") -> None:
    """Entrywise |got - expected| <= rtol*|expected| + rtol*1e-3*max|expected|: the absolute
    part forgives rounding in an entry that is (nearly) 0, not a wrong entry."""
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert got.shape == expected.shape, f"{what}: shape {got.shape}, expected {expected.shape}"
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-3 * rtol * scale + 1e-300,
                               err_msg=what)


def strict_loads(text: str):
    """json.loads that refuses NaN, Infinity and -Infinity (not JSON)."""

    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def mp_hessian(function: Callable, point: list[float]) -> np.ndarray:
    """Every ∂²f/∂xᵢ∂xⱼ of an mpmath function of numbers, by mpmath.diff at 50 digits."""
    n = len(point)
    out = np.zeros((n, n))
    with mpmath.workdps(DPS):
        at = [mpmath.mpf(v) for v in point]  # exact: every float64 is an mpf
        for i in range(n):
            for j in range(i, n):
                orders = [0] * n
                orders[i] += 1
                orders[j] += 1
                out[i, j] = out[j, i] = float(mpmath.diff(function, at, orders))
    return out


# ---------------------------------------------------------------------------------------------
# Reference values of VALUES.md


def test_baydin_hessian_is_the_reference():
    result = hessian(parse(BAYDIN), {"x1": 2, "x2": 5})
    assert result.kind == "hessian"
    assert result.variables == ["x1", "x2"]
    assert result.value == pytest.approx(11.652071455223084, rel=1e-15)
    expected = [[-0.25, 1.0], [1.0, -0.9589242746631385]]
    for row, want in zip(result.result, expected, strict=True):
        assert row == pytest.approx(want, rel=1e-15, abs=0)


def test_second_derivative_of_x_squared_sin_x_is_the_reference():
    result = hessian(parse("x**2*sin(x)"), {"x": 2})
    assert result.result == [[pytest.approx(-5.147769546028503, rel=1e-15, abs=0)]]
    assert result.value == pytest.approx(3.637189707302727, rel=1e-15)


# ---------------------------------------------------------------------------------------------
# A corpus of scalar functions against mpmath


@dataclass(frozen=True)
class Case:
    text: str
    names: tuple[str, ...]  # the variables in order of first appearance (gradcli's order)
    reference: Callable  # mpmath function of the variables, positionally in `names` order
    points: tuple[tuple[float, ...], ...]


POSITIVE = ((0.7, 1.3, 0.4), (1.9, 0.6, 1.1), (1.2, 2.1, 0.8))


def sigmoid(t):
    return 1 / (1 + M.exp(-t))


def case(text: str, names: str, reference: Callable, points=POSITIVE) -> Case:
    variables = tuple(names.split())
    return Case(text, variables, reference, tuple(p[: len(variables)] for p in points))


CORPUS = [
    case(BAYDIN, "x1 x2", lambda a, b: M.log(a) + a * b - M.sin(b)),
    case("x**2*sin(x)", "x", lambda x: x**2 * M.sin(x)),
    case("cos(x**3*exp(x))", "x", lambda x: M.cos(x**3 * M.exp(x))),
    case("exp(x*y)", "x y", lambda x, y: M.exp(x * y)),
    case("log(x + y*y)", "x y", lambda x, y: M.log(x + y * y)),
    case("sin(x)*cos(y)", "x y", lambda x, y: M.sin(x) * M.cos(y)),
    case("tan(x*y)", "x y", lambda x, y: M.tan(x * y)),
    case("tanh(x - 2*y)", "x y", lambda x, y: M.tanh(x - 2 * y)),
    case("sigmoid(x*y + z)", "x y z", lambda x, y, z: sigmoid(x * y + z)),
    case("sqrt(x*x + y*y + 1)", "x y", lambda x, y: M.sqrt(x * x + y * y + 1)),
    case("x**y", "x y", lambda x, y: M.power(x, y)),
    case("pow(x, y*z)", "x y z", lambda x, y, z: M.power(x, y * z)),
    case("y**(x*x)", "y x", lambda y, x: M.power(y, x * x)),
    case("atan2(y, x)", "y x", lambda y, x: M.atan2(y, x)),
    case("atan2(x*y, x + y)", "x y", lambda x, y: M.atan2(x * y, x + y)),
    case("x / (y + z*z)", "x y z", lambda x, y, z: x / (y + z * z)),
    case("x*x*y", "x y", lambda x, y: x * x * y),
    case("(x*y)*x", "x y", lambda x, y: x * y * x),
    case("x*x + x*y + y*y*y", "x y", lambda x, y: x * x + x * y + y**3),
    case("exp(sin(x))*log(y)", "x y", lambda x, y: M.exp(M.sin(x)) * M.log(y)),
    case("1/(1 + exp(-x*y))", "x y", lambda x, y: 1 / (1 + M.exp(-x * y))),
    case("x**3 - 3*x*y**2", "x y", lambda x, y: x**3 - 3 * x * y**2),
    case("sin(x*y*z)", "x y z", lambda x, y, z: M.sin(x * y * z)),
    case("log(sigmoid(x)) + tanh(y)**2", "x y", lambda x, y: M.log(sigmoid(x)) + M.tanh(y) ** 2),
    case("sqrt(x)*exp(-y)/z", "x y z", lambda x, y, z: M.sqrt(x) * M.exp(-y) / z),
    case("exp(x)*exp(x) + cos(x*y)*cos(x*y)", "x y",
         lambda x, y: M.exp(x) ** 2 + M.cos(x * y) ** 2),
    case("x/y - y/x + x*y/(x + y)", "x y", lambda x, y: x / y - y / x + x * y / (x + y)),
]

CORPUS_POINTS = [(c, p) for c in CORPUS for p in c.points]


def corpus_id(item) -> str:
    c, p = item
    return f"{c.text} at {','.join(map(str, p))}"


@pytest.mark.parametrize("item", CORPUS_POINTS, ids=[corpus_id(i) for i in CORPUS_POINTS])
def test_hessian_against_mpmath(item):
    c, point = item
    f = parse(c.text)
    assert f.variables == c.names  # the reference's argument order is gradcli's variable order
    at = dict(zip(c.names, point, strict=True))
    result = hessian(f, at)
    assert result.variables == list(c.names)
    close(result.result, mp_hessian(c.reference, list(point)), RTOL, f"{c.text} at {at}")
    with mpmath.workdps(DPS):
        value = float(c.reference(*map(mpmath.mpf, point)))
    assert result.value == pytest.approx(value, rel=1e-13)


@pytest.mark.parametrize("item", CORPUS_POINTS, ids=[corpus_id(i) for i in CORPUS_POINTS])
def test_hessian_is_symmetric(item):
    c, point = item
    h = np.array(hessian(parse(c.text), dict(zip(c.names, point, strict=True))).result)
    close(h, h.T, ROUTE_RTOL, c.text)


@pytest.mark.parametrize("c", CORPUS, ids=[c.text for c in CORPUS])
def test_three_routes_to_the_hessian_agree(c):
    """Forward over reverse (hessian), reverse over reverse (derivative of derivative), and
    hvp along each unit direction."""
    f = parse(c.text)
    at = dict(zip(c.names, c.points[0], strict=True))
    h = np.array(hessian(f, at).result)
    n = len(c.names)
    twice = np.zeros((n, n))
    along = np.zeros((n, n))
    for i, a in enumerate(c.names):
        first = f.derivative(a)
        assert first is not None
        for j, b in enumerate(c.names):
            second = first.derivative(b)
            twice[i, j] = 0.0 if second is None else second(at)  # None: does not depend on b
        column = hvp(f, at, {a: 1.0})
        assert column.kind == "hvp" and column.variables == list(c.names)
        along[:, i] = column.result
    close(twice, h, ROUTE_RTOL, f"reverse over reverse, {c.text}")
    close(along, h, ROUTE_RTOL, f"hvp along unit directions, {c.text}")


def test_hvp_is_hessian_times_direction():
    rng = np.random.default_rng(7)
    for c in CORPUS:
        f = parse(c.text)
        at = dict(zip(c.names, c.points[1], strict=True))
        h = np.array(hessian(f, at).result)
        v = rng.normal(size=len(c.names))
        result = hvp(f, at, dict(zip(c.names, v, strict=True)))
        close(result.result, h @ v, 1e-11, c.text)


def test_hvp_leaves_out_a_variable_as_zero():
    f = parse("x*x*y")
    at = {"x": 1.5, "y": 2.0}
    # H = [[2y, 2x], [2x, 0]] = [[4, 3], [3, 0]]
    assert hvp(f, at, {"y": 1.0}).result == [3.0, 0.0]
    assert hvp(f, at, {"x": 0.5, "y": -1.0}).result == [-1.0, 1.5]


# ---------------------------------------------------------------------------------------------
# Jacobians and JVPs


def test_jacobian_of_a_vector_of_expressions():
    x, y = 1.0, 2.0
    result = jacobian(parse("[x*y, sin(x), x + y]"), {"x": x, "y": y})
    assert result.kind == "jacobian" and result.variables == ["x", "y"]
    assert result.value == pytest.approx([x * y, math.sin(x), x + y])
    expected = [[y, x], [math.cos(x), 0.0], [1.0, 1.0]]
    for row, want in zip(result.result, expected, strict=True):
        assert row == pytest.approx(want, rel=1e-15, abs=0)


def test_jacobian_of_a_number_is_the_gradient_as_one_row():
    result = jacobian(parse(BAYDIN), {"x1": 2, "x2": 5})
    assert result.result == [[5.5, pytest.approx(1.7163378145367738, rel=1e-15)]]


RNG = np.random.default_rng(20240611)
W = RNG.normal(size=(2, 3))
X = RNG.normal(size=3)
V = np.array([0.3, -1.2, 0.8, 0.1])


def softmax(v):
    e = np.exp(v - np.max(v))
    return e / np.sum(e)


ARRAY_JACOBIANS = [
    # text, shapes, point, closed form of the Jacobian (columns: the variables' entries, row-major)
    ("W @ x", {"W": (2, 3), "x": (3,)}, {"W": W, "x": X},
     np.hstack([np.kron(np.eye(2), X[None, :]), W])),
    ("softmax(v)", {"v": (4,)}, {"v": V}, np.diag(softmax(V)) - np.outer(softmax(V), softmax(V))),
    ("v * sum(v)", {"v": (4,)}, {"v": V}, np.sum(V) * np.eye(4) + np.outer(V, np.ones(4))),
    ("exp(W) * 2", {"W": (2, 3)}, {"W": W}, np.diag(2 * np.exp(W).ravel())),
    ("transpose(W)", {"W": (2, 3)}, {"W": W},  # entry (i, j) of Wᵀ is W[j, i]
     np.array([[1.0 if a == 3 * (k % 2) + k // 2 else 0.0 for a in range(6)] for k in range(6)])),
]


@pytest.mark.parametrize("text, shapes, point, expected", ARRAY_JACOBIANS,
                         ids=[c[0] for c in ARRAY_JACOBIANS])
def test_jacobian_of_arrays_against_closed_forms(text, shapes, point, expected):
    result = jacobian(parse(text, shapes=shapes), point)
    close(result.result, expected, 1e-13, text)
    document = strict_loads(result.to_json())
    assert document["shapes"] == {name: list(shape) for name, shape in shapes.items()}


@pytest.mark.parametrize("text, shapes, point, expected", ARRAY_JACOBIANS,
                         ids=[c[0] for c in ARRAY_JACOBIANS])
def test_jvp_is_jacobian_times_direction(text, shapes, point, expected):
    f = parse(text, shapes=shapes)
    rng = np.random.default_rng(11)
    direction = {name: rng.normal(size=shape) for name, shape in shapes.items()}
    flat = np.concatenate([direction[name].ravel() for name in f.variables])
    result = jvp(f, point, direction)
    assert result.kind == "jvp"
    assert np.shape(result.result) == np.shape(result.value)  # of the output's shape
    close(np.ravel(result.result), expected @ flat, 1e-12, text)


def test_vector_valued_jvp():
    x, y = 1.0, 2.0
    result = jvp(parse("[x*y, sin(x), x + y]"), {"x": x, "y": y}, {"x": 0.5, "y": -1.0})
    assert isinstance(result.result, np.ndarray) and result.result.shape == (3,)
    close(result.result, [0.5 * y - x, 0.5 * math.cos(x), -0.5], 1e-15)


def test_jvp_of_a_number_is_the_directional_derivative():
    result = jvp(parse(BAYDIN), {"x1": 2, "x2": 5}, {"x1": 2.0, "x2": -1.0})
    assert result.result == pytest.approx(2 * 5.5 - 1.7163378145367738, rel=1e-15)
    assert result.to_plain() == repr(float(result.result))


def mp_gradient(function: Callable, point: list[float]) -> np.ndarray:
    with mpmath.workdps(DPS):
        at = [mpmath.mpf(v) for v in point]
        return np.array([float(mpmath.diff(function, at, [int(i == j) for j in range(len(at))]))
                         for i in range(len(at))])


def test_jvp_of_a_number_is_a_float():
    result = jvp(parse("x*y"), {"x": 1.0, "y": 2.0}, {"x": 1.0})
    assert isinstance(result.value, float)
    assert isinstance(result.result, float)


def test_jvp_of_scalar_corpus_is_the_directional_derivative():
    rng = np.random.default_rng(3)
    for c in CORPUS:
        point = list(c.points[2])
        v = rng.normal(size=len(c.names))
        got = jvp(parse(c.text), dict(zip(c.names, point, strict=True)),
                  dict(zip(c.names, v, strict=True))).result
        assert np.shape(got) == ()
        assert float(got) == pytest.approx(float(mp_gradient(c.reference, point) @ v), rel=1e-11,
                                    abs=1e-14), c.text


# ---------------------------------------------------------------------------------------------
# Unconnected variables and zero Hessians


def test_unconnected_variable_gives_none_rows_and_columns():
    at = {"x": 2, "y": 4, "z": 8}
    result = hessian(parse("x + y"), at, wrt=["x", "z"])
    assert result.result == [[0.0, None], [None, None]]
    zero = hessian(parse("x + y"), at, wrt=["x", "z"], unconnected="zero")
    assert zero.result == [[0.0, 0.0], [0.0, 0.0]]
    assert strict_loads(result.to_json())["hessian"] == [[0.0, None], [None, None]]
    assert result.to_plain() == "0.0 None\nNone None"


def test_unconnected_variable_in_a_jacobian():
    at = {"x": 2, "y": 4, "z": 8}
    assert jacobian(parse("x + y"), at, wrt=["x", "z"]).result == [[1.0, None]]
    assert jacobian(parse("x + y"), at, wrt=["x", "z"], unconnected="zero").result == [[1.0, 0.0]]
    assert jacobian(parse("[x, 2*y]"), at, wrt=["z", "y"]).result == [[None, 0.0], [None, 2.0]]


def test_unconnected_in_a_nonlinear_function():
    """z is in the point but not the expression: its row and column are None; the rest is the
    Hessian of x*y*y, [[0, 2y], [2y, 2x]]."""
    result = hessian(parse("x*y*y"), {"x": 3.0, "y": 0.5, "z": 1.0}, wrt=["x", "z", "y"])
    assert result.result == [[0.0, None, 1.0], [None, None, None], [1.0, None, 6.0]]


def test_hessian_with_respect_to_some_variables_in_another_order():
    f = parse("x*x*y")
    at = {"x": 1.5, "y": 2.0}  # H = [[2y, 2x], [2x, 0]] = [[4, 3], [3, 0]] in (x, y)
    assert hessian(f, at, wrt=["y", "x"]).result == [[0.0, 3.0], [3.0, 4.0]]
    assert hessian(parse("x*x + y"), at, wrt=["x"]).result == [[2.0]]


def test_hessian_with_respect_to_a_subset_of_the_variables():
    f = parse("x*x*y")
    at = {"x": 1.5, "y": 2.0}
    assert hessian(f, at, wrt=["x"]).result == [[4.0]]  # 2y
    assert hessian(f, at, wrt=["y"]).result == [[0.0]]


@pytest.mark.parametrize("text", ["x + y", "3*x - 2*y + 1", "x - y/4"])
def test_linear_function_has_a_zero_hessian_not_none(text):
    result = hessian(parse(text), {"x": 1.5, "y": -2.0})
    assert result.result == [[0.0, 0.0], [0.0, 0.0]]
    assert hvp(parse(text), {"x": 1.5, "y": -2.0}, {"x": 1.0, "y": 1.0}).result == [0.0, 0.0]


# ---------------------------------------------------------------------------------------------
# Hessians of functions of arrays


def mp_softmax_log(*v):
    e = [M.exp(t) for t in v]
    total = sum(e)
    return sum(ei / total * M.log(t) for ei, t in zip(e, v, strict=True))


def test_hessian_of_sum_softmax_times_log_against_mpmath():
    v = [0.2, 0.3, 0.5]
    f = parse("sum(softmax(v)*log(v))", shapes={"v": (3,)})
    result = hessian(f, {"v": v})
    assert result.variables == ["v"] and result.shapes == {"v": (3,)}
    close(result.result, mp_hessian(mp_softmax_log, v), RTOL, "sum(softmax(v)*log(v))")


def test_hessian_of_sum_of_cubes():
    v = np.array([1.0, -2.0, 0.5, 3.0])
    result = hessian(parse("sum(v**3)", shapes={"v": (4,)}), {"v": v})
    close(result.result, np.diag(6 * v), 1e-15)


def test_hessian_of_logsumexp():
    v = np.array([0.4, -1.0, 2.0])
    s = softmax(v)
    result = hessian(parse("logsumexp(v)", shapes={"v": (3,)}), {"v": v})
    close(result.result, np.diag(s) - np.outer(s, s), 1e-13)


def test_hessian_of_a_quadratic_form_in_row_major_order():
    """f = xᵀ M x: ∂²f/∂x∂x = M + Mᵀ, ∂²f/∂x_c∂M_ab = δ_ac x_b + x_a δ_bc, ∂²f/∂M∂M = 0."""
    x = np.array([1.5, -0.5])
    m = np.array([[1.0, 2.0], [-3.0, 4.0]])
    f = parse("x @ M @ x", shapes={"x": (2,), "M": (2, 2)})
    result = hessian(f, {"x": x, "M": m})
    expected = np.zeros((6, 6))
    expected[:2, :2] = m + m.T
    for c in range(2):
        for a in range(2):
            for b in range(2):
                expected[c, 2 + 2 * a + b] = expected[2 + 2 * a + b, c] = \
                    (a == c) * x[b] + x[a] * (b == c)
    close(result.result, expected, 1e-15)
    document = strict_loads(result.to_json())
    assert list(document) == ["expression", "point", "value", "variables", "shapes", "hessian"]
    assert document["shapes"] == {"x": [2], "M": [2, 2]}
    assert document["variables"] == ["x", "M"]


def test_hessian_mixing_a_number_and_an_array():
    """f = x * sum(v**2): ∂²/∂x² = 0, ∂²/∂x∂vᵢ = 2vᵢ, ∂²/∂vᵢ∂vⱼ = 2x δᵢⱼ."""
    x, v = 1.5, np.array([0.5, -1.0, 2.0])
    result = hessian(parse("x * sum(v**2)", shapes={"v": (3,)}), {"x": x, "v": v})
    expected = np.zeros((4, 4))
    expected[0, 1:] = expected[1:, 0] = 2 * v
    expected[1:, 1:] = 2 * x * np.eye(3)
    close(result.result, expected, 1e-15)
    document = strict_loads(result.to_json())
    assert document["shapes"] == {"x": [], "v": [3]}


def test_hvp_of_an_array_variable_has_its_shape():
    v = np.array([1.0, 2.0, 3.0])
    f = parse("sum(v**3)", shapes={"v": (3,)})
    direction = np.array([0.5, -1.0, 2.0])
    result = hvp(f, {"v": v}, {"v": direction})
    assert len(result.result) == 1
    close(result.result[0], 6 * v * direction, 1e-15)
    # a number as the direction of an array variable stands for that number at every entry
    close(hvp(f, {"v": v}, {"v": 1.0}).result[0], 6 * v, 1e-15)
    assert strict_loads(result.to_json())["hvp"] == [list(6 * v * direction)]


# ---------------------------------------------------------------------------------------------
# JSON and plain text


def test_json_key_order_and_values():
    result = hessian(parse(BAYDIN), {"x1": 2, "x2": 5})
    document = strict_loads(result.to_json())
    assert list(document) == ["expression", "point", "value", "variables", "hessian"]
    assert document == {"expression": BAYDIN, "point": {"x1": 2.0, "x2": 5.0},
                        "value": 11.652071455223084, "variables": ["x1", "x2"],
                        "hessian": [[-0.25, 1.0], [1.0, -0.9589242746631385]]}
    assert result.to_dict() == document


@pytest.mark.parametrize("kind", ["jacobian", "jvp", "hvp"])
def test_json_key_of_each_kind(kind):
    f = parse(BAYDIN)
    at = {"x1": 2, "x2": 5}
    result = {"jacobian": lambda: jacobian(f, at), "jvp": lambda: jvp(f, at, {"x1": 1.0}),
              "hvp": lambda: hvp(f, at, {"x1": 1.0})}[kind]()
    document = strict_loads(result.to_json())
    assert list(document) == ["expression", "point", "value", "variables", kind]


def test_nonfinite_entries_are_strings_in_strict_json():
    """sqrt at 0 has an infinite second derivative: the JSON stays strict, with a warning."""
    result = hessian(parse("sqrt(x)"), {"x": 0.0})
    assert math.isinf(result.result[0][0])
    document = strict_loads(result.to_json())
    assert document["hessian"] == [["-inf"]]
    assert any("hessian[0][0]" in w for w in document["warnings"])


def test_plain_rows():
    result = hessian(parse(BAYDIN), {"x1": 2, "x2": 5})
    assert result.to_plain() == "-0.25 1.0\n1.0 -0.9589242746631385"
    jac = jacobian(parse("[x*y, x + y]"), {"x": 1.0, "y": 2.0})
    assert jac.to_plain().splitlines() == ["2.0 1.0", "1.0 1.0"]
    hv = hvp(parse("x*x*y"), {"x": 1.5, "y": 2.0}, {"x": 0.5, "y": -1.0})
    assert hv.to_plain().splitlines() == ["-1.0", "1.5"]


# ---------------------------------------------------------------------------------------------
# Errors


def test_hessian_of_an_array_output_is_a_shape_error():
    with pytest.raises(ShapeError, match="second derivatives need a number"):
        hessian(parse("[x*y, x]"), {"x": 1.0, "y": 2.0})
    with pytest.raises(ShapeError):
        hessian(parse("softmax(v)", shapes={"v": (3,)}), {"v": [1.0, 2.0, 3.0]})
    with pytest.raises(ShapeError):
        hvp(parse("[x*y, x]"), {"x": 1.0, "y": 2.0}, {"x": 1.0})


@pytest.mark.parametrize("product", [jvp, hvp])
def test_direction_naming_an_unknown_variable_is_a_point_error(product):
    with pytest.raises(PointError, match="'z'"):
        product(parse("x*y"), {"x": 1.0, "y": 2.0}, {"z": 1.0})


@pytest.mark.parametrize("product", [jvp, hvp])
def test_direction_of_the_wrong_shape_is_a_point_error(product):
    with pytest.raises(PointError, match="shape"):
        product(parse("x*y"), {"x": 1.0, "y": 2.0}, {"x": [1.0, 2.0]})
    f = parse("sum(v**3)", shapes={"v": (3,)})
    with pytest.raises(PointError, match="shape"):
        product(f, {"v": [1.0, 2.0, 3.0]}, {"v": [1.0, 2.0]})


def test_wrt_naming_an_unknown_variable_is_a_point_error():
    with pytest.raises(PointError, match="'q'"):
        hessian(parse("x*y"), {"x": 1.0, "y": 2.0}, wrt=["q"])


# ---------------------------------------------------------------------------------------------
# gradcli.forward: tangents, push, partial


def test_partial_of_elementwise_operations():
    f = parse("sin(x)*y")
    product = f.output
    sine = product.inputs[0]
    at = {"x": 0.7, "y": -1.5}
    nodes = [partial(sine, 0), partial(product, 0), partial(product, 1)]
    values = evaluate(nodes, at)
    assert [float(values[n.index]) for n in nodes] == pytest.approx(
        [math.cos(0.7), -1.5, math.sin(0.7)], rel=1e-15)


def test_tangents_of_the_baydin_example_are_directional_derivatives():
    f = parse(BAYDIN)
    seeds = {f.variable_node(n).index: tangent_variable(f.variable_node(n)) for n in f.variables}
    found = tangents([f.output], seeds)
    tangent = found[f.output.index]
    for direction, expected in [((1.0, 0.0), 5.5), ((0.0, 1.0), 1.7163378145367738),
                                ((2.0, -3.0), 11 - 3 * 1.7163378145367738)]:
        point = {"x1": 2.0, "x2": 5.0, tangent_name("x1"): direction[0],
                 tangent_name("x2"): direction[1]}
        assert float(evaluate([tangent], point)[tangent.index]) == pytest.approx(expected,
                                                                                 rel=1e-15)


def test_tangents_only_of_nodes_a_seed_reaches():
    f = parse("sin(x) + cos(y)")
    x = f.variable_node("x")
    found = tangents([f.output], {x.index: tangent_variable(x)})
    cosine = f.output.inputs[1]
    assert cosine.index not in found and f.output.index in found
    value = evaluate([found[f.output.index]], {"x": 0.3, "y": 1.0, tangent_name("x"): 2.0})
    assert float(value[found[f.output.index].index]) == pytest.approx(2 * math.cos(0.3), rel=1e-15)


PUSHED = [c for c in ARRAY_JACOBIANS if c[0] in ("W @ x", "softmax(v)", "transpose(W)")] + [
    ("sum(W, axis=0)", {"W": (2, 3)}, {"W": W}, np.hstack([np.eye(3), np.eye(3)])),
    ("cumsum(v)", {"v": (4,)}, {"v": V}, np.tril(np.ones((4, 4)))),
]


@pytest.mark.parametrize("text, shapes, point, expected", PUSHED, ids=[c[0] for c in PUSHED])
def test_push_through_non_elementwise_operations(text, shapes, point, expected):
    """push (J·t, by transposing the VJP) through an operation applied to variables, argument
    by argument, against the column blocks of the closed-form Jacobian."""
    f = parse(text, shapes=shapes)
    node = f.output
    assert not node.op.elementwise
    rng = np.random.default_rng(5)
    offsets = {}
    start = 0
    for name in f.variables:
        size = int(np.prod(shapes[name]))
        offsets[name] = slice(start, start + size)
        start += size
    for k, argument in enumerate(node.inputs):
        assert argument is f.variable_node(argument.attrs[0])
        name = argument.attrs[0]
        t = rng.normal(size=argument.shape)
        term = push(node, k, tangent_variable(argument))
        assert term.shape == node.shape
        got = evaluate([term], {**point, tangent_name(name): t})[term.index]
        close(np.ravel(got), expected[:, offsets[name]] @ t.ravel(), 1e-12, f"{text}, {name}")
