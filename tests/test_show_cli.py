"""The command line of the features that show derivatives, end to end.

`grad --trace` (reverse and forward mode, the three formats, --seed-dir, --max-rows), `grad
--explain`, the commands `hessian`, `jacobian`, `jvp`, `hvp`, `graph` and `diff`, and their
`--help`. The typer app runs in-process through CliRunner (stdout and stderr apart); two tests
run the installed `gradcli` entry point.

Every number is compared with VALUES.md or with a closed form worked out here with `math`,
never only with another output of gradcli. Nodes of a trace are found by what they mean (their
definition), not by position: any evaluation order of the graph may number them.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from gradcli.cli import app

# VALUES.md
BAYDIN = "log(x1) + x1*x2 - sin(x2)"
BAYDIN_AT = "x1=2,x2=5"
BAYDIN_VALUE = 11.652071455223084
BAYDIN_GRADIENT = {"x1": 5.5, "x2": 1.7163378145367738}
BAYDIN_HESSIAN = [[-0.25, 1.0], [1.0, -0.9589242746631385]]
CHAIN = "x**2*sin(x)"  # at x=2
CHAIN_VALUE, CHAIN_GRADIENT, CHAIN_SECOND = 3.637189707302727, 1.9726023611141572, -5.147769546028503
NESTED = "cos(x**3*exp(x))"  # at x=1
NESTED_VALUE, NESTED_GRADIENT = -0.9117339147869651, -4.466477269780053

GRAD_KEYS = ["expression", "point", "value", "gradient", "unconnected"]
PRIMAL_KEYS = ["node", "index", "op", "definition", "value"]
ADJOINT_KEYS = ["node", "op", "definition", "value", "adjoint", "source", "partial_formula",
                "partial", "contribution", "running", "accumulated"]
TANGENT_KEYS = ["node", "op", "definition", "value", "tangent", "tangent_formula", "tangents"]
STEP_KEYS = ["formula", "derivative", "value", "rule", "repeat", "children"]

BAR, DOT = "\u0304", "\u0307"  # the adjoint v̄ and the tangent v̇
SUBSCRIPTS = str.maketrans("-0123456789", "₋₀₁₂₃₄₅₆₇₈₉")

CLEAN_ENV = {"FORCE_COLOR": None, "NO_COLOR": None, "TTY_COMPATIBLE": None,
             "TTY_INTERACTIVE": None, "COLUMNS": "200"}
TABLE_ENV = {"NO_COLOR": "1"}


def invoke(*args: str, env: dict | None = None):
    merged = dict(CLEAN_ENV)
    merged.update(env or {})
    result = CliRunner().invoke(app, list(args), env=merged)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"gradcli {' '.join(args)} raised {result.exception!r}\nstderr: {result.stderr}")
    return result


def _reject_constant(name: str):
    raise AssertionError(f"not strict JSON: {name}")


def json_lines(stdout: str) -> list[dict]:
    lines = stdout.splitlines()
    assert lines, "no output"
    return [json.loads(line, parse_constant=_reject_constant) for line in lines]


def one_json(*args: str) -> dict:
    result = invoke(*args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    (obj,) = json_lines(result.stdout)
    return obj


def table(*args: str) -> str:
    result = invoke(*args, "--format", "table", env=TABLE_ENV)
    assert result.exit_code == 0, result.stderr
    assert "\x1b[" not in result.stdout, "ANSI escapes with NO_COLOR=1"
    return result.stdout


def usage_error(result, *words: str) -> None:
    """Exit code 2, nothing on stdout, one message on stderr naming `words`, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.strip(), "no message on stderr"
    for word in words:
        assert word in result.stderr, f"{word!r} not in {result.stderr!r}"


def name(k: int) -> str:
    return "v" + str(k).translate(SUBSCRIPTS)


def bar(node: str) -> str:
    return "v" + BAR + node[1:]


def baydin_nodes(primal: list[dict]) -> dict[str, str]:
    """Baydin's nodes by meaning: the inputs, the log, the product, the sine, the sum and the
    difference (the output)."""
    defined = {step["definition"]: step["node"] for step in primal}
    x1, x2 = defined["x1"], defined["x2"]
    log, sin = defined[f"log({x1})"], defined[f"sin({x2})"]
    mul = defined.get(f"{x1}*{x2}") or defined[f"{x2}*{x1}"]
    add = defined.get(f"{log} + {mul}") or defined[f"{mul} + {log}"]
    return {"x1": x1, "x2": x2, "log": log, "mul": mul, "sin": sin, "add": add,
            "sub": defined[f"{add} - {sin}"]}


def floats(line: str) -> list[float]:
    return [float(word) for word in line.split()]


# ---------------------------------------------------------------------------------------------
# grad --trace, reverse mode: JSON


