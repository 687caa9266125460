"""Running a sweep on any ``concurrent.futures.Executor``: local processes, or a Dask cluster.

The parent process plans, submits and records; workers only run. A worker gets
a :class:`RunTask` (base parameters, the point's overrides, the root seed and
the replication, what to keep) and returns a
:class:`~cxsim.sweeps.store.RunOutcome`, so a run's result depends only on its
point, seed and replication (it is :func:`cxsim.run.run_market`'s run), never
on the worker, the order or the executor. A run that raises comes back as a failed outcome with its error; it
does not stop the sweep.

As runs finish, the parent collects them into a batch and writes the batch as
one Parquet part as soon as it is ``flush_seconds`` old (or holds
``max_batch`` runs, or nothing else is running): a kill at any moment loses at
most the runs of that unwritten batch. Rerunning resumes: runs already in the
folder are skipped.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import socket
import sys
import threading
import time
import traceback
from concurrent.futures import (
    FIRST_COMPLETED,
    CancelledError,
    Executor,
    Future,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from cxsim.params import resolve
from cxsim.processes import local_pool
from cxsim.run import run_market
from cxsim.summary import summarize
from cxsim.sweeps.plan import RunSpec, SweepPlan
from cxsim.sweeps.store import FAILED, OK, RunOutcome, SweepStore, UnreadablePart

#: Attempts of a run whose worker died under it (a broken process pool, a cancelled future)
#: before it is recorded as failed.
MAX_ATTEMPTS = 3
#: Runs kept in flight per local worker process: enough to keep each one busy between results.
IN_FLIGHT_PER_WORKER = 2
#: Runs kept in flight on an executor given by the caller, whose size we cannot see.
DEFAULT_IN_FLIGHT = 1000


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs for one run (picklable, small)."""

    run_id: str
    point: int
    replication: int
    seed: int
    overrides: dict[str, Any]
    base: dict[str, Any]
    base_dir: str | None
    summary_metrics: tuple[str, ...]
    daily_metrics: tuple[str, ...]


