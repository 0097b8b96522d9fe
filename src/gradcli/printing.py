"""Graph to formula text, with one precedence table (gradcli.ops.core) deciding every bracket.

The printer walks the graph with an explicit stack and emits pieces of text, so a formula
100,000 levels deep prints in time proportional to its length. What it prints parses back
into the same graph: brackets are kept wherever leaving them out would change the grouping.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from gradcli.graph import Node
from gradcli.ops.core import (
    ATOM,
    COMPARISON,
    CONSTANT,
    POWER,
    SIGN,
    VARIABLE,
    Call,
    Infix,
    Postfix,
    Prefix,
    constant_value,
)

ARRAY_LIMIT = 100  # an unnamed array constant of more entries is printed by its shape only


def format_number(value: float) -> str:
    """The shortest text that reads back as `value`: 2, 0.5, 1e-08, inf, nan."""
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value)) if value != 0 or math.copysign(1, value) > 0 else "-0"
    return repr(value)


def shorten(text: str, width: int = 60) -> str:
    """`text`, cut to `width` characters with an ellipsis where it is longer."""
    return text if len(text) <= width else text[:width - 1] + "…"


def format_array(array) -> str:
    """[1, 2.5] or [[1, 0], [0, 1]]: an array literal of the language."""
    array = np.asarray(array)
    if array.ndim == 0:
        return format_number(float(array))
    return "[" + ", ".join(format_array(row) for row in array) + "]"


def _leaf(node: Node) -> tuple[str, int]:
    if node.op is VARIABLE:
        return node.attrs[0], ATOM
    name = node.attrs[1]
    if name is not None:
        return name, ATOM
    value = constant_value(node)
    if node.shape:
        if node.size > ARRAY_LIMIT:
            return f"<array of shape {node.shape}>", ATOM
        return format_array(value), ATOM
    text = format_number(value)
    return text, SIGN if text.startswith("-") else ATOM


def _setting(name: str, value) -> str | None:
    """`axis=1`, `shape=[2, 3]`, `keepdims=True`; None for a setting left at its default."""
    if value is None or value is False:
        return None
    if isinstance(value, tuple):
        if name == "axis" and len(value) == 1:
            return f"axis={value[0]}"
        return f"{name}=[{', '.join(str(v) for v in value)}]"
    return f"{name}={value}"


def settings(node: Node) -> list[str]:
    """The static attributes of `node` as the keywords of a call."""
    texts = (_setting(name, value) for name, value in zip(node.op.params, node.attrs, strict=True))
    return [text for text in texts if text is not None]


def shown_inputs(node: Node) -> tuple[Node, ...]:
    """The inputs a formula shows: all but the hidden body of a custom function."""
    return node.inputs[:-1] if node.op.passthrough else node.inputs


def precedence(node: Node) -> int:
    """How tightly the text of `node` binds, from the precedence table."""
    if node.op is CONSTANT or node.op is VARIABLE:
        return _leaf(node)[1]
    notation = node.op.printed
    return ATOM if isinstance(notation, (Call, Postfix)) else notation.precedence


def _layout(notation, operands: Sequence[tuple[object, int, bool]], attrs: tuple = (),
            keywords: Sequence[str] = ()) -> list:
    """The pieces of one operation: strings and operands; `operands` are (operand, binding
    strength, starts with a minus sign); each operand comes back as (operand, bracketed).
    `keywords` are the settings of a call, `attrs` what a postfix notation prints."""
    if isinstance(notation, Call):
        pieces: list = [f"{notation.name}("]
        for k, (operand, _, _) in enumerate(operands):
            pieces += [", "] if k else []
            pieces.append((operand, False))
        for k, keyword in enumerate(keywords):
            pieces.append(", " + keyword if operands or k else keyword)
        return pieces + [")"]
    if isinstance(notation, Postfix):
        operand, strength, _ = operands[0]
        return [(operand, strength < ATOM), notation.text(attrs)]
    if isinstance(notation, Prefix):
        operand, strength, negative = operands[0]
        return [notation.symbol, (operand, strength < notation.precedence or negative)]
    (left, left_strength, _), (right, right_strength, _) = operands
    p = notation.precedence
    if p == COMPARISON:  # comparisons do not chain: bracket both sides at equal strength
        left_bracket, right_bracket = left_strength <= p, right_strength <= p
    elif notation.right_associative:
        left_bracket = left_strength <= p
        right_bracket = right_strength < p and not (p == POWER and right_strength == SIGN)
    else:
        left_bracket, right_bracket = left_strength < p, right_strength <= p
    symbol = f" {notation.symbol} " if notation.spaced else notation.symbol
    return [(left, left_bracket), symbol, (right, right_bracket)]


def _operand(node: Node) -> tuple[Node, int, bool]:
    strength = precedence(node)
    return node, strength, strength == SIGN


def _minus_of_product(node: Node) -> bool:
    """Whether `node` is -(a*b) or -(a/b) with `a` not starting with a minus: printed -a*b,
    which parses as (-a)*b, a node the table's identities turn back into -(a*b)."""
    notation = node.op.printed
    if not isinstance(notation, Prefix) or notation.symbol != "-":
        return False
    operand = node.inputs[0]
    if not isinstance(operand.op.printed, Infix) or operand.op.printed.symbol not in ("*", "/"):
        return False
    while isinstance(operand.op.printed, Infix) and operand.inputs:  # the leftmost operand
        operand = operand.inputs[0]
    return precedence(operand) != SIGN


