"""Functions a spec defines (`def`) and their hand-written derivative rules (`grad`, `vjp`).

    def softplus(x) = log(1 + exp(x))
    grad softplus(x) = sigmoid(x)                 the partial: softplus's VJP is g*sigmoid(x)
    def affine(x, w) = x @ w
    vjp affine(x, w) = (g @ w.T, x.T @ g)         the VJP itself: g is the output's cotangent

A call `softplus(a)` reads the body again with `x` bound to the node `a`, so one definition
serves arguments of any shapes its body allows, and appends one node of the definition's own
primitive. Its inputs are the arguments and, last, the body's value, which is also its value
(a `passthrough`: printed `softplus(a)`, evaluated as the body). The derivative goes through
the body or through the rule, never both:

- no rule: the body's input receives the cotangent, the arguments none of their own;
- a rule: each argument receives the rule's cotangent, the body none. The rule is read again
  for every node it differentiates, with the node's arguments and cotangent, so it is a graph
  like any other rule of the table: its own derivative (a second derivative) is that of the
  formula the user wrote.

A rule's text is read against the functions defined up to it, the function itself included
(`x / smooth_abs(x, eps)`); a body's against those defined before it, so no definition can
call itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gradcli import ops
from gradcli.errors import ArityError, InputError, NameResolutionError, ShapeError, suggest
from gradcli.graph import Graph, Node
from gradcli.ops.core import Primitive
from gradcli.parsing import Scope, parse_rule_body
from gradcli.statements import without_comment


class RuleError(InputError):
    """A rule that cannot be a derivative: the wrong number of partials, a cotangent of the
    wrong shape. Reported at the rule's line, before any numbers."""


@dataclass(frozen=True)
class Source:
    """The file statements come from, for errors placed in it."""

    path: str
    text: str


@dataclass(eq=False)
class Rule:
    """`grad f(x, y) = (dx, dy)` or `vjp f(x, y) = (gx, gy)`, as written."""

    kind: str  # "grad" or "vjp"
    params: tuple[str, ...]
    body: str
    line: int
    column: int  # where the body starts
    source: Source = field(repr=False)
    visible: Mapping[str, Definition] = field(repr=False)

    def cotangents(self, definition: Definition, g: Node, args: Sequence[Node]) -> list[Node]:
        """The cotangent of each argument for the cotangent `g` of the output: g*partial
        (summed back to the argument's shape by the reverse pass), or the vjp's value."""
        names = dict(zip(self.params, args, strict=True))
        if self.kind == "vjp":
            names["g"] = g
        values = read(self.body, names, g.graph, self.visible, self.source, self.line,
                      self.column)
        name = definition.name
        if len(values) != len(args):
            what = "partial derivative" if self.kind == "grad" else "cotangent"
            raise self.error(f"{self.kind} {name} gives {_count(len(values), what)} for "
                             f"{_count(len(args), 'argument')}: one per argument, written "
                             "(a, b)")
        out = []
        for param, arg, value in zip(self.params, args, values, strict=True):
            if self.kind == "grad":
                try:
                    value = g * value
                except ShapeError:
                    raise self.error(f"grad {name}: the partial for {param} has shape "
                                     f"{value.shape}, which does not broadcast with the shape "
                                     f"{g.shape} of {name}'s value") from None
                if not _sums_to(value.shape, arg.shape):
                    raise self.error(f"grad {name}: the partial for {param} has shape "
                                     f"{value.shape}, more than {param}'s {arg.shape}")
            elif value.shape != arg.shape:
                if not _sums_to(arg.shape, value.shape) or value.ndim > arg.ndim:
                    raise self.error(f"vjp {name}: the cotangent of {param} has shape "
                                     f"{value.shape}, but {param} has shape {arg.shape}")
                value = ops.broadcast_to(value, shape=arg.shape)
            out.append(value)
        return out

    def error(self, message: str) -> RuleError:
        return RuleError(message, self.source.text, self.line, self.column, "spec",
                         self.source.path)


