"""The Python API: `parse`, `grad`, `evaluate`. The command line is a thin layer over it.

    >>> f = parse("x**2*sin(x)")
    >>> f.variables
    ('x',)
    >>> f(x=2.0)
    3.637189707302727
    >>> f.grad(x=2.0).gradient
    {'x': 1.9726023611141572}

Values may be arrays: `grad("sum(softmax(v)*log(v))", at={"v": [0.2, 0.3, 0.5]})` differentiates
a function of the vector v. A graph has static shapes, so a Function is built for the shapes of
its variables (numbers unless given: `parse(text, shapes={"v": (3,)})`) and rebuilt, once per new
combination, for the shapes of the point it is given. `batch=True` reads arrays instead as sets
of points, each variable's array one coordinate of the points: the expression (a function of
numbers) is evaluated and differentiated at every point in one pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from gradcli import eager
from gradcli.autodiff import UNCONNECTED, Backward, Unconnected, backward
from gradcli.diagnose import saturated, zero_gradients
from gradcli.errors import (
    MemoryLimitError,
    PointError,
    ShapeError,
    UnconnectedError,
    UsageError,
    suggest,
)
from gradcli.evaluation import MissingValue, all_finite, evaluate, nonfinite_warnings
from gradcli.functions import BY_NAME, CONSTANTS
from gradcli.graph import Graph, Node, ancestors, collector_paused
from gradcli.initializers import format_bytes
from gradcli.ops.core import VARIABLE
from gradcli.parsing import Parsed, parse_expression
from gradcli.plans import MIN_SIZE, Plan
from gradcli.printing import short_text, to_text
from gradcli.report import EvalResult, GradResult, number_or_array

UNCONNECTED_MODES = ("none", "zero", "error")


Shapes = Mapping[str, tuple[int, ...]]


class Function:
    """A differentiable function of named variables, backed by a graph of static shapes.

    `rebuild(shapes)` gives the same function built for other shapes of its variables (None
    when it cannot be rebuilt); the variants are kept, one per combination of shapes.
    """

    def __init__(self, text: str, graph: Graph, output: Node,
                 positions: Mapping[str, tuple[int, int]],
                 rebuild: Callable[[Shapes], Function] | None = None):
        self.text = text
        self.graph = graph
        self.output = output
        self.positions = dict(positions)
        self._rebuild = rebuild
        self._backward: Backward | None = None
        self._forward: list[Node] | None = None  # the output's ancestors ([]: no eager pass)
        self._variants: dict[tuple, Function] = {}
        self._plans: dict[tuple, Plan | None] = {}
        # set for the model of a spec (gradcli.spec): its name in reports, its file, the values
        # of its params, its names that are not variables, how a node is shown (with its line)
        self.label: str | None = None
        self.path: str | None = None
        self.defaults: dict[str, np.ndarray] = {}
        self.fixed: dict[str, str] = {}
        self.show: Callable[[Node], str] | None = None
        self.notes: list[str] = []  # warnings of every result (a spec's data that is not finite)
        self.max_memory: float | None = None  # bytes the values of one evaluation may take

    @classmethod
    def from_parsed(cls, parsed: Parsed) -> Function:
        text = parsed.text
        return cls(text, parsed.graph, parsed.output, parsed.positions,
                   lambda shapes: cls.from_parsed(parse_expression(text, shapes)))

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of each variable this function is built for."""
        return {name: node.shape for name in self.variables
                if (node := self.variable_node(name)) is not None}

    def at_shapes(self, shapes: Shapes) -> Function:
        """This function built for variables of the given shapes (those it has; others () )."""
        wanted = {name: tuple(shapes.get(name, ())) for name in self.variables}
        if wanted == self.shapes:
            return self
        key = tuple(sorted(wanted.items()))
        if key not in self._variants:
            if self._rebuild is None:
                raise ShapeError(f"{self.text!r} was built for shapes {self.shapes}, not {wanted}")
            self._variants[key] = self._rebuild(wanted)
        return self._variants[key]

    @property
    def variables(self) -> tuple[str, ...]:
        """The free variables, in order of first appearance in the text."""
        return tuple(self.positions)

    @property
    def name(self) -> str:
        """What reports call the function: the expression, or a spec's file:output."""
        return self.label or self.text

    def __str__(self) -> str:
        return to_text(self.output)

    def __repr__(self) -> str:
        return f"Function({str(self)!r})"

    # evaluation

    def __call__(self, at: Mapping[str, object] | None = None, /, **values):
        """The value at a point: f(x=2) or f({'x': 2}), f(v=[1, 2, 3])."""
        return self.evaluate(_merge(at, values)).value

    def evaluate(self, at: Mapping[str, object], *, batch: bool = False) -> EvalResult:
        f, given, point, shape = self._prepare(at, batch)
        values, fresh, finite = f._evaluate([f.output], point, batch)
        value = _shaped(values[f.output.index], shape, f.output.index in fresh)
        warnings = f.notes + ([] if finite else nonfinite_warnings([f.output], values,
                                                                    show=f.show))
        return EvalResult(f.name, given, value, warnings, inputs=point)

    def _prepare(self, at: Mapping[str, object], batch: bool):
        """(the function built for the point's shapes, the point as given, the point as
        evaluated, the shape of the batch or None)."""
        given = _read_point(at)
        fixed = [name for name in given if name in self.fixed]
        if fixed:
            name = fixed[0]
            raise PointError(f"'{name}' is {'data' if self.fixed[name] == 'data' else 'a value'} "
                             f"of {self.path}, not an input or a param: --at cannot set it")
        if not batch:
            f = self.at_shapes({n: np.shape(v) for n, v in given.items()})
            for name, value in given.items():
                node = f.variable_node(name)
                if node is not None and node.shape != np.shape(value):
                    raise PointError(f"'{name}' has shape {node.shape}; the value given has "
                                     f"shape {np.shape(value)}")
            return f, given, {**f.defaults, **given}, None
        f = self.at_shapes({})
        if f.defaults or any(node.shape for node in ancestors([f.output])):
            raise UsageError("batch=True evaluates a function of numbers at many points; "
                             f"{f.text!r} has array values inside")
        try:
            shape = np.broadcast_shapes(*(np.shape(v) for v in given.values())) if given else ()
        except ValueError:
            shapes = ", ".join(f"{n}: {np.shape(v)}" for n, v in given.items())
            raise PointError(f"the arrays of points have shapes that do not broadcast ({shapes})") \
                from None
        return f, given, {n: np.broadcast_to(v, shape) for n, v in given.items()}, shape

    # differentiation

    def backward(self) -> Backward:
        """The reverse pass with respect to every free variable (built once, then reused)."""
        if self._backward is None:
            wrt = [self.variable_node(name) for name in self.variables]
            with collector_paused():
                self._backward = backward(self.output, [node for node in wrt if node is not None])
        return self._backward

    def gradient_node(self, name: str) -> Node | Unconnected:
        """The node of ∂f/∂name, or UNCONNECTED when the output has no path to `name`."""
        return self.backward().gradient(self.variable_node(name))

    def derivative(self, name: str) -> Function | None:
        """∂f/∂name as a Function of its own (None where unconnected): second derivatives are
        `f.derivative('x').derivative('x')`. Of a function whose value is an array, it is the
        derivative of the sum of its entries (so of a gradient, a row sum of the Hessian)."""
        node = self.gradient_node(name)
        if node is UNCONNECTED:
            return None
        used = {n.attrs[0] for n in ancestors([node]) if n.op is VARIABLE}
        positions = {v: p for v, p in self.positions.items() if v in used}
        parent = self
        return Function(to_text(node), self.graph, node, positions,
                        lambda shapes: parent.at_shapes(shapes).derivative(name))

    def grad(self, at: Mapping[str, object] | None = None, /, *, wrt: Sequence[str] | None = None,
             unconnected: str = "none", batch: bool = False, **values) -> GradResult:
        """Value and gradient at a point; `unconnected` is 'none', 'zero' or 'error'. With
        `batch`, arrays are sets of points (see the module's docstring)."""
        if unconnected not in UNCONNECTED_MODES:
            raise UsageError(f"unconnected must be one of {', '.join(UNCONNECTED_MODES)}, "
                             f"not {unconnected!r}")
        f, given, point, shape = self._prepare(_merge(at, values), batch)
        return f._grad(given, point, shape, wrt, unconnected)

    def _grad(self, given: dict, point: dict, shape: tuple[int, ...] | None,
              wrt: Sequence[str] | None, unconnected: str) -> GradResult:
        if self.output.shape:
            other = ", or name another output with --of" if self.path else ""
            raise ShapeError(f"the output {self.name} has shape {self.output.shape}: a gradient "
                             f"needs a number; reduce it (sum(...), mean(...)) or pick an entry "
                             f"([0]){other}")
        names = list(self.variables if wrt is None else wrt)
        if shape is None:
            numbers = self._on_numbers(names, point)
            if numbers is not None:
                value, found = numbers
                missing = [name for name in names if name not in found]
                self._refuse_unconnected(missing, unconnected)
                gradient = {name: number_or_array(found[name]) if name in found
                            else self._unconnected(name, given, unconnected, shape)
                            for name in names}
                return GradResult(self.name, given, number_or_array(value),
                                  self.notes + self._not_variables(missing, given), gradient,
                                  missing, inputs=point)
        nodes = {name: self.gradient_node(name) for name in names}
        missing = [name for name, node in nodes.items() if node is UNCONNECTED]
        self._refuse_unconnected(missing, unconnected)
        connected = [node for node in nodes.values() if node is not UNCONNECTED]
        values_, fresh, finite = self._evaluate([self.output, *connected], point,
                                                shape is not None)
        notes = self._not_variables(missing, given)
        gradient: dict[str, object] = {}
        for name, node in nodes.items():
            if node is UNCONNECTED:
                gradient[name] = self._unconnected(name, given, unconnected, shape)
            else:  # an array is handed out once: the next result with the same node copies
                gradient[name] = _shaped(values_[node.index], shape, node.index in fresh
                                         and node is not self.output)
                fresh.discard(node.index)
        warnings = self.notes + notes
        if not finite:
            warnings += nonfinite_warnings([self.output], values_, show=self.show)
            warnings += nonfinite_warnings(connected, values_, " in the gradient", skip=warnings,
                                           show=self.show)
        if self.path is not None:  # a model: what its gradient says about it
            warnings += zero_gradients(self.output, nodes, values_, self.show)
            warnings += saturated(self.output, values_, self.show)
        value = _shaped(values_[self.output.index], shape, self.output.index in fresh
                        and all(node is not self.output for node in connected))
        return GradResult(self.name, given, value, warnings, gradient, missing, inputs=point)

    def _on_numbers(self, names: Sequence[str], point: Mapping[str, object]):
        """(value, {name: gradient}) at one point by the reverse pass on numbers
        (gradcli.eager), the names the gradient does not reach left out; None where the
        gradient graph is needed instead: a model (its diagnostics read the gradient's nodes),
        a function a spec defines, values that could pass the memory limit, or a value or
        gradient that is not finite (the warnings name the subexpression that made it)."""
        if self.path is not None:
            return None
        if self._forward is None:
            nodes = ancestors([self.output])
            self._forward = nodes if eager.supports(nodes) else []
        nodes = self._forward
        # the pass keeps the forward values and, at most, an adjoint for each
        if not nodes or (self.max_memory is not None
                         and 16 * sum(node.size for node in nodes) > self.max_memory):
            return None
        values = self._evaluate([self.output], point, nodes=nodes)[0]
        wrt = {node.index: name for name in names
               if (node := self.variable_node(name)) is not None}
        with collector_paused():
            adjoints = eager.gradient(self.output, [self.graph.nodes[i] for i in wrt], values)
        value = values[self.output.index]
        if not all_finite(value) or not all(all_finite(a) for a in adjoints.values()):
            return None
        return value, {wrt[index]: adjoint for index, adjoint in adjoints.items()}

    def _refuse_unconnected(self, missing: Sequence[str], unconnected: str) -> None:
        if missing and unconnected == "error":
            raise UnconnectedError(
                f"the gradient of {self.name!r} with respect to {_names(missing)} is unconnected: "
                f"no path from the output leads to {'it' if len(missing) == 1 else 'them'}"
                " (or every path goes through an operation with no gradient)")

    def _not_variables(self, missing: Sequence[str], given: Mapping[str, object]) -> list[str]:
        """A name asked for that stands nowhere, neither in the expression nor in the point, is
        unconnected like any other, and most likely a typo: say so."""
        return [f"'{name}' is not a variable of the expression (its gradient is unconnected)"
                f"{suggest(name, self.variables)}"
                for name in missing if name not in self.positions and name not in given]

    def _unconnected(self, name: str, given: Mapping[str, object], unconnected: str,
                     shape: tuple[int, ...] | None):
        """What an unconnected gradient is reported as: None, or zeros of the variable's shape."""
        if unconnected == "none":
            return None
        node = self.variable_node(name)
        return _shaped(np.zeros(node.shape if node is not None
                                else np.shape(given.get(name, 0.0))), shape)

    # helpers

    def variable_node(self, name: str) -> Node | None:
        """The graph's node of the variable `name`, if the expression has it."""
        return self.graph.find(VARIABLE, (name,))

    def _run(self, roots: Sequence[Node], point: Mapping[str, object]) -> dict:
        return self._evaluate(roots, point)[0]

    def _evaluate(self, roots: Sequence[Node], point: Mapping[str, object], batch: bool = False,
                  nodes: list[Node] | None = None) -> tuple[dict, set[int], bool]:
        """The values of the roots' ancestors (`nodes`, when the caller has them), the roots
        whose arrays are fresh (need no copy), and whether the roots are known to be finite. A
        large batch is evaluated by a plan that is evaluated block by block (gradcli.plans);
        where a root is not finite, every value is kept, to say where it came from."""
        if nodes is None and self.max_memory is not None:
            nodes = check_memory(roots, self.max_memory)
        try:
            if not batch or not any(np.size(value) >= MIN_SIZE for value in point.values()):
                with collector_paused():
                    return evaluate(roots, point, nodes), set(), False
            key = tuple(root.index for root in roots)
            if key not in self._plans:
                self._plans[key] = Plan.make(roots, nodes or ancestors(roots))
            plan = self._plans[key]
            if plan is None:
                return evaluate(roots, point, nodes), set(), False
            values, owned, finite = plan.run(point)
            if not finite and not all(all_finite(values[root.index]) for root in roots):
                return evaluate(roots, point, nodes), set(), False
            return values, owned, True
        except MissingValue as error:
            line, column = self.positions.get(error.name, (1, None))
            known = [n for n in point if n not in self.positions]
            hint = suggest(error.name, [*known, *self.fixed, *self.defaults, *CONSTANTS])
            if not hint:
                for name in sorted(BY_NAME, key=len, reverse=True):
                    rest = error.name[len(name):]
                    if error.name.startswith(name) and rest:
                        hint = f"; did you mean {name}({rest})?"
                        break
            what = "input" if self.path else "variable"
            raise PointError(f"no value for {what} '{error.name}' (give it with "
                             f"--at {error.name}=...){hint}", self.text, line, column,
                             "spec" if self.path else "expression", self.path) from None


