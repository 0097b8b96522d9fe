"""Helpers shared by the tests."""

import sys
from contextlib import contextmanager


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
