"""--at points: `x=2,y=pi/4` read through the grammar, each value a constant expression, an
array (`v=[0.2, 0.3, 0.5]`) or an array in a file (`X=@data.npy`, .npy, .csv or .txt)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gradcli.errors import InputError, PointError
from gradcli.evaluation import evaluate, nonfinite_warnings
from gradcli.functions import BY_NAME, CONSTANTS
from gradcli.initializers import load_array
from gradcli.parsing import parse_point


def read_point(text: str, warnings: list[str] | None = None, option: str = "--at",
               folder: Path | None = None) -> dict[str, object]:
    """The values of one point, in the order given: 'x=2,y=3' -> {'x': 2.0, 'y': 3.0}; an
    array value is a float64 array. An error names `option`, where the text was given (--at,
    --grad, --v, --seed-dir).

    A value that comes out nan or inf from finite numbers (x=log(-1)) is kept, and a sentence
    saying where it came from is appended to `warnings`. A file `@data.npy` is read from
    `folder` (a spec's, for its check statements) unless its path is absolute.
    """
    try:
        return _read_point(text, warnings, folder)
    except InputError as error:
        if error.source == "point" and option != "--at":
            error.source = option
        raise


def _read_point(text: str, warnings: list[str] | None, folder: Path | None = None
                ) -> dict[str, object]:
    bindings, used = parse_point(text)
    if used:
        name, (line, column) = next(iter(used.items()))
        raise PointError(f"the value of a variable must be a number or a constant expression "
                         f"(pi/4, 2e-3, sqrt(2)); '{name}' has no value here",
                         text, line, column, source="point")
    point: dict[str, float] = {}
    for binding in bindings:
        where = dict(text=text, line=binding.line, column=binding.column, source="point")
        if binding.name in CONSTANTS:
            raise PointError(f"'{binding.name}' is a constant ({CONSTANTS[binding.name]!r}) and "
                             f"cannot be given a value; name the variable differently", **where)
        if binding.name in BY_NAME:
            raise PointError(f"'{binding.name}' is a function and cannot be given a value", **where)
        if binding.name in point:
            raise PointError(f"'{binding.name}' is given twice in one point", **where)
        if binding.path is not None:
            try:
                path = Path(binding.path)
                point[binding.name] = load_array(folder / path if folder is not None else path)
            except InputError as error:
                raise PointError(error.message, **where) from None
            continue
        values = evaluate([binding.value], {})
        if warnings is not None:
            warnings += [f"--at {binding.name}: {sentence}"
                         for sentence in nonfinite_warnings([binding.value], values)]
        value = np.asarray(values[binding.value.index], dtype=np.float64)
        point[binding.name] = float(value) if value.ndim == 0 else value
    return point


DEFAULT_DOMAIN = (-2.0, 2.0)


def read_domain(text: str) -> dict[str, tuple[float, float]]:
    """'x=-3:3,a=0.1:2' -> {'x': (-3.0, 3.0), 'a': (0.1, 2.0)}; bounds may be constant
    expressions (x=-pi:pi)."""
    domain: dict[str, tuple[float, float]] = {}
    offset = 0
    for item in text.split(","):
        column = offset + 1
        offset += len(item) + 1
        name, equals, bounds = item.partition("=")
        low, colon, high = bounds.partition(":")
        where = dict(text=text, line=1, column=column, source="domain")
        if not equals or not colon or not name.strip():
            raise PointError(f"malformed --domain item {item.strip()!r}: write NAME=LOW:HIGH, "
                             "e.g. x=-3:3", **where)
        try:
            bounds_read = read_point(f"low={low},high={high}")
        except PointError:
            raise PointError(f"the bounds of {item.strip()!r} must be numbers or constant "
                             "expressions, e.g. x=-pi:pi", **where) from None
        lo, hi = bounds_read["low"], bounds_read["high"]
        if np.ndim(lo) or np.ndim(hi):
            raise PointError(f"the bounds of {item.strip()!r} must be numbers, not arrays", **where)
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise PointError(f"the domain of '{name.strip()}' must be finite with LOW < HIGH, "
                             f"not {lo!r}:{hi!r}", **where)
        domain[name.strip()] = (lo, hi)
    return domain


def sample_points(names: list[str], count: int, seed: int,
                  domain: dict[str, tuple[float, float]], fixed: dict[str, float]
                  ) -> list[dict[str, float]]:
    """`count` points drawn uniformly from each variable's domain (-2:2 unless given), the same
    for the same seed; variables in `fixed` keep their value."""
    rng = np.random.default_rng(seed)
    free = [name for name in names if name not in fixed]
    draws = {name: rng.uniform(*domain.get(name, DEFAULT_DOMAIN), size=count) for name in free}
    return [{**fixed, **{name: float(draws[name][k]) for name in free}} for k in range(count)]
