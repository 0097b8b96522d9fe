"""Pictures of the computation graph: `gradcli graph EXPR [--at POINT] --format dot|mermaid|svg`.

One box per numbered node of the trace (gradcli.trace): the inputs v₋ₙ₊₁ … v₀, then the
operations v₁, v₂, … in evaluation order; constants stay inline in the definitions. A box shows
the node's definition (`v₂ = v₋₁*v₀`, `v₋₁ = x1`) and, at a point, its value and its adjoint v̄
(the output's is 1). An arrow runs from each argument to the node that uses it, labelled with
the local partial ∂vᵢ/∂vⱼ as a formula (`cos(v₀)`) and, at a point, as a number; for an
operation that is not elementwise (a matmul, a softmax) the partial is a Jacobian, and the label
gives the VJP instead, v̄ᵢ ↦ Jᵀv̄ᵢ. An argument whose rule carries no gradient (floor, a
comparison) gets a dashed arrow labelled "no gradient"; an input no gradient reaches is greyed.

Numbers have 6 significant digits; an array is shown by its shape and its norm. The same
function and point always give the same text, byte for byte; every pass is a loop over lists.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from gradcli.api import Function
from gradcli.errors import UsageError
from gradcli.ops.core import VARIABLE
from gradcli.printing import shorten, to_text
from gradcli.trace import BAR, _partials, numbering, subscript

FORMATS = ("dot", "mermaid", "svg")
WIDTH = 80  # a definition or a formula longer than this is cut, with an ellipsis


@dataclass
class Box:
    """A node of the picture: `ident` is ASCII (v_m1, v0, v1), `lines` its label."""

    ident: str
    lines: list[str]
    output: bool
    unconnected: bool  # an input that no gradient reaches


@dataclass
class Arrow:
    """An argument (`tail`) used by a node (`head`); `gradient` is False for an argument whose
    rule is None."""

    tail: str
    head: str
    label: str
    gradient: bool


def picture(f: Function, point: Mapping[str, object] | None, fmt: str) -> str:
    """The graph of `f` as Graphviz DOT, a Mermaid flowchart or SVG (`fmt`), with the values,
    adjoints and partials at `point` when one is given (`f` is then built for its shapes)."""
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if point is not None:
        f, _, point, _ = f._prepare(point, False)
    boxes, arrows = drawing(f, point)
    if fmt == "mermaid":
        return to_mermaid(boxes, arrows)
    text = to_dot(shorten(f.name, WIDTH), boxes, arrows)
    return text if fmt == "dot" else to_svg(text)


def drawing(f: Function, point: Mapping[str, object] | None) -> tuple[list[Box], list[Arrow]]:
    """The boxes in textbook order and the arrows, argument by argument, node by node."""
    numbers = numbering(f)
    names = {index: "v" + subscript(k) for index, k in numbers.items()}
    idents = {index: "v" + (f"_m{-k}" if k < 0 else str(k)) for index, k in numbers.items()}
    nodes = [f.graph.nodes[index] for index in sorted(numbers, key=numbers.__getitem__)]
    uses = [SimpleNamespace(source=node, argument=k) for node in nodes
            for k, arg in enumerate(node.inputs) if arg.index in numbers]
    rules = [use.source.op.rules(len(use.source.inputs))[use.argument] for use in uses]
    differentiable = [use for use, rule in zip(uses, rules, strict=True) if rule is not None]
    # (partial node or None, formula) per use; trace._partials reads only source and argument
    partials = _partials(SimpleNamespace(steps=differentiable), names)
    adjoints = f.backward().adjoints  # the final adjoint of every node the reverse pass reaches
    values: dict = {}
    if point is not None:
        roots = [f.output, *(p for p, _ in partials if p is not None),
                 *(adjoints[n.index] for n in nodes if n.index in adjoints)]
        values = f._run(roots, point)

    boxes = []
    for node in nodes:
        name = names[node.index]
        definition = node.attrs[0] if node.op is VARIABLE else to_text(node, names)
        lines = [f"{name} = {shorten(definition, WIDTH)}"]
        unconnected = node.op is VARIABLE and node.index not in adjoints
        bar = "v" + BAR + name[1:]
        if point is not None:
            lines.append("= " + format_value(values[node.index]))
            if node.index in adjoints:
                lines.append(f"{bar} = {format_value(values[adjoints[node.index].index])}")
            elif node is f.output:  # no input below carries a gradient: the seed is still 1
                lines.append(f"{bar} = {format_value(np.ones(node.shape))}")
        if unconnected:
            lines.append(f"{bar} unconnected")
        boxes.append(Box(idents[node.index], lines, node is f.output, unconnected))

    arrows = []
    found = iter(partials)
    for use, rule in zip(uses, rules, strict=True):
        node, arg = use.source, use.source.inputs[use.argument]
        if rule is None:
            arrows.append(Arrow(idents[arg.index], idents[node.index], "no gradient", False))
            continue
        partial, formula = next(found)
        label = shorten(formula, WIDTH)
        if partial is None:  # a Jacobian: the label is the VJP, a formula in v̄ of the node
            label = f"v{BAR}{names[node.index][1:]} ↦ {label}"
        elif point is not None and (number := format_value(values[partial.index])) != label:
            label = f"{label} = {number}"
        arrows.append(Arrow(idents[arg.index], idents[node.index], label, True))
    return boxes, arrows


def format_value(value) -> str:
    """A number with 6 significant digits ('0.693147', '-0', 'nan'); an array as its shape
    and its (Frobenius) norm."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim:
        return f"array {array.shape}, norm {float(np.linalg.norm(array)):.6g}"
    return f"{float(array):.6g}"


