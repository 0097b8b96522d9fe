"""Seeded random expressions of many operations, for the speed benchmark (bench/run.py).

    >>> from expressions import random_expression
    >>> e = random_expression(10_000, n_vars=10, seed=0)
    >>> len(e.ops), e.text_ops, e.variables[:3]
    (10000, ..., ('x1', 'x2', 'x3'))

An expression is built twice over from one structure:

- `ops`: a list of operations in evaluation order (SSA: each one's arguments are variables,
  constants or earlier operations), with no two alike, so it is a DAG of exactly `n_ops`
  operations. `evaluate(expr, point, lib)` runs it with any numpy-like namespace (numpy,
  autograd.numpy, jax.numpy, torch, sympy): the benchmark gives peers the same function without
  reading the text (no `eval`).
- `text`: what gradcli parses. An operation used twice (fan-out) has its text written twice, so
  only small operations are reused (at most `REUSE_MAX` operations of text each) and the text
  stays linear in the number of operations: `text_ops` (operations counted in the text, repeats
  included) is about 1.3-1.5 times `n_ops` (1.44 at 10^4, 1.49 at 10^5 for seed 0). gradcli
  merges the repeats back into one node, so its forward graph has exactly `n_ops` operation
  nodes.

Operations: `+ - *`, `sin cos tanh exp`, and the composite forms `log(1 + u**2)`,
`sqrt(1 + u**2)` and `u/(1 + w**2)` (three operations each), which are finite for every finite
u and w. Values are kept finite by construction: the generator tracks every operation's value at
the benchmark point `point(n_vars)` (x1..xn spread over [0.5, 2]) and keeps each within
[-BOUND, BOUND], but for u**2 and 1 + u**2 inside the composite forms: a product or an exp that
would leave it is not chosen, and of `a + b` and `a - b` the one inside is. So the local
derivatives stay bounded too. Constants are drawn from [0.1, 3] with 4 decimals, so that new
terms are new operations rather than repeats of earlier ones.

Terms are grown in a pool of open terms: a new term of a variable and a constant or of two
variables, a function of an open term, two open terms combined, or an open term combined with a
reused small operation or a variable; at the end the open terms are folded into one with + and -.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

BOUND = 20.0  # every operation's value at the benchmark point is within [-BOUND, BOUND]
REUSE_MAX = 6  # an operation is reused (its text repeated) only if its text has at most this many
OPEN_TARGET = 24  # about how many terms grow side by side before they are combined

BINARY = ("add", "sub", "mul", "div", "pow")
UNARY = ("sin", "cos", "tanh", "exp", "log", "sqrt")
COMMUTATIVE = ("add", "mul")
_SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}
_PRECEDENCE = {"add": 1, "sub": 1, "mul": 2, "div": 2, "pow": 3}

# an argument: ("v", index) a variable, ("c", value) a constant, ("e", index) an earlier operation
Ref = tuple[str, Any]


@dataclass(frozen=True)
class Op:
    name: str  # one of BINARY or UNARY
    args: tuple[Ref, ...]


@dataclass
class Expression:
    """A generated expression: its operations, its text, and the numbers that describe it."""

    ops: list[Op]
    output: Ref
    variables: tuple[str, ...]
    text: str = ""
    text_ops: int = 0  # operations written in the text, repeats included
    seed: int = 0
    values: list[float] = field(default_factory=list, repr=False)  # of each op at the point

    @property
    def n_ops(self) -> int:
        return len(self.ops)

    def point(self) -> dict[str, float]:
        return point(len(self.variables))

    @property
    def value(self) -> float:
        """The value at the benchmark point, in plain float arithmetic (math module)."""
        return _ref_value(self.output, self.values, self.point(), self.variables)


def variable_names(n_vars: int) -> tuple[str, ...]:
    return tuple(f"x{k}" for k in range(1, n_vars + 1))


def point(n_vars: int) -> dict[str, float]:
    """The benchmark point: x1..xn evenly over [0.5, 2] (x1 = 0.5; one variable: x1 = 1.25)."""
    if n_vars == 1:
        return {"x1": 1.25}
    return {name: 0.5 + 1.5 * k / (n_vars - 1) for k, name in enumerate(variable_names(n_vars))}


# ---------------------------------------------------------------------------------------------
# Generation


_MATH: dict[str, Callable[..., float]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "sin": math.sin,
    "cos": math.cos,
    "tanh": math.tanh,
    "exp": math.exp,
    "log": math.log,
    "sqrt": math.sqrt,
}


def _ref_value(ref: Ref, values: Sequence[float], at: Mapping[str, float],
               names: Sequence[str]) -> float:
    kind, x = ref
    if kind == "e":
        return values[x]
    if kind == "v":
        return at[names[x]]
    return float(x)


class _Builder:
    def __init__(self, n_vars: int, seed: int):
        self.rng = random.Random(seed)
        self.names = variable_names(n_vars)
        self.at = point(n_vars)
        self.ops: list[Op] = []
        self.values: list[float] = []
        self.sizes: list[int] = []  # operations in the text of each op
        self.lookup: dict[tuple, int] = {}
        self.small: list[int] = []  # ops whose text is short enough to be repeated

    # one operation, merged with an identical earlier one (as gradcli merges them)
    def op(self, name: str, *args: Ref) -> Ref:
        keys = tuple(sorted(args, key=repr)) if name in COMMUTATIVE else args
        key = (name, keys)
        index = self.lookup.get(key)
        if index is None:
            index = len(self.ops)
            value = _MATH[name](*(self.value(a) for a in args))
            # (u**2 and 1 + u**2, inside the composite forms, may reach 1 + BOUND**2)
            assert math.isfinite(value) and abs(value) <= 1 + BOUND**2, (name, args, value)
            self.ops.append(Op(name, tuple(args)))
            self.values.append(value)
            size = 1 + sum(self.sizes[a[1]] for a in args if a[0] == "e")
            self.sizes.append(size)
            self.lookup[key] = index
            if size <= REUSE_MAX and abs(value) <= BOUND:  # (not u**2 of a composite form)
                self.small.append(index)
        return ("e", index)

    def value(self, ref: Ref) -> float:
        return _ref_value(ref, self.values, self.at, self.names)

    def variable(self) -> Ref:
        return ("v", self.rng.randrange(len(self.names)))

    def constant(self) -> Ref:
        """A constant in [0.1, 3] of 4 decimals, never 1 (gradcli drops a factor of 1)."""
        value = round(self.rng.uniform(0.1, 3.0), 4)
        return ("c", 1.0001 if value == 1.0 else value)

    # forms: each returns the new ref; `cost` is the number of operations it may add
    def unary(self, u: Ref, cost: int) -> Ref:
        a = self.value(u)
        choices = ["sin", "cos", "tanh"]
        if a <= math.log(BOUND):
            choices.append("exp")
        if cost >= 3:
            choices += ["log1p2", "log1p2"]
            if math.sqrt(1 + a * a) <= BOUND:
                choices += ["sqrt1p2", "sqrt1p2"]
        kind = self.rng.choice(choices)
        if kind == "log1p2":
            return self.op("log", self.op("add", ("c", 1.0), self.op("pow", u, ("c", 2.0))))
        if kind == "sqrt1p2":
            return self.op("sqrt", self.op("add", ("c", 1.0), self.op("pow", u, ("c", 2.0))))
        return self.op(kind, u)

    def binary(self, u: Ref, w: Ref, cost: int) -> Ref:
        a, b = self.value(u), self.value(w)
        choices = ["addsub", "addsub", "addsub"]
        if abs(a * b) <= BOUND and (u[0] != "c" or w[0] != "c"):
            choices += ["mul", "mul", "mul"]
        if cost >= 3 and w[0] != "c":  # (1 + c**2 would be folded into a constant)
            choices += ["div1p2", "div1p2"]
        kind = self.rng.choice(choices)
        if kind == "div1p2":
            return self.op("div", u, self.op("add", ("c", 1.0), self.op("pow", w, ("c", 2.0))))
        if kind == "mul":
            return self.op("mul", u, w)
        # of a + b and a - b, one is within the bound when both operands are
        if abs(a + b) <= BOUND and (abs(a - b) > BOUND or self.rng.random() < 0.5):
            return self.op("add", u, w)
        return self.op("sub", u, w)

    def leaf_term(self, cost: int) -> Ref:
        """A new term of a variable and a constant (drawn from thousands, so that new terms are
        new operations, not merged with earlier ones), or of two variables."""
        x = self.variable()
        c = self.constant()
        r = self.rng.random()
        if r < 0.35:
            u = self.binary(*self.shuffled(x, c), 1)
            return self.unary(u, cost - 1) if cost >= 2 else u
        if r < 0.75:
            return self.binary(*self.shuffled(x, c), cost)
        y = self.variable()
        return self.binary(x, y, cost) if y != x else self.binary(*self.shuffled(x, c), cost)

    def shuffled(self, u: Ref, w: Ref) -> tuple[Ref, Ref]:
        return (u, w) if self.rng.random() < 0.5 else (w, u)


def random_expression(n_ops: int, n_vars: int = 10, seed: int = 0) -> Expression:
    """An expression of exactly `n_ops` distinct operations in the variables x1..x{n_vars}
    (each of which appears when n_ops is large enough), the same for the same arguments."""
    if n_ops < 1:
        raise ValueError("an expression needs at least one operation")
    b = _Builder(n_vars, seed)
    rng = b.rng
    open_terms: list[Ref] = []
    # give every variable a first term, as far as the budget goes
    steps = 0
    while True:
        steps += 1
        if steps > 50 * n_ops + 1000:
            raise RuntimeError("the generator is not making progress")
        budget = n_ops - len(b.ops) - max(len(open_terms) - 1, 0)
        if budget <= 0 or (budget == 1 and not open_terms):
            if not open_terms:
                open_terms.append(b.op("sin", b.variable()) if budget == 1 else ("v", 0))
            break
        cost = 3 if budget >= 3 else 1  # at most this many operations now
        crowd = len(open_terms) / OPEN_TARGET
        r = rng.random()
        if not open_terms or (r < 0.25 / max(crowd, 0.25) and budget >= 5):
            # a new term (at most 4 operations): it needs one more later, to join the others
            open_terms.append(b.leaf_term(min(4, budget - 1) if open_terms else min(4, budget)))
            continue
        r = rng.random()
        if len(open_terms) >= 2 and r < 0.30 * crowd:
            # combine two open terms
            i, j = rng.sample(range(len(open_terms)), 2)
            u, w = open_terms[i], open_terms[j]
            budget_here = budget + 1  # joining two terms uses up the reserved operation
            new = b.binary(u, w, min(3, budget_here))
            for k in sorted((i, j), reverse=True):
                open_terms.pop(k)
            open_terms.append(new)
        elif r < 0.55:
            # a function of an open term
            k = rng.randrange(len(open_terms))
            open_terms[k] = b.unary(open_terms[k], cost)
        else:
            # an open term with a variable or a reused small operation (fan-out)
            k = rng.randrange(len(open_terms))
            if b.small and rng.random() < 0.6:
                other: Ref = ("e", rng.choice(b.small[-200:] if rng.random() < 0.5 else b.small))
            else:
                other = b.variable()
            if other == open_terms[k]:
                other = b.variable()
            u, w = (open_terms[k], other) if rng.random() < 0.5 else (other, open_terms[k])
            open_terms[k] = b.binary(u, w, cost)
    # fold the open terms into one, with + or - (whichever stays within the bound)
    rng.shuffle(open_terms)
    while len(open_terms) > 1:
        w = open_terms.pop()
        u = open_terms.pop()
        open_terms.append(b.binary(u, w, 1))
    output = open_terms[0]
    # an operation merged with an earlier identical one while folding left the count short:
    # functions of the output make it up
    while len(b.ops) < n_ops:
        steps += 1
        if steps > 50 * n_ops + 1000:
            raise RuntimeError("the generator is not making progress")
        output = b.unary(output, min(3, n_ops - len(b.ops)))
    expr = Expression(ops=b.ops, output=output, variables=b.names, seed=seed, values=b.values)
    expr.text, expr.text_ops = render(expr)
    return expr


# ---------------------------------------------------------------------------------------------
# The text


def _number(x: float) -> str:
    return repr(float(x)).removesuffix(".0") if float(x).is_integer() else repr(float(x))


def render(expr: Expression) -> tuple[str, int]:
    """(the text, its number of operations with repeats), written without recursion: an
    expression may nest thousands deep."""
    parts: list[str] = []
    count = 0
    names = expr.variables
    # a stack of things to do: a str to write, or a ref to write (with "parenthesise?")
    stack: list[Any] = [(expr.output, False)]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
            continue
        ref, paren = item
        kind, x = ref
        if kind == "v":
            parts.append(names[x])
            continue
        if kind == "c":
            parts.append(_number(x))
            continue
        op = expr.ops[x]
        count += 1
        todo: list[Any] = []
        if op.name in _SYMBOL:
            prec = _PRECEDENCE[op.name]
            left, right = op.args
            lp = _precedence(expr, left) < prec or (op.name == "pow" and _precedence(expr, left) == prec)
            rp = _precedence(expr, right) <= prec
            spaced = op.name in ("add", "sub")
            symbol = f" {_SYMBOL[op.name]} " if spaced else _SYMBOL[op.name]
            todo = (["("] if paren else []) + [(left, lp), symbol, (right, rp)] + ([")"] if paren else [])
        else:
            todo = [f"{op.name}(", (op.args[0], False), ")"]  # a call needs no parentheses
        stack.extend(reversed(todo))
    return "".join(parts), count


def _precedence(expr: Expression, ref: Ref) -> int:
    if ref[0] == "e":
        return _PRECEDENCE.get(expr.ops[ref[1]].name, 4)
    return 4


_CALL = re.compile(r"[A-Za-z_][A-Za-z_0-9]*\(")


def count_text_ops(text: str) -> int:
    """The operations written in a text of this module, counted from the text alone: calls,
    and the operators + - * / ** (constants are never negative nor in e-notation)."""
    calls = len(_CALL.findall(text))
    powers = text.count("**")
    return calls + powers + (text.count("*") - 2 * powers) + text.count("/") + text.count("+") \
        + text.count("-")


# ---------------------------------------------------------------------------------------------
# Evaluation with a numpy-like library, from the structure (no text, no eval)


def evaluate(expr: Expression, values: Mapping[str, Any], lib: Any) -> Any:
    """The expression's value with the variables' `values` (numbers, arrays, autograd boxes,
    tensors, SymPy symbols) and the functions sin, cos, tanh, exp, log, sqrt of `lib`."""
    functions = {name: getattr(lib, name) for name in UNARY}
    variables = [values[name] for name in expr.variables]
    results: list[Any] = []

    def get(ref: Ref) -> Any:
        kind, x = ref
        if kind == "e":
            return results[x]
        if kind == "v":
            return variables[x]
        return x  # a Python float

    for op in expr.ops:
        name = op.name
        if name == "add":
            results.append(get(op.args[0]) + get(op.args[1]))
        elif name == "sub":
            results.append(get(op.args[0]) - get(op.args[1]))
        elif name == "mul":
            results.append(get(op.args[0]) * get(op.args[1]))
        elif name == "div":
            results.append(get(op.args[0]) / get(op.args[1]))
        elif name == "pow":
            results.append(get(op.args[0]) ** 2 if op.args[1] == ("c", 2.0)
                           else get(op.args[0]) ** get(op.args[1]))
        else:
            results.append(functions[name](get(op.args[0])))
    return get(expr.output)


if __name__ == "__main__":
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    e = random_expression(n, seed=int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    print(e.text)
    print(f"# {e.n_ops} operations, {e.text_ops} in the text, {len(e.text)} characters, "
          f"value {e.value!r} at {e.point()}", file=sys.stderr)
