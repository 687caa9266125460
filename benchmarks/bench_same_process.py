"""Two engines in one process, run in turns: small markets' CPU time, old commit against this tree.

On a shared machine a fresh process can run the same engine twice as fast as the next one
and stay so for its life, which makes a best-of-three across processes a lottery. Here
both engines are imported into one process (the old commit's ``src/cxsim`` checked out
under the name ``cxsim_before``) and run the benchmark market in alternating turns, so
each pair of runs shares whatever the machine gives that process. It prints each engine's
best and median CPU seconds, the median ratio of the pairs, and whether the two engines'
daily results are the same bytes.

Run by hand:
    python benchmarks/bench_same_process.py --compare-to COMMIT [--sizes 2000 10000] [--rounds 12]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")

from bench_engine import REPO, checkout, describe_head, loadavg, market_settings  # noqa: E402

OLD_NAME = "cxsim_before"


def rename_package(src: Path) -> Path:
    """Rename the checked-out ``cxsim`` package to :data:`OLD_NAME`, imports included."""
    package = src / OLD_NAME
    (src / "cxsim").rename(package)
    pattern = re.compile(r"\bcxsim(?=[.\s\"'])")
    for path in package.rglob("*.py"):
        text = path.read_text()
        lines = [
            pattern.sub(OLD_NAME, line)
            if line.lstrip().startswith(("from cxsim", "import cxsim")) or '"cxsim.' in line
            else line
            for line in text.splitlines(keepends=True)
        ]
        path.write_text("".join(lines))
    return package


def run_in_turns(engines: dict[str, type], size: int, rounds: int, days: int) -> None:
    """Run each engine ``rounds`` times at ``size`` people, alternating; print the figures."""
    times: dict[str, list[float]] = {name: [] for name in engines}
    results: dict[str, bytes] = {}
    for r in range(rounds):
        for name in list(engines) if r % 2 == 0 else list(engines)[::-1]:
            model = engines[name](seed=1, **market_settings(size, days))
            start = time.process_time()
            model.run()
            times[name].append(time.process_time() - start)
            results[name] = model.results.values.tobytes()
    old, new = times.values()
    ratios = [n / o for n, o in zip(new, old, strict=True)]
    print(f"\n{size:,} people x {days} days, {rounds} rounds; load {loadavg()}")
    for name, values in times.items():
        print(
            f"  {name:>22s}: best {min(values):.3f} CPU-s ({min(values) / days * 1e3:.3f} ms/day),"
            f" median {statistics.median(values):.3f}"
        )
    print(
        f"  new / old, per round: median {statistics.median(ratios):.3f}"
        f" (from {min(ratios):.3f} to {max(ratios):.3f})"
    )
    print(f"  same daily results: {len(set(results.values())) == 1}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare-to", required=True, metavar="COMMIT")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2_000, 10_000])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = checkout(args.compare_to, Path(tmp))
        rename_package(src)
        sys.path[:0] = [str(src), str(REPO / "src")]
        import cxsim_before  # type: ignore[import-not-found]

        import cxsim

        engines = {
            f"old {args.compare_to}": cxsim_before.Market,
            f"new {describe_head()}": cxsim.Market,
        }
        print(f"Python {sys.version.split()[0]}; load average {loadavg()} (before)")
        for market in engines.values():
            market(seed=1, **market_settings(500, 10)).run()  # imports, compiled-kernel caches
        for size in args.sizes:
            run_in_turns(engines, size, args.rounds, args.days)
        print(f"\nload average {loadavg()} (after)")


if __name__ == "__main__":
    main()
