"""Analysis of a sweep folder: means with 95% confidence intervals, main effects, Sobol' indices.

Everything is read from the folder (``plan.json`` and the parts), so a sweep
can be analysed while it is still running, on another machine, or years later.

* :func:`point_summary`: per design point, company and metric, the mean over
  replications with a 95% Student-t confidence interval (a tidy table).
* :func:`main_effects`: per factor value (or bin of a continuous factor), the
  mean over all runs at that value, with a 95% interval over those runs (which
  includes the variation due to the other factors).
* :func:`two_factor_grid`: means over a grid of two factors (the heatmap).
* :func:`sobol_indices`: first-order and total Sobol' indices per metric and
  company (``SALib.analyze.sobol``), for a ``sobol`` design, computed on each
  point's mean over replications.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cxsim.stats import group_mean_ci
from cxsim.sweeps.store import OK, SweepStore

#: Most bins of a continuous factor in main-effect plots.
MAX_BINS = 8
#: Most bins of a continuous factor on a heatmap's axis (cells need several points each).
MAX_GRID_BINS = 5
#: Bootstrap resamples for the confidence intervals of Sobol' indices.
SOBOL_RESAMPLES = 200


@dataclass
class SweepResults:
    """The recorded runs of a sweep, restricted to its plan's points and replications.

    Attributes:
        out_dir: the sweep folder.
        record: the plan record (``plan.json``).
        runs: one row per run and company (a failed run: one row with no company).

    """

    out_dir: Path
    record: dict[str, Any]
    runs: pd.DataFrame

    @property
    def factors(self) -> list[dict[str, Any]]:
        """The factors as recorded (key, levels or range, value type)."""
        return list(self.record["factors"])

    @property
    def factor_keys(self) -> list[str]:
        """Dotted keys of the factors."""
        return [f["key"] for f in self.record["factors"]]

    @property
    def metrics(self) -> list[str]:
        """Kept per-company figures."""
        return list(self.record["summary_metrics"])

    @property
    def companies(self) -> list[str]:
        """Company names, in the scenario's order."""
        return list(self.record["companies"])

    @property
    def ok(self) -> pd.DataFrame:
        """Rows of the runs that finished."""
        return self.runs[self.runs["status"] == OK]

    @property
    def failed(self) -> pd.DataFrame:
        """One row per failed run, with its error."""
        return self.runs[self.runs["status"] != OK].drop_duplicates("run_id")

    @property
    def planned(self) -> int:
        """Runs in the plan."""
        return int(self.record["points"]) * int(self.record["replications"])

    @property
    def recorded(self) -> int:
        """Planned runs recorded (finished or failed)."""
        return int(self.runs["run_id"].nunique())


def load_results(
    out_dir: str | os.PathLike[str], *, store: SweepStore | None = None
) -> SweepResults:
    """Read a sweep folder (``store``: the folder's store, if the caller has one).

    Parts that cannot be read are skipped, each with an
    :class:`~cxsim.sweeps.store.UnreadablePartWarning`.

    Raises:
        PlanError: if the folder is not a sweep folder.

    """
    store = store or SweepStore(out_dir)
    record = store.read_record()
    runs = store.runs_frame()
    store.warn_unreadable_parts()
    runs = runs[
        (runs["point"] < int(record["points"]))
        & (runs["replication"] < int(record["replications"]))
    ]
    return SweepResults(Path(out_dir), record, runs.reset_index(drop=True))


def load_daily(out_dir: str | os.PathLike[str], *, store: SweepStore | None = None) -> pd.DataFrame:
    """The kept daily series of a sweep: run, point, replication, company, day, metrics.

    Parts that cannot be read are skipped with a warning, as in :func:`load_results`.
    """
    store = store or SweepStore(out_dir)
    record = store.read_record()
    daily = store.daily_frame()
    store.warn_unreadable_parts()
    keep = (daily["point"] < int(record["points"])) & (
        daily["replication"] < int(record["replications"])
    )
    return daily[keep].reset_index(drop=True)


# --------------------------------------------------------------------------- statistics


