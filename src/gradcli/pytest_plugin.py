"""The pytest plugin: `.grad` files with derivative rules or check statements are tests.

    $ pytest examples/            # every rule of every .grad file, one test item each

Registered through the `pytest11` entry point, so it is active wherever gradcli is installed.
An item is one rule (`grad softplus`, `vjp affine`) or one `check` statement, named after it and
reported at its line; it checks as `gradcli check FILE.grad` does, and fails with the sentences
that say which argument, which entry, both values and the tolerance. An inconclusive result is
a skip with its reason. Collection is deterministic and every item seeds its own points, so the
items spread over pytest-xdist workers (`pytest -n auto`) like any others.

Settings (pytest.ini / pyproject.toml `[tool.pytest.ini_options]`): gradcli_points,
gradcli_seed, gradcli_method. gradcli itself is imported only when a .grad file is collected.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser) -> None:
    parser.addini("gradcli_points", "gradcli: points sampled per rule (default 10)", default="10")
    parser.addini("gradcli_seed", "gradcli: the seed of the sampled points", default="0")
    parser.addini("gradcli_method", "gradcli: the reference (ridders, central, complex, mpmath)",
                  default="ridders")


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".grad":
        return GradFile.from_parent(parent, path=file_path)
    return None


class GradFile(pytest.File):
    """A spec: an item per rule and per check statement (none for a model without them)."""

    def collect(self):
        from gradcli.errors import GradcliError
        from gradcli.rule_files import targets
        from gradcli.spec import read_spec

        try:
            spec = read_spec(str(self.path))
        except GradcliError as error:
            raise self.CollectError(f"gradcli: {error}") from None
        for item in targets(spec):
            name = f"check {item.name} at {item.text}" if hasattr(item, "text") else \
                f"{item.kind} {item.name}"
            yield GradItem.from_parent(self, name=name, spec=spec, item=item)


class GradFailure(Exception):
    """A rule or check that did not pass: its report."""


class GradItem(pytest.Item):
    def __init__(self, *, spec, item, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        self.item = item

    def runtest(self) -> None:
        from gradcli.compare import Options
        from gradcli.definitions import Check
        from gradcli.rule_files import check_statement
        from gradcli.rules import check_target

        config = self.config
        options = Options(config.getini("gradcli_method"))
        if isinstance(self.item, Check):
            report = check_statement(self.spec, self.item, options)
        else:
            report = check_target(self.item, options, int(config.getini("gradcli_points")),
                                  int(config.getini("gradcli_seed")))
        if report.verdict == "fail":
            raise GradFailure(report)
        if report.verdict == "inconclusive":
            pytest.skip("inconclusive: " + "; ".join(report.failures()))

    def repr_failure(self, excinfo, style=None):
        from gradcli.errors import GradcliError

        if isinstance(excinfo.value, GradFailure):
            report = excinfo.value.args[0]
            lines = [f"{report.target.path}:{report.target.line}: {report.title}: "
                     f"{report.verdict} ({report.method}, {report.points} point"
                     f"{'' if report.points == 1 else 's'})"]
            return "\n".join(lines + [f"  {sentence}" for sentence in report.failures()])
        if isinstance(excinfo.value, GradcliError):
            return f"gradcli: {excinfo.value}"
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, self.item.line - 1, self.name
