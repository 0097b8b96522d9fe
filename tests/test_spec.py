"""Model specs (.grad files): the examples against independent numpy computations, every
statement kind and error class, the memory guard, the initializers, --of/--wrt/--unconnected,
the array checks (entries, probes and bisection), the diagnostics, and the table.

References are computed here, independently of gradcli: data regenerated with numpy's
default_rng and the documented seeds, gradients by hand-written backpropagation or closed forms.
Fixture files (specs, .npy/.csv/.txt data) are written under pytest's tmp_path.
"""

from __future__ import annotations

import json
import os
import re
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gradcli.array_checks import check_array
from gradcli.checking import Options, check_function
from gradcli.cli import app
from gradcli.errors import GradcliError, MemoryLimitError
from gradcli.spec import read_spec, spec_function

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MLP = EXAMPLES / "mlp.grad"
MLP_FIXED = EXAMPLES / "mlp_fixed.grad"
REGRESSION = EXAMPLES / "regression.grad"
CLASSIFIER = EXAMPLES / "classifier.grad"

GRAD_KEYS = ["expression", "point", "value", "gradient", "unconnected"]
CHECK_ROW_KEYS = ["variable", "index", "analytic", "numeric", "error_estimate", "abs_error",
                  "rel_error", "tolerance", "verdict", "note", "checked"]

# No colour forcing from the outer environment; plain text, a wide terminal.
ENV = {"FORCE_COLOR": None, "NO_COLOR": "1", "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None,
       "COLUMNS": "200"}

RTOL = 1e-12


# ---------------------------------------------------------------------------------------------
# helpers


def invoke(*args: str):
    result = CliRunner().invoke(app, [str(a) for a in args], env=ENV)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"gradcli {' '.join(map(str, args))} raised {result.exception!r}\nstderr: {result.stderr}")
    assert "Traceback" not in result.stdout + result.stderr
    return result


def strict_json(line: str) -> dict:
    def refuse(name):
        raise AssertionError(f"not strict JSON: {name}")

    return json.loads(line, parse_constant=refuse)


def one_json(result) -> dict:
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    return strict_json(lines[0])


