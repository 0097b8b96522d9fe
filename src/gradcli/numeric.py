"""Numerical derivatives of a function of one variable, each with an estimate of its own error.

`f` takes an array of abscissae and returns the values there, so every stencil of a method is
evaluated in one vectorised call. Steps are made exactly representable: the divisor is
(x + h) - (x - h) as float64 computes it, not 2h.

- central:  one central difference, error O(h²) estimated from the difference at 2h, plus the
            rounding error eps·|f|/h;
- ridders:  central differences at a shrinking sequence of steps, extrapolated to h -> 0 in a
            Neville tableau (Richardson's method in Ridders' form); the error estimate comes
            from the tableau itself;
- one-sided: the same extrapolation for forward or backward differences (error O(h)), which
            tell the left and right derivatives apart at a kink;
- complex:  the complex step Im f(x + ih)/h, exact to rounding where f is analytic.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class Estimate:
    """A numerical derivative and an estimate of its error (nan when there is none)."""

    value: float
    error: float
    step: float = math.nan


NONE = Estimate(math.nan, math.inf)

Function1 = Callable[[np.ndarray], np.ndarray]


def _values(f: Function1, xs: np.ndarray) -> np.ndarray:
    return np.broadcast_to(np.asarray(f(xs), dtype=np.float64), xs.shape)


def _magnitude(values: np.ndarray) -> float:
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if finite.size else 0.0


def central(f: Function1, x: float, step: float | None = None) -> Estimate:
    """(f(x + h) - f(x - h)) / 2h with h = cbrt(eps)·max(1, |x|) unless `step` is given."""
    h = step if step is not None else EPS ** (1 / 3) * max(1.0, abs(x))
    xs = np.array([x + h, x - h, x + 2 * h, x - 2 * h, x])
    fp, fm, fp2, fm2, f0 = _values(f, xs)
    d1 = (fp - fm) / (xs[0] - xs[1])
    d2 = (fp2 - fm2) / (xs[2] - xs[3])
    if not math.isfinite(d1):
        return NONE
    truncation = abs(d2 - d1) / 3 if math.isfinite(d2) else math.inf
    rounding = EPS * max(abs(fp), abs(fm), abs(f0)) / h
    return Estimate(float(d1), float(truncation + rounding), h)


def _extrapolate(differences: np.ndarray, ratio: float, order: int) -> tuple[float, float, int]:
    """Richardson extrapolation of differences taken at steps h, h/ratio, h/ratio², ... whose
    error is a series in powers of h**order: the best entry of the Neville tableau, the change
    it made as the estimate of its error, and the index of the smallest step it used."""
    if len(differences) == 1:
        return float(differences[0]), math.inf, 0
    best, error, used = math.nan, math.inf, 0
    factor0 = ratio**order
    previous: list[float] = []
    for d in differences:
        row = [float(d)]
        factor = factor0
        for j in range(1, len(previous) + 1):
            row.append((row[j - 1] * factor - previous[j - 1]) / (factor - 1))
            factor *= factor0
            change = max(abs(row[j] - row[j - 1]), abs(row[j] - previous[j - 1]))
            if change <= error:
                best, error, used = row[j], change, len(previous)
        # stop when the extrapolation is getting worse: rounding has taken over
        if previous and abs(row[-1] - previous[-1]) >= 2 * error:
            break
        previous = row
    return best, error, used


def _richardson(differences_at: Callable[[np.ndarray], tuple[np.ndarray, float]], x: float,
                order: int, ratio: float = 1.4, count: int = 12) -> Estimate:
    """Extrapolated differences, tried from three first steps (1/10, 1/100 and 1/1000 of
    max(1, |x|)); the result with the smallest error estimate wins. Large steps whose stencil
    leaves the function's domain (non-finite values) are skipped.

    `differences_at(hs)` gives the differences at the steps and the largest |f| it used: the
    rounding of f, eps·|f|/h at the smallest step the result depends on (times 4 for the
    extrapolation's weights), is a floor under the error estimate. Without it the tableau can
    claim 1e-18 for a function that carries a constant of 1e8."""
    best = NONE
    for first in (0.1, 0.01, 0.001):
        hs = first * max(1.0, abs(x)) / ratio ** np.arange(count)
        differences, magnitude = differences_at(hs)
        finite = np.isfinite(differences)
        if not finite.any():
            continue
        start = int(np.argmax(finite))
        usable = differences[start:]
        end = int(np.argmin(np.isfinite(usable))) or len(usable)
        value, error, used = _extrapolate(usable[:end], ratio, order)
        rounding = 4 * EPS * magnitude / hs[start + used]
        error = max(error, rounding, 2 * EPS * abs(value))
        if math.isfinite(value) and error < best.error:
            best = Estimate(float(value), float(error), float(hs[start]))
    return best


def ridders(f: Function1, x: float) -> Estimate:
    """Central differences extrapolated to zero step (error series in h²)."""

    def differences(hs: np.ndarray) -> tuple[np.ndarray, float]:
        xs = np.concatenate([x + hs, x - hs])
        values = _values(f, xs)
        n = len(hs)
        return (values[:n] - values[n:]) / (xs[:n] - xs[n:]), _magnitude(values)

    return _richardson(differences, x, order=2)


def one_sided(f: Function1, x: float, side: int) -> Estimate:
    """The right (side=+1) or left (side=-1) derivative: one-sided differences extrapolated
    (error series in h)."""
    f0 = float(_values(f, np.array([x]))[0])
    if not math.isfinite(f0):
        return NONE

    def differences(hs: np.ndarray) -> tuple[np.ndarray, float]:
        xs = x + side * hs
        values = _values(f, xs)
        return (values - f0) / (xs - x), max(_magnitude(values), abs(f0))

    return _richardson(differences, x, order=1)


def complex_step(f_complex: Callable[[np.ndarray], np.ndarray], x: float) -> Estimate:
    """Im f(x + ih)/h with h = 1e-20·max(1, |x|): no subtraction, so no cancellation."""
    h = 1e-20 * max(1.0, abs(x))
    value = complex(np.asarray(f_complex(np.array([complex(x, h)])), dtype=np.complex128).ravel()[0])
    d = value.imag / h
    if not math.isfinite(d):
        return NONE
    return Estimate(d, 2 * EPS * abs(d), h)


def sweep(f: Function1, x: float, decades: range = range(1, 14)) -> list[tuple[float, float]]:
    """(h, central difference) for h = 10**-k·max(1, |x|): against a right gradient its error
    falls as h² until rounding takes over, against a wrong one it levels off."""
    hs = 10.0 ** -np.array(list(decades), dtype=np.float64) * max(1.0, abs(x))
    xs = np.concatenate([x + hs, x - hs])
    values = _values(f, xs)
    n = len(hs)
    differences = (values[:n] - values[n:]) / (xs[:n] - xs[n:])
    return [(float(h), float(d)) for h, d in zip(hs, differences, strict=True)]