def test_trace_json_keeps_the_grad_contract_then_adds_the_trace():
    result = invoke("grad", BAYDIN, "--at", BAYDIN_AT, "--trace", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    (obj,) = json_lines(result.stdout)
    assert list(obj) == [*GRAD_KEYS, "trace"]
    assert obj["expression"] == BAYDIN
    assert obj["point"] == {"x1": 2.0, "x2": 5.0}
    assert obj["value"] == BAYDIN_VALUE
    assert obj["gradient"] == BAYDIN_GRADIENT
    assert obj["unconnected"] == []
    trace = obj["trace"]
    assert list(trace) == ["mode", "parsed", "primal", "adjoint", "unconnected"]
    assert trace["mode"] == "reverse"
    assert trace["unconnected"] == []
    assert all(list(step) == PRIMAL_KEYS for step in trace["primal"])
    assert all(list(step) == ADJOINT_KEYS for step in trace["adjoint"])


def test_trace_json_parsed_brackets_every_grouping():
    trace = one_json("grad", BAYDIN, "--at", BAYDIN_AT, "--trace")["trace"]
    assert trace["parsed"] == "(log(x1) + (x1*x2)) - sin(x2)"


def test_trace_json_baydin_primal_trace_has_the_values_of_table_3():
    primal = one_json("grad", BAYDIN, "--at", BAYDIN_AT, "--trace")["trace"]["primal"]
    assert len(primal) == 7
    # the textbook numbering: inputs v₋₁, v₀, then v₁ … v₅, each node named after its index
    assert [step["index"] for step in primal] == [-1, 0, 1, 2, 3, 4, 5]
    assert [step["node"] for step in primal] == [name(k) for k in range(-1, 6)]
    nodes = baydin_nodes(primal)
    assert nodes["x1"] == "v₋₁" and nodes["x2"] == "v₀"
    value = {step["node"]: step["value"] for step in primal}
    op = {step["node"]: step["op"] for step in primal}
    expected = {"x1": 2.0, "x2": 5.0, "log": math.log(2), "mul": 10.0, "sin": math.sin(5),
                "add": math.log(2) + 10, "sub": BAYDIN_VALUE}
    for meaning, number in expected.items():
        assert value[nodes[meaning]] == pytest.approx(number, rel=1e-15, abs=0), meaning
    assert [op[nodes[m]] for m in ("x1", "x2", "log", "mul", "sin", "add", "sub")] == [
        "input", "input", "log", "mul", "sin", "add", "sub"]
    assert primal[-1]["node"] == nodes["sub"]  # the output is the last node


def test_trace_json_baydin_adjoint_trace_accumulates_twice():
    trace = one_json("grad", BAYDIN, "--at", BAYDIN_AT, "--trace")["trace"]
    nodes = baydin_nodes(trace["primal"])
    steps = trace["adjoint"]
    # one step per argument that carries a gradient: sub 2, add 2, mul 2, log 1, sin 1
    assert len(steps) == 8
    by_edge = {(s["source"], s["node"]): s for s in steps}
    expected = {  # (source, target): partial, contribution (VALUES.md, table 3)
        ("sub", "add"): (1.0, 1.0), ("sub", "sin"): (-1.0, -1.0),
        ("add", "log"): (1.0, 1.0), ("add", "mul"): (1.0, 1.0),
        ("sin", "x2"): (math.cos(5), -math.cos(5)),
        ("mul", "x1"): (5.0, 5.0), ("mul", "x2"): (2.0, 2.0),
        ("log", "x1"): (0.5, 0.5),
    }
    assert set(by_edge) == {(nodes[a], nodes[b]) for a, b in expected}
    for (source, target), (partial, contribution) in expected.items():
        step = by_edge[nodes[source], nodes[target]]
        assert step["partial"] == pytest.approx(partial, rel=1e-15), (source, target)
        assert step["contribution"] == pytest.approx(contribution, rel=1e-15), (source, target)
        assert step["adjoint"] == bar(step["node"])
    # the first contribution to an adjoint assigns it, the second accumulates (+=)
    accumulated = [s for s in steps if s["accumulated"]]
    assert [(s["node"], s["source"]) for s in accumulated] == [
        (nodes["x2"], nodes["mul"]), (nodes["x1"], nodes["log"])]
    for step in steps:
        assert ("+=" in step["definition"]) is step["accumulated"], step["definition"]
    x2_sum, x1_sum = accumulated
    assert x2_sum["running"] == BAYDIN_GRADIENT["x2"]
    assert x2_sum["definition"] == f"{bar(nodes['x2'])} += {bar(nodes['mul'])} · "\
                                   f"∂{nodes['mul']}/∂{nodes['x2']}"
    assert x2_sum["partial_formula"] == nodes["x1"]  # ∂(v₋₁·v₀)/∂v₀ = v₋₁
    assert x1_sum["running"] == BAYDIN_GRADIENT["x1"]
    assert x1_sum["partial_formula"] == f"1/{nodes['x1']}"
    # the running adjoint of each input ends at its gradient; the reverse pass starts at the output
    final = {}
    for step in steps:
        final[step["node"]] = step["running"]
    assert final[nodes["x1"]] == 5.5
    assert final[nodes["x2"]] == BAYDIN_GRADIENT["x2"]
    assert steps[0]["source"] == nodes["sub"]
    assert by_edge[nodes["sin"], nodes["x2"]]["partial_formula"] == f"cos({nodes['x2']})"


def test_trace_json_one_object_per_point():
    result = invoke("grad", "x*x", "--at", "x=2", "--at", "x=3", "--trace", "--format", "json")
    assert result.exit_code == 0, result.stderr
    objs = json_lines(result.stdout)
    assert [o["gradient"]["x"] for o in objs] == [4.0, 6.0]
    for obj, x in zip(objs, (2.0, 3.0), strict=True):
        (first, second) = obj["trace"]["adjoint"]  # fan-out: x*x uses x twice
        assert (first["accumulated"], second["accumulated"]) == (False, True)
        assert (first["running"], second["running"]) == (x, 2 * x)


def test_trace_json_nonfinite_values_are_strings_with_warnings():
    result = invoke("grad", "log(x)", "--at", "x=-1", "--trace", "--format", "json")
    assert result.exit_code == 0
    (obj,) = json_lines(result.stdout)  # strict JSON
    assert list(obj) == [*GRAD_KEYS, "trace", "warnings"]
    log_step = obj["trace"]["primal"][-1]
    assert log_step["value"] == "nan"
    assert obj["trace"]["adjoint"][0]["partial"] == -1.0  # 1/x at -1
    assert "nan" in result.stderr


# ---------------------------------------------------------------------------------------------
# grad --trace: plain and table


def test_trace_plain_is_the_default_off_a_terminal_with_the_gradient_line_last():
    result = invoke("grad", BAYDIN, "--at", BAYDIN_AT, "--trace")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "parsed as (log(x1) + (x1*x2)) - sin(x2)"
    assert lines[-1] == "5.5 1.7163378145367738"
    assert floats(lines[-1]) == [BAYDIN_GRADIENT["x1"], BAYDIN_GRADIENT["x2"]]
    assert "v₋₁ = x1 = 2.0" in lines
    assert "v₀ = x2 = 5.0" in lines
    assert f"= {math.log(2)!r}" in result.stdout
    assert f"= {BAYDIN_VALUE!r}" in result.stdout
    accumulations = [line for line in lines if "+=" in line]
    assert len(accumulations) == 2
    assert accumulations[0].startswith("v̄₀ += ")
    assert accumulations[0].endswith("v̄₀ = 1.7163378145367738")
    assert accumulations[1].startswith("v̄₋₁ += ")
    assert accumulations[1].endswith("v̄₋₁ = 5.5")
    assert "\x1b[" not in result.stdout


def test_trace_plain_explicit_format_matches_the_default():
    default = invoke("grad", BAYDIN, "--at", BAYDIN_AT, "--trace")
    plain = invoke("grad", BAYDIN, "--at", BAYDIN_AT, "--trace", "--format", "plain")
    assert plain.exit_code == 0
    assert plain.stdout == default.stdout


def test_trace_table_shows_the_primal_and_adjoint_tables():
    out = table("grad", BAYDIN, "--at", BAYDIN_AT, "--trace")
    assert "primal trace" in out
    assert "adjoint trace" in out
    for node in ("v₋₁", "v₀", "v₁", "v₂", "v₃", "v₄", "v₅"):
        assert node in out
    for text in ("x1", "x2", "log(v₋₁)", "sin(v₀)", "cos(v₀)"):
        assert text in out
    # 8 significant digits in the table
    for number in (math.log(2), math.sin(5), math.log(2) + 10, BAYDIN_VALUE, BAYDIN_GRADIENT["x2"]):
        assert f"{number:.8g}" in out, number
    assert out.count("+=") == 2
    assert re.search(r"v̄₀ \+=.*1\.7163378", out)
    assert re.search(r"v̄₋₁ \+=.*5\.5", out)


# ---------------------------------------------------------------------------------------------
# grad --trace --mode forward


def test_forward_trace_json_has_directions_and_tangents():
    obj = one_json("grad", BAYDIN, "--at", BAYDIN_AT, "--trace", "--mode", "forward")
    assert list(obj) == [*GRAD_KEYS, "trace"]
    trace = obj["trace"]
    assert list(trace) == ["mode", "parsed", "primal", "directions", "tangent", "unconnected"]
    assert trace["mode"] == "forward"
    assert trace["directions"] == [{"x1": 1.0}, {"x2": 1.0}]  # a unit direction per variable
    assert all(list(step) == TANGENT_KEYS for step in trace["tangent"])
    nodes = baydin_nodes(trace["primal"])
    tangent = {step["node"]: step for step in trace["tangent"]}
    assert tangent[nodes["x1"]]["tangents"] == [1.0, 0.0]
    assert tangent[nodes["x2"]]["tangents"] == [0.0, 1.0]
    assert tangent[nodes["log"]]["tangents"] == [0.5, 0.0]  # (log x1)' = 1/x1
    assert tangent[nodes["sin"]]["tangents"] == [0.0, math.cos(5)]
    # the output's tangent along each unit direction is the gradient
    assert tangent[nodes["sub"]]["tangents"] == [BAYDIN_GRADIENT["x1"], BAYDIN_GRADIENT["x2"]]
    assert tangent[nodes["sub"]]["tangent"] == "v" + DOT + "₅"


def test_seed_dir_repeated_gives_a_tangent_per_direction():
    args = ("grad", BAYDIN, "--at", BAYDIN_AT, "--trace", "--mode", "forward",
            "--seed-dir", "x1=1,x2=0", "--seed-dir", "x1=0,x2=1", "--seed-dir", "x1=1,x2=1")
    trace = one_json(*args)["trace"]
    assert trace["directions"] == [{"x1": 1.0, "x2": 0.0}, {"x1": 0.0, "x2": 1.0},
                                   {"x1": 1.0, "x2": 1.0}]
    assert all(len(step["tangents"]) == 3 for step in trace["tangent"])
    output = trace["tangent"][-1]
    g1, g2 = BAYDIN_GRADIENT["x1"], BAYDIN_GRADIENT["x2"]
    assert output["tangents"] == pytest.approx([g1, g2, g1 + g2], rel=1e-15)
    mul = {step["node"]: step for step in trace["tangent"]}[baydin_nodes(trace["primal"])["mul"]]
    assert mul["tangents"] == [5.0, 2.0, 7.0]  # d(x1*x2) = x2 dx1 + x1 dx2
    # plain: the output's line has one value per direction, then the gradient
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "5.5 1.7163378145367738"
    assert lines[-2].startswith("v" + DOT + "₅ = ")
    assert [float(x) for x in lines[-2].rsplit("= ", 1)[1].split(", ")] == pytest.approx(
        [g1, g2, g1 + g2], rel=1e-15)


def test_seed_dir_table_has_a_column_per_direction():
    out = table("grad", BAYDIN, "--at", BAYDIN_AT, "--trace", "--mode", "forward",
                "--seed-dir", "x1=1,x2=0", "--seed-dir", "x1=0,x2=1")
    assert "tangent trace" in out
    x1, x2 = "x" + DOT + "1", "x" + DOT + "2"  # the tangents of x1 and x2
    assert f"{x1}=1, {x2}=0" in out and f"{x1}=0, {x2}=1" in out
    output_row = next(line for line in out.splitlines() if line.strip().startswith("v" + DOT + "₅"))
    assert output_row.split()[-2:] == ["5.5", f"{BAYDIN_GRADIENT['x2']:.8g}"]


def test_seed_dir_of_an_array_variable():
    trace = one_json("grad", "sum(v**2)", "--at", "v=[1,2]", "--trace", "--mode", "forward",
                     "--seed-dir", "v=[1,0]")["trace"]
    assert trace["directions"] == [{"v": [1.0, 0.0]}]
    assert trace["tangent"][-1]["tangents"] == [2.0]  # 2 v · (1, 0) at v = (1, 2)


def test_mode_forward_without_trace_is_a_usage_error():
    usage_error(invoke("grad", BAYDIN, "--at", BAYDIN_AT, "--mode", "forward"), "--trace")


@pytest.mark.parametrize("extra", [[], ["--trace"], ["--trace", "--mode", "reverse"]])
def test_seed_dir_without_forward_mode_is_a_usage_error(extra):
    usage_error(invoke("grad", BAYDIN, "--at", BAYDIN_AT, *extra, "--seed-dir", "x1=1"),
                "--mode forward")


def test_seed_dir_naming_an_unknown_variable_is_a_usage_error():
    result = invoke("grad", BAYDIN, "--at", BAYDIN_AT, "--trace", "--mode", "forward",
                    "--seed-dir", "q=1")
    usage_error(result, "'q'", "not a variable")


def test_seed_dir_of_the_wrong_shape_is_a_usage_error():
    result = invoke("grad", "x*y", "--at", "x=1,y=2", "--trace", "--mode", "forward",
                    "--seed-dir", "x=[1,2]")
    usage_error(result, "'x'", "shape")


def test_seed_dir_syntax_error_names_the_seed_dir_option():
    result = invoke("grad", "x*y", "--at", "x=1,y=2", "--trace", "--mode", "forward",
                    "--seed-dir", "x=1,")
    usage_error(result, "^")
    assert "in --at" not in result.stderr


# ---------------------------------------------------------------------------------------------
# --max-rows

LONG = " + ".join(f"sin({k}*x)" for k in range(2, 202))  # 200 terms
LONG_PRIMAL = 1 + 200 + 200 + 199  # x, the products k*x, the sines, the sums
LONG_ADJOINT = 200 + 200 + 2 * 199  # one step per argument that is not a constant


def test_max_rows_elides_the_middle_of_the_tables():
    out = table("grad", LONG, "--at", "x=0.5", "--trace", "--max-rows", "5")
    # "595 rows left out" or "595 of 600 rows left out"
    assert re.search(rf"\b{LONG_PRIMAL - 5} (of {LONG_PRIMAL} )?rows left out", out)
    assert re.search(rf"\b{LONG_ADJOINT - 5} (of {LONG_ADJOINT} )?rows left out", out)
    assert "--max-rows 5" in out
    assert name(LONG_PRIMAL - 1) in out  # the output node, in the tail
    assert name(300) not in out  # from the middle
    gradient = sum(k * math.cos(k * 0.5) for k in range(2, 202))
    assert f"{gradient:.8g}" in out


def test_max_rows_does_not_cut_the_json():
    obj = one_json("grad", LONG, "--at", "x=0.5", "--trace", "--max-rows", "5")
    trace = obj["trace"]
    assert len(trace["primal"]) == LONG_PRIMAL
    assert len(trace["adjoint"]) == LONG_ADJOINT
    assert [s["index"] for s in trace["primal"]] == list(range(0, LONG_PRIMAL))
    assert obj["value"] == pytest.approx(sum(math.sin(k * 0.5) for k in range(2, 202)), rel=1e-12)
    gradient = sum(k * math.cos(k * 0.5) for k in range(2, 202))
    assert obj["gradient"]["x"] == pytest.approx(gradient, rel=1e-12)
    # 200 contributions into x̄: the first assigns, the other 199 accumulate
    into_x = [s for s in trace["adjoint"] if s["node"] == "v₀"]
    assert [s["accumulated"] for s in into_x] == [False] + [True] * 199
    assert into_x[-1]["running"] == obj["gradient"]["x"]


def test_a_short_trace_is_not_elided():
    out = table("grad", BAYDIN, "--at", BAYDIN_AT, "--trace", "--max-rows", "8")
    assert "rows left out" not in out


@pytest.mark.parametrize("rows", ["0", "-1"])
def test_max_rows_below_one_is_a_usage_error(rows):
    usage_error(invoke("grad", BAYDIN, "--at", BAYDIN_AT, "--trace", "--max-rows", rows),
                "--max-rows")


# ---------------------------------------------------------------------------------------------
# Unconnected variables in a trace


def test_trace_lists_an_unconnected_variable_with_its_reason():
    obj = one_json("grad", "x + y", "--at", "x=2,y=4,z=8", "--wrt", "z", "--trace")
    assert obj["gradient"] == {"z": None}
    assert obj["unconnected"] == ["z"]
    (gone,) = obj["trace"]["unconnected"]
    assert list(gone) == ["variable", "node", "reason"]
    assert gone["variable"] == "z"
    assert gone["node"] is None
    assert "no path" in gone["reason"]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_trace_unconnected_plain_and_table_exit_0(mode):
    args = ("grad", "x + y", "--at", "x=2,y=4,z=8", "--wrt", "z", "--trace", "--mode", mode)
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "None"
    assert any(line.startswith("z: unconnected, no path") for line in lines)
    out = table(*args)
    assert re.search(r"z: unconnected, no path", out)
    zero = invoke(*args, "--unconnected", "zero")
    assert zero.exit_code == 0
    assert zero.stdout.splitlines()[-1] == "0.0"


def test_trace_names_the_operation_that_blocks_the_gradient():
    obj = one_json("grad", "x + floor(y)", "--at", "x=2,y=4.5", "--wrt", "y", "--trace")
    assert obj["gradient"] == {"y": None}
    (gone,) = obj["trace"]["unconnected"]
    assert gone["variable"] == "y"
    assert gone["node"] == "v₀"
    assert "no path" in gone["reason"] and "floor" in gone["reason"]
    # no adjoint step goes through floor
    assert all(step["op"] != "floor" for step in obj["trace"]["adjoint"])


# ---------------------------------------------------------------------------------------------
# Tensors

V = [0.2, 0.3, 0.5]


def _softmax_log_reference() -> tuple[list[float], list[float], float, list[float]]:
    """softmax(v), log(v), f = Σ sᵢ log vᵢ and ∂f/∂vⱼ = sⱼ/vⱼ + sⱼ (log vⱼ - f)."""
    total = sum(math.exp(a) for a in V)
    s = [math.exp(a) / total for a in V]
    logs = [math.log(a) for a in V]
    f = sum(a * b for a, b in zip(s, logs, strict=True))
    return s, logs, f, [s[j] / V[j] + s[j] * (logs[j] - f) for j in range(3)]


def test_tensor_trace_json_has_nested_lists():
    obj = one_json("grad", "sum(softmax(v)*log(v))", "--at", "v=[0.2,0.3,0.5]", "--trace")
    s, logs, f, gradient = _softmax_log_reference()
    assert obj["point"] == {"v": V}
    assert obj["value"] == pytest.approx(f, rel=1e-14)
    assert obj["gradient"]["v"] == pytest.approx(gradient, rel=1e-13)
    primal = {step["op"]: step for step in obj["trace"]["primal"]}
    assert primal["input"]["value"] == V
    assert primal["softmax"]["value"] == pytest.approx(s, rel=1e-14)
    assert primal["log"]["value"] == pytest.approx(logs, rel=1e-15)
    assert primal["mul"]["value"] == pytest.approx([a * b for a, b in zip(s, logs, strict=True)],
                                                   rel=1e-14)
    assert isinstance(primal["sum"]["value"], float)
    adjoint = obj["trace"]["adjoint"]
    for step in adjoint:
        assert isinstance(step["contribution"], list) and len(step["contribution"]) == 3
    # softmax and sum are not elementwise: no partial number, a VJP formula instead
    through_softmax = next(s for s in adjoint if s["op"] == "softmax")
    assert through_softmax["partial"] is None
    assert through_softmax["partial_formula"]
    into_v = [s for s in adjoint if s["node"] == primal["input"]["node"]]
    assert [s["accumulated"] for s in into_v] == [False, True]  # v feeds softmax and log
    assert into_v[-1]["running"] == pytest.approx(gradient, rel=1e-13)


def test_tensor_trace_table_shows_shapes():
    out = table("grad", "sum(softmax(v)*log(v))", "--at", "v=[0.2,0.3,0.5]", "--trace")
    assert "primal trace" in out and "adjoint trace" in out
    assert "(3,)" in out
    assert "softmax" in out
    assert "VJP" in out
    assert f"{_softmax_log_reference()[2]:.8g}" in out


# ---------------------------------------------------------------------------------------------
# grad --explain


def _walk(step: dict) -> list[dict]:
    out, stack = [], [step]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node["children"])
    return out


