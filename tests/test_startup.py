"""Starting fast: the grammar's analysis is cached between runs, in a private folder only, and
the command line imports nothing heavy it does not use. Timings are measured in bench/, never
asserted here: these tests check that the cache is used, is safe, and changes no result."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from gradcli.grammar import cache_file

# the console script's entry point, which leaves by os._exit: the modules it imported are
# listed on stderr just before
RUN = ("import os, sys\n"
       "leave = os._exit\n"
       "def listed(code):\n"
       "    print(sorted(m for m in ('rich', 'scipy', 'mpmath', 'lark') if m in sys.modules),\n"
       "          file=sys.stderr, flush=True)\n"
       "    leave(code)\n"
       "os._exit = listed\n"
       "from gradcli.main import run; sys.argv = ['gradcli', *sys.argv[1:]]; run()")

COMMANDS = [
    ["grad", "x**2*sin(x)", "--at", "x=2", "--format", "plain"],
    ["grad", "log(x1) + x1*x2 - sin(x2)", "--at", "x1=2,x2=5", "--format", "json"],
    ["eval", "sum(softmax(v)*log(v))", "--at", "v=[0.2, 0.3, 0.5]", "--format", "plain"],
    ["check", "examples/rules.grad", "--points", "1", "--format", "plain"],
]


def gradcli(args: list[str], cache: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRADCLI_CACHE_DIR": cache}
    return subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True,
                          env=env, cwd=os.path.join(os.path.dirname(__file__), ".."))


@pytest.fixture
def private(tmp_path):
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    return folder


def test_the_cache_is_written_once_and_changes_no_result(private):
    uncached = [gradcli(args, "") for args in COMMANDS]
    assert not list(private.iterdir())
    first = [gradcli(args, str(private)) for args in COMMANDS]
    (cached,) = private.iterdir()
    assert cached.name.endswith(".lark-cache") and cached.stat().st_size > 1000
    again = [gradcli(args, str(private)) for args in COMMANDS]
    for a, b, c in zip(uncached, first, again, strict=True):
        assert a.stdout == b.stdout == c.stdout and a.stdout
        assert a.returncode == b.returncode == c.returncode == 0, a.stderr


def test_a_damaged_cache_is_rebuilt_silently(private):
    command = COMMANDS[2]  # an array in the point: read by Lark, not by the fast reader
    first = gradcli(command, str(private))
    (cached,) = private.iterdir()
    cached.write_bytes(b"not a cache\n\x00\x01")
    done = gradcli(command, str(private))
    assert done.returncode == 0 and done.stdout == first.stdout and first.stdout
    assert "Traceback" not in done.stderr and "cache" not in done.stderr.lower()
    assert cached.stat().st_size > 1000  # written again


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_a_folder_others_can_write_is_not_used(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("GRADCLI_CACHE_DIR", str(shared))
    assert cache_file() is False
    shared.chmod(0o700)
    assert cache_file() == str(shared / os.path.basename(cache_file()))
    assert stat.S_IMODE(shared.stat().st_mode) == 0o700


def test_an_empty_setting_turns_the_cache_off(monkeypatch):
    monkeypatch.setenv("GRADCLI_CACHE_DIR", "")
    assert cache_file() is False


def test_the_default_folder_is_private(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADCLI_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    path = cache_file()
    assert path and os.path.dirname(path) == str(tmp_path / "xdg" / "gradcli")
    if hasattr(os, "getuid"):
        assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) & 0o077 == 0


def test_a_gradient_imports_neither_rich_scipy_mpmath_nor_lark(private):
    done = gradcli(COMMANDS[0], str(private))
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_lark_is_imported_when_a_text_needs_it(private):
    done = gradcli(COMMANDS[2], str(private))  # an array in the point
    assert done.returncode == 0 and done.stderr.strip().splitlines()[-1] == "['lark']"


def test_an_expression_of_the_common_subset_needs_no_parser_table(private):
    done = gradcli(COMMANDS[0], str(private))  # read by gradcli.fastread: Lark is never built
    assert done.returncode == 0 and done.stdout == "1.9726023611141572\n"
    assert not list(private.iterdir())


@pytest.mark.parametrize(("args", "code"), [
    (["grad", "x**2*sin(x)", "--at", "x=2", "--format", "plain"], 0),
    (["grad", "x + y", "--at", "x=2,y=4,z=8", "--wrt", "z", "--unconnected", "error"], 1),
    (["grad", "x +", "--at", "x=2"], 2),
    (["nonsense"], 2),
    ([], 2),
])
def test_the_entry_point_leaves_with_the_commands_exit_code(args, code):
    done = subprocess.run([sys.executable, "-m", "gradcli", *args], capture_output=True,
                          text=True)
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    if code == 2 and args:
        assert "error" in done.stderr.lower()


def test_everything_written_is_flushed_before_the_process_leaves():
    points = [arg for k in range(2000) for arg in ("--at", f"x={k}")]
    done = subprocess.run([sys.executable, "-m", "gradcli", "grad", "x**2", *points,
                           "--format", "json"], capture_output=True, text=True)
    lines = done.stdout.splitlines()
    assert done.returncode == 0 and len(lines) == 2000
    assert lines[-1].startswith("{") and lines[-1].endswith("}") and '"value": 3996001.0' in lines[-1]
