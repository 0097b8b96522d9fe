"""Conventions at kinks and the three states of a gradient: value, connected zero, unconnected."""

import math

import pytest

import gradcli


def d(text, at, wrt="x"):
    return gradcli.grad(text, at=at, wrt=[wrt]).gradient[wrt]


@pytest.mark.parametrize("text, at, expected", [
    ("relu(x)", 0.0, 0.0),
    ("relu(x)", 1e-300, 1.0),
    ("relu(x)", -1e-300, 0.0),
    ("abs(x)", 0.0, 0.0),
    ("abs(x)", -2.0, -1.0),
    ("leaky_relu(x)", 0.0, 0.01),
    ("leaky_relu(x, slope=0.2)", 0.0, 0.2),
    ("elu(x)", 0.0, 1.0),
    ("elu(x, alpha=0.5)", 0.0, 0.5),
    ("elu(x, alpha=0.5)", 1e-300, 1.0),
    ("clip(x, -1, 1)", -1.0, 1.0),
    ("clip(x, -1, 1)", 1.0, 1.0),
    ("clip(x, -1, 1)", 1.5, 0.0),
    ("clip(x, -1, 1)", -1.5, 0.0),
])
def test_kinks(text, at, expected):
    assert d(text, {"x": at}) == expected


@pytest.mark.parametrize("name", ["max", "maximum", "min", "minimum"])
def test_ties_split_the_gradient(name):
    result = gradcli.grad(f"{name}(x, y)", at={"x": 2.0, "y": 2.0})
    assert result.gradient == {"x": 0.5, "y": 0.5}
    result = gradcli.grad(f"{name}(x, x)", at={"x": 2.0})
    assert result.gradient == {"x": 1.0}


def test_clip_gives_the_bounds_their_gradient_outside():
    assert gradcli.grad("clip(x, lo, hi)", at={"x": 5, "lo": 0, "hi": 1}).gradient == \
        {"x": 0.0, "lo": 0.0, "hi": 1.0}
    assert gradcli.grad("clip(x, lo, hi)", at={"x": 0, "lo": 0, "hi": 1}).gradient == \
        {"x": 1.0, "lo": 0.0, "hi": 0.0}


@pytest.mark.parametrize("text", ["sqrt(x)", "cbrt(x)"])
def test_infinite_slope_at_zero_is_inf_with_a_warning(text):
    result = gradcli.grad(text, at={"x": 0.0})
    assert result.gradient["x"] == math.inf
    assert result.warnings and "gradient" in result.warnings[0]


@pytest.mark.parametrize("text", ["sign(x)", "floor(x)", "ceil(x)", "round(x)", "x > 0",
                                  "x == 1", "where(x > 0, 1, 2)", "polygamma(x, 2)",
                                  "sign(x)*y + floor(x)"])
def test_ops_without_gradient_leave_the_variable_unconnected(text):
    result = gradcli.grad(text, at={"x": 0.3, "y": 2.0}, wrt=["x"])
    assert result.gradient == {"x": None} and result.unconnected == ["x"]


def test_connected_zero_is_not_unconnected():
    for text in ["x**2", "x*0", "0*x", "x - x", "relu(x)", "x**0"]:
        result = gradcli.grad(text, at={"x": 0.0})
        assert result.gradient == {"x": 0.0}, text
        assert result.unconnected == [], text


def test_unconnected_in_every_mode():
    at = {"x": 1.0, "y": 2.0}
    assert gradcli.grad("x*2", at=at, wrt=["x", "y"]).gradient == {"x": 2.0, "y": None}
    zero = gradcli.grad("x*2", at=at, wrt=["x", "y"], unconnected="zero")
    assert zero.gradient == {"x": 2.0, "y": 0.0} and zero.unconnected == ["y"]
    with pytest.raises(gradcli.GradcliError, match="'y'"):
        gradcli.grad("x*2", at=at, wrt=["x", "y"], unconnected="error")


def test_a_name_that_is_not_in_the_expression_is_unconnected():
    result = gradcli.grad("x", at={"x": 1.0}, wrt=["nowhere", "x"])
    assert result.gradient == {"nowhere": None, "x": 1.0}
    assert list(result.gradient) == ["nowhere", "x"]  # --wrt order


def test_second_derivative_through_a_comparison_is_unconnected():
    assert gradcli.parse("relu(x)").derivative("x").derivative("x") is None
    assert gradcli.parse("abs(x)").derivative("x").derivative("x") is None


def test_second_derivatives_stay_finite_where_the_branch_is_not_taken():
    f = gradcli.parse("elu(x)")
    assert f.derivative("x").derivative("x")(x=800.0) == 0.0
    g = gradcli.parse("x**y")
    assert g.derivative("y")(x=0.0, y=2.0) == 0.0
    assert g.derivative("y").derivative("x")(x=0.0, y=2.0) == 0.0


def test_domain_errors_are_nan_with_a_warning_naming_the_subexpression():
    result = gradcli.grad("log(x - 3) + x", at={"x": 1.0})
    assert math.isnan(result.value)
    assert result.warnings[0] == "log(x - 3) is nan: log(-2) = nan"
    result = gradcli.grad("1/x", at={"x": 0.0})
    assert result.value == math.inf and "1/x is inf: 1/0 = inf" in result.warnings


def test_no_warning_for_a_nan_in_a_branch_not_taken():
    result = gradcli.grad("where(x > 0, log(x), 0)", at={"x": -1.0})
    assert result.value == 0.0 and result.warnings == []


def test_a_wrt_name_that_stands_nowhere_is_unconnected_with_a_warning():
    result = gradcli.grad("x*y", at={"x": 1, "y": 2}, wrt=["xx", "y"])
    assert result.gradient == {"xx": None, "y": 1.0}
    assert result.warnings == ["'xx' is not a variable of the expression (its gradient is "
                               "unconnected); did you mean 'x'?"]
    # given in the point (TensorFlow's example): unconnected, and no warning
    assert gradcli.grad("x + y", at={"x": 2, "y": 4, "z": 8}, wrt=["z"]).warnings == []
