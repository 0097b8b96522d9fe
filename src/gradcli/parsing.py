"""Text to graph: the grammar in grammars/expression.lark, read by an LALR parser whose inline
transformer builds graph nodes as it reduces. There is no parse tree and no recursion, so an
expression nested 100,000 deep parses like any other.

Grammar errors become `ParseError`s with a line, a column and a sentence that says what is
wrong; unknown names and wrong calls are reported at the token that caused them.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from gradcli import ops
from gradcli.errors import ArityError, NameResolutionError, ParseError, suggest
from gradcli.functions import BY_NAME, CONSTANTS, OMITTED, REQUIRED
from gradcli.graph import Graph, Node


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
    """`name=expression` of a --at point; `value` is a node of the point's own graph."""

    name: str
    value: Node
    line: int
    column: int


def grammar_path() -> Path:
    """grammars/expression.lark: inside the installed package, or at the top of a source tree."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "grammars", here.parent.parent / "grammars"):
        path = candidate / "expression.lark"
        if path.is_file():
            return path
    raise FileNotFoundError("grammars/expression.lark is missing from this installation")


class _Keyword:
    __slots__ = ("name", "value", "token")

    def __init__(self, token: Token, value: Node):
        self.name, self.value, self.token = str(token), value, token


@v_args(inline=True)
class _Builder(Transformer):
    """Reductions of the grammar, each appending to `self.graph`."""

    def __init__(self) -> None:
        super().__init__()
        self.reset("", Graph(), "expression")

    def reset(self, text: str, graph: Graph, source: str) -> None:
        self.text = text
        self.graph = graph
        self.source = source
        self.positions: dict[str, tuple[int, int]] = {}

    def _error(self, cls, message: str, token: Token):
        return cls(message, self.text, token.line, token.column, source=self.source)

    # leaves
    def number(self, token: Token) -> Node:
        return ops.literal(self.graph, float(token))

    def name(self, token: Token) -> Node:
        name = str(token)
        if name in CONSTANTS:
            return ops.named_constant(self.graph, name, CONSTANTS[name])
        if name in BY_NAME:
            raise self._error(NameResolutionError,
                              f"'{name}' is a function: call it as {name}(...)", token)
        self.positions.setdefault(name, (token.line, token.column))
        return ops.variable(self.graph, name)

    # operators
    def add(self, a, b):
        return ops.add(a, b)

    def sub(self, a, b):
        return ops.sub(a, b)

    def mul(self, a, b):
        return ops.mul(a, b)

    def div(self, a, b):
        return ops.div(a, b)

    def pow(self, a, b):
        return ops.pow(a, b)

    def neg(self, a):
        return ops.neg(a)

    def compare(self, a, symbol, b):
        return ops.COMPARISONS[str(symbol)](a, b)

    def implicit(self, *factors):
        product = factors[0]
        for factor in factors[1:]:
            product = ops.mul(product, factor)
        return product

    # calls
    def arguments(self, *arguments):
        return list(arguments)

    def keyword(self, token, value):
        return _Keyword(token, value)

    def call(self, token: Token, arguments=None):
        name = str(token)
        entry = BY_NAME.get(name)
        if entry is None:
            hint = suggest(name, BY_NAME)
            if not hint:
                hint = f"; to multiply, write {name}*(...)"
            raise self._error(NameResolutionError, f"unknown function '{name}'{hint}", token)
        return entry.build(*self._bind(entry, token, arguments or []))

    def _bind(self, entry, token: Token, arguments: list) -> list[Node | None]:
        """The call's arguments in the order of the signature, defaults filled in."""
        n = len(entry.params)
        given: list[Node | None] = [None] * n
        positional = [a for a in arguments if not isinstance(a, _Keyword)]
        keywords = [a for a in arguments if isinstance(a, _Keyword)]
        usage = f" (usage: {entry.signature})"
        if len(positional) > n:
            raise self._error(ArityError, f"{entry.name} takes {_count(n)}, got {len(positional)}"
                              f"{usage}", token)
        given[:len(positional)] = positional
        for keyword in keywords:
            if keyword.name not in entry.params:
                raise self._error(ArityError, f"{entry.name} has no argument '{keyword.name}'"
                                  f"{usage}{suggest(keyword.name, entry.params)}", keyword.token)
            index = entry.params.index(keyword.name)
            if given[index] is not None:
                raise self._error(ArityError, f"{entry.name} got '{keyword.name}' twice{usage}",
                                  keyword.token)
            given[index] = keyword.value
        for index, default in enumerate(entry.defaults):
            if given[index] is None:
                if default is REQUIRED:
                    got = len(positional) + len(keywords)
                    raise self._error(ArityError, f"{entry.name} needs {_count(entry.required)}, "
                                      f"got {got}{usage}", token)
                if default is not OMITTED:
                    given[index] = ops.literal(self.graph, default)
        while given and given[-1] is None:
            given.pop()
        return given

    # --at points
    def binding(self, token: Token, value: Node) -> Binding:
        return Binding(str(token), value, token.line, token.column)

    def point(self, *bindings: Binding) -> list[Binding]:
        return list(bindings)


def _count(n: int) -> str:
    return f"{n} argument" + ("" if n == 1 else "s")


_lock = threading.Lock()
_parser: Lark | None = None
_builder: _Builder | None = None


