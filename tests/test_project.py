"""The project's own promises: the README's set-up commands, CI, and the dependency direction."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "gradcli"


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = "python3 -m pip install -e '.[test]' && python3 -m pytest"
    assert command in readme
    assert [line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))] \
        == [command]


def test_readme_install_command_names_a_working_example():
    readme = (ROOT / "README.md").read_text()
    assert 'python3 -m pip install . && gradcli grad "x**2*sin(x)" --at x=2' in readme


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


MODULES = sorted(p for p in SOURCE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SOURCE)))
def test_only_the_cli_imports_typer_and_only_the_renderer_imports_rich(path):
    imports = {name.split(".")[0] for name in _imports(path)}
    if not path.name.startswith("cli"):
        assert not imports & {"typer", "click"}
    if not path.name.startswith("render"):
        assert "rich" not in imports


# The dependency direction: a module may import only modules below it in this order.
LAYERS = ["errors", "initializers", "numeric", "graph", "ops", "highprecision", "arrays",
          "functions", "printing", "latex", "calls", "parse_errors", "grammar", "statements", "fastread",
          "parsing",
          "evaluation",
          "plans", "autodiff", "eager", "forward", "simplify", "diagnose", "points", "custom", "definitions",
          "report", "catalog", "api",
          "derivatives", "trace", "explain", "symbolic", "pictures", "spec", "compare",
          "array_checks", "probes", "checking", "rules", "rule_files", "python_rules", "testing",
          "annotations", "junit", "pytest_plugin", "render", "render_trace",
          "cli_common", "cli_check", "cli_derive", "cli", "main"]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SOURCE)))
def test_dependencies_point_downward(path):
    relative = path.relative_to(SOURCE)
    own = relative.parts[0].removesuffix(".py")
    if own in ("__init__", "__main__"):
        return
    assert own in LAYERS, f"{own} is not placed in LAYERS"
    for name in _imports(path):
        match = re.match(r"gradcli\.(\w+)", name)
        if match and match.group(1) != own:
            assert LAYERS.index(match.group(1)) < LAYERS.index(own), f"{own} imports {name}"


def test_modules_stay_readable_in_one_sitting():
    for path in MODULES:
        assert len(path.read_text().splitlines()) <= 450, path


def test_the_command_line_does_not_import_rich_scipy_or_the_parser_for_version():
    code = ("import sys; from gradcli.cli import app; "
            "sys.argv = ['gradcli', '--version']\n"
            "try: app()\nexcept SystemExit: pass\n"
            "print(sorted(m for m in ('rich', 'scipy', 'lark', 'mpmath') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "scipy" not in out.stdout and "mpmath" not in out.stdout


def test_every_third_party_import_is_a_declared_dependency():
    """A module the source imports must be installed by `pip install .` on a fresh machine."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=!~ \[]", spec)[0].lower() for spec in project["dependencies"]}
    standard = set(sys.stdlib_module_names) | {"gradcli"}
    for path in MODULES:
        for name in _imports(path):
            top = name.split(".")[0]
            if path.name == "pytest_plugin.py" and top == "pytest":  # loaded by pytest only
                continue
            assert top in standard or top in declared, f"{path.name} imports undeclared {top}"


def test_the_api_names_are_not_shadowed_by_submodules():
    """`gradcli.check` must stay the function even after gradcli.checking and friends load."""
    import importlib
    import types

    import gradcli

    for path in MODULES:
        relative = path.relative_to(SOURCE).with_suffix("")
        if relative.name not in ("__main__",):
            importlib.import_module(".".join(["gradcli", *relative.parts]).removesuffix(".__init__"))
    for name in gradcli.__all__:
        assert not isinstance(getattr(gradcli, name), types.ModuleType), name


def test_the_security_review_holds():
    """SECURITY.md: no eval, exec, compile or __import__ of anything, no network module, and
    .npy files read without pickles."""
    import ast

    for path in MODULES:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("eval", "exec", "compile", "__import__"), path
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "load" \
                    and getattr(node.func.value, "id", None) == "np":
                keywords = {k.arg: getattr(k.value, "value", None) for k in node.keywords}
                assert keywords.get("allow_pickle") is False, path
        for name in _imports(path):
            assert name.split(".")[0] not in ("socket", "urllib", "http", "requests", "pickle",
                                              "marshal", "shelve"), (path, name)
