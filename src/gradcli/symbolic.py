"""Symbolic derivatives: the gradient graph of reverse mode, simplified and printed.

`derivatives(f, wrt, order)` differentiates `f` `order` times with respect to each variable
(∂ⁿf/∂xⁿ), by applying reverse mode to the graph of the previous derivative; the result is
simplified (gradcli.simplify) and printed in gradcli's own syntax, which parses back into
gradcli (and reads in SymPy), or in LaTeX. Because the reverse pass shares every node it has in
common with the expression, the derivative of an expression of n nodes has O(n) distinct nodes;
`bindings` prints each repeated subexpression once, as `where u = sin(x)`, so the text stays
O(n) as well.

A derivative of the first order with no path from the output is None (unconnected); one of a
higher order with no path is 0 (the function is linear in that variable).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from gradcli.api import Function
from gradcli.autodiff import UNCONNECTED, backward
from gradcli.errors import PointError, ShapeError, suggest
from gradcli.graph import Node, ancestors
from gradcli.latex import to_latex, unique_names
from gradcli.ops.core import CONSTANT, POWER, VARIABLE, Prefix, is_literal, literal
from gradcli.printing import to_text
from gradcli.simplify import simplify

MAX_ORDER = 8


@dataclass
class Derivatives:
    expression: str
    order: int
    variables: list[str]
    nodes: list[Node | None]  # simplified; None where unconnected
    where: dict[int, str] = field(default_factory=dict)  # node index -> binding name (--let)

    def texts(self) -> list[str | None]:
        return [None if node is None else to_text(node, self.where) for node in self.nodes]

    def latex(self, tex: dict[str, str] | None = None) -> list[str | None]:
        tex = tex or self._tex()
        return [None if node is None else to_latex(node, self.where, tex) for node in self.nodes]

    def _roots(self) -> list[Node]:
        return [node for node in self.nodes if node is not None]

    def _tex(self) -> dict[str, str]:
        """Distinct LaTeX for every variable and binding name."""
        names = {n.attrs[0] for n in ancestors(self._roots()) if n.op is VARIABLE}
        return unique_names(sorted(names | set(self.variables) | set(self.where.values())))

    def bindings(self, tex: dict[str, str] | None = None) -> list[tuple[str, str]]:
        """(name, definition) of each binding, each before its first use; in LaTeX with the
        names `tex` gives."""
        if not self.where:
            return []
        nodes = {node.index: node for node in ancestors(self._roots())}
        if tex is None:
            return [(self.where[i], to_text(nodes[i], self.where)) for i in sorted(self.where)]
        return [(tex[self.where[i]], to_latex(nodes[i], self.where, tex))
                for i in sorted(self.where)]

    def label(self, name: str, tex: dict[str, str] | None = None) -> str:
        """d/dx (d2/dx2 ...), or in LaTeX with the names `tex` gives."""
        n = self.order
        if tex is not None:
            power = f"^{{{n}}}" if n > 1 else ""
            return rf"\frac{{\partial{power} f}}{{\partial {tex[name]}{power}}}"
        return f"d/d{name}" if n == 1 else f"d{n}/d{name}{n}"

    def to_dict(self) -> dict:
        out = {"expression": self.expression, "order": self.order,
               "variables": list(self.variables), "derivatives": self.texts()}
        if self.where:
            out["where"] = [{"name": name, "definition": text} for name, text in self.bindings()]
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    def to_text(self, latex: bool = False) -> str:
        """One derivative alone, or one line per variable (`d/dx = ...`); then the bindings."""
        tex = self._tex() if latex else None
        texts = self.latex(tex) if latex else self.texts()
        shown = [text if text is not None else "None" for text in texts]
        if len(shown) == 1:
            lines = shown
        else:
            lines = [f"{self.label(name, tex)} = {text}"
                     for name, text in zip(self.variables, shown, strict=True)]
        lines += [f"  where {name} = {text}" for name, text in self.bindings(tex)]
        return "\n".join(lines)


def derivatives(f: Function, wrt: Sequence[str] | None = None, order: int = 1,
                let: bool = False) -> Derivatives:
    """The order-th derivative of `f` with respect to each variable of `wrt` (default all)."""
    if not 1 <= order <= MAX_ORDER:
        raise PointError(f"--order must be between 1 and {MAX_ORDER}, not {order}")
    if f.output.shape:
        raise ShapeError(f"{f.text!r} has shape {f.output.shape}: diff differentiates an "
                         "expression whose value is a number; for [f1, f2, ...] use jacobian, "
                         "or reduce it (sum(...))")
    names = list(f.variables if wrt is None else wrt)
    for name in names:
        if name not in f.variables:
            raise PointError(f"'{name}' is not a variable of {f.text!r}"
                             f"{suggest(name, f.variables)}")
    raw: list[Node | None] = []
    for name in names:
        variable = f.variable_node(name)
        g = f.gradient_node(name)  # one reverse pass serves every variable
        reached = 1
        while g is not UNCONNECTED and reached < order:
            g = backward(g, [variable]).gradient(variable)
            reached += 1
        if g is UNCONNECTED:
            raw.append(None if reached == 1 else literal(f.graph, 0.0))
        else:
            raw.append(g)
    present = [node for node in raw if node is not None]
    simple = iter(simplify(present))
    nodes = [None if node is None else next(simple) for node in raw]
    result = Derivatives(f.text, order, names, nodes)
    if let:
        result.where = bindings([n for n in nodes if n is not None], f.variables)
    else:
        for name, node in zip(names, nodes, strict=True):
            size = written_size(node) if node is not None else 0
            if size > MAX_WRITTEN:
                raise PointError(
                    f"∂/∂{name} written out in full would have {size:,} operations, more than "
                    f"{MAX_WRITTEN:,} (it has {len(ancestors([node])):,} distinct ones): add "
                    "--let to write each repeated subexpression once, as 'where u = ...'")
    return result


MAX_WRITTEN = 200_000  # operations in a derivative written out without --let


def written_size(root: Node) -> int:
    """How many operations the text of `root` has when every shared node is written out where
    it is used: one sweep over the graph (the count grows quadratically, or worse, with the
    depth of x**x**...**x, while the distinct nodes grow linearly)."""
    size: dict[int, int] = {}
    for node in ancestors([root]):
        size[node.index] = 1 + sum(size[i.index] for i in node.inputs)
    return size[root.index]


def bindings(roots: Sequence[Node], taken: Sequence[str]) -> dict[int, str]:
    """A name for every compound node the roots use more than once (u, or u1, u2, ...)."""
    uses: dict[int, int] = {}
    nodes = ancestors(roots)
    for node in nodes:
        for arg in node.inputs:
            uses[arg.index] = uses.get(arg.index, 0) + 1
    repeated = [node for node in nodes if uses.get(node.index, 0) > 1 and not _small(node)]
    prefix = "u"
    while any(name == prefix or name.startswith(prefix) and name[len(prefix):].isdigit()
              for name in taken):
        prefix += "u"
    if len(repeated) == 1:
        return {repeated[0].index: prefix}
    return {node.index: f"{prefix}{k + 1}" for k, node in enumerate(repeated)}


def _small(node: Node) -> bool:
    """A leaf, or a leaf with a sign or a numeric power: not worth a name."""
    if node.op is VARIABLE or node.op is CONSTANT:
        return True
    notation = node.op.printed
    leaf = node.inputs[0].op in (VARIABLE, CONSTANT) if node.inputs else True
    if isinstance(notation, Prefix):
        return leaf
    return bool(getattr(notation, "precedence", 0) == POWER and leaf
                and is_literal(node.inputs[1]))