# ---------------------------------------------------------------------------------------------
# the formats


def to_dot(title: str, boxes: list[Box], arrows: list[Arrow]) -> str:
    """Graphviz DOT, drawn from the inputs at the bottom up to the output (UTF-8 text)."""
    out = ["digraph gradcli {", "  rankdir=BT;", f"  label={dot_string(title)};", "  labelloc=t;",
           "  node [shape=box, style=rounded];", "  edge [fontsize=10];"]
    grey = "color=gray50, fontcolor=gray50"
    for box in boxes:
        attributes = [f"label={dot_string(chr(10).join(box.lines))}"]
        if box.output:
            attributes.append("peripheries=2")
        if box.unconnected:
            attributes.append(f'style="rounded,dashed", {grey}')
        out.append(f"  {box.ident} [{', '.join(attributes)}];")
    for arrow in arrows:
        style = "" if arrow.gradient else f", style=dashed, {grey}"
        out.append(f"  {arrow.tail} -> {arrow.head} [label={dot_string(arrow.label)}{style}];")
    out.append("}")
    return "\n".join(out) + "\n"


def dot_string(text: str) -> str:
    """`text` as a quoted DOT string: backslashes and quotes escaped, line breaks as \\n."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n") + '"'


def to_mermaid(boxes: list[Box], arrows: list[Arrow]) -> str:
    """A Mermaid `flowchart BT` (GitHub renders it in Markdown): one line per box, then one per
    arrow (`-->` carries a gradient, `-.->` does not)."""
    out = ["flowchart BT"]
    for box in boxes:
        out.append(f'  {box.ident}["{"<br/>".join(mermaid_text(line) for line in box.lines)}"]')
    for arrow in arrows:
        link = "-->" if arrow.gradient else "-.->"
        out.append(f'  {arrow.tail} {link}|"{mermaid_text(arrow.label)}"| {arrow.head}')
    out.append("  classDef output stroke-width:3px")
    out.append("  classDef unconnected stroke-dasharray:5 5,color:#888,stroke:#888")
    out += [f"  class {box.ident} output" for box in boxes if box.output]
    out += [f"  class {box.ident} unconnected" for box in boxes if box.unconnected]
    return "\n".join(out) + "\n"


MERMAID_ENTITIES = (("#", "#35;"), ("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"),
                    ("|", "#124;"), ("\r\n", "<br/>"), ("\n", "<br/>"), ("\r", "<br/>"))


def mermaid_text(text: str) -> str:
    """`text` for a quoted Mermaid label: `"` as #quot;, markup characters as entity codes
    (`#` first, since every code starts with it), line breaks as <br/>."""
    for character, code in MERMAID_ENTITIES:
        text = text.replace(character, code)
    return text


def to_svg(dot_text: str) -> str:
    """The DOT text laid out by Graphviz's `dot -Tsvg` (run without a shell)."""
    program = shutil.which("dot")
    if program is None:
        raise UsageError("svg needs Graphviz's `dot` program: install the graphviz package "
                         "(apt install graphviz, brew install graphviz) or use --format dot")
    try:
        run = subprocess.run([program, "-Tsvg"], input=dot_text.encode("utf-8"),
                             capture_output=True, check=False)
    except OSError as error:
        raise UsageError(f"could not run Graphviz's dot ({program}): {error}") from None
    if run.returncode != 0:
        stderr = run.stderr.decode("utf-8", "replace").strip()
        raise UsageError(f"Graphviz's dot failed (exit code {run.returncode}): {stderr}")
    return run.stdout.decode("utf-8")
