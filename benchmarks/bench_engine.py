"""Engine benchmark: small markets' cost per simulated day, and a big market's throughput.

The market: 3 companies (manage, fix, fix with refunds by policy), small-world
network of mean degree 10. Figures (issue 14's targets in brackets):

* CPU seconds to run ``--sizes`` customers x ``--days`` days, the best of
  ``--repeats`` (2,000 x 365 <= 0.05 s; 10,000 x 365 <= 0.1 s), and the fixed
  cost per simulated day: the intercept of a least-squares line of run CPU time
  against market size, divided by the days (<= 0.1 ms);
* ``--large`` customers x ``--days`` days: network build, run, customer-days per
  CPU second on one core (>= 100 M), peak memory per customer;
* for scale, Mesa's own ``virus_on_network`` example (one Python object per
  agent) in agent-steps per second (``--virus-nodes 0`` skips it).

With ``--compare-to COMMIT`` the same figures are measured for that commit's
engine (its ``src/`` checked out into a temporary folder with ``git archive``)
and for this working tree's, in the same run: every measurement is a fresh
process, the two engines alternate, and the load average is printed before and
after (the machine is shared; only the side-by-side comparison is meaningful).

Run by hand:
    python benchmarks/bench_engine.py [--compare-to COMMIT] [--sizes 1000 2000 5000 10000 20000]
        [--days 365] [--repeats 3] [--large 1000000] [--virus-nodes 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

# One core: keep any threaded library from using the second one.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def market_settings(customers: int, days: int) -> dict[str, Any]:
    """The benchmark market's parameters (dotted keys)."""
    return {
        "market.customers": customers,
        "market.days": days,
        "network.kind": "small_world",
        "network.mean_degree": 10,
        "companies": [
            {"name": "managing", "policy": "manage"},
            {"name": "fixing", "policy": "fix"},
            {"name": "mixed", "policy": {"preset": "fix", "refund_rule": "policy"}},
        ],
    }


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# --------------------------------------------------------------------------- measuring (in a worker)


def make_market(settings: dict[str, Any]) -> Any:
    """A market of seed 1 (an engine older than ``Market(seed=...)`` takes ``market.seed``)."""
    from cxsim import Market

    try:
        return Market(seed=1, **settings)
    except Exception:  # an older engine refuses the keyword
        return Market(**{"market.seed": 1, **settings})


def measure_small(sizes: list[int], days: int) -> dict[str, Any]:
    """Set-up and run CPU seconds of one market per size (after a warm-up run)."""
    make_market(market_settings(500, 10)).run()  # imports, compiled-kernel caches
    out: dict[str, Any] = {}
    for size in sizes:
        start = time.process_time()
        model = make_market(market_settings(size, days))
        built = time.process_time()
        model.run()
        done = time.process_time()
        out[str(size)] = {"setup_cpu": built - start, "run_cpu": done - built}
    return out


def measure_large(customers: int, days: int) -> dict[str, Any]:
    """One big market: build, run, throughput, memory."""
    make_market(market_settings(500, 10)).run()
    base_rss = peak_rss_bytes()
    start, start_cpu = time.perf_counter(), time.process_time()
    model = make_market(market_settings(customers, days))
    built, setup_cpu = time.perf_counter(), time.process_time() - start_cpu
    cpu = time.process_time()
    model.run()
    cpu = time.process_time() - cpu
    done = time.perf_counter()
    held = model.customers.nbytes() + model.network.nbytes()
    return {
        "network_build_s": model.network_build_seconds,
        "setup_s": built - start,
        "setup_cpu": setup_cpu,
        "run_s": done - built,
        "run_cpu": cpu,
        "customer_days_per_cpu_s": customers * days / cpu,
        "peak_bytes_per_customer": (peak_rss_bytes() - base_rss) / customers,
        "whole_peak_bytes": peak_rss_bytes(),
        "held_bytes_per_customer": held / customers,
        "stages": dict(model.stage_seconds),
        "final_customers": model.results_frame().query("day == @days")["customers"].tolist(),
    }


def worker(task: dict[str, Any]) -> None:
    """Measure in this process (started with the engine under test first on the path)."""
    import cxsim

    if task["kind"] == "small":
        result = measure_small(task["sizes"], task["days"])
    else:
        result = measure_large(task["customers"], task["days"])
    result["engine"] = str(Path(cxsim.__file__).resolve().parent)
    print(json.dumps(result))


