"""JUnit XML for CI dashboards: one test case per (point, variable), written atomically.

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

from gradcli.checking import CheckReport


def _point(point: dict) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in point.items())


def junit_xml(reports: Sequence[CheckReport], strict: bool = False) -> bytes:
    cases = [(report, result) for report in reports for result in report.results]
    failures = sum(r.verdict == "fail" or (strict and r.verdict == "kink") for _, r in cases)
    skipped = sum(r.verdict == "inconclusive" for _, r in cases)
    root = ET.Element("testsuites", name="gradcli check", tests=str(len(cases)),
                      failures=str(failures), skipped=str(skipped))
    suite = ET.SubElement(root, "testsuite", name=reports[0].expression if reports else "",
                          tests=str(len(cases)), failures=str(failures), skipped=str(skipped),
                          errors="0")
    for report, result in cases:
        case = ET.SubElement(suite, "testcase", classname=f"gradcli.check.{report.method}",
                             name=f"d/d{result.variable} of {report.expression} at "
                                  f"{_point(report.point)}", time="0")
        numbers = (f"analytic {result.analytic!r}, numeric {result.numeric!r} "
                   f"(estimated error {result.error_estimate:.3g}), abs error "
                   f"{result.abs_error:.3g}, rel error {result.rel_error:.3g}, tolerance "
                   f"{result.tolerance:.3g}")
        message = f"{result.verdict}: {numbers}" + (f"; {result.note}" if result.note else "")
        if result.verdict == "fail" or (strict and result.verdict == "kink"):
            ET.SubElement(case, "failure", message=message, type=result.verdict).text = message
        elif result.verdict == "inconclusive":
            ET.SubElement(case, "skipped", message=message)
        else:
            ET.SubElement(case, "system-out").text = message
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_junit(path: str | os.PathLike, reports: Sequence[CheckReport], strict: bool = False
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
