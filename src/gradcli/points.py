"""--at points: `x=2,y=pi/4` read through the grammar, each value a constant expression."""

from __future__ import annotations

import numpy as np

from gradcli.errors import PointError
from gradcli.evaluation import evaluate
from gradcli.functions import BY_NAME, CONSTANTS
from gradcli.parsing import parse_point


def read_point(text: str) -> dict[str, float]:
    """The values of one point, in the order given: 'x=2,y=3' -> {'x': 2.0, 'y': 3.0}."""
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
        value = evaluate([binding.value], {})[binding.value.index]
        point[binding.name] = float(np.float64(value))
    return point
