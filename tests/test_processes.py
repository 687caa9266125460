"""Worker processes never outlive the process that started them.

Each test starts a real owner process (a script holding a pool, a sweep, a
dashboard server), waits until its workers exist, kills the owner alone with
``SIGKILL`` (no clean-up can run) and checks that every worker is gone soon
after. A control shows that a plain ``ProcessPoolExecutor`` leaves its workers
waiting for ever, so the checks can fail.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cxsim.processes import WATCH_SECONDS

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/task").exists(), reason="needs /proc to find a process's children"
)

PYTHON = sys.executable
#: A worker that outlives its owner by more than this is an orphan (the watch allows WATCH_SECONDS).
GONE_WITHIN = 10.0


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            found.update(int(c) for c in (task / "children").read_text().split())
    return found


def running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (a container's init may never collect it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_for_workers(owner: subprocess.Popen[bytes], count: int, timeout: float = 60) -> set[int]:
    """The owner's worker processes (direct children, or a fork server's), once ``count`` exist."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert owner.poll() is None, "the owner ended before its workers started"
        kids = children(owner.pid)
        workers = kids | {g for k in kids for g in children(k)}
        if len(workers) >= count:
            return workers
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} workers after {timeout:.0f} s")


def kill_owner_and_wait(owner: subprocess.Popen[bytes], workers: set[int]) -> set[int]:
    """SIGKILL the owner alone; the workers still running after GONE_WITHIN seconds."""
    os.kill(owner.pid, signal.SIGKILL)
    owner.wait(timeout=10)
    deadline = time.monotonic() + GONE_WITHIN
    while time.monotonic() < deadline and any(running(w) for w in workers):
        time.sleep(0.1)
    return {w for w in workers if running(w)}


def kill_all(workers: set[int]) -> None:
    for w in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(w, signal.SIGKILL)


POOL_OWNER = """
import multiprocessing, sys, time
from concurrent.futures import ProcessPoolExecutor
from cxsim.processes import local_pool

def square(x):
    return x * x

if __name__ == "__main__":
    context = multiprocessing.get_context(sys.argv[1])
    if sys.argv[2] == "local_pool":
        pool = local_pool(2, context)
    else:
        pool = ProcessPoolExecutor(2, mp_context=context)
    if sys.argv[3] == "after_work":
        assert list(pool.map(square, range(8))) == [x * x for x in range(8)]
    else:  # the workers are asked to start and the owner goes on at once
        pool.submit(square, 3)
        pool.submit(square, 4)  # a pool starts a worker per task until it has them all
    print("ready", flush=True)
    time.sleep(600)
"""


def start_pool_owner(
    tmp_path: Path, method: str, kind: str, when: str = "after_work"
) -> subprocess.Popen[bytes]:
    script = tmp_path / "owner.py"
    script.write_text(textwrap.dedent(POOL_OWNER))
    owner = subprocess.Popen(
        [PYTHON, str(script), method, kind, when], stdout=subprocess.PIPE, start_new_session=True
    )
    assert owner.stdout is not None
    assert owner.stdout.readline().strip() == b"ready"
    return owner


def spawned(pid: int) -> set[int]:
    """``pid``'s children that ``spawn`` started (not its resource tracker)."""
    found = set()
    for child in children(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.add(child)
        except OSError:
            pass
    return found


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_a_local_pools_workers_exit_when_its_owner_is_killed(tmp_path: Path, method: str) -> None:
    owner = start_pool_owner(tmp_path, method, "local_pool")
    workers = wait_for_workers(owner, 2)
    began = time.monotonic()
    left = kill_owner_and_wait(owner, workers)
    kill_all(left)
    assert not left, f"{len(left)} of {len(workers)} workers outlived their owner ({method})"
    assert time.monotonic() - began < GONE_WITHIN
    assert WATCH_SECONDS < GONE_WITHIN / 4


def test_workers_still_starting_when_their_owner_is_killed_exit_too(tmp_path: Path) -> None:
    # A spawned worker takes a second or more to import cxsim; killed in that window, the
    # owner is gone before the worker ever sees its first parent.
    owner = start_pool_owner(tmp_path, "spawn", "local_pool", when="starting")
    deadline = time.monotonic() + 30
    while len(spawned(owner.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    workers = spawned(owner.pid)
    assert len(workers) == 2
    left = kill_owner_and_wait(owner, workers)
    kill_all(left)
    assert not left, f"{len(left)} workers that were starting outlived their owner"


def test_control_a_plain_pools_workers_are_orphaned(tmp_path: Path) -> None:
    owner = start_pool_owner(tmp_path, "fork", "plain")
    workers = wait_for_workers(owner, 2)
    os.kill(owner.pid, signal.SIGKILL)
    owner.wait(timeout=10)
    time.sleep(3 * WATCH_SECONDS + 1)
    left = {w for w in workers if running(w)}
    kill_all(left)
    assert len(left) >= 2  # the watch above is what makes them go


def test_a_killed_sweep_leaves_no_worker_behind(tmp_path: Path) -> None:
    from tests.test_sweeps import TINY_PLAN, sweep_command, write_plan

    plan = write_plan(tmp_path, TINY_PLAN.replace("days = 30", "days = 365"))
    owner = subprocess.Popen(
        sweep_command(plan, tmp_path / "out", "--workers", "2", "-q"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    workers = wait_for_workers(owner, 2)
    left = kill_owner_and_wait(owner, workers)
    kill_all(left)
    assert not left, f"{len(left)} sweep workers outlived the sweep"


def test_a_killed_dashboard_server_leaves_no_worker_behind() -> None:
    pytest.importorskip("dash", reason="the dashboard extra (dash) is not installed")
    from cxsim.dashboard.app import create_app
    from tests.test_dashboard import run_request
    from tests.test_dashboard_browser import start_server, stop_server
    from tests.test_dashboard_load import post

    owner, url = start_server(extra=("--workers", "2"))
    try:
        small = {"market.customers": 300, "market.days": 30, "drawn": 100}
        post(url, run_request(create_app(), market=small))  # the pool starts on first use
        workers = wait_for_workers(owner, 2)
        left = kill_owner_and_wait(owner, workers)
    finally:
        stop_server(owner)
    kill_all(left)
    assert not left, f"{len(left)} dashboard workers outlived the server"
