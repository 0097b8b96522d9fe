"""Algebraic simplification of a graph, for printing derivatives: a canonical sum of products.

Every node is read as a sum `c + Σ aᵢ·mᵢ` of a constant and numeric multiples of monomials,
a monomial being a product of powers of atoms (a variable, `sin(x)`, a sum that is a factor).
Adding forms combines like terms (`x*y + 2*y*x` is `3*x*y`), multiplying combines like factors
(`x*x` is `x**2`, `x/x` is 1), constants fold, and numbers distribute over sums (`2*(x + y)` is
`2*x + 2*y`); a product of two sums stays a product, so nothing is expanded and the result has
no more distinct nodes than the graph it came from, up to a constant factor. Everything else is
rebuilt from its simplified arguments through the primitive table (which folds constants and
applies its own identities).

The terms of a sum are ordered by their factors (the factors' order in the graph, newest last),
a positive term first; factors by their order in the graph, numerator before denominator. Like
SymPy, this treats x/x as 1 and x*0 as 0 wherever x is defined: the value is unchanged
except where x is nan or infinite.

One loop over the graph in evaluation order, no recursion; a form used once is taken over by
its consumer instead of copied, so long sums and products simplify in linear time; a large
form used by several consumers stays one shared node (the prefix and suffix products of a
reverse pass), so that nothing is multiplied out into every term.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from gradcli.graph import Graph, Node, ancestors
from gradcli.ops import add, div, mul, neg, sub
from gradcli.ops import pow as power
from gradcli.ops.core import CONSTANT, VARIABLE, is_literal, literal, uniform_value
from gradcli.ops.shape import broadcast_to

Key = tuple  # a monomial's factors: ((base index, exponent), ...) sorted


class Form:
    """const + Σ coeff · Π base**exponent, with `terms` keyed by their factors."""

    __slots__ = ("const", "terms")

    def __init__(self, const: float = 0.0, terms: dict | None = None):
        self.const = const
        self.terms: dict[Key, list] = terms if terms is not None else {}  # key -> [coeff, {i: (base, e)}]

    @classmethod
    def atom(cls, node: Node) -> Form:
        return cls(0.0, {((node.index, 1.0),): [1.0, {node.index: (node, 1.0)}]})

    def copy(self) -> Form:
        return Form(self.const, {k: [c, dict(f)] for k, (c, f) in self.terms.items()})

    def single(self) -> tuple[float, dict] | None:
        """(coeff, factors) of a form that is one term (a number is a term without factors)."""
        if not self.terms:
            return self.const, {}
        if self.const == 0.0 and len(self.terms) == 1:
            coeff, factors = next(iter(self.terms.values()))
            return coeff, factors
        return None


SHARED = 8  # terms and factors of a form beyond which several consumers share it as a node


def _size(form: Form) -> int:
    return len(form.terms) + sum(len(factors) for _, factors in form.terms.values())


def _key(factors: dict) -> Key:
    return tuple(sorted((i, e) for i, (_, e) in factors.items()))


def _add_into(target: Form, other: Form, scale: float = 1.0) -> Form:
    target.const += scale * other.const
    for key, (coeff, factors) in other.terms.items():
        entry = target.terms.get(key)
        if entry is None:
            target.terms[key] = [scale * coeff, dict(factors)]
        else:
            entry[0] += scale * coeff
            if entry[0] == 0.0:
                del target.terms[key]
    return target


def _scale(form: Form, c: float) -> Form:
    if c == 0.0:
        return Form()
    form.const *= c
    for entry in form.terms.values():
        entry[0] *= c
    return form


def _times(a: tuple[float, dict], b: tuple[float, dict]) -> Form:
    coeff = a[0] * b[0]
    factors = dict(a[1])
    for i, (base, e) in b[1].items():
        total = factors[i][1] + e if i in factors else e
        if total == 0.0:
            factors.pop(i, None)
        else:
            factors[i] = (base, total)
    if coeff == 0.0:
        return Form()
    if not factors:
        return Form(coeff)
    return Form(0.0, {_key(factors): [coeff, factors]})


class Simplifier:
    """Forms of the nodes, built in one pass; `node(index)` the simplified node of one."""

    def __init__(self, roots: Sequence[Node]):
        self.nodes = ancestors(roots)
        self.uses: dict[int, int] = {}
        for node in self.nodes:
            for arg in node.inputs:
                self.uses[arg.index] = self.uses.get(arg.index, 0) + 1
        for root in roots:
            self.uses[root.index] = self.uses.get(root.index, 0) + 2
        self.graph = Graph()  # built afresh, so that no node of the old graph fixes an order
        self.forms: dict[int, Form] = {}
        self.built: dict[int, Node] = {}
        self.shapes = {node.index: node.shape for node in self.nodes}
        for node in self.nodes:
            self.forms[node.index] = self._form(node)

    def form(self, node: Node) -> Form:
        """The form of `node` as its consumer sees it: a large form that several consumers use
        is one atom to each (a node of its own), so that the prefix and suffix products of a
        reverse pass stay shared instead of being multiplied out into every term."""
        form = self.forms[node.index]
        if self.uses.get(node.index, 0) > 1 and _size(form) > SHARED:
            return Form.atom(self.node(node.index))
        return form

    def take(self, node: Node) -> Form:
        """The form of `node`, to be changed by its consumer: its own when no one else uses it."""
        form = self.form(node)
        return form if self.uses.get(node.index, 0) == 1 else form.copy()

    def _form(self, node: Node) -> Form:
        op = node.op
        if op is VARIABLE or op is CONSTANT:
            value = uniform_value(node)
            if value is not None:
                return Form(float(value))
            return Form.atom(self.graph.apply(op, (), node.attrs, node.shape))
        value = uniform_value(node)
        if value is not None:
            return Form(float(value))
        args = node.inputs
        if op is add or op is sub:
            a, b = self.form(args[0]), self.form(args[1])
            scale = 1.0 if op is add else -1.0
            if len(b.terms) > len(a.terms) and op is add and self.uses.get(args[1].index) == 1:
                return _add_into(b, a)
            return _add_into(self.take(args[0]), b, scale)
        if op is neg:
            return _scale(self.take(args[0]), -1.0)
        if op is mul:
            return self._product(args[0], args[1], invert=False)
        if op is div:
            return self._product(args[0], args[1], invert=True)
        if op is power:
            exponent = self.forms[args[1].index]
            if not exponent.terms and not args[1].shape:
                return self._power(args[0], exponent.const)
        rebuilt = op(*(self.node(arg.index) for arg in args),
                     **dict(zip(op.params, node.attrs, strict=True)))
        if is_literal(rebuilt):
            return Form(rebuilt.attrs[0])
        return Form.atom(rebuilt)

    def _product(self, left: Node, right: Node, invert: bool) -> Form:
        a, b = self.form(left), self.form(right)
        if not b.terms and (b.const != 0.0 or not invert):
            return _scale(self.take(left), 1.0 / b.const if invert else b.const)
        if not a.terms and not invert:
            return _scale(self.take(right), a.const)
        first = a.single() or self._factor(left)
        second = b.single() or self._factor(right)
        if invert:
            if second[0] == 0.0:  # a division by zero stays visible
                return Form.atom(div(self.node(left.index), self.node(right.index)))
            second = (1.0 / second[0], {i: (base, -e) for i, (base, e) in second[1].items()})
        return _times(first, second)

    def _factor(self, node: Node) -> tuple[float, dict]:
        """A sum as one factor of a product: 1 · (the sum)**1."""
        built = self.node(node.index)
        return 1.0, {built.index: (built, 1.0)}

    def _power(self, base: Node, c: float) -> Form:
        if c == 0.0:
            return Form(1.0)
        if c == 1.0:
            return self.take(base)
        term = self.form(base).single()
        if term is not None and float(c).is_integer() and term[0] != 0.0:
            coeff, factors = term
            powered = {i: (b, e * c) for i, (b, e) in factors.items()}
            return _times((coeff ** c, powered), (1.0, {}))
        atom = self.node(base.index)
        return Form(0.0, {((atom.index, c),): [1.0, {atom.index: (atom, c)}]})

    # ---------------------------------------------------------------------------------------

    def node(self, index: int) -> Node:
        """The simplified node of the node `index` (built once)."""
        built = self.built.get(index)
        if built is None:
            built = _materialize(self.graph, self.forms[index])
            shape = self.shapes[index]
            if built.shape != shape:
                built = broadcast_to(built, shape=shape)
            self.built[index] = built
        return built


def simplify(roots: Sequence[Node]) -> list[Node]:
    """The roots, simplified, as nodes of a new graph (variables are found by their names)."""
    if not roots:
        return []
    simplifier = Simplifier(roots)
    return [simplifier.node(root.index) for root in roots]


# ---------------------------------------------------------------------------------------------


def _materialize(graph, form: Form) -> Node:
    terms = [(coeff, factors) for coeff, factors in form.terms.values() if coeff != 0.0]
    terms.sort(key=lambda t: _order(t[1]))
    positive = next((k for k, (coeff, _) in enumerate(terms) if coeff > 0), None)
    if positive:
        terms.insert(0, terms.pop(positive))
    result = None
    for coeff, factors in terms:
        magnitude = _monomial(graph, abs(coeff), factors)
        if result is None:
            result = magnitude if coeff > 0 else neg(magnitude)
        else:
            result = add(result, magnitude) if coeff > 0 else sub(result, magnitude)
    if form.const != 0.0 or result is None:
        if result is None:
            return literal(graph, form.const)
        constant = literal(graph, abs(form.const))
        result = add(result, constant) if form.const > 0 else sub(result, constant)
    return result


def _order(factors: dict) -> tuple:
    return tuple(sorted(((i, -e) for i, (_, e) in factors.items()), reverse=True))


def _monomial(graph, coeff: float, factors: dict) -> Node:
    """coeff · Π base**e, as p*num/(q*den) with coeff = p/q when that is exact and small."""
    p, q = _fraction(coeff)
    upper = [literal(graph, p)] if p != 1.0 else []
    lower = [literal(graph, q)] if q != 1.0 else []
    for i in sorted(factors):
        base, e = factors[i]
        if e > 0:
            upper.append(base if e == 1.0 else power(base, e))
        else:
            lower.append(base if e == -1.0 else power(base, -e))
    numerator = _chain(upper) if upper else literal(graph, 1.0)
    return div(numerator, _chain(lower)) if lower else numerator


def _chain(nodes: list[Node]) -> Node:
    result = nodes[0]
    for node in nodes[1:]:
        result = mul(result, node)
    return result


def _fraction(coeff: float) -> tuple[float, float]:
    """(p, q) with p/q == coeff exactly and q a small integer, else (coeff, 1)."""
    if coeff.is_integer() or coeff != coeff or coeff in (float("inf"), float("-inf")):
        return coeff, 1.0
    fraction = Fraction(coeff).limit_denominator(1000)
    if fraction.denominator > 1 and fraction.numerator / fraction.denominator == coeff:
        return float(fraction.numerator), float(fraction.denominator)
    return coeff, 1.0
