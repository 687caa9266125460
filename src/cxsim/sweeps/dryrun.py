"""``cxsim sweep --dry-run``: what a sweep would run and how long it would take, writing nothing.

The runs are counted from the plan's shape (:func:`cxsim.sweeps.plan.measure`,
the same count ``--max-runs`` is checked against), less those already recorded
in the results folder, if there is one. The time comes from a pilot: one run of
the plan's costliest point, in this process, exactly as a worker runs it
(:func:`cxsim.sweeps.execute.run_task`). Its CPU time calibrates the cost model
of :func:`cxsim.scenario.run_seconds` (days x (a + b x customers)) to this
machine, and that model weighs the points of a design whose market size varies.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cxsim import scenario
from cxsim.sweeps.execute import make_task, run_task
from cxsim.sweeps.plan import RunSpec, SweepPlan, make_run_id
from cxsim.sweeps.store import OK, SweepStore


@dataclass(frozen=True)
class DryRun:
    """What a sweep would do.

    Attributes:
        plan: the checked plan.
        recorded: planned runs already recorded in the results folder.
        to_run: runs a sweep would run now.
        pilot: the pilot run (its point and replication 0); ``None`` when nothing is to run.
        pilot_seconds: CPU seconds of the pilot run.
        pilot_error: why the pilot failed (``None``: it ran).
        cpu_seconds: estimated CPU seconds of the runs to run.
        workers: local worker processes (``None``: a cluster of unknown size).

    """

    plan: SweepPlan
    recorded: int
    to_run: int
    pilot: RunSpec | None
    pilot_seconds: float
    pilot_error: str | None
    cpu_seconds: float
    workers: int | None

    @property
    def wall_seconds(self) -> float | None:
        """Estimated wall time on the local workers (``None`` for a cluster)."""
        if self.workers is None:
            return None
        return self.cpu_seconds / max(1, min(self.workers, self.to_run))


def _cost(plan: SweepPlan, values: dict[str, Any]) -> float:
    """A point's run cost by the model (relative: only ratios between points are used)."""
    days = values.get("market.days", plan.base.market.days)
    customers = values.get("market.customers", plan.base.market.customers)
    return scenario.run_seconds(days, customers)


def dry_run(
    plan: SweepPlan,
    out_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    *,
    retry_failed: bool = False,
) -> DryRun:
    """Count the runs of ``plan`` still to run in ``out_dir`` and time one of them; write nothing.

    Args:
        plan: the checked plan.
        out_dir: the results folder, if any (checked as a sweep would check it).
        workers: local worker processes (``None``: a cluster).
        retry_failed: runs recorded as failed are to run again.

    Raises:
        PlanError: ``out_dir`` holds another plan's (or another engine's) results, or other things.

    """
    recorded_ids: set[str] = set()
    if out_dir is not None:
        store = SweepStore(out_dir)
        store.check(plan)
        if (Path(out_dir) / "plan.json").exists():
            recorded_ids = {
                run_id
                for run_id, status in store.recorded_runs().items()
                if status == OK or not retry_failed
            }
    costs = [_cost(plan, values) for values in plan.points]
    seed = plan.spec.seed
    recorded = cost_to_run = 0.0
    for point, values in enumerate(plan.points):
        for replication in range(plan.replications):
            if make_run_id(plan.plan_hash, point, values, replication, seed) in recorded_ids:
                recorded += 1
            else:
                cost_to_run += costs[point]
    to_run = len(plan.points) * plan.replications - int(recorded)
    if to_run == 0:
        return DryRun(plan, int(recorded), 0, None, 0.0, None, 0.0, workers)
    costliest = max(range(len(costs)), key=costs.__getitem__)
    values = plan.points[costliest]
    pilot = RunSpec(
        make_run_id(plan.plan_hash, costliest, values, 0, seed), costliest, 0, seed, values
    )
    start = time.process_time()
    outcome = run_task(make_task(plan, pilot, plan.base.model_dump(mode="json")))
    seconds = time.process_time() - start
    return DryRun(
        plan=plan,
        recorded=int(recorded),
        to_run=to_run,
        pilot=pilot,
        pilot_seconds=seconds,
        pilot_error=outcome.error,
        cpu_seconds=cost_to_run * seconds / costs[costliest],
        workers=workers,
    )
