"""Model specs: .grad files of statements, read into one graph and a Function of the model.

    X = randn(16, 3, seed=0)                   data: evaluated while the spec is read
    param w0 = truncated_normal(3, 20, seed=2) a parameter: a variable with an initial value
    h = softmax(X @ w0 + b0)                   an intermediate value
    loss = mean(0.5 * (yp - y)**2)             the last assignment is the output

A name that is used but never assigned is an input, given with --at. Names are assigned once.
Each line is parsed on its own (grammars/spec.lark) into the one graph; an error is reported as
file:line:column with the line and a caret. The graph of each statement is a contiguous range
of nodes, so any node can be traced back to the statement that made it (`Spec.line_of`).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gradcli import ops
from gradcli.api import Function, check_memory
from gradcli.custom import Definition
from gradcli.definitions import Check, Sampled, read_rule_statement
from gradcli.errors import (
    InputError,
    MemoryLimitError,
    NameResolutionError,
    ShapeError,
    UsageError,
    suggest,
)
from gradcli.evaluation import evaluate, nonfinite_warnings
from gradcli.functions import BY_NAME, CONSTANTS
from gradcli.graph import Graph, Node, ancestors
from gradcli.initializers import Budget, initializers, refuse_long_text
from gradcli.parsing import Scope, parse_statement
from gradcli.printing import short_text


@dataclass
class Spec:
    """A spec read for given shapes of its inputs."""

    path: str  # as the user wrote it: examples/mlp.grad
    text: str
    graph: Graph
    names: dict[str, Node] = field(default_factory=dict)  # every assigned name and param
    kinds: dict[str, str] = field(default_factory=dict)  # name -> "param", "data" or "value"
    lines: dict[str, int] = field(default_factory=dict)  # name -> the line assigning it
    params: dict[str, np.ndarray] = field(default_factory=dict)  # initial values
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)  # params and inputs
    inputs: list[str] = field(default_factory=list)
    last: str | None = None  # the last assignment (not a param)
    warnings: list[str] = field(default_factory=list)  # data that is not finite, and where
    functions: dict[str, Definition] = field(default_factory=dict)  # def, with their rules
    domains: dict[str, dict[str, Sampled]] = field(default_factory=dict)  # per function
    checks: list[Check] = field(default_factory=list)  # check statements
    first_use: dict[str, int] = field(default_factory=dict)  # function -> line of first call
    _starts: list[int] = field(default_factory=list)  # first node index of each statement
    _start_lines: list[int] = field(default_factory=list)

    def line_of(self, node: Node) -> int | None:
        """The line of the statement whose graph has `node` (None for nodes made after)."""
        k = bisect.bisect_right(self._starts, node.index) - 1
        return self._start_lines[k] if k >= 0 else None

    def show(self, node: Node, width: int = 60) -> str:
        """The node as written in the spec, with the names of its values, and its line:
        'softmax(h @ w1 + b1, axis=1) (line 14)'."""
        names = {n.index: name for name, n in self.names.items()}
        text = short_text(node, width, names)
        line = self.line_of(node)
        return f"{text} (line {line})" if line is not None else text

    def error(self, cls, message: str, line: int, column: int) -> InputError:
        return cls(message, self.text, line, column, "spec", self.path)

    @property
    def rules(self) -> list[Definition]:
        """The functions with a rule, in the order of their rules."""
        ruled = [d for d in self.functions.values() if d.rule is not None]
        return sorted(ruled, key=lambda d: d.rule.line)


def read_spec(path: str, shapes: Mapping[str, tuple[int, ...]] | None = None,
              max_memory: float | None = None) -> Spec:
    """The spec in the file `path`, its inputs of the given shapes (numbers otherwise)."""
    file = Path(path)
    try:
        refuse_long_text(file.stat().st_size, path, max_memory)
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"no such spec file: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read {path}: {error}") from None
    return build_spec(text, path, file.parent, shapes or {}, Budget(max_memory))


def build_spec(text: str, path: str, folder: Path, shapes: Mapping[str, tuple[int, ...]],
               budget: Budget) -> Spec:
    spec = Spec(path, text, Graph())
    uses: dict[str, tuple[int, int]] = {}  # inputs, where first used
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        target = _target(line)
        scope = Scope(shapes, spec.names, initializers(target, folder, budget), spec.functions)
        start = len(spec.graph)
        calls = {name: d.calls for name, d in spec.functions.items()}
        try:
            statement, used = parse_statement(line, spec.graph, scope, "spec")
        except InputError as error:
            raise error.in_file(text, number, path) from None
        if statement is None:
            continue
        for name, definition in spec.functions.items():
            if definition.calls > calls[name]:
                spec.first_use.setdefault(name, number)
        if statement.kind not in ("assign", "param"):
            read_rule_statement(spec, statement, number)
            continue
        spec._starts.append(start)
        spec._start_lines.append(number)
        for name, (_, column) in used.items():
            uses.setdefault(name, (number, column))
        _define(spec, statement.kind, statement.name, statement.value, number, statement.column,
                budget)
    for name, (number, column) in uses.items():
        if name in spec.names:
            raise spec.error(NameResolutionError, f"'{name}' is used before it is assigned (at "
                             f"line {spec.lines[name]})", number, column)
        spec.inputs.append(name)
        spec.positions[name] = (number, column)
    spec.positions = dict(sorted(spec.positions.items(), key=lambda item: item[1]))
    return spec


def _target(line: str) -> str:
    """The name a line assigns, for the default seed of its initializers."""
    head = line.split("=", 1)[0].split()
    return head[-1] if head else ""


def _constant(spec: Spec, value: Node, line: int, column: int, budget: Budget):
    """The value of a statement that depends on no param or input, evaluated now: within the
    memory left (refused before anything is allocated), and noted if it is not finite. An
    array that is already a constant (an initializer's) is taken as it is, not copied."""
    if value.op is ops.CONSTANT:
        return value.attrs[0]
    if budget.limit is not None:
        try:
            check_memory([value], budget.limit, budget.used)
        except MemoryLimitError as error:
            raise spec.error(MemoryLimitError, error.message, line, column) from None
    values = evaluate([value], {})
    spec.warnings += nonfinite_warnings([value], values, show=spec.show)
    result = np.array(values[value.index], dtype=np.float64)
    budget.used += result.nbytes
    return result


def _define(spec: Spec, kind: str, name: str, value: Node, line: int, column: int,
            budget: Budget) -> None:
    if name in BY_NAME or name in CONSTANTS:
        what = "a function" if name in BY_NAME else "a constant"
        raise spec.error(NameResolutionError, f"'{name}' is {what} and cannot be assigned",
                         line, column)
    if name in spec.names:
        first = spec.lines[name]
        what = "param" if spec.kinds[name] == "param" or kind == "param" else "name"
        raise spec.error(NameResolutionError, f"{what} '{name}' is defined twice (first at "
                         f"line {first})", line, column)
    constant = not any(node.op is ops.VARIABLE for node in ancestors([value]))
    if kind == "param":
        if not constant:
            raise spec.error(ShapeError, f"the value of param '{name}' must be constant (an "
                             "initializer or an array), not depend on other params or inputs",
                             line, column)
        initial = np.array(ops.constant_value(value) if value.op is ops.CONSTANT
                           else _constant(spec, value, line, column, budget), dtype=np.float64)
        spec.params[name] = initial
        node = ops.variable(spec.graph, name, initial.shape)
        spec.positions[name] = (line, column)
    elif constant:  # data: its value, under its name
        node = ops.named_constant(spec.graph, name, _constant(spec, value, line, column, budget))
        kind = "data"
    else:
        node, kind = value, "value"
    if kind != "param":
        spec.last = name
    spec.names[name] = node
    spec.kinds[name] = kind
    spec.lines[name] = line


def spec_function(path: str, of: str | None = None,
                  shapes: Mapping[str, tuple[int, ...]] | None = None,
                  max_memory: float | None = None) -> Function:
    """The Function of the spec in `path`: its output `of` (the last assignment by default) as
    a function of its params and inputs; params default to their initial values."""
    return function_of(read_spec(path, shapes, max_memory), of, max_memory, shapes)


def function_of(spec: Spec, of: str | None = None, max_memory: float | None = None,
                shapes: Mapping[str, tuple[int, ...]] | None = None) -> Function:
    """The Function of a spec read for `shapes`: see `spec_function`."""
    path = spec.path
    if spec.last is None:
        what = (" (it has rules: `gradcli check` checks them)" if spec.rules else "")
        raise spec.error(InputError, "the spec assigns no value to differentiate (its last "
                         f"assignment is the output){what}", max(1, spec.text.count("\n")), 1)
    output_name = of if of is not None else spec.last
    if output_name not in spec.names:
        raise UsageError(f"--of {output_name}: the spec assigns no '{output_name}'"
                         f"{suggest(output_name, spec.names)}")
    output = spec.names[output_name]
    function = Function(spec.text, spec.graph, output, spec.positions,
                        lambda new: spec_function(path, of, new, max_memory))
    function.label = f"{path}:{output_name}"
    function.path = path
    function.defaults = dict(spec.params)
    function.fixed = {name: kind for name, kind in spec.kinds.items() if kind != "param"}
    function.max_memory = max_memory
    function.show = spec.show
    function.notes = list(spec.warnings)
    return function
