"""Random streams: one independent stream per stage, day and company.

No global random state is used anywhere. Each stage of each day draws from
its own generator: the stream of ``(stage, company)``, derived from the root
seed by a ``SeedSequence`` spawn key, advanced to the day's own block. Two
runs with the same seed but different policies therefore see the same luck
wherever their states agree (same network, same initial customers, same
purchase days), and a difference in one stage does not shift the random
numbers of any other stage or day: common random numbers in the sense of
starsim.
"""

from __future__ import annotations

import math

import numpy as np

#: Stage identifiers used in spawn keys; append only, never reorder (it would change results).
STREAM_IDS: dict[str, int] = {
    "setup": 0,
    "network": 1,
    "promise": 2,
    "problem": 3,
    "voice": 4,
    "response": 5,
    "attitude": 6,
    "word_of_mouth": 7,
    "retention": 8,
    "learning": 9,
    "accounts": 10,
    "journey": 11,
}


class Streams:
    """Factory of reproducible generators keyed by (stage, day, company).

    Each (stage, company) pair has its own PCG64 stream, seeded once from the
    root seed by a ``SeedSequence`` with spawn key ``(stage, company)``. Day
    ``d`` uses the block of that stream that starts ``d * 2**64`` draws in
    (``PCG64.advance``), so days never overlap (no day draws 2**64 numbers)
    and the numbers a stage gets on day ``d`` do not depend on how many it
    drew on other days. Advancing costs a few microseconds, where building a
    generator from a fresh ``SeedSequence`` costs about fifty, seven times a
    day.

    The generator returned for a (stage, company) pair is reused: a call
    rewinds it to the start of the requested day's block, so a generator is
    valid until the next call with the same stage and company.
    """

    _DAY_STRIDE = 1 << 64

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._streams: dict[tuple[int, int], tuple[np.random.PCG64, dict, np.random.Generator]] = {}

    def __call__(self, stage: str, day: int = 0, company: int = 0) -> np.random.Generator:
        """Return the generator for ``stage`` on ``day`` (and ``company``, for per-company draws)."""
        key = (STREAM_IDS[stage], int(company))
        stream = self._streams.get(key)
        if stream is None:
            bits = np.random.PCG64(np.random.SeedSequence(self.seed, spawn_key=key))
            stream = (bits, bits.state, np.random.Generator(bits))
            self._streams[key] = stream
        bits, start, generator = stream
        bits.state = start
        if day:
            bits.advance(int(day) * self._DAY_STRIDE)
        return generator


def bernoulli_indices(rng: np.random.Generator, n: int, p: float) -> np.ndarray:
    """Indices ``i < n`` each selected independently with probability ``p``, sorted.

    Exact: the gaps between selected indices of a Bernoulli(p) sequence are
    independent Geometric(p), and ``ceil(E / -log(1 - p))`` with E a standard
    exponential is Geometric(p). Drawing the gaps costs O(n p) instead of O(n),
    which is what lets a day of a million customers touch only the few
    thousand who buy, leave or hear something, and it needs a handful of NumPy
    calls at any size, which is what keeps a small market's day cheap.
    """
    if p <= 0.0 or n == 0:
        return np.empty(0, dtype=np.int64)
    if p >= 1.0:
        return np.arange(n, dtype=np.int64)
    scale = -1.0 / math.log1p(-p)
    mean = n * p
    batch = int(mean + 6.0 * math.sqrt(mean) + 16.0)  # enough to pass n almost always
    position = _positions(rng, batch, scale, -1.0)
    while position[-1] < n:  # rare: draw further gaps from where the last one ended
        position = np.concatenate([position, _positions(rng, batch, scale, position[-1])])
    return position[: int(np.searchsorted(position, n))].astype(np.int64)


def _positions(rng: np.random.Generator, size: int, scale: float, start: float) -> np.ndarray:
    """``start`` plus the running sum of ``size`` Geometric gaps (``scale = -1 / log(1 - p)``), as floats."""
    gaps = rng.standard_exponential(size)
    gaps *= scale
    np.ceil(gaps, out=gaps)
    gaps[0] += start
    return np.cumsum(gaps, out=gaps)
