"""Coverage-guided fuzzing of gradcli's readers with atheris (libFuzzer for Python).

    python bench/fuzz.py parser -max_total_time=600     expressions and --at points
    python bench/fuzz.py spec -max_total_time=600       .grad spec files, their models and rules
    python bench/fuzz.py parser crash-1a2b...           run one saved input again (a reproducer)
    python bench/fuzz.py spec -minimize_crash=1 -runs=2000 crash-1a2b...   shrink it
    python bench/fuzz.py parser --keep-going -max_total_time=600   every distinct crash

The contract under test: for any text, gradcli returns a result or raises a GradcliError (a
message for the person at the terminal). Any other exception, and any input that runs longer
than `-timeout` (10 s unless given), is a finding: libFuzzer stops, prints the Python traceback
and writes the input to `crash-<sha1>` (or `timeout-<sha1>`) in the working directory
(`-artifact_prefix=` puts it elsewhere). Every argument after the target goes to libFuzzer.

With `--keep-going` (this script's option, not libFuzzer's) an exception does not stop the run:
the first input of each distinct crash (its exception type and innermost gradcli frame) is
written with its traceback to /tmp/gradcli-fuzz/TARGET/findings/START-TIME/, and the run goes
on; so is an input that takes more than 5 s of CPU time (a slow input, measured in CPU time so
that a busy machine does not report one). A libFuzzer timeout (wall-clock time) still stops it.
While the suite keeps known bugs as xfail tests, some seeds (its strings) crash at once, and a run
without --keep-going stops at the first of them.

Targets (the input bytes are decoded as UTF-8, invalid bytes replaced, so seeds are plain text):

- `parser`: the text as an expression, read with the fast reader (gradcli.fastread) and with Lark
  alone: the graphs, node for node, or the errors, message and place, must be identical (as in
  tests/test_fastread.py). When it parses: its value, its gradient (eager on numbers, else by the
  gradient graph) and a second derivative, at a point where every variable has one value derived
  from the input (a number, or a vector of 3 for one input in 9). Then the text as a --at point,
  read both ways and compared the same way, and its values evaluated (`@file` values only from
  a scratch folder).
- `spec`: the text as a .grad file: read like `gradcli grad FILE.grad` reads it, its model's
  gradient at the params' initial values (inputs set to the derived value), and, when it has
  rules or check statements, `gradcli check FILE.grad` with 1 point per rule.

Work that would take more than 256 MiB of values is refused by gradcli's own memory limit, as
the command line's `--max-memory` does. Unless a corpus directory or an input file is named, the
seed corpus is written on start to /tmp/gradcli-fuzz/TARGET/seeds (from examples/, the README and
the string constants of tests/) and new inputs go to /tmp/gradcli-fuzz/TARGET/corpus.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shlex
import sys
import tempfile
import time
import traceback
import zlib
from contextlib import contextmanager
from pathlib import Path

import atheris
import numpy as np

with atheris.instrument_imports(include=["gradcli", "lark"]):
    import importlib
    import pkgutil

    import lark  # noqa: F401 - instrumented: Lark's lexer and parser states guide the fuzzer

    import gradcli

    # every module now, inside the instrumented import (gradcli imports most of them lazily)
    for _module in pkgutil.walk_packages(gradcli.__path__, "gradcli."):
        if _module.name in ("gradcli.__main__", "gradcli.main", "gradcli.pytest_plugin"):
            continue
        try:
            importlib.import_module(_module.name)
        except ImportError as _error:  # a module the targets do not use (the CLI's, ...)
            print(f"fuzz.py: {_module.name} not instrumented: {_error}", file=sys.stderr)

    from gradcli import api, parsing
    from gradcli.compare import Options
    from gradcli.errors import GradcliError
    from gradcli.points import read_point
    from gradcli.rule_files import check_file, has_rules
    from gradcli.spec import function_of, read_spec

ROOT = Path(__file__).resolve().parents[1]
FUZZ_DIR = Path(tempfile.gettempdir()) / "gradcli-fuzz"
MAX_MEMORY = 256 * 2**20  # bytes of values one evaluation may take (the CLI's --max-memory)
RULE_POINTS = 1  # points per rule for `check` of a spec with rules
TARGETS = ("parser", "spec")
SLOW, MAX_SLOW = 5.0, 20  # --keep-going: inputs taking more CPU seconds are recorded, this many

# the value of every variable, picked by a hash of the input: numbers at and off the usual
# special places (0, 1, kinks, poles), and one vector
VALUES: tuple[object, ...] = (0.5, 2.0, -1.5, 0.0, 1.0, -3.0, 1e-3, 7.25,
                              np.array([0.5, -1.0, 2.0]))


class ReaderMismatch(AssertionError):
    """The fast reader and Lark read one text differently: a bug of the fast reader."""

    def __init__(self, message: str, kind: tuple):
        super().__init__(message)
        self.kind = kind  # what differs, to tell distinct mismatches apart


def derived_value(data: bytes) -> object:
    return VALUES[zlib.crc32(data) % len(VALUES)]


# ---------------------------------------------------------------------------------------------
# the fast reader against Lark (the comparison of tests/test_fastread.py)


@contextmanager
def reader(fast: bool):
    old = parsing.FAST_READER
    parsing.FAST_READER = fast
    try:
        yield
    finally:
        parsing.FAST_READER = old


def graph_rows(graph) -> list[tuple]:
    """Every node as (index, op, input indices, attrs, shape): equal rows, equal graphs."""
    return [(node.index, node.op.name, tuple(i.index for i in node.inputs), repr(node.attrs),
             node.shape) for node in graph.nodes]


def error_summary(error: BaseException) -> tuple:
    return (type(error), getattr(error, "message", None), getattr(error, "line", None),
            getattr(error, "column", None), getattr(error, "source", None), str(error),
            error.__cause__ is None, error.__suppress_context__ or error.__context__ is None)


def read_expression(text: str, fast: bool):
    """(a summary to compare, the Function or None, the exception or None)."""
    with reader(fast):
        try:
            function = api.parse(text)
        except Exception as error:  # noqa: BLE001 - the error is the outcome to compare
            return ("error", error_summary(error)), None, error
    summary = ("graph", graph_rows(function.graph), function.output.index,
               list(function.positions.items()))
    return summary, function, None


def read_point_text(text: str, fast: bool):
    """(a summary to compare, the bindings or None, the exception or None)."""
    with reader(fast):
        try:
            bindings, positions = parsing.parse_point(text)
        except Exception as error:  # noqa: BLE001 - the error is the outcome to compare
            return ("error", error_summary(error)), None, error
    graphs = {id(b.value.graph): b.value.graph for b in bindings if b.value is not None}
    if len(graphs) > 1:
        raise AssertionError(f"the values of the point {text!r} are nodes of {len(graphs)} graphs")
    rows = graph_rows(next(iter(graphs.values()))) if graphs else []
    output = [(b.name, b.value.index if b.value is not None else None, b.line, b.column, b.path)
              for b in bindings]
    return ("graph", rows, output, list(positions.items())), bindings, None


def both_ways(read, text: str, what: str):
    """Read `text` with the fast reader and with Lark alone; the same outcome, or a mismatch."""
    fast = read(text, True)
    slow = read(text, False)
    if fast[0] != slow[0]:
        kind = (what, fast[0][0], slow[0][0], type(fast[2]).__name__, type(slow[2]).__name__)
        raise ReaderMismatch(f"the fast reader and Lark read the {what} {text!r} differently:\n"
                             f"  fast reader: {fast[0]!r}\n  Lark:        {slow[0]!r}", kind)
    error = fast[2]
    if error is not None and not isinstance(error, GradcliError):
        raise error
    return fast[1]


# ---------------------------------------------------------------------------------------------
# the targets


def exercise(function, value: object) -> None:
    """Value, gradient and a second derivative, every variable set to `value`."""
    shapes = {name: np.shape(value) for name in function.variables}
    point = {name: value for name in function.variables}
    try:
        f = function.at_shapes(shapes)  # built for the shapes, and limited like the CLI's
        f.max_memory = MAX_MEMORY
        f.evaluate(point)
        f.grad(point)
        for name in f.variables[:1]:
            derivative = f.derivative(name)
            if derivative is not None:
                derivative.max_memory = MAX_MEMORY
                derivative.evaluate({n: point[n] for n in derivative.variables})
    except GradcliError:
        pass


def fuzz_parser(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    value = derived_value(data)
    function = both_ways(read_expression, text, "expression")
    if function is not None:
        exercise(function, value)
    bindings = both_ways(read_point_text, text, "point")
    if bindings is not None and all(_safe_file(b.path) for b in bindings):
        try:
            read_point(text, [], folder=_scratch())
        except GradcliError:
            pass


def fuzz_spec(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    value = derived_value(data)
    path = _scratch() / "spec.grad"
    path.write_text(text, encoding="utf-8", newline="")
    try:
        spec = read_spec(str(path), max_memory=MAX_MEMORY)
    except GradcliError:
        return
    if spec.last is not None:
        try:
            model = function_of(spec, max_memory=MAX_MEMORY)
            model.grad({name: value for name in spec.inputs})
        except GradcliError:
            pass
    if has_rules(spec):
        try:
            check_file(str(path), Options(), count=RULE_POINTS, seed=0, max_memory=MAX_MEMORY,
                       spec=spec)
        except GradcliError:
            pass


# ---------------------------------------------------------------------------------------------
# a scratch folder, with data files a spec's load("...") or a point's @file can read

_folder: Path | None = None


def _scratch() -> Path:
    global _folder
    if _folder is None:
        _folder = Path(tempfile.mkdtemp(prefix="work-", dir=_ensure(FUZZ_DIR)))
        np.save(_folder / "data.npy", np.arange(6.0).reshape(2, 3))
        (_folder / "data.csv").write_text("1,2,3\n4,5,6\n", encoding="utf-8")
        (_folder / "data.txt").write_text("0.5 1.5\n", encoding="utf-8")
        (_folder / "bad.csv").write_text("1,a\n", encoding="utf-8")
    return _folder


def _safe_file(path: str | None) -> bool:
    """A point's @file only from the scratch folder: no absolute path, no '..'."""
    return path is None or not (Path(path).is_absolute() or ".." in Path(path).parts
                                or path.startswith("~"))


