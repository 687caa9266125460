"""Parameter sweeps: many runs over a design of parameter values, locally or on a Dask cluster.

A sweep plan (TOML, see :mod:`cxsim.sweeps.plan`) names a base scenario, the
factors to vary (dotted keys of the scenario schema), a design
(``full_factorial``, ``latin_hypercube``, ``sobol``), replications with seeds
spawned from one root seed, and the metrics to keep. :func:`sweep` runs it on
local processes, or on any ``concurrent.futures.Executor`` such as a Dask
client's, streaming results into a folder that survives kill -9 and resumes;
:func:`analyze` summarises the folder::

    import cxsim.sweeps as sweeps

    sweeps.sweep("experiments/example_sweep.toml", "sweeps/levers", workers=4)
    sweeps.analyze("sweeps/levers")          # summary.csv, sweep_report.html

    from cxsim.sweeps import cluster
    with cluster.connect("tcp://scheduler:8786") as client:  # a distributed.Client, or one line why not
        sweeps.sweep("experiments/example_sobol.toml", "sweeps/sobol", executor=client.get_executor())
"""

from __future__ import annotations

import os
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxsim.lazy import lazy_names

if TYPE_CHECKING:
    from cxsim.sweeps.analyze import SweepResults, load_daily, load_results
    from cxsim.sweeps.execute import SweepOutcome, run_sweep
    from cxsim.sweeps.limits import DEFAULT_MAX_RUNS
    from cxsim.sweeps.outputs import Analysis, analyze
    from cxsim.sweeps.plan import (
        PlanError,
        SweepPlan,
        load_plan,
        plan_from_dict,
        plan_from_text,
    )
    from cxsim.sweeps.store import SweepFolderBusyError, UnreadablePartWarning

#: Public name -> the module that defines it (imported on first use: ``cxsim sweep --help``
#: and ``import cxsim.sweeps.cli`` stay fast).
_LAZY = {
    "SweepResults": "cxsim.sweeps.analyze",
    "load_daily": "cxsim.sweeps.analyze",
    "load_results": "cxsim.sweeps.analyze",
    "SweepOutcome": "cxsim.sweeps.execute",
    "run_sweep": "cxsim.sweeps.execute",
    "Analysis": "cxsim.sweeps.outputs",
    "analyze": "cxsim.sweeps.outputs",
    "PlanError": "cxsim.sweeps.plan",
    "SweepPlan": "cxsim.sweeps.plan",
    "load_plan": "cxsim.sweeps.plan",
    "plan_from_dict": "cxsim.sweeps.plan",
    "plan_from_text": "cxsim.sweeps.plan",
    "DEFAULT_MAX_RUNS": "cxsim.sweeps.limits",
    "SweepFolderBusyError": "cxsim.sweeps.store",
    "UnreadablePartWarning": "cxsim.sweeps.store",
}

__all__ = [
    "DEFAULT_MAX_RUNS",
    "Analysis",
    "PlanError",
    "SweepFolderBusyError",
    "SweepOutcome",
    "SweepPlan",
    "SweepResults",
    "UnreadablePartWarning",
    "analyze",
    "load_daily",
    "load_plan",
    "load_results",
    "plan_from_dict",
    "plan_from_text",
    "run_sweep",
    "sweep",
]


__getattr__, __dir__ = lazy_names("cxsim.sweeps", _LAZY, globals())


def sweep(
    plan: SweepPlan | str | os.PathLike[str] | dict[str, Any],
    out_dir: str | os.PathLike[str],
    executor: Executor | None = None,
    workers: int | None = None,
    progress: bool = True,
    max_runs: int | None = None,
    **options: Any,
) -> SweepOutcome:
    """Run a sweep (or resume it): every run of ``plan`` not yet recorded in ``out_dir``.

    Args:
        plan: a plan file's path, a checked :class:`SweepPlan`, or a dict of the plan's tables
            (a relative ``base`` path is then resolved against the current folder).
        out_dir: the results folder (created; resumed if it holds the same plan).
        executor: any ``concurrent.futures.Executor`` (e.g. ``dask.distributed.Client(...)
            .get_executor()``); default: local processes, shut down at the end.
        workers: local processes when no executor is given (default ``os.cpu_count()``).
        progress: show a progress bar on stderr (runs done, failed, time left).
        max_runs: most runs a plan given as a path or dict may have (default
            :data:`cxsim.sweeps.plan.DEFAULT_MAX_RUNS`).
        **options: passed to :func:`cxsim.sweeps.execute.run_sweep` (``retry_failed``,
            ``flush_seconds``, ``max_batch``, ``max_in_flight``).

    Returns:
        What was planned, skipped, run and failed.

    Raises:
        PlanError: if the plan is invalid, has more than ``max_runs`` runs, or ``out_dir`` holds
            another plan's results.
        SweepFolderBusyError: if another sweep is writing to ``out_dir``.

    """
    from cxsim.sweeps.execute import run_sweep
    from cxsim.sweeps.limits import DEFAULT_MAX_RUNS
    from cxsim.sweeps.plan import SweepPlan, load_plan, plan_from_dict

    max_runs = DEFAULT_MAX_RUNS if max_runs is None else max_runs

    if isinstance(plan, dict):
        plan = plan_from_dict(plan, max_runs=max_runs)
    elif not isinstance(plan, SweepPlan):
        plan = load_plan(Path(plan), max_runs=max_runs)
    return run_sweep(
        plan, out_dir, executor=executor, workers=workers, progress=progress, **options
    )