def run_worker(src: Path, task: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in a fresh process that imports cxsim from ``src``."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(task)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        raise SystemExit(f"measurement failed ({src}):\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if not Path(result["engine"]).is_relative_to(src.resolve()):
        raise SystemExit(f"measured the wrong engine: {result['engine']} is not under {src}")
    return result


# --------------------------------------------------------------------------- the engines compared


def checkout(commit: str, into: Path) -> Path:
    """``src/`` of ``commit``, written under ``into`` (``git archive``); returns that ``src``."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", commit, "src"],
        capture_output=True,
        check=True,
    ).stdout
    tar = into / "src.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as t:
        t.extractall(into, filter="data")
    return into / "src"


def describe_head() -> str:
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "src"], capture_output=True, text=True
    ).stdout.strip()
    return f"{head}{' + uncommitted changes' if dirty else ''}"


def engines_compared(compare_to: str | None, into: Path) -> dict[str, Path]:
    """The ``src`` folders to measure, by name: ``compare_to``'s (checked out under ``into``) and this one's."""
    engines: dict[str, Path] = {}
    if compare_to:
        engines[f"old {compare_to}"] = checkout(compare_to, into)
    engines[f"new {describe_head()}"] = REPO / "src"
    return engines


def fixed_cost(best: dict[int, float], days: int) -> tuple[float, float]:
    """Least-squares fit of run CPU against size: (ms per day, ns per customer-day)."""
    sizes = np.array(sorted(best), dtype=float)
    cpu = np.array([best[int(s)] for s in sizes])
    slope, intercept = np.polyfit(sizes, cpu, 1)
    return intercept / days * 1e3, slope / days * 1e9


def compare(engines: dict[str, Path], args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Every figure for every engine, measurements alternating between engines."""
    names = list(engines)
    found: dict[str, dict[str, Any]] = {n: {"small": [], "large": None} for n in names}
    task = {"kind": "small", "sizes": args.sizes, "days": args.days}
    for repeat in range(args.repeats):
        order = names if repeat % 2 == 0 else names[::-1]
        for name in order:
            found[name]["small"].append(run_worker(engines[name], task))
            print(f"  measured {name}, repeat {repeat + 1}; load {loadavg()}", flush=True)
    if args.large:
        for name in names:
            large = {"kind": "large", "customers": args.large, "days": args.days}
            found[name]["large"] = run_worker(engines[name], large)
            print(f"  measured {name}, {args.large:,} customers; load {loadavg()}", flush=True)
    return found


def report(found: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    names = list(found)
    rows: list[tuple[str, list[str], str]] = []
    best = {
        n: {s: min(r[str(s)]["run_cpu"] for r in found[n]["small"]) for s in args.sizes}
        for n in names
    }
    fits = {n: fixed_cost(best[n], args.days) for n in names}
    rows.append(
        ("fixed cost per simulated day (fit)", [f"{fits[n][0]:.3f} ms" for n in names], "<= 0.1 ms")
    )
    rows.append(("cost per customer-day (fit)", [f"{fits[n][1]:.1f} ns" for n in names], ""))
    targets = {2000: "<= 0.05", 10000: "<= 0.1"}
    for size in args.sizes:
        rows.append(
            (
                f"{size:,} x {args.days} run, CPU-s (best of {args.repeats})",
                [f"{best[n][size]:.3f}" for n in names],
                targets.get(size, ""),
            )
        )
    for size in (s for s in (2000, 10000) if s in args.sizes):
        setup = [min(r[str(size)]["setup_cpu"] for r in found[n]["small"]) for n in names]
        rows.append((f"{size:,} set-up (network, state), CPU-s", [f"{s:.3f}" for s in setup], ""))
    if args.large:
        large = [found[n]["large"] for n in names]
        rows += [
            (
                f"{args.large:,} x {args.days}: customer-days per CPU-s",
                [f"{g['customer_days_per_cpu_s'] / 1e6:.1f} M" for g in large],
                ">= 100 M",
            ),
            (
                f"{args.large:,}: network build",
                [f"{g['network_build_s']:.2f} s" for g in large],
                "",
            ),
            (f"{args.large:,}: run (wall)", [f"{g['run_s']:.2f} s" for g in large], ""),
            (
                f"{args.large:,}: peak memory (RSS growth)",
                [f"{g['peak_bytes_per_customer']:.0f} B/customer" for g in large],
                "",
            ),
        ]
    print("\n| figure | " + " | ".join(names) + " | target |")
    print("|---|" + "---|" * len(names) + "---|")
    for label, values, target in rows:
        print(f"| {label} | " + " | ".join(values) + f" | {target} |")
    if args.large:
        for name in names:
            stages = found[name]["large"]["stages"]
            print(
                f"\n{name}, {args.large:,} customers, seconds per stage: "
                + ", ".join(f"{k} {v:.2f}" for k, v in stages.items())
            )
            print(f"  customers at the end {found[name]['large']['final_customers']}")


# --------------------------------------------------------------------------- Mesa, for scale


def bench_mesa_virus(nodes: int, steps: int) -> None:
    from mesa.examples.basic.virus_on_network.model import VirusOnNetwork

    start = time.perf_counter()
    model = VirusOnNetwork(
        num_nodes=nodes, avg_node_degree=10, initial_outbreak_size=max(1, nodes // 100), seed=1
    )
    built = time.perf_counter()
    for _ in range(steps):
        model.step()
    done = time.perf_counter()
    print(f"\nMesa virus_on_network: {nodes:,} agents x {steps} steps")
    print(f"  build                {built - start:8.2f} s")
    print(f"  agent-steps / s      {nodes * steps / (done - built) / 1e3:8.1f} k")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare-to", metavar="COMMIT", help="also measure this commit's engine")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 5000, 10000, 20000])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--large", type=int, default=1_000_000, help="0 skips the big market")
    parser.add_argument("--virus-nodes", type=int, default=5_000, help="0 skips Mesa's example")
    parser.add_argument("--virus-steps", type=int, default=50)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return

    print(
        f"Python {platform.python_version()}, NumPy {np.__version__}, "
        f"{platform.machine()} {os.cpu_count()} cores; load average {loadavg()} (before)"
    )
    with tempfile.TemporaryDirectory(prefix="cxsim-bench-") as tmp:
        found = compare(engines_compared(args.compare_to, Path(tmp)), args)
    print(f"\nload average {loadavg()} (after)")
    print(f"{len(args.sizes)} sizes x {args.days} days, 3 companies, small world k=10, one core")
    report(found, args)
    if args.virus_nodes:
        bench_mesa_virus(args.virus_nodes, args.virus_steps)


if __name__ == "__main__":
    main()
