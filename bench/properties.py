"""The property-based tests of tests/test_properties.py, with many more examples.

    python bench/properties.py --examples 2000 [--seed 0] [--only gradient] [--known]

For each property: how many examples ran, how many of them `assume` skipped (the reference was
not sure: ill-conditioned, not finite), and how many failed. The strategies and the checks are
those of the tests (imported from tests/test_properties.py, written once); only the number of
examples and the seed differ. A failing property is then run again as a normal Hypothesis test,
which shrinks the failure to its smallest example and prints it.

Known bugs (each with an xfail test in tests/test_properties.py) are left out of the examples
as in the tests; `--known` lets them in, to see that they still fail.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis.errors import UnsatisfiedAssumption

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import test_properties as properties  # noqa: E402 - after the path is set


def shorten(text: str, width: int = 400) -> str:
    return text if len(text) <= width else text[:width] + " …"


def options(examples: int) -> settings:
    # a long run may find examples slow or mostly skipped: report those, do not stop for them
    return settings(max_examples=examples, deadline=None, database=None, derandomize=False,
                    suppress_health_check=list(HealthCheck), report_multiple_bugs=False)


def count(strategy, check, examples: int, run_seed: int) -> tuple[Counter, list[str]]:
    """Run the property on `examples` examples; failures are counted and kept, not raised, so
    that every example runs."""
    counts: Counter = Counter()
    failures: list[str] = []

    @seed(run_seed)
    @options(examples)
    @given(strategy)
    def run(args):
        counts["ran"] += 1
        try:
            check(*args)
        except UnsatisfiedAssumption:
            counts["skipped"] += 1
            raise
        except Exception as error:  # noqa: BLE001 - a failure of any kind is counted
            counts["failed"] += 1
            if len(failures) < 3:
                failures.append(f"{shorten(repr(args))}: {type(error).__name__}: "
                                f"{shorten(str(error))}")

    run()
    return counts, failures


def shrink(strategy, check, examples: int, run_seed: int) -> str:
    """The smallest failing example Hypothesis finds, as it reports it."""

    @seed(run_seed)
    @options(examples)
    @given(strategy)
    def run(args):
        check(*args)

    try:
        run()
    except Exception as error:  # noqa: BLE001 - the failure is what we want to show
        notes = "\n    ".join(getattr(error, "__notes__", []))
        return f"{type(error).__name__}: {str(error)[:500]}\n    {notes}"
    return "(not reproduced while shrinking)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000, help="examples per property")
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis's seed")
    parser.add_argument("--only", default="", help="run the properties whose name has this")
    parser.add_argument("--known", action="store_true",
                        help="let in the known bugs the tests leave out")
    parser.add_argument("--no-shrink", action="store_true", help="count failures only")
    args = parser.parse_args()
    properties.SKIP_KNOWN_BUGS = not args.known

    failed = False
    print(f"{'property':40} {'ran':>6} {'skipped':>8} {'failed':>7} {'seconds':>8}")
    for name, (strategy, check) in properties.PROPERTY_CHECKS.items():
        if args.only not in name:
            continue
        start = time.perf_counter()
        counts, failures = count(strategy, check, args.examples, args.seed)
        seconds = time.perf_counter() - start
        print(f"{name:40} {counts['ran']:6} {counts['skipped']:8} {counts['failed']:7} "
              f"{seconds:8.1f}", flush=True)
        for failure in failures:
            print(f"  failure: {failure}")
        if failures:
            failed = True
            if not args.no_shrink:
                print("  smallest: " + shrink(strategy, check, args.examples, args.seed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
