"""Output is never lost, nor reported as read when it was not: in real processes.

- stdout a pipe whose reader leaves early (`gradcli ... | head -1`): gradcli leaves quietly, with
  141 (128 + SIGPIPE, what a shell reports for `cat big | head -1`), whatever the format, however
  large its writes;
- Ctrl-C: one line, `gradcli: interrupted`, and exit code 130;
- `--junit FILE`: written whole or not at all;
- the same command twice: the same bytes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_cli import _subprocess_env

import gradcli
import gradcli.junit
from gradcli.cli import app
from gradcli.cli_common import BROKEN_PIPE, INTERRUPTED

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
GRADCLI = [sys.executable, "-m", "gradcli"]


def read_one_line_then_leave(*args: str) -> tuple[int, str, str]:
    """Run gradcli with stdout a pipe; read its first line, close the pipe (as `head -1` does);
    (exit code, that line, stderr)."""
    proc = subprocess.Popen([*GRADCLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_subprocess_env())
    line = proc.stdout.readline().decode()
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    return proc.wait(timeout=120), line, stderr


def points(n: int) -> list[str]:
    return [arg for k in range(1, n + 1) for arg in ("--at", f"x={k}")]


# more than a pipe holds (64 kB) in every format: a plain line is some 20 bytes, a table row 60
POINTS = points(1500)
MANY_POINTS = points(5000)


@pytest.mark.parametrize("fmt", ["plain", "json", "table"])
def test_a_reader_that_leaves_early_ends_gradcli_quietly(fmt):
    many = POINTS if fmt == "table" else MANY_POINTS  # (a table of 5000 rows takes a while)
    code, line, stderr = read_one_line_then_leave("grad", "x**2*sin(x)", *many, "--format", fmt)
    assert line.strip()  # the reader got its line
    assert code == BROKEN_PIPE and stderr == ""


def test_one_large_write_to_a_pipe_left_early_is_not_reported_as_read():
    """A table is one write of 90 kB: Python's own stdout would write what the pipe holds,
    drop the rest when the reader leaves, and end with 0."""
    code, _, stderr = read_one_line_then_leave("grad", "x**2*sin(x)", *POINTS, "--format", "table")
    assert (code, stderr) == (BROKEN_PIPE, "")


def test_a_check_whose_reader_leaves_keeps_its_own_failure():
    """A failed check says so (1) even when nobody reads its report to the end."""
    code, line, stderr = read_one_line_then_leave("check", "x**2", "--grad", "x=0", *POINTS,
                                                  "--format", "json")
    assert json.loads(line)["verdict"] == "fail"
    assert code == 1 and stderr == ""


def test_the_junit_report_is_written_when_the_reader_of_stdout_leaves(tmp_path):
    report = tmp_path / "report.xml"
    code, _, _ = read_one_line_then_leave("check", "x**2", "--grad", "x=0", *POINTS,
                                          "--junit", str(report))
    assert code == 1
    assert report.read_text().count("<testcase") == len(POINTS) // 2


def test_output_that_fits_is_not_an_error():
    proc = subprocess.run([*GRADCLI, "grad", "x**2*sin(x)", "--at", "x=2"], capture_output=True,
                          text=True, env=_subprocess_env(), timeout=120)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "1.9726023611141572\n", "")


def test_ctrl_c_leaves_with_130_and_one_line():
    """gradcli waits for an expression on stdin ('-'); Ctrl-C stops it."""
    proc = subprocess.Popen([*GRADCLI, "grad", "-", "--at", "x=2"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_subprocess_env())
    time.sleep(3)  # started, and reading stdin
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == INTERRUPTED
    assert stderr.decode() == "gradcli: interrupted\n" and stdout == b""


def test_ctrl_c_inside_a_command_in_process(monkeypatch):
    from typer.testing import CliRunner

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("gradcli.api.Function.grad", interrupt)
    result = CliRunner().invoke(app, ["grad", "x*y", "--at", "x=1,y=2"])
    assert result.exit_code == INTERRUPTED
    assert "gradcli: interrupted" in result.output and "Traceback" not in result.output


# ---------------------------------------------------------------------------------------------
# --junit: whole or not at all


def test_an_interrupted_junit_report_leaves_the_old_one_and_no_temporary(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    report = tmp_path / "report.xml"
    report.write_text("<old/>")

    def interrupted_write(data):
        raise KeyboardInterrupt

    real_fdopen = os.fdopen

    def fdopen(handle, mode="r", *args, **kwargs):
        out = real_fdopen(handle, mode, *args, **kwargs)
        out.write = interrupted_write
        return out

    monkeypatch.setattr(gradcli.junit.os, "fdopen", fdopen)
    result = CliRunner().invoke(app, ["check", "x**2*sin(x)", "--at", "x=2", "--junit", str(report)])
    assert result.exit_code == INTERRUPTED
    assert report.read_text() == "<old/>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.xml"]


def test_a_junit_report_is_written_whole(tmp_path):
    from typer.testing import CliRunner

    report = tmp_path / "report.xml"
    result = CliRunner().invoke(app, ["check", "x**2*sin(x)", "--at", "x=2", "--junit", str(report)])
    assert result.exit_code == 0
    text = report.read_text()
    assert text.startswith("<?xml") and text.rstrip().endswith("</testsuites>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.xml"]


# ---------------------------------------------------------------------------------------------
# The same command twice: the same bytes


SAME_TWICE = [
    ["grad", "log(x1) + x1*x2 - sin(x2)", "--at", "x1=2,x2=5", "--format", "json", "--trace"],
    ["check", "tanh(a*x+b)", "--points", "20", "--domain", "x=-3:3,a=0.1:2,b=-1:1", "--format",
     "json"],
    ["check", str(EXAMPLES / "rules.grad"), "--points", "5", "--format", "json"],
    ["check", str(EXAMPLES / "mlp_fixed.grad"), "--mode", "probes", "--probes", "4", "--format", "json"],
    ["check", str(EXAMPLES / "classifier.grad"), "--format", "json"],
    ["hessian", "x*y**2 + exp(x*y)", "--at", "x=1,y=0.5", "--format", "json"],
    ["diff", "x**2*sin(x)*exp(y)", "--format", "json"],
    ["grad", str(EXAMPLES / "mlp.grad"), "--format", "json"],
]


@pytest.mark.parametrize("args", SAME_TWICE, ids=lambda a: " ".join(Path(x).name for x in a[:2]))
def test_the_same_command_twice_gives_the_same_bytes(args, tmp_path):
    """Sampled points and probe directions are seeded, and every list has a fixed order."""
    outputs = [subprocess.run([*GRADCLI, *args], capture_output=True, env=_subprocess_env(), timeout=300,
                              cwd=tmp_path) for _ in range(2)]
    first, second = outputs
    assert first.returncode in (0, 1, 3), first.stderr.decode()
    assert first.stdout and first.stdout == second.stdout
    assert first.stderr == second.stderr
    for line in first.stdout.decode().splitlines():
        json.loads(line)


# ---------------------------------------------------------------------------------------------
# Pathological inputs finish in bounded time, with the result flagged


def test_a_warning_about_a_huge_subexpression_writes_only_its_top():
    from gradcli.printing import short_text

    f = gradcli.parse("*".join(["x"] * 20000))
    text = short_text(f.output, 40)
    assert len(text) <= 40 and text.startswith("…*x*x")


def test_an_overflowing_product_of_many_factors_is_flagged():
    """10^4 factors overflow at x = 1.1: the value and the gradient are inf, and the warnings
    name the operation that overflowed first (found entry by entry, on numbers)."""
    result = gradcli.grad("*".join(["x"] * 10000), at={"x": 1.1})
    assert result.value == np.inf and result.gradient["x"] == np.inf
    assert any(w.startswith("…*x*x") and " is inf: " in w for w in result.warnings)


def test_a_derivative_too_long_to_write_out_asks_for_let(monkeypatch):
    """x**x**...**x: the derivative's distinct nodes grow linearly with the depth, its text
    written out in full quadratically or worse; beyond the limit diff says so and how to go on."""
    from typer.testing import CliRunner

    from gradcli import symbolic

    tower = "x" + "**x" * 12
    f = gradcli.parse(tower)
    size = symbolic.written_size(symbolic.derivatives(f, let=True).nodes[0])
    monkeypatch.setattr(symbolic, "MAX_WRITTEN", size - 1)
    result = CliRunner().invoke(app, ["diff", tower])
    assert result.exit_code == 2 and "--let" in result.output and "Traceback" not in result.output
    assert CliRunner().invoke(app, ["diff", tower, "--let"]).exit_code == 0
    monkeypatch.setattr(symbolic, "MAX_WRITTEN", size)
    assert CliRunner().invoke(app, ["diff", tower]).exit_code == 0
