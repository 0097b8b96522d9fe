"""Probe mode: the whole gradient checked along a few random directions, at a fixed cost.

A model's gradient has as many entries as its params; checking each against its own numerical
derivative costs a dozen evaluations or more per entry. Probe mode checks K random directions
d through every checked variable at once: the directional derivative the gradient claims,
sum(g · d), against one central difference of the function along d,

    (f(x + h d) - f(x - h d)) / 2h,      h = cbrt(eps),

so that the check costs 2K evaluations of the function, plus the one evaluation and the one
backward pass that gave the gradient: 2K + 1 forward evaluations and one backward pass in all,
counted as they happen and reported (`evaluations`).

Each entry of d is a standard normal number scaled by max(1, |x_i|), so that every entry moves
by about the same relative step, whatever its magnitude; the directions are seeded. A wrong
entry shows in every direction that moves it (unless its error is below the central
difference's own, about 1e-7 relative: the default tolerance is that of --method central). A
failing direction says that some entry is wrong, not which: the entries mode finds those.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from gradcli.api import Function
from gradcli.compare import Options, VariableCheck, compare
from gradcli.evaluation import evaluate
from gradcli.graph import ancestors
from gradcli.numeric import EPS, NONE, Estimate

STEP = EPS ** (1 / 3)


def check_probes(function: Function, point: Mapping[str, object],
                 gradient: Mapping[str, object], names: Sequence[str], options: Options
                 ) -> tuple[list[VariableCheck], int]:
    """One row per random direction ('probe 1', ...) and the number of evaluations of the
    function made for them. `gradient` maps each name to its gradient (None: unconnected, a
    claimed 0)."""
    rng = np.random.default_rng(options.seed)
    base = {name: np.asarray(point[name], dtype=np.float64) for name in names}
    output = function.output
    nodes = ancestors([output])
    evaluations = 0

    def f(inputs: Mapping[str, object]) -> float:
        nonlocal evaluations
        evaluations += 1
        return float(evaluate([output], inputs, nodes)[output.index])

    rows = []
    for k in range(options.probes):
        raw = {name: rng.standard_normal(x.shape) for name, x in base.items()}
        norm = math.sqrt(sum(float(np.sum(z * z)) for z in raw.values()))
        direction = {name: z / norm * np.maximum(1.0, np.abs(base[name]))
                     for name, z in raw.items()}
        ahead = {**point, **{n: base[n] + STEP * d for n, d in direction.items()}}
        behind = {**point, **{n: base[n] - STEP * d for n, d in direction.items()}}
        up, down = f(ahead), f(behind)
        reference = _central(up, down, STEP)
        claimed = sum(float(np.sum(np.asarray(gradient[n], dtype=np.float64) * d))
                      for n, d in direction.items() if gradient.get(n) is not None)
        row = compare(f"probe {k + 1}", claimed, reference, NONE, NONE, options.rtol,
                      options.atol)
        row.note = "; ".join(filter(None, [
            row.note, "some entry of the gradient is wrong along this direction (check without "
                      "--mode probes to find which)" if row.verdict == "fail" else ""]))
        rows.append(row)
    return rows, evaluations


def _central(up: float, down: float, h: float) -> Estimate:
    """The central difference, with its rounding error as the estimate (two evaluations give no
    estimate of the truncation error, which at h = cbrt(eps) is about h² |f'''| / 6)."""
    if not (math.isfinite(up) and math.isfinite(down)):
        return NONE
    return Estimate((up - down) / (2 * h), EPS * max(abs(up), abs(down)) / h, h)
