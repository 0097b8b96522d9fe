"""Custom functions and hand-written derivative rules in .grad specs: def, grad, vjp, domain,
check; their use in a model; every error; detection of wrong rules; output formats.

Every expected number is a closed form computed here with math/numpy (or mpmath), never
gradcli checked against itself.
"""

import json
import math
import re
import xml.etree.ElementTree as ET

import mpmath
import numpy as np
import pytest
from typer.testing import CliRunner

from gradcli.cli import app
from gradcli.compare import Options
from gradcli.custom import RuleError
from gradcli.errors import InputError, NameResolutionError, ParseError
from gradcli.rule_files import check_file, check_statement, has_rules, targets
from gradcli.rules import RuleReport, check_target
from gradcli.spec import read_spec, spec_function

ENV = {"NO_COLOR": "1", "FORCE_COLOR": None, "COLUMNS": "200"}
runner = CliRunner()

TOP_KEYS = ["file", "line", "kind", "rule", "signature", "verdict", "method", "points",
            "skipped", "cotangents", "arguments"]
ARG_KEYS = ["argument", "index", "analytic", "numeric", "error_estimate", "abs_error",
            "rel_error", "tolerance", "verdict", "note"]
ARG_TAIL = ["point", "output"]


def write(tmp_path, text, name="rules.grad"):
    path = tmp_path / name
    path.write_text(text.strip("\n") + "\n", encoding="utf-8")
    return str(path)


def cli(*args):
    return runner.invoke(app, [str(a) for a in args], env=ENV)


def strict_json(line):
    def no_constants(name):
        raise AssertionError(f"non-strict JSON constant {name}")
    return json.loads(line, parse_constant=no_constants)


def run_file(path, count=3, seed=0, method="ridders", **options):
    return check_file(path, Options(method=method, **options), count=count, seed=seed)


def by_signature(reports):
    return {(r.target.kind, r.target.name, r.target.line): r for r in reports}


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


# ---------------------------------------------------------------------------------------------
# 1. every statement kind parses and works

BRIEF = """
def softplus(x) = log(1 + exp(x))
grad softplus(x) = sigmoid(x)                 # partial derivative; the VJP is g*partial
def smooth_abs(x, eps) = sqrt(x**2 + eps)
grad smooth_abs(x, eps) = (x / smooth_abs(x, eps), 1 / (2*smooth_abs(x, eps)))   # one per argument
def affine(x, w) = x @ w
vjp affine(x, w) = (g @ transpose(w), transpose(x) @ g)   # g is the output's cotangent
domain smooth_abs: eps = 0.01:1               # where to sample; default -2:2
domain affine: x[3, 4], w[4, 2] = -1:1        # NAME[shape] gives a shape, = LO:HI the bounds
y = softplus(2*z) + smooth_abs(z, 0.1)        # defs usable in assignments
check y at z=1.5                              # check statement: the model gradient at a point
check softplus at x=30                        # or a rule at a pinned point
"""


def test_the_spec_reads_every_statement_kind_with_comments(tmp_path):
    spec = read_spec(write(tmp_path, BRIEF))
    assert list(spec.functions) == ["softplus", "smooth_abs", "affine"]
    assert spec.functions["smooth_abs"].params == ("x", "eps")
    assert spec.functions["softplus"].line == 1
    assert [d.name for d in spec.rules] == ["softplus", "smooth_abs", "affine"]
    assert [d.rule.kind for d in spec.rules] == ["grad", "grad", "vjp"]
    assert [d.rule.line for d in spec.rules] == [2, 4, 6]
    assert spec.domains["smooth_abs"]["eps"].bounds == (0.01, 1.0)
    assert spec.domains["smooth_abs"]["eps"].shape is None
    assert "x" not in spec.domains["smooth_abs"]
    assert spec.domains["affine"]["x"].shape == (3, 4)
    assert spec.domains["affine"]["x"].bounds is None
    assert spec.domains["affine"]["w"].shape == (4, 2)
    assert spec.domains["affine"]["w"].bounds == (-1.0, 1.0)
    assert [(c.name, c.line) for c in spec.checks] == [("y", 10), ("softplus", 11)]
    assert spec.checks[0].point == {"z": 1.5} and spec.checks[1].point == {"x": 30.0}
    assert has_rules(spec)
    found = targets(spec)
    assert [(t.kind, t.name, t.line) for t in found[:3]] == [
        ("grad", "softplus", 2), ("grad", "smooth_abs", 4), ("vjp", "affine", 6)]
    assert [(c.name, c.line) for c in found[3:]] == [("y", 10), ("softplus", 11)]


def test_the_brief_example_passes_on_the_command_line(tmp_path):
    path = write(tmp_path, BRIEF)
    result = cli("check", path, "--points", "1", "--format", "plain")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 5
    assert lines[0].startswith(f"{path}:2: grad softplus(x): pass ")
    assert lines[1].startswith(f"{path}:4: grad smooth_abs(x, eps): pass ")
    assert lines[2].startswith(f"{path}:6: vjp affine(x, w): pass ")
    assert lines[3].startswith(f"{path}:10: check y at z=1.5")
    assert lines[4].startswith(f"{path}:11: check softplus at x=30")


def test_a_comment_after_a_check_statement_is_not_part_of_its_text(tmp_path):
    path = write(tmp_path, """
def softplus(x) = log(1 + exp(x))
grad softplus(x) = sigmoid(x)
y = softplus(2*z)
check y at z=1.5      # the model at a point
check softplus at x=30 # a rule at a pinned point
""")
    spec = read_spec(path)
    assert [c.point for c in spec.checks] == [{"z": 1.5}, {"x": 30.0}]  # read right ...
    reports = [check_statement(spec, c, Options()) for c in spec.checks]
    assert [r.verdict for r in reports] == ["pass", "pass"]
    assert [r.target.signature for r in reports] == ["z=1.5", "x=30"]  # ... but shown so?
    result = cli("check", path, "--points", "1", "--format", "plain")
    assert f"{path}:4: check y at z=1.5: pass " in result.stdout


