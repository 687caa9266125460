"""Specification of the customers' social network (cxsim.networks)."""

from __future__ import annotations

import re
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from cxsim import networks
from cxsim.networks import (
    Network,
    NetworkFileError,
    from_edges,
    fully_mixed,
    random_graph,
    read_edge_list,
    read_network_file,
    scale_free,
    small_world,
)

# z for a two-sided test at about 1e-6 per comparison: with a few dozen comparisons per test
# the chance of a false failure stays below 1e-4, and the seed is fixed anyway.
Z = 5.0


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def build(kind: str, n: int, degree: int, seed: int) -> Network:
    r = rng(seed)
    if kind == "small_world":
        return small_world(n, degree, 0.2, r)
    if kind == "scale_free":
        return scale_free(n, degree, r)
    if kind == "random":
        return random_graph(n, degree, r)
    raise AssertionError(kind)


GENERATED = ["small_world", "scale_free", "random"]


def edge_rows(net: Network) -> np.ndarray:
    """The source node of every stored CSR entry."""
    return np.repeat(np.arange(net.n), net.degree)


def assert_simple_symmetric(net: Network) -> None:
    """CSR invariants: symmetric, no self-loops, no repeated entries, consistent dtypes."""
    assert net.indptr is not None
    assert net.indices is not None
    assert net.indptr.dtype == np.int64
    assert net.indptr.shape == (net.n + 1,)
    assert net.indices.dtype == np.int32
    assert net.degree.dtype == np.int32
    assert net.indptr[0] == 0
    assert net.indptr[-1] == net.indices.size
    assert np.all(np.diff(net.indptr) >= 0)
    rows = edge_rows(net).astype(np.int64)
    cols = net.indices.astype(np.int64)
    assert cols.size == 0 or (cols.min() >= 0 and cols.max() < net.n)
    assert not np.any(rows == cols), "self-loop"
    forward = np.sort(rows * net.n + cols)
    backward = np.sort(cols * net.n + rows)
    assert np.array_equal(forward, backward), "not symmetric"
    assert np.unique(forward).size == forward.size, "repeated edge"
    assert net.n_edges * 2 == net.indices.size


def edge_set(net: Network) -> set[tuple[int, int]]:
    rows, cols = edge_rows(net), net.indices
    return {(int(min(u, v)), int(max(u, v))) for u, v in zip(rows, cols, strict=True)}


# --------------------------------------------------------------------------- structure