@dataclass(eq=False)
class Definition:
    """`def name(params) = body`: a function of the spec, with its primitives."""

    name: str
    params: tuple[str, ...]
    body: str
    line: int
    column: int  # where the body starts
    source: Source = field(repr=False)
    visible: Mapping[str, Definition] = field(repr=False)  # the functions defined before it
    rule: Rule | None = None
    calls: int = 0  # how many calls were built
    _primitives: dict[bool, Primitive] = field(default_factory=dict, repr=False)

    @property
    def signature(self) -> str:
        return f"{self.name}({', '.join(self.params)})"

    def primitive(self, ruled: bool) -> Primitive:
        """The operation of a call: differentiated through the rule, or through the body."""
        if ruled not in self._primitives:
            n = len(self.params)
            if ruled:
                rules = tuple(self._rule_of(k) for k in range(n)) + (None,)
            else:
                rules = (None,) * n + (_through_body,)
            self._primitives[ruled] = Primitive(
                self.name, _body_value, rules, shape=_body_shape, passthrough=True,
                doc=f"{self.signature} = {without_comment(self.body)} (line {self.line})")
        return self._primitives[ruled]

    def _rule_of(self, k: int):
        def rule(g: Node, ans: Node, *inputs: Node) -> Node:
            assert self.rule is not None
            return self.rule.cotangents(self, g, inputs[:-1])[k]

        return rule

    def call(self, args: Sequence[Node]) -> Node:
        """The node of `name(*args)`: the body read for these arguments, and the call."""
        if len(args) != len(self.params):
            raise ArityError(f"{self.name} takes {_count(len(self.params), 'argument')}, got "
                             f"{len(args)} (usage: {self.signature}, line {self.line})")
        graph = args[0].graph
        try:
            (value,) = read(self.body, dict(zip(self.params, args, strict=True)), graph,
                            self.visible, None, self.line, self.column)
        except ShapeError as error:
            raise ShapeError(f"{self.name} (line {self.line}): {error.message}") from None
        self.calls += 1
        return self.primitive(self.rule is not None)(*args, value)


def _body_value(*inputs):
    return inputs[-1]


def _body_shape(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    return shapes[-1]


def _through_body(g: Node, ans: Node, *inputs: Node) -> Node:
    """Without a rule, the body's value receives the whole cotangent."""
    return g


def _sums_to(big: tuple[int, ...], small: tuple[int, ...]) -> bool:
    """Whether `small` broadcasts to `big` (so `big` sums back to `small`)."""
    if len(small) > len(big):
        return False
    return all(s in (1, b) for s, b in zip(reversed(small), reversed(big), strict=False))


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def read(body: str, names: Mapping[str, Node], graph: Graph,
         functions: Mapping[str, Definition], source: Source | None, line: int, column: int
         ) -> list[Node]:
    """The body's value(s), built into `graph` with `names` bound. A name the body uses that is
    not bound is an error; errors are placed in the file when `source` is given."""
    scope = Scope(names=names, functions=functions)
    try:
        values, used = parse_rule_body(body, graph, scope, "spec")
    except InputError as error:
        raise _placed(error, source, line, column) from None
    if used:
        name, (_, col) = next(iter(used.items()))
        bound = ", ".join(n for n in names if n != "g") or "none"
        hint = suggest(name, names) or (
            "; g, the cotangent, is known in vjp rules only" if name == "g" else "")
        raise _placed(NameResolutionError(f"'{name}' is not a parameter (the parameters: "
                                          f"{bound}){hint}", body, 1, col),
                      source, line, column)
    return values


def _placed(error: InputError, source: Source | None, line: int, column: int) -> InputError:
    """An error in a body (one line of text starting at `column`) placed in the file."""
    if source is None:
        return error
    at = None if error.column is None else column + error.column - 1
    return type(error)(error.message, source.text, line, at, "spec", source.path)


def validate(body: str, params: Sequence[str], functions: Mapping[str, Definition],
             source: Source, line: int, column: int, extra: Sequence[str] = ()
             ) -> int | None:
    """Read a body once with its parameters as numbers, to report syntax and unknown names at
    the statement: the number of values it has (None when numbers do not fit the body, as in
    `x @ w`; its shapes are known only when it is called)."""
    graph = Graph()
    names = {name: ops.variable(graph, name) for name in (*params, *extra)}
    try:
        return len(read(body, names, graph, functions, source, line, column))
    except ShapeError:
        return None
