"""Text to graph: the grammar in grammars/expression.lark, read by an LALR parser whose inline
transformer builds graph nodes as it reduces. There is no parse tree and no recursion, so an
expression nested 100,000 deep parses like any other.

Expressions and points of the common subset (numbers, names, calls, + - * / **) are read first
by gradcli.fastread, which makes the same reductions as the parser two to three times faster;
Lark reads everything else, and every text the fast reader refuses, errors included.

Grammar errors become `ParseError`s with a line, a column and a sentence that says what is
wrong; unknown names and wrong calls are reported at the token that caused them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from gradcli import arrays, fastread, grammar, ops
from gradcli.calls import Keyword, bind
from gradcli.errors import (
    ArityError,
    InputError,
    NameResolutionError,
    ParseError,
    ShapeError,
    suggest,
)
from gradcli.functions import BY_NAME, CONSTANTS
from gradcli.graph import Graph, Node, collector_paused
from gradcli.initializers import whole
from gradcli.printing import short_text
from gradcli.statements import Statement, StatementReductions

if TYPE_CHECKING:
    from lark import Token


@dataclass
class Parsed:
    """An expression's graph, its output node, and where each variable first appears."""

    text: str
    graph: Graph
    output: Node
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def variables(self) -> tuple[str, ...]:
        """Free variables in order of first appearance."""
        return tuple(self.positions)


@dataclass
class Binding:
    """`name=expression` of a --at point (`value` a node of the point's own graph), or
    `name=@file` (`path` the file's name)."""

    name: str
    value: Node | None
    line: int
    column: int
    path: str | None = None


@dataclass
class Scope:
    """What names mean while a text is read: the shapes of variables (a number unless given),
    names already bound to nodes (a spec's earlier statements), and calls evaluated while the
    graph is built (a spec's initializers), each taking constant arguments."""

    shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    names: Mapping[str, Node] = field(default_factory=dict)
    calls: Mapping[str, Callable[..., object]] = field(default_factory=dict)
    functions: Mapping[str, object] = field(default_factory=dict)  # a spec's defs (custom)


class _String:
    __slots__ = ("value", "token")

    def __init__(self, token: Token):
        self.value, self.token = str(token)[1:-1], token


class _Slice:
    __slots__ = ("parts", "token")

    def __init__(self, token: Token, parts):
        self.parts, self.token = parts, token


_SYMBOLS = {"add": " + ", "sub": " - ", "mul": "*", "div": "/", "matmul": " @ ", "pow": "**"}


