"""Second order and Jacobians at a point: Hessians, Jacobians, JVPs and HVPs.

All from the function's one graph and its table of VJP rules, without finite differences:
  jacobian  reverse mode, the cotangent seed a variable, evaluated once per output entry;
  jvp       forward mode (gradcli.forward), the direction a variable;
  hvp       forward over reverse: the tangent of the gradient along the direction;
  hessian   the hvp graph evaluated along each unit direction (one column per entry).
Each graph is built once and evaluated as often as the result has rows or columns.

A variable the output has no path to is unconnected: None (or zeros with
unconnected='zero'), as for the gradient. A gradient that does not depend on the variables (of
a linear function) has a Hessian of zeros, not None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from gradcli.api import UNCONNECTED_MODES, Function
from gradcli.autodiff import UNCONNECTED, backward
from gradcli.errors import PointError, ShapeError, UsageError, suggest
from gradcli.evaluation import nonfinite_warnings
from gradcli.forward import TANGENT, tangent_name, tangent_variable, tangents
from gradcli.ops.core import variable
from gradcli.report import DerivativeResult, number_or_array

MAX_ENTRIES = 4096  # rows or columns of a Hessian or Jacobian (it has up to this squared)


def jacobian(f: Function, at: Mapping[str, object], wrt: Sequence[str] | None = None,
             unconnected: str = "none", max_entries: int = MAX_ENTRIES) -> DerivativeResult:
    """∂(output entries)/∂(variable entries): a row per output entry (row-major)."""
    f, given, point, names = _setup(f, at, wrt, unconnected)
    out = f.output
    seed = variable(f.graph, TANGENT + "seed", out.shape)
    nodes = [f.variable_node(name) for name in names]
    reverse = backward(out, [n for n in nodes if n is not None], seed=seed)
    grads = [reverse.gradient(node) for node in nodes]
    _limit(out.size, "rows (output entries)", max_entries)
    rows, values = [], None
    for entry in range(out.size):
        unit = np.zeros(out.size)
        unit[entry] = 1.0
        values = f._run([out, *(g for g in grads if g is not UNCONNECTED)],
                        {**point, seed.attrs[0]: unit.reshape(out.shape)})
        row: list = []
        for name, node, g in zip(names, nodes, grads, strict=True):
            row += _entries(values, g, _shape(node, given, name), unconnected)
        rows.append(row)
    return _result(f, given, point, "jacobian", names, rows, values, unconnected)


def jvp(f: Function, at: Mapping[str, object], v: Mapping[str, object],
        unconnected: str = "none") -> DerivativeResult:
    """J·v, of the output's shape, along the direction `v` (0 for a variable it leaves out)."""
    f, given, point, names = _setup(f, at, None, unconnected)
    seeds = {node.index: tangent_variable(node) for name in names
             if (node := f.variable_node(name)) is not None}
    tangent = tangents([f.output], seeds).get(f.output.index)
    inputs = {**point, **direction_inputs(f, names, v)}
    values = f._run([f.output] + ([tangent] if tangent is not None else []), inputs)
    result = values[tangent.index] if tangent is not None else np.zeros(f.output.shape)
    return _result(f, given, point, "jvp", names, number_or_array(result), values, unconnected)


def hvp(f: Function, at: Mapping[str, object], v: Mapping[str, object],
        unconnected: str = "none") -> DerivativeResult:
    """H·v, one value per variable, by forward mode over the reverse-mode gradient."""
    f, given, point, names = _setup(f, at, None, unconnected, scalar=True)
    products = _hvp_nodes(f, names)
    values = f._run([f.output, *(p for p in products if p not in (None, UNCONNECTED))],
                    {**point, **direction_inputs(f, names, v)})
    result = [_value(values, p, _shape(f.variable_node(n), given, n), unconnected)
              for n, p in zip(names, products, strict=True)]
    return _result(f, given, point, "hvp", names, result, values, unconnected)