def test_small_world_without_rewiring_is_a_ring_lattice() -> None:
    n, k = 30, 6
    net = small_world(n, k, 0.0, rng())
    assert net.kind == "small_world"
    assert np.all(net.degree == k)
    for i in range(n):
        expected = {(i + d) % n for d in range(-k // 2, k // 2 + 1) if d != 0}
        assert set(net.neighbors(i).tolist()) == expected


def test_small_world_rewiring_one_keeps_no_lattice_structure() -> None:
    n, k = 2000, 4
    net = small_world(n, k, 1.0, rng())
    # Every far end was redrawn uniformly, so an edge joins ring neighbours (distance <= k/2)
    # only when the draw lands there: probability k / n per edge.
    rows, cols = edge_rows(net), net.indices.astype(np.int64)
    distance = np.minimum((rows - cols) % n, (cols - rows) % n)
    near = int(np.sum(distance <= k // 2)) // 2
    p = k / n
    assert near <= net.n_edges * p + Z * np.sqrt(net.n_edges * p * (1 - p))


@pytest.mark.parametrize("kind", GENERATED)
def test_graphs_are_undirected_without_self_loops_or_duplicates(kind: str) -> None:
    assert_simple_symmetric(build(kind, 500, 8, seed=3))


def test_file_networks_are_undirected_without_self_loops_or_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "g.edgelist"
    path.write_text("1 2\n2 1\n2 2\n3 1\n1 2\n4 3\n")
    net = read_edge_list(path, first_id=1)
    assert_simple_symmetric(net)
    assert edge_set(net) == {(0, 1), (0, 2), (2, 3)}


def test_from_edges_symmetrises_drops_self_loops_and_dedupes() -> None:
    src = np.array([0, 1, 2, 2, 3, 0])
    dst = np.array([1, 0, 2, 3, 2, 3])
    net = from_edges(5, src, dst, "random", None)
    assert_simple_symmetric(net)
    assert edge_set(net) == {(0, 1), (2, 3), (0, 3)}
    assert net.degree.tolist() == [2, 1, 1, 2, 0]
    # Without a generator every row is sorted.
    assert net.neighbors(0).tolist() == [1, 3]


def test_rows_are_shuffled_when_built() -> None:
    # In a ring lattice with k = 10 a row is sorted by chance with probability 1/10!,
    # so (nearly) no row of a shuffled network is sorted; without a generator all are.
    n, k = 1000, 10
    net = small_world(n, k, 0.0, rng())
    sorted_rows = sum(bool(np.all(np.diff(net.neighbors(i)) > 0)) for i in range(n))
    assert sorted_rows <= 1
    lattice = from_edges(n, edge_rows(net), net.indices, "small_world", None)
    assert all(np.all(np.diff(lattice.neighbors(i)) > 0) for i in range(n))


def test_mean_degree_matches_request() -> None:
    # G(n, M) holds exactly M = round(n * k / 2) distinct edges.
    assert random_graph(1001, 7, rng()).n_edges == round(1001 * 7 / 2)
    assert random_graph(40, 30, rng()).n_edges == 600  # dense: chosen from the list of all pairs

    # Without rewiring the ring lattice has exactly n * k / 2 edges. With rewiring an edge
    # is lost only when its new far end is the node itself or already a neighbour: at most
    # (max degree + 1) of n nodes, so the expected loss is below
    # lam = (rewired edges) * (max degree + 1) / n; allow lam plus Z Poisson SDs.
    n, k, p = 4000, 10, 0.3
    assert small_world(n, k, 0.0, rng()).n_edges == n * k // 2
    net = small_world(n, k, p, rng())
    lam = p * (n * k / 2) * (int(net.degree.max()) + 1) / n
    assert n * k // 2 - lam - Z * np.sqrt(lam) <= net.n_edges <= n * k // 2

    # Batagelj-Brandes draws exactly n * m edges; the loops and repeats removed afterwards
    # number O(log^2 n): about (m + 1)/4 ln n self-loops and m (m - 1)/8 ln^2 n repeats
    # (pairs of a node's m picks that hit the same early, high-degree node). Allow twice that.
    m = 3
    net = scale_free(n, 2 * m, rng())
    log_n = np.log(n)
    expected_loss = (m + 1) / 4 * log_n + m * (m - 1) / 8 * log_n**2
    assert n * m - 2 * expected_loss <= net.n_edges <= n * m


def test_scale_free_degrees_have_heavy_tail() -> None:
    n, m = 20_000, 3
    degree = scale_free(n, 2 * m, rng()).degree
    poisson = random_graph(n, 2 * m, rng()).degree
    # Barabasi-Albert: P(k >= x) = m (m + 1) / (x (x + 1)) (Dorogovtsev et al. 2000), a power
    # law; an Erdos-Renyi graph of the same mean has Poisson degrees and no such tail.
    for x in (12, 24, 48):
        share = np.mean(degree >= x)
        expected = m * (m + 1) / (x * (x + 1))
        # Asymptotic formula: finite n and the removed repeats shift it by a few percent.
        assert share == pytest.approx(expected, rel=0.25)
    assert degree.max() >= 20 * degree.mean()
    assert poisson.max() < 5 * poisson.mean()
    assert np.mean(poisson >= 24) < 1e-3


def test_fully_mixed_holds_no_edges() -> None:
    net = fully_mixed(1000)
    assert net.fully_mixed
    assert net.kind == "fully_mixed"
    assert net.indptr is None
    assert net.indices is None
    assert net.n_edges == 0
    assert np.all(net.degree == 999)
    assert net.degree.dtype == np.int32
    assert net.neighbors(3).tolist() == [i for i in range(1000) if i != 3]
    assert not small_world(100, 4, 0.1, rng()).fully_mixed


def test_network_arrays_are_read_only() -> None:
    net = random_graph(100, 4, rng())
    with pytest.raises(ValueError, match="read-only"):
        net.indices[0] = 1
    with pytest.raises(ValueError, match="read-only"):
        net.degree[0] = 1


def test_memory_is_about_four_bytes_per_contact() -> None:
    n, k = 10_000, 10
    net = random_graph(n, k, rng())
    # int64 row pointers, int32 neighbour ids (both directions) and int32 degrees.
    assert net.nbytes() == 8 * (n + 1) + 4 * n * k + 4 * n


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: small_world(100, 5, 0.1, rng()), "even"),
        (lambda: small_world(100, 0, 0.1, rng()), "even"),
        (lambda: small_world(10, 10, 0.1, rng()), "more nodes"),
        (lambda: small_world(100, 4, 1.5, rng()), "rewiring"),
        (lambda: scale_free(100, 3, rng()), "even"),
        (lambda: scale_free(4, 4, rng()), "more nodes"),
        (lambda: random_graph(10, 10, rng()), "pairs"),
        (lambda: random_graph(10, -1, rng()), "non-negative"),
        (lambda: from_edges(3, np.array([0]), np.array([3]), "random", None), "end points"),
    ],
)
def test_bad_parameters_are_refused(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# --------------------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("kind", GENERATED)
def test_same_seed_same_network(kind: str) -> None:
    a, b = build(kind, 800, 6, seed=11), build(kind, 800, 6, seed=11)
    assert np.array_equal(a.indptr, b.indptr)
    assert np.array_equal(a.indices, b.indices)
    c = build(kind, 800, 6, seed=12)
    assert not (np.array_equal(a.indptr, c.indptr) and np.array_equal(a.indices, c.indices))


def test_same_seed_same_listeners() -> None:
    net = scale_free(500, 6, rng())
    tellers = np.arange(0, 500, 3)
    audience = np.full(tellers.size, 4)
    first = net.sample_listeners(tellers, audience, rng(5))
    second = net.sample_listeners(tellers, audience, rng(5))
    assert all(np.array_equal(x, y) for x, y in zip(first, second, strict=True))


# --------------------------------------------------------------------------- listeners


@pytest.mark.parametrize("kind", GENERATED)
def test_listeners_are_distinct_neighbours_and_capped_by_degree(kind: str) -> None:
    net = build(kind, 300, 6, seed=2)
    r = rng(9)
    tellers = np.concatenate([np.arange(net.n), r.integers(0, net.n, 300)])
    audience = r.integers(0, 15, tellers.size)
    position, listener = net.sample_listeners(tellers, audience, r)
    assert position.shape == listener.shape
    assert np.all(np.diff(position) >= 0), "listeners of a teller are contiguous, in teller order"
    counts = np.bincount(position, minlength=tellers.size)
    assert np.array_equal(counts, np.minimum(audience, net.degree[tellers]))
    for j, teller in enumerate(tellers):
        heard = listener[position == j]
        assert np.unique(heard).size == heard.size
        assert set(heard.tolist()) <= set(net.neighbors(teller).tolist())


def test_listeners_of_isolated_or_silent_tellers_are_none() -> None:
    net = from_edges(4, np.array([0]), np.array([1]), "random", rng())
    position, listener = net.sample_listeners(np.array([2, 3, 0]), np.array([5, 0, 0]), rng())
    assert position.size == 0
    assert listener.size == 0
    position, listener = net.sample_listeners(
        np.array([], dtype=int), np.array([], dtype=int), rng()
    )
    assert position.size == 0
    assert listener.size == 0
    with pytest.raises(ValueError, match="non-negative"):
        net.sample_listeners(np.array([0]), np.array([-1]), rng())


def test_listener_inclusion_is_uniform_over_neighbours() -> None:
    net = scale_free(2000, 6, rng())
    hub = int(np.argmax(net.degree))
    d = int(net.degree[hub])
    neighbours = net.neighbors(hub)
    slot = np.full(net.n, -1)
    slot[neighbours] = np.arange(d)

    # One listener per telling: a multinomial over the d neighbours -> chi-square test.
    trials = 50 * d
    _, listener = net.sample_listeners(np.full(trials, hub), np.ones(trials, dtype=int), rng(1))
    counts = np.bincount(slot[listener], minlength=d)
    assert stats.chisquare(counts).pvalue > 1e-3

    # a listeners per telling: each neighbour is heard in each telling with probability a / d,
    # so its count is Binomial(trials, a / d).
    a, trials = 5, 20_000
    _, listener = net.sample_listeners(np.full(trials, hub), np.full(trials, a), rng(2))
    counts = np.bincount(slot[listener], minlength=d)
    p = a / d
    sd = np.sqrt(trials * p * (1 - p))
    assert np.all(np.abs(counts - trials * p) <= Z * sd)


def test_fully_mixed_listeners_never_include_the_teller() -> None:
    n = 6
    net = fully_mixed(n)
    r = rng(4)
    tellers = r.integers(0, n, 20_000)
    audience = r.integers(0, 9, tellers.size)
    position, listener = net.sample_listeners(tellers, audience, r)
    assert not np.any(listener == tellers[position])
    assert listener.min() >= 0
    assert listener.max() < n
    # Capped only by the n - 1 others, and distinct within each telling.
    a = np.minimum(audience, n - 1)
    assert np.array_equal(np.bincount(position, minlength=tellers.size), a)
    keys = position * n + listener
    assert np.unique(keys).size == keys.size
    # Uniform over the others: a teller's a listeners include a given other node w.p. a/(n-1).
    heard = np.zeros((n, n))
    np.add.at(heard, (tellers[position], listener), 1)
    for teller in range(n):
        mask = tellers == teller
        p = a[mask] / (n - 1)
        mean, sd = p.sum(), np.sqrt(np.sum(p * (1 - p)))
        others = np.delete(heard[teller], teller)
        assert np.all(np.abs(others - mean) <= Z * sd)


def test_fully_mixed_tiny_populations() -> None:
    position, listener = fully_mixed(1).sample_listeners(np.array([0]), np.array([3]), rng())
    assert position.size == 0
    position, listener = fully_mixed(2).sample_listeners(np.array([0, 1]), np.array([3, 1]), rng())
    assert position.tolist() == [0, 1]
    assert listener.tolist() == [1, 0]


# --------------------------------------------------------------------------- files


def reference_graph() -> nx.Graph:
    """Integer labels whose string order (10 < 100 < 7 < 9) differs from their numeric order."""
    graph = nx.Graph()
    graph.add_edges_from([(100, 7), (7, 9), (9, 10), (10, 100), (7, 10), (42, 9)])
    return graph


def expected_edges(graph: nx.Graph, numeric: bool = True) -> set[tuple[int, int]]:
    labels = sorted(graph.nodes, key=int if numeric else str)
    index = {label: i for i, label in enumerate(labels)}
    return {(min(index[u], index[v]), max(index[u], index[v])) for u, v in graph.edges}


@pytest.mark.parametrize("suffix", [".graphml", ".gml", ".net"])
def test_files_of_named_nodes_map_names_to_ids_in_sorted_order(tmp_path: Path, suffix: str) -> None:
    graph = reference_graph()
    path = tmp_path / f"net{suffix}"
    {".graphml": nx.write_graphml, ".gml": nx.write_gml, ".net": nx.write_pajek}[suffix](
        graph, path
    )
    found = read_network_file(path)
    net = found.network
    assert net.kind == "file"
    assert net.n == graph.number_of_nodes()
    assert_simple_symmetric(net)
    assert edge_set(net) == expected_edges(graph)
    assert found.notes == (
        f"{path}: found 5 named nodes; they are customers 0..4 in the sorted order of their names",
    )


@pytest.mark.parametrize("suffix", [".edgelist", ".csv", ".adjlist"])
def test_edge_lists_use_their_ids_as_customer_ids(tmp_path: Path, suffix: str) -> None:
    graph = nx.gnm_random_graph(30, 60, seed=2)
    path = tmp_path / f"net{suffix}"
    if suffix == ".edgelist":
        nx.write_edgelist(graph, path, data=False)
        path.write_text("# a comment\n" + path.read_text())
    elif suffix == ".csv":
        path.write_text("# source,target\n" + "".join(f"{u}, {v}\n" for u, v in graph.edges))
    else:
        nx.write_adjlist(graph, path)
    found = read_network_file(path, 30)
    assert_simple_symmetric(found.network)
    assert edge_set(found.network) == {(min(e), max(e)) for e in graph.edges}
    lonely = sum(1 for _, degree in graph.degree if degree == 0)
    assert len(found.notes) == (1 if lonely else 0)


def test_ids_that_start_at_1_are_read_as_said(tmp_path: Path) -> None:
    path = tmp_path / "net.txt"
    path.write_text("1 2\n2 3\n3 1\n")
    net = read_edge_list(path, 3, first_id=1)
    assert edge_set(net) == {(0, 1), (1, 2), (0, 2)}
    with pytest.raises(
        NetworkFileError, match=r"line 2: customer id 3 is outside 0\.\.2 .*first_id = 1"
    ):
        read_edge_list(path, 3)


def test_a_customer_in_no_contact_is_allowed_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "net.edgelist"
    path.write_text("0 1\n1 2\n")
    found = read_network_file(path, 5)
    assert found.network.n == 5
    assert found.network.degree.tolist() == [1, 2, 1, 0, 0]
    assert found.notes == (f"{path}: 2 of 5 customers have no contacts (ids in no contact line)",)


def test_dropped_self_loops_and_repeated_contacts_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "net.edgelist"
    path.write_text("0 1\n1 0\n2 2\n0 1\n1 2\n3 3\n")
    found = read_network_file(path, 4)
    assert edge_set(found.network) == {(0, 1), (1, 2)}
    assert found.notes == (
        f"{path}: dropped 2 self-loops (a customer listed as their own contact)",
        f"{path}: kept 2 repeated contacts once (a pair listed again, in either direction)",
        f"{path}: 1 of 4 customers have no contacts (ids in no contact line)",
    )


def test_a_header_is_skipped_when_declared_or_detected_and_said(tmp_path: Path) -> None:
    path = tmp_path / "net.csv"
    path.write_text("source,target\n0,1\n1,2\n")
    detected = read_network_file(path, 3)
    assert edge_set(detected.network) == {(0, 1), (1, 2)}
    assert detected.notes == (
        f"{path}: line 1 (source,target) read as a header; set network.header = true to say so",
    )
    declared = read_network_file(path, 3, header=True)
    assert declared.notes == ()
    assert edge_set(declared.network) == {(0, 1), (1, 2)}


def test_weights_are_ignored_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "net.txt"
    path.write_text("0 1 0.5\n1 2 {'weight': 3}\n0 2\n")
    found = read_network_file(path, 3)
    assert edge_set(found.network) == {(0, 1), (1, 2), (0, 2)}
    assert found.notes == (
        f"{path}: ignored the extra columns (weights or attributes) of 2 lines; contacts are "
        "unweighted",
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        # A .txt splits on spaces: a CSV's header is detected, its first contact is one field.
        ("source,target\n0,1\n", "line 2: expected two customer ids, got '0,1'"),
        ("0 1\nsource target\n", "line 2: 'source' is not a customer id"),
        ("0 1\n3 50\n", "line 2: customer id 50 is outside 0..9"),
        ("x 3\n", "line 1: 'x' is not a customer id"),
        ("0 1\n# fine\n\n7\n", "line 4: expected two customer ids, got '7'"),
        ("0 1\n1 -2\n", "line 2: '-2' is not a customer id"),
        ("0 1\n1 2.0\n", "line 2: '2.0' is not a customer id"),
        ("0 1\n1 2 heavy\n", "line 2: expected two customer ids and at most a weight"),
        (
            "1 2\n2 10\n",
            "line 2: customer id 10 is outside 0..9 .*ids run 1..10: if they start at 1, set network.first_id = 1",
        ),
        ("0 1\n1 2_0\n", "line 2: '2_0' is not a customer id"),
    ],
)
def test_every_line_that_is_not_a_contact_is_an_error_naming_the_file_and_line(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "net.txt"
    path.write_text(content)
    with pytest.raises(NetworkFileError) as info:
        read_edge_list(path, 10)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert re.search(
        problem.replace("(", r"\(").replace(")", r"\)").replace("..", r"\.\."), message
    ), message
    assert "\n" not in message


def test_a_named_node_file_must_hold_the_market(tmp_path: Path) -> None:
    path = tmp_path / "people.graphml"
    nx.write_graphml(nx.Graph([("ann", "bob")]), path)
    with pytest.raises(NetworkFileError, match=r"has 2 nodes but market\.customers is 3"):
        read_edge_list(path, 3)


def test_read_edge_list_keeps_isolated_nodes_and_sorts_text_labels(tmp_path: Path) -> None:
    graph = nx.Graph([("carol", "alice"), ("bob", "alice")])
    graph.add_node("dave")
    path = tmp_path / "people.graphml"
    nx.write_graphml(graph, path)
    found = read_network_file(path)
    net = found.network
    assert net.n == 4  # alice, bob, carol, dave
    assert edge_set(net) == {(0, 1), (0, 2)}
    assert net.degree.tolist() == [2, 1, 1, 0]
    assert found.notes[-1] == f"{path}: 1 of 4 customers have no contacts (ids in no contact line)"


def test_read_edge_list_makes_directed_graphs_undirected(tmp_path: Path) -> None:
    graph = nx.DiGraph([(1, 2), (2, 1), (2, 3), (3, 3)])
    path = tmp_path / "directed.gexf"
    nx.write_gexf(graph, path)
    found = read_network_file(path)
    assert found.network.n == 3
    assert edge_set(found.network) == {(0, 1), (1, 2)}
    assert any("dropped 1 self-loop " in note for note in found.notes)
    assert any("kept 1 repeated contact once" in note for note in found.notes)


def test_read_edge_list_is_reproducible(tmp_path: Path) -> None:
    path = tmp_path / "g.txt"
    nx.write_edgelist(nx.gnm_random_graph(50, 200, seed=1), path, data=False)
    a, b = read_edge_list(path), read_edge_list(str(path))
    assert np.array_equal(a.indices, b.indices)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("missing.edgelist", None),
        ("network.xyz", "1 2\n"),
        ("no_extension", "1 2\n"),
        ("broken.graphml", "this is not <xml\n at all"),
        ("broken.gml", "graph [ node [ id 1 \n"),
        ("binary.txt", b"\xff\xfe\x00\x81 \x92\n\x00"),
        ("empty.edgelist", "# only a comment\n"),
        ("a_directory.csv", "dir"),
    ],
)
def test_unreadable_network_file_names_the_file(tmp_path: Path, name: str, content) -> None:
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(NetworkFileError) as info:
        read_edge_list(path)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert str(path) in message
    assert "\n" not in message
    assert info.value.__cause__ is None


