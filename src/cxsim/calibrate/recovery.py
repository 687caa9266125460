"""Parameter recovery: does a calibration find values it was given? A check of a calibration's design.

Before fitting real data, a calibration can be tried on data the model made
itself: :func:`synthetic` runs the model at known values (the *truth*) on
replications the fit will not use and puts what it measured in place of each
target's observations, with the sample sizes the runs actually had; calibrating
that file with the truth hidden must then find the truth inside the spread of
good fits (:func:`recovery_table`). A calibration that cannot recover its own
model's values cannot be trusted to find them in the world.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cxsim.calibrate.evaluation import evaluate
from cxsim.calibrate.outputs import CalibrationResult
from cxsim.calibrate.spec import Calibration, CalibrationError, calibration_from_dict


def synthetic(
    tables: dict[str, Any],
    truth: dict[str, Any],
    replications: Iterable[int],
    *,
    path: str | os.PathLike[str] | None = None,
    executor: Executor | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """The calibration's tables with every target's observations made by the model at ``truth``.

    Shares (binomial, beta-binomial targets) become the pooled share of the cases of all
    ``replications`` and ``n`` the number of those cases; a normal target's ``observed``
    becomes the mean over the replications (its stated ``sd`` is kept); a band is kept.

    Args:
        tables: the calibration file's tables (its ``observed`` values are placeholders).
        truth: a value for every fitted parameter.
        replications: replication indices of the truth's runs: not the fit's ``0..R-1``.
        path: where the file would live (a relative ``base`` is found from its folder).
        executor: where the runs run (default: ``workers`` local processes).
        workers: local processes when no executor is given.

    Raises:
        CalibrationError: if the tables are not a valid calibration, ``truth`` does not name
            the fitted parameters, or a share's measurement does not report its cases.

    """
    calibration = calibration_from_dict(tables, Path(path) if path is not None else None)
    replications = list(replications)
    fitted = {p.key for p in calibration.parameters}
    if set(truth) != fitted:
        raise CalibrationError(
            f"{calibration.label}: truth: expected values of {', '.join(sorted(fitted))}"
        )
    if set(replications) & set(range(calibration.spec.replications)):
        raise CalibrationError(
            f"{calibration.label}: the truth's replications must differ from the fit's "
            f"(0..{calibration.spec.replications - 1})"
        )
    found = evaluate(calibration, truth, replications, executor=executor, workers=workers)
    if found.error is not None:
        raise RuntimeError(f"the truth's runs failed: {found.error}")
    out = copy.deepcopy(tables)
    for target, written in zip(calibration.targets, out["targets"], strict=True):
        values = found.values[target.index]
        kind = target.likelihood.kind
        if kind in ("binomial", "beta_binomial"):
            sizes = found.sizes[target.index]
            if sizes is None:
                raise CalibrationError(
                    f"{calibration.label}: targets[{target.index}]: measure "
                    f"{target.measurement.name!r} does not report its cases; no sample size"
                )
            cases = np.nansum(sizes, axis=0)
            if (cases <= 0).any():
                cell = target.cells[int(np.flatnonzero(cases <= 0)[0])]
                raise CalibrationError(
                    f"{calibration.label}: targets[{target.index}]: no cases at the truth"
                    + (f" in cell {cell!r}" if cell else "")
                    + "; run longer or more people"
                )
            bought = np.nansum(np.where(np.isnan(values), 0.0, values) * sizes, axis=0)
            written["observed"] = [float(b / c) for b, c in zip(bought, cases, strict=True)]
            written["n"] = [float(c) for c in cases]
        elif kind == "normal":
            written["observed"] = [float(v) for v in np.nanmean(values, axis=0)]
    return out


def recovery_table(
    calibration: Calibration, result: CalibrationResult, truth: dict[str, Any]
) -> pd.DataFrame:
    """Per parameter: the truth, the recovered (best) value, the spread of good fits, and whether it holds the truth."""
    table = result.spread.set_index("parameter")
    rows = []
    for p in calibration.parameters:
        row = table.loc[p.key]
        rows.append(
            {
                "parameter": p.key,
                "true": truth[p.key],
                "recovered": row["best"],
                "good_low": row["good_low"],
                "good_high": row["good_high"],
                "bound_low": p.low,
                "bound_high": p.high,
                "share_of_range": row["share_of_range"],
                "truth_inside": bool(row["good_low"] <= truth[p.key] <= row["good_high"]),
            }
        )
    return pd.DataFrame(rows)
