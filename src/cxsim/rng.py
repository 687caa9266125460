"""Random streams: one independent, counter-based stream per run, stage, day and company.

No global random state is used anywhere. A run is named by its root seed and
its replication number; each stage of each day draws from its own Philox
generator, keyed by ``(seed, replication, stage, company)`` and started at the
day's own counter. Two runs with the same seed and replication but different
policies therefore see the same luck wherever their states agree (same network,
same initial customers, same purchase days), and a difference in one stage does
not shift the random numbers of any other stage or day: common random numbers
in the sense of starsim. Replication ``r`` of a scenario is the same run in
``cxsim run``, ``cxsim compare``, a sweep and a calibration trial.

Why Philox (a counter-based generator, Salmon et al. 2011): the numbers of
(stage, day, company) are a pure function of the key and the counter, so
starting a day's stream is setting a counter (about a microsecond), not
building a generator (about fifty). A compiled (Numba) kernel draws from the
same stream by its address (:meth:`Streams.address`, :func:`generator_at`):
exactly the numbers NumPy would, in the same order. Changing this derivation changes every result, and with it the
calibrated world: it is fixed here once (stream scheme :data:`STREAM_SCHEME`).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: Name of the stream derivation; recorded with results, part of the engine's fingerprint.
STREAM_SCHEME = "philox4x64:(seed,replication,stage,company):day"

#: Stage identifiers in the streams' keys; append only, never reorder (it would change results).
STREAM_IDS: dict[str, int] = {
    "setup": 0,
    "network": 1,
    "purchase": 2,
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


#: Fresh and derived root seeds are drawn below this: 53 bits survive a trip through a float64
#: column (pandas turns a row of numbers into floats, ``row["seed"]`` included), and fresh
#: seeds of a million runs coincide with a chance of about 6e-5.
FRESH_SEED_LIMIT = 2**53


def fresh_seed() -> int:
    """A root seed from the operating system's entropy, for a market built with no seed."""
    return _below_limit(np.random.SeedSequence())


def _below_limit(sequence: np.random.SeedSequence) -> int:
    return int(sequence.generate_state(1, np.uint64)[0] % np.uint64(FRESH_SEED_LIMIT))


def root_seed(value: object) -> int:
    """The root seed named by ``mesa.Model``'s ``seed=`` or ``rng=`` argument.

    A whole number ``>= 0`` is the root seed itself, so ``Market(seed=3)`` is run
    (3, r) of ``cxsim run --seed 3``. Mesa's other seed-likes give a root seed
    derived from them: a ``numpy.random.SeedSequence`` or a sequence of whole
    numbers (its first 53 bits of state), a ``numpy.random.Generator`` or bit
    generator (one number drawn from it, so a generator shared by several runs
    gives each its own seed).

    Raises:
        TypeError: for anything else (a string, a fraction, a bool).
        ValueError: for a negative number.

    """
    if isinstance(value, bool | np.bool_):
        raise TypeError(f"a seed is a whole number >= 0 or a numpy seed-like, got {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int | np.integer):
        if value < 0:
            raise ValueError(f"a seed is a whole number >= 0, got {value}")
        return int(value)
    if isinstance(value, np.random.BitGenerator):
        value = np.random.Generator(value)
    if isinstance(value, np.random.Generator):
        return int(value.integers(FRESH_SEED_LIMIT))
    if isinstance(value, list | tuple | np.ndarray) and all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) for v in value
    ):
        value = np.random.SeedSequence([int(v) for v in value])
    if isinstance(value, np.random.SeedSequence):
        return _below_limit(value)
    raise TypeError(f"a seed is a whole number >= 0 or a numpy seed-like, got {value!r}")


