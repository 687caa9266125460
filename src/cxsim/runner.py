"""Run a scenario's replications, summarise them and write the outputs of a run.

Replication ``r`` of a run with root seed ``s`` is run ``(s, r)`` of
:func:`cxsim.run.run_market`: the same run in ``cxsim run``, ``cxsim compare``,
a sweep and a calibration trial, so replication ``r`` of two scenarios shares
its luck (common random numbers). :func:`compare` pairs them and reports the
differences with paired-t 95% confidence intervals.

Outputs are written atomically: into a temporary folder next to the target,
renamed into place when complete, so a run that fails leaves nothing behind.
"""

from __future__ import annotations

import html
import json
import math
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mesa
import numpy as np
import pandas as pd

import cxsim
from cxsim import networks
from cxsim.files import atomic_dir
from cxsim.params import resolve
from cxsim.results import LEVELS, METRICS
from cxsim.rng import STREAM_SCHEME
from cxsim.run import run_market
from cxsim.scenario import Scenario, ScenarioError
from cxsim.stats import difference_range, mean_ci
from cxsim.summary import FIGURES, figure_range, summarize
from cxsim.version import WORLD_VERSION

#: Figures in the paired-difference table of ``cxsim compare``.
COMPARE_FIGURES = (
    "retention",
    "market_share",
    "profit",
    "npv",
    "nps",
    "complaints_per_customer_year",
)

#: Files a run writes.
RUN_FILES = ("timeseries.parquet", "timeseries.csv", "summary.json", "report.html")

Progress = Callable[[int], None]


# --------------------------------------------------------------------------- running


@dataclass(eq=False)
class Replication:
    """One replication of a scenario.

    Attributes:
        index: replication number ``r``.
        seed: the root seed (run ``(seed, r)``).
        frame: tidy daily results (``Market.results_frame()``) with ``replication`` and
            ``retained`` (day-0 customers still with the company) columns.
        figures: company name -> :data:`FIGURES` -> value.
        final: company name -> level metrics on the last day.
        cumulative: company name -> count and money metrics summed over the days.
        wall_seconds: time the replication took.

    """

    index: int
    seed: int
    frame: pd.DataFrame
    figures: dict[str, dict[str, float]]
    final: dict[str, dict[str, float]]
    cumulative: dict[str, dict[str, float]]
    wall_seconds: float


@dataclass(eq=False)
class RunResult:
    """All replications of a scenario and when they ran."""

    scenario: Scenario
    base_seed: int
    replications: list[Replication] = field(default_factory=list)
    started: str = ""
    wall_seconds: float = 0.0

    @property
    def companies(self) -> list[str]:
        """Company names, in position order."""
        return [c.name for c in self.scenario.params.companies]

    @property
    def replication_indices(self) -> list[int]:
        """Replication numbers, in order."""
        return [r.index for r in self.replications]

    def timeseries(self) -> pd.DataFrame:
        """Tidy daily results of all replications: day, company, replication, metrics, retained."""
        return pd.concat([r.frame for r in self.replications], ignore_index=True)

    def _repr_html_(self) -> str:
        """The run's figures as a table, for notebooks (as in report.html, without its charts)."""
        from cxsim import report

        params = self.scenario.params
        reps = len(self.replications)
        intervals = "; means with 95% confidence intervals" if reps > 1 else ""
        return (
            f"<p><b>{html.escape(self.scenario.name)}</b>: {params.market.customers:,} people, "
            f"{params.market.days:,} days, {reps} replication{'s' if reps != 1 else ''} "
            f"(seed {self.base_seed}){intervals}. {html.escape(report.MONEY_NOTE)}</p>"
            + report.summary_table(self.summary())
        )

    def figure_values(self, company: str, figure: str) -> np.ndarray:
        """Values of ``figure`` for ``company``, one per replication."""
        return np.array([r.figures[company][figure] for r in self.replications], dtype=np.float64)

    def summary(self) -> dict[str, Any]:
        """Final and cumulative figures per company, with provenance (the content of summary.json)."""
        scenario = self.scenario
        params = scenario.params
        companies = []
        for position, name in enumerate(self.companies):
            figures = {}
            for figure, meaning in FIGURES.items():
                values = self.figure_values(name, figure)
                low_end, high_end = figure_range(figure)
                mean, low, high = mean_ci(values, lower=low_end, upper=high_end)
                figures[figure] = {
                    "mean": _num(mean),
                    "ci95": [_num(low), _num(high)] if len(values) > 1 else None,
                    "values": [_num(v) for v in values],
                    "meaning": meaning,
                }
            final = {
                m: _num(np.mean([r.final[name][m] for r in self.replications])) for m in LEVELS
            }
            cumulative = {
                m: _num(np.mean([r.cumulative[name][m] for r in self.replications]))
                for m in METRICS
                if m not in LEVELS
            }
            companies.append(
                {
                    "position": position,
                    "name": name,
                    "policy": params.companies[position].policy.preset,
                    "figures": figures,
                    "final": final,
                    "cumulative": cumulative,
                }
            )
        return {
            "scenario": {
                "name": scenario.name,
                "file": scenario.label,
                "description": scenario.description,
                "sha256": scenario.sha256,
                "overrides": scenario.overrides,
                "text": scenario.text,
            },
            "run": {
                "days": params.market.days,
                "customers": params.market.customers,
                "network": params.network.kind.value,
                "companies": self.companies,
                "replications": len(self.replications),
                "seed": self.base_seed,
                "replication_indices": self.replication_indices,
                "random_streams": STREAM_SCHEME,
                "note": "replication r is run (seed, r): the same run in cxsim run, compare, a sweep "
                "and a calibration trial (common random numbers across scenarios); means over "
                "replications, ci95 = 95% t interval of the mean",
            },
            "companies": companies,
            "provenance": provenance(self.started, self.wall_seconds),
        }


