"""The pytest plugin: .grad files with rules or check statements are collected as test items,
one per rule and per check statement, run in a pytester sandbox (also under pytest-xdist)."""

from __future__ import annotations

import re

import numpy.random  # noqa: F401
import pytest

# pytester's in-process runs drop the modules they import; numpy cannot be imported twice in a
# process, so what the plugin imports lazily is imported here, before any run
import gradcli.compare  # noqa: F401
import gradcli.definitions  # noqa: F401
import gradcli.rule_files  # noqa: F401
import gradcli.rules  # noqa: F401
import gradcli.spec  # noqa: F401

pytest_plugins = ["pytester"]

RULES = """\
def softplus(x) = log(1 + exp(x))
grad softplus(x) = sigmoid(x)
def smooth_abs(x, eps) = sqrt(x**2 + eps)
grad smooth_abs(x, eps) = (x / smooth_abs(x, eps), 1 / (2*smooth_abs(x, eps)))
domain smooth_abs: eps = 0.01:1
y = softplus(2*z)
check y at z=1.5
"""

# line 4 holds a rule that is wrong by a relative 1e-8
WRONG = """\
# a rule off by one part in 1e8

def softplus(x) = log(1 + exp(x))
grad softplus(x) = sigmoid(x)*(1 + 1e-8)
"""

AFFINE = """\
def affine(x, w) = x @ w
vjp affine(x, w) = (g @ transpose(w), transpose(x) @ g)
domain affine: x[3, 4], w[4, 2] = -1:1
"""

# the reference's error estimate (cancellation in (z + 1e12) - 1e12) is far wider than the
# tolerance at the pinned point: neither pass nor fail
INCONCLUSIVE = """\
u = (z + 1e12) - 1e12
check u at z=0.3
"""

MODEL_ONLY = """\
param w = zeros(3)
loss = sum((w - 1)**2)
"""

INI_FAST = "[pytest]\ngradcli_points = 2\n"

# Speed, for in-process runs in a process that holds numpy and gradcli: pytest's
# unraisable-exception plugin runs gc.collect() five times at the end of every run; and the
# modules that a run imports afresh (hypothesis' terminal summary imports dozens) are
# assertion-rewritten each time. gradcli's plugin itself stays auto-loaded by its entry point.
QUICK = ("--assert=plain", "-p", "no:cacheprovider", "-p", "no:unraisableexception",
         "-p", "no:threadexception", "-p", "no:hypothesispytest", "-p", "no:benchmark")


def run(pytester, *args):
    return pytester.runpytest(*QUICK, *args)


def test_items_are_named_after_rules_and_check_statements(pytester):
    pytester.makefile(".grad", rules=RULES, affine=AFFINE)
    result = run(pytester, "--collect-only", "-q")
    result.stdout.fnmatch_lines_random([
        "rules.grad::grad softplus",
        "rules.grad::grad smooth_abs",
        "rules.grad::check y at z=1.5",
        "affine.grad::vjp affine",
    ])
    assert re.search(r"\b4 tests collected\b", result.stdout.str()), result.stdout.str()
    assert result.ret == 0


def test_items_are_collected_in_the_files_order(pytester):
    pytester.makefile(".grad", rules=RULES)
    result = run(pytester, "--collect-only", "-q")
    names = [line for line in result.stdout.lines if line.startswith("rules.grad::")]
    assert names == ["rules.grad::grad softplus", "rules.grad::grad smooth_abs",
                     "rules.grad::check y at z=1.5"]


def test_correct_rules_and_checks_pass(pytester):
    pytester.makeini(INI_FAST)
    pytester.makefile(".grad", rules=RULES, affine=AFFINE)
    result = run(pytester)
    result.assert_outcomes(passed=4)
    assert result.ret == 0


