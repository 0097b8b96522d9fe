"""Evaluation traces (gradcli.trace) against Baydin et al.'s tables 2 and 3 and closed forms.

The numbering of the operations may follow any evaluation order of the graph, so steps are found
by what they mean (their operation and definition in terms of other nodes), never by position.
The numbers are VALUES.md's, or derivatives worked out by hand.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from gradcli.api import parse
from gradcli.errors import GradcliError, PointError, ShapeError
from gradcli.forward import TANGENT
from gradcli.trace import AdjointStep, PrimalStep, trace

BAYDIN = "log(x1) + x1*x2 - sin(x2)"
AT = {"x1": 2.0, "x2": 5.0}
GRADIENT = {"x1": 5.5, "x2": 1.7163378145367738}  # VALUES.md
BAR, DOT = "\u0304", "\u0307"
NODE = re.compile(r"v[₋₀₁₂₃₄₅₆₇₈₉]+")  # a node name (not an adjoint v̄ or a tangent v̇)


def bar(name: str) -> str:
    return "v" + BAR + name[1:]


def dot(name: str) -> str:
    return "v" + DOT + name[1:]


def by_definition(steps: list[PrimalStep]) -> dict[str, PrimalStep]:
    return {step.definition: step for step in steps}


def baydin_nodes(primal: list[PrimalStep]) -> dict[str, str]:
    """The names of Baydin's nodes in this trace, found by their definitions: x1, x2, the log,
    the product, the sine, the sum and the difference."""
    inputs = {step.definition: step.node for step in primal if step.op == "input"}
    x1, x2 = inputs["x1"], inputs["x2"]
    defined = by_definition(primal)
    log = defined[f"log({x1})"].node
    mul = (defined.get(f"{x1}*{x2}") or defined[f"{x2}*{x1}"]).node
    sin = defined[f"sin({x2})"].node
    add = (defined.get(f"{log} + {mul}") or defined[f"{mul} + {log}"]).node
    sub = defined[f"{add} - {sin}"].node
    return {"x1": x1, "x2": x2, "log": log, "mul": mul, "sin": sin, "add": add, "sub": sub}


# ---------------------------------------------------------------------------------------------
# Baydin et al., table 3: the primal and adjoint traces


def test_baydin_primal_trace():
    t = trace(parse(BAYDIN), AT)
    assert t.mode == "reverse"
    assert t.parsed == "(log(x1) + (x1*x2)) - sin(x2)"
    assert len(t.primal) == 7
    names = baydin_nodes(t.primal)
    # the inputs are v₁₋ₙ … v₀ in the order the variables appear; operations v₁, v₂, …
    assert (names["x1"], names["x2"]) == ("v₋₁", "v₀")
    assert [step.index for step in t.primal] == [-1, 0, 1, 2, 3, 4, 5]
    assert [step.node for step in t.primal] == ["v₋₁", "v₀", "v₁", "v₂", "v₃", "v₄", "v₅"]
    assert t.primal[-1].node == names["sub"]  # the output is the last operation
    value = {step.node: step.value for step in t.primal}
    op = {step.node: step.op for step in t.primal}
    expected = {"x1": 2.0, "x2": 5.0, "log": math.log(2), "mul": 10.0, "sin": math.sin(5),
                "add": math.log(2) + 10, "sub": 11.652071455223084}
    for meaning, number in expected.items():
        assert value[names[meaning]] == pytest.approx(number, rel=1e-15), meaning
    # the three digits of table 3
    for meaning, shown in [("log", 0.693), ("sin", -0.959), ("add", 10.693), ("sub", 11.652)]:
        assert round(value[names[meaning]], 3) == shown
    assert [op[names[m]] for m in ("x1", "x2", "log", "mul", "sin", "add", "sub")] == \
        ["input", "input", "log", "mul", "sin", "add", "sub"]
    # every operation is defined in terms of earlier nodes only
    order = {step.node: k for k, step in enumerate(t.primal)}
    for k, step in enumerate(t.primal):
        assert all(order[n] < k for n in NODE.findall(step.definition) if step.op != "input")


def adjoint_steps(t) -> dict[tuple[str, str], AdjointStep]:
    return {(step.node, step.source): step for step in t.adjoint}


def test_baydin_adjoint_trace():
    t = trace(parse(BAYDIN), AT)
    n = baydin_nodes(t.primal)
    x1, x2 = n["x1"], n["x2"]
    assert len(t.adjoint) == 8
    steps = adjoint_steps(t)
    assert len(steps) == 8
    cos5 = math.cos(5.0)
    # (target, source): partial formula, partial, contribution
    expected = {
        ("add", "sub"): ("1", 1.0, 1.0),
        ("sin", "sub"): ("-1", -1.0, -1.0),
        ("log", "add"): ("1", 1.0, 1.0),
        ("mul", "add"): ("1", 1.0, 1.0),
        ("x2", "sin"): (f"cos({x2})", cos5, -cos5),
        ("x1", "mul"): (x2, 5.0, 5.0),
        ("x2", "mul"): (x1, 2.0, 2.0),
        ("x1", "log"): (f"1/{x1}", 0.5, 0.5),
    }
    for (target, source), (formula, partial, contribution) in expected.items():
        step = steps[(n[target], n[source])]
        assert step.partial_formula == formula, (target, source)
        assert step.partial == pytest.approx(partial, rel=1e-15), (target, source)
        assert step.contribution == pytest.approx(contribution, rel=1e-15), (target, source)
        assert step.adjoint == bar(n[target])
        assert step.op == {"sub": "sub", "add": "add", "sin": "sin", "mul": "mul",
                           "log": "log"}[source]
    # the steps run from the output down: a node's adjoint is complete before it passes it on
    for k, step in enumerate(t.adjoint):
        assert not any(later.node == step.source for later in t.adjoint[k + 1:])
    # the two += of the fan-out, and nothing else accumulates
    accumulated = [step for step in t.adjoint if step.accumulated]
    assert sorted(step.node for step in accumulated) == sorted([x1, x2])
    for name, variable in [(x1, "x1"), (x2, "x2")]:
        into = [step for step in t.adjoint if step.node == name]
        assert [step.accumulated for step in into] == [False, True]
        assert into[0].running == into[0].contribution
        assert into[1].running == pytest.approx(into[0].running + into[1].contribution, rel=1e-15)
        assert into[1].running == pytest.approx(GRADIENT[variable], rel=1e-15, abs=0)
        assert " += " in into[1].definition and " += " not in into[0].definition
        assert into[1].definition == (f"{bar(name)} += {bar(into[1].source)} · "
                                      f"∂{into[1].source}/∂{name}")
    # the values of table 3 (its three digits)
    assert round(steps[(x2, n["sin"])].running, 3) == -0.284
    assert steps[(x1, n["mul"])].running == 5.0
    # the node's value is the primal value
    primal = {step.node: step.value for step in t.primal}
    for step in t.adjoint:
        assert float(step.value) == primal[step.node]
    assert t.unconnected == []


# ---------------------------------------------------------------------------------------------
# Baydin et al., table 2: forward mode


def test_baydin_tangent_trace_with_unit_directions():
    t = trace(parse(BAYDIN), AT, mode="forward")
    assert t.mode == "forward" and t.adjoint == []
    assert [dict(d) for d in t.directions] == [{"x1": 1.0}, {"x2": 1.0}]
    n = baydin_nodes(t.primal)
    assert len(t.tangent) == 7
    tangent = {step.node: step for step in t.tangent}
    # table 2 along x1 (ẋ1 = 1, ẋ2 = 0) and its twin along x2, derived by hand
    cos5 = math.cos(5.0)
    expected = {"x1": (1, 0), "x2": (0, 1), "log": (0.5, 0), "mul": (5, 2), "sin": (0, cos5),
                "add": (5.5, 2), "sub": (5.5, 2 - cos5)}
    for meaning, numbers in expected.items():
        step = tangent[n[meaning]]
        assert step.tangent == dot(n[meaning])
        assert step.tangents == pytest.approx(list(numbers), rel=1e-15, abs=0), meaning
    final = tangent[n["sub"]].tangents
    assert final == [GRADIENT["x1"], pytest.approx(GRADIENT["x2"], rel=1e-15, abs=0)]


def test_tangent_formulas_are_in_the_tangents_of_the_arguments():
    t = trace(parse(BAYDIN), AT, mode="forward")
    n = baydin_nodes(t.primal)
    for step in t.tangent:
        if step.op == "input":
            continue
        arguments = set(NODE.findall(step.definition))
        mentioned = set(re.findall(r"v\u0307[₋₀₁₂₃₄₅₆₇₈₉]+", step.tangent_formula))
        assert mentioned == {dot(a) for a in arguments}, (step.node, step.tangent_formula)
    formula = {step.node: step.tangent_formula for step in t.tangent}
    assert formula[n["add"]] in (f"{dot(n['log'])} + {dot(n['mul'])}",
                                 f"{dot(n['mul'])} + {dot(n['log'])}")
    assert formula[n["sub"]] == f"{dot(n['add'])} - {dot(n['sin'])}"
    assert "cos" in formula[n["sin"]]


def test_tangent_formulas_of_inputs_name_no_internal_variable():
    """An input's tangent is its direction, written after the variable (ẋ1 for x1), never the
    name of the internal variable that carries it."""
    t = trace(parse(BAYDIN), AT, mode="forward")
    for step in t.tangent:
        assert "\x00" not in step.tangent_formula and TANGENT not in step.tangent_formula, step
        if step.op == "input":
            assert DOT in step.tangent_formula
            assert step.tangent_formula.replace(DOT, "") == step.definition
    text = json.dumps(t.to_dict([]), ensure_ascii=False)
    assert "\x00" not in text and "\\u0000" not in text


def test_custom_directions():
    a, b = 2.0, -1.0
    t = trace(parse(BAYDIN), AT, mode="forward",
              directions=[{"x1": a, "x2": b}, {"x2": 1.0}, {"x1": 0.0}])
    assert [dict(d) for d in t.directions] == [{"x1": a, "x2": b}, {"x2": 1.0}, {"x1": 0.0}]
    final = t.tangent[-1]
    assert final.node == t.primal[-1].node
    assert final.tangents == pytest.approx(
        [a * GRADIENT["x1"] + b * GRADIENT["x2"], GRADIENT["x2"], 0.0], rel=1e-15, abs=0)
    n = baydin_nodes(t.primal)
    log = next(step for step in t.tangent if step.node == n["log"])
    assert log.tangents == pytest.approx([a / 2.0, 0.0, 0.0], rel=1e-15, abs=0)


def test_direction_naming_an_unknown_variable_is_a_point_error():
    with pytest.raises(PointError):
        trace(parse("x*y"), {"x": 2.0, "y": 5.0}, mode="forward", directions=[{"q": 2.0}])


def test_direction_of_the_wrong_shape_is_a_point_error():
    with pytest.raises(PointError):
        trace(parse("x*y"), {"x": 2.0, "y": 5.0}, mode="forward", directions=[{"x": [1.0, 2.0]}])


def test_unknown_mode_is_refused():
    with pytest.raises(GradcliError):
        trace(parse("x*y"), {"x": 2.0, "y": 5.0}, mode="sideways")


# ---------------------------------------------------------------------------------------------
# The chain rule, step by step


def check_chain_rule(t, seed: float = 1.0) -> dict[str, float]:
    """Every contribution is the source's (complete) adjoint times the partial; every running
    adjoint is the sum of the contributions so far. Returns the final adjoint of every node."""
    adjoint = {t.primal[-1].node: seed}
    for step in t.adjoint:
        assert step.source in adjoint, f"{step.source} passes on an adjoint it has not got"
        assert step.partial is not None  # all elementwise here
        assert step.contribution == pytest.approx(adjoint[step.source] * step.partial, rel=1e-14)
        before = adjoint.get(step.node)
        assert step.accumulated == (before is not None)
        expected = step.contribution if before is None else before + step.contribution
        assert step.running == pytest.approx(expected, rel=1e-14)
        adjoint[step.node] = step.running
    return adjoint


@pytest.mark.parametrize("text, x, value, gradient", [
    ("x**2*sin(x)", 2.0, 3.637189707302727, 1.9726023611141572),
    ("cos(x**3*exp(x))", 1.0, -0.9117339147869651, -4.466477269780053),
])
def test_reference_traces(text, x, value, gradient):
    t = trace(parse(text), {"x": x})
    assert t.primal[-1].value == pytest.approx(value, rel=1e-15)
    final = check_chain_rule(t)
    into_x = [step for step in t.adjoint if step.node == "v₀"]
    assert into_x[-1].running == pytest.approx(gradient, rel=1e-15, abs=0)
    assert final["v₀"] == into_x[-1].running
    forward = trace(parse(text), {"x": x}, mode="forward")
    assert forward.tangent[-1].tangents == [pytest.approx(gradient, rel=1e-15, abs=0)]


def test_partials_of_x_squared_sin_x():
    """d(x**2)/dx = 2x, d(sin x)/dx = cos x, and the product's partials are the other factor."""
    t = trace(parse("x**2*sin(x)"), {"x": 2.0})
    defined = by_definition(t.primal)
    square, sine = defined["v₀**2"].node, defined["sin(v₀)"].node
    steps = adjoint_steps(t)
    assert steps[("v₀", square)].partial == pytest.approx(4.0, rel=1e-15)
    assert steps[("v₀", sine)].partial == pytest.approx(math.cos(2.0), rel=1e-15)
    assert steps[("v₀", sine)].partial_formula == "cos(v₀)"
    product = t.primal[-1].node
    assert steps[(square, product)].partial == pytest.approx(math.sin(2.0), rel=1e-15)
    assert steps[(sine, product)].partial == pytest.approx(4.0, rel=1e-15)


