"""The fast paths of evaluation against the plain ones: a batch evaluated block by block
(gradcli.plans), in buffers shared between values, must give the same values to the bit, hand
out arrays that share memory with nothing, and keep every warning; arithmetic at a point by
numpy's scalar operators must be the ufuncs' to the bit. Speed is measured in bench/run.py,
not here."""

from __future__ import annotations

import numpy as np
import pytest
from support import bench_expressions

import gradcli
from gradcli import plans
from gradcli.evaluation import evaluate
from gradcli.functions import BY_NAME, REQUIRED
from gradcli.graph import ancestors
from gradcli.ops.core import OPERATORS
from gradcli.plans import MIN_SIZE, Plan

N = 2 * plans.CHUNK  # two blocks, and far more points than a plan needs
assert N >= MIN_SIZE
RNG = np.random.default_rng(0)
X = RNG.uniform(0.05, 0.95, N)
Y = RNG.uniform(-3, 3, N)
Z = RNG.uniform(1.1, 4, N)


def scalar_functions() -> list[str]:
    """Every function of one or two numbers in the table, applied to variables."""
    texts = []
    for name, entry in sorted(BY_NAME.items()):
        if entry.on_arrays or entry.static or entry.variadic or name != entry.name:
            continue
        required = [p for p, d in zip(entry.params, entry.defaults, strict=True) if d is REQUIRED]
        if len(required) == 1:
            texts += [f"{name}(x)", f"{name}(y)", f"{name}(z)"]
        elif len(required) == 2:
            texts += [f"{name}(x, z)", f"{name}(y, x)"]
    return texts


RANDOM = [  # fan-out, unconnected variables (w), constants, comparisons, where
    "x**2*sin(x)", "cos(x**3*exp(x))", "log(z) + z*y - sin(y)", "sin(x)*sin(x) + x*x",
    "(x*y)*x + exp(y)/z", "where(y > 0, x*y, x - y) + floor(z)", "tanh(y)*sigmoid(x)**2",
    "sqrt(z - 1)*log1p(x) - atan2(y, z)", "x + x + x", "-(x*y)", "2**x + x**0.5",
    "relu(y)*abs(y) + maximum(x, y)", "y", "3.5",
]


def batch(text: str) -> dict:
    point = {"x": X, "y": Y, "z": Z}
    f = gradcli.parse(text)
    return {name: point[name] for name in f.variables} or {"x": X}


def plain_and_planned(text: str, point: dict | None = None):
    f = gradcli.parse(text)
    point = batch(text) if point is None else point
    names = list(f.variables)
    roots = [f.output] + [g for g in (f.gradient_node(n) for n in names) if g]
    nodes = ancestors(roots)
    with np.errstate(all="ignore"):
        plain = evaluate(roots, {k: np.asarray(v) for k, v in point.items()}, nodes)
    plan = Plan.make(roots, nodes)
    assert plan is not None
    planned, fresh, _ = plan.run(point)
    return roots, plain, planned, fresh


def assert_same(text: str, point: dict | None = None):
    roots, plain, planned, fresh = plain_and_planned(text, point)
    for root in roots:
        a, b = np.asarray(plain[root.index]), np.asarray(planned[root.index])
        assert a.dtype == b.dtype and a.shape == b.shape, (text, root)
        assert np.array_equal(a, b, equal_nan=True), (text, root)
    assert fresh <= {root.index for root in roots}


@pytest.mark.parametrize("text", scalar_functions() + RANDOM)
def test_a_plan_gives_the_plain_values_to_the_bit(text):
    assert_same(text)


@pytest.mark.parametrize("seed", range(6))
def test_random_expressions_give_the_plain_values_to_the_bit(seed):
    # bench/expressions.py: fan-out, every kind of operation, ten variables; points around the
    # benchmark's point (where each expression is finite), and one variable left unconnected
    expression = bench_expressions().random_expression(150, 10, seed=seed)
    rng = np.random.default_rng(seed)
    point = {name: value + rng.uniform(-1e-3, 1e-3, N)
             for name, value in expression.point().items()}
    f = gradcli.parse(expression.text)
    assert_same(expression.text, point)
    result = f.grad({**point, "w": X}, wrt=[*point, "w"], batch=True)
    for name, g in result.gradient.items():  # a variable the text does not use is unconnected
        if name in f.variables:
            assert isinstance(g, np.ndarray) and g.shape == (N,)
        else:
            assert g is None and name in result.unconnected


