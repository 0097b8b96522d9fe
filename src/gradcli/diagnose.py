"""What a model's gradient says about the model: warnings for the person who wrote it.

- A gradient that is exactly zero, with the reason where the graph shows one: a softmax over an
  axis of length 1 (the constant 1), a log_softmax over one (the constant 0), a relu whose
  inputs are all at most 0 (no entry lets the gradient through).
- Saturated activations: a sigmoid or tanh with most of its inputs where its derivative is
  below 1e-4, so that what flows through it all but vanishes.

Each finding names the subexpression through `show`, which for a spec adds its line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from gradcli import ops
from gradcli.autodiff import UNCONNECTED, Unconnected
from gradcli.graph import Node, ancestors
from gradcli.printing import short_text

# |input| beyond which the derivative is below 1e-4: sigmoid' = s(x)s(-x), tanh' = 1 - tanh²
SATURATION = {ops.sigmoid: 9.21, ops.tanh: 5.3}

Show = Callable[[Node], str]


def _named(node: Node, show: Show | None) -> str:
    if show is not None:
        return show(node)
    return short_text(node)


def _depends(node: Node) -> set[str]:
    return {n.attrs[0] for n in ancestors([node]) if n.op is ops.VARIABLE}


def _constant_node(node: Node) -> str | None:
    """Why `node` is constant whatever its input, if it is (by the shapes alone)."""
    if node.op is ops.softmax and node.inputs[0].shape[node.attrs[0]] == 1:
        return (f"a softmax over an axis of length 1 (its input has shape {node.inputs[0].shape})"
                " is the constant 1 (for one output use sigmoid, or no activation; or give "
                "softmax the axis of the classes)")
    if (node.op is ops.sub and node.inputs[1].op is ops.logsumexp
            and node.inputs[1].inputs[0] is node.inputs[0] and node.inputs[1].attrs[1]
            and all(node.inputs[0].shape[k] == 1
                    for k in node.inputs[1].attrs[0] or range(node.inputs[0].ndim))):
        return "a log_softmax over an axis of length 1 is the constant 0"
    return None


def zero_gradients(output: Node, gradients: Mapping[str, Node | Unconnected],
                   values: Mapping[int, np.ndarray], show: Show | None = None) -> list[str]:
    """A sentence for the variables whose (connected) gradient is exactly zero, with reasons."""
    connected = {name: node for name, node in gradients.items() if node is not UNCONNECTED}
    zero = [name for name, node in connected.items() if not np.any(values[node.index])]
    if not zero:
        return []
    reasons = []
    for node in ancestors([output]):
        why = _constant_node(node)
        if why is None and node.op is ops.relu and node.index in values:
            inputs = values[node.inputs[0].index]
            if np.all(np.asarray(inputs) <= 0):
                why = "a relu whose inputs are all at most 0 passes no gradient (a dead relu)"
        if why is not None and _depends(node) & set(zero):
            reasons.append(f"{_named(node, show)}: {why}")
    who = ("every gradient" if len(zero) == len(connected) and len(zero) > 1
           else "the gradient of " + ", ".join(f"'{name}'" for name in zero))
    sentence = f"{who} is exactly zero at this point"
    if reasons:
        sentence += "; " + "; ".join(reasons)
    return [sentence]


def saturated(output: Node, values: Mapping[int, np.ndarray],
              show: Show | None = None) -> list[str]:
    """A sentence for each sigmoid or tanh whose inputs are mostly where it is flat."""
    found = []
    for node in ancestors([output]):
        limit = SATURATION.get(node.op)
        if limit is None or node.index not in values:
            continue
        inputs = np.abs(np.asarray(values[node.inputs[0].index]))
        fraction = float(np.mean(inputs > limit))
        if fraction > 0.5:
            found.append(f"{_named(node, show)} is saturated at {fraction:.0%} of its "
                         f"{inputs.size} entries (|input| > {limit:g}, where its derivative is "
                         "below 1e-4): gradients through it all but vanish")
    return found
