"""GitHub Actions workflow commands for `gradcli check --format github`:

    ::error file=examples/broken_rules.grad,line=5,title=gradcli check::softplus: d/dx ...

A failing derivative is an error annotation on its rule's line (or on the expression, for a
check without a file), an inconclusive one a warning; a last notice line sums up. GitHub shows
them on the lines of the pull request's diff.
"""

from __future__ import annotations

from collections.abc import Sequence

from gradcli.compare import counted
from gradcli.rules import describe


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def command(kind: str, message: str, file: str | None = None, line: int | None = None,
            title: str = "gradcli check") -> str:
    """One workflow command: ::error file=F,line=L,title=T::message."""
    properties = []
    if file is not None:
        properties.append(f"file={_property(file)}")
        if line is not None:
            properties.append(f"line={line}")
    properties.append(f"title={_property(title)}")
    return f"::{kind} {','.join(properties)}::{_data(message)}"


def github_lines(reports: Sequence) -> list[str]:
    """The annotations of check reports (an expression's or a model's, per point) or of rule
    reports (gradcli.rules), and a summary notice."""
    lines = []
    counts = {"pass": 0, "fail": 0, "inconclusive": 0}
    kinds = {"fail": "error", "inconclusive": "warning"}
    for report in reports:
        counts[report.verdict] += 1
        if hasattr(report, "rows"):  # a rule, a Python function, a check statement
            target = report.target
            for row in report.failing():
                kind = kinds[counted(row.check.verdict, report.strict)]
                lines.append(command(kind, describe(report, row), target.path, target.line,
                                     f"gradcli: {report.title}"))
            continue
        for result in report.results:  # an expression's or a model's check: no file
            kind = kinds.get(counted(result.verdict, report.strict))
            if kind is None:
                continue
            point = ", ".join(f"{k}={v!r}" for k, v in report.point.items()
                              if not hasattr(v, "shape") or v.shape == ())
            message = (f"{report.expression}: d/d{result.variable} at {point}: "
                       f"{result.verdict}: autodiff {result.analytic!r}, reference "
                       f"{result.numeric!r}, relative error {result.rel_error:.3g}, "
                       f"tolerance {result.tolerance:.3g}"
                       + (f"; {result.note}" if result.note else ""))
            lines.append(command(kind, message))
    total = sum(counts.values())
    lines.append(command("notice", f"{total} checked: {counts['pass']} pass, {counts['fail']} "
                                   f"fail, {counts['inconclusive']} inconclusive"))
    return lines
