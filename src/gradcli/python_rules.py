"""Custom gradients written in Python, and how `gradcli check file.py` finds and checks them.

    from gradcli import custom_vjp

    @custom_vjp(shapes={"x": (5,)}, domain={"x": (-20, 20)})
    def softplus(x):
        return np.logaddexp(0.0, x)

    @softplus.defvjp
    def softplus_vjp(g, x):          # the output's cotangent first, then the inputs
        return (g / (1 + np.exp(-x)),)  # one cotangent per input

A decorated function stays a plain function to call. To check it, it becomes an operation of a
graph whose forward is the function and whose VJP is an operation that calls `softplus_vjp`;
then gradcli.rules checks it like a rule of a spec. Importing a file runs its code, as pytest
does: it is the user's own code. The VJP has no derivative of its own (second order is for
rules written in a spec).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from gradcli.errors import GradcliError, UsageError
from gradcli.graph import Node
from gradcli.ops.core import Primitive
from gradcli.rules import Target


class UserCodeError(GradcliError):
    """The user's Python code raised, or returned what a function or VJP cannot return."""


class CustomVJP:
    """A function with a hand-written VJP (see the module's docstring)."""

    def __init__(self, fn: Callable, shapes: Mapping[str, Sequence[int]] | None = None,
                 domain: Mapping[str, tuple[float, float]] | None = None):
        self.fn = fn
        self.vjp: Callable | None = None
        self.params = tuple(inspect.signature(fn).parameters)
        self.shapes = {name: tuple(shape) for name, shape in (shapes or {}).items()}
        self.domain = {name: (float(lo), float(hi)) for name, (lo, hi) in (domain or {}).items()}
        for name in [*self.shapes, *self.domain]:
            if name not in self.params:
                raise TypeError(f"custom_vjp: {fn.__name__} has no parameter {name!r}")
        self.__name__ = getattr(fn, "__name__", "function")
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<custom_vjp {self.__name__}>"

    def defvjp(self, vjp: Callable) -> Callable:
        """Register `vjp(g, *inputs) -> one cotangent per input`; returns it unchanged."""
        self.vjp = vjp
        return vjp

    @property
    def place(self) -> tuple[str, int]:
        """The file and line of the function."""
        code = getattr(self.fn, "__code__", None)
        if code is None:
            return "<unknown>", 1
        file = Path(code.co_filename)
        try:  # relative to the working directory, as CI annotations want it
            file = file.resolve().relative_to(Path.cwd().resolve())
        except ValueError:
            pass
        return str(file), code.co_firstlineno

    def target(self, path: str | None = None) -> Target:
        """What gradcli.rules checks: the function, its VJP, its shapes and domain."""
        file, line = self.place
        if self.vjp is None:
            raise UserCodeError(f"{file}:{line}: {self.__name__} has no VJP: register one with "
                                f"@{self.__name__}.defvjp")
        return Target(self.__name__, "python", path or file, line, self.params, self._build,
                      dict(self.shapes), dict(self.domain),
                      signature=f"{self.__name__}({', '.join(self.params)})")

    def _build(self, variables: Sequence[Node], point: Mapping[str, object]) -> Node:
        values = [np.asarray(point[p], dtype=np.float64) for p in self.params]
        out_shape = np.shape(_call(self.fn, values, self.__name__))
        in_shapes = [v.shape for v in variables]
        n = len(variables)
        cache: dict = {}

        def cotangents(g, *xs):  # one call of the VJP serves the n nodes of its cotangents
            args = (g, *xs)
            last = cache.get("args")
            if last is None or any(a is not b for a, b in zip(args, last, strict=True)):
                cache["value"] = _cotangents(self, g, xs, in_shapes)
                cache["args"] = args  # held, so that no other array can take their ids
            return cache["value"]

        def vjp_primitive(k: int) -> Primitive:
            return Primitive(f"{self.__name__}_vjp[{k}]", lambda g, *xs: cotangents(g, *xs)[k],
                             (None,) * (n + 1), shape=lambda *shapes: in_shapes[k],
                             analytic=False, batches=False)

        vjps = [vjp_primitive(k) for k in range(n)]
        rules = tuple(_rule(vjps[k]) for k in range(n))
        primitive = Primitive(self.__name__, lambda *xs: _output(self, xs, out_shape), rules,
                              shape=lambda *shapes: out_shape, analytic=False, batches=False)
        return primitive(*variables)


def _rule(vjp: Primitive):
    def rule(g: Node, ans: Node, *args: Node) -> Node:
        return vjp(g, *args)

    return rule


