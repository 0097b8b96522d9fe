#!/usr/bin/env python3
"""How well does `gradcli check` tell right gradients from wrong ones?

Run from the repository root (gradcli installed, e.g. `pip install -e .`):

    python bench/checker_power.py          # 400 smooth, 100 scaled, 100 piecewise; seed 0
    python bench/checker_power.py --count 1000 --seed 3 --jobs 2
    python bench/checker_power.py --json > power.json

A seeded generator writes random expressions over the function table: compositions of 2-4 of
its functions, joined by sums, differences, products, quotients and constant powers, in 1-3
variables, each evaluated at one random point. Every argument is kept inside its function's
domain by construction: log and sqrt see `0.1 + exp(u)` or `0.1 + u**2`, asin and atanh see
`0.855*tanh(u)`, gamma sees `2.75 + 2.137*erf(u)`, and so on, chosen from the range of the
argument (which the generator tracks by evaluating each piece on a grid over the ranges of its
operands). Points are drawn with |x| log-uniform in [0.05, 3]; a point where the value or the
gradient is not finite is skipped (and counted).

For every derivative of every expression and for each reference method it measures:

1. gradcli's own gradient, checked with the default tolerances: the verdicts (on a smooth
   function, `fail` is a false failure and `kink` a false kink), and how far the reference is
   from the autodiff value (`rel_error`), which is what the default tolerances should be chosen
   from;
2. a claimed gradient equal to gradcli's except for this one derivative, perturbed by a relative
   1e-4, 1e-6, 1e-8 or 1e-10 (absolutely, where the derivative is 0 or unconnected): the fraction
   the checker detects (verdict `fail`).

`--method complex` refuses a derivative whose path to the output goes through an operation that
is not analytic; those derivatives are counted as "not applicable", not as failures.

Three corpora are reported separately:

- smooth: the smooth functions of the table only;
- scaled: smooth expressions times 10**k (|k| <= 8) or plus 10**k (1 <= k <= 8), the same
  derivatives at other magnitudes of the function, where absolute tolerances and the rounding
  noise of the function values decide;
- piecewise: one or two of abs, sign, floor, ceil, round, max, min, clip, where, relu, elu,
  leaky_relu among the 2-4 functions, at points away from their kinks (every piecewise
  argument at least `--kink-margin`·max(1, |x|) from a kink along each variable, to first
  order).

Each derivative is also computed in 50-digit arithmetic (mpmath, when installed), to tell whose
error a disagreement is: the autodiff value's or the reference's.

Every call goes through the public API (`gradcli.grad`, `gradcli.check`), so the numbers are
those of the gradcli installed, as its working tree stands.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np

import gradcli
from gradcli.functions import FUNCTIONS, REQUIRED

# The complex step feeds complex numbers to every operation, also to those off the path of the
# variable it differentiates by; numpy's warning about discarding imaginary parts is noise here.
warnings.filterwarnings("ignore", category=getattr(np, "exceptions", np).ComplexWarning)

METHODS = ("ridders", "central", "complex")
PERTURBATIONS = (1e-4, 1e-6, 1e-8, 1e-10)
VARIABLES = ("x", "y", "z")
VARIABLE_RANGE = 3.0  # every variable is drawn from [-3, 3] (log-uniform magnitude, 0.05..3)
OWN_VERDICTS = ("pass", "unconnected", "fail", "inconclusive", "kink", "n/a", "error")
CLAIMED_VERDICTS = ("fail", "inconclusive", "pass", "unconnected", "kink", "n/a", "error")


# ---------------------------------------------------------------------------------------------
# Domains: where each function's arguments must stay


@dataclass(frozen=True)
class Domain:
    """An argument kept inside [lo, hi]; `mirror`: or inside [-hi, -lo] (half the time);
    `constants`: literal values that may stand instead (always, when `only_constants`)."""

    lo: float
    hi: float
    mirror: bool = False
    constants: tuple[float, ...] = ()
    only_constants: bool = False


def real(a: float) -> Domain:
    return Domain(-a, a)


POSITIVE = Domain(0.1, 40.0)  # log, sqrt, ...: away from 0, where they blow up
GAMMA = Domain(0.5, 5.0)  # gamma, lgamma, digamma, polygamma: clear of the poles at 0, -1, ...
UNIT = Domain(-0.9, 0.9)  # asin, acos, atanh: clear of the ends at -1 and 1

# Every smooth function of the table, with the domain of each parameter. A function of the
# table that is in neither SMOOTH nor PIECEWISE is reported as not covered.
SMOOTH: dict[str, tuple[Domain, ...]] = {
    "sin": (real(6),), "cos": (real(6),), "tan": (Domain(-1.3, 1.3),),
    "sec": (Domain(-1.3, 1.3),), "csc": (Domain(0.25, 2.9),), "cot": (Domain(0.25, 2.9),),
    "asin": (UNIT,), "acos": (UNIT,), "atan": (real(6),),
    # atan2(y, x) is smooth off the negative x axis: x kept positive
    "atan2": (real(5), Domain(0.2, 10.0)),
    "sinh": (real(3),), "cosh": (real(3),), "tanh": (real(4),), "asinh": (real(6),),
    "acosh": (Domain(1.1, 30.0),), "atanh": (UNIT,),
    "exp": (real(3),), "exp2": (real(4),), "expm1": (real(3),),
    "log": (POSITIVE, Domain(1.5, 20.0, constants=(2.0, 10.0, 0.5, 3.0))),
    "log2": (POSITIVE,), "log10": (POSITIVE,), "log1p": (Domain(-0.8, 30.0),),
    "logaddexp": (real(5), real(5)),
    "pow": (Domain(0.2, 10.0), real(2.5)), "sqrt": (POSITIVE,),
    "cbrt": (Domain(0.2, 20.0, mirror=True),), "square": (real(5),),
    "reciprocal": (Domain(0.2, 20.0, mirror=True),), "hypot": (real(5), Domain(0.2, 5.0)),
    "sigmoid": (real(5),), "softplus": (real(5),), "log_sigmoid": (real(5),),
    "silu": (real(5),), "gelu": (real(4),),
    "erf": (real(3),), "erfc": (real(3),), "gamma": (GAMMA,), "lgamma": (GAMMA,),
    "digamma": (GAMMA,),
    "polygamma": (Domain(0, 3, constants=(0.0, 1.0, 2.0, 3.0), only_constants=True), GAMMA),
}

# The functions with kinks or jumps, with the domains of their parameters. Where the kinks are
# (KINK_KIND, for the first argument): zero at 0, integer at whole numbers, half at n + 1/2;
# max and min have theirs where a == b, clip where x == lo or x == hi, where(p > q, ...) where
# p == q.
PIECEWISE: dict[str, tuple[Domain, ...]] = {
    "abs": (real(4),), "sign": (real(4),), "floor": (real(4),), "ceil": (real(4),),
    "round": (real(4),), "max": (real(4), real(4)), "min": (real(4), real(4)),
    "clip": (real(4), Domain(-2.0, -0.5), Domain(0.5, 2.0)), "relu": (real(4),),
    "elu": (real(4), Domain(0.5, 2.0, constants=(1.0, 0.5, 2.0))),
    "leaky_relu": (real(4), Domain(0.01, 0.5, constants=(0.01, 0.1, 0.2))),
    "where": (),  # built by hand: where(p > q, a, b)
}
TABLE = {entry.name: entry for entry in FUNCTIONS}
KINK_KIND = {"abs": "zero", "sign": "zero", "relu": "zero", "elu": "zero", "leaky_relu": "zero",
             "floor": "integer", "ceil": "integer", "round": "half"}

# numeric helpers


def fmt(c: float) -> str:
    """A constant as the expression text writes it, short but exact enough."""
    text = f"{c:.4g}"
    return f"({text})" if text.startswith("-") else text


# ---------------------------------------------------------------------------------------------
# The generator


@dataclass(frozen=True)
class Sub:
    """A generated subexpression and an interval holding its values over the variables' range."""

    text: str
    lo: float
    hi: float

    def inside(self, lo: float, hi: float) -> bool:
        return lo <= self.lo and self.hi <= hi