def test_grad_with_one_partial_is_checked_against_the_closed_form(tmp_path):
    path = write(tmp_path, """
def softplus(x) = log(1 + exp(x))
grad softplus(x) = sigmoid(x)
""")
    (report,) = run_file(path)
    assert isinstance(report, RuleReport) and report.verdict == "pass"
    assert report.points == 3 and report.skipped == 0
    (row,) = report.rows
    x = row.point["x"]
    assert -2 <= x <= 2  # the default domain
    assert row.check.analytic == pytest.approx(sigmoid(x), rel=1e-14)
    assert row.check.numeric == pytest.approx(sigmoid(x), rel=1e-10)
    assert row.check.verdict == "pass" and row.check.index is None


def test_grad_with_a_tuple_of_partials_and_a_rule_calling_its_own_function(tmp_path):
    path = write(tmp_path, """
def smooth_abs(x, eps) = sqrt(x**2 + eps)
grad smooth_abs(x, eps) = (x / smooth_abs(x, eps), 1 / (2*smooth_abs(x, eps)))
domain smooth_abs: eps = 0.01:1
""")
    (report,) = run_file(path)
    assert report.verdict == "pass"
    rows = {row.check.variable: row for row in report.rows}
    assert list(rows) == ["x", "eps"]
    for name, row in rows.items():
        x, eps = row.point["x"], row.point["eps"]
        assert 0.01 <= eps <= 1 and -2 <= x <= 2
        s = math.sqrt(x * x + eps)
        expected = x / s if name == "x" else 1 / (2 * s)
        assert row.check.analytic == pytest.approx(expected, rel=1e-13)
        assert row.check.numeric == pytest.approx(expected, rel=1e-9)


def test_vjp_on_arrays_checks_every_entry(tmp_path):
    path = write(tmp_path, """
def affine(x, w) = x @ w
vjp affine(x, w) = (g @ transpose(w), transpose(x) @ g)
domain affine: x[2, 3], w[3, 2] = -1:1
""")
    (report,) = run_file(path, count=2)
    assert report.verdict == "pass" and report.target.kind == "vjp"
    assert report.cotangents.startswith("every output entry (4), with the cotangent ")
    rows = {row.check.variable: row for row in report.rows}
    assert rows["x"].check.checked == {"entries": 6}
    assert rows["w"].check.checked == {"entries": 6}
    x, w = np.asarray(rows["w"].point["x"]), np.asarray(rows["w"].point["w"])
    assert x.shape == (2, 3) and w.shape == (3, 2)
    assert np.all(np.abs(w) <= 1) and np.all(np.abs(x) <= 2)
    # d(x @ w)[i, j] / dw[k, j] = x[i, k]: the reported entry must match that closed form
    i, j = rows["w"].output
    k, jj = rows["w"].check.index
    expected = x[i, k] if jj == j else 0.0
    assert rows["w"].check.analytic == pytest.approx(expected, abs=1e-15)
    assert rows["w"].check.numeric == pytest.approx(expected, abs=1e-9)


def test_a_wrong_vjp_fails_only_its_wrong_argument(tmp_path):
    path = write(tmp_path, """
def affine(x, w) = x @ w
vjp affine(x, w) = (g @ transpose(w), 2 * transpose(x) @ g)
domain affine: x[2, 3], w[3, 2]
""")
    (report,) = run_file(path, count=2)
    verdicts = {row.check.variable: row.check.verdict for row in report.rows}
    assert verdicts == {"x": "pass", "w": "fail"} and report.verdict == "fail"
    row = next(r for r in report.rows if r.check.variable == "w")
    assert row.check.analytic == pytest.approx(2 * row.check.numeric, rel=1e-8)
    (sentence,) = report.failures()
    assert "affine" in sentence and "d/dw" in sentence and "fail" in sentence


def test_grad_partials_broadcast_and_sum_back_to_a_scalar_argument(tmp_path):
    path = write(tmp_path, """
def scale(x, a) = a*x
grad scale(x, a) = (a, x)
domain scale: x[3]
def wsum(x, a) = sum(a*x**2)
grad wsum(x, a) = (2*a*x, x**2)
domain wsum: x[2]
""")
    reports = run_file(path, count=2)
    assert [r.verdict for r in reports] == ["pass", "pass"]
    wrong = write(tmp_path, """
def scale(x, a) = a*x
grad scale(x, a) = (a, 2*x)
domain scale: x[3]
""", "wrong.grad")
    (report,) = run_file(wrong, count=2)
    assert {r.check.variable: r.check.verdict for r in report.rows} == {"x": "pass",
                                                                       "a": "fail"}


def test_domain_bounds_are_where_the_rule_is_sampled(tmp_path):
    body = "def r(x) = sqrt(x)\ngrad r(x) = 0.5/sqrt(x)\n"
    (free,) = run_file(write(tmp_path, body, "free.grad"), count=10)
    assert free.skipped > 0 and free.points + free.skipped == 10  # x < 0 is not finite
    (bounded,) = run_file(write(tmp_path, body + "domain r: x = pi/4:pi\n", "b.grad"),
                          count=10)
    assert bounded.skipped == 0 and bounded.points == 10 and bounded.verdict == "pass"
    x = bounded.rows[0].point["x"]
    assert math.pi / 4 <= x <= math.pi
    assert bounded.rows[0].check.analytic == pytest.approx(0.5 / math.sqrt(x), rel=1e-14)


def test_domain_shape_gives_an_array_argument(tmp_path):
    path = write(tmp_path, """
def lse(v) = max(v) + log(sum(exp(v - max(v))))
grad lse(v) = softmax(v)
domain lse: v[3] = -1:1
""")
    (report,) = run_file(path)
    (row,) = report.rows
    v = np.asarray(row.point["v"])
    assert v.shape == (3,) and np.all(np.abs(v) <= 1)
    assert row.check.checked == {"entries": 3}
    (k,) = row.check.index
    expected = np.exp(v[k]) / np.exp(v).sum()
    assert row.check.analytic == pytest.approx(expected, rel=1e-13)
    assert report.verdict == "pass"


# ---------------------------------------------------------------------------------------------
# 2. defs in a model

MODEL = """
def softplus(x) = log(1 + exp(x))
grad softplus(x) = sigmoid(x)
def smooth_abs(x, eps) = sqrt(x**2 + eps)
grad smooth_abs(x, eps) = (x / smooth_abs(x, eps), 1 / (2*smooth_abs(x, eps)))
y = softplus(2*z) + smooth_abs(z, 0.1)
"""


