"""The statements of a spec (grammars/spec.lark), as the parser reduces them: assignments,
params, and the def, grad, vjp, domain and check statements of custom derivative rules.

`StatementReductions` holds the reductions; the parser's builder (gradcli.parsing) inherits
them, with its `_error(cls, message, token)` that places an error at a token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gradcli.errors import NameResolutionError, ParseError
from gradcli.graph import Node

if TYPE_CHECKING:
    from lark import Token


@dataclass
class DomainItem:
    """`x[3, 4] = -1:1` in a domain statement: a shape and bounds, each optional."""

    name: str
    shape: tuple[int, ...] | None
    bounds: tuple[Node, Node] | None
    column: int


@dataclass
class Statement:
    """One statement of a spec: `name = value`, `param name = value`, `def f(x) = body`,
    `grad f(x) = body`, `vjp f(x) = body`, `domain f: items` or `check name at point`.

    The body of def, grad and vjp (and the point of check) is kept as text, `body`, which
    starts at column `body_column`: it is read again at each use (see gradcli.custom)."""

    kind: str  # "assign", "param", "def", "grad", "vjp", "domain" or "check"
    name: str
    value: Node | None  # the value of an assignment
    line: int
    column: int
    params: tuple[str, ...] = ()
    body: str = ""
    body_column: int = 0
    domain: list[DomainItem] = field(default_factory=list)



class StatementReductions:
    """The reductions of spec.lark's rules, each given the children of its rule."""

    def assign(self, token: Token, value: Node) -> Statement:
        return Statement("assign", str(token), value, token.line, token.column)

    def param(self, keyword: Token, token: Token, value: Node) -> Statement:
        return Statement("param", str(token), value, token.line, token.column)

    def statement(self, statement: Statement | None = None) -> Statement | None:
        return statement

    # custom functions and their rules: the body is text, read at each use
    def parameters(self, *names: Token) -> list[Token]:
        return list(names)

    def definition(self, keyword: Token, token: Token, params: list[Token], body: Token):
        return self._rule(keyword, token, params, body)

    def rule(self, keyword: Token, token: Token, params: list[Token], body: Token) -> Statement:
        return self._rule(keyword, token, params, body)

    def _rule(self, keyword: Token, token: Token, params: list[Token], body: Token) -> Statement:
        names = [str(p) for p in params]
        for k, param in enumerate(params):
            if str(param) in names[:k]:
                raise self._error(NameResolutionError, f"parameter '{param}' is named twice",
                                  param)
        text, column = _rest(body, 1)  # after the '='
        return Statement(str(keyword), str(token), None, token.line, token.column, tuple(names),
                         text, column)

    def domain(self, keyword: Token, token: Token, *items: DomainItem) -> Statement:
        return Statement("domain", str(token), None, token.line, token.column, domain=list(items))

    def domain_item(self, token: Token, bracket: Token | None, *rest) -> DomainItem:
        *sizes, low, _, high = rest
        shape = None
        if bracket is not None:
            shape = tuple(self._size(size) for size in sizes)
        bounds = (low, high) if low is not None else None
        return DomainItem(str(token), shape, bounds, token.column)

    def _size(self, token: Token) -> int:
        if not str(token).isdigit():
            raise self._error(ParseError, "a size must be a whole number", token)
        return int(str(token))

    def check(self, keyword: Token, token: Token, point: Token) -> Statement:
        text, column = _rest(point, 2)  # after the 'at'
        return Statement("check", str(token), None, token.line, token.column, body=text,
                         body_column=column)

    def rule_body(self, *values: Node) -> list[Node]:
        return [value for value in values if value is not None]


def _rest(token: Token, keyword: int) -> tuple[str, int]:
    """The text of a BODY or POINT token after its first `keyword` characters and the spaces
    that follow them, and the column where that text starts."""
    text = str(token)[keyword:]
    stripped = text.lstrip()
    return stripped, token.column + keyword + len(text) - len(stripped)


_COMMENT = re.compile(r"""^(?:[^#"']|"[^"\n]*"|'[^'\n]*')*""")


def without_comment(text: str) -> str:
    """The text before a `#` comment (a # inside quotes is text), for showing a body or a
    point as written."""
    return _COMMENT.match(text).group().rstrip()