# --------------------------------------------------------------------------- properties


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(GENERATED),
    n=st.integers(3, 80),
    half_degree=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_kind_gives_a_simple_symmetric_csr(
    kind: str, n: int, half_degree: int, seed: int
) -> None:
    degree = min(2 * half_degree, n - 1 - (n - 1) % 2)  # even, at least 2 and below n
    net = build(kind, n, degree, seed)
    assert net.n == n
    assert_simple_symmetric(net)
    # Asking for everyone reaches exactly the whole row.
    position, listener = net.sample_listeners(np.arange(n), np.full(n, n), rng(seed))
    assert np.array_equal(position, edge_rows(net))
    assert np.array_equal(
        np.sort(position * n + listener), np.sort(edge_rows(net) * n + net.indices)
    )


def test_scale_free_matches_sequential_batagelj_brandes() -> None:
    # The vectorised pointer jumping gives the same edges as the original sequential loop
    # fed with the same uniform draws: M[2e] = e // m; M[2e + 1] = M[floor(u_e * (2e + 1))].
    n, m, seed = 300, 3, 8
    u = rng(seed).random(n * m)
    slots = np.empty(2 * n * m, dtype=np.int64)
    for e in range(n * m):
        slots[2 * e] = e // m
        slots[2 * e + 1] = slots[int(u[e] * (2 * e + 1))]
    reference = nx.Graph(slots.reshape(-1, 2).tolist())
    reference.remove_edges_from(nx.selfloop_edges(reference))
    net = scale_free(n, 2 * m, rng(seed))
    assert edge_set(net) == {(min(a, b), max(a, b)) for a, b in reference.edges}


