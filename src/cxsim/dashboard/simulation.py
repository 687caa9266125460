"""Runs for the page: a market stepped day by day, with snapshots of the people drawn.

The page holds no model. A run is a pure function of its parameters and the
number of people drawn, so it is cached by :func:`simulate` in a bounded
least-recently-used cache keyed by the full parameter set: thirty students
with thirty settings get thirty entries and never see each other's, and a
journey asked for after the entry was evicted is simply computed again (same
seed, same result).

The network picture (who is drawn and where) depends only on the network, so
it has its own cache (:func:`picture`) and is computed once per network.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from cxsim.customers import PROSPECT
from cxsim.journey import JourneyLog
from cxsim.model import Market
from cxsim.networks import Network
from cxsim.networks import build as build_network
from cxsim.params import ModelParams, NetworkKind, NetworkParams
from cxsim.processes import local_pool
from cxsim.rng import Streams
from cxsim.run import run_market
from cxsim.summary import summarize

#: Runs kept in memory (a default-size run holds about 2 MB).
RUN_CACHE_SIZE = 32
#: Network pictures kept in memory.
PICTURE_CACHE_SIZE = 16
#: At most this many snapshots per run; longer runs keep every k-th day.
MAX_FRAMES = 400
#: Force-directed layout iterations (Fruchterman & Reingold, 1991).
LAYOUT_ITERATIONS = 50


@dataclass(frozen=True, eq=False)
class Picture:
    """Who the network picture draws, where, and the contacts among them.

    Attributes:
        nodes: customer ids drawn, in drawing order.
        x: horizontal positions, in [-1, 1].
        y: vertical positions, in [-1, 1].
        edge_from: drawing-order index of one end of each contact drawn.
        edge_to: drawing-order index of the other end.
        kind: the network's kind.

    """

    nodes: np.ndarray
    x: np.ndarray
    y: np.ndarray
    edge_from: np.ndarray
    edge_to: np.ndarray
    kind: str


@dataclass(frozen=True, eq=False)
class Run:
    """The outcome of one run, with what the page draws from it.

    Attributes:
        params: the parameters run.
        key: the cache key (the full parameter set and the number drawn).
        frame: tidy daily results (``Market.results_frame``).
        summary: whole-run figures per company (``Market.summary``).
        picture: the network picture.
        stride: snapshots are taken every ``stride`` days (day 0 included).
        provider: company of each drawn person at each snapshot (-1 prospect), (frames, drawn).
        attitude: 100 x tanh(felt attitude toward one's provider) at each snapshot (0 for
            prospects), int8, (frames, drawn).
        journey: journey events of the drawn people (``Market.journey_frame``).
        seconds: wall time of the run.

    """

    params: ModelParams
    key: str
    frame: pd.DataFrame
    summary: pd.DataFrame
    picture: Picture
    stride: int
    provider: np.ndarray
    attitude: np.ndarray
    journey: pd.DataFrame
    seconds: float

    @property
    def company_names(self) -> list[str]:
        """Names of the companies, in order."""
        return [c.name for c in self.params.companies]


def run_key(params: ModelParams, drawn: int, base_dir: Path | None = None) -> str:
    """The cache key of a run: its full parameter set, the number drawn and the story's folder."""
    return json.dumps(
        {
            "params": params.model_dump(mode="json"),
            "drawn": int(drawn),
            "base_dir": str(base_dir) if base_dir is not None else None,
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def picture_key(params: ModelParams, drawn: int, base_dir: Path | None = None) -> str:
    """The cache key of a network picture: the network, the market size, the seed, the number drawn."""
    return json.dumps(
        {
            "network": params.network.model_dump(mode="json"),
            "customers": params.market.customers,
            "seed": params.market.seed,
            "drawn": int(drawn),
            "base_dir": str(base_dir) if base_dir is not None else None,
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def simulate(params: ModelParams, drawn: int, base_dir: Path | None = None) -> Run:
    """The run of ``params`` with ``drawn`` people in the picture (cached)."""
    return _run_cached(run_key(params, drawn, base_dir))


def picture(params: ModelParams, drawn: int, base_dir: Path | None = None) -> Picture:
    """The network picture of ``params``' network (cached)."""
    return _picture_cached(picture_key(params, drawn, base_dir))


def clear_caches() -> None:
    """Forget all cached runs and pictures."""
    _run_cached.cache_clear()
    _picture_cached.cache_clear()


class _Workers:
    """The optional pool of worker processes that runs simulations (set once, at start-up).

    One Python process runs one simulation at a time (the GIL), so thirty
    students' changes would queue behind each other; worker processes run them
    on all the machine's cores. The pool holds no session's state: it only
    computes runs from their keys.
    """

    pool: ProcessPoolExecutor | None = None


def use_workers(count: int) -> None:
    """Run simulations in ``count`` worker processes (0 or 1: in the server's own process)."""
    if _Workers.pool is not None:
        _Workers.pool.shutdown(wait=False, cancel_futures=True)
        _Workers.pool = None
    if count > 1:
        # spawn, not fork: the web server is multi-threaded, and forking threads can deadlock.
        _Workers.pool = local_pool(count, mp.get_context("spawn"))


@lru_cache(maxsize=RUN_CACHE_SIZE)
def _run_cached(key: str) -> Run:
    pool = _Workers.pool
    if pool is not None:
        return pool.submit(compute_run, key).result()
    return compute_run(key)


def compute_run(key: str) -> Run:
    """Run the market described by a run key, with snapshots and journeys of the people drawn."""
    spec = json.loads(key)
    params = ModelParams.model_validate(spec["params"])
    base_dir = Path(spec["base_dir"]) if spec["base_dir"] else None
    drawn_count = int(spec["drawn"])
    start = time.perf_counter()
    pic = picture(params, drawn_count, base_dir)
    snapshots = Snapshots(pic.nodes, params.market.days)
    journeys = JourneyLog.of(params.market.customers, pic.nodes)
    market = run_market(params, base_dir=base_dir, observers=(snapshots, journeys))
    frame = market.results_frame()
    return Run(
        params=params,
        key=key,
        frame=frame,
        summary=summarize(frame, market.params),  # Market.summary(), without a second table
        picture=pic,
        stride=snapshots.stride,
        provider=snapshots.provider,
        attitude=snapshots.attitude,
        journey=journeys.to_frame([c.name for c in market.companies]),
        seconds=time.perf_counter() - start,
    )


class Snapshots:
    """An observer: the provider and own attitude of the drawn people, every ``stride`` days.

    At most :data:`MAX_FRAMES` snapshots per run (day 0 included); longer runs keep
    every ``stride``-th day.
    """

    def __init__(self, nodes: np.ndarray, days: int) -> None:
        self.nodes = nodes
        self.stride = max(1, math.ceil((days + 1) / MAX_FRAMES))
        frames = days // self.stride + 1
        self.provider = np.empty((frames, nodes.size), dtype=np.int8)
        self.attitude = np.empty((frames, nodes.size), dtype=np.int8)

    def attach(self, market: Market) -> None:
        """Day 0."""
        self.on_day(market)

    def on_day(self, market: Market) -> None:
        """Copy the drawn people's provider and own attitude on every ``stride``-th day."""
        if market.day % self.stride == 0:
            _snapshot(market, self.nodes, self.provider, self.attitude, market.day // self.stride)


def _snapshot(
    market: Market, nodes: np.ndarray, provider: np.ndarray, attitude: np.ndarray, frame: int
) -> None:
    """Copy the drawn people's provider and felt attitude toward it into row ``frame``.

    Attitudes are not bounded; the picture stores ``100 x tanh(felt)`` (an int8 from -100 to
    100), which keeps the order of feelings and the sign, and shows -1..1 as before for
    attitudes near neutral.
    """
    c = market.customers
    prov = c.provider[nodes]
    provider[frame] = prov
    own = (
        c.attitude[np.maximum(prov, 0).astype(np.intp), nodes]
        + c.episode[np.maximum(prov, 0).astype(np.intp), nodes]
    )
    attitude[frame] = np.where(prov != PROSPECT, np.rint(np.tanh(own) * 100), 0)


# --------------------------------------------------------------------------- the picture


@lru_cache(maxsize=PICTURE_CACHE_SIZE)
def _picture_cached(key: str) -> Picture:
    spec = json.loads(key)
    net_params = NetworkParams.model_validate(spec["network"])
    n = int(spec["customers"])
    base_dir = Path(spec["base_dir"]) if spec["base_dir"] else None
    # The same generator the market uses (replication 0), so the picture shows the market's
    # own network.
    net = build_network(net_params, n, Streams(int(spec["seed"]), 0)("network"), base_dir)
    return make_picture(net, int(spec["drawn"]))


def make_picture(net: Network, drawn: int) -> Picture:
    """Choose ``drawn`` people of ``net`` and lay them out.

    A small world is drawn as its ring: the arc of people around person 0, laid
    along a spiral (a circle would crowd them) so that each sits beside its
    lattice neighbours and the rewired shortcuts show as long lines.
    Other networks are drawn as the ball of people nearest to person 0 (a
    connected neighbourhood, so stories can be seen travelling), laid out by a
    force-directed layout with a fixed seed. A fully mixed market has no
    contacts to draw, so its people sit on a sunflower spiral.
    """
    n = net.n
    drawn = max(1, min(drawn, n))
    if net.fully_mixed:
        nodes = np.arange(drawn, dtype=np.int64)
        x, y = _sunflower(drawn)
        empty = np.empty(0, dtype=np.int64)
        return Picture(nodes, x, y, empty, empty, net.kind)
    if net.kind == NetworkKind.small_world.value:
        half = drawn // 2
        nodes = (np.arange(-half, drawn - half, dtype=np.int64)) % n
        nodes = np.unique(nodes)
        order = (nodes + half) % n  # ring order, starting half an arc before person 0
        nodes = nodes[np.argsort(order, kind="stable")]
    else:
        nodes = _ball(net, 0, drawn)
    src, dst = _edges_among(net, nodes)
    if net.kind == NetworkKind.small_world.value:
        x, y = _spiral(nodes.size)
    else:
        x, y = force_layout(nodes.size, src, dst)
    return Picture(nodes, x.astype(np.float64), y.astype(np.float64), src, dst, net.kind)


def _ball(net: Network, start: int, size: int) -> np.ndarray:
    """The ``size`` people nearest to ``start`` (breadth first; then others, by id)."""
    seen = np.zeros(net.n, dtype=bool)
    seen[start] = True
    order = [np.array([start], dtype=np.int64)]
    frontier = order[0]
    total = 1
    while total < size and frontier.size:
        nbrs = net.contacts(frontier)[1].astype(np.int64)
        nbrs = np.unique(nbrs[~seen[nbrs]])
        nbrs = nbrs[: size - total]
        seen[nbrs] = True
        order.append(nbrs)
        total += nbrs.size
        frontier = nbrs
    if total < size:  # a disconnected network: fill up with the lowest ids not reached
        rest = np.flatnonzero(~seen)[: size - total].astype(np.int64)
        order.append(rest)
    return np.concatenate(order)


def _edges_among(net: Network, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Contacts among ``nodes``, once each, as indices into ``nodes``."""
    local = np.full(net.n, -1, dtype=np.int64)
    local[nodes] = np.arange(nodes.size)
    deg, nbrs = net.contacts(nodes)
    src = np.repeat(np.arange(nodes.size), deg)
    dst = local[nbrs]
    keep = (dst >= 0) & (src < dst)
    return src[keep], dst[keep]


def force_layout(
    n: int, src: np.ndarray, dst: np.ndarray, iterations: int = LAYOUT_ITERATIONS, seed: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Fruchterman-Reingold positions of ``n`` nodes joined by edges ``src``-``dst``, in [-1, 1].

    Vectorised NumPy, all pairs (fine for a few thousand nodes: networkx's
    sparse version is much slower at this size); a fixed seed gives the same
    picture every time.
    """
    rng = np.random.default_rng(seed)
    x = rng.random(n).astype(np.float32)
    y = rng.random(n).astype(np.float32)
    if n < 2:
        return x, y
    k2 = np.float32(1.0 / n)
    k = np.sqrt(k2)
    temperature = 0.1
    cooling = temperature / (iterations + 1)
    for _ in range(iterations):
        dx = x[:, None] - x[None, :]
        dy = y[:, None] - y[None, :]
        d2 = dx * dx
        d2 += dy * dy
        np.maximum(d2, np.float32(1e-4), out=d2)
        push = np.divide(k2, d2, out=d2)  # repulsion k^2 / d, along the unit vector: k^2 / d^2
        fx = (dx * push).sum(axis=1)
        fy = (dy * push).sum(axis=1)
        ex = x[src] - x[dst]
        ey = y[src] - y[dst]
        pull = np.sqrt(ex * ex + ey * ey) / k  # attraction d^2 / k, along the unit vector: d / k
        ax, ay = ex * pull, ey * pull
        fx -= np.bincount(src, ax, n).astype(np.float32) - np.bincount(dst, ax, n).astype(
            np.float32
        )
        fy -= np.bincount(src, ay, n).astype(np.float32) - np.bincount(dst, ay, n).astype(
            np.float32
        )
        length = np.sqrt(fx * fx + fy * fy)
        np.maximum(length, np.float32(0.01), out=length)
        scale = np.float32(temperature) / length
        x += fx * scale
        y += fy * scale
        temperature -= cooling
    x -= x.mean()
    y -= y.mean()
    span = float(max(np.abs(x).max(), np.abs(y).max())) or 1.0  # one scale: keep the aspect
    return x / span, y / span


def _spiral(n: int, inner: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points evenly spaced along an Archimedean spiral from radius ``inner`` to 1."""
    s = np.arange(n) / max(n, 1)
    r = np.sqrt(inner**2 + (1 - inner**2) * s)  # equal arc length per point
    turns = max(1.0, np.sqrt(n) / 4.0)
    theta = 2 * np.pi * turns * (r - inner) / (1 - inner)
    return r * np.cos(theta), r * np.sin(theta)


def _sunflower(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` evenly spread points in the unit disc (Vogel's spiral)."""
    i = np.arange(n) + 0.5
    r = np.sqrt(i / n)
    theta = np.pi * (3 - np.sqrt(5)) * i
    return r * np.cos(theta), r * np.sin(theta)
