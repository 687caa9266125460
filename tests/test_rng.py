"""Random streams and Bernoulli index sampling."""

import math

import numba
import numpy as np
import pytest
from scipy import stats

from cxsim.rng import (
    FEW_POISSON_MEANS,
    Streams,
    bernoulli_at,
    bernoulli_indices,
    bernoulli_started,
    bit_generator_address,
    generator_at,
    poisson_draws,
)


@pytest.mark.parametrize(("n", "p"), [(50, 0.3), (1_000, 0.05), (10_000, 0.002), (200, 0.97)])
def test_bernoulli_indices_are_sorted_distinct_and_in_range(n, p):
    rng = np.random.default_rng(1)
    for _ in range(200):
        idx = bernoulli_indices(rng, n, p)
        assert idx.dtype == np.int64
        assert np.all(np.diff(idx) > 0)
        assert idx.size == 0 or (idx[0] >= 0 and idx[-1] < n)


def test_bernoulli_indices_count_is_binomial_and_every_index_equally_likely():
    n, p, reps = 400, 0.05, 20_000
    rng = np.random.default_rng(7)
    sizes = np.empty(reps)
    hits = np.zeros(n)
    for r in range(reps):
        idx = bernoulli_indices(rng, n, p)
        sizes[r] = idx.size
        hits[idx] += 1
    # Mean count within 4 standard errors of n p.
    se = math.sqrt(n * p * (1 - p) / reps)
    assert abs(sizes.mean() - n * p) < 4 * se
    # Variance of the count: n p (1 - p), within 4 standard errors of a sample variance.
    var = n * p * (1 - p)
    assert abs(sizes.var(ddof=1) - var) < 4 * var * math.sqrt(2 / (reps - 1))
    # Each index is selected with probability p: a chi-square test over all indices.
    expected = reps * p
    chi2 = float(((hits - expected) ** 2 / expected).sum())
    assert stats.chi2.sf(chi2, n - 1) > 1e-4
    # First and last index (edge effects of the gap method) in particular.
    se_hit = math.sqrt(reps * p * (1 - p))
    assert abs(hits[0] - expected) < 4 * se_hit
    assert abs(hits[-1] - expected) < 4 * se_hit


def test_bernoulli_indices_edge_probabilities():
    rng = np.random.default_rng(0)
    assert bernoulli_indices(rng, 10, 0.0).size == 0
    assert bernoulli_indices(rng, 0, 0.5).size == 0
    assert np.array_equal(bernoulli_indices(rng, 5, 1.0), np.arange(5))


def test_a_days_stream_does_not_depend_on_other_days_draws():
    """Common random numbers: day 3's numbers are the same whatever was drawn on days 1 and 2."""
    a, b = Streams(11), Streams(11)
    a("voice", 1).random(5)
    a("voice", 2).random(10_000)
    b("voice", 1).random(3)
    assert np.array_equal(a("voice", 3).random(8), b("voice", 3).random(8))
    # Asking again for the same day starts that day's block again.
    assert np.array_equal(a("voice", 3).random(8), Streams(11)("voice", 3).random(8))


def test_streams_differ_by_stage_day_company_and_seed():
    s = Streams(3)
    draws = {
        key: s(*key).random(4).tolist()
        for key in [("voice", 1, 0), ("voice", 2, 0), ("voice", 1, 1), ("problem", 1, 0)]
    }
    draws[("seed 4",)] = Streams(4)("voice", 1, 0).random(4).tolist()
    values = [tuple(v) for v in draws.values()]
    assert len(set(values)) == len(values)


@pytest.mark.parametrize("size", [0, 1, 7, FEW_POISSON_MEANS, FEW_POISSON_MEANS + 1, 300])
def test_poisson_draws_are_the_numbers_numpy_draws_for_an_array_of_means(size):
    means = np.random.default_rng(size).choice([0.0, 0.4, 3.0, 12.5], size=size)
    ours, theirs = (np.random.Generator(np.random.Philox(5)) for _ in range(2))
    got = poisson_draws(ours, means)
    assert got.dtype == np.int64
    assert np.array_equal(got, theirs.poisson(means))
    assert ours.random() == theirs.random()  # and leave the stream where NumPy leaves it


