"""A call's arguments matched to the parameters of a function's signature.

Positional arguments first, then keywords; defaults filled in; settings (axis, shape, keepdims)
turned into Python values, which must be constants; the arguments of a variadic parameter
(`concat(a, b, axis=1)`) spread. Every mistake is reported at the token that makes it, through
the `error(cls, message, token)` of the parser.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from gradcli import ops
from gradcli.errors import ArityError, ParseError, suggest
from gradcli.functions import OMITTED, REQUIRED, Function
from gradcli.graph import Graph, Node

if TYPE_CHECKING:
    from lark import Token


class Keyword:
    """`name=value` among a call's arguments."""

    __slots__ = ("name", "value", "token")

    def __init__(self, token: Token, value):
        self.name, self.value, self.token = str(token), value, token


def bind(entry: Function, token: Token, arguments: list, error: Callable, graph: Graph
         ) -> tuple[list, dict]:
    """The call's arguments in the order of the signature, defaults filled in; settings
    (axis, shape, ...) as Python values, and a variadic parameter's arguments spread."""
    if (entry.variadic is None and not entry.static and len(arguments) == len(entry.params)
            and not any(isinstance(a, Keyword) for a in arguments)):
        return list(arguments), {}  # every parameter given, in order: most calls
    params = list(entry.params)
    positional = [a for a in arguments if not isinstance(a, Keyword)]
    keywords = [a for a in arguments if isinstance(a, Keyword)]
    spread: list = []
    if entry.variadic is not None:
        spread, positional = positional, []
        params.remove(entry.variadic)
    n = len(params)
    if len(positional) > n:
        raise error(ArityError, f"{entry.name} takes {_count(n)}, got {len(positional)}"
                    f"{_usage(entry)}", token)
    given: dict[str, object] = dict(zip(params, positional, strict=False))
    for keyword in keywords:
        if keyword.name not in params:
            raise error(ArityError, f"{entry.name} has no argument '{keyword.name}'"
                        f"{_usage(entry)}{suggest(keyword.name, params)}", keyword.token)
        if keyword.name in given:
            raise error(ArityError, f"{entry.name} got '{keyword.name}' twice{_usage(entry)}",
                        keyword.token)
        given[keyword.name] = keyword.value
    if entry.variadic is not None and not spread:
        raise error(ArityError, f"{entry.name} needs at least one array{_usage(entry)}", token)
    args: list = []
    for param, default in zip(entry.params, entry.defaults, strict=True):
        if param == entry.variadic:
            continue
        if param in given:
            value = given[param]
            if param in entry.static:
                where = next((k.token for k in keywords if k.name == param), token)
                value = _setting(param, value, where, error)
            args.append(value)
        elif default is REQUIRED:
            got = len(positional) + len(keywords)
            raise error(ArityError, f"{entry.name} needs {_count(entry.required)}, "
                        f"got {got}{_usage(entry)}", token)
        elif default is OMITTED:
            args.append(None)
        elif param in entry.static:
            args.append(default)
        else:
            args.append(ops.literal(graph, default))
    if entry.variadic is not None:
        settings = [p for p in entry.params if p != entry.variadic]
        return spread, dict(zip(settings, args, strict=True))
    return args, {}


def _setting(param: str, node: Node, token: Token, error: Callable):
    """The Python value of a setting: axis=1, axis=[0, 1], keepdims=true, shape=[2, -1]."""
    value = ops.constant_value(node) if ops.is_constant(node) else None
    array = None if value is None else np.asarray(value)
    if (array is None or array.ndim > 1 or not np.all(np.isfinite(array))
            or not np.all(array == np.round(array))
            or (param == "keepdims" and (array.ndim or float(array) not in (0.0, 1.0)))):
        kind = "true or false" if param == "keepdims" else \
            "a constant integer or a list of them, e.g. [0, 1]"
        raise error(ParseError, f"{param} must be {kind}", token)
    if param == "keepdims":
        return bool(array)
    if array.ndim == 0:
        return (int(array),) if param in ("shape", "axes") else int(array)
    return tuple(int(v) for v in array)


def _usage(entry: Function) -> str:
    """' (usage: log(x, [base]))', for an error message: written only when one is raised."""
    return f" (usage: {entry.signature})"


def _count(n: int) -> str:
    return f"{n} argument" + ("" if n == 1 else "s")
