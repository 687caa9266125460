"""Means and 95% confidence intervals: one definition for runs, comparisons, sweeps and experiments.

An interval is the Student-t interval of a mean over independent replications
(or of a mean paired difference, for runs on common random numbers). Where the
quantity has a natural range (a count or a cost cannot be negative, a share
lies in [0, 1]), the interval is cut to that range: it bounds the mean, which
lies in the same range.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def t_quantile_975(df: np.ndarray | float) -> np.ndarray | float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom, for 95% intervals.

    Vectorised; NaN where ``df < 1`` (one value has no interval). A scalar gives a float.
    """
    df_array = np.asarray(df, dtype=np.float64)
    q = np.full(df_array.shape, np.nan)
    some = df_array >= 1
    if some.any():
        # Imported here: scipy.stats takes most of a second to import, and a run of one
        # replication (the README's first command) has no interval to compute.
        from scipy.stats import t as student_t

        q[some] = student_t.ppf(0.975, df_array[some])
    return float(q) if q.ndim == 0 else q


def half_width(std: np.ndarray | float, n: np.ndarray | float) -> np.ndarray | float:
    """Half the width of the 95% t interval of a mean of ``n`` values with standard deviation ``std``."""
    n_array = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = t_quantile_975(n_array - 1) * np.asarray(std) / np.sqrt(np.maximum(n_array, 1))
    return float(half) if np.ndim(half) == 0 else half


def mean_ci(
    values: np.ndarray | list[float] | pd.Series,
    *,
    lower: float | None = None,
    upper: float | None = None,
) -> tuple[float, float, float]:
    """Mean and 95% t confidence interval of the mean (NaN values left out).

    Args:
        values: one value per replication (or per pair, for a paired difference).
        lower: the smallest value the quantity can take (e.g. 0 for a count); the interval
            is cut there.
        upper: the largest value it can take (e.g. 1 for a share).

    Returns:
        (mean, low, high); the interval is NaN for fewer than two values.

    """
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    mean = float(x.mean()) if x.size else math.nan
    if x.size < 2:
        return mean, math.nan, math.nan
    half = float(half_width(x.std(ddof=1), x.size))
    low, high = mean - half, mean + half
    if lower is not None:
        low = max(low, lower)
    if upper is not None:
        high = min(high, upper)
    return mean, low, high


def group_mean_ci(
    grouped: pd.core.groupby.SeriesGroupBy,
    *,
    lower: float | None = None,
    upper: float | None = None,
) -> pd.DataFrame:
    """Per group: runs, mean, std and the 95% t interval of the mean (NaN values left out).

    ``lower`` and ``upper`` are the range of the quantity, where the intervals are cut
    (as in :func:`mean_ci`).
    """
    stats = grouped.agg(["count", "mean", "std"]).rename(columns={"count": "runs"})
    half = half_width(stats["std"].to_numpy(), stats["runs"].to_numpy())
    stats["ci95_low"] = (stats["mean"] - half).clip(lower=lower)
    stats["ci95_high"] = (stats["mean"] + half).clip(upper=upper)
    return stats


def difference_range(lower: float | None, upper: float | None) -> tuple[float | None, float | None]:
    """The range of a difference of two values that lie in [lower, upper] (e.g. [-1, 1] for shares)."""
    if lower is None or upper is None:
        return None, None
    return lower - upper, upper - lower
