"""The data of a spec: seeded initializers and `load`, each checked against the memory limit
before it allocates anything.

    randn(16, 3, seed=0)                     standard normal
    uniform(3, 4, low=-1, high=1, seed=0)    uniform on [low, high)
    truncated_normal(3, 20, stddev=1, seed=2) normal, redrawn beyond two standard deviations
    zeros(3), ones(2, 2), full(2, 3, value=0.5), eye(3), arange(5), arange(1, 2, 0.25)
    load("data.csv")                          .npy (no pickles), .csv or .txt, beside the spec

Every random initializer is reproducible: without `seed=` the seed is derived from the name
the statement assigns (the same name, the same numbers, on every machine).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gradcli.errors import InputError, MemoryLimitError

GIB = 2**30


def format_bytes(count: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            value = count / size
            return f"{value:.3g} {unit}" if value < 1000 else f"{value:.0f} {unit}"
    return f"{int(count)} bytes"


# The graph read from a text, and its gradient, take about this much memory per character of
# the text (tracemalloc's peak for the benchmark's 10^5-op expression: 49.5 MB for 800,000)
BYTES_PER_CHARACTER = 64


def refuse_long_text(size: int, what: str, limit: float | None, more: bool = False) -> None:
    """Refuse, before it is read, a text of `size` characters (`more`: at least that many, of
    a stream read no further) whose graph could take more than `limit` bytes (--max-memory):
    time and memory grow with the text."""
    if limit is not None and size * BYTES_PER_CHARACTER > limit:
        needs = "" if more else f"about {format_bytes(size * BYTES_PER_CHARACTER)}, "
        raise MemoryLimitError(
            f"{what} has {'more than ' if more else ''}{size - more:,} characters: its graph "
            f"would take {needs}more than --max-memory "
            f"{format_bytes(limit)}; nothing was read (raise the limit with --max-memory)")


class Budget:
    """The memory a spec may still allocate for its data."""

    def __init__(self, limit: float | None):
        self.limit = limit
        self.used = 0

    def take(self, shape: tuple[int, ...]) -> None:
        needed = 8 * int(np.prod(shape, dtype=np.float64))
        if self.limit is not None and self.used + needed > self.limit:
            raise MemoryLimitError(
                f"an array of shape {shape} needs {format_bytes(needed)}"
                + (f" (with {format_bytes(self.used)} of data before it)" if self.used else "")
                + f", more than --max-memory {format_bytes(self.limit)}; nothing was allocated "
                "(raise the limit with --max-memory, e.g. --max-memory 4GiB)")
        self.used += needed


def whole(value) -> bool:
    """Whether `value` is a whole number (not an array, an infinity or nan)."""
    return not np.ndim(value) and math.isfinite(float(value)) and float(value).is_integer()


def _shape(dims: tuple, what: str) -> tuple[int, ...]:
    shape = []
    for dim in dims:
        if not whole(dim) or int(dim) < 0:
            raise InputError(f"the sizes of {what} must be non-negative integers, not {dim!r}")
        shape.append(int(dim))
    return tuple(shape)


def _seed(seed, name: str) -> int:
    if seed is None:
        return zlib.crc32(name.encode("utf-8"))
    if not whole(seed) or int(seed) < 0:
        raise InputError(f"seed must be a non-negative integer, not {seed!r}")
    return int(seed)


def _truncated(rng: np.random.Generator, shape, mean: float, stddev: float) -> np.ndarray:
    """Normal numbers, those beyond two standard deviations drawn again (TensorFlow's rule)."""
    values = rng.standard_normal(shape)
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2
    return mean + stddev * values


def initializers(name: str, folder: Path, budget: Budget) -> dict[str, Callable[..., np.ndarray]]:
    """The calls of one statement (which assigns `name`), reading files in `folder`."""

    def sized(what: str, dims: tuple) -> tuple[int, ...]:
        shape = _shape(dims, what)
        budget.take(shape)
        return shape

    def randn(*dims, seed=None):
        shape = sized("randn", dims)
        return np.random.default_rng(_seed(seed, name)).standard_normal(shape)

    def uniform(*dims, low=0.0, high=1.0, seed=None):
        shape = sized("uniform", dims)
        if not low < high:
            raise InputError(f"uniform needs low < high, not {low!r} and {high!r}")
        return np.random.default_rng(_seed(seed, name)).uniform(low, high, shape)

    def truncated_normal(*dims, mean=0.0, stddev=1.0, seed=None):
        shape = sized("truncated_normal", dims)
        if not stddev > 0:
            raise InputError(f"stddev must be positive, not {stddev!r}")
        return _truncated(np.random.default_rng(_seed(seed, name)), shape, mean, stddev)

    def zeros(*dims):
        return np.zeros(sized("zeros", dims))

    def ones(*dims):
        return np.ones(sized("ones", dims))

    def full(*dims, value):
        return np.full(sized("full", dims), float(value))

    def eye(n, m=None):
        shape = sized("eye", (n, n if m is None else m))
        return np.eye(*shape)

    def arange(start, stop=None, step=1.0):
        start, stop = (0.0, start) if stop is None else (start, stop)
        if step == 0:
            raise InputError("arange needs a nonzero step")
        if not all(math.isfinite(float(v)) for v in (start, stop, step)):
            raise InputError("arange needs finite start, stop and step")
        count = max(0, int(np.ceil((stop - start) / step)))
        budget.take((count,))
        return np.arange(start, stop, step, dtype=np.float64)

    def load(path):
        if not isinstance(path, str):
            raise InputError('load takes a file name in quotes: load("data.csv")')
        return load_array(folder / path, budget)

    return {"randn": randn, "uniform": uniform, "truncated_normal": truncated_normal,
            "zeros": zeros, "ones": ones, "full": full, "eye": eye, "arange": arange,
            "load": load}


def load_array(path: Path, budget: Budget | None = None) -> np.ndarray:
    """A float64 array from a .npy file (never a pickle), or a .csv / .txt file of numbers."""
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".csv", ".txt"):
        raise InputError(f"cannot load {path.name}: gradcli reads .npy, .csv and .txt files")
    try:
        if not path.is_file():
            raise InputError(f"no such file: {path}")
        if suffix == ".npy":
            array = np.load(path, mmap_mode="r", allow_pickle=False)
            if budget is not None:
                budget.take(array.shape)
            if array.dtype.kind not in "biuf":
                raise InputError(f"{path.name} holds {array.dtype} values, not numbers")
            return np.array(array, dtype=np.float64)
        if budget is not None and budget.limit is not None and path.stat().st_size > budget.limit:
            raise MemoryLimitError(f"{path.name} is larger than --max-memory "
                                   f"{format_bytes(budget.limit)}; nothing was loaded")
        array = np.loadtxt(path, delimiter="," if suffix == ".csv" else None, dtype=np.float64,
                           ndmin=1)
    except (ValueError, OSError) as error:
        raise InputError(f"cannot load {path.name}: {error}") from None
    if budget is not None:
        budget.take(array.shape)
    return array
