"""Big markets: network build time, run time, throughput and peak memory per customer.

Issue 14's row "10M customers x 365 days": network build <= 10 s and near-linear
in size, peak memory <= 150 B/customer, runs on a 24 GiB machine. For each of
``--sizes`` (default 1M and 10M customers) the engine benchmark's market
(:mod:`bench_engine`: 3 companies, small world k = 10) is built and run for
``--days`` days in a fresh process, one engine after the other, by
``bench_engine``'s own worker and ``--compare-to`` checkout (``git archive`` of
the old commit's ``src/`` into a temporary folder). Printed per engine and size:
network build (wall), set-up CPU seconds (the network, most of it, and the
customers' state), run (wall), customer-days per CPU second, the peak
resident memory's growth over the process after a warm-up market (per
customer), the process's whole peak (per customer), and the load average
before and after each measurement (the machine is shared: only the side-by-side
figures are comparable). A warm-up market of 100,000 customers per engine
first fills numba's on-disk cache. Engines from before issue 14's fifth round order the rows of
networks beyond 2**23 customers differently, so their 10M results differ.

Run by hand:
    python benchmarks/bench_memory.py [--compare-to COMMIT] [--sizes 1000000 10000000]
        [--days 365]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_engine  # the worker, the checkout and the load average


def measure(engines: dict[str, Path], sizes: list[int], days: int) -> dict[tuple[str, int], Any]:
    """Every size for every engine, each in a fresh process; smaller sizes first."""
    found: dict[tuple[str, int], Any] = {}
    for src in engines.values():  # fills numba's on-disk caches of the network kernels
        bench_engine.run_worker(src, {"kind": "large", "customers": 100_000, "days": 2})
    for size in sizes:
        for name, src in engines.items():
            before = bench_engine.loadavg()
            task = {"kind": "large", "customers": size, "days": days}
            found[name, size] = bench_engine.run_worker(src, task)
            found[name, size]["load"] = f"{before} -> {bench_engine.loadavg()}"
            print(
                f"  measured {name}, {size:,} x {days}; load {found[name, size]['load']}",
                flush=True,
            )
    return found


def report(
    found: dict[tuple[str, int], Any], engines: list[str], sizes: list[int], days: int
) -> None:
    print(
        "\n| customers | engine | network build (wall) | set-up CPU-s | run (wall) "
        "| customer-days per CPU-s "
        "| peak growth per customer | whole peak per customer | load average |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for size in sizes:
        for name in engines:
            g = found[name, size]
            print(
                f"| {size:,} x {days} | {name} | {g['network_build_s']:.2f} s "
                f"| {g['setup_cpu']:.2f} | {g['run_s']:.1f} s "
                f"| {g['customer_days_per_cpu_s'] / 1e6:.1f} M | "
                f"{g['peak_bytes_per_customer']:.0f} B | {g['whole_peak_bytes'] / size:.0f} B "
                f"| {g['load']} |"
            )
    if len(sizes) > 1:
        small, big = sizes[0], sizes[-1]
        for name in engines:
            ratio = found[name, big]["network_build_s"] / found[name, small]["network_build_s"]
            print(
                f"\n{name}: the {big:,} build takes {ratio:.1f}x the {small:,} build "
                f"({big / small:.0f}x the people)"
            )
    for name in engines:
        for size in sizes:
            if found[name, size]["final_customers"] != found[engines[0], size]["final_customers"]:
                print(f"\nDIFFERENT RESULTS at {size:,}: {name} vs {engines[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare-to", metavar="COMMIT", help="also measure this commit's engine")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    print(
        f"Python {platform.python_version()}, {platform.machine()} {os.cpu_count()} cores; "
        f"load average {bench_engine.loadavg()} (before)"
    )
    with tempfile.TemporaryDirectory(prefix="cxsim-bench-") as tmp:
        engines = bench_engine.engines_compared(args.compare_to, Path(tmp))
        found = measure(engines, sorted(args.sizes), args.days)
    print(f"\nload average {bench_engine.loadavg()} (after)")
    print(f"{args.days} days, 3 companies, small world k=10, one core; the same results: ", end="")
    print(
        "yes"
        if all(
            found[n, s]["final_customers"] == found[next(iter(engines)), s]["final_customers"]
            for n in engines
            for s in args.sizes
        )
        else "NO"
    )
    report(found, list(engines), sorted(args.sizes), args.days)


if __name__ == "__main__":
    main()
