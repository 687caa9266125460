"""Sweeps on a real Dask cluster: a scheduler and a worker started as subprocesses on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from cxsim.sweeps import cluster, load_plan, load_results, sweep
from tests.test_sweeps import figures, sweep_command, write_plan

pytest.importorskip("distributed")

PYTHON = sys.executable
DASK = Path(PYTHON).with_name("dask")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a process group we started, then kill it if it lingers."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@pytest.fixture(scope="module")
def scheduler_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address of a Dask scheduler with one single-threaded worker, torn down afterwards."""
    if not DASK.exists():
        pytest.skip("the dask command is not installed next to this Python")
    logs = tmp_path_factory.mktemp("dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    started: list[subprocess.Popen[bytes]] = []

    def launch(name: str, *args: str) -> None:
        log = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process below
        started.append(
            subprocess.Popen(
                [str(DASK), *args],
                cwd=logs,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so the worker's nanny child goes too
            )
        )
        log.close()

    try:
        launch(
            "scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"
        )
        launch(
            "worker",
            "worker",
            address,
            "--host",
            "127.0.0.1",
            "--nworkers",
            "1",
            "--nthreads",
            "1",
            "--no-dashboard",
            "--local-directory",
            str(logs),
        )
        # Wait in a child process: a Dask client leaves threads behind in this one.
        wait_for_worker = (
            "from distributed import Client\n"
            f"client = Client({address!r}, timeout='30s')\n"
            "client.wait_for_workers(1, timeout=60)\n"
            "client.close()\n"
        )
        done = subprocess.run(
            [PYTHON, "-c", wait_for_worker], capture_output=True, timeout=120, check=False
        )
        if done.returncode != 0:
            scheduler_log = (logs / "scheduler.log").read_text(errors="replace")[-2000:]
            worker_log = (logs / "worker.log").read_text(errors="replace")[-2000:]
            pytest.fail(
                f"Dask cluster did not start:\n{done.stderr.decode()}\n{scheduler_log}\n{worker_log}"
            )
        yield address
    finally:
        for process in reversed(started):
            stop(process)


def test_cli_sweep_on_dask_gives_the_same_results_as_local_processes(
    tmp_path: Path, scheduler_address: str
) -> None:
    path = write_plan(tmp_path)
    sweep(load_plan(path), tmp_path / "local", workers=1, progress=False)
    done = subprocess.run(
        sweep_command(path, tmp_path / "dask", "--scheduler", scheduler_address),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "on the Dask cluster at" in done.stdout
    assert "8 runs recorded" in done.stdout
    pd.testing.assert_frame_equal(figures(tmp_path / "local"), figures(tmp_path / "dask"))
    workers = set(load_results(tmp_path / "dask").runs["worker"])
    assert len(workers) == 1  # the one Dask worker process ran every run


def test_python_api_takes_a_dask_clients_executor_and_resumes(
    tmp_path: Path, scheduler_address: str
) -> None:
    from distributed import Client

    path = write_plan(tmp_path)
    plan = load_plan(path)
    sweep(plan, tmp_path / "local", workers=2, progress=False)
    with Client(scheduler_address, timeout="30s") as client:
        first = sweep(plan, tmp_path / "dask", executor=client.get_executor(), progress=False)
        again = sweep(plan, tmp_path / "dask", executor=client.get_executor(), progress=False)
    assert (first.ran, again.ran, again.already_recorded) == (8, 0, 8)
    pd.testing.assert_frame_equal(figures(tmp_path / "local"), figures(tmp_path / "dask"))


def test_the_probe_knows_a_scheduler_from_one_of_its_workers(scheduler_address: str) -> None:
    assert cluster.probe(cluster.check_address(scheduler_address))["type"] == "Scheduler"
    client = cluster.connect(scheduler_address, timeout=10)
    try:
        worker = next(iter(client.scheduler_info()["workers"]))
    finally:
        client.close()
    with pytest.raises(
        cluster.SchedulerUnreachableError, match=r"a Dask Worker answered, not a scheduler"
    ):
        cluster.connect(worker, timeout=5)
