"""The command line against the output contract of the issue.

Most tests drive the Typer app in-process with typer's CliRunner (stdout and stderr captured
separately); a few run the installed `gradcli` entry point and `python -m gradcli` in a
subprocess, where stdout is a real pipe (so the default format is plain) or a pseudo-terminal
(so the default format is the table).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import gradcli
from gradcli.cli import app
from gradcli.functions import FUNCTIONS

JSON_KEYS = ["expression", "point", "value", "gradient", "unconnected"]

# Environment for every run: no colour forcing from the outer environment, a wide terminal so
# Rich tables are not wrapped.
CLEAN_ENV = {"FORCE_COLOR": None, "NO_COLOR": None, "TTY_COMPATIBLE": None,
             "TTY_INTERACTIVE": None, "COLUMNS": "200"}


def invoke(*args: str, stdin: str | None = None, env: dict | None = None):
    runner = CliRunner()
    merged = dict(CLEAN_ENV)
    merged.update(env or {})
    result = runner.invoke(app, list(args), input=stdin, env=merged)
    # No crash: only a clean SystemExit (or nothing) may end a run.
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"gradcli {' '.join(args)} raised {result.exception!r}\nstderr: {result.stderr}")
    return result


def _reject_constant(name: str):
    raise AssertionError(f"not strict JSON: {name}")


def strict_loads(line: str):
    """json.loads that refuses NaN, Infinity and -Infinity (which strict JSON does not have)."""
    return json.loads(line, parse_constant=_reject_constant)


def json_lines(stdout: str) -> list[dict]:
    lines = stdout.splitlines()
    assert lines, "no output"
    assert all(line.strip() for line in lines), f"blank line in JSON output: {stdout!r}"
    return [strict_loads(line) for line in lines]


def no_traceback(result) -> None:
    assert "Traceback" not in result.stdout + result.stderr


# ---------------------------------------------------------------------------------------------
# The examples of the issue


def test_issue_example_json_two_variables_exact_line():
    result = invoke("grad", "log(x1) + x1*x2 - sin(x2)", "--at", "x1=2,x2=5", "--format", "json")
    assert result.exit_code == 0, result.stderr
    expected = ('{"expression": "log(x1) + x1*x2 - sin(x2)", "point": {"x1": 2.0, "x2": 5.0}, '
                '"value": 11.652071455223084, "gradient": {"x1": 5.5, "x2": 1.7163378145367738}, '
                '"unconnected": []}')
    assert result.stdout == expected + "\n"
    obj = strict_loads(result.stdout)
    assert list(obj) == JSON_KEYS
    assert obj == {"expression": "log(x1) + x1*x2 - sin(x2)", "point": {"x1": 2.0, "x2": 5.0},
                   "value": 11.652071455223084,
                   "gradient": {"x1": 5.5, "x2": 1.7163378145367738}, "unconnected": []}
    assert list(obj["gradient"]) == ["x1", "x2"]
    assert list(obj["point"]) == ["x1", "x2"]
    assert result.stderr == ""


def test_issue_example_json_unconnected_exact_line():
    result = invoke("grad", "x + y", "--at", "x=2,y=4,z=8", "--wrt", "z", "--format", "json")
    assert result.exit_code == 0, result.stderr
    expected = ('{"expression": "x + y", "point": {"x": 2.0, "y": 4.0, "z": 8.0}, "value": 6.0, '
                '"gradient": {"z": null}, "unconnected": ["z"]}')
    assert result.stdout == expected + "\n"
    obj = strict_loads(result.stdout)
    assert list(obj) == JSON_KEYS
    assert obj["gradient"] == {"z": None}
    assert obj["unconnected"] == ["z"]


def test_issue_example_unconnected_zero_plain():
    result = invoke("grad", "x + y", "--at", "x=2,y=4,z=8", "--wrt", "z",
                    "--unconnected", "zero", "--format", "plain")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "0.0\n"


def test_issue_example_eval():
    result = invoke("eval", "cos(x**3*exp(x))", "--at", "x=1")
    assert result.exit_code == 0, result.stderr
    assert float(result.stdout.strip()) == math.cos(math.e)
    assert result.stdout == f"{math.cos(1**3 * math.exp(1))!r}\n"


def test_issue_example_grad_plain_by_default_when_not_a_terminal():
    result = invoke("grad", "x**2*sin(x)", "--at", "x=2")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "1.9726023611141572\n"


# ---------------------------------------------------------------------------------------------
# JSON


def test_json_key_order_and_no_warnings_key_when_clean():
    result = invoke("grad", "x*y", "--at", "x=2,y=3", "--format", "json")
    assert result.exit_code == 0
    (obj,) = json_lines(result.stdout)
    assert list(obj) == JSON_KEYS
    assert "warnings" not in obj
    assert obj["gradient"] == {"x": 3.0, "y": 2.0}


def test_json_numbers_round_trip_with_repr_precision():
    result = invoke("grad", "x**2*sin(x)", "--at", "x=2", "--format", "json")
    (obj,) = json_lines(result.stdout)
    assert obj["value"] == 3.637189707302727
    assert obj["gradient"]["x"] == 1.9726023611141572
    assert '"value": 3.637189707302727,' in result.stdout
    assert '"x": 1.9726023611141572}' in result.stdout
    # one third needs all 17 significant digits to round-trip
    result = invoke("eval", "x/3", "--at", "x=1", "--format", "json")
    (obj,) = json_lines(result.stdout)
    assert obj["value"] == 1 / 3
    assert repr(1 / 3) in result.stdout


def test_json_one_object_per_point_in_order():
    result = invoke("grad", "x**2", "--at", "x=3", "--at", "x=1", "--at", "x=2",
                    "--format", "json")
    assert result.exit_code == 0, result.stderr
    objs = json_lines(result.stdout)
    assert len(objs) == 3
    assert [o["point"] for o in objs] == [{"x": 3.0}, {"x": 1.0}, {"x": 2.0}]
    assert [o["gradient"]["x"] for o in objs] == [6.0, 2.0, 4.0]
    assert [o["value"] for o in objs] == [9.0, 1.0, 4.0]
    for obj in objs:
        assert list(obj) == JSON_KEYS


def test_json_gradient_follows_wrt_order():
    result = invoke("grad", "x*y*z", "--at", "x=1,y=2,z=3", "--wrt", "z,x,y", "--format", "json")
    (obj,) = json_lines(result.stdout)
    assert list(obj["gradient"]) == ["z", "x", "y"]
    assert obj["gradient"] == {"z": 2.0, "x": 6.0, "y": 3.0}


def test_default_wrt_is_every_free_variable_in_order_of_first_appearance():
    result = invoke("grad", "b*c + a*b + sin(c)", "--at", "a=1,b=2,c=0", "--format", "json")
    (obj,) = json_lines(result.stdout)
    assert list(obj["gradient"]) == ["b", "c", "a"]
    assert obj["gradient"] == {"b": 1.0, "c": 3.0, "a": 2.0}
    # constants are not variables
    result = invoke("grad", "pi*x + e", "--at", "x=1", "--format", "json")
    (obj,) = json_lines(result.stdout)
    assert list(obj["gradient"]) == ["x"]
    assert obj["gradient"]["x"] == math.pi


def test_point_key_order_follows_at():
    result = invoke("grad", "x + y", "--at", "y=1,x=2", "--format", "json")
    (obj,) = json_lines(result.stdout)
    assert list(obj["point"]) == ["y", "x"]
    assert list(obj["gradient"]) == ["x", "y"]


def test_name_only_in_at_is_not_in_default_gradient_but_unconnected_when_asked():
    result = invoke("grad", "x + y", "--at", "x=2,y=4,z=8", "--format", "json")
    (obj,) = json_lines(result.stdout)
    assert obj["gradient"] == {"x": 1.0, "y": 1.0}
    assert obj["unconnected"] == []
    result = invoke("grad", "x + y", "--at", "x=2,y=4,z=8", "--wrt", "x,z", "--format", "json")
    (obj,) = json_lines(result.stdout)
    assert obj["gradient"] == {"x": 1.0, "z": None}
    assert obj["unconnected"] == ["z"]


def test_wrt_name_not_in_expression_nor_point_is_unconnected():
    result = invoke("grad", "x**2", "--at", "x=3", "--wrt", "x,q", "--format", "json")
    assert result.exit_code == 0, result.stderr
    (obj,) = json_lines(result.stdout)
    assert obj["gradient"] == {"x": 6.0, "q": None}
    assert obj["unconnected"] == ["q"]


# ---------------------------------------------------------------------------------------------
# Unconnected modes


def test_unconnected_none_is_default():
    result = invoke("grad", "x + y", "--at", "x=2,y=4,z=8", "--wrt", "x,z")
    assert result.exit_code == 0
    assert result.stdout == "1.0 None\n"
    explicit = invoke("grad", "x + y", "--at", "x=2,y=4,z=8", "--wrt", "x,z",
                      "--unconnected", "none")
    assert explicit.stdout == result.stdout


def test_unconnected_zero_json():
    result = invoke("grad", "x + y", "--at", "x=2,y=4,z=8", "--wrt", "z,x", "--unconnected", "zero",
                    "--format", "json")
    assert result.exit_code == 0
    (obj,) = json_lines(result.stdout)
    assert obj["gradient"] == {"z": 0.0, "x": 1.0}
    assert isinstance(obj["gradient"]["z"], float)
    assert obj["unconnected"] == ["z"]


@pytest.mark.parametrize("fmt", ["plain", "json", "table"])
def test_unconnected_error_exits_1_naming_the_variable(fmt):
    result = invoke("grad", "x + y", "--at", "x=2,y=4,z=8", "--wrt", "z",
                    "--unconnected", "error", "--format", fmt)
    assert result.exit_code == 1
    assert "'z'" in result.stderr
    assert "unconnected" in result.stderr
    assert result.stdout == ""
    no_traceback(result)


def test_unconnected_error_with_everything_connected_succeeds():
    result = invoke("grad", "x + y", "--at", "x=2,y=4", "--unconnected", "error")
    assert result.exit_code == 0
    assert result.stdout == "1.0 1.0\n"


# ---------------------------------------------------------------------------------------------
# Plain


def test_plain_one_line_per_point_components_in_wrt_order():
    result = invoke("grad", "x**2*y", "--at", "x=1,y=5", "--at", "x=2,y=7", "--wrt", "y,x",
                    "--format", "plain")
    assert result.exit_code == 0
    assert result.stdout == "1.0 10.0\n4.0 28.0\n"


def test_plain_repr_precision():
    result = invoke("grad", "log(x1) + x1*x2 - sin(x2)", "--at", "x1=2,x2=5", "--format", "plain")
    assert result.stdout == "5.5 1.7163378145367738\n"


def test_eval_plain_prints_value_per_point():
    result = invoke("eval", "x/3", "--at", "x=1", "--at", "x=2")
    assert result.exit_code == 0
    assert result.stdout == f"{1 / 3!r}\n{2 / 3!r}\n"


def test_eval_json():
    result = invoke("eval", "cos(x**3*exp(x))", "--at", "x=1", "--format", "json")
    assert result.exit_code == 0
    (obj,) = json_lines(result.stdout)
    assert obj["expression"] == "cos(x**3*exp(x))"
    assert obj["point"] == {"x": 1.0}
    assert obj["value"] == math.cos(math.e)
    assert "gradient" not in obj


# ---------------------------------------------------------------------------------------------
# Expression input: stdin, leading minus, implicit multiplication; --at values


def test_expression_from_stdin():
    result = invoke("grad", "-", "--at", "x=2", stdin="x**2*sin(x)\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "1.9726023611141572\n"


def test_expression_from_stdin_json():
    result = invoke("grad", "-", "--at", "x1=2,x2=5", "--format", "json",
                    stdin="log(x1) + x1*x2 - sin(x2)\n")
    assert result.exit_code == 0, result.stderr
    (obj,) = json_lines(result.stdout)
    assert obj["expression"].strip() == "log(x1) + x1*x2 - sin(x2)"
    assert obj["gradient"] == {"x1": 5.5, "x2": 1.7163378145367738}


def test_eval_expression_from_stdin():
    result = invoke("eval", "-", "--at", "x=1", stdin="cos(x**3*exp(x))")
    assert result.exit_code == 0
    assert float(result.stdout) == math.cos(math.e)


@pytest.mark.parametrize("args, expected", [
    (["grad", "-x**2", "--at", "x=1"], "-2.0\n"),
    (["grad", "--at", "x=1", "-x**2"], "-2.0\n"),
    (["grad", "-x**2", "--at", "x=3", "--format", "plain"], "-6.0\n"),
    (["grad", "-sin(x)", "--at", "x=0"], "-1.0\n"),
    (["grad", "-x*y", "--at", "x=2,y=3", "--wrt", "y"], "-2.0\n"),
    (["eval", "-x**2", "--at", "x=3"], "-9.0\n"),
    (["eval", "-1"], "-1.0\n"),
])
def test_leading_minus_is_an_expression_not_an_option(args, expected):
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == expected


def test_leading_minus_json_keeps_the_expression():
    result = invoke("grad", "-x**2", "--at", "x=1", "--format", "json")
    (obj,) = json_lines(result.stdout)
    assert obj["expression"] == "-x**2"
    assert obj["value"] == -1.0
    assert obj["gradient"] == {"x": -2.0}


def test_negative_at_value():
    result = invoke("grad", "x**3", "--at", "x=-2")
    assert result.exit_code == 0
    assert result.stdout == "12.0\n"


@pytest.mark.parametrize("expression, point, gradient", [
    ("2x", "x=3", "2.0"),
    ("2(x+1)", "x=3", "2.0"),
    ("(x+1)(x-1)", "x=3", "6.0"),
    ("2 sin(x)", "x=0", "2.0"),
])
def test_implicit_multiplication(expression, point, gradient):
    result = invoke("grad", expression, "--at", point)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == gradient + "\n"


def test_constant_expression_values_in_at():
    result = invoke("grad", "x*y", "--at", "x=pi/4,y=2e-3", "--format", "json")
    assert result.exit_code == 0, result.stderr
    (obj,) = json_lines(result.stdout)
    assert obj["point"] == {"x": math.pi / 4, "y": 2e-3}
    assert obj["gradient"] == {"x": 2e-3, "y": math.pi / 4}
    result = invoke("eval", "x", "--at", "x=sqrt(2)", "--format", "json")
    (obj,) = json_lines(result.stdout)
    assert obj["value"] == math.sqrt(2)
    result = invoke("eval", "x", "--at", "x=-e", "--format", "json")
    (obj,) = json_lines(result.stdout)
    assert obj["value"] == -math.e


# ---------------------------------------------------------------------------------------------
# Non-finite numbers


def test_nonfinite_value_is_a_string_with_a_warning():
    result = invoke("grad", "log(x)", "--at", "x=-1", "--format", "json")
    assert result.exit_code == 0
    (obj,) = json_lines(result.stdout)  # strict: no NaN literal
    assert "NaN" not in result.stdout
    assert obj["value"] == "nan"
    assert obj["gradient"] == {"x": -1.0}
    assert list(obj) == JSON_KEYS + ["warnings"]
    assert obj["warnings"] and all(isinstance(w, str) for w in obj["warnings"])
    assert "warning" in result.stderr
    assert "log(x)" in result.stderr


@pytest.mark.parametrize("args, expected", [
    (("grad", "sqrt(x)", "--at", "x=0"), {"value": 0.0, "gradient": {"x": "inf"}}),
    (("grad", "log(x)", "--at", "x=0"), {"value": "-inf", "gradient": {"x": "inf"}}),
    (("eval", "1/x", "--at", "x=0"), {"value": "inf"}),
])
def test_nonfinite_numbers_are_strings_with_a_warning(args, expected):
    result = invoke(*args, "--format", "json")
    assert result.exit_code == 0
    (obj,) = json_lines(result.stdout)
    assert "Infinity" not in result.stdout
    assert {key: obj[key] for key in expected} == expected
    assert obj["warnings"]
    assert "warning" in result.stderr


def test_nonfinite_only_at_some_points_gets_warnings_only_there():
    result = invoke("grad", "log(x)", "--at", "x=1", "--at", "x=-1", "--format", "json")
    assert result.exit_code == 0
    first, second = json_lines(result.stdout)
    assert "warnings" not in first
    assert first["value"] == 0.0
    assert second["value"] == "nan"
    assert second["warnings"]


def test_nonfinite_plain_warns_on_stderr_and_keeps_stdout_data_only():
    result = invoke("grad", "sqrt(x)", "--at", "x=0", "--format", "plain")
    assert result.exit_code == 0
    assert result.stdout == "inf\n"
    assert "warning" in result.stderr
    result = invoke("eval", "log(x)", "--at", "x=-1")
    assert result.exit_code == 0
    assert result.stdout == "nan\n"
    assert "log(x)" in result.stderr


# ---------------------------------------------------------------------------------------------
# Table


def test_table_contains_value_and_gradient():
    result = invoke("grad", "x**2*sin(x)", "--at", "x=2", "--format", "table")
    assert result.exit_code == 0, result.stderr
    assert "3.637189707302727" in result.stdout
    assert "1.9726023611141572" in result.stdout
    assert "x**2*sin(x)" in result.stdout
    assert result.stderr == ""


def test_table_several_points_and_unconnected():
    result = invoke("grad", "x + y", "--at", "x=2,y=4,z=8", "--at", "x=1,y=1,z=1",
                    "--wrt", "x,z", "--format", "table")
    assert result.exit_code == 0
    out = result.stdout
    assert "6.0" in out and "2.0" in out
    assert "None" in out
    assert out.index("x=2.0") < out.index("x=1.0")


def test_eval_table():
    result = invoke("eval", "cos(x**3*exp(x))", "--at", "x=1", "--format", "table")
    assert result.exit_code == 0
    assert repr(math.cos(math.e)) in result.stdout


def test_table_respects_no_color():
    result = invoke("grad", "x**2*sin(x)", "--at", "x=2", "--format", "table",
                    env={"NO_COLOR": "1"})
    assert result.exit_code == 0
    assert "\x1b[" not in result.stdout
    assert "1.9726023611141572" in result.stdout


# ---------------------------------------------------------------------------------------------
# functions, --version, --help


def _all_names():
    return [(f.name, f.aliases) for f in FUNCTIONS]


def test_functions_plain_lists_every_function_and_alias():
    result = invoke("functions")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(FUNCTIONS)
    for (name, aliases), line in zip(_all_names(), lines, strict=True):
        assert line.startswith(name + "("), line
        for alias in aliases:
            assert alias in line, (alias, line)
        assert "d/d" in line


def test_functions_json_parses_and_covers_every_function():
    result = invoke("functions", "--format", "json")
    assert result.exit_code == 0, result.stderr
    objs = json_lines(result.stdout)
    assert [o["name"] for o in objs] == [f.name for f in FUNCTIONS]
    for obj, f in zip(objs, FUNCTIONS, strict=True):
        assert obj["aliases"] == list(f.aliases)
        assert obj["signature"] == f.signature
        assert isinstance(obj["derivatives"], dict) and obj["derivatives"]
    sin = objs[[o["name"] for o in objs].index("sin")]
    assert sin["derivatives"] == {"x": "cos(x)"}


def test_functions_table_lists_every_function_and_alias():
    result = invoke("functions", "--format", "table")
    assert result.exit_code == 0, result.stderr
    for name, aliases in _all_names():
        assert name in result.stdout
        for alias in aliases:
            assert alias in result.stdout


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert gradcli.__version__ in result.stdout
    assert result.stdout.strip() == f"gradcli {gradcli.__version__}"


@pytest.mark.parametrize("args", [[], ["grad"], ["eval"], ["functions"]])
def test_help_for_every_command(args):
    result = invoke(*args, "--help")
    assert result.exit_code == 0, result.stderr
    assert "Usage" in result.stdout
    if args and args[0] in ("grad", "eval"):
        assert "--at" in result.stdout
    if args == ["grad"]:
        for option in ("--wrt", "--unconnected", "--format"):
            assert option in result.stdout
    if not args:
        for command in ("grad", "eval", "functions"):
            assert command in result.stdout


# ---------------------------------------------------------------------------------------------
# The installed entry point and `python -m gradcli`, in real processes


def _subprocess_env() -> dict:
    env = dict(os.environ)
    for key in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        env.pop(key, None)
    env["COLUMNS"] = "200"
    return env


def _gradcli() -> list[str]:
    path = shutil.which("gradcli")
    if path is None:
        pytest.fail("the gradcli entry point is not on PATH (pip install -e '.[test]')")
    return [path]


def _module() -> list[str]:
    return [sys.executable, "-m", "gradcli"]


LAUNCHERS = {"entry-point": _gradcli, "python-m": _module}


def run(command: list[str], *args: str, stdin: str | None = None, cwd=None):
    return subprocess.run([*command, *args], input=stdin, capture_output=True, text=True,
                          env=_subprocess_env(), cwd=cwd, timeout=120)


@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_process_pipe_defaults_to_plain(launcher, tmp_path):
    proc = run(LAUNCHERS[launcher](), "grad", "x**2*sin(x)", "--at", "x=2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "1.9726023611141572\n"
    assert proc.stderr == ""


@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_process_json_example(launcher, tmp_path):
    proc = run(LAUNCHERS[launcher](), "grad", "log(x1) + x1*x2 - sin(x2)", "--at", "x1=2,x2=5",
               "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        '{"expression": "log(x1) + x1*x2 - sin(x2)", "point": {"x1": 2.0, "x2": 5.0}, '
        '"value": 11.652071455223084, "gradient": {"x1": 5.5, "x2": 1.7163378145367738}, '
        '"unconnected": []}\n')


@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_process_reads_stdin(launcher, tmp_path):
    proc = run(LAUNCHERS[launcher](), "grad", "-", "--at", "x=2", stdin="x**2*sin(x)\n",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "1.9726023611141572\n"


@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_process_version(launcher, tmp_path):
    proc = run(LAUNCHERS[launcher](), "--version", cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"gradcli {gradcli.__version__}"


@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_process_exit_codes_and_streams(launcher, tmp_path):
    command = LAUNCHERS[launcher]()
    proc = run(command, "grad", "x + y", "--at", "x=2,y=4,z=8", "--wrt", "z",
               "--unconnected", "error", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "'z'" in proc.stderr
    proc = run(command, "grad", "sinn(x)", "--at", "x=1", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "did you mean 'sin'?" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run(command, "grad", "log(x)", "--at", "x=-1", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0
    assert strict_loads(proc.stdout)["value"] == "nan"
    assert "log(x)" in proc.stderr


def test_process_leading_minus_and_unconnected_zero(tmp_path):
    proc = run(_gradcli(), "grad", "-x**2", "--at", "x=1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "-2.0\n"
    proc = run(_gradcli(), "grad", "x + y", "--at", "x=2,y=4,z=8", "--wrt", "z",
               "--unconnected", "zero", "--format", "plain", cwd=tmp_path)
    assert proc.stdout == "0.0\n"


# --- on a terminal: a pseudo-terminal as stdout


def _run_in_pty(args: list[str], env: dict) -> tuple[int, bytes]:
    pty = pytest.importorskip("pty")
    import select

    try:
        master, slave = pty.openpty()
    except OSError as error:  # pragma: no cover - no pseudo-terminals here
        pytest.skip(f"no pseudo-terminal: {error}")
    try:
        proc = subprocess.Popen(args, stdout=slave, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, env=env)
    finally:
        os.close(slave)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                proc.kill()
                pytest.fail("gradcli on a pseudo-terminal did not finish")
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO once the child has closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    proc.stderr.close()
    return proc.wait(timeout=60), b"".join(chunks)


def test_terminal_defaults_to_table():
    env = _subprocess_env()
    env["TERM"] = "xterm-256color"
    code, out = _run_in_pty([*_gradcli(), "grad", "x**2*sin(x)", "--at", "x=2"], env)
    assert code == 0
    text = out.decode("utf-8", "replace")
    assert "3.637189707302727" in text
    assert "1.9726023611141572" in text
    assert "point" in text and "value" in text  # the table's headers, not a plain line


def test_terminal_table_respects_no_color():
    env = _subprocess_env()
    env["TERM"] = "xterm-256color"
    env["NO_COLOR"] = "1"
    code, out = _run_in_pty([*_gradcli(), "grad", "x**2*sin(x)", "--at", "x=2"], env)
    assert code == 0
    assert b"1.9726023611141572" in out
    assert b"\x1b[" not in out, f"ANSI escapes with NO_COLOR=1: {out[:120]!r}..."