class _Builder(StatementReductions):
    """Reductions of the grammar, each appending to `self.graph`; each is given the children
    of its rule (Lark's inline transformer, see `_Reductions`)."""

    def __init__(self) -> None:
        super().__init__()
        self.reset("", Graph(), "expression", Scope())

    def reset(self, text: str, graph: Graph, source: str, scope: Scope) -> None:
        self.text = text
        self.graph = graph
        self.source = source
        self.scope = scope
        self.positions: dict[str, tuple[int, int]] = {}
        self.leaves: dict[str, Node] = {}  # the node of each number's text, each variable's name

    def state(self) -> tuple:
        """What `reset` sets: saved around a parse inside a parse (a custom function's body,
        read while the statement that calls it is parsed)."""
        return self.text, self.graph, self.source, self.scope, self.positions, self.leaves

    def restore(self, state: tuple) -> None:
        self.text, self.graph, self.source, self.scope, self.positions, self.leaves = state

    def _error(self, cls, message: str, token: Token):
        return cls(message, self.text, token.line, token.column, source=self.source)

    def _located(self, error: ShapeError, formula: str, token: Token) -> ShapeError:
        return error.located(formula, self.text, token.line, token.column, self.source)

    # leaves
    def number(self, token: Token) -> Node:
        text = str(token)
        node = self.leaves.get(text)
        if node is None:
            node = self.leaves[text] = ops.literal(self.graph, float(text))
        return node

    def name(self, token: Token) -> Node:
        name = str(token)
        bound = self.scope.names.get(name)
        if bound is not None:
            return bound
        if name in CONSTANTS:
            return ops.named_constant(self.graph, name, CONSTANTS[name])
        if name in BY_NAME or name in self.scope.calls:
            raise self._error(NameResolutionError,
                              f"'{name}' is a function: call it as {name}(...)", token)
        node = self.leaves.get(name)
        if node is None:
            self.positions[name] = (token.line, token.column)
            shape = tuple(self.scope.shapes.get(name, ()))
            node = self.leaves[name] = ops.variable(self.graph, name, shape)
        return node

    # operators: a shape error is reported at the operator
    def _binary(self, kind: str, build, a: Node, token: Token, b: Node) -> Node:
        try:
            return build(a, b)
        except ShapeError as error:
            formula = f"{short_text(a, 40)}{_SYMBOLS[kind]}{short_text(b, 40)}"
            raise self._located(error, formula, token) from None

    def add(self, a, token, b):
        return self._binary("add", ops.add, a, token, b)

    def sub(self, a, token, b):
        return self._binary("sub", ops.sub, a, token, b)

    def mul(self, a, token, b):
        return self._binary("mul", ops.mul, a, token, b)

    def div(self, a, token, b):
        return self._binary("div", ops.div, a, token, b)

    def matmul(self, a, token, b):
        return self._binary("matmul", ops.matmul, a, token, b)

    def pow(self, a, token, b):
        return self._binary("pow", ops.pow, a, token, b)

    def neg(self, a):
        return ops.neg(a)

    def compare(self, a, symbol, b):
        try:
            return ops.COMPARISONS[str(symbol)](a, b)
        except ShapeError as error:
            raise self._located(error, f"{short_text(a, 40)} {symbol} {short_text(b, 40)}",
                                symbol) from None

    def implicit(self, *factors):
        product = factors[0]
        for factor in factors[1:]:
            product = ops.mul(product, factor)
        return product

    # arrays, indexing, .T
    def array(self, token: Token, *elements):
        elements = [e for e in elements if e is not None]
        if not elements:
            raise self._error(ShapeError, "an array needs at least one entry", token)
        try:
            if all(ops.is_constant(e) for e in elements):
                values = [ops.constant_value(e) for e in elements]
                if len({np.shape(v) for v in values}) > 1:
                    raise ShapeError("the rows of an array must all have the same shape")
                return ops.literal(self.graph, np.array(values, dtype=np.float64))
            return arrays.stack(*elements)
        except ShapeError as error:
            raise self._located(error, "[...]", token) from None

    def subscripts(self, *items):
        return list(items)

    def slice(self, start, colon: Token, stop, step):
        return _Slice(colon, tuple(None if part is None else self._integer(part, colon, "a slice")
                                   for part in (start, stop, step)))

    def subscript(self, x: Node, token: Token, items: list):
        key = tuple(item.parts if isinstance(item, _Slice) else self._integer(item, token, "an index")
                    for item in items)
        try:
            if all(part == (None, None, None) for part in key) and len(key) <= x.ndim:
                return x
            return ops.index(x, key=key)
        except ShapeError as error:
            raise self._located(error, f"{short_text(x, 40)}{ops.key_text(key)}", token) \
                from None

    def attribute(self, x: Node, token: Token):
        if str(token) != "T":
            raise self._error(NameResolutionError, f"unknown attribute '.{token}' (the one "
                              "attribute is .T, the transpose)", token)
        return arrays.transpose(x)

    def _integer(self, node, token: Token, what: str) -> int:
        value = ops.constant_value(node) if isinstance(node, Node) and ops.is_constant(node) \
            else None
        if value is None or not whole(value):
            raise self._error(ParseError, f"{what} must be a constant integer", token)
        return int(value)

    # calls
    def arguments(self, *arguments):
        return list(arguments)

    def keyword(self, token, value):
        return Keyword(token, value)

    def string(self, token):
        return _String(token)

    def call(self, token: Token, arguments=None):
        name = str(token)
        arguments = arguments or []
        custom = self.scope.functions.get(name)
        if custom is not None:
            return self._custom_call(custom, token, arguments)
        if name in self.scope.calls:
            return self._evaluated_call(name, token, arguments)
        entry = BY_NAME.get(name)
        if entry is None:
            hint = suggest(name, [*BY_NAME, *self.scope.calls])
            if not hint:
                hint = f"; to multiply, write {name}*(...)"
            raise self._error(NameResolutionError, f"unknown function '{name}'{hint}", token)
        for argument in arguments:
            if isinstance(argument, _String) or isinstance(getattr(argument, "value", None), _String):
                where = argument.token if isinstance(argument, _String) else argument.value.token
                raise self._error(ParseError, f"{name} takes no text argument", where)
        args, settings = bind(entry, token, arguments, self._error, self.graph)
        try:
            return entry.build(*args, **settings)
        except ShapeError as error:
            shown = ", ".join(short_text(a, 20) for a in args if isinstance(a, Node))
            raise self._located(error, f"{name}({shown})", token) from None

    def _custom_call(self, custom, token: Token, arguments: list) -> Node:
        """A call of a function the spec defines: its body, read for these arguments."""
        for argument in arguments:
            if not isinstance(argument, Node):
                where = getattr(argument, "token", token)
                raise self._error(ArityError, f"{custom.name} takes its arguments by position "
                                  f"(usage: {custom.signature})", where)
        try:
            return custom.call(arguments)
        except InputError as error:
            raise self._error(type(error), error.message, token) from None

    def _evaluated_call(self, name: str, token: Token, arguments: list) -> Node:
        """A call of the scope (an initializer): constant arguments in, an array out."""
        positional, keywords = [], {}
        for argument in arguments:
            value = argument.value if isinstance(argument, Keyword) else argument
            if isinstance(value, _String):
                value = value.value
            elif ops.is_constant(value):
                value = ops.constant_value(value)
            else:
                raise self._error(ParseError, f"the arguments of {name} must be constants",
                                  getattr(argument, "token", token))
            if isinstance(argument, Keyword):
                keywords[argument.name] = value
            else:
                positional.append(value)
        try:
            result = self.scope.calls[name](*positional, **keywords)
        except (TypeError, ValueError) as error:
            raise self._error(ArityError, f"{name}: {error}", token) from None
        except InputError as error:
            raise self._error(type(error), f"{name}: {error.message}", token) from None
        return ops.literal(self.graph, result)

    # --at points and spec statements
    def binding(self, token: Token, value: Node) -> Binding:
        return Binding(str(token), value, token.line, token.column)

    def file_binding(self, token: Token, path: Token) -> Binding:
        text = str(path)
        if path.type == "STRING":
            text = text[1:-1]
        return Binding(str(token), None, token.line, token.column, text)

    def point(self, *bindings: Binding) -> list[Binding]:
        return list(bindings)

