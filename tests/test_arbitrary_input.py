"""Arbitrary text in every input of the command line, against the contract of the README:

for ANY input gradcli gives an answer (exit 0; 1 for a failed requirement; 3 for an inconclusive
check) or exits with code 2 and a one-paragraph message on stderr (`gradcli: error: ...`, or
Click's own usage message for options it cannot read): never a traceback, never a hang, never
lost output, and with `--format json` every line of stdout strict JSON.

The channels: the expression argument of every command (and '-', standard input); --at values
(numbers, constant expressions, arrays, `@file` values with random file contents); the options
taking text (--wrt, --domain, --grad, --v, --seed-dir, --max-memory, --of, --junit, the numbers
of check); spec files (random statements, and the files of examples/ mutated line by line and
character by character); rule files (def, grad, vjp, domain and check statements). Text comes
as random Unicode, control characters, grammar-shaped text (tokens of the language, and
expressions generated from the grammar and the function table, then mutated) and extremes
(10^4-digit numbers, 10^4-character names, 5000-deep brackets, NUL, BOM, CRLF, tabs).

Every run is in-process (typer's CliRunner), each under an alarm so that a hang fails instead
of stalling the suite; a few cases that argv alone can carry (bytes that are not UTF-8, NUL)
run the real entry point in a subprocess with a timeout.

Deterministic (derandomize=True, no example database). `GRADCLI_FUZZ_EXAMPLES=3000` raises
every property's max_examples for a long run; `GRADCLI_FUZZ_REPORT=FILE` appends the number of
runs per channel, their exit codes and time, Python warnings and the slowest runs to FILE;
`GRADCLI_FUZZ_COLLECT=FILE` appends each problem to FILE and goes on instead of failing;
`GRADCLI_FUZZ_TIMEOUT` is the seconds a run may take (20).

Inputs found to break the contract are kept as `xfail(strict=True)` tests at the end (they
flip when fixed); the properties skip exactly those failures (KNOWN_BUGS, matched on the
exception and the frame it was raised in), so that any new one fails them.
"""

from __future__ import annotations

import collections
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, reject, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from gradcli.cli import app
from gradcli.functions import CONSTANTS, FUNCTIONS

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = ROOT / "examples"

EXAMPLES = int(os.environ.get("GRADCLI_FUZZ_EXAMPLES", "0"))
HANG_SECONDS = float(os.environ.get("GRADCLI_FUZZ_TIMEOUT", "20"))
REPORT = os.environ.get("GRADCLI_FUZZ_REPORT")
# a long run that keeps going: every problem is appended to this file instead of failing
COLLECT = os.environ.get("GRADCLI_FUZZ_COLLECT")

CLEAN_ENV = {"FORCE_COLOR": None, "NO_COLOR": None, "TTY_COMPATIBLE": None,
             "TTY_INTERACTIVE": None, "COLUMNS": "200", "GRADCLI_THREADS": "1"}


def fuzz(examples: int):
    """The settings of every property: deterministic, no deadline (the alarm is the guard)."""
    return settings(max_examples=EXAMPLES or examples, derandomize=True, database=None,
                    deadline=None, print_blob=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much,
                                           HealthCheck.large_base_example])


# ---------------------------------------------------------------------------------------------
# Running the app, and the contract


class Hang(BaseException):
    """Raised by the alarm: a run took longer than HANG_SECONDS."""


