#!/usr/bin/env python3
"""gradcli's speed benchmark: the workloads of the issue, each measured side by side with its
baseline and its peers in one run, printed as one table.

Run from the repository root, gradcli installed (`pip install -e .`; the peers: autograd and
SymPy; PyTorch and JAX are measured when they can be imported, and skipped otherwise):

    python bench/run.py                 # the table, about 3-5 minutes
    python bench/run.py --quick         # fewer repetitions, smaller sizes: under a minute
    python bench/run.py --json out.json # the table, and every number in a JSON file
    python bench/run.py --profile       # and where gradcli spends its time (cProfile)

Workloads (times are medians; the contenders of a workload are interleaved, run after run):

1. Cold start of a whole process: `gradcli grad "x**2*sin(x)" --at x=2 --format plain` (the
   entry point next to sys.executable) against `python -c "import numpy, lark, typer"`, the
   floor, and scripts computing the same derivative with autograd, SymPy, JAX, PyTorch. One
   untimed run of each first (it writes gradcli's grammar cache, and every process's bytecode,
   into a temporary PYTHONPYCACHEPREFIX folder). Goals: gradcli <= 1.15x the floor and
   <= 1.25x autograd.
2. Value and gradient at 10^6 points (x in [0.5, 2]), in process, for the three seed
   expressions: hand-written numpy (the baseline), gradcli's `f.grad(point, batch=True)` (warm:
   the gradient graph is built by the first call, which is also reported, after a fresh
   `parse`; its blocks shared among the processors' threads, and on one thread too),
   autograd's `make_vjp` (value and vector-Jacobian product with ones: one forward
   and one backward pass), SymPy's `lambdify` of the value and of the derivatives (the
   evaluation only), PyTorch, JAX (jit of vmap of value_and_grad; warm). Goal: gradcli <= 1.0x
   numpy. gradcli's gradient is compared with autograd's (max relative difference).
3. A random expression of 10^4 operations in 10 variables (bench/expressions.py, seed 0): parse
   and full gradient at one point, gradcli against autograd (the same function, evaluated from
   the generator's list of operations, never from the text), PyTorch. gradcli's `f.grad` at one
   point is its reverse pass on numbers (gradcli/eager.py: no gradient graph); SymPy at 10^2
   operations only (build, diff by each variable, evalf). Then gradcli at 10^5 operations: the
   time ratio t(10^5)/t(10^4), the two sizes taking turns (goal <= 12), and the ratio of peak
   memory (tracemalloc peak while parsing and differentiating; goal: linear growth, <= 12 as
   well). A diagnostic row gives the time ratio again with Python's cyclic garbage collector
   turned off.
4. The cheap-gradient principle: nodes of the graph after the backward pass / nodes of the
   forward graph (goal <= 4), and the time of value and gradient / value alone (goal <= 3):
   at 10^6 points for the seeds, at 10^3 points for the 10^4-operation expression (every value
   of a graph is kept during a pass: at 10^6 points it would need about 80 GB).
5. `gradcli check examples/mlp_fixed.grad --mode probes --probes 8 --format json`: the
   evaluations the command reports (goal: at most 2K+1 forward evaluations and one backward
   pass), and its time against the default entries mode.

--quick: 3 runs of each cold start, 10^5 points, 3 repetitions, the large expression at 10^3
operations and its scaling from 10^3 to 10^4 (so its rows are not the default ones).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib.util
import io
import json
import math
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from expressions import Expression, random_expression  # noqa: E402
from expressions import evaluate as evaluate_ops  # noqa: E402

import gradcli  # noqa: E402
from gradcli.graph import ancestors  # noqa: E402

HAVE_TORCH = importlib.util.find_spec("torch") is not None
HAVE_JAX = importlib.util.find_spec("jax") is not None


# ---------------------------------------------------------------------------------------------
# Rows of the table


@dataclass
class Row:
    workload: str
    contender: str
    value: float | None  # seconds, unless `unit` says otherwise
    unit: str = "s"  # "s", "nodes", "MB", "rel" (a relative difference), "" (text only)
    ratio: float | None = None
    vs: str = ""  # what the ratio is against
    goal: str = ""
    met: bool | None = None
    runs: list[float] = field(default_factory=list)
    text: str = ""  # shown instead of the value when there is none


ROWS: list[Row] = []


def add(row: Row) -> Row:
    ROWS.append(row)
    return row


def goal_row(workload: str, contender: str, value: float | None, baseline: float | None, vs: str,
             limit: float | None = None, unit: str = "s", runs: Sequence[float] = (),
             text: str = "") -> Row:
    ratio = value / baseline if value is not None and baseline else None
    if value is None and not text:
        text = "failed"
    goal = f"<= {limit:g}x {vs}" if limit is not None else ""
    met = None if limit is None or ratio is None else ratio <= limit
    return add(Row(workload, contender, value, unit, ratio, vs, goal, met, list(runs), text))


def show_value(row: Row) -> str:
    if row.value is None:
        return row.text or "-"
    if row.unit == "s":
        t = row.value
        if t >= 1:
            return f"{t:.2f} s"
        if t >= 1e-3:
            return f"{t * 1e3:.1f} ms"
        return f"{t * 1e6:.0f} us"
    if row.unit == "nodes":
        return f"{row.value:.0f} nodes"
    if row.unit == "MB":
        return f"{row.value:.1f} MB"
    if row.unit == "rel":
        return f"{row.value:.1e}"
    return f"{row.value:g}"


def table() -> str:
    header = ["workload", "contender", "median", "ratio", "goal", "met"]
    lines = []
    for row in ROWS:
        ratio = f"{row.ratio:.2f}x {row.vs}" if row.ratio is not None else ""
        met = "" if row.met is None else ("yes" if row.met else "**no**")
        lines.append([row.workload, row.contender, show_value(row), ratio, row.goal, met])
    widths = [max(len(h), *(len(line[k]) for line in lines)) for k, h in enumerate(header)]

    def fmt(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [fmt(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [fmt(line) for line in lines]
    return "\n".join(out)


def machine() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    def v(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count() or 0
    return {"nproc": str(nproc), "python": platform.python_version(),
            "numpy": np.__version__, "machine": platform.machine(),
            "gradcli": gradcli.__version__, "autograd": v("autograd"), "sympy": v("sympy"),
            "torch": v("torch"), "jax": v("jax")}


# ---------------------------------------------------------------------------------------------
# Timing


class Times(dict):
    """Each contender's times (name -> seconds of each run); `failed` holds the error of a
    contender that raised (it is then left out of the runs)."""

    def __init__(self) -> None:
        super().__init__()
        self.failed: dict[str, str] = {}

    def med(self, name: str) -> float | None:
        return statistics.median(self[name]) if self.get(name) else None

    def note(self, name: str) -> str:
        return f"failed: {self.failed[name]}" if name in self.failed else ""


def interleaved(contenders: dict[str, Callable[[], object]], repeats: int,
                warmup: bool = True) -> Times:
    """Each contender `repeats` times, taking turns (the order rotating from run to run), after
    one untimed call of each when `warmup`. A contender that raises is dropped (its error kept
    in `failed`), so that one crash does not lose the rest of the table."""
    names = list(contenders)
    times = Times()

    def call(name: str) -> bool:
        try:
            contenders[name]()
            return True
        except Exception as error:  # noqa: BLE001 (reported in the table)
            times.failed[name] = f"{type(error).__name__}: {str(error)[:80]}"
            print(f"{name} failed: {type(error).__name__}: {error}", file=sys.stderr)
            return False

    if warmup:
        names = [name for name in names if call(name)]
    for name in names:
        times[name] = []
    for k in range(repeats):
        order = names[k % len(names):] + names[:k % len(names)]
        for name in order:
            if name in times.failed:
                continue
            gc.collect()
            start = time.perf_counter()
            if call(name):
                times[name].append(time.perf_counter() - start)
    for name in times.failed:
        times.pop(name, None)
    return times


def settle() -> None:
    """Before a workload: what earlier ones left (SymPy's cache, their objects) out of the way of
    the garbage collector, whose full collections would otherwise traverse it all, in the middle
    of the next workload's runs (gc.freeze: only the objects made from now on are traversed)."""
    if "sympy" in sys.modules:
        from sympy.core.cache import clear_cache

        clear_cache()
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def median(times: Sequence[float]) -> float:
    return statistics.median(times)


def max_relative_difference(ours, theirs) -> float:
    """max |ours - theirs| / |theirs| over the entries (where theirs is 0: |ours - theirs|)."""
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    scale = np.where(theirs == 0, 1.0, np.abs(theirs))
    return float(np.max(np.abs(ours - theirs) / scale))


def skipped(workload: str, what: str) -> None:
    add(Row(workload, what, None, text="skipped (not installed)"))


# ---------------------------------------------------------------------------------------------
# 1. Cold start


def gradcli_command() -> str:
    beside = Path(sys.executable).parent / ("gradcli.exe" if os.name == "nt" else "gradcli")
    if beside.is_file():
        return str(beside)
    found = shutil.which("gradcli")
    if found is None:
        raise SystemExit("the gradcli command is not installed (pip install -e .)")
    return found


COLD_SCRIPTS = {
    "autograd": "import autograd.numpy as np\nfrom autograd import grad\n"
                "print(grad(lambda x: x**2*np.sin(x))(2.0))",
    "sympy": "import sympy as sp\nx = sp.Symbol('x')\nf = x**2*sp.sin(x)\n"
             "print(sp.diff(f, x).evalf(subs={x: 2}))",
    "jax": "import jax\njax.config.update('jax_enable_x64', True)\nimport jax.numpy as jnp\n"
           "print(jax.grad(lambda x: x**2*jnp.sin(x))(2.0))",
    "torch": "import torch\nx = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)\n"
             "(x**2*torch.sin(x)).backward()\nprint(x.grad.item())",
}


def cold_start(runs: int) -> None:
    w = "1 cold start"
    py = sys.executable
    commands = {
        "floor": [py, "-c", "import numpy, lark, typer"],
        "gradcli": [gradcli_command(), "grad", "x**2*sin(x)", "--at", "x=2", "--format", "plain"],
        "autograd": [py, "-c", COLD_SCRIPTS["autograd"]],
        "sympy": [py, "-c", COLD_SCRIPTS["sympy"]],
    }
    for peer in ("jax", "torch"):
        if HAVE_JAX if peer == "jax" else HAVE_TORCH:
            commands[peer] = [py, "-c", COLD_SCRIPTS[peer]]

    # Every process with its bytecode cached, as after an ordinary install: a bytecode folder of
    # this run's own (PYTHONPYCACHEPREFIX), filled by the untimed first runs, whatever
    # PYTHONDONTWRITEBYTECODE says (with it, and sources newer than their .pyc, as in an
    # editable install being worked on, every start compiles gradcli from source: that case
    # has a row of its own).
    as_is = dict(os.environ)
    cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    prefix = tempfile.TemporaryDirectory(prefix="gradcli-bench-pycache-")
    cached["PYTHONPYCACHEPREFIX"] = prefix.name

    def run(argv, env):
        def go():
            done = subprocess.run(argv, capture_output=True, text=True, env=env)
            if done.returncode != 0:
                raise RuntimeError(f"{argv} failed: {done.stderr.strip()}")
            return done.stdout
        return go

    contenders = {name: run(argv, cached) for name, argv in commands.items()}
    no_bytecode = "PYTHONDONTWRITEBYTECODE" in os.environ and "PYTHONPYCACHEPREFIX" not in os.environ
    if no_bytecode:
        contenders["gradcli as is"] = run(commands["gradcli"], as_is)
    out = contenders["gradcli"]()  # the untimed first runs (gradcli's writes its grammar cache)
    if not out.strip().startswith("1.97260236111415"):
        raise RuntimeError(f"gradcli printed {out!r}, not the derivative 1.9726...")
    with prefix:
        times = interleaved(contenders, runs, warmup=True)
    floor, auto, t = times.med("floor"), times.med("autograd"), times.med("gradcli")
    add(Row(w, 'floor: python -c "import numpy, lark, typer"', floor, ratio=1.0, vs="floor",
            runs=times.get("floor", []), text=times.note("floor")))
    goal_row(w, 'gradcli grad "x**2*sin(x)" --at x=2 --format plain', t, floor, "floor", 1.15,
             runs=times.get("gradcli", []), text=times.note("gradcli"))
    goal_row(w, "gradcli (the same run), against autograd", t, auto, "autograd", 1.25,
             text=times.note("gradcli"))
    if "gradcli as is" in contenders:
        goal_row(w, "gradcli, PYTHONDONTWRITEBYTECODE=1 as set here (compiles its .py)",
                 times.med("gradcli as is"), floor, "floor", runs=times.get("gradcli as is", []),
                 text=times.note("gradcli as is"))
    for name in ("autograd", "sympy", "jax", "torch"):
        label = {"autograd": "autograd script (grad)", "sympy": "SymPy script (diff + evalf)",
                 "jax": "JAX script (grad, x64)", "torch": "PyTorch script (backward)"}[name]
        if name in contenders:
            goal_row(w, label, times.med(name), floor, "floor", runs=times.get(name, []),
                     text=times.note(name))
        else:
            skipped(w, label)


# ---------------------------------------------------------------------------------------------
# 2. Batch gradients of the seed expressions


def _numpy_1(x):
    s = np.sin(x)
    x2 = x * x
    return x2 * s, [2 * x * s + x2 * np.cos(x)]


def _numpy_2(x):
    e = np.exp(x)
    x2 = x * x
    u = x2 * x * e
    return np.cos(u), [-np.sin(u) * (3 * x2 * e + u)]


def _numpy_3(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2), [1 / x1 + x2, x1 - np.cos(x2)]


@dataclass
class Seed:
    text: str
    names: tuple[str, ...]
    numpy: Callable  # hand-written value and gradient
    generic: Callable  # (lib, *xs): the function with lib's sin, cos, exp, log


SEEDS = [
    Seed("x**2*sin(x)", ("x",), _numpy_1, lambda lib, x: x**2 * lib.sin(x)),
    Seed("cos(x**3*exp(x))", ("x",), _numpy_2, lambda lib, x: lib.cos(x**3 * lib.exp(x))),
    Seed("log(x1)+x1*x2-sin(x2)", ("x1", "x2"), _numpy_3,
         lambda lib, x1, x2: lib.log(x1) + x1 * x2 - lib.sin(x2)),
]


def autograd_batch(seed: Seed) -> Callable:
    import autograd.numpy as anp
    from autograd import make_vjp

    k = len(seed.names)
    argnum = 0 if k == 1 else tuple(range(k))

    def fn(*arrays):
        vjp, value = make_vjp(lambda *xs: seed.generic(anp, *xs), argnum=argnum)(*arrays)
        grads = vjp(np.ones_like(value))
        return value, [grads] if k == 1 else list(grads)
    return fn


def sympy_batch(seed: Seed) -> Callable:
    import sympy as sp

    symbols = sp.symbols(seed.names)
    expr = seed.generic(sp, *symbols)
    value = sp.lambdify(symbols, expr, "numpy")
    gradient = sp.lambdify(symbols, [sp.diff(expr, s) for s in symbols], "numpy")
    return lambda *arrays: (value(*arrays), gradient(*arrays))


def torch_batch(seed: Seed) -> Callable:
    import torch

    def fn(*arrays):
        xs = [torch.from_numpy(a).requires_grad_() for a in arrays]
        y = seed.generic(torch, *xs)
        y.backward(torch.ones_like(y))
        return y.detach().numpy(), [x.grad.numpy() for x in xs]
    return fn


def jax_batch(seed: Seed) -> Callable:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    k = len(seed.names)
    vg = jax.jit(jax.vmap(jax.value_and_grad(lambda *xs: seed.generic(jnp, *xs),
                                             argnums=tuple(range(k)))))

    def fn(*arrays):
        value, grads = vg(*arrays)
        value.block_until_ready()
        return value, list(grads)
    return fn


def built(build: Callable[[], Callable]) -> Callable:
    """build(), or, when building fails (a peer that cannot be set up), a function that raises
    the same error when called, so that the table shows it."""
    try:
        return build()
    except Exception as error:  # noqa: BLE001 (reported in the table)
        def fail(*args, error=error):
            raise error
        return fail


def gradcli_first(text: str, point: dict, repeats: int) -> list[float]:
    """The first f.grad(batch=True) of fresh Functions (parsing excluded)."""
    firsts = []
    for _ in range(repeats):
        g = gradcli.parse(text)
        gc.collect()
        start = time.perf_counter()
        g.grad(point, batch=True)
        firsts.append(time.perf_counter() - start)
    return firsts


def gradcli_threads() -> int:
    from gradcli.plans import threads

    return threads()


def one_thread(fn: Callable[[], object]) -> object:
    """fn() with gradcli's batch evaluation on one thread."""
    old = os.environ.get("GRADCLI_THREADS")
    os.environ["GRADCLI_THREADS"] = "1"
    try:
        return fn()
    finally:
        if old is None:
            del os.environ["GRADCLI_THREADS"]
        else:
            os.environ["GRADCLI_THREADS"] = old


def batch(n_points: int, repeats: int, profile: bool) -> dict:
    rng = np.random.default_rng(0)
    arrays = {name: rng.uniform(0.5, 2.0, n_points) for name in ("x", "x1", "x2")}
    w = f"2 batch 1e{round(math.log10(n_points))} pts"
    evaluation = {}
    profiles = []
    for seed in SEEDS:
        label = seed.text
        xs = [arrays[name] for name in seed.names]
        point = dict(zip(seed.names, xs, strict=True))
        f = gradcli.parse(seed.text)
        peers = {"autograd": built(lambda seed=seed: autograd_batch(seed)),
                 "sympy": built(lambda seed=seed: sympy_batch(seed))}
        if HAVE_TORCH:
            peers["torch"] = built(lambda seed=seed: torch_batch(seed))
        if HAVE_JAX:
            peers["jax"] = built(lambda seed=seed: jax_batch(seed))
        contenders: dict[str, Callable[[], object]] = {
            "numpy": lambda seed=seed, xs=xs: seed.numpy(*xs),
            "gradcli": lambda f=f, point=point: f.grad(point, batch=True),
            "gradcli 1 thread": lambda f=f, point=point: one_thread(
                lambda: f.grad(point, batch=True)),
            "gradcli value": lambda f=f, point=point: f.evaluate(point, batch=True),
        }
        for peer, fn in peers.items():
            contenders[peer] = lambda fn=fn, xs=xs: fn(*xs)
        try:
            firsts = gradcli_first(seed.text, point, max(3, repeats // 2))
        except Exception as error:  # noqa: BLE001 (reported in the table)
            firsts, first_error = [], f"failed: {type(error).__name__}: {str(error)[:80]}"
        else:
            first_error = ""
        times = interleaved(contenders, repeats)
        base = times.med("numpy")

        def row(name: str, what: str, limit: float | None = None, times=times, base=base,
                label=label):
            goal_row(w, f"{label}: {what}", times.med(name), base, "numpy", limit,
                     runs=times.get(name, []), text=times.note(name))

        add(Row(w, f"{label}: hand-written numpy", base, ratio=1.0, vs="numpy",
                runs=times.get("numpy", []), text=times.note("numpy")))
        row("gradcli", f"gradcli f.grad(batch=True), warm ({gradcli_threads()} threads)", 1.0)
        row("gradcli 1 thread", "gradcli, one thread (GRADCLI_THREADS=1)")
        goal_row(w, f"{label}: gradcli first call (builds the gradient graph)",
                 median(firsts) if firsts else None, base, "numpy", runs=firsts, text=first_error)
        row("autograd", "autograd make_vjp")
        row("sympy", "SymPy lambdify (evaluation only)")
        for peer, what in (("torch", "PyTorch backward"), ("jax", "JAX jit(vmap(value_and_grad))")):
            if peer in contenders:
                row(peer, what)
            else:
                skipped(w, f"{label}: {what}")
        # the same numbers?
        try:
            ours = f.grad(point, batch=True)
            value, grads = peers["autograd"](*xs)
            diff = max(max_relative_difference(ours.gradient[n], g)
                       for n, g in zip(seed.names, grads, strict=True))
            diff = max(diff, max_relative_difference(ours.value, value))
            hand_value, hand_grads = seed.numpy(*xs)
            hand = max(max_relative_difference(ours.gradient[n], g)
                       for n, g in zip(seed.names, hand_grads, strict=True))
        except Exception as error:  # noqa: BLE001 (reported in the table)
            diff = hand = None
            note = f"failed: {type(error).__name__}: {str(error)[:80]}"
        else:
            note = ""
        # gradcli computes x**3 as x*x*x (autograd: pow), and the hand-written formulas
        # round differently too: cos(x**3*exp(x)) near a zero of cos(u) or sin(u), u up to 59,
        # turns a difference of an ulp in u into up to about 1e-9 relatively
        add(Row(w, f"{label}: max rel. difference, gradcli vs autograd (value, gradient)", diff,
                "rel", goal="<= 1e-9", met=None if diff is None else diff <= 1e-9, text=note))
        add(Row(w, f"{label}: max rel. difference, gradcli vs hand-written gradient", hand,
                "rel", goal="<= 1e-9", met=None if hand is None else hand <= 1e-9, text=note))
        evaluation[seed.text] = (times.med("gradcli value"), times.med("gradcli"))
        if profile:
            profiles.append((f"workload 2: {label}, warm f.grad(batch=True) x 5",
                             lambda f=f, point=point: [f.grad(point, batch=True) for _ in range(5)],
                             None))
    return {"evaluation": evaluation, "profiles": profiles}


# ---------------------------------------------------------------------------------------------
# 3. Large expressions


def gradcli_large(expr: Expression) -> Callable[[], tuple]:
    point = expr.point()

    def fn():
        f = gradcli.parse(expr.text)
        return f, f.grad(point)
    return fn


def autograd_large(expr: Expression) -> Callable[[], tuple]:
    import autograd.numpy as anp
    from autograd import value_and_grad

    names = expr.variables
    values = [expr.point()[n] for n in names]
    vg = value_and_grad(lambda *xs: evaluate_ops(expr, dict(zip(names, xs, strict=True)), anp),
                        argnum=tuple(range(len(names))))
    return lambda: vg(*values)


def torch_large(expr: Expression) -> Callable[[], tuple]:
    import torch

    names = expr.variables
    values = [expr.point()[n] for n in names]

    def fn():
        xs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
        y = evaluate_ops(expr, dict(zip(names, xs, strict=True)), torch)
        y.backward()
        return y.item(), [0.0 if x.grad is None else x.grad.item() for x in xs]
    return fn


def sympy_large(expr: Expression) -> Callable[[], tuple]:
    import sympy as sp
    from sympy.core.cache import clear_cache

    names = expr.variables
    at = expr.point()

    def fn():
        clear_cache()
        symbols = sp.symbols(names)
        e = evaluate_ops(expr, dict(zip(names, symbols, strict=True)), sp)
        subs = {s: at[n] for s, n in zip(symbols, names, strict=True)}
        return float(e.evalf(subs=subs)), [float(sp.diff(e, s).evalf(subs=subs)) for s in symbols]
    return fn


def in_order(result, expr: Expression) -> list[float]:
    """gradcli's value and gradient, the gradient in the generator's order of the variables
    (gradcli's is their order of first appearance in the text); 0 for a variable the text
    does not use (the peers give 0 there)."""
    gradient = result.gradient
    return [result.value, *(gradient.get(n) or 0.0 for n in expr.variables)]


def peak_memory(fn: Callable[[], object]) -> float:
    """tracemalloc's peak, in bytes, while fn runs (and its result is alive)."""
    gc.collect()
    tracemalloc.start()
    try:
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del result
    return peak


def exponent(n: int) -> str:
    return f"1e{round(math.log10(n))}"


def difference_row(w: str, what: str, ours: Callable[[], list], theirs: Callable[[], list],
                   limit: float) -> None:
    """The max relative difference of two lists of numbers (value and gradient)."""
    try:
        diff = max_relative_difference(ours(), theirs())
    except Exception as error:  # noqa: BLE001 (reported in the table)
        add(Row(w, what, None, "rel", goal=f"<= {limit:g}",
                text=f"failed: {type(error).__name__}: {str(error)[:80]}"))
    else:
        add(Row(w, what, diff, "rel", goal=f"<= {limit:g}", met=diff <= limit))


def flat(result) -> list[float]:
    value, grads = result
    return [value, *grads]


def large(sizes: tuple[int, int], sympy_size: int, repeats: int, profile: bool) -> dict:
    small_n, big_n = sizes
    profiles = []
    # SymPy's size, with gradcli and autograd at the same size
    e = random_expression(sympy_size, 10, seed=0)
    w = f"3 large {exponent(sympy_size)} ops"
    contenders = {"autograd": built(lambda: autograd_large(e)), "gradcli": gradcli_large(e),
                  "sympy": built(lambda: sympy_large(e))}
    times = interleaved(contenders, max(3, repeats // 2))
    base = times.med("autograd")
    add(Row(w, f"autograd value_and_grad ({e.text_ops} ops in the text, {len(e.text)} chars)",
            base, ratio=1.0, vs="autograd", runs=times.get("autograd", []),
            text=times.note("autograd")))
    goal_row(w, "gradcli parse + grad", times.med("gradcli"), base, "autograd",
             runs=times.get("gradcli", []), text=times.note("gradcli"))
    goal_row(w, "SymPy build + diff x10 + evalf", times.med("sympy"), base, "autograd",
             runs=times.get("sympy", []), text=times.note("sympy"))
    ours = lambda e=e: in_order(gradcli_large(e)()[1], e)  # noqa: E731
    difference_row(w, "max rel. difference, gradcli vs autograd (value, gradient)", ours,
                   lambda: flat(contenders["autograd"]()), 1e-9)
    difference_row(w, "max rel. difference, gradcli vs SymPy (value, gradient)", ours,
                   lambda: flat(contenders["sympy"]()), 1e-9)

    # the main size
    e = random_expression(small_n, 10, seed=0)
    w = f"3 large {exponent(small_n)} ops"
    point = e.point()
    split: dict[str, list[float]] = {"parse": [], "grad": []}

    def gradcli_split():
        start = time.perf_counter()
        f = gradcli.parse(e.text)
        middle = time.perf_counter()
        result = f.grad(point)
        split["parse"].append(middle - start)
        split["grad"].append(time.perf_counter() - middle)
        return f, result

    contenders = {"autograd": built(lambda: autograd_large(e)), "gradcli": gradcli_split}
    if HAVE_TORCH:
        contenders["torch"] = built(lambda: torch_large(e))
    times = interleaved(contenders, repeats)
    parse_times, grad_times = split["parse"][1:], split["grad"][1:]  # (not the warm-up)
    base = times.med("autograd")
    t_small = times.med("gradcli")
    add(Row(w, f"autograd value_and_grad ({e.text_ops} ops in the text, {len(e.text)} chars)",
            base, ratio=1.0, vs="autograd", runs=times.get("autograd", []),
            text=times.note("autograd")))
    goal_row(w, "gradcli parse + grad", t_small, base, "autograd", runs=times.get("gradcli", []),
             text=times.note("gradcli"))
    if t_small is not None:
        goal_row(w, "  of which gradcli.parse", median(parse_times), base, "autograd",
                 runs=parse_times)
        goal_row(w, "  of which f.grad (the reverse pass on numbers)", median(grad_times),
                 base, "autograd", runs=grad_times)
    if "torch" in contenders:
        goal_row(w, "PyTorch backward", times.med("torch"), base, "autograd",
                 runs=times.get("torch", []), text=times.note("torch"))
    else:
        skipped(w, "PyTorch backward")
    ours = lambda e=e: in_order(gradcli_large(e)()[1], e)  # noqa: E731
    difference_row(w, "max rel. difference, gradcli vs autograd (value, gradient)", ours,
                   lambda: flat(contenders["autograd"]()), 1e-9)
    if "torch" in contenders:
        difference_row(w, "max rel. difference, gradcli vs PyTorch (value, gradient)", ours,
                       lambda: flat(contenders["torch"]()), 1e-9)
    if profile:
        profiles += [
            (f"workload 3: gradcli.parse + f.grad, {e.n_ops} operations", gradcli_large(e), None),
            (f"workload 3: gradcli.parse alone, {e.n_ops} operations",
             lambda: gradcli.parse(e.text), None),
            (f"workload 3: f.grad alone (first call), {e.n_ops} operations",
             lambda f: f.grad(point), lambda: gradcli.parse(e.text)),
        ]

    # scaling, gradcli alone: both sizes taking turns, in the same conditions
    big = random_expression(big_n, 10, seed=0)
    big_times = interleaved({"small": gradcli_large(e), "gradcli": gradcli_large(big)},
                            max(3, repeats // 2), warmup=False)
    t_big, t_small = big_times.med("gradcli"), big_times.med("small")
    w = f"3 scaling {exponent(small_n)}->{exponent(big_n)}"
    add(Row(w, f"gradcli parse + grad, {big_n} ops ({big.text_ops} in the text, "
               f"{len(big.text)} chars)", t_big, runs=big_times.get("gradcli", []),
            text=big_times.note("gradcli")))
    goal_row(w, f"time ratio t({exponent(big_n)})/t({exponent(small_n)})", t_big, t_small,
             f"t({exponent(small_n)})", 12)
    # a diagnostic: the same without Python's cyclic garbage collector, whose full collections
    # traverse every node alive, so that they cost more the larger the graph
    def without_gc(fn: Callable[[], object]) -> Callable[[], object]:
        def go():
            gc.disable()
            try:
                return fn()
            finally:
                gc.enable()
        return go

    quiet = interleaved({"small": without_gc(gradcli_large(e)), "big": without_gc(gradcli_large(big))},
                        max(2, repeats // 3), warmup=False)
    goal_row(w, f"t({exponent(big_n)}), t({exponent(small_n)}) both with the cyclic GC off "
                "(a diagnostic)", quiet.med("big"),
             quiet.med("small"), f"t({exponent(small_n)})", text=quiet.note("big"))
    try:
        m_small = peak_memory(gradcli_large(e)) / 2**20
        m_big = peak_memory(gradcli_large(big)) / 2**20
    except Exception as error:  # noqa: BLE001 (reported in the table)
        m_small = m_big = None
        note = f"failed: {type(error).__name__}: {str(error)[:80]}"
    else:
        note = ""
    add(Row(w, f"peak memory (tracemalloc), {small_n} ops", m_small, "MB", text=note))
    goal_row(w, f"peak memory, {big_n} ops", m_big, m_small, f"{exponent(small_n)}", 12,
             unit="MB", text=note)
    return {"expr": e, "profiles": profiles}


# ---------------------------------------------------------------------------------------------
# 4. Cheap gradients


def cheap(evaluation: dict, expr: Expression, n_points: int, repeats: int) -> None:
    w = "4 cheap gradient"
    functions = [(seed.text, seed.text) for seed in SEEDS]
    functions.append((f"random, {expr.n_ops} ops", expr.text))
    for label, text in functions:
        try:
            f = gradcli.parse(text)
            forward = len(ancestors([f.output]))
            grads = [f.gradient_node(name) for name in f.variables]
            total = len(f.graph)
            live = len(ancestors([f.output, *(g for g in grads if g)]))
        except Exception as error:  # noqa: BLE001 (reported in the table)
            add(Row(w, f"{label}: nodes after backward / forward", None, "nodes", goal="<= 4x",
                    text=f"failed: {type(error).__name__}: {str(error)[:80]}"))
            continue
        goal_row(w, f"{label}: nodes after backward / forward ({forward}; value + gradient "
                    f"use {live})", total, forward, "forward", 4, unit="nodes")
    for seed in SEEDS:
        value, both = evaluation[seed.text]
        goal_row(w, f"{seed.text}: f.grad / f.evaluate, same points as 2", both, value,
                 "value", 3)
    # the large expression at n_points points near the benchmark point (every node keeps its
    # values during a pass)
    f = gradcli.parse(expr.text)
    rng = np.random.default_rng(1)
    point = {n: v + rng.uniform(-1e-3, 1e-3, n_points) for n, v in expr.point().items()}
    times = interleaved({"value": lambda: f.evaluate(point, batch=True),
                         "both": lambda: f.grad(point, batch=True)}, repeats)
    if "both" in times:
        result = f.grad(point, batch=True)
        if result.warnings:
            print("warning:", result.warnings[0], file=sys.stderr)
    add(Row(w, f"random, {expr.n_ops} ops: f.evaluate at {n_points} points",
            times.med("value"), runs=times.get("value", []), text=times.note("value")))
    goal_row(w, f"random, {expr.n_ops} ops: f.grad / f.evaluate", times.med("both"),
             times.med("value"), "value", 3, runs=times.get("both", []), text=times.note("both"))


# ---------------------------------------------------------------------------------------------
# 5. Probe mode


PROBE_SPEC = Path(__file__).resolve().parent.parent / "examples" / "mlp_fixed.grad"


def probe_mode(k: int, repeats: int) -> None:
    """`gradcli check SPEC --mode probes --probes K --format json` as a user runs it: the
    evaluations the command reports against 2K+1 and one backward pass, and its time against
    the entries mode's."""
    w = "5 check probe mode"
    command = [gradcli_command(), "check", str(PROBE_SPEC), "--format", "json"]
    probes = [*command, "--mode", "probes", "--probes", str(k)]
    done = subprocess.run(probes, capture_output=True, text=True)
    try:
        report = json.loads(done.stdout)
        counts = report["evaluations"]
        verdict = report["verdict"]
    except (ValueError, KeyError) as error:
        add(Row(w, "evaluations reported", None, "", text=f"failed: {error}; {done.stderr[:80]}"))
        return
    name = PROBE_SPEC.name
    add(Row(w, f"{name}, K={k}: forward evaluations reported ({verdict})", counts["forward"], "",
            goal=f"<= 2K+1 = {2 * k + 1}", met=counts["forward"] <= 2 * k + 1))
    add(Row(w, f"{name}, K={k}: backward passes reported", counts["backward"], "",
            goal="<= 1", met=counts["backward"] <= 1))

    def run(argv):
        return lambda: subprocess.run(argv, capture_output=True, check=False)

    times = interleaved({"entries": run(command), "probes": run(probes)}, repeats)
    add(Row(w, f"gradcli check {name} (every entry, ridders)", times.med("entries"),
            ratio=1.0, vs="entries", runs=times.get("entries", []), text=times.note("entries")))
    goal_row(w, f"gradcli check {name} --mode probes --probes {k}", times.med("probes"),
             times.med("entries"), "entries", runs=times.get("probes", []),
             text=times.note("probes"))


# ---------------------------------------------------------------------------------------------


def profile_report(profiles: list, top: int = 5) -> str:
    out = []
    for title, fn, setup in profiles:
        if setup is None:
            fn()  # warm
        args = () if setup is None else (setup(),)
        profiler = cProfile.Profile()
        profiler.enable()
        fn(*args)
        profiler.disable()
        for order in ("cumulative", "tottime"):
            stream = io.StringIO()
            stats = pstats.Stats(profiler, stream=stream)
            # (not the benchmark's own functions, which call gradcli's)
            stats.sort_stats(order).print_stats(r"^(?!.*bench[/\\]run\.py)", top)
            lines = [line for line in stream.getvalue().splitlines() if line.strip()]
            start = next(k for k, line in enumerate(lines) if "ncalls" in line)
            out.append(f"## {title}: top {top} by {order}")
            out += lines[start:start + top + 1]
            out.append("")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="fewer repetitions and smaller sizes (under a minute)")
    parser.add_argument("--json", metavar="FILE", help="save every number to FILE")
    parser.add_argument("--profile", action="store_true",
                        help="print cProfile's top functions of gradcli in workloads 2 and 3")
    args = parser.parse_args(argv)
    if args.quick:
        cold_runs, n_points, repeats, sizes, cheap_points = 3, 10**5, 3, (10**3, 10**4), 100
    else:
        cold_runs, n_points, repeats, sizes, cheap_points = 11, 10**6, 7, (10**4, 10**5), 1000
    started = time.perf_counter()
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    cold_start(cold_runs)
    settle()
    b = batch(n_points, repeats, args.profile)
    settle()
    lg = large(sizes, 100, max(3, repeats - 2), args.profile)
    settle()
    cheap(b["evaluation"], lg["expr"], cheap_points, repeats)
    settle()
    probe_mode(8, max(3, repeats // 2))
    info = machine()
    print(table())
    print()
    print(f"machine: nproc {info['nproc']}, Python {info['python']}, numpy {info['numpy']}, "
          f"{info['machine']}; gradcli {info['gradcli']}, autograd {info['autograd']}, "
          f"SymPy {info['sympy']}, PyTorch {info['torch']}, JAX {info['jax']}; "
          f"{'--quick, ' if args.quick else ''}{time.perf_counter() - started:.0f} s")
    if args.profile:
        print()
        print(profile_report(b["profiles"] + lg["profiles"]))
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"machine": info, "quick": args.quick, "rows": [asdict(row) for row in ROWS]},
            indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
