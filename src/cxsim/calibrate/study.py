"""Running a calibration: an Optuna study in ``DIR/study.db``, its trials run on any executor.

**A trial** is one set of values of the fitted parameters. Its unit of work is a
run: one (trial, variant, replication), :func:`cxsim.run.run_market` of the
variant's parameters at the trial's values, replication r of the calibration's
seed, with the observers its targets need. Replications 0..R-1 are the same
for every trial (common random numbers), so trials are compared on the same
luck. A worker gets a :class:`RunTask` and returns a :class:`RunResult`; runs
go to any ``concurrent.futures.Executor``: local processes
(:func:`cxsim.processes.local_pool`) or a Dask client's executor.

**Batches.** Trials are asked ``batch_size`` at a time; all runs of a batch
are submitted at once and each trial is told as soon as its runs are in; the
next batch is asked once the whole batch is told. Before each ask the sampler
is seeded from (seed, trial number). So the trials depend only on the
calibration file (its seed) and never on the number of workers, the executor,
or the order in which runs finish: a local study and a Dask study with the
same seed ask the same trials. The number of trials is rounded up to whole
batches.

**Resume.** The study is stored in SQLite as it goes; each asked trial is
written whole, in one transaction (:class:`_Asker`). A killed calibration is
resumed by rerunning it: trials already told are kept; trials that were asked
but not told (running when it was killed) are run again with the same values
and told once; a batch cut short while being asked is asked to its end first.
A resumed study asks the same trials as one that was never stopped. The folder
records the engine (:func:`cxsim.world.fingerprint`) and the calibration's
hash, and refuses to resume with another engine or another calibration (only
the number of trials may grow).
"""

from __future__ import annotations

import json
import math
import os
import socket
import sys
import time
import traceback
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from cxsim import world
from cxsim.calibrate.measures import MEASUREMENTS
from cxsim.calibrate.spec import Calibration, CalibrationError
from cxsim.files import atomic_write_text, remove_stale_temporaries
from cxsim.params import ModelParams, ParameterError
from cxsim.processes import local_pool
from cxsim.run import run_market

RECORD_FILE = "calibration.json"
TEXT_FILE = "calibration.toml"
STUDY_FILE = "study.db"
STUDY_NAME = "cxsim-calibration"
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


class _Gatherer:
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


# --------------------------------------------------------------------------- the folder


