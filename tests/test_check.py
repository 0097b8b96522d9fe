"""gradcli check: every verdict on purpose, claimed gradients, methods, JSON, exit codes."""

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

import gradcli
from gradcli.cli import app
from gradcli.errors import UsageError

SMOOTH = [("x**2*sin(x)", {"x": 2.0}), ("cos(x**3*exp(x))", {"x": 1.0}),
          ("log(x1) + x1*x2 - sin(x2)", {"x1": 2.0, "x2": 5.0}),
          ("tanh(a*x + b)", {"x": 0.3, "a": 1.5, "b": -0.2}),
          ("sqrt(1 + x**2)/(2 + sin(y))", {"x": -1.2, "y": 0.7}),
          ("exp(-x**2/2)*erf(x)", {"x": 0.8}), ("softplus(3x) - log_sigmoid(x)", {"x": -2.5}),
          ("atan2(y, x)*hypot(x, y)", {"x": 1.5, "y": -0.5}), ("lgamma(x)*digamma(x)", {"x": 3.3})]


@pytest.mark.parametrize("method", ["ridders", "central", "complex", "mpmath"])
@pytest.mark.parametrize("text, at", SMOOTH, ids=[s[0] for s in SMOOTH])
def test_correct_gradients_pass(text, at, method):
    if method == "complex" and any(op in text for op in ("softplus", "log_sigmoid", "atan2",
                                                          "hypot", "lgamma")):
        with pytest.raises(UsageError, match="analytic"):
            gradcli.check(text, at, method=method)
        return
    report = gradcli.check(text, at, method=method)
    assert report.verdict == "pass", report.to_dict()
    assert report.exit_code == 0


@pytest.mark.parametrize("relative", [1e-4, 1e-6, 1e-8])
@pytest.mark.parametrize("text, at", SMOOTH, ids=[s[0] for s in SMOOTH])
def test_a_relative_error_of_1e_8_is_caught_by_default(text, at, relative):
    own = gradcli.grad(text, at)
    for name, value in own.gradient.items():
        claimed = dict(own.gradient)
        claimed[name] = value * (1 + relative) if value else relative
        report = gradcli.check(text, at, grad=claimed)
        verdicts = {r.variable: r.verdict for r in report.results}
        assert verdicts[name] == "fail", (name, report.to_dict())
        assert report.exit_code == 1


@pytest.mark.parametrize("text, at, name", [
    ("relu(x)", {"x": 0.0}, "x"), ("abs(x)", {"x": 0.0}, "x"),
    ("max(x, y)", {"x": 1.0, "y": 1.0}, "x"), ("max(x, y)", {"x": 1.0, "y": 1.0}, "y"),
    ("min(x, 2)", {"x": 2.0}, "x"), ("clip(x, 0, 1)", {"x": 1.0}, "x"),
])
def test_kinks_with_a_valid_subgradient_are_classified_and_pass(text, at, name):
    report = gradcli.check(text, at)
    result = next(r for r in report.results if r.variable == name)
    assert result.verdict == "kink" and "valid subgradient" in result.note
    assert report.verdict == "pass"
    assert gradcli.check(text, at, strict=True).verdict == "fail"


def test_a_claimed_value_outside_the_one_sided_derivatives_fails_at_a_kink():
    report = gradcli.check("relu(x)", {"x": 0.0}, grad={"x": 2.0})
    assert report.results[0].verdict == "fail" and "not between" in report.results[0].note


def test_a_differentiable_product_with_a_kinked_factor_passes():
    assert gradcli.check("relu(x)*x", {"x": 0.0}).verdict == "pass"


def test_unconnected_confirmed_by_the_reference():
    report = gradcli.check("x + y", {"x": 2, "y": 4, "z": 8}, wrt=["z"])
    assert report.results[0].verdict == "unconnected" and report.verdict == "pass"
    report = gradcli.check("floor(x) + y", {"x": 0.5, "y": 1.0})
    assert {r.variable: r.verdict for r in report.results} == {"x": "unconnected", "y": "pass"}


def test_unconnected_but_changing_is_a_fail():
    # sign(x) has no gradient, but at 0 the function jumps: the reference sees it
    report = gradcli.check("sign(x)", {"x": 0.0})
    assert report.results[0].verdict == "fail"


def test_inconclusive_when_the_reference_cannot_decide():
    report = gradcli.check("sqrt(x)", {"x": 0.0})
    assert report.verdict == "inconclusive" and report.exit_code == 3


def test_the_claimed_gradient_of_the_issue():
    report = gradcli.check("x**2*sin(x)", {"x": 2.0}, grad={"x": 1.9726})
    assert report.verdict == "fail"
    assert report.results[0].rel_error == pytest.approx(1.197e-6, rel=1e-3)
    assert "claimed" in report.results[0].note


