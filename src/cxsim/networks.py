"""The customers' social network, held as compact CSR arrays.

A :class:`Network` of ``n`` customers stores its undirected edges in
compressed-sparse-row form: the neighbours of node ``i`` are
``indices[indptr[i]:indptr[i + 1]]``. Every edge is stored in both
directions, there are no self-loops and no duplicate edges, and within each
row the neighbours are in a random order fixed when the network is built.
That pre-shuffled order is what makes :meth:`Network.sample_listeners` both
vectorised and exact: a random window of consecutive entries of a row is a
uniformly placed sample of the neighbours.

Memory is about ``8 + 4 * (mean degree + 1)`` bytes per node (``int64`` row
pointers, ``int32`` neighbour ids and ``int32`` degrees), about 52 bytes per
node at mean degree 10. A fully mixed population holds no edges at all.

All generators are vectorised NumPy or compiled kernels (no Python loops
over nodes or edges), build in time linear in the edges (but for one sort of
the edge keys) with about 24 bytes per edge at the peak, and draw only from
the ``numpy.random.Generator`` they are given, so the same seed always gives
the same arrays.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import numba
import numpy as np

from cxsim.errors import InputError
from cxsim.params.schema import NetworkKind, NetworkParams

__all__ = [
    "KINDS",
    "Network",
    "NetworkFile",
    "NetworkFileError",
    "build",
    "file_path",
    "from_edges",
    "fully_mixed",
    "random_graph",
    "read_edge_list",
    "read_network_file",
    "scale_free",
    "small_world",
]

#: The values of :attr:`Network.kind`: the schema's one list of network shapes.
KINDS: tuple[str, ...] = tuple(kind.value for kind in NetworkKind)

#: Random bits per row entry below which a network's rows get 32 random bits per entry instead.
_MIN_SHUFFLE_BITS = 16
#: Random bits for row shuffling are drawn this many at a time, to bound the build's peak memory.
_NOISE_CHUNK = 1 << 20

#: Seed of the row shuffle of networks read from files when no generator is given.
_FILE_SHUFFLE_SEED = 0


class NetworkFileError(InputError):
    """A network file that cannot be read; message is one line naming the file and the problem."""


@dataclass(frozen=True, eq=False)
class Network:
    """An undirected social network of ``n`` nodes in CSR form, or a fully mixed population.

    Attributes:
        n: Number of nodes (customers), numbered ``0 .. n - 1``.
        kind: How the network was made: one of :data:`KINDS`.
        indptr: ``int64`` row pointers of shape ``(n + 1,)``; ``None`` when fully mixed.
        indices: ``int32`` neighbour ids; each undirected edge appears in both rows. Within
            a row the neighbours are in a random order fixed at build time. ``None`` when
            fully mixed.

    The arrays are made read-only. Build networks with the generators of this
    module (or :func:`from_edges`) rather than by hand: they guarantee the CSR
    invariants (symmetric, no self-loops, no duplicates, shuffled rows).

    """

    n: int
    kind: str
    indptr: np.ndarray | None = field(default=None, repr=False)
    indices: np.ndarray | None = field(default=None, repr=False)
    _degree: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n = int(self.n)
        if n < 0:
            raise ValueError(f"a network needs n >= 0 nodes, got {n}")
        if self.kind not in KINDS:
            raise ValueError(f"unknown network kind {self.kind!r}; expected one of {KINDS}")
        object.__setattr__(self, "n", n)
        if (self.indptr is None) != (self.indices is None):
            raise ValueError("indptr and indices must both be given or both be None")
        if self.indptr is None:
            if self.kind != "fully_mixed":
                raise ValueError(f"a {self.kind} network needs indptr and indices")
            degree = np.full(n, max(n - 1, 0), dtype=np.int32)
        else:
            if self.kind == "fully_mixed":
                raise ValueError("a fully mixed network holds no edge arrays")
            indptr = np.asarray(self.indptr, dtype=np.int64)
            indices = np.asarray(self.indices, dtype=np.int32)
            if indptr.shape != (n + 1,) or indptr[0] != 0 or indptr[-1] != indices.size:
                raise ValueError("indptr must have shape (n + 1,), start at 0, end at len(indices)")
            indptr.flags.writeable = False
            indices.flags.writeable = False
            object.__setattr__(self, "indptr", indptr)
            object.__setattr__(self, "indices", indices)
            degree = np.diff(indptr).astype(np.int32)
        degree.flags.writeable = False
        object.__setattr__(self, "_degree", degree)

    def __repr__(self) -> str:
        return f"Network(n={self.n}, kind={self.kind!r}, n_edges={self.n_edges})"

    @property
    def fully_mixed(self) -> bool:
        """Whether everyone can reach everyone (no edge arrays are held)."""
        return self.indptr is None

    @property
    def degree(self) -> np.ndarray:
        """Read-only ``int32`` degree of every node; ``n - 1`` everywhere when fully mixed."""
        return self._degree

    @property
    def n_edges(self) -> int:
        """Number of undirected edges (0 for a fully mixed population, which holds none)."""
        return 0 if self.indices is None else self.indices.size // 2

    def neighbors(self, i: int) -> np.ndarray:
        """Return the neighbours of node ``i``, in the row's (random) stored order.

        For a fully mixed population this is every other node, in increasing
        order; it costs O(n), so avoid it in loops.
        """
        i = int(i)
        if not 0 <= i < self.n:
            raise IndexError(f"node {i} is not in a network of {self.n} nodes")
        if self.indptr is None or self.indices is None:
            return np.delete(np.arange(self.n, dtype=np.int32), i)
        return self.indices[self.indptr[i] : self.indptr[i + 1]]

    def contacts(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """All contacts of ``nodes`` at once: their degrees and their rows, concatenated.

        Returns ``(degree, contact)``: ``degree[j]`` (int64) is the number of
        contacts of ``nodes[j]``, and ``contact`` holds them row after row, so
        ``np.repeat(np.arange(nodes.size), degree)`` says whose each one is.
        Not for a fully mixed population, which stores no contacts.
        """
        if self.indptr is None or self.indices is None:
            raise ValueError("a fully mixed population stores no contacts")
        nodes = np.asarray(nodes, dtype=np.int64)
        if nodes.size == 0:
            return np.zeros(0, dtype=np.int64), self.indices[:0]
        start = self.indptr[nodes]
        degree = (self.indptr[nodes + 1] - start).astype(np.int64, copy=False)
        end = np.cumsum(degree)
        # Position p of the output is row entry start[j] + (p - first output of j).
        rows = np.arange(end[-1]) + np.repeat(start - (end - degree), degree)
        return degree, self.indices[rows]

    def sample_listeners(
        self, tellers: np.ndarray, audience: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Choose who hears each teller: up to ``audience[j]`` distinct contacts of ``tellers[j]``.

        Each teller ``tellers[j]`` reaches ``min(audience[j], degree)`` distinct
        neighbours. The choice is vectorised: a start offset ``r`` uniform in
        ``[0, degree)`` is drawn per teller and the listeners are the row
        entries ``(r + 0) mod degree, ..., (r + a - 1) mod degree``. Because
        rows are shuffled at build time, every neighbour is included with
        probability ``a / degree``. (Pairs of neighbours are not exactly
        uniform: for a given teller, only neighbours close together in its
        fixed row order are heard together.)

        In a fully mixed population the ``min(audience[j], n - 1)`` listeners
        are a uniform random set of distinct nodes other than the teller
        (drawn from the ``n - 1`` others by shifting past the teller, with
        repeats redrawn until all are distinct).

        Args:
            tellers: Node ids of the tellers (any integer array; repeats allowed).
            audience: Requested number of listeners per teller (non-negative
                integers, same length as ``tellers``, or a scalar).
            rng: Source of randomness.

        Returns:
            ``(teller_position, listener)``: two ``int64`` arrays of equal length.
            ``teller_position`` indexes into ``tellers`` (so callers can carry
            per-teller data along); ``listener`` is the listener's node id.
            Listeners of one teller are contiguous, tellers in input order.

        Raises:
            ValueError: If shapes differ or an audience is negative.

        """
        tellers = np.asarray(tellers, dtype=np.int64).reshape(-1)
        audience = np.asarray(audience, dtype=np.int64)
        if audience.shape != tellers.shape:  # a scalar (broadcast_to costs more than the draw)
            audience = np.broadcast_to(audience, tellers.shape)
        if tellers.size == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        if audience.min() < 0:
            raise ValueError("audience sizes must be non-negative")
        if self.indptr is None or self.indices is None:
            return self._sample_fully_mixed(tellers, audience, rng)

        return listeners_in_rows(
            self.indptr, self.indices, tellers, audience, rng.random(tellers.size)
        )

    def _sample_fully_mixed(
        self, tellers: np.ndarray, audience: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        n = self.n
        a = np.minimum(audience, max(n - 1, 0))
        position = np.repeat(np.arange(tellers.size, dtype=np.int64), a)
        teller = tellers[position]
        listener = np.empty(position.size, dtype=np.int64)
        todo = np.arange(position.size, dtype=np.int64)
        # Redraw repeats until every teller's listeners are distinct. The procedure treats all
        # other nodes alike, so the final set is a uniform random set of the required size.
        while todo.size:
            draw = rng.integers(0, n - 1, size=todo.size, dtype=np.int64)
            listener[todo] = draw + (draw >= teller[todo])
            key = position * n + listener
            order = np.argsort(key, kind="stable")
            repeat = np.zeros(key.size, dtype=bool)
            repeat[order[1:]] = key[order[1:]] == key[order[:-1]]
            todo = np.flatnonzero(repeat)
        return position, listener

    def nbytes(self) -> int:
        """Bytes held by the network's arrays (row pointers, neighbour ids and degrees)."""
        total = self._degree.nbytes
        if self.indptr is not None and self.indices is not None:
            total += self.indptr.nbytes + self.indices.nbytes
        return int(total)


# --------------------------------------------------------------------------- building


def _unique_sorted(keys: np.ndarray) -> np.ndarray:
    """Return the sorted distinct values of an integer array, sorting ``keys`` in place.

    Same result as ``np.unique(keys)``, which is several times slower for
    millions of ``int64`` keys on the NumPy this was measured with. The caller
    hands over ``keys``: it is sorted and deduplicated in place, and the result
    is its first part (no copy: peak memory matters at ten million nodes).
    """
    keys.sort()
    return keys[: _drop_repeats(keys)]


@numba.njit(cache=True, nogil=True)
def _drop_repeats(keys: np.ndarray) -> int:
    """Move the distinct values of sorted ``keys`` to its front, in order; return how many."""
    if keys.size == 0:
        return 0
    kept = 1
    for i in range(1, keys.size):
        if keys[i] != keys[kept - 1]:
            keys[kept] = keys[i]
            kept += 1
    return kept


@numba.njit(cache=True, nogil=True)
def _count_loops(src: np.ndarray, dst: np.ndarray) -> int:
    """How many edges ``(src[k], dst[k])`` are self-loops."""
    loops = 0
    for k in range(src.size):
        loops += src[k] == dst[k]
    return loops


@numba.njit(cache=True, nogil=True)
def _edge_keys(n: int, src: np.ndarray, dst: np.ndarray, keys: np.ndarray) -> None:
    """Write the keys ``min(s, d) * n + max(s, d)`` of the edges into ``keys``, self-loops left out."""
    j = 0
    for k in range(src.size):
        s = np.int64(src[k])
        d = np.int64(dst[k])
        if s != d:
            keys[j] = min(s, d) * n + max(s, d)
            j += 1


def _canonical_keys(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Return sorted distinct keys ``u * n + v`` (``u < v``) of the edges, without self-loops."""
    src = np.asarray(src).reshape(-1)
    dst = np.asarray(dst).reshape(-1)
    if src.dtype.kind not in "iu" or dst.dtype.kind not in "iu":
        src, dst = src.astype(np.int64), dst.astype(np.int64)
    if src.shape != dst.shape:
        raise ValueError(f"src and dst differ in length ({src.size} vs {dst.size})")
    if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n):
        raise ValueError(f"edge end points must lie in [0, {n})")
    # Arrays this large are allocated by NumPy (which asks Linux for huge pages), filled by kernels.
    keys = np.empty(src.size - _count_loops(src, dst), dtype=np.int64)
    _edge_keys(n, src, dst, keys)
    return _unique_sorted(keys)


def _csr_from_keys(
    n: int, keys_box: list[np.ndarray], kind: str, rng: np.random.Generator | None
) -> Network:
    """Build a :class:`Network` from distinct canonical edge keys ``u * n + v`` with ``u < v``.

    The keys come in a one-item list that is emptied, so that their memory can
    be reused for the edges' end points (the caller keeps no reference).

    Each edge is stored in both rows: entry ``e < m`` of the ``2m`` is edge
    ``e``'s key in row ``u`` (column ``v``), entry ``m + e`` the same edge in row
    ``v`` (column ``u``), edges in key order. The order within each row is the
    order of one ``np.sort`` of packed ``int64`` keys ``row | random bits |
    column``: with ``b = bit_length(n - 1)`` bits per node id, the ``63 - 2b``
    bits left in between (23 for a million nodes) are random, drawn for the
    entries in order, so each row comes out in an independent random order.
    Two entries of a row with equal random bits (probability ``2**-(63 - 2b)``
    per pair) keep their column order, a negligible bias. Beyond about 8
    million nodes, where fewer than 16 bits would be left, each entry gets 32
    random bits instead (:func:`_shuffle_bits`): each row is ordered by
    ``(random bits, column)`` all the same, which no longer fits one ``int64``
    key with the row, and needs none, as entries are placed straight into
    their rows.

    No sort of all entries is made: entries are placed straight into their rows
    (:func:`_rows_by_noise`) and each row is sorted on its own, which gives the
    same arrays in linear time and about 24 bytes per edge of peak memory.
    """
    if n >= 2**31:
        raise ValueError(f"at most 2**31 - 1 nodes fit int32 node ids, got {n}")
    keys = keys_box.pop()
    ends = _split_keys(keys, n)
    del keys
    indptr = _row_pointers(ends, n)
    bits = max(int(n - 1).bit_length(), 1)
    indices = _rows_by_noise(ends, indptr, rng, bits, _shuffle_bits(n) if rng is not None else 0)
    del ends
    return Network(n, kind, indptr, indices)


def _shuffle_bits(n: int) -> int:
    """Random bits per row entry of a network of ``n`` nodes: ``63 - 2 bit_length(n - 1)``, or 32.

    The first is what the packed sort ``row | random bits | column`` left (23 bits for a
    million nodes; every network up to 2**23 nodes keeps the rows it had). Where that is
    fewer than :data:`_MIN_SHUFFLE_BITS` (beyond 2**23, about 8.4 million nodes), 32: ties
    within a row (kept in column order) then have probability 2**-32 per pair.
    """
    spare = 63 - 2 * max(int(n - 1).bit_length(), 1)
    return spare if spare >= _MIN_SHUFFLE_BITS else 32


def _split_keys(keys: np.ndarray, n: int) -> np.ndarray:
    """The end points ``(u, v)`` of keys ``u * n + v`` as an ``int32`` array of shape ``(m, 2)``.

    Written over the keys' own memory (each ``int64`` key becomes its two
    ``int32`` end points), so ``keys`` is consumed.
    """
    keys = np.ascontiguousarray(keys, dtype=np.int64)
    ends = keys.view(np.int32).reshape(keys.size, 2)
    _split_keys_in_place(keys, ends, max(n, 1))
    return ends


@numba.njit(cache=True, nogil=True)
def _split_keys_in_place(keys: np.ndarray, ends: np.ndarray, n: int) -> None:
    """``ends[e] = (keys[e] // n, keys[e] % n)``; ``ends`` is a view of the same memory."""
    for e in range(keys.size):
        key = keys[e]  # read before ends[e] overwrites it
        ends[e, 0] = key // n
        ends[e, 1] = key % n


def _row_pointers(ends: np.ndarray, n: int) -> np.ndarray:
    """CSR row pointers (``int64``, ``n + 1``) of the rows holding both ends of every edge."""
    indptr = np.zeros(n + 1, dtype=np.int64)
    _count_rows(ends, indptr)
    return indptr


@numba.njit(cache=True, nogil=True)
def _count_rows(ends: np.ndarray, indptr: np.ndarray) -> None:
    """``indptr[i + 1]``: entries in rows ``0 .. i`` (each edge has one in the row of each end)."""
    n = indptr.size - 1
    for e in range(ends.shape[0]):
        indptr[ends[e, 0] + 1] += 1
        indptr[ends[e, 1] + 1] += 1
    for i in range(n):
        indptr[i + 1] += indptr[i]


def _rows_by_noise(
    ends: np.ndarray,
    indptr: np.ndarray,
    rng: np.random.Generator | None,
    bits: int,
    spare: int,
) -> np.ndarray:
    """Column ids of every row, each row ordered by (random bits, column): the packed-key order.

    The ``spare`` random bits of each entry are drawn as the packed sort drew
    them: entries ``0 .. m - 1`` then ``m .. 2m - 1``, in chunks of
    :data:`_NOISE_CHUNK` (``rng.integers(0, 2**spare, dtype=int64)`` each).
    ``spare = 0`` (no ``rng``) sorts every row by column.
    """
    m = ends.shape[0]
    # The row pointers serve as the cursors (no array of n more): indptr[r + 1] starts at the
    # start of row r and moves up to its end as the row fills.
    indptr[1:] = indptr[:-1].copy()
    cursor = indptr[1:]
    noise = np.empty(2 * m, dtype=np.uint32 if spare <= 32 else np.int64)
    indices = np.empty(2 * m, dtype=np.int32)
    for half in (0, 1):
        for start in range(0, m, _NOISE_CHUNK):
            size = min(_NOISE_CHUNK, m - start)
            if spare:
                drawn = rng.integers(0, 1 << spare, size=size, dtype=np.int64)
            else:
                drawn = np.zeros(size, dtype=np.int64)
            _place_entries(ends[start : start + size], half, drawn, cursor, indices, noise)
    _sort_rows(indptr, indices, noise, bits)
    return indices


@numba.njit(cache=True, nogil=True)
def _place_entries(
    ends: np.ndarray,
    half: int,
    drawn: np.ndarray,
    cursor: np.ndarray,
    indices: np.ndarray,
    noise: np.ndarray,
) -> None:
    """Put each edge's entry in row ``ends[e, half]`` (column ``ends[e, 1 - half]``) with its bits."""
    for e in range(ends.shape[0]):
        row = ends[e, half]
        slot = cursor[row]
        cursor[row] = slot + 1
        indices[slot] = ends[e, 1 - half]
        noise[slot] = drawn[e]


@numba.njit(cache=True, nogil=True)
def _sort_rows(indptr: np.ndarray, indices: np.ndarray, noise: np.ndarray, bits: int) -> None:
    """Order each row by ``noise << bits | column`` (distinct within a row), ascending.

    Rows of up to 64 entries by insertion sort, longer ones (hubs) by heapsort
    (:func:`sort_in_place`).
    """
    mask = (np.int64(1) << bits) - 1
    small = np.empty(64, dtype=np.int64)
    for i in range(indptr.size - 1):
        start, end = indptr[i], indptr[i + 1]
        packed = small[: end - start] if end - start <= 64 else np.empty(end - start, np.int64)
        for s in range(start, end):
            packed[s - start] = (np.int64(noise[s]) << bits) | indices[s]
        sort_in_place(packed)
        for s in range(start, end):
            indices[s] = packed[s - start] & mask


@numba.njit(cache=True, nogil=True)
def sort_in_place(keys: np.ndarray) -> None:
    """Sort integer ``keys`` ascending in place: by insertion up to 64 of them, else by heapsort.

    Integers sort to one array whatever the algorithm. Heapsort, not ``keys.sort()``: Numba's
    quicksort takes about 2 s to compile on a fresh install, and only hubs' rows (over 64
    contacts) and long referral days need it. One loop, as in Numerical Recipes: it first
    sifts down every parent (the heap), then moves the largest to the end and sifts again.
    """
    n = keys.size
    if n > 64:
        start, end = n // 2, n
        while end > 1:
            if start > 0:
                start -= 1
            else:
                end -= 1
                top = keys[0]
                keys[0] = keys[end]
                keys[end] = top
            root = start
            key = keys[root]
            while True:  # sift key down the max-heap keys[:end]
                child = 2 * root + 1
                if child >= end:
                    break
                if child + 1 < end and keys[child] < keys[child + 1]:
                    child += 1
                if keys[child] <= key:
                    break
                keys[root] = keys[child]
                root = child
            keys[root] = key
        return
    for s in range(1, n):
        key = keys[s]
        t = s
        while t > 0 and keys[t - 1] > key:
            keys[t] = keys[t - 1]
            t -= 1
        keys[t] = key


def from_edges(
    n: int, src: np.ndarray, dst: np.ndarray, kind: str, rng: np.random.Generator | None
) -> Network:
    """Build a network of ``n`` nodes from edge end points, as an undirected simple graph.

    The edges ``(src[k], dst[k])`` are treated as undirected: each is stored
    in both rows, self-loops are dropped and repeated edges (in either
    direction) are kept once, using a single ``int64`` key ``u * n + v``
    (``u < v``) per edge. Rows are then put in a random order drawn from
    ``rng`` (see :func:`_csr_from_keys`); with ``rng=None`` each row is sorted
    by neighbour id instead.

    Args:
        n: Number of nodes; all end points must lie in ``[0, n)``.
        src: One end of each edge (integer array).
        dst: The other end of each edge (integer array, same length).
        kind: Value of :attr:`Network.kind` (not ``"fully_mixed"``).
        rng: Generator for the row order, or ``None`` for sorted rows.

    Returns:
        The network.

    Raises:
        ValueError: If the end points are out of range or the arrays differ in length.

    """
    n = int(n)
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    return _csr_from_keys(n, [_canonical_keys(n, src, dst)], kind, rng)


# --------------------------------------------------------------------------- generators


def _check_even_degree(n: int, mean_degree: int) -> int:
    if int(mean_degree) != mean_degree or mean_degree < 2 or mean_degree % 2:
        raise ValueError(f"mean_degree must be an even integer >= 2, got {mean_degree}")
    if n <= mean_degree:
        raise ValueError(f"need more nodes than mean_degree, got n={n}, mean_degree={mean_degree}")
    return int(mean_degree) // 2


def small_world(n: int, mean_degree: int, rewiring: float, rng: np.random.Generator) -> Network:
    """Build a Watts–Strogatz small-world network.

    Start from a ring lattice in which every node is linked to its
    ``mean_degree // 2`` nearest neighbours on each side; then the far end of
    each lattice edge is, with probability ``rewiring``, moved to a node drawn
    uniformly at random. Rewired edges that become self-loops or duplicate an
    existing edge are dropped (rather than redrawn, as in Watts & Strogatz
    1998), so with rewiring the mean degree is slightly below ``mean_degree``:
    about ``rewiring * (mean_degree + 1) / n`` of the edges are lost, which is
    negligible for large ``n``.

    Args:
        n: Number of nodes, more than ``mean_degree``.
        mean_degree: Even number of lattice neighbours, at least 2.
        rewiring: Probability in ``[0, 1]`` of rewiring each edge.
        rng: Source of randomness.

    Returns:
        The network, ``kind="small_world"``.

    Raises:
        ValueError: On an odd or too small ``mean_degree``, too few nodes or a bad ``rewiring``.

    """
    half = _check_even_degree(n, mean_degree)
    if not 0.0 <= rewiring <= 1.0:
        raise ValueError(f"rewiring must be a probability in [0, 1], got {rewiring}")
    src = np.repeat(np.arange(n, dtype=np.int32), half)
    dst = src + np.tile(np.arange(1, half + 1, dtype=np.int32), n)
    dst[dst >= n] -= n
    # Each edge rewired independently with probability `rewiring`: a Binomial count, then a
    # uniform set of that size (the same law, without a float per edge in memory).
    rewired = rng.choice(src.size, size=int(rng.binomial(src.size, rewiring)), replace=False)
    dst[rewired] = rng.integers(0, n, size=rewired.size, dtype=np.int32)
    del rewired
    keys = [_canonical_keys(n, src, dst)]
    del src, dst
    return _csr_from_keys(n, keys, "small_world", rng)


def scale_free(n: int, mean_degree: int, rng: np.random.Generator) -> Network:
    """Build a Barabási–Albert scale-free network in linear time (Batagelj & Brandes 2005).

    Each new node brings ``m = mean_degree // 2`` edges whose far ends are
    chosen with probability proportional to degree. Following Batagelj &
    Brandes' edge-list algorithm, the ``n * m`` edges fill an array ``M`` of
    ``2 * n * m`` slots: even slot ``2e`` holds the new node of edge ``e``
    (``e // m``) and odd slot ``2e + 1`` copies the value of a slot chosen
    uniformly among the ``2e + 1`` slots before it, which picks a node with
    probability proportional to its degree so far. Vectorised: all the
    choices are drawn at once, and the copy chains (an odd slot copying
    another odd slot) are resolved by pointer jumping, each unresolved
    pointer replaced by its target's pointer, until every pointer lands on an
    even slot. That takes a few rounds: chains halve in length each round.

    As in the original algorithm, self-loops (an odd slot copying its own
    edge's even slot) and repeated edges are possible; they are removed, so
    the mean degree is a little below ``mean_degree`` (by a few percent for
    small ``n``, much less for large ``n``) and the oldest nodes, which get
    most repeats, lose the most.

    Args:
        n: Number of nodes, more than ``mean_degree``.
        mean_degree: Even number, at least 2; twice the edges per new node.
        rng: Source of randomness.

    Returns:
        The network, ``kind="scale_free"``.

    Raises:
        ValueError: On an odd or too small ``mean_degree`` or too few nodes.

    """
    m = _check_even_degree(n, mean_degree)
    n_edges = n * m
    # pointer[e]: the slot odd slot 2e + 1 copies, uniform in [0, 2e].
    pointer = np.arange(1, 2 * n_edges, 2, dtype=np.int64)
    pointer = np.floor(rng.random(n_edges) * pointer).astype(np.int64)
    active = np.flatnonzero(pointer & 1)
    while active.size:
        target = pointer[active]
        pointer[active] = pointer[target >> 1]
        active = active[(pointer[active] & 1).astype(bool)]
    src = np.arange(n_edges, dtype=np.int64) // m
    dst = (pointer >> 1) // m
    del pointer
    keys = [_canonical_keys(n, src, dst)]
    del src, dst
    return _csr_from_keys(n, keys, "scale_free", rng)


def random_graph(n: int, mean_degree: float, rng: np.random.Generator) -> Network:
    """Build an Erdős–Rényi random graph ``G(n, M)`` with ``M = round(n * mean_degree / 2)``.

    The ``M`` edges are a uniform random set of node pairs (no self-loops),
    so the mean degree is exactly ``2 * M / n``. Pairs are drawn uniformly,
    repeats discarded, and the shortfall drawn again until ``M`` distinct
    pairs are held, which is sampling without replacement. When ``M`` is more
    than a quarter of all ``n * (n - 1) / 2`` pairs they are instead chosen
    directly from the list of all pairs.

    Args:
        n: Number of nodes, at least 2 (or any ``n`` when ``M`` is 0).
        mean_degree: Requested mean degree, at most ``n - 1``.
        rng: Source of randomness.

    Returns:
        The network, ``kind="random"``.

    Raises:
        ValueError: If ``mean_degree`` is negative or more edges are requested than pairs exist.

    """
    n = int(n)
    if mean_degree < 0:
        raise ValueError(f"mean_degree must be non-negative, got {mean_degree}")
    n_pairs = n * (n - 1) // 2
    target = round(n * mean_degree / 2)
    if target > n_pairs:
        raise ValueError(f"{target} edges requested but {n} nodes have only {n_pairs} pairs")
    if 4 * target > n_pairs:
        chosen = np.sort(rng.choice(n_pairs, size=target, replace=False))
        u, v = np.triu_indices(n, 1)
        keys = u[chosen].astype(np.int64) * n + v[chosen]
    else:
        keys = np.empty(0, dtype=np.int64)
        while keys.size < target:
            missing = target - keys.size
            u = rng.integers(0, n, size=missing, dtype=np.int64)
            v = rng.integers(0, n - 1, size=missing, dtype=np.int64)
            v += v >= u  # uniform over the other n - 1 nodes
            keys = _unique_sorted(np.concatenate([keys, np.minimum(u, v) * n + np.maximum(u, v)]))
    return _csr_from_keys(n, [keys], "random", rng)


def fully_mixed(n: int) -> Network:
    """Return a fully mixed population of ``n``: everyone can reach everyone, no edges stored."""
    return Network(int(n), "fully_mixed")


# --------------------------------------------------------------------------- files

#: Text formats of integer customer ids: one contact per line (an adjacency list: a customer
#: and all their contacts per line).
_ID_FORMATS: dict[str, str] = {
    ".edgelist": "edge list",
    ".edges": "edge list",
    ".txt": "edge list",
    ".csv": "CSV edge list",
    ".adjlist": "adjacency list",
}
#: Formats of named nodes, read with networkx: names are mapped to customer ids.
_NAMED_FORMATS: dict[str, str] = {
    ".graphml": "GraphML",
    ".gml": "GML",
    ".gexf": "GEXF",
    ".net": "Pajek",
    ".pajek": "Pajek",
}
_FORMATS: dict[str, str] = {**_ID_FORMATS, **_NAMED_FORMATS}

#: A customer id in a text file: ASCII digits only (no sign, no spaces, no underscores).
_CUSTOMER_ID = re.compile(r"[0-9]+")
#: A number in an extra column (a weight).
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
#: Largest id a network holds (int32 node ids).
_MAX_NODES = 2**31 - 1


@dataclass(frozen=True, eq=False)
class NetworkFile:
    """A network read from a file, and what reading it found worth saying.

    Attributes:
        network: the network, ``kind="file"``.
        notes: one line each, naming the file: a header skipped, self-loops and repeated
            contacts dropped, extra columns ignored, names mapped to ids, customers
            without contacts.

    """

    network: Network
    notes: tuple[str, ...]


def file_path(params: NetworkParams, base_dir: Path | None = None) -> Path:
    """The network file ``params`` name, relative paths resolved against ``base_dir``."""
    path = Path(params.path or "")
    if base_dir is not None and not path.is_absolute():
        path = Path(base_dir) / path
    return path


def _one_line(message: object) -> str:
    text = " ".join(str(message).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


@dataclass
class _IdReader:
    """Parses a text file of integer customer ids, strictly, line by line."""

    path: Path
    adjacency: bool
    delimiter: str | None
    first_id: int
    customers: int | None
    header: bool
    notes: list[str] = field(default_factory=list)
    extra_columns: int = 0

    def fail(self, number: int, problem: str) -> NetworkFileError:
        return NetworkFileError(f"{self.path}: line {number}: {problem}")

    def customer(self, token: str, number: int) -> int:
        """The id ``token`` names, or an error naming the line."""
        if not _CUSTOMER_ID.fullmatch(token) or len(token) > 12:
            shown = _one_line(token)[:40]
            raise self.fail(number, f"{shown!r} is not a customer id (a whole number)")
        return int(token)

    def fields(self, line: str) -> list[str]:
        if self.delimiter is None:
            return line.split()
        return [part.strip() for part in line.split(self.delimiter)]

    def is_header(self, fields: list[str], line: str, number: int) -> bool:
        """Whether the first line is a header: declared, or detected (no field is a number)."""
        if self.header:
            if all(_CUSTOMER_ID.fullmatch(f) for f in fields[:2]):
                self.notes.append(
                    f"{self.path}: line {number} ({line[:40]}) skipped as the header that "
                    "network.header = true declares, although it reads as a contact"
                )
            return True
        if any(_NUMBER.fullmatch(f) for f in fields):
            return False
        self.notes.append(
            f"{self.path}: line {number} ({line[:40]}) read as a header; set network.header = "
            "true to say so"
        )
        return True

    def ignorable(self, rest: list[str]) -> bool:
        """Extra columns of an edge: weights (numbers), or networkx's attribute dict ``{...}``."""
        if all(_NUMBER.fullmatch(f) for f in rest):
            return True
        joined = " ".join(rest)
        return joined.startswith("{") and joined.endswith("}")

    def read(self, text: str) -> tuple[np.ndarray, np.ndarray, int]:
        """0-based end points of every contact line (self-loops and repeats included), and nodes."""
        src: list[int] = []
        dst: list[int] = []
        lines: list[int] = []  # the line of each contact
        alone: list[tuple[int, int]] = []  # (id, line) of an adjacency list's customer
        first = True
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            fields = self.fields(line)
            if first:
                first = False
                if self.is_header(fields, line, number):
                    continue
            if self.adjacency:
                ids = [self.customer(f, number) for f in fields]
                alone.append((ids[0], number))
                src.extend(ids[:1] * (len(ids) - 1))
                dst.extend(ids[1:])
                lines.extend([number] * (len(ids) - 1))
                continue
            if len(fields) < 2:
                raise self.fail(number, f"expected two customer ids, got {_one_line(line)[:40]!r}")
            src.append(self.customer(fields[0], number))
            dst.append(self.customer(fields[1], number))
            lines.append(number)
            if len(fields) > 2:
                if not self.ignorable(fields[2:]):
                    extra = _one_line(" ".join(fields[2:]))[:40]
                    raise self.fail(
                        number,
                        f"expected two customer ids and at most a weight, got {extra!r} after them",
                    )
                self.extra_columns += 1
        if self.extra_columns:
            self.notes.append(
                f"{self.path}: ignored the extra columns (weights or attributes) of "
                f"{_plural(self.extra_columns, 'line')}; contacts are unweighted"
            )
        ids = np.array([*src, *dst, *(i for i, _ in alone)], dtype=np.int64)
        where = np.array([*lines, *lines, *(n for _, n in alone)], dtype=np.int64)
        n = self.check_range(ids, where)
        return (
            np.asarray(src, dtype=np.int64) - self.first_id,
            np.asarray(dst, dtype=np.int64) - self.first_id,
            n,
        )

    def check_range(self, ids: np.ndarray, lines: np.ndarray) -> int:
        """The number of customers; an error naming the first line whose id is out of range."""
        if ids.size == 0:
            raise NetworkFileError(
                f"{self.path}: holds no contacts (no line with two customer ids)"
            )
        first = self.first_id
        last = first + self.customers - 1 if self.customers is not None else first + _MAX_NODES - 1
        outside = (ids < first) | (ids > last)
        if not outside.any():
            return self.customers if self.customers is not None else int(ids.max()) - first + 1
        line = int(lines[outside].min())
        value = int(ids[outside][lines[outside] == line][0])
        low, high = int(ids.min()), int(ids.max())
        problem = f"customer id {value} is outside {first}..{last}"
        if self.customers is None:
            raise self.fail(line, problem)
        if first == 0 and low >= 1 and high == self.customers:
            hint = f"the file's ids run 1..{high}: if they start at 1, set network.first_id = 1"
        elif first == 1 and low == 0 and high < self.customers:
            hint = f"the file's ids run 0..{high}: if they start at 0, set network.first_id = 0"
        else:
            hint = f"the file's ids run {low}..{high}"
        raise self.fail(
            line,
            f"{problem} (market.customers = {self.customers}, network.first_id = {first}); {hint}",
        )


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise NetworkFileError(
            f"{path}: not UTF-8 text (byte {err.start}); an edge list is text, one contact per line"
        ) from None
    except OSError as err:
        raise NetworkFileError(f"{path}: cannot read: {err.strerror or err}") from None


def _read_graph(path: Path, suffix: str) -> nx.Graph:
    if suffix == ".graphml":
        return nx.read_graphml(path)
    if suffix == ".gml":
        try:
            return nx.read_gml(path)
        except nx.NetworkXError as err:
            if "label" not in str(err):
                raise
            return nx.read_gml(path, label="id")  # nodes without labels: use their ids
    if suffix == ".gexf":
        return nx.read_gexf(path)
    return nx.read_pajek(path)


def _label_order(labels: list) -> list:
    """Sort labels numerically when all are integers (or integer strings), else as strings."""
    text = [str(label) for label in labels]
    try:
        numbers = [int(label) for label in labels]
    except (TypeError, ValueError):
        order = sorted(range(len(labels)), key=lambda i: text[i])
    else:
        order = sorted(range(len(labels)), key=lambda i: (numbers[i], text[i]))
    return [labels[i] for i in order]


def _read_named(
    path: Path, suffix: str, customers: int | None, notes: list[str]
) -> tuple[int, np.ndarray, np.ndarray]:
    """Nodes and 0-based end points of a file of named nodes (names mapped to ids in sorted order)."""
    try:
        graph = _read_graph(path, suffix)
    except Exception as err:  # networkx and the XML/GML parsers raise many exception types
        raise NetworkFileError(
            f"{path}: cannot read as {_FORMATS[suffix]}: {type(err).__name__}: {_one_line(err)}"
        ) from None
    n = graph.number_of_nodes()
    if n == 0:
        raise NetworkFileError(f"{path}: the network has no nodes")
    if customers is not None and n != customers:
        raise NetworkFileError(
            f"{path}: has {n:,} nodes but market.customers is {customers:,}; set "
            f"market.customers = {n}"
        )
    labels = _label_order(list(graph.nodes))
    index = {label: i for i, label in enumerate(labels)}
    edges = list(graph.edges())
    src = np.fromiter((index[u] for u, _ in edges), dtype=np.int64, count=len(edges))
    dst = np.fromiter((index[v] for _, v in edges), dtype=np.int64, count=len(edges))
    notes.append(
        f"{path}: found {_plural(n, 'named node')}; they are customers 0..{n - 1} in the "
        "sorted order of their names"
    )
    return n, src, dst


def read_network_file(
    path: str | Path,
    customers: int | None = None,
    *,
    first_id: int = 0,
    header: bool = False,
    rng: np.random.Generator | None = None,
) -> NetworkFile:
    """Read a network file strictly, choosing the format by its extension.

    Edge lists (``.edgelist``/``.edges``/``.txt`` separated by spaces or tabs,
    ``.csv`` by commas, ``.adjlist`` a customer and their contacts per line)
    hold integer customer ids from ``first_id`` (0 or 1) to ``first_id +
    customers - 1``; ``#`` starts a comment. Every other line is an error naming
    the file and the line: a word where an id belongs, an id out of range, one
    id alone. A header line is skipped when ``header`` declares it, or when no
    field of the first line is a number (and a note says so). Extra columns
    that are numbers (weights) or networkx's attribute dicts are ignored, and
    counted. Ids in no line are customers without contacts.

    Files of named nodes (``.graphml``, ``.gml``, ``.gexf``, ``.net``/``.pajek``)
    are read with networkx; their nodes, ``customers`` of them, become customers
    ``0 .. n - 1`` in the sorted order of their names (numerically when all are
    integers).

    Contacts are undirected: self-loops are dropped and a pair listed again (in
    either direction) is kept once, each counted in a note.

    Args:
        path: the file.
        customers: the market's customers; ``None`` takes the highest id (or the nodes found).
        first_id: the first customer's id in an edge list, 0 or 1.
        header: the edge list's first line is a header.
        rng: generator of each row's random order (see :class:`Network`); ``None`` uses a
            fixed seed, so a file always gives the same network.

    Returns:
        The network (``kind="file"``) and the notes.

    Raises:
        NetworkFileError: one line naming the file (and the line) and what is wrong.

    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _FORMATS:
        known = ", ".join(_FORMATS)
        raise NetworkFileError(
            f"{path}: unknown network file extension {suffix or '(none)'!r}; expected {known}"
        )
    if not path.exists():
        raise NetworkFileError(f"{path}: no such file")
    if not path.is_file():
        raise NetworkFileError(f"{path}: not a file")
    if first_id not in (0, 1):
        raise NetworkFileError(f"{path}: network.first_id must be 0 or 1, got {first_id}")
    notes: list[str] = []
    if suffix in _NAMED_FORMATS:
        n, src, dst = _read_named(path, suffix, customers, notes)
    else:
        reader = _IdReader(
            path,
            suffix == ".adjlist",
            "," if suffix == ".csv" else None,
            first_id,
            customers,
            header,
        )
        src, dst, n = reader.read(_read_text(path))
        notes = reader.notes
        if src.size == 0:
            raise NetworkFileError(f"{path}: holds no contacts (no line with two customer ids)")
    return NetworkFile(_simple_network(path, n, src, dst, notes, rng), tuple(notes))


def _simple_network(
    path: Path,
    n: int,
    src: np.ndarray,
    dst: np.ndarray,
    notes: list[str],
    rng: np.random.Generator | None,
) -> Network:
    """The undirected simple network of the contacts; self-loops, repeats and lonely customers noted."""
    keys = _canonical_keys(n, src, dst)
    loops = int(np.count_nonzero(src == dst))
    repeats = int(src.size - loops - keys.size)
    if loops:
        notes.append(
            f"{path}: dropped {_plural(loops, 'self-loop')} (a customer listed as their own contact)"
        )
    if repeats:
        notes.append(
            f"{path}: kept {_plural(repeats, 'repeated contact')} once (a pair listed again, in "
            "either direction)"
        )
    if rng is None:
        rng = np.random.default_rng(_FILE_SHUFFLE_SEED)
    net = _csr_from_keys(n, [keys], "file", rng)
    lonely = int(np.count_nonzero(net.degree == 0))
    if lonely:
        notes.append(
            f"{path}: {lonely:,} of {n:,} customers have no contacts (ids in no contact line)"
        )
    return net


def read_edge_list(
    path: str | Path,
    customers: int | None = None,
    *,
    first_id: int = 0,
    header: bool = False,
    rng: np.random.Generator | None = None,
) -> Network:
    """The network of a file (see :func:`read_network_file`), without its notes."""
    return read_network_file(path, customers, first_id=first_id, header=header, rng=rng).network


def build(
    params: NetworkParams, n: int, rng: np.random.Generator, base_dir: Path | None = None
) -> Network:
    """The network ``params`` describe, for ``n`` people (a file's path relative to ``base_dir``).

    Raises:
        NetworkFileError: a network file that cannot be read, or that does not have ``n`` people.

    """
    builders: dict[NetworkKind, Callable[[], Network]] = {
        NetworkKind.small_world: lambda: small_world(n, params.mean_degree, params.rewiring, rng),
        NetworkKind.scale_free: lambda: scale_free(n, params.mean_degree, rng),
        NetworkKind.random: lambda: random_graph(n, params.mean_degree, rng),
        NetworkKind.fully_mixed: lambda: fully_mixed(n),
        NetworkKind.file: lambda: _from_file(params, n, base_dir),
    }
    return builders[NetworkKind(params.kind)]()


def _from_file(params: NetworkParams, n: int, base_dir: Path | None) -> Network:
    """The network of ``params``' file for ``n`` customers (its notes were said at load time)."""
    return read_edge_list(
        file_path(params, base_dir), n, first_id=params.first_id, header=params.header
    )


@numba.njit(cache=True, nogil=True)
def listeners_in_rows(
    indptr: np.ndarray,
    indices: np.ndarray,
    tellers: np.ndarray,
    audience: np.ndarray,
    u: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Listeners of each teller: consecutive entries of its (shuffled) row, from a random start.

    Teller ``j`` of degree ``d`` reaches ``a = min(audience[j], d)`` contacts: the row entries
    ``(r + 0) mod d, ..., (r + a - 1) mod d`` with ``r = floor(u[j] x d)`` (``u`` uniform on
    [0, 1), one per teller). See :meth:`Network.sample_listeners`.

    Returns:
        ``(teller_position, listener)``, tellers in input order, each one's listeners together.

    """
    total = 0
    for j in range(tellers.size):
        t = tellers[j]
        total += min(audience[j], indptr[t + 1] - indptr[t])
    position = np.empty(total, dtype=np.int64)
    listener = np.empty(total, dtype=np.int64)
    p = 0
    for j in range(tellers.size):
        t = tellers[j]
        row = indptr[t]
        d = indptr[t + 1] - row
        start = np.int64(np.floor(u[j] * d))
        for step in range(min(audience[j], d)):
            position[p] = j
            listener[p] = indices[row + (start + step) % d]
            p += 1
    return position, listener