class CalibrationStore:
    """The calibration folder: the record, the file's text and the Optuna study."""

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        self.out_dir = Path(out_dir)

    @property
    def storage_url(self) -> str:
        """The SQLite URL of the study."""
        return f"sqlite:///{(self.out_dir / STUDY_FILE).resolve()}"

    def check(self, calibration: Calibration) -> bool:
        """Whether the folder holds this calibration already (False: new); refuses anything else.

        Raises:
            CalibrationError: the folder is a file, holds something else, another calibration,
                or a calibration started by another engine.

        """
        out = self.out_dir
        if out.exists() and not out.is_dir():
            raise CalibrationError(f"{out}: exists and is not a folder")
        record_path = out / RECORD_FILE
        if not record_path.is_file():
            if out.exists() and any(out.iterdir()):
                raise CalibrationError(
                    f"{out}: exists, is not empty and is not a calibration folder (no {RECORD_FILE}); "
                    "use a new --out folder"
                )
            return False
        try:
            previous = json.loads(record_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise CalibrationError(f"{record_path}: cannot read: {err}") from None
        changed = world.differences(previous.get("engine"))
        if changed:
            raise CalibrationError(
                f"{out}: was started by another engine ({'; '.join(changed)}); its trials would "
                "not be comparable with new ones; use a new --out folder"
            )
        if previous.get("calibration_hash") != calibration.calibration_hash:
            raise CalibrationError(
                f"{out}: holds another calibration ({previous.get('file')}, hash "
                f"{str(previous.get('calibration_hash'))[:12]}, this one "
                f"{calibration.calibration_hash[:12]}); only the number of trials may change "
                "between resumes; use a new --out folder"
            )
        return True

    def initialise(self, calibration: Calibration) -> None:
        """Create the folder (or check it holds this calibration) and record the calibration."""
        self.check(calibration)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.out_dir)
        record = {
            **calibration.record(),
            "engine": world.fingerprint(),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        path = self.out_dir / RECORD_FILE
        if path.is_file():  # keep when it was first started
            record["created"] = json.loads(path.read_text(encoding="utf-8")).get("created")
        atomic_write_text(path, json.dumps(record, indent=2, default=str))
        if calibration.text:
            atomic_write_text(self.out_dir / TEXT_FILE, calibration.text)

    def open_study(self, create: bool = True) -> Any:
        """The Optuna study of the folder, opened once (its storage is then :attr:`storage`).

        Raises:
            KeyError: if ``create`` is false and the folder holds no study.

        """
        import optuna

        if getattr(self, "_study", None) is None:
            self.storage = optuna.storages.RDBStorage(
                self.storage_url, engine_kwargs={"connect_args": {"timeout": 60}}
            )
            if create:
                self._study = optuna.create_study(
                    storage=self.storage,
                    study_name=STUDY_NAME,
                    direction="minimize",
                    load_if_exists=True,
                )
            else:
                self._study = optuna.load_study(study_name=STUDY_NAME, storage=self.storage)
        return self._study

    def set_trial_attr(self, number: int, key: str, value: Any) -> None:
        """Keep ``value`` with trial ``number`` (before it is told: a told trial is final)."""
        study_id = self.storage.get_study_id_from_name(STUDY_NAME)
        trial_id = self.storage.get_trial_id_from_study_id_trial_number(study_id, number)
        self.storage.set_trial_user_attr(trial_id, key, value)


# --------------------------------------------------------------------------- the study


def sampler_for(calibration: Calibration, trial: int) -> Any:
    """The sampler that asks trial ``trial``: the file's kind, seeded from (seed, trial)."""
    import optuna

    seed = int(np.random.SeedSequence([calibration.seed, trial]).generate_state(1)[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if calibration.spec.sampler == "cmaes":
            # CMA-ES starts from the middle of the bounds (its x0 is deprecated in Optuna 4.9);
            # the starting values are its first trial, counted as its one start-up trial.
            return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)


def planned_trials(calibration: Calibration, trials: int | None = None) -> int:
    """Trials the study runs: the file's (or ``trials``), rounded up to whole batches."""
    wanted = trials if trials is not None else calibration.spec.trials
    size = calibration.spec.batch_size
    return -(-wanted // size) * size


@dataclass
class StudyOutcome:
    """What :func:`run_study` did."""

    planned: int
    already: int
    ran: int
    failed: int
    seconds: float


class _Asker:
    """Asks trials on an in-memory copy of the study and records each in SQLite in one transaction.

    Optuna's own ``ask`` on a database writes a new trial and then its values one by
    one; a kill in between would leave a trial without values. Here the sampler works on
    a copy of the study's trials in memory (filled from the database when a study
    resumes, then kept in step), and each asked trial, values and the sampler's state
    included, is added to the database whole.
    """

    def __init__(self, calibration: Calibration, study: Any) -> None:
        import optuna

        self.calibration = calibration
        self.study = study
        self.distributions = {p.key: p.distribution() for p in calibration.parameters}
        self.memory = optuna.create_study(direction="minimize")
        trials = study.get_trials(deepcopy=True)
        self.memory.add_trials(trials)
        if not any(t.user_attrs.get("start") for t in trials):
            self.memory.enqueue_trial(calibration.start, user_attrs={"start": True})

    def ask(self, number: int) -> Any:
        """Ask trial ``number`` with a sampler seeded from (seed, number); record it; return it."""
        self.memory.sampler = sampler_for(self.calibration, number)
        asked = self.memory.ask(self.distributions)
        if asked.number != number:  # the copy and the database have drifted apart: a bug
            raise RuntimeError(f"asked trial {asked.number}, expected {number}")
        frozen = self.memory.get_trials(deepcopy=False)[number]
        self.study.add_trial(frozen)
        return frozen

    def tell(self, number: int, value: float | None) -> None:
        """Tell trial ``number``'s value (``None``: it failed), to the database and the copy."""
        from optuna.trial import TrialState

        for study in (self.study, self.memory):
            if value is None:
                study.tell(number, state=TrialState.FAIL)
            else:
                study.tell(number, value)


def run_study(
    calibration: Calibration,
    store: CalibrationStore,
    *,
    executor: Executor | None = None,
    workers: int | None = None,
    trials: int | None = None,
    progress: bool = True,
) -> StudyOutcome:
    """Ask and tell trials, batch by batch, until the planned number is finished (or resume)."""
    from optuna.trial import TrialState

    start_time = time.perf_counter()
    planned = planned_trials(calibration, trials)
    size = calibration.spec.batch_size
    with quiet_optuna():
        study = store.open_study()
        asker = _Asker(calibration, study)
        already = sum(t.state.is_finished() for t in study.get_trials(deepcopy=False))
        bar = _Progress(planned, min(already, planned), _best(study), progress)
        ran = failed = 0
        try:
            with Evaluator(executor, workers) as evaluator:
                while True:
                    asked = study.get_trials(deepcopy=False)
                    running = [t for t in asked if t.state == TrialState.RUNNING]
                    if not running and len(asked) % size == 0:
                        if len(asked) >= planned:
                            break
                        to_ask = size
                    else:
                        to_ask = (-len(asked)) % size  # finish the batch a kill cut short
                    running += [asker.ask(n) for n in range(len(asked), len(asked) + to_ask)]
                    done = _run_batch(calibration, store, asker, running, evaluator, bar)
                    ran += len(done)
                    failed += sum(not ok for ok in done)
                    if ran and failed == ran and ran >= size:
                        raise StudyFailedError(
                            f"every one of the first {ran} trials failed; the first: "
                            f"{_first_error(study)}"
                        )
        finally:
            bar.close()
    return StudyOutcome(planned, already, ran, failed, time.perf_counter() - start_time)


class StudyFailedError(RuntimeError):
    """Every trial of a whole batch failed: the calibration cannot go on."""


def _run_batch(
    calibration: Calibration,
    store: CalibrationStore,
    asker: _Asker,
    trials: list[Any],
    evaluator: Evaluator,
    bar: _Progress,
) -> list[bool]:
    """Run the runs of ``trials`` and tell each trial as soon as its runs are in."""
    replications = list(range(calibration.spec.replications))
    tasks: list[RunTask] = []
    expected: dict[int, list[int]] = {}
    outcome: list[bool] = []
    for trial in trials:
        values = {p.key: trial.params[p.key] for p in calibration.parameters}
        try:
            tasks.extend(tasks_for(calibration, trial.number, values, replications))
            expected[trial.number] = replications
        except ParameterError as err:  # values that break a cross-field rule of the schema
            store.set_trial_attr(trial.number, "error", str(err))
            asker.tell(trial.number, None)
            outcome.append(False)
            bar.update(None)
    gatherer = _Gatherer(calibration, expected)
    for result in evaluator.run(tasks):
        evaluation = gatherer.add(result)
        if evaluation is None:
            continue
        number = result.trial
        value = None
        parts: dict[str, float] = {}
        if evaluation.error is None:
            try:
                value, parts = objective(calibration, evaluation)
            except ValueError as err:
                evaluation.error = str(err)
        # One attribute, one write: the runs, each target's part, and any error.
        store.set_trial_attr(number, "evaluation", {**evaluation.to_json(), "parts": parts})
        asker.tell(number, value if evaluation.error is None else None)
        outcome.append(evaluation.error is None)
        bar.update(value)
    return outcome


def _best(study: Any) -> float | None:
    try:
        return float(study.best_value)
    except ValueError:  # no finished trial yet
        return None


def _first_error(study: Any) -> str:
    for trial in study.get_trials(deepcopy=False):
        error = trial.user_attrs.get("error") or (trial.user_attrs.get("evaluation") or {}).get(
            "error"
        )
        if error:
            return str(error)
    return "unknown"


@contextmanager
def quiet_optuna() -> Iterator[None]:
    """Optuna's per-trial log lines off while we run (our own progress bar says it better)."""
    import optuna

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


class _Progress:
    """A tqdm bar on stderr: trials done, the best value so far, and the time left."""

    def __init__(self, total: int, initial: int, best: float | None, enabled: bool) -> None:
        self.bar = None
        self.best = best
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                initial=initial,
                desc="trials",
                unit="trial",
                file=sys.stderr,
                dynamic_ncols=True,
                smoothing=0.1,
            )
            self._postfix(best)

    def _postfix(self, best: float | None) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(
                "best=—" if best is None else f"best={best:.4g}", refresh=False
            )

    def update(self, value: float | None) -> None:
        """One more trial told, with ``value`` (``None``: it failed)."""
        if value is not None and (self.best is None or value < self.best):
            self.best = value
        if self.bar is not None:
            self._postfix(self.best)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