def test_complex_step_is_refused_through_a_non_analytic_op():
    with pytest.raises(UsageError, match="abs is not"):
        gradcli.check("abs(x)*y", {"x": 1.0, "y": 2.0}, method="complex", wrt=["x"])
    # y's path avoids abs: allowed
    assert gradcli.check("abs(x)*y", {"x": 1.0, "y": 2.0}, method="complex",
                         wrt=["y"]).verdict == "pass"


KEYS = ["expression", "point", "verdict", "method", "results"]
RESULT_KEYS = ["variable", "index", "analytic", "numeric", "error_estimate", "abs_error",
               "rel_error", "tolerance", "verdict", "note"]
runner = CliRunner()


def strict_json(line):
    def no_constants(name):
        raise AssertionError(f"non-strict JSON constant {name}")
    return json.loads(line, parse_constant=no_constants)


def test_json_shape_and_exit_codes():
    result = runner.invoke(app, ["check", "log(x1) + x1*x2 - sin(x2)", "--at", "x1=2,x2=5",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    obj = strict_json(line)
    assert list(obj) == KEYS and obj["verdict"] == "pass" and obj["method"] == "ridders"
    assert [list(r) for r in obj["results"]] == [RESULT_KEYS, RESULT_KEYS]
    assert [r["variable"] for r in obj["results"]] == ["x1", "x2"]
    assert obj["results"][0]["index"] is None
    fail = runner.invoke(app, ["check", "x**2*sin(x)", "--at", "x=2", "--grad", "x=1.9726"])
    assert fail.exit_code == 1 and fail.stdout.startswith("fail ")
    inconclusive = runner.invoke(app, ["check", "sqrt(x)", "--at", "x=0", "--format", "json"])
    assert inconclusive.exit_code == 3
    obj = strict_json(inconclusive.stdout.splitlines()[0])
    assert obj["verdict"] == "inconclusive" and "warnings" in obj


def test_one_line_per_point_in_order_and_fail_wins_over_inconclusive():
    result = runner.invoke(app, ["check", "sqrt(x)", "--at", "x=0", "--at", "x=4",
                                 "--grad", "x=1"])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["inconclusive", "fail"]


@pytest.mark.parametrize("args, message", [
    (["check", "abs(x)", "--at", "x=1", "--method", "complex"], "analytic"),
    (["check", "x", "--at", "x=1", "--method", "simpson"], "simpson"),
    (["check", "x", "--at", "x=1", "--eps", "1e-3"], "--eps"),
    (["check", "x", "--at", "x=1", "--rtol", "-1"], "negative"),
    (["check", "x", "--at", "x=1", "--grad", "x="], "end of input"),
    (["check", "x*y", "--at", "x=1", "--wrt", "y"], "no value"),
])
def test_bad_input_exits_2(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr + result.stdout


def test_table_names_the_verdicts_and_the_rule():
    result = runner.invoke(app, ["check", "relu(x) + x*y", "--at", "x=0,y=2", "--format",
                                 "table"], env={"COLUMNS": "160"})
    assert result.exit_code == 0
    assert "kink" in result.stdout and "PASS" in result.stdout and "rule:" in result.stdout
    assert math.isfinite(float("1"))


def test_order_2_checks_the_reference_hessian():
    report = gradcli.check("log(x1) + x1*x2 - sin(x2)", {"x1": 2.0, "x2": 5.0}, order=2)
    assert report.verdict == "pass"
    hessian = {r.variable: r.analytic for r in report.results if "," in r.variable}
    assert hessian == {"x1,x1": -0.25, "x1,x2": 1.0, "x2,x1": 1.0, "x2,x2": -0.9589242746631385}
    second = next(r for r in gradcli.check("x**2*sin(x)", {"x": 2.0}, order=2).results
                  if r.variable == "x,x")
    assert second.analytic == -5.147769546028503 and second.verdict == "pass"


def test_points_are_reproducible_and_non_finite_points_are_skipped():
    args = ["check", "log(x)*y", "--points", "30", "--seed", "3", "--domain", "x=-1:1"]
    first, second = runner.invoke(app, args), runner.invoke(app, args)
    assert first.exit_code == 0 and first.stdout == second.stdout
    assert len(first.stdout.splitlines()) < 30  # log(x) for x <= 0 is skipped ...
    assert "skipped" in first.stderr  # ... and counted
    other = runner.invoke(app, args[:-3] + ["4", "--domain", "x=-1:1"])
    assert other.stdout != first.stdout
    tanh = runner.invoke(app, ["check", "tanh(a*x+b)", "--points", "200", "--seed", "0",
                               "--domain", "x=-3:3,a=0.1:2,b=-1:1", "--format", "json"])
    objects = [strict_json(line) for line in tanh.stdout.splitlines()]
    assert tanh.exit_code == 0 and len(objects) == 200
    assert all(-3 <= o["point"]["x"] <= 3 and 0.1 <= o["point"]["a"] <= 2 for o in objects)


@pytest.mark.parametrize("domain, message", [("x", "malformed"), ("x=3:1", "LOW < HIGH"),
                                             ("x=a:1", "constant"), ("y=0:1", "not a variable")])
def test_malformed_domain_exits_2(domain, message):
    result = runner.invoke(app, ["check", "x", "--points", "3", "--domain", domain])
    assert result.exit_code == 2 and message in result.stderr


def test_sweep_shows_the_h_squared_slope_of_a_right_gradient():
    result = runner.invoke(app, ["check", "x**2*sin(x)", "--at", "x=2", "--sweep", "--format",
                                 "json"])
    rows = strict_json(result.stdout)["sweep"]["x"]
    errors = {row["h"]: row["abs_error"] for row in rows}
    assert errors[2e-1] / errors[2e-2] == pytest.approx(100, rel=0.05)  # O(h²)
    assert errors[2e-2] / errors[2e-3] == pytest.approx(100, rel=0.05)
    wrong = runner.invoke(app, ["check", "x**2*sin(x)", "--at", "x=2", "--sweep", "--grad",
                                "x=1.97", "--format", "json"])
    rows = strict_json(wrong.stdout)["sweep"]["x"]
    plateau = [row["abs_error"] for row in rows[3:8]]
    assert max(plateau) / min(plateau) < 1.01  # levels off at the claimed gradient's error


def test_junit_report(tmp_path):
    import xml.etree.ElementTree as ET

    target = tmp_path / "report.xml"
    result = runner.invoke(app, ["check", "x*y", "--at", "x=1,y=2", "--at", "x=3,y=4",
                                 "--grad", "x=2.5,y=1", "--junit", str(target)])
    assert result.exit_code == 1
    suite = ET.parse(target).getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 4 and suite.get("failures") == "3"  # y passes at (1, 2) only
    failed = [c for c in cases if c.find("failure") is not None]
    messages = [c.find("failure").get("message") for c in failed]
    assert all("analytic " in m and "numeric " in m and "rel error" in m for m in messages)
    assert sum("analytic 2.5" in m for m in messages) == 2
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind


@pytest.mark.parametrize("text, at", SMOOTH, ids=[s[0] for s in SMOOTH])
def test_mpmath_catches_a_relative_error_of_1e_10(text, at):
    own = gradcli.grad(text, at)
    name, value = next(iter(own.gradient.items()))
    claimed = {name: value * (1 + 1e-10)}
    assert gradcli.check(text, at, method="mpmath", grad=claimed).verdict == "fail"


def test_every_primitive_has_a_high_precision_forward():
    from gradcli.highprecision import table
    from gradcli.ops import PRIMITIVES

    missing = [p.name for p in PRIMITIVES if p not in table()]
    assert not missing, f"no mpmath forward for {missing}"


def test_the_high_precision_forward_agrees_with_numpy_on_every_function():
    """The two forwards are independent implementations: they must agree in value (through
    the derivative of x + f(...) by the variable x, which is 1 + 0 only if f evaluates)."""
    import mpmath

    from gradcli.highprecision import table

    for primitive, forward in table().items():
        if not primitive.elementwise:
            continue  # the operations on arrays: compared in tests/test_tensors.py
        arity = primitive.arity
        args = [1.25 if primitive.name == "acosh" else 0.75, 0.5, 0.25][:arity]
        if primitive.name == "polygamma":
            args = [2.0, 1.25]
        expected = float(np.asarray(primitive.forward(*map(np.float64, args))))
        with mpmath.mp.workdps(30):
            got = float(forward(*map(mpmath.mpf, args)))
        assert got == pytest.approx(expected, rel=1e-13, abs=1e-300), primitive.name


# Cases the benchmark (bench/checker_power.py) found as false failures or crashes.
@pytest.mark.parametrize("text, at, method", [
    ("exp(x)*cos(x) + 1e4", {"x": 0.702}, "ridders"),
    ("sin(x) + 2*y + 1e8", {"x": 0.395161, "y": 0.44}, "ridders"),
    ("sin(x) + 1e4", {"x": 1.4582}, "ridders"),
    ("sinh(x)*cos(2*x)", {"x": 1.847}, "complex"),
    ("exp(x)*sin(x)", {"x": -1.423}, "complex"),
])
def test_no_false_failure_where_f_is_large_or_the_reference_is_exact(text, at, method):
    report = gradcli.check(text, at, method=method, strict=True)
    assert report.verdict in ("pass", "inconclusive"), report.to_dict()
    assert all(r.verdict != "kink" for r in report.results)


def test_complex_step_through_a_non_analytic_op_on_another_variables_path():
    report = gradcli.check("sin(x) + softplus(y)", {"x": 1.0, "y": 2.0}, method="complex",
                           wrt=["x"])
    assert report.verdict == "pass"
