"""Inputs found by fuzzing (bench/fuzz.py, 2026-11-23) on which gradcli raises something other
than a GradcliError: a traceback instead of a message.

Each test states the contract (a result, or a GradcliError; from the command line, exit code 2
with a `gradcli: error:` paragraph and no traceback) and is marked xfail(strict=True) with the
exception raised today, so that it fails loudly in either direction: when a fix lands, the test
passes, strict turns that into a failure, and the marker is to be removed. Inputs marked "by
hand" were not produced by the fuzzer but written while diagnosing a fuzzer finding: the same
root cause at another call site.

Some of these are also kept, through other inputs or channels, by tests/test_arbitrary_input.py
(the infinite sizes and seeds of initializers, an array check with no entries) and
tests/test_properties.py (x**where(...)); here they are reached through the library.
"""

from __future__ import annotations

import pytest

import gradcli
from gradcli.compare import Options
from gradcli.errors import GradcliError
from gradcli.points import read_point
from gradcli.rule_files import check_file
from gradcli.spec import read_spec, spec_function

ENV = {"FORCE_COLOR": None, "NO_COLOR": "1", "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None,
       "COLUMNS": "200"}

LONG_NAME = "a" * 300 + ".csv"  # longer than a file name may be (255 bytes on Linux): ENAMETOOLONG


def invoke(*args: str):
    """gradcli with these arguments, through Typer's test runner (imported here, so that the
    library's tests run even while the CLI cannot be imported)."""
    from typer.testing import CliRunner

    from gradcli.cli import app

    return CliRunner().invoke(app, list(args), env=ENV)


def assert_bad_input(result) -> None:
    """Exit code 2, one `gradcli: error:` message, no traceback."""
    shown = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"raised {result.exception!r}"
    assert result.exit_code == 2, shown
    assert "gradcli: error:" in result.stderr
    assert "Traceback" not in shown


def write(tmp_path, text: str, name: str = "spec.grad") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def builds_or_refuses(path: str) -> None:
    """The contract for a spec: its model's gradient, or a GradcliError."""
    try:
        spec = read_spec(path)
        if spec.last is not None:
            spec_function(path).grad({name: 0.5 for name in spec.inputs})
    except GradcliError:
        pass


# ---------------------------------------------------------------------------------------------
# 1. x ** y with y a 0-d numpy array (the value of clip or where at a number): TypeError
#
# Fuzzer: parser target, minimised by libFuzzer to `c**clip(x,1,1)` (14 bytes). Root cause:
# gradcli/ops/arithmetic.py, _power: `_PRODUCTS.get(y) if np.ndim(y) == 0` looks a 0-d
# ndarray up in a dict; np.ndim is 0 but a 0-d ndarray is unhashable. clip and where (np.clip,
# np.where) give 0-d arrays, not numpy scalars, for number arguments.

POWER_REASON = ("ops/arithmetic.py _power: _PRODUCTS.get(y) with y a 0-d ndarray (from clip or "
                "where), unhashable: TypeError")


@pytest.mark.parametrize("text, at, value", [
    ("c**clip(x,1,1)", {"c": 2.0, "x": 0.5}, 2.0),  # the fuzzer's input
    ("x**where(y, 2, 3)", {"x": 3.0, "y": 1.0}, 9.0),
    ("x**clip(y, 0, 1)", {"x": 4.0, "y": 0.5}, 2.0),
])
def test_a_power_whose_exponent_is_clip_or_where(text, at, value):
    result = gradcli.grad(text, at=at)
    assert result.value == pytest.approx(value)


def test_a_power_whose_exponent_is_clip_on_the_command_line():
    result = invoke("eval", "c**clip(x,1,1)", "--at", "c=2,x=0.5", "--format", "plain")
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"raised {result.exception!r}"
    assert result.exit_code == 0
    assert result.stdout.strip() == "2.0"


