"""The examples of derivative rules and the CI files that check them.

examples/rules.grad and examples/custom_ops.py pass `gradcli check`; every rule of
examples/broken_rules.grad and every op of examples/broken_ops.py fails, each for the argument
that is wrong; the pre-commit hook's entry, run as pre-commit runs it, gives those exit codes;
the hook manifest, the example pre-commit config and the example workflow are valid YAML with
the keys their tools need; `pytest examples/` passes and leaves out the broken files.

Every check runs at 3 points (--points 3) to keep the run short.
"""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
POINTS = "3"

# The rules of each example file, in the file's order, and the arguments each one gets wrong.
GOOD_RULES = ["softplus", "log_sigmoid", "smooth_abs", "lse", "affine"]
BROKEN_RULES = {  # rule: the arguments that fail (the others pass)
    "gauss": {"x"},
    "log_sigmoid": {"x"},
    "softplus": {"x"},
    "scaled_exp": {"x", "y"},
    "smooth_abs": {"eps"},
    "matmul_sq": {"x"},
    "xent": {"z"},
}
BROKEN_OPS = {  # op: the arguments that fail
    "softplus": {"x"},
    "log_sigmoid": {"x"},
    "smooth_abs": {"eps"},
    "logsumexp": {"v"},
    "affine": {"x"},
}
VERDICT = re.compile(r"^(?P<place>\S+:\d+): (?P<title>.+): (?P<verdict>pass|fail|inconclusive) "
                     r"(?P<error>\S+)$")