def write(folder: Path, text: str, name: str = "spec.grad") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def here(tmp_path, monkeypatch) -> Path:
    """tmp_path as the working directory, so that messages name 'spec.grad' as given."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def truncated_normal(seed: int, shape, stddev: float = 1.0, mean: float = 0.0) -> np.ndarray:
    """Standard normal numbers, those beyond 2 redrawn (in order, from the same generator)."""
    generator = rng(seed)
    values = generator.standard_normal(shape)
    while True:
        outside = np.abs(values) > 2
        if not outside.any():
            return mean + stddev * values
        values[outside] = generator.standard_normal(int(outside.sum()))


def data_of(path, name: str) -> np.ndarray:
    """The value of an assigned name of a spec (data only: never a gradient)."""
    return np.asarray(spec_function(str(path), of=name).evaluate({}).value)


def error_place(stderr: str, path: str, line: int, column: int, source: str) -> None:
    """stderr has 'path:line:column:', then the source line, then a caret under the column."""
    lines = stderr.splitlines()
    header = f"  {path}:{line}:{column}:"
    assert header in lines, stderr
    k = lines.index(header)
    assert lines[k + 1] == "    " + source, stderr
    assert lines[k + 2] == "    " + " " * (column - 1) + "^", stderr


def assert_bad_input(result, *contains: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.startswith("gradcli: error: "), result.stderr
    for text in contains:
        assert text in result.stderr, f"{text!r} not in {result.stderr!r}"
    return result.stderr


# ---------------------------------------------------------------------------------------------
# 1. examples/mlp_fixed.grad against numpy backprop


def mlp_fixed_data():
    X = rng(0).standard_normal((16, 3))
    y = rng(1).standard_normal((16, 1))
    params = {"w0": truncated_normal(2, (3, 20), stddev=0.5), "b0": np.zeros(20),
              "w1": truncated_normal(4, (20, 1), stddev=0.5), "b1": np.zeros(1)}
    return X, y, params


def mlp_fixed_backprop(X, y, w0, b0, w1, b1):
    z = X @ w0 + b0
    h = np.tanh(z)
    yp = h @ w1 + b1
    loss = np.mean(0.5 * (yp - y) ** 2)
    dyp = (yp - y) / yp.size
    dh = dyp @ w1.T
    dz = dh * (1 - h ** 2)
    return loss, {"w0": X.T @ dz, "b0": dz.sum(axis=0), "w1": h.T @ dyp, "b1": dyp.sum(axis=0)}


def test_mlp_fixed_data_is_regenerated_by_numpy_with_the_same_seeds():
    X, y, params = mlp_fixed_data()
    spec = read_spec(str(MLP_FIXED))
    assert list(spec.params) == ["w0", "b0", "w1", "b1"]
    for name, value in params.items():
        np.testing.assert_array_equal(spec.params[name], value, err_msg=name)
    np.testing.assert_array_equal(data_of(MLP_FIXED, "X"), X)
    np.testing.assert_array_equal(data_of(MLP_FIXED, "y"), y)
    assert spec.kinds == {"X": "data", "y": "data", "w0": "param", "b0": "param", "h": "value",
                          "w1": "param", "b1": "param", "yp": "value", "loss": "value"}
    assert spec.inputs == [] and spec.last == "loss"


def test_mlp_fixed_gradient_matches_numpy_backprop():
    X, y, params = mlp_fixed_data()
    loss, expected = mlp_fixed_backprop(X, y, **params)
    result = spec_function(str(MLP_FIXED)).grad({})
    assert result.value == pytest.approx(loss, rel=RTOL)
    assert list(result.gradient) == ["w0", "b0", "w1", "b1"]
    assert result.unconnected == [] and result.warnings == []
    for name, gradient in expected.items():
        assert np.shape(result.gradient[name]) == params[name].shape
        np.testing.assert_allclose(result.gradient[name], gradient, rtol=RTOL, atol=0, err_msg=name)
        assert np.any(gradient != 0)


def test_mlp_fixed_gradient_in_json_is_nested_lists_matching_numpy():
    X, y, params = mlp_fixed_data()
    loss, expected = mlp_fixed_backprop(X, y, **params)
    result = invoke("grad", MLP_FIXED, "--format", "json")
    assert result.exit_code == 0, result.stderr
    obj = one_json(result)
    assert list(obj) == GRAD_KEYS
    assert obj["expression"] == f"{MLP_FIXED}:loss"
    assert obj["point"] == {} and obj["unconnected"] == []
    assert obj["value"] == pytest.approx(loss, rel=RTOL)
    for name, gradient in expected.items():
        assert isinstance(obj["gradient"][name], list)
        np.testing.assert_allclose(np.array(obj["gradient"][name]), gradient, rtol=RTOL, atol=0)


# ---------------------------------------------------------------------------------------------
# 2. examples/mlp.grad: every gradient exactly zero, and why


def test_mlp_every_gradient_is_exactly_zero_with_the_softmax_named():
    result = spec_function(str(MLP)).grad({})
    assert list(result.gradient) == ["w0", "b0", "w1", "b1"]
    shapes = {"w0": (3, 20), "b0": (20,), "w1": (20, 1), "b1": (1,)}
    for name, gradient in result.gradient.items():
        assert np.shape(gradient) == shapes[name]
        assert np.all(np.asarray(gradient) == 0.0), name
    assert result.unconnected == []
    assert len(result.warnings) == 1, result.warnings
    warning = result.warnings[0]
    assert "every gradient is exactly zero" in warning
    assert "softmax" in warning and "axis of length 1" in warning
    assert "(line 15)" in warning and "(16, 1)" in warning
    # the value is still that of the (constant) network: mean(0.5*(1 - y)**2)
    y = rng(1).standard_normal((16, 1))
    assert result.value == pytest.approx(np.mean(0.5 * (1 - y) ** 2), rel=RTOL)


@pytest.mark.parametrize("fmt", ["table", "json", "plain"])
def test_mlp_warning_in_every_format(fmt):
    result = invoke("grad", MLP, "--format", fmt)
    assert result.exit_code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("gradcli: warning:")]
    assert len(warnings) == 1, result.stderr
    assert "axis of length 1" in warnings[0] and "(line 15)" in warnings[0]
    if fmt == "json":
        obj = one_json(result)
        assert list(obj) == [*GRAD_KEYS, "warnings"]
        assert len(obj["warnings"]) == 1
        assert "axis of length 1" in obj["warnings"][0] and "(line 15)" in obj["warnings"][0]
        assert all(v == 0.0 for v in np.ravel(obj["gradient"]["w0"]))
    elif fmt == "plain":
        line, = result.stdout.splitlines()
        assert set(re.findall(r"-?\d+\.\d+(?:e-?\d+)?", line)) == {"0.0"}
    else:
        assert "w0" in result.stdout and "(3, 20)" in result.stdout


def test_mlp_check_passes_with_the_warning():
    result = invoke("check", MLP, "--format", "json")
    assert result.exit_code == 0, result.stderr
    obj = one_json(result)
    assert obj["verdict"] == "pass"
    rows = {row["variable"]: row for row in obj["results"]}
    assert list(rows) == ["w0", "b0", "w1", "b1"]
    for name, size in {"w0": 60, "b0": 20, "w1": 20, "b1": 1}.items():
        assert list(rows[name]) == CHECK_ROW_KEYS
        assert rows[name]["verdict"] == "pass"
        assert rows[name]["checked"] == {"entries": size}
        assert rows[name]["analytic"] == 0.0
    assert any("axis of length 1" in w and "(line 15)" in w for w in obj["warnings"])
    assert "axis of length 1" in result.stderr


# ---------------------------------------------------------------------------------------------
# 3. statements and errors


def test_every_statement_kind(here):
    write(here, "# a comment line\n"
                "\n"
                "X = [[1, 2], [3, 4], [5, 6]]         # data: a literal\n"
                "param w = [[0.1, -0.2], [0.3, 0.4]]  # a param: a literal\n"
                "param b = zeros(2)\n"
                "h = X @ w + b                        # a value\n"
                "loss = sum(h * h) * a                # a is an input\n")
    spec = read_spec("spec.grad")
    assert spec.kinds == {"X": "data", "w": "param", "b": "param", "h": "value", "loss": "value"}
    assert spec.inputs == ["a"]
    assert spec.lines == {"X": 3, "w": 4, "b": 5, "h": 6, "loss": 7}
    result = spec_function("spec.grad").grad({"a": 2.0})
    X = np.array([[1.0, 2], [3, 4], [5, 6]])
    w = np.array([[0.1, -0.2], [0.3, 0.4]])
    h = X @ w
    assert list(result.gradient) == ["w", "b", "a"]
    assert result.value == pytest.approx(2 * np.sum(h * h), rel=RTOL)
    np.testing.assert_allclose(result.gradient["w"], X.T @ (4 * h), rtol=RTOL)
    np.testing.assert_allclose(result.gradient["b"], (4 * h).sum(axis=0), rtol=RTOL)
    assert result.gradient["a"] == pytest.approx(np.sum(h * h), rel=RTOL)


ERRORS = [
    # id, spec, extra arguments, substrings of the message, (line, column) of the caret or None
    ("syntax-unclosed", "X = randn(16, 3\nloss = sum(X)\n", [],
     ["syntax error", "never closed"], (1, 16)),
    ("syntax-operator", "X = randn(16, 3, seed=0)\ny = X @@ w\n", [],
     ["syntax error", "unexpected '@'"], (2, 8)),
    ("syntax-no-assignment", "param w = ones(2)\nsum(w)\n", [], ["syntax error"], None),
    ("unknown-function", "X = randn(16, 3)\nloss = sum(sine(X))\n", [],
     ["unknown function 'sine'", "did you mean 'sin'?"], (2, 12)),
    ("unknown-initializer", "X = randnn(16, 3)\nloss = sum(X)\n", [],
     ["unknown function 'randnn'", "did you mean 'randn'?"], (1, 5)),
    ("unknown-name-constant", "param w = zeros(3)\nloss = sum(w) * pii\n", [],
     ["no value for input 'pii'", "did you mean 'pi'?"], (2, 17)),
    ("shape-mismatch", "X = randn(16, 3, seed=0)\nparam w0 = randn(4, 20)\nh = X @ w0\n"
                       "loss = sum(h)\n", [],
     ["X @ w0: shapes (16, 3) and (4, 20) do not match"], (3, 7)),
    ("used-before-assigned", "loss = sum(X)\nX = randn(16, 3)\n", [],
     ["'X' is used before it is assigned (at line 2)"], (1, 12)),
    ("param-twice", "param w = zeros(3)\nparam w = ones(3)\nloss = sum(w)\n", [],
     ["param 'w' is defined twice (first at line 1)"], (2, 7)),
    ("param-then-name", "param w = zeros(3)\nw = ones(3)\nloss = sum(w)\n", [],
     ["'w' is defined twice (first at line 1)"], (2, 1)),
    ("name-twice", "param w = zeros(3)\nloss = sum(w)\nloss = sum(w*w)\n", [],
     ["name 'loss' is defined twice (first at line 2)"], (3, 1)),
    ("assign-function", "sin = 3\nloss = sin\n", [],
     ["'sin' is a function and cannot be assigned"], (1, 1)),
    ("assign-constant", "param w = ones(2)\npi = 3\nloss = sum(w) * pi\n", [],
     ["'pi' is a constant and cannot be assigned"], (2, 1)),
    ("param-depends-on-param", "param w = zeros(3)\nparam v = w * 2\nloss = sum(v)\n", [],
     ["the value of param 'v' must be constant"], (2, 7)),
    ("param-depends-on-input", "param v = a * ones(3)\nloss = sum(v)\n", [],
     ["the value of param 'v' must be constant"], (1, 7)),
    ("of-nothing", "param w = zeros(3)\nloss = sum(w)\n", ["--of", "nope"],
     ["--of nope: the spec assigns no 'nope'"], None),
    ("of-typo", "param w = zeros(3)\nloss = sum(w)\n", ["--of", "los"],
     ["the spec assigns no 'los'", "did you mean 'loss'?"], None),
    ("missing-input", "param w = zeros(3)\nloss = sum(w*a)\n", [],
     ["no value for input 'a'", "--at a="], (2, 14)),
    ("at-data", "X = ones(3)\nparam w = zeros(3)\nloss = sum(w*X)\n", ["--at", "X=[1,2,3]"],
     ["'X' is data of spec.grad", "--at cannot set it"], None),
    ("at-value", "param w = zeros(3)\nh = w * 2\nloss = sum(h)\n", ["--at", "h=[1,2,3]"],
     ["'h' is a value of spec.grad", "--at cannot set it"], None),
    ("at-param-wrong-shape", "param w = zeros(3)\nloss = sum(w)\n", ["--at", "w=[1,2]"],
     ["'w' has shape (3,); the value given has shape (2,)"], None),
    ("non-scalar-output", "param w = zeros(3)\nloss = w * 2\n", [],
     ["has shape (3,)", "sum(...)", "--of"], None),
    ("load-missing", 'X = load("missing.npy")\nloss = sum(X)\n', [],
     ["no such file", "missing.npy"], (1, 5)),
    ("load-extension", 'X = load("data.json")\nloss = sum(X)\n', [],
     ["cannot load data.json", ".npy, .csv and .txt"], (1, 5)),
    ("load-not-a-string", "X = load(3)\nloss = sum(X)\n", [], ["load takes a file name"], (1, 5)),
    ("uniform-bounds", "u = uniform(3, low=1, high=1)\nloss = sum(u)\n", [],
     ["low < high"], (1, 5)),
    ("truncated-stddev", "u = truncated_normal(3, stddev=0)\nloss = sum(u)\n", [],
     ["stddev must be positive"], (1, 5)),
    ("negative-seed", "u = randn(3, seed=-1)\nloss = sum(u)\n", [],
     ["seed must be a non-negative integer"], (1, 5)),
    ("fractional-size", "u = randn(2.5)\nloss = sum(u)\n", [],
     ["must be non-negative integers", "2.5"], (1, 5)),
    ("no-output", "# nothing but params\nparam w = zeros(3)\n", [],
     ["assigns no value to differentiate"], None),
]


@pytest.mark.parametrize("text, extra, contains, where",
                         [case[1:] for case in ERRORS], ids=[case[0] for case in ERRORS])
def test_spec_errors(here, text, extra, contains, where):
    write(here, text)
    result = invoke("grad", "spec.grad", *extra, "--format", "json")
    stderr = assert_bad_input(result, *contains)
    if where is not None:
        line, column = where
        error_place(stderr, "spec.grad", line, column, text.split("\n")[line - 1])


@pytest.mark.parametrize("command", ["eval", "check"])
@pytest.mark.parametrize("case", ["syntax-unclosed", "shape-mismatch", "missing-input", "at-data",
                                  "load-extension"])
def test_spec_errors_in_eval_and_check(here, command, case):
    _, text, extra, contains, where = next(c for c in ERRORS if c[0] == case)
    write(here, text)
    stderr = assert_bad_input(invoke(command, "spec.grad", *extra), *contains)
    if where is not None:
        error_place(stderr, "spec.grad", *where, text.split("\n")[where[0] - 1])


def test_missing_spec_file(here):
    assert_bad_input(invoke("grad", "nowhere.grad"), "no such spec file", "nowhere.grad")


def test_unknown_name_suggests_an_assigned_name(here):
    write(here, "param w = zeros(3)\nhidden = w * 2\nloss = sum(hiden)\n")
    assert_bad_input(invoke("grad", "spec.grad"), "no value for input 'hiden'",
                     "did you mean 'hidden'?")


class Unpickled:
    """A pickle payload: unpickling it makes the directory `marker`."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_load_refuses_a_pickled_npy(here):
    # the payload is live: numpy with allow_pickle=True runs it
    live = here / "live-marker"
    np.save(here / "live.npy", np.array([Unpickled(live)], dtype=object), allow_pickle=True)
    np.load(here / "live.npy", allow_pickle=True)
    assert live.exists()
    marker = here / "marker"
    np.save(here / "evil.npy", np.array([Unpickled(marker)], dtype=object), allow_pickle=True)
    write(here, 'X = load("evil.npy")\nparam w = ones(1)\nloss = sum(w * X)\n')
    stderr = assert_bad_input(invoke("grad", "spec.grad"), "evil.npy")
    assert re.search(r"pickle|object", stderr, re.IGNORECASE), stderr
    error_place(stderr, "spec.grad", 1, 5, 'X = load("evil.npy")')
    # an input from --at X=@file is refused too
    write(here, "param w = ones(1)\nloss = sum(w * X)\n", "input.grad")
    assert_bad_input(invoke("grad", "input.grad", "--at", "X=@evil.npy"), "evil.npy")
    assert not marker.exists(), "gradcli unpickled the .npy file"


