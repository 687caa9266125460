"""Analysis of a sweep folder: means with 95% confidence intervals, main effects, Sobol' indices.

Everything is read from the folder (``plan.json`` and the parts), so a sweep
can be analysed while it is still running, on another machine, or years later.

* :func:`point_summary`: per design point, company and metric, the mean over
  replications with a 95% Student-t confidence interval (a tidy table).
* :func:`main_effects`: per factor value (or bin of a continuous factor), the
  mean over all runs at that value, with a 95% interval over those runs (which
  includes the variation due to the other factors).
* :func:`level_contrasts`: per factor, each level against the reference level
  (the first), paired replication by replication: replication r of every point
  had the same luck (common random numbers), so the difference is taken within
  each replication and the 95% interval is of the mean difference over
  replications. Much narrower than two overlapping main-effect bands suggest.
* :func:`named_comparisons`: the plan's ``[[comparisons]]``, B - A, paired the same way.
* :func:`two_factor_grid`: means over a grid of two factors (the heatmap).
* :func:`sobol_indices`: first-order and total Sobol' indices per metric and
  company (``SALib.analyze.sobol``), for a ``sobol`` design, computed on each
  point's mean over replications; :func:`sobol_precision` says whether their
  bootstrap intervals are narrow enough to read (:data:`SOBOL_MAX_HALF_WIDTH`).

Every interval is cut to the range of what it bounds (:func:`cxsim.summary.figure_range`):
a count's never goes below 0, a share's never leaves [0, 1].
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cxsim.stats import difference_range, group_mean_ci, mean_ci
from cxsim.summary import figure_range
from cxsim.sweeps.store import OK, SweepStore

#: Most bins of a continuous factor in main-effect plots.
MAX_BINS = 8
#: Most bins of a continuous factor on a heatmap's axis (cells need several points each).
MAX_GRID_BINS = 5
#: Bootstrap resamples for the confidence intervals of Sobol' indices.
SOBOL_RESAMPLES = 200
#: Widest 95% bootstrap half-width at which a Sobol' index is worth reading. An index is a
#: share of the output's variance, read against [0, 1]: an interval wider than +-0.1 cannot
#: tell a factor that explains a tenth of the variance from one that explains none.
SOBOL_MAX_HALF_WIDTH = 0.1


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
    def heatmap(self) -> tuple[str, str] | None:
        """The two factors of the heatmaps: the plan's ``heatmap``, else the first two."""
        chosen = self.record.get("heatmap")
        if chosen:
            return (chosen[0], chosen[1])
        keys = self.factor_keys
        return (keys[0], keys[1]) if len(keys) >= 2 else None

    @property
    def comparisons(self) -> list[dict[str, Any]]:
        """The plan's named comparisons (name, a, b)."""
        return list(self.record.get("comparisons") or [])

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


def point_summary(results: SweepResults) -> pd.DataFrame:
    """Tidy table: per point, company and metric, the mean over replications with a 95% CI.

    Each interval is cut to the metric's range (:func:`cxsim.summary.figure_range`).
    """
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
    ok = results.ok
    if ok.empty:
        return pd.DataFrame(columns=columns)
    grouped = ok.groupby(["point", "company"], sort=False)
    frames = []
    for metric in results.metrics:
        lower, upper = figure_range(metric)
        stats = group_mean_ci(grouped[metric], lower=lower, upper=upper).reset_index()
        frames.append(stats.assign(metric=metric))
    stats = pd.concat(frames, ignore_index=True)
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
        lower, upper = figure_range(metric)
        stats = group_mean_ci(grouped, lower=lower, upper=upper).reset_index()
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


# --------------------------------------------------------------------------- paired contrasts

#: Columns of :func:`level_contrasts` and :func:`named_comparisons` after their own.
CONTRAST_COLUMNS = [
    "company",
    "metric",
    "replications",
    "mean_a",
    "mean_b",
    "difference",
    "ci95_low",
    "ci95_high",
]


