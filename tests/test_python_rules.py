"""Custom gradients written in Python: @custom_vjp, `gradcli check file.py / pkg.mod`,
gradcli.python_rules.load, gradcli.rules.check_target and gradcli.testing.assert_vjp.

Every reference is independent of gradcli: closed-form derivatives computed here with numpy,
and wrong VJPs made wrong on purpose by a known amount, at a known entry.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import gradcli
from gradcli.cli import app
from gradcli.compare import Options
from gradcli.python_rules import CustomVJP, UserCodeError, custom_vjp, load
from gradcli.rules import check_target
from gradcli.testing import assert_vjp

CLEAN_ENV = {"FORCE_COLOR": None, "NO_COLOR": None, "COLUMNS": "200"}

HEADER = "import numpy as np\nfrom gradcli import custom_vjp\n"

SOFTPLUS = HEADER + '''
@custom_vjp(shapes={"x": (5,)}, domain={"x": (-20, 20)})
def softplus(x):
    return np.logaddexp(0.0, x)

@softplus.defvjp
def softplus_vjp(g, x):
    return (g / (1 + np.exp(-x)),)
'''

AFFINE = HEADER + '''
@custom_vjp(shapes={"x": (3, 4), "w": (4, 2)})
def affine(x, w):
    return x @ w

@affine.defvjp
def affine_vjp(g, x, w):
    return (g @ w.T, x.T @ g)
'''

# x * sin(y), elementwise, two inputs of shape (4,)
ELEMENTWISE = HEADER + '''
@custom_vjp(shapes={{"x": (4,), "y": (4,)}})
def xsiny(x, y):
    return x * np.sin(y)

@xsiny.defvjp
def xsiny_vjp(g, x, y):
    return ({gx}, {gy})
'''

# a scalar function of a number, sampled in 0.5:3 where log is defined
SCALAR = HEADER + '''
@custom_vjp(domain={{"x": (0.5, 3)}})
def xlogx(x):
    return x**3 * np.log(x)

@xlogx.defvjp
def xlogx_vjp(g, x):
    return ({gx},)
'''

# three moments of a 20x20 matrix; the VJP is wrong at entry [3, 7] only
MOMENTS = HEADER + '''
@custom_vjp(shapes={"x": (20, 20)})
def moments(x):
    return np.array([np.sum(x), np.sum(x**2), np.sum(np.sin(x))])

@moments.defvjp
def moments_vjp(g, x):
    d = g[0] + 2 * x * g[1] + np.cos(x) * g[2]
    d[3, 7] *= 1.5
    return (d,)
'''

# the outer product of a vector with itself: 25 output entries (> 16)
OUTER = HEADER + '''
@custom_vjp(shapes={{"x": (5,)}})
def outer(x):
    return np.outer(x, x)

@outer.defvjp
def outer_vjp(g, x):
    return ({gx},)
'''


def write(directory: Path, name: str, source: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def sigmoid(x):
    return 1 / (1 + np.exp(-np.asarray(x, dtype=float)))


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """cwd = tmp_path; the modules imported and sys.path entries added by a test are undone, so
    that a package of one test's tmp_path is never a cached import in another."""
    monkeypatch.chdir(tmp_path)
    modules = set(sys.modules)
    path = list(sys.path)
    yield tmp_path
    root = str(tmp_path.resolve())
    for name in set(sys.modules) - modules:  # only the user's modules: numpy's stay loaded
        module = sys.modules[name]
        places = [getattr(module, "__file__", None) or "", *getattr(module, "__path__", [])]
        if name.startswith("gradcli_user_") or any(
                str(Path(p).resolve()).startswith(root) for p in places if p):
            del sys.modules[name]
    sys.path[:] = path


@pytest.fixture
def cli(isolated):
    def invoke(*args: str):
        return CliRunner().invoke(app, ["check", *args], env=CLEAN_ENV)

    return invoke


