"""The statements of a spec that define functions and say how to check them:

    def smooth_abs(x, eps) = sqrt(x**2 + eps)
    grad smooth_abs(x, eps) = (x / smooth_abs(x, eps), 1 / (2*smooth_abs(x, eps)))
    domain smooth_abs: eps = 0.01:1, x[5]          where (and at which shapes) to sample
    check loss at w=1.5                            a point worth pinning

Each is validated as it is read, and an error placed at its line and column: a name defined
twice, a rule for no function, a rule after the function was first used (the nodes built
before it would not use it), the wrong number of parameters or partials, a domain for a name
that is no parameter. What needs the shapes of a call (a vjp's cotangents) is validated when
the rules are checked, before any number is computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from gradcli.custom import Definition, Rule, RuleError, Source, validate
from gradcli.errors import InputError, NameResolutionError, ParseError, PointError
from gradcli.evaluation import evaluate
from gradcli.graph import ancestors
from gradcli.ops.core import VARIABLE
from gradcli.points import read_point
from gradcli.statements import DomainItem, Statement, without_comment


@dataclass(frozen=True)
class Sampled:
    """Where a domain statement samples one argument: its shape and bounds (None: the
    defaults, a number and -2:2)."""

    shape: tuple[int, ...] | None
    bounds: tuple[float, float] | None


@dataclass
class Check:
    """`check name at point`: the point read, and where the statement is."""

    name: str
    point: dict[str, object]
    text: str  # the point as written
    line: int
    column: int


class _Spec(Protocol):  # what is read and written of gradcli.spec.Spec
    path: str
    text: str
    names: dict
    functions: dict[str, Definition]
    domains: dict[str, dict[str, Sampled]]
    checks: list[Check]
    first_use: dict[str, int]

    def error(self, cls, message: str, line: int, column: int) -> InputError: ...


def read_rule_statement(spec: _Spec, statement: Statement, line: int) -> None:
    """Add a def, grad, vjp, domain or check statement (read at `line`) to the spec."""
    kind = statement.kind
    if kind == "def":
        _define(spec, statement, line)
    elif kind in ("grad", "vjp"):
        _rule(spec, statement, line)
    elif kind == "domain":
        _domain(spec, statement, line)
    else:
        _check(spec, statement, line)


def _define(spec: _Spec, statement: Statement, line: int) -> None:
    name = statement.name
    if name in spec.functions:
        first = spec.functions[name].line
        raise spec.error(NameResolutionError, f"function '{name}' is defined twice (first at "
                         f"line {first})", line, statement.column)
    if name in spec.names:
        raise spec.error(NameResolutionError, f"'{name}' is already a value of the spec",
                         line, statement.column)
    source = Source(spec.path, spec.text)
    count = validate(statement.body, statement.params, spec.functions, source, line,
                     statement.body_column)
    if count is not None and count != 1:
        raise spec.error(ParseError, f"def {name} has {count} values: a function has one (a "
                         "tuple is for the partials of a grad or vjp rule)", line,
                         statement.body_column)
    spec.functions[name] = Definition(name, statement.params, statement.body, line,
                                      statement.body_column, source, dict(spec.functions))


def _rule(spec: _Spec, statement: Statement, line: int) -> None:
    name, kind = statement.name, statement.kind
    definition = spec.functions.get(name)
    where = dict(line=line, column=statement.column)
    if definition is None:
        raise spec.error(NameResolutionError, f"{kind} {name}: no function '{name}' is defined "
                         f"before this line (write def {name}(...) = ... first)", **where)
    if definition.rule is not None:
        raise spec.error(RuleError, f"{name} has a rule already (line {definition.rule.line})",
                         **where)
    if name in spec.first_use:
        raise spec.error(RuleError, f"the rule of {name} must come before its first use (line "
                         f"{spec.first_use[name]}), so that every call uses it", **where)
    n = len(definition.params)
    if len(statement.params) != n:
        raise spec.error(RuleError, f"{kind} {name} names {len(statement.params)} parameters; "
                         f"{definition.signature} (line {definition.line}) has {n}", **where)
    if kind == "vjp" and "g" in statement.params:
        raise spec.error(RuleError, "in a vjp rule, g is the cotangent of the output: name the "
                         "parameters otherwise", **where)
    source = Source(spec.path, spec.text)
    functions = {**spec.functions}  # the function itself included: x / smooth_abs(x, eps)
    extra = ("g",) if kind == "vjp" else ()
    count = validate(statement.body, statement.params, functions, source, line,
                     statement.body_column, extra)
    if count is not None and count != n:
        what = "partial derivative" if kind == "grad" else "cotangent"
        raise spec.error(RuleError, f"{kind} {name} gives {count} {what}"
                         f"{'' if count == 1 else 's'} for {n} argument{'' if n == 1 else 's'}: "
                         "one per argument, written (a, b)", line, statement.body_column)
    definition.rule = Rule(kind, statement.params, statement.body, line, statement.body_column,
                           source, functions)


def _domain(spec: _Spec, statement: Statement, line: int) -> None:
    name = statement.name
    definition = spec.functions.get(name)
    if definition is None:
        raise spec.error(NameResolutionError, f"domain {name}: no function '{name}' is defined "
                         "before this line", line, statement.column)
    if name in spec.domains:
        raise spec.error(NameResolutionError, f"the domain of {name} is given twice", line,
                         statement.column)
    entries: dict[str, Sampled] = {}
    for item in statement.domain:
        if item.name not in definition.params:
            raise spec.error(NameResolutionError, f"'{item.name}' is not a parameter of "
                             f"{definition.signature}", line, item.column)
        if item.name in entries:
            raise spec.error(NameResolutionError, f"'{item.name}' is given twice", line,
                             item.column)
        entries[item.name] = Sampled(item.shape, _bounds(spec, item, line))
    spec.domains[name] = entries


def _bounds(spec: _Spec, item: DomainItem, line: int) -> tuple[float, float] | None:
    if item.bounds is None:
        return None
    low, high = item.bounds
    if any(node.op is VARIABLE for node in ancestors([low, high])):
        raise spec.error(PointError, "the bounds must be numbers or constant expressions "
                         "(-pi:pi)", line, item.column)
    values = evaluate([low, high], {})
    lo, hi = (np.asarray(values[node.index], dtype=np.float64) for node in (low, high))
    if lo.ndim or hi.ndim or not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise spec.error(PointError, f"the domain of '{item.name}' must be two finite numbers "
                         f"LOW:HIGH with LOW < HIGH", line, item.column)
    return float(lo), float(hi)


def _check(spec: _Spec, statement: Statement, line: int) -> None:
    try:
        point = read_point(statement.body, folder=Path(spec.path).parent)
    except InputError as error:
        at = None if error.column is None else statement.body_column + error.column - 1
        raise spec.error(type(error), error.message, line, at or statement.body_column) \
            from None
    spec.checks.append(Check(statement.name, point, without_comment(statement.body), line,
                             statement.column))
