"""Profile one market per size: CPU time per stage and the functions that take it (cProfile).

The market is the engine benchmark's (3 companies, small world k = 10). Per
size it prints the seconds per stage (the engine's own timers, run without
the profiler) and cProfile's top functions by their own time, and NumPy calls
per simulated day, which is what a small market's fixed cost is made of.

Run by hand:  python benchmarks/profile_engine.py [--sizes 2000 10000 1000000] [--days 365] [--top 25]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

from bench_engine import market_settings  # noqa: E402

from cxsim import Market  # noqa: E402


def profile(customers: int, days: int, top: int) -> None:
    model = Market(seed=1, **market_settings(customers, days))
    model.run(days=5)  # warm up: compile caches, first-call imports
    model.stage_seconds.clear()  # the stages' times of the days measured, not of loading kernels
    start = time.process_time()
    model.run()
    cpu = time.process_time() - start
    ran = days - 5
    print(
        f"\n== {customers:,} customers x {ran} days: {cpu:.3f} CPU-s, {cpu / ran * 1e3:.3f} ms/day"
    )
    total = sum(model.stage_seconds.values())
    for name, seconds in sorted(model.stage_seconds.items(), key=lambda kv: -kv[1]):
        print(f"  {name:14s} {seconds / ran * 1e3:7.3f} ms/day  {100 * seconds / total:5.1f}%")

    model = Market(seed=1, **market_settings(customers, days))
    model.run(days=5)
    profiler = cProfile.Profile()
    profiler.enable()
    model.run()
    profiler.disable()
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    calls = sum(row[1] for row in stats.stats.values())  # type: ignore[attr-defined]
    print(f"  function calls per day (profiled): {calls / ran:,.0f}")
    stats.sort_stats("tottime").print_stats(top)
    print("\n".join(stream.getvalue().splitlines()[6:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2_000, 10_000, 1_000_000])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    for size in args.sizes:
        profile(size, args.days, args.top)


if __name__ == "__main__":
    main()