@contextmanager
def time_limit(seconds: float):
    def alarm(signum, frame):
        raise Hang(f"no answer after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# Runs per channel and their exit codes, for the report of a long run.
STATS: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
SECONDS: collections.Counter = collections.Counter()
SLOWEST: dict[str, tuple[float, str]] = collections.defaultdict(lambda: (0.0, ""))
SLOW: list[tuple[float, str, str]] = []  # every run of more than 2 s
WARNINGS: collections.Counter = collections.Counter()
WARNING_EXAMPLES: dict[str, str] = {}


@dataclass
class Run:
    args: list[str]
    stdin: str | bytes | None
    exit_code: int | None
    stdout: str
    stderr: str
    exception: BaseException | None
    seconds: float


def invoke(channel: str, args: list[str], stdin: str | bytes | None = None) -> Run:
    start = time.perf_counter()
    try:
        with time_limit(HANG_SECONDS), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = CliRunner().invoke(app, args, input=stdin, env=CLEAN_ENV)
        for warning in caught:  # Python's warnings, which a real process prints on stderr
            where = f"{Path(warning.filename).name}:{warning.lineno}"
            WARNINGS[f"{warning.category.__name__} at {where}: {warning.message}"] += 1
            WARNING_EXAMPLES.setdefault(where, show(args))
    except Hang as hang:
        STATS[channel]["hang"] += 1
        return Run(args, stdin, None, "", "", hang, time.perf_counter() - start)
    seconds = time.perf_counter() - start
    SECONDS[channel] += seconds
    SLOWEST[channel] = max(SLOWEST[channel], (seconds, show(args)))
    if seconds > 2:
        SLOW.append((round(seconds, 1), channel, show(args)))
        if REPORT:  # the whole command, to time it again
            with open(REPORT + ".slow", "a", encoding="utf-8") as out:
                out.write(json.dumps({"seconds": seconds, "args": args,
                                      "stdin": stdin if isinstance(stdin, str) else None}) + "\n")
    exception = result.exception
    if isinstance(exception, SystemExit):
        exception = None
    STATS[channel][str(result.exit_code) if exception is None else "crash"] += 1
    stdout = result.stdout_bytes.decode("utf-8", "replace")
    stderr = result.stderr_bytes.decode("utf-8", "replace")
    return Run(args, stdin, result.exit_code, stdout, stderr, exception, seconds)


@dataclass(frozen=True)
class Problem:
    kind: str  # "crash", "hang", "exit code", "message", "json", "output", "verdict"
    where: str  # for a crash: the exception's type and the gradcli function raising it
    message: str


def show(args: list) -> str:
    """The arguments as a Python list, a long one cut in its middle."""
    def one(arg) -> str:
        text = repr(arg)
        return text if len(text) <= 160 else f"{text[:100]}...<{len(arg)} long>...{text[-40:]}"

    return "[" + ", ".join(one(arg) for arg in args) + "]"


def _frames(exception: BaseException) -> list[traceback.FrameSummary]:
    return traceback.extract_tb(exception.__traceback__)


def _raised_in(exception: BaseException) -> str:
    """'OverflowError in initializers._shape': the innermost frame of gradcli's own code."""
    own = [f for f in _frames(exception) if "/gradcli/" in f.filename.replace(os.sep, "/")]
    frame = own[-1] if own else (_frames(exception) or [None])[-1]
    place = f"{Path(frame.filename).stem}.{frame.name}" if frame is not None else "?"
    return f"{type(exception).__name__} in {place}"


def _reject_constant(name: str):
    raise ValueError(f"not strict JSON: {name}")


def strict_json(line: str):
    return json.loads(line, parse_constant=_reject_constant)


def json_lines(out: str) -> list[str]:
    """The lines of JSON Lines output: split at "\\n" only (str.splitlines would split inside a
    string holding U+0085 or U+2028, which JSON leaves unescaped)."""
    return out[:-1].split("\n") if out.endswith("\n") else out.split("\n")


USAGE = re.compile(r"Usage: |Error: |No such option|Invalid value|Missing (argument|option)|"
                   r"requires an argument|Got unexpected extra argument", re.IGNORECASE)

# Exit codes each command may give (1: a requirement failed; 3: an inconclusive check).
EXIT_CODES = {"check": {0, 1, 2, 3}}


def _command(args: list[str]) -> str:
    return args[0] if args else ""


def problem_of(run: Run) -> Problem | None:
    """What in a run breaks the contract, or None."""
    args = run.args
    shown = f"gradcli {show(args)}" + (f" < {show([run.stdin])}" if run.stdin else "")
    if isinstance(run.exception, Hang):
        return Problem("hang", "hang", f"{shown}: {run.exception}")
    if run.exception is not None:
        tail = "".join(traceback.format_exception(run.exception, limit=-6))
        return Problem("crash", _raised_in(run.exception), f"{shown} raised:\n{tail}")
    out, err, code = run.stdout, run.stderr, run.exit_code
    command = _command(args)
    allowed = EXIT_CODES.get(command, {0, 2} | ({1} if _option(args, "--unconnected") == "error"
                                               else set()))
    if code not in allowed:
        return Problem("exit code", f"exit {code}", f"{shown}: exit code {code}\nstdout: "
                       f"{out[:500]!r}\nstderr: {err[:500]!r}")
    if "Traceback (most recent call last)" in out + err:
        return Problem("message", "traceback", f"{shown}: a traceback in the output\n{err[-2000:]}")
    if code == 2:
        if not err.strip():
            return Problem("message", "silent exit 2", f"{shown}: exit 2 with nothing on stderr")
        if "gradcli: error: " in err:
            message = err[err.index("gradcli: error: ") + len("gradcli: error: "):]
            if not message.strip():
                return Problem("message", "empty message", f"{shown}: an empty error message")
            if "\n\n" in message.strip("\n"):
                return Problem("message", "two paragraphs",
                               f"{shown}: an error message of several paragraphs: {err!r}")
        elif not USAGE.search(err):
            return Problem("message", "no gradcli: error", f"{shown}: exit 2 without "
                           f"'gradcli: error:' or a usage message on stderr: {err[:1000]!r}")
    if code == 1 and command != "check" and "gradcli: error: " not in err:
        return Problem("message", "silent exit 1", f"{shown}: exit 1 without a message: {err!r}")
    if code == 0 and command in ("grad", "eval", "diff", "hessian", "jacobian", "jvp", "hvp",
                                 "graph") and not out and "--help" not in args:
        return Problem("output", "no output", f"{shown}: exit 0 with nothing on stdout")
    if code in (0, 1, 3) and _option(args, "--format") == "json" and out.strip():
        try:
            objects = [strict_json(line) for line in json_lines(out)]
        except ValueError as error:
            return Problem("json", "not strict JSON", f"{shown}: stdout is not strict JSON "
                           f"({error}):\n{out[:2000]}")
        if not all(isinstance(obj, dict) for obj in objects):
            return Problem("json", "not objects", f"{shown}: a JSON line is no object: {out[:500]}")
        return _sane(run, objects)
    return None


def _option(args: list[str], name: str) -> str | None:
    """The value of an option (the last one given), or None."""
    value = None
    for k, word in enumerate(args[:-1]):
        if word == name:
            value = args[k + 1]
    return value


GRAD_KEYS = ["expression", "point", "value", "gradient", "unconnected"]


def _sane(run: Run, objects: list[dict]) -> Problem | None:
    """The JSON of a successful run says what the README says it does."""
    args, code = run.args, run.exit_code
    shown = f"gradcli {show(args)}"
    command = _command(args)
    if command == "grad" and code == 0:
        for obj in objects:
            if list(obj)[:5] != GRAD_KEYS:
                return Problem("json", "grad keys", f"{shown}: keys {list(obj)}")
            # (as sets: --wrt z,z lists z twice in unconnected, once in gradient)
            if set(obj["unconnected"]) != {k for k, v in obj["gradient"].items() if v is None}:
                if _option(args, "--unconnected") in (None, "none"):
                    return Problem("json", "unconnected", f"{shown}: unconnected {obj}")
    if command == "eval" and code == 0:
        for obj in objects:
            if list(obj)[:3] != ["expression", "point", "value"]:
                return Problem("json", "eval keys", f"{shown}: keys {list(obj)}")
    if command == "check" and "results" in objects[0]:
        verdicts = {obj.get("verdict") for obj in objects}
        expected = 1 if "fail" in verdicts else 3 if "inconclusive" in verdicts else 0
        if code != expected:
            return Problem("verdict", "exit code of verdicts", f"{shown}: verdicts {verdicts} "
                           f"and exit code {code}")
        for obj in objects:
            for row in obj["results"]:
                if row.get("verdict") == "pass" and row.get("tolerance") == "nan":
                    return Problem("verdict", "pass without a tolerance",
                                   f"{shown}: a pass with tolerance {row.get('tolerance')!r}: {row}")
                numbers = [row.get(key) for key in ("abs_error", "tolerance", "error_estimate")]
                if row.get("verdict") == "pass" and all(isinstance(n, float) for n in numbers) \
                        and numbers[0] > numbers[1] + 2 * numbers[2] + 1e-300 \
                        and "one-sided" not in row.get("note", "") \
                        and "left and right" not in row.get("note", ""):
                    return Problem("verdict", "pass outside the band",
                                   f"{shown}: a pass outside its tolerance: {row}")
    return None


# Failures found and kept as xfail tests below: skipped where the properties meet them again, so
# that a new failure stands out. Each is (what the problem is: the exception and the function of
# gradcli raising it, or its start, or None for any; a piece of the message). Remove an entry when its bug is
# fixed (its xfail test flips).
KNOWN_BUGS = [
    # check --points: a --domain whose HIGH - LOW overflows float64
    ("OverflowError in points.sample_points", "range exceeds valid bounds"),
    # sizes whose product overflows float64 (zeros(1e200, 1e200)): Budget.take's int(inf)
    ("OverflowError in initializers.take", "infinity"),
    # arrays of more than 64 dimensions (numpy's limit), wherever numpy meets them first
    (None, "maximum supported dimension for an ndarray"),
    (None, "exceed the maximum number of dimension"),
    # .npy files numpy cannot read, with errors other than ValueError and OSError: an empty
    # file (EOFError, which Click turns into "Aborted!" and exit 1), a malformed header
    # (tokenize.TokenError), a shape too large for C long (OverflowError)
    ("exit 1", "Aborted"),
    ("TokenError in initializers.load_array", ""),
    ("OverflowError in initializers.load_array", ""),
    # check --grad x=[1] for a variable that is a number: the claimed value's shape is not checked
    ("TypeError in compare.compare", "0-dimensional arrays"),
    # a rule sampled from a domain numpy cannot draw from: bounds whose difference overflows (a
    # .grad domain -1e308:1e308; a custom_vjp domain with inf), LOW > HIGH, or a shape that is
    # no tuple of sizes (custom_vjp(shapes=...) is not validated)
    ("OverflowError in rules._sample", ""),
    ("ValueError in rules._sample", ""),
    ("TypeError in rules._sample", ""),
    # check --seed -1: numpy's default_rng refuses a negative seed (ValueError), wherever the
    # seed is first used
    ("ValueError in points.sample_points", "non-negative"),
    ("ValueError in rules.check_target", "non-negative"),
    ("ValueError in probes.check_probes", "non-negative"),
    ("ValueError in array_checks", "non-negative"),
    # a check that passes although its tolerance is nan (--rtol nan, --atol nan)
    ("pass without a tolerance", "'nan'"),
]


def known(problem: Problem) -> bool:
    return any((where is None or problem.where.startswith(where)) and text in problem.message
               for where, text in KNOWN_BUGS)


def verify(run: Run) -> None:
    """Fail on a problem; a known one (KNOWN_BUGS) makes the example invalid instead."""
    problem = problem_of(run)
    if problem is None:
        return
    if known(problem):
        reject()
    if COLLECT:
        files = {}  # the files the command reads (a spec, a rule file, an @file), as they were
        for arg in run.args:
            for name in re.findall(r"[^=,@\s]+\.(?:grad|py|npy|csv|txt)", arg):
                if Path(name).is_file() and Path(name).stat().st_size < 50000:
                    files[name] = Path(name).read_bytes().decode("utf-8", "backslashreplace")
        with open(COLLECT, "a", encoding="utf-8") as out:
            out.write(json.dumps({"kind": problem.kind, "where": problem.where,
                                  "message": problem.message[-4000:], "args": run.args,
                                  "stdin": run.stdin if isinstance(run.stdin, str) else None,
                                  "files": files}) + "\n")
        reject()
    raise AssertionError(problem.message)


def run_and_verify(channel: str, args: list[str], stdin: str | bytes | None = None) -> Run:
    run = invoke(channel, args, stdin)
    verify(run)
    return run


# ---------------------------------------------------------------------------------------------
# A folder of its own: relative paths in random text (spec files, @files, .py files, JUnit
# reports) land there, never in the project.


@pytest.fixture(scope="module", autouse=True)
def workdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("arbitrary_input")
    for name in ("points.csv",):
        shutil.copy(EXAMPLES_DIR / name, folder / name)
    (folder / "v.csv").write_text("1,2,3\n")
    (folder / "m.txt").write_text("1 2\n3 4\n")
    np.save(folder / "a.npy", np.arange(6.0).reshape(2, 3))
    previous = Path.cwd()
    os.chdir(folder)
    yield folder
    os.chdir(previous)


@pytest.fixture(scope="module", autouse=True)
def report_stats(request):
    for table in (STATS, SECONDS, SLOWEST, SLOW, WARNINGS, WARNING_EXAMPLES):
        table.clear()
    yield
    if REPORT:
        with open(REPORT, "a", encoding="utf-8") as out:
            for channel, counts in sorted(STATS.items()):
                out.write(json.dumps({"channel": channel, "runs": sum(counts.values()),
                                      "exit": dict(counts), "seconds": round(SECONDS[channel], 1),
                                      "slowest": SLOWEST[channel]}) + "\n")
            for warning, count in WARNINGS.most_common():
                out.write(json.dumps({"warning": warning, "count": count}) + "\n")
            out.write(json.dumps({"warning examples": WARNING_EXAMPLES}) + "\n")
            for slow in sorted(SLOW, reverse=True):
                out.write(json.dumps({"slow": slow}) + "\n")


# ---------------------------------------------------------------------------------------------
# Text


FUNCTION_NAMES = sorted({f.name for f in FUNCTIONS} | {a for f in FUNCTIONS for a in f.aliases})
INITIALIZERS = ["randn", "uniform", "truncated_normal", "zeros", "ones", "full", "eye", "arange",
                "load"]
VARIABLES = ("x", "y", "v", "M")
POINT = "x=0.5,y=2,v=[0.2, -1.5, 3],M=[[1, 2], [3, 4]]"
SCALAR_POINT = "x=0.5,y=2"
KEYWORDS = ["axis", "keepdims", "base", "alpha", "slope", "ddof", "shape", "axes", "value",
            "seed", "low", "high", "stddev", "mean", "n", "x", "foo"]
NUMBER_TEXTS = ["0", "1", "2", "3", "0.5", ".5", "5.", "1e-3", "2E+2", "1e308", "1e309",
                "1e-320", "0e0", "007", "4294967296", "9223372036854775808", "1e99999"]
OPERATORS = [" + ", " - ", "*", "/", "**", "^", " @ ", " < ", " <= ", " == ", " != ", " > ",
             " >= ", " ", ""]
TOKENS = VARIABLES + tuple(NUMBER_TEXTS + list(CONSTANTS) + FUNCTION_NAMES[::3] + INITIALIZERS[:3]) + (
    "(", ")", "[", "]", ",", ":", "::", "=", "+", "-", "*", "/", "**", "^", "@", ".T", ".", "<",
    "<=", "==", "!=", ">", "#", " ", "  ", "\t", "\n", "\r\n", "\r", "'a'", '"b"', "'",
    '"', "@a.npy", "@v.csv", "θ", "é", "\x00", "\ufeff", "\u00a0", "\u2028", "g", "param", "def",
    "grad", "vjp", "domain", "check", "at", "axis=", "keepdims=true", "e-5", "1_000", "½",
    "²", "٣", "\\", "$", ";", "!", "{", "}", "?", "~", "`", "x1", "_", "__import__")

CONTROL = st.characters(min_codepoint=0, max_codepoint=0x1F) | st.sampled_from(
    ["\x7f", "\x85", "\u2028", "\u2029", "\ufeff", "\u200b", "\u202e", "\ufffe", "\uffff"])
# no surrogates in-process (CliRunner's streams are strict UTF-8); a real process gets them
# from argv bytes that are not UTF-8: see the subprocess tests
UNICODE = st.characters(exclude_categories=("Cs",))


@functools.cache
def extremes() -> st.SearchStrategy[str]:
    return st.sampled_from([
        "(" * 5000 + "x" + ")" * 5000,
        "[" * 100 + "x" + "]" * 100,
        "-" * 5000 + "x",
        "+" * 5000 + "x",
        "x" + "**x" * 3000,
        "x" + "+x" * 10000,
        "sin(" * 3000 + "x" + ")" * 3000,
        "9" * 10000,
        "9" * 10000 + "*x",
        "0." + "1" * 10000 + "*x",
        "1e" + "9" * 10000,
        "x" * 10000,
        "θ" * 10000,
        " " * 10000 + "x",
        "x" + "#" * 10000,
        "x" + "[0]" * 2000,
        "x" + ".T" * 5000,
        "(" * 5000,
        ")" * 5000,
        "[" * 5000,
        "\x00" * 100,
        "\ufeffx",
        "x\r\n",
        "x\t+\ty",
        "sum([" + ", ".join(["x"] * 5000) + "])",
        "2" * 400 + "x",
        "x**" + "9" * 400,
        "x[" + "9" * 400 + "]",
        "broadcast_to(x, [" + "9" * 30 + "])",
        "reshape(v, [-1, -1])",
        "v[::0]",
        "sum(x, axis=" + "9" * 30 + ")",
    ])


@functools.cache
def numbers() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(NUMBER_TEXTS),
        st.integers(0, 10**6).map(str),
        st.floats(min_value=0, allow_nan=False, allow_infinity=False).map(repr),
    )