def test_explain_json_product_rule():
    obj = one_json("grad", CHAIN, "--at", "x=2", "--explain")
    assert list(obj) == [*GRAD_KEYS, "explain"]
    assert obj["gradient"] == {"x": CHAIN_GRADIENT}
    root = obj["explain"]["x"]
    for step in _walk(root):
        assert list(step) == STEP_KEYS
    assert root["formula"] == CHAIN
    assert root["value"] == CHAIN_GRADIENT
    assert root["rule"].startswith("product rule")
    children = {child["formula"]: child for child in root["children"]}
    assert set(children) == {"x**2", "sin(x)"}
    assert children["x**2"]["value"] == 4.0  # 2x
    assert children["x**2"]["rule"].startswith("power rule")
    assert children["sin(x)"]["value"] == math.cos(2)
    assert "sin" in children["sin(x)"]["rule"]


def test_explain_json_chain_rule_with_let():
    obj = one_json("grad", NESTED, "--at", "x=1", "--explain")
    assert obj["value"] == NESTED_VALUE
    root = obj["explain"]["x"]
    assert root["formula"] == NESTED
    assert root["value"] == NESTED_GRADIENT
    assert root["rule"].startswith("chain rule")
    assert "let u = x**3*exp(x)" in root["rule"]
    (inner,) = root["children"]
    assert inner["formula"] == "x**3*exp(x)"
    assert inner["rule"].startswith("product rule")
    assert inner["value"] == pytest.approx(4 * math.e, rel=1e-15)  # (x³ + 3x²) eˣ at 1
    leaves = {child["formula"]: child["value"] for child in inner["children"]}
    assert leaves == {"x**3": 3.0, "exp(x)": pytest.approx(math.e, rel=1e-15)}