def _ensure(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# ---------------------------------------------------------------------------------------------
# --keep-going: every distinct crash, each written once


def signature(error: BaseException) -> tuple:
    """A crash's identity: the exception's type and its innermost frame in gradcli (else the
    innermost frame); for a mismatch of the readers, what differs."""
    if isinstance(error, ReaderMismatch):
        return ("ReaderMismatch", *error.kind)
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if "/gradcli/" in f.filename and not f.filename.endswith("fuzz.py")]
    frame = (ours or frames)[-1]
    return (type(error).__name__, Path(frame.filename).name, frame.name, frame.lineno)


def keep_going(fuzz, folder: Path):
    """`fuzz`, with each distinct crash written to `folder` and then ignored."""
    seen: dict[tuple, int] = {}

    def record(kind: str, key: tuple, data: bytes, details: str) -> None:
        name = f"{kind}-{len(seen):03d}-{hashlib.sha1(data).hexdigest()[:12]}"
        (_ensure(folder) / name).write_bytes(data)
        (folder / f"{name}.txt").write_text(f"{key}\ninput: {data!r}\n\n{details}",
                                            encoding="utf-8")
        print(f"\nfuzz.py: new {kind} {key}: {folder / name}\n{details}", file=sys.stderr,
              flush=True)

    def run(data: bytes) -> None:
        start = time.process_time()
        try:
            fuzz(data)
        except Exception as error:  # noqa: BLE001 - every crash is recorded, none stops the run
            key = signature(error)
            seen[key] = seen.get(key, 0) + 1
            if seen[key] == 1:
                record("crash", key, data, "".join(traceback.format_exception(error)))
            return
        cpu = time.process_time() - start
        if cpu > SLOW:  # CPU time, not wall time: the same on a busy machine
            key = ("slow", len(data))
            seen[key] = seen.get(key, 0) + 1
            if seen[key] == 1 and sum(k[0] == "slow" for k in seen) <= MAX_SLOW:
                record("slow", key, data, f"{cpu:.1f} s of CPU time\n")

    return run