def _num(x: float) -> float | None:
    """A JSON-safe number: NaN and infinities become null."""
    x = float(x)
    return x if math.isfinite(x) else None


def provenance(started: str, wall_seconds: float) -> dict[str, Any]:
    """Versions and times that let a reader rerun a result bit for bit."""
    return {
        "cxsim": cxsim.__version__,
        "world": WORLD_VERSION,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "mesa": mesa.__version__,
        "pandas": pd.__version__,
        "platform": platform.platform(),
        "started": started,
        "wall_seconds": round(wall_seconds, 3),
        "command": " ".join(["cxsim", *sys.argv[1:]])
        if Path(sys.argv[0]).name == "cxsim"
        else None,
    }


def run_replication(
    scenario: Scenario, index: int, seed: int | None = None, progress: Progress | None = None
) -> Replication:
    """Run replication ``index`` of ``scenario`` (root ``seed``, default its own); ``progress(1)`` daily."""
    start = time.perf_counter()
    params = scenario.params
    if seed is not None and seed != params.market.seed:
        params = resolve(params, {"market.seed": seed})

    def on_day(day: int, last: int) -> None:
        if progress is not None:
            progress(1)

    try:
        market = run_market(params, index, base_dir=scenario.base_dir, progress=on_day)
    except networks.NetworkFileError as err:
        raise ScenarioError(f"{scenario.label}: network.path: {err}") from None
    frame = market.results_frame()
    summary = summarize(frame, params)
    frame = tidy_frame(frame, index)
    names = [co.name for co in market.companies]
    cumulative_metrics = [m for m in METRICS if m not in LEVELS]
    return Replication(
        index=index,
        seed=params.market.seed,
        frame=frame,
        figures={n: {f: float(summary.loc[n, f]) for f in FIGURES} for n in names},
        final={n: {m: float(summary.loc[n, m]) for m in LEVELS} for n in names},
        cumulative={n: {m: float(summary.loc[n, m]) for m in cumulative_metrics} for n in names},
        wall_seconds=time.perf_counter() - start,
    )


