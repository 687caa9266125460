"""Running a calibration: an Optuna study in ``DIR/study.db``, its trials run on any executor.

**A trial** is one set of values of the fitted parameters, evaluated by its
runs (:mod:`cxsim.calibrate.evaluation`): every variant, replications 0..R-1
of the calibration's seed, the same for every trial (common random numbers),
so trials are compared on the same luck.

**Phases.** The *search* asks ``trials`` trials of the sampler (TPE, or
CMA-ES), the first at the starting values; the *refine* phase then asks
``refine_trials`` trials of a local CMA-ES started from the search's best
trials, which takes a search that did not arrive further
(:mod:`cxsim.calibrate.refine`); the *spread* phase then asks
``spread_trials`` trials that map the region of good fits
(:mod:`cxsim.calibrate.spread`).

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
import os
import sys
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from cxsim import world
from cxsim.calibrate.evaluation import Evaluator, Gatherer, RunTask, objective, tasks_for
from cxsim.calibrate.refine import population, refine_values
from cxsim.calibrate.spec import Calibration, CalibrationError
from cxsim.calibrate.spread import spread_values
from cxsim.files import atomic_write_text, remove_stale_temporaries
from cxsim.params import ParameterError

RECORD_FILE = "calibration.json"
TEXT_FILE = "calibration.toml"
STUDY_FILE = "study.db"
STUDY_NAME = "cxsim-calibration"
#: Held while a calibration runs in the folder (filelock: released when its holder dies).
LOCK_FILE = "calibration.lock"
LOCK_PID_FILE = "calibration.lock.pid"


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
        nearest = next(p for p in (out, *out.absolute().parents) if p.exists())
        if not os.access(nearest, os.W_OK | os.X_OK):
            raise CalibrationError(f"{out}: cannot write there ({nearest} is not writable)")
        record_path = out / RECORD_FILE
        if not record_path.is_file():
            ours = {LOCK_FILE, LOCK_PID_FILE}  # left by a run killed before it wrote its record
            if out.exists() and any(p.name not in ours for p in out.iterdir()):
                raise CalibrationError(
                    f"{out}: exists, is not empty and is not a calibration folder (no {RECORD_FILE}); "
                    "use a new --out folder"
                )
            return False
        try:
            previous = json.loads(record_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise CalibrationError(f"{record_path}: cannot read: {err}") from None
        refused = world.other_engine(out, previous.get("engine"), "trials")
        if refused:
            raise CalibrationError(refused)
        if previous.get("calibration_hash") != calibration.calibration_hash:
            raise CalibrationError(
                f"{out}: holds another calibration ({previous.get('file')}, hash "
                f"{str(previous.get('calibration_hash'))[:12]}, this one "
                f"{calibration.calibration_hash[:12]}); only the number of trials may change "
                "between resumes; use a new --out folder"
            )
        return True

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder for this process (created if need be): one calibration at a time.

        Raises:
            CalibrationError: if another process holds it.

        """
        from filelock import FileLock, Timeout

        self.out_dir.mkdir(parents=True, exist_ok=True)
        holder = self.out_dir / LOCK_PID_FILE
        lock = FileLock(self.out_dir / LOCK_FILE, timeout=0)
        try:
            lock.acquire()
        except Timeout:
            pid = holder.read_text(encoding="utf-8").strip() if holder.is_file() else "unknown"
            raise CalibrationError(
                f"{self.out_dir}: another calibration (pid {pid}) is running in this folder; "
                "wait for it to finish, or use another --out folder"
            ) from None
        try:
            atomic_write_text(holder, str(os.getpid()), durable=False)
            yield
        finally:
            lock.release()

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
        if getattr(self, "_study_id", None) is None:
            self._study_id = self.storage.get_study_id_from_name(STUDY_NAME)
        trial_id = self.storage.get_trial_id_from_study_id_trial_number(self._study_id, number)
        self.storage.set_trial_user_attr(trial_id, key, value)


# --------------------------------------------------------------------------- the study


def sampler_for(calibration: Calibration, trial: int) -> Any:
    """The sampler that asks trial ``trial``: the file's kind, seeded from (seed, trial)."""
    import optuna

    seed = int(np.random.SeedSequence([calibration.seed, trial]).generate_state(1)[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if calibration.spec.sampler == "cmaes":
            step = calibration.spec.cmaes_step
            if step is None:
                # CMA-ES starts from the middle of the bounds; the starting values are its first
                # trial, counted as its one start-up trial.
                return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
            # From the starting values with a stated step (in units of each range: Optuna maps
            # the bounds to [0, 1]). Optuna 4.9 deprecated x0 and sigma0 (removal planned in 6).
            warnings.simplefilter("ignore", FutureWarning)
            return optuna.samplers.CmaEsSampler(
                x0=calibration.start, sigma0=step, seed=seed, warn_independent_sampling=False
            )
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=False)


def planned_trials(calibration: Calibration, trials: int | None = None) -> tuple[int, int, int]:
    """Search, refine and spread trials: the file's (search: or ``trials``), each in whole batches.

    The refine phase is rounded up to whole generations of its CMA-ES (themselves whole batches).
    """
    size = calibration.spec.batch_size
    search = trials if trials is not None else calibration.spec.trials
    generation = population(calibration)
    return (
        -(-search // size) * size,
        -(-calibration.refine_trials // generation) * generation,
        -(-calibration.spread_trials // size) * size,
    )


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

    def ask(self, number: int, phase: str) -> Any:
        """Ask trial ``number`` of ``phase`` (search, refine, spread) seeded from (seed, number); record it."""
        import optuna

        proposal: tuple[dict[str, Any], dict[str, Any]] | None = None
        trials = self.study.get_trials(deepcopy=False) if phase != "search" else []
        if phase == "refine":
            proposal = refine_values(self.calibration, trials, number), {"phase": "refine"}
        elif phase == "spread":
            walked = spread_values(self.calibration, trials, number)
            if walked is not None:
                values, moved = walked
                proposal = values, {"phase": "spread"} | ({"moved": moved} if moved else {})
        if proposal is not None:
            values, attrs = proposal
            self.memory.enqueue_trial(values, user_attrs=attrs)
            self.memory.sampler = optuna.samplers.RandomSampler(seed=number)  # not consulted
        else:
            self.memory.sampler = sampler_for(self.calibration, number)
        asked = self.memory.ask(self.distributions)
        if asked.number != number:  # the copy and the database have drifted apart: a bug
            raise RuntimeError(f"asked trial {asked.number}, expected {number}")
        if proposal is None:
            asked.set_user_attr("phase", "search")
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
    search, refine, spread = planned_trials(calibration, trials)
    planned = search + refine + spread
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
                    searched = sum(t.user_attrs.get("phase") == "search" for t in asked)
                    refined = sum(t.user_attrs.get("phase") == "refine" for t in asked)
                    for n in range(len(asked), len(asked) + to_ask):
                        if searched < search:
                            phase, searched = "search", searched + 1
                        elif refined < refine:
                            phase, refined = "refine", refined + 1
                        else:
                            phase = "spread"
                        running.append(asker.ask(n, phase))
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
    gatherer = Gatherer(calibration, expected)
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