@numba.njit(cache=True)
def _draw_in_a_kernel(address, n, mean, high):  # type: ignore[no-untyped-def]
    rng = generator_at(address)
    uniform = np.empty(n)
    counts = np.empty(n, dtype=np.int64)
    picks = np.empty(n, dtype=np.int64)
    waits = np.empty(n)
    for i in range(n):
        uniform[i] = rng.random()
    for i in range(n):
        counts[i] = rng.poisson(mean)
    for i in range(n):
        picks[i] = rng.integers(0, high)
    for i in range(n):
        waits[i] = rng.standard_exponential()
    return uniform, counts, picks, waits


@pytest.mark.parametrize(
    ("n", "mean", "high"),
    [
        (0, 1.0, 5),
        (1, 0.0, 1),
        (7, 0.4, 7),
        (50, 3.0, 1000),
        (300, 12.5, 2**31 + 5),
        (40, 9.5, 2**40),
    ],
)
def test_a_kernel_draws_from_a_streams_address_the_numbers_numpy_draws(n, mean, high):
    """What the stages' kernels rely on: their draws are NumPy's, in order, on the same stream."""
    streams, twin = Streams(11, 2), Streams(11, 2)
    address = streams.address("word_of_mouth", 40, 1)
    ours = _draw_in_a_kernel(address, n, mean, high)
    rng = twin("word_of_mouth", 40, 1)
    theirs = (
        rng.random(n),
        rng.poisson(mean, size=n),
        rng.integers(0, high, size=n),
        rng.standard_exponential(n),
    )
    for got, expected in zip(ours, theirs, strict=True):
        assert np.array_equal(got, expected)
    # The address is the stream's for good, and the kernel leaves the stream where NumPy
    # leaves it: the Python generator draws on from there.
    mine = streams("word_of_mouth", 40, 1)  # back to the day's start
    assert bit_generator_address(mine) == address
    _draw_in_a_kernel(address, n, mean, high)
    assert mine.random() == rng.random()


@pytest.mark.parametrize(
    ("n", "p"),
    [(0, 0.3), (10, 0.0), (10, 1.0), (3, 0.5), (50, 0.3), (200, 0.97), (5, 0.999), (2_000, 0.01)],
)
def test_in_a_kernel_bernoulli_indices_are_numpys_and_owe_the_rest_of_the_batch(n, p):
    """The compiled Bernoulli draw: the same indices as :func:`bernoulli_indices`, from the same draws.

    Over 300 days each. It stops at the first gap past ``n``: the draws it owes, drawn in
    NumPy, bring the stream to where :func:`bernoulli_indices` leaves it. (A day that needs a
    second batch of gaps is a six-sigma event with real draws: the next test forces one.)
    """
    streams, twin = Streams(5), Streams(5)
    for day in range(300):
        ours, owed = bernoulli_at(streams.address("purchase", day), n, p)
        rng = twin("purchase", day)
        theirs = bernoulli_indices(rng, n, p)
        assert ours.dtype == theirs.dtype == np.int64
        assert np.array_equal(ours, theirs)
        assert owed >= 0
        mine = streams("purchase", day)
        _, owed = bernoulli_at(bit_generator_address(mine), n, p)
        mine.standard_exponential(owed)
        assert mine.random() == rng.random()


class _Exponentials:
    """A stand-in generator that hands out given standard exponentials, one or a batch at a time."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values
        self.used = 0

    def standard_exponential(self, size: int | None = None) -> float | np.ndarray:
        take = 1 if size is None else size
        out = self.values[self.used : self.used + take]
        self.used += take
        return float(out[0]) if size is None else out.copy()


@pytest.mark.parametrize("scale", [1e-12, 1e-3])
def test_a_bernoulli_draw_that_needs_more_batches_of_gaps_is_numpys(scale: float) -> None:
    """The rare branch (every gap of a batch below ``n``), forced with tiny exponentials.

    With real draws it is a six-sigma event, so the two rules (the NumPy one and the kernel's,
    run as Python) are given the same made-up exponentials: most gaps are 1, so ``n = 300``
    needs many batches of ``int(n p + 6 sqrt(n p) + 16) = 19``.
    """
    n, p = 300, 0.001
    values = np.random.default_rng(3).standard_exponential(5_000) * scale
    numpy_rule, kernel_rule = _Exponentials(values), _Exponentials(values)
    theirs = bernoulli_indices(numpy_rule, n, p)  # type: ignore[arg-type]
    ours, owed = bernoulli_started.py_func(kernel_rule, n, p)
    assert theirs.size > 19  # several batches were needed
    assert np.array_equal(ours, theirs)
    assert kernel_rule.used + owed == numpy_rule.used  # the rest of the last batch is owed
