"""The Python API: `parse`, `grad`, `evaluate`. The command line is a thin layer over it.

    >>> f = parse("x**2*sin(x)")
    >>> f.variables
    ('x',)
    >>> f(x=2.0)
    3.637189707302727
    >>> f.grad(x=2.0).gradient
    {'x': 1.9726023611141572}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from gradcli.autodiff import UNCONNECTED, Backward, Unconnected, backward
from gradcli.errors import PointError, UnconnectedError, UsageError, suggest
from gradcli.evaluation import MissingValue, evaluate, nonfinite_warnings
from gradcli.functions import BY_NAME, CONSTANTS
from gradcli.graph import Graph, Node, ancestors
from gradcli.ops.core import VARIABLE
from gradcli.parsing import Parsed, parse_expression
from gradcli.printing import to_text
from gradcli.report import EvalResult, GradResult

UNCONNECTED_MODES = ("none", "zero", "error")


class Function:
    """A differentiable function of named variables, backed by a graph."""

    def __init__(self, text: str, graph: Graph, output: Node,
                 positions: Mapping[str, tuple[int, int]]):
        self.text = text
        self.graph = graph
        self.output = output
        self.positions = dict(positions)
        self._backward: Backward | None = None

    @classmethod
    def from_parsed(cls, parsed: Parsed) -> Function:
        return cls(parsed.text, parsed.graph, parsed.output, parsed.positions)

    @property
    def variables(self) -> tuple[str, ...]:
        """The free variables, in order of first appearance in the text."""
        return tuple(self.positions)

    def __str__(self) -> str:
        return to_text(self.output)

    def __repr__(self) -> str:
        return f"Function({str(self)!r})"

    # evaluation

    def __call__(self, at: Mapping[str, object] | None = None, /, **values):
        """The value at a point: f(x=2) or f({'x': 2}); arrays evaluate elementwise."""
        return self.evaluate(_merge(at, values)).value

    def evaluate(self, at: Mapping[str, object]) -> EvalResult:
        given, point, shape = _read_point(at)
        values = self._run([self.output], point)
        value = _shaped(values[self.output.index], shape)
        warnings = nonfinite_warnings([self.output], values)
        return EvalResult(self.text, given, value, warnings)

    # differentiation

    def backward(self) -> Backward:
        """The reverse pass with respect to every free variable (built once, then reused)."""
        if self._backward is None:
            wrt = [self.variable_node(name) for name in self.variables]
            self._backward = backward(self.output, [node for node in wrt if node is not None])
        return self._backward

    def gradient_node(self, name: str) -> Node | Unconnected:
        """The node of ∂f/∂name, or UNCONNECTED when the output has no path to `name`."""
        return self.backward().gradient(self.variable_node(name))

    def derivative(self, name: str) -> Function | None:
        """∂f/∂name as a Function of its own (None where unconnected): second derivatives are
        `f.derivative('x').derivative('x')`."""
        node = self.gradient_node(name)
        if node is UNCONNECTED:
            return None
        used = {n.attrs[0] for n in ancestors([node]) if n.op is VARIABLE}
        positions = {v: p for v, p in self.positions.items() if v in used}
        return Function(to_text(node), self.graph, node, positions)

    def grad(self, at: Mapping[str, object] | None = None, /, *, wrt: Sequence[str] | None = None,
             unconnected: str = "none", **values) -> GradResult:
        """Value and gradient at a point; `unconnected` is 'none', 'zero' or 'error'."""
        if unconnected not in UNCONNECTED_MODES:
            raise UsageError(f"unconnected must be one of {', '.join(UNCONNECTED_MODES)}, "
                             f"not {unconnected!r}")
        given, point, shape = _read_point(_merge(at, values))
        names = list(self.variables if wrt is None else wrt)
        nodes = {name: self.gradient_node(name) for name in names}
        missing = [name for name, node in nodes.items() if node is UNCONNECTED]
        if missing and unconnected == "error":
            raise UnconnectedError(
                f"the gradient of {self.text!r} with respect to {_names(missing)} is unconnected: "
                f"no path from the output leads to {'it' if len(missing) == 1 else 'them'}"
                " (or every path goes through an operation with no gradient)")
        connected = [node for node in nodes.values() if node is not UNCONNECTED]
        values_ = self._run([self.output, *connected], point)
        # a name asked for that stands nowhere, neither in the expression nor in the point, is
        # unconnected like any other, and most likely a typo: say so
        notes = [f"'{name}' is not a variable of the expression (its gradient is unconnected)"
                 f"{suggest(name, self.variables)}"
                 for name in missing if name not in self.positions and name not in given]
        gradient: dict[str, object] = {}
        for name, node in nodes.items():
            if node is UNCONNECTED:
                gradient[name] = None if unconnected == "none" else _shaped(0.0, shape)
            else:
                gradient[name] = _shaped(values_[node.index], shape)
        warnings = notes + nonfinite_warnings([self.output], values_)
        warnings += nonfinite_warnings(connected, values_, " in the gradient", skip=warnings)
        value = _shaped(values_[self.output.index], shape)
        return GradResult(self.text, given, value, warnings, gradient, missing)

    # helpers

    def variable_node(self, name: str) -> Node | None:
        """The graph's node of the variable `name`, if the expression has it."""
        return self.graph.find(VARIABLE, (name,))

    def _run(self, roots: Sequence[Node], point: Mapping[str, object]) -> dict:
        try:
            return evaluate(roots, point)
        except MissingValue as error:
            line, column = self.positions.get(error.name, (1, None))
            known = [n for n in point if n not in self.positions]
            hint = suggest(error.name, [*known, *CONSTANTS])
            if not hint:
                for name in sorted(BY_NAME, key=len, reverse=True):
                    rest = error.name[len(name):]
                    if error.name.startswith(name) and rest:
                        hint = f"; did you mean {name}({rest})?"
                        break
            raise PointError(f"no value for variable '{error.name}' (give it with "
                             f"--at {error.name}=...){hint}", self.text, line, column) from None


