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