def test_explain_json_a_tree_per_variable():
    obj = one_json("grad", BAYDIN, "--at", BAYDIN_AT, "--explain")
    assert list(obj["explain"]) == ["x1", "x2"]
    for variable, tree in obj["explain"].items():
        assert tree["formula"] == BAYDIN
        assert tree["value"] == BAYDIN_GRADIENT[variable]
    x2 = obj["explain"]["x2"]
    assert x2["rule"].startswith("difference rule")
    formulas = {step["formula"]: step["value"] for step in _walk(x2)}
    assert formulas["sin(x2)"] == math.cos(5)
    assert formulas["x1*x2"] == 2.0


def test_explain_marks_a_repeated_subexpression():
    root = one_json("grad", "sin(x)*sin(x)", "--at", "x=2", "--explain")["explain"]["x"]
    assert root["value"] == pytest.approx(2 * math.sin(2) * math.cos(2), rel=1e-15)
    assert [child["repeat"] for child in root["children"]] == [False, True]


def test_explain_plain_indents_the_tree_and_ends_with_the_gradient():
    result = invoke("grad", NESTED, "--at", "x=1", "--explain")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == repr(NESTED_GRADIENT)
    assert lines[0].startswith("d/dx [cos(x**3*exp(x))] = ")
    assert f"= {NESTED_GRADIENT!r}" in lines[0]
    assert "let u = x**3*exp(x)" in lines[0]
    assert lines[1].startswith("  d/dx [x**3*exp(x)] = ")
    assert re.match(r"^    d/dx \[(x\*\*3|exp\(x\))\]", lines[2])
    assert len(lines) == 5