def paired_difference(
    results: SweepResults, in_a: np.ndarray, in_b: np.ndarray, match: list[str]
) -> pd.DataFrame:
    """B - A for every company and metric, paired replication by replication.

    Rows ``in_b`` and ``in_a`` (masks over :attr:`SweepResults.ok`) of one
    replication had the same luck (common random numbers). With ``match``
    factors (a full factorial), a B row is paired with the A row of the same
    replication and the same values of those factors; otherwise each arm's rows
    of a replication are averaged first. The difference per replication is then
    averaged over replications, which are independent, with a 95% t interval
    cut to the range of a difference of the metric (:func:`cxsim.stats.difference_range`).

    Returns:
        One row per company and metric: replications (pairs), mean_a, mean_b (means over
        those replications), difference, ci95_low, ci95_high.

    """
    ok = results.ok
    metrics = results.metrics
    keys = ["replication", "company", *match]
    arm_a = ok.loc[in_a, keys + metrics]
    arm_b = ok.loc[in_b, keys + metrics]
    if match:
        pairs = arm_a.merge(arm_b, on=keys, suffixes=("_a", "_b"))
        per_replication = pairs.groupby(["company", "replication"], sort=False).mean(
            numeric_only=True
        )
    else:
        mean_a = arm_a.groupby(["company", "replication"], sort=False)[metrics].mean()
        mean_b = arm_b.groupby(["company", "replication"], sort=False)[metrics].mean()
        per_replication = mean_a.merge(
            mean_b, left_index=True, right_index=True, suffixes=("_a", "_b")
        )
    rows = []
    for company in results.companies:
        if company not in per_replication.index.get_level_values("company"):
            continue
        part = per_replication.xs(company, level="company")
        for metric in metrics:
            a = part[f"{metric}_a"].to_numpy(dtype=np.float64)
            b = part[f"{metric}_b"].to_numpy(dtype=np.float64)
            lower, upper = difference_range(*figure_range(metric))
            difference, low, high = mean_ci(b - a, lower=lower, upper=upper)
            both = ~(np.isnan(a) | np.isnan(b))
            rows.append(
                {
                    "company": company,
                    "metric": metric,
                    "replications": int(both.sum()),
                    "mean_a": float(a[both].mean()) if both.any() else np.nan,
                    "mean_b": float(b[both].mean()) if both.any() else np.nan,
                    "difference": difference,
                    "ci95_low": low,
                    "ci95_high": high,
                }
            )
    return pd.DataFrame(rows, columns=CONTRAST_COLUMNS)


def _matched_factors(results: SweepResults, named: list[str]) -> list[str]:
    """The factors a contrast pairs rows on: the others, where the design crosses them all."""
    if results.record["design"] != "full_factorial":
        return []
    return [key for key in results.factor_keys if key not in named]