def _long(results: SweepResults, metrics: list[str] | None = None) -> pd.DataFrame:
    """OK runs as a long table: one row per run, company and metric."""
    metrics = metrics or results.metrics
    ok = results.ok
    return ok.melt(
        id_vars=["run_id", "point", "replication", "company", *results.factor_keys],
        value_vars=metrics,
        var_name="metric",
        value_name="value",
    )


def point_summary(results: SweepResults) -> pd.DataFrame:
    """Tidy table: per point, company and metric, the mean over replications with a 95% CI."""
    long = _long(results)
    if long.empty:
        columns = ["point", *results.factor_keys, "company", "metric", "runs", "mean", "std"]
        return pd.DataFrame(columns=[*columns, "ci95_low", "ci95_high"])
    stats = group_mean_ci(
        long.groupby(["point", "company", "metric"], sort=False)["value"]
    ).reset_index()
    points = pd.read_parquet(results.out_dir / "points.parquet")
    table = stats.merge(points, on="point", how="left")
    order = {m: i for i, m in enumerate(results.metrics)}
    company_order = {c: i for i, c in enumerate(results.companies)}
    table = table.sort_values(
        ["point", "company", "metric"],
        key=lambda s: (
            s.map(company_order)
            if s.name == "company"
            else s.map(order)
            if s.name == "metric"
            else s
        ),
    )
    columns = [
        "point",
        *results.factor_keys,
        "company",
        "metric",
        "runs",
        "mean",
        "std",
        "ci95_low",
        "ci95_high",
    ]
    return table[columns].reset_index(drop=True)


# --------------------------------------------------------------------------- main effects


def factor_levels(
    results: SweepResults, key: str, values: pd.Series, max_bins: int = MAX_BINS
) -> tuple[pd.Series, list[Any]]:
    """The level of each value for plotting: the value itself, or its bin's mean for a continuous factor.

    Returns:
        The level of each row, and the levels in display order.

    """
    spec = next(f for f in results.factors if f["key"] == key)
    if "range" not in spec or values.nunique() <= max_bins:
        listed = spec.get("levels") if "range" not in spec else None
        present = set(values.dropna().unique())
        order = [v for v in listed if v in present] if listed is not None else sorted(present)
        return values, order
    bins = pd.qcut(values, q=max_bins, duplicates="drop")
    centres = values.groupby(bins, observed=True).transform("mean")
    return centres, sorted(centres.unique())


