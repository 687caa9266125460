"""Engine benchmark: 1M customers, 3 companies, small-world mean degree 10, 365 days.

Prints network build time, customer-days per second, peak memory per
customer, time per stage, and, for scale, Mesa's own ``virus_on_network``
example (one Python object per agent) as agent-steps per second, with the
ratio. Targets (issue 2): >= 20M customer-days/s on one core, network build
<= 10 s, <= 300 bytes per customer.

Run by hand:  python benchmarks/bench_engine.py [--customers N] [--days D] [--virus-nodes M]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time

# One core: keep any threaded library from using the second one.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402

import cxsim  # noqa: E402
from cxsim import Market  # noqa: E402


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def bench_cxsim(customers: int, days: int) -> dict[str, float]:
    base_rss = peak_rss_bytes()
    start = time.perf_counter()
    model = Market(
        seed=1,
        **{
            "market.customers": customers,
            "market.days": days,
            "network.kind": "small_world",
            "network.mean_degree": 10,
            "companies": [
                {"name": "managing", "policy": "manage"},
                {"name": "fixing", "policy": "fix"},
                {"name": "mixed", "policy": {"preset": "fix", "refund_rule": "policy"}},
            ],
        },
    )
    built = time.perf_counter()
    model.run()
    done = time.perf_counter()
    held = model.customers.nbytes() + model.network.nbytes()
    return {
        "network_build_s": model.network_build_seconds,
        "setup_s": built - start,
        "run_s": done - built,
        "customer_days_per_s": customers * days / (done - built),
        "peak_bytes_per_customer": (peak_rss_bytes() - base_rss) / customers,
        "held_bytes_per_customer": held / customers,
        "stages": dict(model.stage_seconds),
        "final_customers": model.results_frame().query("day == @days")["customers"].tolist(),
    }


def bench_mesa_virus(nodes: int, steps: int) -> dict[str, float]:
    from mesa.examples.basic.virus_on_network.model import VirusOnNetwork

    start = time.perf_counter()
    model = VirusOnNetwork(
        num_nodes=nodes, avg_node_degree=10, initial_outbreak_size=max(1, nodes // 100), seed=1
    )
    built = time.perf_counter()
    for _ in range(steps):
        model.step()
    done = time.perf_counter()
    return {
        "build_s": built - start,
        "run_s": done - built,
        "agent_steps_per_s": nodes * steps / (done - built),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--virus-nodes", type=int, default=5_000)
    parser.add_argument("--virus-steps", type=int, default=50)
    args = parser.parse_args()

    print(
        f"cxsim {cxsim.__version__}, Python {platform.python_version()}, NumPy {np.__version__}, "
        f"{platform.machine()} {os.cpu_count()} cores"
    )
    c = bench_cxsim(args.customers, args.days)
    print(
        f"\ncxsim: {args.customers:,} customers x {args.days} days, 3 companies, small world k=10"
    )
    print(f"  network build        {c['network_build_s']:8.2f} s      (target <= 10 s)")
    print(f"  model set-up total   {c['setup_s']:8.2f} s")
    print(f"  run                  {c['run_s']:8.2f} s")
    print(f"  customer-days / s    {c['customer_days_per_s'] / 1e6:8.1f} M    (target >= 20 M)")
    print(
        f"  peak memory          {c['peak_bytes_per_customer']:8.0f} B/customer (target <= 300; RSS growth)"
    )
    print(f"  held in arrays       {c['held_bytes_per_customer']:8.0f} B/customer")
    print("  seconds per stage    " + ", ".join(f"{k} {v:.2f}" for k, v in c["stages"].items()))
    print(f"  customers at the end {c['final_customers']}")

    v = bench_mesa_virus(args.virus_nodes, args.virus_steps)
    print(f"\nMesa virus_on_network: {args.virus_nodes:,} agents x {args.virus_steps} steps")
    print(f"  build                {v['build_s']:8.2f} s")
    print(f"  agent-steps / s      {v['agent_steps_per_s'] / 1e3:8.1f} k")
    print(
        f"\nratio cxsim customer-days/s : Mesa agent-steps/s = {c['customer_days_per_s'] / v['agent_steps_per_s']:,.0f} : 1"
    )


if __name__ == "__main__":
    main()