@functools.cache
def subscripts() -> st.SearchStrategy[str]:
    index = st.integers(-4, 4).map(str)
    maybe = st.one_of(st.just(""), index)
    one = st.one_of(index, st.builds(lambda a, b: f"{a}:{b}", maybe, maybe),
                    st.builds(lambda a, b, c: f"{a}:{b}:{c}", maybe, maybe,
                              st.one_of(st.just(""), st.integers(-2, 2).map(str))))
    return st.lists(one, min_size=1, max_size=3).map(", ".join)


@functools.cache
def expressions(names: tuple[str, ...] = VARIABLES, max_leaves: int = 8) -> st.SearchStrategy[str]:
    """Expressions from the grammar and the function table (not all of them meaningful)."""
    leaves = st.one_of(st.sampled_from(names), st.sampled_from(names), numbers(),
                       st.sampled_from(list(CONSTANTS)))

    def grow(inner):
        keyword = st.builds(lambda k, v: f"{k}={v}", st.sampled_from(KEYWORDS),
                            st.one_of(inner, st.integers(-3, 3).map(str),
                                      st.sampled_from(["true", "false", "[0, 1]", "[2, -1]",
                                                       "[]", "[1, 0, 2]"])))
        argument = st.one_of(inner, inner, keyword, st.sampled_from(["'a'", '"v.csv"']))
        call = st.builds(lambda f, xs: f"{f}({', '.join(xs)})", st.sampled_from(FUNCTION_NAMES),
                         st.lists(argument, max_size=4))
        return st.one_of(
            st.builds(lambda a, op, b: f"{a}{op}{b}", inner, st.sampled_from(OPERATORS), inner),
            inner.map(lambda a: f"-{a}"),
            inner.map(lambda a: f"({a})"),
            call, call,
            st.lists(inner, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
            st.builds(lambda a, s: f"({a})[{s}]", inner, subscripts()),
            st.builds(lambda a, s: f"{a}[{s}]", st.sampled_from(names), subscripts()),
            st.builds(lambda n, a: f"{n}{a}", numbers(), st.one_of(st.sampled_from(names), call)),
            st.builds(lambda a, b: f"({a})({b})", inner, inner),
            inner.map(lambda a: f"({a}).T"),
        )

    return st.recursive(leaves, grow, max_leaves=max_leaves)


@functools.cache
def token_soup(tokens: tuple[str, ...] = TOKENS, max_size: int = 25) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(tokens), max_size=max_size).map("".join)


@st.composite
def mutated(draw, base: st.SearchStrategy[str], alphabet: st.SearchStrategy[str] | None = None,
            max_edits: int = 4) -> str:
    """`base` with a few edits: characters or tokens inserted, deleted, replaced; slices
    duplicated; lines deleted, duplicated, swapped."""
    text = draw(base)
    pieces = alphabet if alphabet is not None else st.one_of(
        st.sampled_from(TOKENS), st.text(UNICODE, min_size=1, max_size=3),
        st.text(CONTROL, min_size=1, max_size=2))
    for _ in range(draw(st.integers(1, max_edits))):
        kind = draw(st.sampled_from(["insert", "insert", "delete", "replace", "duplicate",
                                     "line delete", "line duplicate", "line swap"]))
        at = draw(st.integers(0, len(text)))
        if kind == "insert":
            text = text[:at] + draw(pieces) + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 8)):]
        elif kind == "replace":
            text = text[:at] + draw(pieces) + text[at + 1:]
        elif kind == "duplicate":
            end = min(len(text), at + draw(st.integers(1, 20)))
            text = text[:end] + text[at:end] + text[end:]
        else:
            lines = text.split("\n")
            k = draw(st.integers(0, len(lines) - 1))
            if kind == "line delete" and len(lines) > 1:
                del lines[k]
            elif kind == "line duplicate":
                lines.insert(k, lines[k])
            elif kind == "line swap":
                j = draw(st.integers(0, len(lines) - 1))
                lines[k], lines[j] = lines[j], lines[k]
            text = "\n".join(lines)
    return text


_WORD = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[^\W\d]\w*")


@st.composite
def retokened(draw, base: st.SearchStrategy[str], max_edits: int = 3) -> str:
    """`base` with a few of its numbers and names replaced by others: a file that still reads,
    mostly, and means something else (randn(16, 0), softmax -> sum, axis=5, a name unknown)."""
    text = draw(base)
    for _ in range(draw(st.integers(1, max_edits))):
        words = list(_WORD.finditer(text))
        if not words:
            break
        word = draw(st.sampled_from(words))
        if word.group()[0].isdigit() or word.group()[0] == ".":
            new = draw(st.one_of(numbers(), st.sampled_from(["0", "1", "2", "64", "65", "-1",
                                                             "1e9", "inf", "nan", "x"])))
        else:
            new = draw(st.sampled_from(VARIABLES + SPEC_NAMES + tuple(FUNCTION_NAMES)
                                       + tuple(INITIALIZERS) + tuple(KEYWORDS)))
        text = text[:word.start()] + new + text[word.end():]
    return text


@functools.cache
def arbitrary_text() -> st.SearchStrategy[str]:
    """Any text: random Unicode, control characters, tokens, mutated expressions, extremes."""
    return st.one_of(
        st.text(UNICODE, max_size=40),
        st.text(CONTROL, max_size=20),
        st.text(st.one_of(UNICODE, CONTROL), max_size=40),
        token_soup(),
        mutated(expressions()),
        extremes(),
    )


@functools.cache
def grammar_text(names: tuple[str, ...] = VARIABLES) -> st.SearchStrategy[str]:
    """Mostly expressions the parser reads, some with a mistake in them."""
    return st.one_of(expressions(names), expressions(names), mutated(expressions(names)),
                     token_soup(max_size=12))


# ---------------------------------------------------------------------------------------------
# Commands


def _formats(command: str) -> list[str | None]:
    return {
        "check": [None, "json", "json", "plain", "table", "github"],
        "diff": [None, "json", "latex"],
        "graph": [None, "mermaid", "dot", "svg"],
    }.get(command, [None, "json", "json", "plain", "table"])


