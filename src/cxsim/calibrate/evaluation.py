"""Evaluating parameter values: the runs of a trial, run on any executor, and the objective.

The unit of work is a run: one (trial, variant, replication), that is
:func:`cxsim.run.run_market` of the variant's parameters at the trial's
values, replication r of the calibration's seed, with the observers its
targets need. A worker gets a :class:`RunTask` and returns a
:class:`RunResult`; runs go to any ``concurrent.futures.Executor``: local
processes (:func:`cxsim.processes.local_pool`) or a Dask client's executor. The
runs of one set of values make an :class:`Evaluation`, scored by
:func:`objective` (see :mod:`cxsim.calibrate.likelihood`).
"""

from __future__ import annotations

import math
import os
import socket
import time
import traceback
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cxsim.calibrate.measures import MEASUREMENTS
from cxsim.calibrate.spec import Calibration
from cxsim.params import ModelParams
from cxsim.processes import local_pool
from cxsim.run import run_market

#: Attempts of a run whose worker died under it before the run counts as failed.
MAX_ATTEMPTS = 3


# --------------------------------------------------------------------------- the worker's side


@dataclass(frozen=True)
class RunTask:
    """One run of a calibration: everything a worker needs (picklable, small)."""

    trial: int
    variant: int
    replication: int
    params: dict[str, Any]
    base_dir: str | None
    measurements: tuple[tuple[int, str, dict[str, Any]], ...]


@dataclass
class RunResult:
    """What a worker sends back: per target, one value per cell (and the cases behind shares)."""

    trial: int
    variant: int
    replication: int
    values: dict[int, list[float]] = field(default_factory=dict)
    sizes: dict[int, list[float] | None] = field(default_factory=dict)
    seconds: float = 0.0
    worker: str = ""
    error: str | None = None
    traceback: str | None = None


def run_task(task: RunTask) -> RunResult:
    """Run one (trial, variant, replication) and measure its targets (never raises for a model error)."""
    start = time.perf_counter()
    result = RunResult(
        task.trial, task.variant, task.replication, worker=f"{socket.gethostname()}:{os.getpid()}"
    )
    try:
        params = ModelParams.model_validate(task.params)
        observers: dict[Any, Any] = {}
        for _, name, args in task.measurements:
            measurement = MEASUREMENTS[name]
            key = measurement.observer_key(args)
            if key is not None and key not in observers:
                observers[key] = measurement.make_observer(args)
        market = run_market(
            params, task.replication, base_dir=task.base_dir, observers=list(observers.values())
        )
        for target, name, args in task.measurements:
            measurement = MEASUREMENTS[name]
            key = measurement.observer_key(args)
            found = measurement.measure(market, observers.get(key), args)
            result.values[target] = [float(v) for v in found.values]
            result.sizes[target] = None if found.sizes is None else [float(s) for s in found.sizes]
    except Exception as err:  # a run that raises fails its trial, not the calibration
        message = " ".join(str(err).split())
        result.error = f"{type(err).__name__}: {message}" if message else type(err).__name__
        result.traceback = traceback.format_exc()
    result.seconds = time.perf_counter() - start
    return result


# --------------------------------------------------------------------------- evaluating values


