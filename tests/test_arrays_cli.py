"""Arrays from the command line: --at values that are arrays or files, outputs that are arrays."""

import json

import numpy as np
from typer.testing import CliRunner

from gradcli.cli import app

ENV = {"NO_COLOR": "1", "COLUMNS": "200"}


def run(*args):
    return CliRunner().invoke(app, list(args), env=ENV)


def softmax_log_gradient(v):
    """d/dv sum(softmax(v)*log(v)) in closed form: s_j/v_j + s_j (log v_j - sum_i s_i log v_i)."""
    s = np.exp(v - v.max())
    s /= s.sum()
    return s / v + s * (np.log(v) - np.sum(s * np.log(v)))


def test_the_issue_example_against_its_closed_form():
    result = run("grad", "sum(softmax(v)*log(v))", "--at", "v=[0.2, 0.3, 0.5]", "--format", "json")
    assert result.exit_code == 0, result.stderr
    obj = json.loads(result.stdout)
    v = np.array([0.2, 0.3, 0.5])
    s = np.exp(v) / np.exp(v).sum()
    assert obj["point"] == {"v": [0.2, 0.3, 0.5]}
    assert abs(obj["value"] - np.sum(s * np.log(v))) <= 1e-15
    np.testing.assert_allclose(obj["gradient"]["v"], softmax_log_gradient(v), rtol=1e-14)


def test_an_array_from_a_npy_file(tmp_path):
    X = np.arange(6.0).reshape(2, 3) / 7
    np.save(tmp_path / "X.npy", X)
    result = run("grad", "sum(tanh(X @ w))", "--at", f"X=@{tmp_path / 'X.npy'},w=[1, -2, 0.5]",
                 "--wrt", "w", "--format", "json")
    assert result.exit_code == 0, result.stderr
    w = np.array([1.0, -2.0, 0.5])
    expected = X.T @ (1 - np.tanh(X @ w) ** 2)
    np.testing.assert_allclose(json.loads(result.stdout)["gradient"]["w"], expected, rtol=1e-14)


def test_a_pickled_npy_file_is_refused(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    result = run("grad", "sum(o)", "--at", f"o=@{tmp_path / 'o.npy'}")
    assert result.exit_code == 2
    assert "cannot load o.npy" in result.stderr and "Traceback" not in result.stderr


def test_grad_of_an_array_output_says_how_to_reduce_it():
    result = run("grad", "v*2", "--at", "v=[1, 2]")
    assert result.exit_code == 2
    assert "has shape (2,)" in result.stderr and "sum(...)" in result.stderr


def test_eval_shows_an_array_value():
    result = run("eval", "[[1, 2], [3, 4]] @ v", "--at", "v=[1, -1]", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["value"] == [-1.0, -1.0]
    result = run("eval", "v.T", "--at", "v=[[1, 2]]", "--format", "plain")
    assert result.stdout == "[[1.0], [2.0]]\n"


def test_points_of_different_shapes_each_get_their_build():
    result = run("grad", "sum(v**2)", "--at", "v=[1, 2]", "--at", "v=[1, 2, 3]", "--format", "json")
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["gradient"]["v"] for line in lines] == [[2.0, 4.0], [2.0, 4.0, 6.0]]


def test_check_of_an_array_expression_checks_every_entry():
    result = run("check", "sum(softmax(v)*log(v))", "--at", "v=[0.2, 0.3, 0.5]", "--format", "json")
    assert result.exit_code == 0, result.stderr
    row = json.loads(result.stdout)["results"][0]
    assert row["variable"] == "v" and row["checked"] == {"entries": 3}
    assert row["verdict"] == "pass" and len(row["index"]) == 1


def test_shape_errors_point_at_the_operation():
    result = run("grad", "sum(X @ w)", "--at", "X=[[1, 2, 3]],w=[1, 2]")
    assert result.exit_code == 2
    assert "X @ w: shapes (1, 3) and (2,) do not match" in result.stderr
    assert result.stderr.rstrip().endswith("^")


def test_random_points_keep_arrays_fixed_and_sample_numbers():
    """--points samples the variables that are numbers; an array given with --at, and a spec's
    params, keep their values (this crashed on arrays before)."""
    result = run("check", "sum(v*a)", "--points", "3", "--at", "v=[1, 2]", "--format", "json")
    assert result.exit_code == 0, result.stderr
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(reports) == 3 and {r["verdict"] for r in reports} == {"pass"}
    assert all(r["point"]["v"] == [1.0, 2.0] for r in reports)
    assert len({r["point"]["a"] for r in reports}) == 3
    for report in reports:
        rows = {row["variable"]: row for row in report["results"]}
        assert rows["a"]["analytic"] == 3.0  # d/da sum(v*a) = sum(v)
        assert rows["v"]["checked"] == {"entries": 2}


def test_settings_are_validated_before_any_simplification():
    result = run("eval", "transpose(x, [0])", "--at", "x=[[1]]")
    assert result.exit_code == 2 and "not a permutation" in result.stderr
    result = run("grad", "sum(x, keepdims=2)", "--at", "x=[1]")
    assert result.exit_code == 2 and "keepdims must be true or false" in result.stderr


def test_complex_step_refuses_a_non_analytic_operation_in_probe_mode_too():
    """Random directions use the same reference as single entries: the complex step through
    relu would be silently wrong, so it is refused with the same message."""
    for limit in ("2000", "0"):
        result = run("check", "sum(relu(v)*v)", "--at", "v=[1, -2, 3]", "--method", "complex",
                     "--full-limit", limit)
        assert result.exit_code == 2, (limit, result.stdout)
        assert "relu is not (use --method ridders)" in result.stderr
