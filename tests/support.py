"""Helpers shared by the tests."""

import importlib.util
import sys
from contextlib import contextmanager
from pathlib import Path

BENCH_EXPRESSIONS = Path(__file__).resolve().parent.parent / "bench" / "expressions.py"


def bench_expressions():
    """bench/expressions.py, the benchmark's seeded generator of random expressions."""
    name = "gradcli_bench_expressions"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, BENCH_EXPRESSIONS)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # (dataclasses look their module up while it loads)
        spec.loader.exec_module(module)
    return sys.modules[name]


@contextmanager
def shallow_stack(frames=120):
    """A recursion limit just above the current depth: any recursion over the graph fails."""
    depth = 0
    frame = sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)