@st.composite
def command_line(draw, expression: str, point: str | None = None) -> list[str]:
    """A command of the expression channel around `expression`, with options that fit it."""
    command = draw(st.sampled_from(["grad", "grad", "eval", "check", "diff", "hessian",
                                    "jacobian", "jvp", "hvp", "graph"]))
    point = point if point is not None else draw(st.sampled_from([POINT, SCALAR_POINT, "x=1"]))
    args = [command, expression]
    if command == "diff":
        args += draw(st.sampled_from([[], ["--order", "2"], ["--let"], ["--wrt", "x,y"]]))
    elif command == "graph":
        args += draw(st.sampled_from([[], ["--at", point]]))
    else:
        args += ["--at", point, "--max-memory", "64MiB"]
    if command in ("jvp", "hvp"):
        args += ["--v", draw(st.sampled_from(["x=1", "x=1,y=-1", "v=[1, 0, 1]"]))]
    if command == "grad":
        args += draw(st.sampled_from([[], [], ["--wrt", "x,y,z"], ["--unconnected", "zero"],
                                      ["--unconnected", "error"], ["--trace"], ["--explain"],
                                      ["--trace", "--mode", "forward"]]))
    if command == "check":
        args += draw(st.sampled_from([[], [], ["--method", "central"], ["--order", "2"],
                                      ["--grad", "x=1"], ["--method", "complex"]]))
    fmt = draw(st.sampled_from(_formats(command)))
    if fmt is not None:
        args += ["--format", fmt]
    return args


COMMANDS = ["grad", "eval", "check", "diff", "hessian", "jacobian", "jvp", "hvp", "graph"]


def _not_a_module(text: str) -> bool:
    """`check pkg.ops` imports a module: random text must not import one that exists (`this`
    prints the Zen of Python, `antigravity` opens a browser)."""
    import importlib.util

    if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+", text):
        return True
    try:
        return importlib.util.find_spec(text.split(".")[0]) is None
    except (ImportError, ValueError):
        return True


# ---------------------------------------------------------------------------------------------
# The expression argument


@fuzz(120)
@given(st.data(), arbitrary_text())
@example(None, "(" * 5000 + "x" + ")" * 5000)
@example(None, "x" * 10000)
@example(None, "9" * 10000 + "*x")
@example(None, "x\x00")
@example(None, "\ufeffx**2")
@example(None, "x\r\n+ y")
def test_expression_arbitrary_text(data, text):
    """Any text as the expression of any command."""
    if data is None:  # the explicit examples: every command
        for command in COMMANDS:
            args = [command, text] + ({"diff": [], "graph": []}.get(command, ["--at", "x=1"]))
            if command in ("jvp", "hvp"):
                args += ["--v", "x=1"]
            run_and_verify("expression", args)
        return
    if not _not_a_module(text):
        reject()
    run_and_verify("expression", data.draw(command_line(text)))


@fuzz(150)
@given(st.data(), grammar_text())
@example(None, "sum(x, axis=" + "9" * 30 + ")")
@example(None, "v[::0]")
@example(None, "reshape(v, [-1, -1])")
@example(None, "broadcast_to(x, [" + "9" * 30 + "])")
def test_expression_grammar_shaped(data, text):
    """Expressions from the grammar (most of them read; many fail later, on names, arguments,
    shapes), through every command."""
    if data is None:
        for command in ("grad", "eval", "hessian", "graph"):
            run_and_verify("expression", [command, text, "--at", POINT])
        return
    if not _not_a_module(text):
        reject()
    run_and_verify("grammar", data.draw(command_line(text)))


@fuzz(60)
@given(st.sampled_from(COMMANDS), st.one_of(arbitrary_text(), grammar_text()),
       st.sampled_from(["", "\n", "\r\n", "\n\n"]))
@example("grad", "", "")
@example("grad", "x\x00", "")
@example("grad", "\ufeffx", "\n")
@example("grad", "x\n*y", "\n")
def test_expression_from_stdin(command, text, end):
    """'-' reads the expression from standard input."""
    args = [command, "-"] + ({"diff": [], "graph": []}.get(command, ["--at", SCALAR_POINT]))
    if command in ("jvp", "hvp"):
        args += ["--v", "x=1"]
    run_and_verify("stdin", args, stdin=text + end)


# ---------------------------------------------------------------------------------------------
# --at values, and the options that are read as points (--grad, --v, --seed-dir)


@functools.cache
def point_values() -> st.SearchStrategy[str]:
    """The value of one variable in a point: numbers, constant expressions, arrays, @files."""
    return st.one_of(
        numbers(), expressions(("x", "y", "pi"), max_leaves=4),
        st.lists(numbers(), max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.lists(st.lists(numbers(), min_size=1, max_size=3), min_size=1, max_size=3).map(
            lambda rows: "[" + ", ".join("[" + ", ".join(r) + "]" for r in rows) + "]"),
        st.sampled_from(["@a.npy", "@v.csv", "@m.txt", "@points.csv", "@missing.npy", "@",
                         "@'v.csv'", '@"v.csv"', "@/", "@.", "@..", "@a.npy.csv", "@v.CSV",
                         "[" * 100 + "1" + "]" * 100, "9" * 10000, "1e" + "9" * 10000,
                         "-" * 3000 + "1", "nan", "inf", "-inf", "log(-1)", "1/0", "[]", "[[]]",
                         "[1, [2]]", "[[1, 2], [3]]", "-0", "1e-320", "[1e308, 1e308]"]),
    )


@functools.cache
def point_texts() -> st.SearchStrategy[str]:
    """Text shaped like a point (NAME=VALUE, ...), then mutated, and any text."""
    name = st.one_of(st.sampled_from(VARIABLES + ("z", "θ", "x1", "_", "pi", "sin", "e", "g")),
                     st.text(UNICODE, min_size=1, max_size=5), st.just("x" * 3000))
    binding = st.builds(lambda n, eq, v: f"{n}{eq}{v}", name,
                        st.sampled_from(["=", "=", "=", " = ", "==", ":", ""]), point_values())
    separated = st.lists(binding, min_size=1, max_size=4).flatmap(
        lambda items: st.sampled_from([",", ", ", ";", " ", ",,"]).map(lambda sep: sep.join(items)))
    return st.one_of(separated, separated, mutated(separated), arbitrary_text())


DEFAULTS = {"x": "0.5", "y": "2", "v": "[0.2, -1.5, 3]", "M": "[[1, 2], [3, 4]]", "θ": "1"}
AT_EXPRESSIONS = {"x*y": ("x", "y"), "sum(v)*x": ("v", "x"), "x": ("x",),
                  "sum(M @ v[:2])": ("M", "v"), "θ + x": ("θ", "x"), "x**2*sin(x)": ("x",),
                  "sum(v*v) + x": ("v", "x")}


@st.composite
def fitting_point(draw, names: tuple[str, ...]) -> str:
    """A value for each of `names`, each a random one or a plain one, and maybe more
    bindings: points that mostly read, with values that are not."""
    items = [f"{name}={draw(st.one_of(point_values(), st.just(DEFAULTS[name])))}"
             for name in names]
    items += draw(st.lists(st.builds(lambda n, v: f"{n}={v}", st.sampled_from(
        ("z", "w", "pi", "sin", "x", "θ", "_1")), point_values()), max_size=1))
    return ",".join(draw(st.permutations(items)))


def _plain_point(names: tuple[str, ...]) -> str:
    return ",".join(f"{name}={DEFAULTS[name]}" for name in names)


@fuzz(120)
@given(st.data(), point_texts())
@example(None, "x=" + "9" * 10000)
@example(None, "x=1e" + "9" * 10000)
@example(None, "x=" + "[" * 60 + "1" + "]" * 60)
@example(None, "x=@")
@example(None, "x=1,x=2")
@example(None, "pi=1")
def test_at_values(data, point):
    """Any text as --at (and as --grad, --v and --seed-dir, which are read the same way)."""
    if data is None:
        for args in (["grad", "x", "--at", point], ["check", "x", "--grad", point, "--at", "x=1"],
                     ["jvp", "x", "--at", "x=1", "--v", point]):
            run_and_verify("at", args)
        return
    expression = data.draw(st.sampled_from(sorted(AT_EXPRESSIONS)))
    names = AT_EXPRESSIONS[expression]
    if data.draw(st.integers(0, 2)) < 2:  # mostly a point that fits the expression
        point = data.draw(fitting_point(names))
    where = data.draw(st.sampled_from(["at", "at", "at", "grad", "v", "seed-dir", "points"]))
    plain = _plain_point(names)
    if where == "at":
        command = data.draw(st.sampled_from(["grad", "grad", "eval", "check", "hessian",
                                             "jacobian", "graph"]))
        args = [command, expression, "--at", point]
        if command != "graph":
            args += data.draw(st.sampled_from([[], ["--at", plain]]))
            args += ["--format", data.draw(st.sampled_from(["json", "json", "plain", "table"]))]
    elif where == "grad":
        args = ["check", expression, "--at", plain, "--grad", point, "--format", "json"]
    elif where == "v":
        args = [data.draw(st.sampled_from(["jvp", "hvp"])), expression, "--at", plain,
                "--v", point, "--format", "json"]
    elif where == "seed-dir":
        args = ["grad", expression, "--at", plain, "--trace", "--mode", "forward",
                "--seed-dir", point, "--format", "json"]
    else:
        args = ["check", expression, "--points", "2", "--at", point, "--format", "json"]
    run_and_verify("at", args)


# --at NAME=@FILE: random file contents


NPY_MAGIC = b"\x93NUMPY"


@functools.cache
def npy_bytes() -> st.SearchStrategy[bytes]:
    """Valid .npy files of many dtypes and shapes, and headers of .npy files made up."""
    import io

    def save(array) -> bytes:
        out = io.BytesIO()
        np.save(out, array, allow_pickle=True)
        return out.getvalue()

    arrays = st.one_of(
        st.lists(st.floats(), max_size=6).map(lambda xs: np.array(xs, dtype=np.float64)),
        st.lists(st.integers(-2**63, 2**63 - 1), max_size=6).map(lambda xs: np.array(xs,
                                                                                      dtype=np.int64)),
        st.sampled_from([np.zeros((0,)), np.zeros((2, 0, 3)), np.float64(3.0), np.array(True),
                         np.array([1 + 2j]), np.array(["a", "b"]), np.array([b"x"]),
                         np.array([1, "a"], dtype=object), np.zeros(3, dtype=np.float16),
                         np.zeros(2, dtype=">f8"), np.zeros(2, dtype=[("a", "f8"), ("b", "i4")]),
                         np.array(["2020-01-01"], dtype="datetime64[D]"), np.zeros((1,) * 32),
                         np.full(3, 2**64 - 1, dtype=np.uint64), np.zeros(2, dtype="V3")]))
    header = st.builds(
        lambda version, text: NPY_MAGIC + bytes(version) + len(text).to_bytes(2, "little") + text,
        st.sampled_from([[1, 0], [2, 0], [3, 0], [9, 9]]),
        st.one_of(
            st.builds(lambda d, f, s: f"{{'descr': {d!r}, 'fortran_order': {f}, 'shape': {s}, }}"
                      .encode(),
                      st.sampled_from(["<f8", "|O", "<i8", "<U3", "x", "<f8" * 100]),
                      st.sampled_from(["False", "True", "1", "None"]),
                      st.sampled_from(["()", "(3,)", "(-1,)", "(10**9, 10**9)", "(2**62, 2**62)",
                                       "(99999999999999999999,)", "'a'", "(1.5,)", "((),)"])),
            st.binary(max_size=60)))
    return st.one_of(arrays.map(save), st.builds(lambda h, body: h + body, header,
                                                 st.binary(max_size=64)),
                     arrays.map(save).flatmap(lambda b: mutated_bytes(b)))


@st.composite
def mutated_bytes(draw, data: bytes) -> bytes:
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "truncate"]))
        if kind == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
        elif kind == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 8)):]
        elif kind == "replace":
            data = data[:at] + draw(st.binary(min_size=1, max_size=1)) + data[at + 1:]
        else:
            data = data[:at]
    return data