# ---------------------------------------------------------------------------------------------
# Fan-out


def test_fan_out_x_times_x():
    t = trace(parse("x*x"), {"x": 3.0})
    assert [(s.node, s.source, s.accumulated) for s in t.adjoint] == \
        [("v₀", "v₁", False), ("v₀", "v₁", True)]
    assert [s.contribution for s in t.adjoint] == [3.0, 3.0]
    assert t.adjoint[-1].running == 6.0  # 2x
    assert t.adjoint[-1].definition == f"{bar('v₀')} += {bar('v₁')} · ∂v₁/∂v₀"
    check_chain_rule(t)


def test_fan_out_x_plus_x():
    t = trace(parse("x+x"), {"x": 3.0})
    assert [s.accumulated for s in t.adjoint] == [False, True]
    assert [s.partial_formula for s in t.adjoint] == ["1", "1"]
    assert [s.running for s in t.adjoint] == [1.0, 2.0]


def test_fan_out_x_times_y_times_x():
    x, y = 3.0, 2.0
    t = trace(parse("(x*y)*x"), {"x": x, "y": y})
    final = check_chain_rule(t)
    assert final["v₋₁"] == 2 * x * y and final["v₀"] == x * x
    into_x = [s for s in t.adjoint if s.node == "v₋₁"]
    into_y = [s for s in t.adjoint if s.node == "v₀"]
    assert [s.accumulated for s in into_x] == [False, True]
    assert [s.accumulated for s in into_y] == [False]
    assert sum(s.accumulated for s in t.adjoint) == 1