def test_load_refuses_a_npy_of_strings(here):
    np.save(here / "words.npy", np.array(["a", "b"]))
    write(here, 'X = load("words.npy")\nloss = sum(X)\n')
    assert_bad_input(invoke("grad", "spec.grad"), "words.npy", "not numbers")


# ---------------------------------------------------------------------------------------------
# 4. the memory guard


def test_huge_initializer_refused_before_allocation(here):
    write(here, "X = randn(100000, 100000)\nloss = sum(X)\n")
    tracemalloc.start()
    try:
        start = time.perf_counter()
        result = invoke("grad", "spec.grad")
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    stderr = assert_bad_input(result, "74.5 GiB", "(100000, 100000)", "--max-memory")
    error_place(stderr, "spec.grad", 1, 5, "X = randn(100000, 100000)")
    assert elapsed < 5, elapsed
    assert peak < 64 * 2**20, f"peak traced memory {peak / 2**20:.1f} MiB"


def test_huge_initializer_refused_by_the_api(here):
    write(here, "param W = zeros(100000, 100000)\nloss = sum(W)\n")
    start = time.perf_counter()
    with pytest.raises(MemoryLimitError, match=r"74\.5 GiB"):
        spec_function("spec.grad", max_memory=2**30)
    assert time.perf_counter() - start < 5