@dataclass
class Case:
    """One expression at one point."""

    number: int
    corpus: str  # "smooth", "scaled" or "piecewise"
    text: str
    functions: list[str]  # the table functions it was built around
    point: dict[str, float] = field(default_factory=dict)
    signs: dict[str, float] = field(default_factory=dict)  # the sign of each injected error
    probes: list[tuple[str, str]] = field(default_factory=list)  # (subexpression, kink kind)


_PARSED: dict[str, object] = {}


def _function(text: str):
    if text not in _PARSED:
        _PARSED[text] = gradcli.parse(text)
    return _PARSED[text]


def image(template: str, args: Sequence[Sub]) -> tuple[float, float]:
    """An interval holding template(args) (placeholders a0, a1, ...) for args in their
    intervals: the template evaluated on a grid over them, widened by 2% of its width."""
    n = {0: 1, 1: 401, 2: 41}.get(len(args), 13)
    axes = [np.linspace(max(a.lo, -1e6), min(a.hi, 1e6), n) for a in args]
    grids = np.meshgrid(*axes, indexing="ij") if args else []
    values = np.asarray(_function(template)({f"a{i}": g for i, g in enumerate(grids)}))
    if not np.all(np.isfinite(values)):
        return -math.inf, math.inf
    lo, hi = float(values.min()), float(values.max())
    pad = 0.02 * (hi - lo)
    return lo - pad, hi + pad


def apply(template: str, args: Sequence[Sub]) -> Sub:
    """template(args), in text and range; an argument that is not atomic is parenthesized."""
    lo, hi = image(template, args)
    text = template
    for i in reversed(range(len(args))):  # a10 before a1
        arg = args[i].text
        text = text.replace(f"a{i}", arg if _atomic(arg) else f"({arg})")
    return Sub(text, lo, hi)