def test_explain_table_shows_the_rules():
    out = table("grad", CHAIN, "--at", "x=2", "--explain")
    assert "product rule" in out
    assert repr(CHAIN_GRADIENT) in out


def test_explain_and_trace_together():
    obj = one_json("grad", CHAIN, "--at", "x=2", "--trace", "--explain")
    assert list(obj) == [*GRAD_KEYS, "trace", "explain"]
    assert obj["explain"]["x"]["value"] == obj["gradient"]["x"] == CHAIN_GRADIENT


def test_explain_of_an_unconnected_variable_says_no_path():
    obj = one_json("grad", "x + y", "--at", "x=2,y=4,z=8", "--wrt", "z", "--explain")
    tree = obj["explain"]["z"]
    assert tree["value"] is None
    assert "no path" in tree["rule"]


def test_explain_of_arrays_is_a_usage_error_suggesting_trace():
    result = invoke("grad", "sum(v**2)", "--at", "v=[1,2]", "--explain")
    usage_error(result, "--trace")


def test_max_rows_does_not_cut_the_explain_json():
    expression = " + ".join(f"sin({k}*x)" for k in range(1, 11))
    full = one_json("grad", expression, "--at", "x=0.5", "--explain")["explain"]["x"]
    cut = one_json("grad", expression, "--at", "x=0.5", "--explain", "--max-rows", "3")["explain"]["x"]
    assert all(step["formula"] != "…" for step in _walk(full))
    assert len(_walk(cut)) == len(_walk(full))