# ---------------------------------------------------------------------------------------------
# Unconnected inputs


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_name_the_expression_does_not_use(mode):
    t = trace(parse("x + y"), {"x": 2.0, "y": 4.0, "z": 8.0}, wrt=["z"], mode=mode)
    assert len(t.unconnected) == 1
    (unreached,) = t.unconnected
    assert unreached.variable == "z" and unreached.node is None
    assert "no path" in unreached.reason
    assert t.to_dict([])["unconnected"] == [{"variable": "z", "node": None,
                                             "reason": unreached.reason}]


def test_connected_variables_are_not_listed():
    t = trace(parse("x + y"), {"x": 2.0, "y": 4.0}, wrt=["x", "y"])
    assert t.unconnected == []


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_path_through_floor_carries_no_gradient(mode):
    t = trace(parse("floor(x)*y"), {"x": 2.5, "y": 4.0}, mode=mode)
    assert [u.variable for u in t.unconnected] == ["x"]
    (unreached,) = t.unconnected
    assert unreached.node == "v₋₁"
    assert "floor" in unreached.reason and "no path" in unreached.reason


def test_a_comparison_carries_no_gradient():
    t = trace(parse("(x < y)*x"), {"x": 2.0, "y": 5.0})
    assert [u.variable for u in t.unconnected] == ["y"]
    assert [(s.node, s.source) for s in t.adjoint] == [("v₋₁", "v₂")]
    assert t.adjoint[0].running == 1.0  # (x < y) at (2, 5)


