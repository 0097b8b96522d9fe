"""--at points: `x=2,y=pi/4` read through the grammar, each value a constant expression."""

from __future__ import annotations

import numpy as np

from gradcli.errors import PointError
from gradcli.evaluation import evaluate, nonfinite_warnings
from gradcli.functions import BY_NAME, CONSTANTS
from gradcli.parsing import parse_point


def read_point(text: str, warnings: list[str] | None = None) -> dict[str, float]:
    """The values of one point, in the order given: 'x=2,y=3' -> {'x': 2.0, 'y': 3.0}.

    A value that comes out nan or inf from finite numbers (x=log(-1)) is kept, and a sentence
    saying where it came from is appended to `warnings`.
    """
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
        values = evaluate([binding.value], {})
        if warnings is not None:
            warnings += [f"--at {binding.name}: {sentence}"
                         for sentence in nonfinite_warnings([binding.value], values)]
        point[binding.name] = float(np.float64(values[binding.value.index]))
    return point