@pytest.mark.parametrize("z", [1.5, -0.7, 0.0])
def test_model_value_gradient_and_second_derivative_against_closed_forms(tmp_path, z):
    f = spec_function(write(tmp_path, MODEL))
    result = f.grad(z=z)
    s = math.sqrt(z * z + 0.1)
    assert result.value == pytest.approx(math.log1p(math.exp(2 * z)) + s, rel=1e-14)
    assert result.gradient["z"] == pytest.approx(2 * sigmoid(2 * z) + z / s, rel=1e-14)
    d2 = f.derivative("z").derivative("z").grad(z=z).value
    # d/dz of the rules: 4 sigmoid'(2z) + d/dz(z / smooth_abs(z, .1)) = ... + 0.1 / s**3
    expected = 4 * sigmoid(2 * z) * (1 - sigmoid(2 * z)) + 0.1 / s**3
    assert d2 == pytest.approx(expected, rel=1e-12)


def test_the_model_gradient_follows_a_wrong_rule_not_the_body(tmp_path):
    f = spec_function(write(tmp_path, """
def cube(x) = x**3
grad cube(x) = 5*x**2
y = cube(z) + z
"""))
    result = f.grad(z=2.0)
    assert result.value == pytest.approx(8.0 + 2.0)  # the value is the body's
    assert result.gradient["z"] == pytest.approx(5 * 4 + 1)  # not 3*4 + 1
    # the second derivative is that of the rule's formula: d/dz 5 z**2 = 10 z, not 6 z
    assert f.derivative("z").derivative("z").grad(z=2.0).value == pytest.approx(20.0)
    assert f.derivative("z").grad(z=-1.5).value == pytest.approx(5 * 2.25 + 1)


def test_a_def_without_a_rule_is_differentiated_through_its_body(tmp_path):
    f = spec_function(write(tmp_path, """
def bump(x) = exp(-x**2) * sin(3*x)
y = bump(z) * z
"""))
    z = 0.8
    bump = math.exp(-z * z) * math.sin(3 * z)
    dbump = math.exp(-z * z) * (3 * math.cos(3 * z) - 2 * z * math.sin(3 * z))
    result = f.grad(z=z)
    assert result.value == pytest.approx(bump * z, rel=1e-14)
    assert result.gradient["z"] == pytest.approx(dbump * z + bump, rel=1e-13)


def test_nested_defs_use_the_inner_rule(tmp_path):
    f = spec_function(write(tmp_path, """
def inner(x) = x**2
grad inner(x) = 7*x
def outer(x, a) = a*inner(x) + sin(x)
y = outer(z, 3)
"""))
    z = 0.4
    result = f.grad(z=z)
    assert result.value == pytest.approx(3 * z * z + math.sin(z), rel=1e-14)
    # through outer's body, inner by its (wrong on purpose) rule 7x
    assert result.gradient["z"] == pytest.approx(3 * 7 * z + math.cos(z), rel=1e-14)


def test_a_rule_after_a_use_in_a_def_body_is_still_used(tmp_path):
    # a use in a def body is no use in an assignment: the rule may come after it
    f = spec_function(write(tmp_path, """
def base(x) = x**2
def twice(x) = 2*base(x)
grad base(x) = 4*x
y = twice(z)
"""))
    assert f.grad(z=1.5).gradient["z"] == pytest.approx(2 * 4 * 1.5)


def test_nested_defs_with_correct_rules_check_as_a_model(tmp_path):
    path = write(tmp_path, """
def softplus(x) = log(1 + exp(x))
grad softplus(x) = sigmoid(x)
def layer(x, w) = softplus(w*x) * w
y = layer(z, 1.3) + softplus(z)
check y at z=0.3
""")
    reports = run_file(path)
    assert [r.target.kind for r in reports] == ["grad", "check"]
    report, check = reports
    z, w = 0.3, 1.3
    expected = w * w * sigmoid(w * z) + sigmoid(z)
    assert check.rows[0].check.analytic == pytest.approx(expected, rel=1e-14)
    assert check.verdict == "pass" and report.verdict == "pass"


def test_shadowing_a_builtin_function_name_is_allowed_and_uses_the_def(tmp_path):
    path = write(tmp_path, """
def softplus(x) = 2*log(1 + exp(x))
grad softplus(x) = 2*sigmoid(x)
y = softplus(z)
check y at z=0.5
""")
    f = spec_function(path)
    assert f.grad(z=0.5).value == pytest.approx(2 * math.log1p(math.exp(0.5)), rel=1e-14)
    assert f.grad(z=0.5).gradient["z"] == pytest.approx(2 * sigmoid(0.5), rel=1e-14)
    result = cli("check", path, "--points", "3", "--format", "plain")
    assert result.exit_code == 0, result.output


def test_a_def_may_use_constants(tmp_path):
    f = spec_function(write(tmp_path, "def f(x) = pi*x**2\ny = f(z)\n"))
    assert f.grad(z=1.25).gradient["z"] == pytest.approx(2 * math.pi * 1.25)


# ---------------------------------------------------------------------------------------------
# 3. errors: exit 2, message, line and column