def _env() -> dict[str, str]:
    """The environment with this interpreter's scripts (gradcli) first on PATH, as in the
    virtualenv pre-commit makes for a `language: python` hook."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("FORCE_COLOR", None)
    return env


def gradcli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gradcli", *args], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=300)


def _json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def _failing(report: dict) -> set[str]:
    return {a["argument"] for a in report["arguments"] if a["verdict"] == "fail"}


# --- the .grad examples ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def broken_rules_json():
    return gradcli("check", "examples/broken_rules.grad", "--points", POINTS, "--format", "json")


def test_rules_grad_passes():
    done = gradcli("check", "examples/rules.grad", "--points", POINTS, "--format", "plain")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    matches = [VERDICT.match(line) for line in lines]
    assert all(matches), lines
    assert [m["verdict"] for m in matches] == ["pass"] * len(lines)
    titles = [m["title"] for m in matches]
    rules = [t.split()[1].split("(")[0] for t in titles if t.startswith(("grad ", "vjp "))]
    assert rules == GOOD_RULES
    checks = [t for t in titles if t.startswith("check ")]
    assert "check softplus at x=800" in checks  # the stable form, where exp(x) overflows
    assert any(t.startswith("check loss at ") for t in checks)  # the model using the rules


def test_broken_rules_every_rule_fails(broken_rules_json):
    done = broken_rules_json
    assert done.returncode == 1, done.stdout + done.stderr
    reports = _json_lines(done.stdout)
    assert [r["verdict"] for r in reports] == ["fail"] * len(reports)
    rules = [r for r in reports if r["kind"] in ("grad", "vjp")]
    assert [r["rule"] for r in rules] == list(BROKEN_RULES)
    checks = [r for r in reports if r["kind"] == "check"]
    assert [r["rule"] for r in checks] == ["gauss"]


@pytest.mark.parametrize("rule", list(BROKEN_RULES))
def test_broken_rules_blame_the_wrong_argument(broken_rules_json, rule):
    (report,) = [r for r in _json_lines(broken_rules_json.stdout)
                 if r["rule"] == rule and r["kind"] != "check"]
    assert _failing(report) == BROKEN_RULES[rule]
    passing = {a["argument"] for a in report["arguments"]} - BROKEN_RULES[rule]
    assert all(a["verdict"] == "pass" for a in report["arguments"] if a["argument"] in passing)


def test_broken_rules_github_annotations_point_at_the_rules():
    done = gradcli("check", "examples/broken_rules.grad", "--points", POINTS, "--format", "github")
    assert done.returncode == 1
    errors = [line for line in done.stdout.splitlines() if line.startswith("::error ")]
    lines = {int(re.search(r",line=(\d+),", e)[1]) for e in errors}
    text = (EXAMPLES / "broken_rules.grad").read_text().splitlines()
    assert {text[n - 1].split()[0] for n in lines} == {"grad", "vjp", "check"}
    assert len(lines) == len(BROKEN_RULES) + 1


# --- the Python examples ---------------------------------------------------------------------

def test_custom_ops_pass():
    done = gradcli("check", "examples/custom_ops.py", "--points", POINTS, "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    reports = _json_lines(done.stdout)
    assert [r["rule"] for r in reports] == list(BROKEN_OPS)  # the same ops, in the same order
    assert all(r["verdict"] == "pass" and r["kind"] == "python" for r in reports)


def test_broken_ops_every_op_fails():
    done = gradcli("check", "examples/broken_ops.py", "--points", POINTS, "--format", "json")
    assert done.returncode == 1, done.stdout + done.stderr
    reports = _json_lines(done.stdout)
    assert [r["rule"] for r in reports] == list(BROKEN_OPS)
    assert all(r["verdict"] == "fail" for r in reports)
    assert {r["rule"]: _failing(r) for r in reports} == BROKEN_OPS


# --- the pytest plugin on examples/ ----------------------------------------------------------

def _pytest(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "-o", f"gradcli_points={POINTS}", *args], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=300)


def test_pytest_examples_collects_rules_and_passes():
    done = _pytest("examples/", "-v")
    assert done.returncode == 0, done.stdout + done.stderr
    items = re.findall(r"^(\S+::.+?) PASSED", done.stdout, re.M)
    assert len(items) == 12 and re.search(r"\b12 passed\b", done.stdout), done.stdout
    assert all(item.startswith("examples/rules.grad::") for item in items), items
    assert "examples/rules.grad::vjp affine" in items


def test_pytest_runs_broken_rules_when_named():
    # conftest.py's collect_ignore leaves it out of `pytest examples/`, not out of an explicit path
    done = _pytest("examples/broken_rules.grad", "-q")
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(rf"\b{len(BROKEN_RULES) + 1} failed\b", done.stdout), done.stdout


# --- the pre-commit hook ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def hook() -> dict:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert isinstance(hooks, list)
    (found,) = [h for h in hooks if h.get("id") == "gradcli-check"]
    return found


def test_hook_manifest(hook):
    for key in ("id", "name", "entry", "language", "files"):
        assert isinstance(hook[key], str) and hook[key], key
    assert hook["language"] == "python"
    assert hook.get("pass_filenames", True) is True
    files = re.compile(hook["files"])
    assert files.search("examples/rules.grad") and files.search("model.grad")
    assert not files.search("examples/custom_ops.py") and not files.search("a.grad.bak")
    assert "gradcli check" in hook["entry"]


def run_hook(hook: dict, *args: str) -> subprocess.CompletedProcess:
    """The hook's entry as pre-commit runs it: split with shlex, then the config's args, then
    the file names, with the hook's virtualenv (here: this interpreter's scripts) on PATH."""
    return subprocess.run([*shlex.split(hook["entry"]), *args], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=300)


def test_hook_entry_passes_on_rules(hook):
    done = run_hook(hook, f"--points={POINTS}", "examples/rules.grad")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": pass ") == len(done.stdout.splitlines())


def test_hook_entry_fails_on_broken_rules(hook):
    done = run_hook(hook, f"--points={POINTS}", "examples/broken_rules.grad")
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.count(": fail ") == len(BROKEN_RULES) + 1


def test_hook_entry_checks_every_file_and_exits_with_the_worst(hook, tmp_path):
    bad = tmp_path / "bad.grad"
    bad.write_text("def f(x) = x +\ngrad f(x) = 1\n")  # a syntax error: exit 2
    done = run_hook(hook, f"--points={POINTS}", str(bad), "examples/broken_rules.grad")
    assert done.returncode == 2, done.stdout + done.stderr  # bad input over a failing rule
    assert "bad.grad" in done.stderr
    assert done.stdout.count(": fail ") == len(BROKEN_RULES) + 1  # checked after the bad input


def test_example_pre_commit_config_uses_the_hook(hook):
    config = yaml.safe_load((EXAMPLES / "ci" / ".pre-commit-config.yaml").read_text())
    (repo,) = config["repos"]
    assert repo["repo"] and repo["rev"]
    assert [h["id"] for h in repo["hooks"]] == [hook["id"]]


# --- the GitHub workflow ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load((EXAMPLES / "ci" / "gradcli.yml").read_text())


def _runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_workflow_keys(workflow):
    assert workflow["name"]
    # YAML 1.1 (PyYAML) reads the key `on` as True; GitHub reads it as "on"
    triggers = workflow.get("on", workflow.get(True))
    assert "pull_request" in triggers and "push" in triggers
    jobs = workflow["jobs"]
    assert set(jobs) == {"rules", "pytest"}
    for job in jobs.values():
        assert job["runs-on"] and isinstance(job["steps"], list) and job["steps"]
        uses = [step.get("uses", "") for step in job["steps"]]
        assert any(u.startswith("actions/checkout@") for u in uses)
        assert any(u.startswith("actions/upload-artifact@") for u in uses)
        (setup,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python@")]
        assert str(setup["with"]["python-version"]) == "3.11"
        assert "pip install gradcli" in _runs(job)
    rules = _runs(jobs["rules"])
    assert "gradcli check" in rules and "--format github" in rules and "--junit" in rules
    assert "-n auto" in _runs(jobs["pytest"]) and "pytest-xdist" in _runs(jobs["pytest"])


def test_workflow_selects_the_grad_files_with_rules(workflow):
    script = _runs(workflow["jobs"]["rules"])
    pattern = re.search(r"^\s*rules='([^']+)'", script, re.M)[1]
    files = sorted(str(p.relative_to(ROOT)) for p in EXAMPLES.glob("*.grad"))
    done = subprocess.run(["grep", "-lE", pattern, *files], cwd=ROOT, capture_output=True,
                          text=True)
    selected = done.stdout.split()
    assert selected == ["examples/broken_rules.grad", "examples/rules.grad"]
    exclude = re.compile(workflow["env"]["GRADCLI_EXCLUDE"])
    assert [f for f in selected if not exclude.search(f)] == ["examples/rules.grad"]


# --- two gaps met while writing the examples, fixed since: kept as regression tests ----------

def test_check_statement_trailing_comment_is_not_part_of_its_title(tmp_path):
    # the comment once stayed in the check's text: in its title, JSON signature, JUnit names
    # and pytest node ids
    spec = tmp_path / "commented.grad"
    spec.write_text("def sp(x) = log(1 + exp(x))\ngrad sp(x) = sigmoid(x)\n"
                    "check sp at x=3    # a pinned point\n")
    done = gradcli("check", str(spec), "--points", "1", "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    signatures = [r["signature"] for r in _json_lines(done.stdout)]
    assert signatures == ["sp(x)", "x=3"]


def test_vjp_that_ignores_the_cotangent_fails(tmp_path):
    # a function with a scalar value was once checked with the cotangent g = 1 only, so a VJP
    # that forgot to multiply by g passed
    spec = tmp_path / "forgot_g.grad"
    spec.write_text("def lse(v) = log(sum(exp(v)))\nvjp lse(v) = softmax(v)\n"
                    "domain lse: v[3]\n")
    ops = tmp_path / "forgot_g.py"
    ops.write_text("import numpy as np\nfrom gradcli import custom_vjp\n\n\n"
                   "@custom_vjp()\ndef square(x):\n    return x * x\n\n\n"
                   "@square.defvjp\ndef square_vjp(g, x):\n    return (2 * x,)\n")
    for path, rule in ((spec, "lse"), (ops, "square")):
        done = gradcli("check", str(path), "--points", "2", "--format", "json")
        assert done.returncode == 1, done.stdout + done.stderr
        assert [(r["rule"], r["verdict"]) for r in _json_lines(done.stdout)] == [(rule, "fail")]


def test_hook_entry_skips_a_model_spec_without_rules(hook):
    done = run_hook(hook, f"--points={POINTS}", "examples/mlp.grad", "examples/rules.grad")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "examples/mlp.grad: no rules or check statements, skipped" in done.stderr
    assert done.stdout.count(": pass ") == len(done.stdout.splitlines()) > 0