def test_rows_of_very_large_networks_are_shuffled_by_32_random_bits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Beyond ~8 million nodes too few bits are left beside the row for the packed key, and
    # each entry gets 32 random bits: same CSR, rows still shuffled.
    assert networks._shuffle_bits(2**23) == 17  # 23 bits a node: the packed key's bits
    assert networks._shuffle_bits(2**23 + 1) == 32  # 24 bits a node: 15 would be left
    monkeypatch.setattr(networks, "_MIN_SHUFFLE_BITS", 64)
    assert networks._shuffle_bits(1000) == 32
    net = small_world(1000, 10, 0.0, rng())
    assert_simple_symmetric(net)
    monkeypatch.undo()
    assert edge_set(net) == edge_set(small_world(1000, 10, 0.0, rng()))
    # As in test_rows_are_shuffled_when_built: a row is sorted with probability 1/10!.
    sorted_rows = sum(bool(np.all(np.diff(net.neighbors(i)) > 0)) for i in range(net.n))
    assert sorted_rows <= 1


def sorted_rows_reference(
    n: int, keys: np.ndarray, rng: np.random.Generator | None, spare: int
) -> np.ndarray:
    """The rows' column ids as the network builder first made them, with NumPy sorts.

    Entries ``(u, v)`` then ``(v, u)`` of the sorted keys ``u * n + v``, ordered by row, then
    by ``spare`` random bits per entry (drawn in order, in chunks of 2**20), then by column:
    one sort of ``row | random bits | column`` where that fits 63 bits, else a lexical sort.
    """
    u, v = keys // n, keys % n
    bits = max(int(n - 1).bit_length(), 1)
    rows, cols = np.concatenate([u, v]), np.concatenate([v, u])
    noise = (
        np.concatenate(
            [
                rng.integers(0, 1 << spare, size=min(1 << 20, u.size - s), dtype=np.int64)
                for half in (0, 1)
                for s in range(0, u.size, 1 << 20)
            ]
        )
        if rng is not None and u.size
        else np.zeros(rows.size, dtype=np.int64)
    )
    if 2 * bits + spare <= 63:
        return np.sort((rows << (bits + spare)) | (noise << bits) | cols) & ((1 << bits) - 1)
    return cols[np.lexsort((cols, noise, rows))]