OUTER = ("param u = randn({n}, 1, seed=0)\nparam r = randn(1, {n}, seed=1)\nA = u @ r\n"
         "B = A @ A\nloss = sum(B @ A)\n")


@pytest.mark.parametrize("command", ["grad", "eval"])
def test_evaluation_over_max_memory_refused(here, command):
    write(here, OUTER.format(n=3000))
    tracemalloc.start()
    try:
        result = invoke(command, "spec.grad", "--max-memory", "64MiB")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_bad_input(result, "evaluating this needs", "(3000, 3000)", "more than --max-memory 64 MiB",
                     "nothing was allocated")
    assert peak < 32 * 2**20, f"peak traced memory {peak / 2**20:.1f} MiB"


def test_evaluation_within_max_memory_runs(here):
    write(here, OUTER.format(n=30))
    result = invoke("grad", "spec.grad", "--max-memory", "64MiB", "--format", "json")
    assert result.exit_code == 0, result.stderr
    u, r = rng(0).standard_normal((30, 1)), rng(1).standard_normal((1, 30))
    A = u @ r
    assert one_json(result)["value"] == pytest.approx(np.sum(A @ A @ A), rel=1e-10)


def test_data_computed_from_initializers_respects_max_memory(here):
    # u takes 4.7 KiB, A = u @ u.T 2.7 MiB: more than --max-memory 1MiB
    write(here, "u = randn(600, 1, seed=0)\nA = u @ u.T\nloss = sum(A)\n")
    assert_bad_input(invoke("grad", "spec.grad", "--max-memory", "1MiB"), "--max-memory")


@pytest.mark.parametrize("size, shown", [("512MiB", "512 MiB"), ("4GiB", "4 GiB"),
                                         ("1e9", "954 MiB"), ("2e9", "1.86 GiB"),
                                         ("1.5GiB", "1.5 GiB"), ("10KB", "9.77 KiB"),
                                         ("3M", "3 MiB"), ("2gib", "2 GiB")])
def test_max_memory_parsing(here, size, shown):
    write(here, "X = randn(100000, 100000)\nloss = sum(X)\n")
    assert_bad_input(invoke("grad", "spec.grad", "--max-memory", size),
                     f"more than --max-memory {shown};")


def test_max_memory_large_enough_allows_data(here):
    write(here, "X = randn(1000, 100, seed=0)\nparam w = ones(100)\nloss = sum(X @ w)\n")
    assert invoke("grad", "spec.grad", "--max-memory", "1e6").exit_code == 2  # 800 kB + values
    result = invoke("grad", "spec.grad", "--max-memory", "4MiB", "--format", "json")
    assert result.exit_code == 0, result.stderr
    X = rng(0).standard_normal((1000, 100))
    np.testing.assert_allclose(one_json(result)["gradient"]["w"], X.sum(axis=0), rtol=1e-12)


@pytest.mark.parametrize("size", ["abc", "", "-5", "1.2.3GiB", "GiB", "5 XB", "."])
def test_max_memory_bad_text(here, size):
    write(here, "param w = ones(2)\nloss = sum(w)\n")
    assert_bad_input(invoke("grad", "spec.grad", "--max-memory", size),
                     "--max-memory takes a size")


# ---------------------------------------------------------------------------------------------
# 5. initializers and load


RANDOM = ("a = randn(3, 4)\nb = randn(3, 4)\nparam c = randn(3, 4)\nu = uniform(50)\n"
          "t = truncated_normal(50)\nloss = sum(c)\n")


def test_initializers_are_reproducible(here):
    write(here, RANDOM, "one.grad")
    write(here, RANDOM, "two.grad")
    names = ["a", "b", "c", "u", "t"]
    first = {name: data_of("one.grad", name) for name in names}
    again = {name: data_of("one.grad", name) for name in names}
    other = {name: data_of("two.grad", name) for name in names}
    for name in names:
        np.testing.assert_array_equal(first[name], again[name])
        np.testing.assert_array_equal(first[name], other[name])
    np.testing.assert_array_equal(read_spec("one.grad").params["c"], first["c"])
    # different names, different default seeds
    assert not np.array_equal(first["a"], first["b"])
    assert not np.array_equal(first["a"], first["c"])
    assert not np.array_equal(first["b"], first["c"])