@pytest.mark.parametrize("chunk", [1, 7, 1000, N - 1, N, 4 * N])
@pytest.mark.parametrize("text", ["x**2*sin(x)", "cos(x**3*exp(x))", "log(z) + z*y - sin(y)",
                                  "where(y > 0, x*y, x - y) + floor(z)", "x > y", "y"])
def test_blocks_of_any_size_give_the_same_values(monkeypatch, text, chunk):
    monkeypatch.setattr(plans, "CHUNK", chunk)  # a last block shorter than the others too
    assert_same(text)


@pytest.mark.parametrize("workers", [1, 2, 3, 8])
@pytest.mark.parametrize("text", ["x**2*sin(x)", "log(z) + z*y - sin(y)", "x > y",
                                  "where(y > 0, x*y, x - y)"])
def test_blocks_shared_among_threads_give_the_same_values(monkeypatch, text, workers):
    monkeypatch.setattr(plans, "CHUNK", 1000)  # 33 blocks
    monkeypatch.setattr(plans, "threads", lambda: workers)
    assert_same(text)


def test_the_number_of_threads_can_be_set(monkeypatch):
    monkeypatch.setenv("GRADCLI_THREADS", "3")
    assert plans.threads() == 3
    monkeypatch.setenv("GRADCLI_THREADS", "nonsense")
    assert plans.threads() >= 1
    monkeypatch.setenv("GRADCLI_THREADS", "1")
    f = gradcli.parse("x*y")
    result = f.grad({"x": X, "y": Y}, batch=True)
    assert np.array_equal(result.gradient["x"], Y) and np.array_equal(result.value, X * Y)


