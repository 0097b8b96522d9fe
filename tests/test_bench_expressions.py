"""The random expressions of the speed benchmark (bench/expressions.py): the same for the same
seed, exactly the number of operations asked for, text linear in it, and every text parses and
is finite, with a finite gradient, at the benchmark point. Speed itself is measured by
bench/run.py, never here."""

from __future__ import annotations

import math

import numpy as np
import pytest
from support import bench_expressions

import gradcli
from gradcli.graph import ancestors

gen = bench_expressions()

SIZES = [1, 2, 3, 4, 5, 6, 9, 40, 300, 2000]


def test_the_same_seed_gives_the_same_expression():
    a = gen.random_expression(500, n_vars=10, seed=7)
    b = gen.random_expression(500, n_vars=10, seed=7)
    assert a.text == b.text
    assert a.ops == b.ops
    assert a.output == b.output
    assert gen.random_expression(500, n_vars=10, seed=8).text != a.text


def test_the_generator_does_not_touch_the_global_random_state():
    import random

    random.seed(3)
    before = random.random()
    random.seed(3)
    gen.random_expression(200, seed=1)
    assert random.random() == before


@pytest.mark.parametrize("n", SIZES)
def test_exactly_n_operations_and_gradcli_builds_exactly_n(n):
    for seed in range(3):
        e = gen.random_expression(n, n_vars=10, seed=seed)
        assert e.n_ops == len(e.ops) == n
        # the text counted from the text alone agrees with the structure
        assert gen.count_text_ops(e.text) == e.text_ops >= n
        # gradcli merges repeated text into one node: its forward graph has the n operations
        f = gradcli.parse(e.text)
        operations = [node for node in ancestors([f.output]) if node.inputs]
        assert len(operations) == n


def test_no_two_operations_alike():
    e = gen.random_expression(3000, seed=0)
    keys = {(op.name, tuple(sorted(op.args, key=repr)) if op.name in gen.COMMUTATIVE else op.args)
            for op in e.ops}
    assert len(keys) == len(e.ops)


def test_the_text_is_linear_in_the_number_of_operations():
    for n in (1000, 8000):
        e = gen.random_expression(n, seed=0)
        assert e.text_ops <= 1.7 * n
        assert len(e.text) <= 10 * e.text_ops
    # and operations are reused (a DAG, not a tree): some text is written twice
    assert gen.random_expression(1000, seed=0).text_ops > 1.1 * 1000


def test_every_variable_and_every_kind_of_operation_appears():
    e = gen.random_expression(2000, n_vars=10, seed=0)
    f = gradcli.parse(e.text)
    assert set(f.variables) == set(gen.variable_names(10))
    assert {op.name for op in e.ops} == set(gen.BINARY) | set(gen.UNARY)


@pytest.mark.parametrize("n", SIZES)
def test_every_text_parses_and_is_finite_at_the_benchmark_point(n):
    for seed in range(4):
        e = gen.random_expression(n, n_vars=10, seed=seed)
        point = e.point()
        assert all(0.5 <= v <= 2 for v in point.values())
        f = gradcli.parse(e.text)
        result = f.grad(point)
        assert math.isfinite(result.value), e.text
        assert not result.warnings
        for name in f.variables:
            assert math.isfinite(result.gradient[name]), (name, e.text)
        # the value is the generator's own (plain floats), and numpy's from the structure
        assert result.value == pytest.approx(e.value, rel=1e-12, abs=1e-12)
        assert gen.evaluate(e, point, np) == pytest.approx(e.value, rel=1e-12, abs=1e-12)
        # every value is within the bound but u**2 and 1 + u**2 inside log(1 + u**2) and the like
        for value, op in zip(e.values, e.ops, strict=True):
            inner = op.name == "pow" or (op.name == "add" and ("c", 1.0) in op.args)
            assert abs(value) <= (1 + gen.BOUND**2 if inner else gen.BOUND)


def test_the_gradient_agrees_with_autograd_on_the_structure():
    autograd = pytest.importorskip("autograd")
    import autograd.numpy as anp

    e = gen.random_expression(400, n_vars=10, seed=5)
    names = e.variables
    point = e.point()
    grads = autograd.grad(lambda *xs: gen.evaluate(e, dict(zip(names, xs, strict=True)), anp),
                          argnum=tuple(range(len(names))))(*(point[n] for n in names))
    ours = gradcli.parse(e.text).grad(point).gradient
    for name, theirs in zip(names, grads, strict=True):
        assert (ours.get(name) or 0.0) == pytest.approx(float(theirs), rel=1e-9, abs=1e-12)


def test_the_text_nests_without_recursion():
    # a render of a deep expression must not hit Python's recursion limit
    e = gen.random_expression(20000, seed=2)
    assert e.text.count("(") == e.text.count(")")


def test_fewer_variables():
    e = gen.random_expression(100, n_vars=1, seed=0)
    assert set(gradcli.parse(e.text).variables) == {"x1"}
    assert e.point() == {"x1": 1.25}