# ---------------------------------------------------------------------------------------------
# hessian, jacobian, jvp, hvp

MATRIX_KEYS = ["expression", "point", "value", "variables"]


def test_hessian_plain_rows_are_the_reference():
    result = invoke("hessian", BAYDIN, "--at", BAYDIN_AT)
    assert result.exit_code == 0, result.stderr
    assert [floats(line) for line in result.stdout.splitlines()] == BAYDIN_HESSIAN
    assert result.stderr == ""


def test_hessian_json():
    result = invoke("hessian", BAYDIN, "--at", BAYDIN_AT, "--format", "json")
    assert result.exit_code == 0
    (obj,) = json_lines(result.stdout)
    assert list(obj) == [*MATRIX_KEYS, "hessian"]
    assert obj["expression"] == BAYDIN
    assert obj["point"] == {"x1": 2.0, "x2": 5.0}
    assert obj["value"] == BAYDIN_VALUE
    assert obj["variables"] == ["x1", "x2"]
    assert obj["hessian"] == BAYDIN_HESSIAN


def test_hessian_one_json_line_per_point():
    result = invoke("hessian", CHAIN, "--at", "x=2", "--at", "x=1", "--format", "json")
    assert result.exit_code == 0
    first, second = json_lines(result.stdout)
    assert (first["point"], second["point"]) == ({"x": 2.0}, {"x": 1.0})
    assert first["value"] == CHAIN_VALUE
    assert first["hessian"] == [[CHAIN_SECOND]]
    # (x² sin x)'' = 2 sin x + 4x cos x - x² sin x
    assert second["hessian"][0][0] == pytest.approx(math.sin(1) + 4 * math.cos(1), rel=1e-15)


def test_hessian_wrt_picks_and_orders_the_variables():
    obj = one_json("hessian", BAYDIN, "--at", BAYDIN_AT, "--wrt", "x2,x1")
    assert obj["variables"] == ["x2", "x1"]
    assert obj["hessian"] == [[BAYDIN_HESSIAN[1][1], 1.0], [1.0, BAYDIN_HESSIAN[0][0]]]
    obj = one_json("hessian", BAYDIN, "--at", BAYDIN_AT, "--wrt", "x2")
    assert obj["hessian"] == [[BAYDIN_HESSIAN[1][1]]]


def test_hessian_unconnected_none_or_zero():
    args = ("hessian", "x*y", "--at", "x=2,y=4,z=8", "--wrt", "x,z")
    assert one_json(*args)["hessian"] == [[0.0, None], [None, None]]
    assert one_json(*args, "--unconnected", "zero")["hessian"] == [[0.0, 0.0], [0.0, 0.0]]
    plain = invoke(*args)
    assert plain.stdout == "0.0 None\nNone None\n"


def test_hessian_of_an_array_variable_has_shapes():
    obj = one_json("hessian", "sum(v**3)", "--at", "v=[1,2]")
    assert list(obj) == [*MATRIX_KEYS, "shapes", "hessian"]
    assert obj["shapes"] == {"v": [2]}
    assert obj["hessian"] == [[6.0, 0.0], [0.0, 12.0]]  # diag(6 vᵢ)


def test_hessian_table():
    out = table("hessian", BAYDIN, "--at", BAYDIN_AT)
    assert "hessian of " + BAYDIN in out
    assert re.search(r"x1\s+-0\.25\s+1\s*$", out, re.MULTILINE)
    assert re.search(r"x2\s+1\s+-0\.95892427\s*$", out, re.MULTILINE)


JACOBIAN = "[x*y, sin(x), x + y]"
JACOBIAN_AT_1_2 = [[2.0, 1.0], [math.cos(1), 0.0], [1.0, 1.0]]  # rows: ∂/∂x, ∂/∂y


def test_jacobian_plain_and_json():
    result = invoke("jacobian", JACOBIAN, "--at", "x=1,y=2")
    assert result.exit_code == 0, result.stderr
    assert [floats(line) for line in result.stdout.splitlines()] == JACOBIAN_AT_1_2
    obj = one_json("jacobian", JACOBIAN, "--at", "x=1,y=2")
    assert list(obj) == [*MATRIX_KEYS, "jacobian"]
    assert obj["value"] == [2.0, math.sin(1), 3.0]
    assert obj["variables"] == ["x", "y"]
    assert obj["jacobian"] == JACOBIAN_AT_1_2


def test_jacobian_several_points_wrt_and_unconnected_zero():
    result = invoke("jacobian", JACOBIAN, "--at", "x=1,y=2", "--at", "x=0,y=3",
                    "--format", "json")
    first, second = json_lines(result.stdout)
    assert first["jacobian"] == JACOBIAN_AT_1_2
    assert second["jacobian"] == [[3.0, 0.0], [1.0, 0.0], [1.0, 1.0]]
    obj = one_json("jacobian", JACOBIAN, "--at", "x=1,y=2,z=3", "--wrt", "y,z")
    assert obj["variables"] == ["y", "z"]
    assert obj["jacobian"] == [[1.0, None], [0.0, None], [1.0, None]]
    obj = one_json("jacobian", JACOBIAN, "--at", "x=1,y=2,z=3", "--wrt", "y,z",
                   "--unconnected", "zero")
    assert obj["jacobian"] == [[1.0, 0.0], [0.0, 0.0], [1.0, 0.0]]