@functools.cache
def text_table_bytes() -> st.SearchStrategy[bytes]:
    cell = st.one_of(numbers(), st.sampled_from(["-1", "nan", "inf", "-inf", "", " ", "1e999",
                                                 "0x10", "1,5", "True", "'1'", '"2"', "#", "a"]),
                     st.text(UNICODE, max_size=3))
    rows = st.lists(st.lists(cell, min_size=0, max_size=4), max_size=5)
    table = st.builds(lambda rs, sep, end: end.join(sep.join(r) for r in rs),
                      rows, st.sampled_from([",", " ", "\t", ";", ", "]),
                      st.sampled_from(["\n", "\r\n", "\r"]))
    return st.one_of(
        table.map(lambda t: t.encode("utf-8")),
        table.map(lambda t: ("\ufeff" + t).encode("utf-8")),
        table.map(lambda t: t.encode("utf-16")),
        mutated(table).map(lambda t: t.encode("utf-8")),
        st.binary(max_size=80),
        st.just(b"1," * 5000 + b"1\n"),
        st.just(b"\x00" * 50),
        st.just(b"1\n" * 3 + b"1 2\n"),
    )


@fuzz(120)
@given(data=st.data(), suffix=st.sampled_from([".npy", ".csv", ".txt", ".CSV", ".npy"]))
@example(data=None, suffix=".npy")
def test_at_file_values(data, suffix, workdir):
    """--at X=@FILE with random bytes in a .npy, .csv or .txt file."""
    if data is None:  # an object array: a pickle, never unpickled
        import io

        out = io.BytesIO()
        np.save(out, np.array([1, "a"], dtype=object), allow_pickle=True)
        contents, expression, fmt = out.getvalue(), "sum(X)", "json"
    else:
        contents = data.draw(npy_bytes() if suffix.lower() == ".npy" else text_table_bytes(),
                             label="contents")
        expression = data.draw(st.sampled_from(["sum(X)", "sum(X*X)", "mean(X)*x", "X[0]",
                                                "sum(X @ X.T)", "X"]))
        fmt = data.draw(st.sampled_from(["json", "plain", "table"]))
    path = workdir / f"random{suffix}"
    path.write_bytes(contents)
    command = "eval" if expression == "X" else (data.draw(st.sampled_from(
        ["grad", "eval", "check", "hessian"])) if data is not None else "grad")
    args = [command, expression, "--at", f"X=@{path.name},x=1", "--max-memory", "16MiB",
            "--format", fmt]
    run_and_verify("at @file", args)


# ---------------------------------------------------------------------------------------------
# The other options that take text


@functools.cache
def number_texts() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["0", "-0", "1", "-1", "1e-300", "1e300", "1e999", "-1e999", "nan", "-nan",
                         "inf", "-inf", "infinity", "NaN", "0x10", "1_0", " 1", "1 ", "", "½",
                         "٣", "9" * 400, "1e-9", "0.5", "2", "3", "8", "100000"]),
        st.integers(-10, 10).map(str),
        st.floats().map(repr),
        st.text(st.one_of(UNICODE, CONTROL), max_size=8),
    )


@functools.cache
def domain_texts() -> st.SearchStrategy[str]:
    bound = st.one_of(numbers(), st.sampled_from(["-1", "-1e308", "1e308", "-inf", "inf", "nan",
                                                  "pi", "-pi", "[1]", "", "x", "log(-1)", "1:2",
                                                  "-1.7976931348623157e308",
                                                  "1.7976931348623157e308"]))
    item = st.builds(lambda n, lo, hi: f"{n}={lo}:{hi}", st.sampled_from(["x", "y", "v", "z",
                                                                          "", " x", "θ"]),
                     bound, bound)
    return st.one_of(st.lists(item, min_size=1, max_size=3).map(",".join), mutated(item),
                     arbitrary_text())


def _integer(text: str) -> int:
    """The integer Click reads from an option's text (int() accepts ' 1', '1_000', '٣'), or 0."""
    try:
        return int(text)
    except ValueError:
        return 0


@fuzz(100)
@given(st.data())
def test_text_options(data):
    """--wrt, --domain, --max-memory, --of, --method, --format, --unconnected, --mode and the
    numbers of check (--rtol, --atol, --eps, --points, --seed, --order, --full-limit, --probes),
    --max-rows, --junit: any text."""
    option = data.draw(st.sampled_from([
        "--wrt", "--domain", "--max-memory", "--of", "--method", "--format", "--unconnected",
        "--mode", "--rtol", "--atol", "--eps", "--points", "--seed", "--order", "--full-limit",
        "--probes", "--max-rows", "--junit", "--wrt", "--domain", "--rtol", "--eps"]))
    expression = data.draw(st.sampled_from(["x*y", "x**2*sin(x)", "relu(x) + y", "sum(v*v)",
                                            "log(x)"]))
    point = "x=0.5,y=2,v=[1, 2]"
    if option == "--domain":
        value = data.draw(domain_texts())
    elif option in ("--rtol", "--atol", "--eps", "--points", "--seed", "--order", "--full-limit",
                    "--probes", "--max-rows", "--max-memory"):
        value = data.draw(number_texts())
        if option == "--max-memory":
            value = data.draw(st.one_of(st.just(value), st.builds(
                lambda n, unit: n + unit, number_texts(),
                st.sampled_from(["B", "KiB", "MiB", "GiB", "TiB", "kb", "G", "iB", "PiB", " MiB"]))))
    elif option == "--junit":
        name = data.draw(st.one_of(st.text(UNICODE, min_size=1, max_size=12),
                                   st.sampled_from([".", "..", "missing/dir/r.xml", "r.xml/",
                                                    "a.npy", "x" * 300, "random.npy/r.xml"])))
        value = name.replace("/", "_") if data.draw(st.booleans()) else name
        value = "./" + value.replace("..", "_") if not value.startswith(("missing", "r.xml",
                                                                         "random", "a.npy")) \
            else value
    else:
        value = data.draw(st.one_of(arbitrary_text(), st.sampled_from(
            ["x", "y", "x,y", "x,x", ",", "", " ", "z", "v", "pi", "sin", "x,,y", "θ"])))
    command = data.draw(st.sampled_from(
        ["check", "check", "check"] if option in ("--domain", "--rtol", "--atol", "--eps",
                                                  "--points", "--seed", "--order", "--full-limit",
                                                  "--probes", "--junit", "--method")
        else ["grad", "check", "hessian", "eval", "diff", "jacobian", "graph"]))
    args = [command, expression]
    if command != "diff" and not (command == "check" and option in ("--domain", "--points")):
        args += ["--at", point] if command != "graph" else ["--at", point]
    if command == "check" and option in ("--domain", "--seed"):
        args += ["--points", "3", "--at", "v=[1, 2]"]
    if command == "check" and option in ("--points", "--probes") and _integer(value) > 50:
        # many points or probes take long, as they should (each is work the user asked for;
        # 10^400 of them run for ever): not what is fuzzed here
        value = "50"
    if command == "check" and option == "--probes":
        args += ["--mode", "probes"]
    if command == "check" and option == "--eps":
        args += ["--method", "central"]
    if command == "check" and option in ("--rtol", "--atol"):
        args += data.draw(st.sampled_from([[], ["--grad", "x=5,y=-3"]]))
    args += [option, value]
    if option != "--format":
        args += ["--format", "json"] if command not in ("graph",) else []
    if command == "grad" and option == "--max-rows":
        args += ["--trace"]
    if command == "diff":
        args = [a for a in args if a not in ("--max-memory", "--at")]
    run_and_verify("options", args)


