"""One derivative against a numerical reference: the reference, its error estimate, the
one-sided derivatives, and the verdict.

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

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from gradcli import highprecision, numeric
from gradcli.api import Function
from gradcli.errors import UsageError
from gradcli.evaluation import evaluate
from gradcli.graph import ancestors
from gradcli.numeric import Estimate
from gradcli.report import jsonable

METHODS = ("ridders", "central", "complex", "mpmath")
MODES = ("entries", "probes")
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
    index: list[int] | None = None  # the entry of an array variable (the worst one checked)
    checked: dict[str, int] | None = None  # for an array: {"entries": n} or {"probes": k, ...}

    def to_dict(self, notes: list[str]) -> dict:
        v = self.variable
        return {"variable": v, "index": self.index,
                "analytic": jsonable(self.analytic, f"{v}: analytic", notes),
                "numeric": jsonable(self.numeric, f"{v}: numeric", notes),
                "error_estimate": jsonable(self.error_estimate, f"{v}: error_estimate", notes),
                "abs_error": jsonable(self.abs_error, f"{v}: abs_error", notes),
                "rel_error": jsonable(self.rel_error, f"{v}: rel_error", notes),
                "tolerance": jsonable(self.tolerance, f"{v}: tolerance", notes),
                "verdict": self.verdict, "note": self.note,
                **({"checked": self.checked} if self.checked is not None else {})}


def finite_or_inf(x: float) -> float:
    return x if not math.isnan(x) else math.inf


EXIT_CODES = {"pass": 0, "fail": 1, "inconclusive": 3}


def counted(verdict: str, strict: bool = False) -> str:
    """What a verdict counts as: fail (a kink too, when strict), inconclusive, or pass (a kink
    with a valid subgradient, a confirmed unconnected variable)."""
    if verdict == "fail" or (strict and verdict == "kink"):
        return "fail"
    return "inconclusive" if verdict == "inconclusive" else "pass"


def overall(results: Iterable, strict: bool = False) -> str:
    """The verdict of several derivatives (or reports): fail if any counts as a fail, else
    inconclusive if any is, else pass."""
    verdicts = {counted(r.verdict, strict) for r in results}
    return "fail" if "fail" in verdicts else \
        "inconclusive" if "inconclusive" in verdicts else "pass"


def worst_error(results: Iterable[VariableCheck]) -> float:
    """The largest relative error (0 if none), leaving out kinks, where the central difference
    is no reference for the analytic value, and unconnected variables."""
    errors = [r.rel_error for r in results if r.verdict not in ("kink", "unconnected")]
    return max(errors, key=finite_or_inf) if errors else 0.0


def along(function: Function, point: Mapping[str, object], name: str, entry: tuple = ()):
    """f as a function of the variable `name` alone (of its entry `entry`, for an array), the
    others held at the point. A function of numbers takes all abscissae in one vectorised
    evaluation; one with arrays inside is evaluated once per abscissa."""
    output = function.output
    if not entry and not any(node.shape or not node.op.batches for node in ancestors([output])):
        def f(xs: np.ndarray) -> np.ndarray:
            inputs = dict(point)
            inputs[name] = xs
            return evaluate([output], inputs)[output.index]

        return f
    base = np.asarray(point[name], dtype=np.float64)
    nodes = ancestors([output])

    def one(x):
        inputs = dict(point)
        if entry:
            value = base.astype(np.result_type(base, x))
            value[entry] = x
        else:
            value = x
        inputs[name] = value
        return evaluate([output], inputs, nodes)[output.index]

    def f(xs: np.ndarray) -> np.ndarray:
        xs = np.asarray(xs)
        return np.array([one(x) for x in xs.ravel()]).reshape(xs.shape)

    return f


def coordinate(point: Mapping[str, object], name: str, entry: tuple = ()) -> float:
    return float(np.asarray(point[name])[entry])


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


def estimate(function: Function, name: str, f, x: float, method: str,
             step: float | None = None) -> Estimate:
    """The derivative at x of `f`, the function along the variable `name` (an entry of it, or a
    direction), by a difference method: ridders, central, or the complex step, which is refused
    where an operation between `name` and the output is not analytic."""
    if method == "ridders":
        return numeric.ridders(f, x)
    if method == "central":
        return numeric.central(f, x, step)
    if method == "complex":
        blocked = _not_analytic(function, name)
        if blocked:
            raise UsageError(f"--method complex needs every operation between '{name}' and the "
                             f"output to be analytic; {', '.join(blocked)} "
                             f"{'is' if len(blocked) == 1 else 'are'} not (use --method ridders)")
        return numeric.complex_step(f, x)
    raise UsageError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")


def reference(function: Function, point: Mapping[str, object], name: str, method: str,
              step: float | None = None, entry: tuple = ()) -> Estimate:
    """The numerical derivative of the function by `name` (its entry `entry`) at the point."""
    if method == "mpmath":
        d = highprecision.derivative(function.output, point, name, entry)
        return Estimate(d, numeric.EPS * abs(d)) if math.isfinite(d) else numeric.NONE
    return estimate(function, name, along(function, point, name, entry),
                    coordinate(point, name, entry), method, step)


def compare(name: str, analytic, ref: Estimate, left: Estimate, right: Estimate,
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
            checked = compare(name, analytic, sided, left, right, rtol, atol)
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
    full_limit: int = 2000  # an array variable of more entries is checked along random directions
    probes: int = 8  # how many
    seed: int = 0  # of the directions
    mode: str = "entries"  # or "probes": random directions through every variable at once

    def resolved(self) -> Options:
        """The options with the method's default tolerances filled in, validated. Probe mode
        takes one central difference per direction: the method central, unless another than
        the default is asked for, which is refused."""
        if self.method not in METHODS:
            raise UsageError(f"unknown method {self.method!r}: use one of {', '.join(METHODS)}")
        if self.mode not in MODES:
            raise UsageError(f"unknown mode {self.mode!r}: use one of {', '.join(MODES)}")
        method = self.method
        if self.mode == "probes":
            if method not in ("ridders", "central"):
                raise UsageError(f"--mode probes takes one central difference per direction; "
                                 f"--method {method} is for the entries mode")
            if self.order != 1 or self.sweep:
                raise UsageError("--order 2 and --sweep are for the entries mode, not --mode "
                                 "probes")
            if self.step is not None:
                raise UsageError("--eps is the step of --method central in the entries mode; "
                                 "probe mode steps cbrt(eps) along each direction")
            method = "central"
        if self.order not in (1, 2):
            raise UsageError(f"--order is 1 or 2, not {self.order}")
        if self.step is not None and method != "central":
            raise UsageError("--eps is the step of --method central")
        default_rtol, default_atol = TOLERANCES[method]
        rtol = default_rtol if self.rtol is None else self.rtol
        atol = default_atol if self.atol is None else self.atol
        if rtol < 0 or atol < 0 or (self.step is not None and self.step <= 0):
            raise UsageError("--rtol and --atol must not be negative, --eps must be positive")
        if self.full_limit < 0 or self.probes < 1:
            raise UsageError("--full-limit must not be negative, and --probes must be at least 1")
        return replace(self, method=method, rtol=rtol, atol=atol)


DEFAULT = Options()


def check_derivative(function: Function, point: Mapping[str, object], name: str, analytic,
                     options: Options, label: str | None = None, entry: tuple = ()
                     ) -> VariableCheck:
    """One derivative of `function` by `name` (its entry `entry`), `analytic` against the
    reference."""
    ref = reference(function, point, name, options.method, options.step, entry)
    f = along(function, point, name, entry)
    x = coordinate(point, name, entry)
    left, right = numeric.one_sided(f, x, -1), numeric.one_sided(f, x, +1)
    checked = compare(name, analytic, ref, left, right, options.rtol, options.atol)
    if label is not None:
        checked.variable = label
    return checked