# ---------------------------------------------------------------------------------------------
# seed corpora


def _test_strings() -> list[str]:
    """Every string constant in tests/*.py (the texts the suite reads), but the fuzzer's own
    findings (tests/test_fuzz_regressions.py): a run is to find them again, not be given them."""
    found: list[str] = []
    for file in sorted((ROOT / "tests").glob("*.py")):
        if file.name == "test_fuzz_regressions.py":
            continue
        try:
            tree = ast.parse(file.read_text(encoding="utf-8"))
        except (OSError, SyntaxError):
            continue
        found += [node.value for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    return found


def _json_strings(value, keys: tuple[str, ...]) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items()
                for s in ([v] if k in keys and isinstance(v, str) else _json_strings(v, keys))]
    if isinstance(value, list):
        return [s for v in value for s in _json_strings(v, keys)]
    return []


def parser_seeds() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    seeds = re.findall(r'gradcli \w+ "([^"\n]+)"', readme)
    seeds += re.findall(r'--(?:at|v|grad|domain) "?([^"\s]+)"?', readme)
    seeds += [s for s in re.findall(r"`([^`\n]+)`", readme) if not s.startswith(("gradcli", "--"))]
    seeds += _json_strings(json.loads((ROOT / "examples/seeds.json").read_text(encoding="utf-8")),
                           ("expression", "at"))
    seeds += [s for s in _test_strings() if 0 < len(s) <= 300 and "\n" not in s.strip()]
    return seeds