ERRORS = [
    # id, text, error class, message fragment, line, column (None: not asserted)
    ("defined-twice", "def f(x) = x\ndef f(x) = 2*x\ngrad f(x) = 2", NameResolutionError,
     "function 'f' is defined twice (first at line 1)", 2, 5),
    ("rule-undefined", "grad f(x) = 1", NameResolutionError, "no function 'f'", 1, 6),
    ("rule-before-def", "grad f(x) = 1\ndef f(x) = x", NameResolutionError, "no function 'f'",
     1, 6),
    ("rule-twice", "def f(x) = x\ngrad f(x) = 1\ngrad f(x) = 1", RuleError,
     "f has a rule already (line 2)", 3, 6),
    ("rule-after-use", "def f(x) = x\ny = f(z)\ngrad f(x) = 1", RuleError,
     "must come before its first use (line 2)", 3, 6),
    ("rule-params", "def f(x, y) = x*y\ngrad f(x) = y", RuleError, "names 1 parameters", 2, 6),
    ("partials-1-for-2", "def f(x, y) = x*y\ngrad f(x, y) = (y,)", RuleError,
     "gives 1 partial derivative for 2 arguments", 2, None),
    ("partials-2-for-1", "def f(x) = x*x\ngrad f(x) = (x, x)", RuleError,
     "gives 2 partial derivatives for 1 argument", 2, None),
    ("vjp-cotangents-1-for-2",
     "def affine(x, w) = x @ w\nvjp affine(x, w) = (g @ transpose(w),)\n"
     "domain affine: x[3, 4], w[4, 2]", RuleError, "gives 1 cotangent for 2 arguments", 2, None),
    ("vjp-shape",
     "def affine(x, w) = x @ w\nvjp affine(x, w) = (g @ transpose(w), g)\n"
     "domain affine: x[3, 4], w[4, 2]", RuleError,
     "the cotangent of w has shape (3, 2), but w has shape (4, 2)", 2, None),
    ("unknown-name", "def f(x) = x + y", NameResolutionError, "'y' is not a parameter", 1, 16),
    ("spec-value-in-body", "a = 2\ndef f(x) = a*x", NameResolutionError,
     "'a' is not a parameter", 2, 12),
    ("g-in-grad", "def f(x) = x\ngrad f(x) = g", NameResolutionError,
     "known in vjp rules only", 2, 13),
    ("vjp-param-g", "def f(g) = g\nvjp f(g) = g", RuleError,
     "g is the cotangent of the output", 2, 5),
    ("tuple-body", "def f(x) = (x, x)", ParseError, "def f has 2 values", 1, None),
    ("domain-unknown-function", "def f(x) = x\ngrad f(x) = 1\ndomain h: x = 0:1",
     NameResolutionError, "domain h: no function 'h'", 3, 8),
    ("domain-not-a-parameter", "def f(x) = x\ngrad f(x) = 1\ndomain f: y = 0:1",
     NameResolutionError, "'y' is not a parameter of f(x)", 3, 11),
    ("domain-reversed", "def f(x) = x\ngrad f(x) = 1\ndomain f: x = 1:0", InputError,
     "LOW < HIGH", 3, 11),
    ("domain-empty", "def f(x) = x\ngrad f(x) = 1\ndomain f: x = 1:1", InputError,
     "LOW < HIGH", 3, 11),
    ("check-unknown", "def f(x) = x\ngrad f(x) = 1\ncheck nope at x=1", NameResolutionError,
     "the spec has no value or function 'nope'", 3, 7),
    ("check-def-without-rule", "def f(x) = x\ngrad f(x) = 1\ndef h(x) = x\ncheck h at x=1",
     NameResolutionError, "h has no rule to check", 4, 7),
    ("check-missing-argument", "def f(x, y) = x*y\ngrad f(x, y) = (y, x)\ncheck f at x=1",
     NameResolutionError, "y has none", 3, 7),
    ("syntax-in-def", "def f(x) = x + * 2", ParseError, "syntax error", 1, 16),
    ("syntax-in-rule", "def f(x) = x\ngrad f(x) = 1 + * x", ParseError, "syntax error", 2, 17),
    ("duplicate-param", "def f(x, x) = x", NameResolutionError, "named twice", 1, 10),
    ("self-call-in-body", "def f(x) = f(x)", InputError, "unknown function 'f'", 1, 12),
    ("def-over-a-value", "y = 2*z\ndef y(x) = x", NameResolutionError,
     "'y' is already a value", 2, 5),
]


def _load_and_check(path):
    return run_file(read_spec(path).path, count=1)


@pytest.mark.parametrize("text, cls, message, line, column",
                         [case[1:] for case in ERRORS], ids=[case[0] for case in ERRORS])
def test_library_errors_carry_their_place(tmp_path, text, cls, message, line, column):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        _load_and_check(path)
    error = caught.value
    assert isinstance(error, cls), type(error)
    assert message in error.message
    assert error.line == line
    if column is not None:
        assert error.column == column


def caret_column(stderr, path, line):
    """The column the caret points at, under the echoed line, after `path:line:column:`."""
    lines = stderr.splitlines()
    (k,) = [i for i, text in enumerate(lines) if text.strip().startswith(f"{path}:{line}:")]
    header = re.fullmatch(rf"\s*{re.escape(path)}:{line}:(\d+):", lines[k])
    assert header, lines[k]
    caret = lines[k + 2]
    assert caret.strip() == "^"
    assert lines[k + 1].startswith("    ") and caret.startswith("    ")
    return int(header.group(1)), caret.index("^") - 4 + 1


@pytest.mark.parametrize("text, cls, message, line, column",
                         [case[1:] for case in ERRORS], ids=[case[0] for case in ERRORS])
def test_cli_errors_exit_2_with_a_caret(tmp_path, text, cls, message, line, column):
    path = write(tmp_path, text)
    result = cli("check", path, "--points", "2")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("gradcli: error: "), result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout and result.stdout == ""
    header, caret = caret_column(result.stderr, path, line)
    assert header == caret  # the caret sits under the column it names
    if column is not None:
        assert header == column
    echoed = result.stderr.splitlines()
    source_line = text.split("\n")[line - 1]
    assert any(row == "    " + source_line for row in echoed)


BODY_ERRORS = [
    ("partials", "def f(x, y) = x*y\ngrad f(x, y) = (y,)", 2, "("),
    ("tuple-body", "def f(x) = (x, x)", 1, "("),
    ("vjp-shape", "def affine(x, w) = x @ w\nvjp affine(x, w) = (g @ transpose(w), g)\n"
                  "domain affine: x[3, 4], w[4, 2]", 2, "("),
]


@pytest.mark.parametrize("text, line, first", [c[1:] for c in BODY_ERRORS],
                         ids=[c[0] for c in BODY_ERRORS])
def test_errors_about_a_whole_body_point_at_the_body(tmp_path, text, line, first):
    path = write(tmp_path, text)
    result = cli("check", path, "--points", "2")
    assert result.exit_code == 2
    header, _ = caret_column(result.stderr, path, line)
    source_line = text.split("\n")[line - 1]
    body_start = source_line.index("= ") + 2
    assert source_line[body_start] == first
    assert header == body_start + 1


def test_a_wrong_count_of_partials_is_found_without_computing_any_number(tmp_path):
    # read_spec alone (no sampling) already refuses it, at its line
    path = write(tmp_path, "def f(x, y) = x*y\ngrad f(x, y) = (y,)\ny = f(z, z)")
    with pytest.raises(RuleError) as caught:
        read_spec(path)
    assert caught.value.line == 2


def test_a_vjp_of_the_wrong_shape_is_found_before_any_point_is_sampled(tmp_path):
    # the wrong shape is refused even where the sampled points are not finite
    path = write(tmp_path, "def affine(x, w) = log(x) @ w\nvjp affine(x, w) = "
                           "(g @ transpose(w), g)\ndomain affine: x[3, 4] = -2:-1, w[4, 2]")
    with pytest.raises(RuleError) as caught:
        run_file(path, count=2)
    assert caught.value.line == 2 and "shape" in caught.value.message


