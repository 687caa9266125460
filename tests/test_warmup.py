"""A fresh install's compile on two cores: the helper that runs the day backwards."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cxsim import day, warmup
from cxsim.params import resolve


def test_the_helper_runs_each_day_with_the_stages_in_reverse_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[str] = []

    def recording(stage: day.Stage) -> day.Stage:
        def step(model: object) -> None:
            seen.append(stage.name)
            stage.step(model)  # type: ignore[arg-type]

        return day.Stage(stage.name, stage.does, step, stage.init)

    monkeypatch.setattr(day, "DAY", tuple(recording(s) for s in day.DAY))
    warmup.compile_backwards(warmup.small_copy(resolve({})), None)
    names = [s.name for s in day.DAY]
    assert seen == names[::-1] * warmup.DAYS


def test_a_stage_that_fails_out_of_order_does_not_stop_the_helper(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[str] = []

    def fails(model: object) -> None:
        raise RuntimeError("out of order")

    def later(model: object) -> None:
        seen.append("purchase")

    stages = (day.Stage("purchase", "", later), day.Stage("accounts", "", fails))
    monkeypatch.setattr(day, "DAY", stages)
    warmup.compile_backwards(warmup.small_copy(resolve({})), None)
    assert seen == ["purchase"] * warmup.DAYS


def test_the_small_copy_keeps_the_market_but_not_its_size() -> None:
    params = resolve(
        None, {"market.customers": 20_000, "market.days": 1095, "network.kind": "scale_free"}
    )
    small = warmup.small_copy(params)
    assert small.market.customers == warmup.PEOPLE
    assert small.market.days == warmup.DAYS
    assert small.network == params.network
    assert small.companies == params.companies
    assert small.behaviour == params.behaviour


def test_no_helper_when_turned_off_or_when_the_kernels_are_cached(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    params = resolve({})
    monkeypatch.setattr(warmup, "cache_is_cold", lambda: True)
    monkeypatch.setenv("CXSIM_WARMUP", "0")
    assert warmup.start(params) is None
    monkeypatch.setenv("CXSIM_WARMUP", "1")
    monkeypatch.setattr(warmup, "cache_is_cold", lambda: False)
    assert warmup.start(params) is None


def test_a_fresh_numba_cache_is_seen_as_cold(tmp_path: os.PathLike[str]) -> None:
    code = "from cxsim import warmup; print(warmup.cache_is_cold())"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    fresh = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert fresh.stdout.strip() == "True", fresh.stderr
    # This process has run the day (the other tests did), so its own cache is not cold.
    warmup.compile_backwards(warmup.small_copy(resolve({})), None)
    assert not warmup.cache_is_cold()


def test_the_helper_leaves_the_network_builders_kernels_to_the_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The command builds its network first, so the helper's copy gets a ring lattice made in
    # NumPy: it never reaches the builder's kernels, and the builder is put back after.
    from cxsim import networks

    built: list[int] = []
    build = networks.build
    monkeypatch.setattr(networks, "_csr_from_keys", lambda *a: built.append(1))
    seen: list[int] = []

    def watch(model: object) -> None:
        seen.append(model.network.n_edges)  # type: ignore[attr-defined]

    monkeypatch.setattr(day, "DAY", (day.Stage("accounts", "", watch),))
    warmup.compile_backwards(warmup.small_copy(resolve({})), None)
    assert built == []
    assert seen == [2 * warmup.PEOPLE] * warmup.DAYS  # every day ran, on the lattice
    assert networks.build is build


def test_the_ring_lattice_is_a_network_of_four_contacts_each() -> None:
    from tests.test_networks import assert_simple_symmetric

    net = warmup.ring_lattice(9)
    assert_simple_symmetric(net)
    assert net.degree.tolist() == [4] * 9
    assert net.indptr.dtype == "int64"
    assert net.indices.dtype == "int32"
    assert sorted(net.neighbors(0).tolist()) == [1, 2, 7, 8]
