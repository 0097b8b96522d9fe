"""Gradient checks: the autodiff gradient (or a claimed one) against a numerical reference.

For each variable the checker computes a reference derivative with its own error estimate, the
left and right derivatives (to recognise a kink), and gives one verdict:

    pass          |analytic - numeric| <= atol + rtol·max(|analytic|, |numeric|) + 2·estimate,
                  and the estimate itself is within atol + rtol·max(...)
    fail          outside that band (or an unconnected variable the function does depend on)
    inconclusive  inside the band only because the reference's error estimate is wider than the
                  tolerance: the numbers cannot decide
    kink          the left and right derivatives differ; the analytic value is between them (a
                  valid subgradient), which passes unless strict; outside them it is a fail
    unconnected   no path from the output, and the reference confirms the derivative is 0
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from gradcli import highprecision, numeric
from gradcli.api import Function, parse
from gradcli.errors import UsageError
from gradcli.evaluation import evaluate
from gradcli.graph import ancestors
from gradcli.numeric import Estimate
from gradcli.points import sample_points
from gradcli.report import GradResult, jsonable

METHODS = ("ridders", "central", "complex", "mpmath")
# Default tolerances per method, relative and absolute: far wider than each method's own error
# on smooth functions (ridders ~1e-13, central ~1e-10, complex and mpmath ~1e-16), far tighter
# than the 1e-8 relative error a check must catch.
TOLERANCES = {"ridders": (1e-9, 1e-12), "central": (1e-7, 1e-10), "complex": (1e-12, 1e-15),
              "mpmath": (1e-11, 1e-14)}
# A kink is a jump in the derivative that the one-sided derivatives see, whatever the method of
# the reference: their own accuracy (extrapolated one-sided differences), not the method's,
# decides how large a jump must be to count.
KINK_RTOL = 1e-6
SAFETY = 2.0  # how many error estimates widen the band
RULE = ("pass when |analytic - numeric| <= atol + rtol*max(|analytic|, |numeric|) + 2*estimate "
        "and estimate <= atol + rtol*max(|analytic|, |numeric|)")


@dataclass
class VariableCheck:
    variable: str
    analytic: float | None
    numeric: float
    error_estimate: float
    abs_error: float
    rel_error: float
    tolerance: float
    verdict: str
    note: str = ""
    index: None = None

    def to_dict(self, notes: list[str]) -> dict:
        v = self.variable
        return {"variable": v, "index": self.index,
                "analytic": jsonable(self.analytic, f"{v}: analytic", notes),
                "numeric": jsonable(self.numeric, f"{v}: numeric", notes),
                "error_estimate": jsonable(self.error_estimate, f"{v}: error_estimate", notes),
                "abs_error": jsonable(self.abs_error, f"{v}: abs_error", notes),
                "rel_error": jsonable(self.rel_error, f"{v}: rel_error", notes),
                "tolerance": jsonable(self.tolerance, f"{v}: tolerance", notes),
                "verdict": self.verdict, "note": self.note}


@dataclass
class CheckReport:
    expression: str
    point: dict[str, float]
    method: str
    results: list[VariableCheck]
    strict: bool = False
    warnings: list[str] = field(default_factory=list)
    sweep: dict[str, list[dict]] | None = None  # with --sweep: per variable, error against h

    @property
    def verdict(self) -> str:
        verdicts = {r.verdict for r in self.results}
        if "fail" in verdicts or (self.strict and "kink" in verdicts):
            return "fail"
        return "inconclusive" if "inconclusive" in verdicts else "pass"

    @property
    def exit_code(self) -> int:
        return {"pass": 0, "fail": 1, "inconclusive": 3}[self.verdict]

    def worst(self) -> list[VariableCheck]:
        """The results, worst relative error first."""
        return sorted(self.results, key=lambda r: -_finite_or_inf(r.rel_error))

    def to_dict(self) -> dict:
        notes: list[str] = []
        out = {"expression": self.expression,
               "point": {k: jsonable(v, k, notes) for k, v in self.point.items()},
               "verdict": self.verdict, "method": self.method,
               "results": [r.to_dict(notes) for r in self.results]}
        if self.sweep is not None:
            out["sweep"] = {name: [{key: jsonable(value, f"sweep {name}", notes)
                                    for key, value in row.items()} for row in rows]
                            for name, rows in self.sweep.items()}
        if self.warnings or notes:
            out["warnings"] = self.warnings + notes
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False)

    def to_plain(self) -> str:
        # at a kink the central difference is no reference for the analytic value: left out
        errors = [r.rel_error for r in self.results if r.verdict not in ("kink", "unconnected")]
        worst = max(errors, key=_finite_or_inf) if errors else 0.0
        return f"{self.verdict} {worst!r}"


def _finite_or_inf(x: float) -> float:
    return x if not math.isnan(x) else math.inf


def _along(function: Function, point: Mapping[str, float], name: str):
    """f as a function of the variable `name` alone, the others held at the point."""
    output = function.output

    def f(xs: np.ndarray) -> np.ndarray:
        inputs = dict(point)
        inputs[name] = xs
        return evaluate([output], inputs)[output.index]

    return f


def _not_analytic(function: Function, name: str) -> list[str]:
    """The operations on a path from `name` to the output that the complex step cannot pass."""
    variable = function.variable_node(name)
    if variable is None:
        return []
    depends = {variable.index}
    blocked = []
    for node in ancestors([function.output]):
        if any(i.index in depends for i in node.inputs):
            depends.add(node.index)
            if not node.op.analytic and node.op.name not in blocked:
                blocked.append(node.op.name)
    return blocked


def reference(function: Function, point: Mapping[str, float], name: str, method: str,
              step: float | None = None) -> Estimate:
    """The numerical derivative of the function by `name` at the point."""
    x = float(point[name])
    if method == "ridders":
        return numeric.ridders(_along(function, point, name), x)
    if method == "central":
        return numeric.central(_along(function, point, name), x, step)
    if method == "complex":
        blocked = _not_analytic(function, name)
        if blocked:
            raise UsageError(f"--method complex needs every operation between '{name}' and the "
                             f"output to be analytic; {', '.join(blocked)} "
                             f"{'is' if len(blocked) == 1 else 'are'} not (use --method ridders)")
        return numeric.complex_step(_along(function, point, name), x)
    if method == "mpmath":
        d = highprecision.derivative(function.output, point, name)
        return Estimate(d, numeric.EPS * abs(d)) if math.isfinite(d) else numeric.NONE
    raise UsageError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")


def _compare(name: str, analytic, ref: Estimate, left: Estimate, right: Estimate,
             rtol: float, atol: float) -> VariableCheck:
    if analytic is None:  # unconnected
        d = abs(ref.value)
        confirmed = math.isfinite(d) and d <= atol + SAFETY * ref.error
        note = ("no path from the output; the reference confirms the derivative is 0" if confirmed
                else f"no path from the output, yet the function changes with {name}: the "
                     f"reference derivative is {ref.value!r}")
        return VariableCheck(name, None, ref.value, ref.error, d, math.inf if d else 0.0,
                             atol, "unconnected" if confirmed else "fail", note)
    a, d = float(analytic), ref.value
    difference = abs(a - d)
    scale = max(abs(a), abs(d))
    relative = difference / scale if scale else 0.0
    tolerance = atol + rtol * scale

    def result(verdict: str, note: str = "") -> VariableCheck:
        return VariableCheck(name, a, d, ref.error, difference, relative, tolerance, verdict, note)

    lr_scale = max(abs(left.value), abs(right.value))
    lr_tolerance = atol + max(rtol, KINK_RTOL) * lr_scale
    if (math.isfinite(left.value) and math.isfinite(right.value)
            and abs(left.value - right.value) > lr_tolerance + SAFETY * (left.error + right.error)):
        low, high = sorted((left.value, right.value))
        sides = f"left derivative {left.value!r}, right derivative {right.value!r}"
        if low - lr_tolerance <= a <= high + lr_tolerance:
            return result("kink", f"not differentiable here ({sides}); the analytic value is a "
                                  "valid subgradient")
        return result("fail", f"not differentiable here ({sides}); the analytic value is not "
                              "between them")
    # Where the function is not smooth enough for central differences to converge (x*relu(x)
    # at 0), the one-sided derivatives may still agree closely: they are a reference too.
    if math.isfinite(left.value) and math.isfinite(right.value):
        sided = Estimate((left.value + right.value) / 2,
                         max(left.error, right.error) + abs(left.value - right.value) / 2)
        if sided.error < ref.error and (difference > tolerance + SAFETY * ref.error
                                        or ref.error > tolerance):
            checked = _compare(name, analytic, sided, left, right, rtol, atol)
            checked.note = "; ".join(filter(None, [
                "central differences do not converge here; the left and right derivatives "
                "agree and are the reference", checked.note]))
            return checked
    if not math.isfinite(d) or not math.isfinite(a):
        if a == d:
            return result("pass", "both infinite")
        return result("inconclusive", "no finite reference near this point" if not math.isfinite(d)
                      else "the analytic value is not finite")
    if difference > tolerance + SAFETY * ref.error:
        return result("fail", f"off by {relative:.3g} relative; the reference is good to about "
                              f"{ref.error:.2g}")
    if ref.error > tolerance:
        return result("inconclusive", f"the reference's error estimate {ref.error:.2g} is wider "
                                      f"than the tolerance {tolerance:.2g}")
    return result("pass")


@dataclass(frozen=True)
class Options:
    """How to check: the reference method, the tolerances, the order, strictness at kinks."""

    method: str = "ridders"
    rtol: float | None = None
    atol: float | None = None
    step: float | None = None  # the step of the central difference
    strict: bool = False
    order: int = 1
    sweep: bool = False

    def resolved(self) -> Options:
        """The options with the method's default tolerances filled in, validated."""
        if self.method not in METHODS:
            raise UsageError(f"unknown method {self.method!r}: use one of {', '.join(METHODS)}")
        if self.order not in (1, 2):
            raise UsageError(f"--order is 1 or 2, not {self.order}")
        if self.step is not None and self.method != "central":
            raise UsageError("--eps is the step of --method central")
        default_rtol, default_atol = TOLERANCES[self.method]
        rtol = default_rtol if self.rtol is None else self.rtol
        atol = default_atol if self.atol is None else self.atol
        if rtol < 0 or atol < 0 or (self.step is not None and self.step <= 0):
            raise UsageError("--rtol and --atol must not be negative, --eps must be positive")
        return Options(self.method, rtol, atol, self.step, self.strict, self.order, self.sweep)


