"""Results and their stable forms: the JSON object of the output contract, and plain lines.

The JSON keys and their order are a contract (scripts and CI read them):
    {"expression", "point", "value", "gradient", "unconnected"[, "warnings"]}
Numbers are written with repr precision; a non-finite number is written as the string "nan",
"inf" or "-inf" (strict JSON has no such numbers), with a warning saying so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


def json_text(data: dict) -> str:
    """One report as strict JSON (json is imported here, when JSON is asked for: a plain
    gradient on the command line never needs it)."""
    import json

    return json.dumps(data, ensure_ascii=False, allow_nan=False)


def jsonable(value, path: str, notes: list[str]):
    """float or nested lists of floats; non-finite numbers become strings, noted in `notes`."""
    if value is None:
        return None
    array = np.asarray(value, dtype=np.float64)
    if array.ndim:
        items = [jsonable(item, f"{path}[{k}]", notes) for k, item in enumerate(array)]
        return items
    number = float(array)
    if math.isfinite(number):
        return number
    text = "nan" if math.isnan(number) else ("inf" if number > 0 else "-inf")
    notes.append(f"{path} is {text}, written as the string \"{text}\"")
    return text


def number_or_array(value):
    """A float for a number, a fresh float64 array otherwise: how results hold values."""
    array = np.asarray(value, dtype=np.float64)
    return float(array) if array.ndim == 0 else array.copy()


def _plain(value) -> str:
    if value is None:
        return "None"
    array = np.asarray(value, dtype=np.float64)
    if array.ndim:
        return "[" + ", ".join(_plain(item) for item in array) + "]"
    return repr(float(array))


@dataclass
class EvalResult:
    expression: str
    point: dict[str, object]  # as given
    value: object
    warnings: list[str] = field(default_factory=list)
    # every value the function was evaluated with (a spec's params too); not part of the JSON
    inputs: dict[str, object] = field(default_factory=dict, kw_only=True, repr=False)
    # what an option added (a trace, an explanation): objects with to_dict(notes), in the JSON
    # after the fields of the contract and before the warnings
    extra: dict[str, object] = field(default_factory=dict, kw_only=True, repr=False)

    def to_dict(self) -> dict:
        """The JSON object of the output contract (strict JSON: no nan or inf numbers)."""
        notes: list[str] = []
        out = self._fields(notes)
        for key, value in self.extra.items():
            out[key] = value.to_dict(notes)
        if self.warnings or notes:
            out["warnings"] = self.warnings + notes
        return out

    def _fields(self, notes: list[str]) -> dict:
        return {"expression": self.expression,
                "point": {k: jsonable(v, k, notes) for k, v in self.point.items()},
                "value": jsonable(self.value, "value", notes)}

    def to_json(self) -> str:
        return json_text(self.to_dict())

    def to_plain(self) -> str:
        return _plain(self.value)


@dataclass
class GradResult(EvalResult):
    """Value and gradient at one point (or elementwise over arrays of points).

    `gradient` maps each variable asked for, in that order, to its value, or to None where it is
    unconnected and the mode is 'none'; `unconnected` lists the unconnected variables whatever
    the mode.
    """

    gradient: dict[str, object] = field(default_factory=dict)
    unconnected: list[str] = field(default_factory=list)

    def _fields(self, notes: list[str]) -> dict:
        out = super()._fields(notes)
        out["gradient"] = {k: jsonable(v, f"gradient[{k}]", notes)
                           for k, v in self.gradient.items()}
        out["unconnected"] = list(self.unconnected)
        return out

    def to_plain(self) -> str:
        return " ".join(_plain(v) for v in self.gradient.values())


@dataclass
class DerivativeResult(EvalResult):
    """A Hessian, a Jacobian, or a Jacobian- or Hessian-vector product at one point.

    `kind` is 'hessian', 'jacobian', 'jvp' or 'hvp', the JSON key of `result`:
      hessian   rows and columns: the entries of the variables, in `variables` order;
      jacobian  a row per entry of the output, a column per entry of the variables;
      jvp       J·v, of the output's shape;
      hvp       H·v, a value per variable (of its shape), in `variables` order.
    An array variable stands for its entries in row-major order; `shapes` then gives the
    shape of every variable. A None (null) is unconnected: no path from the output.
    """

    kind: str = "hessian"
    variables: list[str] = field(default_factory=list)
    result: object = None
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def _fields(self, notes: list[str]) -> dict:
        out = super()._fields(notes)
        out["variables"] = list(self.variables)
        if any(self.shapes.values()):
            out["shapes"] = {name: list(shape) for name, shape in self.shapes.items()}
        out[self.kind] = _nested(self.result, self.kind, notes)
        return out

    def to_plain(self) -> str:
        """One line per row; the numbers of a row separated by spaces."""
        if self.kind == "hvp":
            return "\n".join(_plain(v) for v in self.result)
        if self.kind == "jvp":
            return _plain(self.result)
        return "\n".join(" ".join(_plain(v) for v in row) for row in self.result)


def _nested(value, path: str, notes: list[str]):
    """jsonable() over lists that may hold None (unconnected) anywhere."""
    if isinstance(value, list):
        return [_nested(item, f"{path}[{k}]", notes) for k, item in enumerate(value)]
    return jsonable(value, path, notes)