def parse(text: str, shapes: Shapes | None = None) -> Function:
    """The function of an expression such as 'log(x1) + x1*x2 - sin(x2)', its variables
    numbers unless `shapes` gives them shapes ({'v': (3,)})."""
    try:
        return Function.from_parsed(parse_expression(text, shapes))
    except ShapeError as error:
        if shapes is None and error.text == text:
            error.message += ("; variables are numbers unless their shapes are given: "
                              "parse(text, shapes={'v': (3,)}), or grad(text, at=...) with arrays")
        raise


def grad(text: str, at: Mapping[str, object], wrt: Sequence[str] | None = None,
         unconnected: str = "none", batch: bool = False) -> GradResult:
    """Value and gradient of an expression at a point: `grad('x*y', at={'x': 2, 'y': 3})`."""
    return _parse_for(text, at, batch).grad(at, wrt=wrt, unconnected=unconnected, batch=batch)


def evaluate_at(text: str, at: Mapping[str, object], batch: bool = False) -> EvalResult:
    """The value of an expression at a point."""
    return _parse_for(text, at, batch).evaluate(at, batch=batch)


def _parse_for(text: str, at: Mapping[str, object], batch: bool) -> Function:
    """The expression built for the shapes of the point (numbers with batch)."""
    shapes = {} if batch else {name: np.shape(value) for name, value in _read_point(at).items()}
    return parse(text, shapes)