# ---------------------------------------------------------------------------------------------
# Tensors


SOFTMAX_LOG = "sum(softmax(v)*log(v))"
V = np.array([0.2, 0.3, 0.5])


def softmax_log_gradient(v: np.ndarray) -> np.ndarray:
    """∂/∂vⱼ Σᵢ sᵢ log vᵢ = sⱼ (log vⱼ - Σᵢ sᵢ log vᵢ) + sⱼ/vⱼ, s = softmax(v)."""
    s = np.exp(v) / np.sum(np.exp(v))
    return s * (np.log(v) - np.sum(s * np.log(v))) + s / v


def test_tensor_trace_reverse():
    f = parse(SOFTMAX_LOG, shapes={"v": (3,)})
    t = trace(f, {"v": V})
    assert [step.op for step in t.primal][0] == "input"
    for step in t.primal[:-1]:
        assert isinstance(step.value, np.ndarray) and step.value.shape == (3,), step
    assert t.primal[-1].op == "sum" and isinstance(t.primal[-1].value, float)
    s = np.exp(V) / np.sum(np.exp(V))
    assert t.primal[-1].value == pytest.approx(float(np.sum(s * np.log(V))), rel=1e-14)
    non_elementwise = [step for step in t.adjoint if step.op in ("sum", "softmax")]
    assert sorted(step.op for step in non_elementwise) == ["softmax", "sum"]
    for step in non_elementwise:
        assert step.partial is None
        assert bar(step.source) in step.partial_formula, step.partial_formula  # a VJP in v̄
    for step in t.adjoint:
        if step.op in ("mul", "log"):
            assert step.partial is not None and np.shape(step.partial) == (3,)
            np.testing.assert_allclose(step.contribution, step.partial * next(
                s.running for s in reversed(t.adjoint[:t.adjoint.index(step)])
                if s.node == step.source), rtol=1e-15)
    into_v = [step for step in t.adjoint if step.node == "v₀"]
    assert [step.accumulated for step in into_v] == [False, True]
    np.testing.assert_allclose(into_v[-1].running, softmax_log_gradient(V), rtol=1e-13)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_tensor_trace_to_dict_is_strict_json(mode):
    f = parse(SOFTMAX_LOG, shapes={"v": (3,)})
    t = trace(f, {"v": V}, mode=mode)
    notes: list[str] = []
    document = json.loads(json.dumps(t.to_dict(notes), allow_nan=False, ensure_ascii=False))
    assert notes == []
    assert document["mode"] == mode and document["parsed"] == t.parsed
    assert document["primal"][0]["value"] == [0.2, 0.3, 0.5]
    if mode == "reverse":
        assert len(document["adjoint"]) == len(t.adjoint)
        assert [step["partial"] is None for step in document["adjoint"]] == \
            [step.partial is None for step in t.adjoint]
        assert "tangent" not in document
    else:
        assert document["directions"] == [{"v": [1.0, 1.0, 1.0]}]
        assert "adjoint" not in document
        # along ones, the output's tangent is the sum of the gradient's entries
        assert document["tangent"][-1]["tangents"][0] == pytest.approx(
            float(np.sum(softmax_log_gradient(V))), rel=1e-13)


