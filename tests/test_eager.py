"""The reverse pass on numbers (gradcli.eager) against the gradient graph: the same rules applied
to values must give the numbers the graph's evaluation gives, to the bit, and reach the same
variables (a variable neither reaches is unconnected in both). Checked over every function of
the table at its reference points and at the edges of float64 (zeros of both signs, infinities,
nan), every array case of the tensor tests, second derivatives (the rules applied to a graph
the rules built), and the benchmark's random expressions; then through the API, where the pass
is chosen, and where it must give way to the graph."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from support import bench_expressions
from test_primitives import FUNCTIONS, OPERATOR_REFERENCES, function_cases
from test_tensors import CASE_BY_LABEL, weighted

import gradcli
from gradcli import api, eager, ops
from gradcli.autodiff import UNCONNECTED
from gradcli.evaluation import evaluate
from gradcli.ops import cos, mul, sin
from gradcli.ops.core import Value
from gradcli.spec import spec_function

EDGES = (0.0, -0.0, 1.0, -1.0, 0.5, 2.0, -3.0, 1e-300, 1e300, np.inf, -np.inf, np.nan)


def by_graph(f, point: dict, names) -> dict:
    """{name: value of the gradient node, or UNCONNECTED}, and the output's value under None."""
    nodes = {name: f.gradient_node(name) for name in names}
    roots = [f.output, *(node for node in nodes.values() if node is not UNCONNECTED)]
    values = evaluate(roots, point)
    out = {name: UNCONNECTED if node is UNCONNECTED else values[node.index]
           for name, node in nodes.items()}
    out[None] = values[f.output.index]
    return out


def on_numbers(f, point: dict, names) -> dict:
    values = evaluate([f.output], point)
    wrt = {name: f.variable_node(name) for name in names}
    found = eager.gradient(f.output, [node for node in wrt.values() if node is not None], values)
    out = {name: UNCONNECTED if node is None or node.index not in found else found[node.index]
           for name, node in wrt.items()}
    out[None] = values[f.output.index]
    return out