def test_a_wrong_rule_fails_with_its_line_and_sentence(pytester):
    pytester.makefile(".grad", wrong=WRONG)
    result = run(pytester)
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    header = re.search(r"(\S*wrong\.grad):(\d+): grad softplus\(x\): fail \(ridders, (\d+) "
                       r"points\)", text)
    assert header, text
    assert header[2] == "4"  # the rule's line
    assert header[3] == "10"  # gradcli_points' default
    sentence = re.search(r"\n  softplus: d/dx at x=(\S+): fail: the rule gives (\S+), the "
                         r"reference (\S+) \(error estimate [^)]*\); relative error (\S+), "
                         r"tolerance (\S+)", text)
    assert sentence, text
    x, rule, reference = (float(sentence[k]) for k in (1, 2, 3))
    sigmoid = 1 / (1 + 2.718281828459045 ** -x)
    assert rule == pytest.approx(sigmoid * (1 + 1e-8), rel=1e-13)
    assert reference == pytest.approx(sigmoid, rel=1e-9)
    assert float(sentence[4]) == pytest.approx(1e-8, rel=0.05)
    assert "Traceback" not in text
    result.stdout.fnmatch_lines(["FAILED wrong.grad::grad softplus*"])


def test_a_failing_check_statement_is_named_and_placed(pytester):
    pytester.makefile(".grad", usage="""\
def softplus(x) = log(1 + exp(x))
grad softplus(x) = sigmoid(x)*(1 + 1e-6)
y = softplus(2*z)
check y at z=1.5
""")
    result = run(pytester, "-o", "gradcli_points=2")
    result.assert_outcomes(failed=2)
    text = result.stdout.str()
    assert re.search(r"usage\.grad:4: check y at z=1\.5: fail \(ridders, 1 point\)", text), text
    assert re.search(r"\n  y: d/dz at z=1\.5: fail: ", text), text
    # d/dz softplus(2z) = 2 sigmoid(2z) at z = 1.5; the rule's is 1e-6 larger
    match = re.search(r"y: d/dz at z=1\.5: fail: \S+ gives (\S+), the reference (\S+) ", text)
    sigmoid3 = 1 / (1 + 2.718281828459045 ** -3)
    assert float(match[1]) == pytest.approx(2 * sigmoid3 * (1 + 1e-6), rel=1e-12)
    assert float(match[2]) == pytest.approx(2 * sigmoid3, rel=1e-9)


def test_an_inconclusive_check_is_a_skip_with_its_reason(pytester):
    pytester.makefile(".grad", cancel=INCONCLUSIVE)
    result = run(pytester, "-rs")
    result.assert_outcomes(skipped=1)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*SKIPPED*inconclusive*error estimate*wider than the "
                                 "tolerance*"])


def test_a_model_without_rules_collects_nothing(pytester):
    pytester.makefile(".grad", model=MODEL_ONLY)
    pytester.makepyfile(test_other="def test_other():\n    assert True\n")
    result = run(pytester, "-v")
    result.assert_outcomes(passed=1)
    assert "model.grad::" not in result.stdout.str()
    empty = run(pytester, "model.grad")
    empty.assert_outcomes()
    assert empty.ret == pytest.ExitCode.NO_TESTS_COLLECTED


@pytest.mark.parametrize("text, fragment", [
    ("def f(x) = x**2\ngrad f(x) = 2*q\n", "'q' is not a parameter"),
    ("def f(x) = x**2\ngrad f(x) = 2*x +\n", "syntax error"),
], ids=["unknown-name", "syntax"])
def test_a_broken_grad_file_is_a_collection_error(pytester, text, fragment):
    pytester.makefile(".grad", broken=text)
    pytester.makefile(".grad", rules="def g(x) = x**3\ngrad g(x) = 3*x**2\n")
    result = run(pytester, "-o", "gradcli_points=2")
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    assert "ERROR collecting broken.grad" in out, out
    assert "gradcli: " in out and fragment in out, out
    assert "Traceback" not in out
    assert result.ret == pytest.ExitCode.INTERRUPTED  # collection errors stop the run
    assert run(pytester, "--continue-on-collection-errors", "-o",
                              "gradcli_points=2").parseoutcomes() == {"passed": 1, "errors": 1}


