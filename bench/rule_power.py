#!/usr/bin/env python3
"""How well does `gradcli check` catch a hand-written derivative rule that is slightly wrong?

Run from the repository root (gradcli installed, e.g. `pip install -e .`):

    python bench/rule_power.py                          # ridders and central: about 90 s
    python bench/rule_power.py --methods ridders --jobs 2
    python bench/rule_power.py --json > rules.json

A corpus of correct rules, each written twice: as a `.grad` spec (`def` + `grad` or `vjp`, and a
`domain` where the default -2:2 does not suit) and as a Python function with a
`custom_vjp` (numpy function, numpy VJP). 13 scalar rules (softplus, log_sigmoid, tanh written
with exp, sin*exp, x**3, smooth_abs(x, eps), log1p(x**2), atan, erf, x*y, a Gaussian,
logaddexp(a, b), x/(1 + x**2)) and 2 array rules (logsumexp of a 5-vector with the VJP
g*softmax(x); an affine map x @ w with x 2x3 and w 3x2).

For every argument of every rule and every level eps in 1e-4, 1e-5, ..., 1e-10, the rule's
partial derivative (or the VJP's cotangent) of that argument alone is multiplied by (1 + eps):
in the spec's text (`grad f(x) = (PARTIAL) * (1 + 1e-08)`) and in the Python VJP. Each
perturbed rule is checked as `gradcli check` checks it (gradcli.rules.check_target, default
tolerances) at `--points` points sampled from its domain with fixed seeds; the rule's verdict is
counted: `fail` is detected, `pass` missed, `inconclusive` inconclusive. A `fail` whose failing
argument is not the perturbed one is counted apart ("wrong argument"). The unperturbed rules are
checked at `--clean-seeds` seeds: each `fail` there is a false failure.

Every call goes through gradcli's library (gradcli.spec.read_spec, gradcli.rule_files.targets,
gradcli.python_rules.custom_vjp, gradcli.rules.check_target), so the numbers are those of the
gradcli installed, as its working tree stands.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import special

import gradcli
from gradcli.compare import TOLERANCES, Options
from gradcli.python_rules import custom_vjp
from gradcli.rule_files import targets
from gradcli.rules import Target, check_target
from gradcli.spec import read_spec

LEVELS = (1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10)
LANGUAGES = ("grad", "python")


@dataclass(frozen=True)
class Rule:
    """One correct rule, in both languages.

    `partials` are the expressions of the `grad` rule (kind "grad") or of the `vjp` rule's
    cotangents (kind "vjp"), one per parameter; `domain` is the text after `domain NAME:` (empty:
    the default). `fn` and `vjp` are the same function and VJP in numpy; `shapes` and `bounds`
    their custom_vjp shapes and domain."""

    name: str
    params: tuple[str, ...]
    body: str
    kind: str
    partials: tuple[str, ...]
    domain: str
    fn: Callable
    vjp: Callable
    shapes: dict = field(default_factory=dict)
    bounds: dict = field(default_factory=dict)

    def spec_text(self, argument: int | None = None, eps: float = 0.0) -> str:
        """The spec of this rule, its partial of params[argument] times (1 + eps)."""
        partials = [f"({p}) * (1 + {eps!r})" if k == argument else p
                    for k, p in enumerate(self.partials)]
        rhs = partials[0] if len(partials) == 1 and self.kind == "grad" else \
            "(" + ", ".join(partials) + ("," if len(partials) == 1 else "") + ")"
        signature = f"{self.name}({', '.join(self.params)})"
        lines = [f"def {signature} = {self.body}", f"{self.kind} {signature} = {rhs}"]
        if self.domain:
            lines.append(f"domain {self.name}: {self.domain}")
        return "\n".join(lines) + "\n"

    def python_target(self, argument: int | None = None, eps: float = 0.0) -> Target:
        """The custom_vjp target of this rule, its cotangent of params[argument] times
        (1 + eps)."""
        vjp = self.vjp
        factor = 1.0 + eps

        def perturbed(g, *xs):
            out = tuple(vjp(g, *xs))
            return tuple(c * factor if k == argument else c for k, c in enumerate(out))

        op = custom_vjp(self.fn, shapes=self.shapes or None, domain=self.bounds or None)
        op.defvjp(perturbed)
        return op.target()


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _softmax(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


def _named(name: str, fn: Callable) -> Callable:
    fn.__name__ = fn.__qualname__ = name
    return fn


# The corpus. Scalar rules first, then the two array rules.
RULES = [
    Rule("softplus", ("x",), "log(1 + exp(x))", "grad", ("sigmoid(x)",), "x = -5:5",
         _named("softplus", lambda x: np.logaddexp(0.0, x)),
         lambda g, x: (g * _sigmoid(x),), bounds={"x": (-5, 5)}),
    Rule("log_sig", ("x",), "-log(1 + exp(-x))", "grad", ("sigmoid(-x)",), "x = -5:5",
         _named("log_sig", lambda x: -np.logaddexp(0.0, -x)),
         lambda g, x: (g * _sigmoid(-x),), bounds={"x": (-5, 5)}),
    Rule("tanh_exp", ("x",), "(exp(x) - exp(-x)) / (exp(x) + exp(-x))", "grad",
         ("1 - tanh(x)**2",), "x = -3:3",
         _named("tanh_exp", lambda x: (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))),
         lambda g, x: (g * (1 - np.tanh(x) ** 2),), bounds={"x": (-3, 3)}),
    Rule("sin_exp", ("x",), "sin(x) * exp(x)", "grad", ("exp(x) * (sin(x) + cos(x))",), "",
         _named("sin_exp", lambda x: np.sin(x) * np.exp(x)),
         lambda g, x: (g * np.exp(x) * (np.sin(x) + np.cos(x)),)),
    Rule("cube", ("x",), "x**3", "grad", ("3 * x**2",), "",
         _named("cube", lambda x: x ** 3), lambda g, x: (g * 3 * x ** 2,)),
    Rule("smooth_abs", ("x", "eps"), "sqrt(x**2 + eps**2)", "grad",
         ("x / sqrt(x**2 + eps**2)", "eps / sqrt(x**2 + eps**2)"), "eps = 0.1:1",
         _named("smooth_abs", lambda x, eps: np.sqrt(x ** 2 + eps ** 2)),
         lambda g, x, eps: (g * x / np.sqrt(x ** 2 + eps ** 2),
                            g * eps / np.sqrt(x ** 2 + eps ** 2)),
         bounds={"eps": (0.1, 1)}),
    Rule("log1p_sq", ("x",), "log1p(x**2)", "grad", ("2 * x / (1 + x**2)",), "x = -3:3",
         _named("log1p_sq", lambda x: np.log1p(x ** 2)),
         lambda g, x: (g * 2 * x / (1 + x ** 2),), bounds={"x": (-3, 3)}),
    Rule("arctan_r", ("x",), "atan(x)", "grad", ("1 / (1 + x**2)",), "x = -4:4",
         _named("arctan_r", lambda x: np.arctan(x)),
         lambda g, x: (g / (1 + x ** 2),), bounds={"x": (-4, 4)}),
    Rule("erf_r", ("x",), "erf(x)", "grad", ("2 / sqrt(pi) * exp(-x**2)",), "",
         _named("erf_r", lambda x: special.erf(x)),
         lambda g, x: (g * 2 / np.sqrt(np.pi) * np.exp(-x ** 2),)),
    Rule("product", ("x", "y"), "x * y", "grad", ("y", "x"), "",
         _named("product", lambda x, y: x * y), lambda g, x, y: (g * y, g * x)),
    Rule("gauss", ("x",), "exp(-x**2 / 2)", "grad", ("-x * exp(-x**2 / 2)",), "",
         _named("gauss", lambda x: np.exp(-x ** 2 / 2)),
         lambda g, x: (-g * x * np.exp(-x ** 2 / 2),)),
    Rule("lae", ("a", "b"), "logaddexp(a, b)", "grad", ("sigmoid(a - b)", "sigmoid(b - a)"),
         "a = -3:3, b = -3:3",
         _named("lae", lambda a, b: np.logaddexp(a, b)),
         lambda g, a, b: (g * _sigmoid(a - b), g * _sigmoid(b - a)),
         bounds={"a": (-3, 3), "b": (-3, 3)}),
    Rule("rational", ("x",), "x / (1 + x**2)", "grad", ("(1 - x**2) / (1 + x**2)**2",),
         "x = -3:3",
         _named("rational", lambda x: x / (1 + x ** 2)),
         lambda g, x: (g * (1 - x ** 2) / (1 + x ** 2) ** 2,), bounds={"x": (-3, 3)}),
    Rule("lse", ("x",), "logsumexp(x)", "vjp", ("g * softmax(x)",), "x[5] = -3:3",
         _named("lse", lambda x: np.max(x) + np.log(np.sum(np.exp(x - np.max(x))))),
         lambda g, x: (g * _softmax(x),), shapes={"x": (5,)}, bounds={"x": (-3, 3)}),
    Rule("affine", ("x", "w"), "x @ w", "vjp", ("g @ transpose(w)", "transpose(x) @ g"),
         "x[2, 3], w[3, 2] = -1:1",
         _named("affine", lambda x, w: x @ w),
         lambda g, x, w: (g @ w.T, x.T @ g), shapes={"x": (2, 3), "w": (3, 2)},
         bounds={"x": (-1, 1), "w": (-1, 1)}),
]
BY_NAME = {rule.name: rule for rule in RULES}


@dataclass
class Case:
    rule: str
    language: str  # "grad" or "python"
    method: str
    argument: str | None  # the perturbed parameter; None: the correct rule
    eps: float | None
    seed: int
    points: int
    verdict: str = ""  # the rule's: pass, fail, inconclusive; or "error"
    argument_verdict: str = ""  # the perturbed argument's row
    failing: list[str] = field(default_factory=list)  # arguments whose row is fail
    rel_error: float = math.nan  # of the perturbed argument's row (of the worst row if None):
    # the largest over the points (and entries) of |rule - reference| / max(|rule|, |reference|)
    tolerance: float = math.nan
    detail: list[str] = field(default_factory=list)  # gradcli's sentences for rows not passing
    error: str = ""
    seconds: float = 0.0


def run(case: Case) -> Case:
    """Build the case's target, check it, and fill in the case."""
    rule = BY_NAME[case.rule]
    k = rule.params.index(case.argument) if case.argument is not None else None
    eps = case.eps or 0.0
    start = time.perf_counter()
    try:
        if case.language == "grad":
            with tempfile.TemporaryDirectory() as folder:
                path = os.path.join(folder, f"{rule.name}.grad")
                with open(path, "w", encoding="utf-8") as out:
                    out.write(rule.spec_text(k, eps))
                target = [t for t in targets(read_spec(path)) if isinstance(t, Target)][0]
                report = check_target(target, Options(case.method), case.points, case.seed)
        else:
            report = check_target(rule.python_target(k, eps), Options(case.method),
                                  case.points, case.seed)
    except Exception as error:  # a crash of gradcli is a result here, to be listed
        case.verdict = "error"
        case.error = f"{type(error).__name__}: {error}"
        case.seconds = time.perf_counter() - start
        return case
    case.seconds = time.perf_counter() - start
    case.verdict = report.verdict
    case.failing = [row.check.variable for row in report.rows if row.check.verdict == "fail"]
    rows = [row for row in report.rows
            if case.argument is None or row.check.variable == case.argument]
    if rows:
        worst = max(rows, key=lambda r: (r.check.rel_error
                                         if math.isfinite(r.check.rel_error) else math.inf))
        case.argument_verdict = worst.check.verdict if case.argument is not None else ""
        case.rel_error = worst.check.rel_error
        case.tolerance = worst.check.tolerance
    case.detail = report.failures()
    return case


