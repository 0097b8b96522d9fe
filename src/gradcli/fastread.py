"""A fast reader for the common subset of the expression language, in front of Lark.

Why: Lark's LALR parser spends about half the time of reading a long expression in its lexer,
its `feed_token` and the unit rules every leaf climbs (`primary` -> `power` -> `signed` ->
`product` -> `sum` ...). This reader makes one pass over the text with one regular expression
and an operator-precedence (shunting-yard) loop on two explicit stacks, so there is no
recursion and an expression nested 100,000 deep reads like any other.

What it accepts, and nothing more (for the start rules "expression" and "point"):

- numbers (Lark's NUMBER pattern), ASCII names, calls `f(a, b)` with positional arguments
  (`f()` too), parentheses;
- binary `+ -` (left-associative), `* /` (left-associative), `**` and `^` (right-associative);
- unary `-` and `+` wherever the grammar allows them, binding like the grammar's `signed`,
  `divisor` and `exponent`: looser than a power to their right, tighter than `* /`, so
  `-x**2` is -(x**2), `2**-x*y` is (2**(-x))*y; a unary `+` reduces to nothing;
- a point `x=2, y=pi/4`: bindings of such expressions;
- on one line, with spaces and tabs between tokens.

Anything else, such as implicit multiplication (`2x`, `(x+1)(x-1)`), comparisons, `@`,
arrays, subscripts, `.T`, keyword or text arguments, `@file` in points, comments, newlines,
non-ASCII text, or any syntax error, raises `NotFast` and Lark reads the text instead.

Lark remains the definition of the language and the only source of its error messages. Over
the subset, this reader issues the same reductions as Lark's parser with its inline
transformer (`gradcli.parsing._Builder`): the same callbacks, in the same order (post-order,
as an LALR parser reduces), with the same arguments, tokens included (type, value, line,
column, positions), so the graph it builds is the one Lark's would be, node for node. An
error the builder raises (an unknown function, a wrong number of arguments, a shape that
does not fit) is turned into `NotFast` as well: Lark reads the text again and raises the very
error it always raises, including where it would find a syntax error first. What a refused
read leaves behind, some nodes and variable positions, is the builder's only effect; the caller
(`gradcli.parsing._run`) drops it and starts Lark on a fresh graph.

It is kept honest by tests/test_fastread.py: differential tests that parse many texts (hand
written corner cases, the benchmark's random expressions, a random generator over the subset,
and those texts with a character changed) both ways and compare the graphs node by node and the
logged reductions call by call, and check that texts outside the subset and invalid texts give
exactly what Lark gives.
"""

from __future__ import annotations

import re

STARTS = ("expression", "point")


class NotFast(Exception):
    """The text is not one the fast reader takes (or the builder refused it): read it with
    Lark, which builds the graph again or says what is wrong."""


# One token after optional blanks: a number (Lark's NUMBER), a name, a name that opens a call
# (the name and its "("), a symbol, or one other character, which ends the fast read. Only
# blanks are ever skipped between matches (trailing ones), as `other` takes any other character.
_TOKEN = re.compile(
    r"""[ \t]*(?:
        (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<name>[^\W\d]\w*)(?P<call>[ \t]*\()?
      | (?P<symbol>\*\*|[-+*/^(),=])
      | (?P<other>[^ \t])
    )""",
    re.VERBOSE | re.ASCII,
)

# what the reader expects next
_OPERAND = 0  # a number, a name, a call, "(", or a unary sign
_ARGUMENT = 1  # right after "f(": an operand, or ")" for a call without arguments
_OPERATOR = 2  # a binary operator, ")", ",", or the end
_BINDING = 3  # in a point: the name of the next binding
_EQUALS = 4  # in a point: "=" after that name

# binary operators: (token type, precedence); `**` and `^` (POW) are right-associative
_BINARY = {"+": ("PLUS", 1), "-": ("MINUS", 1), "*": ("STAR", 2), "/": ("SLASH", 2),
           "**": ("POW", 4), "^": ("POW", 4)}
_CALLBACK = {"PLUS": "add", "MINUS": "sub", "STAR": "mul", "SLASH": "div", "POW": "pow"}
_SIGN = 3  # the precedence of unary minus: below a power to its right, above * and /
# the markers of what is open on the operator stack, all of precedence 0: below every operator
_GROUP, _CALL, _POINT = "(", "call", "binding"


def read(text: str, start: str, builder) -> object:
    """What Lark's `parser.parse(text, start=start)` would return, built through `builder`
    with the same reductions; `NotFast` if the text is outside the subset."""
    if start not in STARTS:
        raise NotFast(start)
    try:
        return _Reader(builder).read(text, start == "point")
    except NotFast:
        raise
    except Exception as error:  # the builder's: Lark reads the text again and raises it
        raise NotFast(str(error)) from error


