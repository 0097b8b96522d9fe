"""Rich views of the chain rule: trace tables, the tree of rules, Hessians and Jacobians.

Like render.py, only for people at a terminal; JSON and plain text never come through here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from gradcli.explain import Step
from gradcli.report import DerivativeResult, GradResult
from gradcli.trace import BAR, DOT, Trace, summary


def _value(value) -> str:
    return summary(value, 8)


def _short(value) -> str:
    """A number, or an array's shape and norm (the primal trace shows its entries)."""
    if value is not None and np.ndim(value):
        return f"{np.shape(value)} ‖{np.linalg.norm(np.ravel(value)):.6g}‖"
    return _value(value)


def _elided(rows: Sequence, limit: int) -> tuple[list, int, list]:
    """(first rows, how many are left out, last rows) for a table of at most `limit` rows."""
    if len(rows) <= limit:
        return list(rows), 0, []
    head = max(limit // 2, 1)
    tail = max(limit - head, 0)
    return list(rows[:head]), len(rows) - head - tail, list(rows[len(rows) - tail:])


def _add_rows(table: Table, rows: Sequence, limit: int, make) -> None:
    head, skipped, tail = _elided(rows, limit)
    for row in head:
        table.add_row(*make(row))
    if skipped:
        table.add_row(*[Text("⋮", style="dim")] * len(table.columns))
        table.caption = (f"{skipped} of {len(rows)} rows left out (--max-rows {limit}; "
                         "--format json has them all)")
        table.caption_justify = "left"
    for row in tail:
        table.add_row(*make(row))


def trace_view(result: GradResult, trace: Trace, console: Console, limit: int) -> None:
    """The header (expression as parsed, point, value, gradient), then the primal trace and
    the adjoint (reverse) or tangent (forward) trace."""
    header = Text()
    header.append(result.expression, style="bold")
    header.append(f"\n  parsed as   {trace.parsed}")
    point = ", ".join(f"{k}={_value(v)}" for k, v in result.point.items()) or "(none)"
    header.append(f"\n  at          {point}")
    header.append(f"\n  value       {_value(result.value)}")
    for name, g in result.gradient.items():
        header.append(f"\n  ∂/∂{name:<9} {_value(g) if g is not None else 'None'}")
    console.print(header)

    primal = Table(title="primal trace", title_justify="left", box=box.SIMPLE_HEAVY)
    for column in ("node", "op", "definition", "value"):
        primal.add_column(column, justify="right" if column == "value" else "left")
    _add_rows(primal, trace.primal, limit,
              lambda s: (Text(s.node, style="cyan"), s.op, s.definition, _value(s.value)))
    console.print(primal)

    if trace.mode == "reverse":
        adjoint = Table(title="adjoint trace (reverse mode, from the output down)",
                        title_justify="left", box=box.SIMPLE_HEAVY)
        adjoint.add_column("adjoint", no_wrap=True)
        adjoint.add_column("from", no_wrap=True)
        adjoint.add_column("local partial", overflow="fold", min_width=14)
        for column in ("∂", "contribution", "running"):
            adjoint.add_column(column, justify="right")

        def row(s):
            target = Text(s.adjoint + (" +=" if s.accumulated else ""),
                          style="bold magenta" if s.accumulated else "cyan")
            source = f"{s.source[0]}{BAR}{s.source[1:]} · ∂{s.source}/∂{s.node}"
            local = s.partial_formula if s.partial is not None else f"VJP: {s.partial_formula}"
            return (target, source, local, _short(s.partial) if s.partial is not None else "",
                    _short(s.contribution), Text(_short(s.running), style="bold"))

        _add_rows(adjoint, trace.adjoint, limit, row)
        console.print(adjoint)
    else:
        tangent = Table(title="tangent trace (forward mode)", title_justify="left",
                        box=box.SIMPLE_HEAVY)
        tangent.add_column("tangent")
        tangent.add_column("definition")
        for direction in trace.directions:
            label = ", ".join(f"{k[0]}{DOT}{k[1:]}={_value(v)}" for k, v in direction.items())
            tangent.add_column(label or "0", justify="right")
        _add_rows(tangent, trace.tangent, limit,
                  lambda s: (Text(s.tangent, style="cyan"), s.tangent_formula,
                             *(_value(t) for t in s.tangents)))
        console.print(tangent)
    for gone in trace.unconnected:
        where = f" ({gone.node})" if gone.node else ""
        console.print(Text(f"  {gone.variable}{where}: unconnected, {gone.reason}", style="dim"))


def explain_view(result: GradResult, trees: dict[str, Step], console: Console) -> None:
    """A tree per variable: each node's derivative, its value and the rule that gives it."""
    for name, root in trees.items():
        tree = Tree(_label(root, name, top=True))
        stack = [(root, tree)]
        while stack:
            step, branch = stack.pop()
            for child in step.children:
                twig = branch.add(_label(child, name))
                stack.append((child, twig))
        console.print(tree)


def _label(step: Step, name: str, top: bool = False) -> Text:
    text = Text()
    if step.formula == "…":
        text.append(step.rule, style="dim italic")
        return text
    text.append(f"d/d{name} [{step.formula}]", style="bold" if top else "")
    text.append(f" = {step.derivative}")
    if step.value is not None:
        text.append(f" = {step.value!r}", style="bold cyan")
    text.append(f"\n{step.rule}", style="dim italic" if step.repeat else "green")
    return text


def matrix_view(results: Sequence[DerivativeResult], console: Console) -> None:
    """A table per point: the Hessian or Jacobian with labelled rows and columns, or the JVP
    or HVP."""
    for result in results:
        title = Text(f"{result.kind} of {result.expression}", style="bold")
        if result.point:
            title.append("   at " + ", ".join(f"{k}={_value(v)}" for k, v in result.point.items()))
        console.print(title)
        table = Table(box=box.SIMPLE_HEAVY)
        labels = _labels(result)
        if result.kind in ("hessian", "jacobian"):
            table.add_column("")
            for label in labels:
                table.add_column(label, justify="right")
            rows = result.result
            names = labels if result.kind == "hessian" else _output_labels(result)
            for name, row in zip(names, rows, strict=True):
                table.add_row(Text(name, style="cyan"), *(_cell(v) for v in row))
        elif result.kind == "hvp":
            table.add_column("variable")
            table.add_column("H·v", justify="right")
            for name, value in zip(result.variables, result.result, strict=True):
                table.add_row(name, _cell(value))
        else:
            table.add_column("J·v", justify="right")
            table.add_row(_cell(result.result))
        console.print(table)


def _labels(result: DerivativeResult) -> list[str]:
    out = []
    for name in result.variables:
        shape = result.shapes.get(name, ())
        if not shape:
            out.append(name)
        else:
            out += [f"{name}{list(map(int, k))}" for k in np.ndindex(*shape)]
    return out


def _output_labels(result: DerivativeResult) -> list[str]:
    shape = np.shape(result.value)
    if not shape:
        return ["f"]
    return [f"f{list(map(int, k))}" for k in np.ndindex(*shape)]


def _cell(value) -> Text:
    if value is None:
        return Text("None", style="dim")
    return Text(_value(value))