def test_a_check_of_an_unknown_name_fails_with_a_gradcli_message(pytester):
    pytester.makefile(".grad", unknown="y = sin(z)\ncheck yy at z=1\n")
    result = run(pytester)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert re.search(r"gradcli: .*yy", out), out
    assert "Traceback" not in out


def test_ini_points_and_method_are_honoured(pytester):
    pytester.makeini("[pytest]\ngradcli_points = 3\ngradcli_method = central\n")
    pytester.makefile(".grad", wrong=WRONG.replace("1e-8", "1e-4"))
    result = run(pytester)
    result.assert_outcomes(failed=1)
    assert re.search(r"wrong\.grad:4: grad softplus\(x\): fail \(central, 3 points\)",
                     result.stdout.str()), result.stdout.str()


def test_the_method_decides_what_error_is_caught(pytester):
    # 1e-8 relative: inside central's tolerance (1e-7), outside ridders' (1e-9)
    pytester.makefile(".grad", wrong=WRONG)
    pytester.makeini("[pytest]\ngradcli_points = 2\ngradcli_method = central\n")
    run(pytester).assert_outcomes(passed=1)
    pytester.makeini("[pytest]\ngradcli_points = 2\ngradcli_method = ridders\n")
    run(pytester).assert_outcomes(failed=1)


def test_an_unknown_method_fails_the_items_with_a_clear_message(pytester):
    pytester.makeini("[pytest]\ngradcli_method = bogus\n")
    pytester.makefile(".grad", rules="def g(x) = x**3\ngrad g(x) = 3*x**2\n")
    result = run(pytester)
    result.assert_outcomes(failed=1)
    assert "gradcli: unknown method 'bogus'" in result.stdout.str()


def _point_of_failure(result) -> str:
    match = re.search(r"softplus: d/dx at x=(\S+): fail", result.stdout.str())
    assert match, result.stdout.str()
    return match[1]


def test_the_seed_decides_the_points(pytester):
    pytester.makefile(".grad", wrong=WRONG)
    pytester.makeini("[pytest]\ngradcli_points = 2\ngradcli_seed = 1\n")
    first, again = run(pytester), run(pytester)
    pytester.makeini("[pytest]\ngradcli_points = 2\ngradcli_seed = 2\n")
    other = run(pytester)
    assert re.search(r"fail \(ridders, 2 points\)", first.stdout.str())
    assert _point_of_failure(first) == _point_of_failure(again)
    assert _point_of_failure(first) != _point_of_failure(other)


def test_python_tests_and_grad_items_run_together(pytester):
    pytester.makeini(INI_FAST)
    pytester.makefile(".grad", rules=RULES, wrong=WRONG)
    pytester.makepyfile(test_mine="def test_mine():\n    assert 1 + 1 == 2\n")
    result = run(pytester, "-k", "softplus or mine")
    result.assert_outcomes(passed=2, failed=1, deselected=2)


def test_a_rule_with_a_large_output_passes(pytester):
    pytester.makefile(".grad", big="""\
def affine(x, w) = x @ w
vjp affine(x, w) = (g @ transpose(w), transpose(x) @ g)
domain affine: x[5, 3], w[3, 4] = -1:1
""")
    run(pytester, "-o", "gradcli_points=1").assert_outcomes(passed=1)


def test_xdist_gives_the_same_outcomes(pytester):
    pytester.makeini(INI_FAST)
    pytester.makefile(".grad", rules=RULES, affine=AFFINE, wrong=WRONG, cancel=INCONCLUSIVE)
    serial = run(pytester)
    serial.assert_outcomes(passed=4, failed=1, skipped=1)
    parallel = run(pytester, "-n", "2")
    parallel.assert_outcomes(passed=4, failed=1, skipped=1)
    out = parallel.stdout.str()
    assert re.search(r"\b2 workers\b", out), out
    # each item seeds its own points: the same failure, wherever it ran
    assert _point_of_failure(parallel) == _point_of_failure(serial)