def _atomic(text: str) -> bool:
    """A name, an unsigned number, a call or a parenthesized whole: safe next to any operator."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*|[0-9.]+(e[+-]?[0-9]+)?", text):
        return True
    head = re.match(r"[A-Za-z_][A-Za-z_0-9]*\(|\(", text)
    if not head or not text.endswith(")"):
        return False
    depth = 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and i >= head.end() - 1:
            return i == len(text) - 1  # the first parenthesis closes at the very end
    return False


class Generator:
    """Random expressions, reproducible from the seed."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.decks: dict[str, list[str]] = {}
        self.unused: list[str] = []  # the variables of the expression not yet placed in a leaf

    # random choices

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def pick(self, options: Sequence):
        return options[int(self.rng.integers(len(options)))]

    def draw(self, kind: str, names: Sequence[str]) -> str:
        """The next function of a shuffled deck: over a corpus every function comes up about
        equally often."""
        deck = self.decks.setdefault(kind, [])
        if not deck:
            deck.extend(self.rng.permutation(list(names)).tolist())
        return deck.pop()

    def constant(self, lo: float = 0.3, hi: float = 3.0) -> float:
        c = round(float(self.rng.uniform(lo, hi)), 2)
        c = 1.25 if c == 1 else c
        return c if self.chance(0.7) else -c

    # pieces

    def leaf(self, names: Sequence[str]) -> Sub:
        """A variable, alone or in a small sum or product with a constant or another variable;
        the variables not used yet come first."""
        v = Sub(self.unused.pop() if self.unused else self.pick(names),
                -VARIABLE_RANGE, VARIABLE_RANGE)
        roll = self.rng.random()
        if roll < 0.45:
            return v
        if roll < 0.6:
            return apply(f"{fmt(self.constant())}*a0", [v])
        if roll < 0.75:
            return apply(f"a0 + {fmt(self.constant())}", [v])
        others = [n for n in names if n != v.text]
        if not others:
            return apply(f"a0**2 - {fmt(abs(self.constant()))}", [v])
        w = Sub(self.pick(others), -VARIABLE_RANGE, VARIABLE_RANGE)
        return apply(self.pick(["a0*a1", "a0 - a1", "a0 + a1", "a0*a1 + 1"]), [v, w])

    def fit(self, sub: Sub, domain: Domain) -> Sub:
        """`sub`, or `sub` wrapped, so that its values stay inside the domain."""
        if domain.constants and (domain.only_constants or self.chance(0.4)):
            c = float(self.pick(domain.constants))
            return Sub(fmt(c), c, c)
        if domain.mirror and self.chance(0.5):
            inner = self.fit(sub, Domain(domain.lo, domain.hi))
            return apply("(-a0)", [inner])
        lo, hi = domain.lo, domain.hi
        if sub.inside(lo, hi) and self.chance(0.7):
            return sub
        mid, half = (lo + hi) / 2, 0.95 * (hi - lo) / 2
        wrappers = ["tanh", "erf", "atan"]
        if sub.inside(-8, 8):
            wrappers += ["sin", "cos"]
        if lo >= 0 and hi - lo > 2:  # a positive domain: shifted exp, square or softplus too
            span = hi - lo
            shifted = [("exp", real(min(3.0, math.log(span) - 0.1))),
                       ("square", real(min(3.0, math.sqrt(span) * 0.9))),
                       ("softplus", real(min(4.0, span * 0.9)))]
            choice = self.pick([*shifted, None, None])
            if choice is not None:
                name, inner = choice
                core = self.fit(sub, inner) if not sub.inside(inner.lo, inner.hi) else sub
                template = {"exp": "exp(a0)", "square": "a0**2", "softplus": "softplus(a0)"}[name]
                return apply(f"({fmt(lo)} + {template})", [core])
        squash = self.pick(wrappers)
        scale = half / (math.pi / 2) if squash == "atan" else half
        shift = f"{fmt(mid)} + " if abs(mid) > 1e-12 else ""
        # a wide argument is scaled down first, so that the squash does not saturate (which
        # would leave derivatives of 1e-20 that tell nothing)
        reach = max(abs(sub.lo), abs(sub.hi))
        inner = f"a0/{fmt(reach / 1.5)}" if 3 < reach < 1e6 else "a0"
        return apply(f"({shift}{fmt(scale)}*{squash}({inner}))", [sub])

    def call(self, name: str, domains: Sequence[Domain], main: Sub, names: Sequence[str]) -> Sub:
        """name(...) with `main` (fitted) as its first non-constant argument, fresh leaves as
        the others. A trailing optional parameter of the table (log's base, elu's alpha) is
        left out half the time, and given by keyword half the time it is there."""
        entry = TABLE[name]
        count = len(domains)
        while count > 1 and entry.defaults[count - 1] is not REQUIRED and self.chance(0.5):
            count -= 1
        args, parts = [], []
        placed = False
        for i, domain in enumerate(domains[:count]):
            if not placed and not domain.only_constants:
                args.append(self.fit(main, domain))
                placed = True
            else:
                args.append(self.fit(self.leaf(names), domain))
            keyword = entry.defaults[i] is not REQUIRED and self.chance(0.5)
            parts.append(f"{entry.params[i]}=a{i}" if keyword else f"a{i}")
        return apply(f"{name}({', '.join(parts)})", args)

    def combine(self, a: Sub, b: Sub) -> Sub:
        """a + b, a - c*b, a*b, a/b (b kept away from 0) or a constant power of a, plus b."""
        roll = self.rng.random()
        if roll < 0.3:
            return apply("(a0 + a1)", [a, b])
        if roll < 0.45:
            return apply(f"(a0 - {fmt(abs(self.constant()))}*a1)", [a, b])
        if roll < 0.7:
            return apply("a0*a1", [a, b])
        if roll < 0.9:
            if not (b.lo > 0.1 or b.hi < -0.1) or max(abs(b.lo), abs(b.hi)) > 100:
                b = self.fit(b, Domain(0.2, 20.0, mirror=True))
            return apply("a0/a1", [a, b])
        exponent = self.pick([2, 3, -1, 0.5, -0.5, 1.5])
        if exponent not in (2, 3):
            a = self.fit(a, Domain(0.2, 10.0))
        elif not a.inside(-10, 10):
            a = self.fit(a, real(5))
        return apply(f"(a0**{fmt(exponent)} + a1)", [a, b])

    def names(self) -> list[str]:
        names = list(VARIABLES[: int(self.rng.integers(1, 4))])
        self.unused = self.rng.permutation(names).tolist()
        return names

    def smooth(self, number: int) -> Case:
        names = self.names()
        chosen = [self.draw("smooth", list(SMOOTH)) for _ in range(int(self.rng.integers(2, 5)))]
        terms = []
        for chain in self.chains(chosen):
            sub = self.leaf(names)
            for name in chain:
                sub = self.call(name, SMOOTH[name], sub, names)
            terms.append(sub)
        return Case(number, "smooth", self.join(terms, names), chosen)

    def scaled(self, number: int) -> Case:
        """A smooth expression times 10**k (|k| <= 8), or plus 10**k (1 <= k <= 8): the same
        shapes at other magnitudes, where absolute tolerances and rounding noise decide."""
        case = self.smooth(number)
        sign = self.pick(["", "-"])
        if self.chance(0.5):
            k = int(self.rng.integers(-8, 9))
            case.text = f"{sign}1e{k}*({case.text})"
        else:
            k = int(self.rng.integers(1, 9))
            case.text = f"{case.text} {'+' if sign == '' else '-'} 1e{k}"
        case.corpus = "scaled"
        return case

    def piecewise(self, number: int) -> Case:
        """Like `smooth`, with one or two piecewise functions among the 2-4; their arguments are
        recorded as probes, to keep the point away from their kinks."""
        names = self.names()
        count = int(self.rng.integers(2, 5))
        kinked = self.rng.choice(count, size=1 if count < 4 else 2, replace=False)
        chosen = [self.draw("piecewise", list(PIECEWISE)) if i in kinked
                  else self.draw("smooth", list(SMOOTH)) for i in range(count)]
        probes: list[tuple[str, str]] = []
        terms = []
        for chain in self.chains(chosen):
            sub = self.leaf(names)
            for name in chain:
                sub = self.kinked_call(name, sub, names, probes) if name in PIECEWISE \
                    else self.call(name, SMOOTH[name], sub, names)
            terms.append(sub)
        case = Case(number, "piecewise", self.join(terms, names), chosen)
        case.probes = probes
        return case

    def kinked_call(self, name: str, main: Sub, names: Sequence[str],
                    probes: list[tuple[str, str]]) -> Sub:
        if name == "where":
            p, q = self.fit(main, real(4)), self.fit(self.leaf(names), real(4))
            a, b = self.fit(self.leaf(names), real(4)), self.fit(main, real(4))
            probes.append((f"({p.text}) - ({q.text})", "zero"))
            branch = Sub("", min(a.lo, b.lo), max(a.hi, b.hi))
            return Sub(f"where({p.text} > {q.text}, {a.text}, {b.text})", branch.lo, branch.hi)
        sub = self.call(name, PIECEWISE[name], main, names)
        args = _split_args(sub.text, name)
        if name in ("max", "min"):
            probes.append((f"({args[0]}) - ({args[1]})", "zero"))
        elif name == "clip":
            probes.append((f"({args[0]}) - ({args[1]})", "zero"))
            probes.append((f"({args[0]}) - ({args[2]})", "zero"))
        else:
            probes.append((args[0], KINK_KIND[name]))
        return sub

    def chains(self, functions: list[str]) -> list[list[str]]:
        """The functions split into 1-3 chains, each composed around its own leaf."""
        pieces = int(self.rng.integers(1, min(3, len(functions)) + 1))
        cuts = sorted(self.rng.choice(np.arange(1, len(functions)), size=pieces - 1,
                                      replace=False).tolist()) if pieces > 1 else []
        bounds = [0, *cuts, len(functions)]
        return [functions[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]

    def join(self, terms: list[Sub], names: Sequence[str]) -> str:
        """The terms joined; a constant factor now and then; every variable used."""
        result = terms[0]
        for term in terms[1:]:
            result = self.combine(result, term)
        if self.chance(0.3):
            result = apply(f"{fmt(self.constant())}*a0", [result])
        text = result.text
        for name in names:
            if not _uses(text, name):
                text = f"{text} + {fmt(self.constant())}*{name}"
        return text

    def point(self, names: Sequence[str]) -> dict[str, float]:
        magnitude = 10 ** self.rng.uniform(math.log10(0.05), math.log10(VARIABLE_RANGE), len(names))
        sign = self.rng.choice([-1.0, 1.0], len(names))
        return {n: float(f"{s * m:.6g}") for n, s, m in zip(names, sign, magnitude, strict=True)}


def _uses(text: str, name: str) -> bool:
    return name in _function(text).variables


def _split_args(text: str, name: str) -> list[str]:
    """The top-level arguments of the call `name(...)` that `text` is."""
    inner = text[len(name) + 1:-1]
    args, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            args.append(inner[start:i].strip())
            start = i + 1
    args.append(inner[start:].strip())
    return args


def kink_distance(probes: Sequence[tuple[str, str]], point: dict[str, float]) -> float:
    """The smallest distance from the point to a kink along any variable, in units of
    max(1, |x|), to first order: |probe - nearest kink| / |d probe/dx|."""
    nearest = math.inf
    for text, kind in probes:
        result = gradcli.grad(text, at=point, wrt=list(point))
        value = float(result.value)
        if not math.isfinite(value):
            return 0.0
        if kind == "zero":
            gap = abs(value)
        elif kind == "integer":
            gap = abs(value - round(value))
        else:
            gap = abs(value - (math.floor(value) + 0.5))
        for name, slope in result.gradient.items():
            if slope is None or slope == 0:
                continue
            if not math.isfinite(slope):
                return 0.0
            nearest = min(nearest, gap / abs(slope) / max(1.0, abs(point[name])))
    return nearest


def finite_at(text: str, point: dict[str, float]) -> bool:
    result = gradcli.grad(text, at=point)
    values = [result.value, *(g for g in result.gradient.values() if g is not None)]
    return all(math.isfinite(v) for v in values)


def build_corpus(seed: int, sizes: dict[str, int], margin: float, tries: int = 20
                 ) -> tuple[list[Case], Counter]:
    """The cases of every corpus, each with a point where the value and the gradient are finite
    (and, for the piecewise corpus, away from the kinks); the points skipped are counted."""
    gen = Generator(seed)
    skipped: Counter = Counter()
    cases: list[Case] = []
    for corpus, wanted in sizes.items():
        made = 0
        while made < wanted:
            case = getattr(gen, corpus)(len(cases))
            names = list(_function(case.text).variables)
            for _ in range(tries):
                point = gen.point(names)
                if not finite_at(case.text, point):
                    skipped[f"{corpus}: value or gradient not finite"] += 1
                elif case.probes and kink_distance(case.probes, point) < margin:
                    skipped[f"{corpus}: too near a kink"] += 1
                else:
                    case.point = point
                    break
            else:
                skipped[f"{corpus}: expression dropped, no usable point in {tries} tries"] += 1
                continue
            case.signs = {n: float(gen.pick([-1.0, 1.0])) for n in names}
            cases.append(case)
            made += 1
    return cases, skipped


# ---------------------------------------------------------------------------------------------
# The truth: each derivative again, in 50-digit arithmetic (mpmath), to tell whose error a
# disagreement is, the autodiff value's or the reference's


def truth(case: Case, name: str) -> float:
    """d(expression)/d(name) at the case's point in 50-digit arithmetic (nan when it cannot be
    had): gradcli's mpmath forward of every primitive (gradcli.highprecision), differentiated by
    mpmath. Independent of gradcli's derivative rules and of float64; the expression text goes
    through gradcli's grammar, never through eval."""
    from gradcli.highprecision import derivative

    function = gradcli.parse(case.text)
    return derivative(function.output, case.point, name)


# ---------------------------------------------------------------------------------------------
# Measurement


@dataclass
class Derivative:
    """What the checker said about one derivative of one case, with one method."""

    case: int
    corpus: str
    method: str
    variable: str
    autodiff: float | None
    verdict: str  # on gradcli's own gradient; "n/a" where the method does not apply
    numeric: float = math.nan
    error_estimate: float = math.nan
    abs_error: float = math.nan
    rel_error: float = math.nan
    note: str = ""
    claimed: dict[str, str] = field(default_factory=dict)  # perturbation -> verdict
    truth: float = math.nan  # the derivative in 50-digit arithmetic (mpmath)

    def off(self, value: float | None) -> float:
        """How far `value` is from the truth: relative, or absolute where the truth is 0."""
        t = self.truth
        if value is None:
            value = 0.0
        if not (math.isfinite(t) and math.isfinite(value)):
            return math.nan
        return abs(value - t) / abs(t) if t else abs(value)


@dataclass
class Crash:
    """The checker raised an unexpected exception (a bug of the checker, not a verdict)."""

    message: str
    verdict: str = "error"


def run_check(case: Case, method: str, name: str, claimed: float | None = None,
              rtol: float | None = None, atol: float | None = None):
    """The result for `name`; None where the method does not apply (complex step through an
    operation that is not analytic); a Crash where the checker raised anything else."""
    try:
        report = gradcli.check(case.text, at=case.point, method=method, wrt=[name],
                               grad=None if claimed is None else {name: claimed},
                               rtol=rtol, atol=atol)
    except gradcli.GradcliError as error:
        if method == "complex" and "analytic" in str(error):
            return None
        return Crash(f"{type(error).__name__}: {error}")
    except Exception as error:  # noqa: BLE001 - a crash is a finding, reported with the rest
        return Crash(f"{type(error).__name__}: {error}")
    (result,) = [r for r in report.results if r.variable == name]
    return result


def measure(job: tuple) -> list[Derivative]:
    """Every derivative of one case, by each method: own gradient, then the perturbed ones."""
    case, methods, perturbations, rtol, atol = job
    gradient = gradcli.grad(case.text, at=case.point).gradient
    truths = {name: truth(case, name) for name in gradient}
    out = []
    for method in methods:
        for name, autodiff in gradient.items():
            own = run_check(case, method, name, rtol=rtol, atol=atol)
            if own is None or isinstance(own, Crash):
                verdict = "n/a" if own is None else "error"
                out.append(Derivative(case.number, case.corpus, method, name, autodiff, verdict,
                                      note="" if own is None else own.message,
                                      claimed={f"{e:g}": verdict for e in perturbations},
                                      truth=truths[name]))
                continue
            d = Derivative(case.number, case.corpus, method, name, autodiff, own.verdict,
                           own.numeric, own.error_estimate, own.abs_error, own.rel_error,
                           own.note, truth=truths[name])
            sign = case.signs[name]
            for e in perturbations:
                wrong = autodiff * (1 + sign * e) if autodiff else sign * e
                claimed = run_check(case, method, name, wrong, rtol, atol)
                d.claimed[f"{e:g}"] = "n/a" if claimed is None else claimed.verdict
            out.append(d)
    return out


# ---------------------------------------------------------------------------------------------
# Summaries


def quantiles(values: Sequence[float]) -> dict[str, float | None]:
    finite = np.array([v for v in values if math.isfinite(v)], dtype=np.float64)
    if not len(finite):
        return {"median": None, "p99": None, "max": None, "n": 0}
    return {"median": float(np.median(finite)), "p99": float(np.quantile(finite, 0.99)),
            "max": float(finite.max()), "n": int(len(finite))}


def injected_outside_band(d: Derivative, e: float, rtol: float, atol: float) -> bool:
    """Whether the error injected at relative size `e` exceeds the tolerance band
    atol + rtol·max(|right|, |wrong|): otherwise a pass is what the tolerances ask for."""
    right = d.autodiff or 0.0
    error = abs(right) * e if right else e
    return error > atol + rtol * (abs(right) + error)


def summarize(derivatives: list[Derivative], perturbations: Sequence[float],
              tolerance: tuple[float, float]) -> dict:
    rtol, atol = tolerance
    own = Counter(d.verdict for d in derivatives)
    applicable = [d for d in derivatives if d.verdict not in ("n/a", "error")]
    decided = [d for d in applicable if d.verdict in ("pass", "unconnected")]
    claimed = {}
    for e in perturbations:
        key = f"{e:g}"
        verdicts = Counter(d.claimed[key] for d in applicable)
        n = len(applicable)
        detectable = [d for d in applicable if injected_outside_band(d, e, rtol, atol)]
        claimed[key] = {"counts": {v: verdicts.get(v, 0) for v in CLAIMED_VERDICTS if v != "n/a"},
                        "detected": verdicts.get("fail", 0) / n if n else None,
                        "outside_band": len(detectable),
                        "detected_outside_band": (sum(d.claimed[key] == "fail" for d in detectable)
                                                  / len(detectable) if detectable else None),
                        "detected_where_own_passed":
                            (sum(d.claimed[key] == "fail" for d in decided) / len(decided)
                             if decided else None)}
    connected = [d for d in applicable if d.autodiff is not None]
    return {
        "derivatives": len(derivatives),
        "own": {v: own.get(v, 0) for v in OWN_VERDICTS},
        "rel_error": quantiles([d.rel_error for d in connected]),
        "rel_error_nonzero": quantiles([d.rel_error for d in connected if d.autodiff]),
        "abs_error_at_zero": quantiles([d.abs_error for d in connected if d.autodiff == 0]),
        "error_estimate_relative": quantiles([d.error_estimate / abs(d.autodiff)
                                              for d in connected if d.autodiff]),
        # against the 50-digit truth: whose error the rel_error above is
        "reference_vs_truth": quantiles([d.off(d.numeric) for d in applicable if d.truth]),
        "autodiff_vs_truth": quantiles([d.off(d.autodiff) for d in derivatives if d.truth]),
        "underestimated": sum(abs(d.numeric - d.truth) > 2 * d.error_estimate
                              for d in applicable if math.isfinite(d.truth)),
        "fail_autodiff_off": sum(d.verdict == "fail" and d.off(d.autodiff) > rtol
                                 for d in applicable),
        "claimed": claimed,
    }


def number(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}g}"


