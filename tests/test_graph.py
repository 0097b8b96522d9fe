"""The graph: structural sharing, fan-out, and no recursion anywhere."""

import math

import numpy as np
import pytest
from support import shallow_stack

import gradcli
from gradcli.graph import ancestors


def ops_of(function):
    return [node.op.name for node in ancestors([function.output])]


def test_identical_subexpressions_are_one_node():
    f = gradcli.parse("sin(x)*sin(x)")
    assert ops_of(f).count("sin") == 1
    assert ops_of(gradcli.parse("x*y + y*x")).count("mul") == 1  # commutative sharing


def test_the_gradient_shares_nodes_with_the_expression():
    f = gradcli.parse("exp(x)*x")
    before = len(f.graph)
    f.derivative("x")
    exp_nodes = [n for n in f.graph.nodes if n.op.name == "exp"]
    assert len(exp_nodes) == 1 and len(f.graph) > before


@pytest.mark.parametrize("text, gradient", [
    ("x*x", lambda x, y: {"x": 2 * x}),
    ("x+x", lambda x, y: {"x": 2.0}),
    ("(x*y)*x", lambda x, y: {"x": 2 * x * y, "y": x * x}),
    ("x*y*x*y", lambda x, y: {"x": 2 * x * y * y, "y": 2 * x * x * y}),
    ("sin(x)*sin(x)", lambda x, y: {"x": 2 * math.sin(x) * math.cos(x)}),
    ("x/x", lambda x, y: {"x": 0.0}),
    ("x - x", lambda x, y: {"x": 0.0}),
])
@pytest.mark.parametrize("x, y", [(0.7, -1.3), (2.0, 5.0), (-3.5, 0.25)])
def test_fan_out_accumulates(text, gradient, x, y):
    f = gradcli.parse(text)
    result = f.grad({"x": x, "y": y}, wrt=[v for v in ("x", "y") if v in f.variables])
    expected = gradient(x, y)
    assert result.gradient == pytest.approx(expected, rel=1e-14, abs=1e-15)
    assert result.unconnected == []




def test_expression_nested_100000_deep():
    depth = 100_000
    text = "sin(" * depth + "x" + ")" * depth
    x = 0.5
    with shallow_stack():
        f = gradcli.parse(text)
        result = f.grad(x=x)
        printed = str(f)
    # independent reference: the same iteration in plain floats
    value, slope = x, 1.0
    for _ in range(depth):
        slope *= math.cos(value)
        value = math.sin(value)
    assert result.value == pytest.approx(value, rel=1e-12)
    assert result.gradient["x"] == pytest.approx(slope, rel=1e-9)
    assert printed == text


def test_sum_of_100000_terms():
    n = 100_000
    text = " + ".join(f"{k % 7 + 1}*x**{k % 3 + 1}" for k in range(n))
    x = 0.999
    with shallow_stack():
        result = gradcli.grad(text, at={"x": x})
    coefficients = np.array([k % 7 + 1 for k in range(n)], dtype=float)
    powers = np.array([k % 3 + 1 for k in range(n)], dtype=float)
    assert result.value == pytest.approx(float(np.sum(coefficients * x**powers)), rel=1e-12)
    assert result.gradient["x"] == pytest.approx(
        float(np.sum(coefficients * powers * x ** (powers - 1))), rel=1e-12)


def test_arrays_of_points_evaluate_elementwise():
    xs = np.linspace(-2, 2, 101)
    result = gradcli.grad("x**2*sin(x) + y", at={"x": xs, "y": 3.0}, batch=True)
    assert result.value.shape == xs.shape
    np.testing.assert_allclose(result.gradient["x"], 2 * xs * np.sin(xs) + xs**2 * np.cos(xs),
                               rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(result.gradient["y"], np.ones_like(xs))
    assert result.point["y"] == 3.0  # the point is reported as given


def test_a_constant_expression_has_an_empty_gradient():
    result = gradcli.grad("2*pi", at={})
    assert result.value == 2 * math.pi and result.gradient == {} and result.unconnected == []


def test_the_output_itself_as_variable():
    assert gradcli.grad("x", at={"x": 3}).gradient == {"x": 1.0}
