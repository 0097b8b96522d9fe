"""The function list with derivative rules, as `gradcli functions` prints it.

The rules are not written down twice: each is obtained by building the function of symbolic
arguments and differentiating it in reverse mode, then printing the gradient graph.
"""

from __future__ import annotations

from dataclasses import dataclass

from gradcli.autodiff import UNCONNECTED, backward
from gradcli.functions import FUNCTIONS, OMITTED, Function
from gradcli.graph import Graph
from gradcli.ops.core import variable
from gradcli.printing import to_text


@dataclass(frozen=True)
class Entry:
    function: Function
    derivatives: dict[str, str | None]  # parameter -> printed partial, None if no gradient

    def to_dict(self) -> dict:
        f = self.function
        return {"name": f.name, "signature": f.signature, "aliases": list(f.aliases),
                "family": f.family, "note": f.note, "derivatives": self.derivatives}


def derivative_rules(function: Function) -> dict[str, str | None]:
    """∂f/∂p for each parameter p the function is called with (optional ones left out). A
    function that works along axes of arrays states its VJP in words (`rule`), or is
    differentiated through the composition its note gives."""
    dynamic = [p for p in function.params if p not in function.static]
    if function.rule or function.on_arrays:
        return {", ".join(dynamic): function.rule or "through its definition (see the note)"}
    graph = Graph()
    params = [p for p, d in zip(function.params, function.defaults, strict=True) if d is not OMITTED]
    args = [variable(graph, p) for p in params]
    output = function.build(*args)
    result = backward(output, args)
    rules: dict[str, str | None] = {}
    for param, arg in zip(params, args, strict=True):
        node = result.gradient(arg)
        rules[param] = None if node is UNCONNECTED else to_text(node)
    return rules


def catalog() -> list[Entry]:
    return [Entry(f, derivative_rules(f)) for f in FUNCTIONS]
