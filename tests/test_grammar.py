"""The expression language: precedence, associativity, implicit multiplication, names."""

import math

import numpy as np
import pytest

import gradcli
from gradcli.errors import ParseError

# (text, variables, value): the value pins down how the text was grouped.
PRECEDENCE = [
    ("2**3**2", {}, 512.0),
    ("2^3^2", {}, 512.0),
    ("(2**3)**2", {}, 64.0),
    ("-x**2", {"x": 3}, -9.0),
    ("(-x)**2", {"x": 3}, 9.0),
    ("-2**2", {}, -4.0),
    ("x**-2", {"x": 2}, 0.25),
    ("2**-x**2", {"x": 1}, 0.5),
    ("1 - 2 - 3", {}, -4.0),
    ("2/4/2", {}, 0.25),
    ("2*3 + 4", {}, 10.0),
    ("2 + 3*4", {}, 14.0),
    ("2*3**2", {}, 18.0),
    ("-x*y", {"x": 2, "y": 3}, -6.0),
    ("--x", {"x": 2}, 2.0),
    ("+x", {"x": 2}, 2.0),
    ("2*-x", {"x": 2}, -4.0),
    ("x - -y", {"x": 1, "y": 2}, 3.0),
    ("x > 0", {"x": 1}, 1.0),
    ("x + 1 > 2*x", {"x": 3}, 0.0),
    ("x == 2", {"x": 2}, 1.0),
    ("x != 2", {"x": 2}, 0.0),
    ("x <= 2", {"x": 2}, 1.0),
    ("x >= 3", {"x": 2}, 0.0),
    ("x < 3", {"x": 2}, 1.0),
    ("where(x > 0, x, 0)", {"x": -2}, 0.0),
    # implicit multiplication
    ("2x", {"x": 3}, 6.0),
    ("2(x+1)", {"x": 3}, 8.0),
    ("(x+1)(x-1)", {"x": 3}, 8.0),
    ("2 sin(x)", {"x": 0.5}, 2 * math.sin(0.5)),
    ("2x**2", {"x": 3}, 18.0),
    ("-2x", {"x": 3}, -6.0),
    ("2x/3", {"x": 3}, 2.0),
    ("3x y", {"x": 2, "y": 5}, 30.0),
    ("2(x+1)(x-1)", {"x": 3}, 16.0),
    (".5x", {"x": 4}, 2.0),
    ("1e3x", {"x": 2}, 2000.0),
    ("2pi", {}, 2 * math.pi),
    ("2e", {}, 2 * math.e),
    # numbers, names, constants
    ("1e-3", {}, 1e-3),
    ("2.5", {}, 2.5),
    ("2.", {}, 2.0),
    ("θ**2", {"θ": 3}, 9.0),
    ("x_1 + x2", {"x_1": 1, "x2": 2}, 3.0),
    ("xy", {"xy": 7}, 7.0),
    ("sinx", {"sinx": 7}, 7.0),
    ("e", {}, math.e),
    ("-inf", {}, -math.inf),
    ("log(8, 2)", {}, 3.0),
    ("log(x, base=10)", {"x": 1000}, 3.0),
    ("ln(e)", {}, 1.0),
    ("elu(x, alpha=2)", {"x": -1}, 2 * math.expm1(-1)),
    ("leaky_relu(x)", {"x": -1}, -0.01),
    ("x\n + 1", {"x": 1}, 2.0),
]


@pytest.mark.parametrize("text, point, value", PRECEDENCE, ids=[p[0] for p in PRECEDENCE])
def test_precedence_table(text, point, value):
    assert gradcli.parse(text)(point) == pytest.approx(value, rel=1e-15)


@pytest.mark.parametrize("text", ["1/2x", "x**2y", "2 3", "x y", "a < b < c", "(x+1)2", "x 2"])
def test_ambiguous_or_incomplete_text_is_an_error(text):
    with pytest.raises(ParseError):
        gradcli.parse(text)


def test_variables_in_order_of_first_appearance():
    assert gradcli.parse("z*sin(a) + b*z + a").variables == ("z", "a", "b")


ROUND_TRIP = ["log(x1) + x1*x2 - sin(x2)", "-(x - y)**-2", "(x - y) - (y - x)", "x/(y/z)",
              "(x**y)**z", "x**y**z", "-x**2 + (-x)**3", "where(x > y, x, y)*(x == y)",
              "atan2(y, x)/hypot(x, y)", "2x*(y+1)", "2(x+1)(y-1)", "x - (y + z)", "(x > y) + (y > x)",
              "elu(x, 0.5) + leaky_relu(-y)"]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_printed_form_parses_back_to_the_same_function(text):
    f = gradcli.parse(text)
    g = gradcli.parse(str(f))
    assert str(g) == str(f)
    rng = np.random.default_rng(0)
    for _ in range(5):
        point = {v: rng.uniform(0.5, 2.0) for v in f.variables}
        assert g(point) == f(point)
    for v in f.variables:  # the derivative prints and parses back too
        d = f.derivative(v)
        if d is None:  # unconnected: nothing to print
            continue
        assert gradcli.parse(str(d))(point) == pytest.approx(d(point), rel=1e-14)
