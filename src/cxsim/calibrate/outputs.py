"""What a calibration writes: the fitted scenario, the fit per target, every trial, the spread of good fits.

Files in the calibration folder (all written atomically, :mod:`cxsim.files`):

* ``best.toml``: the base scenario with the fitted values (and the calibration's seed): a
  scenario file that ``cxsim run`` accepts; ``cxsim run best.toml -r R`` repeats the fit's runs
  of the base (targets with a variant ran their own overrides on top of it).
* ``fit.csv``: one row per target and cell: observed, simulated mean over the fit's replications
  with its 95% confidence interval (:func:`cxsim.stats.mean_ci`, cut to [0, 1] for shares), the
  cases it rests on, and its contribution to the objective, at the best values and at the start.
* ``confirm.csv`` (with ``--confirm R``): the same at the best values on R fresh replications.
* ``trials.parquet``: one row per trial: state, objective, values, each target's part, whether
  it is among the good fits.
* ``spread.csv``: per parameter, the best value and the range of the good fits (all trials
  within the margin of the reference level; see :mod:`cxsim.calibrate.spread`), and the share of
  that range the last half of the spread trials added (:func:`spread_table`).
* ``calibration_report.html``: :mod:`cxsim.calibrate.report`.
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from cxsim.calibrate.evaluation import Evaluation, objective
from cxsim.calibrate.spec import Calibration, Parameter, _typed, describe_variant
from cxsim.calibrate.spread import Margin, evaluation_of, margin_of, ranked
from cxsim.files import atomic_write_table, atomic_write_text
from cxsim.params import ModelParams, NetworkKind, resolve, set_dotted
from cxsim.stats import mean_ci

BEST_FILE = "best.toml"
FIT_FILE = "fit.csv"
CONFIRM_FILE = "confirm.csv"
TRIALS_FILE = "trials.parquet"
SPREAD_FILE = "spread.csv"
REPORT_FILE = "calibration_report.html"


@dataclass
class CalibrationResult:
    """What :func:`cxsim.calibrate` returns: the best values and how well they fit.

    Attributes:
        out_dir: the calibration folder.
        best_values: the fitted parameters' best values (dotted key -> value).
        best_value: the best objective.
        best_trial: the number of the best trial.
        params: the base scenario's parameters at the best values.
        fit: the fit table (``fit.csv``).
        trials: every trial (``trials.parquet``).
        spread: the spread of good fits per parameter (``spread.csv``).
        margin: the margin of good fits.
        confirm: the fit on fresh replications (``confirm.csv``), if asked for.
        files: the files written.

    """

    out_dir: Path
    best_values: dict[str, Any]
    best_value: float
    best_trial: int
    params: ModelParams
    fit: pd.DataFrame
    trials: pd.DataFrame
    spread: pd.DataFrame
    margin: Margin
    confirm: pd.DataFrame | None = None
    files: list[Path] = field(default_factory=list)


# --------------------------------------------------------------------------- trials


def trials_frame(calibration: Calibration, study: Any) -> pd.DataFrame:
    """One row per trial: number, batch, state, objective, values, parts, seconds, error."""
    rows = []
    size = calibration.spec.batch_size
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        evaluation = attrs.get("evaluation") or {}
        parts = evaluation.get("parts") or {}
        row: dict[str, Any] = {
            "trial": trial.number,
            "batch": trial.number // size,
            "state": trial.state.name,
            "objective": trial.value if trial.value is not None else np.nan,
            "start": bool(attrs.get("start", False)),
            "phase": attrs.get("phase", "search"),
        }
        for p in calibration.parameters:
            row[p.key] = trial.params.get(p.key, np.nan)
        for t in calibration.targets:
            row[f"part: {t.name}"] = parts.get(t.name, np.nan)
        row["seconds"] = evaluation.get("seconds", np.nan)
        row["error"] = attrs.get("error") or evaluation.get("error")
        row["started"] = trial.datetime_start
        row["finished"] = trial.datetime_complete
        rows.append(row)
    return pd.DataFrame(rows)


def best_of(calibration: Calibration, study: Any) -> dict[str, Any]:
    """The values of the best finished trial (ties: the earliest)."""
    order = ranked(study.get_trials(deepcopy=False))
    if not order:
        raise RuntimeError("no trial finished")
    best = order[0]
    return {p.key: _typed(best.params[p.key], p.value_type) for p in calibration.parameters}


# --------------------------------------------------------------------------- fit tables


def fit_table(calibration: Calibration, evaluation: Evaluation) -> pd.DataFrame:
    """One row per target and cell: observed, simulated mean and 95% CI, cases, contribution."""
    means = evaluation.means()
    rows = []
    for target in calibration.targets:
        lik = target.likelihood
        values = evaluation.values[target.index]
        sizes = evaluation.sizes.get(target.index)
        deviance = target.deviance(means[target.index])
        effective = lik.effective_n
        for c, cell in enumerate(target.cells):
            mean, low, high = mean_ci(
                values[:, c],
                lower=0.0 if target.share else None,
                upper=1.0 if target.share else None,
            )
            rows.append(
                {
                    "target": target.name,
                    "cell": cell,
                    "measure": target.measurement.name,
                    "variant": describe_variant(calibration.variants[target.variant]),
                    "likelihood": lik.kind,
                    "observed": lik.observed[c],
                    "low": np.nan if lik.low is None else lik.low[c],
                    "high": np.nan if lik.high is None else lik.high[c],
                    "n": np.nan if lik.n is None else lik.n[c],
                    "effective_n": np.nan if effective is None else effective[c],
                    "sd": np.nan if lik.sd is None else lik.sd[c],
                    "weight": target.weight,
                    "simulated": mean,
                    "ci95_low": low,
                    "ci95_high": high,
                    "simulated_cases": np.nan if sizes is None else float(np.nanmean(sizes[:, c])),
                    "contribution": deviance[c] if target.weight > 0 else 0.0,
                }
            )
    return pd.DataFrame(rows)


def with_start(best: pd.DataFrame, start: pd.DataFrame | None) -> pd.DataFrame:
    """The fit table with the start's simulated mean and contribution alongside."""
    out = best.copy()
    if start is None:
        out["start_simulated"] = np.nan
        out["start_contribution"] = np.nan
    else:
        out["start_simulated"] = start["simulated"].to_numpy()
        out["start_contribution"] = start["contribution"].to_numpy()
    return out


