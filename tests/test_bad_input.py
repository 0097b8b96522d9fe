"""Bad input: a one-paragraph message on stderr, exit code 2, never a traceback, nothing on
stdout; a caret under the offending column where the input has a place. Domain errors
(log(-1)) are not bad input: nan/inf with a warning, exit 0.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field

import pytest
from typer.testing import CliRunner

from gradcli.cli import app

CLEAN_ENV = {"FORCE_COLOR": None, "NO_COLOR": None, "COLUMNS": "200"}

END = "<end of input>"  # the caret sits one past the last character of the echoed line


@dataclass
class Case:
    id: str
    args: list[str]
    contains: list[str] = field(default_factory=list)
    # where the caret must be: None (no caret expected), END, or a substring of the echoed line
    # whose first character the caret sits under (`last=True`: its last occurrence)
    caret: str | None = None
    last: bool = False
    echo: str | None = None  # the echoed line; default: the expression (args[1])
    input: str | None = None
    gradcli_message: bool = True  # False for click's own usage errors


def grad(expression: str, *options: str) -> list[str]:
    return ["grad", expression, *options]


def at(point: str, expression: str = "x") -> list[str]:
    return ["grad", expression, "--at", point]


CASES = [
    # --- syntax errors: column and caret
    Case("unclosed-paren-call", grad("sin(x", "--at", "x=1"),
         ["never closed", "'(' at column 4"], caret=END),
    Case("unclosed-paren-group", grad("(x+1", "--at", "x=1"),
         ["never closed", "'(' at column 1"], caret=END),
    Case("unclosed-paren-nested", grad("sin((x+1)*2", "--at", "x=1"),
         ["never closed", "'(' at column 4"], caret=END),
    Case("end-of-input-after-plus", grad("x +", "--at", "x=1"), ["end of input"], caret=END),
    Case("end-of-input-after-pow", grad("x**", "--at", "x=1"), ["end of input"], caret=END),
    Case("unmatched-rparen", grad("x)", "--at", "x=1"), ["unmatched ')'"], caret=")"),
    Case("empty-parens", grad("()", "--at", "x=1"), ["')'"], caret=")"),
    Case("double-operator", grad("x ** * 2", "--at", "x=1"), ["unexpected '*'"],
         caret="*", last=True),
    Case("stray-dollar", grad("x $ 2", "--at", "x=1"), ["unexpected character '$'"], caret="$"),
    Case("factorial", grad("x !", "--at", "x=1"), ["'!'"], caret="!"),
    Case("semicolon", grad("x;y", "--at", "x=1,y=2"), ["';'"], caret=";"),
    Case("index-a-number", grad("x[0]", "--at", "x=1"), ["x[0]: a number has no entries"],
         caret="["),
    Case("single-equals", grad("x = 2", "--at", "x=1"), ["'=='"], caret="="),
    Case("missing-operator-names", grad("x y", "--at", "x=1,y=1"), ["missing operator"],
         caret="y"),
    Case("two-decimal-points", grad("1.2.3", "--at", "x=1"), ["syntax error"], caret=".3"),
    Case("comma-at-top-level", grad("x,y", "--at", "x=1,y=1"), ["','"], caret=","),
    Case("comparison-chain", grad("1 < x < 2", "--at", "x=1"), ["chained"],
         caret="<", last=True),
    Case("comparison-chain-mixed", grad("x <= y == 1", "--at", "x=1,y=1"), ["chained"],
         caret="=="),
    Case("ambiguous-implicit-after-slash", grad("1/2x", "--at", "x=1"), ["ambiguous"],
         caret="x"),
    Case("ambiguous-implicit-in-exponent", grad("x**2y", "--at", "x=1,y=1"), ["ambiguous"],
         caret="y"),
    Case("empty-expression", grad("", "--at", "x=1"), ["empty"]),
    Case("blank-expression", grad("   ", "--at", "x=1"), ["empty"]),
    Case("empty-stdin", grad("-", "--at", "x=1"), ["empty"], input=""),
    Case("multiline-stdin", grad("-", "--at", "x=1"), ["line 2, column 1", "'*'"],
         caret="*", echo="* 2", input="x +\n* 2\n"),
    Case("multiline-stdin-unclosed", grad("-", "--at", "x=1"),
         ["never closed", "line 1, column 1"], caret=END, echo=" 2", input="(x +\n 2"),
    # --- unknown names and functions, with suggestions
    Case("unknown-function-sinn", grad("sinn(x)", "--at", "x=1"),
         ["unknown function 'sinn'; did you mean 'sin'?"], caret="sinn"),
    Case("unknown-function-lgama", grad("2*lgama(x)", "--at", "x=1"),
         ["unknown function 'lgama'; did you mean 'lgamma'?"], caret="lgama"),
    Case("unknown-function-tann", grad("x + tann(x)", "--at", "x=1"),
         ["unknown function 'tann'; did you mean 'tan'?"], caret="tann"),
    Case("unknown-function-no-match", grad("qqqq(x)", "--at", "x=1"),
         ["unknown function 'qqqq'"], caret="qqqq"),
    Case("function-as-value", grad("sin", "--at", "x=1"), ["'sin' is a function"], caret="sin"),
    Case("function-without-parens", grad("x + sin x", "--at", "x=1"), ["'sin' is a function"],
         caret="sin"),
    Case("name-glued-to-function", grad("sinx", "--at", "x=1"), ["'sinx'", "sin(x)"],
         caret="sinx"),
    Case("unknown-name-close-to-point-name", grad("x*yy", "--at", "x=1,y=2"),
         ["'yy'", "did you mean 'y'?"], caret="yy"),
    # --- wrong argument counts and keywords
    Case("too-many-arguments", grad("sin(x, y)", "--at", "x=1,y=2"),
         ["sin takes 1 argument, got 2", "sin(x)"], caret="sin"),
    Case("too-few-arguments", grad("atan2(x)", "--at", "x=1"),
         ["atan2 needs 2 arguments, got 1", "atan2(y, x)"], caret="atan2"),
    Case("no-arguments", grad("x + sin()", "--at", "x=1"), ["sin needs 1 argument, got 0"],
         caret="sin"),
    Case("too-many-with-optional", grad("log(x, 2, 3)", "--at", "x=1"),
         ["log takes 2 arguments, got 3"], caret="log"),
    Case("unknown-keyword", grad("elu(x, beta=2)", "--at", "x=1"),
         ["elu has no argument 'beta'"], caret="beta"),
    Case("unknown-keyword-suggestion", grad("elu(x, alph=2)", "--at", "x=1"),
         ["'alph'", "did you mean 'alpha'?"], caret="alph"),
    Case("keyword-twice", grad("elu(x, alpha=2, alpha=3)", "--at", "x=1"), ["twice"],
         caret="alpha", last=True),
    # --- variables with no value
    Case("variable-without-value", grad("x*y", "--at", "x=1"),
         ["no value for variable 'y'", "--at y="], caret="y"),
    Case("no-at-at-all", grad("x**2"), ["no value for variable 'x'"], caret="x"),
    Case("eval-variable-without-value", ["eval", "x + z", "--at", "x=1"],
         ["no value for variable 'z'"], caret="z"),
    # --- malformed --at
    Case("at-missing-equals", at("x"), ["'='"], caret=END, echo="x"),
    Case("at-missing-value", at("x="), ["end of input"], caret=END, echo="x="),
    Case("at-empty", at(""), ["empty"]),
    Case("at-trailing-comma", at("x=1,"), ["end of input"], caret=END, echo="x=1,"),
    Case("at-non-constant", at("x=y"), ["constant expression", "'y'"], caret="y", echo="x=y"),
    Case("at-non-constant-expression", at("x=2*t+1"), ["constant expression", "'t'"],
         caret="t", echo="x=2*t+1"),
    Case("at-binds-pi", at("pi=3"), ["'pi' is a constant"], caret="pi", echo="pi=3"),
    Case("at-binds-e", at("x=1,e=2"), ["'e' is a constant"], caret="e", echo="x=1,e=2"),
    Case("at-binds-inf", at("inf=1"), ["'inf' is a constant"], caret="inf", echo="inf=1"),
    Case("at-binds-function", at("sin=1"), ["'sin' is a function"], caret="sin", echo="sin=1"),
    Case("at-duplicate", at("x=1,x=2"), ["'x' is given twice"], caret="x", last=True,
         echo="x=1,x=2"),
    Case("at-duplicate-in-second-point", ["grad", "x", "--at", "x=1", "--at", "y=1,y=2"],
         ["'y' is given twice"], caret="y", last=True, echo="y=1,y=2"),
    Case("at-no-name", at("=1"), ["'='"], caret="=", echo="=1"),
    Case("at-number-as-name", at("1=1"), ["expected a name"], caret="1", echo="1=1"),
    Case("at-semicolon", at("x=1;y=2"), ["';'"], caret=";", echo="x=1;y=2"),
    Case("at-stray-dollar", at("x=$"), ["'$'"], caret="$", echo="x=$"),
    Case("at-bad-value-syntax", at("x=1 2"), ["missing operator"], caret="2", echo="x=1 2"),
    Case("at-unknown-function", at("x=sinn(1)"), ["did you mean 'sin'?"], caret="sinn",
         echo="x=sinn(1)"),
    # --- usage errors from click
    Case("unknown-unconnected-choice", grad("x", "--at", "x=1", "--unconnected", "maybe"),
         ["--unconnected"], gradcli_message=False),
    Case("unknown-format-choice", grad("x", "--at", "x=1", "--format", "xml"),
         ["--format"], gradcli_message=False),
    Case("eval-unknown-format-choice", ["eval", "x", "--at", "x=1", "--format", "yaml"],
         ["--format"], gradcli_message=False),
    Case("unknown-option", grad("x", "--at", "x=1", "--bogus"), ["--bogus"],
         gradcli_message=False),
    Case("format-without-value", grad("x", "--at", "x=1", "--format"), ["--format"],
         gradcli_message=False),
    Case("unknown-command", ["gradient", "x"], ["gradient"], gradcli_message=False),
]

HEADER = re.compile(r"^  (?:in --at, )?at (?:line (\d+), )?column (\d+):$")


def _caret(stderr: str) -> tuple[int, str, int]:
    """(reported column, echoed line, caret column), columns 1-based, from the message."""
    lines = stderr.splitlines()
    for index, line in enumerate(lines):
        match = HEADER.match(line)
        if match:
            echoed, caret = lines[index + 1], lines[index + 2]
            assert echoed.startswith("    ") and caret.startswith("    "), stderr
            assert caret.rstrip().endswith("^") and caret.count("^") == 1, stderr
            return int(match.group(2)), echoed[4:], caret.index("^") - 4 + 1
    raise AssertionError(f"no caret excerpt in:\n{stderr}")


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(case: Case):
    result = CliRunner().invoke(app, case.args, input=case.input, env=CLEAN_ENV)
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"crashed: {result.exception!r}"
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.strip(), "no message on stderr"
    assert "Traceback" not in result.stdout + result.stderr
    for text in case.contains:
        assert text in result.stderr, f"{text!r} not in:\n{result.stderr}"

    if case.gradcli_message:
        assert result.stderr.startswith("gradcli: error: "), result.stderr
        # one paragraph: no blank lines inside the message
        assert "\n\n" not in result.stderr.strip("\n"), result.stderr
        first = result.stderr.splitlines()[0]
        assert not re.search(r"(expected one of|expected)\s*$", first), \
            f"the message trails off: {first!r}"

    if case.caret is not None:
        reported, echoed, caret = _caret(result.stderr)
        expected_line = case.echo if case.echo is not None else case.args[1]
        assert echoed == expected_line, (echoed, expected_line)
        assert caret == reported, f"caret at {caret}, message says column {reported}"
        if case.caret is END:
            assert caret == len(echoed) + 1, \
                f"end of input: caret at column {caret}, expected one past {len(echoed)}"
        else:
            position = echoed.rfind(case.caret) if case.last else echoed.find(case.caret)
            assert position >= 0
            assert caret == position + 1, (
                f"caret under column {caret} ({echoed[caret - 1:caret]!r}), expected column "
                f"{position + 1} ({case.caret!r}) in {echoed!r}")


def test_at_least_thirty_cases():
    assert len(CASES) >= 30


def test_unknown_name_close_to_a_constant_is_suggested():
    """'unknown functions and names with suggestions': a misspelled constant gets one too."""
    result = CliRunner().invoke(app, ["grad", "pii*x", "--at", "x=1"], env=CLEAN_ENV)
    assert result.exit_code == 2
    assert "'pii'" in result.stderr
    assert "did you mean 'pi'" in result.stderr, result.stderr


# ---------------------------------------------------------------------------------------------
# The same through a real process: no traceback, exit 2, nothing on stdout


@pytest.mark.parametrize("args", [
    grad("sin(x", "--at", "x=1"),
    grad("sinn(x)", "--at", "x=1"),
    grad("1/2x", "--at", "x=1"),
    at("pi=3"),
    at("x=1,x=2"),
    grad("x", "--at", "x=1", "--format", "xml"),
], ids=["unclosed", "unknown-function", "ambiguous", "binds-pi", "duplicate", "bad-format"])
def test_bad_input_in_a_real_process(args, tmp_path):
    gradcli = shutil.which("gradcli")
    assert gradcli, "the gradcli entry point is not on PATH"
    proc = subprocess.run([gradcli, *args], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.strip()
    assert "Traceback" not in proc.stderr


# ---------------------------------------------------------------------------------------------
# Domain errors are not errors


@pytest.mark.parametrize("fmt", ["plain", "json", "table"])
def test_log_of_negative_is_a_warning_not_an_error(fmt):
    result = CliRunner().invoke(app, ["grad", "log(x)", "--at", "x=-1", "--format", fmt],
                                env=CLEAN_ENV)
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "warning" in result.stderr
    assert "log(x)" in result.stderr
    assert result.stdout.strip()


def test_domain_error_inside_a_larger_expression_names_the_subexpression():
    result = CliRunner().invoke(app, ["eval", "1 + log(x - 3)", "--at", "x=1"], env=CLEAN_ENV)
    assert result.exit_code == 0
    assert result.stdout == "nan\n"
    assert "log(x - 3)" in result.stderr


def test_domain_error_in_a_constant_expression():
    result = CliRunner().invoke(app, ["eval", "log(-1)"], env=CLEAN_ENV)
    assert result.exit_code == 0
    assert result.stdout == "nan\n"
    assert "warning" in result.stderr and "log(-1)" in result.stderr


def test_domain_error_in_an_at_value_warns():
    """`--at x=log(-1)`: a value outside log's domain gives nan with a warning, as anywhere."""
    result = CliRunner().invoke(app, ["eval", "x", "--at", "x=log(-1)"], env=CLEAN_ENV)
    assert result.exit_code == 0
    assert result.stdout == "nan\n"
    assert "warning" in result.stderr and "log" in result.stderr, \
        f"no warning for log(-1) in --at; stderr: {result.stderr!r}"


def test_gradient_inf_at_domain_edge_is_a_warning():
    result = CliRunner().invoke(app, ["grad", "sqrt(x)", "--at", "x=0"], env=CLEAN_ENV)
    assert result.exit_code == 0
    assert result.stdout == "inf\n"
    assert "warning" in result.stderr