def short_text(node: Node, width: int = 60, names: Mapping[int, str] | None = None) -> str:
    """The formula of `node` cut to `width` characters (`shorten`), written only as far as
    that: a warning about a node of 10^5 operations does not print all of them."""
    return shorten(to_text(node, names, limit=width + 1, depth=width // 2), width)


def to_text(root: Node, names: Mapping[int, str] | None = None, explicit: bool = False,
            limit: int | None = None, depth: int | None = None) -> str:
    """The formula of `root`, e.g. 'log(x1) + x1*x2 - sin(x2)'; a node below the root that
    `names` names (by index) is written as its name: 'softmax(h @ w1 + b1)'. `explicit`
    brackets every compound operand of an operator, to show the grouping as parsed:
    '(log(x1) + (x1*x2)) - sin(x2)'. With `limit`, only the first `limit` characters or so;
    with `depth`, what lies deeper is '…' (x*x*...*x of 10^5 factors: '…*x*x*x')."""

    def pieces(node: Node) -> list:
        if node.op is CONSTANT or node.op is VARIABLE:
            return [_leaf(node)[0]]
        operands = [_operand(i) for i in shown_inputs(node)]
        if _minus_of_product(node) and not explicit:
            operands = [(node.inputs[0], SIGN, False)]  # -x*y: (-x)*y is the same node
        if explicit:
            operands = [(i, ATOM if strength == ATOM else 0, negative)
                        for i, strength, negative in operands]
        return _layout(node.op.printed, operands, node.attrs,
                       settings(node) if node.op.params else ())

    return write(root, pieces, names, limit=limit, depth=depth)


def write(root: Node, pieces: Callable[[Node], list], names: Mapping[int, str] | None = None,
          name: Callable[[str], str] = str, brackets: tuple[str, str] = ("(", ")"),
          limit: int | None = None, depth: int | None = None) -> str:
    """The text of `root` from `pieces(node)`: strings, and (operand, bracketed) pairs that are
    written in turn. One explicit stack, so a formula 100,000 levels deep prints in time
    proportional to its length; a node `names` names (below the root) is `name(its name)`.
    The text is written from left to right: with `limit`, it stops once that long; a node more
    than `depth` levels below the root is written '…'."""
    out: list[str] = []
    stack: list = [(root, False, 0)]
    length = 0
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            length += len(item)
            if limit is not None and length >= limit:
                break
            continue
        node, bracketed, level = item
        if names and node is not root and node.index in names:
            out.append(name(names[node.index]))
            continue
        if depth is not None and level > depth and node.inputs:
            out.append("…")
            continue
        parts = [part if isinstance(part, str) else (*part, level + 1) for part in pieces(node)]
        if bracketed:
            parts = [brackets[0], *parts, brackets[1]]
        stack.extend(reversed(parts))
    return "".join(out)


def apply_text(node: Node, values: Sequence[float]) -> str:
    """The operation of `node` applied to numbers, e.g. 'log(-2)' or '1/0'."""
    operands = []
    for value in values[:len(values) - node.op.passthrough]:
        text = format_number(value)
        operands.append((text, SIGN if text.startswith("-") else ATOM, text.startswith("-")))
    pieces = _layout(node.op.printed, operands, node.attrs,
                     settings(node) if node.op.params else ())
    return "".join(p if isinstance(p, str) else (f"({p[0]})" if p[1] else p[0]) for p in pieces)