# ---------------------------------------------------------------------------------------------
# 4. detection: correct rules pass; relative 1e-8, sign and factor errors fail

# name -> (the lines before the rule, "grad"/"vjp", signature, [partials], the lines after)
RULES = {
    "softplus": (["def softplus(x) = log(1 + exp(x))"], "grad", "softplus(x)",
                 ["sigmoid(x)"], []),
    "log_sigmoid": (["def log_sig(x) = -log(1 + exp(-x))"], "grad", "log_sig(x)",
                    ["sigmoid(-x)"], []),
    "logcosh": (["def logcosh(x) = log(cosh(x))"], "grad", "logcosh(x)", ["tanh(x)"], []),
    "tanh_squared": (["def tsq(x) = tanh(x)**2"], "grad", "tsq(x)",
                     ["2*tanh(x)*(1 - tanh(x)**2)"], []),
    "smooth_abs": (["def smooth_abs(x, eps) = sqrt(x**2 + eps)"], "grad", "smooth_abs(x, eps)",
                   ["x / smooth_abs(x, eps)", "1 / (2*smooth_abs(x, eps))"],
                   ["domain smooth_abs: eps = 0.01:1"]),
    "logsumexp": (["def lse(v) = max(v) + log(sum(exp(v - max(v))))"], "grad", "lse(v)",
                  ["softmax(v)"], ["domain lse: v[3]"]),
    "affine": (["def affine(x, w) = x @ w"], "vjp", "affine(x, w)",
               ["g @ transpose(w)", "transpose(x) @ g"],
               ["domain affine: x[1, 2], w[2, 2] = -1:1"]),
    "product": (["def prod(x, y) = x*y*exp(x)"], "grad", "prod(x, y)",
                ["(1 + x)*y*exp(x)", "x*exp(x)"], []),
    "cube": (["def cube(x) = x**3"], "grad", "cube(x)", ["3*x**2"], []),
    "sin_product": (["def sinp(a, b) = sin(a*b)"], "grad", "sinp(a, b)",
                    ["b*cos(a*b)", "a*cos(a*b)"], []),
}
SCALAR = [name for name in RULES if name not in ("logsumexp", "affine")]


def rule_text(name, partials=None):
    before, kind, signature, good, after = RULES[name]
    partials = good if partials is None else partials
    body = partials[0] if len(partials) == 1 else f"({', '.join(partials)})"
    return "\n".join([*before, f"{kind} {signature} = {body}", *after])


def rules_file(names):
    return "\n".join(rule_text(name) for name in names)


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_a_correct_rule_set_passes_with_default_settings(tmp_path, seed):
    path = write(tmp_path, rules_file(RULES))
    reports = check_file(path, Options(), seed=seed)
    assert [r.target.name for r in reports] == ["softplus", "log_sig", "logcosh", "tsq",
                                                "smooth_abs", "lse", "affine", "prod", "cube",
                                                "sinp"]
    for report in reports:
        assert report.verdict == "pass", (report.target.name, report.failures())
        assert report.points + report.skipped == 10 and report.skipped == 0


def test_a_correct_rule_set_passes_on_the_command_line(tmp_path):
    path = write(tmp_path, rules_file(RULES))
    result = cli("check", path, "--points", "3", "--seed", "2", "--format", "plain")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == len(RULES)
    assert all(": pass " in line for line in result.stdout.splitlines())


PERTURBED = [(name, k) for name in RULES for k in range(len(RULES[name][3]))]


@pytest.mark.parametrize("name, k", PERTURBED, ids=[f"{n}-{k}" for n, k in PERTURBED])
def test_a_relative_error_of_1e_8_in_any_partial_fails(tmp_path, name, k):
    partials = list(RULES[name][3])
    partials[k] = f"({partials[k]})*(1 + 1e-8)"
    path = write(tmp_path, rule_text(name, partials))
    (report,) = run_file(path)
    assert report.verdict == "fail"
    verdicts = [row.check.verdict for row in report.rows]
    assert verdicts[k] == "fail"
    assert all(v == "pass" for j, v in enumerate(verdicts) if j != k)
    row = report.rows[k]
    assert row.check.rel_error == pytest.approx(1e-8, rel=1e-3)
    result = cli("check", path, "--points", "3", "--format", "plain")
    assert result.exit_code == 1 and ": fail " in result.stdout


@pytest.mark.parametrize("name, partials, wrong", [
    ("cube", ["-3*x**2"], 0),                                           # a sign error
    ("log_sigmoid", ["-sigmoid(-x)"], 0),
    ("product", ["(1 + x)*y*exp(x)", "-x*exp(x)"], 1),
    ("affine", ["-g @ transpose(w)", "transpose(x) @ g"], 0),
    ("tanh_squared", ["tanh(x)*(1 - tanh(x)**2)"], 0),                  # a missing factor 2
    ("smooth_abs", ["x / smooth_abs(x, eps)", "1 / smooth_abs(x, eps)"], 1),
    ("cube", ["3*x"], 0),                                               # a missing power
], ids=["cube-sign", "log_sigmoid-sign", "product-sign", "affine-sign", "tsq-factor-2",
        "smooth_abs-factor-2", "cube-power"])
def test_sign_and_factor_errors_fail(tmp_path, name, partials, wrong):
    (report,) = run_file(write(tmp_path, rule_text(name, partials)))
    assert report.verdict == "fail"
    assert report.rows[wrong].check.verdict == "fail"
    assert report.exit_code == 1


def test_a_loose_rtol_lets_a_1e_8_error_pass_and_strict_options_reach_the_check(tmp_path):
    path = write(tmp_path, rule_text("cube", ["(3*x**2)*(1 + 1e-8)"]))
    assert cli("check", path, "--points", "3").exit_code == 1
    loose = cli("check", path, "--points", "3", "--rtol", "1e-6", "--format", "json")
    assert loose.exit_code == 0, loose.output
    obj = strict_json(loose.stdout.splitlines()[0])
    assert obj["arguments"][0]["tolerance"] >= 1e-6 * abs(obj["arguments"][0]["numeric"])


