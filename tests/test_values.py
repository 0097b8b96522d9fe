"""The reference values of ../shared/reference/VALUES.md, kept in examples/seeds.json."""

import json
import math
from pathlib import Path

import pytest

import gradcli
from gradcli.points import read_point

ROOT = Path(__file__).resolve().parents[1]
SEEDS = json.loads((ROOT / "examples" / "seeds.json").read_text())["examples"]


@pytest.mark.parametrize("seed", SEEDS, ids=[s["name"] for s in SEEDS])
def test_value_and_gradient_are_the_reference_floats(seed):
    wrt = seed["wrt"].split(",") if "wrt" in seed else None
    result = gradcli.grad(seed["expression"], at=read_point(seed["at"]), wrt=wrt)
    assert result.value == seed["value"]
    assert result.gradient == seed["gradient"]


@pytest.mark.parametrize("seed", [s for s in SEEDS if "second_derivative" in s],
                         ids=lambda s: s["name"])
def test_second_derivatives(seed):
    f = gradcli.parse(seed["expression"])
    point = read_point(seed["at"])
    for pair, expected in seed["second_derivative"].items():
        a, b = pair.split(",")
        assert f.derivative(a).derivative(b)(point) == pytest.approx(expected, rel=1e-15, abs=0)


def test_the_unconnected_example_in_all_three_modes():
    at = {"x": 2, "y": 4, "z": 8}
    assert gradcli.grad("x + y", at=at, wrt=["z"]).gradient == {"z": None}
    assert gradcli.grad("x + y", at=at, wrt=["z"], unconnected="zero").gradient == {"z": 0.0}
    with pytest.raises(gradcli.GradcliError) as raised:
        gradcli.grad("x + y", at=at, wrt=["z"], unconnected="error")
    assert raised.value.exit_code == 1 and "'z'" in str(raised.value)


def test_the_json_lines_of_the_issue_are_reproduced_to_the_character():
    result = gradcli.grad("log(x1) + x1*x2 - sin(x2)", at={"x1": 2, "x2": 5})
    assert result.to_json() == (
        '{"expression": "log(x1) + x1*x2 - sin(x2)", "point": {"x1": 2.0, "x2": 5.0}, '
        '"value": 11.652071455223084, "gradient": {"x1": 5.5, "x2": 1.7163378145367738}, '
        '"unconnected": []}')


VALUES_MD = ROOT.parent / "shared" / "reference" / "VALUES.md"


@pytest.mark.skipif(not VALUES_MD.is_file(), reason="shared/reference is not beside this checkout")
def test_seeds_agree_with_the_reference_document():
    """examples/seeds.json carries the numbers of VALUES.md, digit for digit."""
    text = VALUES_MD.read_text()
    for seed in SEEDS:
        assert f"`{seed['expression']}`" in text
        for number in [seed["value"], *seed["gradient"].values()]:
            if number is not None and not float(number).is_integer():
                assert repr(number) in text, (seed["name"], number)
    assert "-5.147769546028503" in text and "-0.9589242746631385" in text


def test_reference_values_against_closed_forms():
    """Independent of VALUES.md: the derivatives written out by hand, in float64."""
    x = 2.0
    closed = 2 * x * math.sin(x) + x**2 * math.cos(x)
    assert gradcli.grad("x**2*sin(x)", at={"x": x}).gradient["x"] == pytest.approx(closed, rel=1e-15)
    x = 1.0
    u = x**3 * math.exp(x)
    closed = -math.sin(u) * (3 * x**2 * math.exp(x) + u)
    assert gradcli.grad("cos(x**3*exp(x))", at={"x": x}).gradient["x"] == pytest.approx(closed,
                                                                                      rel=1e-15)