class Streams:
    """Factory of reproducible generators keyed by (stage, day, company) within one run.

    Each (stage, company) pair of run (``seed``, ``replication``) has its own
    Philox key, derived once from ``SeedSequence(seed, spawn_key=(replication,
    stage, company))``. Day ``d`` starts at counter ``(0, 0, d, 0)``: a day has
    2**128 blocks of its own, so days never overlap, and the numbers a stage
    gets on day ``d`` do not depend on how many it drew on other days.

    The generator returned for a (stage, company) pair is reused: a call moves
    it to the start of the requested day, so a generator is valid until the
    next call with the same stage and company.
    """

    def __init__(self, seed: int, replication: int = 0) -> None:
        self.seed = int(seed)
        self.replication = int(replication)
        self._streams: dict[
            tuple[int, int], tuple[np.random.Philox, dict, np.random.Generator]
        ] = {}

    def __call__(self, stage: str, day: int = 0, company: int = 0) -> np.random.Generator:
        """Return the generator for ``stage`` on ``day`` (and ``company``, for per-company draws)."""
        key = (STREAM_IDS[stage], int(company))
        stream = self._streams.get(key)
        if stream is None:
            sequence = np.random.SeedSequence(self.seed, spawn_key=(self.replication, *key))
            bits = np.random.Philox(key=sequence.generate_state(2, dtype=np.uint64))
            stream = (bits, _plain(bits.state), np.random.Generator(bits))
            self._streams[key] = stream
        bits, start, generator = stream
        start["state"]["counter"][2] = day
        bits.state = start
        return generator

    def address(self, stage: str, day: int = 0, company: int = 0) -> int:
        """The generator of :meth:`__call__`, as the address a compiled kernel draws from.

        Pass it to a kernel and call :func:`generator_at` there: handing the generator
        itself to Numba costs about 20 microseconds a call (it reads the bit generator's
        ctypes interface each time), the address about 0.2. The numbers are the same, and the
        generator is valid (and the address usable) until the next call for the same stage
        and company.
        """
        generator = self(stage, day, company)
        return bit_generator_address(generator)


def bit_generator_address(generator: np.random.Generator) -> int:
    """The address of ``generator``'s NumPy ``bitgen_t`` (state and next-number functions)."""
    return generator.bit_generator.ctypes.bit_generator.value


@intrinsic
def generator_at(typingctx, address):  # type: ignore[no-untyped-def]
    """In a kernel: the ``numpy.random.Generator`` whose ``bitgen_t`` is at ``address``.

    NumPy's ``bitgen_t`` (its public C API, ``numpy/random/bitgen.h``) is ``{state,
    next_uint64, next_uint32, next_double, next_raw}``;
    this builds Numba's own Generator value from it, as Numba does when a Generator is
    passed in, so ``random()``, ``poisson()``, ``integers()`` and ``standard_exponential()``
    are Numba's ports of NumPy's algorithms on the same state: the very numbers NumPy
    draws, leaving the stream where NumPy leaves it (``tests/test_rng.py``). The caller
    keeps the Python generator alive while the kernel runs (a :class:`Streams` does).
    """
    generator_type = types.NumPyRandomGeneratorType("generator")

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        word = context.get_value_type(types.uintp)
        base = builder.inttoptr(args[0], word.as_pointer())

        def field(i: int):  # type: ignore[no-untyped-def]
            return builder.load(builder.gep(base, [ir.Constant(ir.IntType(32), i)]))

        bits = cgutils.create_struct_proxy(types.NumPyRandomBitGeneratorType("bit_generator"))(
            context, builder
        )
        bits.state_address = field(0)
        bits.state = field(0)
        bits.fnptr_next_uint64 = field(1)
        bits.fnptr_next_uint32 = field(2)
        bits.fnptr_next_double = field(3)
        bits.bit_generator = args[0]
        bits.parent = cgutils.get_null_value(bits.parent.type)
        generator = cgutils.create_struct_proxy(generator_type)(context, builder)
        generator.bit_generator = bits._getvalue()
        generator.meminfo = cgutils.get_null_value(generator.meminfo.type)  # nothing to free
        generator.parent = cgutils.get_null_value(generator.parent.type)
        return generator._getvalue()

    return generator_type(types.uintp), codegen


def _plain(state: dict) -> dict:
    """A bit generator's state with Python lists for its arrays: the same state, set faster.

    Setting ``Philox.state`` reads the counter, key and buffer element by element; from a
    list that takes about a microsecond less than from a NumPy array, eight times a day.
    """
    return {
        name: _plain(value)
        if isinstance(value, dict)
        else value.tolist()
        if isinstance(value, np.ndarray)
        else value
        for name, value in state.items()
    }