@pytest.mark.parametrize("wide", [False, True])
@pytest.mark.parametrize(
    ("n", "kind", "seed"),
    [(3000, "small_world", 1), (40_000, "scale_free", 2), (70_000, "small_world", 3)],
)
def test_rows_are_placed_exactly_as_the_sorts_ordered_them(
    monkeypatch: pytest.MonkeyPatch, n: int, kind: str, seed: int, wide: bool
) -> None:
    # The builder places entries straight into their rows instead of sorting them (issue 14:
    # a linear build); the arrays must be the sorts' arrays, bit for bit, with the packed
    # key's random bits and with the 32 of networks beyond ~8 million nodes (``wide``), with
    # hubs of over 64 contacts (scale free) and rows of uint32 and int64 random bits (n
    # above/below 2**15).
    if wide:
        monkeypatch.setattr(networks, "_MIN_SHUFFLE_BITS", 64)
    spare = networks._shuffle_bits(n)
    assert spare == (32 if wide else 63 - 2 * int(n - 1).bit_length())
    src = rng(seed).integers(0, n, size=5 * n)
    dst = rng(seed + 1).integers(0, n, size=5 * n)
    if kind == "scale_free":
        dst[: n // 2] = rng(seed).integers(0, 20, size=n // 2)  # a few hubs
    keys = networks._canonical_keys(n, src, dst)
    expected = sorted_rows_reference(n, keys.copy(), rng(seed + 2), spare)
    net = from_edges(n, src, dst, "file", rng(seed + 2))
    assert net.degree.max() > 64 or kind == "small_world"
    assert np.array_equal(net.indices, expected)
    assert np.array_equal(
        net.indptr[1:],
        np.cumsum(np.bincount(keys // n, minlength=n) + np.bincount(keys % n, minlength=n)),
    )
    unshuffled = from_edges(n, src, dst, "file", None)
    assert np.array_equal(unshuffled.indices, sorted_rows_reference(n, keys.copy(), None, 0))


def test_empty_networks() -> None:
    for net in (from_edges(0, np.array([]), np.array([]), "file", rng()), fully_mixed(0)):
        assert net.n == 0
        assert net.n_edges == 0
        assert net.degree.size == 0


def test_contacts_of_many_nodes_are_their_rows_in_order():
    net = small_world(200, 6, 0.2, np.random.default_rng(3))
    nodes = np.array([5, 0, 199, 5])
    degree, contact = net.contacts(nodes)
    assert degree.tolist() == [len(net.neighbors(i)) for i in nodes]
    expected = np.concatenate([net.neighbors(i) for i in nodes])
    assert np.array_equal(contact, expected)
    with pytest.raises(ValueError, match="fully mixed"):
        fully_mixed(10).contacts(np.array([1]))


@pytest.mark.parametrize("size", [0, 1, 2, 63, 64, 65, 66, 127, 128, 129, 1000, 4097])
def test_the_small_sort_gives_numpys_sorted_array(size: int) -> None:
    # Insertion up to 64 keys, heapsort above: any correct sort of integers gives one array.
    for seed, high in ((size, 1 << 40), (size + 1, 5)):  # distinct keys, and many repeats
        keys = rng(seed).integers(-high, high, size=size, dtype=np.int64)
        expected = np.sort(keys)
        networks.sort_in_place(keys)
        assert np.array_equal(keys, expected)
