"""The figures of cxsim's reports, callable from Python (plotly figures, for notebooks and scripts).

Every function returns a :class:`plotly.graph_objects.Figure` drawn by the same
code as the HTML pages (:mod:`cxsim.report` for runs and comparisons,
:mod:`cxsim.sweeps.report` for sweeps), so a figure in a notebook is the figure
in ``report.html``: the same panels, units (shares as percentages, money in
dollars) and company colours (:mod:`cxsim.palette`). Show one with
``fig.show()`` or by leaving it last in a notebook cell; save one with
``fig.write_html(...)`` (or ``fig.write_image(...)`` with kaleido installed).

A run::

    from cxsim import plot, runner, scenario

    result = runner.run(scenario.load("manage_vs_fix", {"market.days": 365}), replications=3)
    plot.run(result)                      # every panel of report.html
    plot.chart(result, "retained")        # one of them (see plot.CHARTS)

    market = cxsim.run_market(params)     # a single market works too
    plot.chart(market, "market_share")

A comparison and a sweep::

    plot.comparison(runner.compare(a, b, replications=10))
    plot.main_effects("sweeps/habits", "retention")   # a folder, or cxsim.sweeps.load_results(...)
    plot.heatmap("sweeps/habits", "profit")
    plot.sobol("sweeps/sobol", "retention")
    plot.daily("sweeps/habits", "customers")
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from cxsim import report
from cxsim.report import CHARTS_BY_NAME

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from cxsim.model import Market
    from cxsim.runner import Comparison, RunResult
    from cxsim.sweeps.analyze import SweepResults

    #: What :func:`run` and :func:`chart` draw: a run's replications, one market, or a tidy frame.
    RunLike = RunResult | Market | pd.DataFrame

#: The names of the run's charts, for :func:`chart`, in the report's order.
CHARTS: tuple[str, ...] = tuple(CHARTS_BY_NAME)


def _daily(source: RunLike, companies: list[str] | None) -> tuple[pd.DataFrame, list[str]]:
    """Tidy daily results (with ``replication``) and company names, from what a user holds."""
    from cxsim.model import Market
    from cxsim.runner import RunResult

    if isinstance(source, RunResult):
        frame, names = source.timeseries(), source.companies
    elif isinstance(source, Market):
        frame, names = source.results_frame(), [c.name for c in source.companies]
    elif isinstance(source, pd.DataFrame):
        frame, names = source, list(dict.fromkeys(source["company"]))
    else:
        raise TypeError(
            "expected a runner.RunResult, a Market or a tidy results frame, "
            f"got {type(source).__name__}"
        )
    return report.tidy(frame), list(companies) if companies is not None else names


def run(source: RunLike, companies: list[str] | None = None) -> go.Figure:
    """Every panel of a run's report: market share, retention, iceberg, word of mouth, money, NPS.

    Args:
        source: a :class:`cxsim.runner.RunResult` (its replications: means and 95% bands),
            a finished :class:`cxsim.Market`, or a tidy frame such as ``timeseries.parquet``.
        companies: the companies to draw, in colour order (default: all, by position).

    """
    frame, names = _daily(source, companies)
    return report.run_figure(frame, names)


def chart(source: RunLike, name: str, companies: list[str] | None = None) -> go.Figure:
    """One panel of a run's report as a figure of its own; ``name`` is one of :data:`CHARTS`.

    Raises:
        ValueError: for a name that is not a chart.

    """
    if name not in CHARTS_BY_NAME:
        raise ValueError(f"no chart {name!r}; charts: {', '.join(CHARTS)}")
    frame, names = _daily(source, companies)
    return report.chart_figure(frame, names, name)


def comparison(result: Comparison) -> go.Figure:
    """The paired differences B - A of a comparison, with 95% intervals (as in comparison.html)."""
    return report.comparison_figure(result.table)


def _sweep(results: SweepResults | str | os.PathLike[str]) -> SweepResults:
    from cxsim.sweeps.analyze import SweepResults, load_results

    return results if isinstance(results, SweepResults) else load_results(Path(results))


def main_effects(results: SweepResults | str | os.PathLike[str], metric: str) -> go.Figure:
    """A sweep's main effects: the metric's mean per level of each factor and company, 95% CI."""
    from cxsim.sweeps.report import main_effects_figure

    return main_effects_figure(_sweep(results), metric)


def heatmap(results: SweepResults | str | os.PathLike[str], metric: str) -> go.Figure:
    """A sweep's metric over its first two factors, one panel per company.

    Raises:
        ValueError: for a sweep of fewer than two factors.

    """
    from cxsim.sweeps.report import heatmap_figure

    sweep = _sweep(results)
    if len(sweep.factor_keys) < 2:
        raise ValueError(f"a heatmap needs two factors; this sweep has {len(sweep.factor_keys)}")
    return heatmap_figure(sweep, metric)


def sobol(results: SweepResults | str | os.PathLike[str], metric: str) -> go.Figure | None:
    """First-order and total Sobol' indices of a metric (``None`` if none could be computed).

    Raises:
        ValueError: for a sweep whose design is not ``sobol``.

    """
    from cxsim.sweeps.analyze import sobol_indices
    from cxsim.sweeps.report import sobol_figure

    sweep = _sweep(results)
    if sweep.record["design"] != "sobol":
        raise ValueError(
            f"Sobol' indices need a sobol design; this sweep's is {sweep.record['design']}"
        )
    return sobol_figure(sobol_indices(sweep), metric, sweep.companies)


def daily(results: SweepResults | str | os.PathLike[str], metric: str) -> go.Figure | None:
    """A kept daily series of a sweep by level of its first factor (``None`` if none was kept)."""
    from cxsim.sweeps.analyze import load_daily
    from cxsim.sweeps.report import daily_figure

    sweep = _sweep(results)
    return daily_figure(sweep, load_daily(sweep.out_dir), metric)