def hessian(f: Function, at: Mapping[str, object], wrt: Sequence[str] | None = None,
            unconnected: str = "none", max_entries: int = MAX_ENTRIES) -> DerivativeResult:
    """∂²f/∂a∂b over the entries of the variables; symmetric up to rounding."""
    f, given, point, names = _setup(f, at, wrt, unconnected, scalar=True)
    shapes = [_shape(f.variable_node(n), given, n) for n in names]
    sizes = [int(np.prod(s)) for s in shapes]
    _limit(sum(sizes), "entries of the variables", max_entries)
    products = _hvp_nodes(f, names)
    roots = [f.output, *(p for p in products if p not in (None, UNCONNECTED))]
    columns, values = [], None
    for j, (name, shape) in enumerate(zip(names, shapes, strict=True)):
        for entry in range(sizes[j]):
            unit = np.zeros(sizes[j])
            unit[entry] = 1.0
            direction = {name: unit.reshape(shape)}
            values = f._run(roots, {**point, **direction_inputs(f, names, direction)})
            column: list = []
            for p, s in zip(products, shapes, strict=True):
                column += _entries(values, p, s, unconnected)
            if products[j] is UNCONNECTED:
                column = [None if unconnected == "none" else 0.0] * len(column)
            columns.append(column)
    if values is None:
        values = f._run([f.output], point)
    rows = [list(row) for row in zip(*columns, strict=True)] if columns else []
    return _result(f, given, point, "hessian", names, rows, values, unconnected)


# ---------------------------------------------------------------------------------------------


def _setup(f: Function, at: Mapping[str, object], wrt: Sequence[str] | None, unconnected: str,
           scalar: bool = False):
    if unconnected not in UNCONNECTED_MODES or unconnected == "error":
        raise UsageError(f"unconnected must be none or zero, not {unconnected!r}")
    built, given, point, _ = f._prepare(at, False)
    if scalar and built.output.shape:
        raise ShapeError(f"the output {built.name} has shape {built.output.shape}: second "
                         "derivatives need a number; reduce it (sum(...), mean(...)) first")
    names = list(built.variables if wrt is None else wrt)
    for name in names:
        if built.variable_node(name) is None and name not in given:
            raise PointError(f"'{name}' is not a variable of the expression"
                             f"{suggest(name, built.variables)}")
    return built, given, point, names


def _hvp_nodes(f: Function, names: Sequence[str]) -> list:
    """Per variable: the node of (H·v) for that variable, None where it is a zero (the
    gradient does not depend on the variables), UNCONNECTED where the gradient is."""
    gradients = [f.gradient_node(name) for name in names]
    seeds = {node.index: tangent_variable(node) for name in f.variables
             if (node := f.variable_node(name)) is not None}
    connected = [g for g in gradients if g is not UNCONNECTED]
    found = tangents(connected, seeds)
    return [g if g is UNCONNECTED else found.get(g.index) for g in gradients]


def direction_inputs(f: Function, names: Sequence[str], v: Mapping[str, object]
                     ) -> dict[str, np.ndarray]:
    """The direction `v` (over `names`) as the values of the tangent variables of every
    variable of `f`: zeros where `v` says nothing."""
    unknown = [name for name in v if name not in names]
    if unknown:
        raise PointError(f"the direction names '{unknown[0]}', which is not a variable of the "
                         f"expression{suggest(unknown[0], names)}")
    out = {}
    for name in f.variables:
        node = f.variable_node(name)
        if node is None:
            continue
        value = np.asarray(v.get(name, 0.0), dtype=np.float64)
        if value.shape != node.shape:
            if value.ndim:
                raise PointError(f"the direction of '{name}' has shape {value.shape}; '{name}' "
                                 f"has shape {node.shape}")
            value = np.full(node.shape, float(value))
        if name not in names:
            value = np.zeros(node.shape)
        out[tangent_name(name)] = value
    return out


def _shape(node, given: Mapping, name: str) -> tuple[int, ...]:
    return node.shape if node is not None else np.shape(given.get(name, 0.0))


def _value(values: Mapping, node, shape: tuple[int, ...], unconnected: str):
    if node is UNCONNECTED:
        return None if unconnected == "none" else number_or_array(np.zeros(shape))
    if node is None:
        return number_or_array(np.zeros(shape))
    return number_or_array(np.broadcast_to(values[node.index], shape))


def _entries(values: Mapping, node, shape: tuple[int, ...], unconnected: str) -> list:
    value = _value(values, node, shape, unconnected)
    size = int(np.prod(shape))
    if value is None:
        return [None] * size
    return [float(x) for x in np.ravel(value)]


def _limit(count: int, what: str, limit: int) -> None:
    if count > limit:
        raise UsageError(f"{count} {what}: more than the {limit} this computes (the result "
                         "would have that many squared entries, each pass one row or column; "
                         "raise the limit with --max-entries); use hvp or jvp for products "
                         "with a direction")


def _result(f: Function, given, point, kind, names, result, values, unconnected
            ) -> DerivativeResult:
    warnings = f.notes + nonfinite_warnings([f.output], values, show=f.show)
    shapes = {n: _shape(f.variable_node(n), given, n) for n in names}
    return DerivativeResult(f.name, given, number_or_array(values[f.output.index]), warnings,
                            kind=kind, variables=list(names), result=result, shapes=shapes,
                            inputs=point)