@dataclass
class Evaluation:
    """The runs of one set of values: per target, a (replications x cells) array of values.

    Attributes:
        values: target index -> array (replications, cells); NaN where a run measured nothing.
        sizes: target index -> array (replications, cells) of cases behind shares, or ``None``.
        replications: the replication indices run, in the rows' order.
        seconds: worker seconds spent.
        error: the first error of a run that failed (the evaluation is then incomplete).

    """

    values: dict[int, np.ndarray]
    sizes: dict[int, np.ndarray | None]
    replications: list[int]
    seconds: float = 0.0
    error: str | None = None

    def means(self) -> dict[int, np.ndarray]:
        """Per target, the mean over replications of each cell (NaN replications left out)."""
        out = {}
        for target, values in self.values.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a cell never measured: NaN
                out[target] = np.nanmean(values, axis=0)
        return out

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form (NaN as null), as stored with each trial."""
        return {
            "values": {str(t): _nan_to_none(v) for t, v in self.values.items()},
            "sizes": {
                str(t): (None if s is None else _nan_to_none(s)) for t, s in self.sizes.items()
            },
            "replications": self.replications,
            "seconds": self.seconds,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Evaluation:
        """The inverse of :meth:`to_json`."""
        return cls(
            values={int(t): _array(v) for t, v in data["values"].items()},
            sizes={int(t): (None if s is None else _array(s)) for t, s in data["sizes"].items()},
            replications=list(data["replications"]),
            seconds=float(data.get("seconds") or 0.0),
            error=data.get("error"),
        )


def _nan_to_none(array: np.ndarray) -> list[list[float | None]]:
    return [[None if math.isnan(x) else float(x) for x in row] for row in np.atleast_2d(array)]


def _array(rows: list[list[float | None]]) -> np.ndarray:
    return np.array([[np.nan if x is None else x for x in row] for row in rows], dtype=np.float64)


def objective(calibration: Calibration, evaluation: Evaluation) -> tuple[float, dict[str, float]]:
    """The trial's objective (see :mod:`cxsim.calibrate.likelihood`) and each target's part of it.

    Raises:
        ValueError: if a fitted target's cell was measured in no replication (no cases).

    """
    means = evaluation.means()
    parts: dict[str, float] = {}
    for target in calibration.targets:
        mean = means[target.index]
        if target.weight > 0 and np.isnan(mean).any():
            cell = target.cells[int(np.flatnonzero(np.isnan(mean))[0])]
            raise ValueError(
                f"target {target.name!r}"
                + (f", cell {cell!r}" if cell else "")
                + ": measured in no replication (no cases)"
            )
        parts[target.name] = float(np.nansum(target.deviance(mean))) if target.weight > 0 else 0.0
    return float(sum(parts.values())), parts


def tasks_for(
    calibration: Calibration, trial: int, values: dict[str, Any], replications: Iterable[int]
) -> list[RunTask]:
    """The runs of one trial: every variant at ``values``, every replication.

    Raises:
        ParameterError: if the values break a rule of the schema in some variant.

    """
    base_dir = str(calibration.base_dir) if calibration.base_dir is not None else None
    tasks = []
    for variant in range(len(calibration.variants)):
        params = calibration.params_for(values, variant).model_dump(mode="json")
        measurements = tuple(
            (t.index, t.measurement.name, t.args)
            for t in calibration.targets
            if t.variant == variant
        )
        tasks.extend(
            RunTask(trial, variant, r, params, base_dir, measurements) for r in replications
        )
    return tasks


class Evaluator:
    """Runs tasks on an executor (or on local processes it starts) and gathers them by trial."""

    def __init__(self, executor: Executor | None, workers: int | None) -> None:
        self.own = executor is None
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.executor = executor

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.own and self.executor is not None:
            self.executor.shutdown(wait=exc[0] is None, cancel_futures=True)
            self.executor = None

    def _active(self) -> Executor:
        if self.executor is None:
            from cxsim.sweeps.execute import process_context

            self.executor = local_pool(self.workers, process_context())
        return self.executor

    def run(self, tasks: list[RunTask]) -> Iterator[RunResult]:
        """Yield the results of ``tasks`` as they finish (a run whose worker died is retried)."""
        pending: dict[Future[RunResult], tuple[RunTask, int, Executor]] = {}
        queue = [(task, 1) for task in tasks]
        try:
            while queue or pending:
                executor = self._active()
                while queue:
                    task, attempt = queue.pop(0)
                    pending[executor.submit(run_task, task)] = (task, attempt, executor)
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    task, attempt, used = pending.pop(future)
                    try:
                        yield future.result()
                    except BrokenProcessPool:
                        if attempt >= MAX_ATTEMPTS:
                            yield _lost(task, f"its worker process died {attempt} times")
                        else:
                            queue.append((task, attempt + 1))
                        self._restart(used)
                    except Exception as err:  # the executor could not run it (Dask KilledWorker)
                        if attempt >= MAX_ATTEMPTS:
                            yield _lost(task, f"{type(err).__name__}: {err}")
                        else:
                            queue.append((task, attempt + 1))
        finally:
            for future in pending:
                future.cancel()

    def _restart(self, broken: Executor) -> None:
        """Replace our pool of local processes if it is the one that broke."""
        if self.own and self.executor is broken:
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = None


def _lost(task: RunTask, why: str) -> RunResult:
    return RunResult(task.trial, task.variant, task.replication, error=why)


class Gatherer:
    """Collects the runs of several trials; says when a trial has all its runs."""

    def __init__(self, calibration: Calibration, expected: dict[int, list[int]]) -> None:
        self.calibration = calibration
        self.expected = expected  # trial -> replication indices
        self.results: dict[int, list[RunResult]] = {trial: [] for trial in expected}

    def add(self, result: RunResult) -> Evaluation | None:
        """Add one run; the trial's evaluation once all its runs are in."""
        got = self.results[result.trial]
        got.append(result)
        replications = self.expected[result.trial]
        if len(got) < len(replications) * len(self.calibration.variants):
            return None
        return assemble(self.calibration, got, replications)


def assemble(
    calibration: Calibration, results: list[RunResult], replications: list[int]
) -> Evaluation:
    """Put the runs of one set of values together, target by target."""
    row = {r: i for i, r in enumerate(replications)}
    values: dict[int, np.ndarray] = {}
    sizes: dict[int, np.ndarray | None] = {}
    for target in calibration.targets:
        values[target.index] = np.full((len(replications), len(target.cells)), np.nan)
        sizes[target.index] = None
    error = None
    for result in sorted(results, key=lambda r: (r.variant, r.replication)):
        if result.error is not None:
            error = (
                error
                or f"run (variant {result.variant}, replication {result.replication}): {result.error}"
            )
            continue
        for target, found in result.values.items():
            values[target][row[result.replication]] = found
            got = result.sizes.get(target)
            if got is not None:
                if sizes[target] is None:
                    sizes[target] = np.full(values[target].shape, np.nan)
                sizes[target][row[result.replication]] = got  # type: ignore[index]
    return Evaluation(
        values, sizes, list(replications), sum(r.seconds for r in results), error=error
    )


def evaluate(
    calibration: Calibration,
    values: dict[str, Any],
    replications: Iterable[int],
    *,
    executor: Executor | None = None,
    workers: int | None = None,
) -> Evaluation:
    """Run every target at ``values`` on the given replications (a confirmation, a recovery's truth)."""
    replications = list(replications)
    tasks = tasks_for(calibration, -1, values, replications)
    with Evaluator(executor, workers) as evaluator:
        results = list(evaluator.run(tasks))
    return assemble(calibration, results, replications)
