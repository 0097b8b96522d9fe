"""Rich tables for people at a terminal: the only module that imports rich.

Machine formats (json, plain) never come through here, so no markup can leak into them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import PurePath

import numpy as np
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from gradcli.catalog import Entry
from gradcli.checking import RULE, CheckReport
from gradcli.compare import overall
from gradcli.report import EvalResult, GradResult


def _number(value) -> Text:
    if value is None:
        return Text("None", style="dim")
    if np.ndim(value):
        array = np.asarray(value)
        return Text(f"array {array.shape}, norm {np.linalg.norm(array.ravel()):.6g}")
    return Text(repr(float(value)), style="bold")


def _is_array(result: EvalResult) -> bool:
    gradients = getattr(result, "gradient", {}).values()
    return any(np.ndim(v) for v in (result.value, *gradients) if v is not None)


def _point(point: dict) -> str:
    return ", ".join(f"{k}={float(v)!r}" if not np.ndim(v) else f"{k}=array{np.shape(v)}"
                     for k, v in point.items()) or "(no variables)"


def results_table(results: Sequence[EvalResult], console: Console) -> None:
    """One row per point: the point, the value, and ∂f/∂v for each variable asked for; for
    arrays (a model), a table per point with a row per variable."""
    if any(isinstance(r, GradResult) and _is_array(r) for r in results):
        for result in results:
            array_table(result, console)
        return
    first = results[0]
    table = Table(title=Text(first.expression, style="bold"), box=box.SIMPLE_HEAVY,
                  title_justify="left")
    table.add_column("point", style="cyan")
    table.add_column("value", justify="right")
    names = list(first.gradient) if isinstance(first, GradResult) else []
    for name in names:
        table.add_column(f"∂/∂{name}", justify="right")
    for result in results:
        row = [Text(_point(result.point)), _number(result.value)]
        for name in names:
            value = result.gradient[name]
            cell = _number(value)
            if name in result.unconnected:
                cell = Text("None" if value is None else repr(float(value)), style="dim")
                cell.append(" (unconnected)", style="dim italic")
            row.append(cell)
        table.add_row(*row)
    console.print(table)


def array_table(result: GradResult, console: Console) -> None:
    """Per variable: shape, the norms of its value and of its gradient, the largest |gradient|
    entry and where it is."""
    title = Text(result.expression, style="bold")
    title.append(f"   value {_number(result.value).plain}")
    if result.point:
        title.append(f"   at {_point(result.point)}")
    table = Table(title=title, box=box.SIMPLE_HEAVY, title_justify="left")
    for column in ("variable", "shape", "‖value‖", "‖gradient‖", "max |gradient|", "at"):
        table.add_column(column, justify="left" if column in ("variable", "at") else "right")
    for name, gradient in result.gradient.items():
        value = result.inputs.get(name)
        shape = str(np.shape(value)) if value is not None else "?"
        size = f"{np.linalg.norm(np.ravel(value)):.6g}" if value is not None else ""
        if gradient is None or name in result.unconnected:
            shown = "None" if gradient is None else "0"
            table.add_row(name, shape, size, Text(f"{shown} (unconnected)", style="dim"), "", "")
            continue
        magnitude = np.abs(np.asarray(gradient, dtype=np.float64))
        where = np.unravel_index(int(np.nanargmax(magnitude)), magnitude.shape) \
            if magnitude.size and not np.all(np.isnan(magnitude)) else ()
        table.add_row(name, shape, size, f"{np.linalg.norm(magnitude.ravel()):.6g}",
                      f"{float(magnitude[where]) if magnitude.size else 0.0:.6g}",
                      str(list(map(int, where))) if magnitude.ndim else "")
    console.print(table)


def functions_table(entries: Sequence[Entry], console: Console) -> None:
    """Functions by family: signature and aliases, each partial derivative, a note."""
    table = Table(box=box.SIMPLE_HEAVY, title="gradcli functions", title_justify="left")
    table.add_column("function", style="bold cyan", no_wrap=True)
    table.add_column("derivative", overflow="fold")
    table.add_column("note", style="dim", overflow="fold")
    family = None
    for entry in entries:
        f = entry.function
        if f.family != family:
            family = f.family
            table.add_row(Text(family, style="bold magenta"), "", "", end_section=False)
        name = Text(f.signature)
        if f.aliases:
            name.append("\n" + " ".join(f.aliases), style="dim")
        rules = Text()
        for k, (param, rule) in enumerate(entry.derivatives.items()):
            rules.append("\n" if k else "")
            rules.append(f"∂/∂{param} ", style="dim")
            rules.append(rule if rule is not None else "no gradient",
                         style="" if rule is not None else "dim italic")
        table.add_row(name, rules, f.note)
    console.print(table)


VERDICT_STYLE = {"pass": "bold green", "fail": "bold red", "inconclusive": "bold yellow",
                 "kink": "green", "unconnected": "green"}


def _g(value, digits: int) -> str:
    return "None" if value is None else f"{float(value):.{digits}g}"


def _count(n: int, kind: str) -> str:
    """'1 entry', '60 entries', '8 probes'."""
    singular = {"entries": "entry", "probes": "probe"}.get(kind, kind)
    return f"{n} {singular if n == 1 else kind}"


def rule_tables(reports: Sequence, console: Console) -> None:
    """Per rule (gradcli.rules), each argument's worst result: where, the values, the error,
    the verdict; the sentences of what failed; then a summary. --format json has every number."""
    files = sorted({report.target.path for report in reports})
    title = files[0] if len(files) == 1 else f"{len(files)} files"
    table = Table(box=box.SIMPLE_HEAVY, title=Text(f"derivative rules of {title}", style="bold"),
                  title_justify="left")
    for column in ("line", "rule", "arg", "rule gives", "reference", "rel err", "verdict"):
        table.add_column(column, justify="left" if column in ("rule", "arg", "verdict")
                         else "right", no_wrap=column in ("line", "rule", "arg", "verdict"))
    for report in reports:
        target = report.target
        place = str(target.line) if len(files) == 1 else \
            f"{PurePath(target.path).name}:{target.line}"
        rule = f"check {target.name}" if target.kind == "check" else f"{target.kind} {target.name}"
        for k, row in enumerate(report.rows):
            c = row.check
            name = c.variable + (str(c.index) if c.index is not None else "")
            table.add_row(place if k == 0 else "", rule if k == 0 else "", name,
                          _g(c.analytic, 6), _g(c.numeric, 6), _g(c.rel_error, 2),
                          Text(c.verdict, style=VERDICT_STYLE[c.verdict]))
    console.print(table)
    for report in reports:
        for sentence in report.failures():
            console.print(Text(f"  {report.target.path}:{report.target.line}: {sentence}",
                               style="red" if report.verdict == "fail" else "yellow"))
    verdicts = [r.verdict for r in reports]
    verdict = overall(reports)
    summary = Text()
    summary.append(verdict.upper(), style=VERDICT_STYLE[verdict])
    summary.append(f"  {len(reports)} checked: " + ", ".join(
        f"{verdicts.count(v)} {v}" for v in ("pass", "fail", "inconclusive") if verdicts.count(v)))
    console.print(summary)


def check_tables(reports: Sequence[CheckReport], console: Console) -> None:
    """Per point, the variables worst first: values, errors, tolerance, verdict; then a summary.
    Numbers are rounded for reading; --format json has them in full."""
    for report in reports:
        table = Table(title=Text(f"{report.expression}   at {_point(report.point)}", style="bold"),
                      box=box.SIMPLE_HEAVY, title_justify="left")
        checked = any(r.checked for r in report.results)
        columns = ["var", "autodiff", "reference", "abs err", "rel err", "est. err", "tol",
                   "verdict"] + (["checked"] if checked else [])
        for column in columns:
            table.add_column(column, justify="left" if column in ("var", "verdict") else "right")
        notes = []
        for r in report.worst():
            name = r.variable + (str(r.index) if r.index is not None else "")
            row = [name, _g(r.analytic, 12), _g(r.numeric, 12), _g(r.abs_error, 2),
                   _g(r.rel_error, 2), _g(r.error_estimate, 2), _g(r.tolerance, 2),
                   Text(r.verdict, style=VERDICT_STYLE[r.verdict])]
            if checked:
                row.append(", ".join(_count(n, kind) for kind, n in (r.checked or {}).items()))
            table.add_row(*row)
            if r.note:
                notes.append(f"{r.variable}: {r.note}")
        console.print(table)
        for note in notes:
            console.print(Text(f"  {note}", style="dim"))
        for name, rows in (report.sweep or {}).items():
            sweep = Table(title=f"central difference against h, ∂/∂{name}", box=box.SIMPLE,
                          title_justify="left")
            for column in ("h", "numeric", "abs err", "rel err"):
                sweep.add_column(column, justify="right")
            for row in rows:
                sweep.add_row(_g(row["h"], 1), _g(row["numeric"], 15), _g(row["abs_error"], 2),
                              _g(row["rel_error"], 2))
            console.print(sweep)
    verdict = overall(reports)
    count = sum(r.checked.get("entries", 0) + r.checked.get("probes", 0) if r.checked else 1
                for report in reports for r in report.results)
    summary = Text()
    summary.append(verdict.upper(), style=VERDICT_STYLE[verdict])
    summary.append(f"  {count} derivative{'s' if count != 1 else ''} at {len(reports)} "
                   f"point{'s' if len(reports) != 1 else ''}, method {reports[0].method}")
    console.print(summary)
    console.print(Text(f"  rule: {RULE}", style="dim"))


class DelayedProgress:
    """A progress bar on stderr that appears only once the work has taken more than `delay`
    seconds, and is gone when it ends: a quick check never flickers."""

    def __init__(self, total: int, description: str, delay: float = 1.0):
        self.total, self.description, self.delay = total, description, delay
        self.done = 0
        self.started = time.monotonic()
        self.bar: Progress | None = None

    def advance(self) -> None:
        self.done += 1
        if self.bar is None and time.monotonic() - self.started > self.delay:
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                MofNCompleteColumn(), TimeRemainingColumn(),
                                console=console(stderr=True), transient=True)
            self.task = self.bar.add_task(self.description, total=self.total,
                                          completed=self.done)
            self.bar.start()
        elif self.bar is not None:
            self.bar.update(self.task, completed=self.done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


class _Console(Console):
    """Rich's console, except that a reader closing the pipe is left to the command line to
    handle, as for any other output (rich would leave with exit code 1)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def console(stderr: bool = False) -> Console:
    """A console on stdout (or stderr). With NO_COLOR set, no escape codes at all: no colour,
    and no bold or dim either, so the text is what a pipe would get, laid out as a table."""
    plain = bool(os.environ.get("NO_COLOR"))
    return _Console(stderr=stderr, highlight=False, soft_wrap=False,
                    **({"color_system": None} if plain else {}))