# ---------------------------------------------------------------------------------------------


def _merge(at: Mapping[str, object] | None, values: Mapping[str, object]) -> dict[str, object]:
    merged = dict(at or {})
    merged.update(values)
    return merged


def check_memory(roots: Sequence[Node], limit: float, taken: float = 0) -> list[Node]:
    """Refuse, before anything is allocated, an evaluation whose values would take more than
    `limit` bytes with the `taken` ones (every value of the graph is kept until the end of the
    pass); the nodes it would evaluate, `ancestors(roots)`, otherwise."""
    nodes = ancestors(roots)
    needed = 8 * sum(node.size for node in nodes)
    if needed + taken > limit:
        largest = max(nodes, key=lambda node: node.size)
        text = short_text(largest, 40)
        raise MemoryLimitError(
            f"evaluating this needs {format_bytes(needed)} for the values of {len(nodes)} "
            f"operations (the largest, {text}, has shape {largest.shape})"
            + (f" besides {format_bytes(taken)} of data before it" if taken else "")
            + ", more than "
            f"--max-memory {format_bytes(limit)}; nothing was allocated (raise the limit with "
            "--max-memory, e.g. --max-memory 4GiB)")
    return nodes


def _read_point(at: Mapping[str, object]) -> dict[str, object]:
    """The point as float64: a float for a number, an array otherwise."""
    given: dict[str, object] = {}
    for name, value in at.items():
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise PointError(f"the value of '{name}' is not a number or an array of numbers: "
                             f"{value!r}") from None
        given[name] = float(array) if array.ndim == 0 else array
    return given


def _shaped(value, batch: tuple[int, ...] | None, fresh: bool = False):
    """A float for a number, a fresh array otherwise (of the batch's shape, in a batch);
    `fresh`: the array is the evaluation's own, handed out once, so it is not copied."""
    if fresh and batch is not None and np.shape(value) == batch:
        return value
    return number_or_array(np.broadcast_to(value, batch) if batch is not None else value)


def _names(names: Sequence[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
