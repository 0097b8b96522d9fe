"""Checking hand-written derivative rules against the functions they claim to differentiate.

A target is one rule: `grad softplus(x) = sigmoid(x)` in a spec, a Python function with a
`custom_vjp`, or a `check` statement. Its call is built in a graph of its own, at the shapes of
its domain, and checked as the checker checks any function (gradcli.checking: the same
references, tolerances and verdicts): the gradient through the rule against the numerical
derivative of the value, which is the definition's.

A rule's function may have an array value. Then each entry of the output is checked as a
function of its own (the full Jacobian, through the rule with a one-hot cotangent) when the
output has at most `JACOBIAN_LIMIT` entries, and sum(u * f) for `probes` random cotangents u
otherwise. Inputs are checked entry by entry, or along random directions with bisection down to
the wrong entries (gradcli.array_checks). Every argument's row is its worst result over the
points and cotangents, with the point and the output entry where it was found.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from gradcli import ops
from gradcli.api import Function
from gradcli.array_checks import SEVERITY
from gradcli.checking import check_result
from gradcli.compare import (
    EXIT_CODES,
    Options,
    VariableCheck,
    counted,
    finite_or_inf,
    overall,
    worst_error,
)
from gradcli.errors import GradcliError, InputError, UsageError
from gradcli.evaluation import all_finite
from gradcli.graph import Graph, Node
from gradcli.points import DEFAULT_DOMAIN
from gradcli.report import json_text, jsonable

JACOBIAN_LIMIT = 16
DEFAULT_POINTS = 10
VERDICTS = ("pass", "fail", "inconclusive")


@dataclass
class Target:
    """Something to check: `build(variables)` makes the call from the variables' nodes."""

    name: str
    kind: str  # "grad", "vjp", "python" or "check"
    path: str
    line: int
    params: tuple[str, ...]
    build: Callable[[Sequence[Node], Mapping[str, object]], Node]
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    points: list[dict[str, object]] | None = None  # fixed points; sampled when None
    defaults: dict[str, object] = field(default_factory=dict)  # a model's params
    signature: str = ""
    claim: str = "the rule"  # what gives the gradient checked, in sentences


@dataclass
class Row:
    """One argument's worst result: the check, the point, and the output entry."""

    check: VariableCheck
    point: dict[str, object]
    output: list[int] | None = None

    def to_dict(self, notes: list[str]) -> dict:
        out = self.check.to_dict(notes)
        out = {"argument": out.pop("variable"), **out}
        out["point"] = {k: jsonable(v, f"point {k}", notes) for k, v in self.point.items()}
        out["output"] = self.output
        return out


@dataclass
class RuleReport:
    target: Target
    method: str
    rows: list[Row]
    points: int
    skipped: int = 0
    cotangents: str = ""  # how an array output was checked
    strict: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return overall((row.check for row in self.rows), self.strict)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    @property
    def title(self) -> str:
        t = self.target
        return f"check {t.name} at {t.signature}" if t.kind == "check" else \
            f"{t.kind} {t.signature or t.name}"

    def to_dict(self) -> dict:
        notes: list[str] = []
        t = self.target
        out = {"file": t.path, "line": t.line, "kind": t.kind, "rule": t.name,
               "signature": t.signature, "verdict": self.verdict, "method": self.method,
               "points": self.points, "skipped": self.skipped,
               "cotangents": self.cotangents or None,
               "arguments": [row.to_dict(notes) for row in self.rows]}
        if self.warnings or notes:
            out["warnings"] = self.warnings + notes
        return out

    def to_json(self) -> str:
        return json_text(self.to_dict())

    def to_plain(self) -> str:
        worst = worst_error(row.check for row in self.rows)
        return f"{self.target.path}:{self.target.line}: {self.title}: {self.verdict} {worst!r}"

    def failing(self) -> list[Row]:
        """The rows of the arguments that did not pass (failed or were inconclusive)."""
        return [row for row in self.rows if counted(row.check.verdict, self.strict) != "pass"]

    def failures(self) -> list[str]:
        """A sentence for each argument that did not pass: which, where, both values."""
        return [describe(self, row) for row in self.failing()]


def describe(report: RuleReport, row: Row) -> str:
    c = row.check
    entry = f" entry {c.index}" if c.index is not None else ""
    output = f", output entry {row.output}" if row.output is not None else ""
    point = ", ".join(f"{k}={_short(v)}" for k, v in row.point.items())
    claim = report.target.claim
    numbers = (f"{claim} gives {c.analytic!r}, the reference {c.numeric!r} (error estimate "
               f"{c.error_estimate:.2g}); relative error {c.rel_error:.3g}, tolerance "
               f"{c.tolerance:.3g}")
    if c.analytic is None:
        numbers = f"{claim} gives no gradient, the reference {c.numeric!r}"
    note = f"; {c.note}" if c.note else ""
    return (f"{report.target.name}: d/d{c.variable}{entry}{output} at {point}: {c.verdict}: "
            f"{numbers}{note}")


def _short(value) -> str:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return repr(float(array))
    if array.size <= 6:
        return np.array2string(array, separator=", ", precision=6).replace("\n", "")
    return f"<array of shape {array.shape}>"