def level_label(value: Any) -> str:
    """How a factor value is shown: 4 significant digits for numbers, else as written."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return f"{value:.4g}"
    return str(value)


def main_effects(results: SweepResults, metric: str) -> pd.DataFrame:
    """Per factor, level and company: mean of ``metric`` over all runs at that level, with a 95% CI.

    Columns: factor, level, label (the level as shown), position (of the level in display
    order), company, runs, mean, std, ci95_low, ci95_high.
    """
    ok = results.ok
    frames = []
    for key in results.factor_keys:
        if ok.empty:
            break
        levels, order = factor_levels(results, key, ok[key])
        grouped = ok.assign(level=levels.to_numpy()).groupby(["level", "company"], sort=False)[
            metric
        ]
        stats = group_mean_ci(grouped).reset_index()
        position = {v: i for i, v in enumerate(order)}
        stats["position"] = stats["level"].map(position)
        # Labels now: once factors of different types share the level column, pandas may
        # turn true/false into 1.0/0.0.
        stats["label"] = stats["level"].map(level_label)
        stats.insert(0, "factor", key)
        frames.append(stats.sort_values(["company", "position"]))
    if not frames:
        return pd.DataFrame(
            columns=[
                "factor",
                "level",
                "label",
                "position",
                "company",
                "runs",
                "mean",
                "std",
                "ci95_low",
                "ci95_high",
            ]
        )
    return pd.concat(frames, ignore_index=True)


def two_factor_grid(
    results: SweepResults, metric: str, factor_a: str, factor_b: str
) -> pd.DataFrame:
    """Mean of ``metric`` per level of ``factor_a`` and ``factor_b`` and company (for a heatmap)."""
    ok = results.ok
    if ok.empty:
        return pd.DataFrame(columns=["company", "a", "b", "mean", "runs"])
    level_a, order_a = factor_levels(results, factor_a, ok[factor_a], MAX_GRID_BINS)
    level_b, order_b = factor_levels(results, factor_b, ok[factor_b], MAX_GRID_BINS)
    grid = (
        ok.assign(a=level_a.to_numpy(), b=level_b.to_numpy())
        .groupby(["company", "a", "b"], sort=False)[metric]
        .agg(["mean", "count"])
        .rename(columns={"count": "runs"})
        .reset_index()
    )
    grid.attrs["order_a"] = order_a
    grid.attrs["order_b"] = order_b
    return grid


# --------------------------------------------------------------------------- Sobol' indices


@dataclass
class SobolIndices:
    """Sobol' indices of a sweep.

    Attributes:
        first_total: metric, company, factor, S1, S1_conf, ST, ST_conf (conf: half-width of a
            95% bootstrap interval).
        second_order: metric, company, factor_a, factor_b, S2, S2_conf (if the plan asked).
        skipped: metric/company pairs that could not be analysed, with the reason.

    """

    first_total: pd.DataFrame
    second_order: pd.DataFrame
    skipped: list[str] = field(default_factory=list)


def sobol_indices(results: SweepResults) -> SobolIndices:
    """First-order and total Sobol' indices per metric and company (``SALib.analyze.sobol``).

    Each point's output is its mean over the replications that finished; a
    metric is skipped for a company if some point has no finite value.
    """
    from SALib.analyze import sobol as sobol_analyze

    from cxsim.sweeps.design import Factor, salib_problem

    record = results.record
    if record["design"] != "sobol":
        raise ValueError("Sobol' indices need a sobol design")
    keys = results.factor_keys
    problem = salib_problem([Factor(key=k) for k in keys])
    n_points = int(record["points"])
    second = bool(record["second_order"])
    rows, pairs, skipped = [], [], []
    means = results.ok.groupby(["company", "point"])[results.metrics].mean()
    for metric in results.metrics:
        for company in results.companies:
            try:
                y = means.loc[company, metric].reindex(range(n_points)).to_numpy(dtype=np.float64)
            except KeyError:
                y = np.full(n_points, np.nan)
            missing = int(np.count_nonzero(~np.isfinite(y)))
            if missing:
                skipped.append(
                    f"{metric} ({company}): {missing} of {n_points} points have no finite value"
                )
                continue
            if np.ptp(y) == 0:
                skipped.append(f"{metric} ({company}): the same value at every point")
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                analysis = sobol_analyze.analyze(
                    problem,
                    y,
                    calc_second_order=second,
                    num_resamples=SOBOL_RESAMPLES,
                    conf_level=0.95,
                    print_to_console=False,
                    seed=int(record["seed"]) % 2**32,
                )
            for i, key in enumerate(keys):
                rows.append(
                    {
                        "metric": metric,
                        "company": company,
                        "factor": key,
                        "S1": analysis["S1"][i],
                        "S1_conf": analysis["S1_conf"][i],
                        "ST": analysis["ST"][i],
                        "ST_conf": analysis["ST_conf"][i],
                    }
                )
            if second:
                for i in range(len(keys)):
                    for j in range(i + 1, len(keys)):
                        pairs.append(
                            {
                                "metric": metric,
                                "company": company,
                                "factor_a": keys[i],
                                "factor_b": keys[j],
                                "S2": analysis["S2"][i, j],
                                "S2_conf": analysis["S2_conf"][i, j],
                            }
                        )
    first_total = pd.DataFrame(
        rows, columns=["metric", "company", "factor", "S1", "S1_conf", "ST", "ST_conf"]
    )
    second_order = pd.DataFrame(
        pairs, columns=["metric", "company", "factor_a", "factor_b", "S2", "S2_conf"]
    )
    return SobolIndices(first_total, second_order, skipped)
