"""Sweep benchmark: throughput, 1 -> 2 worker speed-up, and the sweep layer's per-run overhead.

Targets (issue: parameter sweeps): 1,000 runs of 10,000 customers x 365 days in
<= 5 minutes on a 2-core machine, and >= 1.8x speed-up from 1 to 2 workers.

Figures printed:

* overhead of the sweep layer per run: a sweep of tiny runs (300 customers x 30
  days) on 1 worker minus the same runs called directly in this process;
* wall time of ``--scaling-runs`` target-sized runs on 1 and on 2 workers, the
  speed-up, and the time projected for ``--runs`` runs on 2 workers;
* with ``--full``, the wall time of the whole ``--runs`` sweep on 2 workers;
* the load average before and after, and the CPU share the sweep actually got
  (CPU seconds of this process and its workers / (wall seconds x workers)): below
  about 0.9 other processes were sharing the cores, wall times are pessimistic and
  the speed-up is not measured; the CPU-based figures still hold.

Run by hand:  python benchmarks/bench_sweep.py [--runs 1000] [--scaling-runs 20] [--full]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

# One thread per worker process: keep threaded libraries off the other core.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

from cxsim import Market  # noqa: E402
from cxsim.params import resolve  # noqa: E402
from cxsim.sweeps import plan_from_dict, sweep  # noqa: E402
from cxsim.sweeps.plan import SweepPlan  # noqa: E402


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def cpu_times() -> tuple[float, float]:
    """CPU seconds of this process, and of its finished (reaped) child processes."""
    t = os.times()
    return t.user + t.system, t.children_user + t.children_system


def make_plan(runs: int, customers: int, days: int) -> SweepPlan:
    """A manage-vs-fix plan of ``runs`` runs: 2 points x runs/2 replications."""
    return plan_from_dict(
        {
            "name": f"bench_{customers}x{days}",
            "base": {
                "market": {"customers": customers, "days": days},
                "companies": [
                    {"name": "managing", "policy": "manage"},
                    {"name": "fixing", "policy": "fix"},
                ],
            },
            "replications": max(1, runs // 2),
            "seed": 1,
            "factors": {"companies.0.policy.callback_kept": [0.3, 0.9]},
        }
    )


def timed_sweep(plan: SweepPlan, workers: int, root: Path, label: str) -> dict[str, float]:
    """Wall time, parent CPU and worker CPU of a sweep of ``plan`` on ``workers`` processes."""
    out = root / f"{label}_{workers}w"
    (parent0, children0), wall0 = cpu_times(), time.perf_counter()
    outcome = sweep(plan, out, workers=workers, progress=False)
    wall = time.perf_counter() - wall0
    parent1, children1 = cpu_times()  # the pool is shut down and its workers reaped by now
    if outcome.ran != len(plan.runs()) or outcome.failed:
        raise RuntimeError(f"benchmark sweep did not run cleanly: {outcome}")
    parent, workers_cpu = parent1 - parent0, children1 - children0
    return {
        "wall": wall,
        "parent_cpu": parent,
        "worker_cpu": workers_cpu,
        # Share of the cores the sweep got: about 1 when it had them to itself.
        "cpu_share": (parent + workers_cpu) / (wall * workers),
        "runs": outcome.ran,
    }


def direct_runs(plan: SweepPlan) -> tuple[float, float]:
    """Wall and CPU seconds of calling the model directly for every run of ``plan`` here."""
    cpu0, wall0 = cpu_times()[0], time.perf_counter()
    for run in plan.runs():
        params = resolve(plan.base, {**run.values, "market.seed": run.seed})
        Market(params).run().summary()
    return time.perf_counter() - wall0, cpu_times()[0] - cpu0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1000, help="runs of the target sweep")
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument(
        "--scaling-runs", type=int, default=20, help="runs timed on 1 and 2 workers"
    )
    parser.add_argument(
        "--tiny-runs", type=int, default=200, help="tiny runs for the overhead figure"
    )
    parser.add_argument(
        "--full", action="store_true", help="also run the whole --runs sweep on 2 workers"
    )
    args = parser.parse_args(argv)

    print(
        f"cxsim sweep benchmark: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    )
    print(f"load average before: {loadavg()}")
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
        root = Path(tmp)

        tiny = make_plan(args.tiny_runs, 300, 30)
        direct_runs(make_plan(4, 300, 30))  # warm up imports and caches
        direct_wall, direct_cpu = direct_runs(tiny)
        swept = timed_sweep(tiny, 1, root, "tiny")
        n_tiny = len(tiny.runs())
        ms = 1e3 / n_tiny
        print(
            f"overhead, {n_tiny} tiny runs (300 customers x 30 days): direct {direct_wall:.2f} s wall, "
            f"{direct_cpu * ms:.1f} ms CPU/run; sweep on 1 worker {swept['wall']:.2f} s wall "
            f"(CPU share {swept['cpu_share']:.2f})"
        )
        print(
            f"  sweep layer per run: parent {swept['parent_cpu'] * ms:.1f} ms CPU (submit, collect, "
            f"Parquet parts, fsync), worker {(swept['worker_cpu'] - direct_cpu) * ms:+.1f} ms CPU "
            f"beyond the direct call; wall {(swept['wall'] - direct_wall) * ms:+.1f} ms/run "
            "(includes starting the pool)"
        )

        scaling = make_plan(args.scaling_runs, args.customers, args.days)
        n = len(scaling.runs())
        one = timed_sweep(scaling, 1, root, "scaling")
        two = timed_sweep(scaling, 2, root, "scaling")
        speedup = one["wall"] / two["wall"]
        cpu_per_run = (two["parent_cpu"] + two["worker_cpu"]) / n
        print(
            f"scaling, {n} runs of {args.customers:,} customers x {args.days} days: "
            f"1 worker {one['wall']:.1f} s wall (CPU share {one['cpu_share']:.2f}), "
            f"2 workers {two['wall']:.1f} s wall (CPU share {two['cpu_share']:.2f}); "
            f"{cpu_per_run:.2f} CPU s/run"
        )
        print(
            f"  speed-up 1 -> 2 workers: {speedup:.2f}x measured (target >= 1.8x; "
            "meaningful only when both CPU shares are near 1)"
        )
        measured = two["wall"] / n * args.runs
        ideal = cpu_per_run * args.runs / 2
        print(
            f"  {args.runs} runs on 2 workers: {measured / 60:.1f} min at the measured rate; "
            f"{ideal / 60:.1f} min with both cores free (CPU per run / 2) (target <= 5 min)"
        )
        if args.full:
            full = timed_sweep(make_plan(args.runs, args.customers, args.days), 2, root, "full")
            print(
                f"full sweep: {full['runs']:.0f} runs on 2 workers in {full['wall']:.0f} s = "
                f"{full['wall'] / 60:.1f} min (CPU share {full['cpu_share']:.2f})"
            )
    print(f"load average after: {loadavg()}")


if __name__ == "__main__":
    main()