def same_bits(a, b) -> bool:
    """Equal shapes and entries, nan where nan, and the sign of every zero."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or not np.array_equal(a, b, equal_nan=True):
        return False
    return bool(np.array_equal(np.signbit(a) | np.isnan(a), np.signbit(b) | np.isnan(b)))


def assert_same(f, point: dict, names=None) -> None:
    names = list(f.variables if names is None else names)
    graph, numbers = by_graph(f, point, names), on_numbers(f, point, names)
    for name in [None, *names]:
        a, b = graph[name], numbers[name]
        if a is UNCONNECTED or b is UNCONNECTED:
            assert a is b, f"{f.text} at {point}: d/d{name} connected in one pass only"
        else:
            assert same_bits(a, b), f"{f.text} at {point}: d/d{name} graph {a!r}, numbers {b!r}"


def scalar_cases():
    cases = [c for entry in FUNCTIONS for c in function_cases(entry)]
    cases += list(OPERATOR_REFERENCES.values())
    return [pytest.param(c, id=c.expression) for c in cases]


@pytest.mark.parametrize("case", scalar_cases())
def test_every_function_at_its_reference_points(case):
    f = gradcli.parse(case.expression)
    for point in case.points:
        assert_same(f, dict(zip(case.variables, map(np.float64, point), strict=True)))


@pytest.mark.parametrize("case", scalar_cases())
def test_every_function_at_the_edges_of_float64(case):
    """Where rules branch on structure (x**0), divide by zero or make nan: still the same."""
    f = gradcli.parse(case.expression)
    variables = case.variables
    grid = itertools.product(EDGES, repeat=len(variables)) if len(variables) <= 2 else \
        [(e,) * len(variables) for e in EDGES]
    for point in grid:
        assert_same(f, dict(zip(variables, map(np.float64, point), strict=True)))


@pytest.mark.parametrize("text", ["x**0", "x**1", "x**2", "x**3", "x**4", "x**-1", "x**-2",
                                  "x**0.5", "0**x", "x**y", "(-x)**2", "x**(y - y)", "2**x",
                                  "x*1", "1*x", "x*-1", "x/1", "-(-x)", "x + -y", "-x - -y",
                                  "where(1, x, y)", "where(0, x, y)", "x*0", "sin(pi*x)"])
def test_identities_and_literal_branches(text):
    f = gradcli.parse(text)
    for x, y in itertools.product(EDGES, (0.0, 1.5, -2.0)):
        assert_same(f, {"x": np.float64(x), "y": np.float64(y)}, ["x", "y"])


@pytest.mark.parametrize("label", list(CASE_BY_LABEL))
def test_every_array_case(label):
    """Reductions, softmax, matmul, indexing, concatenation, broadcasting: sum(W * f)."""
    f, point = weighted(label)
    assert_same(f, point)


SECOND = ["x**2*sin(x)", "cos(x**3*exp(x))", "log(x1) + x1*x2 - sin(x2)", "tanh(a*x + b)",
          "sigmoid(x)*softplus(y)", "atan2(y, x)*hypot(x, y)", "erf(x)*gamma(y)",
          "logaddexp(x, y)**2", "where(x > y, x*y, x/y)", "sqrt(x*x + y*y)", "log2(x)*exp2(y)"]


@pytest.mark.parametrize("text", SECOND)
def test_second_derivatives(text):
    """A derivative's graph is made of rules' nodes: where, eq, log(2) and friends."""
    f = gradcli.parse(text)
    point = {name: np.float64(v) for name, v in zip(f.variables, (1.3, 0.7, -0.4), strict=False)}
    for name in f.variables:
        d = f.derivative(name)
        if d is not None:
            assert_same(d, point, f.variables)


@pytest.mark.parametrize("n", [10, 100, 1000])
def test_random_expressions_of_the_benchmark(n):
    """Fan-out, constants, every variable in turn asked for alone, and one the text lacks."""
    generate = bench_expressions().random_expression
    for seed in range(3):
        e = generate(n, 10, seed=seed)
        f = gradcli.parse(e.text)
        point = {name: np.float64(v) for name, v in e.point().items()}
        assert_same(f, point, [*e.variables, "unused"])
        for name in e.variables[:3]:
            assert_same(f, point, [name])


# ---------------------------------------------------------------------------------------------
# Through the API: the pass on numbers where it serves, the graph where it must


@pytest.fixture
def graph_only(monkeypatch):
    """The API with the pass on numbers switched off: every gradient from the graph."""
    monkeypatch.setattr(eager, "supports", lambda nodes: False)


def results(text: str, point: dict, **options):
    return gradcli.grad(text, point, **options)


@pytest.mark.parametrize("text, point, options", [
    ("x**2*sin(x)", {"x": 2.0}, {}),
    ("x + y", {"x": 2.0, "y": 4.0, "z": 8.0}, {"wrt": ["z"]}),
    ("x + y", {"x": 2.0, "y": 4.0, "z": 8.0}, {"wrt": ["z", "x"], "unconnected": "zero"}),
    ("x + y", {"x": 2.0, "y": 4.0}, {"wrt": ["xx"]}),
    ("sign(x)*y", {"x": 2.0, "y": 4.0}, {}),
    ("sum(softmax(v)*log(v))", {"v": [0.2, 0.3, 0.5]}, {}),
    ("sum(v*w)", {"v": [1.0, 2.0], "w": [[1.0, 2.0], [3.0, 4.0]]}, {"unconnected": "zero"}),
    ("log(x)", {"x": 0.0}, {}),  # not finite: the graph names log(x)
    ("sqrt(x)", {"x": 0.0}, {}),
])
def test_the_api_gives_what_the_graph_gives(text, point, options, monkeypatch):
    fast = results(text, point, **options)
    monkeypatch.setattr(eager, "supports", lambda nodes: False)
    slow = results(text, point, **options)
    assert fast.to_dict() == slow.to_dict()


def test_the_api_uses_the_pass_on_numbers_and_no_gradient_graph():
    f = gradcli.parse("x**2*sin(x) + y")
    result = f.grad(x=2.0, y=1.0)
    assert result.gradient == {"x": 2 * 2 * np.sin(2.0) + 2**2 * np.cos(2.0), "y": 1.0}
    assert f._backward is None  # the graph was not built


def test_unconnected_error_is_raised_by_either_pass(graph_only):
    with pytest.raises(gradcli.errors.UnconnectedError, match="'z'"):
        results("x + y", {"x": 2.0, "y": 1.0, "z": 3.0}, wrt=["z"], unconnected="error")


def test_unconnected_error_on_numbers():
    with pytest.raises(gradcli.errors.UnconnectedError, match="'z'"):
        results("x + y", {"x": 2.0, "y": 1.0, "z": 3.0}, wrt=["z"], unconnected="error")


def test_a_gradient_that_is_not_finite_is_explained_by_the_graph():
    f = gradcli.parse("sqrt(x) + x")
    result = f.grad(x=0.0)
    assert result.gradient["x"] == np.inf
    assert any("in the gradient" in w for w in result.warnings), result.warnings
    assert f._backward is not None


def test_a_memory_limit_the_pass_could_pass_leaves_it_to_the_graph():
    f = gradcli.parse("sin(x)*x")
    f.max_memory = 8 * 3  # the forward values fit; with their adjoints they might not
    with pytest.raises(gradcli.errors.MemoryLimitError):
        f.grad(x=1.0)


def test_a_model_and_a_spec_function_use_the_graph(tmp_path):
    spec = tmp_path / "m.grad"
    spec.write_text("def soft(x) = log(1 + exp(x))\nparam x = 0.5\nloss = soft(x)**2\n")
    f = spec_function(str(spec))
    assert not eager.supports(f.graph.nodes)
    result = f.grad({})
    assert f._backward is not None
    s = 1 / (1 + np.exp(-0.5))
    assert result.gradient["x"] == pytest.approx(2 * np.log1p(np.exp(0.5)) * s, rel=1e-15)


# ---------------------------------------------------------------------------------------------
# What the pass rests on: primitives applied to numbers, and Values


def test_a_primitive_applied_to_numbers_computes_them():
    assert sin(np.float64(0.5)) == np.sin(0.5)
    assert type(mul(2, np.float64(3.0))) is np.float64
    assert ops.pow(np.float64(1.5), 3) == 1.5 * 1.5 * 1.5  # the product, as the graph evaluates


def test_a_value_computes_and_keeps_its_node_for_the_rules():
    f = gradcli.parse("x*y")
    node = f.variable_node("x")
    x = Value(node, np.float64(2.0))
    assert x.shape == () and x.op is node.op and x.attrs == ("x",)
    assert 3 * x == 6.0 and x - 1 == 1.0 and 1 / x == 0.5 and x**2 == 4.0 and -x == -2.0
    assert type(cos(x)) is np.float64 and cos(x) == np.cos(2.0)
    assert np.float64(3.0) * x == 6.0  # numpy defers to the Value


def test_the_api_counts_as_one_backward_pass(monkeypatch):
    calls = []
    monkeypatch.setattr(eager, "gradient", lambda *a: calls.append(a) or {})
    monkeypatch.setattr(api, "backward", lambda *a: pytest.fail("the graph was built"))
    result = gradcli.parse("x*y").grad(x=1.0, y=2.0)
    assert len(calls) == 1 and result.gradient == {"x": None, "y": None}
