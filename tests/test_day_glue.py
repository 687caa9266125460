"""The day's glue made cheaper (issue 14, third round) gives what the NumPy rules gave, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from cxsim.day import Today


@pytest.mark.parametrize(("m", "k", "seed"), [(0, 3, 0), (1, 2, 1), (2_000, 4, 2)])
def test_the_rival_kernel_picks_as_the_rule_in_numpy(m: int, k: int, seed: int) -> None:
    from cxsim.stages.retention import best_rivals

    rng = np.random.default_rng(seed)
    n = 500
    # Feelings on a coarse grid, so that ties between companies happen.
    attitude = (rng.integers(-4, 5, (k, n)) / 4).astype(np.float32)
    episode = (rng.integers(-4, 5, (k, n)) / 4).astype(np.float32)
    customers = rng.integers(0, n, m)
    provider = rng.integers(0, k, m).astype(np.int8)
    best, feeling = best_rivals(customers, provider, attitude, episode)
    # The rule, as best_rival wrote it in NumPy before the kernel.
    feelings = attitude[:, customers] + episode[:, customers]
    columns = np.arange(m)
    feelings[provider, columns] = -np.inf
    want = np.argmax(feelings, axis=0)
    assert np.array_equal(best, want)
    assert feeling.dtype == np.float32
    assert np.array_equal(feeling, feelings[want, columns])
    if m > 100:
        assert (best != provider).all()
        ties = np.sort(feelings, axis=0)[-1] == np.sort(feelings, axis=0)[-2]
        assert ties.any()


def test_flattened_experiences_are_the_rule_of_repeat_and_concatenate() -> None:
    rng = np.random.default_rng(3)
    today = Today()
    for event in range(12):
        size = int(rng.integers(0, 6))
        customers = rng.integers(0, 1000, size).astype(np.int32 if event % 3 else np.int64)
        company = int(rng.integers(0, 3)) if event % 2 else rng.integers(0, 3, size).astype(np.int8)
        strength = None if event % 4 else rng.random(size).astype(np.float32)
        today.experiences.append((event, customers, company, strength))
    events, customers, companies, strengths = today.first_hand()
    # The rule, as Today wrote it with NumPy's repeat and concatenate.
    sizes = [c.size for _, c, _, _ in today.experiences]
    want_events = np.repeat(np.array([e for e, _, _, _ in today.experiences], np.int8), sizes)
    want_customers = np.concatenate([c for _, c, _, _ in today.experiences]).astype(np.int64)
    want_companies = np.concatenate(
        [np.broadcast_to(np.asarray(k, np.int8), c.shape) for _, c, k, _ in today.experiences]
    )
    want_strengths = np.concatenate(
        [np.ones(c.size, np.float32) if s is None else s for _, c, _, s in today.experiences]
    )
    for got, want in (
        (events, want_events),
        (customers, want_customers),
        (companies, want_companies),
        (strengths, want_strengths),
    ):
        assert got.dtype == want.dtype
        assert np.array_equal(got, want)
    assert today.closed
    assert Today().first_hand()[1].size == 0
