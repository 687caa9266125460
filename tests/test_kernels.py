"""Compiled kernels give exactly what their rule, written in NumPy, gives."""

from __future__ import annotations

import numpy as np
import pytest

from cxsim.stages import accounts


def random_market(n: int, k: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    attitude = rng.normal(0.0, 0.6, (k, n)).astype(np.float32)
    # Some people exactly on the thresholds, where >= and <= decide.
    attitude[:, : n // 10] = np.float32(0.5)
    attitude[:, n // 10 : n // 5] = np.float32(-0.3)
    return {
        "provider": rng.integers(-1, k, n).astype(np.int8),
        "join_day": rng.integers(-300, 300, n).astype(np.int32),
        "attitude": attitude,
        "episode": np.where(rng.random((k, n)) < 0.5, 0, rng.normal(0, 0.3, (k, n))).astype(
            np.float32
        ),
    }


@pytest.mark.parametrize(("n", "k", "seed"), [(0, 2, 0), (1, 1, 1), (997, 3, 2), (20_000, 4, 3)])
def test_the_level_kernel_counts_as_the_rule_in_numpy(n: int, k: int, seed: int) -> None:
    m = random_market(n, k, seed)
    promoter, detractor = 0.5, -0.3
    felt, mine = np.empty(n, np.float32), np.empty(n, np.float32)
    for company in range(k):
        got = accounts.level_counts(
            company,
            m["provider"],
            m["join_day"],
            m["attitude"],
            m["episode"],
            np.float32(promoter),
            np.float32(detractor),
            felt,
            mine,
        )
        # The rule, as the accounts stage wrote it in NumPy before the kernel.
        ours = m["provider"] == company
        feeling = m["attitude"][company] + m["episode"][company]
        want = (
            np.count_nonzero(ours & (m["join_day"] <= 0)),
            np.count_nonzero(ours & (feeling >= promoter)),
            np.count_nonzero(ours & (feeling <= detractor)),
        )
        assert got == want
        assert np.array_equal(felt, feeling)
        assert np.array_equal(mine, ours.astype(np.float32))
        assert np.dot(felt, mine) == np.dot(feeling, ours)
