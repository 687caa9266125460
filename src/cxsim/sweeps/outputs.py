"""What ``cxsim analyze`` writes: the analysis of a sweep folder, as tables and a report.

The computations live in :mod:`cxsim.sweeps.analyze` and the figures in
:mod:`cxsim.sweeps.report`; :func:`analyze` runs both and writes their files
atomically (a reader never sees half a table).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cxsim.files import atomic_write_text
from cxsim.sweeps.analyze import (
    SweepResults,
    level_contrasts,
    load_daily,
    load_results,
    named_comparisons,
    point_summary,
    sobol_indices,
    sobol_precision,
    sobol_warning,
)
from cxsim.sweeps.report import write_report
from cxsim.sweeps.store import SweepStore


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    atomic_write_text(path, frame.to_csv(index=False), durable=False)


@dataclass
class Analysis:
    """Files written by :func:`analyze`, the counts behind them, and what the reader must know.

    ``warnings``: one line each (shown at the top of the report and by ``cxsim analyze`` on
    stderr), such as Sobol' indices from too few samples to read.
    """

    out_dir: Path
    planned: int
    recorded: int
    ok_runs: int
    failed_runs: int
    files: list[Path]
    warnings: list[str] = field(default_factory=list)


def analyze(
    sweep_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    report: bool = True,
) -> Analysis:
    """Write the analysis of a sweep folder: tables (CSV) and ``sweep_report.html``.

    ``summary.csv`` (per point, company and metric: mean and 95% CI), ``contrasts.csv``
    (each factor level minus the reference level, paired by replication),
    ``comparisons.csv`` (the plan's named comparisons), ``sobol_indices.csv`` and
    ``sobol_precision.csv`` (for a sobol design), ``failed_runs.csv`` (if any run failed).

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
    warnings: list[str] = []

    def write(name: str, frame: pd.DataFrame) -> None:
        _write_csv(target / name, frame)
        files.append(target / name)

    summary = point_summary(results)
    write("summary.csv", summary)
    contrasts = level_contrasts(results)
    write("contrasts.csv", contrasts)
    comparisons = named_comparisons(results) if results.comparisons else None
    if comparisons is not None:
        write("comparisons.csv", comparisons)
    if results.record["design"] == "full_factorial" and int(results.record["replications"]) < 2:
        warnings.append(
            "one replication per point: paired differences need two or more for an interval "
            "(raise replications, or cxsim sweep --replications N, and rerun to add them)"
        )

    sobol, readable = None, None
    if results.record["design"] == "sobol" and not results.ok.empty:
        sobol = sobol_indices(results)
        write("sobol_indices.csv", sobol.first_total)
        if results.record["second_order"]:
            write("sobol_second_order.csv", sobol.second_order)
        samples = int(results.record["samples"])
        precision = sobol_precision(sobol, samples)
        write("sobol_precision.csv", precision)
        readable = precision.groupby("metric")["readable"].all().to_dict()
        warning = sobol_warning(precision, samples)
        if warning is not None:
            warnings.append(warning)

    failed = results.failed
    if not failed.empty:
        columns = [
            "run_id",
            "point",
            "replication",
            "seed",
            *results.factor_keys,
            "error",
            "worker",
        ]
        write("failed_runs.csv", failed[columns])

    if report:
        daily = load_daily(sweep_dir, store=store) if results.record["daily_metrics"] else None
        path = target / "sweep_report.html"
        write_report(
            results,
            summary,
            sobol,
            daily,
            path,
            contrasts=contrasts,
            comparisons=comparisons,
            sobol_readable=readable,
            warnings=warnings,
        )
        files.append(path)
    return _outcome(results, target, files, warnings)


def _outcome(
    results: SweepResults, target: Path, files: list[Path], warnings: list[str]
) -> Analysis:
    return Analysis(
        out_dir=target,
        planned=results.planned,
        recorded=results.recorded,
        ok_runs=int(results.ok["run_id"].nunique()),
        failed_runs=len(results.failed),
        files=files,
        warnings=warnings,
    )


#: Columns of ``runs.csv`` before the factors, and after the figures.
RUN_COLUMNS = ["run_id", "point", "replication", "seed"]
OUTCOME_COLUMNS = ["status", "error", "seconds", "worker", "finished"]


def write_runs_csv(
    sweep_dir: str | os.PathLike[str], path: str | os.PathLike[str] | None = None
) -> Path:
    """Write every recorded run of a sweep as one CSV table (as NetLogo BehaviorSpace's table).

    One row per run and company (a failed run: one row, no company): run id, point,
    replication, seed, the factors' values, company, the kept figures, status and error.
    Written atomically (a reader sees the old table or the new one, never half of one).

    Args:
        sweep_dir: the sweep folder.
        path: where to write (default: ``runs.csv`` in the sweep folder, next to ``runs/``).

    Returns:
        The path written.

    """
    results = load_results(sweep_dir)
    target = Path(path) if path is not None else Path(sweep_dir) / "runs.csv"
    runs = results.runs
    company_order = {c: i for i, c in enumerate(results.companies)}
    runs = runs.sort_values(
        ["point", "replication", "company"],
        key=lambda s: s.map(company_order) if s.name == "company" else s,
    )
    columns = [
        *RUN_COLUMNS,
        *results.factor_keys,
        "company",
        *results.metrics,
        *OUTCOME_COLUMNS,
    ]
    _write_csv(target, runs[[c for c in columns if c in runs.columns]])
    return target