def test_points_and_seed_are_reproducible_and_change_the_points(tmp_path):
    path = write(tmp_path, rule_text("softplus"))
    a = cli("check", path, "--points", "4", "--seed", "3", "--format", "json")
    b = cli("check", path, "--points", "4", "--seed", "3", "--format", "json")
    c = cli("check", path, "--points", "4", "--seed", "4", "--format", "json")
    assert a.exit_code == b.exit_code == c.exit_code == 0
    first, second, other = (strict_json(r.stdout) for r in (a, b, c))
    assert first == second and first["points"] == 4
    assert first["arguments"][0]["point"] != other["arguments"][0]["point"]


def test_probes_above_the_full_limit_still_find_a_wrong_vjp(tmp_path):
    path = write(tmp_path, rule_text("affine", ["g @ transpose(w)",
                                                "(transpose(x) @ g)*(1 + 1e-8)"]))
    result = cli("check", path, "--points", "1", "--full-limit", "1", "--probes", "3",
                 "--format", "json")
    assert result.exit_code == 1, result.output
    obj = strict_json(result.stdout)
    x, w = obj["arguments"]
    assert x["verdict"] == "pass" and x["checked"] == {"probes": 3}
    assert w["verdict"] == "fail" and w["checked"]["probes"] == 3


def test_a_rule_with_a_large_array_output_can_be_checked(tmp_path):
    path = write(tmp_path, """
def dbl(x) = 2*x
grad dbl(x) = 2
domain dbl: x[17]
""")
    result = cli("check", path, "--points", "1", "--format", "json")
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("text", [
    "def f(x) = x*x\nvjp f(x) = 2*x",
    "def affine(x, w) = x @ w\nvjp affine(x, w) = (g**2 @ transpose(w), transpose(x) @ g)\n"
    "domain affine: x[2, 3], w[3, 2]",
], ids=["scalar-without-g", "array-g-squared"])
def test_a_vjp_that_is_not_linear_in_g_fails(tmp_path, text):
    path = write(tmp_path, text)
    # such a rule is wrong: through a model y = 3*f(z) it gives 2z, not 6z (see below)
    (report,) = run_file(path, count=2)
    assert report.verdict == "fail"


def test_a_vjp_without_g_gives_a_wrong_model_gradient(tmp_path):
    # the companion of the test above: the rule really is wrong in use
    f = spec_function(write(tmp_path, "def f(x) = x*x\nvjp f(x) = 2*x\ny = 3*f(z)"))
    assert f.grad(z=1.0).gradient["z"] == pytest.approx(2.0)  # the true derivative is 6


# ---------------------------------------------------------------------------------------------
# 5. check statements

def test_check_statements_on_a_value_and_on_a_rule_pass(tmp_path):
    path = write(tmp_path, MODEL + "check y at z=1.5\ncheck softplus at x=30\n"
                                   "check smooth_abs at x=-0.5, eps=0.2\n")
    reports = run_file(path)
    checks = [r for r in reports if r.target.kind == "check"]
    assert [(r.target.name, r.target.line, r.points) for r in checks] == [
        ("y", 6, 1), ("softplus", 7, 1), ("smooth_abs", 8, 1)]
    assert all(r.verdict == "pass" for r in reports)
    z = 1.5
    (row,) = checks[0].rows
    assert row.point == {"z": 1.5}
    assert row.check.analytic == pytest.approx(2 * sigmoid(3) + z / math.sqrt(z * z + .1),
                                               rel=1e-14)
    assert row.check.numeric == pytest.approx(row.check.analytic, rel=1e-9)
    (row,) = checks[1].rows
    assert row.point == {"x": 30.0}
    assert row.check.analytic == pytest.approx(1 / (1 + math.exp(-30)), rel=1e-15)
    rows = {r.check.variable: r.check for r in checks[2].rows}
    s = math.sqrt(0.25 + 0.2)
    assert rows["x"].analytic == pytest.approx(-0.5 / s, rel=1e-14)
    assert rows["eps"].analytic == pytest.approx(1 / (2 * s), rel=1e-14)


def test_check_statement_library_entry_point(tmp_path):
    spec = read_spec(write(tmp_path, MODEL + "check y at z=-1\n"))
    (check,) = spec.checks
    report = check_statement(spec, check, Options())
    assert report.target.kind == "check" and report.verdict == "pass"
    s = math.sqrt(1.1)
    assert report.rows[0].check.analytic == pytest.approx(2 * sigmoid(-2) - 1 / s, rel=1e-14)


def test_check_statements_fail_when_the_rule_is_wrong(tmp_path):
    path = write(tmp_path, """
def cube(x) = x**3
grad cube(x) = 5*x**2
y = cube(z) + z
check y at z=2
check cube at x=2
""")
    reports = run_file(path)
    assert [(r.target.kind, r.verdict) for r in reports] == [
        ("grad", "fail"), ("check", "fail"), ("check", "fail")]
    value, rule = reports[1].rows[0].check, reports[2].rows[0].check
    assert value.analytic == pytest.approx(21.0) and value.numeric == pytest.approx(13.0)
    assert rule.analytic == pytest.approx(20.0) and rule.numeric == pytest.approx(12.0)
    result = cli("check", path, "--points", "3", "--format", "plain")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[1].startswith(f"{path}:4: check y at z=2: fail ")
    assert lines[2].startswith(f"{path}:5: check cube at x=2: fail ")


def test_a_check_statement_alone_makes_a_rules_file(tmp_path):
    path = write(tmp_path, "def f(x) = x*sin(x)\ny = f(z)\ncheck y at z=0.7\n")
    assert has_rules(read_spec(path))
    result = cli("check", path, "--format", "json")
    assert result.exit_code == 0, result.output
    obj = strict_json(result.stdout)
    assert obj["kind"] == "check" and obj["rule"] == "y" and obj["line"] == 3
    (arg,) = obj["arguments"]
    assert arg["analytic"] == pytest.approx(math.sin(0.7) + 0.7 * math.cos(0.7), rel=1e-14)


def test_check_target_api(tmp_path):
    spec = read_spec(write(tmp_path, rule_text("sin_product")))
    (target,) = targets(spec)
    report = check_target(target, Options(), count=3, seed=5)
    assert report.verdict == "pass" and report.points == 3
    for row in report.rows:
        a, b = row.point["a"], row.point["b"]
        expected = (b if row.check.variable == "a" else a) * math.cos(a * b)
        assert row.check.analytic == pytest.approx(expected, rel=1e-13)


