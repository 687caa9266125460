"""Random streams: one independent stream per stage, day and company.

No global random state is used anywhere. Each stage of each day draws from
its own generator, derived from the root seed by a ``SeedSequence`` spawn key
``(stage, day, company)``. Two runs with the same seed but different policies
therefore see the same luck wherever their states agree (same network, same
initial customers, same purchase days), and a difference in one stage does
not shift the random numbers of any other stage or day: common random numbers
in the sense of starsim.
"""

from __future__ import annotations

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
    """Factory of reproducible generators keyed by (stage, day, company)."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)

    def __call__(self, stage: str, day: int = 0, company: int = 0) -> np.random.Generator:
        """Return the generator for ``stage`` on ``day`` (and ``company``, for per-company draws)."""
        seq = np.random.SeedSequence(
            self.seed, spawn_key=(STREAM_IDS[stage], int(day), int(company))
        )
        return np.random.Generator(np.random.PCG64(seq))


def bernoulli_indices(rng: np.random.Generator, n: int, p: float) -> np.ndarray:
    """Indices ``i < n`` each selected independently with probability ``p``, sorted.

    Exact: the number selected is Binomial(n, p) and, given that number, the
    set is uniform. Costs O(n p) instead of O(n), which is what lets a day of a
    million customers touch only the few thousand who buy, leave or hear
    something.
    """
    if p <= 0.0 or n == 0:
        return np.empty(0, dtype=np.int64)
    if p >= 1.0:
        return np.arange(n, dtype=np.int64)
    m = int(rng.binomial(n, p))
    idx = rng.choice(n, size=m, replace=False, shuffle=False)
    idx.sort()
    return idx.astype(np.int64, copy=False)
