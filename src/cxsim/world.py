"""The identity of the engine and its default world, so results from two engines are never mixed.

A sweep or calibration folder records :func:`fingerprint` when it starts. A
resume compares it with the running engine's and refuses when they differ:
rerunning the missing runs of a sweep with another engine (changed rules,
changed defaults, changed random streams) would silently mix two models in one
table.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from cxsim.version import __version__

#: The modules whose code decides a run's numbers (relative to the package folder).
ENGINE_SOURCES = (
    "model.py",
    "day.py",
    "stages",
    "rng.py",
    "customers.py",
    "company.py",
    "networks.py",
    "events.py",
    "results.py",
    "summary.py",
    "params/schema.py",
)


@functools.cache
def fingerprint() -> dict[str, str]:
    """The running engine: cxsim's version, its random streams, and hashes of its defaults and code."""
    from cxsim.params import ModelParams
    from cxsim.rng import STREAM_SCHEME

    package = Path(__file__).resolve().parent
    code = hashlib.sha256()
    for name in ENGINE_SOURCES:
        path = package / name
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            code.update(file.relative_to(package).as_posix().encode())
            code.update(file.read_bytes())
    defaults = json.dumps(ModelParams().model_dump(mode="json"), sort_keys=True)
    return {
        "cxsim": __version__,
        "random_streams": STREAM_SCHEME,
        "default_world": hashlib.sha256(defaults.encode()).hexdigest()[:16],
        "engine_code": code.hexdigest()[:16],
    }


def other_engine(folder: object, recorded: dict[str, str] | None, what: str) -> str | None:
    """Why ``folder``, started with the ``recorded`` engine, cannot be resumed (``None``: it can).

    ``what`` names what the folder holds ("runs", "trials"), which new ones would not match.
    """
    changed = differences(recorded)
    if not changed:
        return None
    return (
        f"{folder}: was started by another engine ({'; '.join(changed)}); its {what} would not "
        "be comparable with new ones; use a new --out folder"
    )


def differences(recorded: dict[str, str] | None) -> list[str]:
    """What differs between a recorded fingerprint and the running engine's (empty: the same)."""
    current = fingerprint()
    if not recorded:
        return ["no engine recorded"]
    return [
        f"{key} {recorded.get(key)!s} -> {value}"
        for key, value in current.items()
        if recorded.get(key) != value
    ]