# ---------------------------------------------------------------------------------------------
# Spec files


def _example(name: str) -> str:
    return (EXAMPLES_DIR / name).read_text(encoding="utf-8")


MODEL_EXAMPLES = ("mlp.grad", "mlp_fixed.grad", "regression.grad", "classifier.grad")
RULE_EXAMPLES = ("rules.grad", "broken_rules.grad")
SPEC_NAMES = ("x", "y", "z", "w", "b", "h", "loss", "X", "t", "lr", "W", "f", "g", "data",
              "sin", "pi", "param", "check", "def", "θ")


@functools.cache
def spec_lines(names: tuple[str, ...] = SPEC_NAMES) -> st.SearchStrategy[str]:
    """One statement of a spec, or something like one."""
    name = st.sampled_from(names)
    expr = expressions(names, max_leaves=5)
    dims = st.lists(st.sampled_from(["0", "1", "2", "3", "16", "-1", "0.5", "1e3", "inf", "nan",
                                     "x", "1e12"]), max_size=3)
    init = st.builds(
        lambda f, ds, kws: f"{f}({', '.join(ds + kws)})", st.sampled_from(INITIALIZERS), dims,
        st.lists(st.builds(lambda k, v: f"{k}={v}", st.sampled_from(
            ["seed", "low", "high", "stddev", "mean", "value", "step", "foo"]),
            st.sampled_from(["0", "1", "-1", "0.5", "inf", "-inf", "nan", "1e30", "x", "[1]"])),
            max_size=2))
    load = st.sampled_from(['load("points.csv")', 'load("v.csv")', 'load("a.npy")',
                            'load("missing.csv")', "load(points.csv)", 'load("")', 'load("/")',
                            "load('m.txt')", 'load("random.npy")', 'load("..")'])
    params = st.lists(st.sampled_from(["x", "y", "g", "eps", "w", "x"]), min_size=0, max_size=3)
    fn = st.sampled_from(["f", "softplus", "sq", "h", "sin", "loss", "x"])
    rule_body = st.one_of(expr, st.lists(expr, min_size=1, max_size=3).map(
        lambda xs: "(" + ", ".join(xs) + ("," if len(xs) == 1 else "") + ")"))
    bound = st.sampled_from(["-1:1", "0.01:1", "1:0", "-inf:inf", "0:0", "pi:2*pi", "x:1", ""])
    domain_item = st.builds(lambda p, shape, b: p + shape + (f" = {b}" if b else ""),
                            st.sampled_from(["x", "y", "eps", "w", "z"]),
                            st.sampled_from(["", "[3]", "[2, 2]", "[0]", "[100]", "[-1]",
                                             "[2.5]", "[]", "[1e9]"]), bound)
    return st.one_of(
        st.builds(lambda n, e: f"{n} = {e}", name, expr),
        st.builds(lambda n, e: f"{n} = {e}", name, st.one_of(init, load)),
        st.builds(lambda n, e: f"param {n} = {e}", name, st.one_of(init, expr, load)),
        st.builds(lambda f, ps, b: f"def {f}({', '.join(ps)}) = {b}", fn, params, expr),
        st.builds(lambda k, f, ps, b: f"{k} {f}({', '.join(ps)}) = {b}",
                  st.sampled_from(["grad", "vjp"]), fn, params, rule_body),
        st.builds(lambda f, items: f"domain {f}: {', '.join(items)}", fn,
                  st.lists(domain_item, max_size=3)),
        st.builds(lambda n, p: f"check {n} at {p}", st.one_of(name, fn), st.one_of(
            st.sampled_from(["x=1", "x=1, y=2", "t=1.5", "x=800", "eps=0.01, x=0", "v=[1,2,3]",
                             "x=@v.csv", "x=", "", "x=nan", "w=1e308"]), point_texts())),
        st.sampled_from(["", "# a comment", "   ", "\t", "x = 1 # c", "param", "def", "grad",
                         "check", "domain", "=", "\ufeffx = 1", "x = 1\r", "param w = [[1, 2],"]),
        token_soup(TOKENS + ("param ", "def ", "grad ", "vjp ", "domain ", "check ", " at ",
                             " = ", "\n"), max_size=15),
    )


@functools.cache
def spec_texts(bases: tuple[str, ...]) -> st.SearchStrategy[str]:
    examples = st.sampled_from([_example(name) for name in bases])
    lines = st.lists(spec_lines(), min_size=1, max_size=8).map("\n".join)
    spliced = st.builds(lambda text, k, extra: "\n".join(
        text.split("\n")[:k] + extra + text.split("\n")[k:]), examples, st.integers(0, 40),
        st.lists(spec_lines(), min_size=1, max_size=3))
    return st.one_of(retokened(examples), retokened(examples), retokened(spliced, 2),
                     mutated(examples, max_edits=2), spliced, spliced, lines,
                     mutated(lines, max_edits=2), arbitrary_text(),
                     st.text(st.one_of(UNICODE, CONTROL), max_size=200))


@functools.cache
def spec_bytes(bases: tuple[str, ...]) -> st.SearchStrategy[bytes]:
    utf8 = spec_texts(bases).map(lambda t: t.encode("utf-8"))
    return st.one_of(
        utf8, utf8, utf8, utf8, utf8,
        spec_texts(bases).map(lambda t: t.replace("\n", "\r\n").encode("utf-8")),
        spec_texts(bases).map(lambda t: ("\ufeff" + t).encode("utf-8")),
        st.builds(lambda t, b: t.encode("utf-8") + b, spec_texts(bases),
                  st.sampled_from([b"\xff", b"\x00", b"\xc3", b"\xed\xa0\x80"])),
        st.binary(max_size=100),
        st.sampled_from([_example(n).encode("utf-16") for n in bases]),
    )


SPEC_OPTIONS = ["--max-memory", "4MiB"]
CHECK_OPTIONS = ["--points", "2", "--full-limit", "4", "--probes", "2"]


@st.composite
def spec_command(draw, path: str) -> list[str]:
    command = draw(st.sampled_from(["grad", "grad", "eval", "check", "check", "graph",
                                    "hessian"]))
    args = [command, path, *SPEC_OPTIONS]
    if command == "check":
        args += CHECK_OPTIONS + draw(st.sampled_from([[], ["--method", "central"],
                                                      ["--mode", "probes"]]))
    if command in ("grad", "eval", "hessian", "check") and draw(st.booleans()):
        args += ["--at", draw(st.sampled_from(["lr=0.1", "t=1.5", "z=1,x=2", "X=@a.npy",
                                               "w=[1, 2, 3, 4]", "lr=[1, 2]", "b=1"]))]
    if command in ("grad", "eval") and draw(st.integers(0, 4)) == 4:
        args += ["--of", draw(st.sampled_from(["h", "loss", "X", "w0", "nothing", "y"]))]
    if command == "hessian":
        args += ["--wrt", draw(st.sampled_from(["b", "b1", "lr", "t", "b0"]))]
    fmt = draw(st.sampled_from([None, "json", "json", "plain", "table"]
                               + (["github"] if command == "check" else [])))
    if command == "graph":
        fmt = draw(st.sampled_from([None, "mermaid"]))
    if fmt is not None:
        args += ["--format", fmt]
    return args


@fuzz(120)
@given(data=st.data(), contents=spec_bytes(MODEL_EXAMPLES))
@example(data=None, contents=b"\xef\xbb\xbfX = randn(3)\r\ny = sum(X*x)\r\n")
@example(data=None, contents=b"x = 1\n\x00\n")
def test_spec_files(data, contents, workdir):
    """Model specs: the examples mutated, random statements, random bytes."""
    path = workdir / "fuzz.grad"
    path.write_bytes(contents)
    if data is None:
        for command in ("grad", "eval", "check", "graph"):
            run_and_verify("spec", [command, path.name, *SPEC_OPTIONS, "--at", "x=1"]
                           + (CHECK_OPTIONS if command == "check" else []))
        return
    run_and_verify("spec", data.draw(spec_command(path.name)))


@fuzz(40)
@given(data=st.data(), contents=spec_bytes(RULE_EXAMPLES))
@example(data=None,
         contents=b"def f(x) = x**2\ngrad f(x) = 2*x\ndomain f: x[3] = -1:1\ncheck f at x=[1, 2, 3]\n")
