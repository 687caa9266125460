"""The sweep folder: results streamed to append-only Parquet parts, safe against kill -9.

Layout of ``DIR``::

    plan.json        the checked plan (design, factors, seeds, base parameters): analysis needs only DIR
    plan.toml        the plan file's text, as given
    points.parquet   the design: one row per point, one column per factor
    runs/            part-*.parquet: one row per finished run and company (a failed run: one row)
    daily/           part-*.parquet: daily series of the runs in the runs/ part of the same name
    manifest.json    counts derived from the parts (a convenience; the parts are the truth)

A part is written to a hidden temporary file, flushed, ``fsync``-ed and renamed
into place, then the folder is ``fsync``-ed: a part is either complete on disk
or absent, whatever moment the process is killed. The daily part of a batch is
renamed before its runs part, so a run counts as recorded only once all its
data are in place. Which runs are recorded is read from the parts, never from
the manifest; temporary files are ignored (and removed when their writer is
gone), and a run recorded twice (two sweeps into one folder, or a failed run
retried) is read once: its successful record if it has one, else its first.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cxsim import world
from cxsim.files import atomic_write_bytes, atomic_write_table, remove_stale_temporaries
from cxsim.sweeps.plan import PlanError, SweepPlan

PLAN_FILE = "plan.json"
PLAN_TEXT_FILE = "plan.toml"
POINTS_FILE = "points.parquet"
MANIFEST_FILE = "manifest.json"
RUNS_DIR = "runs"
DAILY_DIR = "daily"

OK = "ok"
FAILED = "failed"

_ARROW_TYPES = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "str": pa.string()}


@dataclass
class RunOutcome:
    """What one run sends back: its identity, status, and the kept results per company.

    Attributes:
        run_id: the run's id (see :func:`cxsim.sweeps.plan.make_run_id`).
        point: index of the design point.
        replication: replication index.
        seed: the run's seed.
        status: ``ok`` or ``failed``.
        error: one line, ``ExceptionType: message``, for a failed run.
        traceback: the full traceback of a failed run.
        seconds: wall time of the run in its worker.
        worker: ``host:pid`` of the process that ran it.
        finished: when it finished (UTC).
        companies: company names, in the scenario's order.
        summary: metric -> one value per company.
        daily: metric -> array (days + 1, companies), and ``day``; empty if none kept.

    """

    run_id: str
    point: int
    replication: int
    seed: int
    status: str
    error: str | None = None
    traceback: str | None = None
    seconds: float = 0.0
    worker: str = ""
    finished: datetime = field(default_factory=lambda: datetime.now(UTC))
    companies: list[str] = field(default_factory=list)
    summary: dict[str, list[float]] = field(default_factory=dict)
    daily: dict[str, np.ndarray] = field(default_factory=dict)


class SweepStore:
    """The results folder of one sweep."""

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        self.out_dir = Path(out_dir)
        self.runs_dir = self.out_dir / RUNS_DIR
        self.daily_dir = self.out_dir / DAILY_DIR
        self._record: dict[str, Any] | None = None

    # ------------------------------------------------------------------ set-up

    def initialise(self, plan: SweepPlan) -> None:
        """Create the folder for ``plan``, or check that the folder holds the same plan.

        Raises:
            PlanError: if the folder holds the results of a different plan.

        """
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise PlanError(f"{self.out_dir}: exists and is not a folder")
        plan_path = self.out_dir / PLAN_FILE
        if plan_path.exists():
            previous = self.read_record()
            changed = world.differences(previous.get("engine"))
            if changed:
                raise PlanError(
                    f"{self.out_dir}: was started by another engine ({'; '.join(changed)}); its "
                    "runs would not be comparable with new ones; use a new --out folder"
                )
            if previous.get("plan_hash") != plan.plan_hash:
                raise PlanError(
                    f"{self.out_dir}: holds the results of a different sweep plan "
                    f"({previous.get('plan_file')}, plan hash {str(previous.get('plan_hash'))[:12]}, "
                    f"this one {plan.plan_hash[:12]}); only the number of replications may change "
                    "between resumes; use a new --out folder"
                )
        elif self.out_dir.exists() and any(self.out_dir.iterdir()):
            raise PlanError(
                f"{self.out_dir}: exists, is not empty and is not a sweep folder (no {PLAN_FILE}); "
                "use a new --out folder"
            )
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.daily_dir.mkdir(parents=True, exist_ok=True)
        self.remove_stale_temp_files()
        record = {**plan.record(), "engine": world.fingerprint()}
        atomic_write_bytes(plan_path, json.dumps(record, indent=2, default=str).encode("utf-8"))
        if plan.text:
            atomic_write_bytes(self.out_dir / PLAN_TEXT_FILE, plan.text.encode("utf-8"))
        points = pa.Table.from_pandas(plan.points_frame(), preserve_index=False)
        atomic_write_table(self.out_dir / POINTS_FILE, points)
        self._record = record

    def remove_stale_temp_files(self) -> None:
        """Remove temporary files left by killed writers on this host (never a live writer's)."""
        for folder in (self.out_dir, self.runs_dir, self.daily_dir):
            remove_stale_temporaries(folder)

    def read_record(self) -> dict[str, Any]:
        """The plan record in ``plan.json``.

        Raises:
            PlanError: if the folder is not a sweep folder.

        """
        if self._record is None:
            path = self.out_dir / PLAN_FILE
            if not path.is_file():
                raise PlanError(
                    f"{self.out_dir}: not a sweep folder (no {PLAN_FILE}); "
                    f"make one with cxsim sweep PLAN --out {self.out_dir}"
                )
            try:
                self._record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise PlanError(f"{path}: cannot read: {err}") from None
        return self._record

    # ------------------------------------------------------------------ schemas

    def runs_schema(self) -> pa.Schema:
        """Columns of a runs part: identity, status, factor values, then kept figures."""
        record = self.read_record()
        fields = [
            pa.field("run_id", pa.string(), nullable=False),
            pa.field("point", pa.int64(), nullable=False),
            pa.field("replication", pa.int64(), nullable=False),
            pa.field("seed", pa.int64(), nullable=False),
            pa.field("status", pa.string(), nullable=False),
            pa.field("error", pa.string()),
            pa.field("traceback", pa.string()),
            pa.field("seconds", pa.float64()),
            pa.field("worker", pa.string()),
            pa.field("finished", pa.timestamp("ms", tz="UTC")),
            pa.field("company", pa.string()),
        ]
        fields += [pa.field(f["key"], _ARROW_TYPES[f["value_type"]]) for f in record["factors"]]
        fields += [pa.field(m, pa.float64()) for m in record["summary_metrics"]]
        return pa.schema(fields)

    def daily_schema(self) -> pa.Schema:
        """Columns of a daily part: run, company, day, kept daily series."""
        record = self.read_record()
        fields = [
            pa.field("run_id", pa.string(), nullable=False),
            pa.field("point", pa.int64(), nullable=False),
            pa.field("replication", pa.int64(), nullable=False),
            pa.field("company", pa.string(), nullable=False),
            pa.field("day", pa.int64(), nullable=False),
        ]
        fields += [pa.field(m, pa.float64()) for m in record["daily_metrics"]]
        return pa.schema(fields)

    # ------------------------------------------------------------------ writing

    def write_batch(self, outcomes: list[RunOutcome], points: list[dict[str, Any]]) -> Path:
        """Record finished runs as one part (daily part first, then the runs part that commits them)."""
        record = self.read_record()
        name = f"part-{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.parquet"
        daily = self._daily_table(outcomes)
        if daily is not None:
            atomic_write_table(self.daily_dir / name, daily)
        factor_keys = [f["key"] for f in record["factors"]]
        rows: list[dict[str, Any]] = []
        for outcome in outcomes:
            common = {
                "run_id": outcome.run_id,
                "point": outcome.point,
                "replication": outcome.replication,
                "seed": outcome.seed,
                "status": outcome.status,
                "error": outcome.error,
                "traceback": outcome.traceback,
                "seconds": outcome.seconds,
                "worker": outcome.worker,
                "finished": outcome.finished,
                **{key: points[outcome.point].get(key) for key in factor_keys},
            }
            if outcome.status == OK and outcome.companies:
                for k, company in enumerate(outcome.companies):
                    rows.append(
                        {
                            **common,
                            "company": company,
                            **{m: values[k] for m, values in outcome.summary.items()},
                        }
                    )
            else:
                rows.append({**common, "company": None})
        table = pa.Table.from_pylist(rows, schema=self.runs_schema())
        path = self.runs_dir / name
        atomic_write_table(path, table)
        return path

    def _daily_table(self, outcomes: list[RunOutcome]) -> pa.Table | None:
        record = self.read_record()
        metrics = record["daily_metrics"]
        if not metrics:
            return None
        columns: dict[str, list[np.ndarray]] = {
            c: [] for c in ("run_id", "point", "replication", "company", "day", *metrics)
        }
        for outcome in outcomes:
            if outcome.status != OK or not outcome.daily:
                continue
            days = np.asarray(outcome.daily["day"], dtype=np.int64)
            n_companies = len(outcome.companies)
            size = days.size * n_companies
            columns["run_id"].append(np.full(size, outcome.run_id, dtype=object))
            columns["point"].append(np.full(size, outcome.point, dtype=np.int64))
            columns["replication"].append(np.full(size, outcome.replication, dtype=np.int64))
            columns["company"].append(
                np.tile(np.asarray(outcome.companies, dtype=object), days.size)
            )
            columns["day"].append(np.repeat(days, n_companies))
            for m in metrics:
                columns[m].append(np.asarray(outcome.daily[m], dtype=np.float64).reshape(-1))
        if not columns["run_id"]:
            return None
        arrays = {k: np.concatenate(v) for k, v in columns.items()}
        return pa.Table.from_pydict(arrays, schema=self.daily_schema())

    def write_manifest(
        self, planned: int, recorded: dict[str, str] | None = None, *, complete: bool = False
    ) -> dict[str, Any]:
        """Rewrite ``manifest.json``: counts of ``recorded`` runs (default: read from the parts)."""
        if recorded is None:
            recorded = self.recorded_runs()
        record = self.read_record()
        manifest = {
            "name": record.get("name"),
            "plan_hash": record.get("plan_hash"),
            "planned_runs": planned,
            "recorded_runs": len(recorded),
            "ok_runs": sum(1 for s in recorded.values() if s == OK),
            "failed_runs": sum(1 for s in recorded.values() if s != OK),
            "parts": len(self.part_paths()),
            "complete": complete,
            "updated": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        atomic_write_bytes(
            self.out_dir / MANIFEST_FILE,
            json.dumps(manifest, indent=2).encode("utf-8"),
            durable=False,  # derived from the parts; rebuilt on every start
        )
        return manifest

    # ------------------------------------------------------------------ reading

    def part_paths(self) -> list[Path]:
        """The committed runs parts, oldest first (temporary files excluded)."""
        if not self.runs_dir.is_dir():
            return []
        return sorted(p for p in self.runs_dir.glob("part-*.parquet") if p.is_file())

    def recorded_runs(self) -> dict[str, str]:
        """Run id -> ``ok`` or ``failed`` for every run in the parts (``ok`` wins over ``failed``)."""
        status: dict[str, str] = {}
        for path in self.part_paths():
            table = pq.read_table(path, columns=["run_id", "status"])
            for run_id, state in zip(
                table.column("run_id").to_pylist(), table.column("status").to_pylist(), strict=True
            ):
                if status.get(run_id) != OK:
                    status[run_id] = state
        return status

    def runs_frame(self) -> pd.DataFrame:
        """All recorded runs, one row per run and company, each run once (see module notes)."""
        paths = self.part_paths()
        schema = self.runs_schema()
        if not paths:
            return schema.empty_table().to_pandas()
        tables = []
        for order, path in enumerate(paths):
            table = pq.read_table(path, schema=schema)
            tables.append(table.append_column("_part", pa.array(np.full(table.num_rows, order))))
        frame = pa.concat_tables(tables).to_pandas()
        return _one_record_per_run(frame).drop(columns="_part")

    def daily_frame(self) -> pd.DataFrame:
        """Daily series of the recorded runs (only parts whose runs part is committed)."""
        runs = self.runs_frame()
        schema = self.daily_schema()
        committed = {p.name for p in self.part_paths()}
        run_ids = set(runs.loc[runs["status"] == OK, "run_id"])
        tables = []
        for path in sorted(self.daily_dir.glob("part-*.parquet")):
            if path.name in committed:
                tables.append(pq.read_table(path, schema=schema))
        if not tables:
            return schema.empty_table().to_pandas()
        frame = pa.concat_tables(tables).to_pandas()
        frame = frame[frame["run_id"].isin(run_ids)]
        return frame.drop_duplicates(["run_id", "company", "day"]).reset_index(drop=True)


def _one_record_per_run(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep one record of each run: the first successful one, else the first failure."""
    if frame.empty:
        return frame
    rank = frame.assign(_failed=(frame["status"] != OK).astype(int))
    chosen = (
        rank.sort_values(["_failed", "_part"], kind="stable")
        .drop_duplicates("run_id")[["run_id", "_part"]]
        .rename(columns={"_part": "_chosen"})
    )
    merged = frame.merge(chosen, on="run_id", how="inner")
    kept = merged[merged["_part"] == merged["_chosen"]].drop(columns="_chosen")
    return kept.sort_values(["point", "replication", "company"], kind="stable").reset_index(
        drop=True
    )
