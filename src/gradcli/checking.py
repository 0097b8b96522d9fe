"""Gradient checks: the autodiff gradient (or a claimed one) against a numerical reference, at
one point, at several, or at random points; with --order 2 the second derivatives too.

Each derivative gets a verdict (see gradcli.compare); a report's verdict is the worst of them,
and its exit code 0 (pass), 1 (fail) or 3 (inconclusive). Array variables are checked entry by
entry, or along random directions (gradcli.array_checks). In probe mode the whole gradient is
checked along a few random directions instead, at a fixed cost (gradcli.probes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from gradcli import numeric
from gradcli.api import Function, parse
from gradcli.array_checks import check_array
from gradcli.array_checks import work as array_work
from gradcli.compare import (
    DEFAULT,
    EXIT_CODES,
    RULE,
    Options,
    VariableCheck,
    along,
    check_derivative,
    finite_or_inf,
    overall,
    worst_error,
)
from gradcli.errors import UsageError
from gradcli.evaluation import all_finite
from gradcli.points import sample_points
from gradcli.probes import check_probes
from gradcli.report import GradResult, json_text, jsonable

__all__ = ["RULE", "CheckReport", "Options", "VariableCheck", "check", "check_function",
           "check_random", "check_result", "work"]


@dataclass
class CheckReport:
    expression: str
    point: dict[str, float]
    method: str
    results: list[VariableCheck]
    strict: bool = False
    warnings: list[str] = field(default_factory=list)
    sweep: dict[str, list[dict]] | None = None  # with --sweep: per variable, error against h
    evaluations: dict[str, int] | None = None  # in probe mode: {"forward": n, "backward": 1}

    @property
    def verdict(self) -> str:
        return overall(self.results, self.strict)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def worst(self) -> list[VariableCheck]:
        """The results, worst relative error first."""
        return sorted(self.results, key=lambda r: -finite_or_inf(r.rel_error))

    def to_dict(self) -> dict:
        notes: list[str] = []
        out = {"expression": self.expression,
               "point": {k: jsonable(v, k, notes) for k, v in self.point.items()},
               "verdict": self.verdict, "method": self.method,
               "results": [r.to_dict(notes) for r in self.results]}
        if self.evaluations is not None:
            out["evaluations"] = dict(self.evaluations)
        if self.sweep is not None:
            out["sweep"] = {name: [{key: jsonable(value, f"sweep {name}", notes)
                                    for key, value in row.items()} for row in rows]
                            for name, rows in self.sweep.items()}
        if self.warnings or notes:
            out["warnings"] = self.warnings + notes
        return out

    def to_json(self) -> str:
        return json_text(self.to_dict())

    def to_plain(self) -> str:
        return f"{self.verdict} {worst_error(self.results)!r}"


def _second_order(function: Function, point: Mapping[str, float], names: Sequence[str],
                  options: Options) -> list[VariableCheck]:
    """Every ∂²f/∂a∂b: the gradient of the gradient against differences of the gradient, and
    the symmetry of the Hessian."""
    results = []
    hessian: dict[tuple[str, str], object] = {}
    for a in names:
        first = function.derivative(a)
        if first is None:  # ∂f/∂a is unconnected, and so is every ∂²f/∂a∂b
            continue
        row = first.grad(point, wrt=names)
        for b in names:
            hessian[a, b] = row.gradient[b]
            results.append(check_derivative(first, point, b, row.gradient[b], options,
                                           label=f"{a},{b}"))
    for k, a in enumerate(names):
        for b in names[k + 1:]:
            hab, hba = hessian.get((a, b)), hessian.get((b, a))
            if hab is None or hba is None:
                continue
            difference = abs(hab - hba)
            tolerance = options.atol + options.rtol * max(abs(hab), abs(hba))
            if difference > tolerance:
                results.append(VariableCheck(
                    f"{a},{b}", hab, hba, 0.0, difference, difference / max(abs(hab), abs(hba)),
                    tolerance, "fail", f"the Hessian is not symmetric: ∂²f/∂{a}∂{b} = {hab!r} "
                                       f"but ∂²f/∂{b}∂{a} = {hba!r}"))
    return results


def check_function(function: Function, at: Mapping[str, object], options: Options = DEFAULT,
                   grad: Mapping[str, float] | None = None,
                   wrt: Sequence[str] | None = None,
                   progress: Callable[[], None] | None = None) -> CheckReport:
    """Check the gradient of `function` at one point (see the module's docstring); `progress`
    is called after each entry of an array variable."""
    names = _checked_names(function, grad, wrt)
    return check_result(function, function.grad(at, wrt=names), options.resolved(), grad, names,
                        progress)


def work(function: Function, point: Mapping[str, object], names: Sequence[str] | None,
         options: Options) -> int:
    """The steps of a check at the point, for a progress bar: one for the point, and one per
    entry (or random direction) of each array variable."""
    if options.mode == "probes":
        return 1
    values = {**function.defaults, **point}
    names = list(names) if names is not None else list(function.variables)
    return 1 + sum(array_work(int(np.size(values[name])), options) for name in names
                   if name in values and np.ndim(values[name]))


def _checked_names(function: Function, grad: Mapping[str, float] | None,
                   wrt: Sequence[str] | None) -> list[str]:
    """The variables to check: --wrt, else those of a claimed gradient, else all of them."""
    return list(wrt if wrt is not None else (grad if grad else function.variables))


def check_result(function: Function, own: GradResult, options: Options,
                 grad: Mapping[str, float] | None, names: list[str],
                 progress: Callable[[], None] | None = None) -> CheckReport:
    """The check at the point of `own`, gradcli's value and gradient there, computed already
    (options resolved)."""
    point = dict(own.inputs)
    function = function.at_shapes({name: np.shape(value) for name, value in point.items()})
    for name in names:
        if name not in point:
            raise UsageError(f"'{name}' has no value at the point: give it with --at {name}=...")
    if options.mode == "probes":
        gradient = {name: grad[name] if grad and name in grad else own.gradient[name]
                    for name in names}
        results, evaluations = check_probes(function, point, gradient, names, options)
        report = CheckReport(function.name, dict(own.point), options.method, results,
                             options.strict, list(own.warnings))
        # the value and gradient given (one evaluation, one backward pass), and the probes
        report.evaluations = {"forward": 1 + evaluations, "backward": 1}
        return report
    arrays = [name for name in names if np.ndim(point[name])]
    if arrays and (options.order == 2 or options.sweep or (grad and set(grad) & set(arrays))):
        raise UsageError(f"--order 2, --sweep and --grad are for variables that are numbers; "
                         f"'{arrays[0]}' is an array")
    results = []
    for name in names:
        if name in arrays:
            results.append(check_array(function, point, name, own.gradient[name], options,
                                       progress))
            continue
        claimed = grad is not None and name in grad
        checked = check_derivative(function, point, name,
                                   grad[name] if claimed else own.gradient[name], options)
        if claimed:
            checked.note = "; ".join(filter(None, ["claimed gradient", checked.note]))
        results.append(checked)
    if options.order == 2:
        results += _second_order(function, point, names, options)
    report = CheckReport(function.name, dict(own.point), options.method, results, options.strict,
                         list(own.warnings))
    if options.sweep:
        report.sweep = {r.variable: _sweep(function, point, r.variable, r.analytic)
                        for r in results if r.analytic is not None and "," not in r.variable}
    return report


def _sweep(function: Function, point: Mapping[str, float], name: str, analytic: float
           ) -> list[dict]:
    """The central difference and its error against the analytic value, decade by decade."""
    rows = []
    for h, d in numeric.sweep(along(function, point, name), float(point[name])):
        error = abs(d - analytic)
        scale = max(abs(d), abs(analytic))
        rows.append({"h": h, "numeric": d, "abs_error": error,
                     "rel_error": error / scale if scale else 0.0})
    return rows


def check_random(function: Function, count: int, seed: int = 0,
                 domain: Mapping[str, tuple[float, float]] | None = None,
                 fixed: Mapping[str, float] | None = None, options: Options = DEFAULT,
                 grad: Mapping[str, float] | None = None, wrt: Sequence[str] | None = None,
                 progress: Callable[[], None] | None = None) -> tuple[list[CheckReport], int]:
    """Checks at `count` random points, reproducible with `seed`, drawn from each variable's
    domain (-2:2 unless given; the variables of `fixed` keep their value). Points where the value
    or the gradient is not finite are skipped (a random point may well leave the function's
    domain) and counted: (reports, skipped). `progress` is called after each point."""
    domain, fixed = dict(domain or {}), dict(fixed or {})
    if count < 1:
        raise UsageError("--points must be at least 1")
    unknown = [name for name in domain if name not in function.variables]
    if unknown:
        raise UsageError(f"--domain names {', '.join(unknown)}, not a variable of the expression")
    reports, skipped = [], 0
    names = _checked_names(function, grad, wrt)
    options = options.resolved()
    # a spec's params keep their values: the points sample its inputs
    sampled = [name for name in function.variables if name not in function.defaults]
    for point in sample_points(sampled, count, seed, domain, fixed):
        if progress is not None:
            progress()
        own = function.grad(point, wrt=names)
        numbers = [own.value, *(g for g in own.gradient.values() if g is not None)]
        if not all(all_finite(v) for v in numbers):
            skipped += 1
            continue
        reports.append(check_result(function, own, options, grad, names))
    if not reports:
        raise UsageError("no sampled point has a finite value and gradient: narrow --domain")
    return reports, skipped


def check(text: str, at: Mapping[str, float], method: str = "ridders", rtol: float | None = None,
          atol: float | None = None, grad: Mapping[str, float] | None = None,
          wrt: Sequence[str] | None = None, strict: bool = False, order: int = 1) -> CheckReport:
    """Check the gradient of an expression at a point against a numerical reference:
    `check('x**2*sin(x)', at={'x': 2})`; `grad` checks a claimed gradient instead; `order=2`
    checks the second derivatives too."""
    options = Options(method, rtol, atol, strict=strict, order=order)
    return check_function(parse(text), at, options, grad, wrt)