_lock = threading.RLock()  # reentrant: a custom function's body is read inside a parse
_builder: _Builder | None = None


def _get_builder() -> _Builder:
    global _builder
    if _builder is None:
        _builder = _Builder()
    return _builder


# Read expressions and points of the common subset with gradcli.fastread, which issues the
# builder the reductions Lark would; tests set it to False to compare with Lark alone.
FAST_READER = True


def _run(text: str, start: str, source: str, scope: Scope | None = None,
         graph: Graph | None = None):
    with _lock:
        builder = _get_builder()
        fast = FAST_READER and graph is None and start in fastread.STARTS
        graph = graph if graph is not None else Graph()
        outer = builder.state()
        builder.reset(text, graph, source, scope or Scope())
        try:
            with collector_paused():
                if fast:
                    try:
                        result = fastread.read(text, start, builder)
                    except fastread.NotFast:  # Lark reads it again, into a fresh graph
                        fast = False
                        graph = Graph()
                        builder.reset(text, graph, source, scope or Scope())
                if not fast:  # outside the `except`: Lark's errors come without a context
                    result = grammar.read(text, start, source, builder)
        finally:
            positions = builder.positions
            builder.restore(outer)
        return result, graph, positions


def parse_expression(text: str, shapes: Mapping[str, tuple[int, ...]] | None = None) -> Parsed:
    """The graph of an expression such as 'x**2*sin(x)', its variables of the given shapes
    (numbers unless given)."""
    if not text.strip():
        raise ParseError("the expression is empty", text, 1, 1)
    output, graph, positions = _run(text, "expression", "expression", Scope(shapes or {}))
    return Parsed(text, graph, output, positions)


def parse_point(text: str) -> tuple[list[Binding], dict[str, tuple[int, int]]]:
    """The bindings of a point such as 'x=2,y=pi/4', and the names their values use."""
    if not text.strip():
        raise ParseError("the point is empty: write it as name=value,name=value", text, 1, 1,
                         source="point")
    bindings, _, positions = _run(text, "point", "point")
    return bindings, positions


def parse_rule_body(text: str, graph: Graph, scope: Scope, source: str = "expression"
                    ) -> tuple[list[Node], dict[str, tuple[int, int]]]:
    """The body of a def, grad or vjp, built into `graph`: one node, or one per argument for a
    tuple `(a, b)`; and the names it uses that the scope does not know."""
    values, _, positions = _run(text, "rule_body", source, scope, graph)
    return values, positions


def parse_statement(text: str, graph: Graph, scope: Scope, source: str
                    ) -> tuple[Statement | None, dict[str, tuple[int, int]]]:
    """One line of a spec, built into `graph`: the statement (None for a blank or comment
    line) and the names it uses that the scope does not know (its inputs)."""
    statement, _, positions = _run(text, "statement", source, scope, graph)
    return statement, positions