# ---------------------------------------------------------------------------------------------
# 6. formats

FORMATS = """
def softplus(x) = log(1 + exp(x))
grad softplus(x) = sigmoid(x)
def smooth_abs(x, eps) = sqrt(x**2 + eps)
grad smooth_abs(x, eps) = (x / smooth_abs(x, eps), 1 / smooth_abs(x, eps))
domain smooth_abs: eps = 0.01:1
def affine(x, w) = x @ w
vjp affine(x, w) = (g @ transpose(w), transpose(x) @ g)
domain affine: x[1, 2], w[2, 2]
y = softplus(z)
check y at z=0.5
"""


def test_json_is_strict_with_keys_in_order(tmp_path):
    path = write(tmp_path, FORMATS)
    result = cli("check", path, "--points", "3", "--format", "json")
    assert result.exit_code == 1, result.output
    objs = [strict_json(line) for line in result.stdout.splitlines()]
    assert len(objs) == 4
    for obj in objs:
        assert list(obj)[:len(TOP_KEYS)] == TOP_KEYS
        assert set(obj) - set(TOP_KEYS) <= {"warnings"}
        for arg in obj["arguments"]:
            keys = list(arg)
            expected = ARG_KEYS + (["checked"] if "checked" in arg else []) + ARG_TAIL
            assert keys == expected
    softplus, smooth, affine, check = objs
    assert [o["kind"] for o in objs] == ["grad", "grad", "vjp", "check"]
    assert [o["line"] for o in objs] == [2, 4, 7, 10]
    assert [o["rule"] for o in objs] == ["softplus", "smooth_abs", "affine", "y"]
    assert all(o["file"] == path and o["method"] == "ridders" for o in objs)
    assert softplus["signature"] == "softplus(x)" and softplus["verdict"] == "pass"
    assert softplus["points"] == 3 and softplus["skipped"] == 0
    assert softplus["cotangents"] is None
    assert [a["argument"] for a in smooth["arguments"]] == ["x", "eps"]
    assert [a["verdict"] for a in smooth["arguments"]] == ["pass", "fail"]
    assert smooth["verdict"] == "fail"
    eps_arg = smooth["arguments"][1]
    s = math.sqrt(eps_arg["point"]["x"] ** 2 + eps_arg["point"]["eps"])
    assert eps_arg["analytic"] == pytest.approx(1 / s, rel=1e-13)
    assert eps_arg["numeric"] == pytest.approx(1 / (2 * s), rel=1e-9)
    assert affine["cotangents"].startswith("every output entry (2), with the cotangent ")
    assert [a["checked"] for a in affine["arguments"]] == [{"entries": 2}, {"entries": 4}]
    assert all(isinstance(a["output"], list) for a in affine["arguments"])
    assert np.asarray(affine["arguments"][0]["point"]["x"]).shape == (1, 2)
    assert check["points"] == 1 and check["arguments"][0]["point"] == {"z": 0.5}


def test_plain_is_one_line_per_rule(tmp_path):
    path = write(tmp_path, FORMATS)
    result = cli("check", path, "--points", "3", "--format", "plain")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    pattern = re.compile(rf"{re.escape(path)}:(\d+): (.+): (pass|fail|inconclusive) (\S+)")
    parsed = [pattern.fullmatch(line) for line in lines]
    assert all(parsed), lines
    assert [(m.group(1), m.group(2), m.group(3)) for m in parsed] == [
        ("2", "grad softplus(x)", "pass"), ("4", "grad smooth_abs(x, eps)", "fail"),
        ("7", "vjp affine(x, w)", "pass"), ("10", "check y at z=0.5", "pass")]
    assert float(parsed[0].group(4)) < 1e-9
    assert float(parsed[1].group(4)) == pytest.approx(0.5, rel=1e-6)  # 1/s against 1/(2s)


def test_github_annotations_escape_properties_and_sum_up(tmp_path):
    path = write(tmp_path, FORMATS, name="odd,na:me.grad")
    result = cli("check", path, "--points", "3", "--format", "github")
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    escaped = path.replace(":", "%3A").replace(",", "%2C")
    assert lines[-1] == "::notice title=gradcli check::4 checked: 3 pass, 1 fail, 0 inconclusive"
    (error,) = lines[:-1]
    assert error.startswith(f"::error file={escaped},line=4,"
                            "title=gradcli%3A grad smooth_abs(x%2C eps)::")
    message = error.split("::", 2)[2]
    assert "smooth_abs" in message and "d/deps" in message and "fail" in message
    assert "\n" not in message


def test_github_warning_free_run_prints_only_the_notice(tmp_path):
    path = write(tmp_path, rules_file(["softplus", "cube"]))
    result = cli("check", path, "--points", "3", "--format", "github")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "::notice title=gradcli check::2 checked: 2 pass, 0 fail, 0 inconclusive"]


def test_junit_xml_has_failures_and_places(tmp_path):
    path = write(tmp_path, FORMATS)
    report = tmp_path / "out.xml"
    result = cli("check", path, "--points", "3", "--format", "plain", "--junit", report)
    assert result.exit_code == 1
    root = ET.parse(report).getroot()
    assert root.tag == "testsuites"
    assert root.get("failures") == "1" and root.get("tests") == "6"
    (suite,) = root.findall("testsuite")
    assert suite.get("failures") == "1"
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name"), c.get("line")) for c in cases] == [
        ("gradcli.grad.softplus", "grad softplus(x): d/dx", "2"),
        ("gradcli.grad.smooth_abs", "grad smooth_abs(x, eps): d/dx", "4"),
        ("gradcli.grad.smooth_abs", "grad smooth_abs(x, eps): d/deps", "4"),
        ("gradcli.vjp.affine", "vjp affine(x, w): d/dx", "7"),
        ("gradcli.vjp.affine", "vjp affine(x, w): d/dw", "7"),
        ("gradcli.check.y", "check y at z=0.5: d/dz", "10")]
    assert all(c.get("file") == path for c in cases)
    failing = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failing] == ["grad smooth_abs(x, eps): d/deps"]