def reports(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def assert_bad_input(result, *fragments: str) -> str:
    """Exit 2, nothing on stdout, one paragraph (here one line) on stderr, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    message = result.stderr.strip()
    assert message.startswith("gradcli: error: "), message
    assert len(message.splitlines()) == 1, message
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


# ---------------------------------------------------------------------------------------------
# the decorator


def test_the_decorator_keeps_a_callable_function_and_registers_the_vjp():
    @custom_vjp(shapes={"x": (3,)}, domain={"x": (-1, 4)})
    def cube(x):
        """x cubed"""
        return x**3

    def cube_vjp(g, x):
        return (3 * g * x**2,)

    assert isinstance(cube, CustomVJP)
    assert cube.vjp is None
    assert cube.defvjp(cube_vjp) is cube_vjp  # returned unchanged
    assert cube.vjp is cube_vjp
    assert cube(2.0) == 8.0
    np.testing.assert_array_equal(cube(np.array([1.0, -2.0])), [1.0, -8.0])
    assert cube.__name__ == "cube" and cube.__doc__ == "x cubed"
    assert cube.shapes == {"x": (3,)} and cube.domain == {"x": (-1.0, 4.0)}
    assert cube.params == ("x",)


def test_defvjp_as_a_decorator_leaves_the_vjp_a_plain_function():
    @custom_vjp
    def square(x):
        return x * x

    @square.defvjp
    def square_vjp(g, x):
        return (2 * g * x,)

    assert not isinstance(square_vjp, CustomVJP)
    assert square_vjp(1.0, 3.0) == (6.0,)
    assert square.vjp is square_vjp


def test_the_bare_decorator_and_the_package_attribute():
    @gradcli.custom_vjp
    def f(x, y):
        return x * y

    assert isinstance(f, CustomVJP)
    assert f(3.0, 4.0) == 12.0
    assert f.params == ("x", "y") and f.shapes == {} and f.domain == {}
    assert gradcli.custom_vjp is custom_vjp


@pytest.mark.parametrize("keyword", ["shapes", "domain"])
def test_an_unknown_name_in_shapes_or_domain_is_a_type_error(keyword):
    value = {"z": (3,)} if keyword == "shapes" else {"z": (0, 1)}
    with pytest.raises(TypeError, match="'z'"):
        @custom_vjp(**{keyword: value})
        def f(x):
            return x


def test_a_function_without_vjp_has_no_target():
    @custom_vjp
    def lonely(x):
        return x

    with pytest.raises(UserCodeError, match=r"lonely has no VJP.*@lonely\.defvjp"):
        lonely.target()


# ---------------------------------------------------------------------------------------------
# correct VJPs pass, with numbers that agree with the closed forms


def test_softplus_of_a_vector_passes_every_output_entry_in_its_domain(cli, tmp_path):
    path = write(tmp_path, "ops.py", SOFTPLUS)
    result = cli("ops.py", "--points", "2", "--format", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    [report] = reports(result)
    assert report["kind"] == "python" and report["rule"] == "softplus"
    assert report["signature"] == "softplus(x)"
    assert report["verdict"] == "pass" and report["method"] == "ridders"
    assert report["points"] == 2 and report["skipped"] == 0
    assert report["cotangents"].startswith("every output entry (5)")
    assert Path(report["file"]).resolve() == path.resolve()
    assert report["line"] in (4, 5)  # the decorator's line or the def's
    [row] = report["arguments"]
    assert set(row) >= {"argument", "index", "analytic", "numeric", "error_estimate", "abs_error",
                        "rel_error", "tolerance", "verdict", "note", "point", "output"}
    assert row["argument"] == "x" and row["verdict"] == "pass"
    x = np.array(row["point"]["x"])
    assert x.shape == (5,) and np.all(np.abs(x) <= 20)
    # d softplus(x)[j] / d x[i] = sigmoid(x[i]) if i == j else 0
    (i,), (j,) = row["index"], row["output"]
    expected = sigmoid(x[i]) if i == j else 0.0
    assert row["analytic"] == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert row["numeric"] == pytest.approx(expected, rel=1e-8, abs=1e-12)
    assert row["rel_error"] <= 1e-9 and row["tolerance"] > 0


def test_the_domain_is_where_points_are_sampled(cli, tmp_path):
    write(tmp_path, "ops.py", SOFTPLUS)
    result = cli("ops.py", "--points", "3", "--format", "json", "--seed", "5")
    [report] = reports(result)
    x = np.array(report["arguments"][0]["point"]["x"])
    assert np.all(np.abs(x) <= 20)
    assert np.any(np.abs(x) > 2)  # not the default -2:2 (all inside it: chance 1e-5)


def test_affine_passes_for_both_inputs_with_the_closed_form_jacobian(cli, tmp_path):
    write(tmp_path, "affine.py", AFFINE)
    result = cli("affine.py", "--points", "1", "--format", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    [report] = reports(result)
    assert report["verdict"] == "pass"
    assert report["cotangents"].startswith("every output entry (6)")
    rows = {row["argument"]: row for row in report["arguments"]}
    assert set(rows) == {"x", "w"} and all(r["verdict"] == "pass" for r in rows.values())
    x = np.array(rows["x"]["point"]["x"])
    w = np.array(rows["x"]["point"]["w"])
    assert x.shape == (3, 4) and w.shape == (4, 2)
    assert rows["x"]["checked"] == {"entries": 12} and rows["w"]["checked"] == {"entries": 8}
    # d (x @ w)[j, k] / d x[a, b] = [j == a] w[b, k];  d / d w[a, b] = x[j, a] [k == b]
    (a, b), (j, k) = rows["x"]["index"], rows["x"]["output"]
    assert rows["x"]["analytic"] == pytest.approx(w[b, k] if j == a else 0.0, abs=1e-15)
    x = np.array(rows["w"]["point"]["x"])
    (a, b), (j, k) = rows["w"]["index"], rows["w"]["output"]
    assert rows["w"]["analytic"] == pytest.approx(x[j, a] if k == b else 0.0, abs=1e-15)


def test_a_two_input_elementwise_op_passes(cli, tmp_path):
    write(tmp_path, "ew.py", ELEMENTWISE.format(gx="g * np.sin(y)", gy="g * x * np.cos(y)"))
    result = cli("ew.py", "--points", "2", "--format", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    [report] = reports(result)
    assert report["verdict"] == "pass"
    assert report["cotangents"].startswith("every output entry (4)")
    assert [r["argument"] for r in report["arguments"]] == ["x", "y"]
    for row in report["arguments"]:
        x, y = np.array(row["point"]["x"]), np.array(row["point"]["y"])
        (i,), (j,) = row["index"], row["output"]
        full = np.sin(y[i]) if row["argument"] == "x" else x[i] * np.cos(y[i])
        assert row["analytic"] == pytest.approx(full if i == j else 0.0, rel=1e-12, abs=1e-15)


def test_a_scalar_function_passes_with_json_and_plain_output(cli, tmp_path):
    write(tmp_path, "scalar.py", SCALAR.format(gx="g * (3 * x**2 * np.log(x) + x**2)"))
    result = cli("scalar.py", "--points", "3", "--format", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    [report] = reports(result)
    assert "random" not in (report["cotangents"] or "") and report["skipped"] == 0
    [row] = report["arguments"]
    assert row["index"] is None and row["output"] is None
    x = row["point"]["x"]
    assert 0.5 <= x <= 3
    assert row["analytic"] == pytest.approx(3 * x**2 * math.log(x) + x**2, rel=1e-13)

    plain = cli("scalar.py", "--points", "3", "--format", "plain")
    assert plain.exit_code == 0
    [line] = plain.stdout.splitlines()
    match = re.fullmatch(r"(.+):(\d+): python xlogx\(x\): pass (\S+)", line)
    assert match, line
    assert Path(match[1]).name == "scalar.py"
    assert float(match[3]) == pytest.approx(row["rel_error"])


def test_every_function_of_a_file_is_checked_in_order(cli, tmp_path):
    source = SOFTPLUS + AFFINE.replace(HEADER, "")
    write(tmp_path, "both.py", source)
    result = cli("both.py", "--points", "1", "--format", "plain")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert ": python softplus(x): pass " in lines[0]
    assert ": python affine(x, w): pass " in lines[1]


# ---------------------------------------------------------------------------------------------
# wrong VJPs are caught


def test_a_relative_error_of_1e_8_is_caught(cli, tmp_path):
    write(tmp_path, "ops.py", SOFTPLUS.replace("(g / (1 + np.exp(-x)),)",
                                                "(g / (1 + np.exp(-x)) * (1 + 1e-8),)"))
    result = cli("ops.py", "--points", "2", "--format", "json")
    assert result.exit_code == 1, result.stdout + result.stderr
    [report] = reports(result)
    assert report["verdict"] == "fail"
    [row] = report["arguments"]
    assert row["verdict"] == "fail"
    assert 5e-9 < row["rel_error"] < 2e-8


@pytest.mark.parametrize("shape, returned", [
    ("", "(2 * x,)"),
    ('shapes={"x": (3,)}', "(2 * x,)"),
], ids=["scalar", "vector"])
def test_a_vjp_that_ignores_its_cotangent_is_caught(cli, tmp_path, shape, returned):
    write(tmp_path, "ign.py", HEADER + f'''
@custom_vjp({shape})
def sq(x):
    return x * x

@sq.defvjp
def sq_vjp(g, x):
    return {returned}
''')
    result = cli("ign.py", "--points", "1", "--format", "json")
    assert result.exit_code == 1, result.stdout + result.stderr
    [report] = reports(result)
    assert report["verdict"] == "fail"


def test_a_wrong_sign_is_caught_in_one_input_only(cli, tmp_path):
    write(tmp_path, "ew.py", ELEMENTWISE.format(gx="g * np.sin(y)", gy="-g * x * np.cos(y)"))
    result = cli("ew.py", "--points", "1", "--format", "json")
    assert result.exit_code == 1
    [report] = reports(result)
    rows = {row["argument"]: row for row in report["arguments"]}
    assert rows["x"]["verdict"] == "pass" and rows["y"]["verdict"] == "fail"
    y = rows["y"]
    (i,), (j,) = y["index"], y["output"]
    assert i == j  # off the diagonal both are 0: the worst is on it
    true = np.array(y["point"]["x"])[i] * np.cos(np.array(y["point"]["y"])[i])
    assert y["analytic"] == pytest.approx(-true, rel=1e-12)
    assert y["numeric"] == pytest.approx(true, rel=1e-8)


SQ_MISSING_2 = '''
@custom_vjp
def sq(x):
    return x**2

@sq.defvjp
def sq_vjp(g, x):
    return (g * x,)
'''  # d/dx x**2 is 2*x: the factor 2 is missing


def test_a_missing_factor_of_2_is_caught(cli, tmp_path):
    write(tmp_path, "sq.py", HEADER + SQ_MISSING_2)
    result = cli("sq.py", "--points", "2", "--format", "json")
    assert result.exit_code == 1
    [row] = reports(result)[0]["arguments"]
    x = row["point"]["x"]
    assert row["verdict"] == "fail"
    assert row["analytic"] == pytest.approx(x, rel=1e-12)
    assert row["numeric"] == pytest.approx(2 * x, rel=1e-8)
    assert row["rel_error"] == pytest.approx(0.5, rel=1e-6)


def test_bisection_names_the_one_wrong_entry_of_a_large_input(cli, tmp_path):
    write(tmp_path, "moments.py", MOMENTS)
    args = ("moments.py", "--points", "1", "--full-limit", "10", "--probes", "2", "--format",
            "json")
    result = cli(*args)
    assert result.exit_code == 1, result.stdout + result.stderr
    assert cli(*args).stdout == result.stdout  # the directions are seeded
    [report] = reports(result)
    assert report["cotangents"].startswith("every output entry (3)")
    [row] = report["arguments"]
    assert row["verdict"] == "fail"
    assert row["index"] == [3, 7]
    assert "random directions" in row["note"]
    assert "bisection finds the wrong entries [3, 7]" in row["note"], row["note"]
    assert row["checked"]["probes"] == 2
    # the numbers are those of the worst random direction (the docstring of array_checks)
    assert abs(row["analytic"] - row["numeric"]) > 1e3 * row["tolerance"]


def test_bisection_names_two_wrong_entries_and_no_other(cli, tmp_path):
    source = MOMENTS.replace("(20, 20)", "(8, 8)").replace("d[3, 7] *= 1.5", "d[3, 7] *= 1.5\n"
                                                           "    d[6, 2] += 0.25")
    write(tmp_path, "moments.py", source)
    result = cli("moments.py", "--points", "1", "--full-limit", "10", "--probes", "2",
                 "--format", "json")
    assert result.exit_code == 1
    [row] = reports(result)[0]["arguments"]
    match = re.search(r"bisection finds the wrong entries ((\[\d+, \d+\](, )?)+)", row["note"])
    assert match, row["note"]
    named = {tuple(map(int, pair)) for pair in re.findall(r"\[(\d+), (\d+)\]", match[1])}
    assert named == {(3, 7), (6, 2)}
    assert tuple(row["index"]) in named


# ---------------------------------------------------------------------------------------------
# large outputs: random cotangents


def test_an_output_of_more_than_16_entries_uses_random_cotangents(cli, tmp_path):
    # d/dx of sum(u * outer(x, x)) = (u + u.T) @ x
    write(tmp_path, "outer.py", OUTER.format(gx="(g + g.T) @ x"))
    result = cli("outer.py", "--points", "1", "--probes", "3", "--format", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    [report] = reports(result)
    assert report["cotangents"] == "3 random cotangents (the output has 25 entries)"
    [row] = report["arguments"]
    assert row["verdict"] == "pass" and row["output"] is None


def test_random_cotangents_still_catch_a_wrong_vjp(cli, tmp_path):
    write(tmp_path, "outer.py", OUTER.format(gx="g @ x"))  # forgets the transpose
    result = cli("outer.py", "--points", "1", "--probes", "2", "--format", "json")
    assert result.exit_code == 1
    [report] = reports(result)
    assert report["cotangents"].startswith("2 random cotangents")
    assert report["arguments"][0]["verdict"] == "fail"


def test_an_output_of_16_entries_is_checked_entry_by_entry(cli, tmp_path):
    write(tmp_path, "sq.py", HEADER + '''
K = np.arange(1.0, 9.0)

@custom_vjp(shapes={"x": (2,)})
def sq(x):
    return np.outer(K, x * x)  # 8 x 2 = 16 entries

@sq.defvjp
def sq_vjp(g, x):
    return (2 * x * (K @ g),)
''')
    result = cli("sq.py", "--points", "1", "--format", "json")
    assert result.exit_code == 0, result.stderr
    [report] = reports(result)
    assert report["cotangents"].startswith("every output entry (16)")


# ---------------------------------------------------------------------------------------------
# files and modules


def test_a_file_in_a_subdirectory_imports_its_siblings(cli, tmp_path):
    write(tmp_path, "sub/helper.py", "SCALE = 3.0\n")
    write(tmp_path, "sub/ops.py", HEADER + '''
from helper import SCALE

@custom_vjp
def scaled(x):
    return SCALE * x * x

@scaled.defvjp
def scaled_vjp(g, x):
    return (2 * SCALE * g * x,)
''')
    result = cli("sub/ops.py", "--points", "1", "--format", "plain")
    assert result.exit_code == 0, result.stderr
    assert ": python scaled(x): pass " in result.stdout
    assert Path(result.stdout.split(":")[0]).resolve() == (tmp_path / "sub/ops.py").resolve()


def test_a_dotted_module_importable_from_the_cwd(cli, tmp_path):
    write(tmp_path, "mypkg_a/__init__.py", "")
    write(tmp_path, "mypkg_a/ops.py", SOFTPLUS)
    result = cli("mypkg_a.ops", "--points", "1", "--format", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    [report] = reports(result)
    assert report["rule"] == "softplus" and report["verdict"] == "pass"
    assert Path(report["file"]).resolve() == (tmp_path / "mypkg_a/ops.py").resolve()


def test_a_dotted_module_in_a_real_process(tmp_path):
    gradcli_exe = shutil.which("gradcli")
    assert gradcli_exe, "the gradcli entry point is not on PATH"
    write(tmp_path, "mypkg_b/__init__.py", "")
    write(tmp_path, "mypkg_b/ops.py", SCALAR.format(gx="g * 3 * x**2 * np.log(x)")  # wrong
          + SOFTPLUS.replace(HEADER, ""))
    proc = subprocess.run([gradcli_exe, "check", "mypkg_b.ops", "--points", "1", "--format",
                           "plain"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert len(lines) == 2, proc.stdout
    assert re.fullmatch(r".*ops\.py:\d+: python xlogx\(x\): fail \S+", lines[0]), lines
    assert re.fullmatch(r".*ops\.py:\d+: python softplus\(x\): pass \S+", lines[1]), lines


# ---------------------------------------------------------------------------------------------
# bad input: exit 2, one paragraph, no traceback


def test_a_missing_file(cli):
    assert_bad_input(cli("nowhere.py"), "nowhere.py")


def test_a_missing_module(cli):
    assert_bad_input(cli("nosuchpkg_zz.ops"), "nosuchpkg_zz.ops")


def test_a_module_that_raises_on_import(cli, tmp_path):
    write(tmp_path, "boom.py", "import numpy as np\nraise ValueError('bad constant')\n")
    message = assert_bad_input(cli("boom.py"), "ValueError", "bad constant")
    assert re.search(r"boom\.py:2\b", message), message


def test_a_module_that_exits_on_import(cli, tmp_path):
    write(tmp_path, "quits.py", "import sys\nsys.exit(3)\n")
    assert_bad_input(cli("quits.py"), "SystemExit", "quits.py:2")


def test_a_module_that_imports_a_missing_dependency(cli, tmp_path):
    write(tmp_path, "deps.py", "import numpy as np\nimport nosuchdep_qq\n")
    assert_bad_input(cli("deps.py"), "ModuleNotFoundError", "nosuchdep_qq", "deps.py:2")


def test_a_missing_dependency_whose_name_prefixes_the_file_name(cli, tmp_path):
    write(tmp_path, "nosuchdep_rules.py", "import numpy as np\nimport nosuchdep\n")
    assert_bad_input(cli("nosuchdep_rules.py"), "ModuleNotFoundError", "nosuchdep",
                     "nosuchdep_rules.py:2")


def test_a_missing_dependency_whose_name_prefixes_the_module_name(cli, tmp_path):
    write(tmp_path, "mymodels/__init__.py", "")
    write(tmp_path, "mymodels/layers.py", "import numpy as np\nimport mymodel\n")
    assert_bad_input(cli("mymodels.layers"), "ModuleNotFoundError", "'mymodel'", "layers.py:2")


def test_a_module_with_a_syntax_error(cli, tmp_path):
    write(tmp_path, "syn.py", "import numpy as np\n\ndef f(x:\n    return x\n")
    message = assert_bad_input(cli("syn.py"), "SyntaxError")
    assert "<frozen" not in message
    assert re.search(r"syn\.py:3\b", message), message


def test_a_module_without_custom_vjp(cli, tmp_path):
    write(tmp_path, "plain.py", "import numpy as np\n\ndef f(x):\n    return x\n")
    assert_bad_input(cli("plain.py"), "plain.py", "custom_vjp")


def test_a_function_without_defvjp(cli, tmp_path):
    write(tmp_path, "novjp.py", HEADER + "\n@custom_vjp\ndef lonely(x):\n    return x\n")
    assert_bad_input(cli("novjp.py"), "lonely", "defvjp")


@pytest.mark.parametrize("returned, fragments", [
    ("(g * y,)", ["f_vjp", "one cotangent per input", "2", "returned 1"]),
    ("(g * y, g * x, g)", ["f_vjp", "returned 3"]),
    ("g * y", ["f_vjp", "one cotangent per input"]),
], ids=["one-of-two", "three-of-two", "not-a-tuple"])
def test_a_vjp_returning_the_wrong_number_of_cotangents(cli, tmp_path, returned, fragments):
    write(tmp_path, "count.py", HEADER + f'''
@custom_vjp(shapes={{"x": (3,), "y": (3,)}})
def f(x, y):
    return x * y

@f.defvjp
def f_vjp(g, x, y):
    return {returned}
''')
    assert_bad_input(cli("count.py", "--points", "1"), *fragments)


def test_a_vjp_returning_the_wrong_shape(cli, tmp_path):
    write(tmp_path, "shape.py", HEADER + '''
@custom_vjp(shapes={"x": (3,)})
def f(x):
    return x * x

@f.defvjp
def f_vjp(g, x):
    return (np.ones(4),)
''')
    assert_bad_input(cli("shape.py", "--points", "1"), "f_vjp", "(4,)", "(3,)")


def test_a_function_that_raises(cli, tmp_path):
    write(tmp_path, "fwd.py", HEADER + '''
@custom_vjp
def f(x):
    raise ZeroDivisionError("no forward today")

@f.defvjp
def f_vjp(g, x):
    return (g,)
''')
    message = assert_bad_input(cli("fwd.py", "--points", "1"), "ZeroDivisionError",
                               "no forward today")
    assert re.search(r"fwd\.py:6\b", message), message


def test_a_vjp_that_raises(cli, tmp_path):
    write(tmp_path, "bwd.py", HEADER + '''
@custom_vjp
def f(x):
    return x * x

@f.defvjp
def f_vjp(g, x):
    return {"g": g}["missing"]
''')
    message = assert_bad_input(cli("bwd.py", "--points", "1"), "KeyError", "missing")
    assert re.search(r"bwd\.py:10\b", message), message


@pytest.mark.parametrize("method, fragment", [("mpmath", "mpmath"), ("complex", "analytic")])
def test_methods_a_python_function_cannot_use(cli, tmp_path, method, fragment):
    write(tmp_path, "ops.py", SCALAR.format(gx="g * (3 * x**2 * np.log(x) + x**2)"))
    assert_bad_input(cli("ops.py", "--points", "1", "--method", method), fragment)


@pytest.mark.parametrize("option", [["--at", "x=1"], ["--domain", "x=0:1"], ["--points", "0"]])
def test_options_that_do_not_apply(cli, tmp_path, option):
    write(tmp_path, "ops.py", SCALAR.format(gx="g * (3 * x**2 * np.log(x) + x**2)"))
    assert_bad_input(cli("ops.py", *option), option[0])


def test_the_central_method_checks_a_python_function(cli, tmp_path):
    write(tmp_path, "ops.py", SCALAR.format(gx="g * (3 * x**2 * np.log(x) + x**2)"))
    result = cli("ops.py", "--points", "2", "--method", "central", "--format", "json")
    assert result.exit_code == 0, result.stderr
    [report] = reports(result)
    assert report["method"] == "central" and report["verdict"] == "pass"


# ---------------------------------------------------------------------------------------------
# formats, JUnit, determinism


def test_junit_and_github_formats_name_the_failing_function(cli, tmp_path):
    write(tmp_path, "two.py", SOFTPLUS + SQ_MISSING_2)
    result = cli("two.py", "--points", "1", "--format", "github", "--junit", "out.xml")
    assert result.exit_code == 1, result.stderr
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error ")]
    assert len(errors) == 1
    assert "sq: d/dx" in errors[0] and re.search(r"line=1[23]\b", errors[0]), errors[0]
    root = ET.parse(tmp_path / "out.xml").getroot()
    cases = root.iter("testcase")
    verdicts = {case.get("name"): case.find("failure") is not None for case in cases}
    assert verdicts == {"python softplus(x): d/dx": False, "python sq(x): d/dx": True}


def test_the_table_format_runs(cli, tmp_path):
    write(tmp_path, "ops.py", SOFTPLUS)
    result = cli("ops.py", "--points", "1", "--format", "table")
    assert result.exit_code == 0, result.stderr
    assert "softplus" in result.stdout and "pass" in result.stdout.lower()


def test_the_same_seed_gives_the_same_json(cli, tmp_path):
    write(tmp_path, "ew.py", ELEMENTWISE.format(gx="g * np.sin(y)", gy="g * x * np.cos(y)"))
    first = cli("ew.py", "--points", "2", "--seed", "7", "--format", "json")
    again = cli("ew.py", "--points", "2", "--seed", "7", "--format", "json")
    other = cli("ew.py", "--points", "2", "--seed", "8", "--format", "json")
    assert first.exit_code == again.exit_code == other.exit_code == 0
    assert first.stdout == again.stdout
    points = [[r["point"] for r in reports(result)[0]["arguments"]] for result in (first, other)]
    assert points[0] != points[1]


# ---------------------------------------------------------------------------------------------
# the library: load and check_target


def test_load_finds_every_custom_vjp_in_definition_order_once(isolated):
    write(isolated, "lib.py", AFFINE + SOFTPLUS.replace(HEADER, "") + "alias = affine\n"
          "def plain(x):\n    return x\n")
    target, functions = load("lib.py")
    assert target == "lib.py"
    assert [f.__name__ for f in functions] == ["affine", "softplus"]
    assert all(isinstance(f, CustomVJP) for f in functions)
    np.testing.assert_allclose(functions[1](np.array([0.0])), [math.log(2)])


def test_check_target_reports_pass_and_fail():
    @custom_vjp(domain={"x": (-1, 1)})
    def th(x):
        return np.tanh(x)

    @th.defvjp
    def th_vjp(g, x):
        return (g * (1 - np.tanh(x) ** 2),)

    report = check_target(th.target(), Options(), 3, 0)
    assert report.verdict == "pass" and report.failures() == []
    assert report.points == 3 and [row.check.variable for row in report.rows] == ["x"]
    assert -1 <= report.rows[0].point["x"] <= 1

    th.defvjp(lambda g, x: (g * (1 - np.tanh(x) ** 2) * (1 + 1e-7),))
    report = check_target(th.target(), Options(), 3, 0)
    assert report.verdict == "fail"
    [sentence] = report.failures()
    assert sentence.startswith("th: d/dx at x=") and "fail" in sentence


# ---------------------------------------------------------------------------------------------
# assert_vjp


def test_assert_vjp_passes_silently_for_correct_vjps():
    def sq(x):
        return x**2

    def sq_vjp(g, x):
        return (2 * g * x,)

    assert assert_vjp(sq, sq_vjp, at={"x": np.array([0.5, -1.0, 1.5])}) is None
    assert_vjp(sq, sq_vjp, at=(1.25,))

    @custom_vjp
    def xsiny(x, y):
        return x * np.sin(y)

    @xsiny.defvjp
    def xsiny_vjp(g, x, y):
        return (g * np.sin(y), g * x * np.cos(y))

    assert_vjp(xsiny, at={"x": 0.7, "y": 0.3})
    assert_vjp(xsiny, at=(np.array([0.1, 2.0]), np.array([-1.0, 0.4])), method="central")


def test_assert_vjp_names_the_input_the_entries_both_values_and_the_tolerance():
    x = np.array([0.5, -1.0, 1.5, 2.0])

    def sq(x):
        return x**2

    def wrong(g, x):
        d = 2 * g * x
        d[2] *= 1.001
        return (d,)

    with pytest.raises(AssertionError) as info:
        assert_vjp(sq, wrong, at={"x": x})
    message = str(info.value)
    assert "d/dx" in message and "entry [2]" in message and "output entry [2]" in message
    match = re.search(r"the rule gives (\S+), the reference (\S+) ", message)
    assert match, message
    assert float(match[1]) == pytest.approx(2 * 1.5 * 1.001, rel=1e-12)
    assert float(match[2]) == pytest.approx(2 * 1.5, rel=1e-9)
    assert re.search(r"tolerance \d", message), message
    assert "rtol 1e-09" in message


def test_assert_vjp_names_only_the_wrong_input():
    def f(x, y):
        return x * np.sin(y)

    def wrong(g, x, y):
        return (g * np.sin(y), -g * x * np.cos(y))

    with pytest.raises(AssertionError) as info:
        assert_vjp(f, wrong, at=(0.7, 0.3))
    message = str(info.value)
    assert "d/dy" in message and "d/dx" not in message
    match = re.search(r"the rule gives (\S+), the reference (\S+) ", message)
    assert float(match[1]) == pytest.approx(-0.7 * math.cos(0.3), rel=1e-12)
    assert float(match[2]) == pytest.approx(0.7 * math.cos(0.3), rel=1e-9)


def test_assert_vjp_tolerances():
    def ex(x):
        return np.exp(x)

    def slightly_off(g, x):
        return (g * np.exp(x) * (1 + 1e-6),)

    with pytest.raises(AssertionError, match="d/dx"):
        assert_vjp(ex, slightly_off, at={"x": 0.4})
    assert_vjp(ex, slightly_off, at={"x": 0.4}, rtol=1e-4)
    with pytest.raises(AssertionError):
        assert_vjp(ex, slightly_off, at={"x": 0.4}, method="central", rtol=1e-8)


def test_assert_vjp_uses_the_given_vjp_over_the_registered_one():
    @custom_vjp
    def sq(x):
        return x**2

    @sq.defvjp
    def sq_vjp(g, x):
        return (2 * g * x,)

    with pytest.raises(AssertionError, match="d/dx"):
        assert_vjp(sq, lambda g, x: (g * x,), at={"x": 1.5})
    assert sq.vjp is sq_vjp  # not replaced


@pytest.mark.parametrize("call, fragment", [
    (lambda f, v: assert_vjp(f, None, at={"x": 1.0}), "no VJP"),
    (lambda f, v: assert_vjp(f, v, at={"y": 1.0}), "x"),
    (lambda f, v: assert_vjp(f, v, at=(1.0, 2.0)), "1 inputs"),
], ids=["no-vjp", "missing-value", "wrong-count"])
def test_assert_vjp_rejects_bad_calls(call, fragment):
    with pytest.raises(TypeError, match=fragment):
        call(lambda x: x * x, lambda g, x: (2 * g * x,))
