"""On a fresh install, compile the engine's kernels on a second core while the first one runs.

Numba compiles each kernel the first time it is called and keeps it in its disk cache
(``cache=True``), so a fresh install spends most of its first run compiling, on one core,
in the order the day meets the kernels. ``cxsim run``, ``cxsim compare`` and ``cxsim
dashboard`` call :func:`start`, which sees whether the cache is cold and, if so, starts one
helper process that builds a small copy of the market and runs each
day's stages in the reverse order, the last stage first. The two processes meet the
kernels in opposite orders, and each kernel one of them has compiled and cached is loaded,
not compiled, by the other: the compile is shared between two cores. The network's kernels
are the first the command meets, so the helper leaves them to it: its copy's contacts are a
ring lattice made in NumPy (:func:`ring_lattice`; a network read from a file or a fully mixed
market is built as the command builds it). The helper changes no
result (it runs its own small market, in its own process, and only fills the cache); it stops
when it is done or when the command that started it ends.

``CXSIM_WARMUP=0`` turns it off.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cxsim.networks import Network

if TYPE_CHECKING:
    from cxsim.params import ModelParams

#: The helper's market: this many people (at most) and days, every stage each day.
PEOPLE = 400
DAYS = 12


def cache_is_cold() -> bool:
    """Whether Numba has not yet cached the last kernel of the day (a fresh install)."""
    from cxsim.stages import accounts

    try:
        index = accounts.close_books._cache._cache_file._index_path  # Numba's cache index
    except AttributeError:  # another Numba: do not guess
        return False
    return not Path(index).exists()


def start(params: ModelParams, base_dir: Path | None = None) -> BaseProcess | None:
    """Start the helper process if the kernel cache is cold (and the machine has a core to spare).

    Returns:
        The helper (a daemon: it ends with the command), or ``None`` if none was started.

    """
    if os.environ.get("CXSIM_WARMUP", "1") == "0" or (os.cpu_count() or 1) < 2:
        return None
    if not cache_is_cold():
        return None
    helper = mp.get_context("spawn").Process(
        target=compile_backwards, args=(small_copy(params), base_dir), daemon=True
    )
    helper.start()
    return helper


def small_copy(params: ModelParams) -> ModelParams:
    """The same market, companies and policies, with fewer people and days (a network file kept)."""
    market = params.market
    if params.network.path is None:
        market = market.model_copy(update={"customers": min(market.customers, PEOPLE)})
    return params.model_copy(update={"market": market.model_copy(update={"days": DAYS})})


def compile_backwards(params: ModelParams, base_dir: Path | None) -> None:
    """Build the small market and run its days with the stages in reverse order (the helper's work).

    Stages run out of order may find nothing to do or fail; either way the kernels they
    reach are compiled and cached, which is all this is for, so every failure is ignored.
    """
    from cxsim import networks
    from cxsim.day import DAY, Today
    from cxsim.model import Market

    build = networks.build
    if (
        params.network.path is None
        and params.network.kind != "fully_mixed"
        and params.market.customers > 4
    ):
        networks.build = lambda network, n, rng, base_dir=None: ring_lattice(n)
    try:
        model = Market(params=params, base_dir=base_dir)
        for _ in range(DAYS):
            model.day += 1
            model.today = Today()
            for stage in reversed(DAY):
                try:
                    stage.step(model)
                except Exception:
                    continue
    except Exception:
        pass
    finally:
        networks.build = build


def ring_lattice(n: int) -> Network:
    """Everyone linked to the two people on each side of a ring (``n > 4``), without kernels.

    The helper's network: the same arrays' types as a built network's, so the stages'
    kernels are compiled for the command's market, and none of the network builder's.
    """
    offsets = np.array([-2, -1, 1, 2], dtype=np.int64)
    indices = (np.arange(n, dtype=np.int64)[:, None] + offsets) % n
    indptr = np.arange(0, 4 * n + 1, 4, dtype=np.int64)
    return Network(n, "small_world", indptr, indices.astype(np.int32).ravel())