def test_tensor_trace_forward_along_a_direction():
    f = parse(SOFTMAX_LOG, shapes={"v": (3,)})
    u = np.array([0.5, -1.0, 2.0])
    t = trace(f, {"v": V}, mode="forward", directions=[{"v": u}])
    assert t.tangent[-1].tangents == [pytest.approx(float(softmax_log_gradient(V) @ u), rel=1e-13)]
    # the softmax's tangent: (diag(s) - s sᵀ) u
    s = np.exp(V) / np.sum(np.exp(V))
    softmax = next(step for step in t.tangent if step.op == "softmax")
    np.testing.assert_allclose(softmax.tangents[0], (np.diag(s) - np.outer(s, s)) @ u, rtol=1e-13,
                               atol=1e-16)


def test_nonfinite_values_are_noted_in_to_dict():
    t = trace(parse("log(x)*y"), {"x": 0.0, "y": 2.0})
    notes: list[str] = []
    json.dumps(t.to_dict(notes), allow_nan=False)
    assert notes and any("inf" in note for note in notes)


def test_trace_of_a_function_built_for_other_shapes():
    f = parse("sum(v**2)")
    try:
        t = trace(f, {"v": [1.0, 2.0, 3.0]})
    except (ShapeError, PointError):
        return  # refusing is as good as rebuilding
    assert t.primal[-1].value == 14.0


