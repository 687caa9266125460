"""Calibration: fit a scenario's parameters to observed figures with an Optuna study.

A calibration file (TOML, :mod:`cxsim.calibrate.spec`) names a base scenario,
the parameters to fit (dotted keys with bounds inside the schema's), and the
targets: named measurements of a run (:mod:`cxsim.calibrate.measures`) with
observed values and a likelihood (:mod:`cxsim.calibrate.likelihood`, whose
notes give the objective). :func:`calibrate` runs the study on local processes
or any ``concurrent.futures.Executor`` (a Dask client's), resumably
(:mod:`cxsim.calibrate.study`), and writes the fitted scenario, the fit, the
trials and a report (:mod:`cxsim.calibrate.outputs`)::

    import cxsim

    result = cxsim.calibrate("experiments/tarp_calibration.toml", "calibrations/tarp", workers=2)
    result.best_values  # {"behaviour.attitude.problem_minor": -1.31, ...}
    result.fit          # observed vs simulated per target, with 95% CIs

    from dask.distributed import Client
    with Client("tcp://scheduler:8786") as client:
        cxsim.calibrate("fit.toml", "calibrations/fit", executor=client.get_executor())

``cxsim.calibrate`` is this package, and calling it calls :func:`calibrate`.
"""

from __future__ import annotations

import importlib
import os
import sys
import types
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cxsim.calibrate.spec import (
        Calibration,
        CalibrationError,
        calibration_from_dict,
        calibration_from_text,
        load_calibration,
    )

#: Names imported on first use, so that ``cxsim --help`` (which registers the command) stays fast.
_LAZY = {
    "Calibration": "cxsim.calibrate.spec",
    "CalibrationError": "cxsim.calibrate.spec",
    "calibration_from_dict": "cxsim.calibrate.spec",
    "calibration_from_text": "cxsim.calibrate.spec",
    "load_calibration": "cxsim.calibrate.spec",
}

__all__ = [
    "Calibration",
    "CalibrationError",
    "calibrate",
    "calibration_from_dict",
    "calibration_from_text",
    "load_calibration",
]


def calibrate(
    calibration: Calibration | str | os.PathLike[str] | dict[str, Any],
    out: str | os.PathLike[str],
    executor: Executor | None = None,
    *,
    workers: int | None = None,
    trials: int | None = None,
    confirm: int = 0,
    progress: bool = True,
    report: bool = True,
    plotly_js: str = "inline",
) -> Any:
    """Fit a calibration (or resume it) into folder ``out``; return the best values and the fit.

    Args:
        calibration: a calibration file's path, a dict of its tables (a relative ``base`` is
            then found from the current folder), or a checked :class:`Calibration`.
        out: the calibration folder: created, or resumed if it holds the same calibration.
        executor: where runs run (``dask.distributed.Client(...).get_executor()``); default:
            ``workers`` local processes, stopped at the end.
        workers: local processes when no executor is given (default: the number of CPUs).
        trials: trials to finish (default: the file's ``trials``), rounded up to whole batches.
        confirm: rerun the best values on this many fresh replications (not the fit's) and
            report the fit on them (0: no confirmation).
        progress: show a progress bar on stderr (trials done, best value, time left).
        report: write ``calibration_report.html`` too (its fANOVA takes a few seconds).
        plotly_js: "inline" embeds plotly.js in the report (works offline); "cdn" loads it.

    Returns:
        A :class:`cxsim.calibrate.outputs.CalibrationResult`: ``best_values``, ``fit``,
        ``spread``, ``trials``, ``params`` (the fitted scenario) and the files written.

    Raises:
        CalibrationError: bad input (one line naming the file and the field); nothing written.

    """
    from cxsim.calibrate.evaluation import evaluate
    from cxsim.calibrate.outputs import best_of, write_outputs
    from cxsim.calibrate.spec import (
        Calibration,
        CalibrationError,
        calibration_from_dict,
        load_calibration,
    )
    from cxsim.calibrate.study import CalibrationStore, run_study

    if isinstance(calibration, dict):
        calibration = calibration_from_dict(calibration)
    elif not isinstance(calibration, Calibration):
        calibration = load_calibration(Path(calibration))
    if trials is not None and trials < 1:
        raise CalibrationError(f"trials: expected a number >= 1, got {trials}")
    if confirm < 0:
        raise CalibrationError(f"confirm: expected a number >= 0, got {confirm}")
    store = CalibrationStore(out)
    store.check(calibration)  # before anything is written
    with store.lock():
        store.initialise(calibration)
        run_study(
            calibration, store, executor=executor, workers=workers, trials=trials, progress=progress
        )
        study = store.open_study()  # the one run_study opened
        fresh = None
        if confirm:
            first = calibration.spec.replications
            fresh = evaluate(
                calibration,
                best_of(calibration, study),
                range(first, first + confirm),
                executor=executor,
                workers=workers,
            )
        return write_outputs(
            calibration, study, Path(out), confirm=fresh, report=report, plotly_js=plotly_js
        )


class _CallableModule(types.ModuleType):
    """``cxsim.calibrate(...)`` calls :func:`calibrate`, though ``cxsim.calibrate`` is a package."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return calibrate(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(self, name, value)
        return value


sys.modules[__name__].__class__ = _CallableModule