@example(data=None, contents=b"def f(x) = x\ngrad f(x) = 1\ncheck f at x=@v.csv\n")
def test_rule_files(data, contents, workdir):
    """Rule files: def, grad, vjp, domain and check statements, mutated and made up, checked
    alone or with others (as pre-commit gives them)."""
    path = workdir / "rules_fuzz.grad"
    path.write_bytes(contents)
    if data is None:
        run_and_verify("rules", ["check", path.name, *CHECK_OPTIONS, *SPEC_OPTIONS])
        return
    args = ["check", path.name]
    if data.draw(st.integers(0, 7)) == 7:  # several files, or --rules-only
        (workdir / "other.grad").write_bytes(data.draw(spec_bytes(RULE_EXAMPLES + MODEL_EXAMPLES)))
        args += data.draw(st.sampled_from([["other.grad"], ["--rules-only"],
                                           ["other.grad", "missing.grad"], ["other.grad", "x"]]))
    args += CHECK_OPTIONS + SPEC_OPTIONS
    args += data.draw(st.sampled_from([[], [], ["--method", "central"], ["--method", "mpmath"],
                                       ["--method", "complex"], ["--strict"], ["--at", "x=1"],
                                       ["--junit", "report.xml"]]))
    fmt = data.draw(st.sampled_from([None, "json", "json", "plain", "table", "github"]))
    if fmt is not None:
        args += ["--format", fmt]
    run_and_verify("rules", args)


# Python rule files (check ops.py): importing one runs it, so only their numbers are changed
# (shapes, domains, constants) and lines deleted; never names, which could call anything


PY_EXAMPLES = ("custom_ops.py", "broken_ops.py")
# (no sizes beyond 1000: a check's work grows with the entries, 10^5 of them take minutes)
PY_NUMBERS = ("0", "1", "2", "-1", "0.5", "30", "-30", "1000", "1e300", "-1e300", "1e-300",
              "float('nan')", "float('inf')", "2.5", "(1,)", "()")
_NUMBER = re.compile(r"(?<![\w.])(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


@st.composite
def python_rule_files(draw) -> str:
    text = draw(st.sampled_from([_example(name) for name in PY_EXAMPLES]))
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.integers(0, 3)) < 3:
            found = list(_NUMBER.finditer(text))
            number = draw(st.sampled_from(found))
            text = text[:number.start()] + draw(st.sampled_from(PY_NUMBERS)) + text[number.end():]
        else:
            lines = text.split("\n")
            del lines[draw(st.integers(0, len(lines) - 1))]
            text = "\n".join(lines)
    return text


@fuzz(15)
@given(data=st.data(), source=python_rule_files())
def test_python_rule_files(data, source, workdir):
    """check ops.py: the examples' custom_vjp functions with other shapes, domains, constants,
    and lines left out."""
    (workdir / "fuzz_ops.py").write_text(source, encoding="utf-8")
    args = ["check", "fuzz_ops.py", "--points", "1", "--full-limit", "4", "--probes", "1"]
    args += data.draw(st.sampled_from([[], ["--method", "central"], ["--strict"],
                                       ["--method", "mpmath"]]))
    fmt = data.draw(st.sampled_from([None, "json", "plain", "table", "github"]))
    run_and_verify("python", args + (["--format", fmt] if fmt else []))


# ---------------------------------------------------------------------------------------------
# The real entry point, for what argv and pipes carry and CliRunner does not


def entry_point(args: list[str | bytes], stdin: bytes | None = None, env: dict | None = None,
                timeout: float = 20):
    merged = {k: v for k, v in os.environ.items()
              if k not in ("FORCE_COLOR", "NO_COLOR", "PYTHONIOENCODING")}
    merged.update(env or {})
    return subprocess.run([sys.executable, "-m", "gradcli", *args], input=stdin or b"",
                          capture_output=True, timeout=timeout, env=merged)


def assert_process_contract(done, json_out: bool = False) -> None:
    out = done.stdout.decode("utf-8", "replace")
    err = done.stderr.decode("utf-8", "replace")
    assert "Traceback" not in out + err, err[-3000:]
    assert done.returncode in (0, 1, 2, 3), (done.returncode, err)
    if done.returncode == 2:
        assert err.startswith("gradcli: error: ") or USAGE.search(err), err
    if json_out and done.returncode == 0:
        for line in json_lines(done.stdout.decode("utf-8")):  # UTF-8, strict JSON
            strict_json(line)


@pytest.mark.parametrize("args", [
    ["grad", "(" * 5000 + "x" + ")" * 5000, "--at", "x=1", "--format", "json"],
    ["grad", "x", "--at", "x=" + "9" * 10000, "--format", "json"],
    [b"grad", b"x\xff", b"--at", b"x=1"],
    [b"grad", b"x", b"--at", b"x=@\xff.csv"],
    [b"grad", b"\xff.grad"],
    [b"check", b"x", b"--at", b"x=1", b"--junit", b"\xff/r.xml"],
    [b"diff", b"\xed\xa0\x80x"],
], ids=lambda args: repr(args)[:40])
def test_entry_point_arguments(args):
    """Arguments argv carries: very long and deep ones, and bytes that are not UTF-8 (Python
    gives them to gradcli as lone surrogates)."""
    json_out = b"json" in args or "json" in args
    assert_process_contract(entry_point(args), json_out)


@pytest.mark.parametrize("stdin", [b"", b"x\x00", b"\xef\xbb\xbfx", b"x\r\n"])
def test_entry_point_stdin(stdin):
    assert_process_contract(entry_point(["grad", "-", "--at", "x=1", "--format", "json"], stdin),
                            json_out=True)


def test_entry_point_loses_no_output():
    """The console script leaves by os._exit once its output is flushed: a large output
    arrives whole through a pipe."""
    done = entry_point(["eval", "broadcast_to(x, [300, 300])", "--at", "x=1", "--format", "json"])
    assert_process_contract(done, json_out=True)
    assert np.shape(strict_json(done.stdout.decode("utf-8"))["value"]) == (300, 300)


def test_entry_point_spec_file_with_nul_and_crlf(tmp_path):
    spec = tmp_path / "s.grad"
    spec.write_bytes(b"\xef\xbb\xbfparam w = [1, 2]\r\nloss = sum(w**2)\r\n\x00\r\n")
    assert_process_contract(entry_point(["grad", str(spec), "--format", "json"]), json_out=True)


def test_nul_in_argv_is_refused_by_the_os_layer():
    """argv cannot carry NUL: the process is never started (an error in the caller's
    Python, not a traceback of gradcli's)."""
    with pytest.raises(ValueError, match="null byte"):
        entry_point(["grad", "x\x00", "--at", "x=1"])


# ---------------------------------------------------------------------------------------------
# Found by the properties above: xfail until fixed (strict, so that a fix flips them)


def _crash(channel: str, args: list[str], stdin: str | bytes | None = None) -> None:
    problem = problem_of(invoke(channel, args, stdin))
    assert problem is None, problem.message


@pytest.mark.xfail(strict=True, reason="OverflowError traceback: numpy's uniform() cannot draw "
                   "between bounds whose difference overflows float64 (points.sample_points); "
                   "read_domain accepts them")
def test_regression_domain_whose_width_overflows():
    _crash("regression", ["check", "x", "--points", "2", "--domain", "x=-1e308:1e308"])


@pytest.mark.parametrize("expression", ["v[1e400]", "v[inf:]", "v[" + "9" * 400 + "]",
                                        "sum(v, axis=inf)", "reshape(v, [inf])"])
def test_regression_infinite_integer(expression):
    """Was an OverflowError traceback from int(inf): inf where an integer belongs, as an index or
    a slice's bound (parsing._integer) or as the integer setting of a call, axis= or a shape
    (calls._setting); a number beyond float64 (1e400, 400 nines) is inf."""
    _crash("regression", ["eval", expression, "--at", "v=[1, 2]"])


def test_regression_initializer_of_infinite_size(workdir):
    """Was an OverflowError traceback: int(inf) of a size in initializers._shape."""
    (workdir / "inf_size.grad").write_text("X = randn(inf)\n")
    _crash("regression", ["eval", "inf_size.grad"])


@pytest.mark.xfail(strict=True, reason="OverflowError traceback: sizes whose product overflows "
                   "float64 (10^200 x 10^200): int(inf) in initializers.Budget.take, before the "
                   "memory limit can refuse them")
def test_regression_initializer_of_sizes_whose_product_overflows(workdir):
    (workdir / "huge_size.grad").write_text("X = zeros(1e200, 1e200)\n")
    _crash("regression", ["eval", "huge_size.grad"])


def test_regression_initializer_of_infinite_seed(workdir):
    """Was an OverflowError traceback: int(inf) of a seed in initializers._seed."""
    (workdir / "inf_seed.grad").write_text("X = randn(2, seed=inf)\n")
    _crash("regression", ["eval", "inf_seed.grad"])


def test_regression_arange_to_infinity(workdir):
    """Was an OverflowError traceback: int(ceil(inf)) in initializers.arange."""
    (workdir / "inf_arange.grad").write_text("X = arange(0, inf)\n")
    _crash("regression", ["eval", "inf_arange.grad"])


@pytest.mark.xfail(strict=True, reason="--rtol nan is accepted (the check that tolerances are "
                   "not negative lets nan through) and every comparison with a nan tolerance "
                   "passes: a wrong gradient passes with exit 0")
def test_regression_nan_tolerance_passes_a_wrong_gradient():
    run = invoke("regression", ["check", "x**2", "--at", "x=1", "--grad", "x=5", "--rtol", "nan",
                                "--format", "json"])
    assert run.exit_code in (1, 2), (run.exit_code, run.stdout)


@pytest.mark.xfail(strict=True, reason="standard input that is not UTF-8, with Python's strict "
                   "decoding (PYTHONIOENCODING=utf-8): UnicodeDecodeError traceback in "
                   "cli_common._read_expression")
