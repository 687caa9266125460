"""Shared helpers for the validation experiments: output folders, headline records, parallel runs."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no screen

RESULTS = Path(__file__).resolve().parent / "results"


def out_dir(name: str) -> Path:
    """The results folder of experiment ``name`` (created)."""
    path = RESULTS / name
    path.mkdir(parents=True, exist_ok=True)
    return path


#: What an experiment is (see the README): a figure used to fit parameters (calibration), an
#: input read back (verification), or a figure nothing was fitted or chosen to reproduce
#: (validation); or an exploration of the fitted world (result).
KINDS = ("calibration", "verification", "validation", "result")


def write_headline(
    name: str, title: str, headline: str, details: dict[str, Any], kind: str = "result"
) -> None:
    """Record an experiment's one-line result for the README table (``headline.json``)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    record = {
        "experiment": name,
        "title": title,
        "kind": kind,
        "headline": headline,
        "details": details,
        "command": f"python experiments/{name}.py",
        "python": sys.version.split()[0],
    }
    (out_dir(name) / "headline.json").write_text(json.dumps(record, indent=2, default=float) + "\n")
    print(f"[{name}] {headline}")


def parallel_map(
    func: Callable[[Any], Any], items: Iterable[Any], workers: int | None = None
) -> list[Any]:
    """``map`` over processes (order kept); ``CXSIM_WORKERS`` or the core count sets the width."""
    items = list(items)
    workers = workers or int(os.environ.get("CXSIM_WORKERS", os.cpu_count() or 1))
    if workers <= 1 or len(items) <= 1:
        return [func(i) for i in items]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(func, items))


class Timer:
    """Wall time of a block, for the record."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