def cases(methods: Sequence[str], points: int, seeds: int, clean_seeds: int) -> list[Case]:
    out = []
    for method in methods:
        for rule in RULES:
            for language in LANGUAGES:
                for seed in range(clean_seeds):
                    out.append(Case(rule.name, language, method, None, None, seed, points))
                for eps in LEVELS:
                    for param in rule.params:
                        for seed in range(seeds):
                            out.append(Case(rule.name, language, method, param, eps, seed,
                                            points))
    return out


# ---------------------------------------------------------------------------------------------


def source_digest() -> str:
    """A short sha256 of gradcli's installed source (its .py files): which code the numbers are
    of, without asking git."""
    root = os.path.dirname(os.path.abspath(gradcli.__file__))
    digest = hashlib.sha256()
    for folder, dirs, files in sorted(os.walk(root)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(folder, name)
            digest.update(os.path.relpath(path, root).encode())
            with open(path, "rb") as source:
                digest.update(source.read())
    return digest.hexdigest()[:12]


def percent(part: int, whole: int) -> str:
    return "-" if not whole else f"{100 * part / whole:.1f}%"


def level_table(done: list[Case], method: str) -> str:
    """Rows per level: detection rate per language, inconclusive and other counts."""
    head = ("| relative error in the rule | detected, .grad | detected, Python | "
            "inconclusive (.grad / Python) | missed (.grad / Python) | "
            "wrong argument (.grad / Python) | crashed (.grad / Python) | "
            "rel_error seen, median (min..max) |")
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for eps in LEVELS:
        counts = {}
        for language in LANGUAGES:
            rows = [c for c in done if c.method == method and c.language == language
                    and c.eps == eps]
            counts[language] = (rows, Counter(c.verdict for c in rows),
                                sum(c.verdict == "fail" and c.argument not in c.failing
                                    for c in rows))
        cells = [f"{eps:g}"]
        for language in LANGUAGES:
            rows, n, _ = counts[language]
            cells.append(f"{percent(n['fail'], len(rows))} ({n['fail']}/{len(rows)})")
        for key in ("inconclusive", "pass", "wrong", "error"):
            pair = []
            for language in LANGUAGES:
                _, n, wrong = counts[language]
                pair.append(str(wrong if key == "wrong" else n[key]))
            cells.append(" / ".join(pair))
        seen = sorted(c.rel_error for language in LANGUAGES for c in counts[language][0]
                      if math.isfinite(c.rel_error))
        cells.append(f"{seen[len(seen) // 2]:.2g} ({seen[0]:.2g}..{seen[-1]:.2g})"
                     if seen else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def clean_line(done: list[Case], method: str) -> str:
    parts = []
    for language in LANGUAGES:
        rows = [c for c in done if c.method == method and c.language == language
                and c.eps is None]
        n = Counter(c.verdict for c in rows)
        seeds = len({c.seed for c in rows})
        parts.append(f"{'.grad' if language == 'grad' else 'Python'}: {n['fail']} / {len(rows)} "
                     f"checks ({len(rows) // max(seeds, 1)} rules x {seeds} seeds x "
                     f"{rows[0].points if rows else 0} points), {n['inconclusive']} "
                     f"inconclusive, {n['error']} crashed")
    seen = [c.rel_error for c in done if c.method == method and c.eps is None
            and math.isfinite(c.rel_error)]
    worst = max(seen, default=math.nan)
    return ("false failures of the correct rules: " + "; ".join(parts) +
            f". Largest rel_error of a correct rule: {worst:.2g} (median "
            f"{sorted(seen)[len(seen) // 2] if seen else math.nan:.2g}).")


MARK = {"fail": "D", "pass": ".", "inconclusive": "?", "error": "E"}


def rule_table(done: list[Case], method: str) -> str:
    """One row per perturbed argument: its verdicts per level, .grad then Python (D detected,
    . missed, ? inconclusive, E crashed; one mark per seed)."""
    lines = ["| rule: argument | " + " | ".join(f"{eps:g}" for eps in LEVELS) + " |",
             "|---|" + ":---:|" * len(LEVELS)]
    for rule in RULES:
        for param in rule.params:
            cells = []
            for eps in LEVELS:
                marks = []
                for language in LANGUAGES:
                    rows = sorted((c for c in done if c.method == method and c.rule == rule.name
                                   and c.argument == param and c.eps == eps
                                   and c.language == language), key=lambda c: c.seed)
                    marks.append("".join(MARK[c.verdict] for c in rows))
                cells.append(" / ".join(marks))
            lines.append(f"| {rule.name}: {param} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def problems(done: list[Case], limit: int) -> list[str]:
    """What should not happen, or should be looked at: crashes, false failures, perturbations of
    1e-8 or more that were not detected, detections in the wrong argument."""
    kinds = {
        "Crashes": [c for c in done if c.verdict == "error"],
        "False failures (correct rule, verdict fail)":
            [c for c in done if c.eps is None and c.verdict == "fail"],
        "Inconclusive on correct rules": [c for c in done if c.eps is None
                                          and c.verdict == "inconclusive"],
        "Not detected at a relative error of at least 100 rtol (1e-7 for ridders)":
            [c for c in done if c.eps is not None and c.verdict != "fail"
             and c.eps >= 100 * TOLERANCES[c.method][0] * (1 - 1e-9)],
        "Detected in an argument that was not perturbed":
            [c for c in done if c.eps is not None and c.verdict == "fail"
             and c.argument not in c.failing],
    }
    out = []
    for title, found in kinds.items():
        if not found:
            out.append(f"{title}: none")
            continue
        out.append(f"{title}: {len(found)}" + (f" (first {limit})" if len(found) > limit else ""))
        for c in found[:limit]:
            what = "correct rule" if c.argument is None else \
                f"d/d{c.argument} times (1 + {c.eps:g})"
            out.append(f"- [{c.method}, {c.language}, seed {c.seed}] {c.rule}: {what}: "
                       f"{c.verdict}" + (f": {c.error}" if c.error else ""))
            out += [f"    {line}" for line in c.detail[:2]]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="ridders,central",
                        help="comma-separated reference methods (default ridders,central)")
    parser.add_argument("--points", type=int, default=5,
                        help="points per check, sampled from the rule's domain (default 5)")
    parser.add_argument("--seeds", type=int, default=1,
                        help="seeds (0, 1, ...) per perturbed rule and level (default 1)")
    parser.add_argument("--clean-seeds", type=int, default=8,
                        help="seeds (0, 1, ...) per correct rule, for false failures (default 8)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--show", type=int, default=10,
                        help="how many problem cases of each kind to print (default 10)")
    parser.add_argument("--json", action="store_true", help="print every case as JSON")
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in TOLERANCES]
    if unknown:
        print(f"error: unknown method(s) {', '.join(unknown)}: use {', '.join(TOLERANCES)}",
              file=sys.stderr)
        return 2

    digest = source_digest()  # before the checks: the code they import
    start = time.perf_counter()
    todo = cases(methods, args.points, args.seeds, args.clean_seeds)
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            done = list(pool.map(run, todo, chunksize=4))
    else:
        done = [run(c) for c in todo]
    elapsed = time.perf_counter() - start

    if args.json:
        print(json.dumps({"command": " ".join(["python", "bench/rule_power.py",
                                               *(argv if argv is not None else sys.argv[1:])]),
                          "gradcli": gradcli.__version__, "source_sha256": digest,
                          "python": platform.python_version(),
                          "numpy": np.__version__, "seconds": round(elapsed, 1),
                          "cases": [{k: (v if not (isinstance(v, float) and not math.isfinite(v))
                                         else repr(v)) for k, v in asdict(c).items()}
                                    for c in done]}, indent=1))
        return 0

    arguments = sum(len(r.params) for r in RULES)
    out = [f"gradcli {gradcli.__version__} (source sha256 {digest}), Python "
           f"{platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
           f"{os.cpu_count()} cores",
           f"corpus: {len(RULES)} rules ({sum(not r.shapes for r in RULES)} scalar, "
           f"{sum(bool(r.shapes) for r in RULES)} array), {arguments} arguments, each perturbed "
           f"alone; {args.points} points per check; seeds 0..{args.seeds - 1} per perturbed "
           f"rule, 0..{args.clean_seeds - 1} per correct rule", ""]
    for method in methods:
        rtol, atol = TOLERANCES[method]
        per_language = [c for c in done if c.method == method]
        out += [f"### `{method}` (rtol={rtol:g}, atol={atol:g})", "",
                level_table(done, method), "", clean_line(done, method), "",
                "Per argument (.grad / Python; D detected, . missed, ? inconclusive, "
                "E crashed; one mark per seed):", "", rule_table(done, method), "",
                f"time for `{method}`: {sum(c.seconds for c in per_language):.1f} s of checks",
                ""]
    out += problems(done, args.show)
    slowest = max(done, key=lambda c: c.seconds)
    out += ["", f"time: {elapsed:.1f} s, {len(done)} checks, {args.jobs} "
            f"process{'es' if args.jobs > 1 else ''} (slowest check: {slowest.rule}, "
            f"{slowest.language}, {slowest.method}, {slowest.seconds:.1f} s)"]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
