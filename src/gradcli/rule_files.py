"""What `gradcli check FILE.grad` checks in a spec: every rule (grad, vjp) against its def,
at points sampled from the rule's domain, and every `check` statement at its point.

    check softplus at x=30        a rule, at a point worth pinning
    check loss at w=1.5           the model's gradient of the value `loss`, at a point
"""

from __future__ import annotations

from collections.abc import Callable

from gradcli.checking import check_function
from gradcli.compare import Options
from gradcli.custom import Definition
from gradcli.definitions import Check
from gradcli.errors import InputError, NameResolutionError, UsageError, suggest
from gradcli.rules import DEFAULT_POINTS, Row, RuleReport, Target, check_target, placed
from gradcli.spec import Spec, function_of, read_spec


def has_rules(spec: Spec) -> bool:
    """Whether `check` reads the spec as rules to check (else it checks the model)."""
    return bool(spec.rules or spec.checks)


def rule_target(spec: Spec, definition: Definition, point: dict | None = None,
                line: int | None = None) -> Target:
    """The target of a function's rule: sampled from its domain, or at one point."""
    domain = spec.domains.get(definition.name, {})
    rule = definition.rule
    assert rule is not None

    def build(variables, _point):
        try:
            return definition.call(variables)
        except InputError as error:
            shapes = ", ".join(f"{v.attrs[0]}: {v.shape}" for v in variables)
            error.message = f"{error.message} (with {shapes}; give shapes with `domain " \
                            f"{definition.name}: x[3, 4]`)"
            raise placed(error, spec.path, rule.line) from None

    return Target(definition.name, rule.kind, spec.path, line or rule.line, definition.params,
                  build, {p: s.shape for p, s in domain.items() if s.shape is not None},
                  {p: s.bounds for p, s in domain.items() if s.bounds is not None},
                  None if point is None else [point], signature=definition.signature)


def targets(spec: Spec) -> list[Target | Check]:
    """Every rule of the spec as a target, then its check statements, in the file's order."""
    out: list[Target | Check] = [rule_target(spec, d) for d in spec.rules]
    return out + list(spec.checks)


def check_statement(spec: Spec, check: Check, options: Options, max_memory: float | None = None
                    ) -> RuleReport:
    """A `check` statement: a rule at its point, or the model's gradient of a value there."""
    definition = spec.functions.get(check.name)
    if definition is not None:
        if definition.rule is None:
            raise spec.error(NameResolutionError, f"{check.name} has no rule to check (write "
                             f"grad {definition.signature} = ...)", check.line, check.column)
        unknown = [name for name in check.point if name not in definition.params]
        if unknown:
            raise spec.error(NameResolutionError, f"check {check.name}: '{unknown[0]}' is not a "
                             f"parameter of {definition.signature}", check.line, check.column)
        missing = [p for p in definition.params if p not in check.point]
        if missing:
            raise spec.error(NameResolutionError, f"check {check.name}: give every argument "
                             f"a value; {', '.join(missing)} has none", check.line, check.column)
        target = rule_target(spec, definition, check.point, check.line)
        target.kind, target.signature = "check", check.text
        return check_target(target, options)
    if check.name not in spec.names:
        known = [*spec.names, *spec.functions]
        raise spec.error(NameResolutionError, f"check {check.name}: the spec has no value or "
                         f"function '{check.name}'{suggest(check.name, known)}", check.line,
                         check.column)
    function = function_of(spec, check.name, max_memory)
    report = check_function(function, check.point, options)
    target = Target(check.name, "check", spec.path, check.line, tuple(function.variables),
                    lambda *_: None, signature=check.text, claim="autodiff")
    rows = [Row(result, dict(check.point)) for result in report.results]
    return RuleReport(target, report.method, rows, 1, 0, "", options.strict, report.warnings)


def check_file(path: str, options: Options, count: int = DEFAULT_POINTS, seed: int = 0,
               max_memory: float | None = None, spec: Spec | None = None,
               progress: Callable[[], None] | None = None) -> list[RuleReport]:
    """Every rule and check statement of the spec in `path`, checked."""
    spec = spec if spec is not None else read_spec(path, max_memory=max_memory)
    if not has_rules(spec):
        raise UsageError(f"{path} has no rules (grad, vjp) and no check statements")
    reports = []
    for item in targets(spec):
        if isinstance(item, Check):
            reports.append(check_statement(spec, item, options, max_memory))
        else:
            reports.append(check_target(item, options, count, seed, progress))
    return reports