def _get_parser() -> tuple[Lark, _Builder]:
    global _parser, _builder
    if _parser is None:
        _builder = _Builder()
        _parser = Lark(grammar_path().read_text(encoding="utf-8"), parser="lalr",
                       start=["expression", "point"], transformer=_builder,
                       maybe_placeholders=True)
    return _parser, _builder


def _run(text: str, start: str, source: str):
    with _lock:
        parser, builder = _get_parser()
        graph = Graph()
        builder.reset(text, graph, source)
        try:
            result = parser.parse(text, start=start)
        except UnexpectedInput as error:
            raise _describe(error, text, source) from None
        finally:
            positions = builder.positions
            builder.reset("", Graph(), "expression")
        return result, graph, positions


def parse_expression(text: str) -> Parsed:
    """The graph of an expression such as 'x**2*sin(x)'."""
    if not text.strip():
        raise ParseError("the expression is empty", text, 1, 1)
    output, graph, positions = _run(text, "expression", "expression")
    return Parsed(text, graph, output, positions)


def parse_point(text: str) -> tuple[list[Binding], dict[str, tuple[int, int]]]:
    """The bindings of a point such as 'x=2,y=pi/4', and the names their values use."""
    if not text.strip():
        raise ParseError("the point is empty: write it as name=value,name=value", text, 1, 1,
                         source="point")
    bindings, _, positions = _run(text, "point", "point")
    return bindings, positions


# ---------------------------------------------------------------------------------------------
# Grammar errors as sentences

_TERMINALS = {
    "NAME": "a name", "NUMBER": "a number", "LPAR": "'('", "RPAR": "')'", "COMMA": "','",
    "PLUS": "'+'", "MINUS": "'-'", "STAR": "'*'", "SLASH": "'/'", "EQUAL": "'='",
    "COMPARE": "a comparison", "_POW": "'**'", "$END": "the end of the input",
}


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _unclosed(text: str) -> int | None:
    """The offset of the last '(' that is never closed, if any."""
    opened: list[int] = []
    for offset, char in enumerate(text):
        if char == "(":
            opened.append(offset)
        elif char == ")" and opened:
            opened.pop()
    return opened[-1] if opened else None


def _describe(error: UnexpectedInput, text: str, source: str) -> ParseError:
    def at(message: str, offset: int) -> ParseError:
        line, column = _position(text, offset)
        return ParseError(message, text, line, column, source=source)

    if isinstance(error, UnexpectedCharacters):
        char = text[error.pos_in_stream]
        shown = repr(char) if not char.isprintable() else f"'{char}'"
        hint = {"=": ": '=' gives a value in --at; to compare, write '=='",
                "[": ": arrays are not supported in expressions yet",
                ";": ": one expression at a time", "!": ": there is no factorial; use gamma(x + 1)",
                "&": ": there is no logical and; multiply conditions instead",
                "|": ": there is no logical or; use max(a, b) of conditions instead"}.get(char, "")
        return at(f"syntax error: unexpected character {shown}{hint}", error.pos_in_stream)

    assert isinstance(error, UnexpectedToken)
    token = error.token
    expected = sorted({_TERMINALS.get(name, f"'{name.lower()}'") for name in error.expected})
    expecting = ("; expected " + (expected[0] if len(expected) == 1 else
                                  "one of " + ", ".join(expected))) if expected else ""
    if token.type == "$END":
        end = len(text.rstrip())
        opened = _unclosed(text)
        if opened is not None:
            line, column = _position(text, opened)
            where = f"line {line}, column {column}" if "\n" in text else f"column {column}"
            return at(f"syntax error: unexpected end of input: the '(' at {where} is never closed",
                      end)
        return at(f"syntax error: unexpected end of input{expecting}", end)

    offset = token.start_pos
    before = text[:offset].rstrip()
    previous = before[-1:] if before else ""
    word = f"'{token.value}'"
    if token.type == "RPAR" and _unclosed(text[:offset]) is None:
        return at("syntax error: unmatched ')'", offset)
    if token.type == "COMPARE" and error.expected and "COMPARE" not in error.expected:
        if any(symbol in before for symbol in ("<", ">", "==", "!=")):
            return at("syntax error: comparisons cannot be chained (a < b < c); "
                      "compare two values at a time", offset)
    function = re.search(r"(\w+)$", before)
    if token.type in ("NAME", "NUMBER") and function and function.group(1) in BY_NAME:
        name = function.group(1)
        return at(f"syntax error: '{name}' is a function: write {name}({token.value})", offset)
    if token.type in ("NAME", "NUMBER", "LPAR") and previous:
        if (previous.isdigit() or previous in ".)") and token.type != "NUMBER":
            return at("syntax error: implicit multiplication is ambiguous after '/' and in an "
                      "exponent: write the '*' (1/(2*x) or 1/2*x; x**(2*y) or x**2*y)", offset)
        if previous.isalnum() or previous in "_.)":
            return at(f"syntax error: missing operator before {word} (write '*' to multiply)",
                      offset)
    if token.type == "EQUAL":
        return at("syntax error: unexpected '='; to compare, write '=='", offset)
    if token.type == "COMMA" and source == "expression" and _unclosed(text[:offset]) is None:
        return at("syntax error: unexpected ',' outside a call: one expression at a time "
                  "(points are given with --at x=1,y=2)", offset)
    return at(f"syntax error: unexpected {word}{expecting}", offset)