# ---------------------------------------------------------------------------------------------
# 2. inf where an integer is expected: OverflowError from int(inf)
#
# Fuzzer: spec target, `X = randn(inf)`, `X = arange(0, inf)`, `X = randn(2, seed=inf)`; these
# three were in its seed corpus already (the string constants of tests/test_arbitrary_input.py,
# where they are kept as CLI regressions): confirmed, not discovered. Root cause: the checks
# `float(v) != int(v)` call int() on a float that may be infinite (int(nan) raises ValueError,
# which the callers catch; int(inf) raises OverflowError, which they do not):
# gradcli/initializers.py _shape (the sizes of zeros, ones, full, eye, randn, uniform,
# truncated_normal) and _seed, and arange's `int(np.ceil((stop - start) / step))`.
# The same pattern, by hand, in the expression language: gradcli/parsing.py
# _Builder._integer (an index or slice bound) and gradcli/calls.py _setting (axis=, shapes).

INF_SPEC_REASON = ("initializers.py _shape/_seed/arange: int(inf) raises OverflowError, "
                   "neither checked nor caught")


@pytest.mark.parametrize("statement", [
    "X = randn(inf)",  # fuzzer: initializers._shape
    "X = zeros(inf)",  # by hand: the same
    "X = eye(2, 1e400)",  # by hand: the same (1e400 reads as inf)
    "X = randn(2, seed=inf)",  # fuzzer: initializers._seed
    "X = arange(0, inf)",  # fuzzer: initializers.arange
    "X = arange(inf)",  # by hand: the same
])
def test_an_infinite_size_or_seed_in_a_spec(tmp_path, statement):
    path = write(tmp_path, f"{statement}\nloss = sum(X)\n")
    with pytest.raises(GradcliError):
        read_spec(path)


def test_an_infinite_size_in_a_spec_on_the_command_line(tmp_path):
    assert_bad_input(invoke("grad", write(tmp_path, "X = randn(inf)\nloss = sum(X)\n")))


INF_EXPRESSION_REASON = ("parsing.py _Builder._integer and calls.py _setting: int(inf) raises "
                         "OverflowError, neither checked nor caught")


@pytest.mark.parametrize("text", [
    "[1, 2][inf]",  # by hand: parsing._Builder._integer, an index
    "[1, 2][0:inf]",  # by hand: the same, a slice bound
    "sum([1, 2], axis=inf)",  # by hand: calls._setting, an axis
    "reshape([1, 2], [inf])",  # by hand: calls._setting, a shape
])
def test_an_infinite_index_or_axis_in_an_expression(text):
    with pytest.raises(GradcliError):
        gradcli.parse(text)


# ---------------------------------------------------------------------------------------------
# 3. reductions with no identity (max, min, softmax, logsumexp, norm) of an array with no
#    entries: numpy's ValueError at evaluation
#
# Fuzzer: spec target, `def lse(v) = log(sum(exp(v)))` / `vjp lse(v) = softmax(v)` /
# `domain lse: v[0]` (from the seed `v[3]`), and `def lse(v) = max(v) + ...` with
# `domain lse: v[0] = -1:1`. Root cause: nothing refuses an array with no entries, neither a domain
# shape `v[0]` (gradcli/definitions.py), nor `zeros(0)`, nor an empty slice `[1, 2][2:]`; the
# shape rules of the reductions in gradcli/ops/reduction.py accept a zero-size operand, and
# numpy's np.max/np.min (ops/reduction.py _softmax, the max and min reductions) raise
# "zero-size array to reduction operation maximum which has no identity" when it is evaluated.
# The rule check of such a domain with a reduction that does have an identity (sum) gets
# further and fails an assertion: gradcli/array_checks.py _every_entry, `assert worst is not
# None`, as there is no entry to check.

EMPTY_REASON = ("ops/reduction.py: max/min/softmax/logsumexp/norm of an array with no entries "
                "reach numpy, which raises ValueError; nothing refuses zero-size shapes")


def test_a_rule_checked_on_a_domain_with_no_entries(tmp_path):
    path = write(tmp_path, "def lse(v) = log(sum(exp(v)))\nvjp lse(v) = softmax(v)\n"
                           "domain lse: v[0]\n")  # the fuzzer's input
    with pytest.raises(GradcliError):
        check_file(path, Options(), count=1)


@pytest.mark.parametrize("text", [
    # the fuzzer's input, without its first blank line (libFuzzer's -minimize_crash got no
    # further than 145 bytes); by hand, the last three lines alone, or:
    "def scale(x, a) = a*x\ngrad scale(x, a) = (a, x)\ndomain scale: x[7]\n"
    "def wsum(x, a) = 2sum(a*x**2)\ngrad wsum(x, a) = (2*a*x, x**2)\ndomain wsum: x[0]\n",
    "def f(v) = sum(v)\nvjp f(v) = g\ndomain f: v[0]\n",  # by hand
])
def test_a_rule_of_sum_checked_on_a_domain_with_no_entries(tmp_path, text):
    path = write(tmp_path, text)
    try:
        check_file(path, Options(), count=1)
    except GradcliError:
        pass