def test_jacobian_of_an_array_variable_has_shapes():
    obj = one_json("jacobian", "v*x", "--at", "v=[1,2],x=3")
    assert list(obj) == [*MATRIX_KEYS, "shapes", "jacobian"]
    assert obj["shapes"] == {"v": [2], "x": []}
    assert obj["jacobian"] == [[3.0, 0.0, 1.0], [0.0, 3.0, 2.0]]


def test_jvp_plain_and_json():
    result = invoke("jvp", "[x*y, sin(x)]", "--at", "x=1,y=2", "--v", "x=1")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"[2.0, {math.cos(1)!r}]\n"
    obj = one_json("jvp", "[x*y, sin(x)]", "--at", "x=1,y=2", "--v", "x=1")
    assert list(obj) == [*MATRIX_KEYS, "jvp"]
    assert obj["jvp"] == [2.0, math.cos(1)]
    # a number: the directional derivative y·vx + x·vy
    obj = one_json("jvp", "x*y", "--at", "x=1,y=2", "--v", "x=1,y=1")
    assert obj["jvp"] == 3.0
    result = invoke("jvp", "x*y", "--at", "x=1,y=2", "--at", "x=3,y=5", "--v", "x=2,y=-1",
                    "--format", "json")
    assert [o["jvp"] for o in json_lines(result.stdout)] == [2 * 2 - 1, 5 * 2 - 3]


def test_hvp_plain_and_json():
    # H of x²y + y³ = [[2y, 2x], [2x, 6y]] = [[4, 2], [2, 12]] at (1, 2)
    result = invoke("hvp", "x**2*y + y**3", "--at", "x=1,y=2", "--v", "x=1,y=0")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "4.0\n2.0\n"
    obj = one_json("hvp", "x**2*y + y**3", "--at", "x=1,y=2", "--v", "x=1,y=0")
    assert list(obj) == [*MATRIX_KEYS, "hvp"]
    assert obj["value"] == 10.0
    assert obj["variables"] == ["x", "y"]
    assert obj["hvp"] == [4.0, 2.0]
    assert one_json("hvp", "x**2*y + y**3", "--at", "x=1,y=2", "--v", "y=1")["hvp"] == [2.0, 12.0]


def test_hvp_of_an_array_variable_has_its_shape():
    obj = one_json("hvp", "sum(v**3)", "--at", "v=[1,2]", "--v", "v=[1,0]")
    assert obj["shapes"] == {"v": [2]}
    assert obj["hvp"] == [[6.0, 0.0]]


def test_hvp_table():
    out = table("hvp", "x**2*y + y**3", "--at", "x=1,y=2", "--v", "x=1,y=0")
    assert "H·v" in out
    assert re.search(r"^\s*x\s+4\s*$", out, re.MULTILINE)
    assert re.search(r"^\s*y\s+2\s*$", out, re.MULTILINE)


@pytest.mark.parametrize("args, words", [
    (["hessian", "v*2", "--at", "v=[1,2]"], ["shape (2,)", "sum("]),
    (["hessian", "[x, y]", "--at", "x=1,y=2"], ["shape (2,)"]),
    (["hvp", "[x, y]", "--at", "x=1,y=2", "--v", "x=1"], ["shape (2,)"]),
    (["hvp", "x*y", "--at", "x=1,y=2", "--v", "q=1"], ["'q'"]),
    (["jvp", "x*y", "--at", "x=1,y=2", "--v", "q=1"], ["'q'"]),
    (["hvp", "sum(v**2)", "--at", "v=[1,2]", "--v", "v=[1,2,3]"], ["(3,)", "(2,)"]),
    (["jvp", "sum(v**2)", "--at", "v=[1,2]", "--v", "v=[1,2,3]"], ["(3,)", "(2,)"]),
    (["hessian", "x*y", "--at", "x=1,y=2", "--wrt", "x,q"], ["'q'"]),
    (["jvp", "x*y", "--at", "x=1,y=2"], ["--v"]),
], ids=["hessian-array-output", "hessian-vector", "hvp-vector", "hvp-unknown-v", "jvp-unknown-v",
        "hvp-wrong-shape", "jvp-wrong-shape", "hessian-unknown-wrt", "jvp-missing-v"])
def test_derivative_commands_bad_input_exit_2(args, words):
    usage_error(invoke(*args), *words)


@pytest.mark.parametrize("command", [
    ["hessian", "sin(x", "--at", "x=1"],
    ["jacobian", "sin(x", "--at", "x=1"],
    ["jvp", "sin(x", "--at", "x=1", "--v", "x=1"],
    ["hvp", "sin(x", "--at", "x=1", "--v", "x=1"],
    ["graph", "sin(x"],
])
def test_syntax_error_has_a_caret(command):
    result = invoke(*command)
    usage_error(result, "syntax error", "never closed")
    assert result.stderr.startswith("gradcli: error: ")
    lines = result.stderr.splitlines()
    assert lines[-2].strip() == "sin(x"
    assert lines[-1].strip() == "^"
    assert lines[-1].index("^") == lines[-2].index("sin(x") + len("sin(x")


def test_v_syntax_error_names_the_v_option():
    result = invoke("hvp", "x*y", "--at", "x=1,y=2", "--v", "x=1,")
    usage_error(result, "^")
    assert "in --at" not in result.stderr


# ---------------------------------------------------------------------------------------------
# graph


def test_graph_dot_without_a_point_has_formulas_and_no_numbers():
    result = invoke("graph", CHAIN)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.startswith("digraph")
    assert out.rstrip().endswith("}")
    for text in ("v₀ = x", "v₀**2", "sin(v₀)", 'label="2*v₀"', 'label="cos(v₀)"'):
        assert text in out, text
    assert "3.63719" not in out and "v̄" not in out


def test_graph_dot_with_a_point_shows_values_adjoints_and_partials():
    result = invoke("graph", CHAIN, "--at", "x=2", "--format", "dot")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.startswith("digraph")
    assert f"= {CHAIN_VALUE:.6g}" in out  # the output's value
    assert f"v̄₀ = {CHAIN_GRADIENT:.6g}" in out  # x̄ is the gradient
    assert f"cos(v₀) = {math.cos(2):.6g}" in out  # the partial of sin on its edge
    assert f"= {math.sin(2):.6g}" in out