def test_regression_stdin_not_utf8_with_strict_decoding():
    done = entry_point(["grad", "-", "--at", "x=1"], stdin=b"x\xff",
                       env={"PYTHONIOENCODING": "utf-8"})
    assert_process_contract(done)


@pytest.mark.xfail(strict=True, reason="argv bytes that are not UTF-8 reach the JSON output "
                   "as they came (a comment of the expression, a --wrt name): the output is not "
                   "UTF-8, so not JSON (cli_common._emit, report.json_text with ensure_ascii=False "
                   "on a stdout whose errors are surrogateescape)")
@pytest.mark.parametrize("args", [
    [b"grad", b"x #\xff", b"--at", b"x=1", b"--format", b"json"],
    [b"grad", b"x*y", b"--at", b"x=1,y=2", b"--wrt", b"\xff", b"--format", b"json"],
], ids=["comment", "wrt"])
def test_regression_json_output_of_arguments_not_utf8(args):
    assert_process_contract(entry_point(args), json_out=True)


@pytest.mark.xfail(strict=True, reason="the same with strict encoding (PYTHONIOENCODING=utf-8): "
                   "UnicodeEncodeError traceback in cli_common._emit, the result lost")
def test_regression_json_output_of_an_expression_not_utf8_strict():
    done = entry_point([b"grad", b"x #\xff", b"--at", b"x=1", b"--format", b"json"],
                       env={"PYTHONIOENCODING": "utf-8"})
    assert_process_contract(done, json_out=True)


@pytest.mark.xfail(strict=True, reason="an array literal nested more than 64 deep: numpy's "
                   "ValueError ('maximum number of dimension of 64') traceback in parsing.array")
def test_regression_array_literal_deeper_than_numpy_allows():
    _crash("regression", ["eval", "[" * 65 + "1" + "]" * 65])


@pytest.mark.xfail(strict=True, reason="the same in --at (parsing.array, through points.read_point)")
def test_regression_at_array_deeper_than_numpy_allows():
    _crash("regression", ["grad", "x", "--at", "x=" + "[" * 65 + "1" + "]" * 65])


@pytest.mark.xfail(strict=True, reason="an array of variables nested more than 64 deep: the "
                   "graph builds it (static shape of 65 dimensions) and evaluation fails in numpy's "
                   "reshape, ValueError traceback in ops/shape.py (reshape's forward)")
def test_regression_array_of_variables_deeper_than_numpy_allows():
    _crash("regression", ["eval", "[" * 65 + "x" + "]" * 65, "--at", "x=1"])


def _npy(header: bytes) -> bytes:
    """A .npy file of format 1.0 with this header and no data."""
    return NPY_MAGIC + b"\x01\x00" + len(header).to_bytes(2, "little") + header


@pytest.mark.xfail(strict=True, reason="initializers.load_array catches ValueError and OSError "
                   "only: an empty .npy gives numpy's EOFError, which Click turns into 'Aborted!' "
                   "and exit 1 (no gradcli message); a malformed header tokenize.TokenError; a "
                   "shape beyond C long OverflowError (numpy's memmap): tracebacks")
@pytest.mark.parametrize("contents", [
    b"",
    _npy(b"{"),
    _npy(b"{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,), }\n"),
], ids=["empty", "header-unclosed", "shape-beyond-c-long"])
def test_regression_npy_files_numpy_cannot_read(contents, workdir):
    (workdir / "unreadable.npy").write_bytes(contents)
    _crash("regression", ["grad", "sum(X)", "--at", "X=@unreadable.npy"])


@pytest.mark.xfail(strict=True, reason="quadratic time in trailing blanks: the fast reader's "
                   "token pattern (fastread._TOKEN, '[ \\t]*(?:...)' with finditer) scans the "
                   "rest of the blanks again from every position; 10^4 blanks take about 10 s, "
                   "2*10^4 about 40 s, 10^5 some minutes")
@pytest.mark.parametrize("args", [["eval", "x" + " " * 20000, "--at", "x=1"],
                                  ["eval", "x", "--at", "x=1" + "\t" * 20000]],
                         ids=["expression", "at"])
def test_regression_trailing_blanks_take_quadratic_time(args):
    _in_time(args, 2)


@pytest.mark.xfail(strict=True, reason="quadratic time in a long word before a syntax error: "
                   "parse_errors.describe searches r'(\\w+)$' in the text before the error, which "
                   "backtracks over the whole word from every position; 2*10^4 characters take "
                   "about 5 s, 4*10^4 about 25 s")
@pytest.mark.parametrize("args", [["grad", "x" * 40000 + "+1 1", "--at", "x=1"],
                                  ["grad", "x", "--at", "x=" + "y" * 40000 + "+1 1"]],
                         ids=["expression", "at"])
def test_regression_long_word_before_a_syntax_error_takes_quadratic_time(args):
    _in_time(args, 2)


def _in_time(args: list[str], seconds: float) -> None:
    start = time.perf_counter()
    with time_limit(seconds):
        CliRunner().invoke(app, args, env=CLEAN_ENV)
    assert time.perf_counter() - start < seconds


@pytest.mark.xfail(strict=True, reason="check --grad with an array for a variable that is a "
                   "number: TypeError traceback in compare.compare (float(analytic)); the claimed "
                   "value's shape is never compared with the variable's")
def test_regression_claimed_gradient_of_the_wrong_shape():
    _crash("regression", ["check", "x", "--at", "x=1", "--grad", "x=[1]"])


def test_regression_check_of_an_empty_array(workdir):
    """Was an AssertionError traceback in array_checks._every_entry (assert worst is not None):
    check of an array variable with no entries."""
    (workdir / "empty.csv").write_bytes(b"")
    _crash("regression", ["check", "sum(X)", "--at", "X=@empty.csv"])


def test_regression_check_of_a_spec_with_an_empty_param(workdir):
    """The same for a param with no entries in a spec."""
    (workdir / "empty_param.grad").write_text("param w = zeros(0)\nloss = sum(w)\n")
    _crash("regression", ["check", "empty_param.grad"])


@pytest.mark.xfail(strict=True, reason="a .grad domain whose HIGH - LOW overflows float64 passes "
                   "definitions._bounds (finite, LOW < HIGH) and numpy's uniform() raises "
                   "OverflowError in rules._sample: traceback")
def test_regression_rule_domain_whose_width_overflows(workdir):
    (workdir / "wide.grad").write_text("def f(x) = x**2\ngrad f(x) = 2*x\n"
                                       "domain f: x = -1e308:1e308\n")
    _crash("regression", ["check", "wide.grad"])


@pytest.mark.xfail(strict=True, reason="custom_vjp(shapes=..., domain=...) is not validated: "
                   "LOW > HIGH (ValueError), an infinite bound (OverflowError), a size that is no "
                   "integer (TypeError) or negative (ValueError) reach numpy's uniform() in "
                   "rules._sample: tracebacks")
@pytest.mark.parametrize("decorator", [
    'custom_vjp(domain={"x": (2, 1)})',
    'custom_vjp(domain={"x": (0, float("inf"))})',
    'custom_vjp(shapes={"x": (0.5,)})',
    'custom_vjp(shapes={"x": (-3,)})',
], ids=["low-above-high", "infinite", "float-size", "negative-size"])
def test_regression_python_rule_with_a_bad_domain_or_shape(decorator, workdir):
    (workdir / "bad_domain_ops.py").write_text(
        "import numpy as np\nfrom gradcli import custom_vjp\n\n\n"
        f"@{decorator}\ndef f(x):\n    return x * x\n\n\n"
        "@f.defvjp\ndef f_vjp(g, x):\n    return (2 * g * x,)\n")
    _crash("regression", ["check", "bad_domain_ops.py", "--points", "2"])


@pytest.mark.xfail(strict=True, reason="rule checks ignore --max-memory: the arguments sampled "
                   "for a domain shape are allocated whatever the limit (rules.check_target takes "
                   "no budget); x[10**8] allocates gigabytes and runs for minutes, where a model "
                   "spec's data is refused before allocation")
def test_regression_rule_check_ignores_max_memory(workdir):
    (workdir / "big_domain.grad").write_text("def f(x) = sum(x*x)\ngrad f(x) = 2*x\n"
                                             "domain f: x[1000000]\n")
    run = invoke("regression", ["check", "big_domain.grad", "--points", "1", "--full-limit", "4",
                                "--probes", "1", "--max-memory", "1MiB"])
    assert run.exit_code == 2 and "max-memory" in run.stderr, (run.exit_code, run.stdout)


@pytest.mark.xfail(strict=True, reason="check --seed with a negative number: numpy's "
                   "default_rng raises ValueError ('expected non-negative integer') where the seed "
                   "is first used (points.sample_points, rules.check_target, probes.check_probes): "
                   "traceback; the option takes any integer")
@pytest.mark.parametrize("args", [
    ["check", "x", "--points", "2", "--seed", "-1"],
    ["check", "x", "--at", "x=1", "--mode", "probes", "--seed", "-1"],
    ["check", "rules_seed.grad", "--points", "1", "--seed", "-1"],
], ids=["points", "probes", "rules"])
def test_regression_negative_seed(args, workdir):
    (workdir / "rules_seed.grad").write_text("def f(x) = x**2\ngrad f(x) = 2*x\n")
    _crash("regression", args)

