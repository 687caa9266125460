"""What ``cxsim analyze`` writes: the analysis of a sweep folder, as tables and a report.

The computations live in :mod:`cxsim.sweeps.analyze` and the figures in
:mod:`cxsim.sweeps.report`; :func:`analyze` runs both and writes their files
atomically (a reader never sees half a table).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cxsim.files import atomic_write_text
from cxsim.sweeps.analyze import load_daily, load_results, point_summary, sobol_indices
from cxsim.sweeps.report import write_report
from cxsim.sweeps.store import SweepStore


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    atomic_write_text(path, frame.to_csv(index=False), durable=False)


@dataclass
class Analysis:
    """Files written by :func:`analyze` and the counts behind them."""

    out_dir: Path
    planned: int
    recorded: int
    ok_runs: int
    failed_runs: int
    files: list[Path]


def analyze(
    sweep_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    report: bool = True,
) -> Analysis:
    """Write ``summary.csv`` (and ``sobol_indices.csv``, ``failed_runs.csv``, ``sweep_report.html``).

    Args:
        sweep_dir: the sweep folder.
        out_dir: where to write (default: the sweep folder).
        report: also write the HTML report.

    Raises:
        PlanError: if ``sweep_dir`` is not a sweep folder.

    """
    store = SweepStore(sweep_dir)
    results = load_results(sweep_dir, store=store)
    target = Path(out_dir) if out_dir is not None else Path(sweep_dir)
    target.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []

    summary = point_summary(results)
    path = target / "summary.csv"
    _write_csv(path, summary)
    files.append(path)

    sobol = None
    if results.record["design"] == "sobol" and not results.ok.empty:
        sobol = sobol_indices(results)
        path = target / "sobol_indices.csv"
        _write_csv(path, sobol.first_total)
        files.append(path)
        if results.record["second_order"]:
            path = target / "sobol_second_order.csv"
            _write_csv(path, sobol.second_order)
            files.append(path)

    failed = results.failed
    if not failed.empty:
        path = target / "failed_runs.csv"
        columns = [
            "run_id",
            "point",
            "replication",
            "seed",
            *results.factor_keys,
            "error",
            "worker",
        ]
        _write_csv(path, failed[columns])
        files.append(path)

    if report:
        daily = load_daily(sweep_dir, store=store) if results.record["daily_metrics"] else None
        path = target / "sweep_report.html"
        write_report(results, summary, sobol, daily, path)
        files.append(path)

    return Analysis(
        out_dir=target,
        planned=results.planned,
        recorded=results.recorded,
        ok_runs=int(results.ok["run_id"].nunique()),
        failed_runs=len(failed),
        files=files,
    )