def test_graph_of_the_baydin_example_has_the_adjoints_of_table_3():
    out = invoke("graph", BAYDIN, "--at", BAYDIN_AT).stdout
    assert "v̄₋₁ = 5.5" in out
    assert f"v̄₀ = {BAYDIN_GRADIENT['x2']:.6g}" in out
    assert out.count(" -> ") == 8  # an edge per argument that is not a constant


def test_graph_mermaid():
    result = invoke("graph", CHAIN, "--at", "x=2", "--format", "mermaid")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("flowchart")
    assert f"{CHAIN_VALUE:.6g}" in result.stdout
    assert f"cos(v₀) = {math.cos(2):.6g}" in result.stdout
    assert result.stdout.count("-->") == 4


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graph_svg_with_graphviz():
    result = invoke("graph", CHAIN, "--at", "x=2", "--format", "svg")
    assert result.exit_code == 0, result.stderr
    assert "<svg" in result.stdout
    assert result.stdout.rstrip().endswith("</svg>")
    assert "sin(v₀)" in result.stdout


def test_graph_svg_without_graphviz_is_a_usage_error(tmp_path):
    # an empty PATH: shutil.which("dot") finds nothing
    result = invoke("graph", CHAIN, "--format", "svg", env={"PATH": str(tmp_path)})
    usage_error(result, "Graphviz")
    assert "--format dot" in result.stderr


def test_graph_bad_input_exit_2():
    usage_error(invoke("graph", "x*y", "--at", "x=1"), "'y'")
    usage_error(invoke("graph", CHAIN, "--format", "png"))


# ---------------------------------------------------------------------------------------------
# diff


def _python(formula: str, **values: float) -> float:
    return eval(formula, {"__builtins__": {}}, {**vars(math), **values})


def test_diff_text_is_the_derivative():
    result = invoke("diff", CHAIN)
    assert result.exit_code == 0, result.stderr
    assert _python(result.stdout.strip(), x=2.0) == pytest.approx(CHAIN_GRADIENT, rel=1e-14)
    result = invoke("diff", CHAIN, "--order", "2")
    assert _python(result.stdout.strip(), x=2.0) == pytest.approx(CHAIN_SECOND, rel=1e-14)


def test_diff_json_one_derivative_per_variable():
    result = invoke("diff", BAYDIN, "--format", "json")
    assert result.exit_code == 0, result.stderr
    (obj,) = json_lines(result.stdout)
    assert obj["variables"] == ["x1", "x2"]
    for variable, formula in zip(obj["variables"], obj["derivatives"], strict=True):
        assert _python(formula, x1=2.0, x2=5.0) == pytest.approx(BAYDIN_GRADIENT[variable],
                                                                 rel=1e-14)


# ---------------------------------------------------------------------------------------------
# --help

EXAMPLES = {
    "diff": 'gradcli diff "x**2*sin(x)"',
    "hessian": 'gradcli hessian "log(x1) + x1*x2 - sin(x2)" --at x1=2,x2=5',
    "jacobian": "gradcli jacobian",
    "jvp": "gradcli jvp",
    "hvp": 'gradcli hvp "x**2*y + y**3" --at x=1,y=2 --v x=1,y=0',
    "graph": 'gradcli graph "x**2*sin(x)" --at x=2 --format dot',
}


@pytest.mark.parametrize("command", sorted(EXAMPLES))
def test_help_of_each_new_command_shows_an_example(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0, result.stderr
    assert "Usage" in result.stdout
    assert "Example" in result.stdout
    assert EXAMPLES[command] in result.stdout


@pytest.mark.parametrize("args, text", [
    (["jacobian", "--help"], 'gradcli jacobian "[x*y, sin(x), x + y]" --at x=1,y=2'),
    (["jvp", "--help"], 'gradcli jvp "[x*y, sin(x)]" --at x=1,y=2 --v x=1'),
    (["--help"], "written [f1, f2, ...]"),
], ids=["jacobian", "jvp", "top-level"])
def test_help_keeps_bracketed_examples(args, text):
    result = invoke(*args)
    assert result.exit_code == 0
    assert text in result.stdout


def test_top_level_help_lists_the_new_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    listed = set(re.findall(r"^(?:│ |  )(\w+)\s", result.stdout, re.MULTILINE))
    assert {"grad", "diff", "hessian", "jacobian", "jvp", "hvp", "graph"} <= listed


def test_grad_help_shows_the_new_options():
    result = invoke("grad", "--help")
    assert result.exit_code == 0
    for option in ("--trace", "--mode", "--seed-dir", "--explain", "--max-rows"):
        assert option in result.stdout
    assert "--trace" in result.stdout.split("Examples:", 1)[1]


# ---------------------------------------------------------------------------------------------
# The installed entry point


def _run(*args: str, cwd) -> subprocess.CompletedProcess:
    path = shutil.which("gradcli")
    if path is None:
        pytest.fail("the gradcli entry point is not on PATH (pip install -e '.[test]')")
    env = dict(os.environ)
    for key in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        env.pop(key, None)
    return subprocess.run([path, *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=120)


def test_process_grad_trace_json(tmp_path):
    proc = _run("grad", BAYDIN, "--at", BAYDIN_AT, "--trace", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    (obj,) = json_lines(proc.stdout)
    assert list(obj) == [*GRAD_KEYS, "trace"]
    assert obj["value"] == BAYDIN_VALUE
    assert obj["gradient"] == BAYDIN_GRADIENT
    accumulated = [s["running"] for s in obj["trace"]["adjoint"] if s["accumulated"]]
    assert accumulated == [BAYDIN_GRADIENT["x2"], BAYDIN_GRADIENT["x1"]]
    assert "v̄₀ += " in proc.stdout  # UTF-8 text, not \u escapes


def test_process_hessian(tmp_path):
    proc = _run("hessian", BAYDIN, "--at", BAYDIN_AT, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [floats(line) for line in proc.stdout.splitlines()] == BAYDIN_HESSIAN
    proc = _run("hessian", "v*2", "--at", "v=[1,2]", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr and "gradcli: error:" in proc.stderr