def percent(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def table(title: str, method: str, s: dict, perturbations: Sequence[float],
          tolerances: dict) -> str:
    rtol, atol = tolerances.get(method, (None, None))
    own = s["own"]
    lines = [f"#### {title}: `{method}` (rtol={number(rtol)}, atol={number(atol)})", ""]
    lines += ["| gradcli's own gradients | pass | unconnected | **fail (false)** | inconclusive "
              "| kink | not applicable | checker error | derivatives |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
              "| count | " + " | ".join(str(own[v]) for v in OWN_VERDICTS) + f" | {s['derivatives']} |",
              ""]
    lines += ["| reference vs autodiff | median | p99 | max | n |", "|---|---:|---:|---:|---:|"]
    for key, label in (("rel_error_nonzero", "rel_error, autodiff vs reference (derivative != 0)"),
                       ("abs_error_at_zero", "abs_error, autodiff vs reference (derivative == 0)"),
                       ("error_estimate_relative", "error estimate / abs(derivative)"),
                       ("reference_vs_truth", "reference vs 50-digit truth (relative)"),
                       ("autodiff_vs_truth", "autodiff vs 50-digit truth (relative)")):
        q = s[key]
        lines.append(f"| {label} | {number(q['median'])} | {number(q['p99'])} | "
                     f"{number(q['max'])} | {q['n']} |")
    lines += ["", f"The reference is further from the truth than twice its error estimate for "
              f"{s['underestimated']} derivatives; of the {own['fail']} own-gradient failures, "
              f"{s['fail_autodiff_off']} are autodiff values off the truth by more than rtol."]
    lines += ["", "| injected relative error | detected (fail) | inconclusive | pass (missed) | "
              "kink | detected where own check passed | outside the tolerance band | "
              "detected there |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for e in perturbations:
        c = s["claimed"][f"{e:g}"]
        counts = c["counts"]
        lines.append(f"| {e:g} | {percent(c['detected'])} ({counts['fail']}) | "
                     f"{counts['inconclusive']} | {counts['pass'] + counts['unconnected']} | "
                     f"{counts['kink']} | {percent(c['detected_where_own_passed'])} | "
                     f"{c['outside_band']} | {percent(c['detected_outside_band'])} |")
    return "\n".join(lines)


def overview(summary: dict, perturbations: Sequence[float]) -> str:
    """One line per corpus and method: the false verdicts on right gradients, the detection of
    wrong ones."""
    head = ("| corpus | method | derivatives | false fail | false kink | inconclusive | "
            "not applicable | checker error | " +
            " | ".join(f"detected {e:g} (outside band)" for e in perturbations) + " |")
    lines = [head, "|---|---|" + "---:|" * (6 + len(perturbations))]
    for corpus, per_method in summary["methods"].items():
        for method, s in per_method.items():
            own = s["own"]
            lines.append(f"| {corpus} | {method} | {s['derivatives']} | {own['fail']} | "
                         f"{own['kink']} | "
                         f"{own['inconclusive']} | {own['n/a']} | {own['error']} | " +
                         " | ".join(f"{percent(c['detected'])} ({percent(c['detected_outside_band'])})"
                                    for c in (s["claimed"][f"{e:g}"] for e in perturbations))
                         + " |")
    return "\n".join(lines)


def reproduction(case: Case, d: Derivative) -> str:
    at = ",".join(f"{k}={v!r}" for k, v in case.point.items())
    return (f"gradcli check {shlex.quote(case.text)} --at {at} --wrt {d.variable} "
            f"--method {d.method}")


def listing(title: str, found: list[Derivative], cases: dict[int, Case], limit: int) -> str:
    if not found:
        return f"{title}: none"
    lines = [f"{title}: {len(found)}" + (f" (first {limit})" if len(found) > limit else "")]
    for d in found[:limit]:
        case = cases[d.case]
        lines += [f"- [{d.corpus} #{d.case}, {d.method}] {case.text}",
                  f"    at {case.point}, d/d{d.variable}: autodiff {d.autodiff!r}, "
                  f"numeric {d.numeric!r}, error estimate {d.error_estimate:.3g}, "
                  f"rel_error {d.rel_error:.3g}",
                  f"    50-digit truth {d.truth!r}: the autodiff value is off by "
                  f"{d.off(d.autodiff):.2g}, the reference by {d.off(d.numeric):.2g}",
                  f"    note: {d.note}",
                  f"    $ {reproduction(case, d)}"]
    return "\n".join(lines)


def tolerances() -> dict:
    try:
        from gradcli.checking import TOLERANCES

        return dict(TOLERANCES)
    except ImportError:
        return {}


def revision() -> str:
    """The commit of the checked-out gradcli, and whether its tree has local changes (read-only
    git commands)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=root, text=True,
                               capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" with local changes in src/" if dirty else "")


# ---------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=400, help="smooth expressions (default 400)")
    parser.add_argument("--scaled", type=int, default=100,
                        help="smooth expressions times 10**k or plus 10**k (default 100; 0 for "
                             "none)")
    parser.add_argument("--piecewise", type=int, default=100,
                        help="expressions with piecewise functions, away from kinks (default 100; "
                             "0 for none)")
    parser.add_argument("--seed", type=int, default=0, help="the generator's seed (default 0)")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help="comma-separated reference methods (default ridders,central,complex)")
    parser.add_argument("--kink-margin", type=float, default=0.01,
                        help="the least distance from a kink, in units of max(1, |x|) "
                             "(default 0.01)")
    parser.add_argument("--rtol", type=float, help="instead of each method's default rtol")
    parser.add_argument("--atol", type=float, help="instead of each method's default atol")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--show", type=int, default=20,
                        help="how many false failures, false kinks and inconclusives to list "
                             "per kind (default 20; --json lists all)")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    perturbations = PERTURBATIONS

    uncovered = [f.name for f in FUNCTIONS if f.name not in SMOOTH and f.name not in PIECEWISE]
    if uncovered:
        print(f"warning: not covered by the generator: {', '.join(uncovered)}", file=sys.stderr)
    unknown = [n for n in [*SMOOTH, *PIECEWISE] if n not in {f.name for f in FUNCTIONS}]
    if unknown:
        print(f"error: not in gradcli's function table: {', '.join(unknown)}", file=sys.stderr)
        return 2

    start = time.perf_counter()
    sizes = {"smooth": args.count, "scaled": args.scaled, "piecewise": args.piecewise}
    cases, skipped = build_corpus(args.seed, sizes, args.kink_margin)
    generated = time.perf_counter()
    jobs = [(case, methods, perturbations, args.rtol, args.atol) for case in cases]
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(measure, jobs, chunksize=8))
    else:
        results = [measure(job) for job in jobs]
    derivatives = [d for rows in results for d in rows]
    elapsed = time.perf_counter() - start

    by_case = {case.number: case for case in cases}
    tol = tolerances()
    for method in methods:  # the tolerances in force, with --rtol and --atol applied
        default = tol.get(method, (math.nan, math.nan))
        tol[method] = (default[0] if args.rtol is None else args.rtol,
                       default[1] if args.atol is None else args.atol)
    summary: dict = {
        "command": " ".join(["python", "bench/checker_power.py", *(argv or sys.argv[1:])]),
        "gradcli": f"{gradcli.__version__} ({revision()})",
        "python": platform.python_version(), "numpy": np.__version__,
        "seed": args.seed, "kink_margin": args.kink_margin,
        "expressions": Counter(c.corpus for c in cases), "skipped": dict(skipped),
        "functions_used": Counter(f for c in cases for f in c.functions),
        "uncovered": uncovered,
        "tolerances": {m: tol.get(m) for m in methods},
        "seconds": {"generate": round(generated - start, 1), "total": round(elapsed, 1)},
        "methods": {},
    }
    problems = {"false failures": [], "false kinks": [], "inconclusive": [], "checker errors": []}
    for corpus in sizes:
        for method in methods:
            rows = [d for d in derivatives if d.corpus == corpus and d.method == method]
            if rows:
                summary["methods"].setdefault(corpus, {})[method] = summarize(rows, perturbations,
                                                                              tol[method])
        problems["false failures"] += [d for d in derivatives
                                       if d.corpus == corpus and d.verdict == "fail"]
        problems["false kinks"] += [d for d in derivatives
                                    if d.corpus == corpus and d.verdict == "kink"]
        problems["inconclusive"] += [d for d in derivatives
                                     if d.corpus == corpus and d.verdict == "inconclusive"]
        problems["checker errors"] += [d for d in derivatives
                                       if d.corpus == corpus and d.verdict == "error"]

    if args.json:
        summary["problems"] = {
            kind: [{**asdict(d), "expression": by_case[d.case].text,
                    "point": by_case[d.case].point,
                    "reproduce": reproduction(by_case[d.case], d)} for d in found]
            for kind, found in problems.items()}
        print(json.dumps(_strict(summary), indent=1, allow_nan=False))
        return 0

    used = [summary["functions_used"].get(name, 0) for name in [*SMOOTH, *PIECEWISE]]
    out = [f"gradcli {summary['gradcli']}, Python {summary['python']}, numpy {np.__version__}; "
           f"seed {args.seed}",
           f"expressions: {summary['expressions'].get('smooth', 0)} smooth, "
           f"{summary['expressions'].get('scaled', 0)} scaled, "
           f"{summary['expressions'].get('piecewise', 0)} piecewise (kink margin "
           f"{args.kink_margin:g}); "
           f"{len(SMOOTH)} smooth and {len(PIECEWISE)} piecewise functions of the table, each "
           f"built around {min(used)} to {max(used)} times (not counting domain wrappers)",
           "points skipped: " + (", ".join(f"{k} {v}" for k, v in sorted(skipped.items()))
                                 or "none"),
           ""]
    out += [overview(summary, perturbations), ""]
    titles = {"smooth": "Smooth corpus", "scaled": "Scaled corpus (smooth, times or plus 10**k)",
              "piecewise": "Piecewise corpus, away from kinks"}
    for corpus, per_method in summary["methods"].items():
        for method, s in per_method.items():
            out += [table(titles[corpus], method, s, perturbations, tol), ""]
    for kind, found in problems.items():
        out += [listing(kind.capitalize(), found, by_case, args.show), ""]
    out.append(f"time: {elapsed:.1f} s ({generated - start:.1f} s generating), "
               f"{len(derivatives)} derivative checks x {1 + len(perturbations)}, "
               f"{args.jobs} process{'es' if args.jobs > 1 else ''}")
    print("\n".join(out))
    return 0


def _strict(value):
    """`value` with every non-finite float written as a string ("nan", "inf"), for strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


if __name__ == "__main__":
    sys.exit(main())