@pytest.mark.parametrize("text", [
    "max([1, 2][2:])",  # by hand
    "min([1, 2][2:])",
    "softmax([1, 2][2:])",
    "logsumexp([1, 2][2:])",
    "norm([1, 2][2:])",
])
def test_a_reduction_of_an_empty_slice(text):
    try:
        gradcli.evaluate(text, at={})
    except GradcliError:
        pass


def test_a_model_with_an_empty_param(tmp_path):  # by hand
    builds_or_refuses(write(tmp_path, "param v = zeros(0)\nloss = max(v)\n"))


def test_a_reduction_of_an_empty_slice_on_the_command_line():
    assert_bad_input(invoke("eval", "max([1, 2][2:])"))


# ---------------------------------------------------------------------------------------------
# 4. a file name too long for the file system: OSError (ENAMETOOLONG)
#
# Fuzzer: spec target, `X = load("dat* ( A* ... a.csv")` with a 250-character name. Root
# cause: gradcli/initializers.py load_array calls `path.is_file()` before its `try`, and
# pathlib's is_file re-raises an OSError other than "no such file" (ENAMETOOLONG here; EACCES
# on a folder that cannot be searched). The --at X=@file values go through the same function
# (gradcli/points.py _read_point, which catches InputError only).

LONG_NAME_REASON = ("initializers.py load_array: path.is_file() outside the try raises OSError "
                    "(File name too long)")


def test_a_spec_that_loads_a_file_with_a_name_too_long(tmp_path):
    path = write(tmp_path, f'X = load("{LONG_NAME}")\nloss = sum(X)\n')
    with pytest.raises(GradcliError):
        read_spec(path)


def test_a_point_with_a_file_name_too_long():  # by hand
    with pytest.raises(GradcliError):
        read_point(f"X=@{LONG_NAME}")


def test_a_point_with_a_file_name_too_long_on_the_command_line():
    assert_bad_input(invoke("eval", "sum(X)", "--at", f"X=@{LONG_NAME}"))


# ---------------------------------------------------------------------------------------------
# 5. a domain shape too large to sample: numpy's ValueError or MemoryError
#
# Fuzzer: spec target, `domain affine: x[8888888888888888888888888880, 3], w[3, 2]` (ValueError:
# Maximum allowed dimension exceeded) and `x[0000000000000000001852464190, 3]` (MemoryError:
# Unable to allocate 41.4 GiB). Root cause: gradcli/statements.py takes any whole number as a
# size (`int(str(token))`), and the rule check draws its points with
# `rng.uniform(low, high, size=shape)` (gradcli/rules.py _sample) under no memory limit:
# check_file passes max_memory to the check statements of a model, not to check_target, so
# --max-memory, which refuses a spec's data and a model's values before allocating them, does
# not cover a rule's domain.

DOMAIN_SIZE_REASON = ("rules.py _sample: rng.uniform(size=shape) of any domain shape, under no "
                      "memory limit: numpy's ValueError or MemoryError")


@pytest.mark.xfail(strict=True, raises=ValueError, reason=DOMAIN_SIZE_REASON)
def test_a_domain_with_more_entries_than_numpy_can_index(tmp_path):
    path = write(tmp_path, "def f(x) = sum(x)\ngrad f(x) = 1\n"
                           "domain f: x[99999999999999999999]\n")
    with pytest.raises(GradcliError):
        check_file(path, Options(), count=1, max_memory=2**30)


@pytest.mark.xfail(strict=True, raises=MemoryError, reason=DOMAIN_SIZE_REASON)
def test_a_domain_larger_than_the_memory_limit(tmp_path):
    # 727 TiB: more than any address space, so that malloc fails even where memory is
    # overcommitted; it is to be refused before anything is allocated
    path = write(tmp_path, "def f(x) = sum(x)\ngrad f(x) = 1\ndomain f: x[10000000, 10000000]\n")
    with pytest.raises(GradcliError):
        check_file(path, Options(), count=1, max_memory=2**30)