def test_an_inconclusive_check_exits_3_and_stays_strict_json(tmp_path):
    # sqrt at 1e-12: the rule is 0.5/sqrt(x) = 5e5, but no finite difference fits in x > 0
    path = write(tmp_path, "def r(x) = sqrt(x)\ngrad r(x) = 0.5/sqrt(x)\n"
                           "domain r: x = 0.5:2\ncheck r at x=1e-12\n")
    result = cli("check", path, "--points", "2", "--format", "json")
    assert result.exit_code == 3, result.output
    rule, check = (strict_json(line) for line in result.stdout.splitlines())
    assert rule["verdict"] == "pass" and "warnings" not in rule
    assert list(check) == TOP_KEYS + ["warnings"] and check["verdict"] == "inconclusive"
    assert check["arguments"][0]["analytic"] == pytest.approx(0.5 / math.sqrt(1e-12))
    github = cli("check", path, "--points", "2", "--format", "github")
    assert github.exit_code == 3
    warning, notice = github.stdout.splitlines()
    assert warning.startswith(f"::warning file={path},line=4,title=gradcli%3A check r at ")
    assert notice == "::notice title=gradcli check::2 checked: 1 pass, 0 fail, 1 inconclusive"
    xml = tmp_path / "inc.xml"
    assert cli("check", path, "--points", "2", "--junit", xml).exit_code == 3
    root = ET.parse(xml).getroot()
    assert root.get("failures") == "0" and root.get("skipped") == "1"


def test_a_kink_passes_with_a_subgradient_unless_strict(tmp_path):
    path = write(tmp_path, "def r(x) = abs(x)\ngrad r(x) = sign(x)\ncheck r at x=0\n")
    loose = cli("check", path, "--points", "3", "--format", "json")
    assert loose.exit_code == 0, loose.output
    check = strict_json(loose.stdout.splitlines()[1])
    assert check["arguments"][0]["verdict"] == "kink" and check["verdict"] == "pass"
    strict = cli("check", path, "--points", "3", "--strict", "--format", "plain")
    assert strict.exit_code == 1
    assert strict.stdout.splitlines()[1].startswith(f"{path}:3: check r at x=0: fail")
    outside = write(tmp_path, "def r(x) = abs(x)\ngrad r(x) = 2*sign(x) + 3\ncheck r at x=0\n",
                    "outside.grad")
    # 3 is not between the one-sided derivatives -1 and 1
    (rule, check) = run_file(outside)
    assert rule.verdict == "fail" and check.rows[0].check.verdict == "fail"


def test_table_format_runs(tmp_path):
    path = write(tmp_path, FORMATS)
    result = cli("check", path, "--points", "2", "--format", "table")
    assert result.exit_code == 1
    assert "smooth_abs" in result.stdout and "fail" in result.stdout.lower()


# ---------------------------------------------------------------------------------------------
# 7. --method mpmath

def test_mpmath_passes_correct_scalar_rules_and_fails_a_1e_8_error(tmp_path):
    # the reference itself, independently: mpmath's derivative of the bodies at a point
    mpmath.mp.dps = 30
    assert float(mpmath.diff(lambda t: mpmath.log(1 + mpmath.exp(t)), 0.3)) == \
        pytest.approx(sigmoid(0.3), rel=1e-15)
    path = write(tmp_path, rules_file(SCALAR))
    result = cli("check", path, "--points", "3", "--method", "mpmath", "--format", "json")
    assert result.exit_code == 0, result.output
    objs = [strict_json(line) for line in result.stdout.splitlines()]
    assert len(objs) == len(SCALAR)
    assert all(o["method"] == "mpmath" and o["verdict"] == "pass" for o in objs)
    for name in ("softplus", "smooth_abs", "product"):
        partials = list(RULES[name][3])
        partials[-1] = f"({partials[-1]})*(1 + 1e-8)"
        bad = write(tmp_path, rule_text(name, partials), f"bad_{name}.grad")
        result = cli("check", bad, "--points", "3", "--method", "mpmath", "--format", "json")
        assert result.exit_code == 1, (name, result.output)
        obj = strict_json(result.stdout)
        assert obj["arguments"][-1]["verdict"] == "fail"
        assert obj["arguments"][-1]["rel_error"] == pytest.approx(1e-8, rel=1e-4)


# ---------------------------------------------------------------------------------------------
# 8. options that are not for rules files; the old behaviour without rules

@pytest.mark.parametrize("option", [["--at", "x=1"], ["--wrt", "x"], ["--grad", "x=1"],
                                    ["--domain", "x=0:1"], ["--of", "y"], ["--sweep"],
                                    ["--order", "2"]],
                         ids=["at", "wrt", "grad", "domain", "of", "sweep", "order"])
def test_options_not_for_rules_files_exit_2(tmp_path, option):
    path = write(tmp_path, rule_text("softplus") + "\ny = softplus(x)")
    result = cli("check", path, *option)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("gradcli: error: ")
    assert option[0] in result.stderr and "not for checking rules" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_a_spec_without_rules_or_checks_keeps_the_old_behaviour(tmp_path):
    path = write(tmp_path, "def sq(x) = x**2\nparam w = 1.5\ny = sq(w) + sin(w)\n")
    assert not has_rules(read_spec(path))
    result = cli("check", path, "--format", "json")
    assert result.exit_code == 0, result.output
    obj = strict_json(result.stdout)
    assert "kind" not in obj and obj["verdict"] == "pass"
    (res,) = obj["results"]
    assert res["variable"] == "w"
    assert res["analytic"] == pytest.approx(3.0 + math.cos(1.5), rel=1e-14)
    # --at is fine for such a spec
    assert cli("check", path, "--at", "w=0.5").exit_code == 0


def test_a_missing_rules_file_is_bad_input(tmp_path):
    result = cli("check", str(tmp_path / "nope.grad"))
    assert result.exit_code == 2 and result.stderr.startswith("gradcli: error: ")
    assert "Traceback" not in result.stderr


def test_a_check_statement_reads_its_files_beside_the_spec(tmp_path, monkeypatch):
    folder = tmp_path / "specs"
    folder.mkdir()
    np.save(folder / "v.npy", np.array([0.1, 0.5, -0.3]))
    (folder / "c.grad").write_text("def lse(v) = log(sum(exp(v)))\nvjp lse(v) = g*softmax(v)\n"
                                   "domain lse: v[3]\ncheck lse at v=@v.npy\n")
    monkeypatch.chdir(tmp_path)  # not the spec's folder
    reports = check_file("specs/c.grad", Options(), 2)
    check = reports[-1]
    assert check.target.kind == "check" and check.verdict == "pass"
    assert check.rows[0].point["v"].tolist() == [0.1, 0.5, -0.3]