# --------------------------------------------------------------------------- spread of good fits


def spread_table(calibration: Calibration, trials: pd.DataFrame, best: pd.Series) -> pd.DataFrame:
    """Per parameter: bounds, start, best value, and the range of the good fits.

    ``last_half_added``: the share of the range that the good fits among the last half of the
    spread trials added to the range of the others (NaN with fewer than two spread trials). A
    region that is mapped stops growing; a large share says that more spread trials would
    widen the range (experiments/calibration_coverage.py: ranges mapped by too few trials
    miss values inside the region).
    """
    good = trials[trials["good"]]
    spread_numbers = np.sort(trials.loc[trials["phase"] == "spread", "trial"].to_numpy())
    earlier = (
        good[good["trial"] < spread_numbers[len(spread_numbers) // 2]]
        if len(spread_numbers) >= 2
        else None
    )

    def width(p: Parameter, low: float, high: float) -> float:
        if p.log:
            return (math.log(high) - math.log(low)) / (math.log(p.high) - math.log(p.low))
        return (high - low) / (p.high - p.low)

    rows = []
    for p in calibration.parameters:
        low, high = float(good[p.key].min()), float(good[p.key].max())
        share = width(p, low, high)
        added = float("nan")
        if earlier is not None:
            before = (
                width(p, float(earlier[p.key].min()), float(earlier[p.key].max()))
                if len(earlier)
                else 0.0
            )
            added = 1.0 - before / share if share > 0 else 0.0
        rows.append(
            {
                "parameter": p.key,
                "bound_low": p.low,
                "bound_high": p.high,
                "log": p.log,
                "start": p.start,
                "best": float(best[p.key]),
                "good_low": low,
                "good_high": high,
                "share_of_range": share,
                "good_trials": len(good),
                "last_half_added": added,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- best.toml


def best_tables(calibration: Calibration, values: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """The base scenario's tables with the fixed and fitted values and the calibration's seed."""
    tables = copy.deepcopy(calibration.base_tables)
    settings = {
        **calibration.spec.fixed,
        **calibration.with_ties(values),
        "market.seed": calibration.seed,
    }
    # Presets first, as the resolver applies them: a field set beside a preset wins.
    for key, value in sorted(settings.items(), key=lambda kv: not kv[0].endswith(".preset")):
        set_dotted(tables, key, value)
    network = calibration.base.network
    if network.kind == NetworkKind.file and network.path and calibration.base_dir is not None:
        path = Path(network.path)
        if not path.is_absolute():  # keep a relative network file found from the new place
            moved = os.path.relpath(calibration.base_dir / path, out_dir.resolve())
            set_dotted(tables, "network.path", Path(moved).as_posix())
    return _without_none(tables)


def _without_none(value: Any) -> Any:
    """TOML has no null: drop unset optional fields."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def best_toml(
    calibration: Calibration, values: dict[str, Any], trial: int, value: float, out_dir: Path
) -> str:
    """The text of ``best.toml``: a comment header, then the scenario's tables."""
    import tomli_w

    tables = best_tables(calibration, values, out_dir)
    expected = resolve(
        calibration.base, {**calibration.with_ties(values), "market.seed": calibration.seed}
    )
    written = resolve(tables, label=BEST_FILE)
    if written.model_dump(exclude={"network"}) != expected.model_dump(exclude={"network"}):
        raise RuntimeError("best.toml would not give the fitted parameters")  # a bug, not input
    width = max(len(k) for k in values)
    lines = [
        f"# {calibration.name}: the base scenario with the values fitted by cxsim calibrate.",
        "#",
        f"# Fitted by {calibration.label} (trial {trial} of the study, objective {value:.4g}):",
        *(f"#   {k.ljust(width)} = {v!r}" for k, v in values.items()),
        *(
            [
                "# Tied to them (a stated ratio, not fitted):",
                *(f"#   {t.key} = {t.times:g} x {t.of}" for t in calibration.ties),
            ]
            if calibration.ties
            else []
        ),
        f"# market.seed = {calibration.seed} is the calibration's seed: cxsim run best.toml -r "
        f"{calibration.spec.replications} repeats the fit's runs of the base scenario.",
        "",
    ]
    return "\n".join(lines) + tomli_w.dumps(tables)


# --------------------------------------------------------------------------- writing


def write_outputs(
    calibration: Calibration,
    study: Any,
    out_dir: Path,
    confirm: Evaluation | None = None,
    *,
    report: bool = True,
    plotly_js: str = "inline",
) -> CalibrationResult:
    """Write every output of a finished (or stopped) study (the report if asked); return them."""
    trials_all = study.get_trials(deepcopy=False)
    order = ranked(trials_all)
    good_margin = margin_of(calibration, trials_all)
    if not order or good_margin is None:
        raise RuntimeError("no trial finished; nothing to report")
    best_trial = order[0]
    best_eval = evaluation_of(best_trial)
    assert best_eval is not None

    trials = trials_frame(calibration, study)
    trials["good"] = (trials["state"] == "COMPLETE") & (trials["objective"] <= good_margin.level)
    best_row = trials.set_index("trial").loc[best_trial.number]
    spread = spread_table(calibration, trials, best_row)
    start_trial = next((t for t in trials_all if t.user_attrs.get("start")), None)
    start_eval = evaluation_of(start_trial) if start_trial is not None else None
    start_fit = (
        fit_table(calibration, start_eval)
        if start_eval is not None and start_eval.error is None
        else None
    )
    fit = with_start(fit_table(calibration, best_eval), start_fit)
    values = {p.key: _typed(best_trial.params[p.key], p.value_type) for p in calibration.parameters}

    out_dir = Path(out_dir)
    files = [out_dir / BEST_FILE, out_dir / FIT_FILE, out_dir / TRIALS_FILE, out_dir / SPREAD_FILE]
    atomic_write_text(
        files[0], best_toml(calibration, values, best_trial.number, best_trial.value, out_dir)
    )
    atomic_write_text(files[1], fit.to_csv(index=False))
    atomic_write_table(files[2], pa.Table.from_pandas(trials, preserve_index=False))
    atomic_write_text(files[3], spread.to_csv(index=False))
    confirm_fit = None
    if confirm is not None:
        confirm_fit = fit_table(calibration, confirm)
        files.append(out_dir / CONFIRM_FILE)
        atomic_write_text(files[-1], confirm_fit.to_csv(index=False))
    result = CalibrationResult(
        out_dir=out_dir,
        best_values=values,
        best_value=float(best_trial.value),
        best_trial=best_trial.number,
        params=resolve(
            calibration.base, {**calibration.with_ties(values), "market.seed": calibration.seed}
        ),
        fit=fit,
        trials=trials,
        spread=spread,
        margin=good_margin,
        confirm=confirm_fit,
        files=files,
    )
    if report:
        from cxsim.calibrate.report import write_report

        path = out_dir / REPORT_FILE
        result.files.append(write_report(calibration, study, result, path, plotly_js))
    return result


def confirm_objective(calibration: Calibration, evaluation: Evaluation) -> float:
    """The objective of the best values on the confirmation's fresh replications (NaN if unmeasured)."""
    try:
        return objective(calibration, evaluation)[0]
    except ValueError:
        return float("nan")
