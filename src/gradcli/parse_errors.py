"""Grammar errors as sentences: what was expected, said the way a person would, with the place.

Lark reports an unexpected character or token and the terminals it expected; `describe` turns
that into one sentence for the most common mistakes (a missing operator, an unclosed bracket,
implicit multiplication where it is ambiguous, '=' for '==') and a plain one otherwise.
"""

from __future__ import annotations

import re

from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from gradcli.errors import ParseError
from gradcli.functions import BY_NAME

_TERMINALS = {
    "NAME": "a name", "NUMBER": "a number", "LPAR": "'('", "RPAR": "')'", "COMMA": "','",
    "PLUS": "'+'", "MINUS": "'-'", "STAR": "'*'", "SLASH": "'/'", "EQUAL": "'='",
    "COMPARE": "a comparison", "POW": "'**'", "AT": "'@'", "LSQB": "'['", "RSQB": "']'",
    "COLON": "':'", "DOT": "'.'", "STRING": "a quoted text", "PATH": "a file name",
    "PARAM": "'param'", "$END": "the end of the input", "BODY": "'=' and a formula",
    "POINT": "'at' and a point such as x=1",
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


def describe(error: UnexpectedInput, text: str, source: str) -> ParseError:
    def at(message: str, offset: int) -> ParseError:
        line, column = _position(text, offset)
        return ParseError(message, text, line, column, source=source)

    if isinstance(error, UnexpectedCharacters):
        char = text[error.pos_in_stream]
        shown = repr(char) if not char.isprintable() else f"'{char}'"
        hint = {"=": ": '=' gives a value in --at; to compare, write '=='",
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