class _Reader:
    """One read: the builder's reductions, and the two stacks of the shunting-yard loop.

    `values` holds what the reductions returned (nodes, and a point's bindings); `pending`
    holds what is not reduced yet: binary operators as (precedence, token), a unary minus as
    (_SIGN, None), and what is open, a group, a call or a binding, as (0, marker, name token
    or None, height), height being the size of `values` when it opened.
    """

    def __init__(self, builder) -> None:
        self.number = builder.number
        self.name = builder.name
        self.neg = builder.neg
        self.call = builder.call
        self.arguments = builder.arguments
        self.binding = builder.binding
        self.point = builder.point
        self.binary = {kind: getattr(builder, name) for kind, name in _CALLBACK.items()}
        self.values: list = []
        self.pending: list[tuple] = []

    def read(self, text: str, point: bool) -> object:
        values, pending = self.values, self.pending
        expect = _BINDING if point else _OPERAND
        for match in _TOKEN.finditer(text):
            kind = match.lastgroup
            if expect == _OPERAND or expect == _ARGUMENT:
                if kind == "number":
                    values.append(self.number(Token("NUMBER", match, kind)))
                    expect = _OPERATOR
                elif kind == "name":
                    values.append(self.name(Token("NAME", match, kind)))
                    expect = _OPERATOR
                elif kind == "call":
                    pending.append((0, _CALL, Token("NAME", match, "name"), len(values)))
                    expect = _ARGUMENT
                elif kind != "symbol":
                    raise NotFast(f"{match.group().strip()!r} where an operand belongs")
                elif expect == _ARGUMENT and match.group(kind) == ")":  # f(): no arguments
                    values.append(self.call(pending.pop()[2], None))
                    expect = _OPERATOR
                else:
                    self.prefix(match.group(kind))
                    expect = _OPERAND
            elif expect == _OPERATOR:
                binary = _BINARY.get(match.group("symbol"))
                if binary is None:  # ")", ",", or the end of the fast read
                    expect = self.after_operand(match)
                    continue
                kind, precedence = binary
                # left-associative: first reduce what binds at least as tightly
                if kind != "POW" and pending and pending[-1][0] >= precedence:
                    self.reduce(precedence - 1)
                pending.append((precedence, Token(kind, match, "symbol")))
                expect = _OPERAND
            elif expect == _BINDING:
                if kind != "name":
                    raise NotFast("a binding of a point starts with a name")
                pending.append((0, _POINT, Token("NAME", match, kind), len(values)))
                expect = _EQUALS
            elif kind == "symbol" and match.group(kind) == "=":
                expect = _OPERAND
            else:
                raise NotFast("the name of a binding is followed by '='")
        if expect != _OPERATOR:
            raise NotFast("the text ends where an operand belongs")
        self.reduce(0)
        if point:
            self.close_binding()
        if pending:
            raise NotFast("a '(' is never closed")
        return self.point(*values) if point else values[0]

    def prefix(self, symbol: str) -> None:
        """A symbol where an operand belongs: a unary minus or plus, or an opening "(".
        A unary plus reduces to nothing (Lark inlines `"+" signed`)."""
        if symbol == "-":
            self.pending.append((_SIGN, None))
        elif symbol == "(":
            self.pending.append((0, _GROUP, None, len(self.values)))
        elif symbol != "+":
            raise NotFast(f"{symbol!r} where an operand belongs")

    def after_operand(self, match: re.Match) -> int:
        """What follows an operand, other than a binary operator: ")" or "," (anything else, a
        name, a number or "(", would be implicit multiplication, or an error); what is
        expected next."""
        symbol = match.group("symbol")
        if symbol == ")" or symbol == ",":
            self.reduce(0)
            closing = (symbol, self.pending[-1][1] if self.pending else None)
            if closing == (")", _GROUP):
                self.pending.pop()
                return _OPERATOR
            if closing == (")", _CALL):
                self.close_call()
                return _OPERATOR
            if closing == (",", _CALL):  # the next argument
                return _OPERAND
            if closing == (",", _POINT):  # the next binding
                self.close_binding()
                return _BINDING
        raise NotFast(f"{match.group().strip()!r} after an operand")

    def reduce(self, above: int) -> None:
        """Reduce the pending operators of precedence above `above`, innermost first."""
        values, pending = self.values, self.pending
        while pending and pending[-1][0] > above:
            operator = pending.pop()[1]
            if operator is None:
                values[-1] = self.neg(values[-1])
            else:
                right = values.pop()
                values[-1] = self.binary[operator.type](values[-1], operator, right)

    def close_call(self) -> None:
        """`name(a, b, ...)`: arguments(a, b, ...), then call(name, arguments)."""
        _, _, name, height = self.pending.pop()
        arguments = self.arguments(*self.values[height:])
        del self.values[height:]
        self.values.append(self.call(name, arguments))

    def close_binding(self) -> None:
        """`name=value` of a point, once its value is reduced."""
        if not self.pending or self.pending[-1][1] != _POINT:
            raise NotFast("a '(' is never closed")
        name = self.pending.pop()[2]
        self.values.append(self.binding(name, self.values.pop()))


class Token:
    """A token as Lark's lexer makes one (a lark.Token: its text, type and place), so that a
    text this reader takes never imports Lark. Its text and place are read from the match only
    when asked for: the builder looks at an operator's token only to place an error. The
    reader reads one line, so a token's line is 1 and its columns follow from its offsets."""

    __slots__ = ("type", "_match", "_group")
    line = end_line = 1

    def __init__(self, kind: str, match: re.Match, group: str):
        self.type, self._match, self._group = kind, match, group

    def __str__(self) -> str:
        return self._match.group(self._group)

    def __float__(self) -> float:
        return float(self._match.group(self._group))

    def __repr__(self) -> str:
        return f"Token({self.type!r}, {str(self)!r})"

    value = property(__str__)
    start_pos = property(lambda self: self._match.start(self._group))
    end_pos = property(lambda self: self._match.end(self._group))
    column = property(lambda self: self._match.start(self._group) + 1)
    end_column = property(lambda self: self._match.end(self._group) + 1)
