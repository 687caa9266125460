"""The sweep folder: results streamed to append-only Parquet parts, safe against kill -9.

Layout of ``DIR``::

    plan.json        the checked plan (design, factors, seeds, base parameters): analysis needs only DIR
    plan.toml        the plan file's text, as given
    points.parquet   the design: one row per point, one column per factor
    runs/            part-*.parquet: one row per finished run and company (a failed run: one row)
    daily/           part-*.parquet: daily series of the runs in the runs/ part of the same name
    manifest.json    counts derived from the parts (a convenience; the parts are the truth)
    sweep.lock       held (``filelock``) by the one sweep writing to the folder
    sweep.lock.pid   that sweep's process id, host and start time, for the message of another
    corrupt/         runs/ and daily/ parts that could not be read, set aside on resume

A part is written to a hidden temporary file, flushed, ``fsync``-ed and renamed
into place, then the folder is ``fsync``-ed: a part is either complete on disk
or absent, whatever moment the process is killed. The daily part of a batch is
renamed before its runs part, so a run counts as recorded only once all its
data are in place. Which runs are recorded is read from the parts, never from
the manifest; temporary files are ignored (and removed when their writer is
gone), and a run recorded twice (a failed run retried) is read once: its
successful record if it has one, else its first.

One sweep writes to a folder at a time: it holds ``sweep.lock`` (an OS file lock,
released by the system when its holder dies, so a killed sweep never blocks the
next), and another sweep refuses with the holder's process id.

A part that cannot be read (zero bytes, truncated: a full disk, a kill during a
copy) does not stop anything. Resuming moves it, with its twin in the other
folder, to ``corrupt/`` (outside what ``pd.read_parquet("DIR/runs")`` reads),
says which runs it held when its twin tells, and runs them again; analysis
skips it with a warning.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from cxsim import world
from cxsim.errors import InputError
from cxsim.files import (
    TEMP_PREFIX,
    atomic_write_bytes,
    atomic_write_table,
    atomic_write_text,
    fsync_dir,
    remove_stale_temporaries,
)
from cxsim.sweeps.plan import PlanError, SweepPlan

PLAN_FILE = "plan.json"
PLAN_TEXT_FILE = "plan.toml"
POINTS_FILE = "points.parquet"
MANIFEST_FILE = "manifest.json"
RUNS_DIR = "runs"
DAILY_DIR = "daily"
CORRUPT_DIR = "corrupt"
LOCK_FILE = "sweep.lock"
HOLDER_FILE = "sweep.lock.pid"
#: Files a sweep folder may hold before its plan is written (a sweep killed at its start).
_BOOKKEEPING = {LOCK_FILE, HOLDER_FILE}
#: Most runs a warning about a set-aside part lists by point and replication.
_RUNS_LISTED = 12

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


class SweepFolderBusyError(InputError):
    """Another sweep is writing to the folder: one line naming its process id."""


class UnreadablePartWarning(UserWarning):
    """A part of a sweep folder cannot be read; it is skipped (analysis) or set aside (resume)."""


@dataclass
class UnreadablePart:
    """A part that cannot be read, and what is known of the runs it held.

    Attributes:
        path: the part (``runs/`` or ``daily/``).
        reason: why it cannot be read, one line.
        runs: (point, replication) of the runs it held, as its twin in the other folder
            tells (a daily part names only the runs that finished); ``None`` if nothing tells.
        moved_to: where it was set aside, if it was.

    """

    path: Path
    reason: str
    runs: list[tuple[int, int]] | None = None
    moved_to: Path | None = None

    def held(self) -> str:
        """Which runs the part held, in words."""
        if self.runs is None:
            return "which runs it held is not known (its twin part is missing or unreadable too)"
        if not self.runs:
            return "it held no recorded run"
        shown = ", ".join(f"{p}/{r}" for p, r in self.runs[:_RUNS_LISTED])
        more = (
            f", and {len(self.runs) - _RUNS_LISTED} more" if len(self.runs) > _RUNS_LISTED else ""
        )
        runs = f"{len(self.runs)} runs (point/replication {shown}{more})"
        if self.path.parent.name == RUNS_DIR:
            return f"its daily part names {runs} that finished in it"
        return f"it held the daily series of {runs}"


def _reason(err: BaseException, path: Path) -> str:
    """Why a part cannot be read, in one line, without repeating its path."""
    message = str(err)
    message = message.rpartition(f"{path}': ")[2] or message  # pyarrow names the file first
    return " ".join(message.split()) or type(err).__name__


class SweepStore:
    """The results folder of one sweep."""

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        self.out_dir = Path(out_dir)
        self.runs_dir = self.out_dir / RUNS_DIR
        self.daily_dir = self.out_dir / DAILY_DIR
        self.corrupt_dir = self.out_dir / CORRUPT_DIR
        self._record: dict[str, Any] | None = None
        #: Parts found unreadable, by path: the reason.
        self._unreadable: dict[Path, str] = {}
        #: Unreadable parts already warned about.
        self._warned: set[Path] = set()

    # ------------------------------------------------------------------ set-up

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder for this process while it writes (creating the folder if need be).

        Raises:
            SweepFolderBusyError: naming the process id of the sweep that holds it.
            PlanError: if the folder cannot be created or written (one line, before any run).

        """
        lock = FileLock(self.out_dir / LOCK_FILE, timeout=0)
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            lock.acquire()
        except Timeout:
            raise SweepFolderBusyError(
                f"{self.out_dir}: another cxsim sweep ({self._holder()}) is writing to this "
                "folder; wait for it to finish or stop it, or use another --out"
            ) from None
        except OSError as err:  # a read-only disk, no permission, a path through a file
            reason = err.strerror or type(err).__name__
            raise PlanError(f"{self.out_dir}: cannot write a sweep folder here: {reason}") from None
        holder = self.out_dir / HOLDER_FILE
        try:
            since = datetime.now(UTC).isoformat(timespec="seconds")
            me = {"pid": os.getpid(), "host": socket.gethostname(), "since": since}
            atomic_write_text(holder, json.dumps(me), durable=False)
            yield
        finally:
            holder.unlink(missing_ok=True)
            lock.release()

    def _holder(self) -> str:
        """``pid 123 on HOST since TIME`` of the sweep holding the lock, as it wrote it."""
        try:
            me = json.loads((self.out_dir / HOLDER_FILE).read_text(encoding="utf-8"))
            return f"pid {int(me['pid'])} on {me['host']}, since {me['since']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "its process id is not recorded yet"

    def check(self, plan: SweepPlan) -> None:
        """Check, writing nothing, that the folder is new, empty, or holds this plan's results.

        Raises:
            PlanError: if it is a file, another plan's (or another engine's) sweep folder, or a
                folder of other things.

        """
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise PlanError(f"{self.out_dir}: exists and is not a folder")
        plan_path = self.out_dir / PLAN_FILE
        if plan_path.exists():
            previous = self.read_record()
            refused = world.other_engine(self.out_dir, previous.get("engine"), "runs")
            if refused:
                raise PlanError(refused)
            if previous.get("plan_hash") != plan.plan_hash:
                raise PlanError(
                    f"{self.out_dir}: holds the results of a different sweep plan "
                    f"({previous.get('plan_file')}, plan hash {str(previous.get('plan_hash'))[:12]}, "
                    f"this one {plan.plan_hash[:12]}); only the number of replications may change "
                    "between resumes; use a new --out folder"
                )
        elif self.out_dir.exists() and any(
            p.name not in _BOOKKEEPING and TEMP_PREFIX not in p.name for p in self.out_dir.iterdir()
        ):
            raise PlanError(
                f"{self.out_dir}: exists, is not empty and is not a sweep folder (no {PLAN_FILE}); "
                "use a new --out folder"
            )

    def initialise(self, plan: SweepPlan) -> None:
        """Create the folder for ``plan``, or check that the folder holds the same plan.

        Call it holding :meth:`lock`.

        Raises:
            PlanError: as :meth:`check`.

        """
        self.check(plan)
        plan_path = self.out_dir / PLAN_FILE
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

    def daily_part_paths(self) -> list[Path]:
        """The daily parts, committed or not, oldest first (temporary files excluded)."""
        if not self.daily_dir.is_dir():
            return []
        return sorted(p for p in self.daily_dir.glob("part-*.parquet") if p.is_file())

    def _read(self, path: Path, **options: Any) -> pa.Table | None:
        """A part's table, or ``None`` (remembering why) if it cannot be read."""
        if path in self._unreadable:
            return None
        try:
            return pq.read_table(path, **options)
        except (OSError, pa.ArrowException, ValueError) as err:
            # ArrowInvalid for a zero-byte or truncated file ("magic bytes not found"),
            # OSError for one that vanished or cannot be opened.
            self._unreadable[path] = _reason(err, path)
            return None

    def _ids(self, path: Path) -> pa.Table | None:
        """The run_id, point and replication columns of a part (``None`` if unreadable)."""
        return self._read(path, columns=["run_id", "point", "replication"])

    def unreadable_parts(self) -> list[UnreadablePart]:
        """Parts of ``runs/`` and ``daily/`` that cannot be read, with the runs they held if known.

        A part is checked by reading its footer and its run columns (what a truncated or
        zero-byte file fails); a part whose data turn out unreadable later, when read
        whole, joins the list then.
        """
        runs = self.part_paths()
        for path in runs:
            self._read(path, columns=["run_id", "status", "point", "replication"])
        for path in self.daily_part_paths():
            self._ids(path)
        found = []
        for path, reason in sorted(self._unreadable.items()):
            if not path.exists():
                continue
            twin_dir = self.daily_dir if path.parent == self.runs_dir else self.runs_dir
            twin = twin_dir / path.name
            held = self._ids(twin) if twin.is_file() else None
            runs_held = None
            if held is not None:
                pairs = zip(
                    held.column("point").to_pylist(),
                    held.column("replication").to_pylist(),
                    strict=True,
                )
                runs_held = sorted(set(pairs))
            elif path.parent == self.daily_dir and not twin.exists():
                runs_held = []  # an uncommitted daily part: its runs were never recorded
            found.append(UnreadablePart(path, reason, runs_held))
        return found

    def set_aside_unreadable_parts(self) -> list[UnreadablePart]:
        """Move unreadable parts, and their twins, to ``corrupt/``, so their runs run again.

        Call it holding :meth:`lock`. Each part set aside is also reported as an
        :class:`UnreadablePartWarning`.
        """
        parts = self.unreadable_parts()
        for part in parts:
            folder = part.path.parent.name
            for path in (part.path, self.out_dir / _other(folder) / part.path.name):
                if not path.is_file():
                    continue
                target_dir = self.corrupt_dir / path.parent.name
                target_dir.mkdir(parents=True, exist_ok=True)
                target = target_dir / path.name
                if target.exists():  # set aside before: keep both
                    target = target_dir / f"{path.stem}-{uuid.uuid4().hex[:8]}{path.suffix}"
                os.replace(path, target)
                fsync_dir(target_dir)
                if path == part.path:
                    part.moved_to = target
            fsync_dir(self.runs_dir)
            fsync_dir(self.daily_dir)
            self._unreadable.pop(part.path, None)
            warnings.warn(
                f"{part.path} cannot be read ({part.reason}); moved it and its twin to "
                f"{self.corrupt_dir}/; {part.held()}; its runs are run again",
                UnreadablePartWarning,
                stacklevel=2,
            )
        return parts

    def warn_unreadable_parts(self) -> list[UnreadablePart]:
        """Warn (:class:`UnreadablePartWarning`) once about each unreadable part; analysis skips them."""
        parts = [part for part in self.unreadable_parts() if part.path not in self._warned]
        for part in parts:
            self._warned.add(part.path)
            warnings.warn(
                f"{part.path} cannot be read ({part.reason}); skipped it; {part.held()} "
                f"(cxsim sweep on this folder sets it aside and runs them again)",
                UnreadablePartWarning,
                stacklevel=2,
            )
        return parts

    def recorded_runs(self) -> dict[str, str]:
        """Run id -> ``ok`` or ``failed`` for every run in the readable parts (``ok`` wins)."""
        status: dict[str, str] = {}
        for path in self.part_paths():
            table = self._read(path, columns=["run_id", "status"])
            if table is None:
                continue
            for run_id, state in zip(
                table.column("run_id").to_pylist(), table.column("status").to_pylist(), strict=True
            ):
                if status.get(run_id) != OK:
                    status[run_id] = state
        return status

    def runs_frame(self) -> pd.DataFrame:
        """All recorded runs, one row per run and company, each run once (see module notes).

        Unreadable parts are skipped (see :meth:`unreadable_parts`).
        """
        schema = self.runs_schema()
        tables = []
        for order, path in enumerate(self.part_paths()):
            table = self._read(path, schema=schema)
            if table is not None:
                tables.append(
                    table.append_column("_part", pa.array(np.full(table.num_rows, order)))
                )
        if not tables:
            return schema.empty_table().to_pandas()
        frame = pa.concat_tables(tables).to_pandas()
        return _one_record_per_run(frame).drop(columns="_part")

    def daily_frame(self) -> pd.DataFrame:
        """Daily series of the recorded runs (only parts whose runs part is committed and readable)."""
        runs = self.runs_frame()
        schema = self.daily_schema()
        committed = {p.name for p in self.part_paths() if p not in self._unreadable}
        run_ids = set(runs.loc[runs["status"] == OK, "run_id"])
        tables = []
        for path in self.daily_part_paths():
            if path.name in committed:
                table = self._read(path, schema=schema)
                if table is not None:
                    tables.append(table)
        if not tables:
            return schema.empty_table().to_pandas()
        frame = pa.concat_tables(tables).to_pandas()
        frame = frame[frame["run_id"].isin(run_ids)]
        return frame.drop_duplicates(["run_id", "company", "day"]).reset_index(drop=True)


def _other(folder: str) -> str:
    """The twin folder of ``runs`` (``daily``) and of ``daily`` (``runs``)."""
    return DAILY_DIR if folder == RUNS_DIR else RUNS_DIR


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
