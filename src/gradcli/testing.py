"""Assertions for a user's own tests: `assert_vjp(fn, vjp, at=...)`.

    from gradcli.testing import assert_vjp

    def test_softplus_vjp():
        assert_vjp(softplus, softplus_vjp, at={"x": np.linspace(-5, 5, 7)})

The check is `gradcli check`'s (gradcli.rules): every entry of the output against every entry
of every input where the output is small, random cotangents otherwise; the reference and
tolerances of `method`. A failure says which input, which entry, both values and the tolerance.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from gradcli.compare import Options
from gradcli.python_rules import CustomVJP
from gradcli.rules import check_target

__all__ = ["assert_vjp"]


def assert_vjp(fn: Callable, vjp: Callable | None = None, *,
               at: Mapping[str, object] | Sequence[object],
               method: str = "ridders", rtol: float | None = None, atol: float | None = None,
               strict: bool = False, seed: int = 0) -> None:
    """Raise AssertionError unless `vjp(g, *inputs)` is the VJP of `fn` at the point `at` (by
    parameter name, or positional values). `fn` may be a function decorated with custom_vjp,
    whose own VJP is used when `vjp` is None."""
    if isinstance(fn, CustomVJP):
        op = CustomVJP(fn.fn)
        vjp = vjp if vjp is not None else fn.vjp
    else:
        op = CustomVJP(fn)
    if vjp is None:
        raise TypeError(f"assert_vjp: no VJP given for {op.__name__}")
    op.defvjp(vjp)
    if not isinstance(at, Mapping):
        if len(at) != len(op.params):
            raise TypeError(f"assert_vjp: {op.__name__} takes {len(op.params)} inputs, `at` "
                            f"gives {len(at)}")
        at = dict(zip(op.params, at, strict=True))
    missing = [p for p in op.params if p not in at]
    if missing:
        raise TypeError(f"assert_vjp: `at` gives no value for {', '.join(missing)}")
    target = op.target()
    target.points = [dict(at)]
    report = check_target(target, Options(method, rtol, atol, strict=strict, seed=seed))
    if report.verdict != "pass":
        details = "\n".join(f"  {line}" for line in report.failures())
        verdict = "wrong" if report.verdict == "fail" else "not confirmed"
        tolerances = Options(method, rtol, atol).resolved()
        raise AssertionError(f"the VJP of {op.__name__} is {verdict} ({report.method}, rtol "
                             f"{tolerances.rtol:g}, atol {tolerances.atol:g}):\n{details}")
