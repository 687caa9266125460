"""The one way to run a market: :func:`run_market`.

``cxsim run`` and ``cxsim compare`` (:mod:`cxsim.runner`), sweeps
(:mod:`cxsim.sweeps.execute`), calibration trials and the dashboard
(:mod:`cxsim.dashboard.simulation`) all run a market by calling it, so a run
is the same run whoever asks for it: replication ``r`` of parameters ``P``
draws the same random numbers everywhere (:mod:`cxsim.rng`). What a caller
needs beyond the daily results (snapshots of people, journeys, online
measurements) it passes as observers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from cxsim.model import Market
from cxsim.params import ModelParams


def run_market(
    params: ModelParams,
    replication: int = 0,
    *,
    base_dir: str | os.PathLike[str] | None = None,
    observers: Iterable[Any] = (),
    progress: Callable[[int, int], None] | None = None,
) -> Market:
    """Build and run one market to its last day.

    Args:
        params: checked parameters (see :func:`cxsim.params.resolve`); ``market.seed`` is
            the root seed.
        replication: which replication of the root seed (0, 1, ...): replication ``r`` is the
            same run in ``cxsim run``, ``compare``, a sweep and a calibration trial.
        base_dir: folder against which a relative network file path is resolved.
        observers: watch the run (see :class:`cxsim.model.Observer`).
        progress: called with (day, last day) after every day.

    Returns:
        The finished market: ``results_frame()``, ``summary()``, and the observers' findings.

    """
    market = Market(
        params,
        replication=replication,
        base_dir=Path(base_dir) if base_dir is not None else None,
        observers=observers,
    )
    return market.run(progress=progress)