def test_default_seed_depends_on_the_name_only(here):
    write(here, "a = randn(5)\nloss = sum(a)\n", "one.grad")
    write(here, "# other lines first\nz = randn(5)\nparam w = ones(5)\na = randn(5)\n"
                "loss = sum(a * w) + sum(z)\n", "two.grad")
    np.testing.assert_array_equal(data_of("one.grad", "a"), data_of("two.grad", "a"))
    # documented as the same on every machine: derived from the name (crc32 of it)
    np.testing.assert_array_equal(data_of("one.grad", "a"),
                                  rng(zlib.crc32(b"a")).standard_normal(5))


def test_seeded_initializers_match_numpy(here):
    write(here, "r = randn(4, 2, seed=7)\nu = uniform(3, 5, low=-2, high=3, seed=8)\n"
                "t = truncated_normal(6, 7, mean=1, stddev=0.5, seed=9)\nloss = sum(r)\n")
    np.testing.assert_array_equal(data_of("spec.grad", "r"), rng(7).standard_normal((4, 2)))
    np.testing.assert_array_equal(data_of("spec.grad", "u"), rng(8).uniform(-2, 3, (3, 5)))
    np.testing.assert_array_equal(data_of("spec.grad", "t"),
                                  truncated_normal(9, (6, 7), stddev=0.5, mean=1))


def test_truncated_normal_within_two_stddev(here):
    write(here, "t = truncated_normal(20000, mean=1, stddev=0.5, seed=1)\nloss = sum(t)\n")
    t = data_of("spec.grad", "t")
    assert t.shape == (20000,)
    assert np.all(np.abs(t - 1) <= 1.0)
    assert np.max(np.abs(t - 1)) > 0.95  # truncated at 2 stddev, not narrower
    assert np.mean(t) == pytest.approx(1, abs=0.02)
    # the standard deviation of a normal truncated at ±2: 0.8796 of the untruncated one
    assert np.std(t) == pytest.approx(0.5 * 0.8796, rel=0.03)


def test_uniform_in_half_open_interval(here):
    write(here, "u = uniform(20000, low=-3, high=-1)\nv = uniform(2, 3)\nloss = sum(u)\n")
    u = data_of("spec.grad", "u")
    assert np.all((u >= -3) & (u < -1))
    assert u.min() < -2.99 and u.max() > -1.01
    v = data_of("spec.grad", "v")
    assert v.shape == (2, 3) and np.all((v >= 0) & (v < 1))


def test_deterministic_initializers(here):
    write(here, "I = eye(3)\nJ = eye(2, 3)\nr = arange(5)\ns = arange(1, 2, 0.25)\n"
                "f = full(2, 3, value=0.5)\nz = zeros(2, 3)\no = ones(4)\nloss = sum(I)\n")
    expected = {"I": np.eye(3), "J": np.array([[1.0, 0, 0], [0, 1, 0]]),
                "r": np.array([0.0, 1, 2, 3, 4]), "s": np.array([1.0, 1.25, 1.5, 1.75]),
                "f": np.array([[0.5] * 3] * 2), "z": np.zeros((2, 3)), "o": np.ones(4)}
    for name, value in expected.items():
        got = data_of("spec.grad", name)
        assert got.dtype == np.float64, name
        np.testing.assert_array_equal(got, value, err_msg=name)


def test_load_npy_csv_txt_beside_the_spec(tmp_path, monkeypatch):
    model = tmp_path / "model"
    model.mkdir()
    A = np.arange(6.0).reshape(2, 3) / 7
    np.save(model / "a.npy", A)
    (model / "b.csv").write_text("1.5,2,3\n4,5,6.25\n")
    (model / "c.txt").write_text("0.5 1 -2\n")
    # decoys with the same names in the working directory: load reads beside the spec
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "a.npy", -A)
    (tmp_path / "b.csv").write_text("9,9,9\n9,9,9\n")
    (tmp_path / "c.txt").write_text("9 9 9\n")
    spec = write(model, 'A = load("a.npy")\nB = load("b.csv")\nc = load("c.txt")\n'
                        "param w = ones(3)\nloss = sum((A + B) @ (w * c))\n")
    B = np.array([[1.5, 2, 3], [4, 5, 6.25]])
    c = np.array([0.5, 1, -2])
    path = "model/spec.grad"
    np.testing.assert_array_equal(data_of(path, "A"), A)
    np.testing.assert_array_equal(data_of(path, "B"), B)
    np.testing.assert_array_equal(data_of(path, "c"), c)
    result = invoke("grad", path, "--format", "json")
    assert result.exit_code == 0, result.stderr
    obj = one_json(result)
    assert obj["value"] == pytest.approx(np.sum((A + B) @ c), rel=RTOL)
    np.testing.assert_allclose(obj["gradient"]["w"], (A + B).sum(axis=0) * c, rtol=RTOL)
    assert spec.exists()


def test_at_file_input_of_a_spec(here):
    np.save(here / "x.npy", np.array([1.0, -2.0, 0.5]))
    write(here, "param w = [0.5, 1.0, 2.0]\nloss = sum(w * X * X)\n")
    result = invoke("grad", "spec.grad", "--at", "X=@x.npy", "--format", "json")
    assert result.exit_code == 0, result.stderr
    obj = one_json(result)
    x, w = np.array([1.0, -2.0, 0.5]), np.array([0.5, 1.0, 2.0])
    assert obj["point"] == {"X": x.tolist()}
    assert obj["gradient"] == {"w": (x * x).tolist(), "X": (2 * w * x).tolist()}


# ---------------------------------------------------------------------------------------------
# 6. --of, --wrt, unconnected params


TWO = ("X = randn(5, 3, seed=0)\nparam w = [0.5, -1.0, 2.0]\nparam unused = ones(2, 2)\n"
       "a = sum(X @ w)\nb = sum((X @ w)**2)\n")


def two_reference():
    X, w = rng(0).standard_normal((5, 3)), np.array([0.5, -1.0, 2.0])
    return X, w