def check_target(target: Target, options: Options, count: int = DEFAULT_POINTS, seed: int = 0,
                 progress: Callable[[], None] | None = None) -> RuleReport:
    """Check the target at its points, or at `count` points sampled from its domain."""
    options = options.resolved()
    if count < 1:
        raise UsageError("--points must be at least 1")
    rng = np.random.default_rng(seed)
    points = target.points if target.points is not None else [
        _sample(target, rng) for _ in range(count)]
    graph = Graph()
    shapes = {p: np.shape(points[0][p]) if p in points[0] else target.shapes.get(p, ())
              for p in target.params}
    variables = [ops.variable(graph, p, shapes[p]) for p in target.params]
    call = target.build(variables, points[0])
    functions, cotangents = _outputs(target, call, options, seed)
    for _, function, _ in functions:  # the rule is built (its shapes checked) before any number
        function.backward()
    best: dict[str, Row] = {}
    skipped = 0
    warnings: list[str] = []
    names = list(target.params)
    for point in points:
        values = {**target.defaults, **point}
        owns = []  # each function's value and gradient here: computed once, checked below
        for _, function, _ in functions:
            own = function.grad(values, wrt=names)
            numbers = [own.value, *(g for g in own.gradient.values() if g is not None)]
            if not all(all_finite(v) for v in numbers):
                break
            owns.append(own)
        if len(owns) < len(functions):
            skipped += 1
            continue
        for (label, function, scale), own in zip(functions, owns, strict=True):
            # c*f is checked with atol*|c|: divided by c again, the tolerance is f's own
            scaled = options if scale == 1.0 else replace(options, atol=options.atol * abs(scale))
            report = check_result(function, own, scaled, None, names)
            warnings += [w for w in report.warnings if w not in warnings]
            for result in report.results:
                row = Row(_unscaled(result, scale), dict(point), label)
                if _worse(row, best.get(result.variable)):
                    best[result.variable] = row
        if progress is not None:
            progress()
    if not best:
        if target.points is not None:
            raise UsageError(f"{target.path}:{target.line}: {target.name}: the value or the "
                             f"gradient is not finite at {target.signature or 'the point'}")
        raise UsageError(f"{target.path}:{target.line}: {target.name}: no sampled point has a "
                         "finite value and gradient: narrow its domain")
    rows = [best[p] for p in target.params if p in best]
    return RuleReport(target, options.method, rows, len(points) - skipped, skipped, cotangents,
                      options.strict, warnings)


def _sample(target: Target, rng: np.random.Generator) -> dict[str, object]:
    point: dict[str, object] = {}
    for name in target.params:
        low, high = target.bounds.get(name, DEFAULT_DOMAIN)
        shape = target.shapes.get(name, ())
        value = rng.uniform(low, high, size=shape)
        point[name] = float(value) if shape == () else value
    return point


def _outputs(target: Target, call: Node, options: Options, seed: int
             ) -> tuple[list[tuple[list[int] | None, Function, float]], str]:
    """The scalar functions that check the call: itself, each entry of it, or random
    projections of it; and what they are, in words."""
    positions = {p: (target.line, 1) for p in target.params}

    def function(output: Node) -> Function:
        f = Function(target.signature or target.name, call.graph, output, positions)
        f.label = target.name
        f.defaults = dict(target.defaults)
        return f

    rng = np.random.default_rng([seed, 1])
    # A VJP written by hand may ignore its cotangent or not be linear in it, which a cotangent
    # of 1 (or one-hot ones) cannot show: the cotangent is c (or c at one entry), c a random
    # number of random sign, and the numbers reported are divided by it again. A grad rule's
    # VJP, g * partial, is linear by construction.
    scale = 1.0
    if target.kind in ("vjp", "python"):
        scale = float(rng.choice([-1.0, 1.0]) * rng.uniform(1.25, 1.75))
    if not call.shape:
        return [(None, function(scale * call), scale)], \
            "" if scale == 1.0 else f"the cotangent {scale!r}"
    if call.size <= JACOBIAN_LIMIT:
        entries = list(np.ndindex(call.shape))
        return ([([int(k) for k in entry], function(scale * ops.index(call, key=entry)), scale)
                 for entry in entries],
                f"every output entry ({len(entries)})"
                + ("" if scale == 1.0 else f", with the cotangent {scale!r}"))
    out = []
    axes = tuple(range(call.ndim))
    for _ in range(options.probes):
        u = ops.literal(call.graph, rng.standard_normal(call.shape))
        out.append((None, function(ops.sum_(u * call, axis=axes, keepdims=False)), 1.0))
    return out, f"{options.probes} random cotangents (the output has {call.size} entries)"


def _unscaled(result: VariableCheck, scale: float) -> VariableCheck:
    """The check of c*f as the check of f: its numbers divided by the cotangent c."""
    if scale == 1.0:
        return result
    magnitude = abs(scale)
    return replace(result, analytic=None if result.analytic is None else result.analytic / scale,
                   numeric=result.numeric / scale, abs_error=result.abs_error / magnitude,
                   error_estimate=result.error_estimate / magnitude,
                   tolerance=result.tolerance / magnitude)


def _worse(row: Row, other: Row | None) -> bool:
    if other is None:
        return True
    a, b = row.check, other.check
    return (SEVERITY[a.verdict], finite_or_inf(a.rel_error)) > \
        (SEVERITY[b.verdict], finite_or_inf(b.rel_error))


def summary(reports: Sequence[RuleReport]) -> dict[str, int]:
    counts = {verdict: 0 for verdict in VERDICTS}
    for report in reports:
        counts[report.verdict] += 1
    return counts


class RuleCheckError(GradcliError):
    """A target that cannot be checked at all (a Python function with no VJP)."""


def placed(error: InputError, path: str, line: int) -> InputError:
    """An error met while building a target, placed at the target's line when it has no place
    of its own."""
    if error.text is not None:
        return error
    return type(error)(f"{path}:{line}: {error.message}")
