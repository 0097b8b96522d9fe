"""Checks of array variables: every entry, or random directions and bisection.

An array of up to `full_limit` entries is checked entry by entry, each entry a derivative like
any other (gradcli.compare). A larger one is checked along `probes` random unit directions d:
the analytic directional derivative sum(g * d) against the numerical derivative of
t -> f(x + t d) at 0. When a direction fails, the entries it moves are split in two halves and
each half checked as a direction of its own, down to the single entries that are wrong.

The row of an array keeps the shape of a scalar's row: the numbers of its worst entry (or
direction), `index` that entry, and `checked` what was checked ({"entries": n} or
{"probes": k, "entries": m} with the m entries bisection checked on its own).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping

import numpy as np

from gradcli import numeric
from gradcli.api import Function
from gradcli.compare import (
    Options,
    VariableCheck,
    check_derivative,
    compare,
    estimate,
    finite_or_inf,
)
from gradcli.errors import PointError, UsageError
from gradcli.evaluation import evaluate
from gradcli.graph import ancestors

SEVERITY = {"unconnected": 0, "pass": 1, "kink": 2, "inconclusive": 3, "fail": 4}
GUILTY_LIMIT = 16  # bisection stops after finding this many wrong entries


def work(size: int, options: Options) -> int:
    """How many derivatives (entries or directions) an array of `size` entries costs."""
    return size if size <= options.full_limit else options.probes


def _worse(a: VariableCheck, b: VariableCheck | None) -> bool:
    if b is None:
        return True
    key_a = (SEVERITY[a.verdict], finite_or_inf(a.rel_error))
    key_b = (SEVERITY[b.verdict], finite_or_inf(b.rel_error))
    return key_a > key_b


def _verdict(counts: Counter) -> str:
    for verdict in ("fail", "inconclusive", "kink", "pass"):
        if counts[verdict]:
            return verdict
    return "unconnected"


def _tally(counts: Counter, total: int, what: str) -> str:
    parts = ", ".join(f"{counts[v]} {v}" for v in ("pass", "kink", "unconnected", "inconclusive",
                                                    "fail") if counts[v])
    if total == 1:
        what = {"entries": "entry", "random directions": "random direction"}[what]
    return f"{total} {what}: {parts}"


def _entries(entries: list[tuple[int, ...]], limit: int = 5) -> str:
    shown = ", ".join(str(list(e)) for e in entries[:limit])
    return shown + (f" and {len(entries) - limit} more" if len(entries) > limit else "")


def check_array(function: Function, point: Mapping[str, object], name: str, analytic,
                options: Options, progress: Callable[[], None] | None = None) -> VariableCheck:
    """The row of the array variable `name` (`analytic` its gradient, None if unconnected)."""
    shape = np.shape(point[name])
    size = int(np.prod(shape))
    if size == 0:
        raise PointError(f"'{name}' has shape {shape}: no entries, nothing to check")
    if analytic is not None and size <= options.full_limit:
        return _every_entry(function, point, name, np.asarray(analytic), options, progress)
    return _probes(function, point, name, analytic, options, progress)


def _every_entry(function, point, name, analytic, options, progress) -> VariableCheck:
    worst, counts, failing = None, Counter(), []
    for entry in np.ndindex(analytic.shape):
        result = check_derivative(function, point, name, float(analytic[entry]), options,
                                  entry=entry)
        result.index = [int(k) for k in entry]
        counts[result.verdict] += 1
        if result.verdict == "fail":
            failing.append(entry)
        if _worse(result, worst):
            worst = result
        if progress is not None:
            progress()
    assert worst is not None
    notes = [f"failing: {_entries(failing)}" if failing else "",
             f"worst entry {worst.index}: {worst.note}" if worst.note else ""]
    return _row(worst, counts, analytic.size, "entries", notes, {"entries": analytic.size})


def _row(worst: VariableCheck, counts: Counter, total: int, what: str, notes: list[str],
         checked: dict[str, int]) -> VariableCheck:
    """The row of an array: its worst derivative, the verdict of all, a tally and notes."""
    worst.verdict = _verdict(counts)
    worst.note = "; ".join(filter(None, [_tally(counts, total, what), *notes]))
    worst.checked = checked
    return worst


def _line(function: Function, point: Mapping[str, object], name: str, direction: np.ndarray):
    """t -> f(x + t d): the function along a direction of the array variable `name`."""
    base = np.asarray(point[name], dtype=np.float64)
    output = function.output
    nodes = ancestors([output])

    def f(ts: np.ndarray) -> np.ndarray:
        ts = np.asarray(ts)
        values = []
        for t in ts.ravel():
            inputs = dict(point)
            inputs[name] = base + t * direction
            values.append(evaluate([output], inputs, nodes)[output.index])
        return np.array(values).reshape(ts.shape)

    return f


def _direction(function, point, name, analytic, direction, options, label) -> VariableCheck:
    """The directional derivative along `direction` against the reference."""
    if options.method == "mpmath":
        raise UsageError("--method mpmath checks arrays entry by entry: raise --full-limit to "
                         "the size of the largest array")
    f = _line(function, point, name, direction)
    ref = estimate(function, name, f, 0.0, options.method, options.step)
    left, right = numeric.one_sided(f, 0.0, -1), numeric.one_sided(f, 0.0, +1)
    claimed = None if analytic is None else float(np.sum(analytic * direction))
    return compare(label, claimed, ref, left, right, options.rtol, options.atol)


def _probes(function, point, name, analytic, options, progress) -> VariableCheck:
    shape = np.shape(point[name])
    rng = np.random.default_rng(options.seed)
    worst, counts, guilty, bisected = None, Counter(), [], 0
    for k in range(options.probes):
        direction = rng.standard_normal(shape)
        direction /= np.linalg.norm(direction)
        result = _direction(function, point, name, analytic, direction, options, name)
        counts[result.verdict] += 1
        if result.verdict == "fail" and analytic is not None and len(guilty) < GUILTY_LIMIT:
            found, checked = _bisect(function, point, name, analytic, direction, options)
            guilty += [e for e in found if e not in guilty]
            bisected += checked
        if _worse(result, worst):
            worst = result
            worst.note = "; ".join(filter(None, [f"the worst is direction {k + 1}", result.note]))
        if progress is not None:
            progress()
    assert worst is not None
    if guilty:
        worst.index = [int(k) for k in guilty[0]]
    notes = [f"bisection finds the wrong entries {_entries(guilty)}" if guilty else "", worst.note]
    checked = {"probes": options.probes, **({"entries": bisected} if bisected else {})}
    return _row(worst, counts, options.probes, "random directions", notes, checked)


def _bisect(function, point, name, analytic, direction, options) -> tuple[list, int]:
    """The entries of a failing direction that are wrong: halves of its support are checked as
    directions of their own, the failing ones split again, down to single entries."""
    shape = direction.shape
    pending = [np.arange(direction.size)]
    found, checked = [], 0
    while pending and len(found) < GUILTY_LIMIT:
        support = pending.pop()
        halves = [support] if support.size == 1 else np.array_split(support, 2)
        for half in halves:
            part = np.zeros(direction.size)
            part[half] = direction.ravel()[half]
            if not part.any():
                continue
            part = part.reshape(shape) / np.linalg.norm(part)
            checked += 1
            result = _direction(function, point, name, analytic, part, options, name)
            if result.verdict != "fail":
                continue
            if half.size == 1:
                found.append(tuple(int(k) for k in np.unravel_index(int(half[0]), shape)))
            elif support.size > 1:
                pending.append(half)
    return found, checked