def _check_variable(function: Function, point: Mapping[str, float], name: str, analytic,
                    options: Options, label: str | None = None) -> VariableCheck:
    """One derivative of `function` by `name`, `analytic` against the reference."""
    ref = reference(function, point, name, options.method, options.step)
    f = _along(function, point, name)
    x = float(point[name])
    left, right = numeric.one_sided(f, x, -1), numeric.one_sided(f, x, +1)
    checked = _compare(name, analytic, ref, left, right, options.rtol, options.atol)
    if label is not None:
        checked.variable = label
    return checked


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
            results.append(_check_variable(first, point, b, row.gradient[b], options,
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


def check_function(function: Function, at: Mapping[str, float], options: Options = Options(),
                   grad: Mapping[str, float] | None = None,
                   wrt: Sequence[str] | None = None) -> CheckReport:
    """Check the gradient of `function` at one point (see the module's docstring)."""
    names = _checked_names(function, grad, wrt)
    return _check_point(function, function.grad(at, wrt=names), options.resolved(), grad, names)


def _checked_names(function: Function, grad: Mapping[str, float] | None,
                   wrt: Sequence[str] | None) -> list[str]:
    """The variables to check: --wrt, else those of a claimed gradient, else all of them."""
    return list(wrt if wrt is not None else (grad if grad else function.variables))


def _check_point(function: Function, own: GradResult, options: Options,
                 grad: Mapping[str, float] | None, names: list[str]) -> CheckReport:
    """The check at the point of `own`, gradcli's value and gradient there (options resolved)."""
    point = dict(own.point)
    for name in names:
        if name not in point:
            raise UsageError(f"'{name}' has no value at the point: give it with --at {name}=...")
    results = []
    for name in names:
        claimed = grad is not None and name in grad
        checked = _check_variable(function, point, name,
                                  grad[name] if claimed else own.gradient[name], options)
        if claimed:
            checked.note = "; ".join(filter(None, ["claimed gradient", checked.note]))
        results.append(checked)
    if options.order == 2:
        results += _second_order(function, point, names, options)
    report = CheckReport(function.text, point, options.method, results, options.strict,
                         list(own.warnings))
    if options.sweep:
        report.sweep = {r.variable: _sweep(function, point, r.variable, r.analytic)
                        for r in results if r.analytic is not None and "," not in r.variable}
    return report


def _sweep(function: Function, point: Mapping[str, float], name: str, analytic: float
           ) -> list[dict]:
    """The central difference and its error against the analytic value, decade by decade."""
    rows = []
    for h, d in numeric.sweep(_along(function, point, name), float(point[name])):
        error = abs(d - analytic)
        scale = max(abs(d), abs(analytic))
        rows.append({"h": h, "numeric": d, "abs_error": error,
                     "rel_error": error / scale if scale else 0.0})
    return rows


def check_random(function: Function, count: int, seed: int = 0,
                 domain: Mapping[str, tuple[float, float]] | None = None,
                 fixed: Mapping[str, float] | None = None, options: Options = Options(),
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
    for point in sample_points(list(function.variables), count, seed, domain, fixed):
        if progress is not None:
            progress()
        own = function.grad(point, wrt=names)
        numbers = [own.value, *(g for g in own.gradient.values() if g is not None)]
        if not all(math.isfinite(v) for v in numbers):
            skipped += 1
            continue
        reports.append(_check_point(function, own, options, grad, names))
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