# ---------------------------------------------------------------------------------------------
# Long expressions: no recursion


def test_a_sum_of_3000_terms():
    n = 3000
    coefficients = [1 + k / 10000 for k in range(1, n + 1)]  # none is 1 (x*1 would be x)
    f = parse(" + ".join(f"x*{c!r}" for c in coefficients))
    t = trace(f, {"x": 0.5})
    assert len(t.primal) == 1 + n + (n - 1)  # x, the products, the sums
    assert len(t.adjoint) == 2 * (n - 1) + n
    into_x = [step for step in t.adjoint if step.node == "v₀"]
    assert len(into_x) == n and sum(step.accumulated for step in t.adjoint) == n - 1
    assert into_x[-1].running == pytest.approx(math.fsum(coefficients), rel=1e-12)
    forward = trace(f, {"x": 0.5}, mode="forward")
    assert len(forward.tangent) == len(t.primal)
    assert forward.tangent[-1].tangents == [pytest.approx(math.fsum(coefficients), rel=1e-12)]


def test_3000_nested_sines():
    n = 3000
    f = parse("sin(" * n + "x" + ")" * n)
    t = trace(f, {"x": 0.5})
    assert len(t.primal) == n + 1 and len(t.adjoint) == n
    value, derivative = 0.5, 1.0
    for _ in range(n):  # the chain rule by hand: the product of cos of every argument
        derivative *= math.cos(value)
        value = math.sin(value)
    assert t.primal[-1].value == pytest.approx(value, rel=1e-12)
    assert t.adjoint[-1].node == "v₀"
    assert t.adjoint[-1].running == pytest.approx(derivative, rel=1e-10)