def parse(text: str) -> Function:
    """The function of an expression such as 'log(x1) + x1*x2 - sin(x2)'."""
    return Function.from_parsed(parse_expression(text))


def grad(text: str, at: Mapping[str, object], wrt: Sequence[str] | None = None,
         unconnected: str = "none") -> GradResult:
    """Value and gradient of an expression at a point: `grad('x*y', at={'x': 2, 'y': 3})`."""
    return parse(text).grad(at, wrt=wrt, unconnected=unconnected)


def evaluate_at(text: str, at: Mapping[str, object]) -> EvalResult:
    """The value of an expression at a point."""
    return parse(text).evaluate(at)


# ---------------------------------------------------------------------------------------------


def _merge(at: Mapping[str, object] | None, values: Mapping[str, object]) -> dict[str, object]:
    merged = dict(at or {})
    merged.update(values)
    return merged


def _read_point(at: Mapping[str, object]) -> tuple[dict, dict, tuple[int, ...]]:
    """(the point as given, as float64; the point broadcast to one shape; that shape).

    Arrays are sets of points: they are broadcast against each other and evaluated elementwise.
    """
    given: dict[str, object] = {}
    for name, value in at.items():
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise PointError(f"the value of '{name}' is not a number: {value!r}") from None
        given[name] = float(array) if array.ndim == 0 else array
    try:
        shape = np.broadcast_shapes(*(np.shape(v) for v in given.values())) if given else ()
    except ValueError:
        shapes = ", ".join(f"{n}: {np.shape(v)}" for n, v in given.items())
        raise PointError(f"the arrays of points have shapes that do not broadcast ({shapes})") \
            from None
    point = given if not shape else {n: np.broadcast_to(v, shape) for n, v in given.items()}
    return given, point, shape


def _shaped(value, shape: tuple[int, ...]):
    """A float at a single point, an array of the points' shape otherwise."""
    if not shape:
        return float(value)
    return np.broadcast_to(np.asarray(value, dtype=np.float64), shape).copy()


def _names(names: Sequence[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