def test_of_picks_another_output(here):
    write(here, TWO)
    X, w = two_reference()
    default = one_json(invoke("grad", "spec.grad", "--format", "json"))
    assert default["expression"] == "spec.grad:b"
    assert default["value"] == pytest.approx(np.sum((X @ w) ** 2), rel=RTOL)
    np.testing.assert_allclose(default["gradient"]["w"], 2 * X.T @ (X @ w), rtol=RTOL)
    other = one_json(invoke("grad", "spec.grad", "--of", "a", "--format", "json"))
    assert other["expression"] == "spec.grad:a"
    assert other["value"] == pytest.approx(np.sum(X @ w), rel=RTOL)
    np.testing.assert_allclose(other["gradient"]["w"], X.sum(axis=0), rtol=RTOL)
    # the Python API
    result = spec_function("spec.grad", of="a").grad({})
    np.testing.assert_allclose(result.gradient["w"], X.sum(axis=0), rtol=RTOL)


def test_eval_of_a_non_scalar_value():
    X, y, params = mlp_fixed_data()
    result = invoke("eval", MLP_FIXED, "--of", "yp", "--format", "json")
    assert result.exit_code == 0, result.stderr
    obj = one_json(result)
    assert list(obj) == ["expression", "point", "value"]
    assert obj["expression"] == f"{MLP_FIXED}:yp"
    expected = np.tanh(X @ params["w0"] + params["b0"]) @ params["w1"] + params["b1"]
    np.testing.assert_allclose(np.array(obj["value"]), expected, rtol=RTOL)


def test_wrt_restricts_and_orders(here):
    write(here, TWO)
    X, w = two_reference()
    obj = one_json(invoke("grad", "spec.grad", "--wrt", "w", "--format", "json"))
    assert list(obj["gradient"]) == ["w"] and obj["unconnected"] == []
    obj = one_json(invoke("grad", "spec.grad", "--wrt", "unused,w", "--format", "json"))
    assert list(obj["gradient"]) == ["unused", "w"]
    assert obj["gradient"]["unused"] is None and obj["unconnected"] == ["unused"]
    result = spec_function("spec.grad").grad({}, wrt=["w"])
    assert list(result.gradient) == ["w"]
    np.testing.assert_allclose(result.gradient["w"], 2 * X.T @ (X @ w), rtol=RTOL)


def test_unused_param_is_unconnected(here):
    write(here, TWO)
    obj = one_json(invoke("grad", "spec.grad", "--format", "json"))
    assert list(obj) == GRAD_KEYS
    assert list(obj["gradient"]) == ["w", "unused"]
    assert obj["gradient"]["unused"] is None
    assert obj["unconnected"] == ["unused"]
    plain = invoke("grad", "spec.grad", "--format", "plain").stdout.split()
    assert plain[-1] == "None"


def test_unused_param_zero_has_its_shape(here):
    write(here, TWO)
    result = spec_function("spec.grad").grad({}, unconnected="zero")
    assert np.shape(result.gradient["unused"]) == (2, 2)
    obj = one_json(invoke("grad", "spec.grad", "--unconnected", "zero", "--format", "json"))
    assert obj["gradient"]["unused"] == [[0.0, 0.0], [0.0, 0.0]]
    assert obj["unconnected"] == ["unused"]


def test_unconnected_error_names_the_spec(here):
    write(here, TWO)
    result = invoke("grad", "spec.grad", "--unconnected", "error")
    assert result.exit_code == 1
    assert "'unused'" in result.stderr
    assert "spec.grad:b" in result.stderr
    assert "randn(" not in result.stderr and "\\n" not in result.stderr


def test_at_sets_a_param(here):
    write(here, TWO)
    X, _ = two_reference()
    w = np.array([1.0, 2.0, -3.0])
    obj = one_json(invoke("grad", "spec.grad", "--at", "w=[1, 2, -3]", "--format", "json"))
    assert obj["point"] == {"w": w.tolist()}
    assert obj["value"] == pytest.approx(np.sum((X @ w) ** 2), rel=RTOL)
    np.testing.assert_allclose(obj["gradient"]["w"], 2 * X.T @ (X @ w), rtol=RTOL)


# ---------------------------------------------------------------------------------------------
# 7. regression (hypergradient) and classifier


def regression_reference(lr: float):
    """Closed forms at w = 0, b = 0. With r = X w + b - y and d = X g_w + g_b the step's change of
    the prediction (g_w = 2 X^T r / n, g_b = 2 sum(r) / n), the one-step loss is
    L(lr) = |r - lr d|^2 / n, so dL/dlr = 2 (lr d.d - r.d) / n. As a function of r:
    e = M r with M = I - lr (2/n) (X X^T + 1 1^T) (symmetric), L = |M r|^2 / n,
    dL/dr = (2/n) M e, dL/dw = X^T dL/dr, dL/db = sum(dL/dr)."""
    n = 32
    X = rng(10).standard_normal((n, 4))
    y = X @ np.array([1.5, -2, 0.5, 3]) + 0.1 * rng(11).standard_normal(n)
    r = -y
    g_w, g_b = 2 * X.T @ r / n, 2 * np.sum(r) / n
    d = X @ g_w + g_b
    e = r - lr * d
    loss = e @ e / n
    dlr = 2 * (lr * (d @ d) - r @ d) / n
    M = np.eye(n) - lr * (2 / n) * (X @ X.T + np.ones((n, n)))
    dr = (2 / n) * M @ e
    return loss, {"w": X.T @ dr, "b": np.array([dr.sum()]), "lr": dlr}


@pytest.mark.parametrize("lr", [0.1, 0.03])
def test_regression_hypergradient(lr):
    loss, expected = regression_reference(lr)
    result = spec_function(str(REGRESSION)).grad({"lr": lr})
    assert list(result.gradient) == ["w", "b", "lr"]
    assert result.value == pytest.approx(loss, rel=RTOL)
    assert result.gradient["lr"] == pytest.approx(expected["lr"], rel=RTOL)
    np.testing.assert_allclose(result.gradient["w"], expected["w"], rtol=RTOL)
    np.testing.assert_allclose(result.gradient["b"], expected["b"], rtol=RTOL)


