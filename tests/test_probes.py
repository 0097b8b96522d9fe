"""check --mode probes: the whole gradient along K random directions, for 2K+1 evaluations and
one backward pass, counted independently here; what it catches and what it refuses."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import gradcli
from gradcli import api, eager, probes
from gradcli.checking import check_function
from gradcli.cli import app
from gradcli.compare import Options
from gradcli.errors import UsageError
from gradcli.spec import spec_function

PROBES = Options(mode="probes")
SMOOTH = [("x**2*sin(x)", {"x": 2.0}), ("log(x1) + x1*x2 - sin(x2)", {"x1": 2.0, "x2": 5.0}),
          ("tanh(a*x + b)", {"x": 0.3, "a": 1.5, "b": -0.2}),
          ("x*y + exp(-y**2)", {"x": 1e6, "y": 1e-3})]  # far apart in magnitude


@pytest.fixture
def counted(monkeypatch):
    """How often the graph is evaluated for the probes, how often for value and gradient
    (Function._grad), and how many reverse passes run, on the graph or on numbers, counted
    outside the code under test."""
    counts = {"probes": 0, "gradients": 0, "backward": 0}
    evaluate, grad = probes.evaluate, api.Function._grad
    backward, on_numbers = api.backward, eager.gradient

    def counting_evaluate(*args, **kwargs):
        counts["probes"] += 1
        return evaluate(*args, **kwargs)

    def counting_grad(self, *args, **kwargs):
        counts["gradients"] += 1
        return grad(self, *args, **kwargs)

    def counting_backward(*args, **kwargs):
        counts["backward"] += 1
        return backward(*args, **kwargs)

    def counting_on_numbers(*args, **kwargs):
        counts["backward"] += 1
        return on_numbers(*args, **kwargs)

    monkeypatch.setattr(probes, "evaluate", counting_evaluate)
    monkeypatch.setattr(eager, "gradient", counting_on_numbers)
    monkeypatch.setattr(api.Function, "_grad", counting_grad)
    monkeypatch.setattr(api, "backward", counting_backward)
    return counts


@pytest.mark.parametrize("k", [1, 3, 8])
@pytest.mark.parametrize("text, at", SMOOTH, ids=[s[0] for s in SMOOTH])
def test_correct_gradients_pass_for_2k_plus_1_evaluations(text, at, k, counted):
    report = check_function(gradcli.parse(text), at, Options(mode="probes", probes=k))
    assert report.verdict == "pass", report.to_dict()
    assert [r.variable for r in report.results] == [f"probe {n + 1}" for n in range(k)]
    assert counted == {"probes": 2 * k, "gradients": 1, "backward": 1}
    assert report.evaluations == {"forward": 2 * k + 1, "backward": 1}
    assert report.to_dict()["evaluations"] == report.evaluations and report.method == "central"


def test_a_model_with_arrays_is_checked_for_2k_plus_1_evaluations(counted):
    function = spec_function("examples/mlp_fixed.grad")
    report = check_function(function, {}, PROBES)
    assert report.verdict == "pass", report.to_dict()
    assert report.evaluations == {"forward": 17, "backward": 1}
    assert counted["probes"] == 16 and counted["gradients"] == 1 and counted["backward"] <= 1


@pytest.mark.parametrize("relative", [1e-3, 1e-5])
@pytest.mark.parametrize("text, at", SMOOTH, ids=[s[0] for s in SMOOTH])
def test_a_wrong_claimed_entry_fails(text, at, relative):
    own = gradcli.grad(text, at)
    for name, value in own.gradient.items():
        claimed = dict(own.gradient)
        claimed[name] = value * (1 + relative) + relative
        report = check_function(gradcli.parse(text), at, PROBES, grad=claimed)
        assert report.verdict == "fail", (name, report.to_dict())
        assert "some entry of the gradient is wrong" in report.results[0].note or \
            any("some entry" in r.note for r in report.results)


def test_one_wrong_entry_of_an_array_fails_its_directions():
    function = gradcli.parse("sum(w*w*v)", shapes={"w": (50,), "v": (50,)})
    rng = np.random.default_rng(1)
    point = {"w": rng.standard_normal(50), "v": rng.standard_normal(50)}
    gradient = dict(function.grad(point).gradient)
    rows, evaluations = probes.check_probes(function, point, gradient, ["w", "v"],
                                            PROBES.resolved())
    assert evaluations == 16 and all(r.verdict == "pass" for r in rows)
    gradient["w"] = gradient["w"].copy()
    gradient["w"][17] += 1e-4 * max(1.0, abs(gradient["w"][17]))
    rows, _ = probes.check_probes(function, point, gradient, ["w", "v"], PROBES.resolved())
    assert all(r.verdict == "fail" for r in rows)


def test_an_unconnected_variable_counts_as_zero():
    at = {"x": 1.5, "z": 3.0}
    report = check_function(gradcli.parse("x**2"), at, PROBES, wrt=["x", "z"])
    assert report.verdict == "pass"
    # a claimed zero for a variable the function does depend on is caught
    report = check_function(gradcli.parse("x**2 + z"), at, PROBES, grad={"x": 3.0, "z": 0.0})
    assert report.verdict == "fail"


def test_directions_are_seeded():
    f = gradcli.parse("sin(x)*y")
    at = {"x": 0.4, "y": 2.0}
    a = check_function(f, at, Options(mode="probes", seed=3)).to_dict()
    b = check_function(f, at, Options(mode="probes", seed=3)).to_dict()
    c = check_function(f, at, Options(mode="probes", seed=4)).to_dict()
    assert a == b and a["results"] != c["results"]


@pytest.mark.parametrize("options", [Options(mode="probes", method="complex"),
                                     Options(mode="probes", method="mpmath"),
                                     Options(mode="probes", order=2),
                                     Options(mode="probes", sweep=True),
                                     Options(mode="probes", method="central", step=1e-4),
                                     Options(mode="nonsense")])
def test_what_probe_mode_refuses(options):
    with pytest.raises(UsageError):
        options.resolved()


runner = CliRunner()


def test_the_command_reports_its_evaluations_in_json():
    done = runner.invoke(app, ["check", "log(x1) + x1*x2 - sin(x2)", "--at", "x1=2,x2=5",
                               "--mode", "probes", "--probes", "5", "--format", "json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["evaluations"] == {"forward": 11, "backward": 1}
    assert len(report["results"]) == 5 and report["verdict"] == "pass"


def test_the_command_fails_a_wrong_claim_with_exit_code_1():
    done = runner.invoke(app, ["check", "x**2*sin(x)", "--at", "x=2", "--grad", "x=1.9727",
                               "--mode", "probes", "--format", "plain"])
    assert done.exit_code == 1 and done.stdout.startswith("fail")


def test_the_table_shows_the_probes():
    done = runner.invoke(app, ["check", "x*y", "--at", "x=2,y=3", "--mode", "probes",
                               "--probes", "2", "--format", "table"])
    assert done.exit_code == 0 and "probe 1" in done.stdout and "probe 2" in done.stdout


@pytest.mark.parametrize("extra", [["--method", "complex"], ["--order", "2"], ["--sweep"]])
def test_the_command_refuses_what_probe_mode_does_not_take(extra):
    done = runner.invoke(app, ["check", "x**2", "--at", "x=2", "--mode", "probes", *extra])
    assert done.exit_code == 2 and "probes" in done.output


def test_rule_files_refuse_probe_mode():
    done = runner.invoke(app, ["check", "examples/rules.grad", "--mode", "probes"])
    assert done.exit_code == 2 and "--mode probes" in done.output