def run(
    scenario: Scenario,
    replications: int = 1,
    seed: int | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Run replications ``0 .. replications - 1`` of ``scenario`` from root ``seed``.

    Args:
        scenario: a checked scenario.
        replications: number of replications (at least 1).
        seed: root seed; ``None`` uses the scenario's ``market.seed``.
        progress: called with the number of days just simulated (for a progress bar).

    """
    if replications < 1:
        raise ValueError(f"replications must be at least 1, got {replications}")
    base = scenario.params.market.seed if seed is None else seed
    result = RunResult(scenario=scenario, base_seed=base, started=_now())
    start = time.perf_counter()
    for r in range(replications):
        result.replications.append(run_replication(scenario, r, base, progress))
    result.wall_seconds = time.perf_counter() - start
    return result


def tidy_frame(frame: pd.DataFrame, replication: int) -> pd.DataFrame:
    """A market's daily results (``Market.results_frame()``) as ``timeseries.csv`` holds them.

    The columns of :meth:`cxsim.model.Market.results_frame`, with ``replication``
    third (after ``day`` and ``company``); ``frame`` itself is left as it is.
    """
    tidy = frame.copy()
    tidy.insert(2, "replication", np.int64(replication))
    return tidy


def timeseries_csv(frame: pd.DataFrame, target: Path | None = None) -> str | None:
    """The tidy daily results as CSV (``timeseries.csv``): written to ``target``, or returned.

    The one writer of the run's CSV: ``cxsim run`` writes it into its folder and the
    dashboard offers it as a download, so the two files are the same for the same run.
    """
    return frame.to_csv(target, index=False)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- comparing


@dataclass(eq=False)
class Comparison:
    """Paired differences (B minus A) of two scenarios run on common random numbers."""

    a: RunResult
    b: RunResult
    table: pd.DataFrame
    pairs: pd.DataFrame

    def _repr_html_(self) -> str:
        """The paired differences as a table, for notebooks (as in comparison.html)."""
        from cxsim import report

        reps = len(self.a.replications)
        return (
            f"<p><b>{html.escape(self.b.scenario.name)}</b> (B) minus "
            f"<b>{html.escape(self.a.scenario.name)}</b> (A): {reps} paired replications "
            f"(seed {self.a.base_seed}); 95% paired-t confidence intervals. Shares in %, "
            "their differences in percentage points; money in dollars ($).</p>"
            + report.comparison_table(self)
        )


def compare(
    a: Scenario,
    b: Scenario,
    replications: int = 30,
    seed: int | None = None,
    progress: Progress | None = None,
) -> Comparison:
    """Run ``a`` and ``b`` as the same runs (root seed, replication) and pair them by company position.

    The table has one row per company position and figure of :data:`COMPARE_FIGURES`:
    the mean of A and of B, the mean paired difference B - A and its 95% paired-t
    confidence interval.
    """
    base = a.params.market.seed if seed is None else seed
    run_a = run(a, replications, base, progress)
    run_b = run(b, replications, base, progress)
    return Comparison(run_a, run_b, *paired_table(run_a, run_b))


def paired_table(run_a: RunResult, run_b: RunResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The paired-difference table and the per-replication pairs behind it."""
    rows: list[dict[str, Any]] = []
    pairs: list[dict[str, Any]] = []
    positions = min(len(run_a.companies), len(run_b.companies))
    for position in range(positions):
        name_a, name_b = run_a.companies[position], run_b.companies[position]
        for figure in COMPARE_FIGURES:
            va = run_a.figure_values(name_a, figure)
            vb = run_b.figure_values(name_b, figure)
            diff = vb - va
            low_end, high_end = difference_range(*figure_range(figure))
            mean, low, high = mean_ci(diff, lower=low_end, upper=high_end)
            rows.append(
                {
                    "position": position,
                    "company_a": name_a,
                    "company_b": name_b,
                    "figure": figure,
                    "mean_a": float(np.mean(va)),
                    "mean_b": float(np.mean(vb)),
                    "difference": mean,
                    "ci95_low": low,
                    "ci95_high": high,
                    "replications": int(diff.size),
                }
            )
            for r, (x, y) in enumerate(zip(va, vb, strict=True)):
                pairs.append(
                    {
                        "position": position,
                        "figure": figure,
                        "replication": r,
                        "seed": run_a.replications[r].seed,  # run (seed, replication)
                        "a": x,
                        "b": y,
                        "difference": y - x,
                    }
                )
    return pd.DataFrame(rows), pd.DataFrame(pairs)


# --------------------------------------------------------------------------- writing


def write_run(result: RunResult, out: Path, force: bool = False, plotly_js: str = "inline") -> Path:
    """Write timeseries.parquet/.csv, summary.json and report.html of ``result`` into ``out``.

    ``plotly_js``: ``inline`` (default) embeds plotly.js in the report, so it works offline;
    ``cdn`` loads it from plotly's CDN when the page is opened.
    """
    from cxsim import report

    frame = result.timeseries()
    summary = result.summary()
    with atomic_dir(out, force, written_by="cxsim run") as tmp:
        frame.to_parquet(tmp / "timeseries.parquet", index=False)
        timeseries_csv(frame, tmp / "timeseries.csv")
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        (tmp / "report.html").write_text(
            report.run_report(result, frame, summary, plotly_js), encoding="utf-8"
        )
    return out


def write_comparison(
    comparison: Comparison, out: Path, force: bool = False, plotly_js: str = "inline"
) -> Path:
    """Write comparison.csv, pairs.csv and comparison.html into ``out`` (``plotly_js`` as for runs)."""
    from cxsim import report

    with atomic_dir(out, force, written_by="cxsim compare") as tmp:
        comparison.table.to_csv(tmp / "comparison.csv", index=False)
        comparison.pairs.to_csv(tmp / "pairs.csv", index=False)
        (tmp / "comparison.html").write_text(
            report.comparison_report(comparison, plotly_js), encoding="utf-8"
        )
    return out