def custom_vjp(fn: Callable | None = None, *, shapes: Mapping[str, Sequence[int]] | None = None,
               domain: Mapping[str, tuple[float, float]] | None = None):
    """Mark a numpy function as having a hand-written VJP (given with `.defvjp`), to be checked
    by `gradcli check file.py` or `gradcli.testing.assert_vjp`. `shapes` gives the shape of each
    argument when checked (numbers otherwise), `domain` where to sample it (-2:2 otherwise)."""
    if fn is None:
        return lambda f: CustomVJP(f, shapes, domain)
    return CustomVJP(fn, shapes, domain)


def _call(function: Callable, args: Sequence, name: str):
    try:
        return function(*args)
    except Exception as error:  # the user's code: any exception is theirs to see
        raise UserCodeError(f"{name} raised {type(error).__name__}: {error}"
                            f"{_where(error)}") from None


def _where(error: BaseException) -> str:
    """' (at file.py:12)': where a syntax error is, or the last frame of the user's code in the
    traceback (not gradcli's, not the import machinery's)."""
    if isinstance(error, SyntaxError) and error.filename:
        return f" (at {error.filename}:{error.lineno})"
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if "gradcli" not in Path(f.filename).parts[-2:-1]
              and not f.filename.startswith("<frozen")]
    return f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""


def _output(op: CustomVJP, xs: Sequence, shape: tuple[int, ...]):
    value = np.asarray(_call(op.fn, xs, op.__name__), dtype=np.float64)
    if value.shape != shape:
        raise UserCodeError(f"{op.__name__} returned shape {value.shape} here but {shape} at "
                            "the first point: the output's shape must depend only on the "
                            "inputs' shapes")
    return value


def _cotangents(op: CustomVJP, g, xs: Sequence, shapes: Sequence[tuple[int, ...]]) -> list:
    name = getattr(op.vjp, "__name__", "vjp")
    result = _call(op.vjp, (g, *xs), name)
    if not isinstance(result, (tuple, list)):
        result = (result,) if len(xs) == 1 else result
    if not isinstance(result, (tuple, list)) or len(result) != len(xs):
        count = len(result) if isinstance(result, (tuple, list)) else "not a tuple"
        raise UserCodeError(f"{name} must return one cotangent per input of {op.__name__} "
                            f"({len(xs)}, as a tuple); it returned {count}")
    out = []
    for param, value, shape in zip(op.params, result, shapes, strict=True):
        array = np.asarray(value, dtype=np.float64)
        if array.shape != shape:
            raise UserCodeError(f"{name}: the cotangent of {param} has shape {array.shape}, "
                                f"but {param} has shape {shape}")
        out.append(array)
    return out


def load(target: str) -> tuple[str, list[CustomVJP]]:
    """Import a file (path/to/ops.py) or a module (pkg.ops), running its code, and the
    functions it defines with custom_vjp, in the order defined: (what it is called, them)."""
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise UsageError(f"no such Python file: {target}")
        name = f"gradcli_user_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise UsageError(f"cannot import {target}")
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(path.resolve().parent))
        sys.modules[name] = module
        try:
            _run_import(lambda: spec.loader.exec_module(module), target, None)
        finally:
            sys.path.remove(str(path.resolve().parent))
    else:
        if "" not in sys.path and "." not in sys.path:
            sys.path.insert(0, "")
        module = _run_import(lambda: importlib.import_module(target), target, target)
    found: list[CustomVJP] = []
    for value in vars(module).values():
        if isinstance(value, CustomVJP) and all(value is not f for f in found):
            found.append(value)
    if not found:
        raise UsageError(f"{target} defines no function with @custom_vjp (from gradcli import "
                         "custom_vjp)")
    return target, found


def _run_import(run: Callable, target: str, module: str | None):
    """Run an import; any exception is the user's code's, reported with where it was raised.
    `module` is the name imported (None for a file)."""
    try:
        return run()
    except ModuleNotFoundError as error:
        name = error.name or ""
        if module is not None and (name == module or module.startswith(name + ".")):
            raise UsageError(f"no module named {target!r} (a file is given as path/to/file.py)") \
                from None
        raise UsageError(f"importing {target} failed: {type(error).__name__}: {error}"
                         f"{_where(error)}") from None
    except (Exception, SystemExit) as error:
        raise UsageError(f"importing {target} failed: {type(error).__name__}: {error}"
                         f"{_where(error)}") from None