@dataclass
class SweepOutcome:
    """What a call to :func:`run_sweep` did.

    Attributes:
        out_dir: the sweep folder.
        planned: runs in the plan.
        already_recorded: runs found in the folder at the start and skipped.
        ran: runs recorded by this call.
        failed: runs recorded as failed by this call.
        failed_total: planned runs recorded as failed in the folder at the end.
        recorded_total: planned runs recorded in the folder at the end.
        seconds: wall time of this call.
        workers: local worker processes used (``None`` with an executor given by the caller).
        set_aside: unreadable parts moved to ``corrupt/`` at the start (their runs were run again).

    """

    out_dir: Path
    planned: int
    already_recorded: int
    ran: int
    failed: int
    failed_total: int
    recorded_total: int
    seconds: float
    workers: int | None
    set_aside: list[UnreadablePart] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether every planned run is recorded."""
        return self.recorded_total >= self.planned


def run_task(task: RunTask) -> RunOutcome:
    """Run one sweep run in this process and return its kept results (never raises for a model error)."""
    start = time.perf_counter()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    try:
        params = resolve(task.base, {**task.overrides, "market.seed": task.seed})
        model = run_market(params, task.replication, base_dir=task.base_dir)
        frame = model.results_frame()
        figures = summarize(frame, params)
        companies = [str(c) for c in figures.index]
        summary = {m: [float(v) for v in figures[m].to_numpy()] for m in task.summary_metrics}
        daily: dict[str, np.ndarray] = {}
        if task.daily_metrics:
            k = len(model.companies)
            daily["day"] = frame["day"].to_numpy()[::k]
            for m in task.daily_metrics:
                daily[m] = frame[m].to_numpy(dtype=np.float64).reshape(-1, k)
        return RunOutcome(
            run_id=task.run_id,
            point=task.point,
            replication=task.replication,
            seed=task.seed,
            status=OK,
            seconds=time.perf_counter() - start,
            worker=worker,
            companies=companies,
            summary=summary,
            daily=daily,
        )
    except Exception as err:  # a run that raises is recorded, not fatal
        return _failed(task, err, worker, time.perf_counter() - start, traceback.format_exc())


def _failed(
    task: RunTask, err: BaseException, worker: str, seconds: float, tb: str | None
) -> RunOutcome:
    message = " ".join(str(err).split())
    return RunOutcome(
        run_id=task.run_id,
        point=task.point,
        replication=task.replication,
        seed=task.seed,
        status=FAILED,
        error=f"{type(err).__name__}: {message}" if message else type(err).__name__,
        traceback=tb,
        seconds=seconds,
        worker=worker,
        finished=datetime.now(UTC),
    )


def make_task(plan: SweepPlan, run: RunSpec, base: dict[str, Any]) -> RunTask:
    """The task of one run of ``plan`` (``base``: the plan's base parameters as a dict)."""
    return RunTask(
        run_id=run.run_id,
        point=run.point,
        replication=run.replication,
        seed=run.seed,
        overrides=dict(run.values),
        base=base,
        base_dir=str(plan.base_dir) if plan.base_dir is not None else None,
        summary_metrics=tuple(plan.summary_metrics),
        daily_metrics=tuple(plan.daily_metrics),
    )


class _Progress:
    """A tqdm bar on stderr: runs recorded (done), failed, and time left."""

    def __init__(self, total: int, initial: int, failed: int, desc: str, enabled: bool) -> None:
        self.failed = failed
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                initial=initial,
                desc=desc,
                unit="run",
                file=sys.stderr,
                dynamic_ncols=True,
                smoothing=0.05,
            )
            self.bar.set_postfix_str(f"failed={failed}")

    def update(self, done: int, failed: int) -> None:
        if self.bar is None:
            return
        if failed:
            self.failed += failed
            self.bar.set_postfix_str(f"failed={self.failed}", refresh=False)
        self.bar.update(done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def process_context() -> multiprocessing.context.BaseContext:
    """How local workers start: ``fork`` on Linux from a single-threaded parent, else ``forkserver``/``spawn``.

    Forking is fast and needs no ``if __name__ == "__main__"`` guard in the
    caller's script. It is chosen explicitly because the process-wide default
    may have been changed by an import (``mesa.batchrunner`` sets ``spawn``).
    Forking a process that runs threads can deadlock, so a multi-threaded
    parent (a notebook with a Dask client, say) gets ``forkserver``.
    """
    methods = multiprocessing.get_all_start_methods()
    if sys.platform.startswith("linux") and "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


class WorkersDiedError(RuntimeError):
    """The local worker processes keep dying before any run finishes."""


def run_sweep(
    plan: SweepPlan,
    out_dir: str | os.PathLike[str],
    *,
    executor: Executor | None = None,
    workers: int | None = None,
    progress: bool = True,
    retry_failed: bool = False,
    flush_seconds: float = 1.0,
    max_batch: int = 256,
    max_in_flight: int | None = None,
) -> SweepOutcome:
    """Run the runs of ``plan`` not yet recorded in ``out_dir``, recording each as it finishes.

    Args:
        plan: the checked plan.
        out_dir: the sweep folder (created; resumed if it holds the same plan).
        executor: where runs run; default: a ``ProcessPoolExecutor`` of ``workers`` processes,
            shut down at the end. A caller's executor (``dask.distributed.Client(...).get_executor()``)
            is used as is and left running.
        workers: local processes (default ``os.cpu_count()``); not used with ``executor``.
        progress: show a progress bar on stderr.
        retry_failed: run again the runs recorded as failed (a success then replaces the failure).
        flush_seconds: most time a finished run waits in memory before it is written.
        max_batch: most runs written in one part.
        max_in_flight: runs submitted but not finished (default: 2 per local worker, else 1000).

    Returns:
        Counts of what was planned, skipped, run and failed.

    The folder is held (``sweep.lock``) while the sweep writes to it. Parts that cannot
    be read are moved to ``corrupt/`` first, with a warning
    (:class:`~cxsim.sweeps.store.UnreadablePartWarning`), and their runs are run again.

    Raises:
        PlanError: if ``out_dir`` holds the results of a different plan.
        SweepFolderBusyError: if another sweep is writing to ``out_dir``.
        WorkersDiedError: if the local worker processes keep dying before finishing any run.
        KeyboardInterrupt: after recording the runs already finished.

    """
    store = SweepStore(out_dir)
    store.check(
        plan
    )  # before the lock: refusing a folder of other things leaves no lock file in it
    with store.lock():
        return _run_locked(
            plan,
            store,
            executor=executor,
            workers=workers,
            progress=progress,
            retry_failed=retry_failed,
            flush_seconds=flush_seconds,
            max_batch=max_batch,
            max_in_flight=max_in_flight,
        )


def _run_locked(
    plan: SweepPlan,
    store: SweepStore,
    *,
    executor: Executor | None,
    workers: int | None,
    progress: bool,
    retry_failed: bool,
    flush_seconds: float,
    max_batch: int,
    max_in_flight: int | None,
) -> SweepOutcome:
    """:func:`run_sweep` once the folder is held."""
    start = time.perf_counter()
    store.initialise(plan)
    set_aside = store.set_aside_unreadable_parts()
    runs = plan.runs()
    planned_ids = {run.run_id for run in runs}
    recorded = {k: v for k, v in store.recorded_runs().items() if k in planned_ids}
    todo = [
        run
        for run in runs
        if run.run_id not in recorded or (retry_failed and recorded[run.run_id] != OK)
    ]
    store.write_manifest(len(runs), recorded, complete=not todo)
    n_workers = max(1, workers or os.cpu_count() or 1) if executor is None else None
    runner = _Runner(
        plan,
        store,
        recorded,
        n_workers,
        flush_seconds=flush_seconds,
        max_batch=max_batch,
        max_in_flight=max_in_flight
        or (IN_FLIGHT_PER_WORKER * n_workers if n_workers else DEFAULT_IN_FLIGHT),
    )
    if todo:
        failed_before = 0 if retry_failed else sum(s != OK for s in recorded.values())
        runner.run(todo, executor, len(runs), len(runs) - len(todo), failed_before, progress)
    store.write_manifest(len(runs), recorded, complete=len(recorded) >= len(runs))
    return SweepOutcome(
        out_dir=store.out_dir,
        planned=len(runs),
        already_recorded=len(runs) - len(todo),
        ran=runner.ran,
        failed=runner.failed,
        failed_total=sum(1 for state in recorded.values() if state != OK),
        recorded_total=len(recorded),
        seconds=time.perf_counter() - start,
        workers=n_workers,
        set_aside=set_aside,
    )


class _Runner:
    """Submits runs, collects their outcomes and writes them in batches as they finish."""

    def __init__(
        self,
        plan: SweepPlan,
        store: SweepStore,
        recorded: dict[str, str],
        n_workers: int | None,
        *,
        flush_seconds: float,
        max_batch: int,
        max_in_flight: int,
    ) -> None:
        self.plan = plan
        self.store = store
        self.recorded = recorded  # run id -> status, updated as batches are written
        self.n_workers = n_workers
        self.flush_seconds = flush_seconds
        self.max_batch = max_batch
        self.max_in_flight = max_in_flight
        self.queue: collections.deque[tuple[RunTask, int]] = collections.deque()
        self.pending: dict[Future[RunOutcome], tuple[RunTask, int]] = {}
        self.batch: list[RunOutcome] = []
        self.batch_started = 0.0
        self.ran = 0
        self.failed = 0
        self.breaks_without_success = 0

    def new_executor(self) -> Executor:
        """A pool of local worker processes."""
        assert self.n_workers is not None
        return local_pool(self.n_workers, process_context())

    def run(
        self,
        todo: list[RunSpec],
        executor: Executor | None,
        planned: int,
        already: int,
        failed_before: int,
        progress: bool,
    ) -> None:
        """Run ``todo`` on ``executor`` (or on local processes started and stopped here)."""
        own = executor is None
        base = self.plan.base.model_dump(mode="json")
        self.queue.extend((make_task(self.plan, run, base), 1) for run in todo)
        active = executor if executor is not None else self.new_executor()
        # Submit before the progress bar starts its monitor thread: forked workers copy no threads.
        self.top_up(active)
        bar = _Progress(planned, already, failed_before, self.plan.name, progress)
        try:
            while self.pending:
                pool_broken = self.collect(bar)
                if pool_broken and own:
                    active.shutdown(wait=False, cancel_futures=True)
                    self.breaks_without_success += 1
                    if self.breaks_without_success >= MAX_ATTEMPTS:
                        raise WorkersDiedError(
                            f"the local worker processes died {self.breaks_without_success} times "
                            "without finishing a run (do they run out of memory? try fewer --workers)"
                        )
                    active = self.new_executor()
                if self.batch and (
                    len(self.batch) >= self.max_batch
                    or time.monotonic() - self.batch_started >= self.flush_seconds
                    or not (self.pending or self.queue)
                ):
                    self.flush()
                self.top_up(active)
            self.flush()
        except BaseException:
            self.flush()  # keep what has finished, whatever stopped us
            for future in self.pending:
                future.cancel()
            if own:
                active.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            bar.close()
        if own:
            active.shutdown(wait=True)

    def top_up(self, executor: Executor) -> None:
        """Submit queued runs until ``max_in_flight`` are running or waiting."""
        while self.queue and len(self.pending) < self.max_in_flight:
            task, attempt = self.queue.popleft()
            self.pending[executor.submit(run_task, task)] = (task, attempt)

    def collect(self, bar: _Progress) -> bool:
        """Wait for runs to finish (or the batch to come due) and add them to the batch.

        Returns:
            Whether the local process pool broke (a worker process died).

        """
        timeout = None
        if self.batch:
            timeout = max(0.0, self.flush_seconds - (time.monotonic() - self.batch_started))
        finished, _ = wait(self.pending, timeout=timeout, return_when=FIRST_COMPLETED)
        pool_broken = False
        done = failed = 0
        for future in finished:
            task, attempt = self.pending.pop(future)
            try:
                outcome = future.result()
            except (BrokenProcessPool, CancelledError) as err:
                pool_broken = pool_broken or isinstance(err, BrokenProcessPool)
                if attempt < MAX_ATTEMPTS:
                    self.queue.appendleft((task, attempt + 1))
                    continue
                outcome = _failed(task, err, "", 0.0, None)
                outcome.error = (
                    f"{outcome.error}: its worker process died {attempt} times "
                    "(out of memory? a crash in native code?)"
                )
            except Exception as err:  # the executor could not run it (e.g. Dask KilledWorker)
                outcome = _failed(task, err, "", 0.0, traceback.format_exc())
            if outcome.status == OK:
                self.breaks_without_success = 0
            if not self.batch:
                self.batch_started = time.monotonic()
            self.batch.append(outcome)
            done += 1
            failed += outcome.status != OK
        self.ran += done
        self.failed += failed
        bar.update(done, failed)
        return pool_broken

    def flush(self) -> None:
        """Write the batch as one part, then count its runs as recorded."""
        if not self.batch:
            return
        self.store.write_batch(self.batch, self.plan.points)
        for outcome in self.batch:
            if self.recorded.get(outcome.run_id) != OK:
                self.recorded[outcome.run_id] = outcome.status
        self.batch = []
        self.store.write_manifest(len(self.plan.points) * self.plan.replications, self.recorded)