def test_regression_hypergradient_cli():
    loss, expected = regression_reference(0.1)
    result = invoke("grad", REGRESSION, "--at", "lr=0.1", "--format", "json")
    assert result.exit_code == 0, result.stderr
    obj = one_json(result)
    assert obj["point"] == {"lr": 0.1}
    assert obj["value"] == pytest.approx(loss, rel=RTOL)
    assert obj["gradient"]["lr"] == pytest.approx(expected["lr"], rel=RTOL)
    plain = invoke("grad", REGRESSION, "--at", "lr=0.1", "--wrt", "lr", "--format", "plain")
    assert float(plain.stdout) == pytest.approx(expected["lr"], rel=RTOL)
    # the hypergradient by a finite difference of the closed-form loss
    h = 1e-6
    numeric = (regression_reference(0.1 + h)[0] - regression_reference(0.1 - h)[0]) / (2 * h)
    assert expected["lr"] == pytest.approx(numeric, rel=1e-7)


def test_regression_without_lr_is_a_missing_input():
    assert_bad_input(invoke("grad", REGRESSION), "no value for input 'lr'",
                     f"{REGRESSION}:15:")


def test_classifier_gradient_matches_numpy_softmax_cross_entropy():
    data = np.loadtxt(EXAMPLES / "points.csv", delimiter=",")
    X, labels = data[:, 0:2], data[:, 2].astype(int)
    W, b = truncated_normal(0, (2, 3), stddev=0.1), np.zeros(3)
    np.testing.assert_array_equal(read_spec(str(CLASSIFIER)).params["W"], W)
    logits = X @ W + b
    shifted = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    n = len(labels)
    onehot = np.eye(3)[labels]
    loss = -np.mean(np.log(p[np.arange(n), labels])) + 0.001 * np.sum(W ** 2)
    dlogits = (p - onehot) / n
    dW = X.T @ dlogits + 0.002 * W
    db = dlogits.sum(axis=0)
    result = spec_function(str(CLASSIFIER)).grad({})
    assert result.value == pytest.approx(loss, rel=RTOL)
    np.testing.assert_allclose(result.gradient["W"], dW, rtol=RTOL)
    np.testing.assert_allclose(result.gradient["b"], db, rtol=1e-10, atol=1e-15)
    obj = one_json(invoke("grad", CLASSIFIER, "--format", "json"))
    np.testing.assert_allclose(obj["gradient"]["W"], dW, rtol=RTOL)


# ---------------------------------------------------------------------------------------------
# 8. array checks catch wrong gradients


ARRAY = ("X = randn(6, 8, seed=3)\nparam w = truncated_normal(8, 8, stddev=0.5, seed=4)\n"
         "loss = sum(tanh(X @ w) ** 2) + 0.5 * sum(w ** 3)\n")


@pytest.fixture
def array_model(tmp_path):
    f = spec_function(str(write(tmp_path, ARRAY)))
    result = f.grad({})
    gradient = np.asarray(result.gradient["w"])
    X = rng(3).standard_normal((6, 8))
    w = truncated_normal(4, (8, 8), stddev=0.5)
    t = np.tanh(X @ w)
    np.testing.assert_allclose(gradient, X.T @ (2 * t * (1 - t ** 2)) + 1.5 * w ** 2, rtol=1e-12)
    assert abs(gradient[2, 5]) > 0.1 and abs(gradient[0, 1]) > 0.1 and abs(gradient[7, 6]) > 0.1
    return f, dict(result.inputs), gradient


def wrong(gradient, *entries, relative=1e-6):
    bad = gradient.copy()
    for entry in entries:
        bad[entry] *= 1 + relative
    return bad


ENTRY_MODE = Options(full_limit=2000, probes=8, seed=0)
PROBE_MODE = Options(full_limit=0, probes=8, seed=0)


def test_entry_mode_passes_a_correct_gradient(array_model):
    f, point, gradient = array_model
    row = check_array(f, point, "w", gradient, ENTRY_MODE.resolved())
    assert row.verdict == "pass"
    assert row.checked == {"entries": 64}


def test_entry_mode_names_the_wrong_entry(array_model):
    f, point, gradient = array_model
    row = check_array(f, point, "w", wrong(gradient, (2, 5)), ENTRY_MODE.resolved())
    assert row.verdict == "fail"
    assert row.index == [2, 5]
    assert row.checked == {"entries": 64}
    assert row.analytic == pytest.approx(gradient[2, 5] * (1 + 1e-6), rel=1e-15)
    assert row.numeric == pytest.approx(gradient[2, 5], rel=1e-9)
    assert "63 pass, 1 fail" in row.note and "[2, 5]" in row.note


def test_probe_mode_passes_a_correct_gradient(array_model):
    f, point, gradient = array_model
    row = check_array(f, point, "w", gradient, PROBE_MODE.resolved())
    assert row.verdict == "pass"
    assert row.checked == {"probes": 8}


def test_probe_mode_bisection_names_the_wrong_entry(array_model):
    f, point, gradient = array_model
    row = check_array(f, point, "w", wrong(gradient, (2, 5)), PROBE_MODE.resolved())
    assert row.verdict == "fail"
    assert row.index == [2, 5]
    assert row.checked["probes"] == 8 and row.checked["entries"] > 0
    assert set(row.checked) == {"probes", "entries"}
    assert "[2, 5]" in row.note


def test_probe_mode_bisection_finds_two_wrong_entries(array_model):
    f, point, gradient = array_model
    row = check_array(f, point, "w", wrong(gradient, (0, 1), (7, 6)), PROBE_MODE.resolved())
    assert row.verdict == "fail"
    assert row.index in ([0, 1], [7, 6])
    found = re.search(r"bisection finds the wrong entries ([^;]*)", row.note)
    assert found is not None, row.note
    assert set(re.findall(r"\[\d+, \d+\]", found.group(1))) == {"[0, 1]", "[7, 6]"}


def test_check_function_on_a_spec(array_model):
    f, _, _ = array_model
    report = check_function(f, {}, Options(full_limit=2000, probes=8, seed=0))
    assert report.verdict == "pass" and report.exit_code == 0
    row, = report.results
    assert (row.variable, row.verdict, row.checked) == ("w", "pass", {"entries": 64})
    obj = report.to_dict()
    assert list(obj["results"][0]) == CHECK_ROW_KEYS


