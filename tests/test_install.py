"""The built wheel works on its own: it carries the grammar, installs into a fresh virtual
environment, and its `gradcli` runs from outside the source tree.

No network: the wheel is built without build isolation (hatchling comes from this environment)
and the venv sees this environment's site-packages for numpy, lark, typer and rich.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import gradcli

ROOT = Path(__file__).resolve().parent.parent


def _run(args, cwd, timeout=600, env=None):
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, env=env)
    assert proc.returncode == 0, (
        f"{' '.join(map(str, args))} failed ({proc.returncode}):\n"
        f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def _clean_env() -> dict:
    """This environment without anything that points Python back at the source tree."""
    env = dict(os.environ)
    for key in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "FORCE_COLOR"):
        env.pop(key, None)
    env["PIP_NO_INDEX"] = "1"  # nothing may come from the network
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps",
          "-w", out, ROOT], cwd=out, env=_clean_env())
    wheels = sorted(out.glob("gradcli-*.whl"))
    assert len(wheels) == 1, list(out.iterdir())
    return wheels[0]


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("venv")
    venv = base / "venv"
    env = _clean_env()
    _run([sys.executable, "-m", "venv", "--system-site-packages", venv], cwd=base, env=env)
    python = venv / "bin" / "python"
    _run([python, "-m", "pip", "install", "--no-deps", wheel], cwd=base, env=env)
    return venv


def test_wheel_contains_the_grammar(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "gradcli/grammars/expression.lark" in names
    assert "gradcli/__init__.py" in names
    assert "gradcli/cli.py" in names
    with zipfile.ZipFile(wheel) as archive:
        for name in ("expression.lark", "spec.lark"):
            grammar = archive.read(f"gradcli/grammars/{name}").decode("utf-8")
            assert grammar == (ROOT / "grammars" / name).read_text(encoding="utf-8")


def test_wheel_version_matches(wheel):
    assert wheel.name.startswith(f"gradcli-{gradcli.__version__}-")


def test_installed_gradcli_runs_outside_the_source_tree(venv, tmp_path):
    work = tmp_path / "elsewhere"
    work.mkdir()
    proc = _run([venv / "bin" / "gradcli", "grad", "x**2*sin(x)", "--at", "x=2",
                 "--format", "json"], cwd=work, env=_clean_env())
    obj = json.loads(proc.stdout)
    assert obj["gradient"] == {"x": 1.9726023611141572}
    assert obj["value"] == 3.637189707302727
    assert list(obj) == ["expression", "point", "value", "gradient", "unconnected"]


def test_installed_gradcli_reads_a_spec_and_its_data(venv, tmp_path):
    """The spec grammar ships in the wheel, and load() reads a file beside the spec."""
    (tmp_path / "data.csv").write_text("1,2\n3,4\n")
    (tmp_path / "model.grad").write_text(
        'X = load("data.csv")\nparam w = [0.5, -1]\nloss = sum((X @ w)**2)  # a comment\n')
    proc = _run([venv / "bin" / "gradcli", "grad", "model.grad", "--format", "json"], cwd=tmp_path,
                env=_clean_env())
    obj = json.loads(proc.stdout)
    X, w = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([0.5, -1.0])
    assert obj["value"] == float(np.sum((X @ w) ** 2))
    assert obj["gradient"]["w"] == (2 * X.T @ (X @ w)).tolist()


def test_installed_package_is_the_venv_copy(venv, tmp_path):
    proc = _run([venv / "bin" / "python", "-c", "import gradcli; print(gradcli.__file__)"],
                cwd=tmp_path, env=_clean_env())
    location = Path(proc.stdout.strip()).resolve()
    assert location.is_relative_to(venv.resolve()), location
    assert not location.is_relative_to(ROOT), location


def test_installed_grammar_is_found_inside_the_package(venv, tmp_path):
    code = ("from gradcli.grammar import grammar_path; import gradcli, pathlib; "
            "print(grammar_path()); print(pathlib.Path(gradcli.__file__).parent)")
    proc = _run([venv / "bin" / "python", "-c", code], cwd=tmp_path, env=_clean_env())
    grammar, package = (Path(line).resolve() for line in proc.stdout.split())
    assert grammar == package / "grammars" / "expression.lark"
    assert not grammar.is_relative_to(ROOT)


def test_installed_python_m_gradcli(venv, tmp_path):
    proc = _run([venv / "bin" / "python", "-m", "gradcli", "--version"], cwd=tmp_path,
                env=_clean_env())
    assert proc.stdout.strip() == f"gradcli {gradcli.__version__}"
    proc = _run([venv / "bin" / "python", "-m", "gradcli", "grad", "x**2*sin(x)", "--at", "x=2"],
                cwd=tmp_path, env=_clean_env())
    assert proc.stdout == "1.9726023611141572\n"


def test_installed_gradcli_reads_stdin(venv, tmp_path):
    proc = subprocess.run([str(venv / "bin" / "gradcli"), "grad", "-", "--at", "x=2"],
                          input="x**2*sin(x)\n", capture_output=True, text=True, cwd=tmp_path,
                          env=_clean_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "1.9726023611141572\n"
