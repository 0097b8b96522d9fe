"""Nothing is unbounded: the limits a shared machine needs, each with a clear message and an
option to raise it (the pathological inputs themselves are in tests/test_streams.py)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from gradcli.cli import app
from gradcli.cli_check import MAX_POINTS


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("count, limit, message", [
    (10**9, None, f"--points takes 1 to {MAX_POINTS:,} points, not 1,000,000,000 (raise the "
                  "limit with --max-points)"),
    (0, None, f"--points takes 1 to {MAX_POINTS:,} points, not 0"),
    (3, 2, "--points takes 1 to 2 points, not 3 (raise the limit with --max-points)"),
])
def test_sampled_points_are_bounded(count, limit, message):
    extra = ["--max-points", str(limit)] if limit is not None else []
    result = invoke("check", "x**2", "--points", str(count), *extra)
    assert result.exit_code == 2
    assert f"gradcli: error: {message}" in result.output


def test_the_limit_on_points_can_be_raised():
    result = invoke("check", "x**2", "--points", "3", "--max-points", "3", "--format", "plain")
    assert result.exit_code == 0 and result.output.count("pass") == 3


def test_a_hessian_of_too_many_entries_is_refused_before_work():
    result = invoke("hessian", "sum(v**2)", "--at", "v=[" + ", ".join(["1"] * 5000) + "]")
    assert result.exit_code == 2 and "use hvp or jvp" in result.output


def test_the_limit_on_entries_can_be_raised_and_is_the_library_s():
    from gradcli import cli_derive, derivatives

    assert cli_derive.MAX_ENTRIES_DEFAULT == derivatives.MAX_ENTRIES
    vector = "v=[" + ", ".join(["1"] * 5000) + "]"
    result = invoke("hessian", "sum(v**2)", "--at", vector, "--max-entries", "4999")
    assert result.exit_code == 2 and "raise the limit with --max-entries" in result.output
    small = "v=[1, 2, 3]"
    assert invoke("hessian", "sum(v**3)", "--at", small, "--max-entries", "2").exit_code == 2
    result = invoke("hessian", "sum(v**3)", "--at", small, "--max-entries", "3", "--format", "json")
    assert result.exit_code == 0 and '"hessian": [[6.0, 0.0, 0.0]' in result.output
    assert invoke("jacobian", "[x*y, x, y]", "--at", "x=1,y=2", "--max-entries", "2").exit_code == 2


def test_texts_are_bounded_by_the_memory_their_graphs_would_take(tmp_path):
    """An expression, on the command line or standard input, and a spec or rule file: refused
    before they are read when their graph could pass --max-memory (64 bytes a character)."""
    text = "x + " * 50_000 + "x"  # 200,001 characters: about 12 MiB
    result = invoke("grad", text, "--at", "x=1", "--max-memory", "10MiB")
    assert result.exit_code == 2
    assert "the expression has 200,001 characters: its graph would take about 12.2 MiB, more " \
           "than --max-memory 10 MiB; nothing was read (raise the limit with --max-memory)" \
           in result.output
    result = CliRunner().invoke(app, ["grad", "-", "--at", "x=1", "--max-memory", "10MiB"],
                                input=text)
    assert result.exit_code == 2
    assert "standard input has more than 163,840 characters" in result.output
    spec = tmp_path / "long.grad"
    spec.write_text(f"loss = {text}\n")
    for command in ("grad", "check"):
        result = invoke(command, str(spec), "--max-memory", "10MiB")
        assert result.exit_code == 2 and "long.grad has 200,009 characters" in result.output
    result = invoke("grad", text, "--at", "x=1", "--max-memory", "20MiB", "--format", "plain")
    assert result.exit_code == 0 and result.output == "50001.0\n"