@pytest.mark.parametrize("options, checked", [([], {"entries": 64}),
                                              (["--full-limit", "10", "--probes", "3"],
                                               {"probes": 3})])
def test_check_cli_checked_field(here, options, checked):
    write(here, ARRAY)
    result = invoke("check", "spec.grad", *options, "--format", "json")
    assert result.exit_code == 0, result.stderr
    obj = one_json(result)
    assert obj["verdict"] == "pass"
    row, = obj["results"]
    assert list(row) == CHECK_ROW_KEYS
    assert row["variable"] == "w" and row["verdict"] == "pass"
    assert row["checked"] == checked
    # entry by entry: the worst entry; along directions that all pass: no entry
    assert row["index"] is None if "probes" in checked else len(row["index"]) == 2


def test_check_cli_scalar_input_rows_have_no_checked():
    result = invoke("check", REGRESSION, "--at", "lr=0.1", "--wrt", "lr,b", "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = {row["variable"]: row for row in one_json(result)["results"]}
    assert list(rows["lr"]) == CHECK_ROW_KEYS[:-1]
    assert rows["lr"]["index"] is None
    assert rows["b"]["checked"] == {"entries": 1}


# ---------------------------------------------------------------------------------------------
# 9. diagnostics


def warnings_of(folder: Path, text: str, name: str = "spec.grad") -> list[str]:
    return spec_function(str(write(folder, text, name))).grad({}).warnings


def test_dead_relu_is_reported(tmp_path):
    warnings = warnings_of(tmp_path, "X = uniform(10, 3, low=0.1, high=1, seed=0)\n"
                                     "param w = full(3, 4, value=-1)\n"
                                     "loss = sum(relu(X @ w))\n")
    assert len(warnings) == 1, warnings
    assert "'w' is exactly zero" in warnings[0]
    assert "dead relu" in warnings[0] and "relu(X @ w) (line 3)" in warnings[0]


def test_live_relu_is_not_reported(tmp_path):
    assert warnings_of(tmp_path, "X = uniform(10, 3, low=0.1, high=1, seed=0)\n"
                                 "param w = full(3, 4, value=1)\n"
                                 "loss = sum(relu(X @ w))\n") == []


def test_saturated_tanh_is_reported(tmp_path):
    warnings = warnings_of(tmp_path, "# saturated\nparam w = [20, -20, 19, -21]\n"
                                     "loss = sum(tanh(w))\n")
    saturated = [w for w in warnings if "saturated" in w]
    assert len(saturated) == 1, warnings
    assert "tanh(w) (line 3)" in saturated[0] and "100%" in saturated[0]


def test_saturated_tanh_with_a_nonzero_gradient_is_reported(tmp_path):
    text = "X = ones(4, 1)\nparam w = [[8, -8, 9, -7.5]]\nloss = sum(tanh(X @ w))\n"
    result = spec_function(str(write(tmp_path, text))).grad({})
    assert np.all(np.asarray(result.gradient["w"]) != 0)
    assert len(result.warnings) == 1, result.warnings
    assert "saturated" in result.warnings[0] and "(line 3)" in result.warnings[0]


def test_unsaturated_tanh_is_not_reported(tmp_path):
    assert warnings_of(tmp_path, "param w = [2, -2, 1, -1]\nloss = sum(tanh(w))\n") == []


def test_nan_is_reported_with_its_line(tmp_path):
    text = "param w = [1, -1]\n\nh = log(w)\nloss = sum(h)\n"
    warnings = warnings_of(tmp_path, text)
    assert any("log(w) (line 3) is nan" in w for w in warnings), warnings
    result = invoke("grad", tmp_path / "spec.grad", "--format", "json")
    assert result.exit_code == 0
    obj = one_json(result)
    assert obj["value"] == "nan"
    assert any("(line 3)" in w for w in obj["warnings"])
    assert "(line 3)" in result.stderr


def test_nan_is_blamed_only_on_the_statement_making_it(tmp_path):
    warnings = warnings_of(tmp_path, "param w = [1, -1]\nh = log(w)\nloss = sum(h)\n")
    blamed = [w for w in warnings if re.search(r"\(line \d+\)", w)]
    assert len(blamed) == 1 and "(line 2)" in blamed[0], warnings


def test_nan_in_data_is_reported_with_its_line(tmp_path):
    warnings = warnings_of(tmp_path, "param w = ones(3)\nX = log(zeros(3) - 1)\n"
                                     "loss = sum(w * X)\n")
    assert any("(line 2)" in w for w in warnings), warnings


# ---------------------------------------------------------------------------------------------
# 10. the table


@pytest.mark.parametrize("path, at, shapes", [
    (MLP_FIXED, [], {"w0": "(3, 20)", "b0": "(20,)", "w1": "(20, 1)", "b1": "(1,)"}),
    (REGRESSION, ["--at", "lr=0.1"], {"w": "(4,)", "b": "(1,)", "lr": "()"}),
])
def test_table_lists_each_parameter_with_its_shape(path, at, shapes):
    result = invoke("grad", path, *at, "--format", "table")
    assert result.exit_code == 0, result.stderr
    assert "\x1b[" not in result.stdout
    assert f"{path}:" in result.stdout
    header = [line for line in result.stdout.splitlines() if "variable" in line and "shape" in line]
    assert len(header) == 1, result.stdout
    rows = {}
    for line in result.stdout.splitlines():
        match = re.match(r"^\s+(\w+)\s+(\([\d, ]*\))\s", line)
        if match:
            rows[match.group(1)] = match.group(2)
    assert rows == shapes, result.stdout


def test_table_marks_an_unconnected_param(here):
    write(here, TWO)
    result = invoke("grad", "spec.grad", "--format", "table")
    assert result.exit_code == 0, result.stderr
    line, = [line for line in result.stdout.splitlines() if line.strip().startswith("unused")]
    assert "(2, 2)" in line and "unconnected" in line


def test_spec_errors_are_gradcli_errors(here):
    write(here, "X = randn(16, 3\n")
    with pytest.raises(GradcliError) as caught:
        read_spec("spec.grad")
    assert caught.value.exit_code == 2
    assert "spec.grad:1:16:" in str(caught.value)
