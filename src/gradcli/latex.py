"""Graph to LaTeX, with the precedence table of gradcli.ops.core deciding the brackets.

`\\frac{a}{b}` for a division, `x^{2}` for a power, a space for a product (`\\cdot` between
numbers), `\\sin\\left(x\\right)` for the functions LaTeX knows and `\\operatorname{sigmoid}`
for the others; `x1` is `x_{1}`, `alpha` is `\\alpha`. Like to_text, one explicit stack, so a
formula of any depth prints in time proportional to its length.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping

from gradcli.graph import Node, ancestors
from gradcli.ops.core import ATOM, CONSTANT, PRODUCT, SIGN, VARIABLE, Call, Infix, Postfix, Prefix
from gradcli.printing import precedence, settings, shown_inputs, to_text, write

KNOWN = {"sin", "cos", "tan", "sinh", "cosh", "tanh", "exp", "log", "arcsin", "arccos", "arctan",
         "sec", "csc", "cot", "coth"}
RENAMED = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "ln": "log"}
GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
         "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi",
         "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Phi", "Psi", "Omega"}


def name_tex(name: str) -> str:
    """x1 -> x_{1}, theta_0 -> \\theta_{0}, alpha -> \\alpha, w_out -> w_{out}, lr -> \\mathrm{lr}."""
    match = re.fullmatch(r"([A-Za-z]+?)_?(\d+|_\w+)?", name)
    if match is None:
        return r"\mathrm{" + name.replace("_", r"\_") + "}"
    stem, index = match.group(1), match.group(2)
    if stem in GREEK:
        stem = "\\" + stem
    elif len(stem) > 1:
        stem = r"\mathrm{" + stem + "}"
    if index:
        return f"{stem}_{{{index.lstrip('_')}}}"
    return stem


def unique_names(names) -> dict[str, str]:
    """The LaTeX of each name, upright and as written where two would read the same (x1 and
    x_1 are both x_{1}: they become \\mathrm{x1} and \\mathrm{x\\_1})."""
    tex = {name: name_tex(name) for name in names}
    counts = Counter(tex.values())
    return {name: t if counts[t] == 1 else r"\mathrm{" + name.replace("_", r"\_") + "}"
            for name, t in tex.items()}


def _function(name: str) -> str:
    name = RENAMED.get(name, name)
    return "\\" + name if name in KNOWN else r"\operatorname{" + name.replace("_", r"\_") + "}"


def to_latex(root: Node, names: Mapping[int, str] | None = None,
             variables: Mapping[str, str] | None = None) -> str:
    """The LaTeX of `root`; a node `names` names (below the root) is written as its name, a
    variable as `variables` writes it (default: unique_names of the variables of `root`)."""
    if variables is None:
        variables = unique_names(sorted({n.attrs[0] for n in ancestors([root])
                                         if n.op is VARIABLE}))
    tex = variables

    def pieces(node: Node) -> list:
        if node.op is VARIABLE:
            return [tex.get(node.attrs[0]) or name_tex(node.attrs[0])]
        return _pieces(node)

    return write(root, pieces, names, lambda n: tex.get(n) or name_tex(n), (r"\left(", r"\right)"))


def _pieces(node: Node) -> list:
    op = node.op
    if op is VARIABLE:
        return [name_tex(node.attrs[0])]
    if op is CONSTANT:
        text = to_text(node)
        return [name_tex(text) if text.isidentifier() else text]
    notation = op.printed
    args = shown_inputs(node)
    if isinstance(notation, Call):
        if notation.name == "sqrt":
            return [r"\sqrt{", (args[0], False), "}"]
        if notation.name == "abs":
            return [r"\left|", (args[0], False), r"\right|"]
        pieces: list = [_function(notation.name), r"\left("]
        for k, arg in enumerate(args):
            pieces += [", "] if k else []
            pieces.append((arg, False))
        for keyword in settings(node) if op.params else ():
            pieces.append(", " + r"\mathrm{" + keyword.replace("_", r"\_") + "}")
        return pieces + [r"\right)"]
    if isinstance(notation, Postfix):
        return [(args[0], precedence(args[0]) < ATOM), r"\mathtt{" + notation.text(node.attrs)
                .replace("_", r"\_") + "}"]
    if isinstance(notation, Prefix):
        operand = args[0]
        return [notation.symbol, (operand, precedence(operand) < PRODUCT
                                  or precedence(operand) == SIGN)]
    left, right = args
    if notation.symbol == "/":
        return [r"\frac{", (left, False), "}{", (right, False), "}"]
    if notation.symbol == "**":
        return [(left, precedence(left) <= notation.precedence), "^{", (right, False), "}"]
    if notation.symbol == "*":
        numbers = _starts_with_digit(right)
        return [(left, precedence(left) < PRODUCT), r" \cdot " if numbers else " ",
                (right, precedence(right) < PRODUCT or precedence(right) == SIGN)]
    symbols = {"<=": r"\le", ">=": r"\ge", "!=": r"\ne", "==": "=", "@": r"\,"}
    symbol = symbols.get(notation.symbol, notation.symbol)
    p = notation.precedence
    return [(left, precedence(left) < p), f" {symbol} ",
            (right, precedence(right) <= p if isinstance(notation, Infix) else False)]


def _starts_with_digit(node: Node) -> bool:
    while isinstance(node.op.printed, Infix) and node.inputs and node.op.printed.symbol != "/":
        node = node.inputs[0]
    return node.op is CONSTANT and to_text(node)[:1].isdigit()