@pytest.mark.parametrize("shapes", [((N,), ()), ((N, 1), (1, 3)), ((1, N), (2, N)),
                                    ((3, N // 2), (3, N // 2))])
def test_points_that_broadcast_or_come_in_several_dimensions(monkeypatch, shapes):
    monkeypatch.setattr(plans, "CHUNK", 1000)
    x = RNG.uniform(0.1, 2, shapes[0])
    y = RNG.uniform(-2, 2, shapes[1]) if shapes[1] else np.float64(0.5)
    text = "x**3*exp(y) + y/x"
    assert_same(text, {"x": x, "y": y})
    result = gradcli.parse(text).grad({"x": x, "y": y}, batch=True)
    shape = np.broadcast_shapes(np.shape(x), np.shape(y))
    assert result.value.shape == result.gradient["x"].shape == result.gradient["y"].shape == shape
    k = tuple(n - 1 for n in shape)  # the last point
    one = gradcli.parse(text).grad(x=np.broadcast_to(x, shape)[k], y=np.broadcast_to(y, shape)[k])
    assert result.value[k] == one.value and result.gradient["x"][k] == one.gradient["x"]


def test_a_graph_that_is_not_elementwise_has_no_plan_and_is_evaluated_whole():
    f = gradcli.parse("sum(v*x)", shapes={"v": (3,)})
    assert Plan.make([f.output], ancestors([f.output])) is None
    g = gradcli.parse("x**2")
    assert Plan.make([g.output], ancestors([g.output])) is not None


def test_what_is_known_finite():
    f = gradcli.parse("x*1e300*y")
    roots = [f.output]
    plan = Plan.make(roots, ancestors(roots))
    x = np.ones(N)
    assert plan.run({"x": x, "y": x})[2] is True
    assert plan.run({"x": x, "y": 1e10 * x})[2] is False  # the sum overflows: not known
    x[5] = np.nan
    assert plan.run({"x": x, "y": np.ones(N)})[2] is False


@pytest.mark.parametrize("n", [2, 3, 4, -1, -2])
def test_small_integer_powers_are_products_within_two_ulps_of_pow(n):
    x = np.concatenate([RNG.uniform(-3, 3, N), RNG.lognormal(0, 30, N)])
    ours = gradcli.parse(f"x**{n}").evaluate({"x": x}, batch=True).value
    with np.errstate(all="ignore"):
        exact = np.power(x, float(n))
    finite = np.isfinite(exact) & (np.abs(exact) > np.finfo(float).tiny)
    ulps = np.abs(ours[finite] - exact[finite]) / np.spacing(np.abs(exact[finite]))
    assert ulps.max() <= (0 if n in (2, -1) else 2)
    assert np.array_equal(np.isfinite(ours), np.isfinite(exact))


def test_the_table_is_covered():
    assert len(scalar_functions()) > 60


@pytest.mark.parametrize("text", RANDOM + ["sin(x + y)", "exp(x)", "x*z + y*z"])
def test_results_share_memory_with_nothing(text):
    point = batch(text)
    result = gradcli.parse(text).grad(point, batch=True)
    arrays = [a for a in (result.value, *result.gradient.values()) if a is not None]
    assert all(isinstance(a, np.ndarray) and a.shape == (N,) for a in arrays)
    for k, a in enumerate(arrays):
        for b in [*arrays[k + 1:], *point.values()]:
            assert not np.shares_memory(a, b), text


def test_a_batch_result_equals_the_same_points_one_by_one():
    f = gradcli.parse("sin(x*y)/z + x**2")
    result = f.grad({"x": X, "y": Y, "z": Z}, batch=True)
    for k in (0, 1, N // 2, N - 1):
        one = f.grad(x=X[k], y=Y[k], z=Z[k])
        assert result.value[k] == one.value
        assert all(result.gradient[n][k] == one.gradient[n] for n in "xyz")


def test_a_value_that_is_not_finite_is_still_traced_to_its_source():
    x = np.linspace(-1, 1, N)
    result = gradcli.parse("log(x)*2").grad({"x": x}, batch=True)
    assert any("log(x) is nan" in w for w in result.warnings)
    small = gradcli.parse("log(x)*2").grad({"x": x[:100]}, batch=True)
    assert [w.split(" at ")[0] for w in result.warnings] == \
        [w.split(" at ")[0] for w in small.warnings]


def test_unconnected_variables_stay_unconnected():
    result = gradcli.parse("x*2").grad({"x": X, "w": Y}, wrt=["x", "w"], batch=True)
    assert result.gradient["w"] is None and result.unconnected == ["w"]
    assert np.array_equal(result.gradient["x"], np.full(N, 2.0))


@pytest.mark.parametrize("ufunc", [np.add, np.subtract, np.multiply, np.divide])
def test_arithmetic_at_a_point_is_the_ufuncs_to_the_bit(ufunc):
    # the evaluator computes arithmetic on numbers with numpy's scalar operators (gradcli.
    # ops.core.OPERATORS): the very IEEE results of the ufunc, inf and nan included
    rng = np.random.default_rng(7)
    a = np.concatenate([rng.standard_normal(500) * 10.0 ** rng.integers(-300, 300, 500),
                        [0.0, -0.0, np.inf, -np.inf, np.nan, 1e308, 5e-324]])
    b = np.concatenate([rng.standard_normal(500) * 10.0 ** rng.integers(-300, 300, 500),
                        [0.0, 0.0, 1.0, -np.inf, 2.0, 1e-308, 0.5]])
    operator_ = OPERATORS[ufunc]
    with np.errstate(all="ignore"):
        expected = ufunc(a, b)
        scalars = np.array([operator_(x, y) for x, y in zip(a, b, strict=True)])
        arrays = operator_(a, b)
    assert np.array_equal(scalars.view(np.int64), expected.view(np.int64))  # bits, nan's too
    assert np.array_equal(arrays, expected, equal_nan=True)


def test_a_division_by_zero_of_two_python_floats_is_numpys():
    f = gradcli.parse("1/(x - x)")
    assert evaluate([f.output], {"x": 2.0})[f.output.index] == np.inf
    assert gradcli.parse("x/y")(x=1.0, y=0.0) == np.inf


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="fork is POSIX")
def test_a_forked_child_evaluates_batches_with_threads_of_its_own(monkeypatch):
    import multiprocessing

    monkeypatch.setattr(plans, "CHUNK", 1000)
    monkeypatch.setattr(plans, "threads", lambda: 2)
    f = gradcli.parse("x**2*sin(x)")
    expected = f.grad({"x": X}, batch=True).gradient["x"]  # the parent's pool exists now
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        result = pool.apply_async(_child_gradient, (X,))
        assert np.array_equal(result.get(timeout=60), expected)


def _child_gradient(x):
    plans.CHUNK = 1000
    plans.threads = lambda: 2
    return gradcli.parse("x**2*sin(x)").grad({"x": x}, batch=True).gradient["x"]
