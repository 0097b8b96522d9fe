"""JUnit XML for CI dashboards: one test case per (point, variable), or per (rule, argument)
with the rule's file and line, written atomically.

A fail is a <failure> with the numbers in its message; an inconclusive result is <skipped>
(neither passed nor failed); kinks with a valid subgradient and confirmed unconnected variables
pass, with their note in <system-out>.
"""

from __future__ import annotations

import os
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from gradcli.compare import counted


def _point(point: dict) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in point.items())


def _cases(report, strict: bool) -> list[tuple[dict, str, str]]:
    """(the attributes of a test case, its verdict, its message) for each derivative checked:
    per variable of a check report, per argument of a rule report (gradcli.rules)."""
    cases = []
    if hasattr(report, "rows"):
        target = report.target
        for row in report.rows:
            result = row.check
            attributes = {"classname": f"gradcli.{target.kind}.{target.name}",
                          "name": f"{report.title}: d/d{result.variable}",
                          "file": target.path, "line": str(target.line), "time": "0"}
            cases.append((attributes, result.verdict, _message(result)))
        return cases
    for result in report.results:
        attributes = {"classname": f"gradcli.check.{report.method}",
                      "name": f"d/d{result.variable} of {report.expression} at "
                              f"{_point(report.point)}", "time": "0"}
        cases.append((attributes, result.verdict, _message(result)))
    return cases


def _message(result) -> str:
    numbers = (f"analytic {result.analytic!r}, numeric {result.numeric!r} "
               f"(estimated error {result.error_estimate:.3g}), abs error "
               f"{result.abs_error:.3g}, rel error {result.rel_error:.3g}, tolerance "
               f"{result.tolerance:.3g}")
    return f"{result.verdict}: {numbers}" + (f"; {result.note}" if result.note else "")


def junit_xml(reports: Sequence, strict: bool = False) -> bytes:
    """The XML of check reports or rule reports, one test case per derivative checked."""
    cases = [case for report in reports for case in _cases(report, strict)]
    failures = sum(counted(v, strict) == "fail" for _, v, _ in cases)
    skipped = sum(counted(v, strict) == "inconclusive" for _, v, _ in cases)
    root = ET.Element("testsuites", name="gradcli check", tests=str(len(cases)),
                      failures=str(failures), skipped=str(skipped))
    first = reports[0] if reports else None
    name = "" if first is None else (first.target.path if hasattr(first, "rows")
                                     else first.expression)
    suite = ET.SubElement(root, "testsuite", name=name, tests=str(len(cases)),
                          failures=str(failures), skipped=str(skipped), errors="0")
    for attributes, verdict, message in cases:
        case = ET.SubElement(suite, "testcase", attributes)
        if counted(verdict, strict) == "fail":
            ET.SubElement(case, "failure", message=message, type=verdict).text = message
        elif counted(verdict, strict) == "inconclusive":
            ET.SubElement(case, "skipped", message=message)
        else:
            ET.SubElement(case, "system-out").text = message
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_junit(path: str | os.PathLike, reports: Sequence, strict: bool = False
                ) -> None:
    """Write the report to `path` through a temporary file and a rename, so that an interrupted
    run never leaves a truncated report behind."""
    target = Path(path)
    data = junit_xml(reports, strict)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