def spec_seeds() -> list[str]:
    seeds: list[str] = []
    for file in sorted((ROOT / "examples").glob("*.grad")):
        text = file.read_text(encoding="utf-8")
        # a whole file (a rule file's check takes seconds: its paragraphs instead), each
        # paragraph without its comments, and each statement
        paragraphs = ["\n".join(line for line in paragraph.split("\n") if not line.startswith("#"))
                      for paragraph in text.split("\n\n")]
        rules = re.search(r"^(grad|vjp) ", text, re.MULTILINE)
        seeds += [p for p in paragraphs if p.strip()] if rules else [text]
        seeds += [line for line in text.split("\n") if line.strip() and not line.startswith("#")]
    keywords = ("param ", "def ", "grad ", "vjp ", "domain ", "check ", " = ")
    seeds += [s for s in _test_strings() if len(s) <= 4000 and any(k in s for k in keywords)]
    return seeds


def write_seeds(target: str, folder: Path) -> int:
    """The seed corpus of a target, one file per distinct text; how many."""
    seeds = {s.encode("utf-8") for s in (parser_seeds() if target == "parser" else spec_seeds())}
    _ensure(folder)
    for old in folder.iterdir():
        old.unlink()
    for seed in seeds:
        (folder / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
    return len(seeds)


# ---------------------------------------------------------------------------------------------


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in TARGETS:
        sys.exit(f"usage: {argv[0]} {{{'|'.join(TARGETS)}}} [libFuzzer options] [corpus dirs or inputs]")
    target, options = argv[1], argv[2:]
    going = "--keep-going" in options
    options = [option for option in options if option != "--keep-going"]
    if not any(option.startswith("-timeout=") for option in options):
        options.append("-timeout=10")
    if not any(not option.startswith("-") for option in options):  # no corpus or input named
        seeds = FUZZ_DIR / target / "seeds"
        count = write_seeds(target, seeds)
        print(f"fuzz.py: {count} seeds in {seeds}", file=sys.stderr)
        options += [str(_ensure(FUZZ_DIR / target / "corpus")), str(seeds)]
    fuzz = fuzz_parser if target == "parser" else fuzz_spec
    fuzz(b"x**2*sin(x)")  # Lark's parser is built now, not during the first timed input
    if going:
        fuzz = keep_going(fuzz, FUZZ_DIR / target / "findings" / time.strftime("%Y%m%d-%H%M%S"))
    # libFuzzer runs its first argument as a shell command line for -minimize_crash and -fork:
    # this interpreter, this script and the target
    command = " ".join(shlex.quote(part) for part in (sys.executable, argv[0], target))
    atheris.Setup([command, *options], fuzz)
    atheris.Fuzz()


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    main(sys.argv)