def level_contrasts(results: SweepResults) -> pd.DataFrame:
    """Per factor, each level against the factor's reference level (its first), paired by replication.

    Columns: factor, level, label, position (of the level in display order),
    reference (the reference level's label), then :data:`CONTRAST_COLUMNS`
    (``mean_a``: at the reference, ``mean_b``: at the level). A continuous
    factor's levels are the bins of the main-effect plots.
    """
    ok = results.ok
    frames = []
    for key in results.factor_keys:
        if ok.empty:
            break
        levels, order = factor_levels(results, key, ok[key])
        level_of_row = levels.to_numpy()
        if len(order) < 2:
            continue
        reference = order[0]
        # A binned level holds several values: its rows pair with every reference row of
        # the same cell, whose mean difference is the difference of the cell's means.
        match = _matched_factors(results, [key])
        for position, level in enumerate(order[1:], start=1):
            table = paired_difference(
                results, level_of_row == reference, level_of_row == level, match
            )
            table.insert(0, "reference", level_label(reference))
            table.insert(0, "position", position)
            table.insert(0, "label", level_label(level))
            table.insert(0, "level", level)
            table.insert(0, "factor", key)
            frames.append(table)
    columns = ["factor", "level", "label", "position", "reference", *CONTRAST_COLUMNS]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def named_comparisons(results: SweepResults) -> pd.DataFrame:
    """The plan's ``[[comparisons]]``: B - A per company and metric, paired by replication.

    Columns: comparison (its name), a, b (the arms' factor values as text), then
    :data:`CONTRAST_COLUMNS`.
    """
    ok = results.ok
    frames = []
    for comparison in results.comparisons:
        if ok.empty:
            break
        masks = []
        for arm in ("a", "b"):
            mask = np.ones(len(ok), dtype=bool)
            for key, value in comparison[arm].items():
                mask &= (ok[key] == value).to_numpy()
            masks.append(mask)
        match = _matched_factors(results, list(comparison["a"]))
        table = paired_difference(results, masks[0], masks[1], match)
        for arm in ("b", "a"):
            text = ", ".join(f"{k} = {level_label(v)}" for k, v in comparison[arm].items())
            table.insert(0, arm, text)
        table.insert(0, "comparison", comparison["name"])
        frames.append(table)
    columns = ["comparison", "a", "b", *CONTRAST_COLUMNS]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


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


def sobol_precision(indices: SobolIndices, samples: int) -> pd.DataFrame:
    """Whether each metric's Sobol' indices are narrow enough to read, and what would make them so.

    An index is read against [0, 1]; its 95% bootstrap interval must be within
    +-:data:`SOBOL_MAX_HALF_WIDTH`. Bootstrap widths fall as 1/sqrt(N) in the base
    sample N, so a widest half-width w at N samples needs about N (w / 0.1)^2,
    rounded up to a power of 2 (Sobol' sequences are balanced there).

    Returns:
        One row per metric and company: half_width (the widest of its S1 and ST intervals),
        widest (which index and factor), readable, samples_needed.

    """
    rows = []
    table = indices.first_total
    for (metric, company), part in table.groupby(["metric", "company"], sort=False):
        widths = part.melt(id_vars=["factor"], value_vars=["S1_conf", "ST_conf"]).dropna()
        if widths.empty:
            continue
        top = widths.loc[widths["value"].idxmax()]
        half = float(top["value"])
        needed = samples * (half / SOBOL_MAX_HALF_WIDTH) ** 2
        rows.append(
            {
                "metric": metric,
                "company": company,
                "half_width": half,
                "widest": f"{top['variable'].removesuffix('_conf')} of {top['factor']}",
                "readable": half <= SOBOL_MAX_HALF_WIDTH,
                "samples_needed": max(samples, 1 << max(0, math.ceil(math.log2(needed)))),
            }
        )
    columns = ["metric", "company", "half_width", "widest", "readable", "samples_needed"]
    return pd.DataFrame(rows, columns=columns)


def sobol_warning(precision: pd.DataFrame, samples: int) -> str | None:
    """One line saying that the indices are too uncertain to read, and why; ``None`` if they are not."""
    wide = precision[~precision["readable"]]
    if wide.empty:
        return None
    worst = wide.loc[wide["half_width"].idxmax()]
    return (
        f"Sobol' indices from {samples:,} samples are too uncertain to read: "
        f"{len(wide)} of {len(precision)} metric/company pairs have a 95% bootstrap interval "
        f"wider than +-{SOBOL_MAX_HALF_WIDTH:g} (up to +-{worst['half_width']:.2f}, "
        f"{worst['widest']} for {worst['metric']}, {worst['company']}), and +-{SOBOL_MAX_HALF_WIDTH:g} "
        "is the width at which an index can tell a factor that explains a tenth of the "
        "variance from one that explains none; intervals narrow as 1/sqrt(samples), so about "
        f"samples = {int(wide['samples_needed'].max()):,} would be needed"
    )