#: Up to this many means, :func:`poisson_draws` draws one scalar at a time.
FEW_POISSON_MEANS = 24


def poisson_draws(rng: np.random.Generator, means: np.ndarray) -> np.ndarray:
    """``rng.poisson(means)``: one Poisson number per mean, in order, the very same numbers.

    NumPy draws an array of means one after another with the same C function as a single
    mean, but first checks the whole array in about 15 microseconds; a small market's day
    has a few tellers, so for up to :data:`FEW_POISSON_MEANS` means one scalar draw each
    (about half a microsecond) costs less.
    """
    if means.size > FEW_POISSON_MEANS:
        return rng.poisson(means)
    return np.array([rng.poisson(mean) for mean in means.tolist()], dtype=np.int64)


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
    position = rng.standard_exponential(batch)
    below = gap_positions(position, scale, -1.0, n)
    while below == position.size:  # rare: draw further gaps from where the last one ended
        more = rng.standard_exponential(batch)
        gap_positions(more, scale, position[-1], n)
        position = np.concatenate([position, more])
        below = int(np.searchsorted(position, n))
    return position[:below].astype(np.int64)


@numba.njit(cache=True, nogil=True)
def gap_positions(gaps: np.ndarray, scale: float, start: float, n: int) -> int:
    """Turn standard exponentials into positions, in place; return how many are below ``n``.

    Gap ``i`` is ``ceil(gaps[i] x scale)``, a Geometric(p) number for ``scale = -1 / log(1 - p)``;
    position ``i`` is ``start`` plus the gaps up to ``i``, summed in order (as ``np.cumsum``).
    Positions rise strictly, so those below ``n`` come first.
    """
    total = start
    below = 0
    for i in range(gaps.size):
        total += np.ceil(gaps[i] * scale)
        gaps[i] = total
        if total < n:
            below = i + 1
    return below


@numba.njit(cache=True, nogil=True)
def bernoulli_started(rng, n: int, p: float) -> tuple[np.ndarray, int]:  # type: ignore[no-untyped-def]
    """In a kernel: :func:`bernoulli_indices` on the kernel's generator ``rng`` (from :func:`generator_at`), and the draws it owes.

    The same indices from the same numbers: gaps are standard exponentials drawn in batches
    of ``int(mean + 6 sqrt(mean) + 16)`` (``mean = n p``), position ``i`` is ``-1`` plus
    ``ceil(gap x -1 / log(1 - p))`` summed in order, and another batch is begun only while
    the last position is still below ``n``. It stops drawing at the first position at or
    past ``n``; :func:`bernoulli_indices` draws its batch to the end. Returns the indices and
    how many exponentials that is (``owed``): drawing ``owed`` more standard exponentials
    (``rng.standard_exponential(owed)``) leaves the stream where :func:`bernoulli_indices`
    leaves it, which only matters if anything draws from the stream after it
    (``tests/test_rng.py`` checks both, number for number).
    """
    if p <= 0.0 or n == 0:
        return np.empty(0, dtype=np.int64), 0
    if p >= 1.0:
        everyone = np.empty(n, dtype=np.int64)
        for i in range(n):
            everyone[i] = i
        return everyone, 0
    scale = -1.0 / math.log1p(-p)
    mean = n * p
    batch = int(mean + 6.0 * math.sqrt(mean) + 16.0)
    out = np.empty(batch, dtype=np.int64)
    below = 0
    total = -1.0
    while True:
        if below + batch > out.size:  # rare: room for another batch
            grown = np.empty(2 * out.size + batch, dtype=np.int64)
            for i in range(below):  # (a loop: a slice assignment takes seconds to compile)
                grown[i] = out[i]
            out = grown
        for j in range(batch):
            total += np.ceil(rng.standard_exponential() * scale)
            if total >= n:
                return out[:below], batch - 1 - j
            out[below] = np.int64(total)
            below += 1


@numba.njit(cache=True, nogil=True)
def bernoulli_at(address: int, n: int, p: float) -> tuple[np.ndarray, int]:
    """:func:`bernoulli_started` in one compiled call on the stream at ``address``: indices, draws owed."""
    return bernoulli_started(generator_at(address), n, p)
